//! HTTP/1.x straight into `proto::http::Conversation`: the first byte picks the limits (small
//! ones reach every limit quickly), the rest is cut into c2s/s2c pieces and gaps (see
//! `common::ops`). Besides "no panic": every event within its limits, memory held within
//! `Conversation::max_held`, body bytes never more than the bytes fed, and the same events
//! whatever the cuts inside a run of one direction's bytes (chunk and head events; bodies of
//! known length are reported per piece by design, so they are compared by their totals).
#![no_main]

#[path = "common.rs"]
mod common;

use common::{check_event, ops, Op};
use libfuzzer_sys::fuzz_target;
use synscope::flow::Cx;
use synscope::model::{Dir, Event, EventBody, Limits, Stamp};
use synscope::proto::http::Conversation;

/// Runs `ops`, merged so that consecutive data of one direction is fed in one piece when
/// `merge`; returns the events and the bytes fed per direction.
fn run(limits: &Limits, ops: &[Op], merge: bool) -> (Vec<Event>, [u64; 2]) {
    let mut out = Vec::new();
    let mut fed = [0u64; 2];
    let mut conv = Conversation::new(limits);
    let mut upgraded = false;
    let mut pending: Option<(Dir, Vec<u8>)> = None;
    let max = Conversation::max_held(limits);
    let mut step = |conv: &mut Conversation, out: &mut Vec<Event>, op: Op| {
        let mut cx = Cx {
            stamp: Stamp::default(),
            conn: 0,
            state: synscope::model::ConnState::Established,
            limits,
            keys: &synscope::keylog::KeyLog::default(),
            out,
        };
        match op {
            Op::Data(dir, d) => {
                fed[dir.idx()] += d.len() as u64;
                if !upgraded {
                    if let Some(up) = conv.feed(dir, d, &mut cx) {
                        upgraded = true;
                        assert!(
                            up.leftover[0].len()
                                <= limits.max_upgrade_hold.max(limits.max_http_head)
                        );
                        assert!(up.leftover[1].len() <= d.len());
                    }
                }
            }
            Op::Gap(dir, n) => conv.gap(dir, n, &mut cx),
        }
        let held = conv.held_bytes();
        assert!(held <= max, "held {held} > {max}");
    };
    for &op in ops {
        match (merge, op, &mut pending) {
            (true, Op::Data(dir, d), Some((pdir, buf))) if *pdir == dir => buf.extend_from_slice(d),
            (true, Op::Data(dir, d), p) => {
                if let Some((pdir, buf)) = p.take() {
                    step(&mut conv, &mut out, Op::Data(pdir, &buf));
                }
                *p = Some((dir, d.to_vec()));
            }
            (true, op, p) => {
                if let Some((pdir, buf)) = p.take() {
                    step(&mut conv, &mut out, Op::Data(pdir, &buf));
                }
                step(&mut conv, &mut out, op);
            }
            (false, op, _) => step(&mut conv, &mut out, op),
        }
    }
    if let Some((pdir, buf)) = pending.take() {
        step(&mut conv, &mut out, Op::Data(pdir, &buf));
    }
    let mut cx = Cx {
        stamp: Stamp::default(),
        conn: 0,
        state: synscope::model::ConnState::Established,
        limits,
        keys: &synscope::keylog::KeyLog::default(),
        out: &mut out,
    };
    conv.end(Dir::C2s, &mut cx);
    conv.end(Dir::S2c, &mut cx);
    (out, fed)
}

/// Events with the pieces of a body of known length or read until close folded into one
/// total at its end, and each run of `data` events of one direction (bytes after a `not_http`
/// note) folded into its total before the next event of that direction: both are reported per
/// piece of input. A `not_http` note is compared by its name: it describes the bytes that had
/// arrived when the decoder gave up, and how many they are depends on the cut. A body cut
/// short is compared by the `malformed` that reports it.
fn normalized(events: &[Event]) -> Vec<(Option<Dir>, String)> {
    let mut v: Vec<(Option<Dir>, String)> = Vec::new();
    let mut body = [0u64; 2];
    let mut data = [0u64; 2];
    let flush = |v: &mut Vec<(Option<Dir>, String)>, data: &mut [u64; 2], d: usize| {
        if data[d] > 0 {
            v.push((Some([Dir::C2s, Dir::S2c][d]), format!("data {}", data[d])));
            data[d] = 0;
        }
    };
    for e in events {
        let d = e.dir.map_or(0, Dir::idx);
        if let EventBody::Data(x) = &e.body {
            data[d] += x.len;
            continue;
        }
        flush(&mut v, &mut data, d);
        match &e.body {
            EventBody::HttpBody(b) if b.chunk.is_none() => {
                body[d] += b.len;
                if b.end {
                    v.push((e.dir, format!("body {} end", body[d])));
                    body[d] = 0;
                }
            }
            EventBody::Note(n) if n.note == "not_http" => {
                v.push((e.dir, format!("note {:?} {}", n.layer, n.note)))
            }
            b => v.push((e.dir, format!("{b:?}"))),
        }
    }
    flush(&mut v, &mut data, 0);
    flush(&mut v, &mut data, 1);
    v
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let limits = common::limits(pick);
    let ops = ops(rest);
    let (events, fed) = run(&limits, &ops, false);
    let mut body = [0u64; 2];
    for e in &events {
        check_event(e, &limits);
        assert_eq!(e.conn, Some(0));
        if let EventBody::HttpBody(b) = &e.body {
            if let Some(d) = e.dir {
                body[d.idx()] += b.len - b.missing;
            }
        }
    }
    for d in 0..2 {
        assert!(
            body[d] <= fed[d],
            "{} body bytes from {} fed",
            body[d],
            fed[d]
        );
    }
    if pick & 2 != 0 {
        let (merged, _) = run(&limits, &ops, true);
        assert_eq!(normalized(&events), normalized(&merged));
    }
});
