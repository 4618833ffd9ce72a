//! The subprotocols decoded from the real captures in assets/captures: Socket.IO 4 and 2 over
//! Engine.IO 4 and 3 (Node's socket.io and socket.io-client), STOMP 1.2 (@stomp/stompjs against
//! scripts/peers/stomp), and Server-Sent Events (the demo server). Each test asserts what the
//! peers sent (see the peer scripts and assets/captures/README.md), then snapshots the text
//! transcript of the subprotocol events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::decode_capture;
use synscope::model::{Dir, Event, EventBody, Layer, SocketIoPacket, SseEvent, StompFrame};
use synscope::view::text::format_event;

fn is_subprotocol(e: &Event) -> bool {
    match &e.body {
        EventBody::SseEvent(_) | EventBody::Stomp(_) | EventBody::Socketio(_) => true,
        EventBody::Malformed(m) => matches!(m.layer, Layer::Sse | Layer::Stomp | Layer::Socketio),
        _ => false,
    }
}

/// The text transcript of the subprotocol events.
fn transcript(events: &[Event]) -> String {
    let mut s = String::new();
    for e in events.iter().filter(|e| is_subprotocol(e)) {
        format_event(&mut s, e);
        s.push('\n');
    }
    s
}

/// Nothing went wrong anywhere: no violation, no malformed event, no gap.
fn clean_run(events: &[Event]) {
    for e in events {
        assert!(
            !matches!(
                e.body,
                EventBody::Violation(_) | EventBody::Malformed(_) | EventBody::Gap(_)
            ),
            "{e:?}"
        );
    }
}

/// Every decoded event directly follows the event it came from (an `http_body`, a
/// `ws_message` or an earlier decoded event), with the same frame, connection and direction.
fn follow_their_source(events: &[Event]) {
    for (i, e) in events.iter().enumerate() {
        if !is_subprotocol(e) {
            continue;
        }
        let prev = &events[i - 1];
        assert!(
            matches!(prev.body, EventBody::HttpBody(_) | EventBody::WsMessage(_))
                || is_subprotocol(prev),
            "{e:?} after {prev:?}"
        );
        assert_eq!((prev.frame, prev.conn, prev.dir), (e.frame, e.conn, e.dir));
    }
}

fn socketio(events: &[Event]) -> Vec<(Dir, u32, &SocketIoPacket)> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Socketio(p) => Some((e.dir.unwrap(), e.conn.unwrap(), &**p)),
            _ => None,
        })
        .collect()
}

fn stomp(events: &[Event]) -> Vec<(Dir, u64, &StompFrame)> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Stomp(f) => Some((e.dir.unwrap(), e.frame, &**f)),
            _ => None,
        })
        .collect()
}

/// The first packet after position `from` that `f` accepts: its position.
fn find(
    p: &[(Dir, u32, &SocketIoPacket)],
    from: usize,
    f: impl Fn(Dir, &SocketIoPacket) -> bool,
) -> usize {
    from + p[from..]
        .iter()
        .position(|(d, _, x)| f(*d, x))
        .unwrap_or_else(|| panic!("not found after {from}: {p:#?}"))
}

fn is_event(x: &SocketIoPacket, ty: &str, ns: &str, name: Option<&str>) -> bool {
    x.socketio_type == Some(ty) && x.namespace.as_deref() == Some(ns) && x.event.as_deref() == name
}

/// What the Socket.IO peer's client and server say on the root namespace and /admin, on
/// whatever transport.
fn socketio_conversation(p: &[(Dir, u32, &SocketIoPacket)], eio: u8) -> usize {
    use Dir::{C2s, S2c};
    let open = &p[0];
    assert_eq!(
        (open.0, open.2.engine_type, open.2.transport),
        (S2c, "open", "polling")
    );
    assert_eq!(open.2.sid.as_ref().map(String::len), Some(20));
    let data = open.2.data.as_deref().unwrap();
    assert!(data.contains("\"pingInterval\":150"), "{data}");
    // Engine.IO 4 announces maxPayload; 3 does not.
    assert_eq!(data.contains("maxPayload"), eio == 4, "{data}");
    let connect = find(p, 1, |d, x| d == S2c && is_event(x, "CONNECT", "/", None));
    // Socket.IO 3+ answers CONNECT with the socket's own id; 2 sends a bare `40`.
    assert_eq!(p[connect].2.sid.is_some(), eio == 4);
    let welcome = find(p, connect, |d, x| {
        d == S2c && is_event(x, "EVENT", "/", Some("welcome"))
    });
    assert_eq!(
        p[welcome].2.data.as_deref(),
        Some(
            format!(
                "[{{\"text\":\"hi from the server\",\"v\":{}}}]",
                if eio == 4 { 4 } else { 2 }
            )
            .as_str()
        )
    );
    let chat = find(p, welcome, |d, x| {
        d == C2s && is_event(x, "EVENT", "/", Some("chat"))
    });
    assert_eq!(p[chat].2.ack_id, Some(0));
    assert_eq!(
        p[chat].2.data.as_deref(),
        Some("[\"hello from the client\"]")
    );
    let ack = find(p, chat, |d, x| d == S2c && is_event(x, "ACK", "/", None));
    assert_eq!(p[ack].2.ack_id, Some(0));
    assert_eq!(
        p[ack].2.data.as_deref(),
        Some("[{\"ok\":true,\"echo\":\"hello from the client\"}]")
    );
    let bin = find(p, ack, |d, x| {
        d == C2s && is_event(x, "BINARY_EVENT", "/", Some("upload"))
    });
    assert_eq!((p[bin].2.attachments, p[bin].2.ack_id), (Some(1), Some(1)));
    assert_eq!(
        p[bin].2.data.as_deref(),
        Some("[\"blob.bin\",{\"_placeholder\":true,\"num\":0}]")
    );
    // The attachment: 6 bytes, counted, not decoded.
    let attachment = find(p, bin, |d, x| d == C2s && x.binary_len.is_some());
    assert_eq!(p[attachment].2.binary_len, Some(6));
    let ack = find(p, attachment, |d, x| {
        d == S2c && is_event(x, "ACK", "/", None)
    });
    assert_eq!(p[ack].2.data.as_deref(), Some("[\"blob.bin: 6 bytes\"]"));
    let admin = find(p, ack, |d, x| {
        d == C2s && is_event(x, "CONNECT", "/admin", None)
    });
    let admin_ok = find(p, admin, |d, x| {
        d == S2c && is_event(x, "CONNECT", "/admin", None)
    });
    assert_eq!(p[admin_ok].2.sid.is_some(), eio == 4);
    let status = find(p, admin_ok, |d, x| {
        d == C2s && is_event(x, "EVENT", "/admin", Some("status"))
    });
    assert_eq!(p[status].2.data.as_deref(), Some("[\"uptime?\"]"));
    let answer = find(p, status, |d, x| {
        d == S2c && is_event(x, "EVENT", "/admin", Some("status"))
    });
    assert_eq!(
        p[answer].2.data.as_deref(),
        Some("[{\"asked\":\"uptime?\",\"uptime_s\":42}]")
    );
    let bye = find(p, answer, |d, x| {
        d == C2s && is_event(x, "DISCONNECT", "/admin", None)
    });
    find(p, bye, |d, x| {
        d == C2s && is_event(x, "DISCONNECT", "/", None)
    });
    // Heart-beats: Engine.IO 4 has the server ping and the client answer; 3 the other way.
    let (pinger, ponger) = if eio == 4 { (S2c, C2s) } else { (C2s, S2c) };
    let beats = |dir, ty| {
        p.iter()
            .filter(|(d, _, x)| *d == dir && x.engine_type == ty && x.data.is_none())
            .count()
    };
    assert!(beats(pinger, "ping") >= 2, "{p:#?}");
    assert!(beats(ponger, "pong") >= 2, "{p:#?}");
    assert_eq!(beats(ponger, "ping"), 0);
    assert!(p.iter().all(|(_, _, x)| !x.incomplete));
    attachment
}

/// The probe and the upgrade on the WebSocket connection; everything after the upgrade goes
/// over it.
fn upgrade(p: &[(Dir, u32, &SocketIoPacket)]) {
    let probe = find(p, 0, |d, x| {
        d == Dir::C2s && x.engine_type == "ping" && x.data.as_deref() == Some("probe")
    });
    let ws = p[probe].1;
    assert_eq!(p[probe].2.transport, "websocket");
    let pong = find(p, probe, |d, x| {
        d == Dir::S2c && x.engine_type == "pong" && x.data.as_deref() == Some("probe")
    });
    let up = find(p, pong, |d, x| d == Dir::C2s && x.engine_type == "upgrade");
    assert_eq!((p[pong].1, p[up].1), (ws, ws));
    let chat = find(p, up, |_, x| x.event.as_deref() == Some("chat"));
    for (_, conn, x) in &p[chat..] {
        assert_eq!((*conn, x.transport), (ws, "websocket"), "{x:?}");
    }
}

#[test]
fn socketio_v4() {
    let events = decode_capture("socketio_v4.pcapng");
    clean_run(&events);
    follow_their_source(&events);
    let p = socketio(&events);
    let attachment = socketio_conversation(&p, 4);
    // Over WebSocket the attachment follows its BINARY_EVENT on the same connection.
    assert_eq!(p[attachment].2.attachment, Some(1));
    upgrade(&p);
    insta::assert_snapshot!("socketio_v4", transcript(&events));
}

#[test]
fn socketio_v3() {
    let events = decode_capture("socketio_v3.pcapng");
    clean_run(&events);
    follow_their_source(&events);
    let p = socketio(&events);
    // Engine.IO 3: the handshake payload carries two length-prefixed packets, open and
    // CONNECT to /.
    assert_eq!(
        (p[1].2.socketio_type, p[1].1, p[1].2.transport),
        (Some("CONNECT"), p[0].1, "polling")
    );
    let attachment = socketio_conversation(&p, 3);
    assert_eq!(p[attachment].2.attachment, Some(1));
    upgrade(&p);
    insta::assert_snapshot!("socketio_v3", transcript(&events));
}

#[test]
fn socketio_polling() {
    let events = decode_capture("socketio_polling.pcapng");
    clean_run(&events);
    follow_their_source(&events);
    let p = socketio(&events);
    let attachment = socketio_conversation(&p, 4);
    // On polling the attachment is a base64 packet of its own POST, on another connection
    // than its BINARY_EVENT: counted, without an attachment number.
    assert_eq!(p[attachment].2.attachment, None);
    assert!(p.iter().all(|(_, _, x)| x.transport == "polling"));
    assert!(!events
        .iter()
        .any(|e| matches!(e.body, EventBody::WsMessage(_))));
    // The client closes the Engine.IO session; the pending GET is answered with a noop.
    let close = find(&p, 0, |d, x| d == Dir::C2s && x.engine_type == "close");
    assert!(p[close..]
        .iter()
        .any(|(d, _, x)| *d == Dir::S2c && x.engine_type == "noop"));
    insta::assert_snapshot!("socketio_polling", transcript(&events));
}

#[test]
fn stomp_over_websocket() {
    use Dir::{C2s, S2c};
    let events = decode_capture("stomp.pcapng");
    clean_run(&events);
    follow_their_source(&events);
    let f = stomp(&events);
    let header = |f: &StompFrame, name: &str| {
        f.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let frames: Vec<(Dir, &str)> = f
        .iter()
        .filter(|(_, _, f)| f.command != "HEARTBEAT")
        .map(|(d, _, f)| (*d, f.command.as_str()))
        .collect();
    assert_eq!(
        frames,
        [
            (C2s, "CONNECT"),
            (S2c, "CONNECTED"),
            (C2s, "SUBSCRIBE"),
            (C2s, "SEND"),
            (S2c, "MESSAGE"),
            (S2c, "RECEIPT"),
            (C2s, "SEND"),
            (S2c, "MESSAGE"),
            (S2c, "RECEIPT"),
            (C2s, "SEND"),
            (S2c, "MESSAGE"),
            (C2s, "DISCONNECT"),
            (S2c, "RECEIPT"),
        ]
    );
    let not_beats: Vec<_> = f
        .iter()
        .filter(|(_, _, f)| f.command != "HEARTBEAT")
        .collect();
    let connect = not_beats[0].2;
    assert_eq!(
        header(connect, "accept-version").as_deref(),
        Some("1.2,1.1,1.0")
    );
    assert_eq!(header(connect, "heart-beat").as_deref(), Some("100,100"));
    let connected = not_beats[1].2;
    assert_eq!(header(connected, "version").as_deref(), Some("1.2"));
    assert_eq!(header(connected, "heart-beat").as_deref(), Some("100,100"));
    let subscribe = not_beats[2].2;
    assert_eq!(
        header(subscribe, "destination").as_deref(),
        Some("/topic/chat")
    );
    assert_eq!(header(subscribe, "id").as_deref(), Some("sub-0"));
    let send = not_beats[3].2;
    assert_eq!(header(send, "destination").as_deref(), Some("/topic/chat"));
    assert_eq!((send.body.as_deref(), send.body_len), (Some("hello"), 5));
    let message = not_beats[4].2;
    assert_eq!(header(message, "subscription").as_deref(), Some("sub-0"));
    assert_eq!(message.body.as_deref(), Some("hello"));
    // The broker sends MESSAGE and RECEIPT in one WebSocket message.
    assert_eq!(not_beats[4].1, not_beats[5].1);
    assert_eq!(header(not_beats[5].2, "receipt-id").as_deref(), Some("r-1"));
    let json = not_beats[6].2;
    assert_eq!(
        header(json, "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        json.body.as_deref(),
        Some(r#"{"from":"alice","text":"héllo, wörld"}"#)
    );
    assert_eq!(json.body_len, 40);
    // STOMP 1.2 escapes: `a\cb\nc\\d` on the wire.
    assert_eq!(header(not_beats[9].2, "note").as_deref(), Some("a:b\nc\\d"));
    assert_eq!(
        header(not_beats[10].2, "note").as_deref(),
        Some("a:b\nc\\d")
    );
    assert_eq!(
        header(not_beats[12].2, "receipt-id"),
        header(not_beats[11].2, "receipt")
    );
    // Heart-beats both ways, every 100 ms, between the last SEND and DISCONNECT.
    for dir in [C2s, S2c] {
        let beats = f
            .iter()
            .filter(|(d, _, f)| *d == dir && f.command == "HEARTBEAT")
            .count();
        assert!(beats >= 2, "{dir:?}: {beats} heart-beats");
    }
    assert!(f.iter().all(|(_, _, f)| !f.incomplete));
    insta::assert_snapshot!("stomp", transcript(&events));
}

#[test]
fn sse_events_as_the_demo_server_sends_them() {
    let events = decode_capture("sse.pcapng");
    clean_run(&events);
    follow_their_source(&events);
    let sse: Vec<&SseEvent> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::SseEvent(s) => Some(&**s),
            _ => None,
        })
        .collect();
    assert_eq!(sse.len(), 6);
    // src/demo/server.rs `events`: a comment and the retry, in a block without data.
    assert_eq!(
        *sse[0],
        SseEvent {
            event: None,
            id: None,
            data: String::new(),
            retry: Some(3000),
            data_len: 0,
            comment: Some("synscope demo: news as server-sent events".into()),
            dispatched: false,
            incomplete: false,
        }
    );
    for (i, ev) in sse[1..].iter().enumerate() {
        let n = i + 1;
        let data = if n == 2 {
            "news 2 of 5\nsecond line".to_string()
        } else {
            format!("news {n} of 5")
        };
        let want = SseEvent {
            event: Some("news".into()),
            id: Some(n.to_string()),
            data_len: data.len() as u64,
            data,
            retry: None,
            comment: None,
            dispatched: true,
            incomplete: false,
        };
        assert_eq!(**ev, want);
    }
    insta::assert_snapshot!("sse", transcript(&events));
}

#[test]
fn json_of_the_new_kinds() {
    let events = decode_capture("stomp.pcapng");
    let send = events
        .iter()
        .find(|e| matches!(&e.body, EventBody::Stomp(f) if f.command == "SEND"))
        .unwrap();
    let v = serde_json::to_value(send).unwrap();
    assert_eq!(v["kind"], "stomp");
    assert_eq!(v["command"], "SEND");
    assert_eq!(
        v["headers"][0],
        serde_json::json!(["destination", "/topic/chat"])
    );
    assert_eq!(v["body"], "hello");
    assert!(v.get("incomplete").is_none());
    let events = decode_capture("socketio_v4.pcapng");
    let chat = events
        .iter()
        .find(|e| matches!(&e.body, EventBody::Socketio(p) if p.event.as_deref() == Some("chat")))
        .unwrap();
    let v = serde_json::to_value(chat).unwrap();
    assert_eq!(
        (
            &v["kind"],
            &v["dir"],
            &v["engine_type"],
            &v["socketio_type"],
            &v["event"]
        ),
        (
            &serde_json::json!("socketio"),
            &serde_json::json!("c2s"),
            &serde_json::json!("message"),
            &serde_json::json!("EVENT"),
            &serde_json::json!("chat")
        )
    );
    assert_eq!(v["ack_id"], 0);
    let events = decode_capture("sse.pcapng");
    let first = events
        .iter()
        .find(|e| matches!(e.body, EventBody::SseEvent(_)))
        .unwrap();
    let v = serde_json::to_value(first).unwrap();
    assert_eq!(
        (&v["retry"], &v["dispatched"]),
        (&serde_json::json!(3000), &serde_json::json!(false))
    );
}

// Messages of 12 KB and of 64 KiB and more, from independent peers (`*_large*` captures,
// assets/captures/README.md). Each peer wrote what it sent to `NAME.peer.jsonl` (sizes,
// SHA-1 of the content): the decoded events are checked against it, twice: with the default
// limits (lengths count every byte, nothing incomplete, nothing malformed, the previews are
// the start of the content), and with previews large enough to hold every message whole, whose
// SHA-1 must be the peer's (so the bytes the decoders read are the bytes that were sent).

/// The peer's record of what it sent.
fn manifest(name: &str) -> Vec<serde_json::Value> {
    let stem = name.trim_end_matches(".pcapng");
    let path = support::capture_path(&format!("{stem}.peer.jsonl"));
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Limits whose previews hold a whole message of these captures.
fn whole_previews() -> synscope::model::Limits {
    synscope::model::Limits {
        max_kept_payload: 1 << 20,
        max_text_preview: 1 << 20,
        ..synscope::model::Limits::default()
    }
}

fn decode_with(name: &str, limits: synscope::model::Limits) -> Vec<Event> {
    let path = support::capture_path(name);
    support::run_engine(&mut synscope::capture::open_path(&path).unwrap(), limits)
}

fn sha1_hex(b: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    Sha1::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

/// The first `n` characters of `s`.
fn head(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

/// No violation, malformed event or gap, except the ones listed (layer, detail).
fn clean_but(events: &[Event], allowed: &[(Layer, &str)]) {
    for e in events {
        match &e.body {
            EventBody::Malformed(m) if allowed.contains(&(m.layer, m.detail.as_str())) => {}
            EventBody::Violation(_) | EventBody::Malformed(_) | EventBody::Gap(_) => {
                panic!("{e:?}")
            }
            _ => {}
        }
    }
}

/// A decoded event comes after the event that carried its last byte (a body piece, a chunk, a
/// message), or after the events of the packet that completed it: in any case with that
/// packet's frame, connection and direction.
fn in_their_packet(events: &[Event]) {
    for (i, e) in events.iter().enumerate() {
        if !is_subprotocol(e) {
            continue;
        }
        let carrier = events[..i].iter().rev().find(|p| {
            matches!(p.body, EventBody::HttpBody(_) | EventBody::WsMessage(_))
                && p.conn == e.conn
                && p.dir == e.dir
        });
        let prev = &events[i - 1];
        assert_eq!(
            (prev.frame, prev.conn),
            (e.frame, e.conn),
            "{e:?} after {prev:?}"
        );
        assert!(carrier.is_some(), "{e:?}");
    }
}

fn sse_events(events: &[Event]) -> Vec<&SseEvent> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::SseEvent(s) => Some(&**s),
            _ => None,
        })
        .collect()
}

#[test]
fn sse_events_of_12_kb_and_64_kib_and_more() {
    let sent = manifest("sse_large");
    // The server closes the stream while it is open: the chunked body never ends.
    let allowed = [(Layer::Http, "chunked response body cut short")];
    let events = decode_capture("sse_large.pcapng");
    clean_but(&events, &allowed);
    in_their_packet(&events);
    let whole_events = decode_with("sse_large.pcapng", whole_previews());
    clean_but(&whole_events, &allowed);
    let (sse, whole) = (sse_events(&events), sse_events(&whole_events));
    // better-sse starts with `retry:` alone, a block a browser does not dispatch.
    assert_eq!(
        (sse[0].retry, sse[0].dispatched, sse[0].data_len),
        (Some(3000), false, 0)
    );
    assert_eq!(sse.len(), sent.len() + 1, "{sse:#?}");
    for (i, want) in sent.iter().enumerate() {
        let (e, w) = (sse[i + 1], whole[i + 1]);
        let ctx = format!("event {}", i + 1);
        assert_eq!(e.event.as_deref(), want["event"].as_str(), "{ctx}");
        assert_eq!(e.id.as_deref(), want["id"].as_str(), "{ctx}");
        assert_eq!(Some(e.data_len), want["data_len"].as_u64(), "{ctx}");
        assert!(e.dispatched && !e.incomplete, "{ctx}: {e:?}");
        assert_eq!(
            e.data.chars().count().min(256),
            e.data.chars().count(),
            "{ctx}"
        );
        assert_eq!(e.data, head(&w.data, 256), "{ctx}");
        assert_eq!(w.data.len() as u64, e.data_len, "{ctx}");
        assert_eq!(
            Some(sha1_hex(w.data.as_bytes()).as_str()),
            want["sha1"].as_str(),
            "{ctx}"
        );
        assert!(!w.incomplete, "{ctx}");
    }
    // Five of 12 KB (the size a user saw decoded as one empty, incomplete event of five),
    // three of 64 KiB and more (one of four lines, one of 2-byte characters).
    let sizes: Vec<u64> = sse[1..].iter().map(|e| e.data_len).collect();
    assert_eq!(
        sizes,
        [12000, 12000, 12000, 12000, 12000, 70000, 100000, 65536, 3]
    );
    assert_eq!(whole[7].data.matches('\n').count(), 3);
    insta::assert_snapshot!("sse_large", transcript(&events));
}

fn stomp_large(name: &str) {
    let sent = manifest(name);
    let events = decode_capture(name);
    clean_run(&events);
    in_their_packet(&events);
    let whole_events = decode_with(name, whole_previews());
    clean_run(&whole_events);
    let frames = stomp(&events);
    let whole = stomp(&whole_events);
    assert_eq!(frames.len(), whole.len());
    assert!(frames.iter().all(|(_, _, f)| !f.incomplete));
    // After the first SEND/MESSAGE pair (`hello`): the large ones, each SEND answered by a
    // MESSAGE with the same body.
    let big = |cmd: &str| -> Vec<usize> {
        frames
            .iter()
            .enumerate()
            .filter(|(_, (_, _, f))| f.command == cmd && f.body_len > 5)
            .map(|(i, _)| i)
            .collect()
    };
    let (sends, messages) = (big("SEND"), big("MESSAGE"));
    assert_eq!((sends.len(), messages.len()), (sent.len(), sent.len()));
    for (k, want) in sent.iter().enumerate() {
        for (i, dir) in [(sends[k], Dir::C2s), (messages[k], Dir::S2c)] {
            let (d, _, f) = frames[i];
            let w = whole[i].2;
            let ctx = format!("{name}: {} {k}", f.command);
            assert_eq!(d, dir, "{ctx}");
            assert_eq!(Some(f.body_len), want["body_len"].as_u64(), "{ctx}");
            let body = w.body.as_deref().unwrap();
            assert_eq!(body.len() as u64, f.body_len, "{ctx}");
            assert_eq!(f.body.as_deref(), Some(head(body, 256)), "{ctx}");
            assert_eq!(
                Some(sha1_hex(body.as_bytes()).as_str()),
                want["sha1"].as_str(),
                "{ctx}"
            );
            let has_length = f.headers.iter().any(|(k, _)| k == "content-length");
            assert_eq!(Some(has_length), want["content_length"].as_bool(), "{ctx}");
        }
    }
    insta::assert_snapshot!(name.trim_end_matches(".pcapng"), transcript(&events));
}

#[test]
fn stomp_bodies_of_20_kb_and_64_kib_and_more() {
    stomp_large("stomp_large.pcapng");
}

#[test]
fn stomp_bodies_of_64_kib_and_more_compressed() {
    // The same conversation with permessage-deflate (ws's implementation on both ends): the
    // decoders read the inflated messages.
    let events = decode_capture("stomp_large_deflate.pcapng");
    let compressed = events
        .iter()
        .filter(|e| matches!(&e.body, EventBody::WsMessage(m) if m.compressed))
        .count();
    assert!(compressed >= 8, "{compressed} compressed messages");
    stomp_large("stomp_large_deflate.pcapng");
}

fn socketio_large(name: &str, transport: &str) {
    let sent = manifest(name);
    let events = decode_capture(name);
    clean_run(&events);
    in_their_packet(&events);
    let whole_events = decode_with(name, whole_previews());
    clean_run(&whole_events);
    let p = socketio(&events);
    let w = socketio(&whole_events);
    assert_eq!(p.len(), w.len());
    assert!(p.iter().all(|(_, _, x)| !x.incomplete), "{p:#?}");
    let named: Vec<usize> = p
        .iter()
        .enumerate()
        .filter(|(_, (_, _, x))| matches!(x.event.as_deref(), Some("big" | "send-back")))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(named.len(), sent.len(), "{name}");
    for (k, want) in sent.iter().enumerate() {
        let (d, _, x) = p[named[k]];
        let whole = w[named[k]].2;
        let ctx = format!("{name}: event {k}");
        let dir = if want["dir"] == "c2s" {
            Dir::C2s
        } else {
            Dir::S2c
        };
        assert_eq!(d, dir, "{ctx}");
        assert_eq!(x.event.as_deref(), want["event"].as_str(), "{ctx}");
        assert_eq!(x.transport, transport, "{ctx}");
        let data = whole.data.as_deref().unwrap();
        assert_eq!(Some(data.len() as u64), want["args_len"].as_u64(), "{ctx}");
        assert_eq!(
            Some(sha1_hex(data.as_bytes()).as_str()),
            want["args_sha1"].as_str(),
            "{ctx}"
        );
        assert_eq!(x.data.as_deref(), Some(head(data, 256)), "{ctx}");
    }
    insta::assert_snapshot!(name.trim_end_matches(".pcapng"), transcript(&events));
}

#[test]
fn socketio_events_of_15_kb_and_64_kib_and_more_over_websocket() {
    socketio_large("socketio_large_ws.pcapng", "websocket");
}

#[test]
fn socketio_events_of_15_kb_and_64_kib_and_more_over_polling() {
    socketio_large("socketio_large_polling.pcapng", "polling");
}

#[test]
fn socketio_v2_events_of_64_kib_and_more_over_polling() {
    // Engine.IO 3: packets framed by their length in UTF-16 code units.
    socketio_large("socketio_large_v3_polling.pcapng", "polling");
}
