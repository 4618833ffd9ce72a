//! One direction's byte stream: puts segments back in order and hands every byte to the sink
//! exactly once.
//!
//! Positions are 64-bit offsets from the stream's origin (offset 0 is relative sequence
//! number 1, the first data byte), so a stream may run past 4 GiB and its sequence numbers
//! may wrap. A segment's 32-bit sequence number is placed relative to the next byte to
//! deliver, which works while segments stay within ±2 GiB of it (TCP windows are at most
//! 1 GiB, RFC 7323 §2.3).
//!
//! - In-order bytes go to the sink straight from the packet slice (no copy).
//! - Out-of-order bytes are copied into a map keyed by offset until the hole before them
//!   fills. On overlap the bytes seen first win (like Linux, which keeps what is queued, and
//!   Wireshark's reassembly): only the parts of a new segment not already held are stored.
//! - Held bytes are capped, and so are held pieces ([`MAX_HELD_PIECES`]: a stretch the
//!   capture cut short holds no bytes but costs a map entry) and the memory all streams hold
//!   together (bytes plus [`PIECE_COST`] per piece, against a budget the flow table gives);
//!   when a segment would go over a cap, the first hole is declared a gap
//!   (`GapReason::NotCaptured`) and what follows it is delivered.
//! - Bytes the capture cut short (snap length) become a `GapReason::Truncated` gap at their
//!   place in the stream.
//! - Once a hole is declared a gap the cursor moves past it: a retransmission filling it
//!   later is behind the cursor and is dropped, so no byte is ever delivered twice.

use std::collections::BTreeMap;

use super::{Cx, EndCause, StreamSink};
use crate::model::{Dir, EventBody, Gap, GapReason};

/// Most pieces one stream holds out of order. Real holes are followed by segments of MSS
/// size (4 MiB of 1460-byte segments is under 3,000 pieces); runs of tiny or truncated
/// segments would otherwise make the map, not the bytes, the cost.
pub const MAX_HELD_PIECES: usize = 16_384;

/// Memory one held piece costs besides its bytes: its share of a B-tree node (key, value,
/// slack) and the allocation of its bytes. An estimate, counted against the memory budget.
pub const PIECE_COST: usize = 96;

/// What a stream may hold out of order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cap {
    /// Captured bytes (`Limits::max_held_bytes`).
    pub bytes: usize,
    /// Memory: bytes plus [`PIECE_COST`] per piece (this stream's share of
    /// `Limits::max_held_total`).
    pub cost: usize,
}

/// Bytes held out of order: captured data, or a stretch the capture cut short.
#[derive(Debug)]
enum Piece {
    Data(Vec<u8>),
    Truncated(u64),
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Piece::Data(d) => d.len() as u64,
            Piece::Truncated(n) => *n,
        }
    }
    /// Bytes of memory this piece holds (counted against the cap).
    fn held(&self) -> usize {
        match self {
            Piece::Data(d) => d.len(),
            Piece::Truncated(_) => 0,
        }
    }
}

/// A segment's bytes placed in the stream.
#[derive(Clone, Copy)]
struct Placed<'p> {
    start: u64,
    /// Captured bytes, from `start`.
    data: &'p [u8],
    /// Offset just past the segment's bytes on the wire (>= start + data.len()).
    end: u64,
}

/// Where a stream's output goes.
pub(crate) struct Sinks<'a, 'o, S> {
    pub sink: &'a mut S,
    pub dir: Dir,
    pub cx: &'a mut Cx<'o>,
}

#[derive(Debug, Default)]
pub(crate) struct Stream {
    started: bool,
    /// Offset of the next byte to deliver.
    next: u64,
    /// Sequence number of `next`.
    next_seq: u32,
    held: BTreeMap<u64, Piece>,
    held_bytes: usize,
    peak_held: usize,
    /// End of the furthest segment accepted (delivered or held).
    seen_end: u64,
    /// Offset of the FIN (one past the last data byte), once seen.
    fin: Option<u64>,
    /// `on_end` was called: nothing more is delivered.
    ended: bool,
    /// Steps taken walking held pieces to place segments (for tests bounding the work).
    #[cfg(test)]
    walk_steps: u64,
}

impl Stream {
    /// Most bytes this stream ever held out of order.
    #[cfg(test)]
    pub fn peak_held(&self) -> usize {
        self.peak_held
    }

    /// Steps taken walking held pieces so far.
    #[cfg(test)]
    pub fn walk_steps(&self) -> u64 {
        self.walk_steps
    }

    /// Captured bytes held out of order now.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Out-of-order pieces held now (each costs a map entry besides its bytes).
    pub fn held_pieces(&self) -> usize {
        self.held.len()
    }

    /// Memory held out of order now, as counted against [`Cap::cost`].
    pub fn held_cost(&self) -> usize {
        self.held_bytes + self.held.len() * PIECE_COST
    }

    /// Fixes offset 0 at sequence number `origin` (relative sequence number 1) on first use.
    fn start(&mut self, origin: u32) {
        if !self.started {
            self.started = true;
            self.next_seq = origin;
        }
    }

    /// Offset of `seq`, signed: before the origin is negative.
    fn offset(&self, seq: u32) -> i64 {
        self.next as i64 + i64::from(seq.wrapping_sub(self.next_seq) as i32)
    }

    /// One segment's payload: `data` captured of `wire_len` bytes on the wire, starting at
    /// `seq`; `fin` when the FIN follows its last byte. `origin` is the sequence number of
    /// the stream's first byte (used on first call only).
    #[allow(clippy::too_many_arguments)]
    pub fn segment<S: StreamSink>(
        &mut self,
        origin: u32,
        seq: u32,
        data: &[u8],
        wire_len: u32,
        fin: bool,
        cap: Cap,
        out: &mut Sinks<S>,
    ) {
        if self.ended {
            return;
        }
        self.start(origin);
        let start = self.offset(seq);
        let mut end = start.saturating_add(i64::from(wire_len));
        if fin && end >= 0 && self.fin.is_none() {
            self.fin = Some(end as u64);
        }
        if let Some(f) = self.fin {
            // Bytes after the FIN are not part of the stream.
            end = end.min(f as i64);
        }
        let next = self.next as i64;
        // Something left after trimming what was delivered (or lies before the origin) and
        // what lies after the FIN.
        if end > next.max(start) {
            let skip = (next - start).max(0);
            let skip_usize = usize::try_from(skip).unwrap_or(usize::MAX);
            let data = data.get(skip_usize..).unwrap_or(&[]);
            let start = (start + skip) as u64;
            let end = end as u64;
            let cut = usize::try_from(end - start).unwrap_or(usize::MAX);
            let data = data.get(..cut).unwrap_or(data);
            self.seen_end = self.seen_end.max(end);
            let seg = Placed { start, data, end };
            if start == self.next {
                self.advance(Some(seg), out);
            } else {
                self.hold(seg, cap, out);
            }
        }
        self.check_end(out);
    }

    /// The peer acknowledged everything before `ack`: the peer has those bytes, so a hole
    /// there will never be retransmitted. Holes before held data (or before a FIN) that the
    /// ACK covers become gaps at once rather than at the cap or the end of the connection.
    /// ACKs beyond anything seen in this direction skip nothing (no evidence the bytes exist).
    pub fn acked<S: StreamSink>(&mut self, origin: u32, ack: u32, out: &mut Sinks<S>) {
        if self.ended {
            return;
        }
        self.start(origin);
        let ack_off = self.offset(ack);
        if ack_off <= self.next as i64 {
            return;
        }
        let ack_off = ack_off as u64;
        loop {
            let evidence = match self.held.first_key_value() {
                Some((&k, _)) => k,
                None => self.seen_end.max(self.fin.unwrap_or(0)),
            };
            let to = ack_off.min(evidence).min(self.fin.unwrap_or(u64::MAX));
            if to <= self.next {
                break;
            }
            self.gap(to - self.next, GapReason::NotCaptured, out);
            self.advance(None, out);
        }
        self.check_end(out);
    }

    /// The stream is over (RST, connection end, end of capture): every hole becomes a gap,
    /// held bytes are delivered, and the sink hears `on_end`.
    pub fn finish<S: StreamSink>(&mut self, cause: EndCause, out: &mut Sinks<S>) {
        if self.ended {
            return;
        }
        let limit = self.fin.unwrap_or(u64::MAX);
        while self.next < limit {
            let Some((&k, _)) = self.held.first_key_value() else {
                break;
            };
            if k > self.next {
                self.gap(k.min(limit) - self.next, GapReason::NotCaptured, out);
            }
            self.advance(None, out);
        }
        // Up to the FIN if there was one, else to the end of the furthest segment.
        let target = self.fin.unwrap_or(self.seen_end);
        if target > self.next {
            self.gap(target - self.next, GapReason::NotCaptured, out);
        }
        self.end(cause, out);
    }

    /// Delivers from `next` on: held pieces that start at or before it, and `seg`'s bytes,
    /// stopping at the first hole (or the FIN).
    fn advance<S: StreamSink>(&mut self, seg: Option<Placed>, out: &mut Sinks<S>) {
        let limit = self.fin.unwrap_or(u64::MAX);
        while self.next < limit {
            if let Some(entry) = self.held.first_entry() {
                if *entry.key() <= self.next {
                    let (k, piece) = entry.remove_entry();
                    self.held_bytes -= piece.held();
                    let to = (k + piece.len()).min(limit);
                    if to > self.next {
                        let skip = self.next - k;
                        match &piece {
                            Piece::Data(d) => {
                                let from = usize::try_from(skip).unwrap_or(usize::MAX);
                                let upto = usize::try_from(to - k).unwrap_or(usize::MAX);
                                if let Some(bytes) = d.get(from..upto) {
                                    self.deliver(bytes, out);
                                }
                            }
                            Piece::Truncated(_) => {
                                self.gap(to - self.next, GapReason::Truncated, out)
                            }
                        }
                    }
                    continue;
                }
            }
            let Some(s) = seg else { break };
            if !(s.start <= self.next && self.next < s.end) {
                break;
            }
            let stop = match self.held.first_key_value() {
                Some((&k, _)) => k.min(s.end),
                None => s.end,
            }
            .min(limit);
            let cap_end = s.start + s.data.len() as u64;
            if self.next < cap_end {
                let to = stop.min(cap_end);
                let from = usize::try_from(self.next - s.start).unwrap_or(usize::MAX);
                let upto = usize::try_from(to - s.start).unwrap_or(usize::MAX);
                match s.data.get(from..upto) {
                    Some(bytes) => self.deliver(bytes, out),
                    None => break,
                }
            } else {
                self.gap(stop - self.next, GapReason::Truncated, out);
            }
        }
    }

    /// Stores the parts of an out-of-order segment not already held, making room by
    /// declaring holes gaps when a cap would be exceeded.
    fn hold<S: StreamSink>(&mut self, seg: Placed, cap: Cap, out: &mut Sinks<S>) {
        // What the segment would add. Giving up holes below only removes pieces that end
        // before `seg.start` (a piece reaching past it would have carried the cursor past it,
        // and then the segment is delivered): this stays true, so it is counted once.
        let (mut bytes, mut pieces) = (0usize, 0usize);
        self.free_stretches(&seg, |from, to, data| {
            pieces += 1;
            if data {
                bytes += usize::try_from(to - from).unwrap_or(usize::MAX);
            }
        });
        loop {
            let held_bytes = self.held_bytes.saturating_add(bytes);
            let held_pieces = self.held.len().saturating_add(pieces);
            let cost = held_bytes.saturating_add(held_pieces.saturating_mul(PIECE_COST));
            if held_bytes <= cap.bytes && held_pieces <= MAX_HELD_PIECES && cost <= cap.cost {
                self.insert(seg);
                self.peak_held = self.peak_held.max(self.held_bytes);
                return;
            }
            // Over a cap: give up on the first hole and deliver what follows it.
            let first = match self.held.first_key_value() {
                Some((&k, _)) => k.min(seg.start),
                None => seg.start,
            };
            if first > self.next {
                self.gap(first - self.next, GapReason::NotCaptured, out);
            }
            self.advance(Some(seg), out);
            if seg.start <= self.next || self.next >= self.fin.unwrap_or(u64::MAX) {
                return;
            }
        }
    }

    /// Calls `f(from, to, captured)` for each stretch of `seg` that no held piece covers, in
    /// order, split where the captured bytes end: the pieces [`Stream::insert`] would add.
    fn free_stretches(&mut self, seg: &Placed, mut f: impl FnMut(u64, u64, bool)) {
        let cap_end = seg.start + seg.data.len() as u64;
        let mut pos = seg.start;
        while pos < seg.end {
            #[cfg(test)]
            {
                self.walk_steps += 1;
            }
            if let Some((&k, p)) = self.held.range(..=pos).next_back() {
                let e = k + p.len();
                if e > pos {
                    pos = e;
                    continue;
                }
            }
            let free_to = match self.held.range(pos..).next() {
                Some((&k, _)) => k.min(seg.end),
                None => seg.end,
            };
            let to = if pos < cap_end {
                free_to.min(cap_end)
            } else {
                free_to
            };
            f(pos, to, pos < cap_end);
            pos = to;
        }
    }

    /// Inserts the free stretches of `seg` (first seen wins on overlap).
    fn insert(&mut self, seg: Placed) {
        let mut stretches = Vec::new();
        self.free_stretches(&seg, |from, to, data| stretches.push((from, to, data)));
        for (from, to, data) in stretches {
            if data {
                let a = usize::try_from(from - seg.start).unwrap_or(usize::MAX);
                let b = usize::try_from(to - seg.start).unwrap_or(usize::MAX);
                if let Some(bytes) = seg.data.get(a..b) {
                    self.held_bytes += bytes.len();
                    self.held.insert(from, Piece::Data(bytes.to_vec()));
                }
            } else {
                self.held.insert(from, Piece::Truncated(to - from));
            }
        }
    }

    fn deliver<S: StreamSink>(&mut self, bytes: &[u8], out: &mut Sinks<S>) {
        if bytes.is_empty() {
            return;
        }
        out.sink.on_data(out.dir, bytes, out.cx);
        self.skip(bytes.len() as u64);
    }

    /// Moves the cursor over `len` missing bytes, as `gap` events of at most `u32::MAX`.
    fn gap<S: StreamSink>(&mut self, len: u64, reason: GapReason, out: &mut Sinks<S>) {
        let mut left = len;
        while left > 0 {
            let n = u32::try_from(left).unwrap_or(u32::MAX);
            let gap = Gap {
                // Offset 0 is relative sequence number 1.
                seq: (self.next as u32).wrapping_add(1),
                len: n,
                reason,
            };
            out.cx.emit(Some(out.dir), EventBody::Gap(gap));
            out.sink.on_gap(out.dir, n, out.cx);
            self.skip(u64::from(n));
            left -= u64::from(n);
        }
    }

    fn skip(&mut self, n: u64) {
        self.next += n;
        self.next_seq = self.next_seq.wrapping_add(n as u32);
    }

    fn check_end<S: StreamSink>(&mut self, out: &mut Sinks<S>) {
        if let Some(f) = self.fin {
            if self.next >= f && !self.ended {
                self.end(EndCause::Fin, out);
            }
        }
    }

    /// Ends the stream; `cause` unless its FIN was reached (then the FIN ended it).
    fn end<S: StreamSink>(&mut self, cause: EndCause, out: &mut Sinks<S>) {
        self.ended = true;
        self.held = BTreeMap::new();
        self.held_bytes = 0;
        let cause = match self.fin {
            Some(f) if self.next >= f => EndCause::Fin,
            _ => cause,
        };
        out.sink.on_end(out.dir, cause, out.cx);
    }
}
