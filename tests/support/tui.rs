//! The TUI without a terminal: an [`App`] over a committed capture, keys applied one at a
//! time, and the screen drawn with ratatui's TestBackend as text.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use synscope::tui::app::{update, Action, App};
use synscope::tui::ui;

/// The app of `synscope replay NAME` at `w` x `h`, with every event of
/// `assets/captures/NAME` loaded.
pub fn app(name: &str, w: u16, h: u16) -> App {
    App::with_events(
        &format!("replay {name}"),
        (w, h),
        super::decode_capture(name),
    )
}

/// Applies `keys` one at a time, without modifiers.
pub fn keys(app: &mut App, keys: &[KeyCode]) {
    for &code in keys {
        update(app, Action::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }
}

/// The whole screen at the app's size, as text.
pub fn screen(app: &App) -> String {
    let (w, h) = app.size;
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| ui::render(app, f)).unwrap();
    ui::buffer_text(term.backend().buffer())
}

/// Moves the cursor down (`j`) to the first arrow whose label starts with `prefix`; panics
/// at the last arrow.
pub fn down_to(app: &mut App, prefix: &str) {
    while !app.label(app.cursor.unwrap()).starts_with(prefix) {
        let before = app.cursor;
        keys(app, &[KeyCode::Char('j')]);
        assert_ne!(app.cursor, before, "no arrow starts with {prefix:?}");
    }
}
