//! Loss under load on `lo`: a WebSocket echo load (client frames masked, each message its own
//! segment) captured by synscope's two kernel paths at once, the TPACKET_V3 ring with
//! PACKET_IGNORE_OUTGOING (through `live::spawn_capture`, as the TUI uses it) and the `recv`
//! path with the BPF `pkt_type` test. Ground truth that needs no other capture tool: TCP
//! sequence numbers. For every connection and direction, the captured segments must cover every
//! byte the application sent, with no hole, and each packet must be there once.
//!
//! `scripts/live-load.sh` runs the full-size load (40 connections x 5000 messages) against
//! tcpdump; with `SYNSCOPE_LOAD_PORT` set, `load_generator` below is that load, on that port,
//! for the script to capture from outside.
#![cfg(target_os = "linux")]
// Test code: failing loudly is the point (clippy.toml allows this only inside #[test] fns).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine as _;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError};
use sha1::{Digest, Sha1};
use synscope::capture::live::{LiveCapture, LiveConfig, LiveError, LiveStats, LoopbackDedup};
use synscope::live::spawn_capture;

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn upgrade_request(addr: SocketAddr) -> Vec<u8> {
    format!(
        "GET /echo HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

fn upgrade_response() -> Vec<u8> {
    // RFC 6455 §4.2.2: base64(SHA-1(key + GUID)).
    let accept = base64::engine::general_purpose::STANDARD
        .encode(Sha1::digest(format!("{KEY}{GUID}").as_bytes()));
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes()
}

/// Bytes each side sends on one connection, for the coverage check.
fn expected_bytes(addr: SocketAddr, messages: usize, size: usize) -> (usize, usize) {
    let c2s = upgrade_request(addr).len() + messages * (2 + 4 + size) + (2 + 4 + 2);
    let s2c = upgrade_response().len() + messages * (2 + size) + (2 + 2);
    (c2s, s2c)
}

/// Reads one frame with a 7-bit length (all this load sends); returns (opcode, payload).
fn read_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).unwrap();
    let len = usize::from(h[1] & 0x7f);
    assert!(len < 126);
    let mut key = [0u8; 4];
    if h[1] & 0x80 != 0 {
        s.read_exact(&mut key).unwrap();
    }
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).unwrap();
    p.iter_mut().enumerate().for_each(|(i, b)| *b ^= key[i % 4]);
    (h[0] & 0x0f, p)
}

/// An echo server for `connections` WebSocket connections, one thread each.
fn serve(listener: TcpListener, connections: usize) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut handles = Vec::new();
        for _ in 0..connections {
            let (mut s, _) = listener.accept().unwrap();
            handles.push(std::thread::spawn(move || {
                s.set_nodelay(true).unwrap();
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    s.read_exact(&mut b).unwrap();
                    head.push(b[0]);
                }
                s.write_all(&upgrade_response()).unwrap();
                let mut out = Vec::with_capacity(128);
                loop {
                    let (op, p) = read_frame(&mut s);
                    out.clear();
                    out.extend_from_slice(&[0x80 | op, p.len() as u8]);
                    out.extend_from_slice(&p);
                    s.write_all(&out).unwrap();
                    if op == 0x8 {
                        break;
                    }
                }
                // RFC 6455 §7.1.1: the server closes the TCP connection first.
                s.shutdown(std::net::Shutdown::Write).unwrap();
                let mut rest = Vec::new();
                s.read_to_end(&mut rest).unwrap();
            }));
        }
        handles.into_iter().for_each(|h| h.join().unwrap());
    })
}

/// One client: upgrade, `messages` binary messages of `size` bytes each echoed before the next,
/// close 1000, wait for the server's FIN.
fn client(addr: SocketAddr, messages: usize, size: usize) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(&upgrade_request(addr)).unwrap();
    let want = upgrade_response();
    let mut got = vec![0u8; want.len()];
    s.read_exact(&mut got).unwrap();
    assert_eq!(got, want);
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = Vec::with_capacity(size + 6);
    for m in 0..messages {
        frame.clear();
        frame.extend_from_slice(&[0x82, 0x80 | size as u8]);
        frame.extend_from_slice(&key);
        frame.extend((0..size).map(|i| (m + i) as u8 ^ key[i % 4]));
        s.write_all(&frame).unwrap();
        let (op, p) = read_frame(&mut s);
        assert_eq!(op, 0x2);
        assert_eq!(p.len(), size);
    }
    let code = 1000u16.to_be_bytes();
    s.write_all(&[
        0x88,
        0x82,
        key[0],
        key[1],
        key[2],
        key[3],
        code[0] ^ key[0],
        code[1] ^ key[1],
    ])
    .unwrap();
    let (op, _) = read_frame(&mut s);
    assert_eq!(op, 0x8);
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
}

/// Runs the whole load against `listener`; returns packets/s of wall time and the duration.
fn run_load(listener: TcpListener, connections: usize, messages: usize, size: usize) -> Duration {
    let addr = listener.local_addr().unwrap();
    let started = Instant::now();
    let server = serve(listener, connections);
    let clients: Vec<_> = (0..connections)
        .map(|_| std::thread::spawn(move || client(addr, messages, size)))
        .collect();
    clients.into_iter().for_each(|c| c.join().unwrap());
    server.join().unwrap();
    started.elapsed()
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The load for `scripts/live-load.sh`, on `SYNSCOPE_LOAD_PORT`; without it, a small run that
/// checks only that the load itself works (the capture checks are below).
#[test]
fn load_generator() {
    let port = env_usize("SYNSCOPE_LOAD_PORT", 0) as u16;
    let (conns, msgs) = if port == 0 {
        (2, 50)
    } else {
        (
            env_usize("SYNSCOPE_LOAD_CONNECTIONS", 40),
            env_usize("SYNSCOPE_LOAD_MESSAGES", 5000),
        )
    };
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let took = run_load(listener, conns, msgs, 32);
    eprintln!(
        "load: {conns} connections x {msgs} messages echoed in {:.2} s ({:.0} messages/s)",
        took.as_secs_f64(),
        (conns * msgs * 2) as f64 / took.as_secs_f64()
    );
}

/// One captured TCP segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Seg {
    src: SocketAddr,
    dst: SocketAddr,
    syn: bool,
    fin: bool,
    seq: u32,
    len: u32,
    bytes: Vec<u8>,
}

fn seg(data: &[u8]) -> Seg {
    let (src, dst, t) = support::tcp_of(data);
    Seg {
        src,
        dst,
        syn: t.syn(),
        fin: t.fin(),
        seq: t.sequence_number(),
        len: t.payload().len() as u32,
        bytes: data.to_vec(),
    }
}

/// For each connection (keyed by client address) and direction, the payload bytes covered by
/// the captured segments, relative to the SYN: must be exactly 0..expected, without a hole.
fn assert_every_byte_covered(segs: &[Seg], server: SocketAddr, expected: (usize, usize)) {
    // (client, from_client) -> (ISN, (seq, len) of each data segment)
    type Dir = (Option<u32>, Vec<(u32, u32)>);
    let mut dirs: BTreeMap<(SocketAddr, bool), Dir> = BTreeMap::new();
    for s in segs {
        let from_client = s.dst == server;
        let client = if from_client { s.src } else { s.dst };
        let e = dirs.entry((client, from_client)).or_default();
        if s.syn {
            assert!(e.0.replace(s.seq).is_none(), "two SYNs from {}", s.src);
        }
        if s.len > 0 {
            e.1.push((s.seq, s.len));
        }
    }
    for ((client, from_client), (isn, mut ranges)) in dirs {
        let isn = isn.unwrap_or_else(|| panic!("no SYN for {client} (from_client {from_client})"));
        let want = if from_client { expected.0 } else { expected.1 } as u32;
        let mut rel: Vec<(u32, u32)> = ranges
            .drain(..)
            .map(|(seq, len)| {
                let start = seq.wrapping_sub(isn.wrapping_add(1));
                (start, start + len)
            })
            .collect();
        rel.sort_unstable();
        let mut covered = 0u32;
        for (a, b) in rel {
            assert!(
                a <= covered,
                "{client} from_client={from_client}: hole at byte {covered}"
            );
            covered = covered.max(b);
        }
        assert_eq!(covered, want, "{client} from_client={from_client}");
    }
}

#[test]
fn load_on_loopback_is_captured_completely_by_both_kernel_paths() {
    let (conns, msgs, size) = (8, 400, 32);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap();
    let mut ring_cfg = LiveConfig::new("lo");
    ring_cfg.ports = vec![server.port()];
    let mut recv_cfg = ring_cfg.clone();
    recv_cfg.ring = None;
    recv_cfg.loopback_dedup = LoopbackDedup::BpfPktType;
    let ring = match LiveCapture::open(&ring_cfg) {
        Ok(c) => c,
        Err(e @ LiveError::NoPermission { .. }) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("NOT RUN: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    assert!(ring.uses_ring());
    let mut recv = LiveCapture::open(&recv_cfg).unwrap();

    // The ring path through the same thread and channel the TUI and headless mode use.
    let (rx, ring_thread) = spawn_capture(ring, 16).unwrap();
    let ring_reader = std::thread::spawn(move || {
        let mut segs = Vec::new();
        let mut last = LiveStats::default();
        for b in rx.iter() {
            segs.extend(b.frames().map(|f| seg(f.data)));
            last = b.stats;
        }
        (segs, last)
    });
    // The recv path reads until it has seen every connection closed both ways with each FIN
    // acknowledged: the clients and the server return before their kernels send the last ACKs
    // (and, under load, a Tail Loss Probe), and after those no packet of this port is left to
    // come, so the ring can stop at any moment. 60 s at most.
    let recv_reader = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut segs: Vec<Seg> = Vec::new();
        loop {
            let b = recv.next_batch(Duration::from_millis(20)).unwrap();
            let n = b.len();
            segs.extend(b.frames().map(|f| seg(f.data)));
            drop(b);
            if n == 0 && all_closed(segs.iter().map(|s| s.bytes.as_slice()), conns) {
                return (segs, recv.stats());
            }
            assert!(
                Instant::now() < deadline,
                "the recv path never saw every connection closed: {} packets",
                segs.len()
            );
        }
    });

    let took = run_load(listener, conns, msgs, size);
    let (recv_segs, recv_stats) = recv_reader.join().unwrap();
    ring_thread.stop();
    let (ring_segs, _) = ring_reader.join().unwrap();
    let report = ring_thread.join().unwrap();
    eprintln!(
        "{} packets in {:.2} s; ring {:?}; recv {:?}",
        ring_segs.len(),
        took.as_secs_f64(),
        report,
        recv_stats
    );

    assert_eq!(report.stats.dropped, 0, "{report:?}");
    assert_eq!(report.userspace_dropped, 0);
    assert_eq!(report.stats.captured, ring_segs.len() as u64);
    assert_eq!(recv_stats.dropped, 0, "{recv_stats:?}");
    assert_eq!(recv_stats.captured, recv_segs.len() as u64);
    let expected = expected_bytes(server, msgs, size);
    assert_every_byte_covered(&ring_segs, server, expected);
    assert_every_byte_covered(&recv_segs, server, expected);
    // Each packet once, and the two paths saw the same packets.
    let unique: HashSet<&Vec<u8>> = ring_segs.iter().map(|s| &s.bytes).collect();
    assert_eq!(unique.len(), ring_segs.len(), "a packet was captured twice");
    let mut a: Vec<&Vec<u8>> = ring_segs.iter().map(|s| &s.bytes).collect();
    let mut b: Vec<&Vec<u8>> = recv_segs.iter().map(|s| &s.bytes).collect();
    a.sort();
    b.sort();
    assert!(a == b, "ring saw {} packets, recv {}", a.len(), b.len());
    // At least a data segment per message each way, plus handshakes and closes.
    assert!(ring_segs.len() >= conns * (2 * msgs + 6));
}

/// Frames of a classic pcap file (tcpdump's), read by pcap-parser; a record still being
/// written at the end is left out.
fn pcap_frames(path: &std::path::Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let Ok(mut r) = LegacyPcapReader::new(1 << 20, bytes.as_slice()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    loop {
        match r.next() {
            Ok((n, block)) => {
                if let PcapBlockOwned::Legacy(b) = block {
                    assert_eq!(b.caplen, b.origlen, "tcpdump cut a frame");
                    out.push(b.data.to_vec());
                }
                r.consume(n);
            }
            Err(PcapError::Eof) | Err(PcapError::Incomplete(_)) => return out,
            Err(e) => panic!("{e:?}"),
        }
    }
}

/// Whether every one of `conns` connections in `frames` has sent a FIN each way and had each
/// FIN acknowledged by the other side.
fn all_closed<'a>(frames: impl IntoIterator<Item = &'a [u8]>, conns: usize) -> bool {
    use std::collections::BTreeSet;
    let mut fins: BTreeMap<(SocketAddr, SocketAddr), u32> = BTreeMap::new();
    let mut acks: BTreeSet<(SocketAddr, SocketAddr, u32)> = BTreeSet::new();
    for f in frames {
        let (src, dst, t) = support::tcp_of(f);
        if t.fin() {
            let end = t
                .sequence_number()
                .wrapping_add(t.payload().len() as u32)
                .wrapping_add(1);
            fins.insert((src, dst), end);
        }
        if t.ack() {
            acks.insert((src, dst, t.acknowledgment_number()));
        }
    }
    fins.len() == 2 * conns
        && fins
            .iter()
            .all(|(&(src, dst), &end)| acks.contains(&(dst, src, end)))
}

/// tcpdump, the reference: under the same load on the same port, synscope's ring capture has
/// exactly the frames tcpdump wrote, byte for byte.
#[test]
fn synscope_sees_every_frame_tcpdump_sees_under_load() {
    let (conns, msgs, size) = (8, 400, 32);
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap();
    let mut cfg = LiveConfig::new("lo");
    cfg.ports = vec![server.port()];
    let cap = match LiveCapture::open(&cfg) {
        Ok(c) => c,
        Err(e @ LiveError::NoPermission { .. }) if !ci => {
            eprintln!("NOT RUN: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let file = support::temp_path("tcpdump.pcap");
    let filter = format!("tcp port {}", server.port());
    let spawned = std::process::Command::new("tcpdump")
        .args([
            "-i", "lo", "-n", "-U", "-Z", "root", "-s", "262144", "-B", "65536", "-w",
        ])
        .arg(&file)
        .arg(&filter)
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut tcpdump = match spawned {
        Ok(c) => c,
        Err(e) if !ci => {
            eprintln!("NOT RUN: tcpdump: {e}");
            return;
        }
        Err(e) => panic!("tcpdump is needed under CI: {e}"),
    };
    // tcpdump says "listening on lo" once its filter is attached.
    let mut err = std::io::BufReader::new(tcpdump.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut err, &mut line).unwrap();
    assert!(line.contains("listening on"), "tcpdump: {line}");

    let (rx, thread) = spawn_capture(cap, 16).unwrap();
    let reader = std::thread::spawn(move || {
        rx.iter()
            .flat_map(|b| b.frames().map(|f| f.data.to_vec()).collect::<Vec<_>>())
            .collect()
    });
    run_load(listener, conns, msgs, size);
    // The clients and the server have returned, but their kernels may still be sending the
    // last ACKs of the closing handshakes (and, under load, a Tail Loss Probe). Stop only once
    // tcpdump has seen every connection closed both ways with each FIN acknowledged: after
    // that no packet of this port is left to come, so both captures can stop at any moment.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !all_closed(pcap_frames(&file).iter().map(Vec::as_slice), conns) {
        assert!(
            Instant::now() < deadline,
            "tcpdump never saw every connection closed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    thread.stop();
    let mut ours: Vec<Vec<u8>> = reader.join().unwrap();
    let report = thread.join().unwrap();
    // tcpdump writes each packet as it reads it (-U, --immediate-mode) but does not drain its
    // socket on SIGINT: wait (60 s at most) until its file holds as many frames as ours, then
    // stop it. Its kernel counter checks the rest: "received by filter" counts both loopback
    // copies of every packet the kernel gave its socket, whether tcpdump read them or not.
    let deadline = Instant::now() + Duration::from_secs(60);
    while pcap_frames(&file).len() < ours.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = tcpdump.id().to_string();
    std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    let mut summary = String::new();
    std::io::Read::read_to_string(&mut err, &mut summary).unwrap();
    assert!(tcpdump.wait().unwrap().success(), "{summary}");
    let said = |what: String| summary.lines().any(|l| l.trim() == what);
    assert!(
        said("0 packets dropped by kernel".into()),
        "tcpdump dropped: {summary}"
    );
    let both_copies = format!("{} packets received by filter", 2 * ours.len());
    assert!(
        said(both_copies),
        "tcpdump's kernel saw other packets: {summary}"
    );
    let mut theirs = pcap_frames(&file);
    let _ = std::fs::remove_file(&file);

    assert_eq!(report.stats.dropped, 0, "{report:?}");
    assert_eq!(
        (ours.len(), theirs.len()),
        (theirs.len(), ours.len()),
        "{summary}"
    );
    ours.sort();
    theirs.sort();
    assert!(ours == theirs, "different frames");
    assert!(ours.len() >= conns * (2 * msgs + 6));
}
