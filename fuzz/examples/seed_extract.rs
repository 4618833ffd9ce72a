//! Writes fuzz seeds from captures: each frame for `decode_frame`, each connection's TCP
//! payloads (in capture order, retransmissions left out) for `http_stream`, the bytes after a
//! WebSocket upgrade for `ws_stream`, and the segments themselves for `flow_segments`, in the
//! input formats those targets read.
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
use synscope::model::{tcp_flags, Dir};

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

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let (out, captures) = args
        .split_first()
        .expect("usage: seed_extract CORPUS_DIR CAPTURE...");
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
