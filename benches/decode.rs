//! Decode throughput: whole captures through `CaptureReader` + `Engine` (+ the JSON view), from
//! memory, so the figure is the engine's and not the disk's.
//!
//!     cargo bench --bench decode
//!     SYNSCOPE_BENCH_CAPTURE=/path/to/big.pcap cargo bench --bench decode
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
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
