use proptest::prelude::*;

use super::*;

const PREVIEW: usize = 256;

fn ws(eio: u8, text: &str) -> Vec<Item> {
    let mut c = Codec::new(eio, PREVIEW);
    let mut out = Vec::new();
    c.packet(
        Transport::Websocket,
        text.as_bytes(),
        false,
        text.len() as u64,
        false,
        &mut out,
    );
    out
}

fn one(eio: u8, text: &str) -> SocketIoPacket {
    let out = ws(eio, text);
    assert_eq!(out.len(), 1, "{out:?}");
    match out.into_iter().next() {
        Some(Item::Packet(p)) => p,
        other => panic!("{other:?}"),
    }
}

fn packets(items: &[Item]) -> Vec<&SocketIoPacket> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Packet(p) => Some(p),
            Item::Malformed(_) => None,
        })
        .collect()
}

fn problems(items: &[Item]) -> Vec<&str> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Malformed(m) => Some(m.as_str()),
            Item::Packet(_) => None,
        })
        .collect()
}

#[test]
fn engine_io_packets() {
    let p = one(
        4,
        r#"0{"sid":"zQyuyVHIB4m3QEmWAAAA","upgrades":["websocket"],"pingInterval":150}"#,
    );
    assert_eq!(p.engine_type, "open");
    assert_eq!(p.sid.as_deref(), Some("zQyuyVHIB4m3QEmWAAAA"));
    assert!(p.data.as_deref().unwrap().starts_with("{\"sid\""));
    assert_eq!(p.transport, "websocket");
    let p = one(4, "2probe");
    assert_eq!((p.engine_type, p.data.as_deref()), ("ping", Some("probe")));
    assert_eq!(one(4, "3probe").engine_type, "pong");
    assert_eq!(one(4, "5").engine_type, "upgrade");
    assert_eq!(one(4, "6").engine_type, "noop");
    let p = one(4, "1");
    assert_eq!((p.engine_type, p.data), ("close", None));
    // A plain Engine.IO message (not Socket.IO).
    let p = one(4, "4hello");
    assert_eq!((p.socketio_type, p.data.as_deref()), (None, Some("hello")));
    assert_eq!(problems(&ws(4, "7")), ["unknown Engine.IO packet type '7'"]);
    assert_eq!(problems(&ws(4, "")), ["empty Engine.IO packet"]);
}

#[test]
fn socketio_packets() {
    let p = one(4, "40");
    assert_eq!(p.socketio_type, Some("CONNECT"));
    assert_eq!(p.namespace.as_deref(), Some("/"));
    let p = one(4, r#"40/admin,{"sid":"JCH3jxjTowUe881TAAAB"}"#);
    assert_eq!(p.namespace.as_deref(), Some("/admin"));
    assert_eq!(p.sid.as_deref(), Some("JCH3jxjTowUe881TAAAB"));
    let p = one(4, r#"420["chat","hello from the client"]"#);
    assert_eq!(p.socketio_type, Some("EVENT"));
    assert_eq!(p.ack_id, Some(0));
    assert_eq!(p.event.as_deref(), Some("chat"));
    assert_eq!(p.data.as_deref(), Some(r#"["hello from the client"]"#));
    let p = one(4, r#"42/admin,17[ "status" , 1, {"a":[2]} ]"#);
    assert_eq!(
        (p.namespace.as_deref(), p.ack_id, p.event.as_deref()),
        (Some("/admin"), Some(17), Some("status"))
    );
    assert_eq!(p.data.as_deref(), Some(r#"[1, {"a":[2]} ]"#));
    let p = one(4, r#"42["only"]"#);
    assert_eq!(p.data.as_deref(), Some("[]"));
    let p = one(4, r#"430[{"ok":true}]"#);
    assert_eq!((p.socketio_type, p.ack_id), (Some("ACK"), Some(0)));
    assert_eq!(p.data.as_deref(), Some(r#"[{"ok":true}]"#));
    assert_eq!(one(4, "41/admin,").socketio_type, Some("DISCONNECT"));
    assert_eq!(
        one(4, r#"44{"message":"no"}"#).socketio_type,
        Some("CONNECT_ERROR")
    );
    assert_eq!(one(3, r#"44"Not authorized""#).socketio_type, Some("ERROR"));
}

#[test]
fn binary_attachments_are_counted() {
    let mut c = Codec::new(4, PREVIEW);
    let mut out = Vec::new();
    let head = r#"452-1["upload",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
    c.packet(
        Transport::Websocket,
        head.as_bytes(),
        false,
        99,
        false,
        &mut out,
    );
    c.packet(Transport::Websocket, &[0, 1, 2], true, 3, false, &mut out);
    c.packet(Transport::Websocket, &[9; 10], true, 70_000, true, &mut out);
    c.packet(Transport::Websocket, &[7], true, 1, false, &mut out);
    let p = packets(&out);
    assert_eq!(p[0].socketio_type, Some("BINARY_EVENT"));
    assert_eq!((p[0].attachments, p[0].ack_id), (Some(2), Some(1)));
    assert_eq!(p[0].event.as_deref(), Some("upload"));
    assert_eq!((p[1].binary_len, p[1].attachment), (Some(3), Some(1)));
    assert_eq!((p[2].binary_len, p[2].attachment), (Some(70_000), Some(2)));
    assert!(p[2].incomplete);
    // Beyond what was announced: a binary message, no attachment number.
    assert_eq!((p[3].binary_len, p[3].attachment), (Some(1), None));
    // Protocol 3: a type byte first.
    let mut c = Codec::new(3, PREVIEW);
    let mut out = Vec::new();
    c.packet(
        Transport::Websocket,
        &[4, 0, 1, 2],
        true,
        4,
        false,
        &mut out,
    );
    let p = packets(&out);
    assert_eq!((p[0].engine_type, p[0].binary_len), ("message", Some(3)));
    // Base64 on polling: 6 bytes.
    let mut out = Vec::new();
    Codec::new(4, PREVIEW).packet(Transport::Polling, b"bAAECA/7/", false, 9, false, &mut out);
    assert_eq!(packets(&out)[0].binary_len, Some(6));
    let mut out = Vec::new();
    Codec::new(3, PREVIEW).packet(
        Transport::Polling,
        b"b4AAECAw==",
        false,
        10,
        false,
        &mut out,
    );
    assert_eq!(packets(&out)[0].binary_len, Some(4));
    let mut out = Vec::new();
    Codec::new(4, PREVIEW).packet(Transport::Polling, b"b!!", false, 3, false, &mut out);
    assert_eq!(problems(&out), ["binary Engine.IO packet is not base64"]);
}

#[test]
fn hostile_packets() {
    let deep = format!("42[\"x\",{}]", "[".repeat(10_000));
    let out = ws(4, &deep);
    assert_eq!(packets(&out)[0].event.as_deref(), Some("x"));
    assert!(problems(&out)[0].contains("deeper than 64"));
    assert!(problems(&ws(4, "42[\"x\",1"))[0].contains("cut short"));
    assert!(problems(&ws(4, "42[\"x\" 1]"))[0].contains("not JSON"));
    assert!(problems(&ws(4, "42[1] x"))[0].contains("after the JSON"));
    assert!(problems(&ws(4, "4299999999999999999999[1]"))[0].contains("ack id"));
    assert!(problems(&ws(4, "459999999999-[1]"))[0].contains("attachment count"));
    assert!(problems(&ws(4, "45[1]"))[0].contains("attachment count"));
    assert!(problems(&ws(4, "0{\"sid\":"))[0].contains("open packet"));
    // A cut packet: what is there, no problem.
    let mut out = Vec::new();
    Codec::new(4, PREVIEW).packet(
        Transport::Websocket,
        br#"42["chat","aaaa"#,
        false,
        50_000,
        true,
        &mut out,
    );
    assert!(problems(&out).is_empty());
    let p = packets(&out)[0];
    assert!(p.incomplete);
    assert_eq!(p.event.as_deref(), Some("chat"));
    // Previews are bounded.
    let long = format!("42[\"{}\",\"{}\"]", "e".repeat(1000), "a".repeat(5000));
    let p = packets(&ws(4, &long))[0].clone();
    assert_eq!(p.event.unwrap().len(), PREVIEW);
    assert_eq!(p.data.unwrap().chars().count(), PREVIEW);
}

#[test]
fn targets() {
    assert_eq!(
        classify_target("/socket.io/?EIO=4&transport=polling&t=n0swwy76"),
        Some((4, Transport::Polling))
    );
    assert_eq!(
        classify_target("/socket.io/?EIO=3&transport=websocket&sid=x"),
        Some((3, Transport::Websocket))
    );
    assert_eq!(classify_target("/socket.io/?EIO=5&transport=polling"), None);
    assert_eq!(classify_target("/socket.io/?transport=polling"), None);
    assert_eq!(classify_target("/chat"), None);
    assert!(looks_like_engineio(br#"0{"sid":"a"}"#));
    assert!(!looks_like_engineio(b"hello"));
}

/// Splits `body` fed in `pieces` (cut points) and finishes it.
fn split(eio: u8, cap: usize, body: &[u8], cuts: &[usize]) -> Vec<Item> {
    let mut s = PayloadSplitter::new(eio, cap, u64::MAX);
    let mut c = Codec::new(eio, PREVIEW);
    let mut out = Vec::new();
    let mut at = 0;
    for &cut in cuts {
        s.feed(&body[at..cut], &mut c, &mut out);
        at = cut;
    }
    s.feed(&body[at..], &mut c, &mut out);
    s.finish(false, &mut c, &mut out);
    out
}

const V4_BODY: &[u8] =
    b"40{\"sid\":\"Wp7e\"}\x1e42[\"welcome\",{\"text\":\"hi\"}]\x1e2\x1ebAAECA/7/";
/// Lengths in UTF-16 code units: `42["é😀x"]` is 10 (😀 is a surrogate pair), 15 bytes.
const V3_BODY: &[u8] = "29:0{\"sid\":\"ialR\",\"upgrades\":[]}2:4010:42[\"é😀x\"]1:6".as_bytes();

#[test]
fn v4_payloads() {
    let out = split(4, 4096, V4_BODY, &[]);
    let p = packets(&out);
    assert!(problems(&out).is_empty(), "{out:?}");
    let types: Vec<_> = p.iter().map(|p| (p.engine_type, p.socketio_type)).collect();
    assert_eq!(
        types,
        [
            ("message", Some("CONNECT")),
            ("message", Some("EVENT")),
            ("ping", None),
            ("message", None)
        ]
    );
    assert!(p.iter().all(|p| p.transport == "polling"));
    assert_eq!(p[3].binary_len, Some(6));
    assert!(split(4, 4096, b"", &[]).is_empty());
    // Packets larger than the kept bytes are whole: only their previews come from the
    // kept bytes (8 here, too few for the event name).
    let out = split(4, 8, V4_BODY, &[]);
    let p = packets(&out);
    assert_eq!(p.len(), 4);
    assert!(p.iter().all(|p| !p.incomplete));
    assert!(problems(&out).is_empty(), "{out:?}");
    assert_eq!(p[1].event, None);
    assert_eq!(p[3].binary_len, Some(6));
}

#[test]
fn v3_payloads() {
    let out = split(3, 4096, V3_BODY, &[]);
    assert!(problems(&out).is_empty(), "{out:?}");
    let p = packets(&out);
    assert_eq!(p.len(), 4);
    assert_eq!(p[0].sid.as_deref(), Some("ialR"));
    assert_eq!(p[1].socketio_type, Some("CONNECT"));
    assert_eq!(p[2].data.as_deref(), Some("[]"));
    assert_eq!(p[2].event.as_deref(), Some("é😀x"));
    assert_eq!(p[3].engine_type, "noop");
    // Binary framing: a string packet and a binary one.
    let mut body = vec![0, 2, 0xff];
    body.extend_from_slice(b"40");
    body.extend_from_slice(&[1, 4, 0xff, 4, 0xde, 0xad, 0xbe]);
    let out = split(3, 4096, &body, &[]);
    let p = packets(&out);
    assert_eq!(p[0].socketio_type, Some("CONNECT"));
    assert_eq!((p[1].engine_type, p[1].binary_len), ("message", Some(3)));
}

#[test]
fn v3_hostile_payloads() {
    let problem = |body: &[u8]| {
        let out = split(3, 4096, body, &[]);
        problems(&out).join("; ")
    };
    assert!(problem(b"99999999999999999999:x").contains("bad Engine.IO 3 packet length"));
    assert!(problem(b"x").contains("cannot start"));
    assert!(problem(b"5:40").contains("ends inside a packet"));
    assert!(problem(b"12").contains("ends inside a packet length"));
    assert!(problem(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 0xff]).contains("binary packet length"));
    assert!(problem(b"0:").contains("empty Engine.IO packet"));
    // A huge declared length costs only the bytes that come.
    let out = split(3, 16, b"9999999999:4aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &[]);
    assert!(packets(&out)[0].incomplete);
}

#[test]
fn v3_lengths_over_invalid_utf8() {
    // Found by review: a character cut short at the end of a packet took the next packet's
    // first byte, and 0xF8..0xFF counted as 4-byte characters (2 units), so one bad byte
    // lost the framing of the rest of the payload. A JavaScript sender's string has one
    // U+FFFD (1 unit) for each.
    for body in [
        &b"1:\xE01:6"[..],
        b"1:\xE0\x801:6",
        b"1:\xFF1:6",
        b"2:\xFF\xFE1:6",
        b"1:\xF0\x9F1:6",
        b"2:4\x801:6",
    ] {
        let out = split(3, 4096, body, &[]);
        let p = packets(&out);
        assert_eq!(
            p.last().map(|p| p.engine_type),
            Some("noop"),
            "{body:?}: {out:?}"
        );
        assert!(
            problems(&out).iter().all(|m| !m.contains("rest of this")),
            "{out:?}"
        );
        for n in 0..=body.len() {
            assert_eq!(split(3, 4096, body, &[n]), out, "{body:?} cut at {n}");
        }
    }
    // A 4-byte character whole: two units, whatever the cuts.
    let out = split(3, 4096, "3:4😀1:6".as_bytes(), &[]);
    assert_eq!(packets(&out)[0].data.as_deref(), Some("😀"));
    assert_eq!(packets(&out).len(), 2);
    // The body ends on a character cut short: the packet is whole.
    let out = split(3, 4096, b"2:4\xE2", &[]);
    assert!(problems(&out).is_empty(), "{out:?}");
    assert!(!packets(&out)[0].incomplete);
}

#[test]
fn gaps() {
    let mut c = Codec::new(3, PREVIEW);
    let mut s = PayloadSplitter::new(3, 4096, u64::MAX);
    let mut out = Vec::new();
    s.feed(b"2:40", &mut c, &mut out);
    s.feed(b"11:42[\"a", &mut c, &mut out);
    s.gap(&mut c, &mut out);
    s.feed(b"1:6", &mut c, &mut out);
    s.finish(false, &mut c, &mut out);
    let p = packets(&out);
    assert_eq!(p.len(), 2);
    assert!(p[1].incomplete);
    assert_eq!(problems(&out).len(), 1);
    let mut c = Codec::new(4, PREVIEW);
    let mut s = PayloadSplitter::new(4, 4096, u64::MAX);
    let mut out = Vec::new();
    s.feed(b"40\x1e42[\"a", &mut c, &mut out);
    s.gap(&mut c, &mut out);
    s.feed(b"b\"]\x1e2", &mut c, &mut out);
    s.finish(false, &mut c, &mut out);
    let p = packets(&out);
    assert_eq!(p.len(), 3);
    assert!(!p[0].incomplete && p[1].incomplete && !p[2].incomplete);
}

#[test]
fn every_prefix_then_the_rest() {
    for (eio, body) in [(4, V4_BODY), (3, V3_BODY)] {
        let whole = split(eio, 4096, body, &[]);
        for n in 0..=body.len() {
            assert_eq!(split(eio, 4096, body, &[n]), whole, "EIO={eio} cut at {n}");
        }
    }
}

proptest! {
    #[test]
    fn any_split_gives_the_same_packets(
        v4 in any::<bool>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
        cap in 1usize..64,
    ) {
        let (eio, body) = if v4 { (4, V4_BODY) } else { (3, V3_BODY) };
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
        cuts.sort_unstable();
        prop_assert_eq!(split(eio, cap, body, &cuts), split(eio, cap, body, &[]));
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..200),
        eio in 3u8..5,
        binary in any::<bool>(),
    ) {
        let mut c = Codec::new(eio, 16);
        let mut out = Vec::new();
        c.packet(Transport::Websocket, &body, binary, body.len() as u64, false, &mut out);
        let _ = split(eio, 32, &body, &[body.len() / 2]);
    }
}
