//! End to end: the real binary in a real pseudo-terminal (tmux, on a private server socket).
//! `synscope replay` on a real capture shows the handshake arrows; `q` (and Ctrl-C) exit 0
//! with the terminal restored: alternate screen left, mouse reporting off, cooked mode back.
//!
//! Synchronisation is by polling the pane's content with a bounded number of retries.
// The helpers below are test code outside #[test] functions.
#![allow(clippy::expect_used, clippy::panic)]

mod support;

use std::process::Command;

use support::capture_path;
use support::rights::BIN;
use support::tmux::{arrow_line, Tmux};

/// Starts `synscope replay ws_chat.pcapng` (after `env`, variable assignments) in a [`Tmux`];
/// with `stdin`, the capture is piped in and the file argument is `-`.
fn replay(name: &str, env: &str, stdin: bool) -> Tmux {
    let capture = capture_path("ws_chat.pcapng");
    let run = if stdin {
        format!("cat '{}' | {env} '{BIN}' replay -", capture.display())
    } else {
        format!("{env} '{BIN}' replay '{}'", capture.display())
    };
    Tmux::start(name, &run)
}

#[test]
fn replay_shows_the_handshake_and_q_restores_the_terminal() {
    let t = replay("q", "", false);
    // The whole handshake and upgrade, arrow by arrow (a screen may be caught mid-draw, so
    // poll until all of it is there).
    let screen = t.wait_for("the handshake arrows", |_, s| {
        [
            ("├──", "SYN  seq=0"),
            ("│◀─", "SYN-ACK  seq=0 ack=1"),
            ("├──", "ACK  seq=1 ack=1  handshake done"),
            ("├──", "GET /ws  Upgrade: websocket"),
            ("│◀─", "101 Switching Protocols  accept ✓"),
        ]
        .iter()
        .all(|(arrow, label)| arrow_line(s, arrow, label))
    });
    assert!(
        screen.contains("127.0.0.1:39090 (client)"),
        "lifelines labelled:\n{screen}"
    );
    assert_eq!(
        t.format("#{alternate_on}"),
        "1",
        "the UI draws on the alternate screen"
    );
    assert_eq!(
        t.format("#{mouse_any_flag}"),
        "1",
        "mouse wheel reporting is on"
    );
    // Shrinking the terminal to 80x24 redraws with the connections list folded into the
    // one-line selector; growing it back brings the list back.
    t.resize(80, 24);
    t.wait_for("the 80x24 layout", |_, s| {
        s.contains("‹1/1›") && s.lines().count() <= 24 && arrow_line(s, "│◀─", "SYN-ACK")
    });
    t.resize(120, 40);
    t.wait_for("the 120x40 layout", |_, s| s.contains("Connections (1)"));
    // The help overlay, then q closes it, q again quits.
    t.keys(&["?"]);
    t.wait_for("the help overlay", |_, s| {
        s.contains("Keys") && s.contains("Replay in time")
    });
    t.keys(&["q"]);
    t.wait_for("the help to close", |_, s| !s.contains("Replay in time"));
    t.keys(&["q"]);
    t.assert_restored();
}

#[test]
fn ctrl_c_quits_cleanly_even_during_playback() {
    let t = replay("ctrl-c", "NO_COLOR=1", false);
    t.wait_for("the diagram", |_, s| s.contains("├── SYN"));
    t.keys(&["Space"]);
    // The capture lasts microseconds: it plays in steps.
    t.wait_for("playback", |_, s| s.contains("▶ step 1 s"));
    t.keys(&["C-c"]);
    t.assert_restored();
}

#[test]
fn replay_reads_a_capture_from_stdin_and_keys_from_the_terminal() {
    let t = replay("stdin", "", true);
    let screen = t.wait_for("the handshake arrows", |_, s| {
        arrow_line(s, "│◀─", "SYN-ACK")
    });
    assert!(screen.contains("replay stdin"), "{screen}");
    t.keys(&["j", "Enter"]);
    t.wait_for("the detail pane", |_, s| {
        s.contains("Details (Enter closes)")
    });
    // One Escape at a time: two in a row read as Alt-Escape.
    t.keys(&["Escape"]);
    t.wait_for("the detail pane to close", |_, s| {
        !s.contains("Details (Enter closes)")
    });
    // Esc on the main screen does not quit; q does.
    t.keys(&["Escape"]);
    t.wait_for("the hint", |_, s| s.contains("q quits"));
    t.keys(&["q"]);
    t.assert_restored();
}

#[test]
fn a_missing_file_fails_before_touching_the_terminal() {
    let out = Command::new(BIN)
        .args(["replay", "/nonexistent/capture.pcapng"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/capture.pcapng"), "{err}");
    // Not a terminal: said plainly, nothing drawn.
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\u{1b}'));
}
