//! Engine.IO (protocols 3 and 4) and the Socket.IO packets it carries (Socket.IO protocols 4
//! and 5), over HTTP long-polling bodies and WebSocket messages.
//!
//! Sources: the Engine.IO protocol (<https://socket.io/docs/v4/engine-io-protocol/>, and
//! engine.io-parser 2.x for protocol 3) and the Socket.IO protocol
//! (<https://socket.io/docs/v4/socket-io-protocol/>, socket.io-parser).
//!
//! - An Engine.IO packet is a type digit (0 open, 1 close, 2 ping, 3 pong, 4 message,
//!   5 upgrade, 6 noop) and its data. Over WebSocket one message is one packet; a binary
//!   message is a binary Engine.IO message (protocol 3 prefixes it with the type byte 4).
//! - A long-polling body is a *payload* of packets ([`PayloadSplitter`]): protocol 4 joins them
//!   with the record separator 0x1e, binary ones base64-encoded as `b<base64>`; protocol 3
//!   prefixes each with its length, `<len>:<packet>` with the length in UTF-16 code units
//!   (JavaScript string length), base64 binaries as `b<type><base64>`, or, when a payload
//!   holds binaries and the client did not ask for base64, the binary framing
//!   `<0|1><length digits as bytes>0xff<packet>`.
//! - A Socket.IO packet is an Engine.IO message's text:
//!   `<type>[<attachments>-][/<namespace>,][<ack id>][JSON]`, types 0 CONNECT,
//!   1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR (ERROR in protocol 4), 5 BINARY_EVENT,
//!   6 BINARY_ACK. The binary attachments of a BINARY packet follow it as binary messages:
//!   they are counted, not decoded.
//!
//! JSON is never parsed into a tree: [`json`] scans it with a bounded depth, reads the event
//! name and the `sid` field, and checks that the rest is well-formed. Every text shown is a
//! preview cut at `Limits::max_text_preview` characters; packets are decoded from their kept
//! bytes (at most `Limits::max_kept_payload`), and a packet larger than that is reported with
//! what it holds and `incomplete`.

pub mod json;

use crate::model::SocketIoPacket;

/// Engine.IO packet type names, by type number.
const ENGINE_TYPES: [&str; 7] = [
    "open", "close", "ping", "pong", "message", "upgrade", "noop",
];

/// Socket.IO packet type names, by type number (protocol 5; protocol 4 calls 4 "ERROR").
const SOCKETIO_TYPES: [&str; 7] = [
    "CONNECT",
    "DISCONNECT",
    "EVENT",
    "ACK",
    "CONNECT_ERROR",
    "BINARY_EVENT",
    "BINARY_ACK",
];

/// Engine.IO record separator between the packets of a protocol 4 payload.
const RECORD_SEPARATOR: u8 = 0x1e;

/// Most digits of a protocol 3 packet length (engine.io-parser caps the length digits at 310
/// characters; no real packet needs more than 10 digits, and more would overflow).
const MAX_LEN_DIGITS: u8 = 10;

/// Most digits of an attachment count (a u32) and of an ack id (a u64).
const MAX_ATTACHMENT_DIGITS: usize = 9;
const MAX_ACK_DIGITS: usize = 19;

/// How the packets travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Polling,
    Websocket,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Polling => "polling",
            Transport::Websocket => "websocket",
        }
    }
}

/// What decoding produced, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Packet(SocketIoPacket),
    /// A packet (or payload framing) that breaks the protocol; decoding goes on.
    Malformed(String),
}

/// The `EIO` query parameter of a request target (`/socket.io/?EIO=4&transport=polling`),
/// with the transport it names: what marks an Engine.IO exchange.
pub fn classify_target(target: &str) -> Option<(u8, Transport)> {
    let (_, query) = target.split_once('?')?;
    let mut eio = None;
    let mut transport = None;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("EIO", "3")) => eio = Some(3),
            Some(("EIO", "4")) => eio = Some(4),
            Some(("transport", "polling")) => transport = Some(Transport::Polling),
            Some(("transport", "websocket")) => transport = Some(Transport::Websocket),
            _ => {}
        }
    }
    Some((eio?, transport?))
}

/// Whether a WebSocket text message looks like an Engine.IO open packet or probe: the shape
/// that marks an Engine.IO connection whose upgrade request was not captured.
pub fn looks_like_engineio(b: &[u8]) -> bool {
    b.starts_with(b"0{\"sid\":") || b == b"2probe" || b == b"3probe"
}

/// One direction's Engine.IO decoder: its protocol revision, and the binary attachments that
/// a BINARY_EVENT / BINARY_ACK announced and that have not arrived yet.
#[derive(Debug, Clone)]
pub struct Codec {
    eio: u8,
    max_preview: usize,
    announced: u32,
    seen: u32,
}

impl Codec {
    /// A decoder for Engine.IO protocol `eio` (3 or 4); previews cut at `max_preview` chars.
    pub fn new(eio: u8, max_preview: usize) -> Self {
        Codec {
            eio,
            max_preview,
            announced: 0,
            seen: 0,
        }
    }

    pub fn set_eio(&mut self, eio: u8) {
        self.eio = eio;
    }

    fn preview(&self, b: &[u8]) -> String {
        super::preview(b, self.max_preview)
    }

    fn base(transport: Transport, engine_type: &'static str, cut: bool) -> SocketIoPacket {
        SocketIoPacket {
            incomplete: cut,
            ..SocketIoPacket::new(transport.name(), engine_type)
        }
    }

    /// The next attachment number, when a BINARY packet announced one.
    fn next_attachment(&mut self) -> Option<u32> {
        if self.seen < self.announced {
            self.seen += 1;
            Some(self.seen)
        } else {
            None
        }
    }

    /// Decodes one Engine.IO packet `b` given whole (a [`Packet`] fed it at once).
    /// `binary`: it came as binary (a WebSocket binary message, or a binary packet of protocol
    /// 3's binary payload framing). `total`: its length in bytes (more than `b` when only its
    /// start is given); `cut`: it is incomplete.
    pub fn packet(
        &mut self,
        transport: Transport,
        b: &[u8],
        binary: bool,
        total: u64,
        cut: bool,
        out: &mut Vec<Item>,
    ) {
        let mut p = Packet::new(b.len(), u64::MAX);
        p.start(binary);
        p.feed(b, self, transport, out);
        p.total = p.total.max(total);
        p.finish(cut, self, transport, out);
    }

    /// Where the checked part of a packet starts in its first bytes `b` (all of it when
    /// `whole`), and what it is checked as.
    fn check_of(&mut self, b: &[u8], binary: bool, whole: bool) -> Check {
        if binary {
            return Check::Nothing;
        }
        match b.first() {
            Some(b'b') => Check::Base64 {
                skip: if self.eio >= 4 { 1 } else { 2 },
                chars: 0,
                run_eq: 0,
                bad: false,
            },
            Some(b'0') => Check::json(1),
            Some(b'4') => {
                let rest = b.get(1..).unwrap_or_default();
                let mut scratch = SocketIoPacket::new("", "");
                let announced = (self.announced, self.seen);
                let (_, at) = self.socketio(rest, true, false, None, &mut scratch);
                (self.announced, self.seen) = announced;
                match at {
                    // A header running past the kept bytes (a namespace of kilobytes): where
                    // its JSON starts is not known.
                    Some(at) if whole || at + 1 < b.len() => Check::json(at + 1),
                    _ => Check::Nothing,
                }
            }
            _ => Check::Nothing,
        }
    }

    /// Decodes one Engine.IO packet from its first bytes `b` (all of it when `total` is
    /// their length) and what the streaming checks found over all of it.
    #[allow(clippy::too_many_arguments)]
    fn decode(
        &mut self,
        transport: Transport,
        b: &[u8],
        binary: bool,
        total: u64,
        cut: bool,
        check: &Check,
        out: &mut Vec<Item>,
    ) {
        if binary {
            self.binary(transport, b, total, cut, out);
            return;
        }
        // The first bytes are only the start of the packet.
        let short = cut || (b.len() as u64) < total;
        let Some(&t) = b.first() else {
            if cut {
                out.push(Item::Packet(Self::base(transport, "message", true)));
            } else {
                out.push(Item::Malformed("empty Engine.IO packet".into()));
            }
            return;
        };
        if t == b'b' {
            self.base64(transport, b, total, cut, short, check, out);
            return;
        }
        let Some(&engine_type) = t
            .checked_sub(b'0')
            .and_then(|i| ENGINE_TYPES.get(usize::from(i)))
        else {
            out.push(Item::Malformed(format!(
                "unknown Engine.IO packet type {:?}",
                char::from(t)
            )));
            return;
        };
        let rest = b.get(1..).unwrap_or_default();
        let mut p = Self::base(transport, engine_type, cut);
        let mut note = None;
        match t {
            b'0' => {
                // The handshake: {"sid":..,"upgrades":[..],"pingInterval":..,"pingTimeout":..}.
                p.sid = json::field(rest, 0, "sid", self.max_preview);
                p.data = Some(self.preview(rest));
                note = check.json_note(cut, "open packet");
            }
            b'4' => note = self.socketio(rest, short, cut, Some(check), &mut p).0,
            _ if !rest.is_empty() => p.data = Some(self.preview(rest)),
            _ => {}
        }
        out.push(Item::Packet(p));
        if let Some(n) = note {
            out.push(Item::Malformed(n));
        }
    }

    /// A binary Engine.IO message: protocol 4 sends the bytes alone, protocol 3 after a type
    /// byte (4, message).
    fn binary(
        &mut self,
        transport: Transport,
        b: &[u8],
        total: u64,
        cut: bool,
        out: &mut Vec<Item>,
    ) {
        let (engine_type, len) = if self.eio >= 4 {
            ("message", total)
        } else {
            let Some(&t) = b.first() else {
                out.push(Item::Malformed("empty binary Engine.IO packet".into()));
                return;
            };
            match ENGINE_TYPES.get(usize::from(t)) {
                Some(&name) => (name, total.saturating_sub(1)),
                None => {
                    out.push(Item::Malformed(format!(
                        "unknown Engine.IO binary packet type {t}"
                    )));
                    return;
                }
            }
        };
        let mut p = Self::base(transport, engine_type, cut);
        p.binary_len = Some(len);
        p.attachment = self.next_attachment();
        out.push(Item::Packet(p));
    }

    /// A base64 binary message on long-polling: `b<base64>` (protocol 4) or
    /// `b<type><base64>` (protocol 3).
    #[allow(clippy::too_many_arguments)]
    fn base64(
        &mut self,
        transport: Transport,
        b: &[u8],
        total: u64,
        cut: bool,
        short: bool,
        check: &Check,
        out: &mut Vec<Item>,
    ) {
        let prefix = if self.eio >= 4 { 1 } else { 2 };
        let engine_type = if self.eio >= 4 {
            "message"
        } else {
            match b.get(1).and_then(|t| t.checked_sub(b'0')) {
                Some(i) if usize::from(i) < ENGINE_TYPES.len() => ENGINE_TYPES
                    .get(usize::from(i))
                    .copied()
                    .unwrap_or("message"),
                _ if short && b.len() < 2 => "message",
                _ => {
                    out.push(Item::Malformed(
                        "base64 Engine.IO packet without a type digit".into(),
                    ));
                    return;
                }
            }
        };
        let len = match *check {
            Check::Base64 {
                chars, run_eq, bad, ..
            } if !cut => {
                if run_eq > 2 || bad {
                    out.push(Item::Malformed(
                        "binary Engine.IO packet is not base64".into(),
                    ));
                }
                (chars - run_eq) * 3 / 4
            }
            // Estimated from the length: 3 bytes per 4 characters.
            _ => total.saturating_sub(prefix as u64) / 4 * 3,
        };
        let mut p = Self::base(transport, engine_type, cut);
        p.binary_len = Some(len);
        p.attachment = self.next_attachment();
        out.push(Item::Packet(p));
    }

    /// The Socket.IO packet in an Engine.IO message's text `b` (`short`: only its start);
    /// fills `p`; returns a problem and where its JSON payload starts. `check`: what the
    /// streaming check of that payload found (`cut`: the packet is incomplete).
    fn socketio(
        &mut self,
        b: &[u8],
        short: bool,
        cut: bool,
        check: Option<&Check>,
        p: &mut SocketIoPacket,
    ) -> (Option<String>, Option<usize>) {
        let Some(&t) = b.first() else {
            return (None, None);
        };
        let Some(ty) = t
            .checked_sub(b'0')
            .map(usize::from)
            .filter(|&i| i < SOCKETIO_TYPES.len())
        else {
            // Not Socket.IO: a plain Engine.IO message.
            p.data = Some(self.preview(b));
            return (None, None);
        };
        p.socketio_type = Some(if ty == 4 && self.eio < 4 {
            "ERROR"
        } else {
            SOCKETIO_TYPES.get(ty).copied().unwrap_or("?")
        });
        let mut i = 1;
        if ty == 5 || ty == 6 {
            // `<attachments>-`.
            let digits = count_digits(b, i);
            match b.get(i + digits) {
                Some(b'-') if digits > 0 && digits <= MAX_ATTACHMENT_DIGITS => {
                    let n = parse_digits(b.get(i..i + digits).unwrap_or_default()).unwrap_or(0);
                    let n = u32::try_from(n).unwrap_or(u32::MAX);
                    p.attachments = Some(n);
                    self.announced = n;
                    self.seen = 0;
                    i += digits + 1;
                }
                None if short => return (None, None),
                _ => {
                    return (
                        Some("BINARY packet without its attachment count".into()),
                        None,
                    )
                }
            }
        }
        p.namespace = Some("/".into());
        if b.get(i) == Some(&b'/') {
            // socket.io-parser: the namespace runs to the first ',' or the end.
            let rest = b.get(i..).unwrap_or_default();
            let len = rest.iter().position(|&c| c == b',').unwrap_or(rest.len());
            p.namespace = Some(self.preview(rest.get(..len).unwrap_or_default()));
            i += len + 1;
        }
        let digits = count_digits(b, i);
        if digits > 0 {
            let id = b.get(i..i + digits).unwrap_or_default();
            match parse_digits(id).filter(|_| digits <= MAX_ACK_DIGITS) {
                Some(id) => p.ack_id = Some(id),
                None => return (Some(format!("Socket.IO ack id of {digits} digits")), None),
            }
            i += digits;
        }
        let payload = b.get(i..).unwrap_or_default();
        if payload.is_empty() {
            return (None, Some(i));
        }
        let note = check.and_then(|c| c.json_note(cut, "Socket.IO payload"));
        let start = json::skip_ws(payload, 0);
        if (ty == 2 || ty == 5) && payload.get(start) == Some(&b'[') {
            let first = json::skip_ws(payload, start + 1);
            if let Some((name, end)) = json::string(payload, first, self.max_preview) {
                p.event = Some(name);
                // The arguments: the array without its first element.
                let after = json::skip_ws(payload, end);
                let args = match payload.get(after) {
                    Some(b',') => payload.get(after + 1..).unwrap_or_default(),
                    _ => payload.get(after..).unwrap_or_default(),
                };
                // A character is at most 4 bytes: enough for the preview.
                let room = self.max_preview.saturating_mul(4);
                let mut text = Vec::with_capacity(args.len().min(room).saturating_add(1));
                text.push(b'[');
                let args = args.get(json::skip_ws(args, 0)..).unwrap_or_default();
                text.extend_from_slice(args.get(..room).unwrap_or(args));
                p.data = Some(self.preview(&text));
                return (note, Some(i));
            }
        }
        if ty == 0 {
            // Socket.IO 3+: the server's answer carries the socket's id.
            p.sid = json::field(payload, 0, "sid", self.max_preview);
        }
        p.data = Some(self.preview(payload));
        (note, Some(i))
    }
}

fn is_base64(c: &u8) -> bool {
    c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/'
}

fn count_digits(b: &[u8], i: usize) -> usize {
    b.get(i..)
        .unwrap_or_default()
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count()
}

/// Decimal digits as a u64; `None` on overflow.
fn parse_digits(d: &[u8]) -> Option<u64> {
    d.iter().try_fold(0u64, |v, &c| {
        v.checked_mul(10)?
            .checked_add(u64::from(c.checked_sub(b'0')?))
    })
}

/// What is checked over a whole packet as its bytes arrive.
#[derive(Debug, Clone)]
enum Check {
    /// Not decided yet: the packet's first bytes are still coming.
    Undecided,
    Nothing,
    /// JSON from byte `skip` of the packet.
    Json {
        skip: u64,
        checker: json::Checker,
        fed: u64,
    },
    /// Base64 after a prefix of `skip` bytes: characters, the run of `=` at the end so far,
    /// and whether a byte is not base64.
    Base64 {
        skip: u64,
        chars: u64,
        run_eq: u64,
        bad: bool,
    },
}

impl Check {
    fn json(skip: usize) -> Check {
        Check::Json {
            skip: skip as u64,
            checker: json::Checker::new(),
            fed: 0,
        }
    }

    /// Takes the packet's bytes `b`, which start at byte `at` of it.
    fn feed(&mut self, b: &[u8], at: u64) {
        match self {
            Check::Undecided | Check::Nothing => {}
            Check::Json { skip, checker, fed } => {
                let from = usize::try_from(skip.saturating_sub(at)).unwrap_or(usize::MAX);
                if let Some(b) = b.get(from..).filter(|b| !b.is_empty()) {
                    *fed += b.len() as u64;
                    if checker.open() {
                        checker.feed(b);
                    }
                }
            }
            Check::Base64 {
                skip,
                chars,
                run_eq,
                bad,
            } => {
                let from = usize::try_from(skip.saturating_sub(at)).unwrap_or(usize::MAX);
                for &c in b.get(from..).unwrap_or_default() {
                    *chars += 1;
                    if c == b'=' {
                        *run_eq += 1;
                    } else {
                        // `=` is padding only at the end.
                        *bad |= *run_eq > 0 || !is_base64(&c);
                        *run_eq = 0;
                    }
                }
            }
        }
    }

    /// The problem with the JSON checked, if any; a value cut short in a packet that is
    /// incomplete (`cut`) is not a problem.
    fn json_note(&self, cut: bool, what: &str) -> Option<String> {
        let Check::Json { checker, .. } = self else {
            return None;
        };
        match checker.verdict() {
            json::Verdict::Ok => None,
            json::Verdict::Trailing(end) => {
                Some(format!("{what}: bytes after the JSON value at {end}"))
            }
            json::Verdict::Short if cut => None,
            json::Verdict::Short => Some(format!("{what}: JSON cut short")),
            json::Verdict::Bad(at) => Some(format!("{what}: not JSON at byte {at}")),
            json::Verdict::TooDeep => Some(format!(
                "{what}: JSON nested deeper than {} levels (not checked further)",
                json::MAX_DEPTH
            )),
        }
    }
}

/// One Engine.IO packet as its bytes arrive: its first `cap` bytes kept for the previews,
/// every byte counted and checked (JSON, base64) by [`Check`], so nothing is buffered beyond
/// `cap`. A packet larger than `max` bytes (`Limits::max_subprotocol_message`) is reported
/// when it reaches the limit, `incomplete`, and the rest of it is not decoded.
#[derive(Debug)]
pub struct Packet {
    cap: usize,
    max: u64,
    head: Vec<u8>,
    total: u64,
    binary: bool,
    check: Check,
    /// Bytes of it are missing: what follows is counted, not kept nor checked.
    holed: bool,
    /// It reached `max` and was reported: the rest is skipped.
    over: bool,
}

impl Packet {
    pub fn new(cap: usize, max: u64) -> Self {
        Packet {
            cap,
            max,
            head: Vec::new(),
            total: 0,
            binary: false,
            check: Check::Undecided,
            holed: false,
            over: false,
        }
    }

    /// Bytes held now: the first bytes kept (for memory-bound tests).
    #[doc(hidden)]
    pub fn held_bytes(&self) -> usize {
        self.head.len()
    }

    /// A packet starts (`binary`: it comes as binary).
    pub fn start(&mut self, binary: bool) {
        self.head.clear();
        self.total = 0;
        self.binary = binary;
        self.check = Check::Undecided;
        self.holed = false;
        self.over = false;
    }

    /// The packet's next bytes.
    pub fn feed(&mut self, b: &[u8], codec: &mut Codec, transport: Transport, out: &mut Vec<Item>) {
        if self.over {
            return;
        }
        let whole = b.len();
        let room = self.max.saturating_sub(self.total);
        let n = usize::try_from(room).map_or(b.len(), |r| r.min(b.len()));
        let b = b.get(..n).unwrap_or_default();
        if !self.holed {
            let keep = self.cap.saturating_sub(self.head.len()).min(b.len());
            self.head
                .extend_from_slice(b.get(..keep).unwrap_or_default());
            if matches!(self.check, Check::Undecided) {
                if self.head.len() >= self.cap {
                    self.decide(codec, false);
                    let rest = b.get(keep..).unwrap_or_default();
                    self.check.feed(rest, self.total + keep as u64);
                }
            } else {
                self.check.feed(b, self.total);
            }
        }
        self.total += n as u64;
        if n < whole {
            // A byte beyond the limit: a packet of exactly `max` bytes is whole.
            self.limit(codec, transport, out);
        }
    }

    /// The packet's first bytes are all kept (or it ended): decide what is checked and check
    /// what is kept.
    fn decide(&mut self, codec: &mut Codec, whole: bool) {
        self.check = codec.check_of(&self.head, self.binary, whole);
        self.check.feed(&self.head, 0);
    }

    fn limit(&mut self, codec: &mut Codec, transport: Transport, out: &mut Vec<Item>) {
        self.finish(true, codec, transport, out);
        out.push(Item::Malformed(format!(
            "Engine.IO packet larger than {} bytes (Limits::max_subprotocol_message): the rest \
             of it is not decoded",
            self.max
        )));
        self.over = true;
    }

    /// Bytes of the packet are missing.
    pub fn gap(&mut self) {
        self.holed = true;
    }

    /// The packet ended (`cut`: it is incomplete): decode it, unless it was reported at the
    /// limit.
    pub fn finish(
        &mut self,
        cut: bool,
        codec: &mut Codec,
        transport: Transport,
        out: &mut Vec<Item>,
    ) {
        if self.over {
            return;
        }
        if matches!(self.check, Check::Undecided) {
            self.decide(codec, true);
        }
        let check = std::mem::replace(&mut self.check, Check::Undecided);
        let head = std::mem::take(&mut self.head);
        codec.decode(
            transport,
            &head,
            self.binary,
            self.total,
            cut || self.holed,
            &check,
            out,
        );
        self.head = head;
        self.head.clear();
        self.over = true;
    }
}

/// Where a protocol 3 payload stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Split {
    /// Protocol 4: packets end at 0x1e or at the end of the body.
    Separated,
    /// Protocol 3, between packets.
    Start,
    /// `<len>:` being read.
    TextLen {
        value: u64,
        digits: u8,
    },
    /// Packet text: `units` UTF-16 code units to go, `cont` continuation bytes of the
    /// current character, `pair`: it is a 4-byte one (two units, a surrogate pair).
    TextData {
        units: u64,
        cont: u8,
        pair: bool,
    },
    /// Binary framing: the length digits (bytes 0..=9) up to 0xff.
    BinLen {
        string: bool,
        value: u64,
        digits: u8,
    },
    BinData {
        string: bool,
        left: u64,
    },
    /// The framing was lost (a gap, or bytes that are not a payload): the rest of the body
    /// is not decoded.
    Lost,
}

/// Splits one long-polling body into Engine.IO packets as its pieces arrive. Keeps at most
/// `cap` bytes of the packet in progress (the rest is counted), so a body of any size costs
/// at most `cap` bytes.
#[derive(Debug)]
pub struct PayloadSplitter {
    state: Split,
    packet: Packet,
    /// A packet is in progress (`packet` was started).
    started: bool,
    /// Bytes of the packet in progress are missing.
    cut: bool,
}

impl PayloadSplitter {
    /// A splitter for a body of Engine.IO protocol `eio`, keeping `cap` bytes of each packet
    /// for its previews; packets of at most `max` bytes.
    pub fn new(eio: u8, cap: usize, max: u64) -> Self {
        PayloadSplitter {
            state: if eio >= 4 {
                Split::Separated
            } else {
                Split::Start
            },
            packet: Packet::new(cap, max),
            started: false,
            cut: false,
        }
    }

    /// Bytes buffered now: the kept bytes of the packet in progress (for memory-bound tests).
    #[doc(hidden)]
    pub fn held_bytes(&self) -> usize {
        self.packet.held_bytes()
    }

    fn begin(&mut self, binary: bool) {
        if !self.started {
            self.packet.start(binary);
            self.started = true;
        }
    }

    fn keep(&mut self, b: &[u8], binary: bool, codec: &mut Codec, out: &mut Vec<Item>) {
        if b.is_empty() {
            return;
        }
        self.begin(binary);
        self.packet.feed(b, codec, Transport::Polling, out);
    }

    fn emit(&mut self, codec: &mut Codec, binary: bool, out: &mut Vec<Item>) {
        self.begin(binary);
        self.packet.finish(self.cut, codec, Transport::Polling, out);
        self.started = false;
        self.cut = false;
    }

    fn lose(&mut self, detail: String, out: &mut Vec<Item>) {
        self.state = Split::Lost;
        out.push(Item::Malformed(format!(
            "{detail}; the rest of this Engine.IO payload is not decoded"
        )));
    }

    /// Feeds the next body bytes; complete packets are decoded by `codec` into `out`.
    pub fn feed(&mut self, data: &[u8], codec: &mut Codec, out: &mut Vec<Item>) {
        let mut rest = data;
        while let Some(&b) = rest.first() {
            let mut used = 1;
            match self.state {
                Split::Separated => {
                    let n = rest
                        .iter()
                        .position(|&c| c == RECORD_SEPARATOR)
                        .unwrap_or(rest.len());
                    self.keep(rest.get(..n).unwrap_or_default(), false, codec, out);
                    if n < rest.len() {
                        self.emit(codec, false, out);
                        used = n + 1;
                    } else {
                        used = n;
                    }
                }
                Split::Start => match b {
                    b'0'..=b'9' => {
                        self.state = Split::TextLen {
                            value: u64::from(b - b'0'),
                            digits: 1,
                        }
                    }
                    0 | 1 => {
                        self.state = Split::BinLen {
                            string: b == 0,
                            value: 0,
                            digits: 0,
                        }
                    }
                    _ => self.lose(
                        format!("byte 0x{b:02x} cannot start an Engine.IO 3 payload packet"),
                        out,
                    ),
                },
                Split::TextLen { value, digits } => match b {
                    b'0'..=b'9' if digits < MAX_LEN_DIGITS => {
                        self.state = Split::TextLen {
                            value: value * 10 + u64::from(b - b'0'),
                            digits: digits + 1,
                        }
                    }
                    b':' if value == 0 => {
                        self.state = Split::Start;
                        self.emit(codec, false, out);
                    }
                    b':' => {
                        self.state = Split::TextData {
                            units: value,
                            cont: 0,
                            pair: false,
                        }
                    }
                    _ => self.lose(
                        format!("bad Engine.IO 3 packet length (byte 0x{b:02x})"),
                        out,
                    ),
                },
                Split::TextData { units, cont, pair } => {
                    // Count UTF-16 code units as the sender's JavaScript string length: a
                    // character of 4 UTF-8 bytes is 2 units, shorter ones 1; invalid bytes,
                    // and a character cut short, are one U+FFFD each (WHATWG Encoding, UTF-8
                    // decode), 1 unit.
                    let continues = cont > 0 && (0x80..0xC0).contains(&b);
                    if units == 0 && !continues {
                        // The packet ended on a character cut short: this byte starts the
                        // next packet.
                        self.state = Split::Start;
                        self.emit(codec, false, out);
                        used = 0;
                    } else {
                        let (units, cont, pair) = if continues {
                            // A 4-byte character's second unit counts once it is whole.
                            let whole_pair = pair && cont == 1;
                            (units.saturating_sub(u64::from(whole_pair)), cont - 1, pair)
                        } else {
                            let (cont, pair) = match b {
                                0xF0..=0xF4 => (3, true),
                                0xE0..=0xEF => (2, false),
                                0xC2..=0xDF => (1, false),
                                _ => (0, false),
                            };
                            (units.saturating_sub(1), cont, pair)
                        };
                        // A run of ASCII (one unit a byte) at once.
                        let ascii = if cont == 0 {
                            let most = usize::try_from(units).unwrap_or(usize::MAX);
                            rest.iter()
                                .skip(1)
                                .take(most)
                                .take_while(|c| c.is_ascii())
                                .count()
                        } else {
                            0
                        };
                        used = 1 + ascii;
                        let units = units - ascii as u64;
                        self.keep(rest.get(..used).unwrap_or_default(), false, codec, out);
                        if units == 0 && cont == 0 {
                            self.state = Split::Start;
                            self.emit(codec, false, out);
                        } else {
                            self.state = Split::TextData { units, cont, pair };
                        }
                    }
                }
                Split::BinLen {
                    string,
                    value,
                    digits,
                } => match b {
                    0..=9 if digits < MAX_LEN_DIGITS => {
                        self.state = Split::BinLen {
                            string,
                            value: value * 10 + u64::from(b),
                            digits: digits + 1,
                        }
                    }
                    0xff if value == 0 => {
                        self.state = Split::Start;
                        self.emit(codec, !string, out);
                    }
                    0xff => {
                        self.state = Split::BinData {
                            string,
                            left: value,
                        }
                    }
                    _ => self.lose(
                        format!("bad Engine.IO 3 binary packet length (byte 0x{b:02x})"),
                        out,
                    ),
                },
                Split::BinData { string, left } => {
                    let n = usize::try_from(left).map_or(rest.len(), |l| l.min(rest.len()));
                    self.keep(rest.get(..n).unwrap_or_default(), !string, codec, out);
                    used = n;
                    let left = left - n as u64;
                    if left == 0 {
                        self.state = Split::Start;
                        self.emit(codec, !string, out);
                    } else {
                        self.state = Split::BinData { string, left };
                    }
                }
                Split::Lost => used = rest.len(),
            }
            rest = rest.get(used..).unwrap_or_default();
        }
    }

    /// Bytes of the body are missing (a capture gap, or beyond the kept payload of a body
    /// piece). Protocol 4: the packet in progress is cut and the next separator ends it.
    /// Protocol 3: the lengths are lost with the bytes; the packet in progress is reported
    /// cut and the rest of the body is not decoded.
    pub fn gap(&mut self, codec: &mut Codec, out: &mut Vec<Item>) {
        match self.state {
            Split::Separated => {
                self.begin(false);
                self.packet.gap();
                self.cut = true;
            }
            Split::Lost => {}
            Split::TextData { .. } | Split::BinData { .. } => {
                self.cut = true;
                let binary = matches!(self.state, Split::BinData { string: false, .. });
                self.emit(codec, binary, out);
                self.lose("bytes of the payload are missing".into(), out);
            }
            Split::Start | Split::TextLen { .. } | Split::BinLen { .. } => {
                self.lose("bytes of the payload are missing".into(), out)
            }
        }
    }

    /// The body ended (`cut`: before its end, by the end of the stream or the next message):
    /// the last packet of a protocol 4 payload is complete unless cut; a protocol 3 packet
    /// still in progress was cut short.
    pub fn finish(&mut self, cut: bool, codec: &mut Codec, out: &mut Vec<Item>) {
        self.cut |= cut;
        match self.state {
            Split::Separated if self.started || self.cut => self.emit(codec, false, out),
            // Every unit is there, the last character was cut short: a whole packet.
            Split::TextData { units: 0, .. } => self.emit(codec, false, out),
            Split::TextData { .. } | Split::BinData { .. } => {
                self.cut = true;
                let binary = matches!(self.state, Split::BinData { string: false, .. });
                self.emit(codec, binary, out);
                out.push(Item::Malformed(
                    "Engine.IO payload ends inside a packet".into(),
                ));
            }
            Split::TextLen { .. } | Split::BinLen { .. } => out.push(Item::Malformed(
                "Engine.IO payload ends inside a packet length".into(),
            )),
            Split::Separated | Split::Start | Split::Lost => {}
        }
        self.state = Split::Lost;
    }
}

#[cfg(test)]
mod tests;
