//! Live capture keeps the newest events: the app of `live` and `demo` (`Source::Live`), fed
//! batches as the capture thread sends them, holds at most its limit, lets the oldest go, keeps
//! following the newest event, and its title bar says how many went. A replay keeps its first
//! events instead and says how many it did not keep.
#![allow(clippy::unwrap_used)]

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use synscope::tui::app::{update, Action, App, Source};
use synscope::tui::{sample, ui};

fn title(app: &App) -> String {
    let mut term = Terminal::new(TestBackend::new(200, 30)).unwrap();
    term.draw(|f| ui::render(app, f)).unwrap();
    ui::buffer_text(term.backend().buffer())
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

fn fed(source: Source, max: usize) -> (App, usize) {
    let events = sample::large(30_000, 12, 3_000);
    let n = events.len();
    let mut app = App::new(source, "live lo", (200, 30), max);
    for batch in events.chunks(700) {
        update(&mut app, Action::Events(batch.to_vec()));
        // Draws between batches, as the terminal loop does.
        title(&app);
    }
    (app, n)
}

#[test]
fn live_keeps_the_newest_events_and_says_how_many_went() {
    let max = 2_000;
    let (app, n) = fed(Source::Live, max);
    let tl = &app.timeline;
    assert!(tl.held() <= max);
    assert_eq!(tl.dropped(), 0);
    assert_eq!(tl.evicted() as usize + tl.held(), n);
    assert_eq!(tl.len(), n);
    // Still following: the newest row of the newest event's connection is selected.
    let last = app.view.rows().last().copied();
    assert_eq!(app.cursor, last);
    assert!(last.is_some_and(|ix| ix as usize >= n - 20), "{last:?}");
    let t = title(&app);
    let went = format!(
        "{} oldest let go (event limit)",
        synscope::tui::label::count(tl.evicted())
    );
    assert!(t.contains(&went), "{t:?} lacks {went:?}");
    assert!(!t.contains("not kept"), "{t}");
}

#[test]
fn replay_keeps_the_first_events_and_counts_the_rest() {
    let max = 2_000;
    let (app, n) = fed(Source::Replay, max);
    let tl = &app.timeline;
    assert_eq!((tl.first(), tl.held(), tl.evicted()), (0, max, 0));
    assert_eq!(tl.dropped() as usize, n - max);
    let t = title(&app);
    assert!(t.contains("not kept (event limit)"), "{t}");
    assert!(!t.contains("let go"), "{t}");
}
