//! End to end: the real binary in a real pseudo-terminal (tmux, on a private server socket).
//! `synscope replay` on a real capture shows the handshake arrows; `q` (and Ctrl-C) exit 0
//! with the terminal restored: alternate screen left, mouse reporting off, cooked mode back.
//!
//! Synchronisation is by polling the pane's content with a bounded number of retries.
// The helpers below are test code outside #[test] functions.
#![allow(clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const CAPTURE: &str = "assets/captures/ws_chat.pcapng";
/// 200 polls of 50 ms: 10 s for the binary to start and draw, even on a loaded machine.
const POLLS: u32 = 200;
const POLL_EVERY: Duration = Duration::from_millis(50);

struct Tmux {
    socket: String,
    session: String,
    exit_file: PathBuf,
}

impl Tmux {
    /// Starts `synscope replay CAPTURE` in a detached 120x40 session; the shell records the
    /// exit status and whether the terminal is back in canonical mode once it returns, then
    /// keeps the pane alive (`exec cat`) so its screen can be inspected.
    fn start(name: &str, env: &str) -> Tmux {
        Tmux::start_with(name, env, false)
    }

    /// As [`Tmux::start`]; with `stdin`, the capture is piped in and the file argument is `-`.
    fn start_with(name: &str, env: &str, stdin: bool) -> Tmux {
        let socket = format!("synscope-e2e-{}-{name}", std::process::id());
        let exit_file = std::env::temp_dir().join(format!("{socket}.exit"));
        let _ = std::fs::remove_file(&exit_file);
        let bin = env!("CARGO_BIN_EXE_synscope");
        let capture = Path::new(env!("CARGO_MANIFEST_DIR")).join(CAPTURE);
        let run = if stdin {
            format!("cat '{}' | {env} '{bin}' replay -", capture.display())
        } else {
            format!("{env} '{bin}' replay '{}'", capture.display())
        };
        let script = format!(
            "{run}; echo \"EXIT=$?\" > '{}'; stty -a >> '{}'; echo DONE; exec cat",
            exit_file.display(),
            exit_file.display()
        );
        let t = Tmux {
            socket,
            session: "e2e".into(),
            exit_file,
        };
        let out = Command::new("tmux")
            .args([
                "-L",
                &t.socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
            ])
            .args([&t.session, "-x", "120", "-y", "40", "sh", "-c", &script])
            .output()
            .expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    fn tmux(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn pane(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &self.session])
            .unwrap_or_default()
    }

    fn format(&self, f: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", &self.session, f])
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend_from_slice(keys);
        self.tmux(&args).expect("send-keys");
    }

    /// Polls the pane until `pred` holds; panics with the last screen after [`POLLS`] tries.
    fn wait_for(&self, what: &str, pred: impl Fn(&Tmux, &str) -> bool) -> String {
        let mut last = String::new();
        for _ in 0..POLLS {
            last = self.pane();
            if pred(self, &last) {
                return last;
            }
            std::thread::sleep(POLL_EVERY);
        }
        panic!("timed out waiting for {what}; the screen was:\n{last}");
    }

    fn exit_record(&self) -> String {
        std::fs::read_to_string(&self.exit_file).unwrap_or_default()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
        let _ = std::fs::remove_file(&self.exit_file);
    }
}

/// Whether one line of the screen holds an arrow start (`├──` client → server, `│◀─` server →
/// client) followed by `label`.
fn arrow_line(screen: &str, arrow: &str, label: &str) -> bool {
    screen
        .lines()
        .any(|l| l.find(arrow).is_some_and(|a| l[a..].contains(label)))
}

/// After the program returned: exit status 0, the main screen back (not the alternate one),
/// mouse reporting off, and the tty in canonical mode with echo (raw mode undone).
fn assert_restored(t: &Tmux) {
    let screen = t.wait_for("the program to exit", |t, s| {
        s.contains("DONE") && t.exit_record().contains("EXIT=")
    });
    let record = t.exit_record();
    assert!(
        record.starts_with("EXIT=0"),
        "exit status: {record}\n{screen}"
    );
    assert_eq!(
        t.format("#{alternate_on}"),
        "0",
        "still on the alternate screen"
    );
    assert_eq!(
        t.format("#{mouse_any_flag}"),
        "0",
        "mouse reporting left on"
    );
    let stty = record.split_whitespace().collect::<Vec<_>>();
    assert!(stty.contains(&"icanon"), "raw mode left on: {record}");
    assert!(stty.contains(&"echo"), "echo left off: {record}");
    assert!(
        !screen.contains("SYN-ACK"),
        "the diagram is still on screen:\n{screen}"
    );
}

#[test]
fn replay_shows_the_handshake_and_q_restores_the_terminal() {
    let t = Tmux::start("q", "");
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
    t.tmux(&["resize-window", "-t", &t.session, "-x", "80", "-y", "24"])
        .expect("resize");
    t.wait_for("the 80x24 layout", |_, s| {
        s.contains("‹1/1›") && s.lines().count() <= 24 && arrow_line(s, "│◀─", "SYN-ACK")
    });
    t.tmux(&["resize-window", "-t", &t.session, "-x", "120", "-y", "40"])
        .expect("resize");
    t.wait_for("the 120x40 layout", |_, s| s.contains("Connections (1)"));
    // The help overlay, then q closes it, q again quits.
    t.keys(&["?"]);
    t.wait_for("the help overlay", |_, s| {
        s.contains("Keys") && s.contains("Replay in time")
    });
    t.keys(&["q"]);
    t.wait_for("the help to close", |_, s| !s.contains("Replay in time"));
    t.keys(&["q"]);
    assert_restored(&t);
}

#[test]
fn ctrl_c_quits_cleanly_even_during_playback() {
    let t = Tmux::start("ctrl-c", "NO_COLOR=1");
    t.wait_for("the diagram", |_, s| s.contains("├── SYN"));
    t.keys(&["Space"]);
    t.wait_for("playback", |_, s| s.contains("▶ x1"));
    t.keys(&["C-c"]);
    assert_restored(&t);
}

#[test]
fn replay_reads_a_capture_from_stdin_and_keys_from_the_terminal() {
    let t = Tmux::start_with("stdin", "", true);
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
    t.keys(&["Escape"]);
    assert_restored(&t);
}

#[test]
fn a_missing_file_fails_before_touching_the_terminal() {
    let out = Command::new(env!("CARGO_BIN_EXE_synscope"))
        .args(["replay", "/nonexistent/capture.pcapng"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/capture.pcapng"), "{err}");
    // Not a terminal: said plainly, nothing drawn.
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\u{1b}'));
}
