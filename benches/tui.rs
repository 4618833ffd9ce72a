//! How the TUI copes with large captures: one frame at 160x50 with a million events loaded
//! (1,000 connections, one of them with 500,000 events), and `update` taking in a batch of
//! 10,000 events. A frame must stay well under 16 ms.
//!
//! `cargo bench --bench tui`
// Benchmark setup code: a failure to build the fixture should stop the run.
#![allow(clippy::unwrap_used)]

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

/// A classic pcap of `conns` loopback WebSocket connections (handshake, upgrade, then
/// `messages` text messages each way in turn, each acknowledged), for the loading path.
fn websocket_pcap(conns: u16, messages: u32) -> Vec<u8> {
    use etherparse::PacketBuilder;
    const KEY_REQ: &[u8] = b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    const ACCEPT: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    // Classic pcap header: magic, version 2.4, zone, sigfigs, snaplen, LINKTYPE_ETHERNET.
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    for v in [0u32, 0, 65535, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let mut usec: u64 = 1_700_000_000_000_000;
    let mut record = |out: &mut Vec<u8>, data: &[u8]| {
        usec += 7;
        out.extend_from_slice(&((usec / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((usec % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
    };
    let text_c2s = {
        let p = b"tick tock, synthetic chatter";
        let key = [1u8, 2, 3, 4];
        let mut f = vec![0x81, 0x80 | p.len() as u8];
        f.extend_from_slice(&key);
        f.extend(p.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        f
    };
    let text_s2c = {
        let p = b"tick tock, synthetic chatter";
        let mut f = vec![0x81, p.len() as u8];
        f.extend_from_slice(p);
        f
    };
    for c in 0..conns {
        let port = 20_000 + c;
        let mut seq = [1000u32, 5000u32];
        let mut seg = |out: &mut Vec<u8>, from_client: bool, flags: u8, payload: &[u8]| {
            let i = usize::from(!from_client);
            let (sp, dp) = if from_client {
                (port, 8080)
            } else {
                (8080, port)
            };
            let b = PacketBuilder::ethernet2([1, 0, 0, 0, 0, 1], [1, 0, 0, 0, 0, 2]).ipv4(
                [127, 0, 0, 1],
                [127, 0, 0, 1],
                64,
            );
            let mut t = b.tcp(sp, dp, seq[i], 65535);
            if flags & 0x10 != 0 {
                t = t.ack(seq[1 - i]);
            }
            if flags & 0x02 != 0 {
                t = t.syn();
            }
            if flags & 0x08 != 0 {
                t = t.psh();
            }
            let mut pkt = Vec::with_capacity(payload.len() + 64);
            t.write(&mut pkt, payload).unwrap();
            record(out, &pkt);
            seq[i] = seq[i].wrapping_add(payload.len() as u32 + u32::from(flags & 0x02 != 0));
        };
        seg(&mut out, true, 0x02, b"");
        seg(&mut out, false, 0x12, b"");
        seg(&mut out, true, 0x10, b"");
        seg(&mut out, true, 0x18, KEY_REQ);
        seg(&mut out, false, 0x18, ACCEPT);
        for m in 0..messages {
            let from_client = m % 2 == 0;
            let frame = if from_client { &text_c2s } else { &text_s2c };
            seg(&mut out, from_client, 0x18, frame);
            seg(&mut out, !from_client, 0x10, b"");
        }
    }
    out
}

fn load(c: &mut Criterion) {
    let pcap = websocket_pcap(2_000, 200);
    let path = std::env::temp_dir().join(format!("synscope-bench-{}.pcap", std::process::id()));
    std::fs::write(&path, &pcap).unwrap();
    let mut g = c.benchmark_group("load");
    g.sample_size(10);
    g.throughput(criterion::Throughput::Bytes(pcap.len() as u64));
    let mut events = 0;
    g.bench_function("pcap file -> reader thread -> channel -> App", |b| {
        b.iter(|| {
            let rx =
                synscope::tui::spawn_reader(path.clone(), Default::default(), Default::default())
                    .unwrap();
            let mut app = App::new(synscope::tui::Source::Replay, "load", (160, 50), usize::MAX);
            for a in rx {
                update(&mut app, a);
            }
            events = app.timeline.len();
            app
        })
    });
    g.finish();
    eprintln!(
        "load: {} MB of pcap, {} events per run",
        pcap.len() / 1_000_000,
        events
    );
    let _ = std::fs::remove_file(&path);
}

criterion_group!(benches, frames, batches, load);
criterion_main!(benches);
