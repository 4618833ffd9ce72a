//! WebSocket (RFC 6455) frames and messages, with permessage-deflate (RFC 7692).
//!
//! Each direction has one streaming parser. Only frame headers (2 to 14 bytes) are buffered;
//! payloads stream through: unmasked on the fly, the first bytes kept for display, text checked
//! for UTF-8 and compressed messages inflated piece by piece as they arrive. So no message is
//! ever buffered whole, its UTF-8 check and inflation are exact at any size, and a frame
//! claiming 2^63 bytes costs no more than the bytes that actually come.
//!
//! Memory per direction is bounded by named limits: the kept payload of the current frame
//! (`Limits::max_kept_payload`), the first bytes of the current data and control messages (the
//! larger of `max_kept_payload` and 4 x `max_text_preview`), [`RESYNC_LOOKAHEAD`] bytes while
//! resynchronising, and one inflater (a window of at most 32 KiB) when deflate was negotiated.
//! Inflating one message stops after [`INFLATE_WORK_FACTOR`] x `Limits::max_message` bytes of
//! output (a decompression bomb).
//!
//! # Gaps and resynchronisation
//!
//! A gap that falls inside a payload leaves the parser in step: the missing bytes are counted
//! and the frame and message are reported `incomplete` (a compressed message can no longer be
//! inflated). A gap that swallows a frame header loses the frame boundaries. The parser then
//! scans the following bytes for a position where:
//!
//! 1. a header is *plausible* for the direction: no reserved opcode, RSV2/RSV3 clear, RSV1
//!    only on a text/binary frame and only with deflate negotiated, MASK set exactly for
//!    client frames, control frames unfragmented and at most 125 bytes, a minimal length
//!    encoding with the MSB clear and at most 4 GiB;
//! 2. an uncompressed text frame's payload starts with valid UTF-8 (its first
//!    [`RESYNC_TEXT_CHECK`] bytes) and a close frame's payload is not 1 byte nor a code that
//!    must not be sent;
//! 3. the frames that follow it, up to [`RESYNC_CHAIN`] of them, pass 1 and 2 as well, as far
//!    as they lie within [`RESYNC_LOOKAHEAD`] bytes of the candidate (a frame reaching past
//!    the look-ahead ends the chain, which is then accepted as verified so far).
//!
//! A candidate whose own frame reaches past the look-ahead cannot be confirmed: it is
//! accepted only if it is the first byte after the gap (TCP segments mostly begin at a frame
//! boundary, since senders write a frame at a time) and skipped otherwise. At the end of the
//! stream a chain is also confirmed by reaching exactly the end. The bytes needed for a
//! decision are held (never more than the look-ahead), so the decision depends only on the
//! bytes, never on how they were cut into pieces. A candidate costs at most a few hundred
//! bytes of examination, and one waiting for bytes is judged again only once they are there,
//! so resynchronising stays linear in the bytes. The skipped bytes are reported as one
//! `malformed` event; the first frame after the resumption may be a continuation of a message
//! whose start was lost, which is then not a violation.
//!
//! Measured on random bytes, a candidate and one successor pass these tests by chance about
//! once per 8 KB, a chain of four about once per 750 KB. With a gap over a header in a stream
//! of random binary frames of 1 to 20,000 bytes, the parser resumes cleanly (no violation
//! after the gap, the last message decoded whole) in 95% of trials (18% with one successor);
//! with small JSON text frames in 99-100%. A wrong resumption is not silent: it shows as
//! violations and odd frames after the `malformed`.

mod frame;
mod inflate;
mod utf8;

#[cfg(test)]
mod tests;

use std::cell::Cell;

use super::{preview, Content};
use crate::flow::{Cx, EndCause};
use crate::model::{
    close_code_name, DeflateParams, Dir, EventBody, Layer, Limits, Malformed, Note, Opcode,
    Payload, Violation, WsFrame, WsMessage,
};

use frame::{Head, HEAD_MAX};
use inflate::{Inflater, Outcome, TRAILER};
use utf8::Utf8Check;

/// A compressed message stops being inflated after `INFLATE_WORK_FACTOR * Limits::max_message`
/// bytes of output; a `violation` "inflate_limit" says so.
pub const INFLATE_WORK_FACTOR: u64 = 64;

/// Most bytes held while judging a resynchronisation candidate after a gap.
pub const RESYNC_LOOKAHEAD: usize = 8192;

/// Frames after a resynchronisation candidate that must be plausible too, when they are
/// within the look-ahead.
pub const RESYNC_CHAIN: usize = 3;

/// Bytes of a candidate text frame checked for UTF-8. Random bytes fail within a few; checking
/// more would let a crafted stream make each of many candidates cost a look-ahead's worth.
pub const RESYNC_TEXT_CHECK: usize = 64;

/// Payload bytes unmasked per step, in a stack buffer.
const UNMASK_CHUNK: usize = 2048;
/// Payload pieces up to this size are unmasked in a smaller stack buffer.
const UNMASK_SMALL: usize = 128;

/// Both directions of one upgraded connection.
pub struct WsSession {
    c2s: Half,
    s2c: Half,
}

impl WsSession {
    /// A session right after the 101 answer. `deflate` is what the server agreed to
    /// (permessage-deflate), `None` when no extension is in force.
    pub fn new(deflate: Option<DeflateParams>, limits: &Limits) -> Self {
        WsSession {
            c2s: Half::new(Dir::C2s, true, deflate, limits),
            s2c: Half::new(Dir::S2c, false, deflate, limits),
        }
    }

    /// A session the capture joined after its upgrade, whose client (the side that masks)
    /// sends in `client`. Nothing of the handshake is known: permessage-deflate is assumed
    /// possible (RSV1 is accepted on data frames and inflation is tried, with the
    /// compression history from before the capture missing), and each direction looks for
    /// its first frame boundary as after a gap, without calling it damage, until
    /// [`WsSession::in_step`] says its bytes start at one.
    pub fn joined_late(client: Dir, limits: &Limits) -> Self {
        let deflate = Some(DeflateParams::default());
        let half = |dir: Dir| {
            let mut h = Half::new(dir, dir == client, deflate, limits);
            h.late = true;
            if let Some(inf) = &mut h.infl {
                inf.reset(true);
            }
            h.lost = Some(Lost {
                gap: 0,
                skipped: 0,
                at_gap: true,
                need: 0,
            });
            h
        };
        WsSession {
            c2s: half(Dir::C2s),
            s2c: half(Dir::S2c),
        }
    }

    /// The next bytes of `dir` start at a frame boundary (they were seen to be frames):
    /// decode them in step. Only before the direction's first byte.
    pub fn in_step(&mut self, dir: Dir) {
        let h = self.half(dir);
        if h.lost
            .as_ref()
            .is_some_and(|l| l.gap == 0 && l.skipped == 0)
            && h.scan.is_empty()
        {
            h.lost = None;
            // Its first frame may continue a message begun before the capture.
            h.resynced = true;
        }
    }

    /// Feeds in-order bytes of `dir`; emits `ws_frame`, `ws_message`, `violation` and
    /// `malformed` events. Any cutting of a stream into pieces gives the same events.
    pub fn feed(&mut self, dir: Dir, data: &[u8], cx: &mut Cx) {
        self.half(dir).feed(data, cx);
    }

    /// `len` bytes of `dir` are missing; the next `feed` continues after them.
    pub fn gap(&mut self, dir: Dir, len: u32, cx: &mut Cx) {
        self.half(dir).gap(u64::from(len), cx);
    }

    /// `dir` ended; a frame or message cut short is reported (as an `incomplete` frame or
    /// message, or a `malformed` for a cut header).
    pub fn end(&mut self, dir: Dir, cx: &mut Cx) {
        self.half(dir).end(EndCause::Fin, cx);
    }

    /// `dir` ended for the reason `cause`: as [`WsSession::end`], but a header cut by the end
    /// of the capture is a note (`capture_ended_in_frame`), not damage.
    pub fn end_by(&mut self, dir: Dir, cause: EndCause, cx: &mut Cx) {
        self.half(dir).end(cause, cx);
    }

    /// Bytes buffered now: kept payloads, message starts, resynchronisation look-ahead (for
    /// memory-bound tests; the inflaters' fixed windows are not counted).
    #[doc(hidden)]
    pub fn held_bytes(&self) -> usize {
        self.c2s.held_bytes() + self.s2c.held_bytes()
    }

    /// Bytes examined while judging resynchronisation candidates so far (for tests that bound
    /// the work per input byte).
    #[doc(hidden)]
    pub fn resync_work(&self) -> u64 {
        self.c2s.resync_work + self.s2c.resync_work
    }

    /// The most [`WsSession::held_bytes`] can be under `limits`.
    #[doc(hidden)]
    pub fn max_held(limits: &Limits) -> usize {
        2 * (limits.max_kept_payload + 2 * head_cap(limits) + RESYNC_LOOKAHEAD)
    }

    fn half(&mut self, dir: Dir) -> &mut Half {
        match dir {
            Dir::C2s => &mut self.c2s,
            Dir::S2c => &mut self.s2c,
        }
    }
}

/// The frame whose payload is streaming.
struct Cur {
    head: Head,
    remaining: u64,
    /// Payload bytes passed (including missing ones): the masking key's phase.
    offset: u64,
    /// Unmasked payload kept for display.
    kept: Vec<u8>,
    incomplete: bool,
}

/// One message being assembled: the data message (over its frames) or a control frame.
struct Msg {
    open: bool,
    opcode: Opcode,
    compressed: bool,
    /// Compressed and the inflater is still in step with it.
    inflating: bool,
    frames: u32,
    /// Bytes after unmasking and inflation, as decoded (missing bytes not counted).
    len: u64,
    /// Compressed payload bytes seen.
    wire: u64,
    /// The first bytes, for display and the text preview.
    head: Vec<u8>,
    utf8: Utf8Check,
    check_utf8: bool,
    /// Bytes at the start not part of the text (a close frame's code).
    text_from: u64,
    incomplete: bool,
    /// Bytes are missing in the middle: what follows is not kept nor checked.
    holed: bool,
}

impl Msg {
    fn new() -> Msg {
        Msg {
            open: false,
            opcode: Opcode::Continuation,
            compressed: false,
            inflating: false,
            frames: 0,
            len: 0,
            wire: 0,
            head: Vec::new(),
            utf8: Utf8Check::default(),
            check_utf8: false,
            text_from: 0,
            incomplete: false,
            holed: false,
        }
    }

    fn start(&mut self, opcode: Opcode, compressed: bool) {
        self.open = true;
        self.opcode = opcode;
        self.compressed = compressed;
        self.inflating = compressed;
        self.frames = 1;
        self.len = 0;
        self.wire = 0;
        self.head.clear();
        self.utf8.reset();
        // RFC 6455 §5.6 (text) and §7.1.6 (close reason): UTF-8.
        self.check_utf8 = matches!(opcode, Opcode::Text | Opcode::Close);
        self.text_from = if opcode == Opcode::Close { 2 } else { 0 };
        self.incomplete = false;
        self.holed = false;
    }

    /// The next decoded bytes of the message.
    fn sink(&mut self, b: &[u8], head_cap: usize) {
        let before = self.len;
        self.len += b.len() as u64;
        if self.holed {
            return;
        }
        let room = head_cap.saturating_sub(self.head.len()).min(b.len());
        self.head.extend_from_slice(b.get(..room).unwrap_or(&[]));
        if self.check_utf8 {
            let skip = usize::try_from(self.text_from.saturating_sub(before)).unwrap_or(usize::MAX);
            self.utf8.push(b.get(skip.min(b.len())..).unwrap_or(&[]));
        }
    }

    /// The UTF-8 problem of the text, if any: (offset in the message, what is wrong).
    fn utf8_error(&self) -> Option<(u64, &'static str)> {
        if let Some(at) = self.utf8.bad_at() {
            return Some((at + self.text_from, "an invalid byte sequence"));
        }
        if self.incomplete {
            // Cut by a gap or the end of the stream: a character split there is not an error.
            return None;
        }
        self.utf8
            .dangling_at()
            .map(|at| (at + self.text_from, "a character cut short at the end"))
    }
}

/// First bytes of a message kept for display and the text preview: a UTF-8 character takes up
/// to 4 bytes.
fn head_cap(limits: &Limits) -> usize {
    limits
        .max_kept_payload
        .max(limits.max_text_preview.saturating_mul(4))
}

/// State while frame boundaries are lost.
struct Lost {
    gap: u64,
    skipped: u64,
    /// The first held byte is the first byte after a gap.
    at_gap: bool,
    /// Held bytes the candidate at the start of `scan` needs before it can be judged again:
    /// until then new bytes are only held, so a decision waiting for a long frame is not
    /// re-judged for every piece.
    need: usize,
}

/// One direction's parser.
struct Half {
    dir: Dir,
    /// The sender is the client, which masks (RFC 6455 §5.1); normally the sender of c2s,
    /// but a session joined late learns it from the frames.
    client: bool,
    /// The capture joined after the upgrade: the stream begins mid-conversation.
    late: bool,
    limits: Limits,
    deflate: bool,
    head_cap: usize,
    infl: Option<Inflater>,
    hdr: [u8; HEAD_MAX],
    fill: usize,
    cur: Option<Cur>,
    data: Msg,
    ctl: Msg,
    closed: bool,
    after_close_reported: bool,
    /// Frame sync was just recovered: the next frame may continue a message begun in the gap.
    resynced: bool,
    lost: Option<Lost>,
    /// Bytes held while resynchronising (at most [`RESYNC_LOOKAHEAD`]).
    scan: Vec<u8>,
    /// Bytes examined by `judge` so far.
    resync_work: u64,
}

impl Half {
    fn new(dir: Dir, client: bool, deflate: Option<DeflateParams>, limits: &Limits) -> Half {
        // RFC 7692 §7.1.1/§7.1.2: the no_context_takeover and max_window_bits parameters
        // named after an endpoint constrain what that endpoint sends.
        let infl = deflate.map(|d| {
            if client {
                Inflater::new(d.client_max_window_bits, d.client_no_context_takeover)
            } else {
                Inflater::new(d.server_max_window_bits, d.server_no_context_takeover)
            }
        });
        Half {
            dir,
            client,
            late: false,
            limits: *limits,
            deflate: deflate.is_some(),
            head_cap: head_cap(limits),
            infl,
            hdr: [0; HEAD_MAX],
            fill: 0,
            cur: None,
            data: Msg::new(),
            ctl: Msg::new(),
            closed: false,
            after_close_reported: false,
            resynced: false,
            lost: None,
            scan: Vec::new(),
            resync_work: 0,
        }
    }

    fn held_bytes(&self) -> usize {
        self.cur.as_ref().map_or(0, |c| c.kept.len())
            + self.data.head.len()
            + self.ctl.head.len()
            + self.scan.len()
    }

    fn violation(&self, cx: &mut Cx, rule: &'static str, detail: String) {
        cx.emit(
            Some(self.dir),
            EventBody::Violation(Violation {
                layer: Layer::Websocket,
                rule,
                detail,
            }),
        );
    }

    fn malformed(&self, cx: &mut Cx, detail: String) {
        cx.emit(
            Some(self.dir),
            EventBody::Malformed(Malformed {
                layer: Layer::Websocket,
                detail,
            }),
        );
    }

    fn note(&self, cx: &mut Cx, note: &'static str, detail: String, bytes: Option<u64>) {
        cx.emit(
            Some(self.dir),
            EventBody::Note(Box::new(Note {
                layer: Layer::Websocket,
                note,
                detail,
                bytes,
            })),
        );
    }

    /// The direction the frame rules of this sender are those of: c2s for the client.
    fn role(&self) -> Dir {
        if self.client {
            Dir::C2s
        } else {
            Dir::S2c
        }
    }

    fn feed(&mut self, data: &[u8], cx: &mut Cx) {
        let data = if self.lost.is_some() {
            match self.resync(data, false, cx) {
                Some(rest) => rest,
                None => return,
            }
        } else {
            data
        };
        self.feed_sync(data, cx);
    }

    /// Decodes bytes while frame boundaries are known.
    fn feed_sync(&mut self, mut data: &[u8], cx: &mut Cx) {
        while !data.is_empty() {
            if self.cur.is_some() {
                let n = self.payload(data, cx);
                data = data.get(n..).unwrap_or(&[]);
                continue;
            }
            if self.fill == 0 {
                // Fast path: a whole header in view is parsed in place.
                if let Some(h) = frame::parse(data) {
                    data = data.get(usize::from(h.header_len)..).unwrap_or(&[]);
                    self.start_frame(h, cx);
                    continue;
                }
            }
            // A header split across pieces: buffer it, 2 bytes first, then the rest.
            let need = if self.fill < 2 {
                2
            } else {
                frame::header_len(self.hdr[1])
            };
            let take = need.saturating_sub(self.fill).min(data.len());
            match (
                self.hdr.get_mut(self.fill..self.fill + take),
                data.get(..take),
            ) {
                (Some(dst), Some(src)) if take > 0 => dst.copy_from_slice(src),
                _ => break,
            }
            self.fill += take;
            data = data.get(take..).unwrap_or(&[]);
            if let Some(h) = frame::parse(self.hdr.get(..self.fill).unwrap_or(&[])) {
                self.fill = 0;
                self.start_frame(h, cx);
            }
        }
    }

    /// A header is complete: judge it, route it to its message, start its payload.
    fn start_frame(&mut self, head: Head, cx: &mut Cx) {
        self.check_header(&head, cx);
        let control = head.opcode.is_control();
        let resynced = std::mem::take(&mut self.resynced);
        if control {
            // RFC 6455 §5.4: control frames may come between fragments; each is a message.
            self.ctl.start(head.opcode, false);
        } else if head.opcode == Opcode::Continuation {
            if self.data.open {
                self.data.frames = self.data.frames.saturating_add(1);
            } else {
                if !resynced {
                    self.violation(
                        cx,
                        "continuation_without_start",
                        "continuation frame with no message started (RFC 6455 §5.4)".into(),
                    );
                }
                // Reported as a message of its own, its start unknown.
                self.data.start(Opcode::Continuation, false);
                self.data.check_utf8 = false;
                self.data.incomplete = true;
                cx.content(self.dir, Content::MessageStart(Opcode::Continuation));
            }
        } else {
            if self.data.open {
                self.violation(
                    cx,
                    "new_message_while_fragmented",
                    format!(
                        "{} frame while a fragmented {} message is unfinished (RFC 6455 §5.4)",
                        head.opcode.name(),
                        self.data.opcode.name()
                    ),
                );
                self.data.incomplete = true;
                self.finish_data(cx);
            }
            // RFC 7692 §6: RSV1 on the first frame marks a compressed message (of the data
            // opcodes it knows: text and binary).
            let compressed =
                head.rsv1 && self.deflate && matches!(head.opcode, Opcode::Text | Opcode::Binary);
            self.data.start(head.opcode, compressed);
            cx.content(self.dir, Content::MessageStart(head.opcode));
        }
        let kept = usize::try_from(head.len)
            .unwrap_or(usize::MAX)
            .min(self.limits.max_kept_payload);
        self.cur = Some(Cur {
            head,
            remaining: head.len,
            offset: 0,
            kept: Vec::with_capacity(kept),
            incomplete: false,
        });
        if head.len == 0 {
            self.finish_frame(cx);
        }
    }

    /// Reports every rule of RFC 6455 §5 and RFC 7692 §6 the header breaks.
    fn check_header(&mut self, head: &Head, cx: &mut Cx) {
        let control = head.opcode.is_control();
        match (self.role(), head.mask.is_some()) {
            (Dir::C2s, false) => self.violation(
                cx,
                "unmasked_client_frame",
                "client frame not masked (RFC 6455 §5.1: clients mask every frame)".into(),
            ),
            (Dir::S2c, true) => self.violation(
                cx,
                "masked_server_frame",
                "server frame masked (RFC 6455 §5.1: servers never mask)".into(),
            ),
            _ => {}
        }
        if let Opcode::Reserved(n) = head.opcode {
            self.violation(
                cx,
                "reserved_opcode",
                format!("opcode 0x{n:x} is reserved (RFC 6455 §5.2)"),
            );
        }
        if head.rsv2 || head.rsv3 {
            let bits = match (head.rsv2, head.rsv3) {
                (true, true) => "RSV2 and RSV3",
                (true, false) => "RSV2",
                _ => "RSV3",
            };
            self.violation(
                cx,
                "reserved_bits",
                format!("{bits} set with no extension defining them (RFC 6455 §5.2)"),
            );
        }
        if head.rsv1 {
            if !self.deflate {
                self.violation(
                    cx,
                    "rsv1_without_extension",
                    "RSV1 set but no extension was negotiated (RFC 6455 §5.2)".into(),
                );
            } else if control {
                self.violation(
                    cx,
                    "rsv1_on_control",
                    format!(
                        "RSV1 set on a {} frame: control frames are never compressed \
                         (RFC 7692 §6.1)",
                        head.opcode.name()
                    ),
                );
            } else if head.opcode == Opcode::Continuation {
                self.violation(
                    cx,
                    "rsv1_on_continuation",
                    "RSV1 set on a continuation frame: only a message's first frame carries \
                     it (RFC 7692 §6.1)"
                        .into(),
                );
            }
        }
        if control && head.len > frame::CONTROL_MAX {
            self.violation(
                cx,
                "control_frame_too_long",
                format!(
                    "{} frame of {} bytes: control frames carry at most 125 (RFC 6455 §5.5)",
                    head.opcode.name(),
                    head.len
                ),
            );
        }
        if control && !head.fin {
            self.violation(
                cx,
                "fragmented_control_frame",
                format!(
                    "{} frame without FIN: control frames must not be fragmented \
                     (RFC 6455 §5.5)",
                    head.opcode.name()
                ),
            );
        }
        if head.non_minimal {
            self.violation(
                cx,
                "non_minimal_length",
                format!(
                    "length {} written in the {}-bit form: the minimal form must be used \
                     (RFC 6455 §5.2)",
                    head.len,
                    if head.ext_len() == 2 { 16 } else { 64 }
                ),
            );
        }
        if head.len_msb() {
            self.violation(
                cx,
                "length_msb_set",
                "64-bit payload length with the most significant bit set (RFC 6455 §5.2)".into(),
            );
        }
        if self.closed && !self.after_close_reported {
            self.after_close_reported = true;
            self.violation(
                cx,
                "data_after_close",
                format!(
                    "{} frame after this side's close frame (RFC 6455 §5.5.1: no data after \
                     a close)",
                    head.opcode.name()
                ),
            );
        }
    }

    /// Streams payload bytes of the current frame; returns how many of `data` it took.
    fn payload(&mut self, data: &[u8], cx: &mut Cx) -> usize {
        let Some(cur) = &self.cur else {
            return 0;
        };
        let n = usize::try_from(cur.remaining).map_or(data.len(), |r| r.min(data.len()));
        let chunk = data.get(..n).unwrap_or(data);
        match cur.head.mask {
            // Small payloads (most messages) in a small buffer: the large one's zeroing
            // would cost more than the unmasking.
            Some(key) if chunk.len() <= UNMASK_SMALL => {
                let mut buf = [0u8; UNMASK_SMALL];
                if let Some(out) = buf.get_mut(..chunk.len()) {
                    frame::unmask(chunk, key, cur.offset, out);
                    self.sink(out, cx);
                }
            }
            Some(key) => {
                let mut off = cur.offset;
                let mut buf = [0u8; UNMASK_CHUNK];
                for piece in chunk.chunks(UNMASK_CHUNK) {
                    if let Some(out) = buf.get_mut(..piece.len()) {
                        frame::unmask(piece, key, off, out);
                        self.sink(out, cx);
                    }
                    off += piece.len() as u64;
                }
            }
            None => self.sink(chunk, cx),
        }
        if let Some(cur) = &mut self.cur {
            cur.remaining -= n as u64;
            cur.offset += n as u64;
            if cur.remaining == 0 {
                self.finish_frame(cx);
            }
        }
        n
    }

    /// Unmasked payload bytes of the current frame.
    fn sink(&mut self, p: &[u8], cx: &mut Cx) {
        let Some(cur) = &mut self.cur else {
            return;
        };
        if !cur.incomplete {
            let room = self
                .limits
                .max_kept_payload
                .saturating_sub(cur.kept.len())
                .min(p.len());
            cur.kept.extend_from_slice(p.get(..room).unwrap_or(&[]));
        }
        if cur.head.opcode.is_control() {
            self.ctl.sink(p, self.head_cap);
        } else if !self.data.open {
            // Unreachable: every data frame opens or continues a message.
        } else if self.data.compressed {
            self.data.wire += p.len() as u64;
            if self.data.inflating {
                self.inflate(p, cx);
            }
        } else {
            self.data.sink(p, self.head_cap);
            if !self.data.holed {
                cx.content(self.dir, Content::Message(p));
            }
        }
    }

    /// Inflates compressed bytes of the data message into it.
    fn inflate(&mut self, input: &[u8], cx: &mut Cx) {
        let budget = INFLATE_WORK_FACTOR.saturating_mul(self.limits.max_message as u64);
        let cap = self.head_cap;
        let Some(inf) = self.infl.as_mut() else {
            self.data.inflating = false;
            return;
        };
        let msg = &mut self.data;
        let dir = self.dir;
        let outcome = inf.inflate(input, &mut |b| {
            msg.sink(b, cap);
            cx.content(dir, Content::Message(b));
            msg.len <= budget
        });
        let lost = inf.context_lost();
        match outcome {
            Outcome::Done => {}
            Outcome::StreamEnd => {
                // RFC 7692 §7.2.3.4: a block with BFINAL ends the DEFLATE stream; the rest of
                // the message (normally nothing) is not inflated, and the next message starts
                // a new stream.
                self.data.inflating = false;
            }
            Outcome::Stopped => {
                self.data.inflating = false;
                self.data.incomplete = true;
                cx.content(self.dir, Content::MessageGap);
                self.violation(
                    cx,
                    "inflate_limit",
                    format!(
                        "compressed message inflates to more than {budget} bytes; \
                         inflation stopped (decompression bomb?)"
                    ),
                );
            }
            Outcome::Error => {
                self.data.inflating = false;
                self.data.incomplete = true;
                cx.content(self.dir, Content::MessageGap);
                if lost && self.late {
                    self.note(
                        cx,
                        "deflate_history_not_captured",
                        "cannot inflate this compressed message: it refers to compression \
                         history from before the capture began"
                            .into(),
                        None,
                    );
                } else if lost {
                    self.malformed(
                        cx,
                        "cannot inflate message: it may refer to compression history lost at an \
                         earlier gap or error"
                            .into(),
                    );
                } else {
                    self.violation(
                        cx,
                        "inflate_error",
                        "compressed message is not valid DEFLATE, or refers back beyond the \
                         negotiated window (RFC 7692 §7.2.2)"
                            .into(),
                    );
                }
            }
        }
    }

    /// The current frame's last byte arrived (or it was cut): emit it and what it completes.
    fn finish_frame(&mut self, cx: &mut Cx) {
        let Some(cur) = self.cur.take() else {
            return;
        };
        let h = cur.head;
        cx.emit(
            Some(self.dir),
            EventBody::WsFrame(WsFrame {
                opcode: h.opcode,
                fin: h.fin,
                rsv1: h.rsv1,
                rsv2: h.rsv2,
                rsv3: h.rsv3,
                masked: h.mask.is_some(),
                mask_key: h.mask_hex(),
                payload_len: h.len,
                header_len: h.header_len,
                data: Payload {
                    kept: cur.kept.into(),
                    total: h.len,
                },
                incomplete: cur.incomplete,
            }),
        );
        if h.opcode.is_control() {
            self.finish_control(cx);
        } else if h.fin && self.data.open {
            self.finish_data(cx);
        }
    }

    fn kept_of(&self, m: &Msg) -> Payload {
        let n = m.head.len().min(self.limits.max_kept_payload);
        Payload {
            kept: m.head.get(..n).unwrap_or(&[]).into(),
            total: m.len,
        }
    }

    /// The data message's last frame ended (or the message was cut).
    fn finish_data(&mut self, cx: &mut Cx) {
        if self.data.compressed {
            if self.data.inflating && !self.data.incomplete && self.data.wire > 0 {
                // RFC 7692 §7.2.2: append 0x00 0x00 0xff 0xff, then inflate.
                self.inflate(&TRAILER, cx);
            }
            let in_step = self.data.inflating && !self.data.incomplete;
            if let Some(inf) = &mut self.infl {
                if !in_step {
                    inf.reset(true);
                } else if inf.no_context_takeover {
                    // RFC 7692 §7.1.1: each message is compressed with a fresh window.
                    inf.reset(false);
                }
            }
        }
        let m = &self.data;
        let mut text = None;
        if m.opcode == Opcode::Text {
            if let Some((at, what)) = m.utf8_error() {
                self.violation(
                    cx,
                    "invalid_utf8",
                    format!("text message has {what} at byte {at} (RFC 6455 §8.1)"),
                );
            }
            text = Some(preview(&self.data.head, self.limits.max_text_preview));
        }
        let m = &self.data;
        let msg = WsMessage {
            opcode: m.opcode,
            len: m.len,
            compressed: m.compressed,
            frames: m.frames,
            text,
            code: None,
            code_name: None,
            reason: None,
            data: self.kept_of(m),
            incomplete: m.incomplete,
        };
        self.data.open = false;
        cx.emit(Some(self.dir), EventBody::WsMessage(Box::new(msg)));
    }

    /// A control frame ended: it is a message of its own.
    fn finish_control(&mut self, cx: &mut Cx) {
        if self.ctl.opcode == Opcode::Close {
            self.closed = true;
        }
        let m = &self.ctl;
        let mut msg = WsMessage {
            opcode: m.opcode,
            len: m.len,
            compressed: false,
            frames: 1,
            text: None,
            code: None,
            code_name: None,
            reason: None,
            data: self.kept_of(m),
            incomplete: m.incomplete,
        };
        match m.opcode {
            Opcode::Close => {
                if m.len == 1 && !m.incomplete {
                    self.violation(
                        cx,
                        "close_payload_one_byte",
                        "close frame with a 1-byte payload: a status code takes 2 \
                         (RFC 6455 §5.5.1)"
                            .into(),
                    );
                }
                if let (Some(&a), Some(&b)) = (m.head.first(), m.head.get(1)) {
                    let code = u16::from_be_bytes([a, b]);
                    msg.code = Some(code);
                    msg.code_name = Some(close_code_name(code));
                    if !close_code_sendable(code) {
                        self.violation(
                            cx,
                            "invalid_close_code",
                            format!(
                                "close code {code} must not be sent in a close frame \
                                 (RFC 6455 §7.4)"
                            ),
                        );
                    }
                    let reason = m.head.get(2..).unwrap_or(&[]);
                    if !reason.is_empty() {
                        msg.reason = Some(preview(reason, self.limits.max_text_preview));
                    }
                    if let Some((at, what)) = m.utf8_error() {
                        self.violation(
                            cx,
                            "invalid_utf8",
                            format!("close reason has {what} at byte {at} (RFC 6455 §5.5.1)"),
                        );
                    }
                }
            }
            // The payload is arbitrary; shown as text when it is whole and UTF-8.
            Opcode::Ping | Opcode::Pong if m.len > 0 && m.head.len() as u64 == m.len => {
                if let Ok(s) = std::str::from_utf8(&m.head) {
                    msg.text = Some(preview(s.as_bytes(), self.limits.max_text_preview));
                }
            }
            _ => {}
        }
        self.ctl.open = false;
        cx.emit(Some(self.dir), EventBody::WsMessage(Box::new(msg)));
    }

    fn gap(&mut self, len: u64, cx: &mut Cx) {
        if len == 0 {
            return;
        }
        if let Some(lost) = &mut self.lost {
            lost.gap += len;
            lost.skipped += self.scan.len() as u64;
            lost.at_gap = true;
            lost.need = 0;
            self.scan.clear();
            return;
        }
        let Some(cur) = &mut self.cur else {
            // The gap starts at (or inside) a header.
            let fill = self.fill as u64;
            self.lose(len, fill, cx);
            return;
        };
        let inside = cur.remaining.min(len);
        cur.remaining -= inside;
        cur.offset += inside;
        cur.incomplete = true;
        let control = cur.head.opcode.is_control();
        let done = cur.remaining == 0;
        self.hole(control, inside, cx);
        if done {
            self.finish_frame(cx);
        }
        if inside < len {
            // The next header is inside the gap.
            self.lose(len, 0, cx);
        }
    }

    /// Bytes missing inside the current frame's payload.
    fn hole(&mut self, control: bool, len: u64, cx: &mut Cx) {
        let m = if control {
            &mut self.ctl
        } else {
            &mut self.data
        };
        m.incomplete = true;
        m.holed = true;
        if !control {
            cx.content(self.dir, Content::MessageGap);
        }
        if !control && m.compressed && m.inflating {
            m.inflating = false;
            self.malformed(
                cx,
                format!(
                    "{len} bytes of a compressed message are missing: the rest of it cannot \
                     be inflated"
                ),
            );
        }
    }

    /// Frame boundaries are lost: `gap` bytes missing, `skipped` bytes of a header dropped.
    fn lose(&mut self, gap: u64, skipped: u64, cx: &mut Cx) {
        self.fill = 0;
        if self.data.open {
            self.data.incomplete = true;
            self.data.holed = true;
            self.data.inflating = false;
            self.finish_data(cx);
        }
        // Whole compressed messages may have gone by in the gap.
        if let Some(inf) = &mut self.infl {
            inf.reset(true);
        }
        self.scan.clear();
        self.lost = Some(Lost {
            gap,
            skipped,
            at_gap: true,
            need: 0,
        });
    }

    /// Looks for a frame boundary in the held bytes followed by `data`. Returns the part of
    /// `data` left to decode in step, or `None` when all of it was skipped or held.
    fn resync<'d>(&mut self, data: &'d [u8], at_end: bool, cx: &mut Cx) -> Option<&'d [u8]> {
        let role = self.role();
        let lost = self.lost.as_mut()?;
        if !at_end && self.scan.len() + data.len() < lost.need {
            // `need` < RESYNC_LOOKAHEAD: the scan stays within it.
            self.scan.extend_from_slice(data);
            return None;
        }
        let held = self.scan.len();
        let found = {
            let view = View {
                a: &self.scan,
                b: data,
                work: Cell::new(0),
            };
            let mut i = 0;
            let found = loop {
                let at_gap = i == 0 && lost.at_gap;
                match judge(&view, i, at_gap, at_end, role, self.deflate) {
                    Judge::Accept => break Ok(i),
                    Judge::Reject => i += 1,
                    Judge::More(need) => break Err((i, need)),
                }
            };
            self.resync_work += view.work.get();
            found
        };
        match found {
            Ok(i) => {
                lost.skipped += i as u64;
                let (gap, skipped) = (lost.gap, lost.skipped);
                self.lost = None;
                self.resynced = true;
                if gap > 0 || !self.late {
                    self.malformed(
                        cx,
                        format!(
                            "frame boundaries lost at a gap of {gap} bytes; {skipped} more \
                             bytes skipped before a plausible frame header"
                        ),
                    );
                } else if skipped > 0 {
                    // The capture began inside a frame: not damage.
                    self.note(
                        cx,
                        "joined_mid_frame",
                        format!(
                            "the capture began inside a frame: {skipped} bytes skipped before \
                             the first frame header"
                        ),
                        Some(skipped),
                    );
                }
                if i < held {
                    let scan = std::mem::take(&mut self.scan);
                    self.feed_sync(scan.get(i..).unwrap_or(&[]), cx);
                    self.scan = scan;
                    self.scan.clear();
                    Some(data)
                } else {
                    self.scan.clear();
                    Some(data.get(i - held..).unwrap_or(&[]))
                }
            }
            Err((i, need)) => {
                lost.need = need - i;
                lost.skipped += i as u64;
                if i > 0 {
                    lost.at_gap = false;
                }
                if i < held {
                    self.scan.drain(..i);
                    self.scan.extend_from_slice(data);
                } else {
                    self.scan.clear();
                    self.scan
                        .extend_from_slice(data.get(i - held..).unwrap_or(&[]));
                }
                None
            }
        }
    }

    fn end(&mut self, cause: EndCause, cx: &mut Cx) {
        if self.lost.is_some() {
            let _ = self.resync(&[], true, cx);
            if let Some(lost) = self.lost.take() {
                let skipped = lost.skipped + self.scan.len() as u64;
                self.scan.clear();
                if lost.gap > 0 || !self.late {
                    self.malformed(
                        cx,
                        format!(
                            "frame boundaries lost at a gap of {} bytes; no frame header found \
                             in the {skipped} bytes before the end of the stream",
                            lost.gap
                        ),
                    );
                } else if skipped > 0 {
                    self.note(
                        cx,
                        "joined_mid_frame",
                        format!(
                            "the capture began inside a frame: no frame header found in the \
                             {skipped} bytes before the end of the stream"
                        ),
                        Some(skipped),
                    );
                }
            }
        }
        if let Some(cur) = &mut self.cur {
            cur.incomplete = true;
            let m = if cur.head.opcode.is_control() {
                &mut self.ctl
            } else {
                &mut self.data
            };
            m.incomplete = true;
            self.finish_frame(cx);
        }
        if self.fill > 0 {
            let need = if self.fill < 2 {
                "at least 2".to_string()
            } else {
                frame::header_len(self.hdr[1]).to_string()
            };
            let fill = self.fill;
            self.fill = 0;
            if cause == EndCause::NotCaptured {
                self.note(
                    cx,
                    "capture_ended_in_frame",
                    format!(
                        "capture ended inside a frame header ({fill} of {need} bytes captured)"
                    ),
                    None,
                );
            } else {
                self.malformed(
                    cx,
                    format!("the stream ended inside a frame header ({fill} of {need} bytes)"),
                );
            }
        }
        if self.data.open {
            self.data.incomplete = true;
            self.finish_data(cx);
        }
    }
}

/// Smallest piece of a stream in which one frame too long for it (a large message cut into
/// segments) is taken as evidence of WebSocket by [`sniff`]: a full-sized segment.
const SNIFF_LONE_FRAME: usize = 1000;

/// What the first bytes of a stream the capture joined late say about WebSocket: `Some(Client)`
/// when they are frames a client sends (masked), `Some(Server)` for a server's (unmasked),
/// `None` when they are not frames. They must be frames from their first byte: one or more
/// whole frames that each pass the resynchronisation checks (module documentation; with
/// permessage-deflate possible, since the handshake is unknown), the first one starting a
/// message (text, binary or a control frame), all masked or all unmasked, then at most the
/// beginning of the next header. A first frame that runs past the piece is taken only when
/// it is a text frame whose payload starts as UTF-8, or a binary frame of the 16- or 64-bit
/// length forms filling a full-sized segment ([`SNIFF_LONE_FRAME`]).
pub fn sniff(data: &[u8]) -> Option<crate::flow::Role> {
    use crate::flow::Role;
    let b1 = *data.get(1)?;
    let masked = b1 & 0x80 != 0;
    let role = if masked { Dir::C2s } else { Dir::S2c };
    let view = View {
        a: &[],
        b: data,
        work: Cell::new(0),
    };
    let mut pos = 0;
    let mut frames = 0;
    while pos < data.len() {
        let rest = data.get(pos..).unwrap_or(&[]);
        let (Some(&b0), Some(&b1)) = (rest.first(), rest.get(1)) else {
            // One byte of the next header.
            break;
        };
        if !frame::plausible_start(b0, b1, role, true) {
            return None;
        }
        let Some(head) = frame::parse(rest) else {
            // The next header is cut by the end of the piece.
            if frames == 0 {
                return None;
            }
            break;
        };
        if !frame::plausible(&head, b0, b1, role, true)
            || (frames == 0 && head.opcode == Opcode::Continuation)
        {
            return None;
        }
        let start = pos + usize::from(head.header_len);
        let end = (start as u64).saturating_add(head.len);
        if end > data.len() as u64 {
            let lone_ok = frames > 0
                || match head.opcode {
                    Opcode::Text if !head.rsv1 => {
                        data.len() > start && payload_plausible(&view, start, &head)
                    }
                    Opcode::Binary | Opcode::Text => {
                        head.header_len >= 4 && data.len() >= SNIFF_LONE_FRAME
                    }
                    _ => false,
                };
            if !lone_ok {
                return None;
            }
            break;
        }
        if !payload_plausible(&view, start, &head) {
            return None;
        }
        frames += 1;
        pos = end as usize;
    }
    Some(if masked { Role::Client } else { Role::Server })
}

/// RFC 6455 §7.4.1/§7.4.2: codes an endpoint may put in a close frame. Below 1000 is unused,
/// 1004 is reserved, 1005, 1006 and 1015 are for reporting only, 1016-2999 are reserved for
/// the RFC and its extensions (none defined beyond 1014), 5000 and up are undefined.
pub fn close_code_sendable(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// The held bytes followed by the new ones, read as one.
struct View<'a> {
    a: &'a [u8],
    b: &'a [u8],
    /// Bytes read through `get` and `copy`.
    work: Cell<u64>,
}

impl View<'_> {
    fn len(&self) -> usize {
        self.a.len() + self.b.len()
    }

    fn get(&self, i: usize) -> Option<u8> {
        self.work.set(self.work.get() + 1);
        self.fetch(i)
    }

    fn fetch(&self, i: usize) -> Option<u8> {
        match i.checked_sub(self.a.len()) {
            None => self.a.get(i).copied(),
            Some(j) => self.b.get(j).copied(),
        }
    }

    /// Copies the bytes from `i` into `out`; false when the view is too short.
    fn copy(&self, i: usize, out: &mut [u8]) -> bool {
        if i + out.len() > self.len() {
            return false;
        }
        self.work.set(self.work.get() + out.len() as u64);
        for (k, o) in out.iter_mut().enumerate() {
            match self.fetch(i + k) {
                Some(v) => *o = v,
                None => return false,
            }
        }
        true
    }
}

enum Judge {
    Accept,
    Reject,
    /// The decision needs the view to hold this many bytes (never more than
    /// [`RESYNC_LOOKAHEAD`] past the candidate).
    More(usize),
}

/// Judges whether a frame starts at `i` of `v` (the resynchronisation heuristic described in
/// the module documentation): the candidate and up to [`RESYNC_CHAIN`] frames after it must be
/// plausible, as far as they lie within [`RESYNC_LOOKAHEAD`] bytes of the candidate.
fn judge(v: &View, i: usize, at_gap: bool, at_end: bool, dir: Dir, deflate: bool) -> Judge {
    let total = v.len();
    if total <= i {
        return Judge::More(i + 1);
    }
    // The `need` bytes needed are not there yet: wait, or at the end of the stream decide
    // now. A chain verified up to the end is accepted; a lone candidate cut by the end only
    // at a gap.
    let short = |depth: usize, need: usize| match (at_end, depth) {
        (false, _) => Judge::More(need),
        (true, 0) if !at_gap => Judge::Reject,
        (true, _) => Judge::Accept,
    };
    let window = i + RESYNC_LOOKAHEAD;
    let mut pos = i;
    for depth in 0..=RESYNC_CHAIN {
        let (Some(b0), Some(b1)) = (v.get(pos), v.get(pos + 1)) else {
            return short(depth, pos + 2);
        };
        if !frame::plausible_start(b0, b1, dir, deflate) {
            return Judge::Reject;
        }
        let hl = frame::header_len(b1);
        if pos + hl > window {
            // Only the first two bytes of a header in the chain are within reach.
            return Judge::Accept;
        }
        let mut hb = [0u8; HEAD_MAX];
        let Some(hbuf) = hb.get_mut(..hl) else {
            return Judge::Reject;
        };
        if !v.copy(pos, hbuf) {
            return short(depth, pos + hl);
        }
        let Some(head) = frame::parse(hbuf) else {
            return short(depth, pos + hl);
        };
        if !frame::plausible(&head, b0, b1, dir, deflate) {
            return Judge::Reject;
        }
        let end = (pos + hl) as u64 + head.len;
        if end + 2 > window as u64 {
            // The chain leaves the look-ahead: what was verified has to do. A lone candidate
            // is taken only at the first byte after the gap.
            return if depth > 0 || at_gap {
                Judge::Accept
            } else {
                Judge::Reject
            };
        }
        let end = end as usize;
        if total < end {
            return short(depth, end);
        }
        if !payload_plausible(v, pos + hl, &head) {
            return Judge::Reject;
        }
        pos = end;
    }
    Judge::Accept
}

/// Payload checks for a candidate whose payload is in view: an uncompressed text frame
/// starts with [`RESYNC_TEXT_CHECK`] bytes of UTF-8 (a final frame shorter than that is
/// UTF-8 whole; a final character may continue in the next fragment), a close frame has a
/// sendable code or no payload.
fn payload_plausible(v: &View, start: usize, head: &Head) -> bool {
    let whole = usize::try_from(head.len).unwrap_or(usize::MAX);
    let len = whole.min(RESYNC_TEXT_CHECK);
    match head.opcode {
        Opcode::Text if !head.rsv1 => {
            let mut check = Utf8Check::default();
            let (mut raw, mut plain) = ([0u8; 256], [0u8; 256]);
            let mut off = 0;
            while off < len {
                let n = (len - off).min(raw.len());
                let (Some(r), Some(p)) = (raw.get_mut(..n), plain.get_mut(..n)) else {
                    return false;
                };
                if !v.copy(start + off, r) {
                    return false;
                }
                match head.mask {
                    Some(key) => frame::unmask(r, key, off as u64, p),
                    None => p.copy_from_slice(r),
                }
                check.push(p);
                off += n;
            }
            check.bad_at().is_none() && (!head.fin || len < whole || check.complete())
        }
        Opcode::Close => match len {
            0 => true,
            1 => false,
            _ => {
                let mut c = [0u8; 2];
                if !v.copy(start, &mut c) {
                    return false;
                }
                if let Some(key) = head.mask {
                    c[0] ^= key[0];
                    c[1] ^= key[1];
                }
                close_code_sendable(u16::from_be_bytes(c))
            }
        },
        _ => true,
    }
}
