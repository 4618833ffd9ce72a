//! Every-split tests with messages of 64 KiB and more: a whole [`Session`] (HTTP, WebSocket,
//! and the subprotocols they carry) fed conversations whose SSE events, STOMP frames and
//! Engine.IO packets run to 100 KB, cut into pieces anywhere, must decode to the same
//! subprotocol events as when each turn is fed whole.
//!
//! Cuts tried: every position within [`AROUND`] bytes of each boundary that matters (frame
//! headers and payload starts, chunk-size lines and chunk data, line ends, NULs, record
//! separators, length prefixes), random multi-splits (proptest), and one run a byte at a time.
//! Every single cut over all 64K+ positions is not tried: a debug build decodes a 300 KB
//! conversation in milliseconds, and 300,000 of them would take minutes; the decoders' state
//! changes only at the boundaries listed (between them they count and copy), so the cuts
//! around each boundary cover every state a cut can fall in.

use flate2::{Compress, Compression, FlushCompress};
use proptest::prelude::*;

use super::*;

use Dir::{C2s, S2c};

/// Cuts tried on each side of a boundary.
const AROUND: usize = 2;

/// A conversation: turns of client and server bytes, and the offsets (in all its bytes, in
/// order) where something starts or ends.
#[derive(Default)]
struct Script {
    turns: Vec<(Dir, Vec<u8>)>,
    marks: Vec<usize>,
    len: usize,
}

impl Script {
    fn add(&mut self, dir: Dir, b: &[u8]) {
        match self.turns.last_mut() {
            Some((d, t)) if *d == dir => t.extend_from_slice(b),
            _ => self.turns.push((dir, b.to_vec())),
        }
        self.len += b.len();
    }

    fn mark(&mut self) {
        self.marks.push(self.len);
    }

    /// Adds `b`, marking every line end, NUL and record separator in it.
    fn add_marked(&mut self, dir: Dir, b: &[u8]) {
        for (i, &c) in b.iter().enumerate() {
            if matches!(c, b'\n' | b'\r' | 0 | 0x1e) {
                self.marks.push(self.len + i);
            }
        }
        self.add(dir, b);
    }
}

/// The subprotocol events (and their notes) decoded from `script` fed with cuts at `cuts`
/// (offsets in all its bytes); held bytes are checked after every piece.
fn run(script: &Script, cuts: &[usize], limits: &Limits) -> Vec<(Option<Dir>, EventBody)> {
    let mut session = Session::new(limits);
    let max = Session::max_held(limits);
    let mut out: Vec<Event> = Vec::new();
    let mut at = 0;
    let mut cuts = cuts.iter().copied().peekable();
    for (dir, bytes) in &script.turns {
        let end = at + bytes.len();
        let mut from = at;
        loop {
            let to = match cuts.peek() {
                Some(&c) if c <= from => {
                    cuts.next();
                    continue;
                }
                Some(&c) if c < end => c,
                _ => end,
            };
            let mut cx = Cx {
                stamp: Stamp::default(),
                conn: 1,
                state: crate::model::ConnState::Established,
                limits,
                keys: &crate::keylog::KeyLog::default(),
                out: &mut out,
            };
            session.on_data(*dir, &bytes[from - at..to - at], &mut cx);
            assert!(session.held_bytes() <= max);
            from = to;
            if to == end {
                break;
            }
        }
        at = end;
    }
    let mut cx = Cx {
        stamp: Stamp::default(),
        conn: 1,
        state: crate::model::ConnState::Established,
        limits,
        keys: &crate::keylog::KeyLog::default(),
        out: &mut out,
    };
    session.on_end(C2s, crate::flow::EndCause::Fin, &mut cx);
    session.on_end(S2c, crate::flow::EndCause::Fin, &mut cx);
    out.into_iter()
        .filter(|e| match &e.body {
            EventBody::SseEvent(_) | EventBody::Stomp(_) | EventBody::Socketio(_) => true,
            EventBody::Malformed(m) => {
                matches!(m.layer, Layer::Sse | Layer::Stomp | Layer::Socketio)
            }
            _ => false,
        })
        .map(|e| (e.dir, e.body))
        .collect()
}

/// Checks that every cut around every mark, and byte-at-a-time feeding, give the events of
/// whole turns; returns those.
fn every_split(script: &Script, limits: &Limits) -> Vec<(Option<Dir>, EventBody)> {
    let whole = run(script, &[], limits);
    let mut tried = std::collections::BTreeSet::new();
    for &m in &script.marks {
        for c in m.saturating_sub(AROUND)..=(m + AROUND).min(script.len) {
            if tried.insert(c) {
                assert_eq!(run(script, &[c], limits), whole, "cut at {c}");
            }
        }
    }
    // Two cuts around each boundary: a piece of one byte there.
    for &m in &script.marks {
        assert_eq!(
            run(script, &[m, m + 1], limits),
            whole,
            "cuts at {m}, {}",
            m + 1
        );
    }
    let bytes: Vec<usize> = (1..script.len).collect();
    assert_eq!(run(script, &bytes, limits), whole, "a byte at a time");
    whole
}

/// Deterministic text of `n` bytes without `:`, line ends or NUL.
fn text(n: usize, seed: &str) -> Vec<u8> {
    let mut s = Vec::with_capacity(n + 16);
    let mut i = 0;
    while s.len() < n {
        s.extend_from_slice(format!("{seed}-{i}.").as_bytes());
        i += 1;
    }
    s.truncate(n);
    s
}

// --- SSE ----------------------------------------------------------------------------------------

/// An event stream with events of 12,000, 70,000 (CRLF line ends), 100,000 (four lines) and
/// 65,536 bytes of 2-byte characters, a comment and a small one, cut into chunks of sizes
/// that fall anywhere (inside lines, between a CR and its LF, across several events).
fn sse_script() -> (Script, Vec<u64>) {
    let mut body = b": a comment\nretry: 1500\n\n".to_vec();
    let mut sizes = Vec::new();
    for i in 0..3 {
        body.extend_from_slice(format!("event: e12k\nid: {i}\ndata: ").as_bytes());
        body.extend(text(12_000, &format!("a{i}")));
        body.extend_from_slice(b"\n\n");
        sizes.push(12_000);
    }
    body.extend_from_slice(b"event: big\r\nid: 70k\r\ndata: ");
    body.extend(text(70_000, "b"));
    body.extend_from_slice(b"\r\n\r\n");
    sizes.push(70_000);
    for l in 0..4 {
        body.extend_from_slice(b"data:");
        body.extend(text(25_000, &format!("c{l}")));
        body.push(b'\n');
    }
    body.push(b'\n');
    sizes.push(4 * 25_000 + 3);
    body.extend_from_slice(b"data: ");
    body.extend("é".repeat(32_768).as_bytes());
    body.extend_from_slice(b"\r\r");
    sizes.push(65_536);
    body.extend_from_slice(b"data: end\n\n");
    sizes.push(3);

    let mut s = Script::default();
    s.add(C2s, b"GET /events HTTP/1.1\r\nHost: a\r\n\r\n");
    s.add(
        S2c,
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    let chunk_sizes = [7usize, 20_000, 1, 45_000, 65_536, 3, 90_000, 100_000];
    let mut at = 0;
    let mut k = 0;
    while at < body.len() {
        let n = chunk_sizes[k % chunk_sizes.len()].min(body.len() - at);
        k += 1;
        s.mark();
        s.add(S2c, format!("{n:x}\r\n").as_bytes());
        s.mark();
        s.add_marked(S2c, &body[at..at + n]);
        s.mark();
        s.add(S2c, b"\r\n");
        at += n;
    }
    s.mark();
    s.add(S2c, b"0\r\n\r\n");
    (s, sizes)
}

#[test]
fn sse_events_of_64_kib_and_more_however_cut() {
    let (script, sizes) = sse_script();
    let limits = Limits::default();
    let got = every_split(&script, &limits);
    let sse: Vec<&SseEvent> = got
        .iter()
        .filter_map(|(_, b)| match b {
            EventBody::SseEvent(e) => Some(&**e),
            _ => None,
        })
        .collect();
    assert_eq!(got.len(), sse.len(), "{got:?}");
    assert_eq!(sse[0].retry, Some(1500));
    let lens: Vec<u64> = sse[1..].iter().map(|e| e.data_len).collect();
    assert_eq!(lens, sizes);
    assert!(sse.iter().all(|e| !e.incomplete));
    assert_eq!(sse[5].data.chars().count(), limits.max_text_preview);
}

#[test]
fn sse_events_at_the_size_limit_however_cut() {
    // The 70,000-byte event passes a 50,000-byte limit: reported at the limit, the rest of it
    // skipped; the others as before, at any cut.
    let (script, _) = sse_script();
    let limits = Limits {
        max_subprotocol_message: 50_000,
        ..Limits::default()
    };
    let got = every_split(&script, &limits);
    let sse: Vec<&SseEvent> = got
        .iter()
        .filter_map(|(_, b)| match b {
            EventBody::SseEvent(e) => Some(&**e),
            _ => None,
        })
        .collect();
    let cut: Vec<(u64, bool)> = sse[4..]
        .iter()
        .map(|e| (e.data_len, e.incomplete))
        .collect();
    // `event: big\r\nid: 70k\r\ndata: ` counts 25 bytes (a CRLF is one line end): 49,975 of
    // data fit.
    assert_eq!(cut[0], (49_975, true));
    assert!(
        cut[1].1,
        "the 100,003-byte event passes the limit too: {cut:?}"
    );
    // 65,536 bytes of data in 65,542 with `data: `: cut too, at 49,994 (a whole character).
    assert_eq!(&cut[2..], [(49_994, true), (3, false)]);
    let notes = got
        .iter()
        .filter(|(_, b)| matches!(b, EventBody::Malformed(m) if m.detail.contains("50000")))
        .count();
    assert_eq!(notes, 3);
}

// --- WebSocket ----------------------------------------------------------------------------------

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn upgrade(s: &mut Script, target: &str, extra: &str) {
    s.add(
        C2s,
        format!(
            "GET {target} HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        )
        .as_bytes(),
    );
    s.add(
        S2c,
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {ACCEPT}\r\n{extra}\r\n"
        )
        .as_bytes(),
    );
}

/// Adds one WebSocket frame (masked from the client), marking its start, its payload start,
/// and the line ends, NULs and separators of its (unmasked) payload.
fn frame(s: &mut Script, dir: Dir, b0: u8, payload: &[u8], raw: bool) {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let masked = dir == C2s;
    let mut h = vec![b0];
    let m = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => h.push(m | n as u8),
        n if n < 65_536 => {
            h.push(m | 126);
            h.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            h.push(m | 127);
            h.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        h.extend_from_slice(&mask);
    }
    s.mark();
    s.add(dir, &h);
    s.mark();
    let body: Vec<u8> = if masked {
        payload
            .iter()
            .enumerate()
            .map(|(i, &b)| b ^ mask[i % 4])
            .collect()
    } else {
        payload.to_vec()
    };
    if !raw {
        for (i, &c) in payload.iter().enumerate() {
            if matches!(c, b'\n' | b'\r' | 0 | 0x1e | b'[' | b'"' | b',') && (i < 64 || c != b'"') {
                s.marks.push(s.len + i);
            }
        }
    }
    s.add(dir, &body);
}

/// One message in frames of `parts` bytes (the last frame takes the rest). The payload's
/// line ends, NULs and separators are marked unless it is binary or compressed (where such
/// bytes mean nothing, and are thousands).
fn message(s: &mut Script, dir: Dir, opcode: u8, payload: &[u8], parts: &[usize]) {
    let raw = opcode != 0x01;
    let mut at = 0;
    let mut first = true;
    for &p in parts.iter().chain(std::iter::once(&usize::MAX)) {
        let n = p.min(payload.len() - at);
        let fin = at + n == payload.len();
        let op = if first { opcode } else { 0 };
        frame(
            s,
            dir,
            op | if fin { 0x80 } else { 0 },
            &payload[at..at + n],
            raw,
        );
        first = false;
        at += n;
        if fin {
            break;
        }
    }
}

fn stomp_frame(command: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut f = format!("{command}\n").into_bytes();
    for (k, v) in headers {
        f.extend_from_slice(format!("{k}:{v}\n").as_bytes());
    }
    f.push(b'\n');
    f.extend_from_slice(body);
    f.push(0);
    f
}

fn stomp_script(deflate: bool) -> (Script, Vec<(Dir, &'static str, u64)>) {
    let mut s = Script::default();
    let extra = if deflate {
        "Sec-WebSocket-Protocol: v12.stomp\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"
    } else {
        "Sec-WebSocket-Protocol: v12.stomp\r\n"
    };
    upgrade(&mut s, "/stomp", extra);
    let big = text(70_000, "s");
    let bigger = text(100_000, "t");
    let no_len = text(65_536, "u");
    let msgs: Vec<(Dir, Vec<u8>, Vec<usize>)> = vec![
        (
            C2s,
            stomp_frame("CONNECT", &[("accept-version", "1.2".into())], b""),
            vec![],
        ),
        (
            S2c,
            stomp_frame("CONNECTED", &[("version", "1.2".into())], b""),
            vec![],
        ),
        (
            C2s,
            stomp_frame(
                "SEND",
                &[
                    ("destination", "/q".into()),
                    ("content-length", big.len().to_string()),
                ],
                &big,
            ),
            vec![30_000, 1, 20_000],
        ),
        (S2c, b"\n".to_vec(), vec![]),
        (
            S2c,
            [
                stomp_frame(
                    "MESSAGE",
                    &[("content-length", bigger.len().to_string())],
                    &bigger,
                ),
                b"\r\n".to_vec(),
                stomp_frame("RECEIPT", &[("receipt-id", "r\\c1".into())], b""),
            ]
            .concat(),
            vec![65_536],
        ),
        (
            C2s,
            stomp_frame("SEND", &[("destination", "/q".into())], &no_len),
            vec![],
        ),
    ];
    let mut want = Vec::new();
    let mut comp = [
        Compress::new_with_window_bits(Compression::default(), false, 15),
        Compress::new_with_window_bits(Compression::default(), false, 15),
    ];
    for (dir, m, parts) in &msgs {
        if deflate {
            let c = &mut comp[dir.idx()];
            let mut out = Vec::with_capacity(m.len() + 64);
            let start = c.total_in();
            loop {
                let used = (c.total_in() - start) as usize;
                out.reserve(4096);
                c.compress_vec(&m[used..], &mut out, FlushCompress::Sync)
                    .unwrap();
                if (c.total_in() - start) as usize == m.len() && out.len() < out.capacity() {
                    break;
                }
            }
            out.truncate(out.len() - 4);
            let parts: Vec<usize> = parts.iter().map(|p| p / 8).collect();
            message(&mut s, *dir, 0x41, &out, &parts);
        } else {
            message(&mut s, *dir, 0x01, m, parts);
        }
    }
    want.extend([
        (C2s, "CONNECT", 0),
        (S2c, "CONNECTED", 0),
        (C2s, "SEND", 70_000),
        (S2c, "HEARTBEAT", 0),
        (S2c, "MESSAGE", 100_000),
        (S2c, "RECEIPT", 0),
        (C2s, "SEND", 65_536),
    ]);
    (s, want)
}

fn stomp_frames(got: &[(Option<Dir>, EventBody)]) -> Vec<(Dir, &str, u64)> {
    got.iter()
        .map(|(d, b)| match b {
            EventBody::Stomp(f) => {
                assert!(!f.incomplete, "{f:?}");
                (d.unwrap_or(C2s), f.command.as_str(), f.body_len)
            }
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn stomp_frames_of_64_kib_and_more_however_cut() {
    let (script, want) = stomp_script(false);
    let got = every_split(&script, &Limits::default());
    assert_eq!(stomp_frames(&got), want);
}

#[test]
fn compressed_stomp_frames_of_64_kib_and_more_however_cut() {
    let (script, want) = stomp_script(true);
    let got = every_split(&script, &Limits::default());
    assert_eq!(stomp_frames(&got), want);
}

fn socketio_ws_script() -> Script {
    let mut s = Script::default();
    upgrade(&mut s, "/socket.io/?EIO=4&transport=websocket", "");
    let open = br#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000}"#;
    message(&mut s, S2c, 0x01, open, &[]);
    message(&mut s, C2s, 0x01, b"40", &[]);
    let mut big = br#"42["big",""#.to_vec();
    big.extend(text(70_000, "x"));
    big.extend_from_slice(br#"",{"n":[1,2.5e3,true,null]}]"#);
    message(&mut s, C2s, 0x01, &big, &[4, 40_000]);
    let mut ack = br#"4317[{"ok":""#.to_vec();
    ack.extend(text(100_000, "y"));
    ack.extend_from_slice(br#""}]"#);
    message(&mut s, S2c, 0x01, &ack, &[]);
    message(
        &mut s,
        C2s,
        0x01,
        br#"451-["up",{"_placeholder":true,"num":0}]"#,
        &[],
    );
    let bin: Vec<u8> = (0..80_000u32).map(|i| (i * 7 % 251) as u8).collect();
    message(&mut s, C2s, 0x02, &bin, &[65_536]);
    s
}

#[test]
fn socketio_websocket_messages_of_64_kib_and_more_however_cut() {
    let got = every_split(&socketio_ws_script(), &Limits::default());
    type Seen<'a> = (Option<Dir>, &'a str, Option<&'a str>, Option<u64>);
    let p: Vec<Seen> = got
        .iter()
        .map(|(d, b)| match b {
            EventBody::Socketio(p) => {
                assert!(!p.incomplete, "{p:?}");
                (*d, p.engine_type, p.event.as_deref(), p.binary_len)
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        p,
        [
            (Some(S2c), "open", None, None),
            (Some(C2s), "message", None, None),
            (Some(C2s), "message", Some("big"), None),
            (Some(S2c), "message", None, None),
            (Some(C2s), "message", Some("up"), None),
            (Some(C2s), "message", None, Some(80_000)),
        ]
    );
}

/// Engine.IO long-polling bodies of 64 KiB and more: protocol 4 (record separators,
/// content-length) and protocol 3 (length prefixes in UTF-16 units, chunked).
fn polling_script() -> Script {
    let mut s = Script::default();
    s.add(
        C2s,
        b"GET /socket.io/?EIO=4&transport=polling&sid=a HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    let mut body = b"40{\"sid\":\"s\"}\x1e42[\"big\",\"".to_vec();
    body.extend(text(70_000, "p"));
    body.extend_from_slice(b"\"]\x1e2\x1ebAAECAw==\x1e42[\"after\"]");
    s.add(
        S2c,
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes(),
    );
    s.add_marked(S2c, &body);
    s.add(
        C2s,
        b"GET /socket.io/?EIO=3&transport=polling&sid=b HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    // `42["v3","é…"]`: 65,536 characters of 2 bytes: 65,545 UTF-16 units, 131,081 bytes.
    let mut p3 = "42[\"v3\",\"".to_string();
    p3.push_str(&"é".repeat(65_536));
    p3.push_str("\"]");
    let units = p3.chars().count();
    let body3 = format!("{units}:{p3}2:40");
    s.add(
        S2c,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    let b3 = body3.as_bytes();
    let mut at = 0;
    for n in [5, 70_000, 61_086, usize::MAX] {
        let n = n.min(b3.len() - at);
        s.mark();
        s.add(S2c, format!("{n:x}\r\n").as_bytes());
        s.mark();
        s.add_marked(S2c, &b3[at..at + n]);
        s.add(S2c, b"\r\n");
        at += n;
        if at == b3.len() {
            break;
        }
    }
    s.mark();
    s.add(S2c, b"0\r\n\r\n");
    s
}

#[test]
fn polling_payloads_of_64_kib_and_more_however_cut() {
    let got = every_split(&polling_script(), &Limits::default());
    let p: Vec<(&str, Option<&str>, Option<&str>)> = got
        .iter()
        .map(|(_, b)| match b {
            EventBody::Socketio(p) => {
                assert!(!p.incomplete, "{p:?}");
                (p.engine_type, p.socketio_type, p.event.as_deref())
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        p,
        [
            ("message", Some("CONNECT"), None),
            ("message", Some("EVENT"), Some("big")),
            ("ping", None, None),
            ("message", None, None),
            ("message", Some("EVENT"), Some("after")),
            ("message", Some("EVENT"), Some("v3")),
            ("message", Some("CONNECT"), None),
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn random_multi_splits_give_the_same_events(
        which in 0usize..5,
        cuts in proptest::collection::vec(any::<usize>(), 1..40),
    ) {
        let script = match which {
            0 => sse_script().0,
            1 => stomp_script(false).0,
            2 => stomp_script(true).0,
            3 => socketio_ws_script(),
            _ => polling_script(),
        };
        let limits = Limits::default();
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (script.len + 1)).collect();
        cuts.sort_unstable();
        prop_assert_eq!(run(&script, &cuts, &limits), run(&script, &[], &limits));
    }
}
