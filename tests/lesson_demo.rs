//! The lesson's "Done when" on the real binary in a real pseudo-terminal (tmux): five fast
//! rounds of `synscope demo`, then the patterns view shows each round's short polling, long
//! polling (its hold the same from round to round), streaming and SSE, and WebSocket, plain and
//! over TLS (each open for its own round only), and no polling on `/` or `/missing`; Enter opens the lesson pane.
//!
//! Synchronisation is by polling the pane's content until a condition holds, with a generous
//! deadline (a loaded machine runs the rounds slower); no fixed sleeps. Needs capture rights:
//! without them the test fails under `CI=true` and elsewhere says why and returns.
#![cfg(target_os = "linux")]
// The helpers below are test code outside #[test] functions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use support::rights::{euid, BIN};
use support::tmux::Tmux;

/// How long five rounds may take on a loaded machine (about 15 s on an idle one).
const ROUNDS_DEADLINE: Duration = Duration::from_secs(180);

fn can_capture() -> bool {
    if euid() == 0 {
        return true;
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "CI must run as root"
    );
    eprintln!("NOT RUN: live capture needs root here");
    false
}

/// Polls the pane until `pred` holds, for up to `deadline`.
fn wait_long(t: &Tmux, what: &str, deadline: Duration, pred: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < deadline {
        last = t.pane();
        if pred(&last) {
            return last;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out after {deadline:?} waiting for {what}; the screen was:\n{last}");
}

/// The value in milliseconds of a figure like `held 147 ms` or `open 1.02 s` after `word `.
fn figure_ms(row: &str, word: &str) -> f64 {
    let rest = row
        .split(&format!("{word} "))
        .nth(1)
        .unwrap_or_else(|| panic!("no {word} in {row}"));
    let mut parts = rest.split_whitespace();
    let n: f64 = parts.next().unwrap().parse().unwrap();
    match parts.next().unwrap().trim_end_matches('│') {
        "s" => n * 1000.0,
        "ms" => n,
        "µs" => n / 1000.0,
        u => panic!("unit {u} in {row}"),
    }
}

/// The rows of the patterns view on `screen`.
fn rows(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .filter(|l| {
            ["polling", "long-poll", "stream", "WebSocket", "none"]
                .iter()
                .any(|p| l.trim_start_matches('│').starts_with(p))
        })
        .collect()
}

/// `pattern target` of each row.
fn names(rows: &[&str]) -> Vec<String> {
    rows.iter()
        .map(|l| {
            l.trim_start_matches('│')
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn five_fast_demo_rounds_show_each_pattern_per_round() {
    if !can_capture() {
        return;
    }
    let t = Tmux::start(
        "lesson-rounds",
        &format!("'{BIN}' demo --pace-ms 50 --rounds 5"),
    );
    // Room for every conversation of five rounds on one line each.
    t.resize(160, 50);
    wait_long(&t, "the five rounds to end", ROUNDS_DEADLINE, |s| {
        s.lines().next().is_some_and(|l| l.contains(" · done "))
    });
    t.keys(&["p"]);
    // Round after round, the same five conversations and nothing else: no polling on the
    // intro page `/` nor on the 404 page `/missing`, met once per round. (Polled until the
    // whole screen shows it: a capture can catch a redraw half done.)
    let round = [
        "polling /poll",
        "long-poll /long-poll",
        "stream /stream",
        "stream /events",
        "WebSocket /ws",
        // The same conversation over TLS (wss), decrypted with the demo's own key log.
        "WebSocket /ws",
    ];
    let want: Vec<String> = (0..5)
        .flat_map(|_| round.iter().map(|s| s.to_string()))
        .collect();
    let screen = wait_long(
        &t,
        "the patterns view with five rounds",
        Duration::from_secs(30),
        |s| {
            names(&rows(s)) == want
                && s.contains("figures: medians")
                && rows(s)
                    .iter()
                    .filter(|l| l.contains("/events"))
                    .all(|l| l.contains(" SSE"))
        },
    );
    let rows = rows(&screen);
    assert!(screen.contains("Patterns ─ 30 conversations"), "{screen}");
    assert!(!screen.contains("/missing"), "{screen}");
    // SSE on every /events row.
    for l in rows.iter().filter(|l| l.contains("/events")) {
        assert!(l.contains(" SSE"), "{l}\n{screen}");
    }
    // The long poll's hold is the same round to round (the demo holds each request until its
    // news comes, three steps): every round's median within a quarter of the rounds' median.
    let held: Vec<f64> = rows
        .iter()
        .filter(|l| l.contains("long-poll /long-poll"))
        .map(|l| figure_ms(l, "held"))
        .collect();
    let m = median(&mut held.clone());
    for h in &held {
        assert!((h - m).abs() <= m / 4.0, "held {held:?} ms:\n{screen}");
    }
    assert!(m >= 50.0, "a hold of {m} ms is no hold:\n{screen}");
    // Each WebSocket is open for its own round only: well under the time between two rounds.
    let open: Vec<f64> = rows
        .iter()
        .filter(|l| l.contains("WebSocket /ws"))
        .map(|l| figure_ms(l, "open"))
        .collect();
    for o in &open {
        assert!(*o > 0.0 && *o < 2000.0, "open {open:?} ms:\n{screen}");
    }
    // Enter opens the lesson on the selected conversation.
    t.keys(&["g", "Enter"]);
    wait_long(&t, "the lesson pane", Duration::from_secs(30), |s| {
        s.contains("short polling /poll") && s.contains("Next to WebSocket")
    });
    t.keys(&["q"]);
    t.assert_restored();
}
