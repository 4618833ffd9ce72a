//! The lesson on screen, on real captures: how long the server took on every HTTP response
//! arrow, drawn with ratatui's TestBackend (insta snapshots at 120x40 and 80x24).
#![allow(clippy::unwrap_used)]

mod support;

use crossterm::event::KeyCode;
use support::tui::{down_to, keys, screen};
use synscope::model::EventBody;
use synscope::tui::app::App;

/// [`support::tui::app`] without colours.
fn app(name: &str, w: u16, h: u16) -> App {
    let mut app = support::tui::app(name, w, h);
    app.color = false;
    app
}

/// The labels of every HTTP response arrow of the selected connection, with the engine's
/// `time_since_request` of each.
fn responses(a: &App) -> Vec<(String, Option<u64>)> {
    a.visible_rows()
        .iter()
        .filter_map(|&ix| {
            let e = a.timeline.event(ix)?;
            match &e.body {
                EventBody::HttpResponse(r) => {
                    Some((a.label(ix), r.time_since_request.map(|t| t.0)))
                }
                _ => None,
            }
        })
        .collect()
}

#[test]
fn a_held_long_poll_answer_says_how_long_the_server_held_it() {
    // The fixed-hold long poll: the server answers every request after about a second.
    let a = app("long_poll_fixed.pcapng", 120, 40);
    let rs = responses(&a);
    assert!(rs.len() >= 4, "{rs:?}");
    for (label, took) in &rs {
        let took = took.expect("every request of this capture was captured");
        assert!((900_000_000..1_200_000_000).contains(&took), "{took}");
        // The engine's figure, as the patterns view writes durations: "held 1.00 s".
        let want = format!("held {}", synscope::tui::patterns::short_duration(took));
        assert!(label.starts_with("200 OK  held 1.0"), "{label}");
        assert!(label.ends_with(&want), "{label} lacks {want}");
    }
    let s = screen(&a);
    assert!(s.contains("200 OK  held 1.0"), "{s}");
}

#[test]
fn a_quick_answer_says_it_came_at_once() {
    // Short polling: the server answers each poll in well under the hold floor (10 ms).
    let a = app("polling.pcapng", 120, 40);
    let rs = responses(&a);
    assert!(!rs.is_empty());
    for (label, took) in &rs {
        assert!(took.unwrap() < 10_000_000);
        assert!(label.contains("  in ") && label.ends_with('s'), "{label}");
        assert!(!label.contains("held"), "{label}");
    }
}

#[test]
fn the_detail_of_a_held_answer_names_the_servers_time() {
    let mut a = app("long_poll_fixed.pcapng", 120, 40);
    down_to(&mut a, "200 OK");
    keys(&mut a, &[KeyCode::Enter]);
    let s = screen(&a);
    assert!(
        s.contains("server took: 1.0") && s.contains("held: the server waited before answering"),
        "{s}"
    );
}
