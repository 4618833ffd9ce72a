//! How long a frame takes on a real capture: loads FILE into an `App` as `synscope replay`
//! does (without a terminal), then, at 160x50 on the first connection with every segment
//! shown, from its last row: moves up one row (`k`) and draws, ROUNDS times; then the same with
//! the detail pane open. Prints the median, the 99th percentile and the slowest of each: what
//! a user scrolling through the capture waits for.
//!
//! ```text
//! cargo build --release --example tui_frames
//! target/release/examples/tui_frames /work/bench/ws-load.pcap [ROUNDS]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use synscope::model::Limits;
use synscope::tui::{self, ui, update, Action, App, Options, Source};

fn key(app: &mut App, c: KeyCode) {
    update(app, Action::Key(KeyEvent::new(c, KeyModifiers::NONE)));
}

/// `k` and a frame, `rounds` times: the time of each.
fn scroll(app: &mut App, term: &mut Terminal<TestBackend>, rounds: usize) -> Vec<Duration> {
    (0..rounds)
        .map(|_| {
            let started = Instant::now();
            key(app, KeyCode::Char('k'));
            term.draw(|f| ui::render(app, f)).unwrap();
            started.elapsed()
        })
        .collect()
}

fn report(what: &str, mut t: Vec<Duration>) {
    t.sort();
    let at = |q: f64| t[((t.len() - 1) as f64 * q) as usize];
    println!(
        "{what}: median {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} frames)",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
        t.len()
    );
}

fn main() -> Result<()> {
    let mut args = std::env::args_os().skip(1);
    let path = PathBuf::from(args.next().context("usage: tui_frames FILE [ROUNDS]")?);
    let rounds: usize = match args.next() {
        Some(n) => n.to_string_lossy().parse().context("ROUNDS")?,
        None => 500,
    };
    let started = Instant::now();
    let rx = tui::spawn_reader(path, Limits::default(), Default::default())?;
    let mut app = App::new(
        Source::Replay,
        "frames",
        (160, 50),
        Options::default().max_events,
    );
    for action in rx {
        update(&mut app, action);
    }
    println!(
        "loaded {} events in {:.1?}",
        app.timeline.len(),
        started.elapsed()
    );
    let mut term = Terminal::new(TestBackend::new(160, 50))?;
    key(&mut app, KeyCode::Char('a'));
    key(&mut app, KeyCode::End);
    term.draw(|f| ui::render(&app, f))?;
    report(
        "k + frame, every segment",
        scroll(&mut app, &mut term, rounds),
    );
    // The pane opens with the focus; back to the diagram, whose cursor `k` moves.
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::BackTab);
    assert!(app.detail_open);
    term.draw(|f| ui::render(&app, f))?;
    report(
        "k + frame, detail pane open",
        scroll(&mut app, &mut term, rounds),
    );
    Ok(())
}
