//! The event model: the one thing every view reads.
//!
//! The engine turns packets into a stream of [`Event`]s; the text, JSON, Mermaid and TUI views
//! render nothing else. Serialising an [`Event`] with serde gives the public JSON Lines schema
//! documented in the README (`kind`, `conn`, `t`, `dir`, then the kind's own fields), so the
//! field names here are a public interface: rename nothing without updating the README.

use std::net::SocketAddr;

use serde::{Serialize, Serializer};

mod tls;
pub use tls::*;

/// Connection number, in order of first appearance in the capture (0, 1, 2, ...).
pub type ConnId = u32;

/// Which way bytes travel on a connection. The client is the sender of the SYN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Dir {
    #[serde(rename = "c2s")]
    C2s,
    #[serde(rename = "s2c")]
    S2c,
}

impl Dir {
    /// The other direction.
    pub fn rev(self) -> Dir {
        match self {
            Dir::C2s => Dir::S2c,
            Dir::S2c => Dir::C2s,
        }
    }

    /// Index for per-direction arrays: c2s = 0, s2c = 1.
    pub fn idx(self) -> usize {
        match self {
            Dir::C2s => 0,
            Dir::S2c => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Dir::C2s => "c2s",
            Dir::S2c => "s2c",
        }
    }
}

/// A capture timestamp in nanoseconds since the Unix epoch, as the packet carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// Nanoseconds from `earlier` to `self`, zero if `earlier` is later (captures can go back in time).
    pub fn since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Seconds, serialised as a JSON number with nanosecond precision at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Nanos(pub u64);

impl Nanos {
    pub fn secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

impl Serialize for Nanos {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.secs_f64())
    }
}

/// When a packet was captured: absolute time, time since the first packet, and frame number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stamp {
    pub ts: Timestamp,
    pub t: Nanos,
    /// 1-based capture frame number.
    pub frame: u64,
}

impl Stamp {
    /// An event of `conn` stamped with this packet's time.
    pub fn event(self, conn: Option<ConnId>, dir: Option<Dir>, body: EventBody) -> Event {
        Event {
            ts: self.ts,
            t: self.t,
            frame: self.frame,
            conn,
            dir,
            body,
        }
    }
}

/// One thing that happened on the wire, at a point in capture time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Capture timestamp (absolute). Not serialised: JSON carries `t`.
    #[serde(skip)]
    pub ts: Timestamp,
    /// Time since the first packet of the capture.
    pub t: Nanos,
    /// 1-based number of the capture frame that completed this event (Wireshark's `frame.number`).
    pub frame: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conn: Option<ConnId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<Dir>,
    #[serde(flatten)]
    pub body: EventBody,
}

/// What happened. Serialised with `kind` as the tag.
///
/// The TUI keeps millions of events, so an [`Event`] is kept small (96 bytes; a test holds
/// it there): the kinds that come once per connection, per HTTP message or per WebSocket
/// message, or that are large (`connection`, `http_request`, `http_response`, `ws_message`,
/// `connection_end`, the subprotocols, `pattern`), are boxed; the per-segment and per-frame
/// kinds (`tcp`, `ws_frame`, `http_body`) and the small ones stay inline. A `Box<T>`
/// serialises as `T`, so the JSON is the same either way.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    /// A new connection; always the first event of its `conn`. It opens the connection's
    /// record at its first segment, before the outcome is known; `connection_end` completes
    /// the record with the final `state`.
    Connection(Box<ConnectionInfo>),
    /// One TCP segment as captured.
    Tcp(TcpSegment),
    /// The 3-way handshake completed (the client's ACK of the SYN-ACK arrived).
    Handshake(Handshake),
    /// The connection's state changed, or it switched to WebSocket: one event per change, at
    /// the segment (or the `101` response) that caused it. A connection starts `handshaking`
    /// (`established` when it was joined late); the last of these events gives its state.
    ConnectionState(StateChange),
    /// Bytes of one direction that never appeared in the capture; the stream skips them.
    Gap(Gap),
    HttpRequest(Box<HttpRequest>),
    HttpResponse(Box<HttpResponse>),
    /// A piece of an HTTP body: one chunk of a chunked body, or the bytes of a
    /// Content-Length / read-until-close body as they arrive.
    HttpBody(Box<HttpBody>),
    WsFrame(WsFrame),
    WsMessage(Box<WsMessage>),
    /// The peer broke a protocol rule; decoding goes on.
    Violation(Violation),
    /// A packet or stream that could not be decoded.
    Malformed(Malformed),
    /// Something worth knowing that is not damage: a stream synscope does not decode, a part
    /// of the conversation the capture does not hold, a secret it lacks. Decoding goes on.
    Note(Box<Note>),
    /// Bytes of a stream synscope does not decode (another protocol than HTTP, a tunnel), as
    /// they arrive: Wireshark's `data`. The `note` that said what the stream is comes first.
    Data(Box<Data>),
    /// The connection ended (FIN both ways, RST, or the end of the capture): the closing
    /// record, complete alone (endpoints, final `state`, counters).
    ConnectionEnd(Box<ConnectionEnd>),
    /// A Server-Sent Events event (`text/event-stream` body), as it arrived.
    SseEvent(Box<SseEvent>),
    /// A STOMP frame carried in a WebSocket message.
    Stomp(Box<StompFrame>),
    /// An Engine.IO packet (and the Socket.IO packet inside it), over HTTP long-polling or
    /// WebSocket.
    Socketio(Box<SocketIoPacket>),
    /// One TLS record (header, and once decrypted what it carried).
    TlsRecord(TlsRecord),
    /// One TLS handshake message, in the clear or decrypted.
    TlsHandshake(Box<TlsHandshake>),
    /// One TLS alert, in the clear or decrypted.
    TlsAlert(TlsAlert),
    /// A conversation classified as one of the lesson's patterns; no `conn` or `dir` (it
    /// spans connections: see `conns`). The engine emits them at the end of the input (after
    /// every `connection_end`), or when it forgets a conversation to make room.
    Pattern(Box<PatternReport>),
}

impl EventBody {
    /// The JSON `kind` string of this event.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::Connection(_) => "connection",
            EventBody::Tcp(_) => "tcp",
            EventBody::Handshake(_) => "handshake",
            EventBody::ConnectionState(_) => "connection_state",
            EventBody::Gap(_) => "gap",
            EventBody::HttpRequest(_) => "http_request",
            EventBody::HttpResponse(_) => "http_response",
            EventBody::HttpBody(_) => "http_body",
            EventBody::WsFrame(_) => "ws_frame",
            EventBody::WsMessage(_) => "ws_message",
            EventBody::Violation(_) => "violation",
            EventBody::Malformed(_) => "malformed",
            EventBody::Note(_) => "note",
            EventBody::Data(_) => "data",
            EventBody::ConnectionEnd(_) => "connection_end",
            EventBody::SseEvent(_) => "sse_event",
            EventBody::Stomp(_) => "stomp",
            EventBody::Socketio(_) => "socketio",
            EventBody::TlsRecord(_) => "tls_record",
            EventBody::TlsHandshake(_) => "tls_handshake",
            EventBody::TlsAlert(_) => "tls_alert",
            EventBody::Pattern(_) => "pattern",
        }
    }
}

/// Every `kind` an event can have, in schema order (used by tests and the explanations table).
pub const EVENT_KINDS: &[&str] = &[
    "connection",
    "tcp",
    "handshake",
    "connection_state",
    "gap",
    "http_request",
    "http_response",
    "http_body",
    "ws_frame",
    "ws_message",
    "violation",
    "malformed",
    "note",
    "data",
    "connection_end",
    "sse_event",
    "stomp",
    "socketio",
    "tls_record",
    "tls_handshake",
    "tls_alert",
    "pattern",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionInfo {
    #[serde(serialize_with = "ser_addr")]
    pub client: SocketAddr,
    #[serde(serialize_with = "ser_addr")]
    pub server: SocketAddr,
    /// The capture began after the SYN: client and server were guessed from the ports.
    pub joined_late: bool,
}

fn ser_addr<S: Serializer>(a: &SocketAddr, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(a)
}

/// TCP flag bits, in header order.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
    /// Names in the order synscope prints them.
    pub const NAMES: [(u8, &str); 8] = [
        (SYN, "SYN"),
        (ACK, "ACK"),
        (FIN, "FIN"),
        (RST, "RST"),
        (PSH, "PSH"),
        (URG, "URG"),
        (ECE, "ECE"),
        (CWR, "CWR"),
    ];
}

/// The TCP flags byte; serialised as an array of names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        tcp_flags::NAMES
            .into_iter()
            .filter(move |(b, _)| self.0 & b != 0)
            .map(|(_, n)| n)
    }
}

impl Serialize for TcpFlags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.names())
    }
}

/// Options carried by a SYN or SYN-ACK (the ones that shape the connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct TcpOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mss: Option<u16>,
    /// Window scale shift count (the multiplier is `1 << wscale`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wscale: Option<u8>,
    pub sack_perm: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts_val: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts_ecr: Option<u32>,
}

/// Wireshark-style analysis of one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TcpAnalysis {
    /// Carries bytes already seen (tcp.analysis.retransmission).
    Retransmission,
    /// Arrived after a later segment (tcp.analysis.out_of_order).
    OutOfOrder,
    /// Starts beyond the next expected byte: bytes missing from the capture
    /// (tcp.analysis.lost_segment, "previous segment not captured").
    LostSegment,
    /// A pure ACK repeating the previous one (tcp.analysis.duplicate_ack).
    DuplicateAck,
    /// Advertises a zero receive window (tcp.analysis.zero_window).
    ZeroWindow,
    /// One byte behind the next expected sequence number (tcp.analysis.keep_alive).
    KeepAlive,
    /// Acknowledges a keep-alive (tcp.analysis.keep_alive_ack).
    KeepAliveAck,
    /// Only the window changed (tcp.analysis.window_update).
    WindowUpdate,
    /// Acknowledges bytes never seen in the capture (tcp.analysis.ack_lost_segment).
    AckLostSegment,
    /// A retransmission of bytes the receiver had already acknowledged
    /// (tcp.analysis.spurious_retransmission; always listed with `retransmission`).
    SpuriousRetransmission,
    /// A retransmission right after two or more duplicate ACKs asked for it
    /// (tcp.analysis.fast_retransmission; always listed with `retransmission`).
    FastRetransmission,
    /// One byte sent into a zero receive window (tcp.analysis.zero_window_probe).
    ZeroWindowProbe,
    /// Acknowledges a zero window probe, window still zero (tcp.analysis.zero_window_probe_ack).
    ZeroWindowProbeAck,
    /// The data fills the receiver's advertised window to its edge (tcp.analysis.window_full).
    WindowFull,
    /// A SYN (or SYN-ACK) with a new ISN that starts a new connection on the 4-tuple of an
    /// earlier one (tcp.analysis.reused_ports).
    ReusedPorts,
}

/// A set of [`TcpAnalysis`] flags in one `u16` (a segment carries a few at most, most carry
/// none: a `Vec` per segment would cost 24 bytes inline). It iterates, and serialises as an
/// array of names, in Wireshark's order of checks (`tcp_analyze_sequence_number`, reused
/// ports first): the order of [`TcpAnalyses::ORDER`]. Adding a fast or spurious
/// retransmission adds `Retransmission` too, as tshark sets both fields.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpAnalyses(u16);

impl TcpAnalyses {
    /// Every flag, in output order.
    pub const ORDER: &'static [TcpAnalysis] = &[
        TcpAnalysis::ReusedPorts,
        TcpAnalysis::ZeroWindowProbe,
        TcpAnalysis::ZeroWindow,
        TcpAnalysis::LostSegment,
        TcpAnalysis::KeepAlive,
        TcpAnalysis::WindowUpdate,
        TcpAnalysis::WindowFull,
        TcpAnalysis::KeepAliveAck,
        TcpAnalysis::ZeroWindowProbeAck,
        TcpAnalysis::DuplicateAck,
        TcpAnalysis::AckLostSegment,
        TcpAnalysis::SpuriousRetransmission,
        TcpAnalysis::FastRetransmission,
        TcpAnalysis::OutOfOrder,
        TcpAnalysis::Retransmission,
    ];

    /// No flag.
    pub const EMPTY: TcpAnalyses = TcpAnalyses(0);

    fn bit(a: TcpAnalysis) -> u16 {
        1 << (a as u16)
    }

    /// Adds `a` (and `Retransmission` with a fast or spurious retransmission).
    pub fn insert(&mut self, a: TcpAnalysis) {
        self.0 |= Self::bit(a);
        if matches!(
            a,
            TcpAnalysis::FastRetransmission | TcpAnalysis::SpuriousRetransmission
        ) {
            self.0 |= Self::bit(TcpAnalysis::Retransmission);
        }
    }

    /// Whether `a` is in the set (by reference, as `Vec::contains` and `[T]::contains`).
    pub fn contains(&self, a: &TcpAnalysis) -> bool {
        self.0 & Self::bit(*a) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    pub fn len(&self) -> usize {
        self.0.count_ones() as usize
    }

    /// The flags in output order, as references into [`TcpAnalyses::ORDER`] (so that code
    /// written for a slice of flags reads them the same way).
    pub fn iter(&self) -> TcpAnalysesIter {
        TcpAnalysesIter {
            bits: self.0,
            next: 0,
        }
    }

    /// The first flag in output order.
    pub fn first(&self) -> Option<&'static TcpAnalysis> {
        self.iter().next()
    }
}

impl FromIterator<TcpAnalysis> for TcpAnalyses {
    fn from_iter<I: IntoIterator<Item = TcpAnalysis>>(iter: I) -> Self {
        let mut set = TcpAnalyses::EMPTY;
        for a in iter {
            set.insert(a);
        }
        set
    }
}

impl<const N: usize> From<[TcpAnalysis; N]> for TcpAnalyses {
    fn from(flags: [TcpAnalysis; N]) -> Self {
        flags.into_iter().collect()
    }
}

/// The flags of a [`TcpAnalyses`], in output order.
#[derive(Debug, Clone)]
pub struct TcpAnalysesIter {
    bits: u16,
    /// Position in [`TcpAnalyses::ORDER`] of the next flag to look at.
    next: usize,
}

impl Iterator for TcpAnalysesIter {
    type Item = &'static TcpAnalysis;
    fn next(&mut self) -> Option<&'static TcpAnalysis> {
        while let Some(a) = TcpAnalyses::ORDER.get(self.next) {
            self.next += 1;
            if self.bits & TcpAnalyses::bit(*a) != 0 {
                return Some(a);
            }
        }
        None
    }
}

impl IntoIterator for &TcpAnalyses {
    type Item = &'static TcpAnalysis;
    type IntoIter = TcpAnalysesIter;
    fn into_iter(self) -> TcpAnalysesIter {
        self.iter()
    }
}

/// Compares with a list of flags in output order (`assert_eq!(s.analysis, [OutOfOrder])`).
impl<const N: usize> PartialEq<[TcpAnalysis; N]> for TcpAnalyses {
    fn eq(&self, other: &[TcpAnalysis; N]) -> bool {
        self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for TcpAnalyses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for TcpAnalyses {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TcpSegment {
    pub flags: TcpFlags,
    /// Relative sequence number (0 = the SYN), as Wireshark counts it.
    pub seq: u32,
    /// Relative acknowledgement number; absent without the ACK flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack: Option<u32>,
    /// TCP payload bytes on the wire (from the IP length), even where the capture cut them short.
    pub len: u32,
    /// Receive window in bytes, scaled when the handshake negotiated a scale.
    pub win: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<TcpOptions>,
    #[serde(skip_serializing_if = "TcpAnalyses::is_empty")]
    pub analysis: TcpAnalyses,
    /// The capture holds fewer bytes than the wire carried (snaplen).
    #[serde(skip_serializing_if = "is_false")]
    pub truncated: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Handshake {
    /// SYN to SYN-ACK, as seen at the capture point.
    pub syn_ack_rtt: Nanos,
    /// SYN to the handshake's ACK: Wireshark's tcp.analysis.initial_rtt.
    pub irtt: Nanos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GapReason {
    /// The hole never filled before the connection moved on (end of capture, FIN, or the
    /// held-bytes cap was reached).
    NotCaptured,
    /// The packet was cut short by the capture's snap length.
    Truncated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// Relative sequence number of the first missing byte.
    pub seq: u32,
    /// How many bytes are missing.
    pub len: u32,
    pub reason: GapReason,
}

/// HTTP header list in wire order, values decoded lossily as UTF-8 and sanitised.
pub type Headers = Vec<(String, String)>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpRequest {
    pub method: String,
    pub target: String,
    /// "HTTP/1.0" or "HTTP/1.1".
    pub version: String,
    pub headers: Headers,
    /// Length of the request head in bytes (request line + headers + blank line).
    pub head_len: u32,
    /// Declared body framing: "none", "length", "chunked", "close".
    pub body: BodyKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyKind {
    None,
    Length,
    Chunked,
    Close,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpResponse {
    pub status: u16,
    pub reason: String,
    pub version: String,
    pub headers: Headers,
    pub head_len: u32,
    pub body: BodyKind,
    /// Method of the request this answers, when known ("GET", "HEAD"...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_method: Option<String>,
    /// How long the server took: from the request this answers (its last byte: the end of
    /// its head, or of its body) to this response's head, as Wireshark's `http.time`
    /// (pipelined requests are matched in order). `None` when the request was not captured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_since_request: Option<Nanos>,
    /// For a 101 answer to `Upgrade: websocket`: the handshake's details.
    #[serde(skip_serializing_if = "Option::is_none", flatten)]
    pub upgrade: Option<WsUpgrade>,
}

/// RFC 6455 §1.3: the GUID a server appends to the client's Sec-WebSocket-Key before hashing
/// it into Sec-WebSocket-Accept.
pub const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// What a WebSocket upgrade negotiated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WsUpgrade {
    /// Sec-WebSocket-Key from the request (its first 64 bytes if longer; a valid key has 24).
    pub key: String,
    /// Sec-WebSocket-Accept as the server sent it.
    pub accept: String,
    /// base64(SHA-1(key + [`WS_GUID`])): what it should be.
    pub accept_expected: String,
    pub accept_valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subprotocol: Option<String>,
    /// Sec-WebSocket-Extensions as answered by the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extensions: Option<String>,
    /// permessage-deflate parameters in force, when negotiated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deflate: Option<DeflateParams>,
}

impl WsUpgrade {
    /// The SHA-1 digest inside `accept_expected`, in hex: the middle step of the working
    /// (key + GUID, its SHA-1, then base64). `None` if `accept_expected` is not base64.
    pub fn expected_digest_hex(&self) -> Option<String> {
        use base64::Engine as _;
        use std::fmt::Write as _;
        let digest = base64::engine::general_purpose::STANDARD
            .decode(&self.accept_expected)
            .ok()?;
        let mut hex = String::with_capacity(digest.len() * 2);
        for b in digest {
            let _ = write!(hex, "{b:02x}");
        }
        Some(hex)
    }
}

/// RFC 7692 permessage-deflate parameters, as agreed by the server's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeflateParams {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    /// 8..=15; 15 when not given. As negotiated: zlib cannot use a window of 8 bits for raw
    /// deflate and uses 9 instead (inflating with 9 reads a stream written with 8 fine).
    pub server_max_window_bits: u8,
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    fn default() -> Self {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpBody {
    /// Body bytes in this piece (for a chunk: the chunk's data size).
    pub len: u64,
    /// 0-based chunk number for a chunked body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk: Option<u32>,
    /// This piece ends the body.
    pub end: bool,
    /// Bytes of this piece the capture lacks (a gap inside the body): counted in `len`, absent
    /// from `data`. A body with `missing > 0` is incomplete but its framing stayed in sync.
    #[serde(skip_serializing_if = "is_zero")]
    pub missing: u64,
    /// A UTF-8 preview of `data` (at most `Limits::max_text_preview` characters) when the
    /// message's content type is textual or absent, no content coding compresses it, and the
    /// kept bytes are UTF-8 (a character cut at their end is left out); `None` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Kept bytes of this piece (at most the display limit); not in JSON.
    #[serde(skip)]
    pub data: Payload,
}

/// WebSocket opcodes (RFC 6455 §5.2); reserved ones keep their number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
    Reserved(u8),
}

impl Opcode {
    pub fn from_u4(v: u8) -> Opcode {
        match v & 0x0f {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            n => Opcode::Reserved(n),
        }
    }
    pub fn is_control(self) -> bool {
        match self {
            Opcode::Close | Opcode::Ping | Opcode::Pong => true,
            Opcode::Reserved(n) => n >= 0x8,
            _ => false,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Opcode::Continuation => "continuation",
            Opcode::Text => "text",
            Opcode::Binary => "binary",
            Opcode::Close => "close",
            Opcode::Ping => "ping",
            Opcode::Pong => "pong",
            Opcode::Reserved(_) => "reserved",
        }
    }
}

impl Serialize for Opcode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Opcode::Reserved(n) => s.serialize_u8(*n),
            o => s.serialize_str(o.name()),
        }
    }
}

/// A WebSocket masking key (RFC 6455 §5.3), held as its 8 lowercase hex digits: it reads as
/// a `str` (through `Deref`) and serialises as one, with no heap string per frame.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MaskKey([u8; 8]);

impl MaskKey {
    pub fn new(key: [u8; 4]) -> MaskKey {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0u8; 8];
        for (pair, b) in hex.chunks_exact_mut(2).zip(key) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 0x0f)];
        }
        MaskKey(hex)
    }

    /// The 8 hex digits.
    pub fn as_str(&self) -> &str {
        // Always ASCII hex digits (built by `new` only), so never empty.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::ops::Deref for MaskKey {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for MaskKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for MaskKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for MaskKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WsFrame {
    pub opcode: Opcode,
    pub fin: bool,
    pub rsv1: bool,
    pub rsv2: bool,
    pub rsv3: bool,
    pub masked: bool,
    /// The 4-byte masking key, as 8 hex digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mask_key: Option<MaskKey>,
    /// Payload length as the header declares it.
    pub payload_len: u64,
    /// Header length in bytes (2 to 14).
    pub header_len: u8,
    /// Unmasked payload bytes kept for display (at most the display limit); not in JSON.
    #[serde(skip)]
    pub data: Payload,
    /// Payload bytes are missing (a capture gap inside it, or the stream ended first).
    #[serde(skip_serializing_if = "is_false")]
    pub incomplete: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WsMessage {
    pub opcode: Opcode,
    /// Payload length after unmasking, reassembly and inflation.
    pub len: u64,
    /// Sent with permessage-deflate (RSV1 on the first frame).
    pub compressed: bool,
    /// Number of frames the message was carried in.
    pub frames: u32,
    /// Text messages, close reasons and ping/pong payloads: a UTF-8 preview, cut at the
    /// preview limit (then `len` stays the full length).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Close frames: the status code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// Close frames: the RFC 6455 §7.4.1 name of the code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Payload kept for display (at most the display limit); not in JSON.
    #[serde(skip)]
    pub data: Payload,
    /// Part of the message is missing or could not be decoded (a capture gap, the stream
    /// ended, its start was lost, or inflation failed or hit its limit); `len` then counts
    /// only the bytes decoded.
    #[serde(skip_serializing_if = "is_false")]
    pub incomplete: bool,
}

/// Which layer an error or violation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    Capture,
    Link,
    Ip,
    Tcp,
    Http,
    Websocket,
    /// Server-Sent Events in a `text/event-stream` body.
    Sse,
    /// STOMP frames in WebSocket messages.
    Stomp,
    /// Engine.IO / Socket.IO packets (HTTP long-polling bodies or WebSocket messages).
    Socketio,
    /// TLS records, handshake messages, alerts, key logs and decryption.
    Tls,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub layer: Layer,
    /// Short machine-friendly name, e.g. "unmasked_client_frame".
    pub rule: &'static str,
    /// Human sentence with specifics.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Malformed {
    pub layer: Layer,
    pub detail: String,
}

/// A neutral remark from a decoder (see [`EventBody::Note`]): not a protocol error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub layer: Layer,
    /// Short machine-friendly name, stable across versions, e.g. `"not_http"`.
    pub note: &'static str,
    /// Human sentence with specifics.
    pub detail: String,
    /// Bytes the note speaks of, where it counts some (e.g. payload left undecoded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

/// Bytes of an undecoded stream (see [`EventBody::Data`]): one event per piece of the
/// in-order stream, normally one per segment, so that the `len` of a direction's `data`
/// events add up to the bytes it carried undecoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Data {
    /// Bytes in this piece.
    pub len: u64,
    /// A UTF-8 preview of the kept bytes (at most `Limits::max_text_preview` characters) when
    /// they are text: UTF-8 without control characters other than tab, CR and LF.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Kept bytes of the piece (at most the display limit); not in JSON.
    #[serde(skip)]
    pub data: Payload,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnState {
    /// SYN seen, handshake not complete.
    Handshaking,
    Established,
    /// FIN seen in one direction.
    Closing,
    /// FIN both ways.
    Closed,
    /// Reset after the handshake.
    Reset,
    /// The SYN was answered by RST.
    Refused,
}

impl ConnState {
    /// The JSON name (`"closed"`...).
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::Handshaking => "handshaking",
            ConnState::Established => "established",
            ConnState::Closing => "closing",
            ConnState::Closed => "closed",
            ConnState::Reset => "reset",
            ConnState::Refused => "refused",
        }
    }

    /// The state a connection starts in: `established` when the capture joined it late,
    /// `handshaking` otherwise.
    pub fn initial(joined_late: bool) -> ConnState {
        if joined_late {
            ConnState::Established
        } else {
            ConnState::Handshaking
        }
    }
}

/// A change of a connection's state (`connection_state`): `from` and `state` are the TCP state
/// before and after (equal when only `websocket` changed), `websocket` whether the connection
/// carries WebSocket from now on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StateChange {
    pub from: ConnState,
    pub state: ConnState,
    pub websocket: bool,
}

/// The closing record of a connection: `connection` opened it at the first segment,
/// `connection_end` completes it with the final `state` (`refused` when the SYN was answered
/// by RST, `reset` when an RST cut it later, `closed` after FIN both ways...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionEnd {
    /// The client (sender of the SYN), as in the connection's `connection` event.
    #[serde(serialize_with = "ser_addr")]
    pub client: SocketAddr,
    #[serde(serialize_with = "ser_addr")]
    pub server: SocketAddr,
    pub state: ConnState,
    /// Whether the connection switched to WebSocket.
    pub websocket: bool,
    pub duration: Nanos,
    /// Segments per direction [c2s, s2c].
    pub segments: [u64; 2],
    /// TCP payload bytes per direction [c2s, s2c].
    pub bytes: [u64; 2],
    /// The connection carried TLS: what was negotiated, and whether it was decrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSummary>,
}

/// One Server-Sent Events event (WHATWG HTML §9.2.6), dispatched at its blank line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SseEvent {
    /// The `event:` field; absent means the default type "message".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// The `id:` field, when this event set one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The `data:` lines joined with "\n" (a preview cut at the text preview limit).
    pub data: String,
    /// The `retry:` field (milliseconds), when this event set one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<u64>,
    /// Length in bytes of the joined data (UTF-8, "\n" between lines), even where `data` is cut.
    pub data_len: u64,
    /// The block's comment lines (`:` lines, which a browser ignores), joined with "\n", a
    /// preview cut at the text preview limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Whether a browser dispatches this block as an event: not when it had no `data` line
    /// (a block of only comments, `retry`, `id` or `event` fields), nor when the stream ended
    /// before its blank line. Such blocks are reported too, since their fields still apply.
    #[serde(skip_serializing_if = "is_true")]
    pub dispatched: bool,
    /// Bytes of the block are missing (a capture gap, or a body piece larger than the kept
    /// payload), or the stream ended before its blank line.
    #[serde(skip_serializing_if = "is_false")]
    pub incomplete: bool,
}

/// One STOMP 1.0-1.2 frame (<https://stomp.github.io/stomp-specification-1.2.html>).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StompFrame {
    /// CONNECT, STOMP, CONNECTED, SEND, SUBSCRIBE, UNSUBSCRIBE, ACK, NACK, BEGIN, COMMIT,
    /// ABORT, DISCONNECT, MESSAGE, RECEIPT, ERROR; "HEARTBEAT" for a bare end-of-line beat.
    pub command: String,
    pub headers: Headers,
    /// The body as text (a preview cut at the text preview limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Body length in bytes.
    pub body_len: u64,
    /// The frame is cut: the WebSocket message was larger than the kept payload, or was itself
    /// incomplete, and the frame runs past its kept bytes.
    #[serde(skip_serializing_if = "is_false")]
    pub incomplete: bool,
}

/// One Engine.IO packet, with the Socket.IO packet it carries when it is a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SocketIoPacket {
    /// "polling" (HTTP long-polling payload) or "websocket".
    pub transport: &'static str,
    /// Engine.IO packet type: "open", "close", "ping", "pong", "message", "upgrade", "noop".
    pub engine_type: &'static str,
    /// Socket.IO packet type for messages: "CONNECT", "DISCONNECT", "EVENT", "ACK",
    /// "CONNECT_ERROR" ("ERROR" in Socket.IO 2, Engine.IO 3), "BINARY_EVENT", "BINARY_ACK".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socketio_type: Option<&'static str>,
    /// Socket.IO namespace ("/" when not given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack_id: Option<u64>,
    /// EVENT / BINARY_EVENT: the event name (first array element).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// The arguments (or the open packet's JSON, or a probe's payload) as JSON text, preview-cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The session id: of the Engine.IO session in an open packet, of the Socket.IO socket in
    /// a Socket.IO 3+ CONNECT answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// BINARY_EVENT / BINARY_ACK: how many binary attachments follow the packet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments: Option<u32>,
    /// A binary message that a BINARY_EVENT / BINARY_ACK on the same connection announced:
    /// which of its attachments it is (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<u32>,
    /// A binary Engine.IO message (a Socket.IO attachment, counted, not decoded): its length
    /// in bytes (after base64 decoding on polling).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary_len: Option<u64>,
    /// The packet is cut (larger than the kept payload, or its bytes were not all captured):
    /// the fields hold what could be read.
    #[serde(skip_serializing_if = "is_false")]
    pub incomplete: bool,
}

impl SocketIoPacket {
    /// An Engine.IO packet of `engine_type` on `transport` with nothing else decoded yet.
    pub fn new(transport: &'static str, engine_type: &'static str) -> SocketIoPacket {
        SocketIoPacket {
            transport,
            engine_type,
            socketio_type: None,
            namespace: None,
            ack_id: None,
            event: None,
            data: None,
            sid: None,
            attachments: None,
            attachment: None,
            binary_len: None,
            incomplete: false,
        }
    }
}

/// The lesson's patterns (kebab-case in JSON, as the README documents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pattern {
    ShortPolling,
    LongPolling,
    Streaming,
    Websocket,
    /// A conversation reported earlier no longer shows a pattern (only in a report that
    /// replaces an earlier one: see [`PatternReport::conversation`]).
    None,
}

/// min / median / max of a set of durations, in seconds in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Spread {
    pub min: Nanos,
    pub median: Nanos,
    pub max: Nanos,
}

/// A conversation (client host -> server address + request target, across connections)
/// classified as a pattern, with the figures that justified it. A conversation is reported
/// while it goes on (updates) and once more when it ends (`is_final`); each report of a
/// conversation replaces the previous one (see [`crate::pattern`] for when they come).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatternReport {
    pub pattern: Pattern,
    /// Stable id of the conversation: increases in order of each conversation's start; every
    /// report of one conversation carries the same id.
    pub conversation: u32,
    /// The last report of this conversation (it ended, or the capture did); `false` for an
    /// update while it goes on.
    #[serde(rename = "final")]
    pub is_final: bool,
    /// Client host (address without port).
    pub client: String,
    /// Server address and port.
    #[serde(serialize_with = "ser_addr")]
    pub server: SocketAddr,
    /// Request target without its query string (e.g. "/poll"), cut at 256 characters.
    pub target: String,
    /// When the conversation began (time since the first packet): its first request; for a
    /// WebSocket, its connection's first packet.
    pub start: Nanos,
    /// Connections the conversation used.
    pub conns: Vec<ConnId>,
    /// HTTP requests (for websocket: the upgrade requests).
    pub requests: u32,
    /// Time from a response's end to the next request (short polling: the polling interval;
    /// long polling: near zero).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Spread>,
    /// Time the server took before each response began (from the request's last byte). For
    /// long polling: over the requests it held (see [`crate::pattern`]); otherwise over every
    /// answered request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<Spread>,
    /// Streaming: body pieces carrying data (chunks of a chunked body, or the segments of a
    /// body without chunks) of the streamed responses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks: Option<u32>,
    /// Streaming: time between consecutive arrivals of body data (pieces that came in the same
    /// packet count once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk_spacing: Option<Spread>,
    /// Streaming: Server-Sent Events in `text/event-stream` responses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sse_events: Option<u32>,
    /// WebSocket: messages each way [c2s, s2c].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<[u64; 2]>,
    /// From `start` to the last thing seen of the conversation (so far, in an update); for a
    /// WebSocket, its connection's lifetime.
    pub duration: Nanos,
    /// Bytes of the conversation's HTTP messages (heads and bodies, chunk-size lines not
    /// counted) and WebSocket frames (headers and payloads) each way [c2s, s2c], and how many
    /// of them were HTTP heads or WebSocket frame headers: the pattern's overhead.
    pub bytes: [u64; 2],
    pub overhead_bytes: u64,
}

/// Bytes kept for display, bounded by the caller's limit; `total` is how long the original was.
/// A boxed slice, not a `Vec`: no spare capacity is kept with the event (build it with
/// `vec.into()`, which gives back what a `Vec` reserved beyond its length).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Payload {
    pub kept: Box<[u8]>,
    pub total: u64,
}

impl Payload {
    /// Keep at most `limit` bytes of `data`.
    pub fn capped(data: &[u8], limit: usize) -> Payload {
        Payload {
            kept: data.get(..limit).unwrap_or(data).into(),
            total: data.len() as u64,
        }
    }
    pub fn is_cut(&self) -> bool {
        (self.kept.len() as u64) < self.total
    }
}

/// Named limits: every buffer the engine keeps is bounded by one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Out-of-order bytes held per connection direction before the hole is declared a gap.
    pub max_held_bytes: usize,
    /// Memory held out of order by all connections together (bytes plus a per-piece cost,
    /// `flow::PIECE_COST`); a stream that would pass it declares its hole a gap. Suricata's
    /// `stream.reassembly.memcap`, whose default this is.
    pub max_held_total: usize,
    /// Largest HTTP head (request/status line + headers) buffered before it is declared malformed.
    pub max_http_head: usize,
    /// Most headers parsed per HTTP head.
    pub max_http_headers: usize,
    /// Payload bytes kept per event for display (hex dump, detail pane).
    pub max_kept_payload: usize,
    /// Characters of text preview kept in `ws_message.text` and `http_body.text`.
    pub max_text_preview: usize,
    /// WebSocket message size that bounds inflation work: one compressed message stops being
    /// inflated after 64 times this many output bytes (a decompression bomb). UTF-8 checks and
    /// inflation stream, so no message is buffered whole; only its first bytes are kept.
    pub max_message: usize,
    /// Largest subprotocol message decoded: a Server-Sent Event (its lines), a STOMP frame,
    /// an Engine.IO packet. They are decoded as their bytes arrive, whatever their size, and
    /// only previews are kept, so this bounds no memory: one that reaches it is reported at
    /// once, `incomplete`, with its lengths so far, and the rest of it is skipped (so an event
    /// that never ends still shows, and `incomplete` always names a cause).
    pub max_subprotocol_message: usize,
    /// Most connections tracked at once; the oldest closed ones are forgotten first.
    pub max_connections: usize,
    /// Client bytes held after a WebSocket upgrade request until the server answers (they are
    /// WebSocket frames after a 101, HTTP otherwise); beyond it they are counted, not kept.
    pub max_upgrade_hold: usize,
    /// Requests awaiting their response per connection (pipelining); beyond it the oldest is
    /// forgotten.
    pub max_pending_requests: usize,
    /// Conversations the pattern detector tracks at once; beyond it the least recently active
    /// one is reported (if it shows a pattern) and forgotten.
    pub max_conversations: usize,
    /// Timing samples (exchanges, body arrivals, WebSocket messages) kept per conversation;
    /// beyond it events are still counted but their times are not kept.
    pub max_pattern_samples: usize,
    /// Largest TLS handshake message reassembled for parsing (a certificate chain is the
    /// largest there is); a longer one is reported and skipped, not buffered.
    pub max_tls_handshake: usize,
    /// Record bytes a TLS connection holds while it waits for its secrets from a key log that
    /// is still growing (`live`, `demo`); beyond it they are shown undecrypted.
    pub max_tls_key_wait: usize,
    /// TLS sessions (client randoms) a key log keeps secrets for; lines for more are counted
    /// and ignored.
    pub max_keylog_sessions: usize,
    /// Bytes read from key logs (files and pcapng Decryption Secrets Blocks) in all; the rest
    /// is ignored, with a note.
    pub max_keylog_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_held_bytes: 4 << 20,
            max_held_total: 256 << 20,
            max_http_head: 64 << 10,
            max_http_headers: 100,
            max_kept_payload: 4096,
            max_text_preview: 256,
            max_message: 1 << 20,
            max_subprotocol_message: 16 << 20,
            max_connections: 65_536,
            max_upgrade_hold: 64 << 10,
            max_pending_requests: 1024,
            max_conversations: 1024,
            max_pattern_samples: 1024,
            max_tls_handshake: 64 << 10,
            max_tls_key_wait: 1 << 20,
            max_keylog_sessions: 65_536,
            max_keylog_bytes: 64 << 20,
        }
    }
}

/// RFC 6455 §7.4.1 (and the IANA registry) name of a close code.
pub fn close_code_name(code: u16) -> &'static str {
    match code {
        1000 => "Normal Closure",
        1001 => "Going Away",
        1002 => "Protocol Error",
        1003 => "Unsupported Data",
        1005 => "No Status Received",
        1006 => "Abnormal Closure",
        1007 => "Invalid Payload Data",
        1008 => "Policy Violation",
        1009 => "Message Too Big",
        1010 => "Mandatory Extension",
        1011 => "Internal Error",
        1012 => "Service Restart",
        1013 => "Try Again Later",
        1014 => "Bad Gateway",
        1015 => "TLS Handshake",
        3000..=3999 => "Registered",
        4000..=4999 => "Private Use",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_of_a_tcp_event() {
        let e = Event {
            ts: Timestamp(5),
            t: Nanos(1_500),
            frame: 3,
            conn: Some(0),
            dir: Some(Dir::C2s),
            body: EventBody::Tcp(TcpSegment {
                flags: TcpFlags(tcp_flags::SYN | tcp_flags::ACK),
                seq: 0,
                ack: Some(1),
                len: 0,
                win: 65483,
                options: None,
                analysis: [TcpAnalysis::DuplicateAck].into(),
                truncated: false,
            }),
        };
        let j = serde_json::to_string(&e).unwrap();
        assert_eq!(
            j,
            r#"{"t":1.5e-6,"frame":3,"conn":0,"dir":"c2s","kind":"tcp","flags":["SYN","ACK"],"seq":0,"ack":1,"len":0,"win":65483,"analysis":["duplicate_ack"]}"#
        );
    }

    #[test]
    fn reserved_opcode_serialises_as_number() {
        assert_eq!(serde_json::to_string(&Opcode::Reserved(3)).unwrap(), "3");
        assert_eq!(serde_json::to_string(&Opcode::Ping).unwrap(), "\"ping\"");
        assert!(Opcode::Reserved(0xB).is_control());
        assert!(!Opcode::Reserved(0x3).is_control());
    }

    #[test]
    fn an_event_stays_small() {
        // The TUI keeps up to `tui::MAX_EVENTS` (4 million) events: 96 bytes each is 384 MB
        // (328 bytes, 1.3 GB, before the large kinds were boxed). An inline variant larger
        // than `WsFrame` (56 bytes) would grow every event.
        assert_eq!(std::mem::size_of::<Event>(), 96);
        assert_eq!(std::mem::size_of::<EventBody>(), 56);
        for (size, what) in [
            (std::mem::size_of::<TcpSegment>(), "tcp"),
            (std::mem::size_of::<WsFrame>(), "ws_frame"),
            (std::mem::size_of::<Violation>(), "violation"),
        ] {
            assert!(size <= 56, "{what}: {size} bytes");
        }
    }

    #[test]
    fn analysis_flags_serialise_in_wiresharks_order() {
        let mut set = TcpAnalyses::EMPTY;
        assert!(set.is_empty());
        assert_eq!(serde_json::to_string(&set).unwrap(), "[]");
        set.insert(TcpAnalysis::DuplicateAck);
        set.insert(TcpAnalysis::FastRetransmission);
        set.insert(TcpAnalysis::ReusedPorts);
        // Fast retransmission brings retransmission; the order is the checks', not insertion.
        assert_eq!(set.len(), 4);
        assert_eq!(
            set,
            [
                TcpAnalysis::ReusedPorts,
                TcpAnalysis::DuplicateAck,
                TcpAnalysis::FastRetransmission,
                TcpAnalysis::Retransmission
            ]
        );
        assert_eq!(
            serde_json::to_string(&set).unwrap(),
            r#"["reused_ports","duplicate_ack","fast_retransmission","retransmission"]"#
        );
        assert!(set.contains(&TcpAnalysis::Retransmission));
        assert!(!set.contains(&TcpAnalysis::OutOfOrder));
        assert_eq!(set.first(), Some(&TcpAnalysis::ReusedPorts));
        assert_eq!(
            format!("{set:?}"),
            "[ReusedPorts, DuplicateAck, FastRetransmission, Retransmission]"
        );
        // Every flag has a bit of its own and a place in the order.
        let all: TcpAnalyses = TcpAnalyses::ORDER.iter().copied().collect();
        assert_eq!(all.len(), TcpAnalyses::ORDER.len());
        assert!(all.iter().eq(TcpAnalyses::ORDER.iter()));
    }

    #[test]
    fn mask_key_reads_and_serialises_as_hex() {
        let k = MaskKey::new([0x37, 0xfa, 0x21, 0x0d]);
        assert_eq!(k.as_str(), "37fa210d");
        assert_eq!(&*k, "37fa210d");
        assert_eq!(format!("{k} {k:?}"), "37fa210d \"37fa210d\"");
        assert_eq!(serde_json::to_string(&k).unwrap(), "\"37fa210d\"");
    }

    #[test]
    fn payload_keeps_no_spare_capacity() {
        let p = Payload::capped(&[7; 100], 10);
        assert_eq!((p.kept.len(), p.total, p.is_cut()), (10, 100, true));
        let p = Payload::capped(b"ab", 10);
        assert_eq!((&p.kept[..], p.is_cut()), (&b"ab"[..], false));
    }

    #[test]
    fn every_kind_is_listed() {
        let b = EventBody::Gap(Gap {
            seq: 0,
            len: 1,
            reason: GapReason::NotCaptured,
        });
        assert!(EVENT_KINDS.contains(&b.kind()));
        assert_eq!(EVENT_KINDS.len(), 22);
    }
}
