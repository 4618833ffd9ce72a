use std::collections::BTreeSet;

use super::*;
use crate::model::{
    tcp_flags, ConnectionEnd, ConnectionInfo, Dir, Gap, Handshake, HttpBody, HttpRequest,
    HttpResponse, Layer, Malformed, MaskKey, Nanos, Note, PatternReport, Payload, SocketIoPacket,
    Spread, SseEvent, StompFrame, TcpFlags, TcpOptions, Timestamp, TlsAlert, TlsAlertDescription,
    TlsAlertLevel, TlsCipherSuite, TlsContentType, TlsHandshake, TlsHandshakeType, TlsRecord,
    TlsVersion, Violation, WsFrame, WsMessage, WsUpgrade,
};

fn ev(dir: Option<Dir>, body: EventBody) -> Event {
    Event {
        ts: Timestamp(0),
        t: Nanos(0),
        frame: 1,
        conn: Some(0),
        dir,
        body,
    }
}

fn seg(flags: u8, len: u32, analysis: Vec<TcpAnalysis>) -> EventBody {
    EventBody::Tcp(TcpSegment {
        flags: TcpFlags(flags),
        seq: 1,
        ack: Some(1),
        len,
        win: 65536,
        options: Some(TcpOptions {
            mss: Some(1460),
            wscale: Some(7),
            sack_perm: true,
            ts_val: None,
            ts_ecr: None,
        }),
        analysis: analysis.into_iter().collect(),
        truncated: false,
    })
}

fn request(upgrade: bool) -> EventBody {
    let mut headers = vec![("Host".to_string(), "x".to_string())];
    if upgrade {
        headers.push(("Upgrade".into(), "websocket".into()));
    }
    EventBody::HttpRequest(Box::new(HttpRequest {
        method: "GET".into(),
        target: "/chat".into(),
        version: "HTTP/1.1".into(),
        headers,
        head_len: 40,
        body: BodyKind::None,
    }))
}

/// A response the server took `ns` to give.
fn held_response(status: u16, ns: u64) -> EventBody {
    let mut r = response(status, &[], BodyKind::Length, None);
    if let EventBody::HttpResponse(r) = &mut r {
        r.time_since_request = Some(Nanos(ns));
    }
    r
}

fn response(status: u16, headers: &[(&str, &str)], body: BodyKind, ws: Option<bool>) -> EventBody {
    EventBody::HttpResponse(Box::new(HttpResponse {
        status,
        reason: "Reason".into(),
        version: "HTTP/1.1".into(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        head_len: 60,
        body,
        request_method: Some("GET".into()),
        time_since_request: None,
        upgrade: ws.map(|valid| WsUpgrade {
            key: "dGhlIHNhbXBsZSBub25jZQ==".into(),
            accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into(),
            accept_expected: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into(),
            accept_valid: valid,
            subprotocol: None,
            extensions: None,
            deflate: None,
        }),
    }))
}

fn body(chunk: Option<u32>, len: u64, end: bool) -> EventBody {
    EventBody::HttpBody(Box::new(HttpBody {
        len,
        chunk,
        end,
        missing: 0,
        text: None,
        data: Payload::default(),
    }))
}

fn frame(opcode: Opcode, fin: bool, rsv1: bool, masked: bool) -> EventBody {
    EventBody::WsFrame(WsFrame {
        opcode,
        fin,
        rsv1,
        rsv2: false,
        rsv3: false,
        masked,
        mask_key: masked.then(|| MaskKey::new([0x5e, 0x4f, 0xb3, 0xf3])),
        payload_len: 5,
        header_len: 6,
        data: Payload::default(),
        incomplete: false,
    })
}

fn message(opcode: Opcode, frames: u32, compressed: bool, code: Option<u16>) -> EventBody {
    EventBody::WsMessage(Box::new(WsMessage {
        opcode,
        len: 5,
        compressed,
        frames,
        text: None,
        code,
        code_name: code.map(crate::model::close_code_name),
        reason: None,
        data: Payload::default(),
        incomplete: false,
    }))
}

fn end(state: ConnState, websocket: bool) -> EventBody {
    EventBody::ConnectionEnd(Box::new(ConnectionEnd {
        client: "127.0.0.1:40000".parse().unwrap(),
        server: "127.0.0.1:8080".parse().unwrap(),
        state,
        websocket,
        duration: Nanos(1_000_000),
        segments: [3, 3],
        bytes: [10, 20],
        tls: None,
    }))
}

fn stomp(command: &str) -> EventBody {
    EventBody::Stomp(Box::new(StompFrame {
        command: command.into(),
        headers: vec![("destination".into(), "/topic/chat".into())],
        body: None,
        body_len: 0,
        incomplete: false,
    }))
}

fn socketio(engine_type: &'static str, t: Option<&'static str>, data: Option<&str>) -> EventBody {
    EventBody::Socketio(Box::new(SocketIoPacket {
        socketio_type: t,
        namespace: Some("/".into()),
        event: Some("chat".into()),
        data: data.map(str::to_string),
        ..SocketIoPacket::new("websocket", engine_type)
    }))
}

/// An SSE block with `id`, `retry`, `comment` and `data_len` bytes of data.
fn sse(
    id: Option<&str>,
    retry: Option<u64>,
    comment: Option<&str>,
    data_len: u64,
    dispatched: bool,
) -> EventBody {
    EventBody::SseEvent(Box::new(SseEvent {
        event: None,
        id: id.map(str::to_string),
        data: "x".repeat(data_len as usize),
        retry,
        data_len,
        comment: comment.map(str::to_string),
        dispatched,
        incomplete: !dispatched && data_len > 0,
    }))
}

fn pattern(p: Pattern) -> EventBody {
    let spread = Spread {
        min: Nanos(1_000_000),
        median: Nanos(2_000_000),
        max: Nanos(3_000_000),
    };
    EventBody::Pattern(Box::new(PatternReport {
        pattern: p,
        conversation: 3,
        is_final: true,
        client: "127.0.0.1".into(),
        server: "127.0.0.1:8080".parse().unwrap(),
        target: "/poll".into(),
        start: Nanos(0),
        conns: vec![0, 1],
        requests: 2,
        interval: Some(spread),
        held: Some(spread),
        chunks: Some(4),
        chunk_spacing: Some(spread),
        sse_events: None,
        messages: Some([3, 4]),
        duration: Nanos(5_000_000),
        bytes: [100, 200],
        overhead_bytes: 150,
    }))
}

fn violation(rule: &'static str) -> EventBody {
    EventBody::Violation(Violation {
        layer: Layer::Websocket,
        rule,
        detail: "detail".into(),
    })
}

/// Events (with their context) that between them reach every key [`key_chain`] can give.
fn every_case() -> Vec<(Event, Context)> {
    use tcp_flags::{ACK, FIN, PSH, RST, SYN};
    let none = Context::default();
    let est = Context {
        established: true,
        ..Context::default()
    };
    let c2s = Some(Dir::C2s);
    let s2c = Some(Dir::S2c);
    let mut v: Vec<(Event, Context)> = [
        "not_http",
        "upgrade_not_captured",
        "joined_mid_frame",
        "deflate_history_not_captured",
        "capture_ended_in_body",
        "capture_ended_in_head",
        "capture_ended_in_frame",
        "peer_closed_in_body",
        "link_not_supported",
        "ip_fragment",
        "too_deep",
    ]
    .into_iter()
    .map(|note| {
        let n = Note {
            layer: Layer::Http,
            note,
            detail: "said".into(),
            bytes: Some(3),
        };
        (ev(c2s, EventBody::Note(Box::new(n))), est)
    })
    .collect();
    v.extend([
        (
            ev(
                None,
                EventBody::Connection(Box::new(ConnectionInfo {
                    client: "127.0.0.1:5000".parse().unwrap(),
                    server: "127.0.0.1:80".parse().unwrap(),
                    joined_late: false,
                })),
            ),
            none,
        ),
        (
            ev(
                None,
                EventBody::Connection(Box::new(ConnectionInfo {
                    client: "127.0.0.1:5000".parse().unwrap(),
                    server: "127.0.0.1:80".parse().unwrap(),
                    joined_late: true,
                })),
            ),
            none,
        ),
        (ev(c2s, seg(SYN, 0, vec![])), none),
        (ev(s2c, seg(SYN | ACK, 0, vec![])), none),
        (
            ev(
                c2s,
                seg(
                    ACK,
                    0,
                    vec![TcpAnalysis::Retransmission, TcpAnalysis::ReusedPorts],
                ),
            ),
            Context {
                handshake_ack: true,
                ..none
            },
        ),
        (ev(c2s, seg(ACK, 0, vec![])), est),
        (ev(c2s, seg(PSH | ACK, 10, vec![])), est),
        (ev(c2s, seg(FIN | ACK, 0, vec![])), est),
        (ev(s2c, seg(RST | ACK, 0, vec![])), est),
        (ev(s2c, seg(RST | ACK, 0, vec![])), none),
        (
            ev(
                None,
                EventBody::Handshake(Handshake {
                    syn_ack_rtt: Nanos(12_000),
                    irtt: Nanos(26_000),
                }),
            ),
            none,
        ),
        (
            ev(
                c2s,
                EventBody::Gap(Gap {
                    seq: 10,
                    len: 100,
                    reason: GapReason::NotCaptured,
                }),
            ),
            est,
        ),
        (
            ev(
                c2s,
                EventBody::Gap(Gap {
                    seq: 10,
                    len: 100,
                    reason: GapReason::Truncated,
                }),
            ),
            est,
        ),
        (ev(c2s, request(false)), est),
        (ev(c2s, request(true)), est),
        (ev(s2c, response(101, &[], BodyKind::None, Some(true))), est),
        (
            ev(s2c, response(101, &[], BodyKind::None, Some(false))),
            est,
        ),
        (ev(s2c, response(100, &[], BodyKind::None, None)), est),
        (
            ev(
                s2c,
                response(
                    200,
                    &[("Content-Type", "text/event-stream; charset=utf-8")],
                    BodyKind::Close,
                    None,
                ),
            ),
            est,
        ),
        (ev(s2c, response(200, &[], BodyKind::Chunked, None)), est),
        (ev(s2c, response(204, &[], BodyKind::None, None)), est),
        (ev(s2c, held_response(200, 1_200_000_000)), est),
        (ev(s2c, response(304, &[], BodyKind::None, None)), est),
        (ev(s2c, response(404, &[], BodyKind::Length, None)), est),
        (ev(s2c, response(503, &[], BodyKind::Length, None)), est),
        (ev(s2c, response(999, &[], BodyKind::Length, None)), est),
        (ev(s2c, body(None, 45, true)), est),
        (ev(s2c, body(Some(0), 12, false)), est),
        (ev(s2c, body(Some(1), 0, true)), est),
        (ev(c2s, frame(Opcode::Text, true, true, true)), est),
        (ev(c2s, frame(Opcode::Text, false, false, true)), est),
        (ev(c2s, frame(Opcode::Continuation, true, false, true)), est),
        (ev(s2c, frame(Opcode::Text, true, false, false)), est),
        (ev(c2s, frame(Opcode::Text, true, false, false)), est),
        (ev(c2s, message(Opcode::Text, 1, false, None)), est),
        (ev(c2s, message(Opcode::Binary, 3, true, None)), est),
        (ev(c2s, message(Opcode::Ping, 1, false, None)), est),
        (ev(s2c, message(Opcode::Pong, 1, false, None)), est),
        (ev(s2c, message(Opcode::Reserved(3), 1, false, None)), est),
        (ev(s2c, message(Opcode::Close, 1, false, None)), est),
        (
            ev(
                None,
                EventBody::Malformed(Malformed {
                    layer: Layer::Ip,
                    detail: "bad".into(),
                }),
            ),
            none,
        ),
        (
            ev(
                c2s,
                EventBody::Note(Box::new(Note {
                    layer: Layer::Http,
                    note: "a_note_with_no_text",
                    detail: "said".into(),
                    bytes: Some(3),
                })),
            ),
            est,
        ),
        (ev(None, violation("a_rule_with_no_text")), est),
        (
            ev(
                c2s,
                EventBody::Data(Box::new(crate::model::Data {
                    len: 3,
                    text: Some("abc".into()),
                    data: Payload::capped(b"abc", 10),
                })),
            ),
            est,
        ),
        (ev(None, end(ConnState::Closed, true)), est),
        (
            ev(None, end(ConnState::Reset, true)),
            Context {
                ws_close_seen: true,
                ..est
            },
        ),
        (ev(None, end(ConnState::Refused, false)), none),
        (ev(None, end(ConnState::Handshaking, false)), none),
        (ev(None, end(ConnState::Established, false)), est),
        (ev(None, end(ConnState::Closing, false)), est),
        (
            ev(
                s2c,
                EventBody::SseEvent(Box::new(SseEvent {
                    event: None,
                    id: Some("7".into()),
                    data: "x".into(),
                    retry: Some(3000),
                    data_len: 1,
                    comment: None,
                    dispatched: true,
                    incomplete: false,
                })),
            ),
            est,
        ),
        (
            ev(
                s2c,
                EventBody::SseEvent(Box::new(SseEvent {
                    event: None,
                    id: None,
                    data: "x".into(),
                    retry: None,
                    data_len: 1,
                    comment: None,
                    dispatched: true,
                    incomplete: false,
                })),
            ),
            est,
        ),
        (ev(s2c, socketio("ping", None, Some("\"probe\""))), est),
        // Engine.IO 3: the client pings, the server pongs.
        (ev(c2s, socketio("ping", None, None)), est),
        (ev(s2c, socketio("pong", None, None)), est),
        // SSE blocks a browser does not dispatch.
        (ev(s2c, sse(None, Some(3000), Some("hi"), 0, false)), est),
        (ev(s2c, sse(None, None, Some("keep-alive"), 0, false)), est),
        (ev(s2c, sse(None, None, None, 4, false)), est),
        (ev(s2c, socketio("bogus", None, None)), est),
    ]);
    for code in [
        1000, 1001, 1002, 1003, 1004, 1006, 1007, 1008, 1009, 1011, 3000, 4999, 1010,
    ] {
        v.push((ev(c2s, message(Opcode::Close, 1, false, Some(code))), est));
    }
    for key in KEYS {
        if let Some(rule) = key.strip_prefix("violation.") {
            // `Violation::rule` is &'static str: the key's own tail serves.
            v.push((ev(c2s, violation(rule)), est));
        }
    }
    for cmd in [
        "CONNECT",
        "STOMP",
        "CONNECTED",
        "SEND",
        "SUBSCRIBE",
        "UNSUBSCRIBE",
        "MESSAGE",
        "ACK",
        "NACK",
        "BEGIN",
        "COMMIT",
        "ABORT",
        "RECEIPT",
        "ERROR",
        "DISCONNECT",
        "HEARTBEAT",
        "SOMETHING_ELSE",
    ] {
        v.push((ev(c2s, stomp(cmd)), est));
    }
    for t in [
        "open", "close", "ping", "pong", "message", "upgrade", "noop",
    ] {
        v.push((ev(s2c, socketio(t, None, None)), est));
    }
    for t in [
        "CONNECT",
        "DISCONNECT",
        "EVENT",
        "ACK",
        "CONNECT_ERROR",
        "BINARY_EVENT",
        "BINARY_ACK",
    ] {
        v.push((ev(s2c, socketio("message", Some(t), None)), est));
    }
    use crate::model::{ConnState, StateChange};
    for (from, state, websocket) in [
        (ConnState::Handshaking, ConnState::Established, false),
        (ConnState::Established, ConnState::Established, true),
        (ConnState::Established, ConnState::Closing, true),
        (ConnState::Closing, ConnState::Closed, false),
        (ConnState::Established, ConnState::Reset, false),
        (ConnState::Handshaking, ConnState::Refused, false),
        (ConnState::Established, ConnState::Handshaking, false),
    ] {
        let change = StateChange {
            from,
            state,
            websocket,
        };
        v.push((ev(None, EventBody::ConnectionState(change)), none));
    }
    // TLS: records of every kind, every handshake message with a text, alerts, notes.
    for (ty, encrypted, inner) in [
        (TlsContentType::HANDSHAKE, false, None),
        (TlsContentType::CHANGE_CIPHER_SPEC, false, None),
        (TlsContentType::ALERT, false, None),
        (TlsContentType::APPLICATION_DATA, true, None),
        (
            TlsContentType::APPLICATION_DATA,
            true,
            Some(TlsContentType::APPLICATION_DATA),
        ),
    ] {
        let r = TlsRecord {
            content_type: ty,
            version: TlsVersion::TLS12,
            length: 100,
            encrypted,
            inner_type: inner,
            plaintext_len: inner.map(|_| 83),
        };
        v.push((ev(c2s, EventBody::TlsRecord(r)), est));
    }
    for t in [0u8, 1, 2, 4, 5, 6, 8, 11, 12, 13, 14, 15, 16, 20, 24] {
        let mut h = TlsHandshake::new(TlsHandshakeType(t), 10);
        h.sni = Some("localhost".into());
        h.version = Some(TlsVersion::TLS13);
        h.cipher_suite = Some(TlsCipherSuite(0x1301));
        h.subject = Some("CN=localhost".into());
        v.push((ev(s2c, EventBody::TlsHandshake(Box::new(h.clone()))), est));
        if t == 2 {
            h.resumed = true;
            v.push((ev(s2c, EventBody::TlsHandshake(Box::new(h))), est));
        }
    }
    for (level, description) in [(1u8, 0u8), (2, 40), (1, 90)] {
        let a = TlsAlert {
            level: TlsAlertLevel(level),
            description: TlsAlertDescription(description),
        };
        v.push((ev(s2c, EventBody::TlsAlert(a)), est));
    }
    for note in [
        "tls_keys_missing",
        "tls_decrypt_failed",
        "tls_early_data",
        "tls_handshake_too_large",
        "tls_record_cut",
        "tls_keylog_bad_lines",
    ] {
        let n = Note {
            layer: Layer::Tls,
            note,
            detail: "d".into(),
            bytes: None,
        };
        v.push((ev(s2c, EventBody::Note(Box::new(n))), est));
    }
    for p in [
        Pattern::ShortPolling,
        Pattern::LongPolling,
        Pattern::Streaming,
        Pattern::Websocket,
        Pattern::None,
    ] {
        let mut e = ev(None, pattern(p));
        e.conn = None;
        v.push((e, none));
    }
    // An update while the conversation goes on.
    let mut e = ev(None, pattern(Pattern::LongPolling));
    e.conn = None;
    if let EventBody::Pattern(r) = &mut e.body {
        r.is_final = false;
    }
    v.push((e, none));
    v
}

#[test]
fn both_assets_parse() {
    for lang in Lang::ALL {
        let t = parse(lang.source()).unwrap_or_else(|e| panic!("{}: {e}", lang.code()));
        assert!(t.len() > 100, "{}", lang.code());
        assert_eq!(table(lang).len(), t.len());
    }
}

#[test]
fn keys_are_unique_and_the_assets_hold_exactly_them() {
    let keys: BTreeSet<&str> = KEYS.iter().copied().collect();
    assert_eq!(keys.len(), KEYS.len(), "a key is listed twice in KEYS");
    for lang in Lang::ALL {
        let have: BTreeSet<&str> = table(lang).keys().map(String::as_str).collect();
        let missing: Vec<_> = keys.difference(&have).collect();
        let extra: Vec<_> = have.difference(&keys).collect();
        assert!(missing.is_empty(), "{} lacks {missing:?}", lang.code());
        assert!(
            extra.is_empty(),
            "{} has keys no code asks for: {extra:?}",
            lang.code()
        );
    }
}

#[test]
fn every_key_is_reached_by_some_event() {
    let mut reached: BTreeSet<&str> = BTreeSet::from(["label.why", "label.more_above"]);
    for (e, cx) in every_case() {
        let chain = key_chain(&e, cx);
        assert_eq!(chain.last(), Some(&e.body.kind()), "{chain:?}");
        for k in &chain {
            assert!(KEYS.contains(k), "{k} is not in KEYS");
        }
        reached.extend(chain);
        if let EventBody::Tcp(s) = &e.body {
            reached.extend(s.analysis.iter().map(|a| analysis_key(*a)));
        }
    }
    let analysis = [
        TcpAnalysis::Retransmission,
        TcpAnalysis::OutOfOrder,
        TcpAnalysis::LostSegment,
        TcpAnalysis::DuplicateAck,
        TcpAnalysis::ZeroWindow,
        TcpAnalysis::KeepAlive,
        TcpAnalysis::KeepAliveAck,
        TcpAnalysis::WindowUpdate,
        TcpAnalysis::AckLostSegment,
        TcpAnalysis::SpuriousRetransmission,
        TcpAnalysis::FastRetransmission,
        TcpAnalysis::ZeroWindowProbe,
        TcpAnalysis::ZeroWindowProbeAck,
        TcpAnalysis::WindowFull,
        TcpAnalysis::ReusedPorts,
    ];
    for a in analysis {
        // The key is `tcp.` + the flag's JSON name.
        let json = serde_json::to_value(a).unwrap();
        assert_eq!(analysis_key(a), format!("tcp.{}", json.as_str().unwrap()));
        reached.insert(analysis_key(a));
    }
    let unreached: Vec<_> = KEYS.iter().filter(|k| !reached.contains(*k)).collect();
    assert!(unreached.is_empty(), "no event reaches {unreached:?}");
}

#[test]
fn the_most_specific_text_fills_when_the_event_has_its_fields() {
    // Every synthetic event carries all its optional fields, so its first key's text must
    // fill: a text that uses a placeholder its events cannot give fails here.
    for (e, cx) in every_case() {
        let chain = key_chain(&e, cx);
        for lang in Lang::ALL {
            let first = text(lang, chain[0]).unwrap();
            let want = fill(first, &values(&e));
            assert!(want.is_some(), "{} {}: {first}", lang.code(), chain[0]);
            assert_eq!(explain(lang, &e, cx), want);
        }
    }
}

#[test]
fn placeholders_used_are_known() {
    for lang in Lang::ALL {
        for (k, t) in table(lang) {
            for p in placeholders(t) {
                assert!(
                    PLACEHOLDERS.contains(&p),
                    "{} {k}: unknown {{{p}}}",
                    lang.code()
                );
            }
        }
    }
}

#[test]
fn fill_replaces_known_names_and_leaves_the_rest() {
    let mut v = Values::default();
    v.set("code", "1000");
    assert_eq!(fill("code {code}.", &v).as_deref(), Some("code 1000."));
    assert_eq!(fill("{code}{code}", &v).as_deref(), Some("10001000"));
    // Missing value of a known placeholder: the caller falls back.
    assert_eq!(fill("{code} {reason}", &v), None);
    // Unknown names, stray and unclosed braces stay as written.
    assert_eq!(fill("{nope} { } {", &v).as_deref(), Some("{nope} { } {"));
    assert_eq!(fill("{ab {code}", &v).as_deref(), Some("{ab 1000"));
    assert_eq!(fill("코드 {code}번", &v).as_deref(), Some("코드 1000번"));
    assert_eq!(
        placeholders("a {b} {c d} {e_1}").collect::<Vec<_>>(),
        ["b", "e_1"]
    );
}

#[test]
fn wire_values_are_escaped_and_cut() {
    let mut v = Values::default();
    v.wire("target", "/a\u{1b}[31m\n");
    assert_eq!(v.get("target"), Some("/a\\u{1b}[31m\\n"));
    v.wire("reason", &"가".repeat(500));
    let r = v.get("reason").unwrap();
    assert_eq!(r.chars().count(), MAX_VALUE_CHARS + 1);
    assert!(r.ends_with('…'));
}

#[test]
fn locale_picks_the_language() {
    assert_eq!(Lang::from_locale(None, None, Some("ko_KR.UTF-8")), Lang::Ko);
    assert_eq!(Lang::from_locale(None, None, Some("en_US.UTF-8")), Lang::En);
    assert_eq!(Lang::from_locale(None, None, None), Lang::En);
    assert_eq!(
        Lang::from_locale(Some("C"), None, Some("ko_KR.UTF-8")),
        Lang::En
    );
    assert_eq!(
        Lang::from_locale(Some(""), Some("ko"), Some("en_US")),
        Lang::Ko
    );
    assert_eq!(Lang::from_locale(None, Some("KO_kr"), None), Lang::Ko);
    assert_eq!(Lang::from_locale(None, None, Some("k")), Lang::En);
    assert_eq!(Lang::from_locale(None, None, Some("가나")), Lang::En);
}

#[test]
fn fallback_goes_from_the_code_to_the_kind() {
    let e = ev(Some(Dir::C2s), message(Opcode::Close, 1, false, Some(1000)));
    assert_eq!(
        key_chain(&e, Context::default()),
        ["close.1000", "ws_message.close", "ws_message"]
    );
    // A code without a text of its own explains as a Close in general, with its number.
    let e = ev(Some(Dir::C2s), message(Opcode::Close, 1, false, Some(1010)));
    assert_eq!(key_chain(&e, Context::default())[0], "ws_message.close");
    let t = explain(Lang::En, &e, Context::default()).unwrap();
    assert!(t.contains("1010 (Mandatory Extension)"), "{t}");
    // No code: close.none; ws_message.close would need {code}, so it could not serve.
    let e = ev(Some(Dir::C2s), message(Opcode::Close, 1, false, None));
    let t = explain(Lang::En, &e, Context::default()).unwrap();
    assert_eq!(Some(t.as_str()), text(Lang::En, "close.none"));
    let keys = ["ws_message.close", "ws_message"];
    let general = explain_keys(Lang::En, &keys, &values(&e));
    assert_eq!(general.as_deref(), text(Lang::En, "ws_message"));
    // A WebSocket that ended without a Close is what an API reports as 1006.
    let e = ev(None, end(ConnState::Reset, true));
    assert_eq!(
        key_chain(&e, Context::default()),
        ["close.1006", "connection_end.reset", "connection_end"]
    );
    let cx = Context {
        ws_close_seen: true,
        ..Context::default()
    };
    assert_eq!(key_chain(&e, cx)[0], "connection_end.reset");
}

#[test]
fn fin_and_rst_are_told_apart() {
    use tcp_flags::{ACK, FIN, RST};
    let est = Context {
        established: true,
        ..Context::default()
    };
    let fin = ev(Some(Dir::C2s), seg(FIN | ACK, 0, vec![]));
    let rst = ev(Some(Dir::S2c), seg(RST | ACK, 0, vec![]));
    assert_eq!(key_chain(&fin, est)[0], "tcp.fin");
    assert_eq!(key_chain(&rst, est)[0], "tcp.rst");
    assert_eq!(key_chain(&rst, Context::default())[0], "tcp.rst_refused");
    // The handshake's ACK, a data segment and a bare ACK.
    let ack = ev(Some(Dir::C2s), seg(ACK, 0, vec![]));
    let hs = Context {
        handshake_ack: true,
        ..Context::default()
    };
    assert_eq!(key_chain(&ack, hs)[0], "tcp.ack");
    assert_eq!(key_chain(&ack, est)[0], "tcp.ack_only");
    let data = ev(Some(Dir::C2s), seg(ACK, 10, vec![]));
    let t = explain(Lang::En, &data, est).unwrap();
    assert!(t.contains("10 bytes") && t.contains("ack=11"), "{t}");
}

#[test]
fn tracker_knows_refusals_and_closes() {
    use tcp_flags::{ACK, RST, SYN};
    let mut tr = Tracker::default();
    let conn = ev(
        None,
        EventBody::Connection(Box::new(ConnectionInfo {
            client: "127.0.0.1:5000".parse().unwrap(),
            server: "127.0.0.1:80".parse().unwrap(),
            joined_late: false,
        })),
    );
    tr.context(&conn);
    tr.context(&ev(Some(Dir::C2s), seg(SYN, 0, vec![])));
    let rst = ev(Some(Dir::S2c), seg(RST | ACK, 0, vec![]));
    assert!(!tr.context(&rst).established);
    let hs = ev(
        None,
        EventBody::Handshake(Handshake {
            syn_ack_rtt: Nanos(1),
            irtt: Nanos(2),
        }),
    );
    tr.context(&hs);
    assert!(tr.context(&rst).established);
    let close = ev(Some(Dir::C2s), message(Opcode::Close, 1, false, Some(1000)));
    assert!(!tr.context(&close).ws_close_seen);
    let fin = ev(None, end(ConnState::Closed, true));
    let cx = tr.context(&fin);
    assert!(cx.ws_close_seen && cx.established);
    // The connection is forgotten at its end.
    assert!(tr.conns.is_empty());
    // Events without a connection (patterns, link errors) have no context.
    let mut p = ev(None, pattern(Pattern::Websocket));
    p.conn = None;
    assert_eq!(tr.context(&p), Context::default());
    assert!(tr.conns.is_empty());
}

#[test]
fn transcript_skips_plain_segments_only() {
    use tcp_flags::{ACK, FIN, PSH, SYN};
    assert!(in_transcript(&ev(None, seg(SYN, 0, vec![]))));
    assert!(in_transcript(&ev(None, seg(FIN | ACK, 0, vec![]))));
    assert!(!in_transcript(&ev(None, seg(ACK, 0, vec![]))));
    assert!(!in_transcript(&ev(None, seg(PSH | ACK, 10, vec![]))));
    assert!(in_transcript(&ev(None, request(false))));
}

#[test]
fn engine_io_3_pings_from_the_client() {
    let est = Context {
        established: true,
        ..Context::default()
    };
    let chain = |dir, t| key_chain(&ev(Some(dir), socketio(t, None, None)), est);
    // Engine.IO 4: the server pings, the client pongs.
    assert_eq!(chain(Dir::S2c, "ping")[0], "socketio.engine.ping");
    assert_eq!(chain(Dir::C2s, "pong")[0], "socketio.engine.pong");
    // Engine.IO 3 (Socket.IO 2): the other way round.
    assert_eq!(chain(Dir::C2s, "ping")[0], "socketio.engine.ping_client");
    assert_eq!(chain(Dir::S2c, "pong")[0], "socketio.engine.pong_server");
    // The upgrade probe is the probe in both versions.
    let probe = ev(Some(Dir::C2s), socketio("ping", None, Some("probe")));
    assert_eq!(key_chain(&probe, est)[0], "socketio.probe");
    for lang in Lang::ALL {
        let t = text(lang, "socketio.engine.ping_client").unwrap();
        assert!(t.contains("v3") && t.contains("Engine.IO 4"), "{t}");
    }
}

#[test]
fn sse_blocks_not_dispatched_have_their_own_texts() {
    let est = Context::default();
    let first = |b| key_chain(&ev(Some(Dir::S2c), b), est)[0];
    // The demo's first block: a comment and retry, no data.
    assert_eq!(
        first(sse(None, Some(3000), Some("demo"), 0, false)),
        "sse_event.not_dispatched"
    );
    assert_eq!(
        first(sse(Some("7"), None, None, 0, false)),
        "sse_event.not_dispatched"
    );
    assert_eq!(
        first(sse(None, None, Some("ping"), 0, false)),
        "sse_event.comment"
    );
    assert_eq!(
        first(sse(None, None, None, 5, false)),
        "sse_event.unterminated"
    );
    // A dispatched event keeps its field texts.
    assert_eq!(first(sse(Some("7"), None, None, 5, true)), "sse_event.id");
    assert_eq!(first(sse(None, None, None, 5, true)), "sse_event");
    let t = explain(
        Lang::En,
        &ev(Some(Dir::S2c), sse(None, Some(3000), None, 0, false)),
        est,
    )
    .unwrap();
    assert!(t.contains("dispatches no event"), "{t}");
}

/// Snake-case string literals that are not violation rules, in the decoders' code.
const NOT_RULES: &[&str] = &[
    // RFC 7692 §7.1 parameter names (src/proto/http/upgrade.rs).
    "client_max_window_bits",
    "client_no_context_takeover",
    "server_max_window_bits",
    "server_no_context_takeover",
];

/// The snake_case string literals (two words at least: `"a_b"`) of `src`.
fn snake_literals(src: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(at) = rest.find('"') {
        let after = &rest[at + 1..];
        let Some(end) = after.find('"') else { break };
        let lit = &after[..end];
        let snake = lit.contains('_')
            && lit.starts_with(|c: char| c.is_ascii_lowercase())
            && !lit.ends_with('_')
            && !lit.contains("__")
            && lit
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if snake {
            out.push(lit);
        }
        rest = &after[end + 1..];
    }
    out
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The violation rule names the decoders can emit, read from their source: every snake_case
/// string literal outside test code in `src/proto.rs` and `src/proto/**` (the only code that
/// builds `Violation` events) that is not one of [`NOT_RULES`]. A rule is a snake_case name
/// (`"unmasked_client_frame"`), whichever helper passes it on.
fn rules_in_source() -> BTreeSet<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![root.join("proto.rs")];
    rust_files(&root.join("proto"), &mut files);
    let mut rules = BTreeSet::new();
    for f in files {
        if f.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let src = std::fs::read_to_string(&f).unwrap();
        // An inline test module runs to the end of the file.
        let code = match src.find("#[cfg(test)]\nmod tests {") {
            Some(at) => &src[..at],
            None => &src[..],
        };
        rules.extend(
            snake_literals(code)
                .into_iter()
                .filter(|l| !NOT_RULES.contains(l))
                .map(str::to_string),
        );
    }
    rules
}

#[test]
fn every_violation_rule_in_the_decoders_has_a_text() {
    let rules = rules_in_source();
    // The scan sees the rules it should (from ws.rs, http.rs and http/head.rs).
    for r in [
        "unmasked_client_frame",
        "data_before_upgrade_answer",
        "transfer_encoding_not_chunked",
    ] {
        assert!(rules.contains(r), "{r} not found in {rules:?}");
    }
    let keyed: BTreeSet<String> = KEYS
        .iter()
        .filter_map(|k| k.strip_prefix("violation."))
        .map(str::to_string)
        .collect();
    // The decoders' note names are snake_case names too: each has its own text.
    let notes: BTreeSet<String> = KEYS
        .iter()
        .filter_map(|k| k.strip_prefix("note."))
        .map(str::to_string)
        .collect();
    let missing: Vec<_> = rules
        .iter()
        .filter(|r| !keyed.contains(*r) && !notes.contains(*r))
        .collect();
    assert!(
        missing.is_empty(),
        "violation rules or note names without a text (add violation.RULE or note.NAME to \
         KEYS and both assets, or to NOT_RULES if it is not one): {missing:?}"
    );
    let rules: BTreeSet<String> = rules.difference(&notes).cloned().collect();
    // The scan finds two-word names and more: so must every rule be named.
    assert!(keyed.iter().all(|r| r.contains('_')), "{keyed:?}");
    // And no text for a rule nothing emits.
    let unused: Vec<_> = keyed.difference(&rules).collect();
    assert!(
        unused.is_empty(),
        "texts for rules no decoder emits: {unused:?}"
    );
    for lang in Lang::ALL {
        for r in &rules {
            assert!(text(lang, &format!("violation.{r}")).is_some(), "{r}");
        }
    }
}

#[test]
fn snake_literals_finds_rule_names_only() {
    let src = r#"v(cx, "unmasked_client_frame", "client frame not masked".into()); "a"; "x_"; "Ab_c"; "a__b"; n("rsv1_on_control")"#;
    assert_eq!(
        snake_literals(src),
        ["unmasked_client_frame", "rsv1_on_control"]
    );
}

#[test]
fn first_sentence_stops_at_a_full_stop_and_a_space() {
    assert_eq!(
        first_sentence("Masked (RFC 6455 §5.3). The point is not secrecy."),
        "Masked (RFC 6455 §5.3)."
    );
    assert_eq!(first_sentence("HTTP/1.1 only."), "HTTP/1.1 only.");
    assert_eq!(
        first_sentence("마스킹된다. 키가 바로 옆에 있다."),
        "마스킹된다."
    );
    assert_eq!(first_sentence(""), "");
}

#[test]
fn a_transcript_writes_each_text_in_full_once() {
    let mut t = Transcript::default();
    let est = |e: &mut Transcript| {
        e.why(
            Lang::En,
            &ev(
                None,
                EventBody::Handshake(Handshake {
                    syn_ack_rtt: Nanos(1),
                    irtt: Nanos(2),
                }),
            ),
        )
    };
    assert!(est(&mut t).is_some());
    let masked = ev(Some(Dir::C2s), frame(Opcode::Text, true, false, true));
    let full = t.why(Lang::En, &masked).unwrap();
    assert_eq!(
        Some(full.as_str()),
        explain(
            Lang::En,
            &masked,
            Context {
                established: true,
                ..Context::default()
            }
        )
        .as_deref()
    );
    assert!(full.contains("RFC 6455 §10.3"), "{full}");
    let again = t.why(Lang::En, &masked).unwrap();
    assert_eq!(again, format!("{} (more above)", first_sentence(&full)));
    assert!(again.contains("5e4fb3f3"), "{again}");
    // Another key is in full the first time; the repeat keeps the event's own figures.
    let mut other = masked.clone();
    if let EventBody::WsFrame(f) = &mut other.body {
        f.mask_key = Some(crate::model::MaskKey::new([1, 2, 3, 4]));
    }
    assert!(t.why(Lang::En, &other).unwrap().contains("01020304"));
    let close = ev(Some(Dir::C2s), message(Opcode::Close, 1, false, Some(1000)));
    let first = t.why(Lang::En, &close).unwrap();
    assert_eq!(Some(first.as_str()), text(Lang::En, "close.1000"));
    assert!(t.why(Lang::En, &close).unwrap().ends_with("(more above)"));
    // Korean refers back in Korean; a bare ACK is not explained at all.
    let mut ko = Transcript::default();
    ko.why(Lang::Ko, &close);
    let again = ko.why(Lang::Ko, &close).unwrap();
    assert!(again.ends_with(text(Lang::Ko, "label.more_above").unwrap()));
    assert_eq!(
        t.why(Lang::En, &ev(None, seg(tcp_flags::ACK, 0, vec![]))),
        None
    );
}
