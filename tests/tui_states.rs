//! The TUI shows the engine's connection states, and nothing of its own: for every committed
//! capture (and for crafted edge cases, among them the client's RST during the handshake
//! that a second state machine once called "refused"), the state the TUI gives each
//! connection, at every point of the timeline, is the one the engine's `connection` and
//! `connection_state` events give, and its final state is the one the engine's
//! `connection_end` record carries.
// The helpers below are test code outside #[test] functions.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;

use support::{captures, decode, decode_file, Conv, ACK, PSH, RST, SYN};
use synscope::model::{ConnId, ConnState, Event, EventBody};
use synscope::tui::app::App;

/// Per connection: the engine's state after each of its events, in order (`connection` sets
/// the first, each `connection_state` the next), and its `connection_end` record.
struct Engine {
    /// `(index in the event list, state, websocket)` after each change.
    changes: HashMap<ConnId, Vec<(usize, ConnState, bool)>>,
    ends: HashMap<ConnId, (ConnState, bool)>,
}

fn engine(events: &[Event]) -> Engine {
    let mut e = Engine {
        changes: HashMap::new(),
        ends: HashMap::new(),
    };
    for (i, ev) in events.iter().enumerate() {
        let Some(id) = ev.conn else { continue };
        match &ev.body {
            EventBody::Connection(c) => {
                e.changes
                    .entry(id)
                    .or_default()
                    .push((i, ConnState::initial(c.joined_late), false))
            }
            EventBody::ConnectionState(s) => {
                let list = e.changes.entry(id).or_default();
                let (_, before, ws_before) = *list.last().unwrap();
                // One event per change, and it says what it changed from.
                assert_eq!(s.from, before, "{ev:?}");
                assert!((s.state, s.websocket) != (before, ws_before), "{ev:?}");
                list.push((i, s.state, s.websocket));
            }
            EventBody::ConnectionEnd(c) => {
                e.ends.insert(id, (c.state, c.websocket));
            }
            _ => {}
        }
    }
    e
}

/// Checks the TUI against the engine for one event list.
fn same_states(name: &str, events: Vec<Event>) {
    let want = engine(&events);
    let app = App::with_events(name, (120, 40), events.clone());
    let tl = &app.timeline;
    assert_eq!(tl.len(), events.len(), "{name}");
    assert_eq!(tl.conns().len(), want.changes.len(), "{name}");
    for c in tl.conns() {
        let changes = &want.changes[&c.id];
        // Every point of the timeline: the summary as of just after event `i`.
        for i in 0..events.len() {
            let n = changes.partition_point(|&(at, _, _)| at <= i);
            if n == 0 {
                continue;
            }
            let (_, state, ws) = changes[n - 1];
            let s = c.summary(Some(i + 1));
            assert_eq!(
                (s.state, s.websocket),
                (state, ws),
                "{name} #{} after event {i}",
                c.id
            );
        }
        // The end: the TUI's final state is the engine's closing record.
        let s = c.summary(None);
        assert_eq!(
            Some(&(s.state, s.websocket)),
            want.ends.get(&c.id),
            "{name} #{}",
            c.id
        );
    }
}

#[test]
fn every_committed_capture() {
    let paths = captures();
    assert!(paths.len() >= 20, "captures missing: {}", paths.len());
    let mut seen = std::collections::BTreeSet::new();
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let events = decode_file(&path);
        for e in &events {
            if let EventBody::ConnectionEnd(c) = &e.body {
                seen.insert(format!(
                    "{:?}{}",
                    c.state,
                    if c.websocket { " ws" } else { "" }
                ));
            }
        }
        same_states(&name, events);
    }
    // The captures between them end connections in these ways.
    for s in ["Closed", "Closed ws", "Refused"] {
        assert!(
            seen.contains(s),
            "no capture ends a connection {s}: {seen:?}"
        );
    }
}

/// A state of the last `connection_end` of `events`.
fn end_state(events: &[Event]) -> ConnState {
    events
        .iter()
        .rev()
        .find_map(|e| match &e.body {
            EventBody::ConnectionEnd(c) => Some(c.state),
            _ => None,
        })
        .unwrap()
}

#[test]
fn crafted_endings() {
    // The client gives up during the handshake (RST after the SYN-ACK): reset, not refused.
    let mut c = Conv::new("10.0.0.1:40000", "10.0.0.2:80");
    c.seg(true, SYN, b"");
    c.seg(false, SYN | ACK, b"");
    c.seg(true, RST, b"");
    let events = decode(&c.bytes());
    assert_eq!(end_state(&events), ConnState::Reset);
    same_states("client RST in the handshake", events);

    // The server answers the SYN with RST: refused.
    let mut c = Conv::new("10.0.0.1:40001", "10.0.0.2:81");
    c.seg(true, SYN, b"");
    c.seg(false, RST | ACK, b"");
    let events = decode(&c.bytes());
    assert_eq!(end_state(&events), ConnState::Refused);
    same_states("refused", events);

    // A WebSocket reset after one FIN; a FIN during the handshake; a capture that joined an
    // established connection and ends with it half closed.
    let mut c = Conv::new("10.0.0.1:40002", "10.0.0.2:8080");
    c.websocket();
    c.seg(true, support::FIN | ACK, b"");
    c.seg(false, RST, b"");
    let events = decode(&c.bytes());
    assert_eq!(end_state(&events), ConnState::Reset);
    same_states("WebSocket reset while closing", events);

    let mut c = Conv::new("10.0.0.1:40003", "10.0.0.2:80");
    c.seg(true, SYN, b"");
    c.seg(false, SYN | ACK, b"");
    c.seg(true, support::FIN | ACK, b"");
    same_states("FIN in the handshake", decode(&c.bytes()));

    let mut c = Conv::new("10.0.0.1:40004", "10.0.0.2:80");
    c.seg(true, PSH | ACK, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    c.seg(false, support::FIN | ACK, b"");
    let events = decode(&c.bytes());
    assert_eq!(end_state(&events), ConnState::Closing);
    same_states("joined late, half closed", events);
}
