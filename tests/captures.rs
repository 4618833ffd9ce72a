//! End to end over the committed real captures (`assets/captures/README.md` says what each
//! holds) and the demo's built-in recording (`assets/demo.pcapng`): the whole engine, then the
//! text transcript and the JSON Lines output exactly as `synscope decode` writes them,
//! snapshotted. Each test also asserts the facts the README states, so a snapshot accepted by
//! mistake still fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use synscope::capture::open_path;
use synscope::engine::Engine;
use synscope::model::{
    ConnId, ConnState, ConnectionEnd, Dir, Event, EventBody, HttpBody, HttpRequest, HttpResponse,
    Limits, Opcode, Pattern, PatternReport, SocketIoPacket, SseEvent, StompFrame, TcpAnalysis,
    TcpSegment, WsFrame, WsMessage,
};
use synscope::view;

struct Decoded {
    events: Vec<Event>,
    text: String,
    json: String,
}

/// Decodes one capture of `assets/captures/` as `synscope decode` does and renders both
/// outputs.
fn decode(name: &str) -> Decoded {
    decode_asset(&format!("captures/{name}"))
}

/// [`decode`] for a capture anywhere under `assets/`.
fn decode_asset(path: &str) -> Decoded {
    let name = path;
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets")
        .join(path);
    let mut r = open_path(&path).unwrap();
    let mut engine = Engine::new(Limits::default());
    let mut events = Vec::new();
    while let Some(f) = r.next_frame().unwrap() {
        engine.ingest(&f, &mut events);
    }
    engine.finish(&mut events);
    assert!(!r.truncated_tail(), "{name} is cut short");
    let (mut text, mut json) = (Vec::new(), Vec::new());
    for e in &events {
        view::text::write_event(&mut text, e).unwrap();
        view::json::write_event(&mut json, e).unwrap();
    }
    let d = Decoded {
        events,
        text: String::from_utf8(text).unwrap(),
        json: String::from_utf8(json).unwrap(),
    };
    sane(&d);
    d
}

macro_rules! snap {
    ($name:literal, $file:literal) => {{
        let d = decode($file);
        insta::assert_snapshot!(concat!($name, "_text"), d.text);
        insta::assert_snapshot!(concat!($name, "_json"), d.json);
        d
    }};
}

/// What holds for every real capture: clean traffic, so no violation, malformed packet or gap;
/// every connection announced first and ended once; one output line per event.
fn sane(d: &Decoded) {
    for e in &d.events {
        assert!(
            !matches!(
                e.body,
                EventBody::Violation(_) | EventBody::Malformed(_) | EventBody::Gap(_)
            ),
            "unexpected {e:?}"
        );
    }
    let conns = conn_ids(&d.events);
    for c in &conns {
        let of: Vec<&Event> = d.events.iter().filter(|e| e.conn == Some(*c)).collect();
        assert!(matches!(of[0].body, EventBody::Connection(_)));
        assert!(matches!(
            of.last().unwrap().body,
            EventBody::ConnectionEnd(_)
        ));
        assert_eq!(ends(&d.events).iter().filter(|(id, _)| id == c).count(), 1);
        assert!(of.windows(2).all(|w| w[0].frame <= w[1].frame));
    }
    assert_eq!(d.text.lines().count(), d.events.len());
    assert_eq!(d.json.lines().count(), d.events.len());
}

fn conn_ids(events: &[Event]) -> Vec<ConnId> {
    events
        .iter()
        .filter(|e| matches!(e.body, EventBody::Connection(_)))
        .map(|e| e.conn.unwrap())
        .collect()
}

fn tcp(events: &[Event]) -> Vec<(Dir, &TcpSegment)> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Tcp(s) => Some((e.dir.unwrap(), s)),
            _ => None,
        })
        .collect()
}

fn requests(events: &[Event]) -> Vec<&HttpRequest> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::HttpRequest(r) => Some(&**r),
            _ => None,
        })
        .collect()
}

fn responses(events: &[Event]) -> Vec<&HttpResponse> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::HttpResponse(r) => Some(&**r),
            _ => None,
        })
        .collect()
}

fn statuses(events: &[Event]) -> Vec<u16> {
    responses(events).iter().map(|r| r.status).collect()
}

fn targets(events: &[Event]) -> Vec<String> {
    requests(events)
        .iter()
        .map(|r| format!("{} {}", r.method, r.target))
        .collect()
}

fn bodies(events: &[Event], dir: Dir) -> Vec<(u64, &HttpBody)> {
    events
        .iter()
        .filter(|e| e.dir == Some(dir))
        .filter_map(|e| match &e.body {
            EventBody::HttpBody(b) => Some((e.frame, &**b)),
            _ => None,
        })
        .collect()
}

fn frames(events: &[Event], dir: Dir) -> Vec<&WsFrame> {
    events
        .iter()
        .filter(|e| e.dir == Some(dir))
        .filter_map(|e| match &e.body {
            EventBody::WsFrame(f) => Some(f),
            _ => None,
        })
        .collect()
}

fn messages(events: &[Event], dir: Dir) -> Vec<&WsMessage> {
    events
        .iter()
        .filter(|e| e.dir == Some(dir))
        .filter_map(|e| match &e.body {
            EventBody::WsMessage(m) => Some(&**m),
            _ => None,
        })
        .collect()
}

/// Data messages (text, binary, close) of one direction, without the pings and pongs whose
/// place depends on timing.
fn data_messages(events: &[Event], dir: Dir) -> Vec<&WsMessage> {
    messages(events, dir)
        .into_iter()
        .filter(|m| !matches!(m.opcode, Opcode::Ping | Opcode::Pong))
        .collect()
}

fn texts(msgs: &[&WsMessage], opcode: Opcode) -> Vec<String> {
    msgs.iter()
        .filter(|m| m.opcode == opcode)
        .map(|m| m.text.clone().unwrap())
        .collect()
}

fn ends(events: &[Event]) -> Vec<(ConnId, &ConnectionEnd)> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::ConnectionEnd(c) => Some((e.conn.unwrap(), &**c)),
            _ => None,
        })
        .collect()
}

fn handshakes(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e.body, EventBody::Handshake(_)))
        .count()
}

/// The direction of the first FIN of connection `conn`.
fn first_fin(events: &[Event], conn: ConnId) -> Dir {
    events
        .iter()
        .find(|e| {
            e.conn == Some(conn)
                && matches!(&e.body, EventBody::Tcp(s) if s.flags.has(synscope::model::tcp_flags::FIN))
        })
        .unwrap()
        .dir
        .unwrap()
}

/// The events of connection `conn`.
fn of_conn(events: &[Event], conn: ConnId) -> Vec<Event> {
    events
        .iter()
        .filter(|e| e.conn == Some(conn))
        .cloned()
        .collect()
}

/// The text previews of the HTTP bodies of one direction ("" for a body without one).
fn body_texts(events: &[Event], dir: Dir) -> Vec<String> {
    bodies(events, dir)
        .iter()
        .map(|(_, b)| b.text.clone().unwrap_or_default())
        .collect()
}

/// How many WebSocket frames of each opcode: text, binary, close, ping, pong, continuation.
fn frame_counts(events: &[Event]) -> [usize; 6] {
    let all: Vec<&WsFrame> = [frames(events, Dir::C2s), frames(events, Dir::S2c)].concat();
    let count = |o: Opcode| all.iter().filter(|f| f.opcode == o).count();
    [
        Opcode::Text,
        Opcode::Binary,
        Opcode::Close,
        Opcode::Ping,
        Opcode::Pong,
        Opcode::Continuation,
    ]
    .map(count)
}

/// The final pattern report of each conversation, in order of conversation.
fn patterns(events: &[Event]) -> Vec<&PatternReport> {
    let mut p: Vec<&PatternReport> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Pattern(p) if p.is_final => Some(&**p),
            _ => None,
        })
        .collect();
    p.sort_by_key(|p| p.conversation);
    p
}

/// The `websocket` scenario (README "WebSocket"): the same facts hold for the three
/// recordings of it, and for the WebSocket connection of `lesson_all` and the demo.
fn check_ws_chat(events: &[Event]) {
    let conn = events[0].conn.unwrap();
    assert_eq!(conn_ids(events), vec![conn]);
    assert_eq!(handshakes(events), 1);
    let req = requests(events);
    assert_eq!(req.len(), 1);
    assert_eq!(
        (req[0].method.as_str(), req[0].target.as_str()),
        ("GET", "/ws")
    );
    let resp = responses(events);
    assert_eq!(resp.len(), 1);
    assert_eq!(resp[0].status, 101);
    let up = resp[0].upgrade.as_ref().unwrap();
    assert!(up.accept_valid);
    assert_eq!(up.accept, up.accept_expected);
    assert_eq!(up.deflate, None);

    // tshark's counts: 8 text, 2 continuation, 2 binary, 5 ping, 5 pong, 2 close.
    let all: Vec<&WsFrame> = [frames(events, Dir::C2s), frames(events, Dir::S2c)].concat();
    let count = |o: Opcode| all.iter().filter(|f| f.opcode == o).count();
    assert_eq!(
        [
            Opcode::Text,
            Opcode::Continuation,
            Opcode::Binary,
            Opcode::Ping,
            Opcode::Pong,
            Opcode::Close
        ]
        .map(count),
        [8, 2, 2, 5, 5, 2]
    );
    // RFC 6455 §5.3: client frames masked, server frames not.
    assert!(frames(events, Dir::C2s)
        .iter()
        .all(|f| f.masked && f.mask_key.is_some()));
    assert!(frames(events, Dir::S2c)
        .iter()
        .all(|f| !f.masked && f.mask_key.is_none()));

    let binary: Vec<u8> = (0..16).chain([0xfe, 0xff, 0x00, 0x80]).collect();
    let digits: String = "0123456789".repeat(30);
    for dir in [Dir::C2s, Dir::S2c] {
        let m = data_messages(events, dir);
        let kinds: Vec<Opcode> = m.iter().map(|m| m.opcode).collect();
        use Opcode::*;
        assert_eq!(kinds, [Text, Text, Binary, Text, Text, Close], "{dir:?}");
        assert_eq!(
            texts(&m, Text)[..2],
            ["hello".to_string(), "안녕하세요, 웹소켓!".to_string()]
        );
        assert_eq!(m[1].len, 27);
        assert_eq!((m[2].len, &m[2].data.kept[..]), (20, &binary[..]));
        // 300 bytes, 16-bit extended length; the preview stops at the text limit.
        assert_eq!(m[3].len, 300);
        assert_eq!(m[3].text.as_deref(), Some(&digits[..256]));
        assert_eq!(m[3].data.kept[..], *digits.as_bytes());
        assert_eq!(m[4].text.as_deref(), Some("fragmented"));
        assert_eq!(m[5].code, Some(1000));
        assert_eq!(m[5].reason.as_deref(), Some("bye"));
        assert!(m.iter().all(|m| !m.compressed && !m.incomplete));
    }
    let long: Vec<(Dir, u8)> = [Dir::C2s, Dir::S2c]
        .into_iter()
        .flat_map(|d| {
            frames(events, d)
                .into_iter()
                .filter(|f| f.payload_len == 300)
                .map(move |f| (d, f.header_len))
        })
        .collect();
    assert_eq!(long, [(Dir::C2s, 8), (Dir::S2c, 4)]);
    // The client's fragmented message: 3 frames, a ping between the first two.
    let c2s = messages(events, Dir::C2s);
    let frag = c2s.iter().position(|m| m.frames == 3).unwrap();
    assert_eq!(c2s[frag].text.as_deref(), Some("fragmented"));
    assert_eq!(c2s[frag - 1].text.as_deref(), Some("between fragments"));
    assert_eq!(c2s[frag - 1].opcode, Opcode::Ping);
    // Every ping is answered by a pong with its payload, the other way.
    for dir in [Dir::C2s, Dir::S2c] {
        let pings = texts(&messages(events, dir), Opcode::Ping);
        let pongs = texts(&messages(events, dir.rev()), Opcode::Pong);
        assert_eq!(pings, pongs, "{dir:?}");
    }
    assert_eq!(
        texts(&messages(events, Dir::S2c), Opcode::Ping),
        ["server ping 1", "server ping 2", "server ping 3"]
    );
    // The server closes the TCP connection first (RFC 6455 §7.1.1).
    assert_eq!(first_fin(events, conn), Dir::S2c);
    let end = ends(events);
    assert_eq!(end.len(), 1);
    assert_eq!(end[0].1.state, ConnState::Closed);
    assert!(end[0].1.websocket);
}

#[test]
fn ws_chat() {
    let d = snap!("ws_chat", "ws_chat.pcapng");
    check_ws_chat(&d.events);
}

#[test]
fn ws_chat_nano() {
    let d = snap!("ws_chat_nano", "ws_chat_nano.pcap");
    check_ws_chat(&d.events);
    // Nanosecond timestamps survive into `t`.
    assert!(d.events.iter().any(|e| e.t.0 % 1000 != 0));
}

#[test]
fn ws_ipv6() {
    let d = snap!("ws_ipv6", "ws_ipv6.pcapng");
    check_ws_chat(&d.events);
    let EventBody::Connection(c) = &d.events[0].body else {
        panic!("not a connection: {:?}", d.events[0]);
    };
    assert!(c.client.is_ipv6() && c.server.is_ipv6());
    assert!(d.text.contains("connection [::1]:"));
}

#[test]
fn ws_large() {
    let d = snap!("ws_large", "ws_large.pcapng");
    let ev = &d.events;
    let data: Vec<u8> = (0..70_000).map(|i| (i % 251) as u8).collect();
    for (dir, header_len) in [(Dir::C2s, 14), (Dir::S2c, 10)] {
        let big: Vec<&WsFrame> = frames(ev, dir)
            .into_iter()
            .filter(|f| f.opcode == Opcode::Binary)
            .collect();
        assert_eq!(big.len(), 1, "{dir:?}");
        // 64-bit extended length (payload_length 127), masked only from the client.
        assert_eq!(
            (big[0].payload_len, big[0].header_len),
            (70_000, header_len)
        );
        assert!(!big[0].incomplete);
        let m = data_messages(ev, dir);
        assert_eq!(m.len(), 2);
        assert_eq!(
            (m[0].opcode, m[0].len, m[0].frames),
            (Opcode::Binary, 70_000, 1)
        );
        // Only the first bytes are kept, unmasked.
        assert_eq!(m[0].data.total, 70_000);
        assert_eq!(
            m[0].data.kept[..],
            data[..Limits::default().max_kept_payload]
        );
        assert_eq!(
            (m[1].code, m[1].reason.as_deref()),
            (Some(1000), Some("bye"))
        );
    }
    // TCP cut each message into 32768 + 32768 + rest; tshark warns "window full" twice.
    let lens = |dir: Dir| -> Vec<u32> {
        tcp(ev)
            .into_iter()
            .filter(|(d, s)| *d == dir && s.len > 1000)
            .map(|(_, s)| s.len)
            .collect()
    };
    assert_eq!(lens(Dir::C2s), [32768, 32768, 4478]);
    assert_eq!(lens(Dir::S2c), [32768, 32768, 4474]);
    let full = tcp(ev)
        .iter()
        .filter(|(_, s)| s.analysis.contains(&TcpAnalysis::WindowFull))
        .count();
    assert_eq!(full, 2);
    assert_eq!(ends(ev)[0].1.state, ConnState::Closed);
}

#[test]
fn ws_deflate_large() {
    // Python websockets with permessage-deflate (context takeover), messages of 64 KiB and
    // more (scripts/peers/deflate.py --mode large), each echoed; what the peer sent is in
    // ws_deflate_large.peer.jsonl: every message inflates to its length, and, with a kept
    // payload large enough, to its bytes.
    let d = snap!("ws_deflate_large", "ws_deflate_large.pcapng");
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/captures/ws_deflate_large.peer.jsonl");
    let sent: Vec<serde_json::Value> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut whole = Vec::new();
    let mut r = open_path(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/captures/ws_deflate_large.pcapng"),
    )
    .unwrap();
    let mut engine = Engine::new(Limits {
        max_kept_payload: 1 << 20,
        ..Limits::default()
    });
    while let Some(f) = r.next_frame().unwrap() {
        engine.ingest(&f, &mut whole);
    }
    engine.finish(&mut whole);
    for dir in [Dir::C2s, Dir::S2c] {
        let m: Vec<&WsMessage> = data_messages(&d.events, dir)
            .into_iter()
            .filter(|m| matches!(m.opcode, Opcode::Text | Opcode::Binary))
            .collect();
        let w: Vec<&WsMessage> = data_messages(&whole, dir)
            .into_iter()
            .filter(|m| matches!(m.opcode, Opcode::Text | Opcode::Binary))
            .collect();
        assert_eq!(m.len(), sent.len(), "{dir:?}");
        for (i, want) in sent.iter().enumerate() {
            let ctx = format!("{dir:?} message {i}");
            assert!(m[i].compressed && !m[i].incomplete, "{ctx}");
            assert_eq!(Some(m[i].len), want["len"].as_u64(), "{ctx}");
            let kind = if m[i].opcode == Opcode::Text {
                "text"
            } else {
                "binary"
            };
            assert_eq!(Some(kind), want["opcode"].as_str(), "{ctx}");
            use sha1::{Digest, Sha1};
            let hex: String = Sha1::digest(&w[i].data.kept)
                .iter()
                .map(|x| format!("{x:02x}"))
                .collect();
            assert_eq!(Some(hex.as_str()), want["sha1"].as_str(), "{ctx}");
        }
        // The last one came as four fragments from the client, and Python's compressor
        // flushes a fifth, empty-ish continuation frame (as in ws_deflate).
        if dir == Dir::C2s {
            assert_eq!(m[4].frames, 5);
        }
    }
}

const SENTENCE: &str = "WebSocket messages that repeat compress well when the context is kept. ";

/// The permessage-deflate scenario (README "permessage-deflate"); `sizes` are the compressed
/// payload lengths of the first three client messages.
fn check_deflate(events: &[Event], sizes: [u64; 3]) {
    let korean = "웹소켓 메시지가 반복되면 압축이 잘 된다. ".repeat(2);
    let fragmented = format!("fragmented and compressed {SENTENCE}");
    let sent = [
        SENTENCE.to_string(),
        SENTENCE.to_string(),
        SENTENCE.repeat(3),
        korean,
        SENTENCE.to_string(),
        fragmented,
    ];
    let binary: Vec<u8> = (0..64).cycle().take(256).collect();
    for dir in [Dir::C2s, Dir::S2c] {
        let m = data_messages(events, dir);
        // Inflated texts equal what was sent, also where the inflate context carried over.
        assert_eq!(texts(&m, Opcode::Text), sent, "{dir:?}");
        assert!(m
            .iter()
            .filter(|m| m.opcode != Opcode::Close)
            .all(|m| m.compressed));
        assert!(m.iter().all(|m| !m.incomplete));
        let bin: Vec<&&WsMessage> = m.iter().filter(|m| m.opcode == Opcode::Binary).collect();
        assert_eq!(bin.len(), 1);
        assert_eq!((bin[0].len, &bin[0].data.kept[..]), (256, &binary[..]));
        assert_eq!(m.last().unwrap().code, Some(1000));
        // RFC 7692 §6.1: RSV1 on every compressed message's first frame, never on a
        // continuation or control frame.
        for f in frames(events, dir) {
            let first_of_data = matches!(f.opcode, Opcode::Text | Opcode::Binary);
            assert_eq!(f.rsv1, first_of_data, "{dir:?} {f:?}");
        }
        let ping = texts(&messages(events, dir), Opcode::Ping);
        let pong = texts(&messages(events, dir), Opcode::Pong);
        match dir {
            Dir::C2s => assert_eq!((ping, pong), (vec!["deflate ping".into()], vec![])),
            Dir::S2c => assert_eq!((ping, pong), (vec![], vec!["deflate ping".into()])),
        }
    }
    let c2s = frames(events, Dir::C2s);
    let first: Vec<u64> = c2s.iter().take(3).map(|f| f.payload_len).collect();
    assert_eq!(first, sizes);
    // The client's fragmented message: text + 3 continuations (the last a 1-byte frame);
    // the server echoes it in one frame.
    let cont: Vec<u64> = c2s
        .iter()
        .filter(|f| f.opcode == Opcode::Continuation)
        .map(|f| f.payload_len)
        .collect();
    assert_eq!(cont.len(), 3);
    assert_eq!(cont[2], 1);
    let frag = messages(events, Dir::C2s)
        .into_iter()
        .find(|m| m.text.as_deref().unwrap_or("").starts_with("fragmented"))
        .unwrap()
        .frames;
    assert_eq!(frag, 4);
    assert!(frames(events, Dir::S2c)
        .iter()
        .all(|f| f.opcode != Opcode::Continuation));
    assert_eq!(ends(events)[0].1.state, ConnState::Closed);
}

#[test]
fn ws_deflate() {
    let d = snap!("ws_deflate", "ws_deflate.pcapng");
    let up = responses(&d.events)[0].upgrade.clone().unwrap();
    assert_eq!(up.deflate, Some(Default::default()));
    // Context takeover: the repeated sentence costs 65, then 6, then 5 bytes.
    check_deflate(&d.events, [65, 6, 5]);
}

#[test]
fn ws_deflate_no_context() {
    let d = snap!("ws_deflate_no_context", "ws_deflate_no_context.pcapng");
    let p = responses(&d.events)[0]
        .upgrade
        .clone()
        .unwrap()
        .deflate
        .unwrap();
    assert!(p.server_no_context_takeover && p.client_no_context_takeover);
    assert_eq!(
        (p.server_max_window_bits, p.client_max_window_bits),
        (10, 10)
    );
    // No context takeover: the same sentence costs 65 bytes every time.
    check_deflate(&d.events, [65, 65, 69]);
}

/// The `http` scenario: four requests on one kept-alive connection, client closes first.
fn check_http_keepalive(ev: &[Event]) {
    assert_eq!(conn_ids(ev), vec![0]);
    assert_eq!(
        targets(ev),
        ["GET /", "POST /send", "GET /poll?since=1", "GET /missing"]
    );
    assert_eq!(statuses(ev), [200, 201, 200, 404]);
    let methods: Vec<Option<&str>> = responses(ev)
        .iter()
        .map(|r| r.request_method.as_deref())
        .collect();
    assert_eq!(
        methods,
        [Some("GET"), Some("POST"), Some("GET"), Some("GET")]
    );
    let sent = "새 소식: hello from the demo";
    let c2s = bodies(ev, Dir::C2s);
    assert_eq!(c2s.len(), 1);
    assert_eq!((c2s[0].1.len, c2s[0].1.end), (sent.len() as u64, true));
    assert_eq!(c2s[0].1.data.kept[..], *sent.as_bytes());
    let s2c = bodies(ev, Dir::S2c);
    let lens: Vec<u64> = s2c.iter().map(|(_, b)| b.len).collect();
    assert_eq!(lens[0], 391);
    assert!(
        s2c[0].1.data.kept.starts_with(b"<!doctype html>")
            || s2c[0].1.data.kept.starts_with(b"<!DOCTYPE html>")
    );
    assert_eq!(s2c[1].1.data.kept[..], *b"{\"id\":2}");
    assert!(s2c.iter().all(|(_, b)| b.end && b.chunk.is_none()));
    assert_eq!(first_fin(ev, 0), Dir::C2s);
    assert_eq!(ends(ev)[0].1.state, ConnState::Closed);
    assert!(!ends(ev)[0].1.websocket);
}

#[test]
fn http_keepalive() {
    let d = snap!("http_keepalive", "http_keepalive.pcapng");
    check_http_keepalive(&d.events);
}

#[test]
fn http_keepalive_usec() {
    let d = snap!("http_keepalive_usec", "http_keepalive_usec.pcap");
    check_http_keepalive(&d.events);
    // Microsecond timestamps: every `t` is a whole number of microseconds.
    assert!(d.events.iter().all(|e| e.t.0 % 1000 == 0));
}

#[test]
fn http_pipelined() {
    let d = snap!("http_pipelined", "http_pipelined.pcapng");
    let ev = &d.events;
    assert_eq!(targets(ev), ["GET /poll?since=0", "GET /", "GET /missing"]);
    // The three requests ride in one segment: all three complete at its frame.
    let req_frames: Vec<u64> = ev
        .iter()
        .filter(|e| matches!(e.body, EventBody::HttpRequest(_)))
        .map(|e| e.frame)
        .collect();
    assert_eq!(req_frames, [4, 4, 4]);
    assert_eq!(statuses(ev), [200, 200, 404]);
    let resp_frames: Vec<u64> = ev
        .iter()
        .filter(|e| matches!(e.body, EventBody::HttpResponse(_)))
        .map(|e| e.frame)
        .collect();
    assert!(resp_frames.windows(2).all(|w| w[0] < w[1]));
    // Each answer matched in order: the home page is the 391-byte one.
    let lens: Vec<u64> = bodies(ev, Dir::S2c).iter().map(|(_, b)| b.len).collect();
    assert_eq!(lens[1], 391);
    assert_eq!(first_fin(ev, 0), Dir::S2c);
    assert_eq!(ends(ev)[0].1.state, ConnState::Closed);
}

const POLL_STATUSES: [u16; 6] = [200, 204, 204, 200, 204, 204];

#[test]
fn polling() {
    let d = snap!("polling", "polling.pcapng");
    let ev = &d.events;
    assert_eq!(conn_ids(ev), (0..6).collect::<Vec<_>>());
    assert_eq!(handshakes(ev), 6);
    assert_eq!(statuses(ev), POLL_STATUSES);
    for r in requests(ev) {
        assert!(r.target.starts_with("/poll?since="));
        assert!(r
            .headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("connection") && v == "close"));
    }
    // The README says the server closes first every time; the recording shows the server's
    // FIN first on the first three connections and the client's on the last three (tshark
    // agrees, frames 38, 48, 58).
    let first: Vec<Dir> = (0..6).map(|c| first_fin(ev, c)).collect();
    use Dir::*;
    assert_eq!(first, [S2c, S2c, S2c, C2s, C2s, C2s]);
    let fins = tcp(ev)
        .iter()
        .filter(|(_, s)| s.flags.has(synscope::model::tcp_flags::FIN))
        .count();
    assert_eq!(fins, 12);
    assert!(ends(ev).iter().all(|(_, e)| e.state == ConnState::Closed));
    // A 204 carries no body.
    assert_eq!(bodies(ev, Dir::S2c).len(), 2);
}

#[test]
fn polling_keepalive() {
    let d = snap!("polling_keepalive", "polling_keepalive.pcapng");
    assert_eq!(conn_ids(&d.events), vec![0]);
    assert_eq!(statuses(&d.events), POLL_STATUSES);
    assert_eq!(requests(&d.events).len(), 6);
    assert_eq!(ends(&d.events)[0].1.state, ConnState::Closed);
}

#[test]
fn long_polling() {
    let d = snap!("long_polling", "long_polling.pcapng");
    let ev = &d.events;
    assert_eq!(
        targets(ev),
        [
            "GET /long-poll?since=0",
            "GET /long-poll?since=1",
            "GET /long-poll?since=2",
            "GET /long-poll?since=3&timeout_ms=20",
        ]
    );
    assert_eq!(statuses(ev), [200, 200, 200, 204]);
    // The last poll is held its 20 ms timeout before the 204.
    let at = |kind: &str| -> Vec<u64> {
        ev.iter()
            .filter(|e| e.body.kind() == kind)
            .map(|e| e.t.0)
            .collect()
    };
    let (req, resp) = (at("http_request"), at("http_response"));
    assert!(resp[3] - req[3] >= 20_000_000);
    assert_eq!(ends(ev)[0].1.state, ConnState::Closed);
}

#[test]
fn streaming_chunked() {
    let d = snap!("streaming_chunked", "streaming_chunked.pcapng");
    let ev = &d.events;
    assert_eq!(targets(ev), ["GET /stream?n=5&every_ms=20"]);
    let r = responses(ev);
    assert_eq!(r[0].body, synscope::model::BodyKind::Chunked);
    let head_frame = ev
        .iter()
        .find(|e| matches!(e.body, EventBody::HttpResponse(_)))
        .unwrap()
        .frame;
    let chunks = bodies(ev, Dir::S2c);
    let data: Vec<String> = chunks
        .iter()
        .map(|(_, b)| String::from_utf8(b.data.kept.to_vec()).unwrap())
        .collect();
    let want: Vec<String> = (1..=5)
        .map(|i| format!("line {i} of 5\n"))
        .chain([String::new()])
        .collect();
    assert_eq!(data, want);
    let numbers: Vec<Option<u32>> = chunks.iter().map(|(_, b)| b.chunk).collect();
    assert_eq!(numbers, (0..6).map(Some).collect::<Vec<_>>());
    let ended: Vec<bool> = chunks.iter().map(|(_, b)| b.end).collect();
    assert_eq!(ended, [false, false, false, false, false, true]);
    // The head and chunk 1 share a segment; chunks 2..5 one segment each; the terminating
    // chunk rides with chunk 5.
    let at: Vec<u64> = chunks.iter().map(|(f, _)| *f).collect();
    assert_eq!(at[0], head_frame);
    assert!(at[..5].windows(2).all(|w| w[0] < w[1]));
    assert_eq!(at[4], at[5]);
    assert_eq!(ends(ev)[0].1.state, ConnState::Closed);
}

#[test]
fn sse() {
    let d = snap!("sse", "sse.pcapng");
    let ev = &d.events;
    assert_eq!(targets(ev), ["GET /events?n=5&every_ms=20"]);
    let r = responses(ev);
    assert!(r[0]
        .headers
        .iter()
        .any(|(n, v)| n == "content-type" && v == "text/event-stream"));
    assert_eq!(r[0].body, synscope::model::BodyKind::Chunked);
    let chunks = bodies(ev, Dir::S2c);
    let data: Vec<String> = chunks
        .iter()
        .map(|(_, b)| String::from_utf8(b.data.kept.to_vec()).unwrap())
        .collect();
    assert_eq!(data.len(), 7);
    assert!(data[0].starts_with(": synscope demo"));
    assert!(data[0].contains("retry: 3000\n"));
    for (i, e) in data.iter().enumerate().take(6).skip(1) {
        assert!(e.contains("event: news\n"), "{e:?}");
        assert!(e.contains(&format!("id: {i}\n")), "{e:?}");
        assert!(e.contains(&format!("data: news {i} of 5\n")), "{e:?}");
    }
    assert!(data[2].contains("data: second line\n"));
    assert_eq!(data[6], "");
    assert!(chunks[6].1.end);
    // Head, comment and event 1 in the first segment; event 5 and the end in the last.
    assert_eq!(chunks[0].0, chunks[1].0);
    assert_eq!(chunks[5].0, chunks[6].0);
    assert_eq!(ends(ev)[0].1.state, ConnState::Closed);
}

#[test]
fn refused() {
    let d = snap!("refused", "refused.pcapng");
    let ev = &d.events;
    let seg = tcp(ev);
    assert_eq!(seg.len(), 2);
    assert_eq!(seg[0].0, Dir::C2s);
    assert_eq!(seg[1].0, Dir::S2c);
    assert!(seg[1].1.flags.has(synscope::model::tcp_flags::RST));
    assert_eq!(handshakes(ev), 0);
    let end = ends(ev);
    assert_eq!(end.len(), 1);
    assert_eq!(end[0].1.state, ConnState::Refused);
    assert!(d.text.contains("end: refused"));
    assert!(d.json.contains("\"state\":\"refused\""));
}

/// `lesson_all` and the demo's recording: scenario `all` at a pace of `pace_ms`, with
/// `long_polls` long polls (4 when `lesson_all` was recorded, 6 since) (README "Every
/// pattern: `lesson_all`"; docs/live-and-demo.md "The built-in recording").
fn check_lesson_all(ev: &[Event], pace_ms: u64, long_polls: usize) {
    let pace = pace_ms * 1_000_000;
    assert_eq!(conn_ids(ev), (0..12).collect::<Vec<_>>());
    assert_eq!(handshakes(ev), 12);
    // tshark (lesson_all): 23 HTTP requests and 23 responses, 24 WebSocket frames.
    let http = 19 + long_polls;
    assert_eq!((requests(ev).len(), responses(ev).len()), (http, http));
    assert_eq!(frame_counts(ev).iter().sum::<usize>(), 24);
    let targets_of = |c| targets(&of_conn(ev, c));
    // #0: the `http` scenario, as in `http_keepalive`.
    check_http_keepalive(&of_conn(ev, 0));
    // #1-#6: `polling`, a connection per request; #7: `polling-keepalive`, six polls.
    for c in 1..=6 {
        let t = targets_of(c);
        assert_eq!(t.len(), 1, "#{c}");
        assert!(t[0].starts_with("GET /poll?since="), "#{c}: {t:?}");
        assert_eq!(ends(&of_conn(ev, c))[0].1.state, ConnState::Closed);
    }
    let keepalive = targets_of(7);
    assert_eq!(keepalive.len(), 6);
    assert!(keepalive.iter().all(|t| t.starts_with("GET /poll?since=")));
    // Polls answer 200 with news (the body says what), 204 when there is none.
    for c in 1..=7 {
        let conn = of_conn(ev, c);
        let news: Vec<String> = body_texts(&conn, Dir::S2c);
        let with_news = statuses(&conn).iter().filter(|s| **s == 200).count();
        assert_eq!(news.len(), with_news, "#{c}");
        assert!(
            news.iter().all(|n| n.starts_with("{\"next\":")),
            "#{c}: {news:?}"
        );
        assert!(statuses(&conn).iter().all(|s| [200, 204].contains(s)));
    }
    // #8: `long-polling`, answered at once, then held until news, then held until the
    // timeout and answered 204.
    let lp = of_conn(ev, 8);
    let asked = targets(&lp);
    assert_eq!(asked.len(), long_polls);
    assert_eq!(asked[0], "GET /long-poll?since=0");
    assert!(asked[1..long_polls - 1]
        .iter()
        .all(|t| t.starts_with("GET /long-poll?since=") && !t.contains('&')));
    assert!(asked[long_polls - 1].ends_with(&format!("&timeout_ms={pace_ms}")));
    let mut want = vec![200; long_polls - 1];
    want.push(204);
    assert_eq!(statuses(&lp), want);
    let at = |kind: &str| -> Vec<u64> {
        lp.iter()
            .filter(|e| e.body.kind() == kind)
            .map(|e| e.t.0)
            .collect()
    };
    let held: Vec<u64> = at("http_response")
        .iter()
        .zip(at("http_request"))
        .map(|(resp, req)| resp - req)
        .collect();
    assert!(held[0] < pace / 10, "{held:?}");
    assert!(held[1..].iter().all(|h| *h >= pace), "{held:?}");
    // #9: `streaming`, five chunks a pace apart.
    let st = of_conn(ev, 9);
    assert_eq!(
        targets(&st),
        [format!("GET /stream?n=5&every_ms={pace_ms}")]
    );
    let lines: Vec<String> = (1..=5).map(|i| format!("line {i} of 5\n")).collect();
    assert_eq!(body_texts(&st, Dir::S2c)[..5], lines);
    let chunk_at: Vec<u64> = st
        .iter()
        .filter(|e| matches!(&e.body, EventBody::HttpBody(b) if b.len > 0))
        .map(|e| e.t.0)
        .collect();
    for w in chunk_at.windows(2) {
        let gap = w[1] - w[0];
        assert!(gap >= pace * 9 / 10 && gap <= pace * 3 / 2, "{chunk_at:?}");
    }
    // #10: `sse`, five events a pace apart, after the block that sets `retry`.
    let sse: Vec<(u64, &SseEvent)> = ev
        .iter()
        .filter(|e| e.conn == Some(10))
        .filter_map(|e| match &e.body {
            EventBody::SseEvent(s) => Some((e.t.0, &**s)),
            _ => None,
        })
        .collect();
    assert_eq!(sse.len(), 6);
    assert_eq!((sse[0].1.dispatched, sse[0].1.retry), (false, Some(3000)));
    let ids: Vec<Option<&str>> = sse[1..].iter().map(|(_, s)| s.id.as_deref()).collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5"].map(Some));
    for w in sse[1..].windows(2) {
        let gap = w[1].0 - w[0].0;
        assert!(gap >= pace * 9 / 10 && gap <= pace * 3 / 2, "{gap}");
    }
    // #11: `websocket`, the ws_chat scenario.
    assert_eq!(targets_of(11), ["GET /ws"]);
    check_ws_chat(&of_conn(ev, 11));
    // Five conversations: the `http` scenario's poll joins the twelve others on /poll.
    let p: Vec<(Pattern, &str, usize, u32)> = patterns(ev)
        .iter()
        .map(|p| (p.pattern, p.target.as_str(), p.conns.len(), p.requests))
        .collect();
    assert_eq!(
        p,
        [
            (Pattern::ShortPolling, "/poll", 8, 13),
            (Pattern::LongPolling, "/long-poll", 1, long_polls as u32),
            (Pattern::Streaming, "/stream", 1, 1),
            (Pattern::Streaming, "/events", 1, 1),
            (Pattern::Websocket, "/ws", 1, 1),
        ]
    );
    assert_eq!(patterns(ev)[0].conns, (0..8).collect::<Vec<_>>());
    assert!(ends(ev).iter().all(|(_, e)| e.state == ConnState::Closed));
}

#[test]
fn lesson_all() {
    let d = snap!("lesson_all", "lesson_all.pcapng");
    // 211 packets.
    assert_eq!(tcp(&d.events).len(), 211);
    check_lesson_all(&d.events, 100, 4);
    // Long polling held 159 ms and 299 ms until news, then 102 ms until its 100 ms timeout.
    let lp = of_conn(&d.events, 8);
    let t = |kind: &str| -> Vec<u64> {
        lp.iter()
            .filter(|e| e.body.kind() == kind)
            .map(|e| e.t.0)
            .collect()
    };
    let held: Vec<u64> = t("http_response")
        .iter()
        .zip(t("http_request"))
        .map(|(resp, req)| (resp - req + 500_000) / 1_000_000)
        .collect();
    assert_eq!(held[1..], [159, 299, 102]);
}

#[test]
fn demo_recording() {
    // docs/live-and-demo.md: `synscope demo all --once --pace-ms 250`, 217 packets, 12
    // connections, 12.3 s.
    let d = decode_asset("demo.pcapng");
    insta::assert_snapshot!("demo_text", d.text);
    insta::assert_snapshot!("demo_json", d.json);
    assert_eq!(tcp(&d.events).len(), 217);
    check_lesson_all(&d.events, 250, synscope::demo::LONG_POLLS as usize);
    let last = d.events.iter().map(|e| e.t.0).max().unwrap();
    assert_eq!((last + 50_000_000) / 100_000_000, 123, "{last}");
}

fn socketio(events: &[Event]) -> Vec<(Dir, ConnId, &SocketIoPacket)> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Socketio(p) => Some((e.dir.unwrap(), e.conn.unwrap(), &**p)),
            _ => None,
        })
        .collect()
}

/// The texts of the text messages of one direction.
fn ws_texts(events: &[Event], dir: Dir) -> Vec<String> {
    texts(&messages(events, dir), Opcode::Text)
}

/// What `socketio_v4` and `socketio_v3` share after the upgrade (README "Socket.IO over
/// Engine.IO"): everything goes over the WebSocket connection `ws`, the pinger pings `2`
/// and the other side pongs `3`, both sides close without a code.
fn check_socketio_websocket(ev: &[Event], ws: ConnId, pinger: Dir) {
    let conn = of_conn(ev, ws);
    let up = requests(&conn);
    assert_eq!(up.len(), 1);
    assert!(up[0].target.contains("transport=websocket&sid="));
    let c2s = ws_texts(&conn, Dir::C2s);
    let s2c = ws_texts(&conn, Dir::S2c);
    // The probe, then the upgrade.
    assert_eq!(
        (&c2s[..2], &s2c[0]),
        (&["2probe".into(), "5".into()][..], &"3probe".into())
    );
    let beats = |texts: &[String], t: &str| texts.iter().filter(|x| *x == t).count();
    let (pings, pongs) = match pinger {
        Dir::C2s => (&c2s, &s2c),
        Dir::S2c => (&s2c, &c2s),
    };
    assert!(beats(pings, "2") >= 2);
    assert_eq!(beats(pings, "2"), beats(pongs, "3"));
    assert_eq!(beats(pongs, "2"), 0);
    // Socket.IO packets after the upgrade all ride on this connection.
    let p = socketio(ev);
    let chat = p
        .iter()
        .position(|(_, _, x)| x.event.as_deref() == Some("chat"))
        .unwrap();
    assert!(p[chat..]
        .iter()
        .all(|(_, c, x)| *c == ws && x.transport == "websocket"));
    // The attachment: a binary message of its own.
    let bin: Vec<&WsMessage> = messages(&conn, Dir::C2s)
        .into_iter()
        .filter(|m| m.opcode == Opcode::Binary)
        .collect();
    assert_eq!(bin.len(), 1);
    for dir in [Dir::C2s, Dir::S2c] {
        let close = data_messages(&conn, dir).pop().unwrap();
        assert_eq!((close.opcode, close.code), (Opcode::Close, None));
    }
    // tshark: 22 WebSocket frames, 19 text, 1 binary, 2 close.
    assert_eq!(frame_counts(ev), [19, 1, 2, 0, 0, 0]);
    assert!(ends(ev).iter().all(|(_, e)| e.state == ConnState::Closed));
}

#[test]
fn socketio_v4() {
    let d = snap!("socketio_v4", "socketio_v4.pcapng");
    let ev = &d.events;
    assert_eq!(conn_ids(ev), [0, 1, 2, 3]);
    // tshark: 4 HTTP requests and responses: 200, 200, 101, 200.
    assert_eq!(statuses(ev), [200, 200, 101, 200]);
    let kind = |c| {
        let r = requests(&of_conn(ev, c))[0].clone();
        (r.method, r.target.contains("transport=polling"))
    };
    assert_eq!(kind(0), ("GET".into(), true));
    assert_eq!(kind(1), ("POST".into(), true));
    assert_eq!(kind(2), ("GET".into(), false));
    assert_eq!(kind(3), ("GET".into(), true));
    // #0: the open packet.
    let open = &body_texts(&of_conn(ev, 0), Dir::S2c)[0];
    assert!(open.starts_with("0{\"sid\":\""), "{open}");
    assert!(
        open.ends_with(
            "\"upgrades\":[\"websocket\"],\"pingInterval\":150,\"pingTimeout\":1000,\
             \"maxPayload\":1000000}"
        ),
        "{open}"
    );
    // #1: the POST of `40`, answered `ok`.
    let post = of_conn(ev, 1);
    assert_eq!(
        (body_texts(&post, Dir::C2s), body_texts(&post, Dir::S2c)),
        (vec!["40".to_string()], vec!["ok".to_string()])
    );
    // #3: `40{"sid":..}` and the welcome event, joined by the record separator.
    let welcome = &body_texts(&of_conn(ev, 3), Dir::S2c)[0];
    let (connect, event) = welcome.split_once('\u{1e}').unwrap();
    assert!(connect.starts_with("40{\"sid\":\""), "{welcome}");
    assert_eq!(
        event,
        "42[\"welcome\",{\"text\":\"hi from the server\",\"v\":4}]"
    );
    // #2: the WebSocket of the session the open packet named; Engine.IO 4: the server
    // pings.
    let sid = open.split('"').nth(3).unwrap();
    assert_eq!(
        requests(&of_conn(ev, 2))[0].target,
        format!("/socket.io/?EIO=4&transport=websocket&sid={sid}")
    );
    check_socketio_websocket(ev, 2, Dir::S2c);
}

#[test]
fn socketio_v3() {
    let d = snap!("socketio_v3", "socketio_v3.pcapng");
    let ev = &d.events;
    assert_eq!(conn_ids(ev), [0, 1, 2, 3]);
    // tshark: 200, 101, 200, 200; the last one `1:6`, a noop ending the poll at the upgrade.
    assert_eq!(statuses(ev), [200, 101, 200, 200]);
    for c in [0, 2, 3] {
        let t = requests(&of_conn(ev, c))[0].target.clone();
        assert!(
            t.contains("EIO=3&transport=polling") && t.contains("&b64=1"),
            "{t}"
        );
    }
    // The handshake answer: two length-prefixed packets, `94:0{..}2:40`, no maxPayload.
    let open = &body_texts(&of_conn(ev, 0), Dir::S2c)[0];
    assert!(
        open.starts_with("94:0{\"sid\":\"") && open.ends_with("}2:40"),
        "{open}"
    );
    assert!(!open.contains("maxPayload"));
    assert_eq!(body_texts(&of_conn(ev, 3), Dir::S2c), ["1:6"]);
    let noop = socketio(ev)
        .into_iter()
        .filter(|(_, c, _)| *c == 3)
        .map(|(_, _, x)| x.engine_type)
        .collect::<Vec<_>>();
    assert_eq!(noop, ["noop"]);
    // Engine.IO 3: the client pings.
    check_socketio_websocket(ev, 1, Dir::C2s);
    let ws = of_conn(ev, 1);
    // The attachment starts with the type byte 0x04 (a binary message, Engine.IO 3).
    let bin = messages(&ws, Dir::C2s)
        .into_iter()
        .find(|m| m.opcode == Opcode::Binary)
        .unwrap();
    assert_eq!((bin.len, bin.data.kept[0]), (7, 0x04));
    // /admin is answered with a bare `40/admin,` (no sid).
    assert!(ws_texts(&ws, Dir::S2c).contains(&"40/admin,".to_string()));
}

#[test]
fn socketio_polling() {
    let d = snap!("socketio_polling", "socketio_polling.pcapng");
    let ev = &d.events;
    // tshark: 21 HTTP requests, 21 responses, 21 connections, no WebSocket.
    assert_eq!(conn_ids(ev), (0..21).collect::<Vec<_>>());
    assert_eq!((requests(ev).len(), responses(ev).len()), (21, 21));
    assert!(statuses(ev).iter().all(|s| *s == 200));
    assert_eq!(frame_counts(ev), [0; 6]);
    // Engine.IO's polling transport is the lesson's long polling: the GETs are held until the
    // server has a packet; the POSTs that carry the client's packets are not polls.
    let p = patterns(ev);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(
        (p[0].pattern, p[0].target.as_str(), p[0].requests),
        (synscope::model::Pattern::LongPolling, "/socket.io/", 10)
    );
    for c in 0..21 {
        let conn = of_conn(ev, c);
        let r = requests(&conn);
        assert_eq!(r.len(), 1, "#{c}");
        assert!(
            r[0].target.contains("EIO=4&transport=polling"),
            "{}",
            r[0].target
        );
    }
    // Packets ride in GET answers (s2c) and POST bodies (c2s); every POST is answered `ok`.
    let mut gets = Vec::new();
    let mut posts = Vec::new();
    for c in 0..21 {
        let conn = of_conn(ev, c);
        match requests(&conn)[0].method.as_str() {
            "GET" => {
                assert!(bodies(&conn, Dir::C2s).is_empty());
                gets.extend(body_texts(&conn, Dir::S2c));
            }
            "POST" => {
                assert_eq!(body_texts(&conn, Dir::S2c), ["ok"], "#{c}");
                posts.extend(body_texts(&conn, Dir::C2s));
            }
            m => panic!("#{c}: {m}"),
        }
    }
    // The binary attachment as a base64 packet in a POST of its own; server pings in GET
    // answers, client pongs in POSTs; the client's `1` (close) ends it.
    assert!(posts.contains(&"bAAECA/7/".to_string()), "{posts:?}");
    let pings = gets.iter().filter(|g| *g == "2").count();
    assert!(pings >= 2, "{gets:?}");
    assert_eq!(posts.iter().filter(|p| *p == "3").count(), 2);
    assert_eq!(posts.last().map(String::as_str), Some("1"));
    // The pending GET is answered with `6`, a noop.
    assert_eq!(gets.last().map(String::as_str), Some("6"));
    assert!(gets[0].starts_with("0{\"sid\":"));
    assert!(ends(ev).iter().all(|(_, e)| e.state == ConnState::Closed));
}

#[test]
fn stomp() {
    use Dir::{C2s, S2c};
    let d = snap!("stomp", "stomp.pcapng");
    let ev = &d.events;
    // tshark: 1 connection, 1 request, 1 response (101), 19 WebSocket frames (17 text,
    // 2 close).
    assert_eq!(conn_ids(ev), [0]);
    assert_eq!(targets(ev), ["GET /stomp"]);
    let offer = requests(ev)[0]
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("sec-websocket-protocol"))
        .map(|(_, v)| v.clone());
    assert_eq!(offer.as_deref(), Some("v12.stomp,v11.stomp,v10.stomp"));
    assert_eq!(statuses(ev), [101]);
    let up = responses(ev)[0].upgrade.clone().unwrap();
    assert_eq!(up.subprotocol.as_deref(), Some("v12.stomp"));
    assert!(up.accept_valid);
    assert_eq!(frame_counts(ev), [17, 0, 2, 0, 0, 0]);
    // Each text message carries STOMP frames: commands in order, MESSAGE and RECEIPT in one
    // message; heart-beats a bare `\n`, 3 each way.
    let stomp: Vec<(Dir, u64, &StompFrame)> = ev
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Stomp(f) => Some((e.dir.unwrap(), e.frame, &**f)),
            _ => None,
        })
        .collect();
    let c2s = ws_texts(ev, C2s);
    let s2c = ws_texts(ev, S2c);
    for dir in [C2s, S2c] {
        let beats = stomp
            .iter()
            .filter(|(d, _, f)| *d == dir && f.command == "HEARTBEAT")
            .count();
        let texts = if dir == C2s { &c2s } else { &s2c };
        assert_eq!(beats, 3, "{dir:?}");
        assert_eq!(texts.iter().filter(|t| *t == "\n").count(), 3, "{dir:?}");
    }
    let first_word = |t: &String| t.split('\n').next().unwrap().to_string();
    let commands: Vec<String> = c2s.iter().filter(|t| *t != "\n").map(first_word).collect();
    assert_eq!(
        commands,
        ["CONNECT", "SUBSCRIBE", "SEND", "SEND", "SEND", "DISCONNECT"]
    );
    let answers: Vec<String> = s2c.iter().filter(|t| *t != "\n").map(first_word).collect();
    assert_eq!(
        answers,
        ["CONNECTED", "MESSAGE", "MESSAGE", "MESSAGE", "RECEIPT"]
    );
    // MESSAGE + RECEIPT in one WebSocket message, twice (the SENDs that asked for a
    // receipt).
    let both = s2c
        .iter()
        .filter(|t| t.starts_with("MESSAGE") && t.contains("\0RECEIPT\nreceipt-id:r-"))
        .count();
    assert_eq!(both, 2);
    assert!(c2s[2].contains("receipt:r-1") && c2s[2].ends_with("\n\nhello\0"));
    // The escaped header, on the wire as `a\cb\nc\\d`; no content-length on that SEND.
    let escaped = c2s.iter().find(|t| t.contains("note:")).unwrap();
    assert!(escaped.contains("note:a\\cb\\nc\\\\d\n"), "{escaped:?}");
    assert!(!escaped.contains("content-length"));
    assert_eq!(
        stomp
            .iter()
            .filter(|(_, _, f)| f.command != "HEARTBEAT")
            .count(),
        13
    );
    // An empty Close each way, no status code (tshark: payload length 0).
    for dir in [C2s, S2c] {
        let close = data_messages(ev, dir).pop().unwrap();
        assert_eq!(
            (close.opcode, close.len, close.code),
            (Opcode::Close, 0, None)
        );
    }
    assert_eq!(ends(ev)[0].1.state, ConnState::Closed);
    assert!(ends(ev)[0].1.websocket);
}
