//! `synscope decode --format mermaid`: the diagram of every committed capture (insta
//! snapshots), and wire text that tries to write Mermaid syntax stays inside its label.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use assert_cmd::Command;
use insta::assert_snapshot;
use support::{
    capture_path, captures, client_frame, server_frame, Conv, ACK, PSH, UPGRADE_REQUEST,
    UPGRADE_RESPONSE,
};
use synscope::model::Event;
use synscope::view::mermaid::MermaidWriter;

fn render(events: &[Event]) -> String {
    let mut w = MermaidWriter::new();
    let mut out = Vec::new();
    for e in events {
        w.write_event(&mut out, e).unwrap();
    }
    w.finish(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// Every line is one statement of the forms the writer uses, with aliases `c<n>`/`s<n>`, and
/// its text holds nothing Mermaid reads as syntax (entity codes aside).
fn check_statements(diagram: &str) {
    let mut lines = diagram.lines();
    assert_eq!(lines.next(), Some("sequenceDiagram"));
    let alias = |s: &str| {
        s.len() > 1
            && (s.starts_with('c') || s.starts_with('s'))
            && s[1..].chars().all(|c| c.is_ascii_digit())
    };
    for line in lines {
        let body = line
            .strip_prefix("    ")
            .unwrap_or_else(|| panic!("not indented: {line:?}"));
        let text = if let Some(rest) = body.strip_prefix("participant ") {
            let (a, label) = rest.split_once(" as ").unwrap();
            assert!(alias(a), "{line}");
            label
        } else if let Some(rest) = body.strip_prefix("Note over ") {
            let (who, text) = rest.split_once(": ").unwrap();
            let (a, b) = who.split_once(',').unwrap();
            assert!(alias(a) && alias(b), "{line}");
            text
        } else {
            let (arrow, text) = body.split_once(": ").unwrap();
            let (from, to) = ["-->>", "->>", "-x"]
                .iter()
                .find_map(|a| arrow.split_once(a))
                .unwrap_or_else(|| panic!("no arrow: {line}"));
            assert!(alias(from) && alias(to), "{line}");
            text
        };
        let mut bare = text.to_string();
        for code in ["#59;", "#37;", "#35;", "#60;", "#62;", "#58;"] {
            bare = bare.replace(code, "");
        }
        assert!(
            !bare.contains([';', '%', '<', '>', '#', ':']) && !bare.chars().any(char::is_control),
            "syntax in a label: {line:?}"
        );
    }
}

#[test]
fn every_capture_renders_as_a_sequence_diagram() {
    for path in captures() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let out = Command::cargo_bin("synscope")
            .unwrap()
            .args(["decode", "--format", "mermaid"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {out:?}");
        let diagram = String::from_utf8(out.stdout).unwrap();
        check_statements(&diagram);
        insta::with_settings!({snapshot_suffix => name.replace('.', "_")}, {
            assert_snapshot!(diagram);
        });
    }
}

#[test]
fn a_refused_connection_is_a_syn_a_reset_and_a_note() {
    let out = Command::cargo_bin("synscope")
        .unwrap()
        .args(["decode", "-f", "mermaid"])
        .arg(capture_path("refused.pcapng"))
        .output()
        .unwrap();
    let d = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        d,
        "sequenceDiagram\n    participant c0 as 127.0.0.1#58;38056\n    participant s0 as \
         127.0.0.1#58;40511\n    c0->>s0: SYN\n    s0-xc0: RST-ACK\n    Note over c0,s0: #35;0 \
         refused#58; the SYN was answered by RST\n"
    );
}

#[test]
fn wire_text_cannot_inject_mermaid_syntax() {
    let hostile = "x\n    c0->>s0: injected;%%comment\r\n-->> end; Note over c0,s0: #35;<br/>";
    let mut c = Conv::new("10.0.0.1:40000", "10.0.0.2:8080");
    c.handshake();
    let request = format!(
        "GET /a;b%%c#d<br>e HTTP/1.1\r\nHost: x\r\nX-Evil: {}\r\n\r\n",
        "y;%%<script>"
    );
    c.seg(true, PSH | ACK, request.as_bytes());
    c.seg(false, PSH | ACK, b"HTTP/1.1 204 No;Content%%<b>\r\n\r\n");
    c.seg(true, PSH | ACK, UPGRADE_REQUEST);
    c.seg(false, PSH | ACK, UPGRADE_RESPONSE);
    c.seg(
        true,
        PSH | ACK,
        &client_frame(true, 1, hostile.as_bytes(), [1, 2, 3, 4]),
    );
    c.seg(false, PSH | ACK, &server_frame(true, 1, hostile.as_bytes()));
    c.close();
    let events = support::decode(&c.pcap.bytes());
    let d = render(&events);
    check_statements(&d);
    // The message is one arrow each way, its newlines written as `\n`.
    let arrows: Vec<&str> = d.lines().filter(|l| l.contains("Text")).collect();
    assert_eq!(arrows.len(), 2, "{d}");
    assert!(
        arrows[0].starts_with("    c0->>s0: Text \"x\\n    c0-"),
        "{d}"
    );
    assert!(arrows[1].starts_with("    s0->>c0: Text "), "{d}");
    assert!(!d.contains("injected;"));
    assert!(
        d.contains("GET /a#59;b#37;#37;c#35;d#60;br#62;e HTTP/1.1"),
        "{d}"
    );
    assert!(
        d.contains("HTTP/1.1 204 No#59;Content#37;#37;#60;b#62;"),
        "{d}"
    );
    assert_eq!(d.matches("sequenceDiagram").count(), 1);
}

#[test]
fn an_empty_capture_is_an_empty_diagram() {
    assert_eq!(render(&[]), "sequenceDiagram\n");
}

/// A STOMP frame or a Socket.IO packet carried in a WebSocket message is drawn once, as
/// itself: not also as the message's text (with the STOMP frame's NUL as `\u{0}`).
#[test]
fn subprotocol_events_are_drawn_once() {
    for (name, prefix, kind) in [
        ("stomp.pcapng", "STOMP ", "stomp"),
        ("socketio_v4.pcapng", "engine.io ", "socketio"),
        ("stomp_large_deflate.pcapng", "STOMP ", "stomp"),
    ] {
        let events = support::decode_capture(name);
        let diagram = render(&events);
        check_statements(&diagram);
        let drawn = diagram.lines().filter(|l| l.contains(prefix)).count();
        let want = events.iter().filter(|e| e.body.kind() == kind).count();
        assert!(want > 0, "{name}");
        assert_eq!(drawn, want, "{name}:\n{diagram}");
        assert!(!diagram.contains("\\u{0}"), "{name}:\n{diagram}");
    }
}

/// Messages that carry no subprotocol are each drawn, in order.
#[test]
fn plain_websocket_messages_are_all_drawn() {
    let events = support::decode_capture("ws_chat.pcapng");
    let diagram = render(&events);
    let want: Vec<String> = events
        .iter()
        .filter(|e| e.body.kind() == "ws_message")
        .map(|e| {
            let mut s = String::new();
            synscope::view::text::describe(&mut s, &e.body);
            synscope::view::mermaid::label(&s)
        })
        .collect();
    let drawn: Vec<String> = diagram
        .lines()
        .filter_map(|l| l.split_once(": ").map(|(_, t)| t.to_string()))
        .filter(|t| want.contains(t))
        .collect();
    assert_eq!(drawn, want);
}
