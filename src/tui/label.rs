//! The text of each diagram row, built from the event model.
//!
//! Every string that came off the wire goes through [`clean`], so no control character from a
//! packet ever reaches the terminal.

use std::fmt::Write as _;

use crate::model::{
    tcp_flags, ConnState, Dir, Event, EventBody, HttpResponse, Opcode, SocketIoPacket, SseEvent,
    StompFrame, TcpSegment, WsFrame, WsMessage,
};
use crate::tui::timeline::{ConnTrack, Ix, Timeline};
use crate::view::text::{analysis_name, duration, message_facts, message_name, segment_name};
/// Byte counts and capture times as the text view writes them.
pub use crate::view::text::{bytes, time};

/// Most characters of a payload preview in an arrow label.
const PREVIEW_CHARS: usize = 32;
/// How far back a label looks for a related event (the frame of a message, the ping a pong
/// answers): a bound, so a label costs O(1) whatever the connection's size.
const LOOKBACK: usize = 64;

/// Replaces the characters a terminal must not get raw (control characters, the Bidi_Control
/// set) with visible escapes, keeping quotes and backslashes (labels and the detail pane do not
/// quote wire text): the text view's escaping, quotes aside.
pub use crate::view::text::escape_unquoted as clean;

/// `"hello"` cut at [`PREVIEW_CHARS`] with an ellipsis. Control characters are escaped;
/// quotes are not (JSON payloads stay readable; the preview is a display, not a literal).
fn preview(out: &mut String, text: &str, complete: bool) {
    out.push('"');
    excerpt(out, text, complete);
    out.push('"');
}

/// `text` cut at [`PREVIEW_CHARS`], escaped, with an ellipsis when cut or not `complete`.
fn excerpt(out: &mut String, text: &str, complete: bool) {
    let cut = text.char_indices().nth(PREVIEW_CHARS).map(|(i, _)| i);
    let shown = cut.and_then(|i| text.get(..i)).unwrap_or(text);
    out.push_str(&clean(shown));
    if cut.is_some() || !complete {
        out.push('…');
    }
}

/// Appends the arrow label of event `ix` of connection `conn` to `out`.
pub fn arrow(out: &mut String, tl: &Timeline, conn: Option<&ConnTrack>, ix: Ix) {
    let Some(e) = tl.event(ix) else { return };
    let e: &Event = &e;
    match &e.body {
        EventBody::Tcp(s) => tcp(out, s, conn, ix),
        EventBody::WsMessage(m) => message(out, tl, conn, e, m),
        EventBody::WsFrame(f) => {
            let name = match f.opcode {
                Opcode::Continuation => "continuation",
                o => message_name(o),
            };
            let _ = write!(out, "frame {name} {} B", f.payload_len);
            if !f.fin {
                out.push_str(" FIN=0");
            }
            if f.rsv1 {
                out.push_str(" RSV1");
            }
            if f.masked {
                out.push_str(" masked");
            }
            if f.incomplete {
                out.push_str(" (incomplete)");
            }
        }
        EventBody::HttpRequest(r) => {
            let _ = write!(out, "{} {}", clean(&r.method), clean(&r.target));
            if let Some((_, v)) = r
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("upgrade"))
            {
                let _ = write!(out, "  Upgrade: {}", clean(v));
            }
        }
        EventBody::HttpResponse(r) => {
            let _ = write!(out, "{} {}", r.status, clean(&r.reason));
            if let Some(u) = &r.upgrade {
                out.push_str(if u.accept_valid {
                    "  accept ✓"
                } else {
                    "  accept ✗"
                });
            }
            if let Some(took) = server_took(r) {
                let _ = write!(out, "  {took}");
            }
        }
        EventBody::HttpBody(b) => {
            match b.chunk {
                Some(n) => {
                    let _ = write!(out, "body chunk #{n} {} B", b.len);
                }
                None => {
                    let _ = write!(out, "body {} B", b.len);
                }
            }
            if !b.data.kept.is_empty() {
                out.push(' ');
                preview(
                    out,
                    &String::from_utf8_lossy(&b.data.kept),
                    !b.data.is_cut(),
                );
            }
            if b.missing > 0 {
                let _ = write!(out, " ({} B missing)", b.missing);
            }
        }
        EventBody::Gap(g) => {
            let _ = write!(out, "GAP {} B not captured at seq={}", g.len, g.seq);
        }
        EventBody::Violation(v) => {
            let _ = write!(out, "⚠ {}: {}", v.rule, clean(&v.detail));
        }
        EventBody::Malformed(m) => {
            let _ = write!(out, "⚠ malformed {:?}: {}", m.layer, clean(&m.detail));
        }
        EventBody::Note(n) => {
            let _ = write!(out, "{}", clean(&n.detail));
        }
        EventBody::Data(b) => {
            let _ = write!(out, "data {}", bytes(b.len));
            if let Some(t) = &b.text {
                out.push(' ');
                preview(out, t, !b.data.is_cut());
            }
        }
        EventBody::Connection(c) => {
            let _ = write!(out, "connection {} → {}", c.client, c.server);
            if c.joined_late {
                out.push_str(" (joined late)");
            }
        }
        EventBody::Handshake(h) => {
            let _ = write!(
                out,
                "handshake complete · SYN→SYN-ACK {} · iRTT {}",
                duration(h.syn_ack_rtt.0),
                duration(h.irtt.0)
            );
        }
        EventBody::ConnectionState(c) => crate::view::text::state_change(out, c),
        EventBody::SseEvent(ev) => sse(out, ev),
        EventBody::Stomp(f) => stomp(out, f),
        EventBody::Socketio(p) => socketio(out, p),
        EventBody::Pattern(_) => crate::view::text::describe(out, &e.body),
        EventBody::TlsRecord(_) | EventBody::TlsHandshake(_) | EventBody::TlsAlert(_) => {
            crate::view::tls::describe(out, &e.body)
        }
        EventBody::ConnectionEnd(c) => {
            let state = match c.state {
                ConnState::Handshaking => "ended while handshaking",
                ConnState::Established => "still open at the end of the capture",
                ConnState::Closing => "half closed at the end of the capture",
                ConnState::Closed => "closed",
                ConnState::Reset => "reset",
                ConnState::Refused => "refused",
            };
            let _ = write!(
                out,
                "{state} after {} · {} segments · {}",
                duration(c.duration.0),
                c.segments[0] + c.segments[1],
                bytes(c.bytes[0] + c.bytes[1])
            );
        }
    }
}

/// `SSE tick #3 "data…"`; a block a browser does not dispatch: `SSE (no event) retry=3000 ms`.
fn sse(out: &mut String, ev: &SseEvent) {
    let has_data = ev.dispatched || ev.data_len > 0;
    if has_data {
        let _ = write!(
            out,
            "SSE {}",
            clean(ev.event.as_deref().unwrap_or("message"))
        );
    } else {
        out.push_str("SSE (no event)");
    }
    if let Some(id) = &ev.id {
        let _ = write!(out, " #{}", clean(id));
    }
    if has_data {
        out.push(' ');
        preview(out, &ev.data, ev.data_len <= ev.data.len() as u64);
    }
    if let Some(r) = ev.retry {
        let _ = write!(out, " retry={r} ms");
    }
    if let (Some(c), false) = (&ev.comment, has_data) {
        out.push_str(" : ");
        preview(out, c, true);
    }
    if has_data && !ev.dispatched {
        out.push_str(" (not dispatched)");
    }
    if ev.incomplete {
        out.push_str(" (incomplete)");
    }
}

/// `STOMP SEND /topic/chat "hello"`, `STOMP heart-beat`.
fn stomp(out: &mut String, f: &StompFrame) {
    if f.command == "HEARTBEAT" {
        out.push_str("STOMP heart-beat");
        return;
    }
    let header = |name: &str| {
        f.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let _ = write!(out, "STOMP {}", clean(&f.command));
    if let Some(d) = header("destination") {
        let _ = write!(out, " {}", clean(d));
    }
    match f.command.as_str() {
        "CONNECT" | "STOMP" | "CONNECTED" => {
            if let Some(v) = header("version").or(header("accept-version")) {
                let _ = write!(out, " v{}", clean(v));
            }
            if let Some(h) = header("heart-beat") {
                let _ = write!(out, " heart-beat {}", clean(h));
            }
        }
        "RECEIPT" => {
            if let Some(r) = header("receipt-id") {
                let _ = write!(out, " {}", clean(r));
            }
        }
        "ERROR" => {
            if let Some(m) = header("message") {
                out.push(' ');
                preview(out, m, true);
            }
        }
        _ => {}
    }
    if let Some(b) = &f.body {
        out.push(' ');
        preview(out, b, f.body_len <= b.len() as u64);
    }
    if f.incomplete {
        out.push_str(" (incomplete)");
    }
}

/// `socket.io EVENT chat ["hi"]`, `socket.io CONNECT /`, `engine.io ping`,
/// `engine.io open sid=…`.
fn socketio(out: &mut String, p: &SocketIoPacket) {
    if let Some(t) = p.socketio_type {
        let _ = write!(out, "socket.io {t}");
        let ns = p.namespace.as_deref().unwrap_or("/");
        if ns != "/" || matches!(t, "CONNECT" | "DISCONNECT") {
            let _ = write!(out, " {}", clean(ns));
        }
        if let Some(ev) = &p.event {
            let _ = write!(out, " {}", clean(ev));
        }
        if let Some(d) = &p.data {
            out.push(' ');
            // JSON has its own quotes.
            excerpt(out, d, !p.incomplete);
        }
        if let Some(id) = p.ack_id {
            let _ = write!(out, "  ack {id}");
        }
        if let Some(n) = p.attachments {
            let _ = write!(out, "  + {n} attachment{}", if n == 1 { "" } else { "s" });
        }
    } else if let Some(n) = p.binary_len {
        match p.attachment {
            Some(k) => {
                let _ = write!(out, "socket.io attachment #{k}  ({n} B)");
            }
            None => {
                let _ = write!(out, "engine.io binary  ({n} B)");
            }
        }
    } else {
        let _ = write!(out, "engine.io {}", p.engine_type);
        if let Some(sid) = &p.sid {
            let _ = write!(out, " sid={}", clean(sid));
        } else if let Some(d) = &p.data {
            out.push(' ');
            preview(out, d, !p.incomplete);
        }
    }
    if p.transport == "polling" {
        out.push_str("  · polling");
    }
    if p.incomplete {
        out.push_str(" (incomplete)");
    }
}

/// `1.2 s`, `21 ms`, `4.5 ms`, `160 µs`: two or three digits, for narrow columns.
pub fn short_duration(ns: u64) -> String {
    if ns == 0 {
        "0".to_string()
    } else if ns < 1_000_000 {
        format!("{} µs", ns / 1_000)
    } else if ns < 10_000_000 {
        format!("{:.1} ms", ns as f64 / 1e6)
    } else if ns < 1_000_000_000 {
        format!("{} ms", ns / 1_000_000)
    } else if ns < 10_000_000_000 {
        format!("{:.2} s", ns as f64 / 1e9)
    } else {
        format!("{:.1} s", ns as f64 / 1e9)
    }
}

/// How long the server took to answer, from the engine's `time_since_request` (Wireshark's
/// `http.time`): `held 1.20 s` when it held the request (at least
/// [`crate::pattern::HOLD_FLOOR_NS`], the text view's rule), `in 356 µs` when it answered at
/// once. `None` when the request was not captured.
pub fn server_took(r: &HttpResponse) -> Option<String> {
    let t = r.time_since_request?.0;
    Some(if t >= crate::pattern::HOLD_FLOOR_NS {
        format!("held {}", short_duration(t))
    } else {
        format!("in {}", short_duration(t))
    })
}

fn tcp(out: &mut String, s: &TcpSegment, conn: Option<&ConnTrack>, ix: Ix) {
    out.push_str(segment_name(s));
    let _ = write!(out, "  seq={}", s.seq);
    if let Some(a) = s.ack {
        let _ = write!(out, " ack={a}");
    }
    if s.len > 0 {
        let _ = write!(out, " len={}", s.len);
    }
    let syn_ack = s.flags.has(tcp_flags::SYN) && s.flags.has(tcp_flags::ACK);
    if let Some(rtt) = conn.and_then(|c| c.syn_ack_rtt).filter(|_| syn_ack) {
        let _ = write!(out, "  RTT {}", duration(rtt.0));
    }
    if let Some(o) = &s.options {
        out.push(' ');
        if let Some(m) = o.mss {
            let _ = write!(out, " MSS={m}");
        }
        if let Some(w) = o.wscale {
            let _ = write!(out, " WS=×{}", 1u32 << w.min(14));
        }
        if o.sack_perm {
            out.push_str(" SACK");
        }
    }
    if s.win == 0 && !s.flags.has(tcp_flags::RST) {
        out.push_str(" win=0");
    }
    for a in &s.analysis {
        let _ = write!(out, " [{}]", analysis_name(*a));
    }
    if s.truncated {
        out.push_str(" [cut by snaplen]");
    }
    if conn.is_some_and(|c| c.handshake_ack == Some(ix)) {
        out.push_str("  handshake done");
    }
}

fn message(out: &mut String, tl: &Timeline, conn: Option<&ConnTrack>, e: &Event, m: &WsMessage) {
    match m.opcode {
        Opcode::Reserved(n) => {
            let _ = write!(out, "Reserved opcode 0x{n:x}");
        }
        o => out.push_str(message_name(o)),
    }
    if let Some(code) = m.code {
        let _ = write!(out, " {code} {}", m.code_name.unwrap_or(""));
    }
    if let Some(r) = &m.reason {
        out.push(' ');
        preview(out, r, true);
    } else if let Some(t) = &m.text {
        out.push(' ');
        preview(out, t, (t.len() as u64) >= m.len);
    } else if m.opcode == Opcode::Binary && !m.data.kept.is_empty() {
        out.push(' ');
        for (i, b) in m.data.kept.iter().take(8).enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{b:02x}");
        }
        if m.len > 8 {
            out.push('…');
        }
    }
    out.push_str("  (");
    message_facts(out, m);
    if let Some(c) = conn {
        if last_frame(tl, c, e).is_some_and(|f| f.masked) {
            out.push_str(", masked");
        }
        if m.opcode == Opcode::Pong {
            if let Some(rtt) = ping_rtt(tl, c, e, m) {
                let _ = write!(out, ", {} after ping", duration(rtt));
            }
        }
    }
    out.push(')');
}

/// The `ws_frame` that completed message `e`: same direction and frame number, among the
/// connection's events (looking at most [`LOOKBACK`] events from the first of that frame).
pub fn last_frame(tl: &Timeline, c: &ConnTrack, e: &Event) -> Option<WsFrame> {
    let from = c
        .events
        .partition_point(|&i| tl.frame(i).is_some_and(|f| f < e.frame));
    let rest = c.events.get(from..).unwrap_or(&[]);
    rest.iter()
        .take(LOOKBACK)
        .take_while(|&&i| tl.frame(i).is_some_and(|f| f <= e.frame))
        .filter(|&&i| tl.dir(i) == e.dir && tl.kind(i) == Some("ws_frame"))
        .find_map(|&i| match tl.event(i)?.into_owned().body {
            EventBody::WsFrame(f) => Some(f),
            _ => None,
        })
}

/// Time since the ping this pong answers (same payload, other direction), looking back at
/// most [`LOOKBACK`] events.
fn ping_rtt(tl: &Timeline, c: &ConnTrack, e: &Event, m: &WsMessage) -> Option<u64> {
    let at = c
        .events
        .partition_point(|&i| tl.frame(i).is_some_and(|f| f < e.frame));
    let earlier = c.events.get(..at)?;
    let back = e.dir.map(Dir::rev);
    earlier
        .iter()
        .rev()
        .take(LOOKBACK)
        .filter(|&&i| tl.dir(i) == back && tl.kind(i) == Some("ws_message"))
        .find_map(|&i| {
            let x = tl.event(i)?;
            match &x.body {
                EventBody::WsMessage(p)
                    if p.opcode == Opcode::Ping && p.data.kept == m.data.kept =>
                {
                    Some(e.t.0.saturating_sub(x.t.0))
                }
                _ => None,
            }
        })
}

/// Whether `haystack` contains `needle_lower` (already lowercase), ignoring case; without
/// allocating when the needle is ASCII (the search runs over every row).
pub fn contains_folded(haystack: &str, needle_lower: &str) -> bool {
    if needle_lower.is_ascii() {
        let (h, n) = (haystack.as_bytes(), needle_lower.as_bytes());
        n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
    } else {
        haystack.to_lowercase().contains(needle_lower)
    }
}

/// `1,204,000`: thousands separated.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `+0.000034`: time since the previous row.
pub fn delta(ns: u64) -> String {
    format!("+{}", time(ns))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::sample;
    use crate::tui::timeline::ViewLayer;

    fn labels(conn: usize, layer: ViewLayer) -> Vec<String> {
        let mut tl = Timeline::new(1 << 20);
        for e in sample::demo() {
            tl.push(e);
        }
        let c = tl.conn(conn).unwrap();
        c.rows(layer)
            .iter()
            .map(|&ix| {
                let mut s = String::new();
                arrow(&mut s, &tl, Some(c), ix);
                s
            })
            .collect()
    }

    #[test]
    fn websocket_session_reads_like_the_issue() {
        let l = labels(0, ViewLayer::Application);
        assert_eq!(
            l[..5],
            [
                "SYN  seq=0  MSS=65495 WS=×128 SACK",
                "SYN-ACK  seq=0 ack=1  RTT 21 µs  MSS=65495 WS=×128 SACK",
                "ACK  seq=1 ack=1  handshake done",
                "GET /chat  Upgrade: websocket",
                "101 Switching Protocols  accept ✓",
            ]
        );
        assert!(l.contains(&"Text \"hello websocket\"  (15 B, masked)".to_string()));
        assert!(l.contains(&"Text \"hello websocket\"  (15 B)".to_string()));
        assert!(l.contains(&"Binary 00 01 02 03 fe ff  (6 B, masked)".to_string()));
        assert!(l.contains(&"Ping \"are you there\"  (13 B, masked)".to_string()));
        assert!(l.contains(&"Pong \"are you there\"  (13 B, 63 µs after ping)".to_string()));
        assert!(l.contains(&"Close 1000 Normal Closure \"bye\"  (5 B, masked)".to_string()));
        assert!(l.contains(&"Text \"fragmented message\"  (18 B, 2 frames, masked)".to_string()));
    }

    #[test]
    fn wire_text_is_escaped() {
        let l = labels(3, ViewLayer::Application);
        let red = l.iter().find(|s| s.contains("31m")).unwrap();
        assert!(!red.chars().any(char::is_control), "{red}");
        assert!(red.contains("\\u{1b}[31m"));
        assert_eq!(clean("a\u{1b}b\"c"), "a\\u{1b}b\"c");
        // The whole Bidi_Control set, as the text view escapes it.
        assert_eq!(clean("\u{200f}\u{61c}x"), "\\u{200f}\\u{61c}x");
    }

    fn label_of(body: EventBody) -> String {
        let mut tl = Timeline::new(16);
        let e = crate::model::Stamp::default().event(Some(0), Some(Dir::S2c), body);
        tl.push(e);
        let mut s = String::new();
        arrow(&mut s, &tl, None, 0);
        s
    }

    fn sio(engine_type: &'static str) -> SocketIoPacket {
        SocketIoPacket::new("websocket", engine_type)
    }

    #[test]
    fn subprotocol_arrows_read_like_the_issue() {
        let sse = SseEvent {
            event: Some("tick".into()),
            id: Some("3".into()),
            data: "a long line of data that goes on and on".into(),
            retry: None,
            data_len: 39,
            comment: None,
            dispatched: true,
            incomplete: false,
        };
        assert_eq!(
            label_of(EventBody::SseEvent(Box::new(sse.clone()))),
            "SSE tick #3 \"a long line of data that goes on…\""
        );
        let retry = SseEvent {
            event: None,
            id: None,
            data: String::new(),
            retry: Some(3000),
            data_len: 0,
            comment: Some("hello\u{1b}".into()),
            dispatched: false,
            ..sse
        };
        assert_eq!(
            label_of(EventBody::SseEvent(Box::new(retry))),
            "SSE (no event) retry=3000 ms : \"hello\\u{1b}\""
        );
        let send = StompFrame {
            command: "SEND".into(),
            headers: vec![("destination".into(), "/topic/chat".into())],
            body: Some("hello".into()),
            body_len: 5,
            incomplete: false,
        };
        assert_eq!(
            label_of(EventBody::Stomp(Box::new(send))),
            "STOMP SEND /topic/chat \"hello\""
        );
        let connected = StompFrame {
            command: "CONNECTED".into(),
            headers: vec![
                ("version".into(), "1.2".into()),
                ("heart-beat".into(), "100,100".into()),
            ],
            body: None,
            body_len: 0,
            incomplete: false,
        };
        assert_eq!(
            label_of(EventBody::Stomp(Box::new(connected))),
            "STOMP CONNECTED v1.2 heart-beat 100,100"
        );
        let beat = StompFrame {
            command: "HEARTBEAT".into(),
            headers: vec![],
            body: None,
            body_len: 0,
            incomplete: false,
        };
        assert_eq!(
            label_of(EventBody::Stomp(Box::new(beat))),
            "STOMP heart-beat"
        );
        let mut chat = sio("message");
        chat.socketio_type = Some("EVENT");
        chat.namespace = Some("/".into());
        chat.event = Some("chat".into());
        chat.data = Some("[\"hi\"]".into());
        assert_eq!(
            label_of(EventBody::Socketio(Box::new(chat.clone()))),
            "socket.io EVENT chat [\"hi\"]"
        );
        chat.ack_id = Some(4);
        chat.namespace = Some("/admin".into());
        assert_eq!(
            label_of(EventBody::Socketio(Box::new(chat))),
            "socket.io EVENT /admin chat [\"hi\"]  ack 4"
        );
        let mut connect = sio("message");
        connect.socketio_type = Some("CONNECT");
        connect.namespace = Some("/".into());
        connect.transport = "polling";
        assert_eq!(
            label_of(EventBody::Socketio(Box::new(connect))),
            "socket.io CONNECT /  · polling"
        );
        assert_eq!(
            label_of(EventBody::Socketio(Box::new(sio("ping")))),
            "engine.io ping"
        );
        let mut open = sio("open");
        open.sid = Some("zQy".into());
        open.data = Some("{\"sid\":\"zQy\"}".into());
        assert_eq!(
            label_of(EventBody::Socketio(Box::new(open))),
            "engine.io open sid=zQy"
        );
        let mut att = sio("message");
        att.binary_len = Some(6);
        att.attachment = Some(1);
        assert_eq!(
            label_of(EventBody::Socketio(Box::new(att))),
            "socket.io attachment #1  (6 B)"
        );
    }

    #[test]
    fn folded_search() {
        assert!(contains_folded("Pong \"are you\"", "pong"));
        assert!(contains_folded("ÉTÉ à Paris", "été"));
        assert!(!contains_folded("Ping", "pong"));
        assert!(contains_folded("x", ""));
    }

    #[test]
    fn numbers() {
        assert_eq!(count(1_204_000), "1,204,000");
        assert_eq!(count(12), "12");
        assert_eq!(bytes(1234), "1.2 kB");
        assert_eq!(time(1_000_512_000), "1.000512");
        assert_eq!(delta(34_000), "+0.000034");
    }
}
