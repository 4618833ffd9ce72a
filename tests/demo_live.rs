//! `synscope demo` headless, for real: the binary starts its demo server and clients on a free
//! loopback port, captures them on `lo` and prints the decoded events. CI runs as root.
//!
//! Without capture rights the demo replays its built-in recording instead; a test that needs
//! live capture then fails under `CI=true` and elsewhere says why and returns early. The
//! fallback itself is tested by dropping to nobody with `setpriv`.
#![cfg(target_os = "linux")]
// The helpers below are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{Block, PcapBlockOwned, PcapError, PcapNGReader};

use serde_json::Value;
use support::rights::{synscope_without_rights, BIN};
use support::temp_path;
use synscope::demo::{CLOSE_CODE, CLOSE_REASON, KOREAN_TEXT, LONG_POLLS, POLLS, STREAM_ITEMS};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `synscope demo SCENARIO --once --pace-ms 20 -w FILE --format json` as this user, checks
/// that FILE holds each packet once, and returns the events and FILE (named `name` in this
/// process's temporary directory); `None` (or a failure under CI=true) when it could not capture
/// and fell back to the recording.
fn demo_once(scenario: &str, name: &str) -> Option<(Vec<Value>, PathBuf)> {
    let path = temp_path(name);
    let file = path.to_str().unwrap();
    let args = [
        "demo",
        scenario,
        "--once",
        "--pace-ms",
        "20",
        "-w",
        file,
        "--format",
        "json",
    ];
    let out = Command::new(BIN).args(args).output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{args:?} failed:\n{err}");
    if err.contains("built-in recording") {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI must be able to capture (run as root): {err}"
        );
        eprintln!("NOT RUN: live capture is not permitted here: {err}");
        return None;
    }
    assert!(err.contains("capturing on lo"), "{err}");
    assert!(err.contains(", 0 dropped; userspace: 0 dropped"), "{err}");
    assert_each_frame_once(&path);
    Some((json_lines(&out.stdout), path))
}

/// No two frames of a capture file are the same bytes: a packet captured twice would be. A
/// segment the kernel really sent again (a Tail Loss Probe on a loaded machine) differs from its
/// first copy in the IPv4 identification, which Linux counts per TCP socket and packet, and in
/// its TCP timestamp.
fn assert_each_frame_once(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    let mut r = PcapNGReader::new(1 << 20, bytes.as_slice()).unwrap();
    let mut seen: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    let mut n = 0;
    loop {
        match r.next() {
            Ok((size, block)) => {
                if let PcapBlockOwned::NG(Block::EnhancedPacket(epb)) = block {
                    n += 1;
                    if let Some(first) = seen.insert(epb.packet_data().to_vec(), n) {
                        panic!("{}: frame {n} is frame {first} again", path.display());
                    }
                }
                r.consume(size);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => r.refill().unwrap(),
            Err(e) => panic!("{}: {e:?}", path.display()),
        }
    }
    assert!(n > 0, "{}: no frame", path.display());
}

fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn kind(e: &Value) -> &str {
    e["kind"].as_str().unwrap()
}

fn flags(e: &Value) -> Vec<&str> {
    e["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect()
}

fn listing(events: &[Value]) -> String {
    events
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a kernel may really send again on a loaded machine, as the sequence analysis names it:
/// a Tail Loss Probe (the last segment sent again when its ACK is late) is a retransmission,
/// spurious once the receiver had acknowledged it, and the receiver's answer to it can repeat
/// its last ACK.
const RESENT: [&str; 4] = [
    "retransmission",
    "spurious_retransmission",
    "fast_retransmission",
    "duplicate_ack",
];

/// What holds for any capture of the demo: nothing malformed or lost; one `tcp` event per
/// frame, frames numbered 1..=N; every connection opened once by one SYN and ended closed by
/// FIN both ways.
///
/// A packet missed by the capture looks like a lost segment to the sequence analysis: that
/// fails. Retransmissions and duplicate ACKs pass: they are real TCP under load (the kernel's
/// timers run whatever the machine does). A packet captured twice would look like them too;
/// that is checked on the frames themselves ([`assert_each_frame_once`]).
fn assert_clean(events: &[Value]) {
    let all = listing(events);
    for e in events {
        assert!(
            !["gap", "violation", "malformed"].contains(&kind(e)),
            "{e}\n{all}"
        );
        if kind(e) == "tcp" {
            let analysis = e.get("analysis").and_then(Value::as_array);
            let bad: Vec<&Value> = analysis
                .into_iter()
                .flatten()
                .filter(|a| a.as_str() != Some("window_update"))
                .filter(|a| !a.as_str().is_some_and(|a| RESENT.contains(&a)))
                .collect();
            assert!(bad.is_empty(), "{e}");
        }
    }
    let frames: Vec<u64> = events
        .iter()
        .filter(|e| kind(e) == "tcp")
        .map(|e| e["frame"].as_u64().unwrap())
        .collect();
    assert_eq!(frames, (1..=frames.len() as u64).collect::<Vec<_>>());
    let mut syns: BTreeMap<u64, u32> = BTreeMap::new();
    let mut fins: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for e in events.iter().filter(|e| kind(e) == "tcp") {
        let conn = e["conn"].as_u64().unwrap();
        if flags(e) == ["SYN"] {
            *syns.entry(conn).or_default() += 1;
        }
        if flags(e).contains(&"FIN") {
            fins.entry(conn)
                .or_default()
                .insert(e["dir"].as_str().unwrap().to_string());
        }
    }
    let conns: Vec<u64> = events
        .iter()
        .filter(|e| kind(e) == "connection")
        .map(|e| e["conn"].as_u64().unwrap())
        .collect();
    assert!(!conns.is_empty());
    for c in &conns {
        assert_eq!(syns.get(c), Some(&1), "conn {c}: one SYN");
        assert_eq!(fins[c].len(), 2, "conn {c}: FIN both ways");
        let end: Vec<&Value> = events
            .iter()
            .filter(|e| kind(e) == "connection_end" && e["conn"].as_u64() == Some(*c))
            .collect();
        assert_eq!(end.len(), 1, "conn {c}");
        assert_eq!(end[0]["state"], "closed", "conn {c}: {}", end[0]);
    }
}

/// `(opcode, text)` of the WebSocket messages one way.
fn ws_messages<'a>(events: &'a [Value], dir: &str) -> Vec<(&'a str, Option<&'a str>)> {
    events
        .iter()
        .filter(|e| kind(e) == "ws_message" && e["dir"] == dir)
        .map(|e| (e["opcode"].as_str().unwrap(), e["text"].as_str()))
        .collect()
}

fn header<'a>(e: &'a Value, name: &str) -> Option<&'a str> {
    e["headers"]
        .as_array()?
        .iter()
        .find(|h| h[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
        .and_then(|h| h[1].as_str())
}

/// The whole WebSocket lesson on one connection, as the demo client of
/// `src/demo/clients.rs` acts it out: handshake, upgrade, the chat, close, FINs.
fn assert_websocket_lesson(events: &[Value]) {
    // `pattern` events classify whole conversations across connections and carry no frame of
    // their own: the packet-by-packet sequence is checked without them.
    let events: Vec<Value> = events
        .iter()
        .filter(|e| kind(e) != "pattern")
        .cloned()
        .collect();
    let events = events.as_slice();
    let all = listing(events);
    let kinds: Vec<&str> = events.iter().map(kind).collect();
    assert_eq!(
        kinds[..5],
        ["connection", "tcp", "tcp", "tcp", "handshake"],
        "{all}"
    );
    assert_eq!(flags(&events[1]), ["SYN"]);
    assert_eq!(flags(&events[2]), ["SYN", "ACK"]);
    assert_eq!(flags(&events[3]), ["ACK"]);
    assert_eq!(kinds.iter().filter(|k| **k == "connection").count(), 1);
    assert_eq!(kinds.last(), Some(&"connection_end"), "{all}");
    assert_clean(events);

    let req: Vec<&Value> = events
        .iter()
        .filter(|e| kind(e) == "http_request")
        .collect();
    assert_eq!(req.len(), 1, "{all}");
    assert_eq!(req[0]["method"], "GET");
    assert_eq!(req[0]["target"], "/ws");
    assert_eq!(header(req[0], "upgrade"), Some("websocket"));
    let resp: Vec<&Value> = events
        .iter()
        .filter(|e| kind(e) == "http_response")
        .collect();
    assert_eq!(resp.len(), 1, "{all}");
    assert_eq!(resp[0]["status"], 101);
    assert_eq!(resp[0]["accept_valid"], true);
    let pos = |k: &str| kinds.iter().position(|x| *x == k).unwrap();
    assert!(pos("handshake") < pos("http_request"));
    assert!(pos("http_response") < pos("ws_message"));

    // (opcode, length, text): the 300-byte text is kept for display only in part, so texts
    // compare as prefixes of what was sent.
    let long = "0123456789".repeat(30);
    let chat: Vec<(&str, u64, Option<&str>)> = vec![
        ("text", 5, Some("hello")),
        ("text", KOREAN_TEXT.len() as u64, Some(KOREAN_TEXT)),
        ("binary", 20, None),
        ("text", 300, Some(long.as_str())),
        ("text", 10, Some("fragmented")),
    ];
    for dir in ["c2s", "s2c"] {
        let data: Vec<&Value> = events
            .iter()
            .filter(|e| kind(e) == "ws_message" && e["dir"] == dir)
            .filter(|e| e["opcode"] == "text" || e["opcode"] == "binary")
            .collect();
        assert_eq!(data.len(), chat.len(), "{dir}: {data:?}");
        for (got, (op, len, text)) in data.iter().zip(&chat) {
            assert_eq!(got["opcode"], *op, "{dir}: {got}");
            assert_eq!(got["len"], *len, "{dir}: {got}");
            match (text, got["text"].as_str()) {
                (None, None) => {}
                (Some(want), Some(shown)) => {
                    assert!(!shown.is_empty() && want.starts_with(shown), "{dir}: {got}")
                }
                _ => panic!("{dir}: {got}"),
            }
        }
    }
    let ops = |dir, op| -> Vec<Option<&str>> {
        ws_messages(events, dir)
            .into_iter()
            .filter(|(o, _)| *o == op)
            .map(|(_, t)| t)
            .collect()
    };
    let client_pings = vec![Some("are you there?"), Some("between fragments")];
    assert_eq!(ops("c2s", "ping"), client_pings);
    assert_eq!(ops("s2c", "pong"), client_pings);
    let server_pings = ops("s2c", "ping");
    assert!(!server_pings.is_empty(), "{all}");
    assert!(server_pings
        .iter()
        .all(|p| p.unwrap().starts_with("server ping ")));
    // tungstenite answers each ping in order until it closes: a ping the server's timer sends
    // once the client's last message is out (the client closing: its Close can cross the ping)
    // can stay unanswered; that happens on a loaded machine.
    let pongs = ops("c2s", "pong");
    assert!(
        server_pings.starts_with(&pongs),
        "{pongs:?} {server_pings:?}"
    );
    let last_data = events
        .iter()
        .rposition(|e| {
            kind(e) == "ws_message"
                && e["dir"] == "c2s"
                && !["pong", "close"].contains(&e["opcode"].as_str().unwrap_or_default())
        })
        .unwrap();
    let unanswered: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| kind(e) == "ws_message" && e["dir"] == "s2c" && e["opcode"] == "ping")
        .map(|(i, _)| i)
        .skip(pongs.len())
        .collect();
    assert!(unanswered.iter().all(|&i| i > last_data), "{all}");
    let fragmented: Vec<&Value> = events
        .iter()
        .filter(|e| kind(e) == "ws_message" && e["text"] == "fragmented")
        .collect();
    assert_eq!(fragmented[0]["frames"], 3);

    // Close 1000 "bye", the client's first, the server's answer after it, then TCP closes.
    let closes: Vec<&Value> = events
        .iter()
        .filter(|e| kind(e) == "ws_message" && e["opcode"] == "close")
        .collect();
    assert_eq!(closes.len(), 2, "{all}");
    assert_eq!(closes[0]["dir"], "c2s");
    assert_eq!(closes[1]["dir"], "s2c");
    for c in &closes {
        assert_eq!(c["code"], CLOSE_CODE);
        assert_eq!(c["reason"], CLOSE_REASON);
    }
    let last_close = events
        .iter()
        .rposition(|e| kind(e) == "ws_message" && e["opcode"] == "close")
        .unwrap();
    let first_fin = events
        .iter()
        .position(|e| kind(e) == "tcp" && flags(e).contains(&"FIN"))
        .unwrap();
    assert!(last_close < first_fin, "{all}");
}

#[test]
fn websocket_once_is_the_whole_lesson_each_packet_once() {
    let Some((events, _)) = demo_once("websocket", "websocket.pcapng") else {
        return;
    };
    assert_websocket_lesson(&events);
}

/// Requests of each connection, in order, as "METHOD target".
fn requests(events: &[Value]) -> BTreeMap<u64, Vec<String>> {
    let mut m: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for e in events.iter().filter(|e| kind(e) == "http_request") {
        m.entry(e["conn"].as_u64().unwrap())
            .or_default()
            .push(format!(
                "{} {}",
                e["method"].as_str().unwrap(),
                e["target"].as_str().unwrap()
            ));
    }
    m
}

fn conns_asking(reqs: &BTreeMap<u64, Vec<String>>, prefix: &str) -> Vec<u64> {
    reqs.iter()
        .filter(|(_, r)| r[0].starts_with(prefix))
        .map(|(c, _)| *c)
        .collect()
}

/// Every pattern of the lesson, each with what makes it what it is.
fn assert_every_pattern(events: &[Value]) {
    assert_clean(events);
    let all = listing(events);
    let reqs = requests(events);
    let t = |e: &Value| e["t"].as_f64().unwrap();

    // Plain HTTP: one kept-alive connection, four requests.
    let http: Vec<u64> = reqs
        .iter()
        .filter(|(_, r)| r[0] == "GET /")
        .map(|(c, _)| *c)
        .collect();
    assert_eq!(http.len(), 1, "{reqs:?}");
    assert_eq!(reqs[&http[0]].len(), 4, "{reqs:?}");
    assert!(reqs[&http[0]][1].starts_with("POST /send"));

    // Short polling: POLLS connections of one GET each, then POLLS GETs on one connection.
    let polls = conns_asking(&reqs, "GET /poll");
    let one_each = polls.iter().filter(|c| reqs[c].len() == 1).count();
    let kept = polls.iter().filter(|c| reqs[c].len() == POLLS as usize);
    assert_eq!(one_each, POLLS as usize, "{reqs:?}");
    assert_eq!(kept.count(), 1, "{reqs:?}");

    // Long polling: LONG_POLLS requests on one connection, the server holding them.
    let long = conns_asking(&reqs, "GET /long-poll");
    assert_eq!(long.len(), 1, "{reqs:?}");
    assert_eq!(reqs[&long[0]].len(), LONG_POLLS as usize);
    let on = |c: u64, k: &'static str| {
        events
            .iter()
            .filter(move |e| kind(e) == k && e["conn"].as_u64() == Some(c))
    };
    let held: Vec<f64> = on(long[0], "http_request")
        .zip(on(long[0], "http_response"))
        .map(|(q, r)| t(r) - t(q))
        .collect();
    assert!(held.iter().any(|h| *h >= 0.005), "held {held:?}");

    // Streaming: a chunked response, one chunk per line.
    let stream = conns_asking(&reqs, "GET /stream");
    assert_eq!(stream.len(), 1, "{reqs:?}");
    let resp: Vec<&Value> = on(stream[0], "http_response").collect();
    assert_eq!(header(resp[0], "transfer-encoding"), Some("chunked"));
    let chunks = on(stream[0], "http_body")
        .filter(|b| b["chunk"].is_u64() && b["len"].as_u64() > Some(0))
        .count();
    assert_eq!(chunks, STREAM_ITEMS as usize, "{all}");

    // Server-Sent Events: a text/event-stream response, events arriving over time.
    let sse = conns_asking(&reqs, "GET /events");
    assert_eq!(sse.len(), 1, "{reqs:?}");
    let resp: Vec<&Value> = on(sse[0], "http_response").collect();
    assert_eq!(header(resp[0], "content-type"), Some("text/event-stream"));
    let pieces = on(sse[0], "http_body")
        .filter(|b| b["len"].as_u64() > Some(0))
        .count();
    assert!(pieces > STREAM_ITEMS as usize, "{all}");

    // WebSocket: the upgrade (on the plain connection: the wss round's is over TLS).
    let tls = tls_conns(events);
    let ws: Vec<u64> = conns_asking(&reqs, "GET /ws")
        .into_iter()
        .filter(|c| !tls.contains(c))
        .collect();
    assert_eq!(ws.len(), 1, "{reqs:?}");
    let resp: Vec<&Value> = on(ws[0], "http_response").collect();
    assert_eq!(resp[0]["status"], 101);
    assert_eq!(resp[0]["accept_valid"], true);
    assert!(on(ws[0], "ws_message").count() > 10);
}

/// The connections that ran TLS (their `connection_end` says so).
fn tls_conns(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .filter(|e| kind(e) == "connection_end" && e.get("tls").is_some())
        .filter_map(|e| e["conn"].as_u64())
        .collect()
}

#[test]
fn all_once_shows_every_pattern() {
    let Some((events, _)) = demo_once("all", "all.pcapng") else {
        return;
    };
    assert_every_pattern(&events);
    // Then the wss round: TCP, TLS (rustls both ends), the upgrade and the WebSocket
    // messages, decrypted with the secrets the client logged in-process, no note.
    let all = listing(&events);
    let tls = tls_conns(&events);
    assert_eq!(tls.len(), 1, "{all}");
    let c = tls[0];
    let on: Vec<&Value> = events
        .iter()
        .filter(|e| e["conn"].as_u64() == Some(c))
        .collect();
    let end = on.iter().find(|e| kind(e) == "connection_end").unwrap();
    assert_eq!(end["tls"]["decrypted"], true, "{end}");
    assert_eq!(end["tls"]["sni"], "localhost", "{end}");
    assert_eq!(end["tls"]["alpn"], "http/1.1", "{end}");
    assert_eq!(end["websocket"], true, "{end}");
    let first = |k: &str| on.iter().position(|e| kind(e) == k).unwrap_or(usize::MAX);
    let (syn, hello, upgrade, message) = (
        first("tcp"),
        first("tls_handshake"),
        first("http_request"),
        first("ws_message"),
    );
    assert!(syn < hello && hello < upgrade && upgrade < message, "{all}");
    let texts: Vec<&str> = on
        .iter()
        .filter(|e| kind(e) == "ws_message" && e["dir"] == "c2s" && e["opcode"] == "text")
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert_eq!(texts, ["hello over TLS", KOREAN_TEXT], "{all}");
    assert!(!events.iter().any(|e| kind(e) == "note"), "{all}");
}

/// `-w` writes what was captured: decoding the file gives the same events, line for line.
#[test]
fn written_demo_decodes_to_the_same_events() {
    let Some((live, path)) = demo_once("websocket", "written.pcapng") else {
        return;
    };
    let file = path.to_str().unwrap();
    let out = Command::new(BIN)
        .args(["decode", "--format", "json", file])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let decoded = json_lines(&out.stdout);
    assert_eq!(decoded.len(), live.len());
    for (a, b) in live.iter().zip(&decoded) {
        for key in ["kind", "conn", "dir", "frame", "t"] {
            assert_eq!(a.get(key), b.get(key), "{key}: {a} vs {b}");
        }
    }
    assert_eq!(live, decoded);
    assert_websocket_lesson(&decoded);
}

/// Without capture rights the demo says so on one line and replays its built-in recording:
/// the whole demo, every pattern in it, in the same JSON.
#[test]
fn without_capture_rights_the_demo_replays_its_recording() {
    let out = synscope_without_rights()
        .args(["demo", "--once", "--format", "json"])
        .output()
        .expect("setpriv (util-linux)");
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("live capture is not permitted here"), "{err}");
    assert!(err.contains("replaying the built-in recording"), "{err}");
    assert!(err.contains("setcap cap_net_raw"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let events = json_lines(&out.stdout);
    assert_every_pattern(&events);

    // One part of it: the WebSocket connection alone, timed from its first packet.
    let out = synscope_without_rights()
        .args(["demo", "websocket", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let ws = json_lines(&out.stdout);
    assert_eq!(ws[0]["t"], 0.0);
    let rebased: Vec<Value> = ws
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e["conn"] = 0.into();
            e
        })
        .collect();
    // Frame numbers are the recording's: renumber them for the lesson's checks.
    let first = ws[1]["frame"].as_u64().unwrap();
    let renumbered: Vec<Value> = rebased
        .into_iter()
        .map(|mut e| {
            e["frame"] = (e["frame"].as_u64().unwrap() + 1 - first).into();
            e
        })
        .collect();
    assert_websocket_lesson(&renumbered);

    // --recording forces it even with rights, without the warning.
    let out = Command::new(BIN)
        .args(["demo", "--recording", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    assert_eq!(json_lines(&out.stdout), events);
}

/// The demo writes with `decode`'s writer: its recording in every format (Mermaid, text with
/// explanations) is what `decode` prints for the recording's file.
#[test]
fn the_recording_is_written_as_decode_writes_it() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo.pcapng");
    for format in [
        &["--format", "mermaid"][..],
        &["--format", "text", "--explain"],
        &["--format", "json"],
    ] {
        let demo = Command::new(BIN)
            .args(["--lang", "ko", "demo", "--recording"])
            .args(format)
            .output()
            .unwrap();
        assert!(demo.status.success(), "{}", stderr(&demo));
        let decode = Command::new(BIN)
            .args(["--lang", "ko", "decode", file])
            .args(format)
            .output()
            .unwrap();
        assert!(decode.status.success(), "{}", stderr(&decode));
        assert!(!demo.stdout.is_empty());
        assert_eq!(
            String::from_utf8(demo.stdout).unwrap(),
            String::from_utf8(decode.stdout).unwrap(),
            "{format:?}"
        );
    }
}

/// The TUI needs a terminal: said plainly, before anything starts.
#[test]
fn the_demo_without_a_terminal_asks_for_a_format() {
    let out = Command::new(BIN).arg("demo").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("draws on a terminal"), "{err}");
    assert!(err.contains("--format"), "{err}");
    assert!(out.stdout.is_empty());
}
