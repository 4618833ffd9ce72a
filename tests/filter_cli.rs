//! The real binary with the display filter (`-Y`), `--conn`, `--host NAME` and `-w`, on the
//! committed captures; the `-w` files read back by tshark; and the command line's edges
//! (`decode` without a file, `replay -` on a terminal).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::rights::BIN;
use support::tmux::Tmux;
use support::*;
use synscope::model::{Event, EventBody};

/// Runs `synscope ARGS`; returns (exit code, stdout, stderr).
fn synscope(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn cap(name: &str) -> String {
    capture_path(name).display().to_string()
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A path for a file written by the binary (cargo's per-target temporary directory).
fn out_path(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("filter-{name}"));
    let _ = std::fs::remove_file(&p);
    p
}

/// `tshark -r FILE -T fields -e frame.number -e tcp.stream`, or None without tshark (CI
/// installs it: there its absence is a failure).
fn tshark_fields(file: &Path) -> Option<Vec<(u64, u64)>> {
    let out = match Command::new("tshark")
        .args(["-r", &file.display().to_string()])
        .args(["-T", "fields", "-e", "frame.number", "-e", "tcp.stream"])
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must install tshark: {e}"
            );
            eprintln!("NOT RUN: tshark is not installed ({e})");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    Some(
        text.lines()
            .map(|l| {
                let mut f = l.split('\t');
                let n = f.next().unwrap().parse().unwrap();
                let s = f.next().unwrap().parse().unwrap();
                (n, s)
            })
            .collect(),
    )
}

/// The frames that carried the connection's segments (one `tcp` event per segment).
fn frames_of(events: &[Event], conn: u32) -> BTreeSet<u64> {
    events
        .iter()
        .filter(|e| e.conn == Some(conn) && matches!(e.body, EventBody::Tcp(_)))
        .map(|e| e.frame)
        .collect()
}

#[test]
fn a_filter_shows_only_the_events_that_pass() {
    let all = decode_capture("lesson_all.pcapng");
    let errors = all
        .iter()
        .filter(|e| matches!(&e.body, EventBody::HttpResponse(r) if r.status >= 400))
        .count();
    assert!(errors > 0);
    let (code, out, err) = synscope(&[
        "decode",
        &cap("lesson_all.pcapng"),
        "-f",
        "json",
        "-Y",
        "http.status >= 400",
    ]);
    assert_eq!(code, 0, "{err}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), errors, "{out}");
    assert!(lines.iter().all(|l| l["status"].as_u64().unwrap() >= 400));
    // The long form and the text format.
    let (code, out, _) = synscope(&[
        "decode",
        &cap("stomp.pcapng"),
        "--filter",
        r#"stomp.command == "SEND""#,
    ]);
    assert_eq!(code, 0);
    assert!(!out.is_empty());
    assert!(out.lines().all(|l| l.contains("STOMP SEND")), "{out}");
}

#[test]
fn a_bad_filter_points_at_the_mistake() {
    let (code, out, err) = synscope(&[
        "decode",
        &cap("lesson_all.pcapng"),
        "-Y",
        "http.status >= 400 and ws.opcod == text",
    ]);
    assert_eq!(code, 2);
    assert_eq!(out, "");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(
        lines[0].starts_with(
            "synscope: bad filter: unknown field `ws.opcod`; did you mean `ws.opcode`?"
        ),
        "{err}"
    );
    assert_eq!(lines[1], "  http.status >= 400 and ws.opcod == text");
    assert_eq!(lines[2], format!("  {}^", " ".repeat(23)));
}

#[test]
fn conn_picks_connections() {
    let all = decode_capture("lesson_all.pcapng");
    let (code, out, err) = synscope(&[
        "decode",
        &cap("lesson_all.pcapng"),
        "-f",
        "json",
        "--conn",
        "2",
        "--conn",
        "5",
    ]);
    assert_eq!(code, 0, "{err}");
    let lines = json_lines(&out);
    let want = all.iter().filter(|e| matches!(e.conn, Some(2 | 5))).count();
    assert!(want > 10);
    assert_eq!(lines.len(), want);
    assert!(lines
        .iter()
        .all(|l| matches!(l["conn"].as_u64(), Some(2 | 5))));
}

/// `--host localhost` takes every address of the name: 127.0.0.1 and ::1.
#[test]
fn host_takes_a_name() {
    for name in ["lesson_all.pcapng", "ws_ipv6.pcapng"] {
        let (_, plain, _) = synscope(&["decode", &cap(name)]);
        let (code, named, err) = synscope(&["decode", &cap(name), "--host", "localhost"]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(named, plain, "{name}");
        assert!(!named.is_empty());
    }
    let (code, out, err) = synscope(&[
        "decode",
        &cap("lesson_all.pcapng"),
        "--host",
        "no such host!",
    ]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.starts_with("synscope: --host: "), "{err}");
}

/// `--conn N -w FILE`: the connection's frames, and only them, in a pcapng tshark reads as
/// one TCP stream; decoded again, the same segments.
#[test]
fn conn_and_write_give_a_capture_tshark_reads() {
    let all = decode_capture("lesson_all.pcapng");
    let want = frames_of(&all, 3);
    assert!(want.len() > 5);
    let file = out_path("conn3.pcapng");
    let (code, out, err) = synscope(&[
        "decode",
        &cap("lesson_all.pcapng"),
        "--conn",
        "3",
        "-w",
        &file.display().to_string(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.is_empty());
    assert_eq!(
        err,
        format!(
            "synscope: wrote {} frames to {}\n",
            want.len(),
            file.display()
        )
    );
    // Decoded again: the same segments, one connection.
    let again = decode_file(&file);
    let seg = |events: &[Event], conn: u32| -> Vec<String> {
        events
            .iter()
            .filter(|e| e.conn == Some(conn))
            .filter_map(|e| match &e.body {
                EventBody::Tcp(s) => Some(format!("{:?}", (s.flags, s.seq, s.ack, s.len))),
                _ => None,
            })
            .collect()
    };
    assert_eq!(seg(&again, 0), seg(&all, 3));
    assert_eq!(frames_of(&again, 0).len(), want.len());
    if let Some(rows) = tshark_fields(&file) {
        let numbers: Vec<u64> = rows.iter().map(|r| r.0).collect();
        assert_eq!(numbers, (1..=want.len() as u64).collect::<Vec<_>>());
        assert!(rows.iter().all(|r| r.1 == 0), "{rows:?}");
    }
}

/// `-Y` with `-w`: the frames that produced an event that passes.
#[test]
fn a_filter_writes_the_frames_of_its_events() {
    let all = decode_capture("lesson_all.pcapng");
    let want: BTreeSet<u64> = all
        .iter()
        .filter(|e| {
            matches!(&e.body, EventBody::HttpResponse(r) if r.status == 404)
                || matches!(&e.body, EventBody::HttpRequest(r) if r.method == "POST")
        })
        .map(|e| e.frame)
        .collect();
    assert!(want.len() >= 2);
    let file = out_path("errors.pcapng");
    let (code, _, err) = synscope(&[
        "decode",
        &cap("lesson_all.pcapng"),
        "--stats",
        "-Y",
        r#"http.status == 404 or http.method == "POST""#,
        "-w",
        &file.display().to_string(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("wrote {} frames", want.len())),
        "{err}"
    );
    if let Some(rows) = tshark_fields(&file) {
        assert_eq!(rows.len(), want.len());
    }
    // Each written frame is one of the original's, in order: the same bytes.
    let original = std::fs::read(capture_path("lesson_all.pcapng")).unwrap();
    let mut r = synscope::capture::CaptureReader::new(&original[..]).unwrap();
    let mut kept = Vec::new();
    let mut n = 0;
    while let Some(f) = r.next_frame().unwrap() {
        n += 1;
        if want.contains(&n) {
            kept.push(f.data.to_vec());
        }
    }
    let written = std::fs::read(&file).unwrap();
    let mut r = synscope::capture::CaptureReader::new(&written[..]).unwrap();
    let mut got = Vec::new();
    while let Some(f) = r.next_frame().unwrap() {
        got.push(f.data.to_vec());
    }
    assert_eq!(got, kept);
}

/// The library call the TUI saves with: chosen frame numbers, read back from the file.
#[test]
fn write_frames_saves_the_frames_asked_for() {
    let all = decode_capture("ws_chat.pcapng");
    let want = frames_of(&all, 0);
    let file = out_path("tui-save.pcapng");
    let mut asked = want.clone();
    asked.insert(100_000); // past the end: not written
    let n = synscope::filter::save::write_frames(&capture_path("ws_chat.pcapng"), &asked, &file)
        .unwrap();
    assert_eq!(n, want.len() as u64);
    if let Some(rows) = tshark_fields(&file) {
        assert_eq!(rows.len(), want.len());
    }
    // Never over the capture itself, never from standard input.
    let err = synscope::filter::save::write_frames(
        &capture_path("ws_chat.pcapng"),
        &asked,
        &capture_path("ws_chat.pcapng"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("will not write over"), "{err}");
    assert!(synscope::filter::save::write_frames(Path::new("-"), &asked, &file).is_err());
}

#[test]
fn decode_without_a_file_says_what_to_give() {
    for command in ["decode", "replay"] {
        let (code, out, err) = synscope(&[command]);
        assert_eq!(code, 2, "{err}");
        assert_eq!(out, "");
        assert!(
            err.starts_with(&format!(
                "synscope: {command} reads a capture: give a pcap or pcapng file"
            )),
            "{err}"
        );
        assert!(err.contains(&format!("| synscope {command} -")), "{err}");
        assert!(err.contains("synscope demo"), "{err}");
    }
}

/// `replay -` with the terminal on standard input would wait forever: it exits at once with
/// the pipe to use.
#[test]
fn replay_dash_on_a_terminal_exits_with_a_hint() {
    let t = Tmux::start("replay-dash", &format!("{BIN} replay -"));
    let screen = t.wait_for("the hint and the exit", |t, s| {
        s.contains("DONE") && t.exit_record().contains("EXIT=")
    });
    let exit = t.exit_record();
    assert!(exit.contains("EXIT=2"), "{exit}\n{screen}");
    let screen = t.pane();
    assert!(
        screen.contains("tcpdump -i lo -U -w - 'tcp port 8080' | synscope replay -"),
        "{screen}"
    );
}

/// `replay -Y`: the title says the filter; the diagram holds the events that pass (the 404)
/// and not the others (the 200s), while the connection rows stay.
#[test]
fn replay_shows_its_filter_in_the_title() {
    let t = Tmux::start(
        "replay-filter",
        &format!(
            "{BIN} replay '{}' -Y 'http.status >= 400' --conn 0 --conn 1 --conn 2 --conn 3 --conn 4 --conn 5 --conn 6 --conn 7",
            cap("lesson_all.pcapng")
        ),
    );
    let screen = t.wait_for("the title with the filter", |_, s| {
        s.contains("filter http.status >= 400")
    });
    assert!(screen.contains("conn #0,#1,#2,#3,#4,#5,#6,#7"), "{screen}");
    t.keys(&["q"]);
    t.assert_restored();
}

/// A filtered Mermaid diagram still declares its participants: the events that pass are
/// drawn between them (without the connections' `connection` events it was empty).
#[test]
fn a_filtered_mermaid_diagram_keeps_its_participants() {
    let (code, out, err) = synscope(&[
        "decode",
        &cap("ws_chat.pcapng"),
        "-f",
        "mermaid",
        "-Y",
        r#"ws.opcode == "close""#,
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "sequenceDiagram");
    assert!(lines[1].starts_with("    participant c0 as "), "{out}");
    assert!(lines[2].starts_with("    participant s0 as "), "{out}");
    let closes = lines.iter().filter(|l| l.contains(": Close 1000")).count();
    assert_eq!(closes, 2, "{out}");
    assert!(!out.contains("Text "), "{out}");
}
