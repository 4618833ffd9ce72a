//! The events the TUI holds, indexed per connection as they arrive.
//!
//! The TUI interprets nothing: the engine decides what happened (the state of a connection
//! comes from its `connection` and `connection_state` events, the patterns from `pattern`
//! events), and this module only files each event where the views will look for it.
//! Everything here is built incrementally: [`Timeline::push`] files each event under its
//! connection (all events, and the application layer's subset), keeps the connection's
//! summary as a list of changes over time so the list can show a connection "as of" the
//! playback position in O(log n), keeps the latest pattern report of each conversation, and
//! [`View`] keeps the rows of the selected diagram up to date by looking only at what is new.
//! Nothing is recomputed per frame.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::model::{
    tcp_flags, ConnId, ConnState, Dir, Event, EventBody, Nanos, Opcode, Pattern, PatternReport,
    TcpAnalyses, TcpAnalysis,
};
pub use crate::tui::store::Ix;
use crate::tui::store::{Located, Meta, Span, Store};

/// At its limit a ring lets this fraction of its events go at once (so that the per-connection
/// indices are compacted once per `max_events / RING_STEP` events, not once per event).
pub const RING_STEP: usize = 16;

/// Payload previews a ring keeps in memory, at most (the newest): live capture has no file to
/// read them back from.
pub const LIVE_PAYLOAD_BYTES: usize = 64 << 20;

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

impl Class {
    const ALL: [Class; 8] = [
        Class::TcpControl,
        Class::Ack,
        Class::TcpData,
        Class::Http,
        Class::WsData,
        Class::WsControl,
        Class::Problem,
        Class::Note,
    ];

    fn index(self) -> u8 {
        Class::ALL.iter().position(|&c| c == self).unwrap_or(0) as u8
    }

    fn from_index(i: u8) -> Class {
        Class::ALL
            .get(usize::from(i))
            .copied()
            .unwrap_or(Class::Note)
    }
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

    /// The bit of this filter in [`Meta::filters`] (every event passes `All`).
    fn bit(self) -> u8 {
        match self {
            KindFilter::All => 0,
            KindFilter::Tcp => 1,
            KindFilter::Http => 2,
            KindFilter::WebSocket => 4,
            KindFilter::Problems => 8,
        }
    }

    /// Whether an event of this kind and class passes.
    pub fn keeps(self, e: &Event, class: Class) -> bool {
        self == KindFilter::All || filter_bits(e, class) & self.bit() != 0
    }

    /// Whether an event with these filter bits passes.
    fn keeps_meta(self, meta: Meta) -> bool {
        self == KindFilter::All || meta.filters & self.bit() != 0
    }
}

/// The [`KindFilter`]s other than `All` that keep `e`, as bits.
fn filter_bits(e: &Event, class: Class) -> u8 {
    let mut bits = 0;
    if class == Class::Problem {
        bits |= KindFilter::Problems.bit();
    }
    match &e.body {
        EventBody::Tcp(_)
        | EventBody::Connection(_)
        | EventBody::Handshake(_)
        | EventBody::ConnectionState(_)
        | EventBody::Gap(_)
        | EventBody::ConnectionEnd(_) => bits |= KindFilter::Tcp.bit(),
        EventBody::HttpRequest(_) | EventBody::HttpResponse(_) | EventBody::HttpBody(_) => {
            bits |= KindFilter::Http.bit()
        }
        // A STOMP frame or an Engine.IO packet decoded from a WebSocket message stands in for
        // the message in the application layer, so it counts as WebSocket.
        EventBody::WsFrame(_) | EventBody::WsMessage(_) | EventBody::Stomp(_) => {
            bits |= KindFilter::WebSocket.bit()
        }
        EventBody::Socketio(p) if p.transport == "websocket" => bits |= KindFilter::WebSocket.bit(),
        _ => {}
    }
    bits
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
        EventBody::ConnectionState(c)
            if matches!(c.state, ConnState::Reset | ConnState::Refused) =>
        {
            Class::Problem
        }
        EventBody::Connection(_)
        | EventBody::Handshake(_)
        | EventBody::ConnectionState(_)
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
        EventBody::Data(_) => Class::TcpData,
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
        // TLS: the handshake shapes the connection like SYN and FIN; an unreadable record is
        // data; a fatal alert is trouble.
        EventBody::TlsHandshake(_) => Class::TcpControl,
        EventBody::TlsAlert(a) if a.level.0 == 2 => Class::Problem,
        EventBody::TlsAlert(_) => Class::TcpControl,
        EventBody::TlsRecord(r) if crate::view::tls::record_shows(r) => {
            if r.encrypted {
                Class::TcpData
            } else {
                Class::TcpControl
            }
        }
        EventBody::TlsRecord(_) => Class::Ack,
    }
}

fn ws_class(o: Opcode) -> Class {
    match o {
        Opcode::Reserved(_) => Class::Problem,
        o if o.is_control() => Class::WsControl,
        _ => Class::WsData,
    }
}

/// Whether `e` is a row of its connection's diagram at all: every event but the state changes
/// (the connections list and the summary line show the state; the arrows show what changed it).
fn is_row(e: &Event) -> bool {
    !matches!(e.body, EventBody::ConnectionState(_))
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
        EventBody::Connection(_)
        | EventBody::Handshake(_)
        | EventBody::ConnectionState(_)
        | EventBody::WsFrame(_) => false,
        EventBody::TlsRecord(r) => crate::view::tls::record_shows(r),
        _ => true,
    }
}

/// Whether `e`, the event right after `prev` on its connection, was decoded from `prev`'s
/// WebSocket message (a STOMP frame, an Engine.IO packet: the engine emits those right after
/// their message, with its frame and direction). The application layer then shows the decoded
/// event in the message's place, one arrow per message; all segments keep both.
#[cfg(test)]
fn decoded_from(e: &Event, prev: &Event) -> bool {
    matches!(e.body, EventBody::Stomp(_) | EventBody::Socketio(_))
        && matches!(prev.body, EventBody::WsMessage(_))
        && (prev.frame, prev.dir) == (e.frame, e.dir)
}

/// A connection's state and counters at some point of the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// As the engine's last `connection_state` event before that point said (the state the
    /// `connection` event implies before the first).
    pub state: ConnState,
    pub websocket: bool,
    pub segments: u64,
    pub bytes: u64,
    /// HTTP requests and responses, WebSocket messages.
    pub messages: u64,
    /// SYN to SYN-ACK, once the handshake completed.
    pub rtt: Option<Nanos>,
    /// Events of the connection so far.
    pub events: u64,
    /// The pattern of the conversation the connection carries (from the latest `pattern`
    /// report that lists it).
    pub pattern: Option<Pattern>,
}

impl Summary {
    /// The state as the connections list words it.
    pub fn state_name(&self) -> &'static str {
        match (self.state, self.websocket) {
            (ConnState::Handshaking, _) => "handshaking",
            (ConnState::Established, true) => "WebSocket",
            (ConnState::Established, false) => "established",
            (ConnState::Closing, true) => "closing (WS)",
            (ConnState::Closing, false) => "closing",
            (ConnState::Closed, true) => "closed (WS)",
            (ConnState::Closed, false) => "closed",
            (ConnState::Reset, _) => "reset",
            (ConnState::Refused, _) => "refused",
        }
    }
}

/// One connection's events and history.
#[derive(Debug, Clone)]
pub struct ConnTrack {
    pub id: ConnId,
    /// Index of its first event (kept when a ring lets the event go).
    began: Ix,
    /// Entries let go from the front of `events`, `app` and `folds` (a ring's eviction), and
    /// the segments and messages among them: positions in those lists count from the first
    /// entry ever, and the summary keeps counting what went.
    events_gone: usize,
    app_gone: usize,
    folds_gone: usize,
    segments_gone: u64,
    /// Bytes of the segments let go.
    bytes_gone: u64,
    messages_gone: u64,
    /// From the `connection` event; `None` if the capture never showed it.
    pub client: Option<SocketAddr>,
    pub server: Option<SocketAddr>,
    pub joined_late: bool,
    /// Every event of the connection, in order (the state changes aside: see
    /// [`ConnTrack::states`]).
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
    /// The pattern of a conversation the connection carries, once a report lists it.
    pub pattern: Option<Pattern>,
    /// `(event, state, websocket)` from the `connection` event and each `connection_state`.
    changes: Vec<(Ix, ConnState, bool)>,
    /// Each TCP segment's event, with the running byte count after it.
    segments: Vec<(Ix, u64)>,
    /// Event of the `handshake`.
    handshake_at: Option<Ix>,
    /// `http_request` events.
    pub requests: Vec<Ix>,
    /// `http_response` events.
    pub responses: Vec<Ix>,
    /// `http_body` events that carry bytes (the packets a body arrived in).
    pub bodies: Vec<Ix>,
    /// `ws_message` events by direction (`Dir::idx`).
    pub ws: [Vec<Ix>; 2],
}

impl ConnTrack {
    fn new(id: ConnId, began: Ix) -> ConnTrack {
        ConnTrack {
            id,
            began,
            events_gone: 0,
            app_gone: 0,
            folds_gone: 0,
            segments_gone: 0,
            bytes_gone: 0,
            messages_gone: 0,
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
            handshake_at: None,
            requests: Vec::new(),
            responses: Vec::new(),
            bodies: Vec::new(),
            ws: [Vec::new(), Vec::new()],
        }
    }

    /// Index of the first event.
    pub fn first(&self) -> Ix {
        self.began
    }

    /// The `handshake` event, once it came.
    pub fn handshake_at(&self) -> Option<Ix> {
        self.handshake_at
    }

    /// The state changes: `(event, state, websocket)`, the first from the `connection` event.
    pub fn states(&self) -> &[(Ix, ConnState, bool)] {
        &self.changes
    }

    /// The summary counting only events before `upto` (all of them for `None`).
    pub fn summary(&self, upto: Option<usize>) -> Summary {
        let before = |ix: &Ix| upto.is_none_or(|u| (*ix as usize) < u);
        let n = self.changes.partition_point(|(ix, _, _)| before(ix));
        let (state, websocket) = match n.checked_sub(1).and_then(|i| self.changes.get(i)) {
            Some(&(_, s, w)) => (s, w),
            None => (ConnState::Handshaking, false),
        };
        let segs = self.segments.partition_point(|(ix, _)| before(ix));
        let bytes = segs
            .checked_sub(1)
            .and_then(|i| self.segments.get(i))
            .map_or(self.bytes_gone, |&(_, b)| b);
        let messages = self.requests.partition_point(before)
            + self.responses.partition_point(before)
            + self.ws[0].partition_point(before)
            + self.ws[1].partition_point(before);
        Summary {
            state,
            websocket,
            segments: self.segments_gone + segs as u64,
            bytes,
            messages: self.messages_gone + messages as u64,
            rtt: self.handshake_at.filter(before).and(self.syn_ack_rtt),
            events: (self.events_gone + self.events.partition_point(before)) as u64,
            pattern: self.pattern,
        }
    }

    /// Entries of `layer`'s rows let go (a ring's eviction): `rows(layer)[0]` was entry
    /// number `gone(layer)`.
    pub fn gone(&self, layer: ViewLayer) -> usize {
        match layer {
            ViewLayer::Application => self.app_gone,
            ViewLayer::AllSegments => self.events_gone,
        }
    }

    /// Lets go of every index before `first`.
    fn evict(&mut self, first: Ix) {
        fn front<T>(v: &mut Vec<T>, old: impl Fn(&T) -> bool) -> usize {
            let n = v.partition_point(old);
            v.drain(..n);
            n
        }
        let old = |ix: &Ix| *ix < first;
        self.events_gone += front(&mut self.events, old);
        self.app_gone += front(&mut self.app, old);
        self.folds_gone += front(&mut self.folds, |(_, ix)| *ix < first);
        let n = self.segments.partition_point(|(ix, _)| *ix < first);
        if let Some(&(_, b)) = n.checked_sub(1).and_then(|i| self.segments.get(i)) {
            self.bytes_gone = b;
        }
        self.segments.drain(..n);
        self.segments_gone += n as u64;
        let mut messages = front(&mut self.requests, old) + front(&mut self.responses, old);
        for ws in &mut self.ws {
            messages += front(ws, old);
        }
        self.messages_gone += messages as u64;
        front(&mut self.bodies, old);
        // The state as of the first event kept is the last change before it.
        let n = self.changes.partition_point(|(ix, _, _)| *ix < first);
        self.changes.drain(..n.saturating_sub(1));
        if self.events.is_empty() {
            self.events.shrink_to_fit();
            self.app.shrink_to_fit();
            self.folds.shrink_to_fit();
            self.segments.shrink_to_fit();
            self.requests.shrink_to_fit();
            self.responses.shrink_to_fit();
            self.bodies.shrink_to_fit();
            for ws in &mut self.ws {
                ws.shrink_to_fit();
            }
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

/// Which conversation a pattern report is about: a later report with the same id replaces
/// the earlier one (`PatternReport::conversation`).
type ConvKey = u32;

fn conversation_key(r: &PatternReport) -> ConvKey {
    r.conversation
}

/// Every event received, and per-connection indices into them.
#[derive(Debug, Clone)]
pub struct Timeline {
    store: Store,
    conns: Vec<ConnTrack>,
    by_id: HashMap<ConnId, usize>,
    /// Events that belong to no connection (malformed frames).
    orphans: Vec<Ix>,
    max_events: usize,
    /// Events refused because `max_events` was reached.
    dropped: u64,
    /// At `max_events`, let the oldest events go instead of refusing new ones (live capture).
    ring: bool,
    /// Events let go by the ring.
    evicted: u64,
    /// The latest `pattern` report of each conversation, in order of first report.
    reports: Vec<PatternReport>,
    report_at: HashMap<ConvKey, usize>,
    /// Some connection has a pattern other than WebSocket (which its state already names).
    any_pattern: bool,
}

impl Timeline {
    /// A timeline that keeps at most `max_events` events (and never more than `u32::MAX`).
    pub fn new(max_events: usize) -> Timeline {
        Timeline {
            store: Store::new(),
            conns: Vec::new(),
            by_id: HashMap::new(),
            orphans: Vec::new(),
            max_events: max_events.min(u32::MAX as usize),
            dropped: 0,
            ring: false,
            evicted: 0,
            reports: Vec::new(),
            report_at: HashMap::new(),
            any_pattern: false,
        }
    }

    /// A timeline for live capture: it keeps the newest `max_events` events (a ring: at the
    /// limit the oldest [`RING_STEP`]th of them go at once), and at most [`LIVE_PAYLOAD_BYTES`]
    /// of payload previews (the newest).
    pub fn ring(max_events: usize) -> Timeline {
        Timeline {
            store: Store::with_payload_budget(LIVE_PAYLOAD_BYTES),
            ring: true,
            ..Timeline::new(max_events)
        }
    }

    /// Whether some connection carries a conversation with a pattern other than WebSocket
    /// (the state of an upgraded connection already says "WS"): the connections list makes
    /// room for a pattern column only then.
    pub fn has_patterns(&self) -> bool {
        self.any_pattern
    }

    /// The latest `pattern` report of each conversation, in order of first request.
    pub fn patterns(&self) -> &[PatternReport] {
        &self.reports
    }

    /// Event `ix`, whole.
    pub fn event(&self, ix: Ix) -> Option<Cow<'_, Event>> {
        self.store.get(ix)
    }

    /// Time of event `ix` in nanoseconds since the capture's first packet.
    pub fn time(&self, ix: Ix) -> Option<u64> {
        self.store.t(ix)
    }

    /// Frame number of event `ix`.
    pub fn frame(&self, ix: Ix) -> Option<u64> {
        self.store.frame(ix)
    }

    /// Direction of event `ix`.
    pub fn dir(&self, ix: Ix) -> Option<Dir> {
        self.store.dir(ix)
    }

    /// JSON kind of event `ix`.
    pub fn kind(&self, ix: Ix) -> Option<&'static str> {
        self.store.kind(ix)
    }

    /// Class of event `ix` (its colour), without decoding it.
    pub fn class_of(&self, ix: Ix) -> Option<Class> {
        self.store.meta(ix).map(|m| Class::from_index(m.class))
    }

    /// The store itself (for the memory example).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// One past the index of the newest event: the number of events taken in (those a ring
    /// let go included).
    pub fn len(&self) -> usize {
        self.store.end()
    }

    /// Index of the oldest event held (0 unless a ring let events go).
    pub fn first(&self) -> Ix {
        self.store.first()
    }

    /// Events held.
    pub fn held(&self) -> usize {
        self.store.len()
    }

    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
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

    /// The connection of event `ix`, if it has one.
    pub fn conn_of(&self, ix: Ix) -> Option<&ConnTrack> {
        self.store
            .conn(ix)
            .and_then(|id| self.position(id))
            .and_then(|p| self.conns.get(p))
    }

    pub fn orphans(&self) -> &[Ix] {
        &self.orphans
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Events a ring let go (the oldest).
    pub fn evicted(&self) -> u64 {
        self.evicted
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
    /// timeline holds grows any more.
    pub fn push(&mut self, e: Event) -> Option<usize> {
        self.push_at(e, None, None)
    }

    /// Files a batch whose payload previews the reader left in the capture file.
    pub fn extend_located(&mut self, batch: Located) {
        let Located {
            events,
            spans,
            file,
        } = batch;
        let mut spans = spans.into_iter();
        for e in events {
            self.push_at(e, spans.next().flatten(), Some(&file));
        }
    }

    /// [`Timeline::push`], the payload preview at `span` in `file`.
    pub fn push_at(
        &mut self,
        e: Event,
        span: Option<Span>,
        file: Option<&std::sync::Arc<std::fs::File>>,
    ) -> Option<usize> {
        if self.store.len() >= self.max_events && self.ring && self.max_events > 0 {
            self.evict((self.max_events / RING_STEP).max(1));
        }
        if self.store.len() >= self.max_events || self.store.end() >= u32::MAX as usize {
            self.dropped += 1;
            return None;
        }
        if self.store.len() == self.store.capacity() {
            // Doubling as usual, but never past the limit: the last doubling would otherwise
            // reserve room for events that will not be kept (4,194,304 for 4,000,000).
            let room = self.max_events - self.store.len();
            self.store
                .reserve(self.store.capacity().max(1024).min(room));
        }
        let ix = self.store.end() as Ix;
        let class = class(&e);
        let meta = Meta {
            filters: filter_bits(&e, class),
            class: class.index(),
        };
        let pos = self.file(ix, &e);
        self.store.push_at(e, meta, span, file);
        pos
    }

    /// Lets the `n` oldest events go, and every index of them.
    fn evict(&mut self, n: usize) {
        let n = n.min(self.store.len());
        self.store.evict_front(n);
        self.evicted += n as u64;
        let first = self.store.first();
        for c in &mut self.conns {
            c.evict(first);
        }
        let old = self.orphans.partition_point(|&ix| ix < first);
        self.orphans.drain(..old);
    }

    /// Files event `e`, which will be event `ix`, under its connection (or as an orphan, or
    /// as a pattern report).
    fn file(&mut self, ix: Ix, e: &Event) -> Option<usize> {
        let Some(id) = e.conn else {
            match &e.body {
                EventBody::Pattern(r) => self.report(r),
                _ => self.orphans.push(ix),
            }
            return None;
        };
        let pos = match self.by_id.get(&id) {
            Some(&p) => p,
            None => {
                self.conns.push(ConnTrack::new(id, ix));
                let p = self.conns.len() - 1;
                self.by_id.insert(id, p);
                p
            }
        };
        let c = self.conns.get_mut(pos)?;
        if is_row(e) {
            c.events.push(ix);
        }
        if in_application_layer(e) {
            let prev = c.events.len().checked_sub(2).and_then(|i| c.events.get(i));
            if let Some(&prev) = prev.filter(|&&p| c.app.last() == Some(&p)) {
                // `decoded_from`, without building `prev`.
                let s = &self.store;
                if matches!(e.body, EventBody::Stomp(_) | EventBody::Socketio(_))
                    && s.kind(prev) == Some("ws_message")
                    && (s.frame(prev), s.dir(prev)) == (Some(e.frame), e.dir)
                {
                    c.app.pop();
                    c.folds.push((c.app_gone + c.app.len(), prev));
                }
            }
            c.app.push(ix);
        }
        match &e.body {
            EventBody::Connection(info) => {
                c.client = Some(info.client);
                c.server = Some(info.server);
                c.joined_late = info.joined_late;
                c.changes
                    .push((ix, ConnState::initial(info.joined_late), false));
            }
            EventBody::ConnectionState(s) => c.changes.push((ix, s.state, s.websocket)),
            EventBody::Tcp(s) => {
                let bytes = c.segments.last().map_or(c.bytes_gone, |&(_, b)| b) + u64::from(s.len);
                c.segments.push((ix, bytes));
            }
            EventBody::Handshake(h) => {
                c.syn_ack_rtt = Some(h.syn_ack_rtt);
                c.irtt = Some(h.irtt);
                c.handshake_at = Some(ix);
                // The handshake completes on the client's ACK: the segment just before, with
                // the same frame number.
                if let Some(&prev) = c.events.len().checked_sub(2).and_then(|i| c.events.get(i)) {
                    let is_ack = self.store.frame(prev) == Some(e.frame)
                        && self.store.dir(prev) == Some(Dir::C2s)
                        && self.store.kind(prev) == Some("tcp");
                    if is_ack {
                        c.handshake_ack = Some(prev);
                        if c.app.last().is_none_or(|&l| l < prev) {
                            c.app.push(prev);
                        }
                    }
                }
            }
            EventBody::HttpRequest(_) => c.requests.push(ix),
            EventBody::HttpResponse(_) => c.responses.push(ix),
            EventBody::HttpBody(b) if b.len > 0 => c.bodies.push(ix),
            EventBody::WsMessage(_) => {
                if let Some(d) = e.dir {
                    c.ws[d.idx()].push(ix);
                }
            }
            _ => {}
        }
        Some(pos)
    }

    /// Takes in a `pattern` report: it replaces the conversation's previous one, and marks
    /// its connections with its pattern; a conversation that no longer shows one (`none`)
    /// leaves the list.
    fn report(&mut self, r: &PatternReport) {
        let key = conversation_key(r);
        if r.pattern == Pattern::None {
            if let Some(at) = self.report_at.remove(&key) {
                let old = self.reports.remove(at);
                for conn in &old.conns {
                    if let Some(c) = self.by_id.get(conn).and_then(|&p| self.conns.get_mut(p)) {
                        if c.pattern == Some(old.pattern) {
                            c.pattern = None;
                        }
                    }
                }
                self.report_at.clear();
                for (i, x) in self.reports.iter().enumerate() {
                    self.report_at.insert(conversation_key(x), i);
                }
            }
            return;
        }
        match self.report_at.get(&key) {
            Some(&at) => {
                if let Some(old) = self.reports.get_mut(at) {
                    *old = r.clone();
                }
            }
            None => {
                // In order of first request (reports of one capture come in that order; a
                // conversation first reported late still sorts by its start).
                let at = self.reports.partition_point(|x| x.start <= r.start);
                self.reports.insert(at, r.clone());
                self.report_at.clear();
                for (i, x) in self.reports.iter().enumerate() {
                    self.report_at.insert(conversation_key(x), i);
                }
            }
        }
        for conn in &r.conns {
            if let Some(c) = self.by_id.get(conn).and_then(|&p| self.conns.get_mut(p)) {
                c.pattern = Some(r.pattern);
                self.any_pattern |= r.pattern != Pattern::Websocket;
            }
        }
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
    /// The display filter (`Y`): rows must also match it.
    display: Option<Arc<crate::filter::Filter>>,
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
            display: None,
        }
    }

    /// The same view, keeping only the rows `display` matches (with the connection's
    /// endpoints, for `port`/`host`).
    pub fn with_display(mut self, display: Option<Arc<crate::filter::Filter>>) -> View {
        self.display = display;
        self
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
        // Rows a ring let go.
        let first = tl.first();
        if self.rows.first().is_some_and(|&ix| ix < first) {
            let old = self.rows.partition_point(|&ix| ix < first);
            self.rows.drain(..old);
        }
        if self.layer == ViewLayer::Application {
            // A fold took back the then-last entry of `app`, and the entry that replaced it
            // was pushed at once, so `app` never got shorter than at the last sync: a fold
            // this view saw is at `seen - 1`, and only the first fold since can be.
            let from = self.folds_seen.saturating_sub(c.folds_gone);
            for &(at, ix) in c.folds.get(from..).unwrap_or(&[]) {
                if at < self.seen {
                    self.seen = at;
                    if self.rows.last() == Some(&ix) {
                        self.rows.pop();
                    }
                }
            }
            self.folds_seen = c.folds_gone + c.folds.len();
        }
        // `seen` counts entries from the first ever; the list lost its first `gone`.
        let gone = c.gone(self.layer);
        let src = c.rows(self.layer);
        let new = src.get(self.seen.saturating_sub(gone)..).unwrap_or(&[]);
        if let Some(display) = &self.display {
            let ends = c
                .client
                .zip(c.server)
                .map(|(client, server)| crate::filter::Endpoints { client, server });
            for &ix in new {
                let kind = tl.store.meta(ix).is_some_and(|m| self.filter.keeps_meta(m));
                if kind
                    && tl
                        .event(ix)
                        .is_some_and(|e| display.matches_with(&e, ends.as_ref()))
                {
                    self.rows.push(ix);
                }
            }
        } else if self.filter == KindFilter::All {
            self.rows.extend_from_slice(new);
        } else {
            for &ix in new {
                if tl.store.meta(ix).is_some_and(|m| self.filter.keeps_meta(m)) {
                    self.rows.push(ix);
                }
            }
        }
        self.seen = gone + src.len();
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
            (s.state, s.segments, s.rtt),
            (ConnState::Handshaking, 1, None)
        );
        // After the handshake event, before the state change that follows it.
        let hs = c.handshake_at.unwrap() as usize;
        let s = c.summary(Some(hs + 1));
        assert_eq!((s.state, s.segments), (ConnState::Handshaking, 3));
        assert_eq!(s.rtt, Some(Nanos(21_000)));
        // After the engine's `connection_state`.
        let (at, state, ws) = c.states()[1];
        assert_eq!(
            (at as usize, state, ws),
            (hs + 1, ConnState::Established, false)
        );
        let s = c.summary(Some(hs + 2));
        assert_eq!((s.state, s.segments), (ConnState::Established, 3));
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
                assert!(!decoded_from(&b, &a), "{a:?} {b:?}");
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
        tl.store.heap_bytes()
            + tl.orphans.capacity() * 4
            + tl.by_id.capacity() * 16
            + tl.conns.capacity() * std::mem::size_of::<ConnTrack>()
            + tl.conns
                .iter()
                .map(|c| {
                    (c.events.capacity()
                        + c.app.capacity()
                        + c.requests.capacity()
                        + c.responses.capacity()
                        + c.bodies.capacity()
                        + c.ws[0].capacity()
                        + c.ws[1].capacity())
                        * 4
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
        assert_eq!(tl.store.capacity(), max);
        let (before, conns) = (held(&tl), tl.conns().len());
        let (patterns, any) = (tl.patterns().len(), tl.has_patterns());
        for e in &events[max..] {
            assert_eq!(tl.push(e.clone()), None);
        }
        assert_eq!(tl.len(), max);
        assert_eq!(tl.dropped(), (events.len() - max) as u64);
        assert_eq!(held(&tl), before);
        assert_eq!(tl.conns().len(), conns);
        assert_eq!(tl.patterns().len(), patterns);
        assert_eq!(tl.has_patterns(), any);
    }

    /// A ring keeps the newest events: past the limit the oldest go (a sixteenth of the limit
    /// at a time), the indices of the rest do not change, every connection keeps counting
    /// what went, a view synced along the way has the rows of a fresh one, and memory stays
    /// flat.
    #[test]
    fn a_ring_keeps_the_newest_events() {
        let events = sample::large(20_000, 20, 4_000);
        let max = 1_600;
        let mut full = Timeline::new(usize::MAX);
        let mut tl = Timeline::ring(max);
        // Views of the first connection (its events all go) and of the last event's.
        let mut order: Vec<ConnId> = Vec::new();
        for id in events.iter().filter_map(|e| e.conn) {
            if !order.contains(&id) {
                order.push(id);
            }
        }
        let last = events.iter().rev().find_map(|e| e.conn).unwrap();
        let last = order.iter().position(|&id| id == last).unwrap();
        let mut views: Vec<View> = [0, last]
            .into_iter()
            .flat_map(|p| {
                [ViewLayer::Application, ViewLayer::AllSegments]
                    .into_iter()
                    .flat_map(move |l| {
                        [KindFilter::All, KindFilter::WebSocket].map(|f| View::new(Some(p), l, f))
                    })
            })
            .collect();
        let mut held_at_limit = None;
        for (i, e) in events.iter().enumerate() {
            full.push(e.clone());
            tl.push(e.clone());
            assert!(tl.held() <= max);
            if i % 37 == 0 {
                for v in &mut views {
                    v.sync(&tl);
                }
            }
            if i == 4 * max {
                held_at_limit = Some(held(&tl));
            }
        }
        assert_eq!(tl.len(), events.len());
        assert_eq!(tl.dropped(), 0);
        assert_eq!(tl.evicted() as usize, events.len() - tl.held());
        assert!(tl.held() > max - max / RING_STEP);
        let first = tl.first();
        assert_eq!(first as u64, tl.evicted());
        // The newest events, at their indices.
        assert!(tl.event(first - 1).is_none());
        for ix in first..tl.len() as Ix {
            assert_eq!(tl.event(ix), full.event(ix), "{ix}");
            assert_eq!(tl.class_of(ix), full.class_of(ix));
        }
        // Connections: the rows still held, and the counts of everything.
        for (c, f) in tl.conns().iter().zip(full.conns()) {
            let kept = |rows: &[Ix]| {
                rows.iter()
                    .copied()
                    .filter(|&ix| ix >= first)
                    .collect::<Vec<_>>()
            };
            for layer in [ViewLayer::Application, ViewLayer::AllSegments] {
                assert_eq!(c.rows(layer), kept(f.rows(layer)), "{} {layer:?}", c.id);
            }
            let (a, b) = (c.summary(None), f.summary(None));
            assert_eq!(
                (a.state, a.segments, a.bytes, a.messages, a.events),
                (b.state, b.segments, b.bytes, b.messages, b.events),
                "{}",
                c.id
            );
        }
        for mut v in views {
            v.sync(&tl);
            let mut fresh = View::new(v.conn, v.layer, v.filter);
            fresh.sync(&tl);
            assert_eq!(v.rows(), fresh.rows(), "{:?} {:?}", v.layer, v.filter);
            assert_eq!(v.rows().is_empty(), v.conn == Some(0));
        }
        // Flat: what it held at four times the limit, it holds at twelve (but for what the
        // per-connection lists keep of their largest, at most the limit's worth).
        let at_limit = held_at_limit.unwrap();
        assert!(
            held(&tl) <= at_limit + max * 16,
            "{} vs {at_limit}",
            held(&tl)
        );
    }

    /// A timeline that is not a ring refuses events past its limit and lets none go.
    #[test]
    fn only_a_ring_lets_events_go() {
        let mut tl = Timeline::new(10);
        for e in sample::demo() {
            tl.push(e);
        }
        assert_eq!((tl.first(), tl.held(), tl.evicted()), (0, 10, 0));
    }
}
