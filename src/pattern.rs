//! Pattern detection: which of the lesson's pictures (short polling, long polling, streaming,
//! WebSocket) the HTTP traffic of a capture draws.
//!
//! [`PatternDetector::observe`] takes in every event the engine emits and groups HTTP
//! exchanges into *conversations*: one client host (address without port) asking one server
//! (address and port) for one request target (without its query string), across connections.
//! [`PatternDetector::finish`] classifies each conversation and appends one `pattern` event per
//! conversation that shows a pattern; the engine calls it at the end of the input, so pattern
//! events come last, after every `connection_end`. [`PatternDetector::refresh`] classifies
//! what has been seen so far, for views that show patterns while events still arrive.
//!
//! # Figures
//!
//! For each exchange (a request and its response, matched in order per connection):
//! - **held** (the server's time): from the request's last byte (the head, or the end of its
//!   body) to the response head.
//! - **interval** (the client's time): from the previous exchange's response end (its last
//!   body byte, or its head when it has no body) to the next request's head, in the order the
//!   requests were seen, across connections (so it includes closing and reopening a
//!   connection).
//! - **arrivals**: the packets that carried data of the response body (chunks that came in one
//!   packet count once); their spacing is the time between consecutive arrivals.
//! - **RTT**: the handshake's iRTT (SYN to the handshake's ACK), the smallest over the
//!   conversation's connections; unknown when the capture joined late.
//!
//! # Rules, first match wins
//!
//! The captures in `assets/captures/` were recorded at a fast pace (client steps 20 ms apart,
//! news every 60 ms), so every rule compares figures with each other (ratios), with a small
//! absolute [`NOISE_FLOOR_NS`] below which times are scheduling jitter rather than intent.
//!
//! 1. **websocket**: a request of the conversation was answered `101` with a WebSocket
//!    upgrade. Figures: messages each way, duration.
//! 2. **streaming**: a response is `text/event-stream`, or its body arrived in at least
//!    [`STREAM_MIN_ARRIVALS`] packets whose mean spacing is at least [`NOISE_FLOOR_NS`] and
//!    [`STREAM_RTT_RATIO`] times the RTT: data trickling in as the server has it, not a
//!    download that the network delivers back to back. Figures: chunks, their spacing.
//! 3. **long-polling**: at least [`LONG_POLL_MIN_REQUESTS`] answered requests, at least half
//!    of them *held*, and the median hold at least [`REASK_RATIO`] times the median interval
//!    (the client asks again right after each answer). A response is held when it took at
//!    least [`NOISE_FLOOR_NS`] and either [`HOLD_RATIO`] times the conversation's fastest
//!    answer, or, for an empty answer (204, 304, or no body bytes: a timeout), [`HOLD_RATIO`]
//!    times the RTT. A slow server is not long polling: its answers are all alike (none is ten
//!    times the fastest), and its client still waits between requests.
//! 4. **short-polling**: at least [`POLL_MIN_REQUESTS`] answered requests, and the median
//!    interval is at least [`NOISE_FLOOR_NS`] and at least the median hold: the client waits
//!    between requests at least as long as the server takes to answer. Over new connections or
//!    one kept-alive connection alike (see `conns`).
//!
//! Anything else (a single request, requests sent back to back) shows no pattern.
//!
//! # Bounds
//!
//! [`Limits::max_conversations`] conversations at once (the least recently active is reported,
//! if it shows a pattern, and forgotten to make room; its report is handed out by
//! [`PatternDetector::take_forgotten`]); [`Limits::max_pattern_samples`] timing samples per
//! conversation (exchanges and arrivals; beyond it they are counted, not kept, and the
//! spreads are over the kept ones); [`Limits::max_connections`] connections followed;
//! [`Limits::max_pending_requests`] unanswered requests per connection.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use crate::flow::EventSink;
use crate::model::{
    BodyKind, ConnId, Dir, Event, EventBody, Limits, Nanos, Pattern, PatternReport, Spread, Stamp,
};

/// Below this, a time is scheduling jitter, not a wait anyone chose (1 ms).
pub const NOISE_FLOOR_NS: u64 = 1_000_000;
/// A held response took at least this many times the conversation's fastest answer (or, when
/// empty, this many times the RTT).
pub const HOLD_RATIO: u64 = 10;
/// Long polling: the median hold is at least this many times the median interval.
pub const REASK_RATIO: u64 = 4;
/// Answered requests a long-polling conversation needs at least.
pub const LONG_POLL_MIN_REQUESTS: usize = 2;
/// Answered requests a short-polling conversation needs at least.
pub const POLL_MIN_REQUESTS: usize = 3;
/// A streamed body arrived in at least this many packets.
pub const STREAM_MIN_ARRIVALS: u32 = 3;
/// A streamed body's arrivals are spaced at least this many RTTs apart on average.
pub const STREAM_RTT_RATIO: u64 = 4;
/// Characters of a request target kept as a conversation's name.
pub const MAX_TARGET: usize = 256;

/// Identifies a conversation; increases in order of first request.
pub type ConvId = u32;

/// One request and its response, as times since the first packet (nanoseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub conn: ConnId,
    /// The request head.
    pub request: u64,
    /// The request's last byte (its head, or the end of its body).
    pub request_end: u64,
    /// The response head (`None` while unanswered).
    pub response: Option<u64>,
    /// The response's last byte (`None` while its body is still arriving).
    pub response_end: Option<u64>,
    pub status: Option<u16>,
    /// `Content-Type: text/event-stream`.
    pub event_stream: bool,
    /// Answered `101` with a WebSocket upgrade.
    pub upgrade: bool,
    /// Response body bytes.
    pub body_bytes: u64,
    /// Response body pieces carrying data.
    pub pieces: u32,
    /// Packets that carried response body data.
    pub arrivals: u32,
    pub first_arrival: Option<u64>,
    pub last_arrival: Option<u64>,
    /// Server-Sent Events of the response.
    pub sse_events: u32,
    /// Frame number of the last arrival (pieces in one packet count once).
    last_frame: u64,
}

impl Exchange {
    /// Request end to response head.
    pub fn held(&self) -> Option<u64> {
        self.response.map(|r| r.saturating_sub(self.request_end))
    }

    /// The response ended (or its head came) at this time.
    pub fn answered_at(&self) -> Option<u64> {
        self.response_end.or(self.response)
    }

    /// An answer that carries nothing: 204, 304, or no body bytes (what a long-poll timeout
    /// looks like).
    pub fn is_empty_answer(&self) -> bool {
        matches!(self.status, Some(204) | Some(304)) || self.body_bytes == 0
    }

    fn is_streamed(&self, rtt: Option<u64>) -> bool {
        if self.event_stream {
            return true;
        }
        if self.arrivals < STREAM_MIN_ARRIVALS {
            return false;
        }
        let (Some(a), Some(b)) = (self.first_arrival, self.last_arrival) else {
            return false;
        };
        let mean = b.saturating_sub(a) / u64::from(self.arrivals - 1);
        mean >= NOISE_FLOOR_NS && mean >= rtt.unwrap_or(0).saturating_mul(STREAM_RTT_RATIO)
    }
}

/// A timed thing that is not an exchange: a body arrival (server to client) or a WebSocket
/// message (either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    pub t: u64,
    pub dir: Dir,
    /// The exchange whose response body arrived (index into [`Conversation::exchanges`]);
    /// `None` for a WebSocket message.
    pub exchange: Option<u32>,
}

/// One client host talking to one server address about one request target.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: ConvId,
    pub client: IpAddr,
    pub server: SocketAddr,
    pub target: String,
    /// Connections used, in order of first use.
    pub conns: Vec<ConnId>,
    /// Requests seen (kept in `exchanges` up to the sample limit).
    pub requests: u32,
    pub exchanges: Vec<Exchange>,
    pub ticks: Vec<Tick>,
    /// WebSocket messages each way [c2s, s2c].
    pub ws_messages: [u64; 2],
    pub websocket: bool,
    /// Its requests fetch (GET, HEAD): only fetches can be short or long polling; a
    /// conversation of requests that send (POST...) is keyed `"POST /path"`.
    pub fetch: bool,
    /// First request head.
    pub first: u64,
    /// Last thing seen of the conversation.
    pub last: u64,
    pub bytes: [u64; 2],
    pub overhead: u64,
    /// Smallest handshake iRTT of its connections.
    pub rtt: Option<u64>,
    /// The classification as of the last [`PatternDetector::refresh`].
    pub report: Option<PatternReport>,
    dirty: bool,
    /// Activity counter value at the last event (least recently active goes first).
    touched: u64,
}

impl Conversation {
    /// Samples kept (exchanges and ticks).
    fn samples(&self) -> usize {
        self.exchanges.len() + self.ticks.len()
    }

    /// Classifies the conversation as it stands (see the module docs for the rules).
    pub fn classify(&self) -> Option<PatternReport> {
        let answered: Vec<&Exchange> = self
            .exchanges
            .iter()
            .filter(|x| x.response.is_some())
            .collect();
        let held_all: Vec<u64> = answered.iter().filter_map(|x| x.held()).collect();
        let intervals = intervals(&self.exchanges);
        let mut report = PatternReport {
            pattern: Pattern::ShortPolling,
            client: self.client.to_string(),
            server: self.server,
            target: self.target.clone(),
            start: Nanos(self.first),
            conns: self.conns.clone(),
            requests: self.requests,
            interval: spread(&intervals),
            held: spread(&held_all),
            chunks: None,
            chunk_spacing: None,
            sse_events: None,
            messages: None,
            duration: Nanos(self.last.saturating_sub(self.first)),
            bytes: self.bytes,
            overhead_bytes: self.overhead,
        };
        if self.websocket {
            report.pattern = Pattern::Websocket;
            report.messages = Some(self.ws_messages);
            report.interval = None;
            return Some(report);
        }
        let streamed: Vec<(usize, &Exchange)> = self
            .exchanges
            .iter()
            .enumerate()
            .filter(|(_, x)| x.is_streamed(self.rtt))
            .collect();
        if !streamed.is_empty() {
            report.pattern = Pattern::Streaming;
            report.chunks = Some(streamed.iter().map(|(_, x)| x.pieces).sum());
            let mut spacing = Vec::new();
            for (i, _) in &streamed {
                let mut prev = None;
                for tick in self.ticks.iter().filter(|t| t.exchange == Some(*i as u32)) {
                    if let Some(p) = prev {
                        spacing.push(tick.t.saturating_sub(p));
                    }
                    prev = Some(tick.t);
                }
            }
            report.chunk_spacing = spread(&spacing);
            if streamed.iter().any(|(_, x)| x.event_stream) {
                report.sse_events = Some(streamed.iter().map(|(_, x)| x.sse_events).sum());
            }
            return Some(report);
        }
        if !self.fetch {
            return None;
        }
        let held_median = median(&held_all);
        let interval_median = median(&intervals);
        if answered.len() >= LONG_POLL_MIN_REQUESTS {
            let fastest = held_all.iter().copied().min().unwrap_or(0);
            let held = answered
                .iter()
                .filter(|x| {
                    let Some(h) = x.held() else { return false };
                    h >= NOISE_FLOOR_NS
                        && (h >= fastest.saturating_mul(HOLD_RATIO)
                            || (x.is_empty_answer()
                                && h >= self.rtt.unwrap_or(0).saturating_mul(HOLD_RATIO)))
                })
                .count();
            if let (Some(hm), Some(im)) = (held_median, interval_median) {
                if held * 2 >= answered.len() && hm >= im.saturating_mul(REASK_RATIO) {
                    report.pattern = Pattern::LongPolling;
                    return Some(report);
                }
            }
        }
        if answered.len() >= POLL_MIN_REQUESTS {
            if let (Some(hm), Some(im)) = (held_median, interval_median) {
                if im >= NOISE_FLOOR_NS && im >= hm {
                    report.pattern = Pattern::ShortPolling;
                    return Some(report);
                }
            }
        }
        None
    }
}

/// The client's waits: previous response end to the next request, for consecutive exchanges
/// whose earlier one was answered.
fn intervals(xs: &[Exchange]) -> Vec<u64> {
    xs.windows(2)
        .filter_map(|w| match w {
            [a, b] => a.answered_at().map(|end| b.request.saturating_sub(end)),
            _ => None,
        })
        .collect()
}

/// Median of `v` (the mean of the two middle values for an even count).
fn median(v: &[u64]) -> Option<u64> {
    let mut s = v.to_vec();
    s.sort_unstable();
    let n = s.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => s.get(n / 2).copied(),
        _ => {
            let (a, b) = (s.get(n / 2 - 1)?, s.get(n / 2)?);
            Some(a / 2 + b / 2 + (a % 2 + b % 2) / 2)
        }
    }
}

/// min / median / max of `v`, `None` when empty.
pub fn spread(v: &[u64]) -> Option<Spread> {
    Some(Spread {
        min: Nanos(*v.iter().min()?),
        median: Nanos(median(v)?),
        max: Nanos(*v.iter().max()?),
    })
}

/// The target without its query string or fragment, cut at [`MAX_TARGET`] characters.
pub fn conversation_target(target: &str) -> &str {
    let path = target.split(['?', '#']).next().unwrap_or(target);
    match path.char_indices().nth(MAX_TARGET) {
        Some((i, _)) => path.get(..i).unwrap_or(path),
        None => path,
    }
}

/// Where an exchange lives: its conversation and its index there (`None` when the sample
/// limit left it out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    conv: ConvId,
    exchange: Option<u32>,
}

/// What the detector follows of one connection.
#[derive(Debug, Clone)]
struct ConnTrack {
    client: SocketAddr,
    server: SocketAddr,
    rtt: Option<u64>,
    /// Requests awaiting their response, oldest first.
    pending: VecDeque<Slot>,
    /// The request whose body is arriving.
    request: Option<Slot>,
    /// The response whose body is arriving.
    response: Option<Slot>,
    /// The last response begun (Server-Sent Events may be dispatched after its body ended).
    last_response: Option<Slot>,
    /// After a 101: the WebSocket's conversation.
    ws: Option<ConvId>,
}

/// Groups HTTP exchanges into conversations and classifies them. Bounded by [`Limits`]
/// (`max_conversations`, `max_pattern_samples`, `max_connections`, `max_pending_requests`).
#[derive(Debug, Clone)]
pub struct PatternDetector {
    limits: Limits,
    conns: HashMap<ConnId, ConnTrack>,
    /// By id: iteration in order of first request.
    convs: BTreeMap<ConvId, Conversation>,
    /// (client host, server) -> target -> conversation.
    index: HashMap<(IpAddr, SocketAddr), HashMap<String, ConvId>>,
    next_id: ConvId,
    /// Activity counter: bumped by every event that touches a conversation.
    clock: u64,
    /// Reports of conversations forgotten to make room, waiting for [`Self::take_forgotten`].
    forgotten: Vec<PatternReport>,
    /// Conversations forgotten so far.
    evicted: u64,
}

impl PatternDetector {
    pub fn new(limits: Limits) -> PatternDetector {
        PatternDetector {
            limits,
            conns: HashMap::new(),
            convs: BTreeMap::new(),
            index: HashMap::new(),
            next_id: 0,
            clock: 0,
            forgotten: Vec::new(),
            evicted: 0,
        }
    }

    /// The conversations tracked now, in order of first request.
    pub fn conversations(&self) -> impl Iterator<Item = &Conversation> {
        self.convs.values()
    }

    pub fn conversation(&self, id: ConvId) -> Option<&Conversation> {
        self.convs.get(&id)
    }

    /// Conversations forgotten to make room (see [`Limits::max_conversations`]).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Takes in one event. Cheap for the events it does not use (TCP segments).
    pub fn observe(&mut self, e: &Event) {
        let t = e.t.0;
        let Some(conn) = e.conn else { return };
        match &e.body {
            EventBody::Connection(info) if self.conns.len() < self.limits.max_connections => {
                let track = ConnTrack {
                    client: info.client,
                    server: info.server,
                    rtt: None,
                    pending: VecDeque::new(),
                    request: None,
                    response: None,
                    last_response: None,
                    ws: None,
                };
                self.conns.insert(conn, track);
            }
            EventBody::Handshake(h) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.rtt = Some(h.irtt.0);
                }
            }
            EventBody::HttpRequest(r) => self.request(conn, t, r),
            EventBody::HttpResponse(r) => self.response(conn, t, r),
            EventBody::HttpBody(b) => {
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                let (slot, dir) = match e.dir {
                    Some(Dir::C2s) => (c.request, Dir::C2s),
                    Some(Dir::S2c) => (c.response, Dir::S2c),
                    None => return,
                };
                if b.end {
                    match dir {
                        Dir::C2s => c.request = None,
                        Dir::S2c => c.response = None,
                    }
                }
                let Some(slot) = slot else { return };
                let budget = self.limits.max_pattern_samples;
                self.clock += 1;
                let clock = self.clock;
                let Some(v) = self.convs.get_mut(&slot.conv) else {
                    return;
                };
                v.touch(t, clock);
                v.bytes[dir.idx()] = v.bytes[dir.idx()].saturating_add(b.len);
                let has_room = v.samples() < budget;
                let Some(x) = slot.exchange.and_then(|i| v.exchanges.get_mut(i as usize)) else {
                    return;
                };
                match dir {
                    Dir::C2s => {
                        if b.end {
                            x.request_end = t;
                        }
                    }
                    Dir::S2c => {
                        x.body_bytes = x.body_bytes.saturating_add(b.len);
                        if b.len > 0 {
                            x.pieces = x.pieces.saturating_add(1);
                            if x.arrivals == 0 || x.last_frame != e.frame {
                                x.arrivals = x.arrivals.saturating_add(1);
                                x.last_frame = e.frame;
                                x.first_arrival.get_or_insert(t);
                                x.last_arrival = Some(t);
                                if has_room {
                                    v.ticks.push(Tick {
                                        t,
                                        dir: Dir::S2c,
                                        exchange: slot.exchange,
                                    });
                                }
                            }
                        }
                        if b.end {
                            x.response_end = Some(t);
                        }
                    }
                }
            }
            // A block that only set `retry:` or held comments dispatches no event.
            EventBody::SseEvent(ev) if ev.dispatched => {
                let Some(slot) = self
                    .conns
                    .get(&conn)
                    .and_then(|c| c.response.or(c.last_response))
                else {
                    return;
                };
                if let Some(x) = self
                    .convs
                    .get_mut(&slot.conv)
                    .and_then(|v| slot.exchange.and_then(|i| v.exchanges.get_mut(i as usize)))
                {
                    x.sse_events = x.sse_events.saturating_add(1);
                }
            }
            EventBody::WsFrame(f) => {
                let Some(id) = self.conns.get(&conn).and_then(|c| c.ws) else {
                    return;
                };
                let Some(dir) = e.dir else { return };
                if let Some(v) = self.convs.get_mut(&id) {
                    let n = u64::from(f.header_len);
                    v.bytes[dir.idx()] = v.bytes[dir.idx()]
                        .saturating_add(n)
                        .saturating_add(f.payload_len);
                    v.overhead = v.overhead.saturating_add(n);
                }
            }
            EventBody::WsMessage(_) => {
                let Some(id) = self.conns.get(&conn).and_then(|c| c.ws) else {
                    return;
                };
                let Some(dir) = e.dir else { return };
                self.clock += 1;
                let clock = self.clock;
                let budget = self.limits.max_pattern_samples;
                if let Some(v) = self.convs.get_mut(&id) {
                    v.touch(t, clock);
                    v.ws_messages[dir.idx()] = v.ws_messages[dir.idx()].saturating_add(1);
                    if v.samples() < budget {
                        v.ticks.push(Tick {
                            t,
                            dir,
                            exchange: None,
                        });
                    }
                }
            }
            EventBody::ConnectionEnd(_) => {
                let Some(c) = self.conns.remove(&conn) else {
                    return;
                };
                // A WebSocket lasts until its connection ends.
                if let Some(id) = c.ws {
                    self.clock += 1;
                    let clock = self.clock;
                    if let Some(v) = self.convs.get_mut(&id) {
                        v.touch(t, clock);
                    }
                }
            }
            _ => {}
        }
    }

    fn request(&mut self, conn: ConnId, t: u64, r: &crate::model::HttpRequest) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let (client, server, rtt) = (c.client, c.server, c.rtt);
        // Fetches (GET, HEAD) are the polls the lesson compares; a request that sends (POST,
        // PUT...) to the same target is another conversation: Engine.IO's long-polling
        // transport answers its POSTs at once while its GETs are held, and mixed together
        // neither shape would show.
        let path = conversation_target(&r.target);
        let keyed;
        let target = if ["GET", "HEAD"]
            .iter()
            .any(|m| r.method.eq_ignore_ascii_case(m))
        {
            path
        } else {
            keyed = format!("{} {path}", r.method.get(..16).unwrap_or(&r.method));
            keyed.as_str()
        };
        let Some(id) = self.conversation_for(client.ip(), server, target, t) else {
            return;
        };
        self.clock += 1;
        let clock = self.clock;
        let budget = self.limits.max_pattern_samples;
        let Some(v) = self.convs.get_mut(&id) else {
            return;
        };
        v.touch(t, clock);
        v.requests = v.requests.saturating_add(1);
        let head = u64::from(r.head_len);
        v.bytes[0] = v.bytes[0].saturating_add(head);
        v.overhead = v.overhead.saturating_add(head);
        if let Some(rtt) = rtt {
            v.rtt = Some(v.rtt.map_or(rtt, |m| m.min(rtt)));
        }
        if v.conns.last() != Some(&conn) && !v.conns.contains(&conn) && v.conns.len() < budget {
            v.conns.push(conn);
        }
        let exchange = (v.samples() < budget).then(|| {
            v.exchanges.push(Exchange {
                conn,
                request: t,
                request_end: t,
                response: None,
                response_end: None,
                status: None,
                event_stream: false,
                upgrade: false,
                body_bytes: 0,
                pieces: 0,
                arrivals: 0,
                first_arrival: None,
                last_arrival: None,
                sse_events: 0,
                last_frame: 0,
            });
            (v.exchanges.len() - 1) as u32
        });
        let slot = Slot { conv: id, exchange };
        let max_pending = self.limits.max_pending_requests.max(1);
        if let Some(c) = self.conns.get_mut(&conn) {
            if c.pending.len() >= max_pending {
                c.pending.pop_front();
            }
            c.pending.push_back(slot);
            c.request = (r.body != BodyKind::None).then_some(slot);
        }
    }

    fn response(&mut self, conn: ConnId, t: u64, r: &crate::model::HttpResponse) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        // RFC 9110 §15.2: 1xx answers are interim; the final answer is still to come (101
        // is final for HTTP: the connection switches protocols).
        let interim = (100..200).contains(&r.status) && r.status != 101;
        let slot = if interim {
            c.pending.front().copied()
        } else {
            c.pending.pop_front()
        };
        let Some(slot) = slot else { return };
        let upgrade = r.status == 101 && r.upgrade.is_some();
        if !interim {
            c.response = (r.body != BodyKind::None).then_some(slot);
            c.last_response = Some(slot);
            if upgrade {
                c.ws = Some(slot.conv);
            }
        }
        self.clock += 1;
        let clock = self.clock;
        let Some(v) = self.convs.get_mut(&slot.conv) else {
            return;
        };
        v.touch(t, clock);
        let head = u64::from(r.head_len);
        v.bytes[1] = v.bytes[1].saturating_add(head);
        v.overhead = v.overhead.saturating_add(head);
        if interim {
            return;
        }
        if upgrade {
            v.websocket = true;
        }
        let Some(x) = slot.exchange.and_then(|i| v.exchanges.get_mut(i as usize)) else {
            return;
        };
        x.response = Some(t);
        x.status = Some(r.status);
        x.upgrade = upgrade;
        x.event_stream = r.headers.iter().any(|(n, val)| {
            n.eq_ignore_ascii_case("content-type")
                && val
                    .trim_start()
                    .get(..17)
                    .is_some_and(|p| p.eq_ignore_ascii_case("text/event-stream"))
        });
        if r.body == BodyKind::None || upgrade {
            x.response_end = Some(t);
        }
    }

    /// The conversation of (client, server, target), created if new (forgetting the least
    /// recently active one when the table is full).
    fn conversation_for(
        &mut self,
        client: IpAddr,
        server: SocketAddr,
        target: &str,
        t: u64,
    ) -> Option<ConvId> {
        if let Some(&id) = self
            .index
            .get(&(client, server))
            .and_then(|m| m.get(target))
        {
            return Some(id);
        }
        if self.limits.max_conversations == 0 {
            return None;
        }
        if self.convs.len() >= self.limits.max_conversations {
            self.forget_oldest();
        }
        let id = self.next_id;
        self.next_id = self.next_id.checked_add(1)?;
        self.index
            .entry((client, server))
            .or_default()
            .insert(target.to_string(), id);
        self.convs.insert(
            id,
            Conversation {
                id,
                client,
                server,
                target: target.to_string(),
                conns: Vec::new(),
                requests: 0,
                exchanges: Vec::new(),
                ticks: Vec::new(),
                ws_messages: [0; 2],
                websocket: false,
                fetch: !target.contains(' '),
                first: t,
                last: t,
                bytes: [0; 2],
                overhead: 0,
                rtt: None,
                report: None,
                dirty: true,
                touched: 0,
            },
        );
        Some(id)
    }

    fn forget_oldest(&mut self) {
        let Some(id) = self
            .convs
            .values()
            .min_by_key(|v| (v.touched, v.id))
            .map(|v| v.id)
        else {
            return;
        };
        let Some(v) = self.convs.remove(&id) else {
            return;
        };
        self.evicted += 1;
        if let Some(m) = self.index.get_mut(&(v.client, v.server)) {
            m.remove(&v.target);
            if m.is_empty() {
                self.index.remove(&(v.client, v.server));
            }
        }
        if let Some(r) = v.classify() {
            self.forgotten.push(r);
        }
    }

    /// Appends a `pattern` event (stamped `stamp`) for each conversation forgotten to make
    /// room since the last call that showed a pattern.
    pub fn take_forgotten(&mut self, stamp: Stamp, out: &mut dyn EventSink) {
        for r in self.forgotten.drain(..) {
            out.push(stamp.event(None, None, EventBody::Pattern(Box::new(r))));
        }
    }

    /// Re-classifies the conversations that changed since the last call: afterwards each
    /// [`Conversation::report`] is current. Returns the ids of those whose classification
    /// changed. Cost: the changed conversations' samples.
    pub fn refresh(&mut self) -> Vec<ConvId> {
        let mut changed = Vec::new();
        for v in self.convs.values_mut().filter(|v| v.dirty) {
            let report = v.classify();
            v.dirty = false;
            if report != v.report {
                changed.push(v.id);
                v.report = report;
            }
        }
        changed
    }

    /// The patterns shown so far, in order of each conversation's first request.
    pub fn snapshot(&self) -> Vec<PatternReport> {
        self.convs.values().filter_map(|v| v.classify()).collect()
    }

    /// End of input: appends one `pattern` event per conversation that shows a pattern (and
    /// those of conversations forgotten earlier and not yet taken), stamped `stamp`.
    pub fn finish(&mut self, stamp: Stamp, out: &mut dyn EventSink) {
        self.take_forgotten(stamp, out);
        for r in self.snapshot() {
            out.push(stamp.event(None, None, EventBody::Pattern(Box::new(r))));
        }
    }
}

impl Conversation {
    fn touch(&mut self, t: u64, clock: u64) {
        self.last = self.last.max(t);
        self.touched = clock;
        self.dirty = true;
    }
}

#[cfg(test)]
mod tests;
