//! How the TUI copes with large captures: one frame at 160x50 with a million events loaded
//! (1,000 connections, one of them with 500,000 events), and `update` taking in a batch of
//! 10,000 events. A frame must stay well under 16 ms.
//!
//! `cargo bench --bench tui`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use synscope::tui::app::{update, Action, App};
use synscope::tui::{sample, ui};

const EVENTS: usize = 1_000_000;
const CONNS: u32 = 1_000;
const BIG: usize = 500_000;

fn key(app: &mut App, c: KeyCode) {
    update(app, Action::Key(KeyEvent::new(c, KeyModifiers::NONE)));
}

fn frames(c: &mut Criterion) {
    let started = std::time::Instant::now();
    let events = sample::large(EVENTS, CONNS, BIG);
    let built = started.elapsed();
    let started = std::time::Instant::now();
    let mut app = App::with_events("replay large.pcapng", (160, 50), events);
    eprintln!(
        "built {} events in {built:?}, loaded into the app in {:?}; connection 0 has {} events",
        app.timeline.len(),
        started.elapsed(),
        app.timeline.conn(0).map_or(0, |c| c.events.len())
    );
    let mut term = Terminal::new(TestBackend::new(160, 50)).unwrap();
    let mut g = c.benchmark_group("frame 160x50, 1M events");
    g.bench_function("top of the 500k-event connection", |b| {
        b.iter(|| {
            term.draw(|f| ui::render(black_box(&app), f)).unwrap();
        })
    });
    key(&mut app, KeyCode::Char('a'));
    key(&mut app, KeyCode::End);
    g.bench_function("end of it, every segment", |b| {
        b.iter(|| {
            term.draw(|f| ui::render(black_box(&app), f)).unwrap();
        })
    });
    key(&mut app, KeyCode::Enter);
    g.bench_function("with the detail pane open", |b| {
        b.iter(|| {
            term.draw(|f| ui::render(black_box(&app), f)).unwrap();
        })
    });
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char(' '));
    update(
        &mut app,
        Action::Tick(std::time::Duration::from_millis(1_500)),
    );
    g.bench_function("during playback", |b| {
        b.iter(|| {
            term.draw(|f| ui::render(black_box(&app), f)).unwrap();
        })
    });
    g.finish();

    let mut g = c.benchmark_group("keys, 1M events");
    key(&mut app, KeyCode::Char('s'));
    g.bench_function("j (move one row) + frame", |b| {
        b.iter(|| {
            key(&mut app, KeyCode::Char('k'));
            term.draw(|f| ui::render(&app, f)).unwrap();
        })
    });
    g.bench_function("a (switch layer: rebuilds 500k rows) + frame", |b| {
        b.iter(|| {
            key(&mut app, KeyCode::Char('a'));
            term.draw(|f| ui::render(&app, f)).unwrap();
        })
    });
    g.sample_size(10);
    g.bench_function("/ search with no match over 500k rows", |b| {
        b.iter(|| {
            for c in "/nomatch".chars() {
                key(&mut app, KeyCode::Char(c));
            }
            key(&mut app, KeyCode::Enter);
        })
    });
    g.finish();
}

fn batches(c: &mut Criterion) {
    let base = sample::large(100_000, 100, 50_000);
    let batch = sample::large(10_000, 100, 5_000);
    let mut g = c.benchmark_group("update");
    g.throughput(criterion::Throughput::Elements(batch.len() as u64));
    g.bench_function("a batch of 10k events", |b| {
        b.iter_batched(
            || {
                (
                    App::with_events("replay", (160, 50), base.clone()),
                    batch.clone(),
                )
            },
            |(mut app, batch)| {
                update(&mut app, Action::Events(batch));
                app
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, frames, batches);
criterion_main!(benches);
