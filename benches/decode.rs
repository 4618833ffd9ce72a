//! Decode throughput: whole captures through `CaptureReader` + `Engine` (+ the JSON view), from
//! memory, so the figure is the engine's and not the disk's; the writers alone on decoded
//! events (the hand-written JSON beside serde's, which it replaced, and the text); and, on a
//! large capture, `synscope decode`'s whole pipeline (reader, engine and writer threads).
//!
//!     cargo bench --bench decode
//!     SYNSCOPE_BENCH_CAPTURE=/path/to/big.pcap cargo bench --bench decode
//!
//! The ratio to tshark, measured side by side in one run: `scripts/bench-vs-tshark.sh`.
//!
//! The committed captures are small and varied (every protocol path); the optional large one is
//! what `scripts/bench-capture.sh` records (WebSocket load, a few hundred MB; only its first
//! 64 MiB are loaded so the benchmark stays quick). The end-to-end figure on a whole large file is
//! `synscope decode --stats FILE` (README, "Speed").
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::path::Path;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use synscope::capture::CaptureReader;
use synscope::engine::Engine;
use synscope::model::{Event, Limits};
use synscope::view::file::{decode_to, DecodeOptions};
use synscope::view::Format;

fn decode_all(bytes: &[u8], json: bool, sink: &mut Vec<u8>) -> usize {
    let mut reader = CaptureReader::new(bytes).unwrap();
    let mut engine = Engine::new(Limits::default());
    let mut events: Vec<Event> = Vec::with_capacity(64);
    let mut n = 0;
    while let Some(frame) = reader.next_frame().unwrap() {
        engine.ingest(&frame, &mut events);
        n += events.len();
        if json {
            for e in &events {
                synscope::view::json::write_event(sink, e).unwrap();
            }
            sink.clear();
        }
        events.clear();
    }
    engine.finish(&mut events);
    n + events.len()
}

fn bench(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/captures");
    let mut captures: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name()?.to_str()?.to_string();
            (name.ends_with(".pcap") || name.ends_with(".pcapng"))
                .then(|| (name, std::fs::read(&p).unwrap()))
        })
        .collect();
    captures.sort();
    let total: u64 = captures.iter().map(|(_, b)| b.len() as u64).sum();
    let mut sink = Vec::with_capacity(1 << 16);

    let mut g = c.benchmark_group("committed_captures");
    g.throughput(Throughput::Bytes(total));
    g.bench_function("events", |b| {
        b.iter(|| {
            captures
                .iter()
                .map(|(_, c)| decode_all(black_box(c), false, &mut sink))
                .sum::<usize>()
        })
    });
    g.bench_function("events+json", |b| {
        b.iter(|| {
            captures
                .iter()
                .map(|(_, c)| decode_all(black_box(c), true, &mut sink))
                .sum::<usize>()
        })
    });
    g.finish();

    // The writers alone, on the events of every committed capture decoded once.
    let mut events = Vec::new();
    for (_, c) in &captures {
        let mut reader = CaptureReader::new(&c[..]).unwrap();
        let mut engine = Engine::new(Limits::default());
        while let Some(frame) = reader.next_frame().unwrap() {
            engine.ingest(&frame, &mut events);
        }
        engine.finish(&mut events);
    }
    let mut g = c.benchmark_group("writer");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("json", |b| {
        b.iter(|| {
            for e in &events {
                synscope::view::json::encode(&mut sink, black_box(e)).unwrap();
                sink.clear();
            }
        })
    });
    g.bench_function("json_serde", |b| {
        b.iter(|| {
            for e in &events {
                synscope::view::json::write_event_serde(&mut sink, black_box(e)).unwrap();
                sink.clear();
            }
        })
    });
    g.bench_function("text", |b| {
        b.iter(|| {
            for e in &events {
                synscope::view::text::write_event(&mut sink, black_box(e)).unwrap();
                sink.clear();
            }
        })
    });
    g.finish();

    if let Some(path) = std::env::var_os("SYNSCOPE_BENCH_CAPTURE") {
        let mut big = Vec::new();
        std::fs::File::open(&path)
            .unwrap()
            .take(64 << 20)
            .read_to_end(&mut big)
            .unwrap();
        let mut g = c.benchmark_group("large_capture");
        g.sample_size(10);
        g.throughput(Throughput::Bytes(big.len() as u64));
        g.bench_function("events", |b| {
            b.iter(|| decode_all(black_box(&big), false, &mut sink))
        });
        g.bench_function("events+json", |b| {
            b.iter(|| decode_all(black_box(&big), true, &mut sink))
        });
        g.finish();

        // `synscope decode --format json FILE > /dev/null` as the binary runs it, on the whole
        // file: reader, engine and writer threads.
        let whole = std::fs::metadata(&path).unwrap().len();
        let mut g = c.benchmark_group("large_capture_pipeline");
        g.sample_size(10);
        g.throughput(Throughput::Bytes(whole));
        for (name, format, stats) in [
            ("stats", Format::Json, true),
            ("json", Format::Json, false),
            ("text", Format::Text, false),
        ] {
            let opts = DecodeOptions {
                path: path.clone().into(),
                format,
                stats,
                ..DecodeOptions::default()
            };
            g.bench_function(name, |b| {
                b.iter(|| decode_to(black_box(&opts), std::io::sink()).unwrap())
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
