//! The text transcript: one readable line per event.
//!
//! `   0.000512 #0 c→s  GET /chat HTTP/1.1  Upgrade: websocket`
//!
//! Every string that came off the wire goes through [`escape`], so a payload's control
//! characters (an ANSI escape in a WebSocket message, say) never reach the terminal raw.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};

use crate::model::{
    BodyKind, ConnState, Dir, Event, EventBody, GapReason, HttpResponse, Layer, Opcode,
    SocketIoPacket, SseEvent, StateChange, StompFrame, TcpSegment, WsFrame, WsMessage,
};

/// Writes `event` as one line of text.
pub fn write_event<W: Write>(w: &mut W, event: &Event) -> io::Result<()> {
    let mut line = String::with_capacity(128);
    format_event(&mut line, event);
    line.push('\n');
    w.write_all(line.as_bytes())
}

/// Column where an event line's description starts (after time, connection and direction).
const DESCRIPTION_COLUMN: usize = 22;

/// Writes an explanation under an event's line, indented to its description:
/// `                      why: the server agrees to switch...`. `label` names the line
/// ("why", or the language's word); `text` comes from [`crate::explain`], not from the wire.
pub fn write_why<W: Write>(w: &mut W, label: &str, text: &str) -> io::Result<()> {
    let line = format!(
        "{:DESCRIPTION_COLUMN$}{}: {}\n",
        "",
        label.to_lowercase(),
        escape(text)
    );
    w.write_all(line.as_bytes())
}

/// Appends the one-line rendering of `event` (without newline) to `out`.
pub fn format_event(out: &mut String, e: &Event) {
    // `time` right-aligned in 11 columns, without a String of its own.
    let (secs, micros) = (e.t.0 / 1_000_000_000, (e.t.0 % 1_000_000_000) / 1_000);
    let width = secs.checked_ilog10().unwrap_or(0) as usize + 1 + 7;
    out.extend(std::iter::repeat_n(' ', 11usize.saturating_sub(width)));
    let _ = write!(out, "{secs}.{micros:06} ");
    match e.conn {
        Some(c) => {
            let _ = write!(out, "#{c:<3} ");
        }
        None => out.push_str("     "),
    }
    out.push_str(match e.dir {
        Some(Dir::C2s) => "c→s  ",
        Some(Dir::S2c) => "s→c  ",
        None => "     ",
    });
    describe(out, &e.body);
}

/// Appends a short description of an event body: the arrow label of the sequence diagram.
pub fn describe(out: &mut String, body: &EventBody) {
    match body {
        EventBody::Connection(c) => {
            let _ = write!(out, "connection {} → {}", c.client, c.server);
            if c.joined_late {
                out.push_str("  (joined late: the handshake was not captured)");
            }
        }
        EventBody::Tcp(s) => tcp(out, s),
        EventBody::Handshake(h) => {
            let _ = write!(
                out,
                "handshake complete  SYN→SYN-ACK {}  iRTT {}",
                duration(h.syn_ack_rtt.0),
                duration(h.irtt.0)
            );
        }
        EventBody::ConnectionState(c) => state_change(out, c),
        EventBody::Gap(g) => {
            let _ = write!(
                out,
                "GAP {} missing at seq={} ({})",
                plural(u64::from(g.len), "byte", "bytes"),
                g.seq,
                gap_reason(g.reason)
            );
        }
        EventBody::HttpRequest(r) => {
            out.push_str(&escape(&r.method));
            out.push(' ');
            out.push_str(&escape(&r.target));
            out.push(' ');
            out.push_str(&escape(&r.version));
            if let Some((_, v)) = r
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("upgrade"))
            {
                let _ = write!(out, "  Upgrade: {}", escape(v));
            }
            body_kind(out, r.body);
        }
        EventBody::HttpResponse(r) => response(out, r),
        EventBody::HttpBody(b) => {
            match b.chunk {
                Some(n) => {
                    let _ = write!(out, "body chunk #{n} {} B", b.len);
                }
                None => {
                    let _ = write!(out, "body {} B", b.len);
                }
            }
            if let Some(t) = &b.text {
                let _ = write!(out, " \"{}\"", escape(t));
                // The preview is cut (display limit, capture gap): say so, as for messages.
                if (t.len() as u64) < b.len {
                    out.push('…');
                }
            }
            if b.missing > 0 {
                let _ = write!(out, " ({} B missing: not captured)", b.missing);
            }
            if b.end {
                out.push_str(" (end)");
            }
        }
        EventBody::Data(b) => {
            let _ = write!(out, "data {} B", b.len);
            if let Some(t) = &b.text {
                let _ = write!(out, " \"{}\"", escape(t));
                if (t.len() as u64) < b.len {
                    out.push('…');
                }
            }
        }
        EventBody::WsFrame(f) => frame(out, f),
        EventBody::WsMessage(m) => message(out, m),
        EventBody::Violation(v) => {
            let _ = write!(
                out,
                "VIOLATION {} {}: {}",
                layer_name(v.layer),
                v.rule,
                escape(&v.detail)
            );
        }
        EventBody::Malformed(m) => {
            let _ = write!(
                out,
                "MALFORMED {}: {}",
                layer_name(m.layer),
                escape(&m.detail)
            );
        }
        EventBody::Note(n) => {
            let _ = write!(
                out,
                "NOTE {} {}: {}",
                layer_name(n.layer),
                n.note,
                escape(&n.detail)
            );
        }
        EventBody::SseEvent(ev) => sse(out, ev),
        EventBody::Stomp(f) => stomp(out, f),
        EventBody::Socketio(p) => socketio(out, p),
        EventBody::TlsRecord(_) | EventBody::TlsHandshake(_) | EventBody::TlsAlert(_) => {
            crate::view::tls::describe(out, body)
        }
        EventBody::Pattern(r) => {
            let name = serde_json::to_value(r.pattern).ok();
            let name = name.as_ref().and_then(|v| v.as_str()).unwrap_or("?");
            let _ = write!(
                out,
                "PATTERN {name} (conversation {}, {})  {} → {}{}  {}",
                r.conversation,
                if r.is_final { "final" } else { "update" },
                escape(&r.client),
                r.server,
                escape(&r.target),
                pattern_figures(r)
            );
        }
        EventBody::ConnectionEnd(c) => {
            let state = match c.state {
                ConnState::Handshaking => "still handshaking",
                ConnState::Established => "still open",
                ConnState::Closing => "half closed",
                ConnState::Closed => "closed",
                ConnState::Reset => "reset",
                ConnState::Refused => "refused",
            };
            let tls = match &c.tls {
                Some(t) => format!(
                    " ({}{})",
                    t.version.map_or("TLS".to_string(), |v| v.to_string()),
                    if t.decrypted {
                        ", decrypted"
                    } else {
                        ", encrypted"
                    }
                ),
                None => String::new(),
            };
            let _ = write!(
                out,
                "end: {state}{tls}{} after {}  c→s {} seg {} B  s→c {} seg {} B",
                if c.websocket { " (WebSocket)" } else { "" },
                duration(c.duration.0),
                c.segments[0],
                c.bytes[0],
                c.segments[1],
                c.bytes[1]
            );
        }
    }
}

/// `state established → closing`, `state established → WebSocket`.
pub fn state_change(out: &mut String, c: &StateChange) {
    if c.websocket && c.from == c.state {
        let _ = write!(out, "state {} → WebSocket", c.state.as_str());
    } else {
        let _ = write!(out, "state {} → {}", c.from.as_str(), c.state.as_str());
        if c.websocket {
            out.push_str(" (WebSocket)");
        }
    }
}

/// `SSE news #3 "data" retry=3000 ms`; a block a browser does not dispatch (no data line, or
/// cut by the end of the stream) says so, with its comment.
fn sse(out: &mut String, ev: &SseEvent) {
    if ev.dispatched || !ev.data.is_empty() {
        let _ = write!(
            out,
            "SSE {}",
            escape(ev.event.as_deref().unwrap_or("message"))
        );
    } else {
        out.push_str("SSE (no event)");
    }
    if let Some(id) = &ev.id {
        let _ = write!(out, " #{}", escape(id));
    }
    if ev.dispatched || !ev.data.is_empty() {
        let _ = write!(out, " \"{}\"", escape(&ev.data));
        if ev.data_len > ev.data.len() as u64 {
            let _ = write!(out, "… ({} B)", ev.data_len);
        }
    }
    if let Some(r) = ev.retry {
        let _ = write!(out, " retry={r} ms");
    }
    if let Some(c) = &ev.comment {
        let _ = write!(out, " comment \"{}\"", escape(c));
    }
    if !ev.dispatched && (ev.data_len > 0 || !ev.data.is_empty()) {
        out.push_str(" (not dispatched)");
    }
    if ev.incomplete {
        out.push_str(" (incomplete)");
    }
}

/// STOMP headers worth a place on the one line (the rest are in the JSON).
const STOMP_LINE_HEADERS: &[&str] = &[
    "accept-version",
    "version",
    "heart-beat",
    "id",
    "subscription",
    "receipt",
    "receipt-id",
    "message",
];

/// `STOMP SEND /topic/chat receipt:r-1 "hello"`.
fn stomp(out: &mut String, f: &StompFrame) {
    let _ = write!(out, "STOMP {}", escape(&f.command));
    if let Some((_, d)) = f.headers.iter().find(|(n, _)| n == "destination") {
        let _ = write!(out, " {}", escape(d));
    }
    for (n, v) in &f.headers {
        if STOMP_LINE_HEADERS.contains(&n.as_str()) {
            let _ = write!(out, " {}:{}", escape(n), escape(v));
        }
    }
    if let Some(b) = &f.body {
        let _ = write!(out, " \"{}\"", escape(b));
        if f.body_len > b.len() as u64 {
            let _ = write!(out, "… ({} B)", f.body_len);
        }
    }
    if f.incomplete {
        out.push_str(" (incomplete)");
    }
}

/// `engine.io websocket message  socket.io EVENT /admin status ack=3 ["uptime?"]`.
fn socketio(out: &mut String, p: &SocketIoPacket) {
    let _ = write!(out, "engine.io {} {}", p.transport, p.engine_type);
    if let Some(n) = p.binary_len {
        match p.attachment {
            Some(k) => {
                let _ = write!(out, " binary {n} B  socket.io attachment #{k}");
            }
            None => {
                let _ = write!(out, " binary {n} B");
            }
        }
    }
    if let Some(t) = p.socketio_type {
        let _ = write!(out, "  socket.io {t}");
        if let Some(ns) = &p.namespace {
            let _ = write!(out, " {}", escape(ns));
        }
        if let Some(ev) = &p.event {
            let _ = write!(out, " {}", escape(ev));
        }
        if let Some(id) = p.ack_id {
            let _ = write!(out, " ack={id}");
        }
        if let Some(n) = p.attachments {
            let _ = write!(out, " attachments={n}");
        }
    }
    // JSON as it is (its quotes unescaped): only control characters are escaped. The `sid`
    // is in it.
    if let Some(d) = &p.data {
        let _ = write!(out, " {}", escape_unquoted(d));
    }
    if p.incomplete {
        out.push_str(" (incomplete)");
    }
}

/// The name of a segment from its flags, as the transcript, the diagram and the Mermaid
/// arrows call it: the flag that matters most, with `-ACK` when ACK is set too. A reset
/// outranks a SYN unless the segment is a SYN-ACK; PSH is named whenever it is set, as
/// Wireshark's Info column shows it.
pub fn segment_name(s: &TcpSegment) -> &'static str {
    use crate::model::tcp_flags::*;
    let f = s.flags;
    let ack = f.has(ACK);
    if f.has(SYN) && ack {
        "SYN-ACK"
    } else if f.has(RST) {
        if ack {
            "RST-ACK"
        } else {
            "RST"
        }
    } else if f.has(SYN) {
        "SYN"
    } else if f.has(FIN) {
        if ack {
            "FIN-ACK"
        } else {
            "FIN"
        }
    } else if f.has(PSH) {
        "PSH-ACK"
    } else {
        "ACK"
    }
}

fn tcp(out: &mut String, s: &TcpSegment) {
    let _ = write!(out, "{:<7} seq={}", segment_name(s), s.seq);
    if let Some(a) = s.ack {
        let _ = write!(out, " ack={a}");
    }
    let _ = write!(out, " win={} len={}", s.win, s.len);
    if let Some(o) = &s.options {
        if let Some(m) = o.mss {
            let _ = write!(out, " MSS={m}");
        }
        if let Some(w) = o.wscale {
            let _ = write!(out, " WS={}", 1u32 << w.min(14));
        }
        if o.sack_perm {
            out.push_str(" SACK_PERM");
        }
        if let Some(v) = o.ts_val {
            let _ = write!(out, " TSval={v} TSecr={}", o.ts_ecr.unwrap_or(0));
        }
    }
    for a in &s.analysis {
        let _ = write!(out, " [{}]", analysis_name(*a));
    }
    if s.truncated {
        out.push_str(" [truncated]");
    }
}

/// The figures that justified a pattern: "6 requests on 6 connections, every 21.7 ms
/// (median), answered in 160 µs".
pub fn pattern_figures(r: &crate::model::PatternReport) -> String {
    use crate::model::Pattern;
    let med = |s: Option<crate::model::Spread>| s.map_or("?".to_string(), |s| duration(s.median.0));
    let mut s = format!(
        "{} request{} on {} connection{}",
        r.requests,
        if r.requests == 1 { "" } else { "s" },
        r.conns.len(),
        if r.conns.len() == 1 { "" } else { "s" }
    );
    match r.pattern {
        Pattern::ShortPolling => {
            let _ = write!(
                s,
                ", every {} (median), answered in {}",
                med(r.interval),
                med(r.held)
            );
        }
        Pattern::LongPolling => {
            let _ = write!(
                s,
                ", held {} (median), asked again after {}",
                med(r.held),
                med(r.interval)
            );
        }
        Pattern::Streaming => {
            let _ = write!(
                s,
                ", {} every {} (median)",
                plural(u64::from(r.chunks.unwrap_or(0)), "chunk", "chunks"),
                med(r.chunk_spacing)
            );
            if let Some(n) = r.sse_events.filter(|n| *n > 0) {
                let _ = write!(s, ", {}", plural(u64::from(n), "SSE event", "SSE events"));
            }
        }
        Pattern::Websocket => {
            let [up, down] = r.messages.unwrap_or([0, 0]);
            let _ = write!(
                s,
                ", messages {up} up and {down} down, open {}",
                duration(r.duration.0)
            );
        }
        Pattern::None => {}
    }
    s
}

/// Human name of a TCP analysis flag, as Wireshark words it.
pub fn analysis_name(a: crate::model::TcpAnalysis) -> &'static str {
    use crate::model::TcpAnalysis::*;
    match a {
        Retransmission => "retransmission",
        OutOfOrder => "out-of-order",
        LostSegment => "previous segment not captured",
        DuplicateAck => "dup ACK",
        ZeroWindow => "zero window",
        KeepAlive => "keep-alive",
        KeepAliveAck => "keep-alive ACK",
        WindowUpdate => "window update",
        AckLostSegment => "ACKed unseen segment",
        SpuriousRetransmission => "spurious retransmission",
        FastRetransmission => "fast retransmission",
        ZeroWindowProbe => "zero window probe",
        ZeroWindowProbeAck => "zero window probe ACK",
        WindowFull => "window full",
        ReusedPorts => "port numbers reused",
    }
}

fn body_kind(out: &mut String, b: BodyKind) {
    match b {
        BodyKind::None => {}
        BodyKind::Length => {}
        BodyKind::Chunked => out.push_str("  (chunked)"),
        BodyKind::Close => out.push_str("  (body until close)"),
    }
}

fn response(out: &mut String, r: &HttpResponse) {
    let _ = write!(
        out,
        "{} {} {}",
        escape(&r.version),
        r.status,
        escape(&r.reason)
    );
    if let Some(u) = &r.upgrade {
        out.push_str(if u.accept_valid {
            "  accept ✓"
        } else if u.key.is_empty() {
            // No request key in the capture: the accept value cannot be checked either way.
            "  accept ? (request not captured)"
        } else {
            "  accept ✗ (mismatch)"
        });
        if let Some(p) = &u.subprotocol {
            let _ = write!(out, "  protocol={}", escape(p));
        }
        if let Some(x) = &u.extensions {
            let _ = write!(out, "  extensions={}", escape(x));
        }
    }
    if let Some(held) = server_time(r) {
        let _ = write!(out, "  {held}");
    }
    body_kind(out, r.body);
}

/// `held 1.200 s`: how long the server took to answer (`time_since_request`), when it held
/// the request: at least [`crate::pattern::HOLD_FLOOR_NS`] (10 ms; quicker is an answer at
/// once, not worth a word on every line).
pub fn server_time(r: &HttpResponse) -> Option<String> {
    let t = r.time_since_request?.0;
    (t >= crate::pattern::HOLD_FLOOR_NS).then(|| format!("held {}", duration(t)))
}

fn frame(out: &mut String, f: &WsFrame) {
    let _ = write!(out, "frame {}", opcode(f.opcode));
    if !f.fin {
        out.push_str(" (not FIN)");
    }
    if f.rsv1 {
        out.push_str(" RSV1");
    }
    if f.rsv2 {
        out.push_str(" RSV2");
    }
    if f.rsv3 {
        out.push_str(" RSV3");
    }
    let _ = write!(out, " {} B", f.payload_len);
    if let Some(k) = &f.mask_key {
        let _ = write!(out, " masked key={k}");
    }
    if f.incomplete {
        out.push_str(" (incomplete)");
    }
}

/// A message's opcode as its line names it: `Text`, `Close`, ... (capitalised: a message, not
/// a frame).
pub fn message_name(o: Opcode) -> &'static str {
    match o {
        Opcode::Text => "Text",
        Opcode::Binary => "Binary",
        Opcode::Close => "Close",
        Opcode::Ping => "Ping",
        Opcode::Pong => "Pong",
        Opcode::Continuation => "Continuation",
        Opcode::Reserved(_) => "Reserved",
    }
}

/// What a message line says of its size and shape: `15 B, 2 frames, deflated, incomplete`.
pub fn message_facts(out: &mut String, m: &WsMessage) {
    let _ = write!(out, "{} B", m.len);
    if m.frames > 1 {
        let _ = write!(out, ", {} frames", m.frames);
    }
    if m.compressed {
        out.push_str(", deflated");
    }
    if m.incomplete {
        out.push_str(", incomplete");
    }
}

fn message(out: &mut String, m: &WsMessage) {
    out.push_str(message_name(m.opcode));
    if let Some(code) = m.code {
        let _ = write!(out, " {code} {}", m.code_name.unwrap_or(""));
    }
    if let Some(r) = &m.reason {
        let _ = write!(out, " \"{}\"", escape(r));
    } else if let Some(t) = &m.text {
        let _ = write!(out, " \"{}\"", escape(t));
        if (t.len() as u64) < m.len {
            out.push('…');
        }
    }
    out.push_str(" (");
    message_facts(out, m);
    out.push(')');
}

fn opcode(o: Opcode) -> String {
    match o {
        Opcode::Reserved(n) => format!("reserved 0x{n:x}"),
        o => o.name().to_string(),
    }
}

/// The name a person calls a layer by: `HTTP`, `WebSocket`, `Socket.IO`.
pub fn layer_name(l: Layer) -> &'static str {
    match l {
        Layer::Capture => "capture",
        Layer::Link => "link",
        Layer::Ip => "IP",
        Layer::Tcp => "TCP",
        Layer::Http => "HTTP",
        Layer::Websocket => "WebSocket",
        Layer::Sse => "SSE",
        Layer::Stomp => "STOMP",
        Layer::Socketio => "Socket.IO",
        Layer::Tls => "TLS",
    }
}

/// Why bytes are missing, in words: `not captured`, `cut by the snap length`.
pub fn gap_reason(r: GapReason) -> &'static str {
    match r {
        GapReason::NotCaptured => "not captured",
        GapReason::Truncated => "cut by the snap length",
    }
}

/// `1 event`, `2 events`: a count with its noun in the right number.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `0.000512`: seconds since the first packet, with microseconds (the transcript pads it to
/// 11 columns).
pub fn time(ns: u64) -> String {
    format!("{}.{:06}", ns / 1_000_000_000, (ns % 1_000_000_000) / 1_000)
}

/// `1.2 kB`-style byte count (decimal units, as network tools count).
pub fn bytes(n: u64) -> String {
    if n < 1000 {
        format!("{n} B")
    } else if n < 1_000_000 {
        format!("{:.1} kB", n as f64 / 1e3)
    } else if n < 1_000_000_000 {
        format!("{:.1} MB", n as f64 / 1e6)
    } else {
        format!("{:.1} GB", n as f64 / 1e9)
    }
}

/// `1.234 ms`-style duration.
pub fn duration(ns: u64) -> String {
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{} µs", ns / 1_000)
    } else if ns < 1_000_000_000 {
        format!("{:.3} ms", ns as f64 / 1e6)
    } else {
        format!("{:.3} s", ns as f64 / 1e9)
    }
}

/// Characters a terminal must not receive raw from the wire: control characters (C0, DEL, C1:
/// U+009B is CSI to xterm) and Unicode's Bidi_Control set, which reorders what is shown
/// ("Trojan Source", CVE-2021-42574).
pub fn unsafe_for_terminal(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// Makes wire text safe for a terminal: the [`unsafe_for_terminal`] characters become visible
/// escapes; quotes and backslashes are escaped so the output stays
/// unambiguous. Allocation-free when nothing needs escaping.
pub fn escape(s: &str) -> Cow<'_, str> {
    escape_as(s, true)
}

/// Like [`escape`], but keeps quotes and backslashes: for text that is not shown in quotes
/// (JSON as it came, the TUI's labels and detail pane).
pub fn escape_unquoted(s: &str) -> Cow<'_, str> {
    escape_as(s, false)
}

/// [`escape`], escaping quotes and backslashes only with `quotes`.
fn escape_as(s: &str, quotes: bool) -> Cow<'_, str> {
    let bad = |c: char| unsafe_for_terminal(c) || (quotes && matches!(c, '"' | '\\'));
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            '"' if quotes => o.push_str("\\\""),
            '\\' if quotes => o.push_str("\\\\"),
            c if bad(c) => {
                let _ = write!(o, "\\u{{{:x}}}", c as u32);
            }
            c => o.push(c),
        }
    }
    Cow::Owned(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    #[test]
    fn escape_keeps_terminal_safe() {
        assert_eq!(escape("plain ü"), "plain ü");
        assert_eq!(escape("\u{1b}[31mred\u{1b}[0m"), "\\u{1b}[31mred\\u{1b}[0m");
        assert_eq!(escape("a\"b\\c\n\u{9b}"), "a\\\"b\\\\c\\n\\u{9b}");
        assert_eq!(escape("\u{202e}evil"), "\\u{202e}evil");
        // The whole Bidi_Control set, not only the overrides and isolates.
        assert_eq!(escape("\u{200f}\u{61c}x"), "\\u{200f}\\u{61c}x");
    }

    #[test]
    fn segment_names() {
        use crate::model::tcp_flags::*;
        let name = |flags: u8, len: u32| {
            segment_name(&TcpSegment {
                flags: TcpFlags(flags),
                seq: 0,
                ack: None,
                len,
                win: 0,
                options: None,
                analysis: crate::model::TcpAnalyses::EMPTY,
                truncated: false,
            })
        };
        assert_eq!(name(SYN, 0), "SYN");
        assert_eq!(name(SYN | ACK, 0), "SYN-ACK");
        assert_eq!(name(SYN | RST | ACK, 0), "SYN-ACK");
        // A reset outranks a SYN: the Mermaid arrow of such a segment is a reset's too.
        assert_eq!(name(SYN | RST, 0), "RST");
        assert_eq!(name(RST | ACK, 0), "RST-ACK");
        assert_eq!(name(FIN | ACK, 0), "FIN-ACK");
        assert_eq!(name(FIN | PSH | ACK, 5), "FIN-ACK");
        // PSH is named whenever it is set, payload or not.
        assert_eq!(name(PSH | ACK, 0), "PSH-ACK");
        assert_eq!(name(PSH | ACK, 5), "PSH-ACK");
        assert_eq!(name(ACK, 5), "ACK");
    }

    #[test]
    fn escape_unquoted_differs_only_in_quotes_and_backslashes() {
        assert_eq!(escape_unquoted("plain ü"), "plain ü");
        assert_eq!(escape_unquoted("a\"b\\c"), "a\"b\\c");
        assert_eq!(escape_unquoted("a\"b\\c\n\u{9b}"), "a\"b\\c\\n\\u{9b}");
        // A Bidi_Control character alone is escaped too.
        assert_eq!(escape_unquoted("\u{200e}x"), "\\u{200e}x");
    }

    #[test]
    fn message_line_has_no_raw_control_characters() {
        let e = Stamp {
            ts: Timestamp(0),
            t: Nanos(1_234_567),
            frame: 9,
        }
        .event(
            Some(2),
            Some(Dir::S2c),
            EventBody::WsMessage(Box::new(WsMessage {
                opcode: Opcode::Text,
                len: 11,
                compressed: false,
                frames: 1,
                text: Some("\u{1b}]0;pwned\u{7}!".into()),
                code: None,
                code_name: None,
                reason: None,
                data: Payload::default(),
                incomplete: false,
            })),
        );
        let mut s = String::new();
        format_event(&mut s, &e);
        assert_eq!(
            s,
            "   0.001234 #2   s→c  Text \"\\u{1b}]0;pwned\\u{7}!\" (11 B)"
        );
        assert!(!s.chars().any(|c| c.is_control()));
    }

    #[test]
    fn body_lines_show_the_text_preview_escaped() {
        let body = |len, text: Option<&str>, end| {
            let mut s = String::new();
            describe(
                &mut s,
                &EventBody::HttpBody(Box::new(HttpBody {
                    len,
                    chunk: None,
                    end,
                    missing: 0,
                    text: text.map(str::to_string),
                    data: Payload::default(),
                })),
            );
            s
        };
        assert_eq!(
            body(10, Some("{\"next\":5}"), true),
            "body 10 B \"{\\\"next\\\":5}\" (end)"
        );
        // A preview shorter than the body is marked cut; control characters are escaped.
        assert_eq!(
            body(300, Some("a\u{1b}[2J\n"), false),
            "body 300 B \"a\\u{1b}[2J\\n\"…"
        );
        assert_eq!(body(4, None, true), "body 4 B (end)");
    }

    #[test]
    fn subprotocol_lines() {
        let mut s = String::new();
        describe(
            &mut s,
            &EventBody::Socketio(Box::new(SocketIoPacket {
                socketio_type: Some("EVENT"),
                namespace: Some("/".into()),
                ack_id: Some(3),
                event: Some("chat".into()),
                data: Some("[\"a\\\"b\u{1b}[31m\"]".into()),
                incomplete: true,
                ..SocketIoPacket::new("websocket", "message")
            })),
        );
        // JSON keeps its quotes; control characters are escaped.
        assert_eq!(
            s,
            "engine.io websocket message  socket.io EVENT / chat ack=3 [\"a\\\"b\\u{1b}[31m\"] \
             (incomplete)"
        );
        s.clear();
        describe(
            &mut s,
            &EventBody::SseEvent(Box::new(SseEvent {
                event: Some("tick".into()),
                id: Some("3".into()),
                data: "x\ny".into(),
                retry: None,
                data_len: 300,
                comment: None,
                dispatched: true,
                incomplete: false,
            })),
        );
        assert_eq!(s, "SSE tick #3 \"x\\ny\"… (300 B)");
        s.clear();
        describe(
            &mut s,
            &EventBody::Stomp(Box::new(StompFrame {
                command: "RECEIPT".into(),
                headers: vec![("receipt-id".into(), "r\n1".into())],
                body: None,
                body_len: 0,
                incomplete: false,
            })),
        );
        assert_eq!(s, "STOMP RECEIPT receipt-id:r\\n1");
    }
}

#[cfg(test)]
mod plural_tests {
    use super::*;
    use crate::model::{Nanos, Pattern, PatternReport};

    /// "1 chunk", "1 SSE event", "1 request on 1 connection": no "1 events".
    #[test]
    fn one_is_singular() {
        let mut r = PatternReport {
            pattern: Pattern::Streaming,
            conversation: 0,
            is_final: true,
            client: "127.0.0.1".into(),
            server: "127.0.0.1:80".parse().unwrap(),
            target: "/events".into(),
            start: Nanos(0),
            conns: vec![0],
            requests: 1,
            interval: None,
            held: None,
            chunks: Some(1),
            chunk_spacing: None,
            sse_events: Some(1),
            messages: None,
            duration: Nanos(0),
            bytes: [0, 0],
            overhead_bytes: 0,
        };
        let s = pattern_figures(&r);
        assert!(
            s.starts_with("1 request on 1 connection, 1 chunk every"),
            "{s}"
        );
        assert!(s.ends_with(", 1 SSE event"), "{s}");
        r.chunks = Some(2);
        r.sse_events = Some(3);
        r.requests = 2;
        r.conns = vec![0, 1];
        let s = pattern_figures(&r);
        assert!(
            s.starts_with("2 requests on 2 connections, 2 chunks"),
            "{s}"
        );
        assert!(s.ends_with(", 3 SSE events"), "{s}");
    }
}
