//! synscope's TLS decoding agrees with Wireshark's, frame for frame, on every real capture of
//! `assets/captures/tls` (recorded by `scripts/record-tls-captures.sh`), with its key log where
//! it has one (`NAME.keys`; `dsb_tls13` carries its keys in a Decryption Secrets Block), and
//! without keys where it has none.
//!
//! The reference is `NAME.tshark.jsonl`, written by `scripts/tshark-dissect-tls.py` from
//! `tshark -o tls.keylog_file:NAME.keys` (the format is in `assets/captures/tls/README.md`;
//! tests/tls_references.rs re-derives it when tshark is installed, so it cannot go stale). For
//! every TCP frame we compare:
//!
//! - TCP: flags, relative seq/ack, payload length, scaled window, sequence-analysis flags;
//! - the TLS records the frame completes, in wire order: content type, record version, length,
//!   and whether it was decrypted (`inner`: the type inside) or stayed encrypted (no key);
//! - the handshake messages each record completes: type (`hello_retry_request` told apart),
//!   length; ClientHello SNI, ALPN offered, supported_versions, offered suites, key share
//!   groups; ServerHello / HelloRetryRequest version, suite, ALPN, key share group, TLS 1.3 PSK
//!   accepted; EncryptedExtensions ALPN; Certificate: how many certificates, the leaf's CN and
//!   its SAN DNS names; KeyUpdate `request_update`;
//! - alerts (level, description), in the clear or decrypted;
//! - the HTTP requests and responses and the WebSocket frames (opcode, FIN, mask, payload
//!   length) found inside TLS once decrypted (and in the clear, for the ladder capture).
//!
//! Not compared (synscope does not report them): a ClientHello's `pre_shared_key` and
//! `session_ticket` offers, a TLS 1.2 ServerHello's `encrypt_then_mac`, and the certificates
//! after the leaf beyond their number.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};
use synscope::capture::open_path;
use synscope::engine::Engine;
use synscope::model::{
    ConnId, Dir, Event, EventBody, Limits, TcpAnalysis, TlsHandshake, TlsHandshakeType, TlsVersion,
};

/// The most list entries synscope keeps of a hello or a certificate (src/proto/tls.rs).
const MAX_LIST: usize = 128;

fn tls_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/captures/tls")
}

fn tls_captures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(tls_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcapng" || e == "pcap"))
        .collect();
    v.sort();
    v
}

/// Decodes a capture with its key log, if it has one (and its Decryption Secrets Blocks).
fn decode_tls(cap: &Path) -> Vec<Event> {
    let mut engine = Engine::new(Limits::default());
    let mut events = Vec::new();
    let keys = cap.with_extension("keys");
    if keys.exists() {
        engine.add_keys(&std::fs::read(&keys).unwrap(), &mut events);
        engine.end_keys(&mut events);
    }
    let mut r = open_path(cap).unwrap();
    loop {
        let (frame, secrets) = r.next_frame_with_secrets();
        if !secrets.is_empty() {
            engine.add_capture_secrets(&secrets, &mut events);
        }
        let Some(f) = frame.unwrap() else { break };
        engine.ingest(&f, &mut events);
    }
    engine.finish(&mut events);
    events
}

fn name<T: serde::Serialize>(v: T) -> Value {
    serde_json::to_value(v).unwrap()
}

fn tshark_name(a: TcpAnalysis) -> String {
    name(a).as_str().unwrap().to_string()
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

/// A synscope handshake message in the reference's shape.
fn handshake(h: &TlsHandshake) -> Value {
    let mut v = Map::new();
    v.insert("handshake_type".into(), name(h.handshake_type));
    v.insert("length".into(), json!(h.length));
    let t = h.handshake_type;
    if t == TlsHandshakeType::CLIENT_HELLO {
        if let Some(sni) = &h.sni {
            v.insert("sni".into(), json!(sni));
        }
        if let Some(alpn) = &h.alpn {
            v.insert("alpn".into(), json!(alpn));
        }
        if let Some(sv) = &h.supported_versions {
            v.insert("supported_versions".into(), name(sv));
        }
        if let Some(cs) = &h.cipher_suites {
            v.insert("cipher_suites".into(), name(cs));
        }
        if let Some(g) = &h.key_share_groups {
            v.insert("key_share_groups".into(), name(g));
        }
    } else if t == TlsHandshakeType::SERVER_HELLO || t == TlsHandshakeType::HELLO_RETRY_REQUEST {
        if let Some(ver) = h.version {
            v.insert("version".into(), name(ver));
        }
        if let Some(cs) = h.cipher_suite {
            v.insert("cipher_suite".into(), name(cs));
        }
        if let Some(alpn) = &h.alpn {
            v.insert("alpn".into(), json!(alpn));
        }
        if let Some(g) = h.key_share_groups.as_ref().and_then(|g| g.first()) {
            v.insert("key_share_group".into(), name(g));
        }
        // tshark's pre_shared_key: a TLS 1.3 PSK accepted (synscope's `resumed` also says
        // so for a TLS 1.2 session id or ticket, which tshark does not flag).
        if h.resumed && h.version == Some(TlsVersion::TLS13) {
            v.insert("pre_shared_key".into(), json!(true));
        }
    } else if t == TlsHandshakeType::ENCRYPTED_EXTENSIONS {
        if let Some(alpn) = &h.alpn {
            v.insert("alpn".into(), json!(alpn));
        }
    } else if t == TlsHandshakeType::CERTIFICATE {
        if let Some(n) = h.certificates {
            v.insert("certificates".into(), json!(n));
        }
        if let Some(cn) = h.subject.as_deref().and_then(common_name) {
            v.insert("subject_cn".into(), json!(cn));
        }
        let dns: Vec<&String> = h
            .san
            .iter()
            .flatten()
            .filter(|s| s.parse::<IpAddr>().is_err())
            .collect();
        if !dns.is_empty() {
            v.insert("san_dns".into(), json!(dns));
        }
        if h.san.as_ref().is_some_and(|s| s.len() >= MAX_LIST) {
            v.insert("san_capped".into(), json!(true));
        }
    } else if t == TlsHandshakeType::KEY_UPDATE {
        if let Some(u) = h.update_requested {
            v.insert("request_update".into(), json!(u));
        }
    }
    Value::Object(v)
}

/// The CN of an RFC 4514 subject (`O=synscope, CN=localhost`).
fn common_name(subject: &str) -> Option<String> {
    subject
        .split(", ")
        .find_map(|p| p.strip_prefix("CN="))
        .map(str::to_string)
}

/// tshark's handshake message reduced to what synscope reports: the ClientHello offers and
/// ServerHello extension synscope does not report go; a Certificate is its number of
/// certificates and the leaf's CN and DNS names (cut as synscope cuts them).
fn their_handshake(h: &Value, mine: Option<&Value>) -> Value {
    let mut h = h.as_object().unwrap().clone();
    h.remove("session_ticket");
    h.remove("encrypt_then_mac");
    if h["handshake_type"] == "client_hello" {
        h.remove("pre_shared_key");
    }
    if let Some(certs) = h.remove("certificates") {
        let certs = certs.as_array().unwrap();
        h.insert("certificates".into(), json!(certs.len()));
        if let Some(leaf) = certs.first() {
            if let Some(cn) = leaf.get("subject_cn") {
                h.insert("subject_cn".into(), cn.clone());
            }
            if let Some(dns) = leaf.get("san_dns").and_then(Value::as_array) {
                let mut dns = dns.clone();
                // synscope keeps the first MAX_LIST SAN entries (DNS names and addresses).
                if mine.is_some_and(|m| m.get("san_capped").is_some()) {
                    let kept = mine.unwrap()["san_dns"].as_array().map_or(0, Vec::len);
                    assert!(dns.len() > kept, "capped but tshark has no more names");
                    dns.truncate(kept);
                    h.insert("san_capped".into(), json!(true));
                }
                h.insert("san_dns".into(), json!(dns));
            }
        }
    }
    Value::Object(h)
}

/// The frame of `e`, which a `tcp` event made.
fn at<'a>(frames: &'a mut BTreeMap<u64, Value>, e: &Event) -> &'a mut Value {
    frames
        .get_mut(&e.frame)
        .unwrap_or_else(|| panic!("{} on frame {} without tcp", e.body.kind(), e.frame))
}

/// synscope's events reduced to the reference's per-frame shape, and the connection of each
/// frame.
fn reduce(events: &[Event]) -> (BTreeMap<u64, Value>, HashMap<u64, ConnId>) {
    let mut ports: HashMap<ConnId, (u16, u16)> = HashMap::new();
    let mut frames: BTreeMap<u64, Value> = BTreeMap::new();
    let mut conn_of_frame = HashMap::new();
    // The last record of each direction, where its handshake messages and alert go: (frame,
    // index in that frame's `tls`).
    let mut last_record: HashMap<(ConnId, Dir), (u64, usize)> = HashMap::new();
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
            EventBody::TlsRecord(r) => {
                let mut rec = json!({
                    "content_type": name(r.content_type),
                    "version": name(r.version),
                    "length": r.length,
                });
                match (r.encrypted, r.inner_type) {
                    (true, Some(inner)) => rec["inner"] = name(inner),
                    (true, None) => rec["encrypted"] = json!(true),
                    _ => {}
                }
                let v = at(&mut frames, e);
                push(v, "tls", rec);
                let index = v["tls"].as_array().unwrap().len() - 1;
                last_record.insert((e.conn.unwrap(), e.dir.unwrap()), (e.frame, index));
            }
            EventBody::TlsHandshake(h) => {
                let (frame, i) = last_record[&(e.conn.unwrap(), e.dir.unwrap())];
                assert_eq!(frame, e.frame, "handshake message after its record's frame");
                push(
                    &mut frames.get_mut(&frame).unwrap()["tls"][i],
                    "handshakes",
                    handshake(h),
                );
            }
            EventBody::TlsAlert(a) => {
                let (frame, i) = last_record[&(e.conn.unwrap(), e.dir.unwrap())];
                assert_eq!(frame, e.frame, "alert after its record's frame");
                frames.get_mut(&frame).unwrap()["tls"][i]["alert"] =
                    json!({"level": name(a.level), "description": name(a.description)});
            }
            EventBody::HttpRequest(r) => {
                let v = at(&mut frames, e);
                push(v, "http", json!(["req", r.method, r.target, r.version]));
            }
            EventBody::HttpResponse(r) => {
                let v = at(&mut frames, e);
                push(v, "http", json!(["resp", r.status, r.version]));
            }
            EventBody::WsFrame(f) => {
                let v = at(&mut frames, e);
                let op = opcode_number(&name(f.opcode));
                push(v, "ws", json!([op, f.fin, f.masked, f.payload_len]));
            }
            _ => {}
        }
    }
    (frames, conn_of_frame)
}

/// The reference's frame with its handshake messages reduced to what synscope reports (see
/// [`their_handshake`]), `mine` telling where synscope cut a list.
fn theirs_reduced(theirs: &Value, mine: &Value) -> Value {
    let mut theirs = theirs.clone();
    if let Some(recs) = theirs.get_mut("tls").and_then(Value::as_array_mut) {
        for (i, r) in recs.iter_mut().enumerate() {
            let Some(hs) = r.get_mut("handshakes").and_then(Value::as_array_mut) else {
                continue;
            };
            for (j, h) in hs.iter_mut().enumerate() {
                let m = mine
                    .get("tls")
                    .and_then(|t| t.get(i))
                    .and_then(|r| r.get("handshakes"))
                    .and_then(|h| h.get(j));
                *h = their_handshake(h, m);
            }
        }
    }
    theirs
}

/// What one capture's comparison counted.
#[derive(Default, Debug)]
struct Counts {
    frames: usize,
    records: usize,
    decrypted: usize,
    encrypted: usize,
    handshakes: usize,
    alerts: usize,
    http: usize,
    ws: usize,
}

fn agree(cap: &Path) -> Counts {
    let text = std::fs::read_to_string(cap.with_extension("tshark.jsonl")).unwrap();
    let (ours, conn_of_frame) = reduce(&decode_tls(cap));
    let mut stream_to_conn: HashMap<u64, ConnId> = HashMap::new();
    let mut n = Counts::default();
    for line in text.lines() {
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
        let theirs = theirs_reduced(&theirs, mine);
        assert_eq!(
            mine,
            &theirs,
            "{}: frame {frame} differs (left synscope, right tshark)",
            cap.display()
        );
        for r in theirs
            .get("tls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            n.records += 1;
            n.decrypted += usize::from(r.get("inner").is_some());
            n.encrypted += usize::from(r.get("encrypted").is_some());
            n.alerts += usize::from(r.get("alert").is_some());
            n.handshakes += r
                .get("handshakes")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
        }
        n.http += theirs
            .get("http")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        n.ws += theirs
            .get("ws")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let conn = conn_of_frame[&frame];
        let prev = *stream_to_conn.entry(stream).or_insert(conn);
        assert_eq!(
            prev,
            conn,
            "{}: tcp.stream {stream} spans two connections",
            cap.display()
        );
        n.frames += 1;
    }
    assert_eq!(
        n.frames,
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
    n
}

#[test]
fn every_tls_capture_agrees_with_tshark_frame_for_frame() {
    let caps = tls_captures();
    assert!(
        caps.len() >= 30,
        "expected the TLS captures, found {caps:?}"
    );
    let mut total = Counts::default();
    for cap in &caps {
        let n = agree(cap);
        eprintln!("{}: {n:?}", cap.file_stem().unwrap().to_string_lossy());
        assert!(n.records > 0, "{}: no TLS record compared", cap.display());
        total.frames += n.frames;
        total.records += n.records;
        total.decrypted += n.decrypted;
        total.encrypted += n.encrypted;
        total.handshakes += n.handshakes;
        total.alerts += n.alerts;
        total.http += n.http;
        total.ws += n.ws;
    }
    eprintln!("{} captures, total: {total:?}", caps.len());
    // Floors well under what the captures hold, so that a reduction that drops a kind of
    // item fails here rather than agreeing on nothing.
    assert!(total.frames > 700, "{total:?}");
    assert!(total.records > 550, "{total:?}");
    assert!(total.decrypted > 350, "{total:?}");
    assert!(total.encrypted > 5, "{total:?}");
    assert!(total.handshakes > 300, "{total:?}");
    assert!(total.alerts > 60, "{total:?}");
    assert!(total.http > 70, "{total:?}");
    assert!(total.ws > 60, "{total:?}");
}
