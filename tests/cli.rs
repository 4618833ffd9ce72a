//! The real `synscope` binary: `decode` on good, bad and cut input, from files and from stdin,
//! both output formats, `--stats`, a closed output pipe, and live streaming through a pipe.
//!
//! Exit codes (`synscope decode`): 0 when the capture was read to its end, also when it ends
//! inside a packet (the frames before the cut are printed and one warning line goes to stderr:
//! a capture still being written, or cut by a copy, is normal) and when the reader of stdout
//! goes away (`| head`); 1 with exactly one `synscope: ...` line on stderr when the input
//! cannot be read or is not a capture.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;
use support::*;

use support::rights::BIN;

/// A scratch file under cargo's per-target temporary directory.
fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Runs `synscope decode ARGS`; returns (exit code, stdout, stderr).
fn run(args: &[&str], stdin: Option<Vec<u8>>) -> (i32, String, String) {
    let mut cmd = cargo_bin_cmd!("synscope");
    cmd.arg("decode").args(args);
    if let Some(input) = stdin {
        cmd.write_stdin(input);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// A failure: non-zero exit, nothing on stdout, exactly one `synscope: ` line on stderr.
fn assert_one_line_failure(args: &[&str], stdin: Option<Vec<u8>>, says: &str) {
    let (code, stdout, stderr) = run(args, stdin);
    assert_ne!(code, 0, "{args:?}: {stderr}");
    assert_eq!(stdout, "", "{args:?}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr:?}");
    assert!(stderr.starts_with("synscope: "), "{args:?}: {stderr:?}");
    assert!(stderr.ends_with('\n'));
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains(says),
        "{args:?}: {stderr:?} should say {says:?}"
    );
}

/// What the library says `synscope decode` prints for `bytes` (text format).
fn library_text(bytes: &[u8]) -> String {
    text(&decode_lenient(bytes))
}

/// Every frame the reader gives, through the engine, then `finish` (a cut tail is allowed).
fn decode_lenient(bytes: &[u8]) -> Vec<synscope::model::Event> {
    let mut r = synscope::capture::CaptureReader::new(bytes).unwrap();
    run_engine(&mut r, synscope::model::Limits::default())
}

#[test]
fn a_missing_file_is_one_line_and_exit_1() {
    assert_one_line_failure(
        &["/nonexistent/dir/capture.pcap"],
        None,
        "/nonexistent/dir/capture.pcap",
    );
    let (code, _, stderr) = run(&["/nonexistent/dir/capture.pcap"], None);
    assert_eq!(code, 1);
    // The OS error once, not repeated by the error chain.
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn a_directory_is_one_line() {
    let dir = env!("CARGO_TARGET_TMPDIR");
    assert_one_line_failure(&[dir], None, dir);
}

#[test]
fn an_empty_file_or_stdin_is_one_line() {
    let empty = scratch("empty.pcap", b"");
    assert_one_line_failure(&[empty.to_str().unwrap()], None, "empty");
    assert_one_line_failure(&["-"], Some(Vec::new()), "cannot read standard input");
}

#[test]
fn a_text_file_is_not_a_capture() {
    let readme = capture_path("README.md");
    assert_one_line_failure(&[readme.to_str().unwrap()], None, "not a pcap or pcapng");
    // Its first bytes are shown escaped, never raw.
    let hostile = scratch(
        "hostile.txt",
        b"\x1b[2J\x1b]0;x\x07\r\n not a capture at all",
    );
    let (_, _, stderr) = run(&[hostile.to_str().unwrap()], None);
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
    assert!(!stderr.contains('\r'), "{stderr:?}");
}

#[test]
fn a_corrupt_block_is_one_line_after_the_frames_before_it() {
    let mut bytes = std::fs::read(capture_path("ws_chat.pcapng")).unwrap();
    // The first EPB after SHB and IDB: a block length that is not a multiple of 4.
    let shb = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    let idb = u32::from_le_bytes(bytes[shb + 4..shb + 8].try_into().unwrap()) as usize;
    let epb1 = shb + idb;
    let len1 = u32::from_le_bytes(bytes[epb1 + 4..epb1 + 8].try_into().unwrap()) as usize;
    let epb2 = epb1 + len1;
    bytes[epb2 + 4..epb2 + 8].copy_from_slice(&13u32.to_le_bytes());
    let f = scratch("corrupt.pcapng", &bytes);
    let (code, stdout, stderr) = run(&[f.to_str().unwrap()], None);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(stderr.starts_with("synscope: "), "{stderr:?}");
    assert!(stderr.contains("corrupt"), "{stderr:?}");
    // Frame 1 (the SYN) was decoded and printed before the error, and its connection ended.
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[1].contains("SYN "), "{stdout}");
    assert!(lines[2].contains("end: still handshaking"), "{stdout}");
    // The JSON contract holds up to the error.
    let (code, stdout, _) = run(&["--format", "json", f.to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert_eq!(check_json_lines("corrupt", &stdout), 3);
}

#[test]
fn a_file_cut_mid_packet_prints_the_frames_before_and_warns_once() {
    let whole = std::fs::read(capture_path("http_keepalive_usec.pcap")).unwrap();
    // Cut inside the last record's data.
    let cut = &whole[..whole.len() - 20];
    let f = scratch("cut.pcap", cut);
    let (code, stdout, stderr) = run(&[f.to_str().unwrap()], None);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(
        stderr.starts_with("synscope: warning: ") && stderr.contains("ends inside a packet"),
        "{stderr:?}"
    );
    assert!(stderr.contains("cli-cut.pcap"), "{stderr:?}");
    // Exactly what the library decodes from the 15 whole frames, ended by `finish`.
    assert_eq!(stdout, library_text(cut));
    let tcp = stdout
        .lines()
        .filter(|l| l.contains("seq=") && l.contains("len="))
        .count();
    assert_eq!(tcp, 15);
    // The same cut through stdin: same output, same warning.
    let (code, stdout2, stderr2) = run(&["-"], Some(cut.to_vec()));
    assert_eq!(code, 0);
    assert_eq!(stdout2, stdout);
    assert_eq!(
        stderr2,
        "synscope: warning: standard input ends inside a packet (cut short)\n"
    );
    // A cut inside the file header: nothing to print, still a warning, not an error, and it
    // says where the file ends.
    let (code, stdout, stderr) = run(&["-"], Some(whole[..10].to_vec()));
    assert_eq!((code, stdout.as_str()), (0, ""), "{stderr}");
    assert_eq!(
        stderr,
        "synscope: warning: standard input ends inside its file header (10 of 24 bytes): it \
         holds no packet\n"
    );
}

#[test]
fn a_record_longer_than_the_snap_length_is_corrupt() {
    // The file header says 65535 bytes at most; the second record claims 100,000.
    let mut p = Pcap::new(1);
    p.record(1_700_000_000_000_000, &[0; 60], None);
    let mut bytes = p.bytes();
    let at = bytes.len();
    for v in [1_700_000_001u32, 0, 100_000, 100_000] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes.extend_from_slice(&[0; 500]);
    let f = scratch("snaplen.pcap", &bytes);
    let (code, _, stderr) = run(&[f.to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        format!(
            "synscope: in {}: corrupt capture at byte {}: packet record claims 100000 captured \
             bytes, more than the file's snap length 65535\n",
            f.display(),
            at + 8
        )
    );
}

#[test]
fn timestamps_out_of_range_get_a_warning() {
    // The second packet's microseconds field says 2^31: 2147 s later, as tcpdump would
    // show it; synscope keeps the time but warns that it is not to be trusted.
    let mut c = Conv::new("10.0.0.1:40000", "10.0.0.2:80");
    c.handshake();
    let mut bytes = c.bytes();
    let second = 24 + 16 + c.pcap.records[0].data.len();
    bytes[second + 4..second + 8].copy_from_slice(&0x8000_0000u32.to_le_bytes());
    let f = scratch("badts.pcap", &bytes);
    let (code, stdout, stderr) = run(&[f.to_str().unwrap()], None);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("iRTT"), "{stdout}");
    assert_eq!(
        stderr,
        format!(
            "synscope: warning: 1 packet in {} has a timestamp out of range (its fraction of a \
             second is a second or more), the first at frame 2: times from there on are not \
             reliable\n",
            f.display()
        )
    );
}

#[test]
fn stats_name_why_frames_were_not_placed() {
    // An ARP frame, a UDP datagram and an IP fragment around a TCP handshake.
    let mut c = Conv::new("10.0.0.1:40000", "10.0.0.2:80");
    c.handshake();
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    arp.extend_from_slice(&[0; 28]);
    c.push(&arp, None);
    let mut udp = Vec::new();
    etherparse::PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(5353, 5353)
        .write(&mut udp, b"q")
        .unwrap();
    c.push(&Link::Ethernet.wrap(&udp), None);
    let mut frag = c.ip_packet(true, 0x18, 7, b"fragment");
    frag[6] = 0x20; // more fragments
    c.push(&Link::Ethernet.wrap(&frag), None);
    let f = scratch("other.pcap", &c.bytes());
    let (code, stdout, stderr) = run(&["--stats", f.to_str().unwrap()], None);
    assert_eq!((code, stdout.as_str()), (0, ""), "{stderr}");
    assert!(
        stderr.contains("other 3 (not IP 1, not TCP 1, IP fragments 1)"),
        "{stderr}"
    );
    // The fragment of a TCP packet is an event too: its segment is missing.
    let (_, json, _) = run(&["--format", "json", f.to_str().unwrap()], None);
    let notes: Vec<Value> = json
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["kind"] == "note")
        .collect();
    assert_eq!(notes.len(), 1, "{json}");
    assert_eq!(notes[0]["note"], "ip_fragment");
    assert_eq!(notes[0]["layer"], "ip");
    assert_eq!(notes[0]["frame"], 6);
}

#[test]
fn stdin_gives_the_same_output_as_the_file() {
    for name in ["ws_chat.pcapng", "http_keepalive_usec.pcap"] {
        let path = capture_path(name);
        let (code, from_file, e1) = run(&[path.to_str().unwrap()], None);
        assert_eq!((code, e1.as_str()), (0, ""));
        let (code, from_stdin, e2) = run(&["-"], Some(std::fs::read(&path).unwrap()));
        assert_eq!((code, e2.as_str()), (0, ""));
        assert_eq!(from_stdin, from_file, "{name}");
        assert_eq!(from_file, library_text(&std::fs::read(&path).unwrap()));
    }
}

/// Checks the JSON Lines contract on one output: every line is an object with `kind`, `t`,
/// `frame`; `conn` on connection events, `dir` on directed ones; each connection announced
/// before its other events and ended at most once, its events in capture order.
fn check_json_lines(name: &str, stdout: &str) -> usize {
    let directed = [
        "tcp",
        "http_request",
        "http_response",
        "http_body",
        "ws_frame",
        "ws_message",
        "gap",
        "sse_event",
        "stomp",
        "socketio",
        "data",
    ];
    let mut announced = HashSet::new();
    let mut ended = HashSet::new();
    let mut last_frame: HashMap<u64, u64> = HashMap::new();
    let mut prev_frame = 0;
    let mut n = 0;
    for line in stdout.split('\n').filter(|l| !l.is_empty()) {
        n += 1;
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}: {e}: {line}"));
        let kind = v["kind"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {line}"));
        assert!(synscope::model::EVENT_KINDS.contains(&kind), "{line}");
        assert!(v["t"].as_f64().unwrap() >= 0.0, "{line}");
        let frame = v["frame"].as_u64().unwrap();
        // Events come out in capture order overall (end-of-capture events at the last frame).
        assert!(frame >= prev_frame, "{name}: frame went back: {line}");
        prev_frame = frame;
        if directed.contains(&kind) {
            assert!(v["conn"].is_u64(), "{name}: {line}");
            let d = v["dir"].as_str().unwrap();
            assert!(d == "c2s" || d == "s2c", "{line}");
        }
        if matches!(kind, "connection" | "connection_end" | "handshake") {
            assert!(v.get("dir").is_none(), "{line}");
        }
        match v["conn"].as_u64() {
            Some(c) => {
                if kind == "connection" {
                    assert!(announced.insert(c), "{name}: conn {c} announced twice");
                } else {
                    assert!(
                        announced.contains(&c),
                        "{name}: conn {c} before its connection"
                    );
                }
                if kind == "connection_end" {
                    assert!(ended.insert(c), "{name}: conn {c} ended twice");
                }
                let last = last_frame.entry(c).or_insert(0);
                assert!(frame >= *last, "{name}: conn {c} went back: {line}");
                *last = frame;
            }
            None => assert!(
                matches!(kind, "malformed" | "note" | "pattern"),
                "{name}: {kind} without conn: {line}"
            ),
        }
    }
    assert_eq!(announced, ended, "{name}: every connection ends once");
    n
}

#[test]
fn json_lines_keep_their_contract_on_every_capture() {
    let files = captures();
    assert_eq!(files.len(), 33);
    for f in &files {
        let (code, stdout, stderr) = run(&["--format", "json", f.to_str().unwrap()], None);
        assert_eq!((code, stderr.as_str()), (0, ""), "{f:?}");
        let lines = check_json_lines(&f.to_string_lossy(), &stdout);
        // One JSON line per text line.
        let (_, text_out, _) = run(&[f.to_str().unwrap()], None);
        assert_eq!(lines, text_out.lines().count(), "{f:?}");
    }
}

#[test]
fn json_lines_keep_their_contract_on_a_messy_capture() {
    // Two interleaved connections, a malformed packet, a gap, a reset, a refused SYN.
    let mut a = Conv::new("10.0.0.1:40000", "10.0.0.2:80");
    let mut b = Conv::new("10.0.0.1:40001", "10.0.0.2:80");
    a.handshake();
    b.handshake();
    a.c2s(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    b.c2s(b"GET /b HTTP/1.1\r\n");
    b.advance(true, PSH, 10); // lost
    b.c2s(b"\r\n");
    a.s2c(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    a.push(&Link::Ethernet.wrap(&[0x45, 0, 0, 10]), None);
    b.s2c(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    a.seg(true, RST | ACK, b"");
    let mut c = Conv::new("10.0.0.1:40002", "10.0.0.2:81");
    c.seg(true, SYN, b"");
    c.seg(false, RST | ACK, b"");
    // Interleave by timestamp: a's, b's and c's packets each 10 µs apart from their start.
    let mut records: Vec<Record> = [a.pcap, b.pcap, c.pcap]
        .into_iter()
        .flat_map(|p| p.records)
        .collect();
    records.sort_by_key(|r| r.usec);
    let pcap = Pcap {
        linktype: 1,
        records,
    };
    let (code, stdout, stderr) = run(&["--format", "json", "-"], Some(pcap.bytes()));
    assert_eq!((code, stderr.as_str()), (0, ""));
    check_json_lines("messy", &stdout);
    for kind in ["malformed", "gap", "connection_end"] {
        assert!(stdout.contains(&format!("\"kind\":\"{kind}\"")), "{stdout}");
    }
    assert!(stdout.contains("\"state\":\"refused\""));
    assert!(stdout.contains("\"state\":\"reset\""));
}

#[test]
fn stats_prints_a_summary_on_stderr_only() {
    let path = capture_path("ws_chat.pcapng");
    let (code, stdout, stderr) = run(&["--stats", path.to_str().unwrap()], None);
    assert_eq!(code, 0);
    assert_eq!(stdout, "");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    let events = decode_lenient(&std::fs::read(&path).unwrap()).len();
    for part in [
        "frames 39 ".to_string(),
        "tcp 39 ".into(),
        "malformed 0 ".into(),
        format!("events {events} "),
        "frames/s".into(),
        "MB/s".into(),
    ] {
        assert!(stderr.contains(&part), "{stderr:?} lacks {part:?}");
    }
}

/// A capture whose transcript is far larger than a pipe buffer (64 KiB on Linux).
fn big_capture() -> PathBuf {
    let mut c = Conv::new("10.0.0.1:40000", "10.0.0.2:8080");
    c.websocket();
    for i in 0..20_000 {
        c.s2c(&server_frame(
            true,
            1,
            format!("message number {i}").as_bytes(),
        ));
    }
    c.close();
    scratch("big.pcap", &c.bytes())
}

#[test]
fn a_closed_output_pipe_exits_quietly() {
    let big = big_capture();
    for format in ["text", "json"] {
        // `synscope decode big.pcap | head -1`: read one line, then close the pipe.
        let mut child = Command::new(BIN)
            .args(["decode", "--format", format, big.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(first.contains("connection"), "{first:?}");
        // The reader is dropped here: the rest of the output hits a closed pipe.
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(stderr, "", "{format}");
        assert_eq!(status.code(), Some(0), "{format}: {status:?}");
    }
}

/// `tcpdump -U -w - | synscope decode -`: each packet's events come out as soon as the packet
/// is written, before the next one exists. The test writes one packet, waits (bounded) until
/// stdout shows its event, and only then writes the next.
#[test]
fn stdin_is_decoded_as_packets_arrive() {
    let mut c = Conv::new("10.0.0.1:40000", "10.0.0.2:8080");
    c.handshake();
    c.c2s(b"GET /live HTTP/1.1\r\nHost: x\r\n\r\n");
    c.s2c(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    c.close();
    // What each packet must make appear before the next is written.
    let expect = [
        "SYN     seq=0",
        "SYN-ACK seq=0",
        "handshake complete",
        "GET /live HTTP/1.1",
        "HTTP/1.1 200 OK",
        "c→s  FIN-ACK",
        "s→c  FIN-ACK",
        "end: closed",
    ];
    assert_eq!(c.pcap.records.len(), expect.len());

    let mut child = Command::new(BIN)
        .args(["decode", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    stdin.write_all(&c.pcap.header()).unwrap();
    stdin.flush().unwrap();
    for (record, want) in c.pcap.records.iter().zip(expect) {
        stdin.write_all(&Pcap::pcap_record(record)).unwrap();
        stdin.flush().unwrap();
        // Bounded wait for the line; the child gets nothing more until it shows.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(want);
                    seen.push(line);
                    if found {
                        break;
                    }
                }
                Err(e) => panic!("no {want:?} within 60 s ({e:?}); saw:\n{}", seen.join("\n")),
            }
        }
    }
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    seen.extend(rx.try_iter());
    assert_eq!(status.code(), Some(0));
    // Nothing more and nothing else than what the whole capture gives at once.
    assert_eq!(seen.join("\n") + "\n", library_text(&c.bytes()));
}

/// `--port` and `--host` pick segments as tcpdump's `port N` and `host ADDR` would; `-r FILE`
/// reads the file as tcpdump and tshark take it. The demo recording holds 12 connections to one
/// server port, from client ports that differ.
#[test]
fn port_and_host_filters_pick_connections_like_tcpdump() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcapng");
    let demo = demo.to_str().unwrap();
    let conns = |stdout: &str| -> Vec<(String, String)> {
        stdout
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|e| e["kind"] == "connection")
            .map(|e| {
                (
                    e["client"].as_str().unwrap().into(),
                    e["server"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    let (code, all, _) = run(&["-r", demo, "--format", "json"], None);
    assert_eq!(code, 0);
    let all = conns(&all);
    assert_eq!(all.len(), 12);
    let server_port = all[0].1.rsplit(':').next().unwrap().to_string();
    let (_, same, _) = run(&[demo, "--format", "json", "--port", &server_port], None);
    assert_eq!(
        conns(&same),
        all,
        "the server's port keeps every connection"
    );
    let client_port = all[3].0.rsplit(':').next().unwrap().to_string();
    let (_, one, _) = run(&[demo, "--format", "json", "--port", &client_port], None);
    assert_eq!(
        conns(&one),
        vec![all[3].clone()],
        "a client port keeps its connection"
    );
    let (_, none, stderr) = run(&[demo, "--stats", "--host", "::1"], None);
    assert!(none.is_empty());
    assert!(stderr.contains("tcp 0  filtered out 217"), "{stderr}");
    let (code, _, stderr) = run(&[demo, "-r", demo], None);
    assert_ne!(code, 0, "FILE and -r FILE together are refused: {stderr}");
}
