//! HTTP/1.x (RFC 9112) over both directions of one connection.
//!
//! Each direction is a streaming parser fed in-order bytes in arbitrary pieces. Requests (c2s)
//! and responses (s2c) are matched through a FIFO of pending requests (keep-alive and
//! pipelining, RFC 9112 §9.3.2). Events: `http_request`, `http_response`, `http_body`, and
//! `malformed` / `violation` with [`Layer::Http`].
//!
//! Choices:
//! - **Heads** are parsed from the input slice when they arrive whole; a head split across
//!   pieces is buffered up to `Limits::max_http_head`. The first line is checked as it arrives
//!   so that bytes that cannot start a message are reported at once.
//! - **Bodies** are never buffered: a Content-Length or read-until-close body gives one
//!   `http_body` per piece of input that carried body bytes (`end` on the last piece; a
//!   read-until-close body ends with an empty piece at [`Conversation::end`]). A chunked body
//!   gives one `http_body` per chunk when its data is complete, and one with `len` 0 and `end`
//!   once the last-chunk and trailer section are read. Partial chunk progress gives no event:
//!   the event then means "one chunk", whatever the segmentation, and a chunk's display copy
//!   is at most `max_kept_payload` anyway. A sender that streams (SSE, NDJSON) writes one chunk
//!   per flush, so chunks are already the unit of progress.
//! - **Gaps**: inside a body of known remaining length the gap is counted (`missing` on the
//!   body piece or chunk) and sync is kept. Anywhere else the partial message is dropped and
//!   the direction resynchronises on the next line that starts like a message: `HTTP/1.` for
//!   responses, a known method and SP for requests. A gap between messages or inside a head
//!   lost the start of a message: a lost request becomes a placeholder in the FIFO (its
//!   response gets no `request_method`), a lost response pops its request. A gap that swallows
//!   more than one message start leaves the FIFO off by the difference; nothing on the wire
//!   tells.
//! - **Not HTTP**: bytes that cannot start a message on a direction that never carried one give
//!   one `malformed` event, then the direction is opaque (counted in
//!   [`Conversation::unparsed`]) until a gap, after which it resynchronises. After a bad
//!   message on a direction that did carry HTTP, the direction resynchronises at once.
//! - **Upgrade**: after a WebSocket upgrade request (RFC 6455 §4.1) the client's following bytes
//!   are held (up to `Limits::max_upgrade_hold`) until the answer: a 101 hands them to the
//!   WebSocket parser ([`Upgraded::leftover`]), any other final answer parses them as HTTP.
//!   A 101 to anything else (h2c) and a 2xx to CONNECT make both directions opaque: counted,
//!   not parsed.

mod head;
mod upgrade;

use std::collections::VecDeque;
use std::mem;

use self::head::{Blank, Framing, Note, StartCheck};
use super::Content;
use crate::flow::{Cx, EndCause};
use crate::model::{
    DeflateParams, Dir, EventBody, HttpBody, HttpResponse, Layer, Limits, Malformed, Payload,
    Violation, WsUpgrade,
};

/// Bytes of one piece not parsed as HTTP, on an opaque direction, not reported yet.
struct Opaque {
    /// Where they lie in the piece.
    from: usize,
    to: usize,
    /// How many they are, with bytes of earlier pieces given up with them.
    len: u64,
}

/// A switch to WebSocket: what was negotiated and the bytes of each direction that followed
/// the heads (they belong to the WebSocket stream).
#[derive(Debug, Default)]
pub struct Upgraded {
    pub deflate: Option<DeflateParams>,
    /// Bytes after the heads, [c2s, s2c].
    pub leftover: [Vec<u8>; 2],
    /// Client bytes lost right after `leftover[0]` (a capture gap, or beyond
    /// `Limits::max_upgrade_hold` before the 101): the WebSocket stream has a gap of this size
    /// there.
    pub lost_c2s: u64,
}

/// What the first bytes of a segment say about its sender, on a connection whose handshake
/// was not captured: a request line (a known method and SP) comes from the client, a status
/// line (`HTTP/1.`) from the server.
pub fn sender_role(payload: &[u8]) -> Option<crate::flow::Role> {
    use crate::flow::Role;
    if payload.starts_with(b"HTTP/1.") {
        return Some(Role::Server);
    }
    let n = payload.len().min(head::MAX_CANDIDATE);
    (1..=n)
        .any(|k| {
            payload
                .get(..k)
                .is_some_and(|c| head::candidate(Dir::C2s, c) == Some(true))
        })
        .then_some(Role::Client)
}

/// Chunk size lines and chunk data limits (RFC 9112 §7.1).
/// More hex digits than a u64 holds is an overflow (RFC 9112 §7.1: recipients must anticipate
/// large numerals and prevent overflow); leading zeros count, as in Go's net/http.
const MAX_CHUNK_DIGITS: u8 = 16;
/// Longest Sec-WebSocket-Key kept with a pending request (and shown in `WsUpgrade::key`).
/// RFC 6455 §4.1: the key is a base64-encoded 16-byte nonce, 24 characters.
const MAX_WS_KEY: usize = 64;
/// Length of a Sec-WebSocket-Accept value: base64 of a 20-byte SHA-1.
const ACCEPT_LEN: usize = 28;
/// A chunk larger than this is absurd (no implementation uses more than a signed 64-bit size).
const MAX_CHUNK_SIZE: u64 = i64::MAX as u64;

/// Request/response state of one connection: a streaming parser per direction and the FIFO of
/// requests awaiting responses. Memory is bounded by the limits given to [`Conversation::new`]:
/// a split head (`max_http_head`), a chunk's display copy (`max_kept_payload`), held client
/// bytes (`max_upgrade_hold`) and pending requests (`max_pending_requests`).
pub struct Conversation {
    limits: Limits,
    sides: [Side; 2],
    /// Requests not yet answered by a final response, oldest first.
    pending: VecDeque<Pending>,
    /// Set when a 101 to a WebSocket upgrade completes; taken by `feed`.
    upgraded: Option<Upgraded>,
    /// The capture joined the connection after its handshake: a direction's first bytes may
    /// be the middle of a message, so bytes that are not HTTP are skipped while looking for a
    /// message start rather than given up on.
    late: bool,
    /// Capture time of the bytes being parsed (ns since the first packet).
    now: u64,
}

/// A request awaiting its response.
#[derive(Debug)]
struct Pending {
    /// `None` for a request lost in a gap.
    method: Option<String>,
    /// What the answer to a WebSocket upgrade request is checked against.
    ws_key: Option<WsKey>,
    /// When the request's last byte came so far (its head, then the end of its body); `None`
    /// for a request lost in a gap.
    t: Option<u64>,
}

/// The Sec-WebSocket-Key of a pending upgrade request: at most [`MAX_WS_KEY`] bytes of it
/// for display, and the accept value computed from all of it (a key is not bounded on the
/// wire, and requests can pile up in the FIFO).
#[derive(Debug)]
struct WsKey {
    shown: String,
    accept: String,
}

impl WsKey {
    fn new(key: &str) -> WsKey {
        let mut end = key.len().min(MAX_WS_KEY);
        while !key.is_char_boundary(end) {
            end -= 1;
        }
        WsKey {
            shown: key.get(..end).unwrap_or_default().to_string(),
            accept: upgrade::accept_for(key),
        }
    }
}

/// One direction's parser.
struct Side {
    dir: Dir,
    state: State,
    /// First bytes of a head split across pieces (bounded by `max_http_head`).
    head: Vec<u8>,
    blank: Blank,
    check: StartCheck,
    /// A message was parsed on this direction: bad bytes are a bad message, not "not HTTP".
    synced: bool,
    /// c2s: the message in progress is a WebSocket upgrade request; hold what follows it.
    hold_after: bool,
    /// c2s bytes after a WebSocket upgrade request, until the answer.
    held: Vec<u8>,
    /// c2s bytes after `held` that were not kept (gap or hold limit).
    held_lost: u64,
    /// Number of the chunk in progress in a chunked body.
    chunk_no: u32,
    /// Display copy of the chunk in progress (bounded by `max_kept_payload`).
    kept: Vec<u8>,
    /// `kept` is still a prefix of the chunk (no gap inside it yet).
    kept_open: bool,
    /// The body in progress is textual ([`head::textual`]): its pieces get a text preview.
    textual: bool,
    /// Bytes not parsed as HTTP: opaque, skipped while resynchronising, tunnelled.
    unparsed: u64,
    /// The direction carries something other than HTTP (or tunnelled bytes): the bytes it
    /// does not parse are reported as `data` events.
    opaque: bool,
    /// How the direction ended, once it did.
    ended: Option<EndCause>,
    /// The first bytes of a head given up as not HTTP, from earlier pieces: they lead the
    /// first `data` event.
    given_up: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between messages, or inside a head (its first bytes in `Side::head` when split).
    Head,
    Length {
        remaining: u64,
        total: u64,
    },
    Chunked(Chunk),
    /// Body read until the sender closes.
    Close,
    /// c2s after a WebSocket upgrade request: bytes held until the answer.
    Hold,
    /// Looking for the start of a message at a line start.
    Resync(Resync),
    /// The direction does not carry HTTP; a gap restarts resynchronisation.
    NotHttp,
    /// After a 101 to something other than WebSocket, or a 2xx to CONNECT.
    Tunnel,
    /// Switched to WebSocket; nothing more is parsed here.
    Upgraded,
}

/// Where a chunked body is (RFC 9112 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// The chunk-size line: `value` so far, `digits` read, then extensions, then CRLF.
    Size {
        value: u64,
        digits: u8,
        phase: SizePhase,
        line: usize,
    },
    Data {
        remaining: u64,
        size: u64,
        missing: u64,
    },
    /// The CRLF after chunk data; `cr` when the CR was read.
    DataEnd { cr: bool },
    /// The trailer section after the last-chunk, up to its blank line.
    Trailer { blank: Blank, len: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SizePhase {
    Digits,
    /// Chunk extensions (RFC 9112 §7.1.1: ignored) or whitespace before them.
    Ext,
    Cr,
}

impl Chunk {
    fn size_line() -> Chunk {
        Chunk::Size {
            value: 0,
            digits: 0,
            phase: SizePhase::Digits,
            line: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Resync {
    /// The next byte starts a line.
    line_start: bool,
    /// Bytes of a candidate start seen so far (they may span pieces).
    cand: [u8; head::MAX_CANDIDATE],
    len: u8,
}

impl Resync {
    fn state(line_start: bool) -> State {
        State::Resync(Resync {
            line_start,
            cand: [0; head::MAX_CANDIDATE],
            len: 0,
        })
    }
}

impl Side {
    fn new(dir: Dir) -> Self {
        Side {
            dir,
            state: State::Head,
            head: Vec::new(),
            blank: Blank::Mid,
            check: StartCheck::new(dir),
            synced: false,
            hold_after: false,
            held: Vec::new(),
            held_lost: 0,
            chunk_no: 0,
            kept: Vec::new(),
            kept_open: true,
            textual: false,
            unparsed: 0,
            opaque: false,
            ended: None,
            given_up: Vec::new(),
        }
    }

    fn what(&self) -> &'static str {
        match self.dir {
            Dir::C2s => "request",
            Dir::S2c => "response",
        }
    }
}

fn malformed(cx: &mut Cx, dir: Dir, detail: String) {
    cx.emit(
        Some(dir),
        EventBody::Malformed(Malformed {
            layer: Layer::Http,
            detail,
        }),
    );
}

fn note(cx: &mut Cx, dir: Dir, name: &'static str, detail: String, bytes: Option<u64>) {
    cx.emit(
        Some(dir),
        EventBody::Note(Box::new(crate::model::Note {
            layer: Layer::Http,
            note: name,
            detail,
            bytes,
        })),
    );
}

fn violation(cx: &mut Cx, dir: Dir, rule: &'static str, detail: String) {
    cx.emit(
        Some(dir),
        EventBody::Violation(Violation {
            layer: Layer::Http,
            rule,
            detail,
        }),
    );
}

/// Emits a body piece; `preview`: at most this many characters of text preview when the
/// message's body is textual ([`head::textual`]).
fn body(cx: &mut Cx, dir: Dir, mut b: HttpBody, preview: Option<usize>) {
    if let Some(max) = preview {
        b.text = text_preview(&b.data.kept, max);
    }
    cx.emit(Some(dir), EventBody::HttpBody(Box::new(b)));
}

/// The first `max_chars` characters of `kept` when it is UTF-8, a character cut at its end
/// left out (the display copy, or a TCP segment, can end inside one); `None` when it is not
/// UTF-8 or nothing is left.
fn text_preview(kept: &[u8], max_chars: usize) -> Option<String> {
    match std::str::from_utf8(kept) {
        Ok(_) => {}
        // `error_len` is `None` when the input ends inside a character.
        Err(e) if e.error_len().is_none() => {}
        Err(_) => return None,
    }
    let t = super::preview(kept, max_chars);
    (!t.is_empty()).then_some(t)
}

/// The first line of a head given up on (`head` buffered from earlier pieces, then `rest`),
/// quoted, at most [`SHOWN_LINE`] characters: what the user needs to see of a rejected line.
fn first_line(head: &[u8], rest: &[u8]) -> String {
    let mut line = Vec::with_capacity(SHOWN_LINE + 4);
    for &b in head.iter().chain(rest) {
        if b == b'\n' || line.len() >= SHOWN_LINE * 4 {
            break;
        }
        line.push(b);
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    let text = String::from_utf8_lossy(&line);
    let cut = text.char_indices().nth(SHOWN_LINE).map(|(i, _)| i);
    // Typographic quotes: the views escape ASCII ones, which would clutter the line.
    match cut {
        Some(i) => format!("“{}”…", text.get(..i).unwrap_or_default()),
        None => format!("“{text}”"),
    }
}

/// Characters of a rejected start line shown in its `malformed` event.
const SHOWN_LINE: usize = 120;

fn notes(cx: &mut Cx, dir: Dir, notes: Vec<Note>) {
    for n in notes {
        match n {
            Note::Violation(rule, detail) => violation(cx, dir, rule, detail),
            Note::Malformed(detail) => malformed(cx, dir, detail),
        }
    }
}

impl Conversation {
    /// A connection before its first byte; `limits` bound every buffer it keeps.
    pub fn new(limits: &Limits) -> Self {
        Conversation {
            limits: *limits,
            sides: [Side::new(Dir::C2s), Side::new(Dir::S2c)],
            pending: VecDeque::new(),
            upgraded: None,
            late: false,
            now: 0,
        }
    }

    /// The capture joined the connection after its handshake: its first bytes may be the middle of a message.
    pub fn joined_late(&mut self) {
        self.late = true;
    }

    /// Feeds in-order bytes of `dir`; returns `Some` once a 101 answer to a WebSocket upgrade
    /// request completes (the emitted `http_response` carries the `upgrade` details). The
    /// switch happens at the byte after the 101 head: the rest of `data` is in
    /// `leftover[1]`, the client bytes that followed the request head in `leftover[0]`. The
    /// conversation parses nothing after that.
    pub fn feed(&mut self, dir: Dir, data: &[u8], cx: &mut Cx) -> Option<Upgraded> {
        self.now = cx.stamp.t.0;
        let d = dir.idx();
        let used = self.run(d, data, cx);
        let mut up = self.upgraded.take()?;
        if let Some(rest) = data.get(used..) {
            up.leftover[d] = rest.to_vec();
        }
        Some(up)
    }

    /// `len` bytes of `dir` are missing: inside a body of known remaining length they are
    /// counted; elsewhere the partial message is dropped and the direction resynchronises at
    /// the next message start.
    pub fn gap(&mut self, dir: Dir, len: u32, cx: &mut Cx) {
        self.now = cx.stamp.t.0;
        self.lose(dir.idx(), u64::from(len), cx);
    }

    /// `dir` ended by its sender's FIN: completes a read-until-close body, reports a message
    /// cut short ([`Conversation::end_by`] with [`EndCause::Fin`]).
    pub fn end(&mut self, dir: Dir, cx: &mut Cx) {
        self.end_by(dir, EndCause::Fin, cx);
    }

    /// `dir` ended, for the reason `cause`. A message it was sending is then:
    /// - complete, for a read-until-close body ended by its sender (FIN or RST);
    /// - left unfinished without damage when the capture ended first (a note
    ///   `capture_ended_in_body` or `capture_ended_in_head`), or when the other side had closed
    ///   (or reset) the connection first: a client that stops reading a stream (an SSE
    ///   `EventSource.close()`) ends it this way (a note `peer_closed_in_body`);
    /// - cut short (`malformed`) when its own sender closed or reset the connection inside it.
    pub fn end_by(&mut self, dir: Dir, cause: EndCause, cx: &mut Cx) {
        self.now = cx.stamp.t.0;
        let d = dir.idx();
        self.drop_candidate(d, cx);
        let peer_ended = self.sides[1 - d].ended;
        self.sides[d].ended = Some(cause);
        let side = &mut self.sides[d];
        let what = side.what();
        let peer = match dir {
            Dir::C2s => "server",
            Dir::S2c => "client",
        };
        let by_peer = peer_ended.is_some() || matches!(cause, EndCause::Reset { by } if by != dir);
        let sender = match dir {
            Dir::C2s => "client",
            Dir::S2c => "server",
        };
        let how = match cause {
            EndCause::Reset { .. } => format!("a reset from the {sender}"),
            _ => format!("the {sender} closing the connection"),
        };
        let missing = match side.state {
            State::Length { remaining, total } => Some(format!("{remaining} of {total} bytes")),
            State::Chunked(_) => Some(format!("chunk #{} and what follows", side.chunk_no)),
            _ => None,
        };
        match side.state {
            State::Head if !side.head.is_empty() => {
                let n = side.head.len();
                side.head = Vec::new();
                if cause == EndCause::NotCaptured {
                    note(
                        cx,
                        dir,
                        "capture_ended_in_head",
                        format!("capture ended before the end of the {what} head ({n} bytes seen)"),
                        Some(n as u64),
                    );
                } else {
                    malformed(
                        cx,
                        dir,
                        format!("{what} head cut short by {how} ({n} bytes)"),
                    );
                }
            }
            State::Length { .. } | State::Chunked(_) => {
                let missing = missing.unwrap_or_default();
                side.state = State::Head;
                if cause == EndCause::NotCaptured {
                    note(
                        cx,
                        dir,
                        "capture_ended_in_body",
                        format!(
                            "capture ended before the end of the {what} body ({missing} not \
                             captured)"
                        ),
                        None,
                    );
                } else if by_peer {
                    note(
                        cx,
                        dir,
                        "peer_closed_in_body",
                        format!(
                            "the {peer} closed the connection before the end of the {what} \
                             body, which stops there ({missing} never sent)"
                        ),
                        None,
                    );
                } else {
                    malformed(
                        cx,
                        dir,
                        format!("{what} body cut short by {how}: {missing} missing"),
                    );
                }
            }
            State::Close if cause == EndCause::NotCaptured => {
                side.state = State::Head;
                note(
                    cx,
                    dir,
                    "capture_ended_in_body",
                    format!(
                        "capture ended before the end of the {what} body (it runs until the \
                         {sender} closes the connection)"
                    ),
                    None,
                );
            }
            State::Close => {
                side.state = State::Head;
                body(
                    cx,
                    dir,
                    HttpBody {
                        len: 0,
                        chunk: None,
                        end: true,
                        missing: 0,
                        text: None,
                        data: Payload::default(),
                    },
                    None,
                );
            }
            State::Head
            | State::Hold
            | State::Resync(_)
            | State::NotHttp
            | State::Tunnel
            | State::Upgraded => {}
        }
    }

    /// Bytes buffered now: split heads, client bytes held for an upgrade answer, chunk display
    /// copies, and the strings of requests awaiting a response (for memory-bound tests).
    #[doc(hidden)]
    pub fn held_bytes(&self) -> usize {
        let sides: usize = self
            .sides
            .iter()
            .map(|s| s.head.len() + s.held.len() + s.kept.len())
            .sum();
        let pending: usize = self
            .pending
            .iter()
            .map(|p| {
                p.method.as_ref().map_or(0, String::len)
                    + p.ws_key
                        .as_ref()
                        .map_or(0, |k| k.shown.len() + k.accept.len())
            })
            .sum();
        sides + pending
    }

    /// The most [`Conversation::held_bytes`] can be under `limits`: a split head and a chunk
    /// copy per direction, the held upgrade bytes, and the pending requests' strings (a method
    /// token, a shown WebSocket key and its 28-character accept value each).
    #[doc(hidden)]
    pub fn max_held(limits: &Limits) -> usize {
        2 * limits.max_http_head.max(1)
            + limits.max_upgrade_hold
            + 2 * limits.max_kept_payload
            + limits.max_pending_requests.max(1)
                * (usize::from(head::MAX_METHOD_LEN) + MAX_WS_KEY + ACCEPT_LEN)
    }

    /// Bytes of `dir` that were not parsed as HTTP: not HTTP at all, skipped while
    /// resynchronising, or carried after a switch to another protocol (h2c, CONNECT tunnel).
    pub fn unparsed(&self, dir: Dir) -> u64 {
        self.sides[dir.idx()].unparsed
    }

    /// Parses `data` of side `d`; returns the bytes consumed, all of them unless a WebSocket
    /// upgrade completed.
    fn run(&mut self, d: usize, data: &[u8], cx: &mut Cx) -> usize {
        let mut rest = data;
        // Opaque bytes of this piece not reported yet: from `data[from..]`, `len` bytes in
        // all (a head buffered from earlier pieces and given up counts too).
        let mut opaque: Option<Opaque> = None;
        while !rest.is_empty() && self.upgraded.is_none() {
            let at = data.len() - rest.len();
            let side = &self.sides[d];
            let (before, was_opaque, given) = (side.unparsed, side.opaque, side.given_up.len());
            let used = self.step(d, rest, cx);
            rest = rest.get(used..).unwrap_or_default();
            let side = &self.sides[d];
            let counted = side.unparsed.saturating_sub(before);
            if counted > 0 && (was_opaque || side.opaque) {
                // Bytes of this piece counted: a prefix of what the step took (a candidate
                // message start it kept is counted when it fails); the rest of `counted`
                // came from earlier pieces, through `given_up`.
                let earlier = side.given_up.len().saturating_sub(given) as u64;
                let here = usize::try_from(counted.saturating_sub(earlier)).unwrap_or(usize::MAX);
                let o = opaque.get_or_insert(Opaque {
                    from: at,
                    to: at,
                    len: 0,
                });
                o.to = at.saturating_add(here).min(data.len());
                o.len += counted;
            }
            if !side.opaque {
                if let Some(o) = opaque.take() {
                    self.opaque_data(d, data.get(o.from..o.to).unwrap_or_default(), o.len, cx);
                }
            }
        }
        if let Some(o) = opaque {
            self.opaque_data(d, data.get(o.from..o.to).unwrap_or_default(), o.len, cx);
        }
        data.len() - rest.len()
    }

    /// A `data` event: `len` bytes of side `d` that are not HTTP, ending with `last`.
    fn opaque_data(&mut self, d: usize, last: &[u8], len: u64, cx: &mut Cx) {
        let max = self.limits.max_kept_payload;
        let given_up = mem::take(&mut self.sides[d].given_up);
        let kept: Box<[u8]> = if given_up.is_empty() {
            last.get(..max).unwrap_or(last).into()
        } else {
            given_up.iter().chain(last).take(max).copied().collect()
        };
        let kept = Payload { kept, total: len };
        let text = super::text_of(&kept.kept, self.limits.max_text_preview);
        cx.emit(
            Some(self.sides[d].dir),
            EventBody::Data(Box::new(crate::model::Data {
                len,
                text,
                data: kept,
            })),
        );
    }

    /// One step of side `d`'s state machine over `rest` (not empty): returns the bytes
    /// consumed. A step that consumes nothing changes the state to one that will.
    fn step(&mut self, d: usize, rest: &[u8], cx: &mut Cx) -> usize {
        let side = &mut self.sides[d];
        match side.state {
            State::Head => self.step_head(d, rest, cx),
            State::Length { remaining, total } => {
                let n = usize::try_from(remaining).map_or(rest.len(), |r| r.min(rest.len()));
                let remaining = remaining - n as u64;
                side.state = State::Length { remaining, total };
                cx.content(side.dir, Content::Body(rest.get(..n).unwrap_or_default()));
                body(
                    cx,
                    side.dir,
                    HttpBody {
                        len: n as u64,
                        chunk: None,
                        end: remaining == 0,
                        missing: 0,
                        text: None,
                        data: Payload::capped(
                            rest.get(..n).unwrap_or_default(),
                            self.limits.max_kept_payload,
                        ),
                    },
                    side.textual.then_some(self.limits.max_text_preview),
                );
                if remaining == 0 {
                    self.message_done(d);
                }
                n
            }
            State::Chunked(chunk) => self.step_chunked(d, chunk, rest, cx),
            State::Close => {
                cx.content(side.dir, Content::Body(rest));
                body(
                    cx,
                    side.dir,
                    HttpBody {
                        len: rest.len() as u64,
                        chunk: None,
                        end: false,
                        missing: 0,
                        text: None,
                        data: Payload::capped(rest, self.limits.max_kept_payload),
                    },
                    side.textual.then_some(self.limits.max_text_preview),
                );
                rest.len()
            }
            State::Hold => {
                let limit = self.limits.max_upgrade_hold;
                if side.held.is_empty() && side.held_lost == 0 {
                    // RFC 6455 §4.1: the client must wait for the server's answer before
                    // sending further data.
                    violation(
                        cx,
                        side.dir,
                        "data_before_upgrade_answer",
                        "client sent data after a WebSocket upgrade request before the answer \
                         (RFC 6455 §4.1)"
                            .to_string(),
                    );
                }
                let room = limit.saturating_sub(side.held.len());
                if side.held_lost > 0 {
                    side.held_lost += rest.len() as u64;
                } else if rest.len() <= room {
                    side.held.extend_from_slice(rest);
                } else {
                    side.held
                        .extend_from_slice(rest.get(..room).unwrap_or_default());
                    side.held_lost = (rest.len() - room) as u64;
                    malformed(
                        cx,
                        side.dir,
                        format!(
                            "more than {limit} client bytes before the upgrade answer; the rest \
                             is counted, not kept"
                        ),
                    );
                }
                rest.len()
            }
            State::Resync(r) => self.step_resync(d, r, rest, cx),
            State::NotHttp | State::Tunnel | State::Upgraded => {
                side.unparsed += rest.len() as u64;
                rest.len()
            }
        }
    }

    fn step_head(&mut self, d: usize, rest: &[u8], cx: &mut Cx) -> usize {
        let limit = self.limits.max_http_head.max(1);
        let side = &mut self.sides[d];
        let buffered = side.head.len();
        if buffered == 0 {
            // RFC 9112 §2.2: empty lines before a message are ignored.
            let skip = rest
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            if skip > 0 {
                return skip;
            }
            side.blank = Blank::Mid;
            side.check = StartCheck::new(side.dir);
        }
        let room = limit.saturating_sub(buffered).max(1);
        let window = rest.get(..room).unwrap_or(rest);
        let end = side.blank.scan(window);
        let checked = window.get(..end.unwrap_or(window.len())).unwrap_or(window);
        if let Err(bad) = side.check.run(checked) {
            let head = mem::take(&mut side.head);
            let what = side.what();
            let detail = format!(
                "{}: byte 0x{:02x} at offset {}",
                bad.what,
                bad.byte,
                buffered + bad.at
            );
            if side.synced || bad.in_line {
                // It began like a message: a bad message, its line shown.
                // Up to the offending byte: all of it has arrived, whatever the segmentation.
                let line = first_line(&head, rest.get(..=bad.at).unwrap_or(rest));
                malformed(
                    cx,
                    side.dir,
                    format!("not an HTTP {what}: {detail} in {line}"),
                );
                side.state = Resync::state(bad.byte == b'\n');
                side.unparsed += (buffered + bad.at + 1) as u64;
                return bad.at + 1;
            }
            // Another protocol: said once, neutrally; its bytes become `data` events.
            let hint = super::looks_like(&head, rest);
            side.given_up = head;
            let n = buffered + rest.len();
            let detail = if self.late {
                format!(
                    "not HTTP: {n} bytes of payload, {hint} (the capture joined this connection \
                     late: its messages, if any, are decoded from the next start of one)"
                )
            } else {
                format!("not HTTP: {n} bytes of payload, {hint}")
            };
            note(cx, side.dir, "not_http", detail, Some(n as u64));
            side.opaque = true;
            if self.late {
                side.state = Resync::state(bad.byte == b'\n');
                side.unparsed += (buffered + bad.at + 1) as u64;
                return bad.at + 1;
            }
            side.state = State::NotHttp;
            side.unparsed += n as u64;
            return rest.len();
        }
        match end {
            Some(end) => {
                if buffered == 0 {
                    // The whole head is in this piece: parsed in place.
                    self.complete_head(d, rest.get(..end).unwrap_or_default(), cx);
                } else {
                    let mut head = mem::take(&mut side.head);
                    head.extend_from_slice(rest.get(..end).unwrap_or_default());
                    self.complete_head(d, &head, cx);
                }
                end
            }
            None if rest.len() >= room => {
                side.head = Vec::new();
                side.unparsed += (buffered + room) as u64;
                side.state = Resync::state(false);
                let what = side.what();
                malformed(
                    cx,
                    side.dir,
                    format!("{what} head larger than {limit} bytes; resynchronising"),
                );
                self.bad_request_head(d, cx);
                room
            }
            None => {
                side.head.extend_from_slice(rest);
                rest.len()
            }
        }
    }

    fn complete_head(&mut self, d: usize, buf: &[u8], cx: &mut Cx) {
        let max_headers = self.limits.max_http_headers;
        let result = match self.sides[d].dir {
            Dir::C2s => head::parse_request(buf, max_headers).map(|r| self.request(r, cx)),
            Dir::S2c => head::parse_response(buf, max_headers).map(|r| self.response(r, cx)),
        };
        if let Err(detail) = result {
            let side = &mut self.sides[d];
            side.unparsed += buf.len() as u64;
            side.state = Resync::state(true);
            let line = first_line(buf, &[]);
            malformed(cx, side.dir, format!("{detail} in {line}; resynchronising"));
            self.bad_request_head(d, cx);
        }
    }

    fn request(&mut self, mut req: crate::model::HttpRequest, cx: &mut Cx) {
        let mut problems = Vec::new();
        let framing = head::framing(&req.headers, true, &mut problems);
        req.body = framing.kind();
        let ws_key = upgrade::ws_request_key(&req.headers).map(|k| WsKey::new(&k));
        let method = req.method.clone();
        let side = &mut self.sides[Dir::C2s.idx()];
        side.synced = true;
        side.hold_after = ws_key.is_some();
        side.textual = head::textual(&req.headers);
        cx.emit(Some(Dir::C2s), EventBody::HttpRequest(Box::new(req)));
        notes(cx, Dir::C2s, problems);
        self.push_pending(
            Pending {
                method: Some(method),
                ws_key,
                t: Some(self.now),
            },
            cx,
        );
        self.start_body(Dir::C2s.idx(), framing);
    }

    /// A request head that does not parse (or is too large) is still a request the server
    /// answers (400, 431): a placeholder keeps the FIFO in step.
    fn bad_request_head(&mut self, d: usize, cx: &mut Cx) {
        if d == Dir::C2s.idx() {
            self.push_pending(
                Pending {
                    method: None,
                    ws_key: None,
                    t: None,
                },
                cx,
            );
        }
    }

    fn push_pending(&mut self, p: Pending, cx: &mut Cx) {
        let max = self.limits.max_pending_requests.max(1);
        if self.pending.len() >= max {
            self.pending.pop_front();
            malformed(
                cx,
                Dir::C2s,
                format!("more than {max} requests awaiting a response; the oldest is forgotten"),
            );
        }
        self.pending.push_back(p);
    }

    fn response(&mut self, mut resp: HttpResponse, cx: &mut Cx) {
        let s = Dir::S2c.idx();
        self.sides[s].synced = true;
        // RFC 9110 §15.2: interim responses precede the final one to the same request.
        if (100..200).contains(&resp.status) && resp.status != 101 {
            resp.request_method = self.pending.front().and_then(|p| p.method.clone());
            resp.time_since_request = self.since(self.pending.front());
            cx.emit(Some(Dir::S2c), EventBody::HttpResponse(Box::new(resp)));
            self.message_done(s);
            return;
        }
        let pending = self.pending.pop_front();
        resp.time_since_request = self.since(pending.as_ref());
        let (method, ws_key) = match pending {
            Some(p) => (p.method, p.ws_key),
            None => (None, None),
        };
        resp.request_method = method;
        if resp.status == 101 {
            self.switch(resp, ws_key, cx);
            return;
        }
        let m = resp.request_method.as_deref().unwrap_or("");
        let mut problems = Vec::new();
        // RFC 9112 §6.3 rules 1 and 2.
        let tunnel = m.eq_ignore_ascii_case("CONNECT") && (200..300).contains(&resp.status);
        let framing =
            if tunnel || m.eq_ignore_ascii_case("HEAD") || resp.status == 204 || resp.status == 304
            {
                Framing::None
            } else {
                head::framing(&resp.headers, false, &mut problems)
            };
        resp.body = framing.kind();
        self.sides[s].textual = head::textual(&resp.headers);
        cx.emit(Some(Dir::S2c), EventBody::HttpResponse(Box::new(resp)));
        notes(cx, Dir::S2c, problems);
        if tunnel {
            self.tunnel();
        } else {
            self.start_body(s, framing);
        }
        if ws_key.is_some() {
            self.release_hold(cx);
        }
    }

    /// A 101 (RFC 9110 §15.2.2): WebSocket when the request asked for it (or, its request not
    /// captured, the answer names it); any other protocol makes the connection opaque.
    fn switch(&mut self, mut resp: HttpResponse, ws_key: Option<WsKey>, cx: &mut Cx) {
        let answers_ws = upgrade::has_token(&resp.headers, "upgrade", "websocket");
        if ws_key.is_none() && !answers_ws {
            cx.emit(Some(Dir::S2c), EventBody::HttpResponse(Box::new(resp)));
            self.tunnel();
            return;
        }
        let mut problems = Vec::new();
        let (key, accept_expected) = match ws_key {
            Some(k) if !k.shown.is_empty() => (k.shown, k.accept),
            _ => {
                problems.push((
                    "upgrade_without_request",
                    "101 to websocket without a WebSocket upgrade request in the capture"
                        .to_string(),
                ));
                (String::new(), String::new())
            }
        };
        let accept = upgrade::joined(&resp.headers, "sec-websocket-accept").unwrap_or_default();
        let accept_valid = !key.is_empty() && accept == accept_expected;
        if !key.is_empty() && !accept_valid {
            // RFC 6455 §4.1 client requirement 4.
            problems.push((
                "websocket_accept_mismatch",
                format!("Sec-WebSocket-Accept {accept:?}, expected {accept_expected:?}"),
            ));
        }
        if !answers_ws {
            problems.push((
                "websocket_upgrade_header",
                "101 without Upgrade: websocket (RFC 6455 §4.1)".to_string(),
            ));
        }
        if !upgrade::has_token(&resp.headers, "connection", "upgrade") {
            problems.push((
                "websocket_connection_header",
                "101 without Connection: upgrade (RFC 6455 §4.1)".to_string(),
            ));
        }
        let extensions = upgrade::joined(&resp.headers, "sec-websocket-extensions");
        let deflate = match extensions.as_deref().and_then(upgrade::deflate_params) {
            Some((params, bad)) => {
                if !bad.is_empty() {
                    // RFC 7692 §7.1: the client must fail the connection.
                    problems.push((
                        "invalid_deflate_params",
                        format!("permessage-deflate: {}", bad.join("; ")),
                    ));
                }
                Some(params)
            }
            None => None,
        };
        resp.upgrade = Some(WsUpgrade {
            key,
            accept,
            accept_expected,
            accept_valid,
            subprotocol: upgrade::joined(&resp.headers, "sec-websocket-protocol"),
            extensions,
            deflate,
        });
        cx.emit(Some(Dir::S2c), EventBody::HttpResponse(Box::new(resp)));
        for (rule, detail) in problems {
            violation(cx, Dir::S2c, rule, detail);
        }
        let c = &mut self.sides[0];
        let (c2s, lost) = match c.state {
            State::Hold => (mem::take(&mut c.held), mem::take(&mut c.held_lost)),
            State::Head => (mem::take(&mut c.head), 0),
            _ => (Vec::new(), 0),
        };
        self.sides[0].state = State::Upgraded;
        self.sides[1].state = State::Upgraded;
        self.upgraded = Some(Upgraded {
            deflate,
            leftover: [c2s, Vec::new()],
            lost_c2s: lost,
        });
    }

    /// Both directions carry another protocol from here (h2c, a CONNECT tunnel): their bytes
    /// become `data` events.
    fn tunnel(&mut self) {
        for side in &mut self.sides {
            side.state = State::Tunnel;
            side.opaque = true;
        }
    }

    /// The answer to a WebSocket upgrade request was not a 101 (or was lost): the client's
    /// held bytes are HTTP after all.
    fn release_hold(&mut self, cx: &mut Cx) {
        let c = &mut self.sides[0];
        c.hold_after = false;
        if c.state != State::Hold {
            return;
        }
        c.state = State::Head;
        let held = mem::take(&mut c.held);
        let lost = mem::take(&mut c.held_lost);
        // c2s parsing cannot complete an upgrade: no recursion back here.
        self.run(0, &held, cx);
        self.lose(0, lost, cx);
    }

    fn start_body(&mut self, d: usize, framing: Framing) {
        let side = &mut self.sides[d];
        match framing {
            Framing::None | Framing::Length(0) => self.message_done(d),
            Framing::Length(n) => {
                side.state = State::Length {
                    remaining: n,
                    total: n,
                }
            }
            Framing::Chunked => {
                side.chunk_no = 0;
                side.state = State::Chunked(Chunk::size_line());
            }
            Framing::Close => side.state = State::Close,
        }
    }

    /// The server's time for an answer to `p` given now: from the request's last byte.
    fn since(&self, p: Option<&Pending>) -> Option<crate::model::Nanos> {
        let t = p?.t?;
        Some(crate::model::Nanos(self.now.saturating_sub(t)))
    }

    fn message_done(&mut self, d: usize) {
        if d == Dir::C2s.idx() {
            // The request's last byte: the newest pending request is the one whose body (or
            // head) just ended, unless its answer already came (then nothing is pending
            // after it).
            if let Some(p) = self.pending.back_mut().filter(|p| p.t.is_some()) {
                p.t = Some(self.now);
            }
        }
        let side = &mut self.sides[d];
        side.state = if mem::take(&mut side.hold_after) {
            State::Hold
        } else {
            State::Head
        };
    }

    fn step_chunked(&mut self, d: usize, chunk: Chunk, rest: &[u8], cx: &mut Cx) -> usize {
        let keep = self.limits.max_kept_payload;
        let max_line = self.limits.max_http_head;
        let side = &mut self.sides[d];
        match chunk {
            Chunk::Size {
                mut value,
                mut digits,
                mut phase,
                mut line,
            } => {
                for (i, &b) in rest.iter().enumerate() {
                    line += 1;
                    let fail = match phase {
                        SizePhase::Digits => match (b as char).to_digit(16) {
                            Some(_) if digits >= MAX_CHUNK_DIGITS => Some(format!(
                                "chunk size has more than {MAX_CHUNK_DIGITS} hex digits"
                            )),
                            Some(h) => {
                                digits += 1;
                                value = (value << 4) | u64::from(h);
                                (value > MAX_CHUNK_SIZE)
                                    .then(|| format!("chunk size {value:#x} is absurd"))
                            }
                            None if digits == 0 => {
                                Some(format!("chunk size expected, got byte 0x{b:02x}"))
                            }
                            None => match b {
                                b';' | b' ' | b'\t' => {
                                    phase = SizePhase::Ext;
                                    None
                                }
                                b'\r' => {
                                    phase = SizePhase::Cr;
                                    None
                                }
                                b'\n' => return self.chunk_size_done(d, value, i),
                                _ => Some(format!("invalid byte 0x{b:02x} in chunk size")),
                            },
                        },
                        SizePhase::Ext => match b {
                            b'\r' => {
                                phase = SizePhase::Cr;
                                None
                            }
                            b'\n' => return self.chunk_size_done(d, value, i),
                            _ => None,
                        },
                        SizePhase::Cr if b == b'\n' => return self.chunk_size_done(d, value, i),
                        SizePhase::Cr => Some("bare CR in chunk size line".to_string()),
                    };
                    let fail = fail.or_else(|| {
                        (line > max_line)
                            .then(|| format!("chunk size line longer than {max_line} bytes"))
                    });
                    if let Some(detail) = fail {
                        return self.chunk_fail(d, detail, b, i, cx);
                    }
                }
                side.state = State::Chunked(Chunk::Size {
                    value,
                    digits,
                    phase,
                    line,
                });
                rest.len()
            }
            Chunk::Data {
                remaining,
                size,
                missing,
            } => {
                let n = usize::try_from(remaining).map_or(rest.len(), |r| r.min(rest.len()));
                cx.content(side.dir, Content::Body(rest.get(..n).unwrap_or_default()));
                if side.kept_open && side.kept.len() < keep {
                    let take = n.min(keep - side.kept.len());
                    side.kept
                        .extend_from_slice(rest.get(..take).unwrap_or_default());
                }
                let remaining = remaining - n as u64;
                side.state = State::Chunked(Chunk::Data {
                    remaining,
                    size,
                    missing,
                });
                if remaining == 0 {
                    self.chunk_data_done(d, size, missing, cx);
                }
                n
            }
            Chunk::DataEnd { cr } => {
                let b = rest.first().copied().unwrap_or_default();
                match (cr, b) {
                    (false, b'\r') => side.state = State::Chunked(Chunk::DataEnd { cr: true }),
                    // RFC 9112 §7.1; a bare LF is accepted as a line end (§2.2).
                    (_, b'\n') => side.state = State::Chunked(Chunk::size_line()),
                    _ => {
                        return self.chunk_fail(
                            d,
                            format!("chunk data not followed by CRLF (byte 0x{b:02x})"),
                            b,
                            0,
                            cx,
                        )
                    }
                }
                1
            }
            Chunk::Trailer { mut blank, len } => {
                let room = max_line.saturating_sub(len).max(1);
                let window = rest.get(..room).unwrap_or(rest);
                match blank.scan(window) {
                    Some(n) => {
                        let no = side.chunk_no;
                        body(
                            cx,
                            side.dir,
                            HttpBody {
                                len: 0,
                                chunk: Some(no),
                                end: true,
                                missing: 0,
                                text: None,
                                data: Payload::default(),
                            },
                            None,
                        );
                        self.message_done(d);
                        n
                    }
                    None if rest.len() >= room => {
                        let b = window.last().copied().unwrap_or_default();
                        self.chunk_fail(
                            d,
                            format!("trailer section larger than {max_line} bytes"),
                            b,
                            room - 1,
                            cx,
                        )
                    }
                    None => {
                        side.state = State::Chunked(Chunk::Trailer {
                            blank,
                            len: len + rest.len(),
                        });
                        rest.len()
                    }
                }
            }
        }
    }

    /// The chunk-size line ended at `rest[i]`.
    fn chunk_size_done(&mut self, d: usize, size: u64, i: usize) -> usize {
        let side = &mut self.sides[d];
        side.state = State::Chunked(if size == 0 {
            // The last-chunk; the trailer section follows (RFC 9112 §7.1.2).
            Chunk::Trailer {
                blank: Blank::LineStart,
                len: 0,
            }
        } else {
            side.kept.clear();
            side.kept_open = true;
            Chunk::Data {
                remaining: size,
                size,
                missing: 0,
            }
        });
        i + 1
    }

    fn chunk_data_done(&mut self, d: usize, size: u64, missing: u64, cx: &mut Cx) {
        let side = &mut self.sides[d];
        let no = side.chunk_no;
        side.chunk_no = no.saturating_add(1);
        side.state = State::Chunked(Chunk::DataEnd { cr: false });
        body(
            cx,
            side.dir,
            HttpBody {
                len: size,
                chunk: Some(no),
                end: false,
                missing,
                text: None,
                data: Payload {
                    // Taken, so that no connection keeps a buffer between chunks; boxed without
                    // spare capacity.
                    kept: mem::take(&mut side.kept).into(),
                    total: size,
                },
            },
            side.textual.then_some(self.limits.max_text_preview),
        );
    }

    /// Chunked framing broke at `rest[i]` (byte `b`): report and resynchronise after it.
    fn chunk_fail(&mut self, d: usize, detail: String, b: u8, i: usize, cx: &mut Cx) -> usize {
        let side = &mut self.sides[d];
        side.state = Resync::state(b == b'\n');
        side.unparsed += (i + 1) as u64;
        cx.content(side.dir, Content::BodyGap);
        malformed(cx, side.dir, format!("{detail}; resynchronising"));
        i + 1
    }

    fn step_resync(&mut self, d: usize, mut r: Resync, rest: &[u8], cx: &mut Cx) -> usize {
        let dir = self.sides[d].dir;
        // Bytes of the candidate in progress that came in earlier pieces: not counted as
        // unparsed yet (they may start a message).
        let mut carried = usize::from(r.len);
        for (i, &b) in rest.iter().enumerate() {
            if r.len == 0 && !r.line_start {
                r.line_start = b == b'\n';
                continue;
            }
            let len = usize::from(r.len);
            let Some(slot) = r.cand.get_mut(len) else {
                self.drop_carried(d, &r, &mut carried);
                r.len = 0;
                r.line_start = b == b'\n';
                continue;
            };
            *slot = b;
            let cand = r.cand.get(..=len).unwrap_or_default();
            match head::candidate(dir, cand) {
                Some(false) => r.len += 1,
                None => {
                    self.drop_carried(d, &r, &mut carried);
                    r.len = 0;
                    r.line_start = b == b'\n';
                }
                Some(true) => {
                    let side = &mut self.sides[d];
                    side.state = State::Head;
                    side.opaque = false;
                    side.head.clear();
                    // The candidate's bytes before this piece, if any, were seen earlier.
                    let earlier = cand.len().saturating_sub(i + 1);
                    let start = (i + 1).saturating_sub(cand.len());
                    side.unparsed += start as u64;
                    if earlier > 0 {
                        let prefix = r.cand;
                        self.run(d, prefix.get(..earlier).unwrap_or_default(), cx);
                    }
                    return start;
                }
            }
        }
        // The candidate in progress (its bytes in this piece) is counted once it fails.
        let pending = usize::from(r.len) - carried;
        let side = &mut self.sides[d];
        side.unparsed += (rest.len() - pending) as u64;
        side.state = State::Resync(r);
        rest.len()
    }

    /// The candidate in progress failed: its bytes from earlier pieces (`carried`) are
    /// unparsed after all (and lead the next `data` event of an opaque direction).
    fn drop_carried(&mut self, d: usize, r: &Resync, carried: &mut usize) {
        if *carried == 0 {
            return;
        }
        let side = &mut self.sides[d];
        side.unparsed += *carried as u64;
        if side.opaque {
            side.given_up
                .extend_from_slice(r.cand.get(..*carried).unwrap_or_default());
        }
        *carried = 0;
    }

    /// A direction resynchronising stops (a gap, its end): the bytes of a candidate in
    /// progress are unparsed, and reported as data if the direction is opaque.
    fn drop_candidate(&mut self, d: usize, cx: &mut Cx) {
        let side = &mut self.sides[d];
        let State::Resync(r) = side.state else {
            return;
        };
        if r.len == 0 {
            return;
        }
        side.state = Resync::state(r.line_start);
        side.unparsed += u64::from(r.len);
        if side.opaque {
            side.given_up
                .extend_from_slice(r.cand.get(..usize::from(r.len)).unwrap_or_default());
            self.opaque_data(d, &[], u64::from(r.len), cx);
        }
    }

    /// `len` bytes of side `d` are missing from the capture.
    fn lose(&mut self, d: usize, len: u64, cx: &mut Cx) {
        if len == 0 {
            return;
        }
        self.drop_candidate(d, cx);
        let side = &mut self.sides[d];
        match side.state {
            State::Length { remaining, total } => {
                let n = len.min(remaining);
                let remaining = remaining - n;
                side.state = State::Length { remaining, total };
                cx.content(side.dir, Content::BodyGap);
                body(
                    cx,
                    side.dir,
                    HttpBody {
                        len: n,
                        chunk: None,
                        end: remaining == 0,
                        missing: n,
                        text: None,
                        data: Payload::default(),
                    },
                    None,
                );
                if remaining == 0 {
                    self.message_done(d);
                    // The gap runs on into what followed the body.
                    self.lose(d, len - n, cx);
                }
            }
            State::Close => {
                cx.content(side.dir, Content::BodyGap);
                body(
                    cx,
                    side.dir,
                    HttpBody {
                        len,
                        chunk: None,
                        end: false,
                        missing: len,
                        text: None,
                        data: Payload::default(),
                    },
                    None,
                )
            }
            State::Chunked(Chunk::Data {
                remaining,
                size,
                missing,
            }) if len <= remaining => {
                cx.content(side.dir, Content::BodyGap);
                side.kept_open = false;
                side.state = State::Chunked(Chunk::Data {
                    remaining: remaining - len,
                    size,
                    missing: missing + len,
                });
                if remaining == len {
                    self.chunk_data_done(d, size, missing + len, cx);
                }
            }
            State::Chunked(_) => {
                // The chunk framing is lost with the bytes.
                cx.content(side.dir, Content::BodyGap);
                side.state = Resync::state(true);
            }
            State::Head => {
                // The start of a message is lost.
                side.head = Vec::new();
                side.state = Resync::state(true);
                self.lost_message(d, cx);
            }
            State::Hold => side.held_lost += len,
            State::Resync(_) | State::NotHttp => side.state = Resync::state(true),
            State::Tunnel | State::Upgraded => {}
        }
    }

    /// A message of side `d` was lost whole or in part before its head was parsed: keep the
    /// request FIFO in step with the responses.
    fn lost_message(&mut self, d: usize, cx: &mut Cx) {
        if d == Dir::C2s.idx() {
            self.push_pending(
                Pending {
                    method: None,
                    ws_key: None,
                    t: None,
                },
                cx,
            );
        } else if let Some(p) = self.pending.pop_front() {
            if p.ws_key.is_some() {
                self.release_hold(cx);
            }
        }
    }
}

#[cfg(test)]
mod tests;
