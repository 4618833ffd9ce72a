//! Screens of the real captures in assets/captures, decoded by the engine and drawn with
//! ratatui's TestBackend (insta snapshots at 120x40 and 80x24), with the key flows a user
//! would type applied one at a time.
// The helpers below are test code outside #[test] functions.
#![allow(clippy::unwrap_used)]

mod support;

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use support::tui::{app, down_to, keys, screen};
use support::{captures, decode_file};
use synscope::tui::app::App;

#[test]
fn ws_chat_120x40() {
    let s = screen(&app("ws_chat.pcapng", 120, 40));
    for arrow in [
        "SYN  seq=0",
        "SYN-ACK",
        "handshake done",
        "GET /ws",
        "101 Switching",
    ] {
        assert!(s.contains(arrow), "{arrow} missing:\n{s}");
    }
    assert_snapshot!(s);
}

#[test]
fn ws_chat_80x24() {
    assert_snapshot!(screen(&app("ws_chat.pcapng", 80, 24)));
}

#[test]
fn ws_chat_end_of_the_connection_120x40() {
    let mut a = app("ws_chat.pcapng", 120, 40);
    keys(&mut a, &[KeyCode::Char('G')]);
    let s = screen(&a);
    for arrow in ["Close 1000", "FIN-ACK"] {
        assert!(s.contains(arrow), "{arrow} missing:\n{s}");
    }
    assert_snapshot!(s);
}

#[test]
fn ws_chat_whole_life_in_order() {
    // The done criterion: SYN, SYN-ACK, ACK, the upgrade, 101, text/binary/ping/pong/close
    // frames, FIN, in this order among the diagram's rows.
    let a = app("ws_chat.pcapng", 120, 40);
    let labels: Vec<String> = a.visible_rows().iter().map(|&ix| a.label(ix)).collect();
    let mut at = 0;
    for want in [
        "SYN ", "SYN-ACK", "ACK ", "GET /ws", "101 ", "Ping", "Text", "Pong", "Binary", "Close",
        "FIN",
    ] {
        let found = labels[at..]
            .iter()
            .position(|l| l.starts_with(want))
            .unwrap_or_else(|| panic!("no {want:?} after row {at}: {labels:#?}"));
        at += found + 1;
    }
}

#[test]
fn ws_chat_detail_of_the_101_120x40() {
    let mut a = app("ws_chat.pcapng", 120, 40);
    down_to(&mut a, "101");
    keys(&mut a, &[KeyCode::Enter]);
    assert_snapshot!(screen(&a));
}

#[test]
fn ws_chat_detail_of_a_masked_text_80x24() {
    let mut a = app("ws_chat.pcapng", 80, 24);
    down_to(&mut a, "Text");
    keys(&mut a, &[KeyCode::Enter]);
    assert_snapshot!(screen(&a));
}

#[test]
fn ws_chat_every_segment_80x24() {
    let mut a = app("ws_chat.pcapng", 80, 24);
    keys(&mut a, &[KeyCode::Char('a')]);
    assert_snapshot!(screen(&a));
}

#[test]
fn ws_chat_help_80x24() {
    let mut a = app("ws_chat.pcapng", 80, 24);
    keys(&mut a, &[KeyCode::Char('?')]);
    assert_snapshot!(screen(&a));
}

#[test]
fn stomp_one_arrow_per_message_120x40() {
    // The application layer shows each STOMP frame in the place of the WebSocket message it
    // came in (one arrow per message); every segment (`a`) shows both.
    let mut a = app("stomp.pcapng", 120, 40);
    let labels =
        |a: &App| -> Vec<String> { a.visible_rows().iter().map(|&ix| a.label(ix)).collect() };
    let app_layer = labels(&a);
    let count = |l: &[String], p: &str| l.iter().filter(|x| x.starts_with(p)).count();
    assert_eq!(count(&app_layer, "Text"), 0, "{app_layer:#?}");
    let stomp = app_layer.iter().filter(|l| l.contains("CONNECT")).count();
    assert!(stomp >= 2, "{app_layer:#?}");
    keys(&mut a, &[KeyCode::Char('a')]);
    let every = labels(&a);
    assert_eq!(count(&every, "Text"), 17, "{every:#?}");
    keys(&mut a, &[KeyCode::Char('a')]);
    while !a.label(a.cursor.unwrap()).contains("CONNECT") {
        keys(&mut a, &[KeyCode::Char('j')]);
    }
    assert_snapshot!(screen(&a));
}

#[test]
fn refused_80x24() {
    assert_snapshot!(screen(&app("refused.pcapng", 80, 24)));
}

#[test]
fn polling_connections_list_120x40() {
    assert_snapshot!(screen(&app("polling.pcapng", 120, 40)));
}

#[test]
fn every_capture_draws_at_every_size() {
    let paths = captures();
    assert!(paths.len() >= 3, "captures missing");
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let events = decode_file(&path);
        for (w, h) in [(120, 40), (80, 24), (40, 10), (1, 1)] {
            let mut a = App::with_events(&name, (w, h), events.clone());
            for k in ["", "a", "G", "\n", "?"] {
                for c in k.chars() {
                    let code = if c == '\n' {
                        KeyCode::Enter
                    } else {
                        KeyCode::Char(c)
                    };
                    keys(&mut a, &[code]);
                }
                let s = screen(&a);
                assert!(!s.chars().any(|c| c.is_control() && c != '\n'), "{name}");
            }
        }
    }
}
