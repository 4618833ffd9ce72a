//! Application protocols over a reassembled TCP connection: HTTP/1.x, then WebSocket after a
//! 101 upgrade, and the subprotocols they carry: Server-Sent Events ([`sse`]) in
//! `text/event-stream` bodies, Engine.IO / Socket.IO ([`socketio`]) in long-polling bodies and
//! WebSocket messages, STOMP ([`stomp`]) in WebSocket messages.
//!
//! The subprotocols are decoded from the events the HTTP and WebSocket layers emit, as they
//! pass on their way out ([`Subprotocols`]; nothing is collected): an `http_request` decides what its exchange carries (an
//! `EIO=` query marks Engine.IO), an `http_response` starts a body decoder (SSE for
//! `text/event-stream`, an Engine.IO payload for a long-polling GET), the `http_body` pieces
//! feed it, a 101 decides what the WebSocket messages carry (an Engine.IO request target, a
//! `v1x.stomp` subprotocol, or the shape of the first data message), and each `ws_message` is
//! decoded. The decoded events follow the event they came from, with its stamp, connection
//! and direction. They read only the kept bytes of each event (`Limits::max_kept_payload`);
//! a piece or message larger than that is decoded as far as it is kept and marked incomplete.

pub mod http;
pub mod socketio;
pub mod sse;
pub mod stomp;
pub mod ws;

use std::borrow::Cow;
use std::collections::VecDeque;
use std::mem;

use crate::flow::{Cx, EventSink, StreamSink};
use crate::model::{
    BodyKind, ConnId, Dir, Event, EventBody, Headers, HttpBody, HttpRequest, HttpResponse, Layer,
    Limits, Malformed, Opcode, SseEvent, Stamp, WsMessage,
};

/// One connection's application state: HTTP until a WebSocket upgrade, then WebSocket; and
/// the subprotocols they carry.
pub struct Session {
    http: http::Conversation,
    /// Boxed: most connections never upgrade, and a WebSocket session is three times the
    /// size of the HTTP state.
    ws: Option<Box<ws::WsSession>>,
    sub: Subprotocols,
}

impl StreamSink for Session {
    fn new(limits: &Limits) -> Self {
        Session {
            http: http::Conversation::new(limits),
            ws: None,
            sub: Subprotocols::new(limits),
        }
    }

    fn on_data(&mut self, dir: Dir, data: &[u8], cx: &mut Cx) {
        self.through(cx, |http, ws_slot, cx| {
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

    fn on_gap(&mut self, dir: Dir, len: u32, cx: &mut Cx) {
        self.through(cx, |http, ws, cx| match ws {
            Some(ws) => ws.gap(dir, len, cx),
            None => http.gap(dir, len, cx),
        });
    }

    fn on_end(&mut self, dir: Dir, cx: &mut Cx) {
        self.through(cx, |http, ws, cx| match ws {
            Some(ws) => ws.end(dir, cx),
            None => http.end(dir, cx),
        });
        self.sub.end(dir, cx);
    }

    fn is_websocket(&self) -> bool {
        self.ws.is_some()
    }

    fn held_bytes(&self) -> usize {
        self.held_by_layer().iter().sum()
    }
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
            out: &mut *cx.out,
        };
        let mut inner = Cx {
            stamp: cx.stamp,
            conn: cx.conn,
            state: cx.state,
            limits: cx.limits,
            out: &mut post,
        };
        f(&mut self.http, &mut self.ws, &mut inner);
    }

    /// [`StreamSink::held_bytes`] by layer: HTTP, WebSocket, subprotocols (for fuzzing, which
    /// checks each against its own bound).
    #[doc(hidden)]
    pub fn held_by_layer(&self) -> [usize; 3] {
        [
            self.http.held_bytes(),
            self.ws.as_ref().map_or(0, |w| w.held_bytes()),
            self.sub.held_bytes(),
        ]
    }

    /// The most [`StreamSink::held_bytes`] of a session can be under `limits`.
    #[doc(hidden)]
    pub fn max_held(limits: &Limits) -> usize {
        http::Conversation::max_held(limits)
            + ws::WsSession::max_held(limits)
            + Subprotocols::max_held(limits)
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

/// The HTTP and WebSocket layers' event sink: each event goes on to `out` with the
/// subprotocol events it carries right after it.
struct Post<'a> {
    sub: &'a mut Subprotocols,
    limits: &'a Limits,
    out: &'a mut dyn EventSink,
}

impl EventSink for Post<'_> {
    fn push(&mut self, ev: Event) {
        self.sub.pass(ev, self.limits, self.out);
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

/// Room for decoded events and items that scratch vectors keep across calls. One event can
/// carry thousands (a body piece of one-byte Engine.IO packets); a vector that such a burst
/// grew past this gives its memory back, so that every connection does not keep the room of
/// its largest burst (a `(usize, Event)` is over 300 bytes).
const SCRATCH_KEEP: usize = 64;

/// The subprotocol state of one connection. Memory ([`Subprotocols::max_held`]): the request
/// kinds awaiting their answer (bounded by `Limits::max_pending_requests`), one body decoder
/// per direction (SSE previews, [`sse::SseParser::max_held`], or one Engine.IO packet of at
/// most `max_kept_payload` bytes) and scratch vectors reused across calls (room for at most
/// [`SCRATCH_KEEP`] elements each between calls).
pub struct Subprotocols {
    pending: VecDeque<Exchange>,
    bodies: [Option<Box<BodyDecoder>>; 2],
    ws: WsApp,
    codecs: [socketio::Codec; 2],
    /// Decoded events (each with the index of the event it follows, always the one being
    /// passed on), reused across calls.
    new: Vec<(usize, Event)>,
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
            codecs: [codec.clone(), codec],
            new: Vec::new(),
            sse_out: Vec::new(),
            items: Vec::new(),
            frames: Vec::new(),
        }
    }

    /// Bytes held now: the pending request kinds, the body decoders' buffers and the
    /// scratch vectors' room (for memory-bound tests and fuzzing).
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
        bodies
            + self.pending.len() * mem::size_of::<Exchange>()
            + room(&self.new)
            + room(&self.sse_out)
            + room(&self.items)
            + room(&self.frames)
    }

    /// The most [`Subprotocols::held_bytes`] can be under `limits`.
    #[doc(hidden)]
    pub fn max_held(limits: &Limits) -> usize {
        let body = sse::SseParser::max_held(limits.max_text_preview).max(limits.max_kept_payload);
        let scratch = SCRATCH_KEEP
            * (mem::size_of::<(usize, Event)>()
                + mem::size_of::<SseEvent>()
                + mem::size_of::<socketio::Item>()
                + mem::size_of::<stomp::Item>());
        2 * body + limits.max_pending_requests.max(1) * mem::size_of::<Exchange>() + scratch
    }

    /// Passes `ev` on to `out`, followed by the subprotocol events it carries.
    fn pass(&mut self, ev: Event, limits: &Limits, out: &mut dyn EventSink) {
        let mut new = mem::take(&mut self.new);
        self.observe(0, &ev, limits, &mut new);
        out.push(ev);
        for (_, e) in new.drain(..) {
            out.push(e);
        }
        trim(&mut new);
        self.new = new;
    }

    /// `dir` ended: a body decoder still open (its body was cut short) reports what it holds.
    fn end(&mut self, dir: Dir, cx: &mut Cx) {
        let Some(mut dec) = self.bodies[dir.idx()].take() else {
            return;
        };
        let origin = Origin {
            stamp: cx.stamp,
            conn: cx.conn,
            dir,
        };
        let mut new = mem::take(&mut self.new);
        self.finish_body(&mut dec, dir, 0, origin, &mut new);
        for (_, e) in new.drain(..) {
            cx.out.push(e);
        }
        trim(&mut new);
        self.new = new;
    }

    fn observe(&mut self, i: usize, ev: &Event, limits: &Limits, new: &mut Vec<(usize, Event)>) {
        let Some(dir) = ev.dir else {
            return;
        };
        let o = Origin::of(ev, dir);
        match &ev.body {
            EventBody::HttpRequest(r) => self.request(i, o, r, limits, new),
            EventBody::HttpResponse(r) => self.response(i, o, r, limits, new),
            EventBody::HttpBody(b) => self.body(i, o, b, limits, new),
            EventBody::WsMessage(m) => self.ws_message(i, o, m, limits, new),
            _ => {}
        }
    }

    fn request(
        &mut self,
        i: usize,
        o: Origin,
        r: &HttpRequest,
        limits: &Limits,
        new: &mut Vec<(usize, Event)>,
    ) {
        // A request body that never ended (cut short): report what it held.
        if let Some(mut dec) = self.bodies[0].take() {
            self.finish_body(&mut dec, Dir::C2s, i, o, new);
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
                self.bodies[0] = Some(Box::new(BodyDecoder::EngineIo(
                    socketio::PayloadSplitter::new(eio, limits.max_kept_payload),
                )));
            }
        }
    }

    fn response(
        &mut self,
        i: usize,
        o: Origin,
        r: &HttpResponse,
        limits: &Limits,
        new: &mut Vec<(usize, Event)>,
    ) {
        // RFC 9110 §15.2: an interim response does not answer the request.
        if (100..200).contains(&r.status) && r.status != 101 {
            return;
        }
        if let Some(mut dec) = self.bodies[1].take() {
            self.finish_body(&mut dec, Dir::S2c, i, o, new);
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
            BodyDecoder::Sse(sse::SseParser::new(limits.max_text_preview))
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
            BodyDecoder::EngineIo(socketio::PayloadSplitter::new(eio, limits.max_kept_payload))
        } else {
            return;
        };
        self.bodies[1] = Some(Box::new(dec));
    }

    fn body(
        &mut self,
        i: usize,
        o: Origin,
        b: &HttpBody,
        limits: &Limits,
        new: &mut Vec<(usize, Event)>,
    ) {
        let dir = o.dir;
        let Some(mut dec) = self.bodies[dir.idx()].take() else {
            return;
        };
        // The kept bytes come first; the bytes after them (missing from the capture, or beyond
        // the kept payload) are a gap.
        let cut = b.data.is_cut();
        let gap = b.missing > 0 || cut;
        let layer = match &mut *dec {
            BodyDecoder::Sse(p) => {
                p.feed(&b.data.kept, &mut self.sse_out);
                if gap {
                    p.gap();
                }
                self.sse_events(i, o, new);
                Layer::Sse
            }
            BodyDecoder::EngineIo(s) => {
                let codec = &mut self.codecs[dir.idx()];
                s.feed(&b.data.kept, codec, &mut self.items);
                if gap {
                    s.gap(codec, &mut self.items);
                }
                self.socketio_events(i, o, new);
                Layer::Socketio
            }
        };
        if cut && b.missing == 0 {
            // Not a capture gap (that has its own event): the display limit. Say so.
            new.push((
                i,
                o.event(malformed(
                    layer,
                    format!(
                        "body piece of {} bytes, {} kept (Limits::max_kept_payload): what it \
                         carries beyond is not decoded",
                        b.data.total, limits.max_kept_payload
                    ),
                )),
            ));
        }
        if b.end {
            self.finish_body(&mut dec, dir, i, o, new);
        } else {
            self.bodies[dir.idx()] = Some(dec);
        }
    }

    fn finish_body(
        &mut self,
        dec: &mut BodyDecoder,
        dir: Dir,
        i: usize,
        o: Origin,
        new: &mut Vec<(usize, Event)>,
    ) {
        match dec {
            BodyDecoder::Sse(p) => {
                p.finish(&mut self.sse_out);
                self.sse_events(i, o, new);
            }
            BodyDecoder::EngineIo(s) => {
                s.finish(&mut self.codecs[dir.idx()], &mut self.items);
                self.socketio_events(i, o, new);
            }
        }
    }

    fn ws_message(
        &mut self,
        i: usize,
        o: Origin,
        m: &WsMessage,
        limits: &Limits,
        new: &mut Vec<(usize, Event)>,
    ) {
        let dir = o.dir;
        if !matches!(m.opcode, Opcode::Text | Opcode::Binary) {
            return;
        }
        let kept = &m.data.kept;
        let cut = m.data.is_cut() || m.incomplete;
        if self.ws == WsApp::Undecided {
            self.ws = if stomp::looks_like_stomp(kept) {
                WsApp::Stomp(stomp::Version::V12)
            } else if m.opcode == Opcode::Text && socketio::looks_like_engineio(kept) {
                WsApp::EngineIo
            } else {
                WsApp::Other
            };
        }
        match &mut self.ws {
            WsApp::EngineIo => {
                self.codecs[dir.idx()].packet(
                    socketio::Transport::Websocket,
                    kept,
                    m.opcode == Opcode::Binary,
                    m.len,
                    cut,
                    &mut self.items,
                );
                self.socketio_events(i, o, new);
            }
            WsApp::Stomp(version) => {
                stomp::parse_message(
                    kept,
                    m.len,
                    cut,
                    version,
                    limits.max_text_preview,
                    &mut self.frames,
                );
                for item in self.frames.drain(..) {
                    let body = match item {
                        stomp::Item::Frame(f) => EventBody::Stomp(Box::new(f)),
                        stomp::Item::Malformed(d) => malformed(Layer::Stomp, d),
                    };
                    new.push((i, o.event(body)));
                }
                trim(&mut self.frames);
            }
            WsApp::Undecided | WsApp::Other => {}
        }
    }

    fn sse_events(&mut self, i: usize, o: Origin, new: &mut Vec<(usize, Event)>) {
        for e in self.sse_out.drain(..) {
            new.push((i, o.event(EventBody::SseEvent(Box::new(e)))));
        }
        trim(&mut self.sse_out);
    }

    fn socketio_events(&mut self, i: usize, o: Origin, new: &mut Vec<(usize, Event)>) {
        for item in self.items.drain(..) {
            let body = match item {
                socketio::Item::Packet(p) => EventBody::Socketio(Box::new(p)),
                socketio::Item::Malformed(d) => malformed(Layer::Socketio, d),
            };
            new.push((i, o.event(body)));
        }
        trim(&mut self.items);
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
mod tests;
