//! Explanations: for one event, a few plain sentences on what is happening and why.
//!
//! The texts are data, not code: `assets/explain/en.toml` and `assets/explain/ko.toml`, one
//! `"key" = "text"` entry per explanation, embedded in the binary with `include_str!`. An event
//! maps to a chain of keys from the most specific to its kind's general one
//! ([`key_chain`]: `close.1006` -> `ws_message.close` -> `ws_message`); [`explain`] takes the
//! first key whose text exists and whose `{placeholders}` the event can fill.
//!
//! Placeholders are a fixed set ([`PLACEHOLDERS`]) filled from the event by [`values`]; wire
//! text put into a placeholder is escaped and cut short, so an explanation never carries a
//! control character from a packet. A `{name}` outside the set stays visible as written (a test
//! keeps the assets free of them).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::model::{
    BodyKind, ConnId, ConnState, Dir, Event, EventBody, GapReason, Headers, Opcode, Pattern,
    PatternReport, SseEvent, TcpAnalysis, TcpSegment,
};

/// The language the explanations are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    En,
    Ko,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ko];

    /// The ISO 639-1 code: "en", "ko".
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ko => "ko",
        }
    }

    /// The language of the user's locale: Korean when the first of `LC_ALL`, `LC_MESSAGES`
    /// and `LANG` that is set and not empty starts with `ko`, English otherwise.
    pub fn from_env() -> Lang {
        let var = |n: &str| std::env::var(n).ok();
        Lang::from_locale(
            var("LC_ALL").as_deref(),
            var("LC_MESSAGES").as_deref(),
            var("LANG").as_deref(),
        )
    }

    /// [`Lang::from_env`] on given values: POSIX precedence, the first non-empty one decides
    /// (`ko_KR.UTF-8`, `ko` are Korean; `C`, `en_US.UTF-8` are not).
    pub fn from_locale(
        lc_all: Option<&str>,
        lc_messages: Option<&str>,
        lang: Option<&str>,
    ) -> Lang {
        let chosen = [lc_all, lc_messages, lang]
            .into_iter()
            .flatten()
            .find(|v| !v.is_empty());
        match chosen {
            Some(v) if v.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("ko")) => Lang::Ko,
            _ => Lang::En,
        }
    }

    /// The asset file's text.
    pub fn source(self) -> &'static str {
        match self {
            Lang::En => include_str!("../assets/explain/en.toml"),
            Lang::Ko => include_str!("../assets/explain/ko.toml"),
        }
    }
}

/// Parses an explanation file: a TOML table of `"key" = "text"` strings.
pub fn parse(src: &str) -> Result<BTreeMap<String, String>, String> {
    toml::from_str(src).map_err(|e| e.to_string())
}

/// The texts of `lang`, parsed on first use. The assets are embedded and checked by tests, so
/// a parse failure cannot happen in a built binary; if it did, every explanation would be
/// absent rather than the program stopping.
fn table(lang: Lang) -> &'static BTreeMap<String, String> {
    static TABLES: [OnceLock<BTreeMap<String, String>>; 2] = [OnceLock::new(), OnceLock::new()];
    let slot = match lang {
        Lang::En => &TABLES[0],
        Lang::Ko => &TABLES[1],
    };
    slot.get_or_init(|| parse(lang.source()).unwrap_or_default())
}

/// The raw text (placeholders unfilled) of `key` in `lang`.
pub fn text(lang: Lang, key: &str) -> Option<&'static str> {
    table(lang).get(key).map(String::as_str)
}

/// The word that introduces an explanation ("Why", "이유").
pub fn why_label(lang: Lang) -> &'static str {
    text(lang, "label.why").unwrap_or("Why")
}

/// What the event alone does not say, from the events around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Context {
    /// This segment is the client's ACK that completes the 3-way handshake.
    pub handshake_ack: bool,
    /// The connection was established before this event (its handshake completed earlier, or
    /// the capture joined it late). A RST on a connection that never got there is a refusal.
    pub established: bool,
    /// A WebSocket Close message was seen on this connection before this event.
    pub ws_close_seen: bool,
}

/// Every key the code can ask for ([`key_chain`], [`analysis_key`] and the labels): the
/// assets hold exactly these, in both languages.
pub const KEYS: &[&str] = &[
    "label.why",
    "label.more_above",
    // connection
    "connection",
    "connection.joined_late",
    // tcp
    "tcp",
    "tcp.syn",
    "tcp.syn_ack",
    "tcp.ack",
    "tcp.ack_only",
    "tcp.data",
    "tcp.fin",
    "tcp.rst",
    "tcp.rst_refused",
    "tcp.retransmission",
    "tcp.out_of_order",
    "tcp.lost_segment",
    "tcp.duplicate_ack",
    "tcp.zero_window",
    "tcp.keep_alive",
    "tcp.keep_alive_ack",
    "tcp.window_update",
    "tcp.ack_lost_segment",
    "tcp.spurious_retransmission",
    "tcp.fast_retransmission",
    "tcp.zero_window_probe",
    "tcp.zero_window_probe_ack",
    "tcp.window_full",
    "tcp.reused_ports",
    // handshake, connection state, gap
    "handshake",
    "connection_state",
    "connection_state.established",
    "connection_state.websocket",
    "connection_state.closing",
    "connection_state.closed",
    "connection_state.reset",
    "connection_state.refused",
    "gap",
    "gap.not_captured",
    "gap.truncated",
    // http
    "http_request",
    "http_request.upgrade",
    "http_response",
    "http_response.101",
    "http_response.101_bad_accept",
    "http_response.event_stream",
    "http_response.chunked",
    "http_response.held",
    "http_response.204",
    "http_response.304",
    "http_response.1xx",
    "http_response.2xx",
    "http_response.3xx",
    "http_response.4xx",
    "http_response.5xx",
    "http_body",
    "http_body.chunk",
    "http_body.last_chunk",
    // websocket
    "ws_frame",
    "ws_frame.rsv1",
    "ws_frame.continuation",
    "ws_frame.fragment",
    "ws_frame.masked",
    "ws_frame.unmasked",
    "ws_message",
    "ws_message.text",
    "ws_message.binary",
    "ws_message.fragmented",
    "ws_message.compressed",
    "ws_message.ping",
    "ws_message.pong",
    "ws_message.close",
    "ws_message.reserved",
    "close.1000",
    "close.1001",
    "close.1002",
    "close.1003",
    "close.1006",
    "close.1007",
    "close.1008",
    "close.1009",
    "close.1011",
    "close.none",
    "close.reserved",
    "close.app",
    // violations, malformed
    "violation",
    "violation.unmasked_client_frame",
    "violation.masked_server_frame",
    "violation.reserved_opcode",
    "violation.reserved_bits",
    "violation.rsv1_without_extension",
    "violation.rsv1_on_control",
    "violation.rsv1_on_continuation",
    "violation.control_frame_too_long",
    "violation.fragmented_control_frame",
    "violation.continuation_without_start",
    "violation.new_message_while_fragmented",
    "violation.non_minimal_length",
    "violation.length_msb_set",
    "violation.data_after_close",
    "violation.inflate_limit",
    "violation.inflate_error",
    "violation.close_payload_one_byte",
    "violation.invalid_close_code",
    "violation.invalid_utf8",
    "violation.data_before_upgrade_answer",
    "violation.upgrade_without_request",
    "violation.websocket_accept_mismatch",
    "violation.websocket_upgrade_header",
    "violation.websocket_connection_header",
    "violation.invalid_deflate_params",
    "violation.transfer_encoding_with_content_length",
    "violation.transfer_encoding_not_chunked",
    "violation.tls_record_overflow",
    "violation.tls_bad_record_header",
    "violation.tls_bad_alert",
    "malformed",
    "note",
    "note.not_http",
    "note.upgrade_not_captured",
    "note.joined_mid_frame",
    "note.deflate_history_not_captured",
    "note.capture_ended_in_body",
    "note.capture_ended_in_head",
    "note.capture_ended_in_frame",
    "note.peer_closed_in_body",
    "note.link_not_supported",
    "note.ip_fragment",
    "note.too_deep",
    "data",
    // connection end
    "connection_end",
    "connection_end.closed",
    "connection_end.reset",
    "connection_end.refused",
    "connection_end.handshaking",
    "connection_end.open",
    "connection_end.half_closed",
    // sse
    "sse_event",
    "sse_event.id",
    "sse_event.retry",
    "sse_event.not_dispatched",
    "sse_event.comment",
    "sse_event.unterminated",
    // stomp
    "stomp",
    "stomp.connect",
    "stomp.connected",
    "stomp.send",
    "stomp.subscribe",
    "stomp.unsubscribe",
    "stomp.message",
    "stomp.ack",
    "stomp.transaction",
    "stomp.receipt",
    "stomp.error",
    "stomp.disconnect",
    "stomp.heartbeat",
    // socket.io
    "socketio",
    "socketio.probe",
    "socketio.engine.open",
    "socketio.engine.close",
    "socketio.engine.ping",
    "socketio.engine.pong",
    "socketio.engine.ping_client",
    "socketio.engine.pong_server",
    "socketio.engine.message",
    "socketio.engine.upgrade",
    "socketio.engine.noop",
    "socketio.packet.connect",
    "socketio.packet.disconnect",
    "socketio.packet.event",
    "socketio.packet.ack",
    "socketio.packet.connect_error",
    "socketio.packet.binary_event",
    "socketio.packet.binary_ack",
    // tls
    "tls_record",
    "tls_record.handshake",
    "tls_record.change_cipher_spec",
    "tls_record.encrypted",
    "tls_record.decrypted",
    "tls_handshake",
    "tls_handshake.client_hello",
    "tls_handshake.server_hello",
    "tls_handshake.server_hello_resumed",
    "tls_handshake.hello_retry_request",
    "tls_handshake.encrypted_extensions",
    "tls_handshake.certificate",
    "tls_handshake.certificate_request",
    "tls_handshake.certificate_verify",
    "tls_handshake.server_key_exchange",
    "tls_handshake.server_hello_done",
    "tls_handshake.client_key_exchange",
    "tls_handshake.finished",
    "tls_handshake.new_session_ticket",
    "tls_handshake.key_update",
    "tls_handshake.end_of_early_data",
    "tls_alert",
    "tls_alert.close_notify",
    "tls_alert.fatal",
    "note.tls_keys_missing",
    "note.tls_decrypt_failed",
    "note.tls_early_data",
    "note.tls_handshake_too_large",
    "note.tls_record_cut",
    "note.tls_keylog_bad_lines",
    // patterns
    "pattern",
    "pattern.short-polling",
    "pattern.long-polling",
    "pattern.streaming",
    "pattern.websocket",
    "pattern.none",
    "pattern.update",
];

/// Every placeholder a text may use. [`values`] fills the ones an event has.
pub const PLACEHOLDERS: &[&str] = &[
    "client",
    "server",
    "seq",
    "ack",
    "len",
    "next",
    "win",
    "mss",
    "wscale",
    "irtt",
    "syn_ack_rtt",
    "method",
    "target",
    "status",
    "key",
    "accept",
    "expected",
    "chunk",
    "mask_key",
    "frames",
    "code",
    "code_name",
    "reason",
    "rule",
    "duration",
    "event",
    "id",
    "retry",
    "command",
    "destination",
    "transport",
    "namespace",
    "bytes",
    "requests",
    "conns",
    "interval",
    "held",
    "chunks",
    "messages",
    "overhead",
    "sni",
    "version",
    "suite",
    "subject",
    "inner",
    "alert",
];

/// The key of a TCP analysis flag: `tcp.` and the flag's JSON name.
pub fn analysis_key(a: TcpAnalysis) -> &'static str {
    // Exhaustive on purpose: a flag added to the model needs a text before this compiles.
    match a {
        TcpAnalysis::Retransmission => "tcp.retransmission",
        TcpAnalysis::OutOfOrder => "tcp.out_of_order",
        TcpAnalysis::LostSegment => "tcp.lost_segment",
        TcpAnalysis::DuplicateAck => "tcp.duplicate_ack",
        TcpAnalysis::ZeroWindow => "tcp.zero_window",
        TcpAnalysis::KeepAlive => "tcp.keep_alive",
        TcpAnalysis::KeepAliveAck => "tcp.keep_alive_ack",
        TcpAnalysis::WindowUpdate => "tcp.window_update",
        TcpAnalysis::AckLostSegment => "tcp.ack_lost_segment",
        TcpAnalysis::SpuriousRetransmission => "tcp.spurious_retransmission",
        TcpAnalysis::FastRetransmission => "tcp.fast_retransmission",
        TcpAnalysis::ZeroWindowProbe => "tcp.zero_window_probe",
        TcpAnalysis::ZeroWindowProbeAck => "tcp.zero_window_probe_ack",
        TcpAnalysis::WindowFull => "tcp.window_full",
        TcpAnalysis::ReusedPorts => "tcp.reused_ports",
    }
}

/// The key in `KEYS` that is `prefix` followed by `name` (ASCII case-insensitive), if any:
/// wire and decoder names become keys only when a text exists for them.
fn known(prefix: &str, name: &str) -> Option<&'static str> {
    KEYS.iter().copied().find(|k| {
        k.strip_prefix(prefix)
            .is_some_and(|rest| rest.eq_ignore_ascii_case(name))
    })
}

/// The explanation keys of `e`, most specific first, ending with its kind (a key of
/// [`crate::model::EVENT_KINDS`]). Every key is one of [`KEYS`]. TCP analysis flags are
/// not in the chain: [`analysis_key`] names them, one per flag.
pub fn key_chain(e: &Event, cx: Context) -> Vec<&'static str> {
    let mut k: Vec<&'static str> = Vec::with_capacity(4);
    match &e.body {
        EventBody::Connection(c) => {
            if c.joined_late {
                k.push("connection.joined_late");
            }
        }
        EventBody::Tcp(s) => tcp_keys(s, cx, &mut k),
        EventBody::Handshake(_) | EventBody::Malformed(_) | EventBody::Data(_) => {}
        EventBody::ConnectionState(c) => k.push(match c.state {
            _ if c.websocket && c.from == c.state => "connection_state.websocket",
            ConnState::Established => "connection_state.established",
            ConnState::Closing => "connection_state.closing",
            ConnState::Closed => "connection_state.closed",
            ConnState::Reset => "connection_state.reset",
            ConnState::Refused => "connection_state.refused",
            // No change leads back to handshaking; the kind's text covers it.
            ConnState::Handshaking => "connection_state",
        }),
        EventBody::Note(n) => {
            // A specific text for each note name as it gains one (`note.not_http`...).
            if let Some(key) = known("note.", n.note) {
                k.push(key);
            }
        }
        EventBody::Gap(g) => k.push(match g.reason {
            GapReason::NotCaptured => "gap.not_captured",
            GapReason::Truncated => "gap.truncated",
        }),
        EventBody::HttpRequest(r) => {
            if header_is(&r.headers, "upgrade", "websocket") {
                k.push("http_request.upgrade");
            }
        }
        EventBody::HttpResponse(r) => {
            if let Some(u) = &r.upgrade {
                if !u.accept_valid {
                    k.push("http_response.101_bad_accept");
                }
                k.push("http_response.101");
            }
            let success = (200..300).contains(&r.status);
            if success && header_starts(&r.headers, "content-type", "text/event-stream") {
                k.push("http_response.event_stream");
            }
            if success && r.body == BodyKind::Chunked {
                k.push("http_response.chunked");
            }
            // The server kept the request a while: what long polling (or a slow server)
            // looks like, worth more than the status class.
            let held = r
                .time_since_request
                .is_some_and(|t| t.0 >= crate::pattern::HOLD_FLOOR_NS);
            if held && r.status >= 200 {
                k.push("http_response.held");
            }
            match r.status {
                204 => k.push("http_response.204"),
                304 => k.push("http_response.304"),
                _ => {}
            }
            match r.status / 100 {
                1 => k.push("http_response.1xx"),
                2 => k.push("http_response.2xx"),
                3 => k.push("http_response.3xx"),
                4 => k.push("http_response.4xx"),
                5 => k.push("http_response.5xx"),
                _ => {}
            }
        }
        EventBody::HttpBody(b) => {
            if b.chunk.is_some() {
                if b.end && b.len == 0 {
                    k.push("http_body.last_chunk");
                }
                k.push("http_body.chunk");
            }
        }
        EventBody::WsFrame(f) => {
            if f.rsv1 {
                k.push("ws_frame.rsv1");
            }
            if f.opcode == Opcode::Continuation {
                k.push("ws_frame.continuation");
            } else if !f.fin {
                k.push("ws_frame.fragment");
            }
            match (f.masked, e.dir) {
                (true, _) => k.push("ws_frame.masked"),
                (false, Some(Dir::S2c)) => k.push("ws_frame.unmasked"),
                _ => {}
            }
        }
        EventBody::WsMessage(m) => match m.opcode {
            Opcode::Close => {
                k.push(close_key(m.code));
                k.push("ws_message.close");
            }
            Opcode::Ping => k.push("ws_message.ping"),
            Opcode::Pong => k.push("ws_message.pong"),
            Opcode::Reserved(_) => k.push("ws_message.reserved"),
            Opcode::Text | Opcode::Binary => {
                if m.compressed {
                    k.push("ws_message.compressed");
                }
                if m.frames > 1 {
                    k.push("ws_message.fragmented");
                }
                k.push(if m.opcode == Opcode::Text {
                    "ws_message.text"
                } else {
                    "ws_message.binary"
                });
            }
            Opcode::Continuation => {}
        },
        EventBody::Violation(v) => {
            if let Some(key) = known("violation.", v.rule) {
                k.push(key);
            }
        }
        EventBody::ConnectionEnd(c) => {
            let dropped = c.websocket && !cx.ws_close_seen;
            match c.state {
                ConnState::Closed | ConnState::Reset if dropped => k.push("close.1006"),
                _ => {}
            }
            k.push(match c.state {
                ConnState::Closed => "connection_end.closed",
                ConnState::Reset => "connection_end.reset",
                ConnState::Refused => "connection_end.refused",
                ConnState::Handshaking => "connection_end.handshaking",
                ConnState::Established => "connection_end.open",
                ConnState::Closing => "connection_end.half_closed",
            });
        }
        EventBody::SseEvent(s) => {
            if !s.dispatched {
                k.push(sse_not_dispatched_key(s));
            }
            if s.retry.is_some() {
                k.push("sse_event.retry");
            }
            if s.id.is_some() {
                k.push("sse_event.id");
            }
        }
        EventBody::Stomp(f) => {
            let key = match f.command.as_str() {
                "STOMP" => Some("stomp.connect"),
                "NACK" => Some("stomp.ack"),
                "BEGIN" | "COMMIT" | "ABORT" => Some("stomp.transaction"),
                c => known("stomp.", c),
            };
            k.extend(key);
        }
        EventBody::Socketio(p) => {
            if let Some(t) = p.socketio_type {
                k.extend(known("socketio.packet.", t));
            }
            let probe = p.data.as_deref().is_some_and(|d| d.contains("probe"));
            if probe && matches!(p.engine_type, "ping" | "pong") {
                k.push("socketio.probe");
            }
            // Engine.IO 3 (Socket.IO 2): the client pings and the server pongs; Engine.IO 4
            // turned it around. The direction tells which protocol this is, on either
            // transport (a polling ping rides in a POST body or a GET answer the same way).
            match (p.engine_type, e.dir) {
                ("ping", Some(Dir::C2s)) => k.push("socketio.engine.ping_client"),
                ("pong", Some(Dir::S2c)) => k.push("socketio.engine.pong_server"),
                _ => {}
            }
            k.extend(known("socketio.engine.", p.engine_type));
        }
        EventBody::TlsRecord(r) => {
            use crate::model::TlsContentType;
            k.push(match (r.encrypted, r.inner_type) {
                (true, Some(_)) => "tls_record.decrypted",
                (true, None) => "tls_record.encrypted",
                (false, _) if r.content_type == TlsContentType::CHANGE_CIPHER_SPEC => {
                    "tls_record.change_cipher_spec"
                }
                (false, _) if r.content_type == TlsContentType::HANDSHAKE => "tls_record.handshake",
                _ => "tls_record",
            });
        }
        EventBody::TlsHandshake(h) => {
            if h.resumed {
                k.push("tls_handshake.server_hello_resumed");
            }
            if let Some(n) = h.handshake_type.name() {
                k.extend(known("tls_handshake.", n));
            }
        }
        EventBody::TlsAlert(a) => {
            if a.description == crate::model::TlsAlertDescription::CLOSE_NOTIFY {
                k.push("tls_alert.close_notify");
            } else if a.level.0 == 2 {
                k.push("tls_alert.fatal");
            }
        }
        EventBody::Pattern(r) if !r.is_final && r.pattern != Pattern::None => {
            k.push("pattern.update")
        }
        EventBody::Pattern(r) => k.push(match r.pattern {
            Pattern::ShortPolling => "pattern.short-polling",
            Pattern::LongPolling => "pattern.long-polling",
            Pattern::Streaming => "pattern.streaming",
            Pattern::Websocket => "pattern.websocket",
            Pattern::None => "pattern.none",
        }),
    }
    k.push(e.body.kind());
    k
}

/// The key of an SSE block a browser does not dispatch (WHATWG HTML §9.2.6): one cut off by
/// the end of the stream (it had data but no blank line), one of comment lines only, or one
/// of fields without a `data` line.
fn sse_not_dispatched_key(s: &SseEvent) -> &'static str {
    let fields = s.id.is_some() || s.retry.is_some() || s.event.is_some();
    if s.data_len > 0 {
        "sse_event.unterminated"
    } else if s.comment.is_some() && !fields {
        "sse_event.comment"
    } else {
        "sse_event.not_dispatched"
    }
}

fn tcp_keys(s: &TcpSegment, cx: Context, k: &mut Vec<&'static str>) {
    use crate::model::tcp_flags::{ACK, FIN, RST, SYN};
    let f = s.flags;
    if f.has(SYN) {
        k.push(if f.has(ACK) { "tcp.syn_ack" } else { "tcp.syn" });
    } else if f.has(RST) {
        if !cx.established {
            k.push("tcp.rst_refused");
        }
        k.push("tcp.rst");
    } else if f.has(FIN) {
        k.push("tcp.fin");
    } else if cx.handshake_ack {
        k.push("tcp.ack");
    } else if s.len > 0 {
        k.push("tcp.data");
    } else {
        k.push("tcp.ack_only");
    }
}

/// RFC 6455 §7.4: the codes with a text of their own.
fn close_key(code: Option<u16>) -> &'static str {
    match code {
        None => "close.none",
        Some(1000) => "close.1000",
        Some(1001) => "close.1001",
        Some(1002) => "close.1002",
        Some(1003) => "close.1003",
        Some(1006) => "close.1006",
        Some(1007) => "close.1007",
        Some(1008) => "close.1008",
        Some(1009) => "close.1009",
        Some(1011) => "close.1011",
        // §7.4.1: 1004 is reserved, 1005 and 1015 are for local reporting only.
        Some(1004 | 1005 | 1015) => "close.reserved",
        Some(3000..=4999) => "close.app",
        Some(_) => "ws_message.close",
    }
}

fn header<'a>(h: &'a Headers, name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn header_is(h: &Headers, name: &str, value: &str) -> bool {
    header(h, name).is_some_and(|v| v.trim().eq_ignore_ascii_case(value))
}

fn header_starts(h: &Headers, name: &str, prefix: &str) -> bool {
    header(h, name)
        .and_then(|v| v.trim().get(..prefix.len()))
        .is_some_and(|v| v.eq_ignore_ascii_case(prefix))
}

/// Longest wire text put into a placeholder, in characters.
const MAX_VALUE_CHARS: usize = 48;

/// Placeholder values of one event: `(name, value)` pairs, names from [`PLACEHOLDERS`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values(Vec<(&'static str, String)>);

impl Values {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `name` (one of [`PLACEHOLDERS`]) to `value`, as it is.
    pub fn set(&mut self, name: &'static str, value: impl Into<String>) {
        self.0.push((name, value.into()));
    }

    /// Sets `name` to wire text: control characters escaped, cut at [`MAX_VALUE_CHARS`].
    fn wire(&mut self, name: &'static str, value: &str) {
        let escaped = crate::view::text::escape(value);
        let mut v: String = escaped.chars().take(MAX_VALUE_CHARS).collect();
        if escaped.chars().nth(MAX_VALUE_CHARS).is_some() {
            v.push('…');
        }
        self.0.push((name, v));
    }
}

/// The placeholder values `e` can fill.
pub fn values(e: &Event) -> Values {
    let mut v = Values::default();
    match &e.body {
        EventBody::Connection(c) => {
            v.set("client", c.client.to_string());
            v.set("server", c.server.to_string());
        }
        EventBody::Tcp(s) => {
            use crate::model::tcp_flags::{FIN, SYN};
            v.set("seq", s.seq.to_string());
            if let Some(a) = s.ack {
                v.set("ack", a.to_string());
            }
            v.set("len", s.len.to_string());
            // RFC 9293 §3.4: SYN and FIN each take one sequence number.
            let extra = u32::from(s.flags.has(SYN)) + u32::from(s.flags.has(FIN));
            v.set(
                "next",
                s.seq.wrapping_add(s.len).wrapping_add(extra).to_string(),
            );
            v.set("win", s.win.to_string());
            if let Some(o) = &s.options {
                if let Some(m) = o.mss {
                    v.set("mss", m.to_string());
                }
                if let Some(w) = o.wscale {
                    v.set("wscale", w.to_string());
                }
            }
        }
        EventBody::Handshake(h) => {
            v.set("irtt", duration(h.irtt.0));
            v.set("syn_ack_rtt", duration(h.syn_ack_rtt.0));
        }
        EventBody::ConnectionState(_) => {}
        EventBody::Gap(g) => {
            v.set("seq", g.seq.to_string());
            v.set("len", g.len.to_string());
        }
        EventBody::HttpRequest(r) => {
            v.wire("method", &r.method);
            v.wire("target", &r.target);
        }
        EventBody::HttpResponse(r) => {
            v.set("status", r.status.to_string());
            v.wire("reason", &r.reason);
            if let Some(t) = r.time_since_request {
                v.set("held", duration(t.0));
            }
            if let Some(u) = &r.upgrade {
                v.wire("key", &u.key);
                v.wire("accept", &u.accept);
                v.wire("expected", &u.accept_expected);
            }
        }
        EventBody::HttpBody(b) => {
            v.set("len", b.len.to_string());
            if let Some(c) = b.chunk {
                v.set("chunk", c.to_string());
            }
        }
        EventBody::WsFrame(f) => {
            v.set("len", f.payload_len.to_string());
            if let Some(k) = &f.mask_key {
                v.wire("mask_key", k);
            }
        }
        EventBody::WsMessage(m) => {
            v.set("len", m.len.to_string());
            v.set("frames", m.frames.to_string());
            if let Some(c) = m.code {
                v.set("code", c.to_string());
            }
            if let Some(n) = m.code_name {
                v.set("code_name", n);
            }
            if let Some(r) = &m.reason {
                v.wire("reason", r);
            }
        }
        EventBody::Violation(x) => v.set("rule", x.rule),
        EventBody::Malformed(_) => {}
        EventBody::Data(b) => v.set("len", b.len.to_string()),
        EventBody::Note(n) => {
            if let Some(b) = n.bytes {
                v.set("bytes", b.to_string());
            }
        }
        EventBody::ConnectionEnd(c) => v.set("duration", duration(c.duration.0)),
        EventBody::SseEvent(s) => {
            v.wire("event", s.event.as_deref().unwrap_or("message"));
            if let Some(id) = &s.id {
                v.wire("id", id);
            }
            if let Some(r) = s.retry {
                v.set("retry", r.to_string());
            }
        }
        EventBody::Stomp(f) => {
            v.wire("command", &f.command);
            if let Some(d) = header(&f.headers, "destination") {
                v.wire("destination", d);
            }
        }
        EventBody::Socketio(p) => {
            v.set("transport", p.transport);
            v.wire("namespace", p.namespace.as_deref().unwrap_or("/"));
            if let Some(ev) = &p.event {
                v.wire("event", ev);
            }
        }
        EventBody::TlsRecord(r) => {
            v.set("len", r.length.to_string());
            if let Some(t) = r.inner_type {
                let name = t
                    .name()
                    .map_or_else(|| t.0.to_string(), |n| n.replace('_', " "));
                v.set("inner", name);
            }
        }
        EventBody::TlsHandshake(h) => {
            v.set("len", h.length.to_string());
            if let Some(s) = &h.sni {
                v.wire("sni", s);
            }
            if let Some(ver) = h.version {
                v.set("version", ver.to_string());
            }
            if let Some(c) = h.cipher_suite {
                v.set("suite", c.to_string());
            }
            if let Some(s) = &h.subject {
                v.wire("subject", s);
            }
        }
        EventBody::TlsAlert(a) => {
            let mut s = String::new();
            crate::view::tls::alert(&mut s, a);
            v.set("alert", s.trim_start_matches("Alert ").to_string());
        }
        EventBody::Pattern(r) => pattern_values(&mut v, r),
    }
    v
}

/// The placeholders a pattern report fills.
fn pattern_values(v: &mut Values, r: &PatternReport) {
    v.set("requests", r.requests.to_string());
    v.set("conns", r.conns.len().to_string());
    v.set("duration", duration(r.duration.0));
    v.set("overhead", bytes(r.overhead_bytes));
    if let Some(i) = &r.interval {
        v.set("interval", duration(i.median.0));
    }
    if let Some(h) = &r.held {
        v.set("held", duration(h.median.0));
    }
    if let Some(c) = r.chunks {
        v.set("chunks", c.to_string());
    }
    if let Some([up, down]) = r.messages {
        v.set("messages", up.saturating_add(down).to_string());
    }
}

/// What the pattern of `r` costs next to WebSocket, in `lang`: the text `decode --explain`
/// writes under the conversation's final `pattern` event (its pattern's own key, also for an
/// update, whose `--explain` line only says it is one). `None` for `none`.
pub fn pattern_lesson(lang: Lang, r: &PatternReport) -> Option<String> {
    let key = match r.pattern {
        Pattern::ShortPolling => "pattern.short-polling",
        Pattern::LongPolling => "pattern.long-polling",
        Pattern::Streaming => "pattern.streaming",
        Pattern::Websocket => "pattern.websocket",
        Pattern::None => return None,
    };
    let mut v = Values::default();
    pattern_values(&mut v, r);
    explain_keys(lang, &[key, "pattern"], &v)
}

/// `ns` for a reader: "26 µs", "7.803 ms", "1.250 s".
fn duration(ns: u64) -> String {
    crate::view::text::duration(ns)
}

/// `n` bytes for a reader: "850 B", "12.4 kB".
fn bytes(n: u64) -> String {
    if n < 1000 {
        format!("{n} B")
    } else if n < 1_000_000 {
        format!("{:.1} kB", n as f64 / 1e3)
    } else {
        format!("{:.1} MB", n as f64 / 1e6)
    }
}

/// The placeholder name at the start of `s` when `s` starts with `{name}` (a name of ASCII
/// letters, digits and `_`).
fn name_at(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('{')?;
    let end = rest.find('}')?;
    let name = rest.get(..end)?;
    let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then_some(name)
}

/// The `{name}` placeholders of `template`, in order.
pub fn placeholders(template: &str) -> impl Iterator<Item = &str> {
    template
        .match_indices('{')
        .filter_map(move |(at, _)| template.get(at..).and_then(name_at))
}

/// `template` with its placeholders replaced by `values`. `None` when it uses a known
/// placeholder that `values` lacks (the caller then tries a more general text); a `{name}`
/// that is not a known placeholder is left as written.
pub fn fill(template: &str, values: &Values) -> Option<String> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(at) = rest.find('{') {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        match name_at(from) {
            Some(n) if PLACEHOLDERS.contains(&n) => {
                out.push_str(values.get(n)?);
                rest = from.get(n.len() + 2..).unwrap_or("");
            }
            _ => {
                out.push('{');
                rest = from.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    Some(out)
}

/// The text of the first key of `keys` that `lang` has and `values` can fill.
pub fn explain_keys(lang: Lang, keys: &[&str], values: &Values) -> Option<String> {
    explain_keyed(lang, keys, values).map(|(_, t)| t)
}

/// [`explain_keys`] with the key whose text was chosen.
fn explain_keyed<'k>(lang: Lang, keys: &[&'k str], values: &Values) -> Option<(&'k str, String)> {
    keys.iter()
        .filter_map(|k| Some((*k, text(lang, k)?)))
        .find_map(|(k, t)| Some((k, fill(t, values)?)))
}

/// A few sentences on what `e` is and why it happens, in `lang`: the most specific text of
/// its [`key_chain`] that the event can fill. `None` only if the assets lack the kind's text.
pub fn explain(lang: Lang, e: &Event, cx: Context) -> Option<String> {
    explain_keys(lang, &key_chain(e, cx), &values(e))
}

/// Whether `synscope decode --explain` explains `e`: everything except TCP segments that are
/// neither SYN, FIN nor RST (one line per ACK would drown the transcript).
pub fn in_transcript(e: &Event) -> bool {
    use crate::model::tcp_flags::{FIN, RST, SYN};
    match &e.body {
        EventBody::Tcp(s) => s.flags.has(SYN) || s.flags.has(FIN) || s.flags.has(RST),
        _ => true,
    }
}

/// Most connections [`Tracker`] remembers at once; beyond it, it starts over (a wrong guess
/// costs a less specific sentence, never a crash or unbounded memory).
const MAX_TRACKED: usize = 65_536;

/// Builds each event's [`Context`] from the events before it, for a stream of events read in
/// order (the text transcript). Remembers each open connection until its `connection_end`.
/// It never sets [`Context::handshake_ack`]: the transcript does not explain bare ACKs
/// ([`in_transcript`]).
#[derive(Debug, Default)]
pub struct Tracker {
    conns: BTreeMap<ConnId, Seen>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    established: bool,
    ws_close: bool,
}

impl Tracker {
    /// The context of `e`, then takes `e` into account for the events after it.
    pub fn context(&mut self, e: &Event) -> Context {
        let Some(id) = e.conn else {
            return Context::default();
        };
        if self.conns.len() >= MAX_TRACKED && !self.conns.contains_key(&id) {
            self.conns.clear();
        }
        let seen = self.conns.entry(id).or_default();
        let cx = Context {
            handshake_ack: false,
            established: seen.established,
            ws_close_seen: seen.ws_close,
        };
        match &e.body {
            EventBody::Connection(c) => seen.established = c.joined_late,
            EventBody::Handshake(_) => seen.established = true,
            EventBody::WsMessage(m) if m.opcode == Opcode::Close => seen.ws_close = true,
            EventBody::ConnectionEnd(_) => {
                self.conns.remove(&id);
            }
            _ => {}
        }
        cx
    }
}

/// The first sentence of `text`: up to and including the first `.` followed by a space (both
/// languages end sentences so; a `.` inside `§5.3` or `1.1` is followed by a digit). The
/// whole text when it is one sentence.
pub fn first_sentence(text: &str) -> &str {
    match text.find(". ") {
        Some(at) => text.get(..=at).unwrap_or(text),
        None => text,
    }
}

/// The `why` lines of one `decode --explain` transcript. A text is written in full the first
/// time its key explains an event; later events it explains get only its first sentence
/// (which carries the event's own figures: the mask key, the length, the id) and a pointer
/// back (`label.more_above`), so a capture of a hundred masked frames does not repeat the
/// masking paragraph a hundred times. Memory: the keys written, a subset of [`KEYS`], and a
/// [`Tracker`].
#[derive(Debug, Default)]
pub struct Transcript {
    tracker: Tracker,
    written: std::collections::BTreeSet<&'static str>,
}

impl Transcript {
    /// The `why` text of `e` in `lang`, or `None` when the transcript does not explain `e`
    /// ([`in_transcript`]). Call it for every event in order, explained or not: the context
    /// of later events depends on earlier ones.
    pub fn why(&mut self, lang: Lang, e: &Event) -> Option<String> {
        let cx = self.tracker.context(e);
        if !in_transcript(e) {
            return None;
        }
        let chain = key_chain(e, cx);
        let (key, full) = explain_keyed(lang, &chain, &values(e))?;
        if self.written.insert(key) {
            return Some(full);
        }
        let first = first_sentence(&full);
        if first.len() == full.len() {
            return Some(full);
        }
        let more = text(lang, "label.more_above").unwrap_or("(more above)");
        Some(format!("{first} {more}"))
    }
}

#[cfg(test)]
mod tests;
