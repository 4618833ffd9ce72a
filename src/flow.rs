//! TCP connections: tracking by 4-tuple, relative sequence numbers, Wireshark-style analysis,
//! and reassembly into one in-order byte stream per direction.
//!
//! Contract of [`FlowTable::ingest`]: for each segment it appends, in this order,
//! `connection_end` of a connection the segment replaces (port reuse) or evicts (table full),
//! `connection` when the segment opens a new connection, the segment's `tcp` event, then
//! `handshake` when it completes the 3-way handshake and `connection_state` when it moves the
//! connection out of `handshaking`, then the `gap` events and the sink's application events for
//! the bytes it lets through (among them the `connection_state` of a switch to WebSocket, right
//! after the `101` response), then `connection_state` when its FIN or RST changes the state,
//! then `connection_end` when it ends the connection.
//!
//! Rules chosen (the tests in `flow/tests.rs` pin each one down):
//! - A connection is keyed by its 4-tuple, either direction. The client is the sender of the
//!   SYN; if the first segment seen is a SYN-ACK, its receiver. Otherwise the capture joined
//!   late (`joined_late`): the first segment's payload decides when it shows its sender's role
//!   ([`StreamSink::sender_role`]: an HTTP request or status line, masked or unmasked
//!   WebSocket frames); else the server is guessed from the ports: a port below 1024, else a
//!   port outside the Linux ephemeral range 32768-60999, else the lower port (equal ports: the
//!   receiver of the first segment).
//! - A SYN or SYN-ACK whose sequence number is not the sender's known ISN (or, with the SYN
//!   unseen, the base its other segments imply) starts a new connection on the same 4-tuple,
//!   whatever the old one's state, flagged `reused_ports`. The old connection gets its
//!   `connection_end` first. tshark 4.0 does the same for a SYN; for a SYN-ACK it flags
//!   `reused_ports` but keeps the old conversation, renumbering only the server's side.
//! - `connection_end` comes after the ACK of the last FIN, at once on RST, on reuse or
//!   eviction, or at [`FlowTable::finish`]. Its `duration` runs from the connection's first to
//!   its last segment. Segments after it on the same 4-tuple are still `tcp` events of that
//!   connection (analysis goes on); they deliver no bytes.
//! - Ended connections stay in the table, without their sink and buffers, until the 4-tuple is
//!   reused or the table needs room (`Limits::max_connections`: the connection that ended
//!   first is forgotten first; if none has ended, the oldest is ended and forgotten).
//! - States: `handshaking` from a SYN or SYN-ACK until an ACK without SYN; `established`
//!   (also for a late join); `closing` after one FIN; `closed` after both; `refused` when the
//!   server answers the SYN with RST before any SYN-ACK; `reset` for any other RST (an RST
//!   after both FINs leaves `closed`). Each change is a `connection_state` event; views read
//!   the state from those events and keep no state machine of their own.
//! - Reassembly (`flow/reassembly.rs`): first seen bytes win on overlap; holes become `gap`
//!   events when the held bytes would pass `Limits::max_held_bytes` (or the pieces
//!   [`MAX_HELD_PIECES`], or the memory held by all connections together
//!   `Limits::max_held_total`: then the stream that asks for more gives up its hole), when the
//!   peer ACKs past
//!   them (it has the bytes, so they will never be retransmitted), or when the stream ends.
//!   A FIN after a hole waits for the hole.
//! - Sequence analysis, relative numbers and window scaling follow tshark 4.0.17
//!   (`flow/analysis.rs`). A direction's window is scaled once its own SYN or SYN-ACK showed
//!   the WS option, unless the handshake showed the other side without it; unknown means
//!   unscaled; SYN windows are never scaled.

mod analysis;
mod reassembly;
#[cfg(test)]
mod tests;

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;

use crate::decode::TcpPacket;
use crate::keylog::KeyLog;
use crate::model::{
    tcp_flags, ConnId, ConnState, ConnectionEnd, ConnectionInfo, Dir, Event, EventBody, Handshake,
    Limits, Nanos, Stamp, StateChange, TcpFlags, TcpSegment, Timestamp, TlsSummary,
};
use analysis::{seq_gt, SeqInfo};
use reassembly::{Cap, Sinks, Stream};
pub use reassembly::{MAX_HELD_PIECES, PIECE_COST};

/// Where events go, as they are made. One segment can release megabytes of held bytes and
/// so millions of events (2-byte WebSocket frames give one event per byte): a caller that
/// writes each event out at once keeps memory bounded, where collecting them in a `Vec` (the
/// implementation tests use) holds all of one frame's events.
pub trait EventSink {
    fn push(&mut self, event: Event);
    /// Content bytes an application layer decoded (an HTTP body after de-chunking, a
    /// WebSocket message after unmasking and inflation), for the decoders of the protocols it
    /// carries: `proto::Session` feeds them to SSE, STOMP and Engine.IO as they arrive. Other
    /// sinks ignore them; a sink that wraps another between the layers and the session must
    /// pass them on.
    fn content(&mut self, _dir: Dir, _content: crate::proto::Content<'_>) {}
}

impl EventSink for Vec<Event> {
    fn push(&mut self, event: Event) {
        Vec::push(self, event);
    }
}

impl<F: FnMut(Event)> EventSink for F {
    fn push(&mut self, event: Event) {
        self(event);
    }
}

/// Where a connection's application events go, with the packet's stamp.
pub struct Cx<'o> {
    pub stamp: Stamp,
    pub conn: ConnId,
    /// The connection's TCP state when the bytes arrived (what a `connection_state` event
    /// for the switch to WebSocket says).
    pub state: ConnState,
    pub limits: &'o Limits,
    /// TLS secrets known so far (see [`crate::keylog`]).
    pub keys: &'o KeyLog,
    pub out: &'o mut dyn EventSink,
}

impl Cx<'_> {
    pub fn emit(&mut self, dir: Option<Dir>, body: EventBody) {
        self.out.push(self.stamp.event(Some(self.conn), dir, body));
    }

    /// The connection switched to WebSocket: its `connection_state` event (the TCP state
    /// stays what it is).
    pub fn switched_to_websocket(&mut self) {
        let change = StateChange {
            from: self.state,
            state: self.state,
            websocket: true,
        };
        self.emit(None, EventBody::ConnectionState(change));
    }

    /// Passes decoded content bytes of `dir` on ([`EventSink::content`]).
    pub fn content(&mut self, dir: Dir, content: crate::proto::Content<'_>) {
        self.out.content(dir, content);
    }
}

/// Why a direction's byte stream ended ([`StreamSink::on_end`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndCause {
    /// Its sender's FIN: every byte before it was delivered (holes as gaps).
    Fin,
    /// An RST, sent by the endpoint that sends in `by`.
    Reset { by: Dir },
    /// The capture holds no more of the connection: it ended, or the connection was replaced
    /// by a new one on its 4-tuple or forgotten to make room, before this direction closed.
    NotCaptured,
}

/// Which end of a connection sent a segment, as its payload shows ([`StreamSink::sender_role`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

/// The application layer riding on a connection: receives each direction's in-order bytes.
///
/// Per direction the calls are `on_data`/`on_gap` in stream order, then at most one
/// `on_end`, after which that direction gets nothing more.
pub trait StreamSink {
    fn new(limits: &Limits) -> Self;
    /// For a connection whose handshake the capture did not hold: what the payload of its
    /// first segment says of its sender (an HTTP request line, masked WebSocket frames...),
    /// `None` when it says nothing. The roles then come from the ports.
    fn sender_role(_payload: &[u8]) -> Option<Role> {
        None
    }
    /// Called once, before any byte, when the capture joined the connection after its
    /// handshake: the streams may begin in the middle of the application's conversation.
    fn joined_late(&mut self) {}
    /// The next in-order bytes of `dir`.
    fn on_data(&mut self, dir: Dir, data: &[u8], cx: &mut Cx);
    /// `len` bytes of `dir` are missing; the next `on_data` continues after them.
    fn on_gap(&mut self, dir: Dir, len: u32, cx: &mut Cx);
    /// `dir` will carry no more bytes, for the reason `cause` (FIN, RST, or the capture
    /// ended).
    fn on_end(&mut self, dir: Dir, cause: EndCause, cx: &mut Cx);
    /// Whether the connection switched to WebSocket (reported in `connection_end`).
    fn is_websocket(&self) -> bool;
    /// What TLS the connection carried, if any (reported in `connection_end`).
    fn tls(&self) -> Option<TlsSummary> {
        None
    }
    /// The key log gained secrets (`cx.keys`): a sink waiting for them may go on.
    fn on_keys(&mut self, cx: &mut Cx) {
        let _ = cx;
    }
    /// Bytes the sink buffers now (for memory-bound tests and fuzzing).
    #[doc(hidden)]
    fn held_bytes(&self) -> usize {
        0
    }
}

/// What a [`FlowTable`] holds in memory now, for memory-bound tests and fuzzing.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Held {
    /// Connections in the table, ended ones included.
    pub connections: usize,
    /// Out-of-order bytes held, all streams together.
    pub reassembly_bytes: usize,
    /// Memory held out of order, all streams together: bytes plus [`PIECE_COST`] per piece
    /// (what `Limits::max_held_total` bounds).
    pub reassembly_cost: usize,
    /// Most out-of-order bytes one stream (connection direction) holds.
    pub max_stream_bytes: usize,
    /// Most out-of-order pieces one stream holds.
    pub max_stream_pieces: usize,
    /// Bytes buffered by the application layer, all connections together.
    pub sink_bytes: usize,
    /// Most bytes one connection's application layer buffers.
    pub max_sink_bytes: usize,
    /// Entries of the table's bookkeeping queues (creation and ending order).
    pub queue_entries: usize,
}

/// FxHash (the hasher rustc uses for its own tables): a multiply and a rotate per word, much
/// cheaper than SipHash for the short 4-tuple keys of the per-segment lookup. It starts from a
/// per-table random state so a crafted capture cannot precompute colliding keys. The pattern
/// detector's per-event lookups (by connection, by client and server) use it too.
pub(crate) struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.hash
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct FxBuild {
    seed: u64,
}

impl FxBuild {
    /// A hasher builder with a fresh random seed.
    pub(crate) fn random() -> FxBuild {
        FxBuild {
            seed: RandomState::new().build_hasher().finish(),
        }
    }
}

impl BuildHasher for FxBuild {
    type Hasher = FxHasher;
    fn build_hasher(&self) -> FxHasher {
        FxHasher { hash: self.seed }
    }
}

/// A 4-tuple with its two ends in a fixed order, so both directions find the same entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key(SocketAddr, SocketAddr);

impl Key {
    fn new(a: SocketAddr, b: SocketAddr) -> Key {
        if a <= b {
            Key(a, b)
        } else {
            Key(b, a)
        }
    }
}

/// One endpoint's sending side: its analysis state and its byte stream.
#[derive(Debug, Default)]
struct Half {
    seq: SeqInfo,
    /// Sequence number of this endpoint's SYN, when seen.
    isn: Option<u32>,
    stream: Stream,
    /// Sequence number the FIN occupies, once seen.
    fin: Option<u32>,
}

impl Half {
    /// Sequence number of the stream's first byte (relative 1).
    fn origin(&self, fallback: u32) -> u32 {
        self.seq.base.unwrap_or(fallback).wrapping_add(1)
    }
}

struct Conn<S> {
    id: ConnId,
    key: Key,
    client: SocketAddr,
    state: ConnState,
    ended: bool,
    first_ts: Timestamp,
    last_ts: Timestamp,
    segments: [u64; 2],
    bytes: [u64; 2],
    /// Indexed by `Dir::idx` of the direction the endpoint sends in.
    half: [Half; 2],
    /// Latest SYN (without ACK): Wireshark's `ts_mru_syn`.
    syn_ts: Option<Timestamp>,
    /// SYN to the first SYN-ACK, once the SYN-ACK was seen.
    syn_ack_rtt: Option<u64>,
    /// Wireshark's `ts_first_rtt` (SYN to the first ACK) in signed nanoseconds, 0 while
    /// unknown: the out-of-order threshold. Negative when the capture's clock went back.
    first_rtt: i64,
    handshake_done: bool,
    /// Direction of the FIN that closed the connection (the second one).
    last_fin: Option<Dir>,
    /// `None` once the connection ended. Boxed: an ended connection stays in the table (up to
    /// `max_connections` of them) and should not keep the sink's size.
    sink: Option<Box<S>>,
}

impl<S: StreamSink> Conn<S> {
    /// Memory its streams hold out of order, as counted against `Limits::max_held_total`.
    fn held_cost(&self) -> usize {
        self.half.iter().map(|h| h.stream.held_cost()).sum()
    }

    fn dir_of(&self, src: SocketAddr) -> Dir {
        if src == self.client {
            Dir::C2s
        } else {
            Dir::S2c
        }
    }

    /// Everything one segment does to its connection; see the module contract for the order
    /// of events.
    // The table's configuration (limits, TLS keys) travels as separate borrows.
    #[allow(clippy::too_many_arguments)]
    fn segment(
        &mut self,
        pkt: &TcpPacket,
        stamp: Stamp,
        reused: bool,
        limits: &Limits,
        keys: &KeyLog,
        room: usize,
        out: &mut dyn EventSink,
    ) {
        use tcp_flags::{ACK, FIN, RST, SYN};
        let now = stamp.ts;
        let dir = self.dir_of(pkt.src);
        let d = dir.idx();
        let flags = pkt.flags;
        let (syn, ack, fin, rst) = (
            flags & SYN != 0,
            flags & ACK != 0,
            flags & FIN != 0,
            flags & RST != 0,
        );
        let wire_len = pkt.wire_len;
        self.segments[d] += 1;
        self.bytes[d] += u64::from(wire_len);
        self.last_ts = self.last_ts.max(now);

        // Wireshark's handshake RTT bookkeeping (packet-tcp.c: ts_mru_syn, ts_first_rtt).
        if syn && !ack {
            self.syn_ts = Some(now);
        }
        if flags & (SYN | ACK) == ACK && self.first_rtt == 0 {
            if let Some(t) = self.syn_ts {
                self.first_rtt = signed_ns(now, t);
            }
        }

        let seg = analysis::Seg {
            seq: pkt.seq,
            ack: pkt.ack,
            len: wire_len,
            flags,
            window: pkt.window,
            wscale: if syn { pkt.options.wscale } else { None },
        };
        let [c2s, s2c] = &mut self.half;
        let (fwd, rev) = match dir {
            Dir::C2s => (c2s, s2c),
            Dir::S2c => (s2c, c2s),
        };
        if syn && fwd.isn.is_none() {
            fwd.isn = Some(pkt.seq);
        }
        analysis::on_segment_start(&mut fwd.seq, &mut rev.seq, &seg);
        let mut bits = analysis::analyze(&mut fwd.seq, &mut rev.seq, &seg, now, self.first_rtt);
        if reused {
            bits |= analysis::REUSED_PORTS;
        }
        // The capture may hold more than the IP length says (link padding): only the TCP
        // payload counts.
        let captured = pkt
            .payload
            .get(..usize::try_from(wire_len).unwrap_or(usize::MAX))
            .unwrap_or(pkt.payload);
        let tcp = TcpSegment {
            flags: TcpFlags(flags),
            seq: pkt.seq.wrapping_sub(fwd.seq.base.unwrap_or(pkt.seq)),
            ack: ack.then(|| pkt.ack.wrapping_sub(rev.seq.base.unwrap_or(pkt.ack))),
            len: wire_len,
            win: fwd.seq.scaled_window(pkt.window, flags),
            options: syn.then_some(pkt.options),
            analysis: analysis::flags(bits),
            truncated: (captured.len() as u64) < u64::from(wire_len),
        };
        out.push(stamp.event(Some(self.id), Some(dir), EventBody::Tcp(tcp)));
        if self.ended {
            return;
        }

        // Handshake.
        if syn && ack && dir == Dir::S2c && self.syn_ack_rtt.is_none() {
            self.syn_ack_rtt = self.syn_ts.map(|t| now.since(t));
        }
        if self.state == ConnState::Handshaking && ack && !syn && !rst {
            let server_isn = if dir == Dir::C2s { rev.isn } else { None };
            if let (Some(syn_t), Some(rtt), Some(isn)) = (self.syn_ts, self.syn_ack_rtt, server_isn)
            {
                if !self.handshake_done && seq_gt(pkt.ack, isn) {
                    self.handshake_done = true;
                    let hs = Handshake {
                        syn_ack_rtt: Nanos(rtt),
                        irtt: Nanos(now.since(syn_t)),
                    };
                    out.push(stamp.event(Some(self.id), None, EventBody::Handshake(hs)));
                }
            }
            set_state(
                self.id,
                &mut self.state,
                self.sink.as_deref(),
                ConnState::Established,
                stamp,
                out,
            );
        }

        // Bytes. A SYN's data (TCP Fast Open) starts after the SYN's sequence number; an RST's
        // payload (a diagnostic text at most) is not part of the stream.
        if let Some(sink) = self.sink.as_deref_mut() {
            let mut cx = Cx {
                stamp,
                conn: self.id,
                state: self.state,
                limits,
                keys,
                out,
            };
            if !rst {
                if wire_len > 0 || fin {
                    let data_seq = pkt.seq.wrapping_add(u32::from(syn));
                    let origin = fwd.origin(pkt.seq);
                    let mut to = Sinks {
                        sink: &mut *sink,
                        dir,
                        cx: &mut cx,
                    };
                    // This stream may grow by what the table's memory budget has left.
                    let cap = Cap {
                        bytes: limits.max_held_bytes,
                        cost: fwd.stream.held_cost().saturating_add(room),
                    };
                    fwd.stream
                        .segment(origin, data_seq, captured, wire_len, fin, cap, &mut to);
                }
                if ack {
                    let origin = rev.origin(pkt.ack.wrapping_sub(1));
                    let mut to = Sinks {
                        sink,
                        dir: dir.rev(),
                        cx: &mut cx,
                    };
                    rev.stream.acked(origin, pkt.ack, &mut to);
                }
            }
        }

        // Close.
        if fin && fwd.fin.is_none() {
            fwd.fin = Some(pkt.seq.wrapping_add(wire_len).wrapping_add(u32::from(syn)));
            if matches!(
                self.state,
                ConnState::Handshaking | ConnState::Established | ConnState::Closing
            ) {
                let state = if rev.fin.is_some() {
                    self.last_fin = Some(dir);
                    ConnState::Closed
                } else {
                    ConnState::Closing
                };
                set_state(
                    self.id,
                    &mut self.state,
                    self.sink.as_deref(),
                    state,
                    stamp,
                    out,
                );
            }
        }
        let cause = if rst {
            EndCause::Reset { by: dir }
        } else {
            EndCause::Fin
        };
        let end = if rst {
            let state = match self.state {
                ConnState::Handshaking
                    if dir == Dir::S2c && self.syn_ts.is_some() && self.syn_ack_rtt.is_none() =>
                {
                    ConnState::Refused
                }
                ConnState::Closed => ConnState::Closed,
                _ => ConnState::Reset,
            };
            set_state(
                self.id,
                &mut self.state,
                self.sink.as_deref(),
                state,
                stamp,
                out,
            );
            true
        } else {
            // The last FIN is ACKed by the other side.
            match (self.last_fin, rev.fin) {
                (Some(last), Some(fin_seq)) => ack && last == dir.rev() && seq_gt(pkt.ack, fin_seq),
                _ => false,
            }
        };
        if end {
            self.end(stamp, cause, limits, keys, out);
        }
    }

    /// Ends the connection: flushes both streams (holes become gaps), ends them in the sink,
    /// emits `connection_end`, and frees the sink and buffers. No-op once ended.
    fn end(
        &mut self,
        stamp: Stamp,
        cause: EndCause,
        limits: &Limits,
        keys: &KeyLog,
        out: &mut dyn EventSink,
    ) {
        if self.ended {
            return;
        }
        self.ended = true;
        let mut websocket = false;
        let mut tls = None;
        if let Some(mut sink) = self.sink.take() {
            let mut cx = Cx {
                stamp,
                conn: self.id,
                state: self.state,
                limits,
                keys,
                out,
            };
            for dir in [Dir::C2s, Dir::S2c] {
                let mut to = Sinks {
                    sink: &mut *sink,
                    dir,
                    cx: &mut cx,
                };
                self.half[dir.idx()].stream.finish(cause, &mut to);
            }
            websocket = sink.is_websocket();
            tls = sink.tls();
        }
        let server = if self.key.0 == self.client {
            self.key.1
        } else {
            self.key.0
        };
        let end = ConnectionEnd {
            client: self.client,
            server,
            state: self.state,
            websocket,
            duration: Nanos(self.last_ts.since(self.first_ts)),
            segments: self.segments,
            bytes: self.bytes,
            tls,
        };
        out.push(stamp.event(Some(self.id), None, EventBody::ConnectionEnd(Box::new(end))));
    }
}

/// Moves connection `id` (whose state is `*now`, whose sink is `sink`) to `state`; a change is
/// a `connection_state` event. (A function of the fields, not a method: the segment code holds
/// the connection's halves borrowed.)
fn set_state<S: StreamSink>(
    id: ConnId,
    now: &mut ConnState,
    sink: Option<&S>,
    state: ConnState,
    stamp: Stamp,
    out: &mut dyn EventSink,
) {
    if state == *now {
        return;
    }
    let change = StateChange {
        from: *now,
        state,
        websocket: sink.is_some_and(|s| s.is_websocket()),
    };
    *now = state;
    out.push(stamp.event(Some(id), None, EventBody::ConnectionState(change)));
}

/// `now - earlier` in nanoseconds, negative when the clock went back (saturating).
fn signed_ns(now: Timestamp, earlier: Timestamp) -> i64 {
    let d = i128::from(now.0) - i128::from(earlier.0);
    i64::try_from(d).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX })
}

/// Which end is the server when the handshake was not seen: a port below 1024, else a port
/// outside the Linux ephemeral range (`net.ipv4.ip_local_port_range` default 32768-60999),
/// else the lower port; on a tie, the destination.
fn dst_is_server(src: SocketAddr, dst: SocketAddr) -> bool {
    fn rank(port: u16) -> (u8, u16) {
        let class = if port < 1024 {
            0
        } else if !(32768..=60999).contains(&port) {
            1
        } else {
            2
        };
        (class, port)
    }
    rank(dst.port()) <= rank(src.port())
}

/// All connections of a capture.
pub struct FlowTable<S: StreamSink> {
    limits: Limits,
    /// TLS secrets, handed to the sinks (`Cx::keys`).
    keys: KeyLog,
    index: HashMap<Key, usize, FxBuild>,
    /// Connections by slot; `None` marks a free slot (listed in `free`).
    slots: Vec<Option<Conn<S>>>,
    free: Vec<usize>,
    next_id: ConnId,
    /// (slot, id) in order of creation; entries whose slot moved on are skipped lazily.
    by_age: VecDeque<(usize, ConnId)>,
    /// (slot, id) in order of ending.
    ended: VecDeque<(usize, ConnId)>,
    /// Sum of every connection's `held_cost`, kept within `Limits::max_held_total`.
    held_cost: usize,
}

impl<S: StreamSink> FlowTable<S> {
    pub fn new(limits: Limits) -> Self {
        FlowTable {
            limits,
            keys: KeyLog::new(limits.max_keylog_sessions),
            index: HashMap::with_hasher(FxBuild::random()),
            slots: Vec::new(),
            free: Vec::new(),
            next_id: 0,
            by_age: VecDeque::new(),
            ended: VecDeque::new(),
            held_cost: 0,
        }
    }

    /// Takes one TCP segment, appends its events (connection, tcp, handshake, gap, app events,
    /// connection_end) to `out` in order.
    pub fn ingest(&mut self, pkt: &TcpPacket, stamp: Stamp, out: &mut dyn EventSink) {
        let key = Key::new(pkt.src, pkt.dst);
        let mut reused = false;
        let slot = match self.index.get(&key).copied() {
            Some(slot) if !self.starts_new(slot, pkt) => slot,
            Some(old) => {
                reused = true;
                self.end_conn(old, stamp, out);
                self.forget(old);
                self.create(key, pkt, stamp, out)
            }
            None => self.create(key, pkt, stamp, out),
        };
        let Some(Some(conn)) = self.slots.get_mut(slot) else {
            return;
        };
        let was_ended = conn.ended;
        let before = conn.held_cost();
        let room = self.limits.max_held_total.saturating_sub(self.held_cost);
        conn.segment(pkt, stamp, reused, &self.limits, &self.keys, room, out);
        self.held_cost = (self.held_cost - before.min(self.held_cost)) + conn.held_cost();
        if conn.ended && !was_ended {
            let id = conn.id;
            self.ended.push_back((slot, id));
            self.compact();
        }
    }

    /// The TLS secrets the sinks see.
    pub fn keys(&self) -> &KeyLog {
        &self.keys
    }

    /// The TLS secrets, to add to; call [`FlowTable::keys_changed`] after adding.
    pub fn keys_mut(&mut self) -> &mut KeyLog {
        &mut self.keys
    }

    /// Tells every open connection's sink that the key log gained secrets
    /// ([`StreamSink::on_keys`]), in connection order, with `stamp`.
    pub fn keys_changed(&mut self, stamp: Stamp, out: &mut dyn EventSink) {
        let mut open: Vec<(ConnId, usize)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(slot, c)| c.as_ref().filter(|c| !c.ended).map(|c| (c.id, slot)))
            .collect();
        open.sort_unstable();
        for (_, slot) in open {
            let Some(Some(c)) = self.slots.get_mut(slot) else {
                continue;
            };
            let (id, state) = (c.id, c.state);
            if let Some(sink) = c.sink.as_deref_mut() {
                let mut cx = Cx {
                    stamp,
                    conn: id,
                    state,
                    limits: &self.limits,
                    keys: &self.keys,
                    out,
                };
                sink.on_keys(&mut cx);
            }
        }
    }

    /// End of capture: flush held segments (as gaps), end every stream, and emit a
    /// `connection_end` for each connection not yet ended, in connection order, stamped
    /// with `stamp` (the last packet's).
    pub fn finish(&mut self, stamp: Stamp, out: &mut dyn EventSink) {
        let mut open: Vec<(ConnId, usize)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(slot, c)| c.as_ref().filter(|c| !c.ended).map(|c| (c.id, slot)))
            .collect();
        open.sort_unstable();
        for (_, slot) in open {
            self.end_conn(slot, stamp, out);
        }
    }

    /// Whether `pkt` opens a new connection on the 4-tuple of the one in `slot`.
    fn starts_new(&self, slot: usize, pkt: &TcpPacket) -> bool {
        let Some(Some(c)) = self.slots.get(slot) else {
            return true;
        };
        if pkt.flags & tcp_flags::SYN == 0 {
            return false;
        }
        let h = &c.half[c.dir_of(pkt.src).idx()];
        let same_isn = match (h.isn, h.seq.base) {
            (Some(isn), _) => isn == pkt.seq,
            (None, Some(base)) => base == pkt.seq,
            // Nothing known of the sender yet (the usual SYN-ACK).
            (None, None) => true,
        };
        !same_isn
    }

    fn create(
        &mut self,
        key: Key,
        pkt: &TcpPacket,
        stamp: Stamp,
        out: &mut dyn EventSink,
    ) -> usize {
        self.make_room(stamp, out);
        let syn = pkt.flags & tcp_flags::SYN != 0;
        let ack = pkt.flags & tcp_flags::ACK != 0;
        let role = || match pkt.payload {
            [] => None,
            p => S::sender_role(p),
        };
        let (client, server, joined_late) = if syn && !ack {
            (pkt.src, pkt.dst, false)
        } else if syn {
            (pkt.dst, pkt.src, false)
        } else {
            let src_is_client = match role() {
                Some(Role::Client) => true,
                Some(Role::Server) => false,
                None => dst_is_server(pkt.src, pkt.dst),
            };
            if src_is_client {
                (pkt.src, pkt.dst, true)
            } else {
                (pkt.dst, pkt.src, true)
            }
        };
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let mut conn = Conn {
            id,
            key,
            client,
            state: ConnState::initial(joined_late),
            ended: false,
            first_ts: stamp.ts,
            last_ts: stamp.ts,
            segments: [0; 2],
            bytes: [0; 2],
            half: Default::default(),
            syn_ts: None,
            syn_ack_rtt: None,
            first_rtt: 0,
            handshake_done: false,
            last_fin: None,
            sink: Some(Box::new(S::new(&self.limits))),
        };
        if joined_late {
            if let Some(sink) = conn.sink.as_deref_mut() {
                sink.joined_late();
            }
        }
        let info = ConnectionInfo {
            client,
            server,
            joined_late,
        };
        out.push(stamp.event(Some(id), None, EventBody::Connection(Box::new(info))));
        let slot = match self.free.pop() {
            Some(slot) if slot < self.slots.len() => {
                self.slots[slot] = Some(conn);
                slot
            }
            _ => {
                self.slots.push(Some(conn));
                self.slots.len() - 1
            }
        };
        self.index.insert(key, slot);
        self.by_age.push_back((slot, id));
        self.compact();
        slot
    }

    fn live(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Frees a place for one more connection if the table is full: forgets the connection
    /// that ended first, or else ends and forgets the oldest.
    fn make_room(&mut self, stamp: Stamp, out: &mut dyn EventSink) {
        let max = self.limits.max_connections.max(1);
        while self.live() >= max {
            if let Some(slot) = self.pop_valid(true) {
                self.forget(slot);
            } else if let Some(slot) = self.pop_valid(false) {
                self.end_conn(slot, stamp, out);
                self.forget(slot);
            } else {
                break;
            }
        }
    }

    /// Pops the first entry of the ended (or age) queue that still names a live slot.
    fn pop_valid(&mut self, ended: bool) -> Option<usize> {
        let queue = if ended {
            &mut self.ended
        } else {
            &mut self.by_age
        };
        while let Some((slot, id)) = queue.pop_front() {
            if let Some(Some(c)) = self.slots.get(slot) {
                if c.id == id && (!ended || c.ended) {
                    return Some(slot);
                }
            }
        }
        None
    }

    fn end_conn(&mut self, slot: usize, stamp: Stamp, out: &mut dyn EventSink) {
        if let Some(Some(c)) = self.slots.get_mut(slot) {
            if !c.ended {
                let before = c.held_cost();
                c.end(stamp, EndCause::NotCaptured, &self.limits, &self.keys, out);
                self.held_cost = (self.held_cost - before.min(self.held_cost)) + c.held_cost();
                let id = c.id;
                self.ended.push_back((slot, id));
            }
        }
    }

    /// Drops the connection in `slot` from the table.
    fn forget(&mut self, slot: usize) {
        let Some(entry) = self.slots.get_mut(slot) else {
            return;
        };
        let Some(c) = entry.take() else {
            return;
        };
        if self.index.get(&c.key) == Some(&slot) {
            self.index.remove(&c.key);
        }
        self.free.push(slot);
    }

    /// What the table holds in memory now (walks every connection).
    #[doc(hidden)]
    pub fn held(&self) -> Held {
        let mut h = Held {
            queue_entries: self.by_age.len() + self.ended.len(),
            ..Held::default()
        };
        for c in self.slots.iter().flatten() {
            h.connections += 1;
            for half in &c.half {
                let (bytes, pieces) = (half.stream.held_bytes(), half.stream.held_pieces());
                h.reassembly_bytes += bytes;
                h.reassembly_cost += half.stream.held_cost();
                h.max_stream_bytes = h.max_stream_bytes.max(bytes);
                h.max_stream_pieces = h.max_stream_pieces.max(pieces);
            }
            let sink = c.sink.as_ref().map_or(0, |s| s.held_bytes());
            h.sink_bytes += sink;
            h.max_sink_bytes = h.max_sink_bytes.max(sink);
        }
        h
    }

    /// Most bytes `conn` ever held out of order in `dir`.
    #[cfg(test)]
    fn peak_held(&self, conn: ConnId, dir: Dir) -> Option<usize> {
        self.slots
            .iter()
            .flatten()
            .find(|c| c.id == conn)
            .map(|c| c.half[dir.idx()].stream.peak_held())
    }

    /// Steps `conn`'s stream in `dir` took walking held pieces.
    #[cfg(test)]
    fn walk_steps(&self, conn: ConnId, dir: Dir) -> Option<u64> {
        self.slots
            .iter()
            .flatten()
            .find(|c| c.id == conn)
            .map(|c| c.half[dir.idx()].stream.walk_steps())
    }

    /// Drops queue entries of forgotten connections once they outnumber the live ones, so
    /// the queues stay proportional to the table.
    fn compact(&mut self) {
        let live = self.live();
        let slots = &self.slots;
        let valid =
            |&(slot, id): &(usize, ConnId)| matches!(slots.get(slot), Some(Some(c)) if c.id == id);
        if self.by_age.len() > 2 * live + 64 {
            self.by_age.retain(valid);
        }
        if self.ended.len() > 2 * live + 64 {
            self.ended
                .retain(|e| valid(e) && matches!(slots.get(e.0), Some(Some(c)) if c.ended));
        }
    }
}
