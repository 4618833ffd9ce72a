//! WebSocket straight into `proto::ws::WsSession`. The first byte picks the limits (bit 0),
//! permessage-deflate (bits 1-2: none, default parameters, no context takeover with 9-bit
//! windows, 8-bit windows) and whether to check cut invariance (bit 3); the rest is cut into
//! c2s/s2c pieces and gaps (see `common::ops`). Besides "no panic": every event within its
//! limits, memory held within `WsSession::max_held`, and, as the module promises, the same
//! events per direction however the bytes between two gaps are cut.
#![no_main]

#[path = "common.rs"]
mod common;

use common::{check_event, ops, Op};
use libfuzzer_sys::fuzz_target;
use synscope::flow::Cx;
use synscope::model::{DeflateParams, Dir, Event, Limits, Stamp};
use synscope::proto::ws::WsSession;

fn deflate(pick: u8) -> Option<DeflateParams> {
    match (pick >> 1) & 3 {
        0 => None,
        1 => Some(DeflateParams::default()),
        2 => Some(DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 9,
            client_max_window_bits: 9,
        }),
        _ => Some(DeflateParams {
            server_max_window_bits: 8,
            client_max_window_bits: 8,
            ..DeflateParams::default()
        }),
    }
}

fn run(limits: &Limits, params: Option<DeflateParams>, ops: &[Op]) -> Vec<Event> {
    let mut out = Vec::new();
    let mut ws = WsSession::new(params, limits);
    let max = WsSession::max_held(limits);
    let mut cx = Cx {
        stamp: Stamp::default(),
        conn: 0,
        state: synscope::model::ConnState::Established,
        limits,
        keys: &synscope::keylog::KeyLog::default(),
        out: &mut out,
    };
    for &op in ops {
        match op {
            Op::Data(dir, d) => ws.feed(dir, d, &mut cx),
            Op::Gap(dir, n) => ws.gap(dir, n, &mut cx),
        }
        let held = ws.held_bytes();
        assert!(held <= max, "held {held} > {max}");
    }
    ws.end(Dir::C2s, &mut cx);
    ws.end(Dir::S2c, &mut cx);
    out
}

/// The same stream, each direction fed on its own, with the bytes between two gaps cut into
/// pieces of `piece` bytes (`usize::MAX`: one piece).
fn recut(ops: &[Op], piece: usize) -> Vec<(Dir, Option<Vec<u8>>, u32)> {
    let mut v: Vec<(Dir, Option<Vec<u8>>, u32)> = Vec::new();
    for dir in [Dir::C2s, Dir::S2c] {
        let mut buf = Vec::new();
        let flush = |buf: &mut Vec<u8>, v: &mut Vec<(Dir, Option<Vec<u8>>, u32)>| {
            for c in buf.chunks(piece.max(1)) {
                v.push((dir, Some(c.to_vec()), 0));
            }
            buf.clear();
        };
        for op in ops {
            match *op {
                Op::Data(d, b) if d == dir => buf.extend_from_slice(b),
                Op::Gap(d, n) if d == dir => {
                    flush(&mut buf, &mut v);
                    v.push((dir, None, n));
                }
                _ => {}
            }
        }
        flush(&mut buf, &mut v);
    }
    v
}

fn of_dir(events: &[Event], dir: Dir) -> Vec<&Event> {
    events.iter().filter(|e| e.dir == Some(dir)).collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let limits = common::limits(pick);
    let params = deflate(pick);
    let ops = ops(rest);
    let events = run(&limits, params, &ops);
    for e in &events {
        check_event(e, &limits);
        assert!(e.dir.is_some());
    }
    if pick & 8 != 0 {
        let total: usize = ops
            .iter()
            .map(|o| match o {
                Op::Data(_, d) => d.len(),
                Op::Gap(..) => 0,
            })
            .sum();
        let pieces: &[usize] = if total <= 4096 {
            &[usize::MAX, 1]
        } else {
            &[usize::MAX]
        };
        for &piece in pieces {
            let cut = recut(&ops, piece);
            let cut_ops: Vec<Op> = cut
                .iter()
                .map(|(dir, d, n)| match d {
                    Some(d) => Op::Data(*dir, d),
                    None => Op::Gap(*dir, *n),
                })
                .collect();
            let other = run(&limits, params, &cut_ops);
            for dir in [Dir::C2s, Dir::S2c] {
                assert_eq!(
                    of_dir(&events, dir),
                    of_dir(&other, dir),
                    "cut into {piece}-byte pieces"
                );
            }
        }
    }
});
