//! Tests of the WebSocket session: frames are built here (client frames masked, server frames
//! not) and fed through a `Cx` over a local event list.

use super::*;
use crate::model::{Event, Stamp};
use flate2::{Compress, Compression, FlushCompress};
use proptest::prelude::*;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const FIN: u8 = 0x80;
const RSV1: u8 = 0x40;
const TEXT: u8 = 0x1;
const BIN: u8 = 0x2;
const CONT: u8 = 0x0;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// How to write the payload length.
#[derive(Clone, Copy)]
enum Form {
    Minimal,
    L16,
    L64,
}

/// A frame with first byte `b0`, masked with `mask`, carrying `payload` (given unmasked).
fn build(b0: u8, mask: Option<[u8; 4]>, payload: &[u8], form: Form) -> Vec<u8> {
    let m = if mask.is_some() { 0x80 } else { 0 };
    let n = payload.len();
    let mut f = vec![b0];
    let form = match form {
        Form::Minimal if n < 126 => None,
        Form::Minimal if n <= 0xffff => Some(Form::L16),
        Form::Minimal => Some(Form::L64),
        f => Some(f),
    };
    match form {
        None => f.push(m | n as u8),
        Some(Form::L16) => {
            f.push(m | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        Some(_) => {
            f.push(m | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(k) => {
            f.extend_from_slice(&k);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => f.extend_from_slice(payload),
    }
    f
}

/// A client frame (masked) with first byte `b0`.
fn cf(b0: u8, payload: &[u8]) -> Vec<u8> {
    build(b0, Some(KEY), payload, Form::Minimal)
}

/// A server frame (unmasked) with first byte `b0`.
fn sf(b0: u8, payload: &[u8]) -> Vec<u8> {
    build(b0, None, payload, Form::Minimal)
}

enum Step<'a> {
    Feed(Dir, &'a [u8]),
    Gap(Dir, u32),
    End(Dir),
}
use Step::{End, Feed, Gap};

fn run_with(deflate: Option<DeflateParams>, limits: &Limits, steps: &[Step]) -> Vec<Event> {
    let mut out = Vec::new();
    let mut cx = Cx {
        stamp: Stamp::default(),
        conn: 7,
        state: crate::model::ConnState::Established,
        limits,
        keys: &crate::keylog::KeyLog::default(),
        out: &mut out,
    };
    let mut ws = WsSession::new(deflate, limits);
    for s in steps {
        match s {
            Feed(d, b) => ws.feed(*d, b, &mut cx),
            Gap(d, n) => ws.gap(*d, *n, &mut cx),
            End(d) => ws.end(*d, &mut cx),
        }
    }
    out
}

fn run(deflate: Option<DeflateParams>, steps: &[Step]) -> Vec<Event> {
    run_with(deflate, &Limits::default(), steps)
}

/// The whole of `data` in one direction, then its end.
fn whole(dir: Dir, deflate: Option<DeflateParams>, data: &[u8]) -> Vec<Event> {
    run(deflate, &[Feed(dir, data), End(dir)])
}

/// `data` cut at `cuts` (sorted), then its end.
fn pieces(dir: Dir, deflate: Option<DeflateParams>, data: &[u8], cuts: &[usize]) -> Vec<Event> {
    let mut steps = Vec::new();
    let mut last = 0;
    for &c in cuts.iter().chain([&data.len()]) {
        steps.push(Feed(dir, &data[last..c]));
        last = c;
    }
    steps.push(End(dir));
    run(deflate, &steps)
}

fn frames(ev: &[Event]) -> Vec<&WsFrame> {
    ev.iter()
        .filter_map(|e| match &e.body {
            EventBody::WsFrame(f) => Some(f),
            _ => None,
        })
        .collect()
}

fn msgs(ev: &[Event]) -> Vec<&WsMessage> {
    ev.iter()
        .filter_map(|e| match &e.body {
            EventBody::WsMessage(m) => Some(&**m),
            _ => None,
        })
        .collect()
}

fn rules(ev: &[Event]) -> Vec<&'static str> {
    ev.iter()
        .filter_map(|e| match &e.body {
            EventBody::Violation(v) => {
                assert_eq!(v.layer, Layer::Websocket);
                Some(v.rule)
            }
            _ => None,
        })
        .collect()
}

fn malformed(ev: &[Event]) -> Vec<&str> {
    ev.iter()
        .filter_map(|e| match &e.body {
            EventBody::Malformed(m) => Some(m.detail.as_str()),
            _ => None,
        })
        .collect()
}

fn kinds(ev: &[Event]) -> Vec<&'static str> {
    ev.iter().map(|e| e.body.kind()).collect()
}

fn texts(ev: &[Event]) -> Vec<String> {
    msgs(ev)
        .iter()
        .map(|m| m.text.clone().unwrap_or_default())
        .collect()
}

/// A mixed client stream: text, binary (16-bit length), fragmented text with a ping between
/// its fragments, an empty pong, close 1000 "bye".
fn client_stream() -> (Vec<u8>, Vec<usize>) {
    let parts = [
        cf(FIN | TEXT, b"Hello"),
        cf(FIN | BIN, &[0xab; 300]),
        cf(TEXT, "frag".as_bytes()),
        cf(FIN | PING, b"p"),
        cf(FIN | CONT, "ment é".as_bytes()),
        cf(FIN | PONG, b""),
        cf(FIN | CLOSE, &[0x03, 0xe8, b'b', b'y', b'e']),
    ];
    let mut ends = Vec::new();
    let mut s = Vec::new();
    for p in parts {
        s.extend_from_slice(&p);
        ends.push(s.len());
    }
    (s, ends)
}

#[test]
fn rfc6455_samples() {
    // RFC 6455 §5.7: unmasked and masked "Hello".
    let ev = whole(Dir::S2c, None, &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(kinds(&ev), ["ws_frame", "ws_message"]);
    let f = frames(&ev)[0];
    assert_eq!(
        (f.opcode, f.fin, f.masked, f.header_len),
        (Opcode::Text, true, false, 2)
    );
    assert_eq!(f.data.kept[..], *b"Hello");
    assert_eq!(msgs(&ev)[0].text.as_deref(), Some("Hello"));
    assert!(ev
        .iter()
        .all(|e| e.conn == Some(7) && e.dir == Some(Dir::S2c)));

    let masked = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let ev = whole(Dir::C2s, None, &masked);
    let f = frames(&ev)[0];
    assert_eq!(f.mask_key.as_deref(), Some("37fa213d"));
    assert_eq!((f.header_len, f.payload_len), (6, 5));
    assert_eq!(f.data.kept[..], *b"Hello");
    let m = msgs(&ev)[0];
    assert_eq!((m.len, m.frames, m.compressed), (5, 1, false));
    assert_eq!(m.data.kept[..], *b"Hello");
    assert!(rules(&ev).is_empty());

    // RFC 6455 §5.7: a fragmented unmasked text message, then an unmasked ping.
    let mut s = vec![0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
    s.extend_from_slice(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    let ev = whole(Dir::S2c, None, &s);
    let m = msgs(&ev);
    assert_eq!((m[0].text.as_deref(), m[0].frames), (Some("Hello"), 2));
    assert_eq!(
        (m[1].opcode, m[1].text.as_deref()),
        (Opcode::Ping, Some("Hello"))
    );
}

#[test]
fn mixed_stream_decodes() {
    let (s, _) = client_stream();
    let ev = whole(Dir::C2s, None, &s);
    assert!(rules(&ev).is_empty(), "{:?}", rules(&ev));
    assert!(malformed(&ev).is_empty());
    let m = msgs(&ev);
    let ops: Vec<Opcode> = m.iter().map(|m| m.opcode).collect();
    assert_eq!(
        ops,
        [
            Opcode::Text,
            Opcode::Binary,
            Opcode::Ping,
            Opcode::Text,
            Opcode::Pong,
            Opcode::Close
        ]
    );
    assert_eq!(m[1].len, 300);
    assert_eq!(frames(&ev)[1].header_len, 8);
    // Fragmented text with a ping between its fragments (RFC 6455 §5.4).
    assert_eq!((m[2].text.as_deref(), m[2].frames), (Some("p"), 1));
    assert_eq!(m[3].text.as_deref(), Some("fragment é"));
    assert_eq!((m[3].frames, m[3].len), (2, 11));
    assert_eq!(m[4].text, None, "empty pong has no text");
    assert_eq!(m[5].code, Some(1000));
    assert_eq!(m[5].code_name, Some("Normal Closure"));
    assert_eq!(m[5].reason.as_deref(), Some("bye"));
    assert!(m.iter().all(|m| !m.incomplete));
    // Order: the ping's frame and message come between the text's two frames.
    let k = kinds(&ev);
    assert_eq!(
        k[..8],
        [
            "ws_frame",
            "ws_message",
            "ws_frame",
            "ws_message",
            "ws_frame",
            "ws_frame",
            "ws_message",
            "ws_frame"
        ]
    );
}

#[test]
fn split_at_every_byte() {
    let (s, _) = client_stream();
    let reference = whole(Dir::C2s, None, &s);
    for n in 0..=s.len() {
        assert_eq!(pieces(Dir::C2s, None, &s, &[n]), reference, "cut at {n}");
    }
    let every: Vec<usize> = (1..s.len()).collect();
    assert_eq!(
        pieces(Dir::C2s, None, &s, &every),
        reference,
        "one byte at a time"
    );
}

#[test]
fn every_prefix_emits_only_complete_frames() {
    let (s, ends) = client_stream();
    for n in 0..=s.len() {
        let ev = run(None, &[Feed(Dir::C2s, &s[..n])]);
        let done = ends.iter().filter(|&&e| e <= n).count();
        assert_eq!(frames(&ev).len(), done, "prefix {n}");
        assert!(malformed(&ev).is_empty() && rules(&ev).is_empty());
        // Ending there reports the cut frame or header, never panics.
        let ev = run(None, &[Feed(Dir::C2s, &s[..n]), End(Dir::C2s)]);
        let cut = !ends.contains(&n) && n > 0;
        let reported = frames(&ev).iter().any(|f| f.incomplete) || !malformed(&ev).is_empty();
        assert_eq!(reported, cut, "prefix {n}");
    }
}

#[test]
fn many_frames_in_one_piece() {
    let mut s = Vec::new();
    for i in 0..1000u32 {
        s.extend(sf(FIN | TEXT, format!("m{i}").as_bytes()));
    }
    let ev = whole(Dir::S2c, None, &s);
    assert_eq!(frames(&ev).len(), 1000);
    assert_eq!(msgs(&ev)[999].text.as_deref(), Some("m999"));
}

#[test]
fn length_forms_7_16_64() {
    for (n, hl) in [
        (0usize, 6u8),
        (125, 6),
        (126, 8),
        (65_535, 8),
        (65_536, 14),
        (70_000, 14),
    ] {
        let payload: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        let f = cf(FIN | BIN, &payload);
        let ev = whole(Dir::C2s, None, &f);
        let fr = frames(&ev)[0];
        assert_eq!((fr.payload_len, fr.header_len), (n as u64, hl), "len {n}");
        let keep = n.min(Limits::default().max_kept_payload);
        assert_eq!(fr.data.kept[..], payload[..keep]);
        assert_eq!(fr.data.total, n as u64);
        let m = msgs(&ev)[0];
        assert_eq!(m.len, n as u64);
        assert_eq!(m.data.kept[..], payload[..keep]);
        assert!(rules(&ev).is_empty());
    }
}

#[test]
fn a_70000_byte_binary_message_over_many_pieces() {
    let payload: Vec<u8> = (0..70_000).map(|i| (i * 7 % 256) as u8).collect();
    let s = cf(FIN | BIN, &payload);
    let cuts: Vec<usize> = (1..s.len()).step_by(1460).collect();
    let ev = pieces(Dir::C2s, None, &s, &cuts);
    assert_eq!(ev, whole(Dir::C2s, None, &s));
    assert_eq!(msgs(&ev)[0].len, 70_000);
}

#[test]
fn a_2_pow_63_claim_costs_nothing() {
    let mut s = vec![FIN | BIN, 127];
    s.extend_from_slice(&(1u64 << 63).to_be_bytes());
    let mb = vec![0x5a; 1 << 20];
    let ev = run(
        None,
        &[Feed(Dir::S2c, &s), Feed(Dir::S2c, &mb), End(Dir::S2c)],
    );
    assert_eq!(rules(&ev), ["length_msb_set"]);
    let f = frames(&ev)[0];
    assert_eq!(f.payload_len, 1 << 63);
    assert!(f.incomplete);
    assert_eq!(f.data.kept.len(), Limits::default().max_kept_payload);
    // A boxed slice: no spare capacity beyond what was kept.
    let m = msgs(&ev)[0];
    assert_eq!((m.len, m.incomplete), (1 << 20, true));

    // 2^63 - 1 is a legal length: no violation.
    let mut s = vec![FIN | BIN, 127];
    s.extend_from_slice(&(u64::MAX >> 1).to_be_bytes());
    let ev = run(
        None,
        &[Feed(Dir::S2c, &s), Feed(Dir::S2c, &mb), End(Dir::S2c)],
    );
    assert!(rules(&ev).is_empty());
    assert_eq!(frames(&ev)[0].payload_len, u64::MAX >> 1);
}

#[test]
fn close_frames() {
    let ev = whole(
        Dir::S2c,
        None,
        &sf(FIN | CLOSE, &[0x03, 0xe8, b'b', b'y', b'e']),
    );
    let m = msgs(&ev)[0];
    assert_eq!(
        (m.code, m.code_name, m.reason.as_deref()),
        (Some(1000), Some("Normal Closure"), Some("bye"))
    );
    assert_eq!(m.text, None);

    let ev = whole(Dir::S2c, None, &sf(FIN | CLOSE, &[]));
    let m = msgs(&ev)[0];
    assert_eq!(
        (m.code, m.code_name, m.reason.as_deref()),
        (None, None, None)
    );
    assert!(rules(&ev).is_empty());

    let ev = whole(Dir::S2c, None, &sf(FIN | CLOSE, &[0x03]));
    assert_eq!(rules(&ev), ["close_payload_one_byte"]);
    assert_eq!(msgs(&ev)[0].code, None);

    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        let ev = whole(Dir::S2c, None, &sf(FIN | CLOSE, &code.to_be_bytes()));
        assert_eq!(rules(&ev), ["invalid_close_code"], "code {code}");
        assert_eq!(msgs(&ev)[0].code, Some(code));
    }
    for code in [1000u16, 1001, 1003, 1007, 1011, 1014, 3000, 4999] {
        let ev = whole(Dir::S2c, None, &sf(FIN | CLOSE, &code.to_be_bytes()));
        assert!(rules(&ev).is_empty(), "code {code}");
    }
    let ev = whole(Dir::S2c, None, &sf(FIN | CLOSE, &[0x03, 0xe8, 0xff, b'x']));
    assert_eq!(rules(&ev), ["invalid_utf8"]);
    assert_eq!(msgs(&ev)[0].reason.as_deref(), Some("\u{fffd}x"));
}

/// One violation each: (rule, direction, bytes, deflate negotiated).
fn violation_cases() -> Vec<(&'static str, Dir, Vec<u8>, bool)> {
    let long_ping = vec![0x55; 126];
    let mut nonmin64 = vec![FIN | BIN, 127];
    nonmin64.extend_from_slice(&5u64.to_be_bytes());
    nonmin64.extend_from_slice(b"hello");
    vec![
        (
            "unmasked_client_frame",
            Dir::C2s,
            sf(FIN | TEXT, b"hi"),
            false,
        ),
        (
            "masked_server_frame",
            Dir::S2c,
            cf(FIN | TEXT, b"hi"),
            false,
        ),
        ("reserved_opcode", Dir::S2c, sf(FIN | 0x3, b"x"), false),
        ("reserved_opcode", Dir::S2c, sf(FIN | 0xB, b"x"), false),
        (
            "control_frame_too_long",
            Dir::S2c,
            sf(FIN | PING, &long_ping),
            false,
        ),
        ("fragmented_control_frame", Dir::S2c, sf(PING, b"x"), false),
        (
            "continuation_without_start",
            Dir::S2c,
            sf(FIN | CONT, b"x"),
            false,
        ),
        (
            "new_message_while_fragmented",
            Dir::S2c,
            [sf(TEXT, b"a"), sf(FIN | BIN, b"b")].concat(),
            false,
        ),
        (
            "invalid_utf8",
            Dir::S2c,
            sf(FIN | TEXT, &[b'a', 0xc3, 0x28]),
            false,
        ),
        (
            "invalid_utf8",
            Dir::S2c,
            sf(FIN | TEXT, &[b'a', 0xe2, 0x82]),
            false,
        ),
        (
            "close_payload_one_byte",
            Dir::S2c,
            sf(FIN | CLOSE, &[3]),
            false,
        ),
        (
            "invalid_close_code",
            Dir::S2c,
            sf(FIN | CLOSE, &[0x03, 0xed]),
            false,
        ),
        (
            "data_after_close",
            Dir::S2c,
            [sf(FIN | CLOSE, &[]), sf(FIN | TEXT, b"late")].concat(),
            false,
        ),
        (
            "non_minimal_length",
            Dir::S2c,
            build(FIN | BIN, None, b"hello", Form::L16),
            false,
        ),
        ("non_minimal_length", Dir::S2c, nonmin64, false),
        (
            "rsv1_without_extension",
            Dir::S2c,
            sf(FIN | RSV1 | TEXT, b"x"),
            false,
        ),
        (
            "reserved_bits",
            Dir::S2c,
            sf(FIN | 0x20 | TEXT, b"x"),
            false,
        ),
        (
            "reserved_bits",
            Dir::S2c,
            sf(FIN | 0x10 | TEXT, b"x"),
            false,
        ),
        (
            "rsv1_on_control",
            Dir::S2c,
            sf(FIN | RSV1 | PING, b"x"),
            true,
        ),
        (
            "rsv1_on_continuation",
            Dir::S2c,
            [sf(TEXT, b"a"), sf(FIN | RSV1 | CONT, b"b")].concat(),
            true,
        ),
    ]
}

#[test]
fn every_violation() {
    for (rule, dir, bytes, deflate) in violation_cases() {
        let d = deflate.then(DeflateParams::default);
        let ev = whole(dir, d, &bytes);
        assert_eq!(rules(&ev), [rule], "{rule}: {ev:#?}");
        // Decoding goes on: a well-formed frame after it decodes.
        let good = match dir {
            Dir::C2s => cf(FIN | BIN, b"ok"),
            Dir::S2c => sf(FIN | BIN, b"ok"),
        };
        let ev = whole(dir, d, &[bytes, good].concat());
        let last = *msgs(&ev).last().unwrap();
        assert_eq!((last.opcode, last.len), (Opcode::Binary, 2), "{rule}");
        for e in &ev {
            if let EventBody::Violation(v) = &e.body {
                assert!(!v.detail.is_empty());
                assert!(v
                    .rule
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
            }
        }
    }
}

#[test]
fn length_msb_is_a_violation() {
    let mut s = vec![FIN | BIN, 127];
    s.extend_from_slice(&(u64::MAX).to_be_bytes());
    let ev = whole(Dir::S2c, None, &s);
    assert_eq!(rules(&ev), ["length_msb_set"]);
}

#[test]
fn violation_details() {
    let ev = whole(Dir::S2c, None, &sf(FIN | 0xB, b"x"));
    match &ev[0].body {
        EventBody::Violation(v) => assert_eq!(v.detail, "opcode 0xb is reserved (RFC 6455 §5.2)"),
        b => panic!("{b:?}"),
    }
    let f = frames(&ev)[0];
    assert_eq!(f.opcode, Opcode::Reserved(0xB));
    assert_eq!(msgs(&ev)[0].opcode, Opcode::Reserved(0xB));
    let j = serde_json::to_value(&ev[1]).unwrap();
    assert_eq!(j["opcode"], 11);
    assert!(j.get("incomplete").is_none());
}

#[test]
fn utf8_across_fragment_boundaries() {
    let s = "aé€😀".as_bytes();
    for cut in 0..=s.len() {
        let bytes = [sf(TEXT, &s[..cut]), sf(FIN | CONT, &s[cut..])].concat();
        let ev = whole(Dir::S2c, None, &bytes);
        assert!(rules(&ev).is_empty(), "cut {cut}");
        assert_eq!(msgs(&ev)[0].text.as_deref(), Some("aé€😀"));
    }
    // Invalid across a boundary: E2 82 then 'x'.
    let bytes = [sf(TEXT, &[b'a', 0xe2, 0x82]), sf(FIN | CONT, b"x")].concat();
    assert_eq!(rules(&whole(Dir::S2c, None, &bytes)), ["invalid_utf8"]);
}

#[test]
fn text_preview_is_cut_at_a_char_boundary() {
    let limits = Limits {
        max_text_preview: 3,
        max_kept_payload: 4,
        ..Limits::default()
    };
    let s = "ééé€€";
    let ev = run_with(
        None,
        &limits,
        &[Feed(Dir::S2c, &sf(FIN | TEXT, s.as_bytes()))],
    );
    let m = msgs(&ev)[0];
    assert_eq!(m.text.as_deref(), Some("ééé"));
    assert_eq!(m.len, s.len() as u64);
    assert_eq!(m.data.kept[..], s.as_bytes()[..4]);
    assert_eq!(frames(&ev)[0].data.kept.len(), 4);
}

#[test]
fn ping_payloads() {
    let ev = whole(Dir::C2s, None, &cf(FIN | PING, b"are you there"));
    assert_eq!(msgs(&ev)[0].text.as_deref(), Some("are you there"));
    let ev = whole(Dir::C2s, None, &cf(FIN | PONG, &[0xff, 0x00]));
    assert_eq!(msgs(&ev)[0].text, None);
    assert_eq!(msgs(&ev)[0].data.kept[..], [0xff, 0x00]);
}

#[test]
fn invalid_utf8_at_any_size_is_found() {
    // Far beyond the kept bytes: the check streams, nothing is buffered.
    let mut p = vec![b'a'; 3 << 20];
    p[(3 << 20) - 10] = 0xff;
    let ev = whole(Dir::S2c, None, &sf(FIN | TEXT, &p));
    assert_eq!(rules(&ev), ["invalid_utf8"]);
    assert_eq!(msgs(&ev)[0].len, 3 << 20);
}

// --- end of stream ------------------------------------------------------------------------

#[test]
fn end_inside_a_header_is_malformed() {
    let f = cf(FIN | BIN, &[1; 200]);
    let ev = run(None, &[Feed(Dir::C2s, &f[..3]), End(Dir::C2s)]);
    assert_eq!(
        malformed(&ev),
        ["the stream ended inside a frame header (3 of 8 bytes)"]
    );
    let ev = run(None, &[Feed(Dir::C2s, &f[..1]), End(Dir::C2s)]);
    assert_eq!(
        malformed(&ev),
        ["the stream ended inside a frame header (1 of at least 2 bytes)"]
    );
}

#[test]
fn end_inside_a_payload_or_a_fragmented_message() {
    let f = sf(FIN | TEXT, b"Hello world");
    let ev = run(None, &[Feed(Dir::S2c, &f[..7]), End(Dir::S2c)]);
    assert_eq!(kinds(&ev), ["ws_frame", "ws_message"]);
    assert!(frames(&ev)[0].incomplete);
    let m = msgs(&ev)[0];
    assert_eq!(
        (m.len, m.incomplete, m.text.as_deref()),
        (5, true, Some("Hello"))
    );

    let ev = run(None, &[Feed(Dir::S2c, &sf(TEXT, b"Hel")), End(Dir::S2c)]);
    assert_eq!(kinds(&ev), ["ws_frame", "ws_message"]);
    assert!(!frames(&ev)[0].incomplete);
    assert!(msgs(&ev)[0].incomplete);
    // A second end reports nothing more.
    let ev = run(
        None,
        &[
            Feed(Dir::S2c, &sf(TEXT, b"Hel")),
            End(Dir::S2c),
            End(Dir::S2c),
        ],
    );
    assert_eq!(ev.len(), 2);
}

// --- gaps ---------------------------------------------------------------------------------

#[test]
fn gap_inside_a_payload_stays_in_sync() {
    let payload: Vec<u8> = (0..100).collect();
    let f = cf(FIN | BIN, &payload);
    let next = cf(FIN | TEXT, b"next");
    let hl = 6;
    let ev = run(
        None,
        &[
            Feed(Dir::C2s, &f[..hl + 30]),
            Gap(Dir::C2s, 40),
            Feed(Dir::C2s, &f[hl + 70..]),
            Feed(Dir::C2s, &next),
            End(Dir::C2s),
        ],
    );
    assert!(malformed(&ev).is_empty() && rules(&ev).is_empty());
    let fr = frames(&ev);
    assert!(fr[0].incomplete && !fr[1].incomplete);
    assert_eq!(
        fr[0].data.kept[..],
        payload[..30],
        "nothing kept past the hole"
    );
    let m = msgs(&ev);
    assert_eq!((m[0].len, m[0].incomplete), (60, true));
    assert_eq!(m[1].text.as_deref(), Some("next"));

    // A gap ending exactly at the payload's end completes the frame there.
    let ev = run(
        None,
        &[
            Feed(Dir::C2s, &f[..hl + 30]),
            Gap(Dir::C2s, 70),
            Feed(Dir::C2s, &next),
        ],
    );
    assert!(malformed(&ev).is_empty());
    assert_eq!(
        kinds(&ev),
        ["ws_frame", "ws_message", "ws_frame", "ws_message"]
    );
    assert_eq!(msgs(&ev)[1].text.as_deref(), Some("next"));
}

#[test]
fn gap_inside_a_fragmented_message_marks_it_incomplete() {
    let s1 = sf(TEXT, b"abcdef");
    let s2 = sf(FIN | CONT, b"ghijkl");
    let ev = run(
        None,
        &[
            Feed(Dir::S2c, &s1[..4]),
            Gap(Dir::S2c, 2),
            Feed(Dir::S2c, &s1[6..]),
            Feed(Dir::S2c, &s2),
        ],
    );
    let m = msgs(&ev)[0];
    assert_eq!((m.len, m.frames, m.incomplete), (10, 2, true));
    assert_eq!(m.text.as_deref(), Some("ab"));
    assert!(rules(&ev).is_empty());
}

/// A server stream of `n` small text frames, and where each starts.
fn server_frames(n: usize) -> (Vec<u8>, Vec<usize>) {
    let mut s = Vec::new();
    let mut starts = Vec::new();
    for i in 0..n {
        starts.push(s.len());
        s.extend(sf(FIN | TEXT, format!("message number {i}").as_bytes()));
    }
    (s, starts)
}

#[test]
fn gap_over_headers_resynchronises() {
    let (s, starts) = server_frames(10);
    // The gap covers the end of frame 1, frame 2 and the first 3 bytes of frame 3.
    let g0 = starts[1] + 5;
    let g1 = starts[3] + 3;
    let ev = run(
        None,
        &[
            Feed(Dir::S2c, &s[..g0]),
            Gap(Dir::S2c, (g1 - g0) as u32),
            Feed(Dir::S2c, &s[g1..]),
            End(Dir::S2c),
        ],
    );
    let skipped = starts[4] - g1;
    assert_eq!(
        malformed(&ev),
        [format!(
            "frame boundaries lost at a gap of {} bytes; {skipped} more bytes skipped before a \
             plausible frame header",
            g1 - g0
        )]
    );
    let t = texts(&ev);
    assert_eq!(t[0], "message number 0");
    assert!(msgs(&ev)[1].incomplete);
    assert_eq!(
        &t[2..],
        (4..10)
            .map(|i| format!("message number {i}"))
            .collect::<Vec<_>>()
    );
    assert!(rules(&ev).is_empty(), "{:?}", rules(&ev));
}

#[test]
fn resync_at_a_frame_boundary_skips_nothing() {
    let (s, starts) = server_frames(4);
    let ev = run(
        None,
        &[
            Feed(Dir::S2c, &s[..starts[1]]),
            Gap(Dir::S2c, (starts[2] - starts[1]) as u32),
            Feed(Dir::S2c, &s[starts[2]..]),
            End(Dir::S2c),
        ],
    );
    assert_eq!(malformed(&ev).len(), 1);
    assert!(malformed(&ev)[0].ends_with("; 0 more bytes skipped before a plausible frame header"));
    assert_eq!(
        texts(&ev),
        ["message number 0", "message number 2", "message number 3"]
    );
}

#[test]
fn resync_in_the_client_direction_and_a_lost_start() {
    // A fragmented masked message whose first frame falls in the gap: the continuation after
    // resynchronising is not blamed on the client.
    let a = cf(FIN | TEXT, b"first");
    let b = cf(TEXT, b"lost start");
    let c = cf(FIN | CONT, b" and the end");
    let d = cf(FIN | TEXT, b"after");
    let ev = run(
        None,
        &[
            Feed(Dir::C2s, &a),
            Gap(Dir::C2s, b.len() as u32),
            Feed(Dir::C2s, &[c, d].concat()),
            End(Dir::C2s),
        ],
    );
    assert!(rules(&ev).is_empty(), "{:?}", rules(&ev));
    let m = msgs(&ev);
    assert_eq!(m.len(), 3);
    assert_eq!(
        (m[1].opcode, m[1].incomplete, m[1].len),
        (Opcode::Continuation, true, 12)
    );
    assert_eq!(m[2].text.as_deref(), Some("after"));
}

#[test]
fn resync_finds_nothing_in_garbage() {
    let a = sf(FIN | TEXT, b"ok");
    let garbage = vec![0xff; 5000];
    let ev = run(
        None,
        &[
            Feed(Dir::S2c, &a),
            Gap(Dir::S2c, 10),
            Feed(Dir::S2c, &garbage),
            End(Dir::S2c),
        ],
    );
    assert_eq!(
        malformed(&ev),
        [
            "frame boundaries lost at a gap of 10 bytes; no frame header found in the 5000 bytes \
          before the end of the stream"
        ]
    );
}

#[test]
fn resync_accepts_a_final_frame_ending_the_stream() {
    let a = sf(FIN | TEXT, b"ok");
    let close = sf(FIN | CLOSE, &[0x03, 0xe8]);
    let ev = run(
        None,
        &[
            Feed(Dir::S2c, &a),
            Gap(Dir::S2c, 10),
            Feed(Dir::S2c, &[&[0xff, 0xff][..], &close].concat()),
            End(Dir::S2c),
        ],
    );
    assert_eq!(msgs(&ev).last().unwrap().code, Some(1000));
    assert!(malformed(&ev)[0].ends_with("; 2 more bytes skipped before a plausible frame header"));
}

#[test]
fn resync_accepts_a_big_frame_at_the_gap() {
    // The frame after the gap is too big to confirm inside the look-ahead: taken because it
    // starts at the first byte after the gap.
    let big = sf(FIN | BIN, &vec![7; 20_000]);
    let ev = run(
        None,
        &[Gap(Dir::S2c, 100), Feed(Dir::S2c, &big), End(Dir::S2c)],
    );
    assert_eq!(msgs(&ev)[0].len, 20_000);
    assert!(!msgs(&ev)[0].incomplete);
}

#[test]
fn resync_bounds_what_it_holds() {
    // A plausible header announcing 8000 bytes, then data that never confirms it.
    let mut s = vec![FIN | BIN, 126];
    s.extend_from_slice(&8000u16.to_be_bytes());
    let mut steps = vec![Gap(Dir::S2c, 5)];
    let junk = vec![0xffu8; 100];
    steps.push(Feed(Dir::S2c, &[0xff]));
    steps.push(Feed(Dir::S2c, &s));
    for _ in 0..200 {
        steps.push(Feed(Dir::S2c, &junk));
    }
    let mut out = Vec::new();
    let limits = Limits::default();
    let mut cx = Cx {
        stamp: Stamp::default(),
        conn: 0,
        state: crate::model::ConnState::Established,
        limits: &limits,
        keys: &crate::keylog::KeyLog::default(),
        out: &mut out,
    };
    let mut ws = WsSession::new(None, &limits);
    for s in &steps {
        match s {
            Feed(d, b) => ws.feed(*d, b, &mut cx),
            Gap(d, n) => ws.gap(*d, *n, &mut cx),
            End(d) => ws.end(*d, &mut cx),
        }
        assert!(ws.s2c.scan.len() <= RESYNC_LOOKAHEAD);
    }
}

// --- permessage-deflate -----------------------------------------------------------------------

/// Compresses each message with raw DEFLATE and a sync flush, the trailing 00 00 ff ff
/// stripped (RFC 7692 §7.2.1). A fresh compressor per message when `fresh`.
fn compress(msgs: &[&[u8]], bits: u8, fresh: bool) -> Vec<Vec<u8>> {
    let new = || Compress::new_with_window_bits(Compression::default(), false, bits);
    let mut c = new();
    msgs.iter()
        .map(|m| {
            if fresh {
                c = new();
            }
            let mut out = Vec::new();
            // Feed all input, growing the output until the flush completes.
            let start_in = c.total_in();
            loop {
                let used = (c.total_in() - start_in) as usize;
                out.reserve(4096);
                c.compress_vec(&m[used..], &mut out, FlushCompress::Sync)
                    .unwrap();
                if (c.total_in() - start_in) as usize == m.len() && out.len() < out.capacity() {
                    break;
                }
            }
            assert_eq!(out[out.len() - 4..], TRAILER);
            out.truncate(out.len() - 4);
            out
        })
        .collect()
}

fn deflate() -> Option<DeflateParams> {
    Some(DeflateParams::default())
}

#[test]
fn rfc7692_samples() {
    // §7.2.3.1: "Hello" compressed, one frame.
    let hello = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let ev = whole(Dir::S2c, deflate(), &hello);
    assert!(rules(&ev).is_empty());
    let m = msgs(&ev)[0];
    assert_eq!(
        (m.text.as_deref(), m.len, m.compressed),
        (Some("Hello"), 5, true)
    );
    assert_eq!(m.data.kept[..], *b"Hello");
    assert_eq!(
        frames(&ev)[0].data.kept[..],
        hello[2..],
        "the frame shows the wire bytes"
    );

    // §7.2.3.1: the same, fragmented.
    let frag = [
        0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
    ];
    let ev = whole(Dir::S2c, deflate(), &frag);
    let m = msgs(&ev)[0];
    assert_eq!(
        (m.text.as_deref(), m.frames, m.compressed),
        (Some("Hello"), 2, true)
    );

    // §7.2.3.2: the second "Hello" refers to the first through the shared window.
    let second = [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00];
    let ev = whole(Dir::S2c, deflate(), &[&hello[..], &second].concat());
    assert_eq!(texts(&ev), ["Hello", "Hello"]);
    assert!(rules(&ev).is_empty() && malformed(&ev).is_empty());
    // Alone, it cannot be inflated: the window is what makes it work.
    let ev = whole(Dir::S2c, deflate(), &second);
    assert_eq!(rules(&ev), ["inflate_error"]);
    assert!(msgs(&ev)[0].incomplete);

    // §7.2.3.3: a stored (uncompressed) DEFLATE block.
    let stored = [
        0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    assert_eq!(texts(&whole(Dir::S2c, deflate(), &stored)), ["Hello"]);

    // §7.2.3.4: a block with BFINAL set; the next message starts a fresh stream.
    let bfinal = [0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
    let ev = whole(Dir::S2c, deflate(), &[&bfinal[..], &hello].concat());
    assert_eq!(texts(&ev), ["Hello", "Hello"]);
    assert!(rules(&ev).is_empty() && malformed(&ev).is_empty());

    // §7.2.3.5: two DEFLATE blocks in one message.
    let two = [
        0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
    ];
    assert_eq!(texts(&whole(Dir::S2c, deflate(), &two)), ["Hello"]);
}

#[test]
fn shared_context_across_messages() {
    let a = b"the quick brown fox jumps over the lazy dog; the quick brown fox again".as_slice();
    let b = b"the quick brown fox jumps over the lazy dog".as_slice();
    let z = compress(&[a, b], 15, false);
    assert!(
        z[1].len() < 12,
        "the second message refers back: {} bytes",
        z[1].len()
    );
    let s = [cf(FIN | RSV1 | TEXT, &z[0]), cf(FIN | RSV1 | TEXT, &z[1])].concat();
    let ev = whole(Dir::C2s, deflate(), &s);
    assert_eq!(
        texts(&ev),
        [
            std::str::from_utf8(a).unwrap(),
            std::str::from_utf8(b).unwrap()
        ]
    );
    assert!(rules(&ev).is_empty());
    // Inflated alone (a fresh window), the second fails.
    let ev = whole(Dir::C2s, deflate(), &cf(FIN | RSV1 | TEXT, &z[1]));
    assert_eq!(rules(&ev), ["inflate_error"]);
    // With client_no_context_takeover negotiated the window is reset per message, so a client
    // that kept its context anyway is caught.
    let nct = DeflateParams {
        client_no_context_takeover: true,
        ..DeflateParams::default()
    };
    let ev = whole(Dir::C2s, Some(nct), &s);
    assert_eq!(rules(&ev), ["inflate_error"]);
    // server_no_context_takeover says nothing about the client's messages.
    let snct = DeflateParams {
        server_no_context_takeover: true,
        ..DeflateParams::default()
    };
    assert!(rules(&whole(Dir::C2s, Some(snct), &s)).is_empty());
}

#[test]
fn no_context_takeover() {
    let m: Vec<Vec<u8>> = (0..5)
        .map(|i| format!("message {i} message {i}").into_bytes())
        .collect();
    let refs: Vec<&[u8]> = m.iter().map(|v| v.as_slice()).collect();
    let z = compress(&refs, 15, true);
    let s: Vec<u8> = z.iter().flat_map(|z| sf(FIN | RSV1 | TEXT, z)).collect();
    let p = DeflateParams {
        server_no_context_takeover: true,
        ..DeflateParams::default()
    };
    let ev = whole(Dir::S2c, Some(p), &s);
    assert!(rules(&ev).is_empty());
    let want: Vec<String> = m
        .iter()
        .map(|v| String::from_utf8(v.clone()).unwrap())
        .collect();
    assert_eq!(texts(&ev), want);
}

#[test]
fn max_window_bits_10() {
    // Repeats 600 bytes apart: within a 1 KiB window.
    let unit: Vec<u8> = (0..600).map(|i| b'a' + (i * 7 % 26) as u8).collect();
    let msg1 = unit.repeat(10);
    let msg2 = unit.repeat(3);
    let z = compress(&[&msg1, &msg2], 10, false);
    assert!(z[0].len() < 1000);
    let p = DeflateParams {
        client_max_window_bits: 10,
        ..DeflateParams::default()
    };
    let s = [cf(FIN | RSV1 | TEXT, &z[0]), cf(FIN | RSV1 | TEXT, &z[1])].concat();
    let ev = whole(Dir::C2s, Some(p), &s);
    assert!(rules(&ev).is_empty(), "{:?}", rules(&ev));
    let m = msgs(&ev);
    assert_eq!((m[0].len, m[1].len), (6000, 1800));
    // A window of 8 is read as 9 (zlib) rather than refused.
    let p8 = DeflateParams {
        client_max_window_bits: 8,
        ..DeflateParams::default()
    };
    let z9 = compress(&[&msg1], 9, false);
    let ev = whole(Dir::C2s, Some(p8), &cf(FIN | RSV1 | TEXT, &z9[0]));
    assert_eq!(msgs(&ev)[0].len, 6000);
    assert!(rules(&ev).is_empty());
}

#[test]
fn compressed_fragmented_message() {
    let text: String = (0..400).map(|i| format!("{i} ")).collect();
    let z = compress(&[text.as_bytes()], 15, false).remove(0);
    let (a, rest) = z.split_at(z.len() / 3);
    let (b, c) = rest.split_at(rest.len() / 2);
    let s = [
        cf(RSV1 | TEXT, a),
        cf(FIN | PING, b"mid"),
        cf(CONT, b),
        cf(FIN | CONT, c),
    ]
    .concat();
    let ev = whole(Dir::C2s, deflate(), &s);
    assert!(rules(&ev).is_empty());
    let m = msgs(&ev);
    assert_eq!(m[0].opcode, Opcode::Ping);
    assert_eq!(
        (m[1].len, m[1].frames, m[1].compressed),
        (text.len() as u64, 3, true)
    );
    let keep = Limits::default().max_text_preview;
    assert_eq!(m[1].text.as_deref(), Some(&text[..keep]));
    // The same at every cut point.
    let reference = ev.clone();
    for n in 0..=s.len() {
        assert_eq!(pieces(Dir::C2s, deflate(), &s, &[n]), reference, "cut {n}");
    }
}

#[test]
fn inflate_bomb_is_bounded() {
    let limits = Limits {
        max_message: 16 << 10,
        ..Limits::default()
    };
    let budget = INFLATE_WORK_FACTOR * (16 << 10);
    let zeros = vec![0u8; 8 << 20];
    let z = compress(&[&zeros], 15, false).remove(0);
    assert!(z.len() < 16 << 10, "{} bytes", z.len());
    let after = compress(&[b"still decoding"], 15, true).remove(0);
    let s = [sf(FIN | RSV1 | BIN, &z), sf(FIN | RSV1 | TEXT, &after)].concat();
    let ev = run_with(deflate(), &limits, &[Feed(Dir::S2c, &s), End(Dir::S2c)]);
    assert_eq!(rules(&ev), ["inflate_limit"]);
    let m = msgs(&ev);
    assert!(m[0].incomplete);
    assert!(
        m[0].len > budget && m[0].len <= budget + 4096,
        "{}",
        m[0].len
    );
    assert_eq!(m[1].text.as_deref(), Some("still decoding"));
}

#[test]
fn inflate_error_resets_and_decoding_goes_on() {
    let good = compress(&[b"fine"], 15, true).remove(0);
    let s = [
        sf(FIN | RSV1 | TEXT, &[0xff, 0xff, 0xff]),
        sf(FIN | RSV1 | TEXT, &good),
    ]
    .concat();
    let ev = whole(Dir::S2c, deflate(), &s);
    assert_eq!(rules(&ev), ["inflate_error"]);
    assert_eq!(texts(&ev)[1], "fine");
}

#[test]
fn gap_in_a_compressed_message() {
    let text = "abcdefghij".repeat(50);
    let z = compress(&[text.as_bytes(), text.as_bytes()], 15, false);
    let f1 = sf(FIN | RSV1 | TEXT, &z[0]);
    let f2 = sf(FIN | RSV1 | TEXT, &z[1]);
    let fresh = compress(&[b"fresh"], 15, true).remove(0);
    let f3 = sf(FIN | RSV1 | TEXT, &fresh);
    let ev = run(
        deflate(),
        &[
            Feed(Dir::S2c, &f1[..5]),
            Gap(Dir::S2c, 3),
            Feed(Dir::S2c, &f1[8..]),
            Feed(Dir::S2c, &f2),
            Feed(Dir::S2c, &f3),
            End(Dir::S2c),
        ],
    );
    // The first cannot be inflated past the gap; the second refers to the lost window, which
    // is not the sender's fault; the third stands alone.
    let mal = malformed(&ev);
    assert_eq!(mal.len(), 2, "{mal:?}");
    assert!(mal[0].contains("cannot be inflated"));
    assert!(mal[1].contains("lost at an earlier gap"));
    assert!(rules(&ev).is_empty());
    let m = msgs(&ev);
    assert!(m[0].incomplete && m[1].incomplete && !m[2].incomplete);
    assert_eq!(m[2].text.as_deref(), Some("fresh"));
}

#[test]
fn compressed_stream_cut_anywhere_gives_the_same_events() {
    let msgs_in: Vec<String> = (0..6)
        .map(|i| format!("{i}: {}", "hello world ".repeat(i + 1)))
        .collect();
    let refs: Vec<&[u8]> = msgs_in.iter().map(|s| s.as_bytes()).collect();
    let z = compress(&refs, 15, false);
    let s: Vec<u8> = z.iter().flat_map(|z| cf(FIN | RSV1 | TEXT, z)).collect();
    let reference = whole(Dir::C2s, deflate(), &s);
    assert_eq!(texts(&reference), msgs_in);
    let every: Vec<usize> = (1..s.len()).collect();
    assert_eq!(pieces(Dir::C2s, deflate(), &s, &every), reference);
}

// --- any split ----------------------------------------------------------------------------

fn arb_frame(dir: Dir) -> impl Strategy<Value = Vec<u8>> {
    let op = prop_oneof![
        Just(FIN | TEXT),
        Just(FIN | BIN),
        Just(TEXT),
        Just(FIN | CONT),
        Just(CONT),
        Just(FIN | PING),
        Just(FIN | CLOSE),
        Just(FIN | 0x3),
        any::<u8>(),
    ];
    let len = prop_oneof![0usize..20, 120usize..140, 65_530usize..65_540];
    (op, len, any::<[u8; 4]>(), any::<bool>()).prop_map(move |(op, len, key, utf8)| {
        let payload: Vec<u8> = if utf8 {
            "é€x"
                .chars()
                .cycle()
                .take(len)
                .collect::<String>()
                .into_bytes()
        } else {
            (0..len).map(|i| (i * 31) as u8).collect()
        };
        match dir {
            Dir::C2s => build(op, Some(key), &payload, Form::Minimal),
            Dir::S2c => build(op, None, &payload, Form::Minimal),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_split_gives_the_same_events(
        c2s in proptest::collection::vec(arb_frame(Dir::C2s), 1..6),
        s2c in proptest::collection::vec(arb_frame(Dir::S2c), 1..6),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        for (dir, fs) in [(Dir::C2s, c2s), (Dir::S2c, s2c)] {
            let s = fs.concat();
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(s.len() + 1)).collect();
            cuts.sort_unstable();
            prop_assert_eq!(pieces(dir, deflate(), &s, &cuts), whole(dir, deflate(), &s));
        }
    }

    #[test]
    fn random_bytes_never_panic_and_stay_bounded(
        bytes in proptest::collection::vec(any::<u8>(), 0..3000),
        gap_at in any::<prop::sample::Index>(),
        gap in 0u32..100,
    ) {
        let at = gap_at.index(bytes.len() + 1);
        for dir in [Dir::C2s, Dir::S2c] {
            let ev = run(
                deflate(),
                &[Feed(dir, &bytes[..at]), Gap(dir, gap), Feed(dir, &bytes[at..]), End(dir)],
            );
            for f in frames(&ev) {
                prop_assert!(f.data.kept.len() <= Limits::default().max_kept_payload);
            }
        }
    }

    #[test]
    fn resync_does_not_depend_on_cut_points(
        n in 3usize..12,
        gap_from in any::<prop::sample::Index>(),
        gap_len in 1usize..60,
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let (s, _) = server_frames(n);
        let g0 = gap_from.index(s.len());
        let g1 = (g0 + gap_len).min(s.len());
        let rest = &s[g1..];
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(rest.len() + 1)).collect();
        cuts.sort_unstable();
        let mut steps = vec![Feed(Dir::S2c, &s[..g0]), Gap(Dir::S2c, (g1 - g0) as u32)];
        let mut last = 0;
        for &c in &cuts {
            steps.push(Feed(Dir::S2c, &rest[last..c]));
            last = c;
        }
        steps.push(Feed(Dir::S2c, &rest[last..]));
        steps.push(End(Dir::S2c));
        let split = run(None, &steps);
        let one = run(
            None,
            &[Feed(Dir::S2c, &s[..g0]), Gap(Dir::S2c, (g1 - g0) as u32), Feed(Dir::S2c, rest), End(Dir::S2c)],
        );
        prop_assert_eq!(split, one);
    }
}

/// Server bytes after a gap built so that many positions pass for the start of a long text
/// frame that fails only 8 KB later: `01 7e 1f 40` is a non-final text frame of 8,000 bytes
/// whose payload is that same pattern (valid UTF-8), and the frame after it is `ff ff`.
fn resync_trap(rounds: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..rounds {
        for _ in 0..2001 {
            v.extend_from_slice(&[0x01, 0x7e, 0x1f, 0x40]);
        }
        v.extend_from_slice(&[0xff, 0xff]);
    }
    v
}

/// Server bytes after a gap whose first candidate is a 4,000-byte text frame followed by a
/// 4,000-byte binary frame: the decision waits for the second frame's end.
fn resync_wait() -> Vec<u8> {
    let mut v = build(TEXT, None, &[b'a'; 4000], Form::Minimal);
    v.extend(build(BIN, None, &[0; 4000], Form::Minimal));
    v.extend(sf(FIN | TEXT, b"ok"));
    v
}

#[test]
fn resync_work_is_linear_in_the_bytes() {
    // Found by review: each candidate's text payload was checked whole (up to the 8 KB
    // look-ahead): 1,500 bytes examined per input byte on `resync_trap`. And every piece
    // that arrived while a decision waited for more bytes judged the candidate again from
    // scratch: 2,000 per input byte on `resync_wait` fed a byte at a time.
    for (name, bytes) in [("trap", resync_trap(4)), ("wait", resync_wait())] {
        for piece in [usize::MAX, 1500, 1] {
            let limits = Limits::default();
            let mut out = Vec::new();
            let mut cx = Cx {
                stamp: Stamp::default(),
                conn: 7,
                state: crate::model::ConnState::Established,
                limits: &limits,
                keys: &crate::keylog::KeyLog::default(),
                out: &mut out,
            };
            let mut ws = WsSession::new(None, &limits);
            ws.feed(Dir::S2c, &sf(BIN, &[0; 10])[..4], &mut cx);
            ws.gap(Dir::S2c, 100, &mut cx);
            for p in bytes.chunks(piece.min(bytes.len())) {
                ws.feed(Dir::S2c, p, &mut cx);
            }
            ws.end(Dir::S2c, &mut cx);
            let per_byte = ws.resync_work() / bytes.len() as u64;
            assert!(
                per_byte <= 64,
                "{name}: {per_byte} bytes examined per input byte ({piece}-byte pieces)"
            );
        }
    }
}
