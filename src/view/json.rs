//! JSON Lines: one object per event, the public schema documented in the README.
//!
//! The kinds that come per segment, per frame and per message (and the small ones) are written
//! by hand, field by field, straight into a byte buffer: integers with `itoa`, the `t` and
//! duration seconds with `ryu` (serde_json's own number formatting, so the bytes are the same),
//! keys as literals, strings through one escaping loop. serde's `#[serde(flatten)]` and
//! internally tagged enums go through a map serializer that escapes every key character by
//! character; that was two thirds of `decode --format json`. The rarer kinds (HTTP heads, the
//! subprotocols, patterns, any kind added later) are written by serde as before.
//!
//! The hand-written structs are destructured field by field, so adding a field to one of them
//! fails to compile here until it is written too; `tests::hand_written_equals_serde` holds the
//! bytes equal to serde's on every event of every committed capture.
//!
//! Strings from the wire may hold any character. JSON requires escaping only `"`, `\` and
//! U+0000..U+001F, so DEL, the C1 controls (U+0080..U+009F, CSI among them: some terminals
//! act on them in UTF-8), the bidi controls and the Unicode line separators would otherwise
//! reach a terminal, or a line splitter that treats NEL/LS/PS as line ends (Python's
//! `str.splitlines`), raw. They are written as `\uXXXX` escapes: the same JSON values, one
//! line per event, nothing a terminal acts on.

use std::io::{self, Write};
use std::net::SocketAddr;

use serde::Serialize;

use crate::model::{
    ConnState, ConnectionEnd, ConnectionInfo, Dir, Event, EventBody, Gap, GapReason, Handshake,
    HttpBody, Layer, Malformed, Nanos, Note, Opcode, TcpAnalysis, TcpOptions, TcpSegment,
    TlsContentType, TlsRecord, TlsVersion, Violation, WsFrame, WsMessage,
};

/// Writes `event` as one JSON line.
pub fn write_event<W: Write>(w: &mut W, event: &Event) -> io::Result<()> {
    let mut line = Vec::with_capacity(256);
    encode(&mut line, event)?;
    w.write_all(&line)
}

/// Appends `event` as one JSON line (with its `\n`) to `out`. Only the kinds written by serde
/// can fail (a serde error), and none does with the model's types.
pub fn encode(out: &mut Vec<u8>, e: &Event) -> io::Result<()> {
    out.extend_from_slice(b"{\"t\":");
    f64_secs(out, e.t);
    out.extend_from_slice(b",\"frame\":");
    int(out, e.frame);
    if let Some(c) = e.conn {
        out.extend_from_slice(b",\"conn\":");
        int(out, c);
    }
    if let Some(d) = e.dir {
        out.extend_from_slice(match d {
            Dir::C2s => b",\"dir\":\"c2s\"",
            Dir::S2c => b",\"dir\":\"s2c\"",
        });
    }
    out.extend_from_slice(b",\"kind\":\"");
    out.extend_from_slice(e.body.kind().as_bytes());
    out.push(b'"');
    match &e.body {
        EventBody::Tcp(s) => tcp(out, s),
        EventBody::WsFrame(f) => ws_frame(out, f),
        EventBody::WsMessage(m) => ws_message(out, m),
        EventBody::HttpBody(b) => http_body(out, b),
        EventBody::Handshake(h) => handshake(out, h),
        EventBody::Gap(g) => gap(out, g),
        EventBody::Connection(c) => connection(out, c),
        EventBody::ConnectionEnd(c) => connection_end(out, c),
        EventBody::Violation(v) => violation(out, v),
        EventBody::Malformed(m) => malformed(out, m),
        EventBody::Note(n) => note(out, n),
        EventBody::TlsRecord(r) => tls_record(out, r),
        body => serde_body(out, body)?,
    }
    out.extend_from_slice(b"}\n");
    Ok(())
}

/// The fields after `kind` of a kind not written by hand: serde writes the body alone
/// (`{"kind":"...",FIELDS}`, the same fields in the same order as when flattened into the
/// event), and its fields are spliced in after the `kind` written already.
fn serde_body(out: &mut Vec<u8>, body: &EventBody) -> io::Result<()> {
    let start = out.len();
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, TerminalSafe);
    body.serialize(&mut ser)?;
    // `{"kind":"NAME"` then `,FIELDS}` or `}`: keep `,FIELDS` only.
    let skip = b"{\"kind\":\"".len() + body.kind().len() + 1;
    let fields_end = out.len().saturating_sub(1);
    let fields_start = (start + skip).min(fields_end);
    out.copy_within(fields_start..fields_end, start);
    out.truncate(start + (fields_end - fields_start));
    Ok(())
}

fn tcp(out: &mut Vec<u8>, s: &TcpSegment) {
    let TcpSegment {
        flags,
        seq,
        ack,
        len,
        win,
        options,
        analysis,
        truncated,
    } = s;
    out.extend_from_slice(b",\"flags\":[");
    for (i, name) in flags.names().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.push(b'"');
    }
    out.extend_from_slice(b"],\"seq\":");
    int(out, *seq);
    if let Some(a) = ack {
        out.extend_from_slice(b",\"ack\":");
        int(out, *a);
    }
    out.extend_from_slice(b",\"len\":");
    int(out, *len);
    out.extend_from_slice(b",\"win\":");
    int(out, *win);
    if let Some(o) = options {
        tcp_options(out, o);
    }
    if !analysis.is_empty() {
        out.extend_from_slice(b",\"analysis\":[");
        for (i, a) in analysis.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(analysis_name(*a).as_bytes());
            out.push(b'"');
        }
        out.push(b']');
    }
    if *truncated {
        out.extend_from_slice(b",\"truncated\":true");
    }
}

fn tcp_options(out: &mut Vec<u8>, o: &TcpOptions) {
    let TcpOptions {
        mss,
        wscale,
        sack_perm,
        ts_val,
        ts_ecr,
    } = o;
    out.extend_from_slice(b",\"options\":{");
    // `sack_perm` is always there: every other field is written with its comma first, after it.
    let mut first = true;
    let mut key = |out: &mut Vec<u8>, k: &[u8]| {
        if !first {
            out.push(b',');
        }
        first = false;
        out.push(b'"');
        out.extend_from_slice(k);
        out.extend_from_slice(b"\":");
    };
    if let Some(v) = mss {
        key(out, b"mss");
        int(out, *v);
    }
    if let Some(v) = wscale {
        key(out, b"wscale");
        int(out, *v);
    }
    key(out, b"sack_perm");
    boolean(out, *sack_perm);
    if let Some(v) = ts_val {
        key(out, b"ts_val");
        int(out, *v);
    }
    if let Some(v) = ts_ecr {
        key(out, b"ts_ecr");
        int(out, *v);
    }
    out.push(b'}');
}

fn ws_frame(out: &mut Vec<u8>, f: &WsFrame) {
    let WsFrame {
        opcode,
        fin,
        rsv1,
        rsv2,
        rsv3,
        masked,
        mask_key,
        payload_len,
        header_len,
        data: _,
        incomplete,
    } = f;
    out.extend_from_slice(b",\"opcode\":");
    opcode_value(out, *opcode);
    out.extend_from_slice(b",\"fin\":");
    boolean(out, *fin);
    out.extend_from_slice(b",\"rsv1\":");
    boolean(out, *rsv1);
    out.extend_from_slice(b",\"rsv2\":");
    boolean(out, *rsv2);
    out.extend_from_slice(b",\"rsv3\":");
    boolean(out, *rsv3);
    out.extend_from_slice(b",\"masked\":");
    boolean(out, *masked);
    if let Some(k) = mask_key {
        out.extend_from_slice(b",\"mask_key\":");
        string(out, k.as_str());
    }
    out.extend_from_slice(b",\"payload_len\":");
    int(out, *payload_len);
    out.extend_from_slice(b",\"header_len\":");
    int(out, *header_len);
    if *incomplete {
        out.extend_from_slice(b",\"incomplete\":true");
    }
}

fn ws_message(out: &mut Vec<u8>, m: &WsMessage) {
    let WsMessage {
        opcode,
        len,
        compressed,
        frames,
        text,
        code,
        code_name,
        reason,
        data: _,
        incomplete,
    } = m;
    out.extend_from_slice(b",\"opcode\":");
    opcode_value(out, *opcode);
    out.extend_from_slice(b",\"len\":");
    int(out, *len);
    out.extend_from_slice(b",\"compressed\":");
    boolean(out, *compressed);
    out.extend_from_slice(b",\"frames\":");
    int(out, *frames);
    if let Some(t) = text {
        out.extend_from_slice(b",\"text\":");
        string(out, t);
    }
    if let Some(c) = code {
        out.extend_from_slice(b",\"code\":");
        int(out, *c);
    }
    if let Some(n) = code_name {
        out.extend_from_slice(b",\"code_name\":");
        string(out, n);
    }
    if let Some(r) = reason {
        out.extend_from_slice(b",\"reason\":");
        string(out, r);
    }
    if *incomplete {
        out.extend_from_slice(b",\"incomplete\":true");
    }
}

fn http_body(out: &mut Vec<u8>, b: &HttpBody) {
    let HttpBody {
        len,
        chunk,
        end,
        missing,
        text,
        data: _,
    } = b;
    out.extend_from_slice(b",\"len\":");
    int(out, *len);
    if let Some(c) = chunk {
        out.extend_from_slice(b",\"chunk\":");
        int(out, *c);
    }
    out.extend_from_slice(b",\"end\":");
    boolean(out, *end);
    if *missing != 0 {
        out.extend_from_slice(b",\"missing\":");
        int(out, *missing);
    }
    if let Some(t) = text {
        out.extend_from_slice(b",\"text\":");
        string(out, t);
    }
}

fn handshake(out: &mut Vec<u8>, h: &Handshake) {
    let Handshake { syn_ack_rtt, irtt } = h;
    out.extend_from_slice(b",\"syn_ack_rtt\":");
    f64_secs(out, *syn_ack_rtt);
    out.extend_from_slice(b",\"irtt\":");
    f64_secs(out, *irtt);
}

fn gap(out: &mut Vec<u8>, g: &Gap) {
    let Gap { seq, len, reason } = g;
    out.extend_from_slice(b",\"seq\":");
    int(out, *seq);
    out.extend_from_slice(b",\"len\":");
    int(out, *len);
    out.extend_from_slice(match reason {
        GapReason::NotCaptured => b",\"reason\":\"not_captured\"",
        GapReason::Truncated => b",\"reason\":\"truncated\"",
    });
}

fn connection(out: &mut Vec<u8>, c: &ConnectionInfo) {
    let ConnectionInfo {
        client,
        server,
        joined_late,
    } = c;
    out.extend_from_slice(b",\"client\":");
    addr(out, client);
    out.extend_from_slice(b",\"server\":");
    addr(out, server);
    out.extend_from_slice(b",\"joined_late\":");
    boolean(out, *joined_late);
}

fn connection_end(out: &mut Vec<u8>, c: &ConnectionEnd) {
    let ConnectionEnd {
        client,
        server,
        state,
        websocket,
        duration,
        segments,
        bytes,
        tls,
    } = c;
    out.extend_from_slice(b",\"client\":");
    addr(out, client);
    out.extend_from_slice(b",\"server\":");
    addr(out, server);
    out.extend_from_slice(b",\"state\":\"");
    out.extend_from_slice(conn_state_name(*state).as_bytes());
    out.extend_from_slice(b"\",\"websocket\":");
    boolean(out, *websocket);
    out.extend_from_slice(b",\"duration\":");
    f64_secs(out, *duration);
    out.extend_from_slice(b",\"segments\":");
    pair(out, segments);
    out.extend_from_slice(b",\"bytes\":");
    pair(out, bytes);
    if let Some(t) = tls {
        // Once per connection: serde writes it.
        out.extend_from_slice(b",\"tls\":");
        let mut ser = serde_json::Serializer::with_formatter(&mut *out, TerminalSafe);
        let _ = t.serialize(&mut ser);
    }
}

fn tls_record(out: &mut Vec<u8>, r: &TlsRecord) {
    let TlsRecord {
        content_type,
        version,
        length,
        encrypted,
        inner_type,
        plaintext_len,
    } = r;
    fn content(out: &mut Vec<u8>, t: TlsContentType) {
        match t.name() {
            Some(n) => {
                out.push(b'"');
                out.extend_from_slice(n.as_bytes());
                out.push(b'"');
            }
            None => int(out, t.0),
        }
    }
    fn version_name(out: &mut Vec<u8>, v: TlsVersion) {
        out.push(b'"');
        match v.name() {
            Some(n) => out.extend_from_slice(n.as_bytes()),
            None => out.extend_from_slice(format!("0x{:04x}", v.0).as_bytes()),
        }
        out.push(b'"');
    }
    out.extend_from_slice(b",\"content_type\":");
    content(out, *content_type);
    out.extend_from_slice(b",\"version\":");
    version_name(out, *version);
    out.extend_from_slice(b",\"length\":");
    int(out, *length);
    if *encrypted {
        out.extend_from_slice(b",\"encrypted\":true");
    }
    if let Some(t) = inner_type {
        out.extend_from_slice(b",\"inner_type\":");
        content(out, *t);
    }
    if let Some(n) = plaintext_len {
        out.extend_from_slice(b",\"plaintext_len\":");
        int(out, *n);
    }
}

fn violation(out: &mut Vec<u8>, v: &Violation) {
    let Violation {
        layer,
        rule,
        detail,
    } = v;
    layer_field(out, *layer);
    out.extend_from_slice(b",\"rule\":");
    string(out, rule);
    out.extend_from_slice(b",\"detail\":");
    string(out, detail);
}

fn malformed(out: &mut Vec<u8>, m: &Malformed) {
    let Malformed { layer, detail } = m;
    layer_field(out, *layer);
    out.extend_from_slice(b",\"detail\":");
    string(out, detail);
}

fn note(out: &mut Vec<u8>, n: &Note) {
    let Note {
        layer,
        note,
        detail,
        bytes,
    } = n;
    layer_field(out, *layer);
    out.extend_from_slice(b",\"note\":");
    string(out, note);
    out.extend_from_slice(b",\"detail\":");
    string(out, detail);
    if let Some(b) = bytes {
        out.extend_from_slice(b",\"bytes\":");
        int(out, *b);
    }
}

fn layer_field(out: &mut Vec<u8>, layer: Layer) {
    out.extend_from_slice(b",\"layer\":\"");
    out.extend_from_slice(layer_name(layer).as_bytes());
    out.push(b'"');
}

/// A layer's JSON name (also the display filter's).
pub(crate) fn layer_name(layer: Layer) -> &'static str {
    match layer {
        Layer::Capture => "capture",
        Layer::Link => "link",
        Layer::Ip => "ip",
        Layer::Tcp => "tcp",
        Layer::Http => "http",
        Layer::Websocket => "websocket",
        Layer::Sse => "sse",
        Layer::Stomp => "stomp",
        Layer::Socketio => "socketio",
        Layer::Tls => "tls",
    }
}

fn conn_state_name(s: ConnState) -> &'static str {
    match s {
        ConnState::Handshaking => "handshaking",
        ConnState::Established => "established",
        ConnState::Closing => "closing",
        ConnState::Closed => "closed",
        ConnState::Reset => "reset",
        ConnState::Refused => "refused",
    }
}

/// A TCP analysis flag's JSON name (also the display filter's).
pub(crate) fn analysis_name(a: TcpAnalysis) -> &'static str {
    match a {
        TcpAnalysis::Retransmission => "retransmission",
        TcpAnalysis::OutOfOrder => "out_of_order",
        TcpAnalysis::LostSegment => "lost_segment",
        TcpAnalysis::DuplicateAck => "duplicate_ack",
        TcpAnalysis::ZeroWindow => "zero_window",
        TcpAnalysis::KeepAlive => "keep_alive",
        TcpAnalysis::KeepAliveAck => "keep_alive_ack",
        TcpAnalysis::WindowUpdate => "window_update",
        TcpAnalysis::AckLostSegment => "ack_lost_segment",
        TcpAnalysis::SpuriousRetransmission => "spurious_retransmission",
        TcpAnalysis::FastRetransmission => "fast_retransmission",
        TcpAnalysis::ZeroWindowProbe => "zero_window_probe",
        TcpAnalysis::ZeroWindowProbeAck => "zero_window_probe_ack",
        TcpAnalysis::WindowFull => "window_full",
        TcpAnalysis::ReusedPorts => "reused_ports",
    }
}

fn opcode_value(out: &mut Vec<u8>, o: Opcode) {
    match o {
        Opcode::Reserved(n) => int(out, n),
        o => {
            out.push(b'"');
            out.extend_from_slice(o.name().as_bytes());
            out.push(b'"');
        }
    }
}

fn pair(out: &mut Vec<u8>, v: &[u64; 2]) {
    out.push(b'[');
    int(out, v[0]);
    out.push(b',');
    int(out, v[1]);
    out.push(b']');
}

fn boolean(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

fn int<I: itoa::Integer>(out: &mut Vec<u8>, n: I) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Nanoseconds whose seconds [`f64_secs`] writes from the integer, without ryu: from 10 µs
/// (below it ryu writes an exponent, `9.999e-6`) to 10^15 ns (11.6 days). There the f64
/// nearest to n / 10^9 (`Nanos::secs_f64`, one correctly rounded division of exact values)
/// lies within half its spacing of the exact decimal n / 10^9, and that spacing is below
/// 10^-9 s, so every other decimal of at most 9 fractional digits is outside its rounding
/// interval: the exact decimal, trailing zeros dropped, is ryu's shortest form.
const PLAIN_SECS: std::ops::Range<u64> = 10_000..1_000_000_000_000_000;

/// Seconds as serde_json writes an `f64`: ryu's shortest form (`0.0`, `1.5e-6`, `12.0`,
/// `0.000123`).
fn f64_secs(out: &mut Vec<u8>, n: Nanos) {
    if PLAIN_SECS.contains(&n.0) {
        // `SECS.FRACTION`: the fraction's 9 digits without trailing zeros, at least one digit.
        int(out, n.0 / 1_000_000_000);
        out.push(b'.');
        let mut frac = n.0 % 1_000_000_000;
        if frac == 0 {
            out.push(b'0');
            return;
        }
        let mut width = 9;
        while frac.is_multiple_of(10) {
            frac /= 10;
            width -= 1;
        }
        let mut buf = itoa::Buffer::new();
        let digits = buf.format(frac).as_bytes();
        for _ in digits.len()..width {
            out.push(b'0');
        }
        out.extend_from_slice(digits);
        return;
    }
    let v = n.secs_f64();
    if v.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// An address as its `Display` form, a JSON string (digits, dots, colons, brackets and a `%`
/// zone number: nothing to escape).
fn addr(out: &mut Vec<u8>, a: &SocketAddr) {
    out.push(b'"');
    // A SocketAddr's text is at most 58 bytes.
    let mut buf = [0u8; 64];
    let mut cursor = io::Cursor::new(&mut buf[..]);
    if write!(cursor, "{a}").is_ok() {
        let n = usize::try_from(cursor.position()).unwrap_or(0);
        out.extend_from_slice(buf.get(..n).unwrap_or_default());
    } else {
        // Not reachable: fall back to an allocation.
        out.extend_from_slice(a.to_string().as_bytes());
    }
    out.push(b'"');
}

/// A JSON string: `"`, `\` and the C0 controls escaped as serde_json escapes them (`\n`,
/// `\u001b`...), and the [`needs_escape`] characters as `\uXXXX`.
fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        // Printable ASCII but `"` and `\` (and DEL) go out as they are.
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            i += 1;
            continue;
        }
        let (escape, len): (Option<u32>, usize) = if b < 0x80 {
            (Some(u32::from(b)), 1)
        } else {
            // A multi-byte character: escaped only when a terminal must not see it.
            match s.get(i..).and_then(|rest| rest.chars().next()) {
                Some(c) if needs_escape(c) => (Some(u32::from(c)), c.len_utf8()),
                Some(c) => (None, c.len_utf8()),
                None => (None, 1),
            }
        };
        let Some(code) = escape else {
            i += len;
            continue;
        };
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        match code {
            0x22 => out.extend_from_slice(b"\\\""),
            0x5c => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x0a => out.extend_from_slice(b"\\n"),
            0x0d => out.extend_from_slice(b"\\r"),
            0x09 => out.extend_from_slice(b"\\t"),
            // Every such character is in the Basic Multilingual Plane: one \u escape.
            c => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let nibble = |shift: u32| HEX[((c >> shift) & 0xf) as usize];
                out.extend_from_slice(&[b'\\', b'u', nibble(12), nibble(8), nibble(4), nibble(0)]);
            }
        }
        i += len;
        start = i;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    out.push(b'"');
}

/// serde_json's compact formatter, escaping the characters [`needs_escape`] names too.
struct TerminalSafe;

/// Characters JSON allows raw that must not reach a terminal or a line splitter raw: the line
/// separators, and what the text view escapes (DEL, the C1 controls, the Bidi_Control set; the
/// C0 controls serde_json escapes itself).
fn needs_escape(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}') || crate::view::text::unsafe_for_terminal(c)
}

impl serde_json::ser::Formatter for TerminalSafe {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if needs_escape(c) {
                w.write_all(fragment.get(start..i).unwrap_or("").as_bytes())?;
                // Every such character is in the Basic Multilingual Plane: one \u escape.
                write!(w, "\\u{:04x}", u32::from(c))?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(fragment.get(start..).unwrap_or("").as_bytes())
    }
}

/// `event` as serde writes it (every kind through serde, the schema's reference), one line:
/// what [`encode`] must equal byte for byte.
pub fn write_event_serde<W: Write>(w: &mut W, event: &Event) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut *w, TerminalSafe);
    event.serialize(&mut ser)?;
    w.write_all(b"\n")
}

#[cfg(test)]
mod tests;
