//! The display filter's fields: each JSON Lines field under its protocol's name
//! (`http.status` is `http_response`'s `status`, `ws.opcode` the `opcode` of `ws_frame` and
//! `ws_message`), how to read it from an [`Event`], and what it holds.

use std::net::{IpAddr, SocketAddr};

use crate::model::{
    tcp_flags, BodyKind, ConnState, Event, EventBody, GapReason, Headers, Layer, Opcode, Pattern,
    TcpAnalyses, TcpAnalysis, EVENT_KINDS,
};

use super::Endpoints;

/// One value of a field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val<'e> {
    Num(f64),
    Str(&'e str),
    Bool(bool),
    Ip(IpAddr),
    Sock(SocketAddr),
    /// A header as a (name, value) pair: text matches `name: value`.
    Header(&'e str, &'e str),
}

/// What a field holds, for the checks made when a filter is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// A protocol or event kind: only tested for presence (`http`, `ws_message`).
    Proto,
    Num,
    Text,
    Bool,
    /// An IP address (`ip.addr`), compared with an address or a host name.
    Addr,
    /// An address with its port (`connection.client`), compared with either.
    Sock,
}

impl Ty {
    pub fn describe(self) -> &'static str {
        match self {
            Ty::Proto => "a protocol",
            Ty::Num => "a number",
            Ty::Text => "text",
            Ty::Bool => "true or false",
            Ty::Addr => "an address",
            Ty::Sock => "an address and port",
        }
    }
}

/// Calls `f` with each value the event holds for the field, until `f` says true; says
/// whether it did. An event without the field calls `f` never.
pub type Get = for<'e> fn(&'e Event, Option<&Endpoints>, &mut dyn FnMut(Val<'e>) -> bool) -> bool;

pub struct FieldDef {
    pub name: &'static str,
    pub ty: Ty,
    /// The closed set of values the field takes (compared without regard to case), or empty.
    pub values: &'static [&'static str],
    pub get: Get,
}

/// A field as a filter names it: one of [`FIELDS`], or one made of a prefix and a name.
#[derive(Debug, Clone)]
pub enum Field {
    Def(&'static FieldDef),
    /// `tcp.flags.syn`: true or false on every `tcp` event.
    Flag(u8),
    /// `tcp.analysis.retransmission`: present (true) only on segments with the flag.
    Analysis(TcpAnalysis),
    /// `http.header.upgrade`: the values of that header (name without regard to case).
    HttpHeader(String),
    /// `stomp.header.destination`.
    StompHeader(String),
}

impl std::fmt::Debug for FieldDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl Field {
    pub fn ty(&self) -> Ty {
        match self {
            Field::Def(d) => d.ty,
            Field::Flag(_) | Field::Analysis(_) => Ty::Bool,
            Field::HttpHeader(_) | Field::StompHeader(_) => Ty::Text,
        }
    }

    pub fn values(&self) -> &'static [&'static str] {
        match self {
            Field::Def(d) => d.values,
            _ => &[],
        }
    }

    pub fn name(&self) -> String {
        match self {
            Field::Def(d) => d.name.to_string(),
            Field::Flag(bit) => format!(
                "tcp.flags.{}",
                flag_name(*bit).unwrap_or_default().to_ascii_lowercase()
            ),
            Field::Analysis(a) => format!("tcp.analysis.{}", analysis_name(*a)),
            Field::HttpHeader(h) => format!("http.header.{h}"),
            Field::StompHeader(h) => format!("stomp.header.{h}"),
        }
    }

    /// Calls `f` with each value of the field in `e` (see [`Get`]).
    pub fn each<'e>(
        &self,
        e: &'e Event,
        ends: Option<&Endpoints>,
        f: &mut dyn FnMut(Val<'e>) -> bool,
    ) -> bool {
        match self {
            Field::Def(d) => (d.get)(e, ends, f),
            Field::Flag(bit) => match &e.body {
                EventBody::Tcp(s) => f(Val::Bool(s.flags.has(*bit))),
                _ => false,
            },
            Field::Analysis(a) => match &e.body {
                EventBody::Tcp(s) if s.analysis.contains(a) => f(Val::Bool(true)),
                _ => false,
            },
            Field::HttpHeader(name) => match &e.body {
                EventBody::HttpRequest(r) => header_values(&r.headers, name, f),
                EventBody::HttpResponse(r) => header_values(&r.headers, name, f),
                _ => false,
            },
            Field::StompHeader(name) => match &e.body {
                EventBody::Stomp(s) => header_values(&s.headers, name, f),
                _ => false,
            },
        }
    }
}

fn header_values<'e>(h: &'e Headers, name: &str, f: &mut dyn FnMut(Val<'e>) -> bool) -> bool {
    h.iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .any(|(_, v)| f(Val::Str(v)))
}

fn headers<'e>(h: &'e Headers, f: &mut dyn FnMut(Val<'e>) -> bool) -> bool {
    h.iter().any(|(n, v)| f(Val::Header(n, v)))
}

fn flag_name(bit: u8) -> Option<&'static str> {
    tcp_flags::NAMES
        .iter()
        .find(|(b, _)| *b == bit)
        .map(|(_, n)| *n)
}

pub fn analysis_name(a: TcpAnalysis) -> &'static str {
    crate::view::json::analysis_name(a)
}

fn layer_name(l: Layer) -> &'static str {
    crate::view::json::layer_name(l)
}

fn body_kind(b: &BodyKind) -> &'static str {
    match b {
        BodyKind::None => "none",
        BodyKind::Length => "length",
        BodyKind::Chunked => "chunked",
        BodyKind::Close => "close",
    }
}

fn gap_reason(r: &GapReason) -> &'static str {
    match r {
        GapReason::NotCaptured => "not_captured",
        GapReason::Truncated => "truncated",
    }
}

fn pattern_name(p: Pattern) -> &'static str {
    match p {
        Pattern::ShortPolling => "short-polling",
        Pattern::LongPolling => "long-polling",
        Pattern::Streaming => "streaming",
        Pattern::Websocket => "websocket",
        Pattern::None => "none",
    }
}

fn opcode<'e>(o: Opcode) -> Val<'e> {
    match o {
        Opcode::Reserved(n) => Val::Num(f64::from(n)),
        o => Val::Str(o.name()),
    }
}

/// A TLS number by its name, or the number when it has none (as JSON writes it).
fn named<'e>(name: Option<&'static str>, n: impl Into<f64>) -> Val<'e> {
    name.map_or_else(|| Val::Num(n.into()), Val::Str)
}

fn num<'e>(n: impl Into<f64>) -> Val<'e> {
    Val::Num(n.into())
}

/// A u64 as a filter number (exact up to 2^53, which no count reaches).
fn big<'e>(n: u64) -> Val<'e> {
    Val::Num(n as f64)
}

fn secs<'e>(n: crate::model::Nanos) -> Val<'e> {
    Val::Num(n.secs_f64())
}

fn opt<'e>(v: Option<Val<'e>>, f: &mut dyn FnMut(Val<'e>) -> bool) -> bool {
    v.is_some_and(f)
}

fn is_kind(e: &Event, kinds: &[&str]) -> bool {
    kinds.contains(&e.body.kind())
}

const STATES: &[&str] = &[
    "handshaking",
    "established",
    "closing",
    "closed",
    "reset",
    "refused",
];
const LAYERS: &[&str] = &[
    "capture",
    "link",
    "ip",
    "tcp",
    "tls",
    "http",
    "websocket",
    "sse",
    "stomp",
    "socketio",
];
const FLAGS: &[&str] = &["SYN", "ACK", "FIN", "RST", "PSH", "URG", "ECE", "CWR"];
const ANALYSES: &[&str] = &[
    "retransmission",
    "fast_retransmission",
    "spurious_retransmission",
    "out_of_order",
    "lost_segment",
    "ack_lost_segment",
    "duplicate_ack",
    "zero_window",
    "zero_window_probe",
    "zero_window_probe_ack",
    "keep_alive",
    "keep_alive_ack",
    "window_update",
    "window_full",
    "reused_ports",
];
const OPCODES: &[&str] = &["continuation", "text", "binary", "close", "ping", "pong"];

macro_rules! fields {
    ($( $name:literal $ty:ident $values:expr, |$e:ident, $ends:ident, $f:ident| $body:expr; )*) => {
        /// Every field, in the README's order.
        pub static FIELDS: &[FieldDef] = &[
            $( FieldDef {
                name: $name,
                ty: Ty::$ty,
                values: $values,
                get: |$e, $ends, $f| {
                    let _ = (&$e, &$ends);
                    $body
                },
            }, )*
        ];
    };
}

/// A protocol or kind: present on these kinds.
macro_rules! proto {
    ($e:ident, $f:ident, $($k:literal),+) => {
        is_kind($e, &[$($k),+]) && $f(Val::Bool(true))
    };
}

fields! {
    // Every event.
    "kind" Text EVENT_KINDS, |e, ends, f| f(Val::Str(e.body.kind()));
    "t" Num &[], |e, ends, f| f(secs(e.t));
    "frame" Num &[], |e, ends, f| f(big(e.frame));
    "conn" Num &[], |e, ends, f| opt(e.conn.map(num), f);
    "dir" Text &["c2s", "s2c"], |e, ends, f| opt(e.dir.map(|d| Val::Str(d.as_str())), f);
    // Wireshark's names for the same.
    "frame.number" Num &[], |e, ends, f| f(big(e.frame));
    "frame.time_relative" Num &[], |e, ends, f| f(secs(e.t));
    "tcp.stream" Num &[], |e, ends, f| opt(e.conn.map(num), f);
    // The connection's endpoints (see `Endpoints`).
    "ip.addr" Addr &[], |e, ends, f| opt(ends.map(|x| Val::Ip(x.client.ip())), f) || opt(ends.map(|x| Val::Ip(x.server.ip())), f);
    "ip.src" Addr &[], |e, ends, f| opt(ends.map(|x| Val::Ip(x.src(e.dir).ip())), f);
    "ip.dst" Addr &[], |e, ends, f| opt(ends.map(|x| Val::Ip(x.dst(e.dir).ip())), f);
    "tcp.port" Num &[], |e, ends, f| opt(ends.map(|x| num(x.client.port())), f) || opt(ends.map(|x| num(x.server.port())), f);
    "tcp.srcport" Num &[], |e, ends, f| opt(ends.map(|x| num(x.src(e.dir).port())), f);
    "tcp.dstport" Num &[], |e, ends, f| opt(ends.map(|x| num(x.dst(e.dir).port())), f);
    // Protocols and kinds, alone.
    "tcp" Proto &[], |e, ends, f| proto!(e, f, "tcp");
    "http" Proto &[], |e, ends, f| proto!(e, f, "http_request", "http_response", "http_body");
    "ws" Proto &[], |e, ends, f| proto!(e, f, "ws_frame", "ws_message");
    "websocket" Proto &[], |e, ends, f| proto!(e, f, "ws_frame", "ws_message");
    "tls" Proto &[], |e, ends, f| proto!(e, f, "tls_record", "tls_handshake", "tls_alert");
    "sse" Proto &[], |e, ends, f| proto!(e, f, "sse_event");
    "stomp" Proto &[], |e, ends, f| proto!(e, f, "stomp");
    "socketio" Proto &[], |e, ends, f| proto!(e, f, "socketio");
    "connection" Proto &[], |e, ends, f| proto!(e, f, "connection");
    "handshake" Proto &[], |e, ends, f| proto!(e, f, "handshake");
    "connection_state" Proto &[], |e, ends, f| proto!(e, f, "connection_state");
    "gap" Proto &[], |e, ends, f| proto!(e, f, "gap");
    "http_request" Proto &[], |e, ends, f| proto!(e, f, "http_request");
    "http_response" Proto &[], |e, ends, f| proto!(e, f, "http_response");
    "http_body" Proto &[], |e, ends, f| proto!(e, f, "http_body");
    "ws_frame" Proto &[], |e, ends, f| proto!(e, f, "ws_frame");
    "ws_message" Proto &[], |e, ends, f| proto!(e, f, "ws_message");
    "violation" Proto &[], |e, ends, f| proto!(e, f, "violation");
    "malformed" Proto &[], |e, ends, f| proto!(e, f, "malformed");
    "note" Proto &[], |e, ends, f| proto!(e, f, "note");
    "data" Proto &[], |e, ends, f| proto!(e, f, "data");
    "connection_end" Proto &[], |e, ends, f| proto!(e, f, "connection_end");
    "sse_event" Proto &[], |e, ends, f| proto!(e, f, "sse_event");
    "tls_record" Proto &[], |e, ends, f| proto!(e, f, "tls_record");
    "tls_handshake" Proto &[], |e, ends, f| proto!(e, f, "tls_handshake");
    "tls_alert" Proto &[], |e, ends, f| proto!(e, f, "tls_alert");
    "pattern" Proto &[], |e, ends, f| proto!(e, f, "pattern");
    // connection
    "connection.client" Sock &[], |e, ends, f| match &e.body { EventBody::Connection(c) => f(Val::Sock(c.client)), _ => false };
    "connection.server" Sock &[], |e, ends, f| match &e.body { EventBody::Connection(c) => f(Val::Sock(c.server)), _ => false };
    "connection.joined_late" Bool &[], |e, ends, f| match &e.body { EventBody::Connection(c) => f(Val::Bool(c.joined_late)), _ => false };
    // tcp
    "tcp.flags" Text FLAGS, |e, ends, f| match &e.body { EventBody::Tcp(s) => s.flags.names().any(|n| f(Val::Str(n))), _ => false };
    "tcp.seq" Num &[], |e, ends, f| match &e.body { EventBody::Tcp(s) => f(num(s.seq)), _ => false };
    "tcp.ack" Num &[], |e, ends, f| match &e.body { EventBody::Tcp(s) => opt(s.ack.map(num), f), _ => false };
    "tcp.len" Num &[], |e, ends, f| match &e.body { EventBody::Tcp(s) => f(num(s.len)), _ => false };
    "tcp.win" Num &[], |e, ends, f| match &e.body { EventBody::Tcp(s) => f(num(s.win)), _ => false };
    "tcp.analysis" Text ANALYSES, |e, ends, f| match &e.body { EventBody::Tcp(s) => analyses(&s.analysis, f), _ => false };
    "tcp.truncated" Bool &[], |e, ends, f| match &e.body { EventBody::Tcp(s) => f(Val::Bool(s.truncated)), _ => false };
    "tcp.options.mss" Num &[], |e, ends, f| match &e.body { EventBody::Tcp(s) => opt(s.options.and_then(|o| o.mss).map(num), f), _ => false };
    "tcp.options.wscale" Num &[], |e, ends, f| match &e.body { EventBody::Tcp(s) => opt(s.options.and_then(|o| o.wscale).map(num), f), _ => false };
    "tcp.options.sack_perm" Bool &[], |e, ends, f| match &e.body { EventBody::Tcp(s) => opt(s.options.map(|o| Val::Bool(o.sack_perm)), f), _ => false };
    // handshake
    "handshake.syn_ack_rtt" Num &[], |e, ends, f| match &e.body { EventBody::Handshake(h) => f(secs(h.syn_ack_rtt)), _ => false };
    "handshake.irtt" Num &[], |e, ends, f| match &e.body { EventBody::Handshake(h) => f(secs(h.irtt)), _ => false };
    // connection_state
    "connection_state.from" Text STATES, |e, ends, f| match &e.body { EventBody::ConnectionState(s) => f(state(s.from)), _ => false };
    "connection_state.state" Text STATES, |e, ends, f| match &e.body { EventBody::ConnectionState(s) => f(state(s.state)), _ => false };
    "connection_state.websocket" Bool &[], |e, ends, f| match &e.body { EventBody::ConnectionState(s) => f(Val::Bool(s.websocket)), _ => false };
    // gap
    "gap.seq" Num &[], |e, ends, f| match &e.body { EventBody::Gap(g) => f(num(g.seq)), _ => false };
    "gap.len" Num &[], |e, ends, f| match &e.body { EventBody::Gap(g) => f(num(g.len)), _ => false };
    "gap.reason" Text &["not_captured", "truncated"], |e, ends, f| match &e.body { EventBody::Gap(g) => f(Val::Str(gap_reason(&g.reason))), _ => false };
    // http_request, http_response
    "http.method" Text &[], |e, ends, f| match &e.body { EventBody::HttpRequest(r) => f(Val::Str(&r.method)), _ => false };
    "http.target" Text &[], |e, ends, f| match &e.body { EventBody::HttpRequest(r) => f(Val::Str(&r.target)), _ => false };
    "http.version" Text &[], |e, ends, f| match &e.body {
        EventBody::HttpRequest(r) => f(Val::Str(&r.version)),
        EventBody::HttpResponse(r) => f(Val::Str(&r.version)),
        _ => false,
    };
    "http.header" Text &[], |e, ends, f| match &e.body {
        EventBody::HttpRequest(r) => headers(&r.headers, f),
        EventBody::HttpResponse(r) => headers(&r.headers, f),
        _ => false,
    };
    "http.head_len" Num &[], |e, ends, f| match &e.body {
        EventBody::HttpRequest(r) => f(num(r.head_len)),
        EventBody::HttpResponse(r) => f(num(r.head_len)),
        _ => false,
    };
    "http.body" Text &["none", "length", "chunked", "close"], |e, ends, f| match &e.body {
        EventBody::HttpRequest(r) => f(Val::Str(body_kind(&r.body))),
        EventBody::HttpResponse(r) => f(Val::Str(body_kind(&r.body))),
        _ => false,
    };
    "http.status" Num &[], |e, ends, f| match &e.body { EventBody::HttpResponse(r) => f(num(r.status)), _ => false };
    "http.reason" Text &[], |e, ends, f| match &e.body { EventBody::HttpResponse(r) => f(Val::Str(&r.reason)), _ => false };
    "http.request_method" Text &[], |e, ends, f| match &e.body { EventBody::HttpResponse(r) => opt(r.request_method.as_deref().map(Val::Str), f), _ => false };
    "http.time_since_request" Num &[], |e, ends, f| match &e.body { EventBody::HttpResponse(r) => opt(r.time_since_request.map(secs), f), _ => false };
    "http.accept_valid" Bool &[], |e, ends, f| match &e.body { EventBody::HttpResponse(r) => opt(r.upgrade.as_ref().map(|u| Val::Bool(u.accept_valid)), f), _ => false };
    "http.subprotocol" Text &[], |e, ends, f| match &e.body { EventBody::HttpResponse(r) => opt(r.upgrade.as_ref().and_then(|u| u.subprotocol.as_deref()).map(Val::Str), f), _ => false };
    "http.extensions" Text &[], |e, ends, f| match &e.body { EventBody::HttpResponse(r) => opt(r.upgrade.as_ref().and_then(|u| u.extensions.as_deref()).map(Val::Str), f), _ => false };
    // http_body
    "http.len" Num &[], |e, ends, f| match &e.body { EventBody::HttpBody(b) => f(big(b.len)), _ => false };
    "http.chunk" Num &[], |e, ends, f| match &e.body { EventBody::HttpBody(b) => opt(b.chunk.map(num), f), _ => false };
    "http.end" Bool &[], |e, ends, f| match &e.body { EventBody::HttpBody(b) => f(Val::Bool(b.end)), _ => false };
    "http.missing" Num &[], |e, ends, f| match &e.body { EventBody::HttpBody(b) => f(big(b.missing)), _ => false };
    "http.text" Text &[], |e, ends, f| match &e.body { EventBody::HttpBody(b) => opt(b.text.as_deref().map(Val::Str), f), _ => false };
    // ws_frame, ws_message
    "ws.opcode" Text OPCODES, |e, ends, f| match &e.body {
        EventBody::WsFrame(w) => f(opcode(w.opcode)),
        EventBody::WsMessage(m) => f(opcode(m.opcode)),
        _ => false,
    };
    "ws.fin" Bool &[], |e, ends, f| match &e.body { EventBody::WsFrame(w) => f(Val::Bool(w.fin)), _ => false };
    "ws.rsv1" Bool &[], |e, ends, f| match &e.body { EventBody::WsFrame(w) => f(Val::Bool(w.rsv1)), _ => false };
    "ws.rsv2" Bool &[], |e, ends, f| match &e.body { EventBody::WsFrame(w) => f(Val::Bool(w.rsv2)), _ => false };
    "ws.rsv3" Bool &[], |e, ends, f| match &e.body { EventBody::WsFrame(w) => f(Val::Bool(w.rsv3)), _ => false };
    "ws.masked" Bool &[], |e, ends, f| match &e.body { EventBody::WsFrame(w) => f(Val::Bool(w.masked)), _ => false };
    "ws.mask_key" Text &[], |e, ends, f| match &e.body { EventBody::WsFrame(w) => opt(w.mask_key.as_ref().map(|k| Val::Str(k.as_str())), f), _ => false };
    "ws.payload_len" Num &[], |e, ends, f| match &e.body { EventBody::WsFrame(w) => f(big(w.payload_len)), _ => false };
    "ws.header_len" Num &[], |e, ends, f| match &e.body { EventBody::WsFrame(w) => f(num(w.header_len)), _ => false };
    "ws.incomplete" Bool &[], |e, ends, f| match &e.body {
        EventBody::WsFrame(w) => f(Val::Bool(w.incomplete)),
        EventBody::WsMessage(m) => f(Val::Bool(m.incomplete)),
        _ => false,
    };
    "ws.len" Num &[], |e, ends, f| match &e.body { EventBody::WsMessage(m) => f(big(m.len)), _ => false };
    "ws.compressed" Bool &[], |e, ends, f| match &e.body { EventBody::WsMessage(m) => f(Val::Bool(m.compressed)), _ => false };
    "ws.frames" Num &[], |e, ends, f| match &e.body { EventBody::WsMessage(m) => f(num(m.frames)), _ => false };
    "ws.text" Text &[], |e, ends, f| match &e.body { EventBody::WsMessage(m) => opt(m.text.as_deref().map(Val::Str), f), _ => false };
    "ws.code" Num &[], |e, ends, f| match &e.body { EventBody::WsMessage(m) => opt(m.code.map(num), f), _ => false };
    "ws.code_name" Text &[], |e, ends, f| match &e.body { EventBody::WsMessage(m) => opt(m.code_name.map(Val::Str), f), _ => false };
    "ws.reason" Text &[], |e, ends, f| match &e.body { EventBody::WsMessage(m) => opt(m.reason.as_deref().map(Val::Str), f), _ => false };
    // violation, malformed, note, data
    "violation.layer" Text LAYERS, |e, ends, f| match &e.body { EventBody::Violation(v) => f(Val::Str(layer_name(v.layer))), _ => false };
    "violation.rule" Text &[], |e, ends, f| match &e.body { EventBody::Violation(v) => f(Val::Str(v.rule)), _ => false };
    "violation.detail" Text &[], |e, ends, f| match &e.body { EventBody::Violation(v) => f(Val::Str(&v.detail)), _ => false };
    "malformed.layer" Text LAYERS, |e, ends, f| match &e.body { EventBody::Malformed(m) => f(Val::Str(layer_name(m.layer))), _ => false };
    "malformed.detail" Text &[], |e, ends, f| match &e.body { EventBody::Malformed(m) => f(Val::Str(&m.detail)), _ => false };
    "note.layer" Text LAYERS, |e, ends, f| match &e.body { EventBody::Note(n) => f(Val::Str(layer_name(n.layer))), _ => false };
    "note.note" Text &[], |e, ends, f| match &e.body { EventBody::Note(n) => f(Val::Str(n.note)), _ => false };
    "note.detail" Text &[], |e, ends, f| match &e.body { EventBody::Note(n) => f(Val::Str(&n.detail)), _ => false };
    "note.bytes" Num &[], |e, ends, f| match &e.body { EventBody::Note(n) => opt(n.bytes.map(big), f), _ => false };
    "data.len" Num &[], |e, ends, f| match &e.body { EventBody::Data(d) => f(big(d.len)), _ => false };
    "data.text" Text &[], |e, ends, f| match &e.body { EventBody::Data(d) => opt(d.text.as_deref().map(Val::Str), f), _ => false };
    // connection_end
    "connection_end.client" Sock &[], |e, ends, f| match &e.body { EventBody::ConnectionEnd(c) => f(Val::Sock(c.client)), _ => false };
    "connection_end.server" Sock &[], |e, ends, f| match &e.body { EventBody::ConnectionEnd(c) => f(Val::Sock(c.server)), _ => false };
    "connection_end.state" Text STATES, |e, ends, f| match &e.body { EventBody::ConnectionEnd(c) => f(state(c.state)), _ => false };
    "connection_end.websocket" Bool &[], |e, ends, f| match &e.body { EventBody::ConnectionEnd(c) => f(Val::Bool(c.websocket)), _ => false };
    "connection_end.duration" Num &[], |e, ends, f| match &e.body { EventBody::ConnectionEnd(c) => f(secs(c.duration)), _ => false };
    "connection_end.segments" Num &[], |e, ends, f| match &e.body { EventBody::ConnectionEnd(c) => c.segments.iter().any(|n| f(big(*n))), _ => false };
    "connection_end.bytes" Num &[], |e, ends, f| match &e.body { EventBody::ConnectionEnd(c) => c.bytes.iter().any(|n| f(big(*n))), _ => false };
    // sse_event
    "sse.event" Text &[], |e, ends, f| match &e.body { EventBody::SseEvent(s) => opt(s.event.as_deref().map(Val::Str), f), _ => false };
    "sse.id" Text &[], |e, ends, f| match &e.body { EventBody::SseEvent(s) => opt(s.id.as_deref().map(Val::Str), f), _ => false };
    "sse.data" Text &[], |e, ends, f| match &e.body { EventBody::SseEvent(s) => f(Val::Str(&s.data)), _ => false };
    "sse.retry" Num &[], |e, ends, f| match &e.body { EventBody::SseEvent(s) => opt(s.retry.map(big), f), _ => false };
    "sse.data_len" Num &[], |e, ends, f| match &e.body { EventBody::SseEvent(s) => f(big(s.data_len)), _ => false };
    "sse.comment" Text &[], |e, ends, f| match &e.body { EventBody::SseEvent(s) => opt(s.comment.as_deref().map(Val::Str), f), _ => false };
    "sse.dispatched" Bool &[], |e, ends, f| match &e.body { EventBody::SseEvent(s) => f(Val::Bool(s.dispatched)), _ => false };
    "sse.incomplete" Bool &[], |e, ends, f| match &e.body { EventBody::SseEvent(s) => f(Val::Bool(s.incomplete)), _ => false };
    // stomp
    "stomp.command" Text &[], |e, ends, f| match &e.body { EventBody::Stomp(s) => f(Val::Str(&s.command)), _ => false };
    "stomp.header" Text &[], |e, ends, f| match &e.body { EventBody::Stomp(s) => headers(&s.headers, f), _ => false };
    "stomp.body" Text &[], |e, ends, f| match &e.body { EventBody::Stomp(s) => opt(s.body.as_deref().map(Val::Str), f), _ => false };
    "stomp.body_len" Num &[], |e, ends, f| match &e.body { EventBody::Stomp(s) => f(big(s.body_len)), _ => false };
    "stomp.incomplete" Bool &[], |e, ends, f| match &e.body { EventBody::Stomp(s) => f(Val::Bool(s.incomplete)), _ => false };
    // socketio
    "socketio.transport" Text &["polling", "websocket"], |e, ends, f| match &e.body { EventBody::Socketio(p) => f(Val::Str(p.transport)), _ => false };
    "socketio.engine_type" Text &["open", "close", "ping", "pong", "message", "upgrade", "noop"], |e, ends, f| match &e.body { EventBody::Socketio(p) => f(Val::Str(p.engine_type)), _ => false };
    "socketio.socketio_type" Text &["CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"], |e, ends, f| match &e.body { EventBody::Socketio(p) => opt(p.socketio_type.map(Val::Str), f), _ => false };
    "socketio.namespace" Text &[], |e, ends, f| match &e.body { EventBody::Socketio(p) => opt(p.namespace.as_deref().map(Val::Str), f), _ => false };
    "socketio.ack_id" Num &[], |e, ends, f| match &e.body { EventBody::Socketio(p) => opt(p.ack_id.map(big), f), _ => false };
    "socketio.event" Text &[], |e, ends, f| match &e.body { EventBody::Socketio(p) => opt(p.event.as_deref().map(Val::Str), f), _ => false };
    "socketio.data" Text &[], |e, ends, f| match &e.body { EventBody::Socketio(p) => opt(p.data.as_deref().map(Val::Str), f), _ => false };
    "socketio.sid" Text &[], |e, ends, f| match &e.body { EventBody::Socketio(p) => opt(p.sid.as_deref().map(Val::Str), f), _ => false };
    "socketio.attachments" Num &[], |e, ends, f| match &e.body { EventBody::Socketio(p) => opt(p.attachments.map(num), f), _ => false };
    "socketio.attachment" Num &[], |e, ends, f| match &e.body { EventBody::Socketio(p) => opt(p.attachment.map(num), f), _ => false };
    "socketio.binary_len" Num &[], |e, ends, f| match &e.body { EventBody::Socketio(p) => opt(p.binary_len.map(big), f), _ => false };
    "socketio.incomplete" Bool &[], |e, ends, f| match &e.body { EventBody::Socketio(p) => f(Val::Bool(p.incomplete)), _ => false };
    // tls_record, tls_handshake, tls_alert, and connection_end's tls
    "tls.content_type" Text &[], |e, ends, f| match &e.body { EventBody::TlsRecord(r) => f(named(r.content_type.name(), r.content_type.0)), _ => false };
    "tls.version" Text &[], |e, ends, f| match &e.body {
        EventBody::TlsRecord(r) => f(named(r.version.name(), r.version.0)),
        EventBody::TlsHandshake(h) => opt(h.version.map(|v| named(v.name(), v.0)), f),
        EventBody::ConnectionEnd(c) => opt(c.tls.as_ref().and_then(|t| t.version).map(|v| named(v.name(), v.0)), f),
        _ => false,
    };
    "tls.length" Num &[], |e, ends, f| match &e.body {
        EventBody::TlsRecord(r) => f(num(r.length)),
        EventBody::TlsHandshake(h) => f(num(h.length)),
        _ => false,
    };
    "tls.encrypted" Bool &[], |e, ends, f| match &e.body { EventBody::TlsRecord(r) => f(Val::Bool(r.encrypted)), _ => false };
    "tls.inner_type" Text &[], |e, ends, f| match &e.body { EventBody::TlsRecord(r) => opt(r.inner_type.map(|t| named(t.name(), t.0)), f), _ => false };
    "tls.plaintext_len" Num &[], |e, ends, f| match &e.body { EventBody::TlsRecord(r) => opt(r.plaintext_len.map(num), f), _ => false };
    "tls.handshake_type" Text &[], |e, ends, f| match &e.body { EventBody::TlsHandshake(h) => f(named(h.handshake_type.name(), h.handshake_type.0)), _ => false };
    "tls.sni" Text &[], |e, ends, f| match &e.body {
        EventBody::TlsHandshake(h) => opt(h.sni.as_deref().map(Val::Str), f),
        EventBody::ConnectionEnd(c) => opt(c.tls.as_ref().and_then(|t| t.sni.as_deref()).map(Val::Str), f),
        _ => false,
    };
    "tls.alpn" Text &[], |e, ends, f| match &e.body {
        EventBody::TlsHandshake(h) => h.alpn.iter().flatten().any(|a| f(Val::Str(a))),
        EventBody::ConnectionEnd(c) => opt(c.tls.as_ref().and_then(|t| t.alpn.as_deref()).map(Val::Str), f),
        _ => false,
    };
    "tls.supported_versions" Text &[], |e, ends, f| match &e.body { EventBody::TlsHandshake(h) => h.supported_versions.iter().flatten().any(|v| f(named(v.name(), v.0))), _ => false };
    "tls.cipher_suite" Text &[], |e, ends, f| match &e.body {
        EventBody::TlsHandshake(h) => opt(h.cipher_suite.map(|c| named(c.name(), c.0)), f),
        EventBody::ConnectionEnd(c) => opt(c.tls.as_ref().and_then(|t| t.cipher_suite).map(|c| named(c.name(), c.0)), f),
        _ => false,
    };
    "tls.cipher_suites" Text &[], |e, ends, f| match &e.body { EventBody::TlsHandshake(h) => h.cipher_suites.iter().flatten().any(|c| f(named(c.name(), c.0))), _ => false };
    "tls.key_share_groups" Text &[], |e, ends, f| match &e.body { EventBody::TlsHandshake(h) => h.key_share_groups.iter().flatten().any(|g| f(named(g.name(), g.0))), _ => false };
    "tls.resumed" Bool &[], |e, ends, f| match &e.body { EventBody::TlsHandshake(h) => f(Val::Bool(h.resumed)), _ => false };
    "tls.certificates" Num &[], |e, ends, f| match &e.body { EventBody::TlsHandshake(h) => opt(h.certificates.map(num), f), _ => false };
    "tls.subject" Text &[], |e, ends, f| match &e.body { EventBody::TlsHandshake(h) => opt(h.subject.as_deref().map(Val::Str), f), _ => false };
    "tls.san" Text &[], |e, ends, f| match &e.body { EventBody::TlsHandshake(h) => h.san.iter().flatten().any(|s| f(Val::Str(s))), _ => false };
    "tls.update_requested" Bool &[], |e, ends, f| match &e.body { EventBody::TlsHandshake(h) => opt(h.update_requested.map(Val::Bool), f), _ => false };
    "tls.decrypted" Bool &[], |e, ends, f| match &e.body { EventBody::ConnectionEnd(c) => opt(c.tls.as_ref().map(|t| Val::Bool(t.decrypted)), f), _ => false };
    "tls.level" Text &["warning", "fatal"], |e, ends, f| match &e.body { EventBody::TlsAlert(a) => f(named(a.level.name(), a.level.0)), _ => false };
    "tls.description" Text &[], |e, ends, f| match &e.body { EventBody::TlsAlert(a) => f(named(a.description.name(), a.description.0)), _ => false };
    // pattern
    "pattern.pattern" Text &["short-polling", "long-polling", "streaming", "websocket", "none"], |e, ends, f| match &e.body { EventBody::Pattern(p) => f(Val::Str(pattern_name(p.pattern))), _ => false };
    "pattern.conversation" Num &[], |e, ends, f| match &e.body { EventBody::Pattern(p) => f(num(p.conversation)), _ => false };
    "pattern.final" Bool &[], |e, ends, f| match &e.body { EventBody::Pattern(p) => f(Val::Bool(p.is_final)), _ => false };
    "pattern.client" Text &[], |e, ends, f| match &e.body { EventBody::Pattern(p) => f(Val::Str(&p.client)), _ => false };
    "pattern.server" Sock &[], |e, ends, f| match &e.body { EventBody::Pattern(p) => f(Val::Sock(p.server)), _ => false };
    "pattern.target" Text &[], |e, ends, f| match &e.body { EventBody::Pattern(p) => f(Val::Str(&p.target)), _ => false };
    "pattern.conns" Num &[], |e, ends, f| match &e.body { EventBody::Pattern(p) => p.conns.iter().any(|c| f(num(*c))), _ => false };
    "pattern.requests" Num &[], |e, ends, f| match &e.body { EventBody::Pattern(p) => f(num(p.requests)), _ => false };
    "pattern.duration" Num &[], |e, ends, f| match &e.body { EventBody::Pattern(p) => f(secs(p.duration)), _ => false };
    "pattern.chunks" Num &[], |e, ends, f| match &e.body { EventBody::Pattern(p) => opt(p.chunks.map(num), f), _ => false };
    "pattern.sse_events" Num &[], |e, ends, f| match &e.body { EventBody::Pattern(p) => opt(p.sse_events.map(num), f), _ => false };
}

fn state<'e>(s: ConnState) -> Val<'e> {
    Val::Str(s.as_str())
}

fn analyses<'e>(a: &TcpAnalyses, f: &mut dyn FnMut(Val<'e>) -> bool) -> bool {
    a.iter().any(|a| f(Val::Str(analysis_name(*a))))
}

/// Finds a field by name: one of [`FIELDS`] (`websocket.` is taken for `ws.`), or one of the
/// named families (`tcp.flags.syn`, `tcp.analysis.retransmission`, `http.header.NAME`,
/// `stomp.header.NAME`).
pub fn lookup(name: &str) -> Option<Field> {
    // Wireshark's names for fields this schema has under another name.
    const WIRESHARK: &[(&str, &str)] = &[
        ("http.request.method", "http.method"),
        ("http.request.uri", "http.target"),
        ("http.request.version", "http.version"),
        ("http.response.code", "http.status"),
        ("http.response.phrase", "http.reason"),
        ("http.time", "http.time_since_request"),
        ("http.request", "http_request"),
        ("http.response", "http_response"),
        ("tcp.window_size", "tcp.win"),
        ("tls.handshake.extensions_server_name", "tls.sni"),
        ("tls.handshake.type", "tls.handshake_type"),
        ("tls.alert_message", "tls_alert"),
        ("ws.payload_length", "ws.payload_len"),
        ("ws.mask", "ws.masked"),
        ("ws.masking_key", "ws.mask_key"),
        ("websocket.payload_length", "ws.payload_len"),
    ];
    let name = WIRESHARK
        .iter()
        .find(|(w, _)| *w == name)
        .map_or(name, |(_, ours)| ours);
    let alias;
    let name = match name.strip_prefix("websocket.") {
        Some(rest) => {
            alias = format!("ws.{rest}");
            alias.as_str()
        }
        None => name,
    };
    if let Some(d) = FIELDS.iter().find(|d| d.name == name) {
        return Some(Field::Def(d));
    }
    if let Some(flag) = name.strip_prefix("tcp.flags.") {
        return tcp_flags::NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(flag))
            .map(|(b, _)| Field::Flag(*b));
    }
    if let Some(a) = name.strip_prefix("tcp.analysis.") {
        return TcpAnalyses::ORDER
            .iter()
            .find(|x| analysis_name(**x) == a)
            .map(|x| Field::Analysis(*x));
    }
    let header = |h: &str| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic());
    if let Some(h) = name.strip_prefix("http.header.").filter(|h| header(h)) {
        return Some(Field::HttpHeader(h.to_string()));
    }
    if let Some(h) = name.strip_prefix("stomp.header.").filter(|h| header(h)) {
        return Some(Field::StompHeader(h.to_string()));
    }
    None
}

/// The field names closest to a misspelt one (at most three), for "did you mean".
pub fn suggest(name: &str) -> Vec<&'static str> {
    let lower = name.to_ascii_lowercase();
    let mut scored: Vec<(usize, &'static str)> = FIELDS
        .iter()
        .map(|d| {
            let tail = d.name.rsplit('.').next().unwrap_or(d.name);
            let score = if d.name.ends_with(&format!(".{lower}")) || tail == lower {
                0
            } else {
                distance(&lower, d.name)
            };
            (score, d.name)
        })
        .filter(|(s, n)| *s <= 2.max(n.len() / 4))
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, n)| n).collect()
}

/// Levenshtein distance (names are short: a filter's field is cut at [`super::MAX_LEN`]).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
