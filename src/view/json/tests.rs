use super::*;
use crate::capture::CaptureReader;
use crate::engine::Engine;
use crate::model::{
    tcp_flags, BodyKind, ConnState, HttpRequest, Limits, MaskKey, Payload, Stamp, TcpAnalyses,
    TcpFlags, Timestamp,
};
use proptest::prelude::*;

fn event(detail: &str) -> Event {
    Stamp::default().event(
        None,
        None,
        EventBody::Malformed(Malformed {
            layer: Layer::Http,
            detail: detail.into(),
        }),
    )
}

fn line(e: &Event) -> String {
    let mut out = Vec::new();
    write_event(&mut out, e).unwrap();
    String::from_utf8(out).unwrap()
}

fn serde_line(e: &Event) -> String {
    let mut out = Vec::new();
    write_event_serde(&mut out, e).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn controls_and_line_separators_are_escaped_and_values_unchanged() {
    let hostile = "a\u{1b}[31m\u{7f}\u{85}\u{9b}2J\u{2028}\u{2029}\u{202e}é🙂\"\\\n";
    let l = line(&event(hostile));
    assert_eq!(
        l,
        "{\"t\":0.0,\"frame\":0,\"kind\":\"malformed\",\"layer\":\"http\",\"detail\":\
         \"a\\u001b[31m\\u007f\\u0085\\u009b2J\\u2028\\u2029\\u202eé🙂\\\"\\\\\\n\"}\n"
    );
    assert!(!l
        .trim_end()
        .chars()
        .any(|c| c.is_control() || needs_escape(c)));
    assert_eq!(l.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(&l).unwrap();
    assert_eq!(v["detail"], hostile);
    assert_eq!(l, serde_line(&event(hostile)));
}

#[test]
fn plain_text_is_written_as_serde_json_writes_it() {
    let d = "plain ascii, ünïcödé, \u{1b} and \"quotes\"\u{8}\u{c}\r\t";
    assert_eq!(
        line(&event(d)),
        serde_json::to_string(&event(d)).unwrap() + "\n"
    );
}

#[test]
fn bidi_marks_are_escaped_too() {
    // The whole Bidi_Control set, as in the text view: ALM, LRM and RLM also reorder
    // what a terminal shows.
    let l = line(&event("x\u{61c}\u{200e}\u{200f}y"));
    assert!(l.contains(r#""detail":"x\u061c\u200e\u200fy""#), "{l}");
}

proptest! {
    /// Any string: the hand-written escaping gives serde's bytes (with the terminal-safe
    /// formatter), and the value reads back unchanged.
    #[test]
    fn any_string_is_escaped_as_serde_escapes_it(s in any::<String>()) {
        let e = event(&s);
        let l = line(&e);
        prop_assert_eq!(&l, &serde_line(&e));
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        prop_assert_eq!(v["detail"].as_str(), Some(s.as_str()));
    }

    #[test]
    fn any_time_is_written_as_serde_writes_it(ns in any::<u64>(), frame in any::<u64>()) {
        let mut e = event("x");
        e.t = Nanos(ns);
        e.frame = frame;
        prop_assert_eq!(line(&e), serde_line(&e));
    }

    /// Times in the range written without ryu, and around its ends (any `u64` rarely falls
    /// there): the digits are ryu's.
    #[test]
    fn times_written_from_the_integer_are_ryus(
        ns in prop_oneof![
            PLAIN_SECS,
            0..20_000u64,
            PLAIN_SECS.end - 10_000..PLAIN_SECS.end + 10_000,
            // Round values: trailing zeros, whole seconds.
            (1..1_000_000u64, 0..9u32).prop_map(|(m, z)| m * 10u64.pow(z)),
        ]
    ) {
        let mut e = event("x");
        e.t = Nanos(ns);
        prop_assert_eq!(line(&e), serde_line(&e));
    }
}

/// The ends of the range written without ryu, and the shapes of its digits.
#[test]
fn seconds_are_written_as_ryu_writes_them_at_the_edges() {
    for (ns, want) in [
        (0, "0.0"),
        (9_999, "9.999e-6"),
        (10_000, "0.00001"),
        (10_001, "0.000010001"),
        (123_456, "0.000123456"),
        (1_000_000_000, "1.0"),
        (1_500_000_000, "1.5"),
        (73_132_843_001, "73.132843001"),
        (999_999_999_999_999, "999999.999999999"),
        (1_000_000_000_000_000, "1000000.0"),
    ] {
        let mut out = Vec::new();
        f64_secs(&mut out, Nanos(ns));
        let mut r = ryu::Buffer::new();
        let ryu = r.format_finite(Nanos(ns).secs_f64());
        assert_eq!(std::str::from_utf8(&out).unwrap(), ryu, "{ns} ns");
        assert_eq!(ryu, want, "{ns} ns");
    }
}

/// Every event of every committed capture (and the demo's recording): the hand-written
/// bytes are serde's.
#[test]
fn hand_written_equals_serde_on_every_committed_capture() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(root.join("assets/captures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    files.push(root.join("assets/demo.pcapng"));
    let mut kinds = std::collections::BTreeSet::new();
    let mut n = 0;
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let mut reader = CaptureReader::new(&bytes[..]).unwrap();
        let mut engine = Engine::new(Limits::default());
        let mut events = Vec::new();
        while let Some(frame) = reader.next_frame().unwrap() {
            engine.ingest(&frame, &mut events);
        }
        engine.finish(&mut events);
        for e in &events {
            assert_eq!(line(e), serde_line(e), "{}", path.display());
            kinds.insert(e.body.kind());
            n += 1;
        }
    }
    assert!(n > 1000, "{n} events");
    // Every hand-written kind was seen at least once.
    for k in [
        "connection",
        "tcp",
        "handshake",
        "http_body",
        "ws_frame",
        "ws_message",
        "connection_end",
    ] {
        assert!(kinds.contains(k), "{k} not in any capture");
    }
}

/// What the captures may not hold: every optional field, every name, IPv6 with a zone, the
/// kinds serde writes spliced after the hand-written envelope.
#[test]
fn hand_written_equals_serde_on_every_field() {
    let v4: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let v6: SocketAddr = "[fe80::1%7]:443".parse().unwrap();
    let stamp = Stamp {
        ts: Timestamp(1),
        t: Nanos(1_234_567_891),
        frame: u64::MAX,
    };
    let mut bodies = vec![
        EventBody::Connection(Box::new(ConnectionInfo {
            client: v6,
            server: v4,
            joined_late: true,
        })),
        EventBody::Tcp(TcpSegment {
            flags: TcpFlags(0xff),
            seq: u32::MAX,
            ack: None,
            len: 0,
            win: 7,
            options: Some(TcpOptions {
                mss: None,
                wscale: None,
                sack_perm: false,
                ts_val: None,
                ts_ecr: None,
            }),
            analysis: TcpAnalyses::ORDER.iter().copied().collect(),
            truncated: true,
        }),
        EventBody::Tcp(TcpSegment {
            flags: TcpFlags(tcp_flags::SYN),
            seq: 0,
            ack: Some(1),
            len: 1,
            win: 0,
            options: Some(TcpOptions {
                mss: Some(1460),
                wscale: Some(14),
                sack_perm: true,
                ts_val: Some(1),
                ts_ecr: Some(0),
            }),
            analysis: TcpAnalyses::EMPTY,
            truncated: false,
        }),
        EventBody::Tcp(TcpSegment {
            flags: TcpFlags(0),
            seq: 0,
            ack: None,
            len: 0,
            win: 0,
            options: None,
            analysis: TcpAnalyses::EMPTY,
            truncated: false,
        }),
        EventBody::Handshake(Handshake {
            syn_ack_rtt: Nanos(0),
            irtt: Nanos(u64::MAX),
        }),
        EventBody::HttpRequest(Box::new(HttpRequest {
            method: "GET".into(),
            target: "/\u{1b}".into(),
            version: "HTTP/1.1".into(),
            headers: vec![("Host".into(), "x\"y".into())],
            head_len: 30,
            body: BodyKind::Chunked,
        })),
        EventBody::HttpBody(Box::new(HttpBody {
            len: 5,
            chunk: Some(3),
            end: true,
            missing: 2,
            text: Some("a\nb".into()),
            data: Payload::capped(b"abc", 2),
        })),
        EventBody::WsFrame(WsFrame {
            opcode: Opcode::Reserved(3),
            fin: false,
            rsv1: true,
            rsv2: true,
            rsv3: true,
            masked: true,
            mask_key: Some(MaskKey::new([1, 2, 0xab, 0xff])),
            payload_len: u64::MAX,
            header_len: 14,
            data: Payload::default(),
            incomplete: true,
        }),
        EventBody::WsMessage(Box::new(WsMessage {
            opcode: Opcode::Close,
            len: 2,
            compressed: true,
            frames: 9,
            text: Some("t".into()),
            code: Some(1000),
            code_name: Some("Normal Closure"),
            reason: Some("bye\u{2028}".into()),
            data: Payload::default(),
            incomplete: true,
        })),
        EventBody::Violation(Violation {
            layer: Layer::Websocket,
            rule: "unmasked_client_frame",
            detail: "d".into(),
        }),
        EventBody::Note(Box::new(Note {
            layer: Layer::Http,
            note: "not_http",
            detail: "d".into(),
            bytes: Some(12),
        })),
        EventBody::Note(Box::new(Note {
            layer: Layer::Socketio,
            note: "n",
            detail: String::new(),
            bytes: None,
        })),
    ];
    for reason in [GapReason::NotCaptured, GapReason::Truncated] {
        bodies.push(EventBody::Gap(Gap {
            seq: 1,
            len: 2,
            reason,
        }));
    }
    for layer in [
        Layer::Capture,
        Layer::Link,
        Layer::Ip,
        Layer::Tcp,
        Layer::Http,
        Layer::Websocket,
        Layer::Sse,
        Layer::Stomp,
        Layer::Socketio,
        Layer::Tls,
    ] {
        bodies.push(EventBody::Malformed(Malformed {
            layer,
            detail: "x".into(),
        }));
    }
    for state in [
        ConnState::Handshaking,
        ConnState::Established,
        ConnState::Closing,
        ConnState::Closed,
        ConnState::Reset,
        ConnState::Refused,
    ] {
        bodies.push(EventBody::ConnectionEnd(Box::new(ConnectionEnd {
            client: v4,
            server: v6,
            state,
            websocket: true,
            duration: Nanos(5),
            segments: [1, u64::MAX],
            bytes: [0, 3],
            tls: (state == ConnState::Closed).then(|| crate::model::TlsSummary {
                version: Some(crate::model::TlsVersion::TLS13),
                cipher_suite: Some(crate::model::TlsCipherSuite(0x0a0a)),
                sni: Some("a\u{1b}\u{2028}".into()),
                alpn: None,
                decrypted: true,
            }),
        })));
    }
    for (ty, version, encrypted, inner, plain) in [
        (22u8, 0x0301u16, false, None, None),
        (23, 0x0303, true, None, None),
        (23, 0x0303, true, Some(21u8), Some(2u16)),
        (99, 0x7f1c, false, None, None),
        (23, 0x0303, true, Some(77), Some(0)),
    ] {
        bodies.push(EventBody::TlsRecord(crate::model::TlsRecord {
            content_type: crate::model::TlsContentType(ty),
            version: crate::model::TlsVersion(version),
            length: u16::MAX,
            encrypted,
            inner_type: inner.map(crate::model::TlsContentType),
            plaintext_len: plain,
        }));
    }
    for o in [
        Opcode::Continuation,
        Opcode::Text,
        Opcode::Binary,
        Opcode::Ping,
        Opcode::Pong,
    ] {
        bodies.push(EventBody::WsMessage(Box::new(WsMessage {
            opcode: o,
            len: 0,
            compressed: false,
            frames: 1,
            text: None,
            code: None,
            code_name: None,
            reason: None,
            data: Payload::default(),
            incomplete: false,
        })));
    }
    for (i, body) in bodies.into_iter().enumerate() {
        for (conn, dir) in [
            (None, None),
            (Some(7), Some(Dir::C2s)),
            (Some(0), Some(Dir::S2c)),
        ] {
            let e = stamp.event(conn, dir, body.clone());
            assert_eq!(line(&e), serde_line(&e), "body {i}");
        }
    }
}
