//! The detail pane's explanation in English and Korean (`--lang ko`): ws_chat's 101 answer at
//! 120x40, scrolled to the explanation, as insta snapshots; and Korean text, two columns a
//! syllable, wrapped inside the pane at every size without a character lost or cut.
// The helpers below are test code outside #[test] functions.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use support::decode_capture;
use support::tui::{app, down_to, keys, screen};
use synscope::explain::{self, Lang};
use synscope::tui::app::App;
use synscope::tui::detail;
use unicode_width::UnicodeWidthStr;

/// ws_chat at 120x40 in `lang`, the 101 selected, its details open and scrolled to the end.
fn the_101(lang: Lang) -> App {
    let mut a = app("ws_chat.pcapng", 120, 40);
    a.lang = lang;
    down_to(&mut a, "101");
    keys(&mut a, &[KeyCode::Enter, KeyCode::Char('G')]);
    a
}

#[test]
fn detail_of_the_101_in_korean_120x40() {
    let s = screen(&the_101(Lang::Ko));
    assert!(
        s.contains("│ 이유: 서버가 웹소켓으로 전환하는 데 동의한다."),
        "{s}"
    );
    assert!(s.contains("2rvKLVkyKR1EpYUaE6qSdg=="), "{s}");
    assert_snapshot!(s);
}

#[test]
fn detail_of_the_101_in_english_120x40() {
    let s = screen(&the_101(Lang::En));
    assert!(
        s.contains("│ Why: The server agrees to switch to WebSocket."),
        "{s}"
    );
    assert_snapshot!(s);
}

#[test]
fn korean_wraps_inside_the_pane_without_losing_a_character() {
    for name in [
        "ws_chat.pcapng",
        "refused.pcapng",
        "sse.pcapng",
        "ws_deflate.pcapng",
    ] {
        let events = decode_capture(name);
        let mut app = App::with_events(name, (120, 40), events);
        app.lang = Lang::Ko;
        keys(&mut app, &[KeyCode::Char('a')]);
        let label = format!("{}: ", explain::why_label(Lang::Ko));
        for pos in 0..app.timeline.conns().len() {
            let rows = app.timeline.conn(pos).unwrap().events.clone();
            for ix in rows {
                app.cursor = Some(ix);
                for w in [12u16, 31, 60, 118] {
                    let lines: Vec<String> = detail::lines(&app.timeline, app.cursor, w, app.lang)
                        .iter()
                        .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
                        .collect();
                    for l in &lines {
                        assert!(l.width() <= usize::from(w), "{name} at {w}: {l:?}");
                    }
                    // The explanation: from its label to the next line that is not indented
                    // under it. Spaces aside, it is the text, whole.
                    // (At 12 columns the label may stand alone on its line.)
                    let head = label.trim_end();
                    let Some(start) = lines.iter().position(|l| l.starts_with(head)) else {
                        panic!("{name}: no explanation for event {ix}");
                    };
                    let indent = " ".repeat(label.width().min(usize::from(w) / 2));
                    let mut got = lines[start][head.len()..].to_string();
                    for l in lines[start + 1..]
                        .iter()
                        .take_while(|l| l.starts_with(&indent) && !indent.is_empty())
                    {
                        got.push_str(l);
                    }
                    let want = detail::explanation(&app.timeline, ix, app.lang).unwrap();
                    let strip = |s: &str| s.chars().filter(|c| *c != ' ').collect::<String>();
                    assert_eq!(strip(&got), strip(&want), "{name} event {ix} at {w}");
                }
            }
        }
    }
}
