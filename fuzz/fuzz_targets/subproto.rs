//! The subprotocol decoders: SSE, STOMP, Engine.IO / Socket.IO and its JSON scanner fed
//! directly, and a whole `proto::Session` with HTTP and WebSocket bytes leading into them.
//!
//! Byte 0: bit 0 the limits (small/default), bits 1-3 the target, bits 4-7 its flags `f`; the
//! rest is the target's input:
//!
//! | target | input | flags |
//! |---|---|---|
//! | 0 SSE parser | pieces and gaps (`common::ops`, directions ignored) | |
//! | 1 `stomp::Stream` | one message, fed whole, in two pieces and a byte at a time | bits 0-1 version (1.0, 1.1, 1.2), bit 2 cut |
//! | 2, 3 `PayloadSplitter` protocol 3, 4 | pieces and gaps | |
//! | 4 `Codec::packet`, `Packet` | one packet per data piece, s2c pieces binary; also fed to a `Packet` in two pieces | bit 0 protocol 3/4, bit 1 WebSocket, bit 2 cut |
//! | 5 JSON scanner | one text | |
//! | 6 `Session` | pieces and gaps, from the first byte | |
//! | 7 `Session` after a prelude | pieces and gaps after `PRELUDES[f % 12]` | |
//!
//! Besides "no panic": previews within `max_text_preview` characters and every other event
//! invariant of `common::check_event`; held bytes within `SseParser::max_held`, the
//! splitter's cap, `stomp::Stream::max_held`, `Session::max_held` and
//! `Subprotocols::max_held` after every call; events proportional to the bytes (at most
//! `2 x stomp::MAX_FRAMES + 1` items per STOMP message); and for every streaming decoder (SSE
//! parser, STOMP stream, payload splitter, Engine.IO packet) the same output however the bytes
//! between two gaps are cut (as given, in one piece, and a byte at a time for inputs up to
//! 4 KB), the size limit (`Limits::max_subprotocol_message`, 40 bytes with the small limits)
//! included. JSON: a value that scans to `end` scans the same from `b[..end]`, offsets stay
//! within the input, and the streaming checker agrees with the scanner however cut.
#![no_main]

#[path = "common.rs"]
mod common;

use common::{check_detail, check_event, check_socketio, check_sse, check_stomp, ops, Op};
use libfuzzer_sys::fuzz_target;
use synscope::flow::{Cx, EndCause, StreamSink};
use synscope::model::{Dir, EventBody, Layer, Limits, SseEvent, Stamp};
use synscope::proto::socketio::{self, json, Codec, Packet, PayloadSplitter, Transport};
use synscope::proto::sse::SseParser;
use synscope::proto::{stomp, Session, Subprotocols};

/// Inputs up to this size are also fed a byte at a time.
const BYTEWISE_MAX: usize = 4096;

/// How the bytes between two gaps are cut into pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    Given,
    Whole,
    Bytes,
}

/// Calls `f` with each piece (`Some`) and gap (`None`) of `ops`, the data cut as `cut` says.
fn each_piece(ops: &[Op], cut: Cut, mut f: impl FnMut(Option<&[u8]>)) {
    let mut run: Vec<u8> = Vec::new();
    let flush = |run: &mut Vec<u8>, f: &mut dyn FnMut(Option<&[u8]>)| {
        match cut {
            Cut::Given => {}
            Cut::Whole if !run.is_empty() => f(Some(run)),
            Cut::Whole => {}
            Cut::Bytes => run.chunks(1).for_each(|b| f(Some(b))),
        }
        run.clear();
    };
    for op in ops {
        match *op {
            Op::Data(_, d) if cut == Cut::Given => f(Some(d)),
            Op::Data(_, d) => run.extend_from_slice(d),
            Op::Gap(..) => {
                flush(&mut run, &mut f);
                f(None);
            }
        }
    }
    flush(&mut run, &mut f);
}

fn sizes(ops: &[Op]) -> (u64, u64) {
    ops.iter().fold((0, 0), |(b, g), op| match op {
        Op::Data(_, d) => (b + d.len() as u64, g),
        Op::Gap(..) => (b, g + 1),
    })
}

fn cuts(ops: &[Op]) -> Vec<Cut> {
    let mut v = vec![Cut::Given, Cut::Whole];
    if sizes(ops).0 as usize <= BYTEWISE_MAX {
        v.push(Cut::Bytes);
    }
    v
}

fn sse_run(limits: &Limits, ops: &[Op], cut: Cut) -> Vec<SseEvent> {
    let max = limits.max_text_preview;
    let mut p = SseParser::new(max, limits.max_subprotocol_message as u64);
    let mut out = Vec::new();
    each_piece(ops, cut, |piece| {
        match piece {
            Some(d) => p.feed(d, &mut out),
            None => p.gap(),
        }
        let held = p.held_bytes();
        assert!(held <= SseParser::max_held(max), "SSE held {held}");
    });
    p.finish(&mut out);
    assert_eq!(p.held_bytes(), 0);
    out
}

fn sse(limits: &Limits, ops: &[Op]) {
    let whole = sse_run(limits, ops, Cut::Whole);
    let (bytes, gaps) = sizes(ops);
    // A block needs a byte of its own (or a gap) and a line end.
    assert!(whole.len() as u64 <= bytes + gaps + 1);
    for e in &whole {
        check_sse(e, limits.max_text_preview);
    }
    for cut in cuts(ops) {
        assert_eq!(sse_run(limits, ops, cut), whole, "{cut:?}");
    }
}

/// One STOMP message through a `stomp::Stream` fed in pieces cut at `cuts`.
fn stomp_run(limits: &Limits, f: u8, msg: &[u8], cuts: &[usize]) -> Vec<stomp::Item> {
    let mut version = match f & 3 {
        0 => stomp::Version::V10,
        1 => stomp::Version::V11,
        _ => stomp::Version::V12,
    };
    let cut = f & 4 != 0;
    let max = limits.max_text_preview;
    let mut s = stomp::Stream::new(max, limits.max_subprotocol_message as u64);
    let mut out = Vec::new();
    s.start();
    let mut at = 0;
    for &c in cuts.iter().chain(std::iter::once(&msg.len())) {
        s.feed(&msg[at..c], &mut version, &mut out);
        let held = s.held_bytes();
        assert!(held <= stomp::Stream::max_held(max), "STOMP held {held}");
        at = c;
    }
    s.finish(cut, &mut out);
    out
}

fn stomp(limits: &Limits, f: u8, msg: &[u8]) {
    let max = limits.max_text_preview;
    let out = stomp_run(limits, f, msg, &[]);
    assert!(
        out.len() <= 2 * stomp::MAX_FRAMES + 1,
        "{} items",
        out.len()
    );
    assert_eq!(stomp_run(limits, f, msg, &[msg.len() / 2]), out, "halves");
    if msg.len() <= BYTEWISE_MAX {
        let bytes: Vec<usize> = (1..msg.len()).collect();
        assert_eq!(stomp_run(limits, f, msg, &bytes), out, "bytes");
    }
    for item in &out {
        match item {
            stomp::Item::Frame(f) => check_stomp(f, max),
            stomp::Item::Malformed(d) => check_detail(d, max),
        }
    }
}

fn check_items(items: &[socketio::Item], max: usize) {
    for item in items {
        match item {
            socketio::Item::Packet(p) => check_socketio(p, max),
            socketio::Item::Malformed(d) => check_detail(d, max),
        }
    }
}

fn splitter_run(limits: &Limits, eio: u8, ops: &[Op], cut: Cut) -> Vec<socketio::Item> {
    let cap = limits.max_kept_payload;
    let mut s = PayloadSplitter::new(eio, cap, limits.max_subprotocol_message as u64);
    let mut c = Codec::new(eio, limits.max_text_preview);
    let mut out = Vec::new();
    each_piece(ops, cut, |piece| {
        match piece {
            Some(d) => s.feed(d, &mut c, &mut out),
            None => s.gap(&mut c, &mut out),
        }
        assert!(s.held_bytes() <= cap, "splitter held {}", s.held_bytes());
    });
    s.finish(false, &mut c, &mut out);
    out
}

fn splitter(limits: &Limits, eio: u8, ops: &[Op]) {
    let whole = splitter_run(limits, eio, ops, Cut::Whole);
    let (bytes, gaps) = sizes(ops);
    // A packet and its note per byte at most; a gap ends a packet and the payload.
    assert!(
        whole.len() as u64 <= 2 * bytes + 3 * gaps + 2,
        "{} items",
        whole.len()
    );
    check_items(&whole, limits.max_text_preview);
    for cut in cuts(ops) {
        assert_eq!(splitter_run(limits, eio, ops, cut), whole, "{cut:?}");
    }
}

fn codec(limits: &Limits, f: u8, ops: &[Op]) {
    let eio = if f & 1 == 0 { 3 } else { 4 };
    let transport = if f & 2 == 0 {
        Transport::Polling
    } else {
        Transport::Websocket
    };
    let cut = f & 4 != 0;
    let mut c = Codec::new(eio, limits.max_text_preview);
    let mut out = Vec::new();
    for op in ops {
        if let Op::Data(dir, d) = *op {
            let binary = dir == Dir::S2c;
            let total = d.len() as u64 + u64::from(cut) * 1000;
            let before = out.len();
            c.packet(transport, d, binary, total, cut, &mut out);
            assert!(out.len() - before <= 2);
            if !cut {
                // The same packet streamed in two pieces, its first bytes kept: the same
                // items, from a codec in the same state.
                let mut whole = Codec::new(eio, limits.max_text_preview);
                let mut a = Vec::new();
                whole.packet(transport, d, binary, d.len() as u64, false, &mut a);
                let mut streamed = Codec::new(eio, limits.max_text_preview);
                let mut p = Packet::new(d.len(), u64::MAX);
                let mut b = Vec::new();
                p.start(binary);
                p.feed(&d[..d.len() / 2], &mut streamed, transport, &mut b);
                p.feed(&d[d.len() / 2..], &mut streamed, transport, &mut b);
                p.finish(false, &mut streamed, transport, &mut b);
                assert_eq!(a, b);
            }
        }
    }
    check_items(&out, limits.max_text_preview);
}

fn json(limits: &Limits, b: &[u8]) {
    let max = limits.max_text_preview;
    match json::skip_value(b, 0) {
        json::Scan::Done(end) => {
            assert!(end <= b.len());
            assert_eq!(json::skip_value(&b[..end], 0), json::Scan::Done(end));
        }
        json::Scan::Bad(at) => assert!(at < b.len()),
        json::Scan::Short | json::Scan::TooDeep => {}
    }
    for start in [0, json::skip_ws(b, 0)] {
        if let Some((s, end)) = json::string(b, start, max) {
            assert!(s.chars().count() <= max);
            assert!(end <= b.len() && b[end - 1] == b'"');
        }
    }
    if let Some(sid) = json::field(b, 0, "sid", max) {
        assert!(sid.chars().count() <= max);
    }
    // The streaming checker: the scanner's verdict, however the bytes are cut.
    let want = match json::skip_value(b, 0) {
        json::Scan::Done(end) if json::skip_ws(b, end) == b.len() => json::Verdict::Ok,
        json::Scan::Done(end) => json::Verdict::Trailing(end as u64),
        json::Scan::Short => json::Verdict::Short,
        json::Scan::Bad(at) => json::Verdict::Bad(at as u64),
        json::Scan::TooDeep => json::Verdict::TooDeep,
    };
    let mut whole = json::Checker::new();
    whole.feed(b);
    assert_eq!(whole.verdict(), want);
    let mut halves = json::Checker::new();
    halves.feed(&b[..b.len() / 2]);
    halves.feed(&b[b.len() / 2..]);
    assert_eq!(halves.verdict(), want);
    if b.len() <= BYTEWISE_MAX {
        let mut bytes = json::Checker::new();
        b.chunks(1).for_each(|c| bytes.feed(c));
        assert_eq!(bytes.verdict(), want);
    }
}

/// HTTP and WebSocket starts that lead into each subprotocol: (client bytes, server bytes).
fn prelude(i: u8) -> (String, String) {
    let get = |target: &str| format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n");
    let ok = |headers: &str| format!("HTTP/1.1 200 OK\r\n{headers}\r\n");
    let post = |eio: u8| {
        format!(
            "POST /socket.io/?EIO={eio}&transport=polling&sid=a HTTP/1.1\r\nHost: a\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        )
    };
    let ws = |target: &str, extra: &str| {
        (
            format!(
                "GET {target} HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
                 {extra}\r\n"
            ),
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n{extra}\r\n"
            ),
        )
    };
    const STOMP: &str = "Sec-WebSocket-Protocol: v12.stomp\r\n";
    const DEFLATE: &str = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    match i % 12 {
        0 => (get("/events"), ok("Content-Type: text/event-stream\r\n")),
        1 => (
            get("/events"),
            ok("Content-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"),
        ),
        2 => (get("/socket.io/?EIO=3&transport=polling"), ok("")),
        3 => (get("/socket.io/?EIO=4&transport=polling"), ok("")),
        4 => (post(4), String::new()),
        5 => (post(3), String::new()),
        6 => ws("/stomp", STOMP),
        7 => ws("/stomp", &format!("{STOMP}{DEFLATE}")),
        8 => ws("/socket.io/?EIO=4&transport=websocket", ""),
        9 => ws("/socket.io/?EIO=3&transport=websocket", ""),
        10 => ws("/chat", ""),
        _ => ws("/chat", DEFLATE),
    }
}

fn session(limits: &Limits, prelude: Option<(String, String)>, ops: &[Op]) {
    let mut s = Session::new(limits);
    let max = Session::max_held(limits);
    let max_sub = Subprotocols::max_held(limits);
    let mut out = Vec::new();
    let mut cx = Cx {
        stamp: Stamp::default(),
        conn: 0,
        state: synscope::model::ConnState::Established,
        limits,
        keys: &synscope::keylog::KeyLog::default(),
        out: &mut out,
    };
    if let Some((c2s, s2c)) = &prelude {
        s.on_data(Dir::C2s, c2s.as_bytes(), &mut cx);
        s.on_data(Dir::S2c, s2c.as_bytes(), &mut cx);
    }
    for op in ops {
        match *op {
            Op::Data(dir, d) => s.on_data(dir, d, &mut cx),
            Op::Gap(dir, n) => s.on_gap(dir, n, &mut cx),
        }
        let held = s.held_bytes();
        assert!(held <= max, "session held {held} > {max}");
        let sub = s.held_by_layer()[2];
        assert!(sub <= max_sub, "subprotocols held {sub} > {max_sub}");
    }
    s.on_end(Dir::C2s, EndCause::Fin, &mut cx);
    s.on_end(Dir::S2c, EndCause::Fin, &mut cx);
    assert!(s.held_bytes() <= max);
    // STOMP items follow their message.
    let mut stomp_run = 0;
    for e in &out {
        check_event(e, limits);
        match &e.body {
            EventBody::Stomp(_) => stomp_run += 1,
            EventBody::Malformed(m) if m.layer == Layer::Stomp => stomp_run += 1,
            _ => stomp_run = 0,
        }
        assert!(stomp_run <= 2 * stomp::MAX_FRAMES + 1);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, rest)) = data.split_first() else {
        return;
    };
    let limits = common::limits(cfg);
    let f = cfg >> 4;
    match (cfg >> 1) & 7 {
        0 => sse(&limits, &ops(rest)),
        1 => stomp(&limits, f, rest),
        2 => splitter(&limits, 3, &ops(rest)),
        3 => splitter(&limits, 4, &ops(rest)),
        4 => codec(&limits, f, &ops(rest)),
        5 => json(&limits, rest),
        6 => session(&limits, None, &ops(rest)),
        _ => session(&limits, Some(prelude(f)), &ops(rest)),
    }
});
