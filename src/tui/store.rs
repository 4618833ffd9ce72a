//! Where the TUI keeps its events: [`Store`] holds them in arrival order and hands each one
//! back by index ([`Ix`]). What the views need for every row (time, frame, connection,
//! direction, kind, class, filter bits) is read from a fixed-size [`Row`] without building the
//! event; the event itself comes back as a [`Cow`]: rebuilt from its row where it is kept
//! compactly, borrowed where it is kept whole.
//!
//! Compact rows: the kinds that come by the hundred thousand (`tcp`, `ws_frame`, `ws_message`,
//! `http_body`, `data`) keep their fields in a column of their own, fixed-size, and their
//! payload previews apart from them:
//! - in the capture file, when the reader found the kept bytes there ([`Span`]: the offset of
//!   the first byte, and the masking key of a client's frame) and the file can be read again:
//!   the preview is read back when the event is shown, as Wireshark keeps frame offsets;
//! - otherwise (live capture, the demo, standard input, bytes the file does not hold as they
//!   are shown: decrypted, inflated, reassembled from several frames) in an arena of
//!   [`ARENA_CHUNK`]-byte chunks. The arena can be bounded ([`Store::with_payload_budget`]):
//!   beyond the budget the oldest chunks go, and the events whose bytes they held show no
//!   preview any more (`kept` empty, `total` as it was).
//!
//! A text preview that is the start of the kept bytes (a WebSocket text message's, an HTTP
//! body's) is kept as its length only. Every other kind (once per connection or per HTTP
//! message, or rare) is kept whole.
//!
//! Indices are absolute: [`Store::evict_front`] drops the oldest events (live capture keeps the
//! newest: a ring) and the events kept keep their indices; [`Store::first`] is the oldest one
//! still held, [`Store::end`] one past the newest.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use crate::model::{
    ConnId, Data, Dir, Event, EventBody, HttpBody, MaskKey, Nanos, Opcode, Payload, TcpSegment,
    Timestamp, WsFrame, WsMessage,
};

/// Index of an event in the store. `u32` keeps the per-connection indices small (4 bytes a
/// row); a store never holds an index past `u32::MAX`.
pub type Ix = u32;

/// Bytes in one chunk of the payload arena.
pub const ARENA_CHUNK: usize = 1 << 20;

/// What the views read of every event without looking at its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Which filters keep the event ([`crate::tui::timeline::KindFilter::bit`]).
    pub filters: u8,
    /// [`crate::tui::timeline::Class`] as its index.
    pub class: u8,
}

/// Where an event's kept payload bytes are in the capture file, as the reader found them
/// (it compared them byte for byte), and what it took out of the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// File offset of the first kept byte.
    pub at: u64,
    /// Number of kept bytes (the reader emptied `kept`).
    pub len: u32,
    /// The file holds the bytes masked with this key (a client's WebSocket frame, from the
    /// first payload byte).
    pub mask: Option<[u8; 4]>,
    /// The reader took the text preview out too: it is the first `text` kept bytes.
    pub text: Option<u32>,
}

/// A batch of events whose payload previews the reader left in `file` (see [`Span`]).
#[derive(Debug, Clone)]
pub struct Located {
    pub events: Vec<Event>,
    /// One per event.
    pub spans: Vec<Option<Span>>,
    pub file: Arc<File>,
}

/// Which column holds an event's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    Tcp,
    WsFrame,
    WsMessage,
    HttpBody,
    Data,
    Whole,
}

impl Kind {
    const COUNT: usize = 6;
}

/// One event: 24 bytes.
#[derive(Debug, Clone, Copy)]
struct Row {
    /// Nanoseconds since the capture's first packet (the timestamp is the store's base plus
    /// this).
    t: u64,
    frame: u32,
    /// `u32::MAX`: none.
    conn: u32,
    /// Index in its kind's column (absolute, like [`Ix`]).
    slot: u32,
    kind: Kind,
    /// 0: none, 1: client to server, 2: server to client.
    dir: u8,
    meta: Meta,
}

const NO_CONN: u32 = u32::MAX;

/// Where some bytes are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Where {
    /// Nowhere: no bytes.
    #[default]
    None,
    /// In the arena, at an absolute offset.
    Arena,
    /// In the capture file, as they are.
    File,
    /// In the capture file, masked with the row's key.
    FileMasked,
    /// The first bytes of the same event's payload (a text preview).
    Prefix,
}

/// A reference to bytes: 16 bytes.
#[derive(Debug, Clone, Copy, Default)]
struct Bytes {
    at: u64,
    len: u32,
    how: Where,
}

#[derive(Debug, Clone)]
struct FrameRow {
    /// With `data.kept` empty.
    frame: WsFrame,
    data: Bytes,
}

/// A `ws_message` without a close code or reason (those are kept whole), its payload's
/// `total` equal to `len`.
#[derive(Debug, Clone, Copy)]
struct MsgRow {
    len: u64,
    frames: u32,
    opcode: Opcode,
    compressed: bool,
    incomplete: bool,
    mask: [u8; 4],
    data: Bytes,
    text: Bytes,
}

#[derive(Debug, Clone, Copy)]
struct BodyRow {
    len: u64,
    missing: u64,
    total: u64,
    chunk: Option<u32>,
    end: bool,
    data: Bytes,
    text: Bytes,
}

#[derive(Debug, Clone, Copy)]
struct DataRow {
    len: u64,
    total: u64,
    data: Bytes,
    text: Bytes,
}

/// A column of bodies with absolute slots: the first `base` were evicted.
#[derive(Debug, Clone)]
struct Column<T> {
    base: u32,
    items: VecDeque<T>,
}

impl<T> Default for Column<T> {
    fn default() -> Self {
        Column {
            base: 0,
            items: VecDeque::new(),
        }
    }
}

impl<T> Column<T> {
    fn push(&mut self, t: T) -> Option<u32> {
        let slot = u32::try_from(self.items.len())
            .ok()
            .and_then(|n| self.base.checked_add(n))?;
        self.items.push_back(t);
        Some(slot)
    }
    fn get(&self, slot: u32) -> Option<&T> {
        self.items.get(slot.checked_sub(self.base)? as usize)
    }
    fn evict(&mut self, n: usize) {
        let n = n.min(self.items.len());
        self.items.drain(..n);
        self.base = self.base.saturating_add(n as u32);
    }
    fn bytes(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<T>()
    }
}

/// Payload bytes kept in memory: chunks of [`ARENA_CHUNK`] bytes, addressed by absolute
/// offset; beyond `budget` bytes the oldest chunks go.
#[derive(Debug, Clone)]
struct Arena {
    /// `(absolute offset of the first byte, bytes)`.
    chunks: VecDeque<(u64, Vec<u8>)>,
    /// Absolute offset of the next byte.
    end: u64,
    held: usize,
    budget: usize,
    /// Chunks let go because of the budget.
    dropped: u64,
}

impl Arena {
    fn new(budget: usize) -> Arena {
        Arena {
            chunks: VecDeque::new(),
            end: 0,
            held: 0,
            budget,
            dropped: 0,
        }
    }

    fn push(&mut self, b: &[u8]) -> Bytes {
        if b.is_empty() {
            return Bytes::default();
        }
        let room = self
            .chunks
            .back()
            .map_or(0, |(_, c)| c.capacity() - c.len());
        if room < b.len() {
            let cap = ARENA_CHUNK.max(b.len());
            self.chunks.push_back((self.end, Vec::with_capacity(cap)));
            self.held += cap;
            while self.held > self.budget && self.chunks.len() > 1 {
                if let Some((_, c)) = self.chunks.pop_front() {
                    self.held -= c.capacity();
                    self.dropped += 1;
                }
            }
        }
        let at = self.end;
        if let Some((_, c)) = self.chunks.back_mut() {
            c.extend_from_slice(b);
        }
        self.end += b.len() as u64;
        Bytes {
            at,
            len: b.len() as u32,
            how: Where::Arena,
        }
    }

    /// The bytes at `at`, if still held.
    fn get(&self, at: u64, len: u32) -> Option<&[u8]> {
        let i = self.chunks.partition_point(|(start, _)| *start <= at);
        let (start, c) = self.chunks.get(i.checked_sub(1)?)?;
        let from = usize::try_from(at - start).ok()?;
        c.get(from..from.checked_add(len as usize)?)
    }

    fn bytes(&self) -> usize {
        self.held + self.chunks.capacity() * std::mem::size_of::<(u64, Vec<u8>)>()
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    rows: Vec<Row>,
    /// Index of `rows[0]`.
    base: Ix,
    /// Timestamp of a compact row: `ts_base + t`.
    ts_base: Option<u64>,
    tcp: Column<TcpSegment>,
    frames: Column<FrameRow>,
    messages: Column<MsgRow>,
    bodies: Column<BodyRow>,
    data: Column<DataRow>,
    whole: Column<Event>,
    arena: Arena,
    file: Option<Arc<File>>,
    /// Payload previews left in the file.
    from_file: u64,
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

/// The 4 bytes of a masking key (its 8 hex digits).
pub fn mask_bytes(k: &MaskKey) -> Option<[u8; 4]> {
    let s = k.as_str().as_bytes();
    let mut out = [0u8; 4];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let hex = std::str::from_utf8(pair).ok()?;
        *o = u8::from_str_radix(hex, 16).ok()?;
    }
    (s.len() == 8).then_some(out)
}

/// `data` XOR the key, from key byte 0 (masking and unmasking are the same).
pub fn unmask(data: &mut [u8], key: [u8; 4]) {
    for (b, k) in data.iter_mut().zip(key.iter().cycle()) {
        *b ^= k;
    }
}

impl Store {
    /// A store that keeps every payload preview it is given.
    pub fn new() -> Store {
        Store::with_payload_budget(usize::MAX)
    }

    /// A store that keeps at most about `budget` bytes of payload previews in memory (the
    /// newest); previews read back from the capture file do not count.
    pub fn with_payload_budget(budget: usize) -> Store {
        Store {
            rows: Vec::new(),
            base: 0,
            ts_base: None,
            tcp: Column::default(),
            frames: Column::default(),
            messages: Column::default(),
            bodies: Column::default(),
            data: Column::default(),
            whole: Column::default(),
            arena: Arena::new(budget),
            file: None,
            from_file: 0,
        }
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Index of the oldest event held.
    pub fn first(&self) -> Ix {
        self.base
    }

    /// One past the index of the newest event.
    pub fn end(&self) -> usize {
        self.base as usize + self.rows.len()
    }

    /// Room for `n` more events (never more than asked: the last doubling of a large store
    /// would reserve room for events that will not come).
    pub fn reserve(&mut self, n: usize) {
        self.rows.reserve_exact(n);
    }

    pub fn capacity(&self) -> usize {
        self.rows.capacity()
    }

    /// Payload previews left in the capture file (read back when shown).
    pub fn from_file(&self) -> u64 {
        self.from_file
    }

    /// Bytes of payload previews held in memory.
    pub fn arena_bytes(&self) -> u64 {
        self.arena.end
    }

    /// Arena chunks let go because of the payload budget.
    pub fn payload_chunks_dropped(&self) -> u64 {
        self.arena.dropped
    }

    /// Appends `e`; returns its index, or `None` when no index is left (`u32::MAX` events
    /// went through the store).
    pub fn push(&mut self, e: Event, meta: Meta) -> Option<Ix> {
        self.push_at(e, meta, None, None)
    }

    /// Appends `e`, whose payload preview the reader left in `file` at `span` (see [`Span`]).
    pub fn push_at(
        &mut self,
        e: Event,
        meta: Meta,
        span: Option<Span>,
        file: Option<&Arc<File>>,
    ) -> Option<Ix> {
        let ix = Ix::try_from(self.end()).ok().filter(|&ix| ix < u32::MAX)?;
        if let (Some(_), Some(f)) = (span, file) {
            if self.file.as_ref().is_none_or(|old| !Arc::ptr_eq(old, f)) {
                self.file = Some(Arc::clone(f));
            }
        }
        let span = span.filter(|_| self.file.is_some());
        let ts_base = *self.ts_base.get_or_insert(e.ts.0.wrapping_sub(e.t.0));
        let compact = e.ts.0 == ts_base.wrapping_add(e.t.0)
            && e.conn != Some(NO_CONN)
            && u32::try_from(e.frame).is_ok();
        let kind = match &e.body {
            _ if !compact => Kind::Whole,
            EventBody::Tcp(_) => Kind::Tcp,
            EventBody::WsFrame(_) => Kind::WsFrame,
            EventBody::WsMessage(m)
                if m.code.is_none()
                    && m.code_name.is_none()
                    && m.reason.is_none()
                    && m.data.total == m.len =>
            {
                Kind::WsMessage
            }
            EventBody::HttpBody(_) => Kind::HttpBody,
            EventBody::Data(_) => Kind::Data,
            _ => Kind::Whole,
        };
        let row = Row {
            t: e.t.0,
            frame: u32::try_from(e.frame).unwrap_or(0),
            conn: e.conn.unwrap_or(NO_CONN),
            slot: 0,
            kind,
            dir: match e.dir {
                None => 0,
                Some(Dir::C2s) => 1,
                Some(Dir::S2c) => 2,
            },
            meta,
        };
        let slot = match e.body {
            EventBody::Tcp(s) if kind == Kind::Tcp => self.tcp.push(s),
            EventBody::WsFrame(mut f) if kind == Kind::WsFrame => {
                let kept = std::mem::take(&mut f.data.kept);
                let data = self.bytes(&kept, span, f.mask_key.as_ref().and_then(mask_bytes));
                self.frames.push(FrameRow { frame: f, data })
            }
            EventBody::WsMessage(mut m) if kind == Kind::WsMessage => {
                let kept = std::mem::take(&mut m.data.kept);
                let mask = span.and_then(|s| s.mask);
                let data = self.bytes(&kept, span, mask);
                let text = self.text(m.text.take(), &kept, span);
                self.messages.push(MsgRow {
                    len: m.len,
                    frames: m.frames,
                    opcode: m.opcode,
                    compressed: m.compressed,
                    incomplete: m.incomplete,
                    mask: mask.unwrap_or_default(),
                    data,
                    text,
                })
            }
            EventBody::HttpBody(mut b) if kind == Kind::HttpBody => {
                let kept = std::mem::take(&mut b.data.kept);
                let data = self.bytes(&kept, span, None);
                let text = self.text(b.text.take(), &kept, span);
                self.bodies.push(BodyRow {
                    len: b.len,
                    missing: b.missing,
                    total: b.data.total,
                    chunk: b.chunk,
                    end: b.end,
                    data,
                    text,
                })
            }
            EventBody::Data(mut d) if kind == Kind::Data => {
                let kept = std::mem::take(&mut d.data.kept);
                let data = self.bytes(&kept, span, None);
                let text = self.text(d.text.take(), &kept, span);
                self.data.push(DataRow {
                    len: d.len,
                    total: d.data.total,
                    data,
                    text,
                })
            }
            mut body => {
                // Kept whole: with its preview back in it, if the reader left it in the file.
                if let Some(s) = span {
                    self.restore(&mut body, s);
                }
                self.whole.push(Event { body, ..e })
            }
        }?;
        self.rows.push(Row { slot, ..row });
        Some(ix)
    }

    /// Puts back into `body` the preview and text the reader left in the file at `s`.
    fn restore(&self, body: &mut EventBody, s: Span) {
        let how = if s.mask.is_some() {
            Where::FileMasked
        } else {
            Where::File
        };
        let kept = self.read(
            Bytes {
                at: s.at,
                len: s.len,
                how,
            },
            s.mask,
        );
        let text = s
            .text
            .and_then(|n| String::from_utf8(kept.get(..n as usize)?.to_vec()).ok());
        let (data, text_slot) = match body {
            EventBody::WsFrame(f) => (&mut f.data, None),
            EventBody::WsMessage(m) => (&mut m.data, Some(&mut m.text)),
            EventBody::HttpBody(b) => (&mut b.data, Some(&mut b.text)),
            EventBody::Data(d) => (&mut d.data, Some(&mut d.text)),
            _ => return,
        };
        data.kept = kept.into();
        if let (Some(slot), Some(t)) = (text_slot, text) {
            *slot = Some(t);
        }
    }

    /// Where the kept bytes go: the reader's span (the bytes are in the file), or the arena.
    fn bytes(&mut self, kept: &[u8], span: Option<Span>, mask: Option<[u8; 4]>) -> Bytes {
        match span {
            Some(s) if s.len > 0 => {
                self.from_file += 1;
                Bytes {
                    at: s.at,
                    len: s.len,
                    how: if mask.is_some() {
                        Where::FileMasked
                    } else {
                        Where::File
                    },
                }
            }
            _ => self.arena.push(kept),
        }
    }

    /// Where a text preview goes: nowhere when the reader took it out as the start of the
    /// payload, its length when it is the start of the kept bytes, else the arena.
    fn text(&mut self, text: Option<String>, kept: &[u8], span: Option<Span>) -> Bytes {
        if let Some(n) = span.and_then(|s| s.text) {
            return Bytes {
                at: 0,
                len: n,
                how: Where::Prefix,
            };
        }
        let Some(text) = text else {
            return Bytes::default();
        };
        if kept.starts_with(text.as_bytes()) {
            return Bytes {
                at: 0,
                len: text.len() as u32,
                how: Where::Prefix,
            };
        }
        let mut b = self.arena.push(text.as_bytes());
        if text.is_empty() {
            // An empty preview is still a preview.
            b.how = Where::Prefix;
        }
        b
    }

    /// The bytes `b` refers to (empty when they are gone: evicted from the arena, or the file
    /// could not be read).
    fn read(&self, b: Bytes, mask: Option<[u8; 4]>) -> Vec<u8> {
        match b.how {
            Where::None | Where::Prefix => Vec::new(),
            Where::Arena => self
                .arena
                .get(b.at, b.len)
                .map(<[u8]>::to_vec)
                .unwrap_or_default(),
            Where::File | Where::FileMasked => {
                let Some(f) = &self.file else {
                    return Vec::new();
                };
                let mut buf = vec![0; b.len as usize];
                if f.read_exact_at(&mut buf, b.at).is_err() {
                    return Vec::new();
                }
                if let (Where::FileMasked, Some(k)) = (b.how, mask) {
                    unmask(&mut buf, k);
                }
                buf
            }
        }
    }

    /// The text `b` refers to, given the payload's kept bytes.
    fn read_text(&self, b: Bytes, kept: &[u8]) -> Option<String> {
        let bytes = match b.how {
            Where::None => return None,
            Where::Prefix => kept.get(..b.len as usize)?.to_vec(),
            _ => self.read(b, None),
        };
        String::from_utf8(bytes).ok()
    }

    fn row(&self, ix: Ix) -> Option<&Row> {
        self.rows.get(ix.checked_sub(self.base)? as usize)
    }

    /// Event `ix`, whole.
    pub fn get(&self, ix: Ix) -> Option<Cow<'_, Event>> {
        let r = self.row(ix)?;
        if r.kind == Kind::Whole {
            return self.whole.get(r.slot).map(Cow::Borrowed);
        }
        let body = match r.kind {
            Kind::Tcp => EventBody::Tcp(self.tcp.get(r.slot)?.clone()),
            Kind::WsFrame => {
                let f = self.frames.get(r.slot)?;
                let mask = f.frame.mask_key.as_ref().and_then(mask_bytes);
                let mut frame = f.frame.clone();
                frame.data.kept = self.read(f.data, mask).into();
                EventBody::WsFrame(frame)
            }
            Kind::WsMessage => {
                let m = self.messages.get(r.slot)?;
                let kept = self.read(m.data, Some(m.mask));
                let text = self.read_text(m.text, &kept);
                EventBody::WsMessage(Box::new(WsMessage {
                    opcode: m.opcode,
                    len: m.len,
                    compressed: m.compressed,
                    frames: m.frames,
                    text,
                    code: None,
                    code_name: None,
                    reason: None,
                    data: Payload {
                        kept: kept.into(),
                        total: m.len,
                    },
                    incomplete: m.incomplete,
                }))
            }
            Kind::HttpBody => {
                let b = self.bodies.get(r.slot)?;
                let kept = self.read(b.data, None);
                let text = self.read_text(b.text, &kept);
                EventBody::HttpBody(Box::new(HttpBody {
                    len: b.len,
                    chunk: b.chunk,
                    end: b.end,
                    missing: b.missing,
                    text,
                    data: Payload {
                        kept: kept.into(),
                        total: b.total,
                    },
                }))
            }
            Kind::Data => {
                let d = self.data.get(r.slot)?;
                let kept = self.read(d.data, None);
                let text = self.read_text(d.text, &kept);
                EventBody::Data(Box::new(Data {
                    len: d.len,
                    text,
                    data: Payload {
                        kept: kept.into(),
                        total: d.total,
                    },
                }))
            }
            Kind::Whole => return None,
        };
        Some(Cow::Owned(Event {
            ts: Timestamp(self.ts_base.unwrap_or(0).wrapping_add(r.t)),
            t: Nanos(r.t),
            frame: u64::from(r.frame),
            conn: self.conn(ix),
            dir: self.dir(ix),
            body,
        }))
    }

    /// Nanoseconds since the capture's first packet.
    pub fn t(&self, ix: Ix) -> Option<u64> {
        let r = self.row(ix)?;
        if r.kind == Kind::Whole {
            return self.whole.get(r.slot).map(|e| e.t.0);
        }
        Some(r.t)
    }

    pub fn frame(&self, ix: Ix) -> Option<u64> {
        let r = self.row(ix)?;
        if r.kind == Kind::Whole {
            return self.whole.get(r.slot).map(|e| e.frame);
        }
        Some(u64::from(r.frame))
    }

    pub fn conn(&self, ix: Ix) -> Option<ConnId> {
        let r = self.row(ix)?;
        if r.kind == Kind::Whole {
            return self.whole.get(r.slot).and_then(|e| e.conn);
        }
        Some(r.conn).filter(|&c| c != NO_CONN)
    }

    pub fn dir(&self, ix: Ix) -> Option<Dir> {
        match self.row(ix)?.dir {
            1 => Some(Dir::C2s),
            2 => Some(Dir::S2c),
            _ => None,
        }
    }

    /// The event's JSON kind.
    pub fn kind(&self, ix: Ix) -> Option<&'static str> {
        let r = self.row(ix)?;
        Some(match r.kind {
            Kind::Tcp => "tcp",
            Kind::WsFrame => "ws_frame",
            Kind::WsMessage => "ws_message",
            Kind::HttpBody => "http_body",
            Kind::Data => "data",
            Kind::Whole => return self.whole.get(r.slot).map(|e| e.body.kind()),
        })
    }

    pub fn meta(&self, ix: Ix) -> Option<Meta> {
        self.row(ix).map(|r| r.meta)
    }

    /// Drops the `n` oldest events: the event that was [`Store::first`]` + n` becomes the
    /// first; indices do not change.
    pub fn evict_front(&mut self, n: usize) {
        let n = n.min(self.rows.len());
        let mut per = [0usize; Kind::COUNT];
        for r in self.rows.get(..n).unwrap_or(&[]) {
            if let Some(c) = per.get_mut(r.kind as usize) {
                *c += 1;
            }
        }
        self.rows.drain(..n);
        self.base = self.base.saturating_add(n as u32);
        self.tcp.evict(per[Kind::Tcp as usize]);
        self.frames.evict(per[Kind::WsFrame as usize]);
        self.messages.evict(per[Kind::WsMessage as usize]);
        self.bodies.evict(per[Kind::HttpBody as usize]);
        self.data.evict(per[Kind::Data as usize]);
        self.whole.evict(per[Kind::Whole as usize]);
    }

    /// Bytes held by the rows and columns, and the heap of the events kept whole (estimated
    /// from their kinds' sizes), for the memory example and tests.
    pub fn heap_bytes(&self) -> usize {
        self.rows.capacity() * std::mem::size_of::<Row>()
            + self.tcp.bytes()
            + self.frames.bytes()
            + self.messages.bytes()
            + self.bodies.bytes()
            + self.data.bytes()
            + self.whole.bytes()
            + self.arena.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::sample;

    const META: Meta = Meta {
        filters: 0,
        class: 0,
    };

    #[test]
    fn rows_are_small() {
        assert_eq!(std::mem::size_of::<Row>(), 24);
        assert_eq!(std::mem::size_of::<Bytes>(), 16);
        assert!(std::mem::size_of::<MsgRow>() <= 56);
    }

    /// Every event of the demo and of real captures comes back as it went in.
    #[test]
    fn events_come_back_as_they_went_in() {
        let mut all = sample::demo();
        for name in [
            "ws_chat.pcapng",
            "stomp.pcapng",
            "sse.pcapng",
            "http_keepalive.pcapng",
        ] {
            all.extend(capture(name));
        }
        let mut s = Store::new();
        for e in &all {
            s.push(e.clone(), META).unwrap();
        }
        assert_eq!(s.len(), all.len());
        for (ix, e) in all.iter().enumerate() {
            let ix = ix as Ix;
            assert_eq!(s.get(ix).as_deref(), Some(e), "{ix}");
            assert_eq!(s.kind(ix), Some(e.body.kind()));
            assert_eq!((s.t(ix), s.frame(ix)), (Some(e.t.0), Some(e.frame)));
            assert_eq!((s.conn(ix), s.dir(ix)), (e.conn, e.dir));
        }
    }

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

    /// The oldest events go, the others keep their indices.
    #[test]
    fn evicting_keeps_the_indices_of_the_rest() {
        let all = sample::demo();
        let mut s = Store::new();
        for e in &all {
            s.push(e.clone(), META).unwrap();
        }
        s.evict_front(7);
        s.evict_front(5);
        assert_eq!(
            (s.first(), s.end(), s.len()),
            (12, all.len(), all.len() - 12)
        );
        assert!(s.get(11).is_none());
        for (ix, e) in all.iter().enumerate().skip(12) {
            assert_eq!(s.get(ix as Ix).as_deref(), Some(e), "{ix}");
        }
        // New events continue the numbering.
        let ix = s.push(all[0].clone(), META).unwrap();
        assert_eq!(ix as usize, all.len());
        assert_eq!(s.get(ix).as_deref(), Some(&all[0]));
    }

    /// Past its budget the arena lets the oldest previews go: their events stay, with no
    /// preview; the newest keep theirs.
    #[test]
    fn the_payload_budget_lets_the_oldest_previews_go() {
        let mut s = Store::with_payload_budget(2 * ARENA_CHUNK);
        let mut e = sample::demo()
            .into_iter()
            .find(|e| matches!(e.body, EventBody::WsFrame(_)))
            .unwrap();
        let EventBody::WsFrame(f) = &mut e.body else {
            unreachable!()
        };
        f.data = Payload::capped(&[7u8; 4096], 4096);
        f.payload_len = 4096;
        for _ in 0..2000 {
            s.push(e.clone(), META).unwrap();
        }
        assert!(s.payload_chunks_dropped() > 0);
        assert!(s.heap_bytes() < 4 * ARENA_CHUNK);
        let EventBody::WsFrame(old) = s.get(0).unwrap().into_owned().body else {
            panic!()
        };
        assert!(old.data.kept.is_empty());
        assert_eq!(old.data.total, 4096);
        assert_eq!(s.get(1999).as_deref(), Some(&e));
    }
}
