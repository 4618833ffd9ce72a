//! synscope agrees with Wireshark frame for frame on every committed real capture.
//!
//! The reference is `assets/captures/NAME.tshark.jsonl` (and `assets/demo.tshark.jsonl` for the
//! demo's built-in recording), written by `scripts/tshark-dissect.py`
//! from `tshark -T json` (HTTP body reassembly off, HTTP ports decoded as HTTP). For every frame
//! tshark dissects we compare: TCP flags, relative seq/ack, payload length, scaled window, the
//! sequence-analysis flags; the HTTP requests and responses the frame completes, and for each
//! response the frame of the request it answers and the time since it (`http.request_in`,
//! `http.time`, where tshark matched one; synscope's `time_since_request` runs from the
//! request's last byte and is checked against its own events); and the
//! WebSocket frames it completes (opcode, FIN, mask, payload length). Connections must map one to
//! one onto tshark's `tcp.stream` numbers. When tshark is installed (CI installs it) the test also
//! re-runs the script in `--check` mode, so a reference cannot silently go stale.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use support::{captures, decode_file};
use synscope::model::{ConnId, Dir, Event, EventBody, TcpAnalysis};

/// The committed captures with a tshark reference, and the demo's recording.
fn references() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = captures()
        .into_iter()
        .filter(|p| p.with_extension("tshark.jsonl").exists())
        .collect();
    // The demo's built-in recording (scripts/record-demo.sh), a real capture too.
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcapng");
    if demo.with_extension("tshark.jsonl").exists() {
        v.push(demo);
    }
    v
}

/// synscope names each analysis flag as Wireshark's `tcp.analysis.*` field suffix.
fn tshark_name(a: TcpAnalysis) -> String {
    serde_json::to_value(a)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

/// synscope's events reduced to the reference's per-frame shape.
fn reduce(events: &[Event]) -> (BTreeMap<u64, Value>, HashMap<u64, ConnId>) {
    let mut ports: HashMap<ConnId, (u16, u16)> = HashMap::new();
    let mut frames: BTreeMap<u64, Value> = BTreeMap::new();
    let mut conn_of_frame = HashMap::new();
    // The requests awaiting an answer, per connection: the frame and time of each one's head,
    // and the time of its last byte (the end of its body).
    let mut requests: HashMap<ConnId, VecDeque<(u64, u64, u64)>> = HashMap::new();
    for e in events {
        match &e.body {
            EventBody::Connection(c) => {
                ports.insert(e.conn.unwrap(), (c.client.port(), c.server.port()));
            }
            EventBody::Tcp(s) => {
                let conn = e.conn.unwrap();
                let (cp, sp) = ports[&conn];
                let (sport, dport) = if e.dir == Some(Dir::C2s) {
                    (cp, sp)
                } else {
                    (sp, cp)
                };
                let mut v = json!({
                    "frame": e.frame, "sport": sport, "dport": dport, "flags": s.flags.0,
                    "seq": s.seq, "len": s.len, "win": s.win,
                });
                if let Some(a) = s.ack {
                    v["ack"] = json!(a);
                }
                let mut names: Vec<String> = s.analysis.iter().map(|a| tshark_name(*a)).collect();
                names.sort();
                names.dedup();
                if !names.is_empty() {
                    v["analysis"] = json!(names);
                }
                conn_of_frame.insert(e.frame, conn);
                frames.insert(e.frame, v);
            }
            EventBody::HttpRequest(r) => {
                let v = frames.get_mut(&e.frame).expect("http event on a tcp frame");
                push(v, "http", json!(["req", r.method, r.target, r.version]));
                requests
                    .entry(e.conn.unwrap())
                    .or_default()
                    .push_back((e.frame, e.t.0, e.t.0));
            }
            EventBody::HttpBody(b) if b.end && e.dir == Some(Dir::C2s) => {
                if let Some(last) = requests.entry(e.conn.unwrap()).or_default().back_mut() {
                    last.2 = e.t.0;
                }
            }
            EventBody::HttpResponse(r) => {
                let v = frames.get_mut(&e.frame).expect("http event on a tcp frame");
                let mut resp = json!(["resp", r.status, r.version]);
                // The request it answers, in order (an interim 1xx answers the same one).
                let fifo = requests.entry(e.conn.unwrap()).or_default();
                let request = if (100..200).contains(&r.status) && r.status != 101 {
                    fifo.front().copied()
                } else {
                    fifo.pop_front()
                };
                if let (Some((frame, head, end)), Some(t)) = (request, r.time_since_request) {
                    // The server's time runs from the request's last byte, as Wireshark's
                    // http.time does with body reassembly on (its default); the references
                    // are made with it off, so tshark counts from the frame of the head.
                    assert_eq!(t.0, e.t.0.saturating_sub(end), "frame {}: {r:?}", e.frame);
                    let a = resp.as_array_mut().unwrap();
                    a.push(json!(frame));
                    a.push(json!(e.t.0.saturating_sub(head)));
                }
                push(v, "http", resp);
            }
            EventBody::WsFrame(f) => {
                let v = frames.get_mut(&e.frame).expect("ws event on a tcp frame");
                let op = serde_json::to_value(f.opcode).unwrap();
                let op = opcode_number(&op);
                push(v, "ws", json!([op, f.fin, f.masked, f.payload_len]));
            }
            _ => {}
        }
    }
    (frames, conn_of_frame)
}

fn opcode_number(v: &Value) -> u64 {
    match v {
        Value::Number(n) => n.as_u64().unwrap(),
        Value::String(s) => match s.as_str() {
            "continuation" => 0,
            "text" => 1,
            "binary" => 2,
            "close" => 8,
            "ping" => 9,
            "pong" => 10,
            other => panic!("opcode {other}"),
        },
        other => panic!("opcode {other}"),
    }
}

fn push(v: &mut Value, key: &str, item: Value) {
    match v.get_mut(key) {
        Some(Value::Array(a)) => a.push(item),
        _ => v[key] = json!([item]),
    }
}

#[test]
fn every_real_capture_agrees_with_tshark_frame_for_frame() {
    let caps = references();
    assert!(
        caps.len() >= 8,
        "expected the recorded captures with references, found {caps:?}"
    );
    let mut compared = 0usize;
    // Responses whose request frame and time since it (Wireshark's http.request_in and
    // http.time) were compared.
    let mut timed = 0usize;
    for cap in &caps {
        let reference = std::fs::read_to_string(cap.with_extension("tshark.jsonl")).unwrap();
        let (ours, conn_of_frame) = reduce(&decode_file(cap));
        let mut stream_to_conn: HashMap<u64, ConnId> = HashMap::new();
        let mut tshark_frames = 0;
        for line in reference.lines() {
            let mut theirs: Value = serde_json::from_str(line).unwrap();
            let frame = theirs["frame"].as_u64().unwrap();
            let stream = theirs["stream"].as_u64().unwrap();
            theirs.as_object_mut().unwrap().remove("stream");
            let Some(mine) = ours.get(&frame) else {
                panic!(
                    "{}: frame {frame} has no tcp event; tshark: {theirs}",
                    cap.display()
                )
            };
            let mine = &only_what_tshark_matched(mine, &theirs);
            if let Some(http) = theirs["http"].as_array() {
                timed += http
                    .iter()
                    .filter(|h| h.as_array().unwrap().len() == 5)
                    .count();
            }
            assert_eq!(
                mine,
                &theirs,
                "{}: frame {frame} differs (left synscope, right tshark)",
                cap.display()
            );
            let conn = conn_of_frame[&frame];
            let prev = *stream_to_conn.entry(stream).or_insert(conn);
            assert_eq!(
                prev,
                conn,
                "{}: tcp.stream {stream} spans two connections",
                cap.display()
            );
            tshark_frames += 1;
        }
        assert_eq!(
            tshark_frames,
            ours.len(),
            "{}: tcp frame count differs",
            cap.display()
        );
        let conns: std::collections::HashSet<_> = stream_to_conn.values().collect();
        assert_eq!(
            conns.len(),
            stream_to_conn.len(),
            "{}: two streams share a connection",
            cap.display()
        );
        compared += tshark_frames;
    }
    assert!(compared > 100, "only {compared} frames compared");
    assert!(timed > 100, "only {timed} response times compared");
}

/// `mine` without the request frame and time of the responses tshark did not match to a
/// request: tshark 4.0 matches each response of pipelined requests to the last request, and
/// gives none when it has none. Everywhere else both must say the same.
fn only_what_tshark_matched(mine: &Value, theirs: &Value) -> Value {
    let mut mine = mine.clone();
    let theirs = theirs.get("http").and_then(Value::as_array);
    if let (Some(m), Some(t)) = (mine.get_mut("http").and_then(Value::as_array_mut), theirs) {
        for (m, t) in m.iter_mut().zip(t) {
            let (Some(m), Some(t)) = (m.as_array_mut(), t.as_array()) else {
                continue;
            };
            if m.first() == Some(&json!("resp")) && t.len() == 3 {
                m.truncate(3);
            }
        }
    }
    mine
}

#[test]
fn committed_references_match_tshark_when_installed() {
    let have_tshark = Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_tshark {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install tshark to re-check the references"
        );
        eprintln!("tshark not installed: references not re-derived (they are still compared)");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tshark-dissect.py");
    let out = Command::new("python3")
        .arg(script)
        .arg("--check")
        .args(references())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
