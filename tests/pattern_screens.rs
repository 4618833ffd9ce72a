//! The patterns view (`p`) and the connections list's pattern column on real captures, drawn
//! with ratatui's TestBackend (insta snapshots at 120x40 and 80x24).
#![allow(clippy::unwrap_used)]

mod support;

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use support::decode_capture;
use support::tui::{keys, screen};
use synscope::tui::app::{update, Action, App};
use synscope::tui::ui;

/// [`support::tui::app`] without colours.
fn app(name: &str, w: u16, h: u16) -> App {
    let mut app = support::tui::app(name, w, h);
    app.color = false;
    app
}

#[test]
fn lesson_all_patterns_120x40() {
    let mut a = app("lesson_all.pcapng", 120, 40);
    keys(&mut a, &[KeyCode::Char('p')]);
    let s = screen(&a);
    for row in [
        "polling   /poll",
        "long-poll /long-poll",
        "stream    /stream",
        "stream    /events",
        "WebSocket /ws",
        "13 req on 8 conn · every 102 ms",
        "4 req · held 158 ms · re-ask 418 µs",
        "5 chunks · every 101 ms",
        "11↑ 11↓ msg",
    ] {
        assert!(s.contains(row), "{row} missing:\n{s}");
    }
    // Long polling draws the server's holds as bars; short polling only marks.
    let long = s
        .lines()
        .find(|l| l.contains("long-poll /long-poll"))
        .unwrap();
    assert!(long.contains("↕━") || long.contains("↑━"), "{long}");
    let poll = s.lines().find(|l| l.contains("polling   /poll")).unwrap();
    assert!(!poll.contains('━'), "{poll}");
    assert!(poll.matches('↕').count() >= 8, "{poll}");
    let ws = s.lines().find(|l| l.contains("WebSocket /ws")).unwrap();
    assert!(ws.contains('█'), "{ws}");
    assert_snapshot!(s);
}

#[test]
fn lesson_all_patterns_80x24() {
    let mut a = app("lesson_all.pcapng", 80, 24);
    keys(&mut a, &[KeyCode::Char('p')]);
    let s = screen(&a);
    assert!(s.contains("WebSocket /ws"), "{s}");
    assert!(
        s.contains("11↑ 11↓ msg"),
        "the figures go under the row:\n{s}"
    );
    assert_snapshot!(s);
}

#[test]
fn lesson_all_patterns_in_capture_time_120x40() {
    let mut a = app("lesson_all.pcapng", 120, 40);
    keys(
        &mut a,
        &[KeyCode::Char('p'), KeyCode::Char('t'), KeyCode::Char('j')],
    );
    let s = screen(&a);
    assert!(s.contains("capture time (t: align their starts)"), "{s}");
    assert_snapshot!(s);
}

#[test]
fn enter_opens_the_conversation_in_the_diagram() {
    let mut a = app("lesson_all.pcapng", 120, 40);
    // The selected connection's conversation is preselected: #0 carries a /poll request.
    keys(&mut a, &[KeyCode::Char('p')]);
    assert_eq!(a.patterns.unwrap().row, 0);
    // Enter opens the lesson on the conversation, Enter again its diagram.
    keys(&mut a, &[KeyCode::Char('j'), KeyCode::Enter]);
    assert!(a.patterns.unwrap().lesson);
    keys(&mut a, &[KeyCode::Enter]);
    assert!(a.patterns.is_none());
    assert_eq!(
        a.timeline.conn(a.conn).unwrap().id,
        8,
        "the long-poll connection"
    );
    let s = screen(&a);
    assert!(s.contains("GET /long-poll?since=0"), "{s}");
    // And back: `p` opens on the selected connection's conversation.
    keys(&mut a, &[KeyCode::Char('p')]);
    assert_eq!(a.patterns.unwrap().row, 1);
    keys(&mut a, &[KeyCode::Esc]);
    assert!(a.patterns.is_none());
    assert!(!a.quit);
}

#[test]
fn the_connections_list_names_each_pattern_120x40() {
    let a = app("lesson_all.pcapng", 120, 40);
    let s = screen(&a);
    for name in ["polling", "long-poll", "stream", "WebSocket"] {
        assert!(s.contains(name), "{name} missing:\n{s}");
    }
    assert_snapshot!(s);
}

#[test]
fn a_capture_without_patterns_says_so() {
    let mut a = app("http_keepalive.pcapng", 80, 24);
    keys(&mut a, &[KeyCode::Char('p')]);
    let s = screen(&a);
    assert!(s.contains("no pattern yet"), "{s}");
    assert!(s.contains("no pattern in this capture"), "{s}");
}

#[test]
fn the_patterns_view_draws_at_any_size() {
    let mut a = app("lesson_all.pcapng", 120, 40);
    keys(&mut a, &[KeyCode::Char('p')]);
    for (w, h) in (0..=130u16)
        .step_by(7)
        .flat_map(|w| (0..=42u16).step_by(3).map(move |h| (w, h)))
    {
        update(&mut a, Action::Resize(w, h));
        for k in ['j', 't', 'G', '?', '?', 'g'] {
            keys(&mut a, &[KeyCode::Char(k)]);
            let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
            ui::draw(&a, Rect::new(0, 0, w, h), &mut buf);
        }
        for (w, h) in [(0, 0), (1, 1), (2, 3)] {
            let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
            ui::draw_widget(&a, "patterns", Rect::new(0, 0, w, h), &mut buf);
        }
    }
}

#[test]
fn the_patterns_view_fills_in_while_loading() {
    // Events arrive in batches, as from the reader thread: the view shows a conversation as
    // soon as the engine's first `pattern` report of it has arrived, before the rest. (The
    // TUI classifies nothing itself: where the engine reports patterns while the capture
    // runs, this is mid-load; where it reports them at the end, it is after the last
    // connection ended.)
    let events = decode_capture("long_polling.pcapng");
    let mut a = App::new(
        synscope::tui::app::Source::Live,
        "live lo",
        (120, 40),
        usize::MAX,
    );
    keys(&mut a, &[KeyCode::Char('p')]);
    let ends = events
        .iter()
        .position(|e| e.body.kind() == "pattern")
        .unwrap()
        + 1;
    update(&mut a, Action::Events(events[..ends].to_vec()));
    let s = screen(&a);
    assert!(s.contains("long-poll /long-poll"), "{s}");
    assert!(!s.contains("undecodable"), "{s}");
    update(&mut a, Action::Events(events[ends..].to_vec()));
    assert!(!screen(&a).contains("undecodable"));
}
