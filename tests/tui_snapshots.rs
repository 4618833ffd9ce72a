//! Screens of the TUI, drawn with ratatui's TestBackend and compared with insta snapshots:
//! the main screen, the detail pane, the help overlay, the application-only / all-segments
//! layers and a search hit, at 120x40 and 80x24. App flow: keys applied one at a time, no
//! threads, no sleeps.

mod support;

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use support::tui::screen;
use synscope::tui::app::App;
use synscope::tui::{sample, ui};

fn app(w: u16, h: u16) -> App {
    App::with_events("replay demo.pcapng", (w, h), sample::demo())
}

/// Types `keys`: `\n` is Enter, `\t` Tab, `→` the right arrow.
fn keys(app: &mut App, keys: &str) {
    let codes: Vec<KeyCode> = keys
        .chars()
        .map(|c| match c {
            '\n' => KeyCode::Enter,
            '\t' => KeyCode::Tab,
            '→' => KeyCode::Right,
            c => KeyCode::Char(c),
        })
        .collect();
    support::tui::keys(app, &codes);
}

#[test]
fn main_screen_120x40() {
    assert_snapshot!(screen(&app(120, 40)));
}

#[test]
fn main_screen_80x24() {
    assert_snapshot!(screen(&app(80, 24)));
}

#[test]
fn detail_of_the_101_120x40() {
    let mut a = app(120, 40);
    keys(&mut a, "jjjj\n");
    assert_snapshot!(screen(&a));
}

#[test]
fn detail_of_a_masked_text_80x24() {
    let mut a = app(80, 24);
    keys(&mut a, "jjjjj\n");
    assert_snapshot!(screen(&a));
}

#[test]
fn help_overlay_120x40() {
    let mut a = app(120, 40);
    keys(&mut a, "?");
    assert_snapshot!(screen(&a));
}

#[test]
fn help_overlay_80x24() {
    let mut a = app(80, 24);
    keys(&mut a, "?");
    assert_snapshot!(screen(&a));
}

#[test]
fn all_segments_layer_120x40() {
    let mut a = app(120, 40);
    keys(&mut a, "a");
    assert_snapshot!(screen(&a));
}

#[test]
fn all_segments_layer_delta_time_80x24() {
    let mut a = app(80, 24);
    keys(&mut a, "at");
    assert_snapshot!(screen(&a));
}

#[test]
fn search_hit_120x40() {
    let mut a = app(120, 40);
    keys(&mut a, "/pong\n");
    assert_snapshot!(screen(&a));
}

#[test]
fn search_hit_80x24() {
    let mut a = app(80, 24);
    keys(&mut a, "/close\nn");
    assert_snapshot!(screen(&a));
}

#[test]
fn problems_on_the_reset_connection_120x40() {
    let mut a = app(120, 40);
    keys(&mut a, "]]]");
    assert_snapshot!(screen(&a));
}

#[test]
fn refused_connection_80x24() {
    let mut a = app(80, 24);
    keys(&mut a, "]]");
    assert_snapshot!(screen(&a));
}

#[test]
fn playback_walks_the_handshake_arrow_by_arrow() {
    let mut a = app(80, 24);
    keys(&mut a, "→");
    let one = screen(&a);
    assert!(one.contains("SYN  seq=0"));
    assert!(!one.contains("SYN-ACK"));
    keys(&mut a, "→→");
    assert_snapshot!(screen(&a));
}

#[test]
fn no_color_keeps_the_diagram_readable() {
    use ratatui::style::{Color, Modifier};
    let mut a = app(120, 40);
    a.color = false;
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    term.draw(|f| ui::render(&a, f)).unwrap();
    let buf = term.backend().buffer();
    assert!(buf
        .content()
        .iter()
        .all(|c| c.fg == Color::Reset && c.bg == Color::Reset));
    // The selected row is still marked.
    assert!(buf
        .content()
        .iter()
        .any(|c| c.modifier.contains(Modifier::REVERSED)));
    // And the text is the same as in colour.
    let mut coloured = app(120, 40);
    coloured.color = true;
    assert_eq!(ui::buffer_text(buf), screen(&coloured));
}

#[test]
fn colours_separate_the_kinds() {
    use ratatui::style::Color;
    let a = app(120, 40);
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    term.draw(|f| ui::render(&a, f)).unwrap();
    let buf = term.backend().buffer();
    let text = ui::buffer_text(buf);
    let colour_of = |needle: &str| {
        let (y, line) = text
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains(needle))
            .unwrap();
        let col = line[..line.find(needle).unwrap()].chars().count();
        buf[(col as u16, y as u16)].fg
    };
    assert_eq!(colour_of("SYN-ACK"), Color::Cyan);
    assert_eq!(colour_of("GET /chat"), Color::Yellow);
    assert_eq!(colour_of("Binary"), Color::Green);
    assert_eq!(colour_of("Ping"), Color::Magenta);
}
