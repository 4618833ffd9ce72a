//! Application protocols over a reassembled TCP connection: HTTP/1.x, then WebSocket after a
//! 101 upgrade, and the subprotocols they carry: Server-Sent Events ([`sse`]) in
//! `text/event-stream` bodies, Engine.IO / Socket.IO ([`socketio`]) in long-polling bodies and
//! WebSocket messages, STOMP ([`stomp`]) in WebSocket messages.
//!
//! The subprotocols ([`Subprotocols`]) are fed the reassembled stream inside the HTTP and
//! WebSocket layers, as Suricata feeds its app-layer parsers: the layers pass the body bytes
//! (after de-chunking) and message bytes (after unmasking and inflation) as they decode them
//! ([`Content`], through [`EventSink::content`]), and the decoders read them as they arrive,
//! keeping only previews, so a message of any size is decoded whole at a bounded cost. The
//! events the layers emit steer them on their way out: an `http_request` decides what its
//! exchange carries (an `EIO=` query marks Engine.IO), an `http_response` starts a body
//! decoder (SSE for `text/event-stream`, an Engine.IO payload for a long-polling GET), the last
//! `http_body` ends it, a 101 decides what the WebSocket messages carry (an Engine.IO request
//! target, a `v1x.stomp` subprotocol, or the shape of the first data message), and each
//! `ws_message` ends its message. A decoded event comes right after the event that carries its
//! last byte (the body piece, chunk or message), or, when that one is still going on, after
//! the events of the packet that completed it; it has that packet's stamp, and its
//! connection and direction. `incomplete` on a decoded event means bytes were missing (a
//! capture gap, an inflation error) or it reached `Limits::max_subprotocol_message`.

pub mod http;
pub mod socketio;
pub mod sse;
pub mod stomp;
pub mod tls;
pub mod ws;

use std::borrow::Cow;
use std::collections::VecDeque;
use std::mem;

use crate::flow::{Cx, EndCause, EventSink, Role, StreamSink};
use crate::model::{
    BodyKind, ConnId, Dir, Event, EventBody, Headers, HttpRequest, HttpResponse, Layer, Limits,
    Malformed, Note, Opcode, SseEvent, Stamp, TlsSummary,
};

/// One connection's application state: HTTP until a WebSocket upgrade, then WebSocket; and
/// the subprotocols they carry.
///
/// A connection the capture joined after its handshake ([`StreamSink::joined_late`]) may
/// already be a WebSocket: the first bytes of each direction are checked for frames first
/// ([`ws::sniff`]). Frames from either direction (masked ones show which side is the client,
/// whatever the ports suggested) switch the connection to WebSocket from there, with a note
/// `upgrade_not_captured`; a direction whose first bytes were not frames looks for its first
/// frame boundary as after a gap. Otherwise the bytes go to HTTP, which skips what precedes
/// the first message start.
pub struct Session {
    http: http::Conversation,
    /// Boxed: most connections never upgrade, and a WebSocket session is three times the
    /// size of the HTTP state.
    ws: Option<Box<ws::WsSession>>,
    sub: Subprotocols,
    /// Joined late: whether each direction's first bytes were seen yet.
    late: Option<[bool; 2]>,
    /// TLS under HTTP, when the connection's first bytes were a TLS record
    /// ([`tls::looks_like_tls`]): the layers above get its decrypted bytes.
    tls: Option<Box<tls::Tls>>,
    /// The first bytes were seen (TLS or not is decided).
    decided: bool,
}

impl StreamSink for Session {
    fn new(limits: &Limits) -> Self {
        Session {
            http: http::Conversation::new(limits),
            ws: None,
            sub: Subprotocols::new(limits),
            late: None,
            tls: None,
            decided: false,
        }
    }

    fn sender_role(payload: &[u8]) -> Option<Role> {
        ws::sniff(payload).or_else(|| http::sender_role(payload))
    }

    fn joined_late(&mut self) {
        self.late = Some([false; 2]);
        self.http.joined_late();
    }

    fn on_data(&mut self, dir: Dir, data: &[u8], cx: &mut Cx) {
        if !self.decided && !data.is_empty() {
            self.decided = true;
            if tls::looks_like_tls(data) {
                self.tls = Some(Box::new(tls::Tls::new(cx.limits)));
            }
        }
        if let Some(mut t) = self.tls.take() {
            t.feed(dir, data, cx, self);
            self.tls = Some(t);
            return;
        }
        self.plain_data(dir, data, cx);
    }

    fn on_gap(&mut self, dir: Dir, len: u32, cx: &mut Cx) {
        if let Some(mut t) = self.tls.take() {
            t.gap(dir, len, cx, self);
            self.tls = Some(t);
            return;
        }
        self.plain_gap(dir, len, cx);
    }

    fn on_end(&mut self, dir: Dir, cause: EndCause, cx: &mut Cx) {
        if let Some(mut t) = self.tls.take() {
            t.end(dir, cause, cx, self);
            self.tls = Some(t);
            return;
        }
        self.plain_end(dir, cause, cx);
    }

    fn on_keys(&mut self, cx: &mut Cx) {
        if let Some(mut t) = self.tls.take() {
            t.keys_changed(cx, self);
            self.tls = Some(t);
        }
    }

    fn is_websocket(&self) -> bool {
        self.ws.is_some()
    }

    fn tls(&self) -> Option<TlsSummary> {
        self.tls.as_ref().map(|t| t.summary())
    }

    fn held_bytes(&self) -> usize {
        self.held_by_layer().iter().sum()
    }
}

/// The plaintext layers under TLS.
impl tls::Upper for Session {
    fn data(&mut self, dir: Dir, data: &[u8], cx: &mut Cx) {
        self.plain_data(dir, data, cx);
    }
    fn gap(&mut self, dir: Dir, len: u32, cx: &mut Cx) {
        self.plain_gap(dir, len, cx);
    }
    fn end(&mut self, dir: Dir, cause: EndCause, cx: &mut Cx) {
        self.plain_end(dir, cause, cx);
    }
}

impl Session {
    /// The next in-order plaintext bytes of `dir`: HTTP, or WebSocket after an upgrade.
    fn plain_data(&mut self, dir: Dir, data: &[u8], cx: &mut Cx) {
        let first = match &mut self.late {
            Some(seen) if !seen[dir.idx()] => {
                seen[dir.idx()] = true;
                true
            }
            _ => false,
        };
        self.through(cx, |http, ws_slot, cx| {
            if first {
                join_late(dir, data, ws_slot, cx);
            }
            if let Some(ws) = ws_slot {
                ws.feed(dir, data, cx);
            } else if let Some(up) = http.feed(dir, data, cx) {
                cx.switched_to_websocket();
                let mut ws = ws::WsSession::new(up.deflate, cx.limits);
                ws.feed(Dir::C2s, &up.leftover[0], cx);
                // Client bytes lost after the held ones (capture gap or hold limit).
                let mut lost = up.lost_c2s;
                while lost > 0 {
                    let n = u32::try_from(lost).unwrap_or(u32::MAX);
                    ws.gap(Dir::C2s, n, cx);
                    lost -= u64::from(n);
                }
                ws.feed(Dir::S2c, &up.leftover[1], cx);
                *ws_slot = Some(Box::new(ws));
            }
        });
    }

    fn plain_gap(&mut self, dir: Dir, len: u32, cx: &mut Cx) {
        self.through(cx, |http, ws, cx| match ws {
            Some(ws) => ws.gap(dir, len, cx),
            None => http.gap(dir, len, cx),
        });
    }

    fn plain_end(&mut self, dir: Dir, cause: EndCause, cx: &mut Cx) {
        self.through(cx, |http, ws, cx| match ws {
            Some(ws) => ws.end_by(dir, cause, cx),
            None => http.end_by(dir, cause, cx),
        });
        self.sub.end(dir, cx);
    }
}

/// The first bytes of `dir` on a connection joined late: frames make it a WebSocket (or,
/// when it is one already, put this direction in step with them).
fn join_late(dir: Dir, data: &[u8], ws_slot: &mut Option<Box<ws::WsSession>>, cx: &mut Cx) {
    let role = ws::sniff(data);
    if let Some(ws) = ws_slot {
        if role.is_some() {
            ws.in_step(dir);
        }
        return;
    }
    let Some(role) = role else {
        return;
    };
    let client = match role {
        Role::Client => dir,
        Role::Server => dir.rev(),
    };
    let mut ws = ws::WsSession::joined_late(client, cx.limits);
    ws.in_step(dir);
    let mut detail = "the capture began after the WebSocket upgrade: frames are decoded from \
                      here, with what the handshake negotiated unknown"
        .to_string();
    if client == Dir::S2c {
        detail.push_str(
            "; the masked frames come from the side the ports suggested was the server: it is \
             the client",
        );
    }
    cx.emit(
        Some(dir),
        EventBody::Note(Box::new(Note {
            layer: Layer::Websocket,
            note: "upgrade_not_captured",
            detail,
            bytes: None,
        })),
    );
    cx.switched_to_websocket();
    *ws_slot = Some(Box::new(ws));
}

impl Session {
    /// Runs `f` on the HTTP and WebSocket layers with their events passing through the
    /// subprotocol decoders on their way to `cx.out`: each event is followed at once by what
    /// it carries, and nothing is collected.
    fn through(
        &mut self,
        cx: &mut Cx,
        f: impl FnOnce(&mut http::Conversation, &mut Option<Box<ws::WsSession>>, &mut Cx),
    ) {
        let mut post = Post {
            sub: &mut self.sub,
            limits: cx.limits,
            stamp: cx.stamp,
            conn: cx.conn,
            out: &mut *cx.out,
        };
        let mut inner = Cx {
            stamp: cx.stamp,
            conn: cx.conn,
            state: cx.state,
            limits: cx.limits,
            keys: cx.keys,
            out: &mut post,
        };
        f(&mut self.http, &mut self.ws, &mut inner);
        // Events decoded from content whose carrying event did not come in this call (a
        // chunk or a message still going on) come out with the packet that completed them.
        self.sub.flush(&mut *cx.out);
    }

    /// [`StreamSink::held_bytes`] by layer: HTTP, WebSocket, subprotocols, TLS (for fuzzing,
    /// which checks each against its own bound).
    #[doc(hidden)]
    pub fn held_by_layer(&self) -> [usize; 4] {
        [
            self.http.held_bytes(),
            self.ws.as_ref().map_or(0, |w| w.held_bytes()),
            self.sub.held_bytes(),
            self.tls.as_ref().map_or(0, |t| t.held_bytes()),
        ]
    }

    /// The most [`StreamSink::held_bytes`] of a session can be under `limits`.
    #[doc(hidden)]
    pub fn max_held(limits: &Limits) -> usize {
        http::Conversation::max_held(limits)
            + ws::WsSession::max_held(limits)
            + Subprotocols::max_held(limits)
            + tls::Tls::max_held(limits)
    }
}

/// A UTF-8 preview of `b`: at most `max_chars` characters; a character cut at the end of `b`
/// is left out, invalid bytes become U+FFFD.
pub(crate) fn preview(b: &[u8], max_chars: usize) -> String {
    let s = match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(e) if e.error_len().is_none() => Cow::Borrowed(
            b.get(..e.valid_up_to())
                .and_then(|v| std::str::from_utf8(v).ok())
                .unwrap_or(""),
        ),
        Err(_) => String::from_utf8_lossy(b),
    };
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => s.get(..i).unwrap_or("").to_string(),
        None => s.into_owned(),
    }
}

/// Content bytes the HTTP and WebSocket layers decode, passed to the subprotocol decoders
/// as they arrive ([`EventSink::content`]), as Suricata's HTTP parser feeds body bytes to its
/// inspection. Each goes with the direction it came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content<'a> {
    /// The next bytes of the HTTP body in progress, after de-chunking.
    Body(&'a [u8]),
    /// Bytes of the HTTP body in progress are missing (a capture gap, or its framing broke).
    BodyGap,
    /// A WebSocket data message starts (its opcode; `Continuation` when its start was lost).
    MessageStart(Opcode),
    /// The next bytes of the data message in progress, unmasked and inflated.
    Message(&'a [u8]),
    /// Bytes of the data message in progress are missing or cannot be decoded (a capture
    /// gap, an inflation error or limit): the rest of it is not decoded.
    MessageGap,
}

/// A text preview of `kept` (at most `max_chars` characters) when it is text: UTF-8 (a
/// character cut at its end left out) without control characters other than tab, CR and LF.
pub(crate) fn text_of(kept: &[u8], max_chars: usize) -> Option<String> {
    let valid = match std::str::from_utf8(kept) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() => kept
            .get(..e.valid_up_to())
            .and_then(|v| std::str::from_utf8(v).ok())
            .unwrap_or_default(),
        Err(_) => return None,
    };
    if valid.is_empty()
        || valid
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
    {
        return None;
    }
    Some(preview(valid.as_bytes(), max_chars))
}

/// Bytes of a stream looked at by [`looks_like`].
const HINT_BYTES: usize = 64;

/// Characters of a text stream's first line quoted by [`looks_like`].
const HINT_LINE: usize = 40;

/// A cheap guess at what the first bytes of a stream that is not HTTP are (`head`, bytes
/// buffered earlier, then `rest`), for the `not_http` note: `looks like TLS (a ClientHello)`,
/// `text: "+PONG"`, `binary (00 00 00 08 04 d2 16 2f)`.
pub(crate) fn looks_like(head: &[u8], rest: &[u8]) -> String {
    let mut b = Vec::with_capacity(HINT_BYTES);
    b.extend(head.iter().chain(rest).take(HINT_BYTES));
    // RFC 8446 §5.1: content type 20-23, legacy version 3.x, then a length; a handshake
    // record's first message type follows the 5-byte header.
    if let [ct @ 0x14..=0x17, 3, 0..=4, ..] = b[..] {
        let what = match (ct, b.get(5)) {
            (0x16, Some(1)) => "a ClientHello",
            (0x16, Some(2)) => "a ServerHello",
            (0x16, _) => "a handshake record",
            (0x15, _) => "an alert",
            (0x14, _) => "a ChangeCipherSpec",
            _ => "application data",
        };
        return format!("looks like TLS ({what})");
    }
    if text_of(&b, HINT_BYTES).is_some() {
        let line = b.split(|&c| c == b'\n').next().unwrap_or_default();
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches('\r');
        return match line.char_indices().nth(HINT_LINE) {
            Some((i, _)) => format!("text: \"{}\"…", line.get(..i).unwrap_or_default()),
            None => format!("text: \"{line}\""),
        };
    }
    let hex: Vec<String> = b.iter().take(8).map(|x| format!("{x:02x}")).collect();
    format!("binary ({})", hex.join(" "))
}

/// The HTTP and WebSocket layers' event sink: each event goes on to `out` with the
/// subprotocol events it carries right after it, and the content bytes go to the decoders.
struct Post<'a> {
    sub: &'a mut Subprotocols,
    limits: &'a Limits,
    stamp: Stamp,
    conn: ConnId,
    out: &'a mut dyn EventSink,
}

impl EventSink for Post<'_> {
    fn push(&mut self, ev: Event) {
        self.sub.pass(ev, self.limits, self.out);
    }

    fn content(&mut self, dir: Dir, content: Content<'_>) {
        let o = Origin {
            stamp: self.stamp,
            conn: self.conn,
            dir,
        };
        // In slices, so that a burst (a piece of thousands of small events, megabytes
        // released at once after a hole) is passed on as it comes: what waits is bounded by
        // what one slice can carry, whatever the piece.
        match content {
            Content::Body(b) => {
                for slice in b.chunks(CONTENT_SLICE) {
                    self.sub.content(o, Content::Body(slice), self.limits);
                    self.burst();
                }
            }
            Content::Message(b) => {
                for slice in b.chunks(CONTENT_SLICE) {
                    self.sub.content(o, Content::Message(slice), self.limits);
                    self.burst();
                }
            }
            other => {
                self.sub.content(o, other, self.limits);
                self.burst();
            }
        }
    }
}

/// Content bytes decoded per step ([`Post::content`]): a slice carries at most a few hundred
/// events (an SSE event takes 3 bytes at least).
const CONTENT_SLICE: usize = 1024;

impl Post<'_> {
    /// Passes the waiting decoded events on once they are [`SCRATCH_KEEP`] or more.
    fn burst(&mut self) {
        if self.sub.held.len() >= SCRATCH_KEEP {
            self.sub.flush(self.out);
        }
    }
}

/// What an HTTP exchange carries, decided from its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exchange {
    Plain,
    /// An Engine.IO request (`EIO=3|4` and `transport=` in the query).
    EngineIo {
        eio: u8,
        transport: socketio::Transport,
        get: bool,
    },
}

/// The decoder of the body in progress on one direction.
// Always boxed (`Subprotocols::bodies`): the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum BodyDecoder {
    Sse(sse::SseParser),
    EngineIo(socketio::PayloadSplitter),
}

/// What the WebSocket messages of an upgraded connection carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WsApp {
    /// Not upgraded yet, or upgraded without a hint: the first data message decides.
    Undecided,
    EngineIo,
    Stomp(stomp::Version),
    /// Something else: messages are left as they are.
    Other,
}

/// Bytes of a first data message looked at to decide what an undecided connection carries:
/// enough for the longest STOMP command line (`UNSUBSCRIBE\r\n`) and Engine.IO's `0{"sid":`.
const SNIFF: usize = 16;

/// Where one direction's WebSocket data message stands for the subprotocols.
#[derive(Debug, Clone, Copy)]
enum MsgPhase {
    /// No data message, or one that is not decoded (its start lost, after a gap, or the
    /// connection carries something else).
    Off,
    /// The connection is undecided: the message's first bytes, until [`SNIFF`] of them or
    /// its end decide.
    Sniff {
        opcode: Opcode,
        buf: [u8; SNIFF],
        len: u8,
    },
    /// Being decoded.
    On,
}

/// One direction's WebSocket message decoder, kept across messages (reset at each start).
#[derive(Debug)]
enum MsgDecoder {
    Stomp(stomp::Stream),
    EngineIo(socketio::Packet),
}

/// Room for decoded events and items that scratch vectors keep across calls. One event can
/// carry thousands (a body piece of one-byte Engine.IO packets); a vector that such a burst
/// grew past this gives its memory back, so that every connection does not keep the room of
/// its largest burst (an `Event` is 96 bytes).
const SCRATCH_KEEP: usize = 64;

/// The subprotocol state of one connection. Memory ([`Subprotocols::max_held`]): the request
/// kinds awaiting their answer (bounded by `Limits::max_pending_requests`), one body decoder
/// per direction (SSE previews, [`sse::SseParser::max_held`], or the first
/// `max_kept_payload` bytes of an Engine.IO packet), one WebSocket message decoder per
/// direction (a STOMP frame's previews, [`stomp::Stream::max_held`], or an Engine.IO packet's
/// first bytes), and scratch vectors reused across calls (room for at most
/// [`SCRATCH_KEEP`] elements each between calls). Nothing depends on the size of a body or
/// message: content is decoded as it arrives.
pub struct Subprotocols {
    pending: VecDeque<Exchange>,
    bodies: [Option<Box<BodyDecoder>>; 2],
    ws: WsApp,
    phases: [MsgPhase; 2],
    msgs: [Option<Box<MsgDecoder>>; 2],
    codecs: [socketio::Codec; 2],
    /// Events decoded from content, waiting for the event that carries them (the body piece
    /// or message their last byte came in) or the end of the call; [`SCRATCH_KEEP`] or more
    /// are passed on at once ([`Post::burst`]).
    held: Vec<Event>,
    /// Events decoded when an event passes, after it.
    new: Vec<Event>,
    sse_out: Vec<SseEvent>,
    items: Vec<socketio::Item>,
    frames: Vec<stomp::Item>,
}

impl Subprotocols {
    fn new(limits: &Limits) -> Self {
        let codec = socketio::Codec::new(4, limits.max_text_preview);
        Subprotocols {
            pending: VecDeque::new(),
            bodies: [None, None],
            ws: WsApp::Undecided,
            phases: [MsgPhase::Off, MsgPhase::Off],
            msgs: [None, None],
            codecs: [codec.clone(), codec],
            held: Vec::new(),
            new: Vec::new(),
            sse_out: Vec::new(),
            items: Vec::new(),
            frames: Vec::new(),
        }
    }

    /// Bytes held now: the pending request kinds, the decoders' buffers and the scratch
    /// vectors' room (for memory-bound tests and fuzzing).
    #[doc(hidden)]
    pub fn held_bytes(&self) -> usize {
        let bodies: usize = self
            .bodies
            .iter()
            .flatten()
            .map(|d| match &**d {
                BodyDecoder::Sse(p) => p.held_bytes(),
                BodyDecoder::EngineIo(s) => s.held_bytes(),
            })
            .sum();
        let msgs: usize = self
            .msgs
            .iter()
            .flatten()
            .map(|d| match &**d {
                MsgDecoder::Stomp(s) => s.held_bytes(),
                MsgDecoder::EngineIo(p) => p.held_bytes(),
            })
            .sum();
        bodies
            + msgs
            + self.pending.len() * mem::size_of::<Exchange>()
            + room(&self.held)
            + room(&self.new)
            + room(&self.sse_out)
            + room(&self.items)
            + room(&self.frames)
    }

    /// The most [`Subprotocols::held_bytes`] can be under `limits`.
    #[doc(hidden)]
    pub fn max_held(limits: &Limits) -> usize {
        let body = sse::SseParser::max_held(limits.max_text_preview).max(limits.max_kept_payload);
        let msg = stomp::Stream::max_held(limits.max_text_preview).max(limits.max_kept_payload);
        let scratch = SCRATCH_KEEP
            * (2 * mem::size_of::<Event>()
                + mem::size_of::<SseEvent>()
                + mem::size_of::<socketio::Item>()
                + mem::size_of::<stomp::Item>());
        2 * body
            + 2 * msg
            + limits.max_pending_requests.max(1) * mem::size_of::<Exchange>()
            + scratch
    }

    /// Passes `ev` on to `out`, followed by the subprotocol events it carries.
    fn pass(&mut self, ev: Event, limits: &Limits, out: &mut dyn EventSink) {
        if !matches!(
            ev.body,
            EventBody::HttpRequest(_)
                | EventBody::HttpResponse(_)
                | EventBody::HttpBody(_)
                | EventBody::WsMessage(_)
        ) {
            // Nothing to observe (see `observe`), and nothing carried to flush after it: the
            // per-frame path (`ws_frame`) goes straight on.
            out.push(ev);
            return;
        }
        let mut new = mem::take(&mut self.new);
        self.observe(&ev, limits, &mut new);
        let carrier = matches!(ev.body, EventBody::HttpBody(_) | EventBody::WsMessage(_));
        out.push(ev);
        if carrier || !new.is_empty() {
            self.flush(out);
        }
        if !new.is_empty() {
            for e in new.drain(..) {
                out.push(e);
            }
            trim(&mut new);
        }
        self.new = new;
    }

    /// Pushes the events decoded from content so far.
    fn flush(&mut self, out: &mut dyn EventSink) {
        if self.held.is_empty() {
            return;
        }
        for e in self.held.drain(..) {
            out.push(e);
        }
        trim(&mut self.held);
    }

    /// `dir` ended: a body decoder still open (its body was cut short) reports what it holds.
    fn end(&mut self, dir: Dir, cx: &mut Cx) {
        let origin = Origin {
            stamp: cx.stamp,
            conn: cx.conn,
            dir,
        };
        let mut new = mem::take(&mut self.new);
        if let Some(mut dec) = self.bodies[dir.idx()].take() {
            self.finish_body(&mut dec, dir, true, origin, &mut new);
        }
        for e in new.drain(..) {
            cx.out.push(e);
        }
        trim(&mut new);
        self.new = new;
    }

    fn observe(&mut self, ev: &Event, limits: &Limits, new: &mut Vec<Event>) {
        let Some(dir) = ev.dir else {
            return;
        };
        let o = Origin::of(ev, dir);
        match &ev.body {
            EventBody::HttpRequest(r) => self.request(o, r, limits, new),
            EventBody::HttpResponse(r) => self.response(o, r, limits, new),
            EventBody::HttpBody(b) if b.end => {
                if let Some(mut dec) = self.bodies[dir.idx()].take() {
                    self.finish_body(&mut dec, dir, false, o, new);
                }
            }
            EventBody::WsMessage(m) if matches!(m.opcode, Opcode::Text | Opcode::Binary) => {
                self.message_end(o, m.incomplete, limits, new);
            }
            EventBody::WsMessage(m) if m.opcode == Opcode::Continuation => {
                self.phases[dir.idx()] = MsgPhase::Off;
            }
            _ => {}
        }
    }

    /// Content bytes of `o.dir`: fed to the decoder of its body or message.
    fn content(&mut self, o: Origin, c: Content<'_>, limits: &Limits) {
        let d = o.dir.idx();
        match c {
            Content::Body(b) => {
                let Some(dec) = self.bodies[d].as_deref_mut() else {
                    return;
                };
                match dec {
                    BodyDecoder::Sse(p) => {
                        // Up to each event that reaches the size limit, so that its note
                        // follows it.
                        let mut rest = b;
                        while !rest.is_empty() {
                            let n = p.feed_to_limit(rest, &mut self.sse_out);
                            rest = rest.get(n..).unwrap_or_default();
                            let limited = p.take_limited();
                            sse_events(&mut self.sse_out, &mut self.held, o, limited, limits);
                        }
                    }
                    BodyDecoder::EngineIo(s) => {
                        s.feed(b, &mut self.codecs[d], &mut self.items);
                        self.socketio_events(o);
                    }
                }
            }
            Content::BodyGap => {
                let Some(dec) = self.bodies[d].as_deref_mut() else {
                    return;
                };
                match dec {
                    BodyDecoder::Sse(p) => p.gap(),
                    BodyDecoder::EngineIo(s) => {
                        s.gap(&mut self.codecs[d], &mut self.items);
                        self.socketio_events(o);
                    }
                }
            }
            Content::MessageStart(opcode) => self.message_start(o, opcode, limits),
            Content::Message(b) => self.message_bytes(o, b, limits),
            Content::MessageGap => {
                if let MsgPhase::Sniff { .. } = self.phases[d] {
                    self.decide(o, limits);
                }
                if let MsgPhase::On = self.phases[d] {
                    match self.msgs[d].as_deref_mut() {
                        Some(MsgDecoder::Stomp(s)) => {
                            s.gap(&mut self.frames);
                            self.stomp_events(o);
                        }
                        Some(MsgDecoder::EngineIo(p)) => p.gap(),
                        None => {}
                    }
                }
            }
        }
    }

    fn request(&mut self, o: Origin, r: &HttpRequest, limits: &Limits, new: &mut Vec<Event>) {
        // A request body that never ended (cut short): report what it held.
        if let Some(mut dec) = self.bodies[0].take() {
            self.finish_body(&mut dec, Dir::C2s, true, o, new);
        }
        let ex = match socketio::classify_target(&r.target) {
            Some((eio, transport)) => Exchange::EngineIo {
                eio,
                transport,
                get: r.method == "GET",
            },
            None => Exchange::Plain,
        };
        if self.pending.len() >= limits.max_pending_requests.max(1) {
            self.pending.pop_front();
        }
        self.pending.push_back(ex);
        if let Exchange::EngineIo {
            eio,
            transport: socketio::Transport::Polling,
            ..
        } = ex
        {
            if r.body != BodyKind::None && !encoded(&r.headers) {
                self.codecs[0].set_eio(eio);
                self.bodies[0] = Some(Box::new(BodyDecoder::EngineIo(splitter(eio, limits))));
            }
        }
    }

    fn response(&mut self, o: Origin, r: &HttpResponse, limits: &Limits, new: &mut Vec<Event>) {
        // RFC 9110 §15.2: an interim response does not answer the request.
        if (100..200).contains(&r.status) && r.status != 101 {
            return;
        }
        if let Some(mut dec) = self.bodies[1].take() {
            self.finish_body(&mut dec, Dir::S2c, true, o, new);
        }
        let ex = self.pending.pop_front().unwrap_or(Exchange::Plain);
        if r.status == 101 {
            if let Some(up) = &r.upgrade {
                self.ws = match ex {
                    Exchange::EngineIo { eio, .. } => {
                        for c in &mut self.codecs {
                            c.set_eio(eio);
                        }
                        WsApp::EngineIo
                    }
                    Exchange::Plain => match up
                        .subprotocol
                        .as_deref()
                        .and_then(stomp::Version::from_subprotocol)
                    {
                        Some(v) => WsApp::Stomp(v),
                        None => WsApp::Undecided,
                    },
                };
            }
            return;
        }
        if r.body == BodyKind::None || encoded(&r.headers) {
            return;
        }
        let dec = if is_event_stream(&r.headers) {
            BodyDecoder::Sse(sse::SseParser::new(
                limits.max_text_preview,
                limits.max_subprotocol_message as u64,
            ))
        } else if let (
            Exchange::EngineIo {
                eio,
                transport: socketio::Transport::Polling,
                get: true,
            },
            200,
        ) = (ex, r.status)
        {
            self.codecs[1].set_eio(eio);
            BodyDecoder::EngineIo(splitter(eio, limits))
        } else {
            return;
        };
        self.bodies[1] = Some(Box::new(dec));
    }

    /// A body decoder's body ended (`cut`: it never reached its end).
    fn finish_body(
        &mut self,
        dec: &mut BodyDecoder,
        dir: Dir,
        cut: bool,
        o: Origin,
        new: &mut Vec<Event>,
    ) {
        let o = Origin { dir, ..o };
        match dec {
            BodyDecoder::Sse(p) => {
                p.finish(&mut self.sse_out);
                for e in self.sse_out.drain(..) {
                    new.push(o.event(EventBody::SseEvent(Box::new(e))));
                }
                trim(&mut self.sse_out);
            }
            BodyDecoder::EngineIo(s) => {
                s.finish(cut, &mut self.codecs[dir.idx()], &mut self.items);
                for item in self.items.drain(..) {
                    new.push(o.event(socketio_body(item)));
                }
                trim(&mut self.items);
            }
        }
    }

    /// A WebSocket data message starts on `o.dir`.
    fn message_start(&mut self, o: Origin, opcode: Opcode, limits: &Limits) {
        let d = o.dir.idx();
        self.phases[d] = MsgPhase::Off;
        if !matches!(opcode, Opcode::Text | Opcode::Binary) {
            return;
        }
        match self.ws {
            WsApp::Other => {}
            WsApp::Undecided => {
                self.phases[d] = MsgPhase::Sniff {
                    opcode,
                    buf: [0; SNIFF],
                    len: 0,
                }
            }
            WsApp::EngineIo | WsApp::Stomp(_) => self.start_decoder(o.dir, opcode, limits),
        }
    }

    /// Starts the message decoder of `dir` for what the connection carries.
    fn start_decoder(&mut self, dir: Dir, opcode: Opcode, limits: &Limits) {
        let d = dir.idx();
        let slot = &mut self.msgs[d];
        match self.ws {
            WsApp::Stomp(_) => {
                if !matches!(slot.as_deref(), Some(MsgDecoder::Stomp(_))) {
                    *slot = Some(Box::new(MsgDecoder::Stomp(stomp::Stream::new(
                        limits.max_text_preview,
                        limits.max_subprotocol_message as u64,
                    ))));
                }
                if let Some(MsgDecoder::Stomp(s)) = slot.as_deref_mut() {
                    s.start();
                }
            }
            WsApp::EngineIo => {
                if !matches!(slot.as_deref(), Some(MsgDecoder::EngineIo(_))) {
                    *slot = Some(Box::new(MsgDecoder::EngineIo(socketio::Packet::new(
                        limits.max_kept_payload,
                        limits.max_subprotocol_message as u64,
                    ))));
                }
                if let Some(MsgDecoder::EngineIo(p)) = slot.as_deref_mut() {
                    p.start(opcode == Opcode::Binary);
                }
            }
            WsApp::Undecided | WsApp::Other => {
                self.phases[d] = MsgPhase::Off;
                return;
            }
        }
        self.phases[d] = MsgPhase::On;
    }

    /// Bytes of the data message in progress on `o.dir`.
    fn message_bytes(&mut self, o: Origin, b: &[u8], limits: &Limits) {
        let d = o.dir.idx();
        let mut b = b;
        if let MsgPhase::Sniff { buf, len, .. } = &mut self.phases[d] {
            let have = usize::from(*len);
            let take = (SNIFF - have).min(b.len());
            if let (Some(dst), Some(src)) = (buf.get_mut(have..have + take), b.get(..take)) {
                dst.copy_from_slice(src);
            }
            *len += take as u8;
            b = b.get(take..).unwrap_or_default();
            if usize::from(*len) < SNIFF {
                return;
            }
            self.decide(o, limits);
        }
        self.decode(o, b);
    }

    /// Feeds `b` to the message decoder of `o.dir`, when one is on.
    fn decode(&mut self, o: Origin, b: &[u8]) {
        let d = o.dir.idx();
        if b.is_empty() || !matches!(self.phases[d], MsgPhase::On) {
            return;
        }
        match self.msgs[d].as_deref_mut() {
            Some(MsgDecoder::Stomp(s)) => {
                let mut version = match self.ws {
                    WsApp::Stomp(v) => v,
                    _ => stomp::Version::V12,
                };
                s.feed(b, &mut version, &mut self.frames);
                if let WsApp::Stomp(v) = &mut self.ws {
                    *v = version;
                }
                self.stomp_events(o);
            }
            Some(MsgDecoder::EngineIo(p)) => {
                p.feed(
                    b,
                    &mut self.codecs[d],
                    socketio::Transport::Websocket,
                    &mut self.items,
                );
                self.socketio_events(o);
            }
            None => {}
        }
    }

    /// The first bytes of a message on an undecided connection are in: decide what it
    /// carries from their shape, then decode them.
    fn decide(&mut self, o: Origin, limits: &Limits) {
        let d = o.dir.idx();
        let MsgPhase::Sniff { opcode, buf, len } = self.phases[d] else {
            return;
        };
        let first = buf.get(..usize::from(len)).unwrap_or_default();
        if self.ws == WsApp::Undecided {
            self.ws = if stomp::looks_like_stomp(first) {
                WsApp::Stomp(stomp::Version::V12)
            } else if opcode == Opcode::Text && socketio::looks_like_engineio(first) {
                WsApp::EngineIo
            } else {
                WsApp::Other
            };
        }
        self.start_decoder(o.dir, opcode, limits);
        self.decode(o, first);
    }

    /// The data message on `o.dir` ended (`cut`: it is incomplete).
    fn message_end(&mut self, o: Origin, cut: bool, limits: &Limits, new: &mut Vec<Event>) {
        let d = o.dir.idx();
        if let MsgPhase::Sniff { .. } = self.phases[d] {
            self.decide(o, limits);
        }
        if !matches!(self.phases[d], MsgPhase::On) {
            return;
        }
        self.phases[d] = MsgPhase::Off;
        match self.msgs[d].as_deref_mut() {
            Some(MsgDecoder::Stomp(s)) => {
                s.finish(cut, &mut self.frames);
                for item in self.frames.drain(..) {
                    new.push(o.event(stomp_body(item)));
                }
                trim(&mut self.frames);
            }
            Some(MsgDecoder::EngineIo(p)) => {
                p.finish(
                    cut,
                    &mut self.codecs[d],
                    socketio::Transport::Websocket,
                    &mut self.items,
                );
                for item in self.items.drain(..) {
                    new.push(o.event(socketio_body(item)));
                }
                trim(&mut self.items);
            }
            None => {}
        }
    }

    fn socketio_events(&mut self, o: Origin) {
        for item in self.items.drain(..) {
            self.held.push(o.event(socketio_body(item)));
        }
        trim(&mut self.items);
    }

    fn stomp_events(&mut self, o: Origin) {
        for item in self.frames.drain(..) {
            self.held.push(o.event(stomp_body(item)));
        }
        trim(&mut self.frames);
    }
}

/// SSE events decoded from content, to `held`; `limited` of them reached the size limit (the
/// last one, when any: [`sse::SseParser::feed_to_limit`]).
fn sse_events(
    sse_out: &mut Vec<SseEvent>,
    held: &mut Vec<Event>,
    o: Origin,
    limited: u32,
    limits: &Limits,
) {
    for e in sse_out.drain(..) {
        held.push(o.event(EventBody::SseEvent(Box::new(e))));
    }
    trim(sse_out);
    if limited > 0 {
        held.push(o.event(malformed(
            Layer::Sse,
            format!(
                "event larger than {} bytes (Limits::max_subprotocol_message): the rest of it \
                 is not decoded",
                limits.max_subprotocol_message
            ),
        )));
    }
}

fn splitter(eio: u8, limits: &Limits) -> socketio::PayloadSplitter {
    socketio::PayloadSplitter::new(
        eio,
        limits.max_kept_payload,
        limits.max_subprotocol_message as u64,
    )
}

fn socketio_body(item: socketio::Item) -> EventBody {
    match item {
        socketio::Item::Packet(p) => EventBody::Socketio(Box::new(p)),
        socketio::Item::Malformed(d) => malformed(Layer::Socketio, d),
    }
}

fn stomp_body(item: stomp::Item) -> EventBody {
    match item {
        stomp::Item::Frame(f) => EventBody::Stomp(Box::new(f)),
        stomp::Item::Malformed(d) => malformed(Layer::Stomp, d),
    }
}

/// The memory of a scratch vector's room.
fn room<T>(v: &Vec<T>) -> usize {
    v.capacity() * mem::size_of::<T>()
}

/// Gives back the memory of an emptied scratch vector that a burst grew past
/// [`SCRATCH_KEEP`].
fn trim<T>(v: &mut Vec<T>) {
    if v.capacity() > SCRATCH_KEEP {
        *v = Vec::new();
    }
}

/// Where a decoded event comes from: the stamp, connection and direction it takes.
#[derive(Debug, Clone, Copy)]
struct Origin {
    stamp: Stamp,
    conn: ConnId,
    dir: Dir,
}

impl Origin {
    fn of(ev: &Event, dir: Dir) -> Origin {
        Origin {
            stamp: Stamp {
                ts: ev.ts,
                t: ev.t,
                frame: ev.frame,
            },
            conn: ev.conn.unwrap_or_default(),
            dir,
        }
    }

    fn event(self, body: EventBody) -> Event {
        self.stamp.event(Some(self.conn), Some(self.dir), body)
    }
}

fn malformed(layer: Layer, detail: String) -> EventBody {
    EventBody::Malformed(Malformed { layer, detail })
}

fn header<'h>(headers: &'h Headers, name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `Content-Type: text/event-stream` (parameters ignored; RFC 9110 §8.3.1: case-insensitive).
fn is_event_stream(headers: &Headers) -> bool {
    header(headers, "content-type").is_some_and(|v| {
        v.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/event-stream"))
    })
}

/// A body with a content coding (gzip...): its bytes are not the subprotocol's, so they are
/// not decoded.
fn encoded(headers: &Headers) -> bool {
    header(headers, "content-encoding").is_some_and(|v| !v.trim().eq_ignore_ascii_case("identity"))
}

#[cfg(test)]
mod split_tests;
#[cfg(test)]
mod tests;
