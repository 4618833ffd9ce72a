//! The real binary in a real pseudo-terminal: a detached tmux session on a private server
//! socket, synchronised by polling the pane's content until a condition holds or a deadline
//! passes.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long [`Tmux::wait_for`] waits for its condition: the binary starting, capturing and
/// drawing on a 2-core machine loaded by several parallel builds and test runs. Only a failing
/// test waits that long; a passing one returns as soon as the condition holds.
const DEADLINE: Duration = Duration::from_secs(90);
const POLL_EVERY: Duration = Duration::from_millis(50);

/// One tmux server running one shell command line in a 120x40 pane; killed on drop.
pub struct Tmux {
    socket: String,
    pub session: String,
    exit_file: PathBuf,
}

impl Tmux {
    /// Runs `command` (a shell command line) in a detached 120x40 session; the shell records
    /// the exit status and whether the terminal is back in canonical mode once it returns,
    /// then keeps the pane alive (`exec cat`) so its screen can be inspected. `name` tells the
    /// sessions of one test binary apart.
    pub fn start(name: &str, command: &str) -> Tmux {
        let socket = format!("synscope-e2e-{}-{name}", std::process::id());
        let exit_file = std::env::temp_dir().join(format!("{socket}.exit"));
        let _ = std::fs::remove_file(&exit_file);
        let script = format!(
            "{command}; echo \"EXIT=$?\" > '{}'; stty -a >> '{}'; echo DONE; exec cat",
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

    /// Runs a tmux command against this server; its stdout, or its stderr as the error.
    pub fn tmux(&self, args: &[&str]) -> Result<String, String> {
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

    /// The pane's text as it is now.
    pub fn pane(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &self.session])
            .unwrap_or_default()
    }

    /// A tmux format evaluated for the pane (`#{alternate_on}`, ...).
    pub fn format(&self, f: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", &self.session, f])
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    /// Types `keys` (tmux key names) into the pane.
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend_from_slice(keys);
        self.tmux(&args).expect("send-keys");
    }

    /// Resizes the window to `w` x `h`.
    pub fn resize(&self, w: u16, h: u16) {
        let (w, h) = (w.to_string(), h.to_string());
        self.tmux(&["resize-window", "-t", &self.session, "-x", &w, "-y", &h])
            .expect("resize");
    }

    /// Polls the pane until `pred` holds and returns that screen; panics with the last screen
    /// once [`DEADLINE`] has passed.
    pub fn wait_for(&self, what: &str, pred: impl Fn(&Tmux, &str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let last = self.pane();
            if pred(self, &last) {
                return last;
            }
            if started.elapsed() > DEADLINE {
                panic!(
                    "waited {:?} for {what}; the screen was:\n{last}",
                    started.elapsed()
                );
            }
            std::thread::sleep(POLL_EVERY);
        }
    }

    /// What the shell recorded once the command returned: `EXIT=N` then `stty -a`; empty
    /// before.
    pub fn exit_record(&self) -> String {
        std::fs::read_to_string(&self.exit_file).unwrap_or_default()
    }

    /// Waits for the command to return; then asserts exit status 0, the main screen back (not
    /// the alternate one), mouse reporting off, the tty in canonical mode with echo (raw mode
    /// undone) and the diagram gone. Returns the screen (what the program printed last).
    pub fn assert_restored(&self) -> String {
        let screen = self.wait_for("the program to exit", |t, s| {
            s.contains("DONE") && t.exit_record().contains("EXIT=")
        });
        let record = self.exit_record();
        assert!(
            record.starts_with("EXIT=0"),
            "exit status: {record}\n{screen}"
        );
        assert_eq!(
            self.format("#{alternate_on}"),
            "0",
            "still on the alternate screen"
        );
        assert_eq!(
            self.format("#{mouse_any_flag}"),
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
        screen
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
pub fn arrow_line(screen: &str, arrow: &str, label: &str) -> bool {
    screen
        .lines()
        .any(|l| l.find(arrow).is_some_and(|a| l[a..].contains(label)))
}
