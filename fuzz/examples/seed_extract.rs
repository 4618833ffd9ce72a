//! Writes fuzz seeds from captures: each frame for `decode_frame`, each connection's TCP
//! payloads (in capture order, retransmissions left out) for `http_stream`, the bytes after a
//! WebSocket upgrade for `ws_stream`, the segments themselves for `flow_segments`, and for
//! `subproto` the SSE and Engine.IO bodies, STOMP and Engine.IO messages and JSON texts the
//! engine decoded, the connections whose subprotocols it decoded, and those bodies and
//! messages after the target's preludes, in the input formats those targets read.
//!
//! `cargo run --example seed_extract -- CORPUS_DIR CAPTURE...` (run by `seed.sh`).

#[path = "../fuzz_targets/common.rs"]
mod common;

use std::collections::HashMap;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use synscope::capture::CaptureReader;
use synscope::decode::{decode, Decoded};
use synscope::engine::Engine;
use synscope::model::{tcp_flags, ConnId, Dir, Event, EventBody, Limits, Opcode};
use synscope::proto::socketio;

/// decode_frame's link types, in its order.
const LINKS: [u32; 11] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147];
/// Segments per flow_segments seed.
const FLOW_SEGMENTS: usize = 400;
/// Frames per capture written as decode_frame seeds.
const FRAMES: usize = 64;

#[derive(Default)]
struct Conn {
    client: Option<SocketAddr>,
    /// Next expected sequence number per direction, once known.
    next: [Option<u32>; 2],
    /// Payload pieces in order: (direction, bytes).
    pieces: Vec<(Dir, Vec<u8>)>,
}

fn write(dir: &Path, target: &str, name: &str, data: &[u8]) {
    let d = dir.join(target);
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join(name), data).unwrap();
}

/// Offset just past the blank line that ends the first head starting with `start`.
fn head_end(stream: &[u8], start: &[u8]) -> Option<usize> {
    let at = stream.windows(start.len()).position(|w| w == start)?;
    let end = stream[at..].windows(4).position(|w| w == b"\r\n\r\n")?;
    Some(at + end + 4)
}

/// subproto's first byte: default limits, `target`, flags `f`.
fn cfg(target: u8, f: u8) -> u8 {
    1 | (target << 1) | (f << 4)
}

/// A WebSocket text (or binary) frame as `dir` sends it: masked from the client.
fn ws_frame(dir: Dir, binary: bool, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![if binary { 0x82 } else { 0x81 }];
    let mask = if dir == Dir::C2s { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(mask | n as u8),
        n if n <= 0xffff => {
            f.push(mask | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(mask | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if dir == Dir::C2s {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        f.extend_from_slice(&key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    f
}

/// What the engine decoded on one connection.
#[derive(Default)]
struct Subs {
    /// Engine.IO protocol of the last request, if it was one.
    eio: Option<u8>,
    sse: bool,
    stomp: bool,
    socketio: bool,
    /// Body in progress per direction, and whether it is an event stream.
    body: [Vec<u8>; 2],
    bodies: Vec<(Option<u8>, Dir, Vec<u8>)>,
    /// WebSocket data messages: (direction, binary, kept bytes).
    messages: Vec<(Dir, bool, Vec<u8>)>,
}

/// The subproto seeds of one capture, from the events the engine makes of it.
fn subproto_seeds(out: &Path, name: &str, bytes: &[u8], conns: &[Vec<(Dir, Vec<u8>)>]) {
    let Ok(mut reader) = CaptureReader::new(bytes) else {
        return;
    };
    let mut engine = Engine::new(Limits::default());
    let mut events: Vec<Event> = Vec::new();
    while let Ok(Some(frame)) = reader.next_frame() {
        engine.ingest(&frame, &mut events);
    }
    engine.finish(&mut events);
    let mut by_conn: HashMap<ConnId, Subs> = HashMap::new();
    for e in &events {
        let (Some(conn), Some(dir)) = (e.conn, e.dir) else {
            continue;
        };
        let c = by_conn.entry(conn).or_default();
        match &e.body {
            EventBody::HttpRequest(r) => {
                c.eio = socketio::classify_target(&r.target).map(|(eio, _)| eio)
            }
            EventBody::HttpBody(b) => {
                c.body[dir.idx()].extend_from_slice(&b.data.kept);
                if b.end {
                    let body = std::mem::take(&mut c.body[dir.idx()]);
                    c.bodies.push((c.eio, dir, body));
                }
            }
            EventBody::WsMessage(m) if matches!(m.opcode, Opcode::Text | Opcode::Binary) => {
                let binary = m.opcode == Opcode::Binary;
                c.messages.push((dir, binary, m.data.kept.to_vec()));
            }
            EventBody::SseEvent(_) => c.sse = true,
            EventBody::Stomp(_) => c.stomp = true,
            EventBody::Socketio(_) => c.socketio = true,
            _ => {}
        }
    }
    let by_conn_any = by_conn.values().any(|c| c.sse || c.stomp || c.socketio);
    let mut n = 0;
    let mut seed = |target: &str, data: Vec<u8>| {
        write(out, target, &format!("{name}-sub{n}"), &data);
        n += 1;
    };
    let mut ids: Vec<_> = by_conn.keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        let mut c = by_conn.remove(&id).unwrap_or_default();
        for d in 0..2 {
            if !c.body[d].is_empty() {
                let body = std::mem::take(&mut c.body[d]);
                c.bodies.push((c.eio, [Dir::C2s, Dir::S2c][d], body));
            }
        }
        for (eio, dir, body) in &c.bodies {
            let (target, prelude) = match eio {
                _ if c.sse => (0, 0),
                Some(3) => (2, if *dir == Dir::C2s { 5 } else { 2 }),
                Some(_) => (3, if *dir == Dir::C2s { 4 } else { 3 }),
                None => continue,
            };
            let mut v = vec![cfg(target, 0)];
            common::encode_data(&mut v, Dir::S2c, body);
            seed("subproto", v);
            // After the prelude: the body as it comes (chunked for a POST and prelude 1).
            let mut v = vec![cfg(7, prelude)];
            if *dir == Dir::C2s {
                let mut chunked = format!("{:x}\r\n", body.len()).into_bytes();
                chunked.extend_from_slice(body);
                chunked.extend_from_slice(b"\r\n0\r\n\r\n");
                common::encode_data(&mut v, Dir::C2s, &chunked);
            } else {
                common::encode_data(&mut v, Dir::S2c, body);
            }
            seed("subproto", v);
            if c.socketio {
                // The JSON of each packet: from its first bracket or brace.
                for p in body.split(|&b| b == 0x1e) {
                    if let Some(at) = p.iter().position(|&b| b == b'[' || b == b'{') {
                        let mut v = vec![cfg(5, 0)];
                        v.extend_from_slice(&p[at..]);
                        seed("subproto", v);
                    }
                }
            }
        }
        if !c.messages.is_empty() && (c.stomp || c.socketio) {
            let eio = c.eio.unwrap_or(4);
            if c.stomp {
                // parse_message, STOMP 1.2, each message whole.
                for (_, _, m) in &c.messages {
                    let mut v = vec![cfg(1, 2)];
                    v.extend_from_slice(m);
                    seed("subproto", v);
                }
            }
            if c.socketio {
                // Codec: text messages c2s, binary s2c; WebSocket transport.
                let f = 2 | u8::from(eio == 4);
                let mut v = vec![cfg(4, f)];
                for (_, binary, m) in &c.messages {
                    let d = if *binary { Dir::S2c } else { Dir::C2s };
                    common::encode_data(&mut v, d, m);
                }
                seed("subproto", v);
                for (_, _, m) in &c.messages {
                    if let Some(at) = m.iter().position(|&b| b == b'[' || b == b'{') {
                        let mut v = vec![cfg(5, 0)];
                        v.extend_from_slice(&m[at..]);
                        seed("subproto", v);
                    }
                }
            }
            // After the WebSocket prelude: the messages as frames.
            let prelude = match (c.stomp, eio) {
                (true, _) => 6,
                (false, 3) => 9,
                (false, _) => 8,
            };
            let mut v = vec![cfg(7, prelude)];
            for (dir, binary, m) in &c.messages {
                common::encode_data(&mut v, *dir, &ws_frame(*dir, *binary, m));
            }
            seed("subproto", v);
        }
    }
    // The connections themselves into a Session, when the capture has subprotocols.
    if by_conn_any {
        for pieces in conns {
            let mut v = vec![cfg(6, 0)];
            for (dir, p) in pieces {
                common::encode_data(&mut v, *dir, p);
            }
            seed("subproto", v);
        }
    }
}

/// Raw DEFLATE of 4096 LF bytes, flushed, without the 00 00 ff ff trailer (RFC 7692 §7.2.1).
const DEFLATED_EOLS: [u8; 22] = [
    236, 193, 49, 13, 0, 0, 0, 195, 160, 191, 254, 5, 207, 199, 2, 20, 0, 0, 0, 240, 110, 0,
];

/// subproto seeds that no capture holds: bursts of packets in one body piece or message, a
/// line that never ends, huge declared lengths, deep JSON.
fn crafted_seeds(out: &Path) {
    let long = vec![b'a'; 20_000];
    let mut seeds: Vec<(u8, Vec<u8>)> = vec![
        (cfg(7, 3), b"6\x1e".repeat(2000)),
        (cfg(7, 2), b"1:6".repeat(1300)),
        (cfg(7, 0), b"data\n\n".repeat(680)),
        (cfg(7, 0), [&b"data: "[..], &long].concat()),
        (cfg(7, 2), [&b"9999999999:4"[..], &long].concat()),
        (cfg(7, 3), [&b"4"[..], &long].concat()),
        (cfg(7, 6), ws_frame(Dir::S2c, false, &[b'\n'; 4000])),
        (
            cfg(7, 6),
            ws_frame(Dir::S2c, false, &[&b"MESSAGE\n\n"[..], &long].concat()),
        ),
    ];
    // A compressed frame of 4096 EOLs: FIN, RSV1, text.
    let mut deflated = vec![0xc1, DEFLATED_EOLS.len() as u8];
    deflated.extend_from_slice(&DEFLATED_EOLS);
    seeds.push((cfg(7, 7), deflated));
    for (i, (c, body)) in seeds.iter().enumerate() {
        let mut v = vec![*c];
        common::encode_data(&mut v, Dir::S2c, body);
        write(out, "subproto", &format!("crafted-{i}"), &v);
    }
    let mut sse = vec![cfg(0, 0) & !1];
    common::encode_data(
        &mut sse,
        Dir::S2c,
        &[&b"data: "[..], &long[..3000]].concat(),
    );
    write(out, "subproto", "crafted-sse-small", &sse);
    let mut deep = vec![cfg(5, 0)];
    deep.extend(std::iter::repeat_n(b'[', 1000));
    write(out, "subproto", "crafted-json-deep", &deep);
}

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let (out, captures) = args
        .split_first()
        .expect("usage: seed_extract CORPUS_DIR CAPTURE...");
    crafted_seeds(out);
    for path in captures {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let bytes = fs::read(path).unwrap();
        let Ok(mut reader) = CaptureReader::new(&bytes[..]) else {
            continue;
        };
        let mut conns: HashMap<(SocketAddr, SocketAddr), Conn> = HashMap::new();
        let mut order: Vec<(SocketAddr, SocketAddr)> = Vec::new();
        let mut flow = vec![0u8]; // small limits
        let mut bases: HashMap<SocketAddr, u32> = HashMap::new();
        let mut ports: HashMap<(SocketAddr, SocketAddr), u8> = HashMap::new();
        let mut n = 0usize;
        let mut last_ts = None;
        while let Ok(Some(frame)) = reader.next_frame() {
            if n < FRAMES {
                if let Some(i) = LINKS.iter().position(|&l| l == frame.link.0) {
                    let mut seed = vec![i as u8];
                    seed.extend_from_slice(frame.data);
                    write(out, "decode_frame", &format!("{name}-{n}"), &seed);
                }
            }
            n += 1;
            let Ok(Decoded::Tcp(t)) = decode(&frame) else {
                continue;
            };
            let key = if t.src < t.dst {
                (t.src, t.dst)
            } else {
                (t.dst, t.src)
            };
            let c = conns.entry(key).or_insert_with(|| {
                order.push(key);
                Conn::default()
            });
            let syn = t.flags & tcp_flags::SYN != 0;
            if c.client.is_none() {
                let ack = t.flags & tcp_flags::ACK != 0;
                c.client = Some(if syn && ack { t.dst } else { t.src });
            }
            let dir = if Some(t.src) == c.client {
                Dir::C2s
            } else {
                Dir::S2c
            };
            let d = dir.idx();
            let data_seq = t.seq.wrapping_add(u32::from(syn));
            let next = *c.next[d].get_or_insert(data_seq);
            let end = data_seq.wrapping_add(t.payload.len() as u32);
            // Only bytes past what was already taken (no retransmissions).
            let skip = next.wrapping_sub(data_seq);
            if (skip as i32) >= 0 && (skip as usize) < t.payload.len() {
                c.pieces.push((dir, t.payload[skip as usize..].to_vec()));
                c.next[d] = Some(end);
            }

            // flow_segments: 16-byte header and the payload.
            if n <= FLOW_SEGMENTS {
                let nports = ports.len() as u8;
                let port = *ports.entry(key).or_insert(nports % 4);
                let base = *bases.entry(t.src).or_insert(t.seq);
                let rbase = *bases.entry(t.dst).or_insert(t.ack.wrapping_sub(1));
                // The target adds its own ISN per direction to these offsets.
                let seq = t.seq.wrapping_sub(base).wrapping_add(1);
                let ack = t.ack.wrapping_sub(rbase).wrapping_add(1);
                let ts = frame.ts.0;
                let step = match last_ts.map(|l: u64| ts.saturating_sub(l)) {
                    None | Some(0) => 0u8,
                    Some(dt) if dt < 10_000_000 => 1,
                    Some(_) => 2,
                };
                last_ts = Some(ts);
                let mut sel = port | (step << 6);
                if dir == Dir::S2c {
                    sel |= 4;
                }
                let ws = match t.options.wscale {
                    Some(ws) if syn => {
                        sel |= 8;
                        ws
                    }
                    _ => 0,
                };
                flow.extend_from_slice(&[sel, t.flags]);
                flow.extend_from_slice(&seq.to_le_bytes());
                flow.extend_from_slice(&ack.to_le_bytes());
                flow.extend_from_slice(&[(t.window >> 8) as u8, ws]);
                let len = t.wire_len.min(u32::from(u16::MAX)) as u16;
                let cap = (t.payload.len() as u16).min(len);
                flow.extend_from_slice(&len.to_le_bytes());
                flow.extend_from_slice(&cap.to_le_bytes());
                flow.extend_from_slice(&t.payload[..usize::from(cap)]);
            }
        }
        let pieces: Vec<Vec<(Dir, Vec<u8>)>> = order
            .iter()
            .map(|k| conns[k].pieces.clone())
            .filter(|p| !p.is_empty())
            .collect();
        subproto_seeds(out, &name, &bytes, &pieces);
        write(out, "flow_segments", &name, &flow);
        let mut default_flow = flow.clone();
        default_flow[0] = 1;
        write(
            out,
            "flow_segments",
            &format!("{name}-default"),
            &default_flow,
        );

        for (i, key) in order.iter().enumerate() {
            let c = &conns[key];
            if c.pieces.is_empty() {
                continue;
            }
            let mut http = vec![1u8]; // default limits
            for (dir, p) in &c.pieces {
                common::encode_data(&mut http, *dir, p);
            }
            write(out, "http_stream", &format!("{name}-{i}"), &http);
            let mut small = http.clone();
            small[0] = 2; // small limits, cut invariance checked
            write(out, "http_stream", &format!("{name}-{i}-small"), &small);

            // ws_stream: what follows the upgrade heads.
            let stream = |d: Dir| -> Vec<u8> {
                c.pieces
                    .iter()
                    .filter(|(x, _)| *x == d)
                    .flat_map(|(_, p)| p.clone())
                    .collect()
            };
            let (cs, ss) = (stream(Dir::C2s), stream(Dir::S2c));
            let (Some(c_end), Some(s_end)) =
                (head_end(&cs, b"GET "), head_end(&ss, b"HTTP/1.1 101"))
            else {
                continue;
            };
            let deflate = ss[..s_end].windows(18).any(|w| w == b"permessage-deflate");
            let mut cut = [c_end, s_end];
            let mut ws = vec![if deflate { 1 | (1 << 1) | 8 } else { 1 | 8 }];
            for (dir, p) in &c.pieces {
                let d = dir.idx();
                let take = cut[d].min(p.len());
                cut[d] -= take;
                if take < p.len() {
                    common::encode_data(&mut ws, *dir, &p[take..]);
                }
            }
            write(out, "ws_stream", &format!("{name}-{i}"), &ws);
        }
    }
}
