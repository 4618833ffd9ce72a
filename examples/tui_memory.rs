//! What the TUI holds in memory for a capture: loads FILE into an `App` as `synscope replay`
//! does (the reader thread, batches over the bounded channel, `update` for each), without a
//! terminal, then prints the events per kind, what the store holds (its rows and columns, the
//! payload previews kept in memory, how many were left in the file to be read back) and the
//! process's resident memory.
//!
//! ```text
//! cargo run --release --example tui_memory -- FILE [MAX_EVENTS]
//! /usr/bin/time -v target/release/examples/tui_memory /work/bench/ws_load.pcap
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::mem::size_of;
use std::path::PathBuf;

use anyhow::{Context, Result};
use synscope::model::{Event, EventBody, Limits};
use synscope::tui::{self, update, App, Options, Source};

/// `VmRSS` and `VmHWM` of this process, in kB.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn main() -> Result<()> {
    let mut args = std::env::args_os().skip(1);
    let path = PathBuf::from(args.next().context("usage: tui_memory FILE [MAX_EVENTS]")?);
    let max_events = match args.next() {
        Some(n) => n.to_string_lossy().parse().context("MAX_EVENTS")?,
        None => Options::default().max_events,
    };
    println!(
        "size_of: Event {} EventBody {} (max_events {max_events})",
        size_of::<Event>(),
        size_of::<EventBody>(),
    );
    let (rss0, _) = rss();
    let started = std::time::Instant::now();
    let rx = tui::spawn_reader(path, Limits::default(), Default::default())?;
    let mut app = App::new(Source::Replay, "memory", (160, 50), max_events);
    let mut peak_during = 0u64;
    let mut n = 0u64;
    for action in rx {
        update(&mut app, action);
        n += 1;
        if n.is_multiple_of(256) {
            peak_during = peak_during.max(rss().0);
        }
    }
    let elapsed = started.elapsed();
    let (rss1, hwm) = rss();
    let tl = &app.timeline;
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    for ix in tl.first()..tl.len() as u32 {
        if let Some(k) = tl.kind(ix) {
            *kinds.entry(k).or_default() += 1;
        }
    }
    let kept = tl.held() as u64;
    println!(
        "loaded in {elapsed:.1?}: {kept} events kept, {} counted beyond max_events, {} connections",
        tl.dropped(),
        tl.conns().len()
    );
    for (kind, count) in &kinds {
        println!("  {kind:<15} {count:>9} events");
    }
    let store = tl.store();
    let index: u64 = tl
        .conns()
        .iter()
        .map(|c| (c.events.capacity() + c.app.capacity()) as u64 * 4)
        .sum();
    println!(
        "store {:.1} MB (rows, columns, events kept whole, {:.1} MB of previews in memory; \
         {} previews left in the capture file), per-connection row indices {:.1} MB",
        store.heap_bytes() as f64 / 1e6,
        store.arena_bytes() as f64 / 1e6,
        store.from_file(),
        index as f64 / 1e6
    );
    println!(
        "RSS: {:.1} MB before, {:.1} MB after ({:.1} B per kept event), peak {:.1} MB \
         (sampled while loading {:.1} MB)",
        rss0 as f64 / 1e3,
        rss1 as f64 / 1e3,
        (rss1 - rss0) as f64 * 1e3 / kept.max(1) as f64,
        hwm as f64 / 1e3,
        peak_during as f64 / 1e3
    );
    Ok(())
}
