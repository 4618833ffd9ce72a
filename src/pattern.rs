//! Pattern detection: which of the lesson's pictures (short polling, long polling, streaming,
//! WebSocket) the HTTP traffic of a capture draws, reported while the capture runs.
//!
//! [`PatternDetector::observe`] takes in every event the engine emits and groups HTTP
//! exchanges into *conversations*. The engine passes each event to the detector, then the
//! `pattern` events the detector has for it ([`PatternDetector::take_reports`]), so live
//! capture, replay and the demo all see a conversation's report as soon as it shows a
//! pattern, its updates, and a final report when it ends; [`PatternDetector::finish`] ends
//! the conversations still going at the end of the input.
//!
//! # Conversations
//!
//! - A conversation is one client host (address without port) asking one server (address
//!   and port) for one request target (without its query string), across connections.
//!   Requests that send (anything but GET and HEAD) are their own conversation, keyed
//!   `"POST /path"`: Engine.IO answers its POSTs at once while its GETs are held, and mixed
//!   together neither shape would show.
//! - A WebSocket conversation is its upgraded connection: a request that asks for
//!   `Upgrade: websocket` starts a conversation of its own connection, which ends with the
//!   connection. Its `start` is the connection's first packet and its `duration` the
//!   connection's lifetime ("open 3.2 s"), whatever else the client asked of that target.
//! - A conversation ends at a pause much longer than its own rhythm, and a new one starts
//!   with the next request (the demo's rounds come out as separate conversations):
//!   - Its *rhythm* is the median time between its requests (request to next request: a
//!     poll's period, a long poll's hold plus re-ask). It ends when its next request comes
//!     [`PAUSE_RATIO`] times its rhythm or more after the last thing it saw (and at least
//!     [`NOISE_FLOOR_NS`]).
//!   - A conversation of one request has no rhythm yet: it ends at a *pause* of its client
//!     host and server. The pair is *silent* while no request of theirs awaits an answer, no
//!     body is arriving and no WebSocket is open; a silence shorter than [`NOISE_FLOOR_NS`]
//!     is not one (requests back to back, a long poll asked again). A silence is a pause when
//!     it lasts [`PAUSE_RATIO`] times the median of the pair's last [`SILENCES_KEPT`]
//!     silences or more: the pair's own rhythm. Its first silence is never one: nothing tells
//!     its scale yet. A pause also ends every conversation of the pair whose own rule above
//!     says so. (A median, not the longest: one pause missed must not hide the next ones,
//!     and pauses, kept among the silences, stay few of them; a pause seen where there was
//!     none costs little, as only conversations without a rhythm end at it.)
//!
//!   So a page fetched once per demo round ends at the pause between rounds, and three visits
//!   by hand stay one conversation whose irregular intervals are not polling (below). The
//!   demo pauses [`crate::demo::show`]'s `ROUND_PAUSE_STEPS` paces between rounds; inside a
//!   round the pair is never silent for much more than one pace.
//!
//! # Figures
//!
//! For each exchange (a request and its response, matched in order per connection):
//! - **held** (the server's time): from the request's last byte (the head, or the end of its
//!   body) to the response head (the `http_response`'s `time_since_request`).
//! - **interval** (the client's wait): from the previous exchange's response end (its last
//!   body byte, or its head when it has no body) to the next request's head, in the order the
//!   requests were seen, across connections (so it includes closing and reopening a
//!   connection). The **period** is request head to next request head.
//! - **arrivals**: the packets that carried data of the response body (chunks that came in one
//!   packet count once); their spacing is the time between consecutive arrivals.
//! - **RTT**: the handshake's iRTT (SYN to the handshake's ACK), the smallest over the
//!   conversation's connections; unknown when the capture joined late.
//!
//! # Rules, first match wins
//!
//! Loopback captures are fast (the committed ones step every 20 ms), so the rules compare
//! figures with each other (ratios), above small absolute floors: [`NOISE_FLOOR_NS`] (below
//! it a time is scheduling jitter, not intent) and [`HOLD_FLOOR_NS`].
//!
//! 1. **websocket**: the conversation's upgrade request was answered `101` with a WebSocket
//!    upgrade. Figures: messages each way, the connection's lifetime.
//! 2. **streaming**: a response is `text/event-stream`, or its body arrived in at least
//!    [`STREAM_MIN_ARRIVALS`] packets whose mean spacing is at least [`NOISE_FLOOR_NS`] and
//!    [`STREAM_RTT_RATIO`] times the RTT: data trickling in as the server has it, not a
//!    download that the network delivers back to back. Figures: chunks, their spacing.
//! 3. **long-polling**: the server holds requests and the client asks again at once. A
//!    response is *held* when the server took at least [`HOLD_FLOOR_NS`] and at least
//!    [`HOLD_RTT_RATIO`] times the RTT: well above jitter and the network's own time. Long
//!    polling needs at least [`LONG_POLL_MIN_REQUESTS`] requests, at least half of the
//!    answered ones held, and the client's median wait after a held answer at most
//!    1/[`REASK_RATIO`] of the median hold. Whether the holds vary (news at random times)
//!    or are all alike (a server-side timeout or tick) does not matter. A slow server whose
//!    client waits between requests is not long polling: its client's wait is not much
//!    smaller than the server's time (it is short polling when regular). `held` is over the
//!    held requests.
//! 4. **short-polling**: at least [`POLL_MIN_REQUESTS`] requests at roughly regular
//!    intervals, and the client waits (median interval at least [`NOISE_FLOOR_NS`]).
//!    *Regular*: all intervals but one in [`IRREGULAR_ONE_IN`] (none of fewer than five) lie
//!    within ±[`REGULAR_SPREAD_PERCENT`] % of their median or within [`JITTER_NS`] of it,
//!    for the waits (a client that waits a fixed time after each answer) or for the periods
//!    (a timer that fires every so often). Over new connections or one kept-alive
//!    connection alike (see `conns`). Three visits by hand 2 s and 5 s apart are not
//!    regular; three visits 3.0 s and 3.1 s apart are, and look like polling on the wire.
//!
//! Anything else (a single request, requests sent back to back, irregular visits) shows no
//! pattern.
//!
//! # Reports while the capture runs
//!
//! Every report carries its conversation's id (`conversation`) and whether it is the last
//! (`final`); a view keeps the latest report per id. To keep the volume low whatever the
//! load, the detector re-classifies a conversation only every so often (after each of its
//! first 8 events, then each time its event count has grown by an eighth, and when
//! [`UPDATE_GAP_NS`] of capture time passed since), and emits:
//! - an update as soon as a conversation first shows a pattern;
//! - an update when its pattern changed (to [`Pattern::None`] if it no longer shows one), its
//!   count grew [`COUNT_GROWTH`]-fold (requests; messages for a WebSocket; chunks for a
//!   stream) or a median figure (interval, held, chunk spacing) moved by
//!   [`FIGURE_CHANGE_PERCENT`] % or more (and by [`NOISE_FLOOR_NS`] at least) since the last
//!   report, and at most one such update
//!   per [`UPDATE_GAP_NS`] of capture time per conversation (a change within that time is
//!   reported once it has passed, or in the final report);
//! - a final report when it ends (see above; at the end of the input for the others), if it
//!   showed a pattern at any time: its pattern then, or `none`.
//!
//! A conversation of n requests gives at most about log2(n) + (its duration / 1 s) + 2
//! reports. The report's `conns`, `target`, `start` and `duration` tell a view which events
//! belong to it: the `http_request`s on those connections whose target without query is
//! `target` (for a send: `METHOD target`), from `start` to `start + duration`, and their
//! responses; for a WebSocket, every event of its one connection.
//!
//! # Bounds
//!
//! [`Limits::max_conversations`] conversations kept at once (the least recently active is
//! ended, reported and forgotten to make room; ended ones stay for views until then);
//! [`Limits::max_pattern_samples`] timing samples per conversation (exchanges and arrivals;
//! beyond it they are counted, not kept, and the figures are over the kept ones);
//! [`Limits::max_connections`] connections followed; [`Limits::max_pending_requests`]
//! unanswered requests per connection. A pause ends at most the conversations of its pair.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use crate::flow::{EventSink, FxBuild};
use crate::model::{
    BodyKind, ConnId, Dir, Event, EventBody, Limits, Nanos, Pattern, PatternReport, Spread, Stamp,
};

/// Below this, a time is scheduling jitter, not a wait anyone chose (1 ms).
pub const NOISE_FLOOR_NS: u64 = 1_000_000;
/// A held response took at least this long (10 ms, ten noise floors)...
pub const HOLD_FLOOR_NS: u64 = 10 * NOISE_FLOOR_NS;
/// ...and at least this many times the RTT.
pub const HOLD_RTT_RATIO: u64 = 10;
/// Long polling: the median hold is at least this many times the client's median wait after
/// a held answer.
pub const REASK_RATIO: u64 = 4;
/// Requests a long-polling conversation needs at least (a held answer and the next request).
pub const LONG_POLL_MIN_REQUESTS: usize = 2;
/// Requests a short-polling conversation needs at least.
pub const POLL_MIN_REQUESTS: usize = 3;
/// Short polling: intervals lie within this many percent of their median...
pub const REGULAR_SPREAD_PERCENT: u64 = 25;
/// ...or within this much of it (a loaded machine's timers are that coarse: 10 ms)...
pub const JITTER_NS: u64 = 10_000_000;
/// ...all but one in this many (none of fewer).
pub const IRREGULAR_ONE_IN: usize = 5;
/// A streamed body arrived in at least this many packets.
pub const STREAM_MIN_ARRIVALS: u32 = 3;
/// A streamed body's arrivals are spaced at least this many RTTs apart on average.
pub const STREAM_RTT_RATIO: u64 = 4;
/// A pause ends a conversation when it is this many times longer than its rhythm.
pub const PAUSE_RATIO: u64 = 4;
/// At most one update per conversation per this much capture time (1 s), apart from the
/// first; also how often a busy conversation is re-classified at least.
pub const UPDATE_GAP_NS: u64 = 1_000_000_000;
/// A median figure moved by this many percent since the last report: worth an update.
pub const FIGURE_CHANGE_PERCENT: u64 = 25;
/// A count grew this many times since the last report: worth an update.
pub const COUNT_GROWTH: u64 = 2;
/// Characters of a request target kept as a conversation's name.
pub const MAX_TARGET: usize = 256;
/// Silences of a client host and server kept to tell a pause (their median is the pair's
/// rhythm).
pub const SILENCES_KEPT: usize = 16;
/// Events of a conversation classified one by one before the schedule thins out.
const CLASSIFY_EVERY_EVENT: u64 = 8;

/// Identifies a conversation; increases in order of each conversation's start.
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

    /// The server held this request: it took at least [`HOLD_FLOOR_NS`] and
    /// [`HOLD_RTT_RATIO`] times `rtt` to answer.
    pub fn is_held(&self, rtt: Option<u64>) -> bool {
        self.held().is_some_and(|h| {
            h >= HOLD_FLOOR_NS && h >= rtt.unwrap_or(0).saturating_mul(HOLD_RTT_RATIO)
        })
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

/// What the last report of a conversation said, to tell whether a new one is worth sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shown {
    pattern: Pattern,
    /// Capture time of the report.
    at: u64,
    count: u64,
    /// Medians of interval, held, chunk spacing.
    medians: [Option<u64>; 3],
}

impl Shown {
    fn of(r: &PatternReport, at: u64) -> Shown {
        Shown {
            pattern: r.pattern,
            at,
            count: count(r),
            medians: medians(r),
        }
    }

    /// Whether `r` (`None`: no pattern) says enough more than this to be reported.
    fn differs(&self, r: Option<&PatternReport>) -> bool {
        let Some(r) = r else {
            return self.pattern != Pattern::None;
        };
        if r.pattern != self.pattern {
            return true;
        }
        let n = count(r);
        if n >= self.count.max(1).saturating_mul(COUNT_GROWTH) {
            return true;
        }
        self.medians
            .iter()
            .zip(medians(r))
            .any(|(&was, now)| match (was, now) {
                (Some(a), Some(b)) => {
                    let d = a.abs_diff(b);
                    d >= NOISE_FLOOR_NS
                        && u128::from(d) * 100
                            >= u128::from(a.max(1)) * u128::from(FIGURE_CHANGE_PERCENT)
                }
                (a, b) => a.is_some() != b.is_some(),
            })
    }
}

/// What a pattern counts: requests, a WebSocket's messages, a stream's chunks.
fn count(r: &PatternReport) -> u64 {
    match r.pattern {
        Pattern::Websocket => r.messages.map_or(0, |[a, b]| a.saturating_add(b)),
        Pattern::Streaming => u64::from(r.chunks.unwrap_or(0)),
        _ => u64::from(r.requests),
    }
}

fn medians(r: &PatternReport) -> [Option<u64>; 3] {
    [r.interval, r.held, r.chunk_spacing].map(|s| s.map(|s| s.median.0))
}

/// One client host talking to one server address about one request target (or over one
/// upgraded connection).
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
    /// Its upgrade request was answered 101: a WebSocket.
    pub websocket: bool,
    /// The connection of a conversation started by a WebSocket upgrade request: the
    /// conversation is that connection.
    pub ws_conn: Option<ConnId>,
    /// Its requests fetch (GET, HEAD): only fetches can be short or long polling; a
    /// conversation of requests that send (POST...) is keyed `"POST /path"`.
    pub fetch: bool,
    /// First request head.
    pub first: u64,
    /// Last thing seen of the conversation.
    pub last: u64,
    /// The first packet of a WebSocket conversation's connection.
    pub opened: Option<u64>,
    pub bytes: [u64; 2],
    pub overhead: u64,
    /// Smallest handshake iRTT of its connections.
    pub rtt: Option<u64>,
    /// It ended (a pause, its connection's end, or the end of the input): later requests
    /// start a new conversation.
    pub ended: bool,
    /// The classification as of the last [`PatternDetector::refresh`].
    pub report: Option<PatternReport>,
    /// Changed since the last [`PatternDetector::refresh`].
    dirty: bool,
    /// Median period between its requests, as of the last classification.
    rhythm: Option<u64>,
    /// Events that touched it, and their count and time at the last classification.
    changes: u64,
    classified_changes: u64,
    classified_at: u64,
    /// The last report sent, if any.
    shown: Option<Shown>,
    /// A change worth reporting waits for [`UPDATE_GAP_NS`] to pass.
    update_waiting: bool,
    /// Activity counter value at the last event (least recently active goes first).
    touched: u64,
}

impl Conversation {
    fn new(id: ConvId, client: IpAddr, server: SocketAddr, target: &str, t: u64) -> Self {
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
            ws_conn: None,
            fetch: !target.contains(' '),
            first: t,
            last: t,
            opened: None,
            bytes: [0; 2],
            overhead: 0,
            rtt: None,
            ended: false,
            report: None,
            dirty: true,
            rhythm: None,
            changes: 0,
            classified_changes: 0,
            classified_at: t,
            shown: None,
            update_waiting: false,
            touched: 0,
        }
    }

    /// Samples kept (exchanges and ticks).
    fn samples(&self) -> usize {
        self.exchanges.len() + self.ticks.len()
    }

    /// Its figures, whatever it shows (`pattern` is [`Pattern::None`]).
    fn figures(&self) -> PatternReport {
        let held: Vec<u64> = self.exchanges.iter().filter_map(Exchange::held).collect();
        let start = self.opened.unwrap_or(self.first);
        PatternReport {
            pattern: Pattern::None,
            conversation: self.id,
            is_final: false,
            client: self.client.to_string(),
            server: self.server,
            target: self.target.clone(),
            start: Nanos(start),
            conns: self.conns.clone(),
            requests: self.requests,
            interval: spread(&intervals(&self.exchanges)),
            held: spread(&held),
            chunks: None,
            chunk_spacing: None,
            sse_events: None,
            messages: None,
            duration: Nanos(self.last.saturating_sub(start)),
            bytes: self.bytes,
            overhead_bytes: self.overhead,
        }
    }

    /// Classifies the conversation as it stands (see the module docs for the rules).
    pub fn classify(&self) -> Option<PatternReport> {
        if self.websocket {
            let mut report = self.figures();
            report.pattern = Pattern::Websocket;
            report.messages = Some(self.ws_messages);
            report.interval = None;
            return Some(report);
        }
        if self.ws_conn.is_some() {
            // An upgrade that was refused, or not answered yet.
            return None;
        }
        let rtt = self.rtt;
        let streamed: Vec<(usize, &Exchange)> = self
            .exchanges
            .iter()
            .enumerate()
            .filter(|(_, x)| x.is_streamed(rtt))
            .collect();
        if !streamed.is_empty() {
            let mut report = self.figures();
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
        let xs = &self.exchanges;
        // Long polling: held answers, each followed at once by the next request.
        let answered = xs.iter().filter(|x| x.response.is_some()).count();
        let holds: Vec<u64> = xs
            .iter()
            .filter(|x| x.is_held(rtt))
            .filter_map(Exchange::held)
            .collect();
        let reasks: Vec<u64> = xs
            .windows(2)
            .filter_map(|w| match w {
                [a, b] if a.is_held(rtt) => a.answered_at().map(|e| b.request.saturating_sub(e)),
                _ => None,
            })
            .collect();
        if xs.len() >= LONG_POLL_MIN_REQUESTS && holds.len() * 2 >= answered {
            if let (Some(h), Some(w)) = (median(&holds), median(&reasks)) {
                if w.saturating_mul(REASK_RATIO) <= h {
                    let mut report = self.figures();
                    report.pattern = Pattern::LongPolling;
                    report.held = spread(&holds);
                    return Some(report);
                }
            }
        }
        // Short polling: regular requests, the client waiting in between.
        if xs.len() >= POLL_MIN_REQUESTS {
            let waits = intervals(xs);
            let periods: Vec<u64> = xs
                .windows(2)
                .filter_map(|w| match w {
                    [a, b] => Some(b.request.saturating_sub(a.request)),
                    _ => None,
                })
                .collect();
            let waits_floor = median(&waits).is_some_and(|m| m >= NOISE_FLOOR_NS);
            if waits_floor && (regular(&waits) || regular(&periods)) {
                let mut report = self.figures();
                report.pattern = Pattern::ShortPolling;
                return Some(report);
            }
        }
        None
    }

    /// The median period between its requests, once it has two.
    fn compute_rhythm(&self) -> Option<u64> {
        let periods: Vec<u64> = self
            .exchanges
            .windows(2)
            .filter_map(|w| match w {
                [a, b] => Some(b.request.saturating_sub(a.request)),
                _ => None,
            })
            .collect();
        median(&periods)
    }

    /// Whether a classification is due at `t` (see the module docs: the schedule).
    fn due(&self, t: u64) -> bool {
        let step = (self.classified_changes / CLASSIFY_EVERY_EVENT).max(1);
        let gap_passed = t >= self.classified_at.saturating_add(UPDATE_GAP_NS);
        let waiting = self.update_waiting
            && self
                .shown
                .is_some_and(|s| t >= s.at.saturating_add(UPDATE_GAP_NS));
        self.changes >= self.classified_changes.saturating_add(step) || gap_passed || waiting
    }

    /// Whether a request at `t` comes after a pause much longer than its rhythm.
    fn paused_before(&self, t: u64) -> bool {
        self.rhythm.is_some_and(|r| {
            let wait = t.saturating_sub(self.last);
            wait >= NOISE_FLOOR_NS && wait >= r.saturating_mul(PAUSE_RATIO)
        })
    }

    fn touch(&mut self, t: u64, clock: u64) {
        self.last = self.last.max(t);
        self.touched = clock;
        self.dirty = true;
        self.changes = self.changes.saturating_add(1);
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

/// At least two values, all but one in [`IRREGULAR_ONE_IN`] within
/// ±[`REGULAR_SPREAD_PERCENT`] % of their median or [`JITTER_NS`] of it.
fn regular(v: &[u64]) -> bool {
    if v.len() < 2 {
        return false;
    }
    let Some(m) = median(v) else { return false };
    let tolerance =
        (u128::from(m) * u128::from(REGULAR_SPREAD_PERCENT) / 100).max(u128::from(JITTER_NS));
    let off = v
        .iter()
        .filter(|&&x| u128::from(x.abs_diff(m)) > tolerance)
        .count();
    off <= v.len() / IRREGULAR_ONE_IN
}

/// Median of `v` (the mean of the two middle values for an even count).
fn median(v: &[u64]) -> Option<u64> {
    median_sorted(&mut v.to_vec())
}

/// [`median`] of `s`, sorting it in place.
fn median_sorted(s: &mut [u64]) -> Option<u64> {
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

/// The conversation key of a request: a fetch (GET, HEAD) by its target without the query
/// ([`conversation_target`]); any other method as `"METHOD /path"` (a send is never a poll:
/// Engine.IO answers its POSTs at once while its GETs are held, and mixed together neither
/// shape would show). A report's `target` is this key.
pub fn request_key<'a>(method: &str, target: &'a str) -> Cow<'a, str> {
    let path = conversation_target(target);
    if ["GET", "HEAD"]
        .iter()
        .any(|m| method.eq_ignore_ascii_case(m))
    {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(format!("{} {path}", method.get(..16).unwrap_or(method)))
    }
}

/// Whether a request (`method`, `target`, seen at `t`) on one of `r.conns` belongs to the
/// conversation `r` reports: same key ([`request_key`]) and within `start..=start +
/// duration`. Its response and body are the ones answering it on its connection; for a
/// WebSocket conversation, every later event of its one connection belongs to it too.
pub fn belongs(r: &PatternReport, method: &str, target: &str, t: Nanos) -> bool {
    let end = r.start.0.saturating_add(r.duration.0);
    (r.start.0..=end).contains(&t.0) && request_key(method, target) == r.target.as_str()
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

/// A client host and a server address.
type PairKey = (IpAddr, SocketAddr);

/// What the detector follows of a client host and a server: their live conversations by
/// target, and their silences (see the module docs: pauses).
#[derive(Debug, Clone, Default)]
struct Pair {
    /// Live (not ended) fetch and send conversations by target.
    targets: HashMap<String, ConvId>,
    /// Connections followed.
    conns: u32,
    /// Connections with something in flight.
    busy: u32,
    /// When the pair last fell silent (`None` while busy, or before its first request).
    quiet_since: Option<u64>,
    /// Its last silences (pauses too), at most [`SILENCES_KEPT`].
    silences: VecDeque<u64>,
}

/// What the detector follows of one connection.
#[derive(Debug, Clone)]
struct ConnTrack {
    client: SocketAddr,
    server: SocketAddr,
    rtt: Option<u64>,
    /// Its first packet.
    opened: u64,
    /// Requests awaiting their response, oldest first.
    pending: VecDeque<Slot>,
    /// The request whose body is arriving.
    request: Option<Slot>,
    /// The response whose body is arriving.
    response: Option<Slot>,
    /// The last response begun (Server-Sent Events may be dispatched after its body ended).
    last_response: Option<Slot>,
    /// The conversation of its WebSocket upgrade request.
    ws_conv: Option<ConvId>,
    /// The upgrade was answered 101: the connection is a WebSocket.
    upgraded: bool,
    /// Something is in flight (counted in its pair's `busy`).
    busy: bool,
}

impl ConnTrack {
    fn pair(&self) -> PairKey {
        (self.client.ip(), self.server)
    }

    fn in_flight(&self) -> bool {
        !self.pending.is_empty()
            || self.request.is_some()
            || self.response.is_some()
            || self.upgraded
    }
}

/// Groups HTTP exchanges into conversations and classifies them. Bounded by [`Limits`]
/// (`max_conversations`, `max_pattern_samples`, `max_connections`, `max_pending_requests`).
#[derive(Debug, Clone)]
pub struct PatternDetector {
    limits: Limits,
    /// FxHash, not SipHash: looked up for most events of an HTTP or WebSocket connection.
    conns: HashMap<ConnId, ConnTrack, FxBuild>,
    /// By id: iteration in order of start.
    convs: BTreeMap<ConvId, Conversation>,
    pairs: HashMap<PairKey, Pair, FxBuild>,
    next_id: ConvId,
    /// Activity counter: bumped by every event that touches a conversation.
    clock: u64,
    /// Whether reports are made (see [`PatternDetector::reporting`]).
    reporting: bool,
    /// Reports waiting for [`Self::take_reports`].
    out: Vec<PatternReport>,
    /// Conversations forgotten so far.
    evicted: u64,
}

impl PatternDetector {
    /// A detector that groups and classifies (see [`Self::refresh`]) but makes no reports.
    pub fn new(limits: Limits) -> PatternDetector {
        PatternDetector {
            limits,
            conns: HashMap::with_hasher(FxBuild::random()),
            convs: BTreeMap::new(),
            pairs: HashMap::with_hasher(FxBuild::random()),
            next_id: 0,
            clock: 0,
            reporting: false,
            out: Vec::new(),
            evicted: 0,
        }
    }

    /// A detector that also makes the `pattern` reports (the engine's): take them with
    /// [`Self::take_reports`] after each event.
    pub fn reporting(limits: Limits) -> PatternDetector {
        PatternDetector {
            reporting: true,
            ..PatternDetector::new(limits)
        }
    }

    /// The conversations kept now (ended ones too), in order of start.
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
        let touched = match &e.body {
            EventBody::Connection(info) => {
                if self.conns.len() < self.limits.max_connections && !self.conns.contains_key(&conn)
                {
                    let track = ConnTrack {
                        client: info.client,
                        server: info.server,
                        rtt: None,
                        opened: t,
                        pending: VecDeque::new(),
                        request: None,
                        response: None,
                        last_response: None,
                        ws_conv: None,
                        upgraded: false,
                        busy: false,
                    };
                    let pair = self.pairs.entry(track.pair()).or_default();
                    pair.conns = pair.conns.saturating_add(1);
                    self.conns.insert(conn, track);
                }
                return;
            }
            EventBody::Handshake(h) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.rtt = Some(h.irtt.0);
                }
                return;
            }
            // Only requests, responses and bodies change what a connection has in flight
            // (`ConnTrack::in_flight`): its pair's busy count follows them alone.
            EventBody::HttpRequest(r) => {
                let id = self.request(conn, t, r);
                self.update_busy(conn, t);
                id
            }
            EventBody::HttpResponse(r) => {
                let id = self.response(conn, t, r);
                self.update_busy(conn, t);
                id
            }
            EventBody::HttpBody(b) => {
                let id = self.body(conn, e, b);
                self.update_busy(conn, t);
                id
            }
            // A block that only set `retry:` or held comments dispatches no event.
            EventBody::SseEvent(ev) if ev.dispatched => {
                self.sse_event(conn);
                return;
            }
            EventBody::WsFrame(f) => {
                self.ws_frame(conn, e.dir, f);
                return;
            }
            EventBody::WsMessage(_) => self.ws_message(conn, e.dir, t),
            EventBody::ConnectionEnd(_) => {
                self.connection_end(conn, t);
                return;
            }
            _ => return,
        };
        if let Some(id) = touched {
            self.changed(id, t);
        }
    }

    /// The WebSocket conversation of an upgraded connection.
    fn ws_of(&self, conn: ConnId) -> Option<ConvId> {
        self.conns
            .get(&conn)
            .filter(|c| c.upgraded)
            .and_then(|c| c.ws_conv)
    }

    fn sse_event(&mut self, conn: ConnId) {
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

    fn ws_frame(&mut self, conn: ConnId, dir: Option<Dir>, f: &crate::model::WsFrame) {
        let (Some(id), Some(dir)) = (self.ws_of(conn), dir) else {
            return;
        };
        if let Some(v) = self.convs.get_mut(&id) {
            let n = u64::from(f.header_len);
            v.bytes[dir.idx()] = v.bytes[dir.idx()]
                .saturating_add(n)
                .saturating_add(f.payload_len);
            v.overhead = v.overhead.saturating_add(n);
        }
    }

    fn ws_message(&mut self, conn: ConnId, dir: Option<Dir>, t: u64) -> Option<ConvId> {
        let id = self.ws_of(conn)?;
        let dir = dir?;
        self.clock += 1;
        let clock = self.clock;
        let budget = self.limits.max_pattern_samples;
        let v = self.convs.get_mut(&id)?;
        v.touch(t, clock);
        v.ws_messages[dir.idx()] = v.ws_messages[dir.idx()].saturating_add(1);
        if v.samples() < budget {
            v.ticks.push(Tick {
                t,
                dir,
                exchange: None,
            });
        }
        Some(id)
    }

    fn body(&mut self, conn: ConnId, e: &Event, b: &crate::model::HttpBody) -> Option<ConvId> {
        let t = e.t.0;
        let c = self.conns.get_mut(&conn)?;
        let (slot, dir) = match e.dir? {
            Dir::C2s => (c.request, Dir::C2s),
            Dir::S2c => (c.response, Dir::S2c),
        };
        if b.end {
            match dir {
                Dir::C2s => c.request = None,
                Dir::S2c => c.response = None,
            }
        }
        let slot = slot?;
        let budget = self.limits.max_pattern_samples;
        self.clock += 1;
        let clock = self.clock;
        let v = self.convs.get_mut(&slot.conv)?;
        v.touch(t, clock);
        v.bytes[dir.idx()] = v.bytes[dir.idx()].saturating_add(b.len);
        let has_room = v.samples() < budget;
        let Some(x) = slot.exchange.and_then(|i| v.exchanges.get_mut(i as usize)) else {
            return Some(slot.conv);
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
        Some(slot.conv)
    }

    fn connection_end(&mut self, conn: ConnId, t: u64) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        let key = c.pair();
        if let Some(pair) = self.pairs.get_mut(&key) {
            pair.conns = pair.conns.saturating_sub(1);
            if c.busy {
                pair.busy = pair.busy.saturating_sub(1);
                if pair.busy == 0 {
                    pair.quiet_since = Some(t);
                }
            }
            if pair.conns == 0 && pair.targets.is_empty() {
                self.pairs.remove(&key);
            }
        }
        // A WebSocket conversation is its connection: it lasts until the connection ends.
        if let Some(id) = c.ws_conv {
            self.clock += 1;
            let clock = self.clock;
            if let Some(v) = self.convs.get_mut(&id) {
                v.touch(t, clock);
            }
            self.end(id, t);
        }
    }

    /// Keeps the pair's count of busy connections in step with `conn`.
    fn update_busy(&mut self, conn: ConnId, t: u64) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let busy = c.in_flight();
        if busy == c.busy {
            return;
        }
        c.busy = busy;
        let Some(pair) = self.pairs.get_mut(&c.pair()) else {
            return;
        };
        if busy {
            pair.busy = pair.busy.saturating_add(1);
            pair.quiet_since = None;
        } else {
            pair.busy = pair.busy.saturating_sub(1);
            if pair.busy == 0 {
                pair.quiet_since = Some(t);
            }
        }
    }

    /// A request of `key` comes at `t`: if the pair was silent, measure the silence, and at a
    /// pause end the conversations it ends (see the module docs).
    fn silence_ends(&mut self, key: PairKey, t: u64) {
        let Some(pair) = self.pairs.get_mut(&key) else {
            return;
        };
        if pair.busy > 0 {
            return;
        }
        let Some(quiet) = pair.quiet_since.take() else {
            return;
        };
        let silence = t.saturating_sub(quiet);
        if silence < NOISE_FLOOR_NS {
            // Back to back: a burst, or a long poll asked again, not a silence.
            return;
        }
        // The median of at most SILENCES_KEPT values, sorted on the stack: no allocation per
        // request.
        let mut kept = [0u64; SILENCES_KEPT];
        let n = pair.silences.len().min(SILENCES_KEPT);
        for (k, s) in kept.iter_mut().zip(&pair.silences) {
            *k = *s;
        }
        let pause =
            median_sorted(&mut kept[..n]).is_some_and(|m| silence >= m.saturating_mul(PAUSE_RATIO));
        if pair.silences.len() >= SILENCES_KEPT {
            pair.silences.pop_front();
        }
        pair.silences.push_back(silence);
        if !pause {
            return;
        }
        let mut ids: Vec<ConvId> = pair.targets.values().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let ends = self
                .convs
                .get(&id)
                .is_some_and(|v| v.rhythm.is_none() || v.paused_before(t));
            if ends {
                self.end(id, t);
            }
        }
    }

    fn request(&mut self, conn: ConnId, t: u64, r: &crate::model::HttpRequest) -> Option<ConvId> {
        let c = self.conns.get(&conn)?;
        let (client, server, rtt, key, opened, ws_conv) =
            (c.client, c.server, c.rtt, c.pair(), c.opened, c.ws_conv);
        self.silence_ends(key, t);
        let upgrade = r.headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("upgrade")
                && v.split(',')
                    .any(|p| p.trim().eq_ignore_ascii_case("websocket"))
        });
        let keyed = request_key(&r.method, &r.target);
        let target: &str = &keyed;
        let id = if upgrade {
            match ws_conv.filter(|id| self.convs.get(id).is_some_and(|v| !v.ended)) {
                Some(id) => id,
                None => {
                    let id = self.create(client.ip(), server, target, t, None)?;
                    if let Some(v) = self.convs.get_mut(&id) {
                        v.ws_conn = Some(conn);
                        v.opened = Some(opened);
                    }
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.ws_conv = Some(id);
                    }
                    id
                }
            }
        } else {
            let live = self
                .pairs
                .get(&key)
                .and_then(|p| p.targets.get(target))
                .copied();
            match live {
                Some(id) if !self.convs.get(&id).is_some_and(|v| v.paused_before(t)) => id,
                live => {
                    if let Some(id) = live {
                        self.end(id, t);
                    }
                    self.create(client.ip(), server, target, t, Some(key))?
                }
            }
        };
        self.clock += 1;
        let clock = self.clock;
        let budget = self.limits.max_pattern_samples;
        let v = self.convs.get_mut(&id)?;
        v.touch(t, clock);
        v.requests = v.requests.saturating_add(1);
        let head = u64::from(r.head_len);
        v.bytes[0] = v.bytes[0].saturating_add(head);
        v.overhead = v.overhead.saturating_add(head);
        if let Some(rtt) = rtt {
            v.rtt = Some(v.rtt.map_or(rtt, |m| m.min(rtt)));
        }
        if !v.conns.contains(&conn) && v.conns.len() < budget {
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
        Some(id)
    }

    fn response(&mut self, conn: ConnId, t: u64, r: &crate::model::HttpResponse) -> Option<ConvId> {
        let c = self.conns.get_mut(&conn)?;
        // RFC 9110 §15.2: 1xx answers are interim; the final answer is still to come (101
        // is final for HTTP: the connection switches protocols).
        let interim = (100..200).contains(&r.status) && r.status != 101;
        let slot = if interim {
            c.pending.front().copied()
        } else {
            c.pending.pop_front()
        }?;
        let upgrade = r.status == 101 && r.upgrade.is_some();
        if !interim {
            c.response = (r.body != BodyKind::None).then_some(slot);
            c.last_response = Some(slot);
            if upgrade && c.ws_conv == Some(slot.conv) {
                c.upgraded = true;
            }
        }
        self.clock += 1;
        let clock = self.clock;
        let v = self.convs.get_mut(&slot.conv)?;
        v.touch(t, clock);
        let head = u64::from(r.head_len);
        v.bytes[1] = v.bytes[1].saturating_add(head);
        v.overhead = v.overhead.saturating_add(head);
        if interim {
            return Some(slot.conv);
        }
        if upgrade && v.ws_conn == Some(conn) {
            v.websocket = true;
        }
        let Some(x) = slot.exchange.and_then(|i| v.exchanges.get_mut(i as usize)) else {
            return Some(slot.conv);
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
        Some(slot.conv)
    }

    /// A new conversation (forgetting the least recently active one when the table is
    /// full); `pair`: listed there by target (not for a WebSocket conversation).
    fn create(
        &mut self,
        client: IpAddr,
        server: SocketAddr,
        target: &str,
        t: u64,
        pair: Option<PairKey>,
    ) -> Option<ConvId> {
        if self.limits.max_conversations == 0 {
            return None;
        }
        while self.convs.len() >= self.limits.max_conversations {
            self.forget_oldest(t);
        }
        let id = self.next_id;
        self.next_id = self.next_id.checked_add(1)?;
        if let Some(key) = pair {
            self.pairs
                .entry(key)
                .or_default()
                .targets
                .insert(target.to_string(), id);
        }
        self.convs
            .insert(id, Conversation::new(id, client, server, target, t));
        Some(id)
    }

    /// Ends (and reports) the least recently active conversation and forgets it.
    fn forget_oldest(&mut self, t: u64) {
        let Some(id) = self
            .convs
            .values()
            .min_by_key(|v| (!v.ended, v.touched, v.id))
            .map(|v| v.id)
        else {
            return;
        };
        self.end(id, t);
        if self.convs.remove(&id).is_some() {
            self.evicted += 1;
        }
    }

    /// Something touched conversation `id` at `t`: re-classify when due, and report what is
    /// worth reporting (see the module docs).
    fn changed(&mut self, id: ConvId, t: u64) {
        let reporting = self.reporting;
        let Some(v) = self.convs.get_mut(&id) else {
            return;
        };
        if v.ended || !v.due(t) {
            return;
        }
        v.classified_changes = v.changes;
        v.classified_at = t;
        v.rhythm = v.compute_rhythm();
        if !reporting {
            return;
        }
        let report = v.classify();
        let send = match &v.shown {
            None => report.is_some(),
            Some(s) if s.differs(report.as_ref()) => {
                let ready = t >= s.at.saturating_add(UPDATE_GAP_NS);
                v.update_waiting = !ready;
                ready
            }
            Some(_) => {
                v.update_waiting = false;
                false
            }
        };
        if send {
            let r = report.unwrap_or_else(|| v.figures());
            v.shown = Some(Shown::of(&r, t));
            v.update_waiting = false;
            self.out.push(r);
        }
    }

    /// Conversation `id` ended at `t`: later requests start a new one; its final report goes
    /// out if it showed a pattern at any time.
    fn end(&mut self, id: ConvId, t: u64) {
        let reporting = self.reporting;
        let Some(v) = self.convs.get_mut(&id) else {
            return;
        };
        if v.ended {
            return;
        }
        v.ended = true;
        v.dirty = true;
        v.rhythm = v.compute_rhythm();
        if let Some(pair) = self.pairs.get_mut(&(v.client, v.server)) {
            if pair.targets.get(&v.target) == Some(&id) {
                pair.targets.remove(&v.target);
            }
        }
        if !reporting {
            return;
        }
        let report = v.classify();
        if report.is_some() || v.shown.is_some() {
            let mut r = report.unwrap_or_else(|| v.figures());
            r.is_final = true;
            v.shown = Some(Shown::of(&r, t));
            self.out.push(r);
        }
    }

    /// Appends the reports made since the last call as `pattern` events stamped `stamp`.
    pub fn take_reports(&mut self, stamp: Stamp, out: &mut dyn EventSink) {
        // Called after every event; almost always there is nothing.
        if self.out.is_empty() {
            return;
        }
        for r in self.out.drain(..) {
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

    /// The patterns shown so far (ended conversations' too), in order of start.
    pub fn snapshot(&self) -> Vec<PatternReport> {
        self.convs.values().filter_map(|v| v.classify()).collect()
    }

    /// End of input: ends every conversation still going (their final reports) and appends
    /// the reports not yet taken, stamped `stamp`.
    pub fn finish(&mut self, stamp: Stamp, out: &mut dyn EventSink) {
        let live: Vec<ConvId> = self
            .convs
            .values()
            .filter(|v| !v.ended)
            .map(|v| v.id)
            .collect();
        for id in live {
            self.end(id, stamp.t.0);
        }
        self.take_reports(stamp, out);
    }
}

#[cfg(test)]
mod tests;
