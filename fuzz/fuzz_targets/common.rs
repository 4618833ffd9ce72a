//! Shared by the fuzz targets: the byte format that cuts an input into per-direction pieces
//! and gaps, the limits a target runs under, and the invariants every event must satisfy.
#![allow(dead_code)]

use std::collections::HashMap;

use synscope::model::{
    ConnId, Dir, Event, EventBody, Layer, Limits, Payload, SocketIoPacket, SseEvent, StompFrame,
};
use synscope::proto::stomp;
use synscope::view;

/// One call into a stream parser.
#[derive(Debug, Clone, Copy)]
pub enum Op<'a> {
    Data(Dir, &'a [u8]),
    Gap(Dir, u32),
}

/// Cuts `input` into operations. Each starts with a control byte `h`: bit 0 is the direction
/// (0 c2s, 1 s2c), bit 1 a gap instead of data, `h >> 2` the length; 63 means the length
/// follows, as a little-endian u16 for data, u32 for a gap. Data takes that many of the
/// following bytes (fewer at the end of the input).
pub fn ops(mut input: &[u8]) -> Vec<Op<'_>> {
    let mut out = Vec::new();
    while let Some((&h, rest)) = input.split_first() {
        input = rest;
        let dir = if h & 1 == 0 { Dir::C2s } else { Dir::S2c };
        let gap = h & 2 != 0;
        let short = usize::from(h >> 2);
        let n = if short < 63 {
            short
        } else if gap {
            let Some((b, rest)) = input.split_first_chunk::<4>() else {
                break;
            };
            input = rest;
            u32::from_le_bytes(*b) as usize
        } else {
            let Some((b, rest)) = input.split_first_chunk::<2>() else {
                break;
            };
            input = rest;
            usize::from(u16::from_le_bytes(*b))
        };
        if gap {
            if n > 0 {
                out.push(Op::Gap(dir, n as u32));
            }
        } else {
            let (piece, rest) = input.split_at(n.min(input.len()));
            input = rest;
            out.push(Op::Data(dir, piece));
        }
    }
    out
}

/// Encodes data pieces in the format [`ops`] reads (used by the seed extractor).
pub fn encode_data(out: &mut Vec<u8>, dir: Dir, mut data: &[u8]) {
    let d = match dir {
        Dir::C2s => 0u8,
        Dir::S2c => 1,
    };
    while !data.is_empty() {
        let n = data.len().min(usize::from(u16::MAX));
        out.push((63 << 2) | d);
        out.extend_from_slice(&(n as u16).to_le_bytes());
        out.extend_from_slice(&data[..n]);
        data = &data[n..];
    }
}

/// Limits small enough that every limit is hit by short inputs.
pub fn small_limits() -> Limits {
    Limits {
        max_held_bytes: 64,
        max_held_total: 160,
        max_http_head: 256,
        max_http_headers: 8,
        max_kept_payload: 16,
        max_text_preview: 8,
        max_message: 64,
        max_subprotocol_message: 40,
        max_connections: 4,
        max_upgrade_hold: 32,
        max_pending_requests: 3,
        max_conversations: 4,
        max_pattern_samples: 8,
        max_tls_handshake: 64,
        max_tls_key_wait: 256,
        max_keylog_sessions: 4,
        max_keylog_bytes: 1024,
    }
}

/// The limits picked by a config byte: small or the defaults.
pub fn limits(pick: u8) -> Limits {
    if pick & 1 == 0 {
        small_limits()
    } else {
        Limits::default()
    }
}

fn kept_ok(p: &Payload, limits: &Limits) {
    assert!(
        p.kept.len() <= limits.max_kept_payload,
        "kept {} bytes",
        p.kept.len()
    );
    assert!(p.kept.len() as u64 <= p.total, "kept more than the total");
}

fn preview_ok(what: &str, s: &str, max: usize) {
    let n = s.chars().count();
    assert!(n <= max, "{what}: preview of {n} chars > {max}");
}

/// An SSE event's previews within `max` characters, each standing for at least one byte.
pub fn check_sse(e: &SseEvent, max: usize) {
    for (what, s) in [("event", &e.event), ("id", &e.id), ("comment", &e.comment)] {
        if let Some(s) = s {
            preview_ok(what, s, max);
        }
    }
    preview_ok("data", &e.data, max);
    assert!(e.data.chars().count() as u64 <= e.data_len, "{e:?}");
}

/// A STOMP frame's headers within `stomp::MAX_HEADERS`, previews within `max` characters
/// (a command is a preview or one of the commands), the body's within its length.
pub fn check_stomp(f: &StompFrame, max: usize) {
    assert!(f.headers.len() <= stomp::MAX_HEADERS);
    preview_ok("command", &f.command, max.max("UNSUBSCRIBE".len()));
    for (k, v) in &f.headers {
        preview_ok("header name", k, max);
        preview_ok("header value", v, max);
    }
    if let Some(b) = &f.body {
        preview_ok("body", b, max);
        assert!(b.chars().count() as u64 <= f.body_len, "{f:?}");
    }
}

/// An Engine.IO / Socket.IO packet's previews within `max` characters.
pub fn check_socketio(p: &SocketIoPacket, max: usize) {
    for (what, s) in [
        ("namespace", &p.namespace),
        ("event", &p.event),
        ("data", &p.data),
        ("sid", &p.sid),
    ] {
        if let Some(s) = s {
            preview_ok(what, s, max);
        }
    }
}

/// A subprotocol's `malformed` detail: its own words and at most a debug-printed preview (an
/// escaped character takes at most 10).
pub fn check_detail(detail: &str, max: usize) {
    let n = detail.chars().count();
    assert!(n <= 10 * max + 200, "detail of {n} chars: {detail:?}");
}

/// Checks one event's own invariants: kept payloads and previews within their limits, HTTP
/// heads within theirs, and text and JSON renderings that work and put no raw control
/// character on a terminal.
pub fn check_event(e: &Event, limits: &Limits) {
    match &e.body {
        EventBody::HttpBody(b) => {
            kept_ok(&b.data, limits);
            assert!(b.missing <= b.len);
            assert!(b.data.kept.len() as u64 + b.missing <= b.len);
        }
        EventBody::WsFrame(f) => {
            kept_ok(&f.data, limits);
            assert_eq!(f.data.total, f.payload_len);
            assert!((2..=14).contains(&f.header_len));
        }
        EventBody::WsMessage(m) => {
            kept_ok(&m.data, limits);
            assert_eq!(m.data.total, m.len);
            for t in [&m.text, &m.reason].into_iter().flatten() {
                assert!(
                    t.chars().count() <= limits.max_text_preview,
                    "preview of {} chars",
                    t.chars().count()
                );
            }
        }
        EventBody::HttpRequest(r) => {
            assert!(r.head_len as usize <= limits.max_http_head.max(1));
            assert!(r.headers.len() <= limits.max_http_headers);
        }
        EventBody::HttpResponse(r) => {
            assert!(r.head_len as usize <= limits.max_http_head.max(1));
            assert!(r.headers.len() <= limits.max_http_headers);
        }
        EventBody::Data(d) => {
            kept_ok(&d.data, limits);
            assert_eq!(d.data.total, d.len);
            if let Some(t) = &d.text {
                assert!(t.chars().count() <= limits.max_text_preview);
            }
        }
        EventBody::SseEvent(s) => check_sse(s, limits.max_text_preview),
        EventBody::Stomp(f) => check_stomp(f, limits.max_text_preview),
        EventBody::Socketio(p) => check_socketio(p, limits.max_text_preview),
        EventBody::Malformed(m)
            if matches!(m.layer, Layer::Sse | Layer::Stomp | Layer::Socketio) =>
        {
            check_detail(&m.detail, limits.max_text_preview)
        }
        _ => {}
    }
    let mut line = String::new();
    view::text::format_event(&mut line, e);
    assert!(
        !line.chars().any(|c| c.is_control()),
        "raw control character in {line:?}"
    );
    let mut json = Vec::new();
    view::json::write_event(&mut json, e).unwrap();
}

/// The per-connection order contract of the flow table: `connection` first, at most one
/// `connection_end`, only `tcp` after it.
#[derive(Default)]
pub struct ConnOrder {
    /// conn -> ended
    seen: HashMap<ConnId, bool>,
}

impl ConnOrder {
    pub fn check(&mut self, e: &Event) {
        let Some(id) = e.conn else {
            assert!(
                matches!(
                    e.body,
                    EventBody::Malformed(_) | EventBody::Note(_) | EventBody::Pattern(_)
                ),
                "event without a connection: {e:?}"
            );
            return;
        };
        let kind = e.body.kind();
        match self.seen.get_mut(&id) {
            None => {
                assert_eq!(kind, "connection", "first event of #{id}");
                self.seen.insert(id, false);
            }
            Some(ended) => {
                assert!(kind != "connection", "second connection event of #{id}");
                if *ended {
                    assert_eq!(kind, "tcp", "{kind} after connection_end of #{id}");
                }
                if kind == "connection_end" {
                    *ended = true;
                }
            }
        }
    }

    /// After `finish`: every connection ended.
    pub fn all_ended(&self) -> bool {
        self.seen.values().all(|&e| e)
    }
}
