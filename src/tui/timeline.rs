//! The events the TUI holds, indexed per connection as they arrive.
//!
//! Everything here is built incrementally: [`Timeline::push`] files each event under its
//! connection (all events, and the application layer's subset), keeps the connection's
//! summary as a list of changes over time so the list can show a connection "as of" the
//! playback position in O(log n), and [`View`] keeps the rows of the selected diagram up to
//! date by looking only at what is new. Nothing is recomputed per frame.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::model::{
    tcp_flags, ConnId, ConnState, Dir, Event, EventBody, Limits, Nanos, Opcode, Pattern,
    TcpAnalyses, TcpAnalysis,
};
use crate::pattern::PatternDetector;

/// Index of an event in [`Timeline::events`]. `u32` keeps the per-connection indices small
/// (4 bytes a row); [`Timeline`] refuses events beyond `u32::MAX` anyway.
pub type Ix = u32;

/// What colour an arrow gets and which kind filter keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// SYN, SYN-ACK, FIN.
    TcpControl,
    /// A segment with nothing but an acknowledgement.
    Ack,
    /// A segment carrying payload.
    TcpData,
    Http,
    /// Text, binary and continuation frames and messages.
    WsData,
    /// Ping, pong, close.
    WsControl,
    /// Retransmissions, gaps, resets, violations, malformed input, a wrong accept key.
    Problem,
    /// No direction: the connection began, the handshake completed, the connection ended.
    Note,
}

/// Which events the diagram shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ViewLayer {
    /// Application events plus the segments that shape the connection (SYN, SYN-ACK, the
    /// handshake's ACK, FIN, RST) and troubled ones; bare ACKs and data segments fold away.
    #[default]
    Application,
    /// Every TCP segment and every event.
    AllSegments,
}

impl ViewLayer {
    pub fn toggled(self) -> ViewLayer {
        match self {
            ViewLayer::Application => ViewLayer::AllSegments,
            ViewLayer::AllSegments => ViewLayer::Application,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            ViewLayer::Application => "application",
            ViewLayer::AllSegments => "all segments",
        }
    }
}

/// The kind filter, cycled with `f`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KindFilter {
    #[default]
    All,
    Tcp,
    Http,
    WebSocket,
    Problems,
}

impl KindFilter {
    pub fn next(self) -> KindFilter {
        match self {
            KindFilter::All => KindFilter::Tcp,
            KindFilter::Tcp => KindFilter::Http,
            KindFilter::Http => KindFilter::WebSocket,
            KindFilter::WebSocket => KindFilter::Problems,
            KindFilter::Problems => KindFilter::All,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            KindFilter::All => "all kinds",
            KindFilter::Tcp => "TCP",
            KindFilter::Http => "HTTP",
            KindFilter::WebSocket => "WebSocket",
            KindFilter::Problems => "problems",
        }
    }

    /// Whether an event of this kind and class passes.
    pub fn keeps(self, e: &Event, class: Class) -> bool {
        match self {
            KindFilter::All => true,
            KindFilter::Problems => class == Class::Problem,
            KindFilter::Tcp => matches!(
                e.body,
                EventBody::Tcp(_)
                    | EventBody::Connection(_)
                    | EventBody::Handshake(_)
                    | EventBody::Gap(_)
                    | EventBody::ConnectionEnd(_)
            ),
            KindFilter::Http => matches!(
                e.body,
                EventBody::HttpRequest(_) | EventBody::HttpResponse(_) | EventBody::HttpBody(_)
            ),
            // A STOMP frame or an Engine.IO packet decoded from a WebSocket message stands in
            // for the message in the application layer, so it counts as WebSocket.
            KindFilter::WebSocket => match &e.body {
                EventBody::WsFrame(_) | EventBody::WsMessage(_) | EventBody::Stomp(_) => true,
                EventBody::Socketio(p) => p.transport == "websocket",
                _ => false,
            },
        }
    }
}

/// TCP analysis flags that mean trouble (as opposed to bookkeeping like window updates).
fn troubled(a: &TcpAnalyses) -> bool {
    a.iter().any(|a| {
        matches!(
            a,
            TcpAnalysis::Retransmission
                | TcpAnalysis::OutOfOrder
                | TcpAnalysis::LostSegment
                | TcpAnalysis::ZeroWindow
                | TcpAnalysis::AckLostSegment
        )
    })
}

/// The class of an event, from the event alone.
pub fn class(e: &Event) -> Class {
    match &e.body {
        EventBody::Tcp(s) => {
            let f = s.flags;
            if f.has(tcp_flags::RST) || troubled(&s.analysis) || s.truncated {
                Class::Problem
            } else if f.has(tcp_flags::SYN) || f.has(tcp_flags::FIN) {
                Class::TcpControl
            } else if s.len > 0 {
                Class::TcpData
            } else {
                Class::Ack
            }
        }
        EventBody::Connection(_)
        | EventBody::Handshake(_)
        | EventBody::ConnectionEnd(_)
        | EventBody::Pattern(_) => Class::Note,
        EventBody::SseEvent(ev) if ev.incomplete => Class::Problem,
        EventBody::SseEvent(_) => Class::Http,
        EventBody::Stomp(f) if f.incomplete => Class::Problem,
        EventBody::Socketio(p) if p.incomplete => Class::Problem,
        // Keep-alive traffic, drawn like WebSocket pings: STOMP heart-beats, Engine.IO
        // ping/pong/noop.
        EventBody::Stomp(f) if f.command == "HEARTBEAT" => Class::WsControl,
        EventBody::Socketio(p) if matches!(p.engine_type, "ping" | "pong" | "noop") => {
            Class::WsControl
        }
        EventBody::Stomp(_) | EventBody::Socketio(_) => Class::WsData,
        EventBody::Gap(_) | EventBody::Violation(_) | EventBody::Malformed(_) => Class::Problem,
        EventBody::Note(_) => Class::Note,
        EventBody::HttpBody(b) if b.missing > 0 => Class::Problem,
        EventBody::HttpRequest(_) | EventBody::HttpBody(_) => Class::Http,
        EventBody::HttpResponse(r) => match &r.upgrade {
            Some(u) if !u.accept_valid => Class::Problem,
            _ => Class::Http,
        },
        EventBody::WsFrame(f) if f.incomplete => Class::Problem,
        EventBody::WsMessage(m) if m.incomplete => Class::Problem,
        EventBody::WsFrame(f) => ws_class(f.opcode),
        EventBody::WsMessage(m) => ws_class(m.opcode),
    }
}

fn ws_class(o: Opcode) -> Class {
    match o {
        Opcode::Reserved(_) => Class::Problem,
        o if o.is_control() => Class::WsControl,
        _ => Class::WsData,
    }
}

/// Whether `e` shows in the application layer (the handshake's ACK is added separately,
/// when the `handshake` event names it).
fn in_application_layer(e: &Event) -> bool {
    match &e.body {
        EventBody::Tcp(s) => {
            let f = s.flags;
            f.has(tcp_flags::SYN)
                || f.has(tcp_flags::FIN)
                || f.has(tcp_flags::RST)
                || troubled(&s.analysis)
        }
        EventBody::Connection(_) | EventBody::Handshake(_) | EventBody::WsFrame(_) => false,
        _ => true,
    }
}

/// Whether `e`, the event right after `prev` on its connection, was decoded from `prev`'s
/// WebSocket message (a STOMP frame, an Engine.IO packet: the engine emits those right after
/// their message, with its frame and direction). The application layer then shows the decoded
/// event in the message's place, one arrow per message; all segments keep both.
fn decoded_from(e: &Event, prev: &Event) -> bool {
    matches!(e.body, EventBody::Stomp(_) | EventBody::Socketio(_))
        && matches!(prev.body, EventBody::WsMessage(_))
        && (prev.frame, prev.dir) == (e.frame, e.dir)
}

/// Where a connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Handshaking,
    Established,
    Closing,
    Closed,
    Reset,
    Refused,
}

impl Status {
    fn from_end(s: ConnState) -> Status {
        match s {
            ConnState::Handshaking => Status::Handshaking,
            ConnState::Established => Status::Established,
            ConnState::Closing => Status::Closing,
            ConnState::Closed => Status::Closed,
            ConnState::Reset => Status::Reset,
            ConnState::Refused => Status::Refused,
        }
    }
}

/// A connection's state and counters at some point of the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub status: Status,
    pub websocket: bool,
    pub segments: u64,
    pub bytes: u64,
    /// HTTP requests and responses, WebSocket messages.
    pub messages: u64,
    /// SYN to SYN-ACK, once the handshake completed.
    pub rtt: Option<Nanos>,
    /// Events of the connection so far.
    pub events: u64,
    /// The pattern of the conversation the connection carries (as classified so far).
    pub pattern: Option<Pattern>,
}

impl Summary {
    /// The state as the connections list words it.
    pub fn state_name(&self) -> &'static str {
        match (self.status, self.websocket) {
            (Status::Handshaking, _) => "handshaking",
            (Status::Established, true) => "WebSocket",
            (Status::Established, false) => "established",
            (Status::Closing, true) => "closing (WS)",
            (Status::Closing, false) => "closing",
            (Status::Closed, true) => "closed (WS)",
            (Status::Closed, false) => "closed",
            (Status::Reset, _) => "reset",
            (Status::Refused, _) => "refused",
        }
    }
}

/// One connection's events and history.
#[derive(Debug, Clone)]
pub struct ConnTrack {
    pub id: ConnId,
    /// From the `connection` event; `None` if the capture never showed it.
    pub client: Option<SocketAddr>,
    pub server: Option<SocketAddr>,
    pub joined_late: bool,
    /// Every event of the connection, in order.
    pub events: Vec<Ix>,
    /// The application layer's events.
    pub app: Vec<Ix>,
    /// `(position, event)` of each `ws_message` taken back out of `app` when the event decoded
    /// from it followed ([`decoded_from`]), in order; it was `app`'s last entry then.
    /// [`View::sync`] replays them.
    folds: Vec<(usize, Ix)>,
    /// The ACK that completed the 3-way handshake.
    pub handshake_ack: Option<Ix>,
    pub syn_ack_rtt: Option<Nanos>,
    pub irtt: Option<Nanos>,
    /// The pattern of a conversation the connection carries, once one shows.
    pub pattern: Option<Pattern>,
    /// `(event, status, websocket)` each time either changed.
    changes: Vec<(Ix, Status, bool)>,
    /// Each TCP segment's event, with the running byte count after it.
    segments: Vec<(Ix, u64)>,
    messages: Vec<Ix>,
    /// Event of the `handshake`.
    handshake_at: Option<Ix>,
    fin: [bool; 2],
}

impl ConnTrack {
    fn new(id: ConnId) -> ConnTrack {
        ConnTrack {
            id,
            client: None,
            server: None,
            joined_late: false,
            events: Vec::new(),
            app: Vec::new(),
            folds: Vec::new(),
            handshake_ack: None,
            syn_ack_rtt: None,
            irtt: None,
            pattern: None,
            changes: Vec::new(),
            segments: Vec::new(),
            messages: Vec::new(),
            handshake_at: None,
            fin: [false; 2],
        }
    }

    /// Index of the first event.
    pub fn first(&self) -> Ix {
        self.events.first().copied().unwrap_or(0)
    }

    fn current(&self) -> (Status, bool) {
        self.changes
            .last()
            .map_or((Status::Handshaking, false), |&(_, s, w)| (s, w))
    }

    fn set(&mut self, ix: Ix, status: Status, websocket: bool) {
        if self.current() != (status, websocket) || self.changes.is_empty() {
            self.changes.push((ix, status, websocket));
        }
    }

    /// The summary counting only events before `upto` (all of them for `None`).
    pub fn summary(&self, upto: Option<usize>) -> Summary {
        let before = |ix: &Ix| upto.is_none_or(|u| (*ix as usize) < u);
        let n = self.changes.partition_point(|(ix, _, _)| before(ix));
        let (status, websocket) = match n.checked_sub(1).and_then(|i| self.changes.get(i)) {
            Some(&(_, s, w)) => (s, w),
            None => (Status::Handshaking, false),
        };
        let segs = self.segments.partition_point(|(ix, _)| before(ix));
        let bytes = segs
            .checked_sub(1)
            .and_then(|i| self.segments.get(i))
            .map_or(0, |&(_, b)| b);
        Summary {
            status,
            websocket,
            segments: segs as u64,
            bytes,
            messages: self.messages.partition_point(before) as u64,
            rtt: self.handshake_at.filter(before).and(self.syn_ack_rtt),
            events: self.events.partition_point(before) as u64,
            pattern: self.pattern,
        }
    }

    /// The rows of `layer`.
    pub fn rows(&self, layer: ViewLayer) -> &[Ix] {
        match layer {
            ViewLayer::Application => &self.app,
            ViewLayer::AllSegments => &self.events,
        }
    }
}

/// Every event received, and per-connection indices into them.
#[derive(Debug, Clone)]
pub struct Timeline {
    events: Vec<Event>,
    conns: Vec<ConnTrack>,
    by_id: HashMap<ConnId, usize>,
    /// Events that belong to no connection (malformed frames).
    orphans: Vec<Ix>,
    max_events: usize,
    /// Events refused because `max_events` was reached.
    dropped: u64,
    /// Every event kept goes through it; [`Timeline::refresh_patterns`] classifies.
    patterns: PatternDetector,
    /// Some connection has a pattern other than WebSocket (which its state already names).
    any_pattern: bool,
}

impl Timeline {
    /// A timeline that keeps at most `max_events` events (and never more than `u32::MAX`).
    pub fn new(max_events: usize) -> Timeline {
        Timeline {
            events: Vec::new(),
            conns: Vec::new(),
            by_id: HashMap::new(),
            orphans: Vec::new(),
            max_events: max_events.min(u32::MAX as usize),
            dropped: 0,
            patterns: PatternDetector::new(Limits::default()),
            any_pattern: false,
        }
    }

    /// Whether some connection carries a conversation with a pattern other than WebSocket
    /// (the state of an upgraded connection already says "WS"): the connections list makes
    /// room for a pattern column only then.
    pub fn has_patterns(&self) -> bool {
        self.any_pattern
    }

    /// The conversations and their patterns as of the last [`Timeline::refresh_patterns`].
    pub fn patterns(&self) -> &PatternDetector {
        &self.patterns
    }

    /// Classifies the conversations that changed since the last call, and marks their
    /// connections with their pattern (a connection carrying several conversations shows the
    /// latest classified). Cheap when nothing changed.
    pub fn refresh_patterns(&mut self) {
        for id in self.patterns.refresh() {
            let Some(v) = self.patterns.conversation(id) else {
                continue;
            };
            let Some(r) = &v.report else { continue };
            for conn in &r.conns {
                if let Some(c) = self.by_id.get(conn).and_then(|&p| self.conns.get_mut(p)) {
                    c.pattern = Some(r.pattern);
                    self.any_pattern |= r.pattern != Pattern::Websocket;
                }
            }
        }
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    pub fn event(&self, ix: Ix) -> Option<&Event> {
        self.events.get(ix as usize)
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn conns(&self) -> &[ConnTrack] {
        &self.conns
    }

    pub fn conn(&self, pos: usize) -> Option<&ConnTrack> {
        self.conns.get(pos)
    }

    /// Position in [`Timeline::conns`] of connection `id`.
    pub fn position(&self, id: ConnId) -> Option<usize> {
        self.by_id.get(&id).copied()
    }

    pub fn orphans(&self) -> &[Ix] {
        &self.orphans
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Number of connections whose first event is before `upto`: connections are listed in
    /// order of first appearance, so that is a prefix of [`Timeline::conns`].
    pub fn conns_before(&self, upto: Option<usize>) -> usize {
        match upto {
            None => self.conns.len(),
            Some(u) => self.conns.partition_point(|c| (c.first() as usize) < u),
        }
    }

    /// Files one event. Returns the position of its connection, if it has one. Beyond
    /// `max_events` the event is counted in [`Timeline::dropped`] and dropped: nothing the
    /// timeline holds grows any more (the pattern detector does not see it either).
    pub fn push(&mut self, e: Event) -> Option<usize> {
        if self.events.len() >= self.max_events {
            self.dropped += 1;
            return None;
        }
        if self.events.len() == self.events.capacity() {
            // Doubling as usual, but never past the limit: the last doubling would otherwise
            // reserve room for events that will not be kept (4,194,304 for 4,000,000).
            let room = self.max_events - self.events.len();
            self.events
                .reserve_exact(self.events.capacity().max(1024).min(room));
        }
        let ix = self.events.len() as Ix;
        // The TUI classifies as events come in (the engine's own `pattern` events arrive only
        // when the source ends); those are kept in the timeline but are not undecodable.
        self.patterns.observe(&e);
        let Some(id) = e.conn else {
            if !matches!(e.body, EventBody::Pattern(_)) {
                self.orphans.push(ix);
            }
            self.events.push(e);
            return None;
        };
        let pos = match self.by_id.get(&id) {
            Some(&p) => p,
            None => {
                self.conns.push(ConnTrack::new(id));
                let p = self.conns.len() - 1;
                self.by_id.insert(id, p);
                p
            }
        };
        let c = self.conns.get_mut(pos)?;
        c.events.push(ix);
        if in_application_layer(&e) {
            let prev = c.events.len().checked_sub(2).and_then(|i| c.events.get(i));
            if let Some(&prev) = prev.filter(|&&p| c.app.last() == Some(&p)) {
                if self
                    .events
                    .get(prev as usize)
                    .is_some_and(|p| decoded_from(&e, p))
                {
                    c.app.pop();
                    c.folds.push((c.app.len(), prev));
                }
            }
            c.app.push(ix);
        }
        let (status, ws) = c.current();
        match &e.body {
            EventBody::Connection(info) => {
                c.client = Some(info.client);
                c.server = Some(info.server);
                c.joined_late = info.joined_late;
                let s = if info.joined_late {
                    Status::Established
                } else {
                    Status::Handshaking
                };
                c.set(ix, s, ws);
            }
            EventBody::Tcp(s) => {
                let bytes = c.segments.last().map_or(0, |&(_, b)| b) + u64::from(s.len);
                c.segments.push((ix, bytes));
                if c.changes.is_empty() {
                    c.set(ix, status, ws);
                }
                if s.flags.has(tcp_flags::RST) {
                    let next = match status {
                        Status::Handshaking => Status::Refused,
                        Status::Refused => Status::Refused,
                        _ => Status::Reset,
                    };
                    c.set(ix, next, ws);
                } else if s.flags.has(tcp_flags::FIN) {
                    if let Some(d) = e.dir {
                        c.fin[d.idx()] = true;
                    }
                    if matches!(status, Status::Established | Status::Closing) {
                        let next = if c.fin == [true, true] {
                            Status::Closed
                        } else {
                            Status::Closing
                        };
                        c.set(ix, next, ws);
                    }
                }
            }
            EventBody::Handshake(h) => {
                c.syn_ack_rtt = Some(h.syn_ack_rtt);
                c.irtt = Some(h.irtt);
                c.handshake_at = Some(ix);
                // The handshake completes on the client's ACK: the segment just before, with
                // the same frame number.
                if let Some(&prev) = c.events.len().checked_sub(2).and_then(|i| c.events.get(i)) {
                    let is_ack = self.events.get(prev as usize).is_some_and(|p| {
                        p.frame == e.frame
                            && p.dir == Some(Dir::C2s)
                            && matches!(p.body, EventBody::Tcp(_))
                    });
                    if is_ack {
                        c.handshake_ack = Some(prev);
                        if c.app.last().is_none_or(|&l| l < prev) {
                            c.app.push(prev);
                        }
                    }
                }
                if status == Status::Handshaking {
                    c.set(ix, Status::Established, ws);
                }
            }
            EventBody::HttpRequest(_) => c.messages.push(ix),
            EventBody::HttpResponse(r) => {
                c.messages.push(ix);
                if r.status == 101 && r.upgrade.is_some() {
                    c.set(ix, status, true);
                }
            }
            EventBody::WsMessage(_) => c.messages.push(ix),
            EventBody::ConnectionEnd(end) => {
                c.set(ix, Status::from_end(end.state), ws || end.websocket);
            }
            _ => {}
        }
        self.events.push(e);
        Some(pos)
    }
}

/// The rows of one connection's diagram under a layer and a kind filter, kept up to date
/// incrementally: [`View::sync`] looks only at the connection's events it has not seen.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// Position of the connection in [`Timeline::conns`].
    pub conn: Option<usize>,
    pub layer: ViewLayer,
    pub filter: KindFilter,
    rows: Vec<Ix>,
    /// How many entries of the connection's layer list were looked at.
    seen: usize,
    /// How many of the connection's folds ([`ConnTrack::folds`]) were taken into account.
    folds_seen: usize,
}

impl View {
    pub fn new(conn: Option<usize>, layer: ViewLayer, filter: KindFilter) -> View {
        View {
            conn,
            layer,
            filter,
            rows: Vec::new(),
            seen: 0,
            folds_seen: 0,
        }
    }

    /// Event indices of the rows, in timeline order.
    pub fn rows(&self) -> &[Ix] {
        &self.rows
    }

    /// Rows whose event is before `upto` (all for `None`).
    pub fn visible(&self, upto: Option<usize>) -> &[Ix] {
        match upto {
            None => &self.rows,
            Some(u) => {
                let n = self.rows.partition_point(|&ix| (ix as usize) < u);
                self.rows.get(..n).unwrap_or(&[])
            }
        }
    }

    /// Takes in what the connection received since the last call.
    pub fn sync(&mut self, tl: &Timeline) {
        let Some(c) = self.conn.and_then(|p| tl.conn(p)) else {
            return;
        };
        if self.layer == ViewLayer::Application {
            // A fold took back the then-last entry of `app`, and the entry that replaced it
            // was pushed at once, so `app` never got shorter than at the last sync: a fold
            // this view saw is at `seen - 1`, and only the first fold since can be.
            for &(at, ix) in c.folds.get(self.folds_seen..).unwrap_or(&[]) {
                if at < self.seen {
                    self.seen = at;
                    if self.rows.last() == Some(&ix) {
                        self.rows.pop();
                    }
                }
            }
            self.folds_seen = c.folds.len();
        }
        let src = c.rows(self.layer);
        let new = src.get(self.seen..).unwrap_or(&[]);
        if self.filter == KindFilter::All {
            self.rows.extend_from_slice(new);
        } else {
            for &ix in new {
                if let Some(e) = tl.event(ix) {
                    if self.filter.keeps(e, class(e)) {
                        self.rows.push(ix);
                    }
                }
            }
        }
        self.seen = src.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::sample;

    fn timeline() -> Timeline {
        let mut tl = Timeline::new(1 << 20);
        for e in sample::demo() {
            tl.push(e);
        }
        tl
    }

    #[test]
    fn connections_get_their_final_state() {
        let tl = timeline();
        let names: Vec<_> = tl
            .conns()
            .iter()
            .map(|c| c.summary(None).state_name())
            .collect();
        assert_eq!(names, ["closed (WS)", "closed", "refused", "reset"]);
        let ws = tl.conn(0).unwrap().summary(None);
        assert_eq!(ws.rtt, Some(Nanos(21_000)));
        assert_eq!(ws.messages, 2 + 9);
    }

    #[test]
    fn summary_follows_the_playhead() {
        let tl = timeline();
        let c = tl.conn(0).unwrap();
        // After the SYN only.
        let s = c.summary(Some(2));
        assert_eq!(
            (s.status, s.segments, s.rtt),
            (Status::Handshaking, 1, None)
        );
        // After the handshake event.
        let hs = c.handshake_at.unwrap() as usize;
        let s = c.summary(Some(hs + 1));
        assert_eq!((s.status, s.segments), (Status::Established, 3));
        assert_eq!(s.rtt, Some(Nanos(21_000)));
        assert_eq!(tl.conns_before(Some(2)), 1);
        assert_eq!(tl.conns_before(None), 4);
    }

    #[test]
    fn application_layer_keeps_the_shape_of_the_connection() {
        let tl = timeline();
        let c = tl.conn(0).unwrap();
        let kinds: Vec<String> = c
            .app
            .iter()
            .map(|&ix| {
                let e = tl.event(ix).unwrap();
                let mut s = String::new();
                crate::view::text::describe(&mut s, &e.body);
                s.split_whitespace().next().unwrap_or("").to_string()
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "SYN", "SYN-ACK", "ACK", "GET", "HTTP/1.1", "Text", "Text", "Text", "Binary",
                "Binary", "Ping", "Pong", "Close", "Close", "FIN-ACK", "FIN-ACK", "end:"
            ]
        );
        assert!(c.app.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn view_sync_is_incremental_and_matches_a_rebuild() {
        let events = sample::demo();
        for filter in [
            KindFilter::All,
            KindFilter::Tcp,
            KindFilter::Http,
            KindFilter::WebSocket,
            KindFilter::Problems,
        ] {
            for layer in [ViewLayer::Application, ViewLayer::AllSegments] {
                let mut tl = Timeline::new(1 << 20);
                let mut v = View::new(Some(3), layer, filter);
                for (i, e) in events.iter().enumerate() {
                    tl.push(e.clone());
                    if i % 7 == 0 {
                        v.sync(&tl);
                    }
                }
                v.sync(&tl);
                let mut fresh = View::new(Some(3), layer, filter);
                fresh.sync(&tl);
                assert_eq!(v.rows(), fresh.rows(), "{filter:?} {layer:?}");
            }
        }
    }

    /// The events of `assets/captures/NAME`, as the engine gives them.
    fn capture(name: &str) -> Vec<Event> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets/captures")
            .join(name);
        let mut reader = crate::capture::open_path(&path).unwrap();
        let mut engine = crate::engine::Engine::new(crate::model::Limits::default());
        let mut events = Vec::new();
        while let Some(frame) = reader.next_frame().unwrap() {
            engine.ingest(&frame, &mut events);
        }
        engine.finish(&mut events);
        events
    }

    fn kinds(tl: &Timeline, rows: &[Ix]) -> Vec<&'static str> {
        rows.iter()
            .map(|&ix| tl.event(ix).unwrap().body.kind())
            .collect()
    }

    #[test]
    fn a_decoded_message_is_one_arrow_in_the_application_layer() {
        for (name, decoded) in [
            ("stomp.pcapng", "stomp"),
            ("socketio_v4.pcapng", "socketio"),
        ] {
            let mut tl = Timeline::new(1 << 20);
            for e in capture(name) {
                tl.push(e);
            }
            // The WebSocket connection.
            let pos =
                (0..tl.conns().len())
                    .find(|&p| {
                        tl.conn(p).unwrap().events.iter().any(|&ix| {
                            matches!(tl.event(ix).unwrap().body, EventBody::WsMessage(_))
                        })
                    })
                    .unwrap();
            let c = tl.conn(pos).unwrap();
            let all = kinds(&tl, c.rows(ViewLayer::AllSegments));
            let app = kinds(&tl, c.rows(ViewLayer::Application));
            let count = |v: &[&str], k: &str| v.iter().filter(|x| **x == k).count();
            // All segments keep every message and what was decoded from it.
            assert_eq!(
                count(&all, "ws_message"),
                22 - 3 * usize::from(decoded == "stomp")
            );
            // The application layer keeps the decoded events and the messages nothing was
            // decoded from: the Close frames (and Socket.IO's binary attachment, which is
            // decoded as an attachment packet).
            assert_eq!(count(&app, decoded), count(&all, decoded), "{name}");
            let rest: Vec<Opcode> = c
                .rows(ViewLayer::Application)
                .iter()
                .filter_map(|&ix| match &tl.event(ix).unwrap().body {
                    EventBody::WsMessage(m) => Some(m.opcode),
                    _ => None,
                })
                .collect();
            assert_eq!(rest, [Opcode::Close, Opcode::Close], "{name}");
            // No message is followed by an event decoded from it.
            for w in c.rows(ViewLayer::Application).windows(2) {
                let (a, b) = (tl.event(w[0]).unwrap(), tl.event(w[1]).unwrap());
                assert!(!decoded_from(b, a), "{a:?} {b:?}");
            }
            // The WebSocket filter shows them as WebSocket.
            let mut v = View::new(Some(pos), ViewLayer::Application, KindFilter::WebSocket);
            v.sync(&tl);
            assert_eq!(
                v.rows().len(),
                count(&app, decoded) + 2,
                "{name}: {:?}",
                kinds(&tl, v.rows())
            );
        }
    }

    #[test]
    fn view_sync_follows_the_folds_at_any_batch_boundary() {
        let events = capture("stomp.pcapng");
        for filter in [KindFilter::All, KindFilter::WebSocket, KindFilter::Http] {
            for every in [1, 2, 3, 5] {
                let mut tl = Timeline::new(1 << 20);
                let mut v = View::new(Some(0), ViewLayer::Application, filter);
                for (i, e) in events.iter().enumerate() {
                    tl.push(e.clone());
                    if i % every == 0 {
                        v.sync(&tl);
                    }
                }
                v.sync(&tl);
                let mut fresh = View::new(Some(0), ViewLayer::Application, filter);
                fresh.sync(&tl);
                assert_eq!(v.rows(), fresh.rows(), "{filter:?} every {every}");
            }
        }
    }

    #[test]
    fn problems_filter_finds_the_trouble() {
        let tl = timeline();
        let mut v = View::new(Some(3), ViewLayer::Application, KindFilter::Problems);
        v.sync(&tl);
        let kinds: Vec<_> = v
            .rows()
            .iter()
            .map(|&ix| tl.event(ix).unwrap().body.kind())
            .collect();
        assert_eq!(kinds, ["tcp", "gap", "tcp", "violation", "tcp"]);
    }

    #[test]
    fn the_event_cap_is_kept() {
        let mut tl = Timeline::new(10);
        for e in sample::demo() {
            tl.push(e);
        }
        assert_eq!(tl.len(), 10);
        assert!(tl.dropped() > 0);
    }

    /// What the timeline holds, in bytes of capacity (events, per-connection indices).
    fn held(tl: &Timeline) -> usize {
        tl.events.capacity() * std::mem::size_of::<Event>()
            + tl.orphans.capacity() * 4
            + tl.by_id.capacity() * 16
            + tl.conns.capacity() * std::mem::size_of::<ConnTrack>()
            + tl.conns
                .iter()
                .map(|c| {
                    (c.events.capacity() + c.app.capacity() + c.messages.capacity()) * 4
                        + c.segments.capacity() * 16
                        + c.changes.capacity() * 8
                })
                .sum::<usize>()
    }

    /// Once the limit is reached memory stays flat: ten times more events (new connections
    /// among them) are only counted, and the events vector was never grown past the limit.
    #[test]
    fn beyond_the_limit_memory_stays_flat() {
        let mut events = sample::large(30_000, 50, 5_000);
        // Connections that begin after the limit.
        events.extend(sample::demo().into_iter().map(|mut e| {
            e.conn = e.conn.map(|c| c + 1000);
            e
        }));
        let max = 3_000;
        let mut tl = Timeline::new(max);
        for e in &events[..max] {
            tl.push(e.clone());
        }
        assert_eq!(tl.events.capacity(), max);
        let (before, conns) = (held(&tl), tl.conns().len());
        let (patterns, any) = (tl.patterns().conversations().count(), tl.has_patterns());
        for e in &events[max..] {
            assert_eq!(tl.push(e.clone()), None);
        }
        assert_eq!(tl.len(), max);
        assert_eq!(tl.dropped(), (events.len() - max) as u64);
        assert_eq!(held(&tl), before);
        assert_eq!(tl.conns().len(), conns);
        tl.refresh_patterns();
        assert_eq!(tl.patterns().conversations().count(), patterns);
        assert_eq!(tl.has_patterns(), any);
    }
}
