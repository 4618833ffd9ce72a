//! The developer's keys, end to end: the real binary in a real pseudo-terminal (tmux, on a
//! private server socket). Search across connections, jump, save as pcapng (read back by
//! tshark), copy through OSC 52 (tmux keeps what it was given as a paste buffer), mouse capture
//! off and on, follow in the live demo, Esc that never quits, resizes that redraw everything,
//! and `live` before any traffic.
//!
//! Synchronisation is by polling the pane's content with a bounded number of retries.
#![cfg(target_os = "linux")]
// The helpers below are test code outside #[test] functions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::capture_path;
use support::rights::{euid, BIN};
use support::tmux::Tmux;

/// `synscope replay CAPTURE`, run from `dir`.
fn replay_in(name: &str, dir: &Path, capture: &str) -> Tmux {
    let run = format!(
        "cd '{}' && '{BIN}' replay '{}'",
        dir.display(),
        capture_path(capture).display()
    );
    Tmux::start(name, &run)
}

/// A directory of its own for one test.
fn dir(name: &str) -> PathBuf {
    let d = support::temp_path(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The bottom line of the screen (the status bar).
fn status(screen: &str) -> &str {
    screen.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("")
}

/// The title bar.
fn title(screen: &str) -> &str {
    screen.lines().next().unwrap_or("")
}

/// The diagram's header line names the selected connection: `#11 :36746 → ...`.
fn diagram_shows(screen: &str, id: u32) -> bool {
    screen
        .lines()
        .nth(1)
        .is_some_and(|l| l.contains(&format!("│#{id} :")))
}

/// The connections list marks the selected one: `▶#11 `.
fn list_marks(screen: &str, id: u32) -> bool {
    screen.contains(&format!("▶#{id} "))
}

/// tshark's one line per frame of `file`; `None` when tshark is not installed (then CI fails).
fn tshark_lines(file: &Path) -> Option<Vec<String>> {
    let have = Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install tshark to read the saved files back"
        );
        eprintln!("tshark not installed: the saved file is read back by synscope only");
        return None;
    }
    let out = Command::new("tshark").arg("-r").arg(file).output().unwrap();
    assert!(
        out.status.success(),
        "tshark cannot read {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

/// `lesson_all` has twelve connections; only the last one (#11), a WebSocket, has pings. From
/// the first connection `/ping` finds it there, the list and the diagram follow; `n` goes on,
/// `N` back across the wrap; a search nothing matches says so and moves nothing.
#[test]
fn search_looks_in_every_connection() {
    let t = replay_in("search", &dir("search"), "lesson_all.pcapng");
    t.wait_for("the first connection", |_, s| {
        list_marks(s, 0) && diagram_shows(s, 0) && s.contains("Connections (12)")
    });
    t.keys(&["/", "ping", "Enter"]);
    let s = t.wait_for("the match in connection #11", |_, s| {
        status(s).contains("/ping  connection #11, row 6 of ")
    });
    assert!(list_marks(&s, 11), "the list follows:\n{s}");
    assert!(diagram_shows(&s, 11), "the diagram follows:\n{s}");
    assert!(
        s.lines()
            .any(|l| l.contains("Ping \"server ping 1\"") && l.contains("◀─")),
        "{s}"
    );
    t.keys(&["n"]);
    t.wait_for("the next match", |_, s| {
        status(s).contains("/ping  connection #11, row 8 of ")
    });
    t.keys(&["N"]);
    t.wait_for("back", |_, s| {
        status(s).contains("/ping  connection #11, row 6 of ")
    });
    t.keys(&["N"]);
    t.wait_for("the last match, wrapped", |_, s| {
        status(s).contains("(wrapped)") && list_marks(s, 11)
    });
    // Something in the first connection only, searched from the last one.
    t.keys(&["/", "GET /missing", "Enter"]);
    t.wait_for("the match in connection #0", |_, s| {
        status(s).contains("connection #0") && list_marks(s, 0) && diagram_shows(s, 0)
    });
    t.keys(&["/", "no such label", "Enter"]);
    let s = t.wait_for("the miss", |_, s| {
        status(s).contains("no row matches \"no such label\"")
    });
    assert!(list_marks(&s, 0), "a miss moves nothing:\n{s}");
    t.keys(&["q"]);
    t.assert_restored();
}

/// `:#5` shows connection 5, `:100` the row of frame 100; a mistake says what is accepted and
/// Esc cancels.
#[test]
fn colon_jumps_to_a_connection_or_a_frame() {
    let t = replay_in("jump", &dir("jump"), "lesson_all.pcapng");
    t.wait_for("the first connection", |_, s| list_marks(s, 0));
    t.keys(&[":"]);
    t.wait_for("the jump input", |_, s| {
        status(s).contains(":▏  #N: connection N · N: frame N")
    });
    t.keys(&["#5", "Enter"]);
    t.wait_for("connection #5", |_, s| {
        list_marks(s, 5) && diagram_shows(s, 5) && status(s).contains("connection #5")
    });
    // Frame 100 (tshark's numbering) is in connection #7.
    let frame_100 = Command::new(BIN)
        .args(["decode", "--format", "json"])
        .arg(capture_path("lesson_all.pcapng"))
        .output()
        .unwrap();
    let json = String::from_utf8_lossy(&frame_100.stdout);
    let conn = json
        .lines()
        .find(|l| l.contains("\"frame\":100,") && l.contains("\"conn\":"))
        .and_then(|l| l.split("\"conn\":").nth(1))
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<u32>().ok())
        .expect("frame 100 belongs to a connection");
    t.keys(&[":", "100", "Enter"]);
    let s = t.wait_for("frame 100", |_, s| {
        status(s).contains(&format!("frame 100: connection #{conn}"))
    });
    assert!(list_marks(&s, conn) && diagram_shows(&s, conn), "{s}");
    t.keys(&[":", "x1", "Enter"]);
    t.wait_for("the mistake explained", |_, s| {
        status(s).contains(":x1▏  \"x1\": type #N for connection N, or N for frame N")
    });
    t.keys(&["Escape"]);
    t.wait_for("the input gone", |_, s| !status(s).contains(":x1"));
    t.keys(&[":", "#99", "Enter"]);
    t.wait_for("no such connection", |_, s| {
        status(s).contains("no connection #99")
    });
    t.keys(&["q"]);
    t.assert_restored();
}

/// `w` saves the selected connection, `W` every row of the view, as pcapng files in the
/// current directory; the status line says where; tshark reads them, and the saved connection
/// decodes to the same arrows.
#[test]
fn w_saves_pcapng_that_tshark_reads() {
    let d = dir("save");
    let t = replay_in("save", &d, "lesson_all.pcapng");
    t.wait_for("the first connection", |_, s| list_marks(s, 0));
    t.keys(&[":", "#7", "Enter"]);
    t.wait_for("connection #7", |_, s| list_marks(s, 7));
    t.keys(&["w"]);
    let file = d.join("synscope-conn-7.pcapng");
    let s = t.wait_for("the save", |_, s| status(s).contains("saved "));
    let line = status(&s);
    assert!(
        line.contains(&format!(" frames to {}", file.display())),
        "{line}"
    );
    // The connection's segments, as the engine numbered them.
    let json = Command::new(BIN)
        .args(["decode", "--format", "json"])
        .arg(capture_path("lesson_all.pcapng"))
        .output()
        .unwrap();
    let segments = String::from_utf8_lossy(&json.stdout)
        .lines()
        .filter(|l| l.contains("\"conn\":7,") && l.contains("\"kind\":\"tcp\""))
        .count();
    assert!(segments > 0);
    assert!(
        line.contains(&format!("saved {segments} frames to")),
        "{line}"
    );
    if let Some(lines) = tshark_lines(&file) {
        assert_eq!(lines.len(), segments, "{lines:#?}");
        assert!(lines[0].contains("[SYN]"), "{}", lines[0]);
    }
    // Read back by synscope: one connection, the same client port as in the list.
    let back = Command::new(BIN).arg("decode").arg(&file).output().unwrap();
    let text = String::from_utf8_lossy(&back.stdout);
    let conns: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("connection 127.0.0.1:"))
        .collect();
    assert_eq!(conns.len(), 1, "{text}");
    assert!(
        s.contains(&format!(
            "▶#7  :{} ",
            conns[0]
                .split("127.0.0.1:")
                .nth(1)
                .and_then(|p| p.split(' ').next())
                .unwrap()
        )),
        "{s}\n{text}"
    );
    // The view: every row of every connection (each connection's SYN is a row).
    t.keys(&["W"]);
    let view = d.join("synscope-view.pcapng");
    t.wait_for("the view saved", |_, s| {
        status(s).contains(&format!(" frames to {}", view.display()))
    });
    if let Some(lines) = tshark_lines(&view) {
        assert_eq!(
            lines.iter().filter(|l| l.contains("[SYN]")).count(),
            12,
            "{lines:#?}"
        );
    }
    // A second save never overwrites the first.
    t.keys(&["w"]);
    t.wait_for("the second file", |_, s| {
        status(s).contains("synscope-conn-7-2.pcapng")
    });
    t.keys(&["q"]);
    t.assert_restored();
}

/// From standard input nothing is kept to save from: `w` says so.
#[test]
fn w_without_a_file_says_why() {
    let run = format!(
        "cat '{}' | '{BIN}' replay -",
        capture_path("ws_chat.pcapng").display()
    );
    let t = Tmux::start("save-stdin", &run);
    t.wait_for("the diagram", |_, s| s.contains("SYN-ACK"));
    t.keys(&["w"]);
    t.wait_for("the reason", |_, s| {
        status(s).contains("cannot save: the capture came from standard input")
    });
    t.keys(&["q"]);
    t.assert_restored();
}

/// `y` sends the selected arrow's payload as OSC 52: tmux (set-clipboard on) keeps it as a
/// paste buffer. `M` turns mouse reporting off and on, and the title says so.
#[test]
fn y_copies_through_osc52_and_m_frees_the_mouse() {
    let t = replay_in("copy", &dir("copy"), "ws_chat.pcapng");
    t.tmux(&["set-option", "-s", "set-clipboard", "on"])
        .unwrap();
    t.wait_for("the diagram", |_, s| s.contains("GET /ws"));
    t.keys(&["/", "Text \"hello", "Enter"]);
    t.wait_for("the text message", |_, s| {
        status(s).contains("/text \"hello")
    });
    t.keys(&["y"]);
    t.wait_for("the copy", |_, s| {
        status(s).contains("copied the message's payload to the clipboard: 5 B")
    });
    let buffer = t.tmux(&["show-buffer"]).unwrap();
    assert_eq!(buffer, "hello");
    // An HTTP head is copied as its lines.
    t.keys(&["g", "/", "GET /ws", "Enter"]);
    t.wait_for("the request", |_, s| status(s).contains("/get /ws"));
    t.keys(&["y"]);
    t.wait_for("the copy", |_, s| {
        status(s).contains("copied the request head")
    });
    let buffer = t.tmux(&["show-buffer"]).unwrap();
    assert!(buffer.starts_with("GET /ws HTTP/1.1\n"), "{buffer:?}");
    assert!(
        buffer.to_lowercase().contains("\nupgrade: websocket\n"),
        "{buffer:?}"
    );

    assert_eq!(t.format("#{mouse_any_flag}"), "1");
    t.keys(&["M"]);
    t.wait_for("mouse off", |t, s| {
        title(s).contains("mouse off") && t.format("#{mouse_any_flag}") == "0"
    });
    t.keys(&["M"]);
    t.wait_for("mouse on", |t, s| {
        !title(s).contains("mouse off") && t.format("#{mouse_any_flag}") == "1"
    });
    t.keys(&["q"]);
    t.assert_restored();
}

/// `/`, Esc, Esc stays in the program and says how to quit; Esc closes the help and the
/// details; only `q` quits.
#[test]
fn esc_never_quits() {
    let t = replay_in("esc", &dir("esc"), "ws_chat.pcapng");
    t.wait_for("the diagram", |_, s| s.contains("SYN-ACK"));
    // One Escape at a time: two in a row read as Alt-Escape.
    t.keys(&["/"]);
    t.wait_for("the search input", |_, s| status(s).contains("/▏"));
    t.keys(&["Escape"]);
    t.wait_for("the input gone", |_, s| !status(s).contains("/▏"));
    t.keys(&["Escape"]);
    t.wait_for("the hint", |_, s| {
        status(s).contains("Esc closes panes and cancels input: q quits")
    });
    t.keys(&["?"]);
    t.wait_for("the help", |_, s| s.contains("Save and copy"));
    t.keys(&["Escape"]);
    t.wait_for("the help closed", |_, s| !s.contains("Save and copy"));
    t.keys(&["Escape"]);
    t.keys(&["Escape"]);
    t.keys(&["Escape"]);
    t.wait_for("the hint again", |_, s| status(s).contains("q quits"));
    assert_eq!(t.format("#{alternate_on}"), "1", "still running");
    assert!(t.exit_record().is_empty(), "still running");
    t.keys(&["q"]);
    t.assert_restored();
}

/// Growing and shrinking the terminal redraws every cell (the connections list included), and
/// quitting after growing it leaves a clean screen.
#[test]
fn resizes_redraw_everything_and_exit_leaves_a_clean_screen() {
    let d = dir("resize");
    let run = format!(
        "cd '{}' && echo before && '{BIN}' replay '{}'",
        d.display(),
        capture_path("lesson_all.pcapng").display()
    );
    let t = Tmux::start("resize", &run);
    t.resize(80, 24);
    t.wait_for("the 80x24 layout", |_, s| {
        s.contains("‹1/12›") && s.lines().count() <= 24
    });
    t.resize(160, 50);
    t.wait_for("the whole list at 160x50", |_, s| {
        (0..12).all(|id| s.contains(&format!("#{id} ")))
            && s.contains("Connections (12)")
            && s.lines().any(|l| l.starts_with('└'))
    });
    t.resize(200, 60);
    t.wait_for("the whole list at 200x60", |_, s| {
        s.lines().next().is_some_and(|l| l.chars().count() == 200)
            && (0..12).all(|id| s.contains(&format!("#{id} ")))
    });
    t.keys(&["q"]);
    let screen = t.assert_restored();
    let left: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(left, ["before", "DONE"], "fragments left:\n{screen}");
}

/// True when this process can capture (root); under CI it must.
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

/// `‹i/N›` of the 80x24 selector: the selected connection's place and how many there are.
fn selector(screen: &str) -> Option<(usize, usize)> {
    let inner = screen.split('‹').nth(1)?.split('›').next()?;
    let (i, n) = inner.split_once('/')?;
    Some((i.parse().ok()?, n.parse().ok()?))
}

/// The live demo at 80x24: picking an older connection stops following; `F` from another
/// pane follows again, to the newest connection and to each one that arrives after.
#[test]
fn follow_moves_to_each_new_connection_in_the_demo() {
    if !can_capture() {
        return;
    }
    let t = Tmux::start("follow", &format!("'{BIN}' demo all --pace-ms 40"));
    t.resize(80, 24);
    t.wait_for("a few connections", |_, s| {
        selector(s).is_some_and(|(i, n)| n >= 3 && i == n) && status(s).starts_with("└ following │")
    });
    // An older connection: following stops, and stays stopped while new ones come.
    t.keys(&["["]);
    let s = t.wait_for("an older connection", |_, s| {
        selector(s).is_some_and(|(i, n)| i < n) && !status(s).contains("following")
    });
    let (held, n0) = selector(&s).unwrap();
    t.wait_for("new connections, the view held", |_, s| {
        selector(s).is_some_and(|(i, n)| i == held && n > n0)
    });
    // From the connections pane.
    t.keys(&["BTab"]);
    t.keys(&["F"]);
    let s = t.wait_for("following again", |_, s| {
        selector(s).is_some_and(|(i, n)| i == n)
            && status(s).contains("follow on: the newest connection and event")
    });
    let (_, n1) = selector(&s).unwrap();
    t.wait_for("the next connection taken", |_, s| {
        selector(s).is_some_and(|(i, n)| i == n && n > n1)
    });
    t.keys(&["F"]);
    t.wait_for("follow off", |_, s| status(s).contains("follow off"));
    t.keys(&["q"]);
    t.assert_restored();
}

/// `live` before any traffic says what it waits for, with the counters.
#[test]
fn live_without_traffic_says_what_it_waits_for() {
    if !can_capture() {
        return;
    }
    // A port nobody uses: bound, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = Tmux::start("waiting", &format!("'{BIN}' live --port {port}"));
    t.wait_for("the waiting lines", |_, s| {
        let mut lines = s.lines();
        lines
            .find(|l| l.contains(&format!("waiting for traffic on lo, port {port} ")))
            .is_some()
            && lines
                .next()
                .is_some_and(|l| l.contains("captured 0 · kernel drops 0"))
    });
    t.keys(&["q"]);
    t.assert_restored();
}

/// `Y` opens the display filter: a mistake is marked where it is, with its column; a good one
/// shows in the title, keeps only the rows it matches (here the 404 of connection #0, found
/// from connection #11), and `W` saves exactly their frames; an empty one turns it off.
#[test]
fn y_filters_the_view_and_says_where_a_mistake_is() {
    let d = dir("filter");
    let t = replay_in("filter", &d, "lesson_all.pcapng");
    t.wait_for("the first connection", |_, s| list_marks(s, 0));
    t.keys(&[":", "#11", "Enter"]);
    t.wait_for("connection #11", |_, s| list_marks(s, 11));
    t.keys(&["Y"]);
    t.wait_for("the filter input", |_, s| {
        status(s).contains("filter: ▏  e.g. http.status >= 400")
    });
    t.keys(&["http.status >= ", "Enter"]);
    t.wait_for("the mistake and its column", |_, s| {
        status(s).contains("filter: http.status >=") && status(s).contains("(column 16)")
    });
    t.keys(&["C-u", "http.status >= 400", "Enter"]);
    let s = t.wait_for("the filtered view", |_, s| {
        status(s).contains("filter http.status >= 400: 1 row in 1 connection")
    });
    assert!(title(&s).contains("filter: http.status >= 400"), "{s}");
    assert!(list_marks(&s, 0) && diagram_shows(&s, 0), "{s}");
    assert!(s.contains("404 Not Found") && !s.contains("SYN-ACK"), "{s}");
    t.keys(&["W"]);
    let view = d.join("synscope-view.pcapng");
    t.wait_for("the view saved", |_, s| {
        status(s).contains(&format!("saved 1 frame to {}", view.display()))
    });
    if let Some(lines) = tshark_lines(&view) {
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(lines[0].contains("404"), "{lines:#?}");
    }
    t.keys(&["Y"]);
    t.wait_for("the filter to edit", |_, s| {
        status(s).contains("filter: http.status >= 400▏")
    });
    t.keys(&["C-u", "Enter"]);
    let s = t.wait_for("the filter off", |_, s| {
        status(s).contains("display filter off")
    });
    assert!(!title(&s).contains("filter:"), "{s}");
    assert!(s.contains("SYN-ACK"), "{s}");
    t.keys(&["q"]);
    t.assert_restored();
}
