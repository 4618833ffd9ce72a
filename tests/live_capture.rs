//! Live capture on `lo`, for real: CI runs as root. Each test makes its own TCP conversation on
//! a port of its own and captures it with a port filter, so tests running side by side (and
//! other traffic on lo) do not see each other's packets.
//!
//! Without capture rights (not root, no CAP_NET_RAW) the capture tests fail under `CI=true`;
//! elsewhere they print why and return early.
#![cfg(target_os = "linux")]
// Test code: failing loudly is the point (clippy.toml allows this only inside #[test] fns).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{Block, PcapBlockOwned, PcapError, PcapNGReader};
use support::rights::{euid, synscope_without_rights, BIN};
use support::{decode_file, tcp_of, temp_path};
use synscope::capture::live::{Dedup, LiveCapture, LiveConfig, LiveError, LoopbackDedup};
use synscope::capture::LinkType;
use synscope::engine::Engine;
use synscope::live::{Headless, HeadlessOptions};
use synscope::model::{ConnState, Event, EventBody, Limits, TcpAnalysis};
use synscope::view::Format;

/// Opens a capture, or explains why the test cannot run: a failure under CI=true.
fn open(config: &LiveConfig) -> Option<LiveCapture> {
    match LiveCapture::open(config) {
        Ok(c) => Some(c),
        Err(e @ LiveError::NoPermission { .. }) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("NOT RUN: live capture is not permitted here (run as root): {e}");
            None
        }
        Err(e) => panic!("cannot open a live capture: {e}"),
    }
}

fn config(port: u16) -> LiveConfig {
    let mut c = LiveConfig::new("lo");
    c.ports = vec![port];
    c
}

/// A captured frame, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Frame {
    ts: u64,
    data: Vec<u8>,
    orig_len: u32,
}

/// The TCP view of a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seg {
    src: SocketAddr,
    dst: SocketAddr,
    syn: bool,
    ack: bool,
    fin: bool,
    rst: bool,
    seq: u32,
    ack_no: u32,
    len: usize,
}

fn seg(f: &Frame) -> Seg {
    let (src, dst, t) = tcp_of(&f.data);
    Seg {
        src,
        dst,
        syn: t.syn(),
        ack: t.ack(),
        fin: t.fin(),
        rst: t.rst(),
        seq: t.sequence_number(),
        ack_no: t.acknowledgment_number(),
        len: t.payload().len(),
    }
}

/// Whether `frames` hold a FIN each way, each acknowledged by the other side: after that the
/// conversation sends nothing more.
fn closed(frames: &[Frame]) -> bool {
    let segs: Vec<Seg> = frames.iter().map(seg).collect();
    let fins: Vec<&Seg> = segs.iter().filter(|s| s.fin).collect();
    fins.len() >= 2
        && fins.iter().all(|f| {
            let end = f.seq.wrapping_add(f.len as u32).wrapping_add(1);
            segs.iter()
                .any(|a| a.src == f.dst && a.dst == f.src && a.ack && a.ack_no == end)
        })
}

/// Reads frames until the conversation is closed (both FINs acknowledged: the last ACK can
/// reach the capture after [`converse`] returned) and then nothing arrived for 300 ms (a
/// duplicate copy would arrive with its original, microseconds apart). Fails after 60 s.
fn collect(cap: &mut LiveCapture) -> Vec<Frame> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut frames = Vec::new();
    let mut quiet_since: Option<Instant> = None;
    loop {
        let batch = cap.next_batch(Duration::from_millis(20)).unwrap();
        assert_eq!(batch.link(), LinkType::ETHERNET);
        let before = frames.len();
        frames.extend(batch.frames().map(|f| Frame {
            ts: f.ts.0,
            data: f.data.to_vec(),
            orig_len: f.orig_len,
        }));
        drop(batch);
        if frames.len() == before && closed(&frames) {
            let t = *quiet_since.get_or_insert_with(Instant::now);
            if t.elapsed() >= Duration::from_millis(300) {
                return frames;
            }
        } else {
            quiet_since = None;
        }
        assert!(
            Instant::now() < deadline,
            "timed out with {} frames",
            frames.len()
        );
    }
}

const REQUEST: &[u8] = b"GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
const REPLY: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

/// One conversation to `listener`: connect, request, reply, client half-closes, server closes.
/// Returns the client's address. Everything has happened when it returns.
fn converse(listener: TcpListener) -> SocketAddr {
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; REQUEST.len()];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(buf, REQUEST);
        s.write_all(REPLY).unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    });
    let mut c = TcpStream::connect(addr).unwrap();
    let me = c.local_addr().unwrap();
    c.write_all(REQUEST).unwrap();
    let mut buf = vec![0u8; REPLY.len()];
    c.read_exact(&mut buf).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    server.join().unwrap();
    me
}

/// Asserts that `frames` are exactly one conversation between `client` and `server`, each
/// packet once: one SYN, one SYN-ACK, the handshake's ACK, the request and the reply once, one
/// FIN each way and the last ACK; nothing repeated.
fn assert_once(frames: &[Frame], client: SocketAddr, server: SocketAddr) {
    let segs: Vec<Seg> = frames.iter().map(seg).collect();
    let listing = segs
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join("\n");
    for s in &segs {
        assert!(
            (s.src == client && s.dst == server) || (s.src == server && s.dst == client),
            "a segment of another conversation:\n{listing}"
        );
        assert!(!s.rst, "{listing}");
    }
    let c2s = |s: &&Seg| s.src == client;
    let s2c = |s: &&Seg| s.src == server;
    assert_eq!(
        segs.iter().filter(|s| s.syn && !s.ack).count(),
        1,
        "one SYN:\n{listing}"
    );
    assert_eq!(
        segs.iter().filter(|s| s.syn && s.ack).count(),
        1,
        "one SYN-ACK:\n{listing}"
    );
    assert_eq!(
        segs.iter().filter(c2s).filter(|s| s.fin).count(),
        1,
        "{listing}"
    );
    assert_eq!(
        segs.iter().filter(s2c).filter(|s| s.fin).count(),
        1,
        "{listing}"
    );
    let bytes = |f: &dyn Fn(&&Seg) -> bool| segs.iter().filter(f).map(|s| s.len).sum::<usize>();
    assert_eq!(bytes(&c2s), REQUEST.len(), "the request once:\n{listing}");
    assert_eq!(bytes(&s2c), REPLY.len(), "the reply once:\n{listing}");
    // The handshake opens the capture; the last segment acknowledges the last FIN.
    assert!(
        segs[0].syn && !segs[0].ack && segs[0].src == client,
        "{listing}"
    );
    assert!(segs[1].syn && segs[1].ack, "{listing}");
    assert!(
        !segs[2].syn && segs[2].ack && segs[2].src == client,
        "{listing}"
    );
    let last = segs.last().unwrap();
    assert!(!last.fin && last.ack && last.len == 0, "{listing}");
    // No frame twice: the outgoing copy of a loopback packet is byte-identical to its incoming
    // copy.
    for (i, a) in frames.iter().enumerate() {
        assert!(
            frames[i + 1..].iter().all(|b| b.data != a.data),
            "frame {i} repeated:\n{listing}"
        );
    }
    // The count follows from the conversation: 3 (handshake) + 2 data + their ACKs (separate
    // or carried by data/FIN) + 2 FINs + final ACKs. Linux acknowledges every segment here.
    assert!(
        (8..=11).contains(&segs.len()),
        "{} segments:\n{listing}",
        segs.len()
    );
}

/// The decoded sequence of one conversation of [`converse`] captured once: connection, the
/// three handshake segments, handshake, the request, the response, FINs, connection_end
/// closed; one `tcp` event per packet and none flagged as a retransmission or duplicate ACK
/// (which is what a packet captured twice looks like to the sequence analysis).
fn assert_decoded(events: &[Event], frames: usize) {
    let kinds: Vec<&str> = events.iter().map(|e| e.body.kind()).collect();
    assert_eq!(
        kinds[..5],
        ["connection", "tcp", "tcp", "tcp", "handshake"],
        "{kinds:?}"
    );
    assert_eq!(kinds.last(), Some(&"connection_end"), "{kinds:?}");
    let count = |k: &str| kinds.iter().filter(|x| **x == k).count();
    assert_eq!(count("connection"), 1, "{kinds:?}");
    assert_eq!(count("tcp"), frames, "one tcp event per packet: {kinds:?}");
    assert_eq!(count("http_request"), 1, "{kinds:?}");
    assert_eq!(count("http_response"), 1, "{kinds:?}");
    for bad in ["gap", "violation", "malformed"] {
        assert_eq!(count(bad), 0, "{kinds:?}");
    }
    let pos = |k: &str| kinds.iter().position(|x| *x == k).unwrap();
    assert!(pos("handshake") < pos("http_request") && pos("http_request") < pos("http_response"));
    for e in events {
        if let EventBody::Tcp(t) = &e.body {
            let bad: Vec<_> = t
                .analysis
                .iter()
                .filter(|a| !matches!(a, TcpAnalysis::WindowUpdate))
                .collect();
            assert!(bad.is_empty(), "frame {}: {bad:?}", e.frame);
        }
    }
    let Some(EventBody::ConnectionEnd(end)) = events.last().map(|e| &e.body) else {
        unreachable!()
    };
    assert_eq!(end.state, ConnState::Closed);
    assert_eq!(end.segments[0] + end.segments[1], frames as u64);
    assert_eq!(end.bytes, [REQUEST.len() as u64, REPLY.len() as u64]);
}

fn now_ns() -> u64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    d.as_nanos() as u64
}

fn engine_events(frames: &[Frame]) -> Vec<Event> {
    let mut engine = Engine::new(Limits::default());
    let mut events = Vec::new();
    for f in frames {
        let raw = synscope::capture::RawFrame {
            ts: synscope::model::Timestamp(f.ts),
            link: LinkType::ETHERNET,
            data: &f.data,
            orig_len: f.orig_len,
        };
        engine.ingest(&raw, &mut events);
    }
    engine.finish(&mut events);
    events
}

fn capture_one_conversation(mut cfg: LiveConfig, v6: bool) {
    let listener = TcpListener::bind(if v6 { "[::1]:0" } else { "127.0.0.1:0" }).unwrap();
    let server = listener.local_addr().unwrap();
    cfg.ports = vec![server.port()];
    let Some(mut cap) = open(&cfg) else { return };
    let before = now_ns();
    let client = converse(listener);
    let after = now_ns();
    let frames = collect(&mut cap);
    assert_once(&frames, client, server);
    let stats = cap.stats();
    assert_eq!(stats.captured, frames.len() as u64);
    assert_eq!(stats.received, stats.captured, "{stats:?}");
    assert_eq!(stats.dropped, 0);
    // Timestamps are the kernel's receive times in ns since the epoch. They need not be in
    // capture order: on lo the kernel stamps a packet when it is queued to a CPU's backlog and
    // delivers it when that CPU gets to it, so packets queued on two CPUs can be delivered in
    // the other order (causally related packets cannot: a reply is made after its cause has
    // been delivered).
    for f in &frames {
        assert!(
            f.ts + 1_000_000 >= before && f.ts <= after + 1_000_000,
            "{} not in [{before}, {after}]",
            f.ts
        );
    }
    assert!(frames.iter().all(|f| f.orig_len as usize == f.data.len()));
    assert_decoded(&engine_events(&frames), frames.len());
}

#[test]
fn ring_capture_sees_each_loopback_packet_once() {
    let cfg = config(0);
    if let Some(c) = open(&cfg) {
        assert!(c.uses_ring(), "ring refused: {:?}", c.ring_error());
        assert_eq!(c.dedup(), Dedup::IgnoreOutgoing);
    }
    capture_one_conversation(cfg, false);
}

#[test]
fn ipv6_loopback_conversation_is_seen_once() {
    capture_one_conversation(config(0), true);
}

#[test]
fn recv_path_sees_each_packet_once() {
    let mut cfg = config(0);
    cfg.ring = None;
    if let Some(c) = open(&cfg) {
        assert!(!c.uses_ring());
    }
    capture_one_conversation(cfg, false);
}

/// The de-duplication used on kernels without PACKET_IGNORE_OUTGOING, forced here.
#[test]
fn pkttype_filter_dedup_sees_each_packet_once() {
    let mut cfg = config(0);
    cfg.loopback_dedup = LoopbackDedup::BpfPktType;
    if let Some(c) = open(&cfg) {
        assert_eq!(c.dedup(), Dedup::BpfPktType);
    }
    capture_one_conversation(cfg.clone(), false);
    cfg.ring = None;
    capture_one_conversation(cfg, true);
}

#[test]
fn port_filter_leaves_out_other_ports() {
    let watched = TcpListener::bind("127.0.0.1:0").unwrap();
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let (wp, op) = (watched.local_addr().unwrap(), other.local_addr().unwrap());
    let Some(mut cap) = open(&config(wp.port())) else {
        return;
    };
    // The other conversation first: if the filter let it through it would be in the batches.
    converse(other);
    let client = converse(watched);
    let frames = collect(&mut cap);
    assert!(frames.iter().all(|f| seg(f).src != op && seg(f).dst != op));
    assert_once(&frames, client, wp);
}

#[test]
fn host_filter_leaves_out_other_addresses() {
    // All of 127.0.0.0/8 is on lo. Same port filter on both, only the host differs.
    let watched = TcpListener::bind("127.0.0.2:0").unwrap();
    let wp = watched.local_addr().unwrap();
    let Ok(other) = TcpListener::bind(("127.0.0.1", wp.port())) else {
        panic!("port {} taken on 127.0.0.1", wp.port())
    };
    let mut cfg = config(wp.port());
    cfg.host = Some(wp.ip());
    let Some(mut cap) = open(&cfg) else { return };
    converse(other);
    let client = converse(watched);
    let frames = collect(&mut cap);
    assert_once(&frames, client, wp);
}

#[test]
fn unknown_interface_lists_the_real_ones() {
    let err = LiveCapture::open(&LiveConfig::new("nosuch0"))
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(msg.contains("nosuch0") && msg.contains("lo"), "{msg}");
}

#[test]
fn too_many_ports_is_refused_before_capturing() {
    let mut cfg = LiveConfig::new("lo");
    cfg.ports = (1..=40).collect();
    match LiveCapture::open(&cfg) {
        Err(LiveError::Filter(_)) => {}
        Err(LiveError::NoPermission { .. }) if std::env::var("CI").as_deref() != Ok("true") => {}
        other => panic!("{:?}", other.err()),
    }
}

/// Frames of a pcapng file, read by pcap-parser (a reader independent of synscope's).
fn pcapng_frames(path: &Path) -> Vec<Frame> {
    read_pcapng(path, false)
}

/// The frames of a pcapng file; with `partial`, of a file still being written: no file or a
/// block cut at its end gives the frames before it.
fn read_pcapng(path: &Path, partial: bool) -> Vec<Frame> {
    let bytes = match std::fs::read(path) {
        Err(e) if partial && e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        r => r.unwrap(),
    };
    let mut r = match PcapNGReader::new(1 << 20, bytes.as_slice()) {
        Err(_) if partial => return Vec::new(),
        r => r.unwrap(),
    };
    let mut out = Vec::new();
    loop {
        match r.next() {
            Ok((n, block)) => {
                if let PcapBlockOwned::NG(Block::EnhancedPacket(epb)) = block {
                    out.push(Frame {
                        ts: (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low),
                        data: epb.packet_data().to_vec(),
                        orig_len: epb.origlen,
                    });
                }
                r.consume(n);
            }
            Err(PcapError::Eof) => return out,
            Err(PcapError::UnexpectedEof) if partial => return out,
            Err(PcapError::Incomplete(_)) => r.refill().unwrap(),
            Err(e) => panic!("{e:?}"),
        }
    }
}

/// Waits until the `-w` file of a running capture holds the whole conversation, closed both
/// ways (the file is flushed after every batch). The conversation's last ACK can reach the
/// capture after [`converse`] returned: stopping before it would lose it. Fails after 60 s.
fn wait_written_closed(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !closed(&read_pcapng(path, true)) {
        assert!(
            Instant::now() < deadline,
            "{} never held the closed conversation",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Capture -> `-w` pcapng -> read back: the same frames, and the same events as the live path.
#[test]
fn headless_run_writes_a_pcapng_that_decodes_to_the_same_events() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap();
    let path = temp_path("roundtrip.pcapng");
    let opts = HeadlessOptions {
        capture: config(server.port()),
        format: Format::Json,
        explain: None,
        write: Some(path.clone()),
        limits: Limits::default(),
        drop_privileges: false,
        select: Default::default(),
        engine_filter: Default::default(),
        keylog: None,
    };
    let session = match Headless::open(opts) {
        Ok(s) => s,
        Err(e) => match e.downcast_ref::<LiveError>() {
            Some(LiveError::NoPermission { .. })
                if std::env::var("CI").as_deref() != Ok("true") =>
            {
                eprintln!("NOT RUN: {e}");
                return;
            }
            _ => panic!("{e:#}"),
        },
    };
    assert!(session.description().contains("port"));
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let run = std::thread::spawn(move || {
        let mut out = Vec::new();
        let summary = session.run(&mut out, &flag).unwrap();
        (summary, out)
    });
    let client = converse(listener);
    wait_written_closed(&path);
    stop.store(true, Ordering::Release);
    let (summary, out) = run.join().unwrap();

    let frames = pcapng_frames(&path);
    assert_once(&frames, client, server);
    assert_eq!(summary.capture.stats.captured, frames.len() as u64);
    assert_eq!(summary.capture.stats.dropped, 0);
    assert_eq!(summary.capture.userspace_dropped, 0);
    assert_eq!(summary.engine.frames, frames.len() as u64);
    assert_eq!(
        summary.written.as_ref().map(|w| w.1),
        Some(frames.len() as u64)
    );
    let line = summary.to_string();
    assert!(
        line.contains(&format!("{} packets captured on lo", frames.len())),
        "{line}"
    );
    assert!(line.contains("0 dropped"), "{line}");

    // The live output is the JSON of the events the same frames give, and so is the file's.
    let live_json = String::from_utf8(out).unwrap();
    let from_frames: String = engine_events(&frames)
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect();
    assert_eq!(live_json, from_frames);
    let from_file: String = decode_file(&path)
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect();
    assert_eq!(from_file, live_json);
    assert_decoded(&decode_file(&path), frames.len());
}

/// Starts `synscope live` and waits for its "capturing on" line.
struct Running {
    child: std::process::Child,
    stderr: std::sync::mpsc::Receiver<String>,
}

fn start_live(args: &[&str], envs: &[(&str, &str)]) -> Option<Running> {
    let mut cmd = Command::new(BIN);
    cmd.arg("live")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
    if !first.contains("capturing on") {
        let _ = child.wait();
        let rest: Vec<String> = rx.try_iter().collect();
        if first.contains("CAP_NET_RAW") && std::env::var("CI").as_deref() != Ok("true") {
            eprintln!("NOT RUN: {first}");
            return None;
        }
        panic!("synscope live did not start: {first}\n{}", rest.join("\n"));
    }
    Some(Running { child, stderr: rx })
}

impl Running {
    /// SIGINT, then the exit status, stdout and the rest of stderr.
    fn interrupt(mut self) -> (std::process::ExitStatus, String, String) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(killed.success());
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let status = self.child.wait().unwrap();
        let err: Vec<String> = self.stderr.iter().collect();
        (status, out, err.join("\n"))
    }
}

#[test]
fn binary_streams_json_until_sigint_then_prints_statistics() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap();
    let path = temp_path("binary.pcapng");
    let port = server.port().to_string();
    let args = [
        "--port",
        &port,
        "--format",
        "json",
        "-w",
        path.to_str().unwrap(),
    ];
    let Some(running) = start_live(&args, &[]) else {
        return;
    };
    let client = converse(listener);
    wait_written_closed(&path);
    let (status, out, err) = running.interrupt();
    assert!(status.success(), "{status:?}\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    let frames = pcapng_frames(&path);
    assert_once(&frames, client, server);
    let n = frames.len();
    assert!(
        err.contains(&format!("{n} packets captured on lo")),
        "{err}"
    );
    assert!(
        err.contains(&format!("kernel: {n} received, 0 dropped")),
        "{err}"
    );
    assert!(err.contains(&format!("decoded {n} frames")), "{err}");
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON Lines");
        assert!(v.get("kind").is_some(), "{line}");
    }
    let events = engine_events(&frames);
    assert_decoded(&events, n);
    let want: String = events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect();
    assert_eq!(out, want);
    assert!(
        out.lines()
            .last()
            .unwrap()
            .contains(r#""kind":"connection_end""#),
        "{out}"
    );
}

/// `live` writes with `decode`'s writer: `--format mermaid` and `--format text --explain`
/// stream exactly what `decode` prints for the `-w` file of the same run.
#[test]
fn binary_streams_mermaid_and_explained_text_as_decode_writes_them() {
    for format in [
        &["--format", "mermaid"][..],
        &["--format", "text", "--explain"],
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = listener.local_addr().unwrap();
        let path = temp_path(&format!("formats-{}.pcapng", format[1]));
        let port = server.port().to_string();
        let args = [
            &[
                "--lang",
                "en",
                "--port",
                &port,
                "-w",
                path.to_str().unwrap(),
            ][..],
            format,
        ]
        .concat();
        let Some(running) = start_live(&args, &[]) else {
            return;
        };
        let client = converse(listener);
        wait_written_closed(&path);
        let (status, out, err) = running.interrupt();
        assert!(status.success(), "{format:?}: {status:?}\n{err}");
        assert_once(&pcapng_frames(&path), client, server);
        let decoded = Command::new(BIN)
            .args(["--lang", "en", "decode", path.to_str().unwrap()])
            .args(format)
            .output()
            .unwrap();
        assert!(decoded.status.success());
        assert_eq!(
            out,
            String::from_utf8(decoded.stdout).unwrap(),
            "{format:?}"
        );
        if format[1] == "mermaid" {
            assert!(out.starts_with("sequenceDiagram\n"), "{out}");
            assert!(out.contains("GET /live"), "{out}");
        } else {
            assert!(out.contains("why: "), "{out}");
        }
    }
}

/// Started by sudo (SUDO_UID/SUDO_GID), synscope opens the socket as root, then runs as the
/// user: no root ids, no capabilities, and the `-w` file belongs to the user.
#[test]
fn sudo_started_run_drops_root_after_opening_the_socket() {
    if euid() != 0 {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI must run as root"
        );
        eprintln!("NOT RUN: needs root");
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap();
    let path = temp_path("dropped.pcapng");
    let _ = std::fs::remove_file(&path);
    let port = server.port().to_string();
    let args = [
        "--port",
        &port,
        "--format",
        "text",
        "-w",
        path.to_str().unwrap(),
    ];
    let env = [
        ("SUDO_UID", "65534"),
        ("SUDO_GID", "65534"),
        ("SUDO_USER", ""),
    ];
    let Some(running) = start_live(&args, &env) else {
        return;
    };
    let status = std::fs::read_to_string(format!("/proc/{}/status", running.child.id())).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
            .to_string()
    };
    let client = converse(listener);
    wait_written_closed(&path);
    let (exit, _out, err) = running.interrupt();
    assert!(exit.success(), "{err}");
    assert_eq!(
        field("Uid:").split_whitespace().skip(1).collect::<Vec<_>>(),
        ["65534"; 4]
    );
    assert_eq!(
        field("Gid:").split_whitespace().skip(1).collect::<Vec<_>>(),
        ["65534"; 4]
    );
    assert_eq!(field("Groups:").trim(), "Groups:");
    assert_eq!(
        field("CapEff:").split_whitespace().nth(1),
        Some("0000000000000000")
    );
    assert_eq!(std::fs::metadata(&path).unwrap().uid(), 65534);
    assert_once(&pcapng_frames(&path), client, server);
}

/// Without CAP_NET_RAW: one clear message with the ways out, a non-zero exit, no panic.
#[test]
fn without_capture_rights_the_message_names_the_ways_out() {
    let out = synscope_without_rights()
        .args(["live", "--format", "json"])
        .output()
        .expect("setpriv (util-linux)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("synscope: capturing on lo needs the CAP_NET_RAW capability"),
        "{err}"
    );
    assert!(
        err.contains("sudo setcap cap_net_raw,cap_net_admin+eip"),
        "{err}"
    );
    assert!(err.contains("sudo synscope live"), "{err}");
    assert!(err.contains("synscope replay"), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    assert!(err.lines().count() <= 5, "{err}");
    assert!(out.stdout.is_empty());
}
