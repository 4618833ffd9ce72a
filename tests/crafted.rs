//! Crafted captures through the whole engine: the cases real loopback traffic never shows
//! (loss, reordering, retransmission, snap length, odd link types, hostile payloads), built
//! packet by packet with `tests/support` and checked event by event.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use flate2::{Compress, Compression, FlushCompress};
use support::*;
use synscope::model::{
    BodyKind, ConnState, Dir, Event, EventBody, GapReason, Layer, Limits, Opcode, TcpAnalysis,
    WsFrame, WsMessage,
};

const CLIENT: &str = "10.0.0.1:40000";
const SERVER: &str = "10.0.0.2:8080";

fn conv() -> Conv {
    Conv::new(CLIENT, SERVER)
}

/// The transcript, printed when an assertion fails.
fn show(events: &[Event]) -> String {
    format!("\n{}", text(events))
}

fn tcp_of(e: &Event) -> &synscope::model::TcpSegment {
    match &e.body {
        EventBody::Tcp(s) => s,
        b => panic!("not a tcp event: {b:?}"),
    }
}

fn ws_frames(events: &[Event]) -> Vec<(Dir, &WsFrame)> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::WsFrame(f) => Some((e.dir.unwrap(), f)),
            _ => None,
        })
        .collect()
}

fn ws_messages(events: &[Event]) -> Vec<(Dir, &WsMessage)> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::WsMessage(m) => Some((e.dir.unwrap(), &**m)),
            _ => None,
        })
        .collect()
}

fn violations(events: &[Event]) -> Vec<&'static str> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Violation(v) => Some(v.rule),
            _ => None,
        })
        .collect()
}

fn request_targets(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::HttpRequest(r) => Some(r.target.clone()),
            _ => None,
        })
        .collect()
}

fn end_state(events: &[Event], conn: u32) -> ConnState {
    let ends: Vec<ConnState> = events
        .iter()
        .filter(|e| e.conn == Some(conn))
        .filter_map(|e| match &e.body {
            EventBody::ConnectionEnd(c) => Some(c.state),
            _ => None,
        })
        .collect();
    assert_eq!(ends.len(), 1, "conn {conn}: {ends:?}");
    ends[0]
}

fn request(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: example.test\r\nAccept: */*\r\n\r\n").into_bytes()
}

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

// ---------------------------------------------------------------------------------------
// TCP: order, loss, retransmission

#[test]
fn out_of_order_segments_make_one_request_at_the_frame_that_fills_the_hole() {
    let mut c = conv();
    c.handshake();
    let req = request("/split-in-three");
    let (a, rest) = req.split_at(10);
    let (b, cc) = rest.split_at(20);
    let base = c.next[0];
    c.push(&c.packet(true, PSH | ACK, base, a), None); // frame 4
    let seq_c = base.wrapping_add((a.len() + b.len()) as u32);
    c.push(&c.packet(true, PSH | ACK, seq_c, cc), None); // frame 5: after a hole
    let seq_b = base.wrapping_add(a.len() as u32);
    c.push(&c.packet(true, PSH | ACK, seq_b, b), None); // frame 6: fills it
    c.advance(true, PSH, req.len());
    c.s2c(RESPONSE);
    c.close();
    let ev = decode(&c.bytes());

    let reqs = only(&ev, "http_request");
    assert_eq!(reqs.len(), 1, "{}", show(&ev));
    assert_eq!(reqs[0].frame, 6);
    assert_eq!(request_targets(&ev), ["/split-in-three"]);
    let seg = |frame: u64| {
        tcp_of(
            ev.iter()
                .find(|e| e.frame == frame && e.body.kind() == "tcp")
                .unwrap(),
        )
    };
    assert_eq!(seg(5).analysis, [TcpAnalysis::LostSegment]);
    assert_eq!(seg(6).analysis, [TcpAnalysis::OutOfOrder]);
    assert!(only(&ev, "gap").is_empty());
    assert_eq!(only(&ev, "http_response").len(), 1);
    assert_eq!(end_state(&ev, 0), ConnState::Closed);
}

#[test]
fn retransmitted_and_overlapping_segments_deliver_each_byte_once() {
    let mut c = conv();
    c.handshake();
    let req = request("/once");
    let base = c.next[0];
    // 0..20, then 0..20 again (retransmission), then 10..40 (overlaps 10 bytes), then the rest.
    c.push(&c.packet(true, ACK, base, &req[..20]), None);
    c.push(&c.packet(true, ACK, base, &req[..20]), None);
    let mut tampered = req[10..40].to_vec();
    // First seen wins: the overlap's bytes are ignored even where they differ.
    tampered[..10].copy_from_slice(b"XXXXXXXXXX");
    c.push(&c.packet(true, ACK, base.wrapping_add(10), &tampered), None);
    c.push(
        &c.packet(true, PSH | ACK, base.wrapping_add(40), &req[40..]),
        None,
    );
    c.advance(true, PSH, req.len());
    c.s2c(RESPONSE);
    c.close();
    let ev = decode(&c.bytes());

    assert_eq!(request_targets(&ev), ["/once"], "{}", show(&ev));
    let EventBody::HttpRequest(r) = &only(&ev, "http_request")[0].body else {
        unreachable!()
    };
    assert_eq!(r.head_len as usize, req.len());
    assert_eq!(r.headers[0], ("Host".into(), "example.test".into()));
    let c2s: Vec<&Event> = ev
        .iter()
        .filter(|e| e.dir == Some(Dir::C2s) && e.body.kind() == "tcp")
        .collect();
    assert!(tcp_of(c2s[3])
        .analysis
        .contains(&TcpAnalysis::Retransmission));
    assert!(!only(&ev, "violation").iter().any(|_| true));
    assert!(only(&ev, "malformed").is_empty());
    assert!(only(&ev, "gap").is_empty());
    // connection_end counts payload bytes on the wire, retransmissions included.
    let EventBody::ConnectionEnd(end) = &only(&ev, "connection_end")[0].body else {
        unreachable!()
    };
    assert_eq!(end.bytes[0], (20 + 20 + 30 + req.len() - 40) as u64);
}

#[test]
fn a_hole_that_never_fills_is_a_gap_then_http_resynchronises() {
    let mut c = conv();
    c.handshake();
    let first = request("/lost-in-the-middle");
    let second = request("/after-the-gap");
    let base = c.next[0];
    c.push(&c.packet(true, ACK, base, &first[..15]), None);
    // first[15..30] is never captured.
    c.push(
        &c.packet(true, PSH | ACK, base.wrapping_add(30), &first[30..]),
        None,
    );
    c.advance(true, PSH, first.len());
    c.c2s(&second);
    // The server acknowledges everything: it had the bytes, the capture did not.
    c.s2c(RESPONSE);
    c.s2c(RESPONSE);
    c.close();
    let ev = decode(&c.bytes());

    let gaps = only(&ev, "gap");
    assert_eq!(gaps.len(), 1, "{}", show(&ev));
    let EventBody::Gap(g) = gaps[0].body else {
        unreachable!()
    };
    assert_eq!((g.seq, g.len, g.reason), (16, 15, GapReason::NotCaptured));
    assert_eq!(gaps[0].dir, Some(Dir::C2s));
    // The first request is lost; parsing resumes at the second.
    assert_eq!(request_targets(&ev), ["/after-the-gap"], "{}", show(&ev));
    assert!(only(&ev, "gap")[0].frame <= only(&ev, "http_request")[0].frame);
    assert_eq!(only(&ev, "http_response").len(), 2);
}

#[test]
fn a_hole_over_a_websocket_header_is_a_gap_then_the_parser_resynchronises() {
    let mut c = conv();
    c.websocket();
    let key = [1, 2, 3, 4];
    let lost = client_frame(true, 1, b"this frame is lost", key);
    let next = client_frame(true, 1, b"found again", key);
    let after = client_frame(true, 1, b"and again", key);
    c.c2s(&client_frame(true, 1, b"before", key));
    c.advance(true, PSH, lost.len()); // never captured
    c.c2s(&next);
    c.c2s(&after);
    c.s2c(&server_frame(true, 1, b"ack"));
    c.close();
    let ev = decode(&c.bytes());

    assert_eq!(only(&ev, "gap").len(), 1, "{}", show(&ev));
    let texts: Vec<&str> = ws_messages(&ev)
        .iter()
        .filter(|(d, _)| *d == Dir::C2s)
        .map(|(_, m)| m.text.as_deref().unwrap())
        .collect();
    assert_eq!(
        texts,
        ["before", "found again", "and again"],
        "{}",
        show(&ev)
    );
    assert!(violations(&ev).is_empty(), "{}", show(&ev));
}

// ---------------------------------------------------------------------------------------
// WebSocket framing

/// Client frames after an upgrade, carried in segments cut at `cuts` (offsets into `stream`).
fn ws_capture(stream: &[u8], cuts: &[usize]) -> Vec<Event> {
    let mut c = conv();
    c.websocket();
    let mut at = 0;
    for &cut in cuts.iter().chain([&stream.len()]) {
        if cut > at {
            c.c2s(&stream[at..cut]);
            at = cut;
        }
    }
    c.close();
    decode(&c.bytes())
}

#[test]
fn a_websocket_frame_split_at_every_byte_gives_the_same_events() {
    let mut stream = client_frame(true, 1, &[b'x'; 130], [9, 8, 7, 6]); // 16-bit length
    let first = stream.len();
    stream.extend(client_frame(true, 9, b"ping!", [1, 1, 1, 1]));
    let ws = |ev: &[Event]| -> Vec<EventBody> {
        ev.iter()
            .filter(|e| e.body.kind().starts_with("ws_") || e.body.kind() == "violation")
            .map(|e| e.body.clone())
            .collect()
    };
    let whole = ws_capture(&stream, &[]);
    let want = ws(&whole);
    assert_eq!(ws_messages(&whole).len(), 2, "{}", show(&whole));
    assert_eq!(want.len(), 4);
    for cut in 1..stream.len() {
        let ev = ws_capture(&stream, &[cut]);
        assert_eq!(ws(&ev), want, "cut at {cut}:{}", show(&ev));
        // Each frame completes in the segment that carries its last byte.
        let at: Vec<u64> = only(&ev, "ws_frame").iter().map(|e| e.frame).collect();
        assert_eq!(at, [if cut >= first { 6 } else { 7 }, 7], "cut at {cut}");
    }
}

#[test]
fn many_frames_in_one_segment() {
    let mut c = conv();
    c.websocket();
    let mut seg = Vec::new();
    for i in 0..100 {
        seg.extend(server_frame(true, 1, format!("message {i}").as_bytes()));
    }
    c.s2c(&seg);
    let frame = c.pcap.records.len() as u64;
    c.close();
    let ev = decode(&c.bytes());
    let msgs = ws_messages(&ev);
    assert_eq!(msgs.len(), 100);
    for (i, (d, m)) in msgs.iter().enumerate() {
        assert_eq!(*d, Dir::S2c);
        assert_eq!(m.text.as_deref(), Some(format!("message {i}").as_str()));
    }
    assert!(only(&ev, "ws_frame").iter().all(|e| e.frame == frame));
    // frame, message, frame, message...
    let k: Vec<&str> = app_kinds(&ev)
        .into_iter()
        .filter(|k| k.starts_with("ws_"))
        .collect();
    assert!(k.chunks(2).all(|p| p == ["ws_frame", "ws_message"]));
}

/// Sends `data` from one side in segments of at most `mss` bytes.
fn send(c: &mut Conv, from_client: bool, data: &[u8], mss: usize) {
    for piece in data.chunks(mss) {
        c.seg(from_client, ACK, piece);
    }
}

#[test]
fn sixteen_and_sixty_four_bit_lengths() {
    let mut c = conv();
    c.websocket();
    // RFC 6455 §5.2: 0-125 in 7 bits, up to 65535 in 16 bits, beyond in 64 bits.
    let sizes = [125usize, 126, 65_535, 65_536, 200_000];
    for &n in &sizes {
        let payload: Vec<u8> = (0..n).map(|i| (i % 253) as u8).collect();
        send(&mut c, false, &server_frame(true, 2, &payload), 16_000);
        send(
            &mut c,
            true,
            &client_frame(true, 2, &payload, [5, 6, 7, 8]),
            16_000,
        );
    }
    c.close();
    let ev = decode(&c.bytes());
    let frames = ws_frames(&ev);
    assert_eq!(frames.len(), 10, "{}", show(&ev));
    for (i, &n) in sizes.iter().enumerate() {
        let ext = match n {
            0..=125 => 0,
            126..=65_535 => 2,
            _ => 8,
        };
        for (d, f) in frames.iter().filter(|(_, f)| f.payload_len == n as u64) {
            let mask = if *d == Dir::C2s { 4 } else { 0 };
            assert_eq!(f.header_len, 2 + ext + mask, "{n} {d:?}");
            assert!(!f.incomplete);
        }
        let m = ws_messages(&ev);
        let (_, s) = m[2 * i];
        let (_, cl) = m[2 * i + 1];
        for m in [s, cl] {
            assert_eq!((m.opcode, m.len), (Opcode::Binary, n as u64));
            let kept = n.min(Limits::default().max_kept_payload);
            let want: Vec<u8> = (0..kept).map(|i| (i % 253) as u8).collect();
            assert_eq!(m.data.kept[..], want[..], "{n}");
        }
    }
    assert!(violations(&ev).is_empty(), "{}", show(&ev));
}

#[test]
fn a_fragmented_message_with_a_ping_in_between() {
    let mut c = conv();
    c.websocket();
    let k = [0xa, 0xb, 0xc, 0xd];
    c.c2s(&client_frame(false, 1, b"frag", k));
    c.c2s(&client_frame(true, 9, b"between", k));
    c.s2c(&server_frame(true, 10, b"between"));
    c.c2s(&client_frame(false, 0, b"men", k));
    c.c2s(&client_frame(true, 0, b"ted", k));
    c.close();
    let ev = decode(&c.bytes());
    let msgs: Vec<(Dir, Opcode, Option<&str>, u32)> = ws_messages(&ev)
        .iter()
        .map(|(d, m)| (*d, m.opcode, m.text.as_deref(), m.frames))
        .collect();
    assert_eq!(
        msgs,
        [
            (Dir::C2s, Opcode::Ping, Some("between"), 1),
            (Dir::S2c, Opcode::Pong, Some("between"), 1),
            (Dir::C2s, Opcode::Text, Some("fragmented"), 3),
        ],
        "{}",
        show(&ev)
    );
    let fins: Vec<(Opcode, bool)> = ws_frames(&ev)
        .iter()
        .filter(|(d, _)| *d == Dir::C2s)
        .map(|(_, f)| (f.opcode, f.fin))
        .collect();
    use Opcode::*;
    assert_eq!(
        fins,
        [
            (Text, false),
            (Ping, true),
            (Continuation, false),
            (Continuation, true)
        ]
    );
    assert!(violations(&ev).is_empty());
}

/// One close frame from the client on its own connection: its message and violations.
fn close_with(payload: &[u8]) -> (Vec<Event>, WsMessage) {
    let mut c = conv();
    c.websocket();
    c.c2s(&client_frame(true, 8, payload, [7, 7, 7, 7]));
    c.close();
    let ev = decode(&c.bytes());
    let m = ws_messages(&ev)
        .into_iter()
        .find(|(_, m)| m.opcode == Opcode::Close)
        .unwrap()
        .1
        .clone();
    (ev, m)
}

#[test]
fn close_codes() {
    let mut p = 1000u16.to_be_bytes().to_vec();
    p.extend_from_slice(b"done here");
    let (ev, m) = close_with(&p);
    assert_eq!(
        (m.code, m.code_name, m.reason.as_deref()),
        (Some(1000), Some("Normal Closure"), Some("done here"))
    );
    assert!(violations(&ev).is_empty());
    assert!(text(&ev).contains("Close 1000 Normal Closure \"done here\" (11 B)"));

    let (ev, m) = close_with(&1001u16.to_be_bytes());
    assert_eq!((m.code, m.code_name), (Some(1001), Some("Going Away")));
    assert!(m.reason.as_deref().unwrap_or("").is_empty());
    assert!(violations(&ev).is_empty());

    // RFC 6455 §5.5.1: a close frame may have no body at all.
    let (ev, m) = close_with(b"");
    assert_eq!((m.code, m.len), (None, 0));
    assert!(violations(&ev).is_empty(), "{}", show(&ev));

    // A 1-byte body cannot hold a status code.
    let (ev, m) = close_with(&[3]);
    assert_eq!(m.code, None);
    assert_eq!(violations(&ev), ["close_payload_one_byte"], "{}", show(&ev));
    let v = only(&ev, "violation")[0];
    assert_eq!(v.dir, Some(Dir::C2s));
    let EventBody::Violation(v) = &v.body else {
        unreachable!()
    };
    assert_eq!(v.layer, Layer::Websocket);
}

/// permessage-deflate (RFC 7692 §7.2.1): raw deflate, sync flush, the 4-byte trailer removed.
fn deflate(z: &mut Compress, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    z.compress_vec(data, &mut out, FlushCompress::Sync).unwrap();
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

fn deflate_capture(context_takeover: bool) -> (Vec<Event>, Vec<usize>) {
    let params = if context_takeover {
        "permessage-deflate"
    } else {
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    };
    let mut c = conv();
    c.websocket_deflate(params);
    let sentence = "a sentence that repeats, and repeats, and compresses. ";
    let messages = [sentence, sentence, sentence, "something else entirely"];
    let (mut cz, mut sz) = (
        Compress::new(Compression::default(), false),
        Compress::new(Compression::default(), false),
    );
    let mut sizes = Vec::new();
    for m in messages {
        if !context_takeover {
            cz.reset();
            sz.reset();
        }
        let z = deflate(&mut cz, m.as_bytes());
        sizes.push(z.len());
        c.c2s(&client_frame_rsv(true, 4, 1, &z, [3, 1, 4, 1]));
        let z = deflate(&mut sz, m.as_bytes());
        c.s2c(&server_frame_rsv(true, 4, 1, &z));
    }
    c.close();
    (decode(&c.bytes()), sizes)
}

#[test]
fn permessage_deflate_with_context_takeover() {
    let (ev, sizes) = deflate_capture(true);
    // The repeats refer back into the first message: far smaller.
    assert!(sizes[1] < sizes[0] / 4, "{sizes:?}");
    check_inflated(&ev);
}

#[test]
fn permessage_deflate_without_context_takeover() {
    let (ev, sizes) = deflate_capture(false);
    assert_eq!(sizes[0], sizes[1]);
    let EventBody::HttpResponse(r) = &only(&ev, "http_response")[0].body else {
        unreachable!()
    };
    let p = r.upgrade.as_ref().unwrap().deflate.unwrap();
    assert!(p.client_no_context_takeover && p.server_no_context_takeover);
    check_inflated(&ev);
}

fn check_inflated(ev: &[Event]) {
    let sentence = "a sentence that repeats, and repeats, and compresses. ";
    for dir in [Dir::C2s, Dir::S2c] {
        let texts: Vec<(&str, bool, bool)> = ws_messages(ev)
            .iter()
            .filter(|(d, _)| *d == dir)
            .map(|(_, m)| (m.text.as_deref().unwrap(), m.compressed, m.incomplete))
            .collect();
        assert_eq!(
            texts,
            [
                (sentence, true, false),
                (sentence, true, false),
                (sentence, true, false),
                ("something else entirely", true, false)
            ],
            "{dir:?}{}",
            show(ev)
        );
    }
    assert!(violations(ev).is_empty(), "{}", show(ev));
}

#[test]
fn a_frame_claiming_two_to_the_63_bytes_costs_nothing_and_decoding_goes_on() {
    let mut c = conv();
    c.websocket();
    // 64-bit length 2^63 - 1 (the largest with the MSB clear, RFC 6455 §5.2), then a few
    // bytes of it.
    let mut huge = vec![0x82, 127];
    huge.extend_from_slice(&(u64::MAX >> 1).to_be_bytes());
    huge.extend_from_slice(&[0xab; 1000]);
    c.s2c(&huge);
    // The client's direction is unaffected.
    c.c2s(&client_frame(true, 1, b"still decoded", [1, 2, 3, 4]));
    c.s2c(&[0xcd; 1000]);
    c.close();
    // A second connection: exactly 2^63, the length's most significant bit set (RFC 6455
    // §5.2 forbids it), from the client.
    let mut e = Conv::new("10.0.0.1:40002", SERVER);
    e.usec = c.usec;
    e.pcap = c.pcap.clone();
    e.websocket();
    let mut msb = vec![0x81, 0xff];
    msb.extend_from_slice(&(1u64 << 63).to_be_bytes());
    msb.extend_from_slice(&[1, 2, 3, 4]);
    msb.extend_from_slice(&[0x55; 500]);
    e.c2s(&msb);
    e.s2c(&server_frame(true, 1, b"server side fine"));
    e.close();
    // A third connection in the same capture decodes normally.
    let mut d = Conv::new("10.0.0.1:40001", SERVER);
    d.usec = e.usec;
    d.pcap = e.pcap.clone();
    d.websocket();
    d.s2c(&server_frame(true, 1, b"next connection"));
    d.close();
    let ev = decode(&d.bytes());

    let frames = ws_frames(&ev);
    let big: Vec<&&WsFrame> = frames
        .iter()
        .filter(|(_, f)| f.payload_len == u64::MAX >> 1)
        .map(|(_, f)| f)
        .collect();
    assert_eq!(big.len(), 1, "{}", show(&ev));
    assert!(big[0].incomplete);
    assert_eq!(big[0].header_len, 10);
    let texts: Vec<&str> = ws_messages(&ev)
        .iter()
        .filter_map(|(_, m)| m.text.as_deref())
        .collect();
    assert!(texts.contains(&"still decoded"), "{}", show(&ev));
    assert!(texts.contains(&"next connection"), "{}", show(&ev));
    assert!(texts.contains(&"server side fine"), "{}", show(&ev));
    let msb: Vec<&Event> = ev
        .iter()
        .filter(|e| e.conn == Some(1) && e.body.kind() == "violation")
        .collect();
    assert_eq!(msb.len(), 1, "{}", show(&ev));
    assert_eq!(violations(&ev), ["length_msb_set"], "{}", show(&ev));
    assert_eq!(end_state(&ev, 2), ConnState::Closed);
    let binary = ws_messages(&ev)
        .into_iter()
        .find(|(_, m)| m.opcode == Opcode::Binary)
        .unwrap()
        .1;
    assert!(binary.incomplete);
    assert_eq!(binary.len, 2000);
    assert_eq!(end_state(&ev, 0), ConnState::Closed);
    assert_eq!(end_state(&ev, 1), ConnState::Closed);
}

/// No raw control character in the text transcript: nothing below U+0020 but the line feeds,
/// no DEL, no C1 (U+0080..U+009F), no bidi override.
fn assert_terminal_safe(out: &str) {
    for (i, ch) in out.char_indices() {
        let bad = (ch < ' ' && ch != '\n')
            || ch == '\u{7f}'
            || ('\u{80}'..='\u{9f}').contains(&ch)
            || ch == '\u{202e}';
        assert!(!bad, "raw {ch:?} at byte {i}:\n{out}");
    }
}

#[test]
fn ansi_escapes_and_c1_controls_never_reach_the_terminal_raw() {
    let hostile = "\u{1b}[2J\u{1b}]0;owned\u{7}\u{9b}31m\u{85}\u{90}x\u{9c}\r\u{8}\u{7f}\u{202e}";
    let mut c = conv();
    c.handshake();
    // C1 controls as UTF-8 in the request target and an upgrade subprotocol: valid HTTP
    // bytes (obs-text), shown escaped.
    let req = "GET /\u{9b}31m\u{85}chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
               Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
               Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: \u{9b}2J\r\n\r\n";
    c.c2s(req.as_bytes());
    let resp = "HTTP/1.1 101 \u{9b}Switching\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
                Sec-WebSocket-Protocol: \u{9b}2J\r\n\r\n";
    c.s2c(resp.as_bytes());
    let k = [0x11, 0x22, 0x33, 0x44];
    c.c2s(&client_frame(true, 1, hostile.as_bytes(), k));
    c.s2c(&server_frame(true, 1, hostile.as_bytes()));
    c.c2s(&client_frame(true, 9, hostile.as_bytes(), k));
    let mut close = 1000u16.to_be_bytes().to_vec();
    close.extend_from_slice(hostile.as_bytes());
    c.c2s(&client_frame(true, 8, &close, k));
    c.close();
    // A second connection whose request line holds a raw ESC: not HTTP, reported.
    let mut d = Conv::new("10.0.0.1:40001", SERVER);
    d.usec = c.usec;
    d.pcap = c.pcap.clone();
    d.handshake();
    d.c2s(b"GET /\x1b[31mred\x1b]0;title\x07 HTTP/1.1\r\nHost: h\r\n\r\n");
    d.close();
    let ev = decode(&d.bytes());
    let out = text(&ev);

    let m = ws_messages(&ev);
    assert_eq!(m.len(), 4, "{out}");
    for (_, m) in &m[..3] {
        assert_eq!(m.text.as_deref(), Some(hostile), "{out}");
    }
    assert_eq!(m[3].1.reason.as_deref(), Some(hostile), "{out}");
    assert_eq!(request_targets(&ev)[0], "/\u{9b}31m\u{85}chat");
    assert_eq!(only(&ev, "malformed").len(), 1, "{out}");
    assert_terminal_safe(&out);
    // Escaped, so still visible.
    assert!(out.contains("\\u{1b}[2J"), "{out}");
    assert!(out.contains("\\u{9b}31m"), "{out}");
    assert!(out.contains("GET /\\u{9b}31m\\u{85}chat"), "{out}");
    // Every line is one event: no line break came from the payload.
    assert_eq!(out.lines().count(), ev.len());

    // JSON carries the same strings, escaped so that a terminal or a line splitter that
    // breaks at NEL/LS/PS sees nothing special either.
    let js = json(&ev);
    assert_terminal_safe(&js);
    let lines: Vec<&str> = js.split('\n').filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), ev.len());
    let texts: Vec<String> = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "ws_message" && v["opcode"] == "text")
        .map(|v| v["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(texts, [hostile, hostile]);
}

// ---------------------------------------------------------------------------------------
// HTTP limits

#[test]
fn an_http_head_over_the_limit_is_malformed_and_decoding_goes_on() {
    let limits = Limits::default();
    let mut c = conv();
    c.handshake();
    let mut big = b"GET /huge HTTP/1.1\r\nHost: example.test\r\n".to_vec();
    while big.len() <= limits.max_http_head + 1000 {
        big.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    big.extend_from_slice(b"\r\n");
    send(&mut c, true, &big, 1400);
    c.c2s(&request("/small"));
    c.s2c(RESPONSE);
    c.close();
    let ev = decode(&c.bytes());

    let malformed = only(&ev, "malformed");
    assert_eq!(malformed.len(), 1, "{}", show(&ev));
    let EventBody::Malformed(m) = &malformed[0].body else {
        unreachable!()
    };
    assert_eq!(m.layer, Layer::Http);
    assert_eq!(malformed[0].dir, Some(Dir::C2s));
    // The next request parses.
    assert_eq!(request_targets(&ev), ["/small"], "{}", show(&ev));
}

// ---------------------------------------------------------------------------------------
// Link and network layers

/// A small HTTP exchange over `link`: its events without the link-dependent parts.
fn exchange(client: &str, server: &str, link: Link, pcapng: bool) -> Vec<Event> {
    let mut c = Conv::with_link(client, server, link);
    c.handshake();
    c.c2s(&request("/over-any-link"));
    c.s2c(RESPONSE);
    c.close();
    let bytes = if pcapng { c.pcap.pcapng() } else { c.bytes() };
    decode(&bytes)
}

#[test]
fn every_link_type_and_ipv6_decode_the_same_conversation() {
    let want = exchange(CLIENT, SERVER, Link::Ethernet, false);
    assert_eq!(
        app_kinds(&want),
        [
            "connection",
            "handshake",
            "connection_state",
            "http_request",
            "http_response",
            "http_body",
            "connection_state",
            "connection_state",
            "connection_end"
        ],
        "{}",
        show(&want)
    );
    for link in [Link::Raw, Link::Sll, Link::Sll2, Link::Null] {
        for pcapng in [false, true] {
            let ev = exchange(CLIENT, SERVER, link, pcapng);
            assert_eq!(ev, want, "{link:?} pcapng={pcapng}{}", show(&ev));
        }
    }
    for link in [Link::Ethernet, Link::Raw, Link::Sll, Link::Sll2, Link::Null] {
        let ev = exchange("[2001:db8::1]:40000", "[2001:db8::2]:8080", link, false);
        // Same events, except the addresses of the connection (opened and closed).
        let mut got = app_events(&ev);
        if let Some(EventBody::ConnectionEnd(end)) = got.last_mut() {
            assert_eq!(end.client, "[2001:db8::1]:40000".parse().unwrap());
            end.client = CLIENT.parse().unwrap();
            end.server = SERVER.parse().unwrap();
        }
        assert_eq!(got[1..], app_events(&want)[1..], "{link:?}{}", show(&ev));
        let EventBody::Connection(ci) = &ev[0].body else {
            panic!("{link:?}{}", show(&ev))
        };
        assert_eq!(ci.client, "[2001:db8::1]:40000".parse().unwrap());
        assert_eq!(ci.server, "[2001:db8::2]:8080".parse().unwrap());
    }
}

#[test]
fn a_malformed_ip_header_is_one_event_and_the_next_packet_decodes() {
    let mut c = conv();
    c.handshake();
    let good = c.ip_packet(true, PSH | ACK, c.next[0], &request("/next"));
    // IHL 4 (16 bytes): shorter than the minimum IPv4 header.
    let mut bad = good.clone();
    bad[0] = 0x44;
    c.push(&Link::Ethernet.wrap(&bad), None);
    // Total length larger than the frame.
    let mut bad = good.clone();
    bad[2..4].copy_from_slice(&9000u16.to_be_bytes());
    c.push(&Link::Ethernet.wrap(&bad), None);
    c.c2s(&request("/next"));
    c.s2c(RESPONSE);
    c.close();
    let ev = decode(&c.bytes());
    let malformed = only(&ev, "malformed");
    assert_eq!(malformed.len(), 2, "{}", show(&ev));
    for (m, frame) in malformed.iter().zip([4, 5]) {
        assert_eq!(m.frame, frame);
        assert_eq!((m.conn, m.dir), (None, None));
        let EventBody::Malformed(b) = &m.body else {
            unreachable!()
        };
        assert_eq!(b.layer, Layer::Ip, "{b:?}");
    }
    assert_eq!(request_targets(&ev), ["/next"]);
    assert_eq!(only(&ev, "http_request")[0].frame, 6);
    assert_eq!(end_state(&ev, 0), ConnState::Closed);
}

#[test]
fn an_unsupported_link_type_is_one_note_not_one_per_frame() {
    let c = {
        let mut c = conv();
        c.handshake();
        c
    };
    let mut p = Pcap::new(147); // LINKTYPE_USER0
    for r in &c.pcap.records {
        p.record(r.usec, &r.data, None);
    }
    for bytes in [p.bytes(), p.pcapng()] {
        let ev = decode(&bytes);
        // Not damage: a link type synscope does not read, said once, by name.
        assert_eq!(kinds(&ev), ["note"], "{}", show(&ev));
        let EventBody::Note(m) = &ev[0].body else {
            unreachable!()
        };
        assert_eq!(m.layer, Layer::Link);
        assert_eq!(m.note, "link_not_supported");
        assert_eq!(
            m.detail,
            "link type 147 (user-defined) is not supported: its frames are skipped"
        );
        assert_eq!(ev[0].frame, 1);
    }
}

// ---------------------------------------------------------------------------------------
// Connection lifecycle

#[test]
fn port_reuse_after_close_is_a_new_connection() {
    let mut c = conv();
    c.handshake();
    c.c2s(&request("/first"));
    c.s2c(RESPONSE);
    c.close();
    // Same 4-tuple, new ISNs.
    c.next = [900_000, 700_000];
    c.handshake();
    c.c2s(&request("/second"));
    c.s2c(RESPONSE);
    c.close();
    let ev = decode(&c.bytes());

    let conns: Vec<u32> = only(&ev, "connection")
        .iter()
        .map(|e| e.conn.unwrap())
        .collect();
    assert_eq!(conns, [0, 1], "{}", show(&ev));
    assert_eq!(end_state(&ev, 0), ConnState::Closed);
    assert_eq!(end_state(&ev, 1), ConnState::Closed);
    let targets: Vec<(u32, String)> = only(&ev, "http_request")
        .iter()
        .map(|e| match &e.body {
            EventBody::HttpRequest(r) => (e.conn.unwrap(), r.target.clone()),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(targets, [(0, "/first".into()), (1, "/second".into())]);
    // The second SYN is flagged as Wireshark does.
    let syn = ev
        .iter()
        .find(|e| e.conn == Some(1) && e.body.kind() == "tcp")
        .unwrap();
    assert!(tcp_of(syn).analysis.contains(&TcpAnalysis::ReusedPorts));
    // Relative sequence numbers restart.
    assert_eq!(tcp_of(syn).seq, 0);
}

#[test]
fn a_syn_answered_by_rst_is_refused() {
    let mut c = conv();
    c.seg(true, SYN, b"");
    c.seg(false, RST | ACK, b"");
    let ev = decode(&c.bytes());
    assert_eq!(
        kinds(&ev),
        [
            "connection",
            "tcp",
            "tcp",
            "connection_state",
            "connection_end"
        ],
        "{}",
        show(&ev)
    );
    assert_eq!(end_state(&ev, 0), ConnState::Refused);
}

#[test]
fn rst_mid_stream_is_reset() {
    let mut c = conv();
    c.websocket();
    c.c2s(&client_frame(false, 1, b"half a mess", [1, 2, 3, 4]));
    c.seg(false, RST | ACK, b"");
    // Anything after the RST on the 4-tuple delivers nothing.
    c.c2s(&client_frame(true, 0, b"age", [1, 2, 3, 4]));
    let ev = decode(&c.bytes());
    assert_eq!(end_state(&ev, 0), ConnState::Reset, "{}", show(&ev));
    let end = only(&ev, "connection_end")[0];
    assert_eq!(end.frame, 7);
    // The message cut by the reset is reported incomplete, before the end.
    let m = ws_messages(&ev);
    assert_eq!(m.len(), 1, "{}", show(&ev));
    assert!(m[0].1.incomplete);
    assert_eq!(m[0].1.text.as_deref(), Some("half a mess"));
    let pos = |k: &str| ev.iter().position(|e| e.body.kind() == k).unwrap();
    assert!(pos("ws_message") < pos("connection_end"));
}

#[test]
fn a_snaplen_cut_packet_is_truncated_and_its_missing_bytes_a_gap() {
    let mut c = conv();
    c.websocket();
    let k = [4, 3, 2, 1];
    let frame = client_frame(true, 1, &[b'z'; 300], k);
    let p = c.packet(true, PSH | ACK, c.next[0], &frame);
    // Keep the headers and 100 bytes of payload (Ethernet 14 + IPv4 20 + TCP 20).
    c.push(&p, Some(54 + 100));
    c.advance(true, PSH, frame.len());
    c.c2s(&client_frame(true, 1, b"next", k));
    c.close();
    let ev = decode(&c.bytes());

    let cut = ev
        .iter()
        .find(|e| e.frame == 6 && e.body.kind() == "tcp")
        .unwrap();
    assert!(tcp_of(cut).truncated);
    assert_eq!(tcp_of(cut).len as usize, frame.len());
    let gaps = only(&ev, "gap");
    assert_eq!(gaps.len(), 1, "{}", show(&ev));
    let EventBody::Gap(g) = gaps[0].body else {
        unreachable!()
    };
    assert_eq!(g.reason, GapReason::Truncated);
    assert_eq!(g.len as usize, frame.len() - 100);
    assert!(text(&ev).contains("[truncated]"));
    // The cut frame is incomplete; the next one decodes.
    let m: Vec<(Option<&str>, bool)> = ws_messages(&ev)
        .iter()
        .map(|(_, m)| (m.text.as_deref(), m.incomplete))
        .collect();
    assert_eq!(m.len(), 2, "{}", show(&ev));
    assert!(m[0].1);
    assert_eq!(m[1], (Some("next"), false));
}

#[test]
fn joined_late_guesses_the_client_from_the_ports() {
    // No handshake in the capture; the first packet seen is the server's.
    let mut c = Conv::new("10.0.0.1:51234", "10.0.0.2:80");
    c.s2c(RESPONSE);
    c.c2s(&request("/late"));
    c.s2c(RESPONSE);
    c.seg(false, FIN | ACK, b"");
    c.seg(true, FIN | ACK, b"");
    c.seg(false, ACK, b"");
    let ev = decode(&c.bytes());

    let EventBody::Connection(ci) = &ev[0].body else {
        panic!("{}", show(&ev))
    };
    assert!(ci.joined_late);
    assert_eq!(ci.client, "10.0.0.1:51234".parse().unwrap());
    assert_eq!(ci.server, "10.0.0.2:80".parse().unwrap());
    assert!(text(&ev).contains("joined late"));
    assert_eq!(ev[1].dir, Some(Dir::S2c));
    assert!(only(&ev, "handshake").is_empty());
    assert_eq!(request_targets(&ev), ["/late"], "{}", show(&ev));
    let statuses = only(&ev, "http_response").len();
    assert!(statuses >= 1);
    assert_eq!(end_state(&ev, 0), ConnState::Closed);
    let EventBody::HttpRequest(r) = &only(&ev, "http_request")[0].body else {
        unreachable!()
    };
    assert_eq!(r.body, BodyKind::None);
}

#[test]
fn a_websocket_joined_after_its_upgrade_request_cannot_check_the_accept() {
    let mut c = conv();
    // The capture starts with the server's 101: the request (and its key) was never seen.
    c.s2c(UPGRADE_RESPONSE);
    c.c2s(&client_frame(true, 1, b"late but decoded", [1, 2, 3, 4]));
    c.s2c(&server_frame(true, 1, b"echo"));
    c.close();
    let ev = decode(&c.bytes());
    let out = text(&ev);

    let EventBody::Connection(ci) = &ev[0].body else {
        panic!("{out}")
    };
    assert!(ci.joined_late);
    assert_eq!(ci.server, SERVER.parse().unwrap());
    let EventBody::HttpResponse(r) = &only(&ev, "http_response")[0].body else {
        unreachable!()
    };
    let up = r.upgrade.as_ref().unwrap();
    assert_eq!((up.key.as_str(), up.accept_valid), ("", false));
    // Unknown, not a mismatch.
    assert!(
        out.contains("101 Switching Protocols  accept ? (request not captured)"),
        "{out}"
    );
    assert!(!out.contains("mismatch"), "{out}");
    let texts: Vec<&str> = ws_messages(&ev)
        .iter()
        .map(|(_, m)| m.text.as_deref().unwrap())
        .collect();
    assert_eq!(texts, ["late but decoded", "echo"], "{out}");
}
