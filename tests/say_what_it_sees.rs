//! Saying what it sees: a stream that is not HTTP, a WebSocket joined after its upgrade, a
//! capture that ends inside a body, a stream the client closes: each is named for what it
//! is (a neutral `note`), not reported as damage. Real captures cut with `editcap -r` (as a
//! capture started late, or stopped early, looks) and crafted conversations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use support::*;
use synscope::model::{ConnectionInfo, Dir, Event, EventBody, Note, Opcode, WsMessage};

/// `editcap -r SRC OUT RANGE`: the packets of RANGE (1-based, `8-1000`) of a committed
/// capture, as a capture that began (or ended) there would hold them. Each call writes a file
/// of its own (tests run in parallel).
fn cut(name: &str, range: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cut-{n}-{range}-{name}"));
    let status = Command::new("editcap")
        .arg("-r")
        .arg(capture_path(name))
        .arg(&out)
        .arg(range)
        .status()
        .expect("editcap (wireshark-common, installed with tshark) runs");
    assert!(status.success());
    out
}

fn notes(ev: &[Event]) -> Vec<(Option<Dir>, &Note)> {
    ev.iter()
        .filter_map(|e| match &e.body {
            EventBody::Note(n) => Some((e.dir, &**n)),
            _ => None,
        })
        .collect()
}

fn note_names(ev: &[Event]) -> Vec<&'static str> {
    notes(ev).iter().map(|(_, n)| n.note).collect()
}

fn count(ev: &[Event], kind: &str) -> usize {
    ev.iter().filter(|e| e.body.kind() == kind).count()
}

fn damage(ev: &[Event]) -> Vec<String> {
    ev.iter()
        .filter(|e| matches!(e.body.kind(), "malformed" | "violation"))
        .map(|e| {
            let mut s = String::new();
            synscope::view::text::format_event(&mut s, e);
            s
        })
        .collect()
}

fn messages(ev: &[Event]) -> Vec<(Dir, &WsMessage)> {
    ev.iter()
        .filter_map(|e| match &e.body {
            EventBody::WsMessage(m) => Some((e.dir.unwrap(), &**m)),
            _ => None,
        })
        .collect()
}

fn connection(ev: &[Event]) -> &ConnectionInfo {
    ev.iter()
        .find_map(|e| match &e.body {
            EventBody::Connection(c) => Some(&**c),
            _ => None,
        })
        .unwrap()
}

/// A message as compared across captures: direction, opcode, length, text.
fn shape(m: &(Dir, &WsMessage)) -> (Dir, Opcode, u64, Option<String>) {
    (m.0, m.1.opcode, m.1.len, m.1.text.clone())
}

// ---------------------------------------------------------------------------------------
// A WebSocket joined after its upgrade

#[test]
fn a_websocket_joined_after_its_upgrade_is_decoded_from_its_frames() {
    // ws_chat: frame 6 is the 101; frame 7 the client's ACK; frame 8 the server's first
    // ping. Cut there, the capture starts with that ping; cut at 9, with a bare ACK.
    let whole = decode_capture("ws_chat.pcapng");
    let all = messages(&whole);
    for (from, first_message) in [(8, 0), (9, 1), (10, 1)] {
        let ev = decode_file(&cut("ws_chat.pcapng", &format!("{from}-1000")));
        let what = text(&ev);
        assert_eq!(damage(&ev), Vec::<String>::new(), "cut at {from}:\n{what}");
        let c = connection(&ev);
        assert!(c.joined_late);
        // The roles are the real ones: the masked side (port 39090) is the client.
        assert_eq!(c.client.port(), 39090, "{what}");
        assert_eq!(note_names(&ev), ["upgrade_not_captured"], "{what}");
        // Every message from the cut on, as the whole capture decoded them.
        let got: Vec<_> = messages(&ev).iter().map(shape).collect();
        let want: Vec<_> = all[first_message..].iter().map(shape).collect();
        assert_eq!(got, want, "cut at {from}:\n{what}");
        let end = ev
            .iter()
            .find_map(|e| match &e.body {
                EventBody::ConnectionEnd(c) => Some(c.websocket),
                _ => None,
            })
            .unwrap();
        assert!(end, "connection_end says WebSocket");
    }
}

#[test]
fn compressed_messages_joined_late_inflate_when_they_stand_alone() {
    // ws_deflate (context takeover): cut right after the upgrade, the first message after the
    // cut starts a fresh window and every message inflates; cut later, a message that refers
    // back to what the capture lacks says so, neutrally.
    let whole = decode_capture("ws_deflate.pcapng");
    let ev = decode_file(&cut("ws_deflate.pcapng", "8-1000"));
    assert_eq!(damage(&ev), Vec::<String>::new(), "{}", text(&ev));
    let got: Vec<_> = messages(&ev).iter().map(shape).collect();
    let want: Vec<_> = messages(&whole).iter().map(shape).collect();
    assert_eq!(got, want);
    let ev = decode_file(&cut("ws_deflate.pcapng", "14-1000"));
    assert_eq!(damage(&ev), Vec::<String>::new(), "{}", text(&ev));
    let names = note_names(&ev);
    assert_eq!(names[0], "upgrade_not_captured");
    assert!(
        names[1..]
            .iter()
            .all(|n| *n == "deflate_history_not_captured"),
        "{names:?}"
    );
    assert!(names.len() > 1);
}

/// A WebSocket whose server listens on an ephemeral port and whose client uses 8080: the
/// ports alone would take the client for the server.
fn late_websocket(first_is_bare_ack: bool) -> Vec<Event> {
    let mut c = Conv::new("10.0.0.1:8080", "10.0.0.2:50000");
    if first_is_bare_ack {
        c.seg(false, 0x10, b"");
    }
    let key = [1, 2, 3, 4];
    c.c2s(&client_frame(true, 1, b"hello", key));
    c.s2c(&server_frame(true, 1, b"hello"));
    c.c2s(&client_frame(true, 8, &1000u16.to_be_bytes(), key));
    c.s2c(&server_frame(true, 8, &1000u16.to_be_bytes()));
    c.close();
    decode(&c.bytes())
}

#[test]
fn the_masked_side_is_the_client_whatever_the_ports_say() {
    // The first segment carries masked frames: the connection's roles come from them.
    let ev = late_websocket(false);
    let what = text(&ev);
    assert_eq!(connection(&ev).client.port(), 8080, "{what}");
    assert_eq!(damage(&ev), Vec::<String>::new(), "{what}");
    let m = messages(&ev);
    assert_eq!(m.len(), 4, "{what}");
    assert_eq!(m[0].0, Dir::C2s);
    assert_eq!(m[0].1.text.as_deref(), Some("hello"));
    // The first segment is a bare ACK: the ports decide the roles (wrongly); the frames
    // still say which side masks, and no rule is broken.
    let ev = late_websocket(true);
    let what = text(&ev);
    assert_eq!(connection(&ev).client.port(), 50000, "{what}");
    assert_eq!(damage(&ev), Vec::<String>::new(), "{what}");
    let n = notes(&ev);
    assert_eq!(n.len(), 1);
    assert!(
        n[0].1.detail.ends_with("it is the client"),
        "{}",
        n[0].1.detail
    );
    assert_eq!(messages(&ev).len(), 4, "{what}");
}

#[test]
fn a_websocket_joined_late_streams_through_a_pipe_like_live() {
    // The cut capture through `synscope decode -` on a pipe: what `tcpdump -w - | synscope
    // decode -` started late shows.
    let bytes = std::fs::read(cut("ws_chat.pcapng", "9-1000")).unwrap();
    let out = assert_cmd::cargo::cargo_bin_cmd!("synscope")
        .args(["decode", "-"])
        .write_stdin(bytes)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("MALFORMED"), "{stdout}");
    assert!(
        stdout.contains("NOTE WebSocket upgrade_not_captured"),
        "{stdout}"
    );
    assert!(stdout.contains("c→s  Text \"hello\""), "{stdout}");
    assert!(
        stdout.contains("s→c  Close 1000 Normal Closure"),
        "{stdout}"
    );
}

// ---------------------------------------------------------------------------------------
// Streams that are not HTTP

/// A TLS 1.2 ClientHello's first bytes (record header, handshake header, version).
const CLIENT_HELLO: &[u8] = &[
    0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03, 0x11, 0x22, 0x33,
];
const SERVER_HELLO: &[u8] = &[
    0x16, 0x03, 0x03, 0x00, 0x2a, 0x02, 0x00, 0x00, 0x26, 0x03, 0x03,
];

#[test]
fn tls_hellos_cut_short_are_tls() {
    let mut c = Conv::new("10.0.0.1:40000", "10.0.0.2:6379");
    c.handshake();
    c.c2s(CLIENT_HELLO);
    c.s2c(SERVER_HELLO);
    c.close();
    let ev = decode(&c.bytes());
    let what = text(&ev);
    assert_eq!(damage(&ev), Vec::<String>::new(), "{what}");
    let n: Vec<_> = notes(&ev).iter().map(|(_, n)| n.note).collect();
    assert_eq!(n, ["tls_record_cut", "tls_record_cut"], "{what}");
}

#[test]
fn another_protocol_is_one_note_per_direction_and_its_bytes_add_up() {
    // (TLS is decoded since issue 11: tests/tls_stack.rs, src/proto/tls/tests.rs; these first
    // bytes of hellos are TLS records cut short, see `tls_hellos_cut_short_are_tls`.)
    for (client, server, hints) in [(
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n".to_vec(),
        b"+OK\r\n".to_vec(),
        ["text: \"*3\"", "text: \"+OK\""],
    )] {
        let mut c = Conv::new("10.0.0.1:40000", "10.0.0.2:6379");
        c.handshake();
        c.c2s(&client);
        c.s2c(&server);
        c.c2s(&client);
        c.s2c(&server);
        c.close();
        let ev = decode(&c.bytes());
        let what = text(&ev);
        assert_eq!(damage(&ev), Vec::<String>::new(), "{what}");
        let n = notes(&ev);
        assert_eq!(n.len(), 2, "{what}");
        for ((dir, note), (want_dir, hint)) in
            n.iter().zip([(Dir::C2s, hints[0]), (Dir::S2c, hints[1])])
        {
            assert_eq!(*dir, Some(want_dir));
            assert_eq!(note.note, "not_http");
            assert!(note.detail.ends_with(hint), "{}", note.detail);
        }
        // One data event per segment, adding up to what connection_end counts.
        assert_eq!(count(&ev, "data"), 4, "{what}");
        let mut sums = [0u64; 2];
        for e in &ev {
            if let EventBody::Data(d) = &e.body {
                sums[e.dir.unwrap().idx()] += d.len;
            }
        }
        let end = ev
            .iter()
            .find_map(|e| match &e.body {
                EventBody::ConnectionEnd(c) => Some(c.bytes),
                _ => None,
            })
            .unwrap();
        assert_eq!(sums, end, "{what}");
        // The transcript says it plainly.
        assert!(what.contains("NOTE HTTP not_http: not HTTP: "), "{what}");
        assert!(what.contains("data "), "{what}");
    }
}

// ---------------------------------------------------------------------------------------
// Endings that are not damage

#[test]
fn a_capture_that_ends_inside_a_body_says_so() {
    // streaming_chunked: frames 1-10 hold the request, the response head and its first
    // chunks; the capture "stops" there.
    let ev = decode_file(&cut("streaming_chunked.pcapng", "1-10"));
    let what = text(&ev);
    assert_eq!(damage(&ev), Vec::<String>::new(), "{what}");
    let n = notes(&ev);
    assert_eq!(n.len(), 1, "{what}");
    assert_eq!(n[0].0, Some(Dir::S2c));
    assert_eq!(n[0].1.note, "capture_ended_in_body");
    assert!(
        n[0].1
            .detail
            .starts_with("capture ended before the end of the response body"),
        "{}",
        n[0].1.detail
    );
}

#[test]
fn an_sse_stream_the_client_closes_is_not_malformed() {
    // curl read five events, then closed the stream (scripts/record-captures.sh).
    let ev = decode_capture("sse_client_closed.pcapng");
    let what = text(&ev);
    assert_eq!(damage(&ev), Vec::<String>::new(), "{what}");
    assert_eq!(note_names(&ev), ["peer_closed_in_body"], "{what}");
    // The retry-only block, then five events.
    assert_eq!(count(&ev, "sse_event"), 6, "{what}");
    assert!(
        what.contains("the client closed the connection before the end of the response body"),
        "{what}"
    );
}

// ---------------------------------------------------------------------------------------
// The transcript's words

#[test]
fn the_transcript_uses_human_names() {
    // A gap inside a body: the piece says what is missing, and the gap why.
    let mut c = Conv::new("10.0.0.1:40000", "10.0.0.2:80");
    c.handshake();
    c.c2s(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    c.s2c(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n0123");
    c.advance(false, 0x18, 6);
    c.s2c(b"ABCDEFGHIJ");
    // A request line httparse refuses: shown.
    c.c2s(b"GET /x HTTP/9.9\r\n\r\n");
    c.close();
    let out = text(&decode(&c.bytes()));
    assert!(
        out.contains("GAP 6 bytes missing at seq=44 (not captured)"),
        "{out}"
    );
    assert!(
        out.contains("body 6 B (6 B missing: not captured)"),
        "{out}"
    );
    assert!(
        out.contains("MALFORMED HTTP: request head: invalid HTTP version in “GET /x HTTP/9.9”"),
        "{out}"
    );
    for internal in ["Http:", "Tcp", "Websocket", "NotCaptured"] {
        assert!(!out.contains(internal), "{internal} in:\n{out}");
    }
}
