//! End to end in a real pseudo-terminal (tmux, on a private server socket): `synscope demo`
//! draws the live demo as it happens, or, without capture rights, plays its built-in recording
//! marked as such; `synscope live` draws a conversation made by the test as it happens. `q`
//! exits 0 with the terminal restored.
//!
//! Synchronisation is by polling the pane's content with a bounded number of retries. The live
//! tests fail under `CI=true` without capture rights and elsewhere say why and return early.
#![cfg(target_os = "linux")]
// The helpers below are test code outside #[test] functions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;

use support::rights::{euid, synscope_without_rights_shell, BIN};
use support::tmux::{arrow_line, Tmux};

/// False (or a failure under CI=true) when this process cannot capture: then the demo plays
/// its recording and `live` refuses, and the live tests cannot run.
fn can_capture() -> bool {
    if euid() == 0 {
        return true;
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "CI must run as root"
    );
    eprintln!("NOT RUN: live capture needs root here");
    false
}

/// The live demo: the handshake and the upgrade appear as the client makes them, the status
/// line counts what was captured, and `q` stops the demo and restores the terminal.
#[test]
fn demo_draws_the_websocket_lesson_live_and_q_restores_the_terminal() {
    if !can_capture() {
        return;
    }
    let t = Tmux::start("live", &format!("'{BIN}' demo websocket --pace-ms 50"));
    let screen = t.wait_for(
        "the live title and the handshake and upgrade arrows",
        |_, s| {
            s.lines()
                .next()
                .is_some_and(|title| title.contains("demo websocket ─ lo port "))
                && [
                    ("├──", "SYN  seq=0"),
                    ("│◀─", "SYN-ACK  seq=0 ack=1"),
                    ("├──", "GET /ws  Upgrade: websocket"),
                    ("│◀─", "101 Switching Protocols  accept ✓"),
                ]
                .iter()
                .all(|(arrow, label)| arrow_line(s, arrow, label))
        },
    );
    assert!(!screen.contains("RECORDING"), "{screen}");
    // The status line says what the kernel did, then (on a wide enough screen) which
    // scenario plays.
    t.wait_for("the capture counters", |_, s| {
        s.lines()
            .next()
            .is_some_and(|l| l.contains(" ─ captured ") && l.contains(" · kernel drops 0"))
    });
    t.resize(200, 40);
    t.wait_for("the scenario in the status line", |_, s| {
        s.lines().next().is_some_and(|l| {
            l.split("kernel drops 0 · round ")
                .nth(1)
                .is_some_and(|r| r.split(' ').nth(1) == Some("websocket"))
        })
    });
    assert_eq!(t.format("#{alternate_on}"), "1");
    t.keys(&["q"]);
    let after = t.assert_restored();
    assert!(
        after.contains("kernel:") && after.contains(" received, 0 dropped"),
        "the summary after the UI:\n{after}"
    );
}

/// Without capture rights the demo says so in the title and plays its recording in time.
#[test]
fn demo_without_capture_rights_plays_the_recording_marked_as_such() {
    let run = format!(
        "{} demo websocket --pace-ms 50",
        synscope_without_rights_shell()
    );
    let t = Tmux::start("recording", &run);
    let screen = t.wait_for("the recording's title and handshake", |_, s| {
        s.lines()
            .next()
            .is_some_and(|title| title.contains("demo websocket ─ RECORDING (no capture rights)"))
            && arrow_line(s, "├──", "SYN  seq=0")
            && arrow_line(s, "│◀─", "101 Switching Protocols")
    });
    let title = screen.lines().next().unwrap_or_default();
    // Played back, not all at once: the playback state is in the title.
    assert!(title.contains('▶') || title.contains('⏸'), "{screen}");
    t.keys(&["q"]);
    let after = t.assert_restored();
    assert!(
        after.contains("replaying the built-in recording"),
        "the one line said before the UI:\n{after}"
    );
}

/// `synscope live` draws a conversation as it happens, counts it in the status line, and `-w`
/// keeps writing while the UI runs.
#[test]
fn live_draws_a_conversation_as_it_happens() {
    if !can_capture() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let file = support::temp_path("live.pcapng");
    let t = Tmux::start(
        "live-cmd",
        &format!("'{BIN}' live --port {port} -w '{}'", file.display()),
    );
    t.wait_for("the capture to start", |_, s| {
        s.lines()
            .next()
            .is_some_and(|l| l.contains(&format!("live lo port {port}")) && l.contains("capturing"))
    });

    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"GET /live"));
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            .unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
    });
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.write_all(b"GET /live HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut reply = [0u8; 43];
    c.read_exact(&mut reply).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    server.join().unwrap();

    t.wait_for(
        "the conversation's arrows and the kernel's counters",
        |_, s| {
            arrow_line(s, "├──", "SYN  seq=0")
                && arrow_line(s, "├──", "GET /live")
                && arrow_line(s, "│◀─", "200 OK")
                && s.contains("closed")
                && s.lines()
                    .next()
                    .is_some_and(|l| l.contains("kernel drops 0"))
        },
    );
    t.keys(&["q"]);
    let after = t.assert_restored();
    assert!(after.contains("written to"), "{after}");
    let out = Command::new(BIN)
        .args(["decode", "--format", "json"])
        .arg(&file)
        .output()
        .unwrap();
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(json.contains(r#""target":"/live""#), "{json}");
    assert!(json.contains(r#""state":"closed""#), "{json}");
}

/// `--once` in the TUI: capture stops after the last connection closed, and the screen stays
/// with everything on it until `q`.
#[test]
fn demo_once_keeps_the_whole_lesson_on_screen_after_capture_stops() {
    if !can_capture() {
        return;
    }
    let t = Tmux::start(
        "once",
        &format!("'{BIN}' demo websocket --once --pace-ms 20"),
    );
    // "done" is in the title once capture stopped; the last events can be drawn a frame later.
    t.wait_for("the end of the demo with the closing drawn", |_, s| {
        s.lines()
            .next()
            .is_some_and(|l| l.contains("kernel drops 0 · done") && !l.contains("capturing"))
            && s.contains("closed (WS)")
            && arrow_line(s, "├──", "FIN")
    });
    // Still there: the UI does not quit by itself.
    assert!(t.exit_record().is_empty(), "{}", t.exit_record());
    assert!(t.pane().contains("kernel drops 0 · done"), "{}", t.pane());
    assert_eq!(t.format("#{alternate_on}"), "1");
    t.keys(&["q"]);
    t.assert_restored();
}

/// Without capture rights `synscope live` says so in one message and exits 1 without ever
/// switching the terminal to the alternate screen.
#[test]
fn live_without_rights_fails_before_touching_the_terminal() {
    let run = format!("{} live", synscope_without_rights_shell());
    let t = Tmux::start("live-nobody", &run);
    let screen = t.wait_for("the program to exit", |t, s| {
        s.contains("DONE") && t.exit_record().contains("EXIT=")
    });
    assert!(t.exit_record().starts_with("EXIT=1"), "{screen}");
    assert!(
        screen.contains("synscope: capturing on lo needs the CAP_NET_RAW capability"),
        "{screen}"
    );
    assert!(!screen.contains("┌ synscope"), "{screen}");
    let stty = t.exit_record();
    assert!(stty.split_whitespace().any(|w| w == "icanon"), "{stty}");
}
