//! TLS under the whole stack: one conversation (an HTTP upgrade to WebSocket with
//! permessage-deflate and a STOMP subprotocol, then messages and a close) sent once in the clear
//! and once through real TLS (rustls client and server in memory, secrets logged through
//! rustls's `KeyLog`), each framed into TCP segments with `tests/support`. Decrypted, the TLS
//! capture must give exactly the events of the plaintext one; without keys it must stay visible
//! as TLS with one note. Then the command line: `--keylog`, `SSLKEYLOGFILE`, a pcapng
//! Decryption Secrets Block, and a key log that cannot be read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use assert_cmd::Command;
use flate2::{Compress, Compression, FlushCompress};
use support::*;
use synscope::capture::CaptureReader;
use synscope::demo::tls::{InMemory, KeyCollector, Offer, Pki};
use synscope::engine::Engine;
use synscope::model::{Event, EventBody, Limits};

const CLIENT: &str = "10.0.0.1:40000";
const SERVER: &str = "10.0.0.2:8443";

/// permessage-deflate (RFC 7692 §7.2.1): raw deflate, sync flush, the 4-byte trailer removed.
fn deflate(z: &mut Compress, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    z.compress_vec(data, &mut out, FlushCompress::Sync).unwrap();
    out.truncate(out.len() - 4);
    out
}

fn server_frame(rsv1: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80 | if rsv1 { 0x40 } else { 0 } | opcode];
    match payload.len() {
        n if n < 126 => f.push(n as u8),
        n => {
            f.push(126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    f.extend_from_slice(payload);
    f
}

/// The application's writes, `(from the client, bytes)`: upgrade with permessage-deflate and
/// STOMP, STOMP frames both ways (the server's compressed), a large message, the close.
fn conversation() -> Vec<(bool, Vec<u8>)> {
    let req = "GET /stomp HTTP/1.1\r\nHost: localhost:8443\r\nUpgrade: websocket\r\n\
               Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
               Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v12.stomp\r\n\
               Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
    let resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
                Sec-WebSocket-Protocol: v12.stomp\r\n\
                Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
    let mut z = Compress::new(Compression::default(), false);
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let big = "x".repeat(40_000);
    vec![
        (true, req.as_bytes().to_vec()),
        (false, resp.as_bytes().to_vec()),
        (
            true,
            client_frame(
                true,
                1,
                b"CONNECT\naccept-version:1.2\nhost:localhost\n\n\0",
                key,
            ),
        ),
        (
            false,
            server_frame(
                true,
                1,
                &deflate(&mut z, b"CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\0"),
            ),
        ),
        (
            true,
            client_frame(true, 1, b"SEND\ndestination:/topic/a\n\nhello\0", key),
        ),
        (
            false,
            server_frame(
                true,
                1,
                &deflate(
                    &mut z,
                    format!("MESSAGE\ndestination:/topic/a\nmessage-id:1\n\n{big}\0").as_bytes(),
                ),
            ),
        ),
        (true, client_frame(true, 8, &[0x03, 0xe8], key)),
        (false, server_frame(false, 8, &[0x03, 0xe8])),
    ]
}

/// The conversation in the clear.
fn plain_capture() -> Vec<u8> {
    let mut c = Conv::new(CLIENT, SERVER);
    c.handshake();
    for (from_client, bytes) in conversation() {
        c.seg(from_client, PSH | ACK, &bytes);
    }
    c.close();
    c.pcap.pcapng()
}

/// The conversation through TLS (`offer` for the client), and the key log of the session.
fn tls_capture(offer: &Offer) -> (Vec<u8>, Vec<u8>) {
    let pki = Pki::new().unwrap();
    let keys = KeyCollector::new();
    let mut tls = InMemory::new(
        pki.client(offer, Some(&keys)).unwrap(),
        pki.server(
            &Offer {
                alpn: offer.alpn.clone(),
                ..Offer::default()
            },
            Some(&keys),
        )
        .unwrap(),
    )
    .unwrap();
    tls.pump().unwrap();
    for (from_client, bytes) in conversation() {
        assert_eq!(tls.say(from_client, &bytes).unwrap(), bytes);
    }
    tls.client.send_close_notify();
    tls.server.send_close_notify();
    tls.pump().unwrap();
    let mut c = Conv::new(CLIENT, SERVER);
    c.handshake();
    for (from_client, bytes) in &tls.trace {
        c.seg(*from_client, PSH | ACK, bytes);
    }
    c.close();
    (c.pcap.pcapng(), keys.take())
}

fn decode_keys(capture: &[u8], keys: &[u8]) -> Vec<Event> {
    let mut engine = Engine::new(Limits::default());
    engine.add_keys(keys, &mut Vec::new());
    let mut r = CaptureReader::new(capture).unwrap();
    let mut events = Vec::new();
    while let Some(f) = r.next_frame().unwrap() {
        engine.ingest(&f, &mut events);
    }
    engine.finish(&mut events);
    events
}

/// The application's events, as JSON without time and frame: what HTTP, WebSocket and STOMP
/// made of the bytes.
fn application(events: &[Event]) -> Vec<serde_json::Value> {
    events
        .iter()
        .filter(|e| {
            matches!(
                e.body,
                EventBody::HttpRequest(_)
                    | EventBody::HttpResponse(_)
                    | EventBody::HttpBody(_)
                    | EventBody::WsFrame(_)
                    | EventBody::WsMessage(_)
                    | EventBody::Stomp(_)
                    | EventBody::Violation(_)
                    | EventBody::Malformed(_)
            )
        })
        .map(|e| {
            let mut v = serde_json::to_value(e).unwrap();
            v.as_object_mut().unwrap().remove("t");
            v.as_object_mut().unwrap().remove("frame");
            v
        })
        .collect()
}

fn kinds<'a>(events: &'a [Event], kind: &str) -> Vec<&'a Event> {
    events.iter().filter(|e| e.body.kind() == kind).collect()
}

#[test]
fn decrypted_tls_gives_the_events_of_plaintext() {
    let plain = decode(&plain_capture());
    let expected = application(&plain);
    assert!(expected.len() > 12, "{expected:#?}");
    assert_eq!(kinds(&plain, "stomp").len(), 4);
    for versions in [vec![&rustls::version::TLS13], vec![&rustls::version::TLS12]] {
        let offer = Offer {
            versions,
            alpn: vec![b"http/1.1".to_vec()],
            ..Offer::default()
        };
        let (capture, keys) = tls_capture(&offer);
        let events = decode_keys(&capture, &keys);
        assert_eq!(application(&events), expected, "{offer:?}");
        assert!(kinds(&events, "note").is_empty());
        let end = kinds(&events, "connection_end");
        let EventBody::ConnectionEnd(end) = &end[0].body else {
            unreachable!()
        };
        assert!(end.websocket);
        let tls = end.tls.as_ref().unwrap();
        assert!(tls.decrypted);
        assert_eq!(tls.alpn.as_deref(), Some("http/1.1"));
        assert_eq!(tls.sni.as_deref(), Some("localhost"));

        // Without the keys: TLS records, one note, no HTTP.
        let events = decode_keys(&capture, b"");
        assert!(application(&events).is_empty());
        assert_eq!(kinds(&events, "note").len(), 1);
        assert!(kinds(&events, "tls_record").len() > 10);
        assert!(kinds(&events, "tls_handshake").len() >= 2);
    }
}

/// A pcapng with a Decryption Secrets Block holding `keys` right after its interface.
fn with_dsb(capture: &[u8], keys: &[u8]) -> Vec<u8> {
    // The SHB and IDB of `Pcap::pcapng` are the first two blocks.
    let shb = u32::from_le_bytes(capture[4..8].try_into().unwrap()) as usize;
    let idb = u32::from_le_bytes(capture[shb + 4..shb + 8].try_into().unwrap()) as usize;
    let at = shb + idb;
    let pad = (4 - keys.len() % 4) % 4;
    let len = (20 + keys.len() + pad) as u32;
    let mut dsb = Vec::new();
    dsb.extend_from_slice(&0x0au32.to_le_bytes());
    dsb.extend_from_slice(&len.to_le_bytes());
    dsb.extend_from_slice(&0x544c_534bu32.to_le_bytes());
    dsb.extend_from_slice(&(keys.len() as u32).to_le_bytes());
    dsb.extend_from_slice(keys);
    dsb.extend(std::iter::repeat_n(0u8, pad));
    dsb.extend_from_slice(&len.to_le_bytes());
    let mut out = capture[..at].to_vec();
    out.extend(dsb);
    out.extend_from_slice(&capture[at..]);
    out
}

fn synscope() -> Command {
    let mut c = Command::cargo_bin("synscope").unwrap();
    c.env_remove("SSLKEYLOGFILE");
    c
}

fn json(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn count(lines: &[serde_json::Value], kind: &str) -> usize {
    lines.iter().filter(|l| l["kind"] == kind).count()
}

#[test]
fn the_command_line_takes_keys_from_every_source() {
    let (capture, keys) = tls_capture(&Offer::default());
    let dir = std::env::temp_dir().join(format!("synscope-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cap = dir.join("wss.pcapng");
    let keylog = dir.join("keys.log");
    std::fs::write(&cap, &capture).unwrap();
    std::fs::write(&keylog, &keys).unwrap();

    let decrypted = |out: &[u8]| {
        let l = json(out);
        assert_eq!(count(&l, "http_request"), 1);
        assert_eq!(count(&l, "stomp"), 4);
        assert_eq!(count(&l, "note"), 0, "{l:#?}");
    };
    // --keylog FILE
    let out = synscope()
        .args(["decode", "--format", "json", "--keylog"])
        .arg(&keylog)
        .arg(&cap)
        .output()
        .unwrap();
    assert!(out.status.success());
    decrypted(&out.stdout);
    // SSLKEYLOGFILE
    let out = synscope()
        .env("SSLKEYLOGFILE", &keylog)
        .args(["decode", "--format", "json"])
        .arg(&cap)
        .output()
        .unwrap();
    decrypted(&out.stdout);
    // A Decryption Secrets Block (editcap --inject-secrets).
    let dsb = dir.join("wss-dsb.pcapng");
    std::fs::write(&dsb, with_dsb(&capture, &keys)).unwrap();
    let out = synscope()
        .args(["decode", "--format", "json"])
        .arg(&dsb)
        .output()
        .unwrap();
    decrypted(&out.stdout);
    // The text view: the ladder.
    let out = synscope()
        .args(["decode", "--keylog"])
        .arg(&keylog)
        .arg(&cap)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "ClientHello SNI=localhost",
        "ServerHello TLS 1.3 TLS_AES_256_GCM_SHA384",
        "decrypted application data",
        "GET /stomp HTTP/1.1",
        "101 Switching Protocols",
        "STOMP CONNECT",
    ] {
        assert!(text.contains(want), "{want}\n{text}");
    }
    // No keys: one note names what is missing; decoding goes on.
    let out = synscope()
        .args(["decode", "--format", "json"])
        .arg(&cap)
        .output()
        .unwrap();
    let l = json(&out.stdout);
    assert_eq!(count(&l, "http_request"), 0);
    let notes: Vec<_> = l.iter().filter(|l| l["kind"] == "note").collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["note"], "tls_keys_missing");
    assert!(notes[0]["detail"]
        .as_str()
        .unwrap()
        .contains("SERVER_HANDSHAKE_TRAFFIC_SECRET"));
    // A --keylog that does not exist: one line, failure.
    let out = synscope()
        .args(["decode", "--keylog"])
        .arg(dir.join("nope.log"))
        .arg(&cap)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("key log"), "{err}");
    // A garbage key log: a note, and decoding goes on.
    let garbage = dir.join("garbage.log");
    std::fs::write(&garbage, [0xffu8; 10_000]).unwrap();
    let out = synscope()
        .args(["decode", "--format", "json", "--keylog"])
        .arg(&garbage)
        .arg(&cap)
        .output()
        .unwrap();
    assert!(out.status.success());
    let l = json(&out.stdout);
    assert!(
        l.iter().any(|l| l["note"] == "tls_keylog_bad_lines"),
        "{l:#?}"
    );
    assert!(l.iter().any(|l| l["note"] == "tls_keys_missing"));
    // An SSLKEYLOGFILE that does not exist: a note, not an error.
    let out = synscope()
        .env("SSLKEYLOGFILE", dir.join("nope.log"))
        .args(["decode", "--format", "json"])
        .arg(&cap)
        .output()
        .unwrap();
    assert!(out.status.success());
    let l = json(&out.stdout);
    assert!(l.iter().any(|l| l["note"] == "tls_keylog_unreadable"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A huge key log (a browser's after weeks, or garbage): read up to `max_keylog_bytes`, the
/// sessions kept up to `max_keylog_sessions`, each limit said once in a note; the lines of
/// other sessions match nothing, and the session whose secrets were read still decrypts.
#[test]
fn a_huge_keylog_is_bounded_with_notes_and_decoding_goes_on() {
    let (capture, keys) = tls_capture(&Offer::default());
    let mut text = keys.clone();
    for i in 0..5000u32 {
        // Other sessions' secrets: well-formed lines for client randoms never seen.
        text.extend_from_slice(
            format!(
                "CLIENT_TRAFFIC_SECRET_0 {:064x} {}\n",
                u64::from(i) + 1,
                "ab".repeat(48)
            )
            .as_bytes(),
        );
    }
    text.extend(std::iter::repeat_n(0xffu8, 100_000));
    let dir = std::env::temp_dir().join(format!("synscope-tls-huge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("huge.log");
    std::fs::write(&path, &text).unwrap();
    let limits = Limits {
        max_keylog_sessions: 100,
        max_keylog_bytes: (keys.len() + 300_000) as u64,
        ..Limits::default()
    };
    let mut engine = Engine::new(limits);
    engine
        .load_keys(&synscope::keylog::KeySource {
            path: path.clone(),
            from_env: false,
        })
        .unwrap();
    assert!(engine.keys().len() <= 100);
    assert!(
        engine.keys().held_bytes() <= synscope::keylog::KeyLog::max_held(100),
        "{}",
        engine.keys().held_bytes()
    );
    let mut r = CaptureReader::new(&capture[..]).unwrap();
    let mut events = Vec::new();
    while let Some(f) = r.next_frame().unwrap() {
        engine.ingest(&f, &mut events);
    }
    engine.finish(&mut events);
    let notes: Vec<&str> = kinds(&events, "note")
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Note(n) => Some(n.note),
            _ => None,
        })
        .collect();
    // The line the byte limit cut in two is a bad line.
    assert_eq!(
        notes,
        [
            "tls_keylog_too_large",
            "tls_keylog_full",
            "tls_keylog_bad_lines"
        ],
        "{notes:?}"
    );
    assert_eq!(kinds(&events, "http_request").len(), 1);
    assert_eq!(kinds(&events, "stomp").len(), 4);
    std::fs::remove_dir_all(&dir).unwrap();
}
