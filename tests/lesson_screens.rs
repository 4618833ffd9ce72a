//! The lesson on screen, on real captures: the patterns view's lesson pane (a conversation's
//! figures next to WebSocket's, and the lesson's paragraph, the text `decode --explain`
//! writes), how long the server took on every HTTP response arrow, drawn with ratatui's
//! TestBackend (insta snapshots at 120x40 and 80x24).
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use support::tui::{down_to, keys, screen};
use synscope::explain::{self, Context, Lang};
use synscope::model::{EventBody, Pattern};
use synscope::tui::app::App;
use synscope::tui::lesson::wrap;

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

/// The patterns view of `name` with the lesson open on the conversation whose label starts
/// with `row` (e.g. "long-poll /long-poll").
fn lesson_on(name: &str, w: u16, h: u16, lang: Lang, row: &str) -> App {
    let mut a = app(name, w, h);
    a.lang = lang;
    keys(&mut a, &[KeyCode::Char('p'), KeyCode::Char('g')]);
    let n = a.timeline.patterns().len();
    for _ in 0..n {
        let r = &a.timeline.patterns()[a.patterns.unwrap().row];
        let label = format!(
            "{:<9} {}",
            synscope::tui::patterns::short_name(r.pattern),
            r.target
        );
        if label.starts_with(row) {
            keys(&mut a, &[KeyCode::Enter]);
            assert!(a.patterns.unwrap().lesson);
            return a;
        }
        keys(&mut a, &[KeyCode::Char('j')]);
    }
    panic!("no row {row}");
}

/// The text `decode --explain` writes under the final `pattern` event of the conversation
/// with this target.
fn explain_line(name: &str, target: &str, lang: Lang) -> String {
    let events = support::decode_capture(name);
    let e = events
        .iter()
        .rfind(|e| matches!(&e.body, EventBody::Pattern(r) if r.is_final && r.target == target))
        .unwrap();
    explain::explain(lang, e, Context::default()).unwrap()
}

#[test]
fn the_lesson_pane_compares_each_pattern_with_websocket_in_the_lessons_words() {
    for (row, target, this, first) in [
        (
            "polling   /poll",
            "/poll",
            "185 B of HTTP heads",
            "the client, every time",
        ),
        (
            "long-poll /long-poll",
            "/long-poll",
            "186 B of HTTP heads",
            "the client; the server answers with news",
        ),
        (
            "stream    /stream",
            "/stream",
            "43 B of HTTP heads",
            "the server, after one request",
        ),
        (
            "WebSocket /ws",
            "/ws",
            "19 B of framing",
            "either side, any time",
        ),
    ] {
        let a = lesson_on("lesson_all.pcapng", 120, 40, Lang::En, row);
        let s = screen(&a);
        for want in [
            "Next to WebSocket",
            "overhead per message",
            "2–14 B of frame header",
            "waiting for news",
            "who may speak first",
            "connections",
            "1, kept open",
            this,
            first,
            "Enter diagram · Esc close",
        ] {
            assert!(s.contains(want), "{row}: {want} missing:\n{s}");
        }
        // The paragraph is the text of `decode --explain`, word for word.
        let text = explain_line("lesson_all.pcapng", target, Lang::En);
        for line in wrap(&text, 118 - 2) {
            assert!(s.contains(&line), "{row}: {line:?} missing:\n{s}");
        }
    }
}

#[test]
fn lesson_pane_of_the_long_poll_120x40() {
    let a = lesson_on(
        "lesson_all.pcapng",
        120,
        40,
        Lang::En,
        "long-poll /long-poll",
    );
    let s = screen(&a);
    assert!(s.contains("none while held; 418 µs to re-ask"), "{s}");
    assert!(s.contains("1 for 4 requests"), "{s}");
    assert_snapshot!(s);
}

#[test]
fn lesson_pane_of_the_long_poll_80x24() {
    let a = lesson_on(
        "lesson_all.pcapng",
        80,
        24,
        Lang::En,
        "long-poll /long-poll",
    );
    let s = screen(&a);
    // The whole lesson fits under the list, and the list keeps the selected row.
    let text = explain_line("lesson_all.pcapng", "/long-poll", Lang::En);
    for line in wrap(&text, 78 - 2) {
        assert!(s.contains(&line), "{line:?} missing:\n{s}");
    }
    assert!(s.contains("long-poll /long-poll"), "{s}");
    assert_snapshot!(s);
}

#[test]
fn lesson_pane_in_korean_80x24() {
    let a = lesson_on("lesson_all.pcapng", 80, 24, Lang::Ko, "WebSocket /ws");
    let s = screen(&a);
    for want in ["웹소켓과 비교", "메시지당 오버헤드", "양쪽 모두, 언제든"] {
        assert!(s.contains(want), "{want} missing:\n{s}");
    }
    let text = explain_line("lesson_all.pcapng", "/ws", Lang::Ko);
    assert!(text.starts_with("웹소켓:"), "{text}");
    for line in wrap(&text, 78 - 2) {
        assert!(s.contains(&line), "{line:?} missing:\n{s}");
    }
    assert_snapshot!(s);
}

#[test]
fn esc_closes_the_lesson_then_the_view_and_j_moves_the_lesson_along() {
    let mut a = lesson_on("lesson_all.pcapng", 120, 40, Lang::En, "polling   /poll");
    assert_eq!(a.lesson_report().unwrap().pattern, Pattern::ShortPolling);
    keys(&mut a, &[KeyCode::Char('j')]);
    assert_eq!(a.lesson_report().unwrap().pattern, Pattern::LongPolling);
    assert!(screen(&a).contains("long polling /long-poll"));
    keys(&mut a, &[KeyCode::Esc]);
    assert!(a.patterns.is_some() && !a.patterns.unwrap().lesson);
    let s = screen(&a);
    assert!(s.contains("Enter lesson"), "{s}");
    keys(&mut a, &[KeyCode::Esc]);
    assert!(a.patterns.is_none());
    assert!(!a.quit);
}

#[test]
fn the_lesson_pane_draws_at_any_size() {
    let mut a = lesson_on("lesson_all.pcapng", 120, 40, Lang::Ko, "stream    /events");
    for (w, h) in [(0, 0), (1, 1), (10, 5), (40, 12), (80, 24), (300, 100)] {
        a.size = (w, h);
        let _ = screen(&a);
    }
}

/// At 80x24 the detail pane shows about a dozen lines: on the `101` the accept key worked out
/// comes first, then why, and the raw head after.
#[test]
fn the_compact_detail_of_the_101_teaches_first_80x24() {
    let mut a = app("ws_chat.pcapng", 80, 24);
    down_to(&mut a, "101 Switching Protocols");
    keys(&mut a, &[KeyCode::Enter]);
    let s = screen(&a);
    for want in [
        "status line: HTTP/1.1 101 Switching Protocols",
        "WebSocket accept key (RFC 6455 §4.2.2)",
        "Sec-WebSocket-Key (request)",
        "SHA-1 of the two",
        "✓ matches",
    ] {
        assert!(s.contains(want), "{want} missing:\n{s}");
    }
    // The raw headers come after the lesson: below the fold here.
    assert!(!s.contains("sec-websocket-accept: "), "{s}");
    assert_snapshot!(s);
}

/// On each step of the handshake, which step it is and why comes before the fields.
#[test]
fn the_compact_detail_of_the_handshake_teaches_first_80x24() {
    let mut a = app("ws_chat.pcapng", 80, 24);
    for (label, why) in [
        ("SYN ", "The client asks to open a connection."),
        ("SYN-ACK", "The server accepts"),
        ("ACK ", "this third segment completes"),
    ] {
        down_to(&mut a, label);
        let d = synscope::tui::detail::lines(&a.timeline, a.cursor, 76, Lang::En);
        let text: Vec<String> = d
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        let why_at = text.iter().position(|l| l.starts_with("Why: ")).unwrap();
        let flags_at = text.iter().position(|l| l.starts_with("flags: ")).unwrap();
        assert!(why_at < flags_at, "{label}: {text:#?}");
        assert!(text.join(" ").contains(why), "{label}: {text:#?}");
    }
    keys(&mut a, &[KeyCode::Char('g'), KeyCode::Enter]);
    assert_snapshot!(screen(&a));
}
