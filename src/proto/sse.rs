//! Server-Sent Events: the `text/event-stream` parser of WHATWG HTML §9.2.6 ("Interpreting an
//! event stream"), streaming.
//!
//! The parser is fed the body bytes of one response as they arrive, in pieces cut anywhere
//! (a line, a CRLF or the BOM may span pieces), and reports one [`SseEvent`] per block of
//! lines ended by a blank line. It follows the standard's rules: one leading UTF-8 BOM is
//! dropped; lines end at CRLF, LF or CR; a line starting with `:` is a comment; otherwise the
//! field name runs to the first `:` (or the whole line, with an empty value) and one space
//! after the colon is stripped; `data` values are joined with "\n"; `event` replaces the
//! type; `id` is ignored when it contains NUL; `retry` counts only when it is all ASCII digits;
//! unknown fields are ignored.
//!
//! Unlike a browser, it also reports blocks a browser would not dispatch (no `data` line: a
//! `retry` or a comment alone), with `dispatched: false`, since what they set still applies,
//! and the comments a browser ignores.
//!
//! Memory: only the previews are kept, each at most 4 x `max_preview` bytes (a UTF-8
//! character is at most 4 bytes), whatever the size of the lines; lengths are counted.
//!
//! An event is at most `max_event` bytes (`Limits::max_subprotocol_message`: its lines and
//! their line ends, not the blank line that ends it). One that reaches the limit is reported
//! at once, `incomplete`, with what it holds so far (its last line taken as ended), and the
//! rest of its block, up to the next blank line, is skipped.

use crate::model::SseEvent;

/// The longest field name the standard defines ("retry", "event"): longer names are unknown.
const NAME_MAX: usize = 5;

/// UTF-8 byte order mark (WHATWG Encoding: the UTF-8 decode drops one at the start).
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Data,
    Event,
    Id,
    Retry,
    /// An unknown field: its line is ignored.
    Unknown,
}

impl Field {
    fn from_name(name: &[u8]) -> Field {
        match name {
            b"data" => Field::Data,
            b"event" => Field::Event,
            b"id" => Field::Id,
            b"retry" => Field::Retry,
            _ => Field::Unknown,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// The next byte starts a line.
    Start,
    /// Reading a field name; `len` bytes of it are in `SseParser::name` (a name longer than
    /// [`NAME_MAX`] is unknown whatever follows, so its bytes are not kept).
    Name {
        len: usize,
    },
    /// Reading a value; `first` until the first value byte (one leading space is dropped).
    Value {
        field: Field,
        first: bool,
    },
    /// A comment line; `first` as for a value.
    Comment {
        first: bool,
    },
    /// Skipping the rest of a block that reached the size limit: inside a line, or at the
    /// start of one (where a blank line ends the skip).
    Skipping,
    SkipAtStart,
}

/// The block (event) being built.
#[derive(Debug, Default)]
struct Block {
    /// Any non-blank line was read since the last dispatch.
    any: bool,
    /// Bytes of the block so far (its lines and their line ends; a CRLF counts 1).
    bytes: u64,
    data: Vec<u8>,
    data_len: u64,
    data_lines: u32,
    event: Vec<u8>,
    id: Option<Vec<u8>>,
    retry: Option<u64>,
    comment: Vec<u8>,
    comments: u32,
    incomplete: bool,
}

/// What the line in progress holds: fields are applied at its end, so that a line cut by a
/// gap leaves the block as it was.
#[derive(Debug, Default)]
struct Pending {
    /// `data`: the length of the block's data (kept and counted) before this line.
    data_kept: usize,
    data_len: u64,
    /// `event`: the value so far.
    event: Vec<u8>,
    /// `id`: the value so far and whether it contains NUL.
    id: Vec<u8>,
    id_nul: bool,
    /// `retry`: the number so far, `None` once a non-digit or an overflow was seen.
    retry: Option<u64>,
    retry_digits: u32,
}

/// Streaming `text/event-stream` parser for one response body.
#[derive(Debug)]
pub struct SseParser {
    max_preview: usize,
    max_event: u64,
    /// Events cut at `max_event` since the last [`SseParser::take_limited`].
    limited: u32,
    /// Bytes of a leading BOM matched so far; `None` once the start of the stream is passed.
    bom: Option<usize>,
    line: Line,
    /// The previous byte was a CR: an LF right after it belongs to the same line end.
    after_cr: bool,
    name: [u8; NAME_MAX],
    block: Block,
    pending: Pending,
}

impl SseParser {
    /// A parser at the start of a body; previews are cut at `max_preview` characters, events
    /// at `max_event` bytes.
    pub fn new(max_preview: usize, max_event: u64) -> Self {
        SseParser {
            max_preview,
            max_event,
            limited: 0,
            bom: Some(0),
            line: Line::Start,
            after_cr: false,
            name: [0; NAME_MAX],
            block: Block::default(),
            pending: Pending::default(),
        }
    }

    /// Bytes kept per preview buffer.
    fn cap(&self) -> usize {
        Self::cap_of(self.max_preview)
    }

    fn cap_of(max_preview: usize) -> usize {
        max_preview.saturating_mul(4)
    }

    /// Bytes buffered now: the previews of the block and of the line in progress (for
    /// memory-bound tests).
    #[doc(hidden)]
    pub fn held_bytes(&self) -> usize {
        let b = &self.block;
        b.data.len()
            + b.event.len()
            + b.id.as_ref().map_or(0, Vec::len)
            + b.comment.len()
            + self.pending.event.len()
            + self.pending.id.len()
    }

    /// The most [`SseParser::held_bytes`] can be for previews of `max_preview` characters:
    /// five preview buffers (the block's data, type, id and comments, and the type or id of
    /// the line in progress) of at most 4 x `max_preview` bytes each.
    #[doc(hidden)]
    pub fn max_held(max_preview: usize) -> usize {
        Self::cap_of(max_preview).saturating_mul(5)
    }

    /// Feeds the next body bytes; appends each block that a blank line ended to `out`. Any
    /// cutting of a body into pieces gives the same events.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<SseEvent>) {
        let mut rest = data;
        while !rest.is_empty() {
            let n = self.feed_to_limit(rest, out);
            rest = rest.get(n..).unwrap_or_default();
        }
    }

    /// [`SseParser::feed`] up to the byte at which an event reaches `max_event` (that event
    /// then last in `out`, [`SseParser::take_limited`] telling): returns the bytes consumed,
    /// all of `data` unless the limit stopped it (then at least one).
    pub fn feed_to_limit(&mut self, data: &[u8], out: &mut Vec<SseEvent>) -> usize {
        let mut rest = data;
        if let Some(seen) = self.bom {
            // WHATWG Encoding, UTF-8 decode: one leading BOM is dropped. Its bytes may arrive
            // one piece at a time: they are matched without being consumed until decided.
            let mut matched = seen;
            while let (Some(&b), Some(&want)) = (rest.first(), BOM.get(matched)) {
                if b != want {
                    break;
                }
                matched += 1;
                rest = rest.get(1..).unwrap_or_default();
            }
            if matched == BOM.len() {
                self.bom = None;
            } else if rest.is_empty() {
                self.bom = Some(matched);
                return data.len();
            } else {
                // Not a BOM after all: the bytes matched so far are stream bytes.
                self.bom = None;
                for &b in BOM.get(..matched).unwrap_or_default() {
                    self.byte(b, out);
                }
            }
        }
        let skipped = data.len() - rest.len();
        let limited = self.limited;
        let mut i = 0;
        while let Some(&b) = rest.get(i) {
            let n = self.run(rest.get(i..).unwrap_or_default());
            if n > 0 {
                i += n;
                continue;
            }
            self.byte(b, out);
            i += 1;
            if self.limited != limited {
                break;
            }
        }
        skipped + i
    }

    /// How many events reached `max_event` since the last call (for the caller's note).
    pub fn take_limited(&mut self) -> u32 {
        std::mem::take(&mut self.limited)
    }

    /// The fast path inside a line: takes the bytes of `b` up to the next line end at once
    /// when the line is past its first value byte (or skipped), as [`SseParser::byte`] would
    /// one at a time; returns how many it took (0: take the next byte alone).
    fn run(&mut self, b: &[u8]) -> usize {
        let counted = match self.line {
            Line::Value { first: false, .. } | Line::Comment { first: false } => true,
            Line::Skipping => false,
            _ => return 0,
        };
        if self.after_cr {
            return 0;
        }
        let mut n = b
            .iter()
            .position(|&c| c == b'\r' || c == b'\n')
            .unwrap_or(b.len());
        if counted {
            let room = self.max_event.saturating_sub(self.block.bytes);
            n = usize::try_from(room).map_or(n, |r| r.min(n));
            self.block.bytes += n as u64;
        }
        let run = b.get(..n).unwrap_or_default();
        let cap = self.cap();
        let keep = |buf: &mut Vec<u8>| {
            let room = cap.saturating_sub(buf.len()).min(run.len());
            buf.extend_from_slice(run.get(..room).unwrap_or_default());
        };
        match self.line {
            Line::Value {
                field: Field::Data, ..
            } => {
                self.block.data_len += n as u64;
                keep(&mut self.block.data);
            }
            Line::Value {
                field: Field::Event,
                ..
            } => keep(&mut self.pending.event),
            Line::Value {
                field: Field::Id, ..
            } => {
                self.pending.id_nul |= run.contains(&0);
                keep(&mut self.pending.id);
            }
            Line::Value {
                field: Field::Retry,
                ..
            } => {
                // Digits one at a time: a retry value is a few bytes.
                for &c in run {
                    self.value_byte(Field::Retry, c);
                }
            }
            Line::Comment { .. } => keep(&mut self.block.comment),
            _ => {}
        }
        n
    }

    /// The block in progress reached `max_event` bytes: report it (its line in progress taken
    /// as ended) and skip the rest of it.
    fn over(&mut self, out: &mut Vec<SseEvent>) {
        if self.line != Line::Start {
            self.end_line();
        }
        self.block.incomplete = true;
        let dispatched = self.block.data_lines > 0;
        let ev = self.take_block(dispatched);
        out.push(ev);
        self.limited = self.limited.saturating_add(1);
        self.pending = Pending::default();
        self.line = Line::Skipping;
    }

    /// Bytes of the body are missing (a capture gap, or bytes beyond the kept payload): the
    /// line in progress is dropped, the block in progress is marked incomplete, and the next
    /// byte is taken as the start of a line.
    pub fn gap(&mut self) {
        if matches!(self.line, Line::Skipping | Line::SkipAtStart) {
            // The block was reported already; what follows the gap starts a line.
            self.bom = None;
            self.after_cr = false;
            self.line = Line::SkipAtStart;
            return;
        }
        if let Line::Value {
            field: Field::Data, ..
        } = self.line
        {
            self.block.data.truncate(self.pending.data_kept);
            self.block.data_len = self.pending.data_len;
        }
        self.bom = None;
        self.line = Line::Start;
        self.after_cr = false;
        self.pending = Pending::default();
        self.block.incomplete = true;
        self.block.any = true;
    }

    /// The body ended. A block the stream ended in before its blank line is reported, not
    /// dispatched (a browser discards it) and incomplete. The parser is then back at the start
    /// of a stream.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if let Some(seen) = self.bom.take() {
            // The body ended inside what could have been a BOM: those bytes are stream bytes.
            for &b in BOM.get(..seen).unwrap_or_default() {
                self.byte(b, out);
            }
        }
        if matches!(self.line, Line::Skipping | Line::SkipAtStart) {
            // The block was reported when it reached the limit.
            self.line = Line::Start;
        }
        if self.line != Line::Start {
            self.end_line();
        }
        if self.block.any {
            self.block.incomplete = true;
            let ev = self.take_block(false);
            out.push(ev);
        }
        let limited = self.limited;
        *self = SseParser::new(self.max_preview, self.max_event);
        self.limited = limited;
    }

    fn byte(&mut self, b: u8, out: &mut Vec<SseEvent>) {
        if std::mem::take(&mut self.after_cr) && b == b'\n' {
            // The LF of a CRLF: the line already ended at the CR.
            return;
        }
        let eol = b == b'\r' || b == b'\n';
        if eol {
            self.after_cr = b == b'\r';
        }
        match self.line {
            Line::SkipAtStart if eol => {
                // The blank line that ends the skipped block.
                self.line = Line::Start;
                return;
            }
            Line::Skipping if eol => {
                self.line = Line::SkipAtStart;
                return;
            }
            Line::SkipAtStart | Line::Skipping => {
                self.line = Line::Skipping;
                return;
            }
            Line::Start if eol => {
                self.blank_line(out);
                return;
            }
            _ => {}
        }
        // A byte of the block (a line's byte or its line end).
        if self.block.bytes >= self.max_event {
            self.over(out);
            if eol {
                self.line = Line::SkipAtStart;
            }
            return;
        }
        self.block.bytes += 1;
        if eol {
            self.end_line();
            return;
        }
        let cap = self.cap();
        match self.line {
            Line::Start => {
                self.block.any = true;
                if b == b':' {
                    if self.block.comments > 0 && self.block.comment.len() < cap {
                        self.block.comment.push(b'\n');
                    }
                    self.block.comments = self.block.comments.saturating_add(1);
                    self.line = Line::Comment { first: true };
                } else {
                    self.name[0] = b;
                    self.line = Line::Name { len: 1 };
                }
            }
            Line::Name { len } => {
                if b == b':' {
                    let field = match self.name.get(..len) {
                        Some(name) if len <= NAME_MAX => Field::from_name(name),
                        _ => Field::Unknown,
                    };
                    self.start_value(field);
                    self.line = Line::Value { field, first: true };
                } else {
                    if let Some(slot) = self.name.get_mut(len) {
                        *slot = b;
                    }
                    // Saturates just past NAME_MAX: every longer name is unknown.
                    self.line = Line::Name {
                        len: (len + 1).min(NAME_MAX + 1),
                    };
                }
            }
            Line::Value { field, first } => {
                self.line = Line::Value {
                    field,
                    first: false,
                };
                if first && b == b' ' {
                    return;
                }
                self.value_byte(field, b);
            }
            Line::Comment { first } => {
                self.line = Line::Comment { first: false };
                if (first && b == b' ') || self.block.comment.len() >= cap {
                    return;
                }
                self.block.comment.push(b);
            }
            Line::Skipping | Line::SkipAtStart => {}
        }
    }

    fn start_value(&mut self, field: Field) {
        match field {
            Field::Data => {
                self.pending.data_kept = self.block.data.len();
                self.pending.data_len = self.block.data_len;
            }
            Field::Event => self.pending.event.clear(),
            Field::Id => {
                self.pending.id.clear();
                self.pending.id_nul = false;
            }
            Field::Retry => {
                self.pending.retry = Some(0);
                self.pending.retry_digits = 0;
            }
            Field::Unknown => {}
        }
    }

    fn value_byte(&mut self, field: Field, b: u8) {
        let cap = self.cap();
        match field {
            Field::Data => {
                self.block.data_len += 1;
                if self.block.data.len() < cap {
                    self.block.data.push(b);
                }
            }
            Field::Event => {
                if self.pending.event.len() < cap {
                    self.pending.event.push(b);
                }
            }
            Field::Id => {
                self.pending.id_nul |= b == 0;
                if self.pending.id.len() < cap {
                    self.pending.id.push(b);
                }
            }
            Field::Retry => {
                self.pending.retry_digits = self.pending.retry_digits.saturating_add(1);
                self.pending.retry = self.pending.retry.and_then(|v| {
                    let d = char::from(b).to_digit(10)?;
                    v.checked_mul(10)?.checked_add(u64::from(d))
                });
            }
            Field::Unknown => {}
        }
    }

    /// A non-blank line ended: apply its field.
    fn end_line(&mut self) {
        match self.line {
            Line::Start | Line::Comment { .. } | Line::Skipping | Line::SkipAtStart => {}
            Line::Name { len } => {
                // A line without a colon: the whole line is the name, the value is empty.
                let field = match self.name.get(..len) {
                    Some(name) if len <= NAME_MAX => Field::from_name(name),
                    _ => Field::Unknown,
                };
                self.start_value(field);
                self.apply(field);
            }
            Line::Value { field, .. } => self.apply(field),
        }
        self.line = Line::Start;
    }

    fn apply(&mut self, field: Field) {
        match field {
            Field::Data => {
                // "Append the field value to the data buffer, then append a single U+000A LINE
                // FEED (LF) character to the data buffer."
                self.block.data_len += 1;
                self.block.data_lines = self.block.data_lines.saturating_add(1);
                if self.block.data.len() < self.cap() {
                    self.block.data.push(b'\n');
                }
            }
            Field::Id => {
                // "If the field value does not contain U+0000 NULL, then set the last event ID
                // buffer to the field value. Otherwise, ignore the field."
                let id = std::mem::take(&mut self.pending.id);
                if !self.pending.id_nul {
                    self.block.id = Some(id);
                }
            }
            Field::Retry => {
                // "If the field value consists of only ASCII digits, then interpret the field
                // value as an integer in base ten" (an empty value is not a number).
                if let (Some(v), true) = (self.pending.retry, self.pending.retry_digits > 0) {
                    self.block.retry = Some(v);
                }
            }
            // "Set the event type buffer to the field value."
            Field::Event => self.block.event = std::mem::take(&mut self.pending.event),
            Field::Unknown => {}
        }
    }

    /// A blank line: "dispatch the event".
    fn blank_line(&mut self, out: &mut Vec<SseEvent>) {
        if !self.block.any {
            return;
        }
        // "If the data buffer is an empty string, set the data buffer and the event type
        // buffer to the empty string and return": a block without a data line is not an event.
        let dispatched = self.block.data_lines > 0;
        let ev = self.take_block(dispatched);
        out.push(ev);
    }

    fn take_block(&mut self, dispatched: bool) -> SseEvent {
        let b = std::mem::take(&mut self.block);
        let max = self.max_preview;
        let mut data = b.data;
        let mut data_len = b.data_len;
        if b.data_lines > 0 {
            // "If the data buffer's last character is a U+000A LINE FEED (LF) character, then
            // remove the last character from the data buffer."
            data_len = data_len.saturating_sub(1);
            if data.len() as u64 > data_len {
                data.truncate(data_len as usize);
            }
        }
        SseEvent {
            event: (!b.event.is_empty()).then(|| super::preview(&b.event, max)),
            id: b.id.map(|id| super::preview(&id, max)),
            data: super::preview(&data, max),
            retry: b.retry,
            data_len,
            comment: (b.comments > 0).then(|| super::preview(&b.comment, max)),
            dispatched,
            incomplete: b.incomplete,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(input: &[u8]) -> Vec<SseEvent> {
        let mut p = SseParser::new(256, u64::MAX);
        let mut out = Vec::new();
        p.feed(input, &mut out);
        p.finish(&mut out);
        out
    }

    fn ev(event: Option<&str>, id: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_string),
            id: id.map(str::to_string),
            data: data.to_string(),
            retry: None,
            data_len: data.len() as u64,
            comment: None,
            dispatched: true,
            incomplete: false,
        }
    }

    /// The demo server's stream (src/demo/server.rs `events`), as sse.pcapng carries it.
    const DEMO: &[u8] = b": synscope demo: news as server-sent events\nretry: 3000\n\n\
        event: news\nid: 1\ndata: news 1 of 5\n\n\
        event: news\nid: 2\ndata: news 2 of 5\ndata: second line\n\n";

    #[test]
    fn demo_stream() {
        let out = parse(DEMO);
        assert_eq!(out.len(), 3);
        assert_eq!(
            out[0],
            SseEvent {
                event: None,
                id: None,
                data: String::new(),
                retry: Some(3000),
                data_len: 0,
                comment: Some("synscope demo: news as server-sent events".into()),
                dispatched: false,
                incomplete: false,
            }
        );
        assert_eq!(out[1], ev(Some("news"), Some("1"), "news 1 of 5"));
        assert_eq!(
            out[2],
            ev(Some("news"), Some("2"), "news 2 of 5\nsecond line")
        );
    }

    #[test]
    fn whatwg_examples() {
        // HTML §9.2.6 examples: the stream with `data` without a colon, and the spaces one.
        let out = parse(b"data\n\ndata\ndata\n\ndata:\n");
        assert_eq!(out.len(), 3);
        assert_eq!(out[0], ev(None, None, ""));
        assert_eq!(out[1], ev(None, None, "\n"));
        // "data:" then the end of the stream: not dispatched.
        assert!(!out[2].dispatched && out[2].incomplete);
        let out = parse(b"data:test\n\ndata: test\n\n");
        assert_eq!(out, vec![ev(None, None, "test"), ev(None, None, "test")]);
        // Only one space is stripped.
        assert_eq!(parse(b"data:  two\n\n")[0].data, " two");
    }

    #[test]
    fn line_ends_crlf_cr_lf() {
        let out = parse(b"data: a\r\ndata: b\rdata: c\n\r\n");
        assert_eq!(out, vec![ev(None, None, "a\nb\nc")]);
        // CR CR: two line ends, so a blank line.
        let out = parse(b"data: a\r\rdata: b\r\r");
        assert_eq!(out, vec![ev(None, None, "a"), ev(None, None, "b")]);
    }

    #[test]
    fn bom_is_dropped_once() {
        let out = parse(b"\xEF\xBB\xBFdata: x\n\n");
        assert_eq!(out, vec![ev(None, None, "x")]);
        // A second BOM is part of the first field name: an unknown field.
        let out = parse(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\n");
        assert_eq!(out.len(), 1);
        assert!(!out[0].dispatched);
        // A partial BOM is stream bytes (not valid UTF-8: shown as replacement characters).
        let out = parse(b"\xEF\xBBdata: x\n\n");
        assert!(!out[0].dispatched);
    }

    #[test]
    fn retry_digits_only() {
        assert_eq!(parse(b"retry: 1500\ndata: x\n\n")[0].retry, Some(1500));
        assert_eq!(parse(b"retry: 15a0\ndata: x\n\n")[0].retry, None);
        assert_eq!(parse(b"retry:\ndata: x\n\n")[0].retry, None);
        assert_eq!(parse(b"retry: -1\ndata: x\n\n")[0].retry, None);
        // Beyond u64: ignored, not wrapped.
        assert_eq!(
            parse(b"retry: 99999999999999999999999\ndata: x\n\n")[0].retry,
            None
        );
        // The last valid one wins within a block.
        assert_eq!(parse(b"retry: 5\nretry: x\ndata: x\n\n")[0].retry, Some(5));
    }

    #[test]
    fn id_with_nul_is_ignored_and_event_replaces() {
        let out = parse(b"id: a\0b\nevent: one\nevent: two\ndata: x\n\n");
        assert_eq!(out[0].id, None);
        assert_eq!(out[0].event.as_deref(), Some("two"));
        let out = parse(b"id\ndata: x\n\n");
        assert_eq!(out[0].id.as_deref(), Some(""));
        // `event:` with an empty value: the default type.
        assert_eq!(parse(b"event:\ndata: x\n\n")[0].event, None);
    }

    #[test]
    fn unknown_fields_and_comments() {
        let out = parse(b": one\n:two\nfoo: bar\ndatax: y\ndata : z\ndata: x\n\n");
        assert_eq!(out[0].data, "x");
        assert_eq!(out[0].comment.as_deref(), Some("one\ntwo"));
        // Only comments and blank lines: one undispatched block per comment block.
        let out = parse(b":ping\n\n\n\n:ping\n\n");
        assert_eq!(out.len(), 2);
        assert!(out
            .iter()
            .all(|e| !e.dispatched && e.comment.as_deref() == Some("ping")));
    }

    #[test]
    fn previews_are_bounded() {
        let mut p = SseParser::new(8, u64::MAX);
        let mut out = Vec::new();
        p.feed(b"data: ", &mut out);
        for _ in 0..10_000 {
            p.feed(b"0123456789", &mut out);
        }
        p.feed(b"\nevent: ", &mut out);
        for _ in 0..10_000 {
            p.feed("é".as_bytes(), &mut out);
        }
        p.feed(b"\n\n", &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].data, "01234567");
        assert_eq!(out[0].data_len, 100_000);
        assert_eq!(out[0].event.as_deref(), Some("éééééééé"));
        assert!(p.block.data.capacity() <= 64);
    }

    #[test]
    fn held_bytes_stay_within_max_held() {
        // Every buffer full at once: the block's data, type, id and comments, and an id line
        // in progress.
        let mut p = SseParser::new(8, u64::MAX);
        let mut out = Vec::new();
        let long = "é".repeat(100);
        for field in ["data", "event", "id", ":"] {
            p.feed(format!("{field}: {long}\n").as_bytes(), &mut out);
        }
        // An id with NUL is ignored: its bytes are not held after its line.
        p.feed(format!("id: \0{long}\nid: {long}").as_bytes(), &mut out);
        assert!(out.is_empty());
        assert_eq!(p.held_bytes(), SseParser::max_held(8));
        p.feed(b"\n\n", &mut out);
        assert_eq!(p.held_bytes(), 0);
        assert_eq!(out[0].id.as_deref(), Some("éééééééé"));
    }

    #[test]
    fn a_body_ending_in_a_partial_bom_keeps_its_bytes() {
        // Found by review: the bytes of a possible BOM, held until decided, were dropped when
        // the body ended among them.
        let out = parse(b"\xEF\xBB");
        assert_eq!(out.len(), 1);
        assert!(!out[0].dispatched && out[0].incomplete);
        let mut p = SseParser::new(256, u64::MAX);
        let mut out = Vec::new();
        p.feed(b"\xEF", &mut out);
        p.feed(b"", &mut out);
        p.finish(&mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn gap_resets_the_line_and_marks_the_block() {
        let mut p = SseParser::new(256, u64::MAX);
        let mut out = Vec::new();
        p.feed(b"data: a\ndata: b", &mut out);
        p.gap();
        p.feed(b"data: c\n\ndata: d\n\n", &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].data, "a\nc");
        assert!(out[0].incomplete && out[0].dispatched);
        assert_eq!(out[1], ev(None, None, "d"));
    }

    #[test]
    fn end_of_stream_reports_the_pending_block() {
        let out = parse(b"data: x\n\ndata: y");
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].data, "y");
        assert!(!out[1].dispatched && out[1].incomplete);
        assert!(parse(b"").is_empty());
        assert!(parse(b"\n\n\r\n").is_empty());
    }

    #[test]
    fn every_prefix_then_the_rest() {
        let whole = parse(DEMO);
        for n in 0..=DEMO.len() {
            let mut p = SseParser::new(256, u64::MAX);
            let mut out = Vec::new();
            p.feed(&DEMO[..n], &mut out);
            // Only blocks whose blank line is inside the prefix are out.
            let ended = whole.iter().take(out.len()).cloned().collect::<Vec<_>>();
            assert_eq!(out, ended, "prefix {n}");
            p.feed(&DEMO[n..], &mut out);
            p.finish(&mut out);
            assert_eq!(out, whole, "prefix {n}");
        }
    }

    fn stream() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"data".to_vec()),
            Just(b"data: ".to_vec()),
            Just(b"event:".to_vec()),
            Just(b"id: ".to_vec()),
            Just(b"retry: ".to_vec()),
            Just(b":".to_vec()),
            Just(b" ".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(BOM.to_vec()),
            Just(b"\0".to_vec()),
            Just(b"42".to_vec()),
            Just("é".as_bytes().to_vec()),
            proptest::collection::vec(any::<u8>(), 0..4),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_events(
            input in stream(),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            let whole = parse(&input);
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
            cuts.sort_unstable();
            let mut p = SseParser::new(256, u64::MAX);
            let mut out = Vec::new();
            let mut at = 0;
            for c in cuts {
                p.feed(&input[at..c], &mut out);
                prop_assert!(p.held_bytes() <= SseParser::max_held(256));
                at = c;
            }
            p.feed(&input[at..], &mut out);
            p.finish(&mut out);
            prop_assert_eq!(out, whole);
        }
    }
}
