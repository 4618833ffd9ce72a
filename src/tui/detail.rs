//! What the detail pane says: every decoded field of the selected arrow, the WebSocket accept
//! key worked out step by step from the engine's fields, a few sentences on why the packet is
//! there (from [`crate::explain`], in the app's language), and the payload as text and as
//! hex + ASCII.
//!
//! A content module: it builds a [`Doc`], lines of text with a [`Tone`] each, wrapped to the
//! pane's width, and draws nothing (the drawing module maps tones to colours). The app builds
//! the selected event's document once per (event, width, language) and keeps it, so the pane
//! costs nothing per key or per frame. Lines are built for one event at a time, at most a few
//! hundred of them (payloads are capped by `Limits::max_kept_payload`).

use std::borrow::Cow;
use std::fmt::Write as _;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::explain::{self, Context, Lang};
use crate::model::{
    tcp_flags, BodyKind, ConnState, Dir, Event, EventBody, Gap, GapReason, HttpResponse, Opcode,
    Payload, TcpSegment, WsFrame, WsMessage, WsUpgrade, WS_GUID,
};
use crate::tui::label::{self, clean};
use crate::tui::timeline::{class, Class, ConnTrack, Ix, Timeline};
use crate::view::text::duration;

/// How a piece of the pane looks; the drawing module picks the colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Dim,
    Bold,
    /// A field's name.
    Field,
    /// Something wrong (a problem field's value, a failed check).
    Bad,
    /// A check that passed.
    Good,
    /// The explanation.
    Explain,
    /// The title: the arrow's label, in its class's colour.
    Title(Class),
}

/// A piece of a line, in one tone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocSpan {
    pub content: Cow<'static, str>,
    pub tone: Tone,
}

/// One line of the pane, already wrapped to its width.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocLine {
    pub spans: Vec<DocSpan>,
}

impl DocLine {
    /// Columns the line takes on a terminal.
    pub fn width(&self) -> usize {
        self.spans.iter().map(|s| s.content.width()).sum()
    }
}

/// The pane's document for one event at one width in one language: what the app keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detail {
    /// What it was built for: (selected event, width, language, the connection's handshake
    /// event, which completes the labels and explanations of the segments before it).
    pub key: Option<(Option<Ix>, u16, Lang, Option<Ix>)>,
    pub lines: Vec<DocLine>,
}

impl Detail {
    /// The key of the document for `cursor` at `width` in `lang` in `tl`.
    pub fn key_for(
        tl: &Timeline,
        cursor: Option<Ix>,
        width: u16,
        lang: Lang,
    ) -> (Option<Ix>, u16, Lang, Option<Ix>) {
        let handshake = cursor
            .and_then(|ix| tl.conn_of(ix))
            .and_then(|c| c.handshake_at());
        (cursor, width, lang, handshake)
    }

    /// Builds the document for `cursor` at `width` in `lang`, unless it is the one held.
    pub fn update(&mut self, tl: &Timeline, cursor: Option<Ix>, width: u16, lang: Lang) {
        let key = Detail::key_for(tl, cursor, width, lang);
        if self.key != Some(key) {
            self.lines = lines(tl, cursor, width, lang);
            self.key = Some(key);
        }
    }
}

/// Lines of the detail pane for event `cursor` of `tl`, wrapped to `width` columns.
pub fn lines(tl: &Timeline, cursor: Option<Ix>, width: u16, lang: Lang) -> Vec<DocLine> {
    let mut d = Doc {
        width: usize::from(width.max(1)),
        lang,
        lines: Vec::new(),
    };
    match cursor.and_then(|ix| tl.event(ix).map(|e| (ix, e))) {
        Some((ix, e)) => {
            let conn = tl.conn_of(ix);
            event(&mut d, tl, conn, ix, &e);
        }
        None => d.text(Tone::Dim, "No arrow selected."),
    }
    d.lines
}

/// The explanation the pane shows for event `ix` of `tl`, in `lang`.
pub fn explanation(tl: &Timeline, ix: Ix, lang: Lang) -> Option<String> {
    let e = tl.event(ix)?;
    explain::explain(lang, &e, context(tl, tl.conn_of(ix), ix, &e))
}

struct Doc {
    width: usize,
    lang: Lang,
    lines: Vec<DocLine>,
}

/// A span of `text` in `tone`.
fn span(text: impl Into<Cow<'static, str>>, tone: Tone) -> DocSpan {
    DocSpan {
        content: text.into(),
        tone,
    }
}

impl Doc {
    /// Adds `spans` as one logical line, wrapped at spaces where it can be (anywhere in a
    /// word longer than the line), continuation lines indented by `indent` columns.
    fn push(&mut self, spans: Vec<DocSpan>, indent: usize) {
        let width = self.width;
        let indent = indent.min(width / 2);
        let cells: Vec<(char, Tone)> = spans
            .iter()
            .flat_map(|s| s.content.chars().map(move |c| (c, s.tone)))
            .collect();
        let mut start = 0;
        let mut first = true;
        while first || start < cells.len() {
            let avail = if first { width } else { width - indent };
            let mut used = 0;
            let mut end = start;
            let mut space = None;
            while let Some(&(c, _)) = cells.get(end) {
                let w = c.width().unwrap_or(0);
                if used + w > avail && end > start {
                    break;
                }
                if c == ' ' {
                    space = Some(end);
                }
                used += w;
                end += 1;
            }
            let mut next = end;
            match cells.get(end) {
                // Broke on a space: drop it.
                Some(&(' ', _)) => next = end + 1,
                Some(_) => {
                    if let Some(sp) = space.filter(|&sp| sp > start) {
                        end = sp;
                        next = sp + 1;
                    }
                }
                None => {}
            }
            let mut line: Vec<DocSpan> = Vec::new();
            if !first && indent > 0 {
                line.push(span(" ".repeat(indent), Tone::Plain));
            }
            let mut piece = String::new();
            let mut tone = None;
            for &(c, t) in cells.get(start..end).unwrap_or(&[]) {
                if tone.is_some_and(|x| x != t) {
                    line.push(span(
                        std::mem::take(&mut piece),
                        tone.unwrap_or(Tone::Plain),
                    ));
                }
                tone = Some(t);
                piece.push(c);
            }
            if !piece.is_empty() {
                line.push(span(piece, tone.unwrap_or(Tone::Plain)));
            }
            self.lines.push(DocLine { spans: line });
            start = next;
            first = false;
        }
    }

    fn text(&mut self, tone: Tone, s: &str) {
        self.push(vec![span(s.to_string(), tone)], 0);
    }

    fn blank(&mut self) {
        self.lines.push(DocLine::default());
    }

    /// `name: value`, the value wrapped under itself.
    fn field(&mut self, name: &str, value: impl Into<String>) {
        self.field_toned(name, value, Tone::Plain);
    }

    /// A field that reports a problem: its value in the warning tone.
    fn problem(&mut self, name: &str, value: impl Into<String>) {
        self.field_toned(name, value, Tone::Bad);
    }

    /// [`Doc::field`] with the value in `tone`.
    fn field_toned(&mut self, name: &str, value: impl Into<String>, tone: Tone) {
        let name = format!("{name}: ");
        let indent = name.chars().count();
        self.push(
            vec![span(name, Tone::Field), span(value.into(), tone)],
            indent,
        );
    }

    /// `Why: ` and the explanation of `e`, wrapped under itself. The label's width is counted
    /// in terminal columns: Korean syllables take two each.
    fn why(&mut self, e: &Event, cx: Context) {
        let Some(text) = explain::explain(self.lang, e, cx) else {
            return;
        };
        let label = format!("{}: ", explain::why_label(self.lang));
        let indent = label.width();
        self.push(
            vec![span(label, Tone::Bold), span(text, Tone::Explain)],
            indent,
        );
    }
}

fn endpoints(conn: Option<&ConnTrack>, dir: Option<Dir>) -> String {
    let (c, s) = match conn {
        Some(ConnTrack {
            client: Some(c),
            server: Some(s),
            ..
        }) => (c.to_string(), s.to_string()),
        _ => ("client".to_string(), "server".to_string()),
    };
    match dir {
        Some(Dir::C2s) => format!("client {c} → server {s}"),
        Some(Dir::S2c) => format!("server {s} → client {c}"),
        None => format!("{c} ⇄ {s}"),
    }
}

fn event(d: &mut Doc, tl: &Timeline, conn: Option<&ConnTrack>, ix: Ix, e: &Event) {
    let mut title = String::new();
    label::arrow(&mut title, tl, conn, ix);
    d.push(vec![span(title, Tone::Title(class(e)))], 2);
    let mut where_ = endpoints(conn, e.dir);
    if let Some(c) = conn {
        let _ = write!(where_, "   #{}", c.id);
    }
    let _ = write!(
        where_,
        "   t={} s   frame {}   {}",
        label::time(e.t.0),
        e.frame,
        e.body.kind()
    );
    d.text(Tone::Dim, &where_);
    let cx = context(tl, conn, ix, e);
    match &e.body {
        EventBody::Tcp(s) => tcp(d, conn, ix, e, s, cx),
        EventBody::Connection(c) => {
            d.field("client", c.client.to_string());
            d.field("server", c.server.to_string());
            d.why(e, cx);
        }
        EventBody::ConnectionState(c) => {
            d.field("from", c.from.as_str());
            d.field("to", c.state.as_str());
            d.field("WebSocket", if c.websocket { "yes" } else { "no" });
            d.why(e, cx);
        }
        EventBody::Handshake(h) => {
            d.field("SYN → SYN-ACK", duration(h.syn_ack_rtt.0));
            d.field("SYN → ACK (initial RTT)", duration(h.irtt.0));
            d.why(e, cx);
        }
        EventBody::Gap(g) => {
            gap(d, g);
            d.why(e, cx);
        }
        EventBody::HttpRequest(r) => {
            d.field(
                "request line",
                format!(
                    "{} {} {}",
                    clean(&r.method),
                    clean(&r.target),
                    clean(&r.version)
                ),
            );
            headers(d, &r.headers);
            d.field("head", format!("{} B", r.head_len));
            d.field("body", body_kind(r.body));
            d.why(e, cx);
        }
        EventBody::HttpResponse(r) => {
            // The 101 teaches first: the accept key worked out and why, then the raw head
            // (80x24 shows about a dozen lines).
            if let Some(u) = &r.upgrade {
                status_line(d, r);
                accept(d, u);
                d.why(e, cx);
                d.blank();
                response(d, r);
            } else {
                status_line(d, r);
                response(d, r);
                d.why(e, cx);
            }
        }
        EventBody::HttpBody(b) => {
            d.field("length", format!("{} B", b.len));
            if let Some(c) = b.chunk {
                d.field("chunk", format!("#{c}"));
            }
            d.field("ends the body", if b.end { "yes" } else { "no" });
            if b.missing > 0 {
                d.problem(
                    "missing",
                    format!("{} B of this piece are not in the capture", b.missing),
                );
            }
            d.why(e, cx);
            payload(d, "Body", &b.data, "");
        }
        EventBody::WsFrame(f) => frame(d, e, f, cx),
        EventBody::WsMessage(m) => {
            let key = conn
                .and_then(|c| label::last_frame(tl, c, e))
                .and_then(|f| f.mask_key);
            message(d, e, m, key.as_deref(), cx);
        }
        EventBody::Violation(v) => {
            d.field("layer", format!("{:?}", v.layer));
            d.problem("rule", v.rule);
            d.field("detail", clean(&v.detail).into_owned());
            d.why(e, cx);
        }
        EventBody::Malformed(m) => {
            d.field("layer", format!("{:?}", m.layer));
            d.field("detail", clean(&m.detail).into_owned());
            d.why(e, cx);
        }
        EventBody::Data(b) => {
            d.field("length", format!("{} B", b.len));
            d.why(e, cx);
            payload(d, "Data", &b.data, "");
        }
        EventBody::TlsRecord(_) | EventBody::TlsHandshake(_) | EventBody::TlsAlert(_) => {
            for (name, value) in crate::view::tls::fields(&e.body) {
                d.field(name, value);
            }
            d.why(e, cx);
        }
        EventBody::Note(n) => {
            d.field("layer", format!("{:?}", n.layer));
            d.field("note", n.note);
            d.field("detail", clean(&n.detail).into_owned());
            if let Some(b) = n.bytes {
                d.field("bytes", format!("{b} B"));
            }
            d.why(e, cx);
        }
        EventBody::SseEvent(ev) => {
            d.field(
                "event",
                ev.event
                    .as_deref()
                    .map_or("message (the default type)".into(), |e| {
                        clean(e).into_owned()
                    }),
            );
            if let Some(id) = &ev.id {
                d.field("id", clean(id).into_owned());
            }
            d.field("data", clean(&ev.data).into_owned());
            d.field("data length", format!("{} B", ev.data_len));
            if let Some(r) = ev.retry {
                d.field("retry", format!("{r} ms"));
            }
            if let Some(c) = &ev.comment {
                d.field("comment", clean(c).into_owned());
            }
            let dispatched = if ev.dispatched {
                "yes"
            } else if ev.data_len == 0 && ev.data.is_empty() {
                "no: the block has no data line"
            } else {
                "no: the stream ended before its blank line"
            };
            d.field("dispatched", dispatched);
            if ev.incomplete {
                d.problem("incomplete", "bytes of this block are missing");
            }
            d.why(e, cx);
        }
        EventBody::Stomp(f) => {
            d.field("command", clean(&f.command).into_owned());
            for (n, v) in &f.headers {
                d.field(&format!("header {}", clean(n)), clean(v).into_owned());
            }
            d.field("body length", format!("{} B", f.body_len));
            if let Some(b) = &f.body {
                d.field("body", clean(b).into_owned());
            }
            if f.incomplete {
                d.problem(
                    "incomplete",
                    "the frame runs past the kept bytes of its message",
                );
            }
            d.why(e, cx);
        }
        EventBody::Socketio(p) => {
            d.field("transport", p.transport);
            d.field("engine.io packet", p.engine_type);
            if let Some(t) = p.socketio_type {
                d.field("socket.io packet", t);
            }
            if let Some(ns) = &p.namespace {
                d.field("namespace", clean(ns).into_owned());
            }
            if let Some(ev) = &p.event {
                d.field("event", clean(ev).into_owned());
            }
            if let Some(id) = p.ack_id {
                d.field("ack id", id.to_string());
            }
            if let Some(sid) = &p.sid {
                d.field("sid", clean(sid).into_owned());
            }
            if let Some(n) = p.attachments {
                d.field("attachments", format!("{n} binary message(s) follow"));
            }
            if let Some(k) = p.attachment {
                d.field("attachment", format!("#{k}"));
            }
            if let Some(n) = p.binary_len {
                d.field("binary length", format!("{n} B (not decoded)"));
            }
            if let Some(data) = &p.data {
                let name = if p.event.is_some() {
                    "arguments"
                } else {
                    "data"
                };
                d.field(name, clean(data).into_owned());
            }
            if p.incomplete {
                d.problem("incomplete", "the packet runs past the kept bytes");
            }
            d.why(e, cx);
        }
        EventBody::Pattern(_) => {
            if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(&e.body) {
                for (name, value) in fields {
                    if name != "kind" {
                        d.field(&name, clean(&value.to_string()).into_owned());
                    }
                }
            }
            d.why(e, cx);
        }
        EventBody::ConnectionEnd(c) => {
            let state = match c.state {
                ConnState::Handshaking => "the handshake never completed",
                ConnState::Established => "still open when the capture ended",
                ConnState::Closing => "half closed (FIN one way only) when the capture ended",
                ConnState::Closed => "closed: FIN both ways",
                ConnState::Reset => "reset (RST)",
                ConnState::Refused => "refused: the SYN was answered by RST",
            };
            d.field("state", state);
            d.field("WebSocket", if c.websocket { "yes" } else { "no" });
            if let Some(t) = &c.tls {
                let mut v: Vec<String> = Vec::new();
                v.extend(t.version.map(|x| x.to_string()));
                v.extend(t.cipher_suite.map(|x| x.to_string()));
                v.extend(t.sni.as_ref().map(|x| format!("SNI {x}")));
                v.extend(t.alpn.as_ref().map(|x| format!("ALPN {x}")));
                v.push(
                    if t.decrypted {
                        "decrypted"
                    } else {
                        "not decrypted"
                    }
                    .into(),
                );
                d.field("TLS", v.join(" · "));
            }
            d.field("duration", duration(c.duration.0));
            d.field(
                "client → server",
                format!("{} segments, {}", c.segments[0], label::bytes(c.bytes[0])),
            );
            d.field(
                "server → client",
                format!("{} segments, {}", c.segments[1], label::bytes(c.bytes[1])),
            );
            d.why(e, cx);
        }
    }
}

/// App-level events a connection's end looks back over for a Close, at most: a Close comes
/// among the last few messages of a WebSocket, and the pane is redrawn on every key.
const CLOSE_LOOKBACK: usize = 256;

/// What the explanation of `e` needs from the events around it.
fn context(tl: &Timeline, conn: Option<&ConnTrack>, ix: Ix, e: &Event) -> Context {
    let Some(c) = conn else {
        return Context::default();
    };
    let ws_close_seen = match &e.body {
        EventBody::ConnectionEnd(end) if end.websocket => c
            .app
            .iter()
            .rev()
            .filter(|&&i| i < ix)
            .take(CLOSE_LOOKBACK)
            .any(|&i| {
                tl.event(i).is_some_and(
                    |e| matches!(&e.body, EventBody::WsMessage(m) if m.opcode == Opcode::Close),
                )
            }),
        _ => false,
    };
    // The engine's state before this event.
    let before = c.states().partition_point(|&(at, _, _)| at < ix);
    let state = before
        .checked_sub(1)
        .and_then(|i| c.states().get(i))
        .map(|&(_, s, _)| s);
    Context {
        handshake_ack: c.handshake_ack == Some(ix),
        established: state.is_some_and(|s| s != ConnState::Handshaking),
        ws_close_seen,
    }
}

fn tcp(d: &mut Doc, conn: Option<&ConnTrack>, ix: Ix, e: &Event, s: &TcpSegment, cx: Context) {
    // A step of the 3-way handshake teaches first: which step it is and why, then the fields
    // (80x24 shows about a dozen lines).
    let handshake_ack = conn.is_some_and(|c| c.handshake_ack == Some(ix));
    let handshake_step = s.flags.has(tcp_flags::SYN) || handshake_ack;
    if handshake_step {
        d.why(e, cx);
        d.blank();
    }
    let flags: Vec<&str> = s.flags.names().collect();
    d.field(
        "flags",
        format!("{} (0x{:02x})", flags.join(" "), s.flags.0),
    );
    let mut seq = format!("seq={} (relative)", s.seq);
    if let Some(a) = s.ack {
        let _ = write!(seq, "   ack={a}");
    }
    d.field("sequence", seq);
    d.field("payload", format!("{} B", s.len));
    d.field("window", format!("{} B", s.win));
    if let Some(o) = &s.options {
        let mut opts = Vec::new();
        if let Some(m) = o.mss {
            opts.push(format!("MSS {m} (largest segment this side accepts)"));
        }
        if let Some(w) = o.wscale {
            opts.push(format!(
                "window scale {w} (windows count in units of {} B)",
                1u32 << w.min(14)
            ));
        }
        if o.sack_perm {
            opts.push("SACK permitted".to_string());
        }
        if let Some(v) = o.ts_val {
            opts.push(format!(
                "timestamps TSval={v} TSecr={}",
                o.ts_ecr.unwrap_or(0)
            ));
        }
        d.field("options", opts.join(" · "));
    }
    for a in &s.analysis {
        let why = explain::text(d.lang, explain::analysis_key(*a)).unwrap_or("");
        d.problem(crate::view::text::analysis_name(*a), why);
    }
    if s.truncated {
        d.problem(
            "truncated",
            "the capture kept fewer bytes than the wire carried (snap length)",
        );
    }
    if let (true, Some(c)) = (handshake_ack, conn) {
        if let Some(irtt) = c.irtt {
            d.field("initial RTT", duration(irtt.0));
        }
    }
    if !handshake_step {
        d.why(e, cx);
    }
}

fn gap(d: &mut Doc, g: &Gap) {
    d.field("missing", format!("{} B from seq={}", g.len, g.seq));
    d.field(
        "reason",
        match g.reason {
            GapReason::NotCaptured => "never captured",
            GapReason::Truncated => "cut by the capture's snap length",
        },
    );
}

fn headers(d: &mut Doc, h: &[(String, String)]) {
    for (name, value) in h {
        d.field(&clean(name), clean(value).into_owned());
    }
}

fn body_kind(b: BodyKind) -> &'static str {
    match b {
        BodyKind::None => "none",
        BodyKind::Length => "Content-Length",
        BodyKind::Chunked => "chunked",
        BodyKind::Close => "until the connection closes",
    }
}

fn status_line(d: &mut Doc, r: &HttpResponse) {
    d.field(
        "status line",
        format!("{} {} {}", clean(&r.version), r.status, clean(&r.reason)),
    );
}

/// The response's fields after its status line: what it answers, how long the server took,
/// the headers, head and body.
fn response(d: &mut Doc, r: &HttpResponse) {
    if let Some(m) = &r.request_method {
        d.field("answers", clean(m).into_owned());
    }
    if let Some(t) = r.time_since_request {
        let how = if t.0 >= crate::pattern::HOLD_FLOOR_NS {
            "held: the server waited before answering"
        } else {
            "answered at once"
        };
        d.field(
            "server took",
            format!("{} from the request's last byte ({how})", duration(t.0)),
        );
    }
    headers(d, &r.headers);
    d.field("head", format!("{} B", r.head_len));
    d.field("body", body_kind(r.body));
}

/// RFC 6455 §4.2.2 step 5.4: Sec-WebSocket-Accept = base64(SHA-1(key + GUID)), spelled out
/// from what the engine worked out (`accept_expected`, and the digest inside it).
fn accept(d: &mut Doc, u: &WsUpgrade) {
    d.blank();
    d.text(Tone::Bold, "WebSocket accept key (RFC 6455 §4.2.2)");
    d.field("  Sec-WebSocket-Key (request)", clean(&u.key).into_owned());
    d.field("  + GUID", WS_GUID);
    d.field(
        "  SHA-1 of the two",
        u.expected_digest_hex().unwrap_or_else(|| "?".into()),
    );
    d.field(
        "  base64 of the SHA-1",
        clean(&u.accept_expected).into_owned(),
    );
    let (verdict, tone) = if u.accept_valid {
        ("✓ matches", Tone::Good)
    } else {
        (
            "✗ does not match: a client must fail the connection",
            Tone::Bad,
        )
    };
    d.push(
        vec![
            span("  Sec-WebSocket-Accept (response): ", Tone::Field),
            span(format!("{}  ", clean(&u.accept)), Tone::Plain),
            span(verdict, tone),
        ],
        4,
    );
    if let Some(p) = &u.subprotocol {
        d.field("subprotocol", clean(p).into_owned());
    }
    if let Some(x) = &u.extensions {
        d.field("extensions", clean(x).into_owned());
    }
    if let Some(p) = &u.deflate {
        d.field(
            "permessage-deflate",
            format!(
                "server_max_window_bits={} client_max_window_bits={}{}{}",
                p.server_max_window_bits,
                p.client_max_window_bits,
                if p.server_no_context_takeover {
                    " server_no_context_takeover"
                } else {
                    ""
                },
                if p.client_no_context_takeover {
                    " client_no_context_takeover"
                } else {
                    ""
                },
            ),
        );
    }
}

fn opcode_value(o: Opcode) -> u8 {
    match o {
        Opcode::Continuation => 0x0,
        Opcode::Text => 0x1,
        Opcode::Binary => 0x2,
        Opcode::Close => 0x8,
        Opcode::Ping => 0x9,
        Opcode::Pong => 0xA,
        Opcode::Reserved(n) => n,
    }
}

fn frame(d: &mut Doc, e: &Event, f: &WsFrame, cx: Context) {
    d.field(
        "header",
        format!(
            "FIN={} RSV1={} RSV2={} RSV3={} opcode=0x{:x} ({}) MASK={}",
            u8::from(f.fin),
            u8::from(f.rsv1),
            u8::from(f.rsv2),
            u8::from(f.rsv3),
            opcode_value(f.opcode),
            f.opcode.name(),
            u8::from(f.masked)
        ),
    );
    if let Some(k) = &f.mask_key {
        d.field("masking key", clean(k).into_owned());
    }
    d.field("payload length", format!("{} B", f.payload_len));
    d.field("header length", format!("{} B", f.header_len));
    if f.incomplete {
        d.problem("incomplete", "part of the payload is not in the capture");
    }
    d.why(e, cx);
    payload(
        d,
        "Payload",
        &f.data,
        if f.masked { "unmasked" } else { "" },
    );
}

fn message(d: &mut Doc, e: &Event, m: &WsMessage, mask_key: Option<&str>, cx: Context) {
    d.field(
        "opcode",
        format!("0x{:x} {}", opcode_value(m.opcode), m.opcode.name()),
    );
    d.field("length", format!("{} B", m.len));
    d.field("frames", m.frames.to_string());
    d.field(
        "compressed",
        if m.compressed {
            "yes (permessage-deflate)"
        } else {
            "no"
        },
    );
    if let Some(k) = mask_key {
        let which = if m.frames > 1 { "its last frame " } else { "" };
        d.field(
            "masked",
            format!(
                "{which}with key {} (each payload byte XOR a key byte, RFC 6455 §5.3)",
                clean(k)
            ),
        );
    }
    if let Some(code) = m.code {
        d.field(
            "close code",
            format!("{code} {}", m.code_name.unwrap_or("")),
        );
    }
    if let Some(r) = &m.reason {
        d.field("reason", clean(r).into_owned());
    }
    d.why(e, cx);
    let note = match (m.compressed, e.dir) {
        (true, Some(Dir::C2s)) => "unmasked, inflated",
        (true, _) => "inflated",
        (false, Some(Dir::C2s)) => "unmasked",
        _ => "",
    };
    payload(d, "Payload", &m.data, note);
}

/// The payload as text (when it is UTF-8) and as a hex + ASCII dump.
fn payload(d: &mut Doc, what: &str, p: &Payload, note: &str) {
    d.blank();
    let mut head = format!("{what}: {} B", p.total);
    if !note.is_empty() {
        let _ = write!(head, ", {note}");
    }
    if p.is_cut() {
        let _ = write!(head, ", first {} B kept", p.kept.len());
    }
    d.text(Tone::Bold, &head);
    if p.kept.is_empty() {
        return;
    }
    if let Ok(text) = std::str::from_utf8(&p.kept) {
        for l in text.split('\n') {
            d.push(
                vec![
                    span("  │ ", Tone::Dim),
                    span(clean(l).into_owned(), Tone::Plain),
                ],
                4,
            );
        }
    }
    // 16 bytes a line needs 2+4+2+48+1+18 = 75 columns; fall back to 8.
    let per = if d.width >= 75 { 16 } else { 8 };
    for (n, chunk) in p.kept.chunks(per).enumerate() {
        let mut hex = String::with_capacity(per * 3);
        for (i, b) in chunk.iter().enumerate() {
            if i == 8 {
                hex.push(' ');
            }
            let _ = write!(hex, "{b:02x} ");
        }
        let width = per * 3 + usize::from(per > 8);
        let ascii: String = chunk
            .iter()
            .map(|&b| {
                if (0x20..0x7f).contains(&b) {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        d.push(
            vec![
                span(format!("  {:04x}  ", n * per), Tone::Dim),
                span(format!("{hex:<width$}"), Tone::Plain),
                span(format!("|{ascii}|"), Tone::Dim),
            ],
            8,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::{update, Action, App};
    use crate::tui::sample;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn text(lines: &[DocLine]) -> String {
        lines
            .iter()
            .map(|l| {
                l.spans
                    .iter()
                    .map(|s| s.content.as_ref())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn at(label_start: &str) -> App {
        let mut app = App::with_events("t", (120, 40), sample::demo());
        while !app.label(app.cursor.unwrap()).starts_with(label_start) {
            let before = app.cursor;
            update(
                &mut app,
                Action::Key(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE)),
            );
            assert_ne!(before, app.cursor, "no row starts with {label_start}");
        }
        app
    }

    #[test]
    fn accept_key_is_worked_out() {
        let app = at("101");
        let t = text(&lines(&app.timeline, app.cursor, 110, app.lang));
        assert!(
            t.contains("SHA-1 of the two: b37a4f2cc0624f1690f64606cf385945b2bec4ea"),
            "{t}"
        );
        assert!(t.contains("base64 of the SHA-1: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
        assert!(t.contains("✓ matches"));
        assert!(t.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    }

    #[test]
    fn payload_as_text_and_hex() {
        let app = at("Text \"hello");
        let t = text(&lines(&app.timeline, app.cursor, 100, app.lang));
        assert!(t.contains("Payload: 15 B, unmasked"), "{t}");
        assert!(t.contains("  │ hello websocket"));
        assert!(
            t.contains("0000  68 65 6c 6c 6f 20 77 65  62 73 6f 63 6b 65 74    |hello websocket|"),
            "{t}"
        );
    }

    #[test]
    fn every_line_fits_and_nothing_raw_reaches_the_terminal() {
        let mut app = App::with_events("t", (120, 40), sample::demo());
        update(
            &mut app,
            Action::Key(KeyEvent::new(KeyCode::Char('a'), KeyModifiers::NONE)),
        );
        for lang in Lang::ALL {
            app.lang = lang;
            for pos in 0..app.timeline.conns().len() {
                let rows = app.timeline.conn(pos).unwrap().events.clone();
                for ix in rows {
                    app.cursor = Some(ix);
                    // Every event of the sample explains itself, in both languages.
                    assert!(explanation(&app.timeline, ix, app.lang).is_some(), "{ix}");
                    for w in [1u16, 20, 80] {
                        for l in lines(&app.timeline, app.cursor, w, app.lang) {
                            assert!(l.width() <= usize::from(w).max(2), "{l:?} at {w}");
                            for s in &l.spans {
                                assert!(!s.content.chars().any(char::is_control), "{s:?}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_why_label_is_indented_by_its_width_in_columns() {
        let mut app = at("101");
        app.lang = Lang::Ko;
        let t = text(&lines(&app.timeline, app.cursor, 60, app.lang));
        let at = t.find("이유: 서버가").unwrap();
        // "이유: " is 6 columns wide: the lines under it start at column 6.
        let next = t[at..].lines().nth(1).unwrap();
        assert!(
            next.starts_with("      ") && !next.starts_with("       "),
            "{next:?}"
        );
    }

    #[test]
    fn analysis_flags_read_their_text() {
        let mut app = App::with_events("t", (120, 40), sample::demo());
        update(
            &mut app,
            Action::Key(KeyEvent::new(KeyCode::Char('a'), KeyModifiers::NONE)),
        );
        let mut found = false;
        for pos in 0..app.timeline.conns().len() {
            for ix in app.timeline.conn(pos).unwrap().events.clone() {
                let Some(e) = app.timeline.event(ix) else {
                    continue;
                };
                let EventBody::Tcp(s) = &e.body else {
                    continue;
                };
                let Some(&a) = s.analysis.first() else {
                    continue;
                };
                app.cursor = Some(ix);
                let want = explain::text(app.lang, explain::analysis_key(a)).unwrap();
                let t = text(&lines(&app.timeline, app.cursor, 400, app.lang));
                let name = crate::view::text::analysis_name(a);
                assert!(t.contains(&format!("{name}: {want}")), "{t}");
                found = true;
            }
        }
        assert!(found, "the sample has no TCP analysis flag");
    }
}
