//! Event sequences shaped like the engine's output, for tests, benchmarks and the README.
//!
//! The TUI reads nothing but [`Event`]s, so its tests can build the timeline of a whole
//! capture without a capture file: [`Script`] stamps events with increasing frame numbers and
//! capture times, in the order the engine emits them (the `connection` event with the SYN's
//! `tcp` event, `handshake` after the client's ACK, the application events after the `tcp`
//! event of the segment that completed them, `connection_state` after what changed the state,
//! `connection_end` last).

use std::net::SocketAddr;

use crate::model::{
    close_code_name, tcp_flags, BodyKind, ConnId, ConnState, ConnectionEnd, ConnectionInfo, Dir,
    Event, EventBody, Gap, GapReason, Handshake, HttpBody, HttpRequest, HttpResponse, MaskKey,
    Nanos, Opcode, Payload, Stamp, StateChange, TcpAnalyses, TcpAnalysis, TcpFlags, TcpOptions,
    TcpSegment, Timestamp, Violation, WsFrame, WsMessage, WsUpgrade,
};

/// Capture time of the first packet of every script: 2023-11-14T22:13:20Z.
pub const ORIGIN_NS: u64 = 1_700_000_000_000_000_000;

/// RFC 6455 §1.3's example key and the accept value it yields.
pub const SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const SAMPLE_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Appends events to a timeline, one captured frame at a time.
#[derive(Debug, Default)]
pub struct Script {
    pub events: Vec<Event>,
    frame: u64,
    t: u64,
}

/// One scripted connection: addresses and each side's next relative sequence number.
#[derive(Debug, Clone)]
pub struct Conn {
    pub id: ConnId,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Next relative sequence number [client, server].
    next: [u32; 2],
    start: u64,
    segments: [u64; 2],
    bytes: [u64; 2],
    fin: [bool; 2],
    websocket: bool,
    state: ConnState,
}

fn addr(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
}

impl Script {
    pub fn new() -> Script {
        Script::default()
    }

    /// Lets `ns` nanoseconds of capture time pass.
    pub fn wait(&mut self, ns: u64) {
        self.t += ns;
    }

    /// A new captured frame `ns` after the previous one.
    fn frame(&mut self, ns: u64) -> Stamp {
        self.t += ns;
        self.frame += 1;
        Stamp {
            ts: Timestamp(ORIGIN_NS + self.t),
            t: Nanos(self.t),
            frame: self.frame,
        }
    }

    fn push(&mut self, stamp: Stamp, conn: &Conn, dir: Option<Dir>, body: EventBody) {
        self.events.push(stamp.event(Some(conn.id), dir, body));
    }

    /// A connection whose SYN is sent `ns` after the previous frame; returns it after the
    /// SYN (`connection` + `tcp` events).
    pub fn syn(&mut self, id: ConnId, client: &str, server: &str, ns: u64) -> Conn {
        let mut c = Conn {
            id,
            client: addr(client),
            server: addr(server),
            next: [0, 0],
            start: 0,
            segments: [0; 2],
            bytes: [0; 2],
            fin: [false; 2],
            websocket: false,
            state: ConnState::Handshaking,
        };
        let s = self.frame(ns);
        c.start = self.t;
        let info = ConnectionInfo {
            client: c.client,
            server: c.server,
            joined_late: false,
        };
        self.push(s, &c, None, EventBody::Connection(Box::new(info)));
        let seg = TcpSegment {
            flags: TcpFlags(tcp_flags::SYN),
            seq: 0,
            ack: None,
            len: 0,
            win: 65495,
            options: Some(syn_options()),
            analysis: TcpAnalyses::EMPTY,
            truncated: false,
        };
        c.next[0] = 1;
        c.segments[0] += 1;
        self.push(s, &c, Some(Dir::C2s), EventBody::Tcp(seg));
        c
    }

    /// SYN-ACK, then the client's ACK with the `handshake` event.
    pub fn accept(&mut self, c: &mut Conn) {
        let s = self.frame(21_000);
        let seg = TcpSegment {
            flags: TcpFlags(tcp_flags::SYN | tcp_flags::ACK),
            seq: 0,
            ack: Some(1),
            len: 0,
            win: 65483,
            options: Some(syn_options()),
            analysis: TcpAnalyses::EMPTY,
            truncated: false,
        };
        c.next[1] = 1;
        c.segments[1] += 1;
        self.push(s, c, Some(Dir::S2c), EventBody::Tcp(seg));
        let syn_ack_rtt = self.t - c.start;
        self.segment(c, Dir::C2s, tcp_flags::ACK, 0, 13_000);
        let h = Handshake {
            syn_ack_rtt: Nanos(syn_ack_rtt),
            irtt: Nanos(self.t - c.start),
        };
        let s = self.stamp_again();
        self.push(s, c, None, EventBody::Handshake(h));
        self.set_state(c, ConnState::Established);
    }

    /// The engine's `connection_state` event when `state` differs from `c`'s, stamped with
    /// the frame just added.
    fn set_state(&mut self, c: &mut Conn, state: ConnState) {
        if state == c.state {
            return;
        }
        let change = StateChange {
            from: c.state,
            state,
            websocket: c.websocket,
        };
        c.state = state;
        let s = self.stamp_again();
        self.push(s, c, None, EventBody::ConnectionState(change));
    }

    /// The stamp of the frame just added (for events the same frame completes).
    fn stamp_again(&self) -> Stamp {
        Stamp {
            ts: Timestamp(ORIGIN_NS + self.t),
            t: Nanos(self.t),
            frame: self.frame,
        }
    }

    /// One TCP segment of `len` payload bytes from `dir`'s side, `ns` after the previous
    /// frame. Returns its stamp.
    pub fn segment(&mut self, c: &mut Conn, dir: Dir, flags: u8, len: u32, ns: u64) -> Stamp {
        self.segment_with(c, dir, flags, len, ns, TcpAnalyses::EMPTY)
    }

    fn segment_with(
        &mut self,
        c: &mut Conn,
        dir: Dir,
        flags: u8,
        len: u32,
        ns: u64,
        analysis: TcpAnalyses,
    ) -> Stamp {
        let s = self.frame(ns);
        let i = dir.idx();
        let seg = TcpSegment {
            flags: TcpFlags(flags),
            seq: c.next[i],
            ack: (flags & tcp_flags::ACK != 0).then_some(c.next[1 - i]),
            len,
            win: 65483 * 128,
            options: None,
            analysis,
            truncated: false,
        };
        let adv = len + u32::from(flags & (tcp_flags::SYN | tcp_flags::FIN) != 0);
        c.next[i] = c.next[i].wrapping_add(adv);
        c.segments[i] += 1;
        c.bytes[i] += u64::from(len);
        if flags & tcp_flags::FIN != 0 {
            c.fin[i] = true;
        }
        self.push(s, c, Some(dir), EventBody::Tcp(seg));
        s
    }

    /// The bare ACK a peer sends for data it received.
    pub fn ack(&mut self, c: &mut Conn, dir: Dir) {
        self.segment(c, dir, tcp_flags::ACK, 0, 9_000);
    }

    /// Data with PSH-ACK, then `body` stamped with the same frame.
    fn data(&mut self, c: &mut Conn, dir: Dir, len: usize, ns: u64, body: EventBody) {
        let s = self.segment(c, dir, tcp_flags::PSH | tcp_flags::ACK, len as u32, ns);
        self.push(s, c, Some(dir), body);
    }

    /// `GET target` with `Upgrade: websocket`, the 101 answer with a valid accept, and the
    /// ACKs.
    pub fn upgrade(&mut self, c: &mut Conn, target: &str) {
        let host = c.server.to_string();
        let headers = vec![
            ("Host".to_string(), host),
            ("Upgrade".to_string(), "websocket".to_string()),
            ("Connection".to_string(), "Upgrade".to_string()),
            ("Sec-WebSocket-Key".to_string(), SAMPLE_KEY.to_string()),
            ("Sec-WebSocket-Version".to_string(), "13".to_string()),
        ];
        let head_len = head_bytes(&format!("GET {target} HTTP/1.1"), &headers);
        let req = HttpRequest {
            method: "GET".into(),
            target: target.into(),
            version: "HTTP/1.1".into(),
            headers,
            head_len,
            body: BodyKind::None,
        };
        self.data(
            c,
            Dir::C2s,
            head_len as usize,
            478_000,
            EventBody::HttpRequest(Box::new(req)),
        );
        self.ack(c, Dir::S2c);
        let headers = vec![
            ("Upgrade".to_string(), "websocket".to_string()),
            ("Connection".to_string(), "Upgrade".to_string()),
            (
                "Sec-WebSocket-Accept".to_string(),
                SAMPLE_ACCEPT.to_string(),
            ),
        ];
        let head_len = head_bytes("HTTP/1.1 101 Switching Protocols", &headers);
        let resp = HttpResponse {
            status: 101,
            reason: "Switching Protocols".into(),
            version: "HTTP/1.1".into(),
            headers,
            head_len,
            body: BodyKind::None,
            request_method: Some("GET".into()),
            time_since_request: None,
            upgrade: Some(WsUpgrade {
                key: SAMPLE_KEY.into(),
                accept: SAMPLE_ACCEPT.into(),
                accept_expected: SAMPLE_ACCEPT.into(),
                accept_valid: true,
                subprotocol: None,
                extensions: None,
                deflate: None,
            }),
        };
        self.data(
            c,
            Dir::S2c,
            head_len as usize,
            269_000,
            EventBody::HttpResponse(Box::new(resp)),
        );
        c.websocket = true;
        let change = StateChange {
            from: c.state,
            state: c.state,
            websocket: true,
        };
        let s = self.stamp_again();
        self.push(s, c, None, EventBody::ConnectionState(change));
        self.ack(c, Dir::C2s);
    }

    /// A plain `GET target` answered by `200 OK` with a Content-Length body.
    pub fn get(&mut self, c: &mut Conn, target: &str, body: &[u8]) {
        let headers = vec![
            ("Host".to_string(), c.server.to_string()),
            ("User-Agent".to_string(), "curl/8.5.0".to_string()),
            ("Accept".to_string(), "*/*".to_string()),
        ];
        let head_len = head_bytes(&format!("GET {target} HTTP/1.1"), &headers);
        let req = HttpRequest {
            method: "GET".into(),
            target: target.into(),
            version: "HTTP/1.1".into(),
            headers,
            head_len,
            body: BodyKind::None,
        };
        self.data(
            c,
            Dir::C2s,
            head_len as usize,
            95_000,
            EventBody::HttpRequest(Box::new(req)),
        );
        self.ack(c, Dir::S2c);
        let headers = vec![
            ("Content-Type".to_string(), "text/plain".to_string()),
            ("Content-Length".to_string(), body.len().to_string()),
        ];
        let head_len = head_bytes("HTTP/1.1 200 OK", &headers);
        let resp = HttpResponse {
            status: 200,
            reason: "OK".into(),
            version: "HTTP/1.1".into(),
            headers,
            head_len,
            body: BodyKind::Length,
            request_method: Some("GET".into()),
            time_since_request: None,
            upgrade: None,
        };
        let total = head_len as usize + body.len();
        self.data(
            c,
            Dir::S2c,
            total,
            310_000,
            EventBody::HttpResponse(Box::new(resp)),
        );
        let s = self.stamp_again();
        let b = HttpBody {
            len: body.len() as u64,
            chunk: None,
            end: true,
            missing: 0,
            text: None,
            data: Payload::capped(body, 4096),
        };
        self.push(s, c, Some(Dir::S2c), EventBody::HttpBody(Box::new(b)));
        self.ack(c, Dir::C2s);
    }

    /// One WebSocket message in one frame (masked from the client, as RFC 6455 §5.3 wants).
    pub fn ws(&mut self, c: &mut Conn, dir: Dir, opcode: Opcode, payload: &[u8], ns: u64) {
        self.ws_frames(c, dir, opcode, &[payload], ns);
    }

    /// One WebSocket message cut into `parts.len()` frames, each in its own segment.
    pub fn ws_frames(&mut self, c: &mut Conn, dir: Dir, opcode: Opcode, parts: &[&[u8]], ns: u64) {
        self.ws_message(c, dir, opcode, parts, ns);
        self.ack(c, dir.rev());
    }

    /// A text message the peer should not have sent: the `violation` follows the message.
    pub fn ws_violating(
        &mut self,
        c: &mut Conn,
        dir: Dir,
        payload: &[u8],
        rule: &'static str,
        detail: &str,
    ) {
        self.ws_message(c, dir, Opcode::Text, &[payload], 300_000);
        self.violation(c, dir, rule, detail);
        self.ack(c, dir.rev());
    }

    fn ws_message(&mut self, c: &mut Conn, dir: Dir, opcode: Opcode, parts: &[&[u8]], ns: u64) {
        let masked = dir == Dir::C2s;
        let mut whole = Vec::new();
        for (n, part) in parts.iter().enumerate() {
            let header_len: u8 = 2 + if masked { 4 } else { 0 };
            let frame = WsFrame {
                opcode: if n == 0 { opcode } else { Opcode::Continuation },
                fin: n + 1 == parts.len(),
                rsv1: false,
                rsv2: false,
                rsv3: false,
                masked,
                mask_key: masked.then(|| MaskKey::new([0x37, 0xfa, 0x21, 0x3d])),
                payload_len: part.len() as u64,
                header_len,
                data: Payload::capped(part, 4096),
                incomplete: false,
            };
            let wire = usize::from(header_len) + part.len();
            let gap = if n == 0 { ns } else { 40_000 };
            self.data(c, dir, wire, gap, EventBody::WsFrame(frame));
            whole.extend_from_slice(part);
        }
        let (code, reason, text) = match opcode {
            Opcode::Close => {
                let code = whole.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]));
                let reason = whole
                    .get(2..)
                    .filter(|r| !r.is_empty())
                    .map(|r| String::from_utf8_lossy(r).into_owned());
                (code, reason, None)
            }
            Opcode::Binary => (None, None, None),
            _ => (
                None,
                None,
                Some(String::from_utf8_lossy(&whole).into_owned()),
            ),
        };
        let msg = WsMessage {
            opcode,
            len: whole.len() as u64,
            compressed: false,
            frames: parts.len() as u32,
            text,
            code,
            code_name: code.map(close_code_name),
            reason,
            data: Payload::capped(&whole, 4096),
            incomplete: false,
        };
        let s = self.stamp_again();
        self.push(s, c, Some(dir), EventBody::WsMessage(Box::new(msg)));
    }

    /// `dir` sends FIN; the peer answers FIN-ACK; the first sender ACKs; `connection_end`.
    pub fn close(&mut self, c: &mut Conn, first: Dir) {
        self.segment(c, first, tcp_flags::FIN | tcp_flags::ACK, 0, 7_000);
        self.set_state(c, ConnState::Closing);
        self.segment(c, first.rev(), tcp_flags::FIN | tcp_flags::ACK, 0, 31_000);
        self.set_state(c, ConnState::Closed);
        self.segment(c, first, tcp_flags::ACK, 0, 9_000);
        self.end(c, ConnState::Closed);
    }

    /// `dir` resets the connection: refused when the server answers the SYN so, reset
    /// otherwise (the engine's rule).
    pub fn reset(&mut self, c: &mut Conn, dir: Dir, ns: u64) {
        self.segment(c, dir, tcp_flags::RST | tcp_flags::ACK, 0, ns);
        let state = match c.state {
            ConnState::Handshaking if dir == Dir::S2c && c.segments[1] == 1 => ConnState::Refused,
            ConnState::Closed => ConnState::Closed,
            _ => ConnState::Reset,
        };
        self.set_state(c, state);
    }

    /// The `connection_end` event, stamped with the last frame.
    pub fn end(&mut self, c: &Conn, state: ConnState) {
        let s = self.stamp_again();
        let e = ConnectionEnd {
            client: c.client,
            server: c.server,
            state,
            websocket: c.websocket,
            duration: Nanos(self.t - c.start),
            segments: c.segments,
            bytes: c.bytes,
            tls: None,
        };
        self.push(s, c, None, EventBody::ConnectionEnd(Box::new(e)));
    }

    /// A segment the sender had to send again (same sequence number as the previous one).
    pub fn retransmit(&mut self, c: &mut Conn, dir: Dir, len: u32, ns: u64) {
        let i = dir.idx();
        c.next[i] = c.next[i].wrapping_sub(len);
        self.segment_with(
            c,
            dir,
            tcp_flags::PSH | tcp_flags::ACK,
            len,
            ns,
            [TcpAnalysis::Retransmission].into(),
        );
    }

    /// `lost` bytes from `dir` never reach the capture: the next segment is flagged
    /// "previous segment not captured" and the stream reports a `gap`.
    pub fn lose(&mut self, c: &mut Conn, dir: Dir, lost: u32, then_len: u32, ns: u64) {
        let i = dir.idx();
        let missing_at = c.next[i];
        c.next[i] = c.next[i].wrapping_add(lost);
        let s = self.segment_with(
            c,
            dir,
            tcp_flags::PSH | tcp_flags::ACK,
            then_len,
            ns,
            [TcpAnalysis::LostSegment].into(),
        );
        let gap = Gap {
            seq: missing_at,
            len: lost,
            reason: GapReason::NotCaptured,
        };
        self.push(s, c, Some(dir), EventBody::Gap(gap));
    }

    /// A protocol violation reported on the frame just added.
    pub fn violation(&mut self, c: &Conn, dir: Dir, rule: &'static str, detail: &str) {
        let s = self.stamp_again();
        let v = Violation {
            layer: crate::model::Layer::Websocket,
            rule,
            detail: detail.into(),
        };
        self.push(s, c, Some(dir), EventBody::Violation(v));
    }
}

fn syn_options() -> TcpOptions {
    TcpOptions {
        mss: Some(65495),
        wscale: Some(7),
        sack_perm: true,
        ts_val: Some(3_141_592),
        ts_ecr: Some(0),
    }
}

fn head_bytes(first_line: &str, headers: &[(String, String)]) -> u32 {
    let h: usize = headers.iter().map(|(n, v)| n.len() + 2 + v.len() + 2).sum();
    (first_line.len() + 2 + h + 2) as u32
}

/// A WebSocket chat on loopback, start to end, as connection `id`: handshake, upgrade,
/// text (one fragmented), binary, ping/pong, close both ways, FIN both ways.
pub fn websocket_chat(s: &mut Script, id: ConnId, client_port: u16) -> Conn {
    let mut c = s.syn(id, &format!("127.0.0.1:{client_port}"), "127.0.0.1:8080", 0);
    s.accept(&mut c);
    s.upgrade(&mut c, "/chat");
    s.ws(&mut c, Dir::C2s, Opcode::Text, b"hello websocket", 165_000);
    s.ws(&mut c, Dir::S2c, Opcode::Text, b"hello websocket", 76_000);
    s.ws_frames(
        &mut c,
        Dir::C2s,
        Opcode::Text,
        &[b"fragmented ", b"message"],
        310_000,
    );
    s.ws(
        &mut c,
        Dir::C2s,
        Opcode::Binary,
        &[0, 1, 2, 3, 0xfe, 0xff],
        120_000,
    );
    s.ws(
        &mut c,
        Dir::S2c,
        Opcode::Binary,
        &[0, 1, 2, 3, 0xfe, 0xff],
        52_000,
    );
    s.ws(&mut c, Dir::C2s, Opcode::Ping, b"are you there", 887_000);
    s.ws(&mut c, Dir::S2c, Opcode::Pong, b"are you there", 54_000);
    s.ws(&mut c, Dir::C2s, Opcode::Close, b"\x03\xe8bye", 179_000);
    s.ws(&mut c, Dir::S2c, Opcode::Close, b"\x03\xe8", 48_000);
    s.close(&mut c, Dir::S2c);
    c
}

/// A capture's worth of connections on loopback: #0 the WebSocket chat, #1 a plain HTTP GET,
/// #2 refused (SYN answered by RST), #3 an upload with a lost segment, a retransmission and a
/// reset.
pub fn demo() -> Vec<Event> {
    let mut s = Script::new();
    websocket_chat(&mut s, 0, 51234);

    let mut c = s.syn(1, "127.0.0.1:51240", "127.0.0.1:8080", 1_200_000);
    s.accept(&mut c);
    s.get(&mut c, "/index.html", b"Hello, world!\n");
    s.close(&mut c, Dir::C2s);

    let mut c = s.syn(2, "127.0.0.1:51242", "127.0.0.1:9", 2_500_000);
    s.reset(&mut c, Dir::S2c, 18_000);
    s.end(&c, ConnState::Refused);

    let mut c = s.syn(3, "127.0.0.1:51250", "127.0.0.1:8080", 900_000);
    s.accept(&mut c);
    s.upgrade(&mut c, "/feed");
    s.ws(&mut c, Dir::S2c, Opcode::Text, b"tick 1", 1_000_000);
    s.lose(&mut c, Dir::S2c, 8, 8, 1_000_000);
    s.retransmit(&mut c, Dir::S2c, 8, 200_000);
    s.ws_violating(
        &mut c,
        Dir::C2s,
        b"\x1b[31mred\x1b[0m",
        "invalid_utf8",
        "text message is not valid UTF-8",
    );
    s.reset(&mut c, Dir::S2c, 150_000);
    s.end(&c, ConnState::Reset);
    s.events
}

/// `n` events spread over `conns` connections, `big` of them on connection 0: a synthetic
/// load for benchmarks (WebSocket chatter with the ACKs).
pub fn large(n: usize, conns: u32, big: usize) -> Vec<Event> {
    let mut s = Script::new();
    let mut open: Vec<Conn> = Vec::new();
    for id in 0..conns.max(1) {
        let mut c = s.syn(
            id,
            &format!("127.0.0.1:{}", 20000 + (id % 40000)),
            "127.0.0.1:8080",
            1_000,
        );
        s.accept(&mut c);
        s.upgrade(&mut c, "/chat");
        open.push(c);
    }
    let mut i = 0u64;
    while s.events.len() < n {
        let on_big = (i as usize) < big / 4 + 1;
        let k = if on_big || open.len() < 2 {
            0
        } else {
            1 + (i as usize % (open.len() - 1))
        };
        let Some(c) = open.get_mut(k) else { break };
        let dir = if i.is_multiple_of(2) {
            Dir::C2s
        } else {
            Dir::S2c
        };
        s.ws(c, dir, Opcode::Text, b"tick tock, synthetic chatter", 3_000);
        i += 1;
    }
    s.events.truncate(n);
    s.events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_is_in_frame_order_with_every_kind_that_matters() {
        let ev = demo();
        assert!(ev.windows(2).all(|w| w[0].frame <= w[1].frame));
        assert!(ev.windows(2).all(|w| w[0].t <= w[1].t));
        let kinds: std::collections::HashSet<_> = ev.iter().map(|e| e.body.kind()).collect();
        for k in [
            "connection",
            "tcp",
            "handshake",
            "gap",
            "http_request",
            "http_response",
            "http_body",
            "ws_frame",
            "ws_message",
            "violation",
            "connection_end",
        ] {
            assert!(kinds.contains(k), "{k} missing");
        }
    }

    #[test]
    fn large_has_the_asked_size() {
        let ev = large(10_000, 10, 5_000);
        assert_eq!(ev.len(), 10_000);
        assert!(ev.iter().filter(|e| e.conn == Some(0)).count() >= 5_000);
    }
}
