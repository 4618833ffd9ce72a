//! What the TUI holds in memory for a capture: loads FILE into an `App` as `synscope replay`
//! does (the reader thread, batches over the bounded channel, `update` for each), without a
//! terminal, then prints the size of an event, the heap its fields own (estimated per kind,
//! as glibc's malloc rounds), and the process's resident memory.
//!
//! ```text
//! cargo run --release --example tui_memory -- FILE [MAX_EVENTS]
//! /usr/bin/time -v target/release/examples/tui_memory /work/bench/ws_load.pcap
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::mem::{size_of, size_of_val};
use std::path::PathBuf;

use anyhow::{Context, Result};
use synscope::model::{self, Event, EventBody, Headers, Limits, Payload};
use synscope::tui::{self, update, App, Options, Source};

/// Bytes glibc's malloc takes for a request of `n` (a 16-byte-aligned chunk with an 8-byte
/// header, 32 bytes at least); 0 for no allocation.
fn chunk(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        ((n + 8 + 15) & !15).max(32)
    }
}

/// By length: the engine builds its strings to their length.
fn string(s: &str) -> usize {
    chunk(s.len())
}

fn opt(s: &Option<String>) -> usize {
    s.as_ref().map_or(0, |s| chunk(s.capacity()))
}

fn headers(h: &Headers) -> usize {
    chunk(h.capacity() * size_of::<(String, String)>())
        + h.iter()
            .map(|(k, v)| chunk(k.capacity()) + chunk(v.capacity()))
            .sum::<usize>()
}

fn payload(p: &Payload) -> usize {
    chunk(p.kept.len())
}

/// The heap an event owns, boxes included.
fn heap(e: &Event) -> usize {
    match &e.body {
        EventBody::Connection(c) => boxed::<model::ConnectionInfo>(size_of_val(c)),
        EventBody::Handshake(_) | EventBody::Gap(_) | EventBody::ConnectionState(_) => 0,
        // Options inline, analysis flags a bitset.
        EventBody::Tcp(_) => 0,
        EventBody::HttpRequest(r) => {
            boxed::<model::HttpRequest>(size_of_val(r))
                + string(&r.method)
                + string(&r.target)
                + string(&r.version)
                + headers(&r.headers)
        }
        EventBody::HttpResponse(r) => {
            boxed::<model::HttpResponse>(size_of_val(r))
                + string(&r.reason)
                + string(&r.version)
                + headers(&r.headers)
                + opt(&r.request_method)
                + r.upgrade.as_ref().map_or(0, |u| {
                    string(&u.key)
                        + string(&u.accept)
                        + string(&u.accept_expected)
                        + opt(&u.subprotocol)
                        + opt(&u.extensions)
                })
        }
        EventBody::HttpBody(b) => payload(&b.data),
        // The masking key is inline too.
        EventBody::WsFrame(f) => payload(&f.data),
        EventBody::WsMessage(m) => {
            boxed::<model::WsMessage>(size_of_val(m))
                + opt(&m.text)
                + opt(&m.reason)
                + payload(&m.data)
        }
        EventBody::Violation(v) => string(&v.detail),
        EventBody::Malformed(m) => string(&m.detail),
        EventBody::Note(n) => boxed::<model::Note>(size_of_val(n)) + string(&n.detail),
        EventBody::Data(d) => {
            boxed::<model::Data>(size_of_val(d)) + payload(&d.data) + opt(&d.text)
        }
        EventBody::ConnectionEnd(c) => boxed::<model::ConnectionEnd>(size_of_val(c)),
        EventBody::SseEvent(s) => {
            boxed::<model::SseEvent>(size_of_val(s))
                + opt(&s.event)
                + opt(&s.id)
                + string(&s.data)
                + opt(&s.comment)
        }
        EventBody::Stomp(f) => {
            boxed::<model::StompFrame>(size_of_val(f))
                + string(&f.command)
                + headers(&f.headers)
                + opt(&f.body)
        }
        EventBody::Socketio(p) => {
            boxed::<model::SocketIoPacket>(size_of_val(p))
                + opt(&p.namespace)
                + opt(&p.event)
                + opt(&p.data)
                + opt(&p.sid)
        }
        EventBody::TlsRecord(_) | EventBody::TlsAlert(_) => 0,
        EventBody::TlsHandshake(h) => {
            let list = |v: &Option<Vec<String>>| {
                v.as_ref().map_or(0, |v| {
                    chunk(v.capacity() * size_of::<String>())
                        + v.iter().map(|s| string(s)).sum::<usize>()
                })
            };
            boxed::<model::TlsHandshake>(size_of_val(h))
                + opt(&h.sni)
                + list(&h.alpn)
                + list(&h.san)
                + opt(&h.subject)
                + h.cipher_suites
                    .as_ref()
                    .map_or(0, |v| chunk(v.capacity() * 2))
                + h.supported_versions
                    .as_ref()
                    .map_or(0, |v| chunk(v.capacity() * 2))
                + h.key_share_groups
                    .as_ref()
                    .map_or(0, |v| chunk(v.capacity() * 2))
        }
        EventBody::Pattern(p) => {
            boxed::<model::PatternReport>(size_of_val(p))
                + string(&p.client)
                + string(&p.target)
                + chunk(p.conns.capacity() * 4)
        }
    }
}

/// The chunk of a boxed variant's box: `binding` is the size of what the match bound (a
/// `Box<T>` when the variant is boxed, the `T` itself otherwise; written so, the example
/// measured the model before the variants were boxed too).
fn boxed<T>(binding: usize) -> usize {
    if binding == size_of::<Box<T>>() && size_of::<T>() != binding {
        chunk(size_of::<T>())
    } else {
        0
    }
}

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
    let mut kinds: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut total_heap = 0u64;
    for ix in 0..tl.len() as u32 {
        let Some(e) = tl.event(ix) else { continue };
        let h = heap(&e) as u64;
        total_heap += h;
        let k = kinds.entry(e.body.kind()).or_default();
        k.0 += 1;
        k.1 += h;
    }
    let kept = tl.len() as u64;
    println!(
        "loaded in {elapsed:.1?}: {kept} events kept, {} counted beyond max_events, {} connections",
        tl.dropped(),
        tl.conns().len()
    );
    for (kind, (count, h)) in &kinds {
        println!(
            "  {kind:<15} {count:>9} events, heap {:>6.1} B/event",
            *h as f64 / *count as f64
        );
    }
    let inline = kept * size_of::<Event>() as u64;
    let index: u64 = tl
        .conns()
        .iter()
        .map(|c| (c.events.capacity() + c.app.capacity()) as u64 * 4)
        .sum();
    println!(
        "events inline {:.1} MB, their heap ~{:.1} MB ({:.1} B/event), per-connection row indices \
         {:.1} MB",
        inline as f64 / 1e6,
        total_heap as f64 / 1e6,
        total_heap as f64 / kept.max(1) as f64,
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
