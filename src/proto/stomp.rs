//! STOMP 1.0, 1.1 and 1.2 frames carried in WebSocket messages
//! (<https://stomp.github.io/stomp-specification-1.2.html>).
//!
//! ```text
//! frame     = command EOL *( header EOL ) EOL *OCTET NULL *( EOL )
//! EOL       = [CR] LF
//! ```
//!
//! One WebSocket message may carry several frames, and a bare EOL where a frame could start is
//! a heart-beat (reported as a frame with command "HEARTBEAT"); the EOLs right after a frame's
//! NUL belong to that frame. The body runs for `content-length` bytes when the header is
//! given (it may then contain NUL), to the first NUL otherwise. Header names and values are
//! unescaped as 1.2 (`\r \n \c \\`) and 1.1 (`\n \c \\`) say, except in CONNECT and CONNECTED
//! frames; 1.0 has no escapes. Messages are decoded as their bytes arrive ([`Stream`]):
//! bodies are counted and previewed, never buffered; a frame is `incomplete` when its message
//! was (a capture gap, an inflation error) or when it reached the size limit
//! (`Limits::max_subprotocol_message`). At most [`MAX_FRAMES`] frames are decoded per message and [`MAX_HEADERS`]
//! headers kept per frame, so a message costs a bounded number of events.

use std::mem;

use crate::model::StompFrame;

/// Client and server commands (STOMP 1.2 §Client Frames, §Server Frames; STOMP is 1.1+).
const COMMANDS: [&str; 15] = [
    "CONNECT",
    "STOMP",
    "CONNECTED",
    "SEND",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "ACK",
    "NACK",
    "BEGIN",
    "COMMIT",
    "ABORT",
    "DISCONNECT",
    "MESSAGE",
    "RECEIPT",
    "ERROR",
];

/// Most headers kept per frame; more are counted in a `malformed` note and dropped.
pub const MAX_HEADERS: usize = 64;

/// Most frames (heart-beats included) decoded from one message; the rest of the message is
/// reported in a `malformed` note. Senders put one frame in a message; without a bound a
/// compressed message (RFC 7692) of a few bytes inflating to `max_kept_payload` EOLs would
/// be thousands of heart-beat events.
pub const MAX_FRAMES: usize = 32;

/// The protocol version in force: it decides the header escapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V10,
    V11,
    V12,
}

impl Version {
    /// From a WebSocket subprotocol (`v10.stomp`, `v11.stomp`, `v12.stomp`).
    pub fn from_subprotocol(p: &str) -> Option<Version> {
        match p.trim() {
            "v10.stomp" => Some(Version::V10),
            "v11.stomp" => Some(Version::V11),
            "v12.stomp" => Some(Version::V12),
            _ => None,
        }
    }

    /// From the `version` header of CONNECTED.
    pub fn from_header(v: &str) -> Option<Version> {
        match v.trim() {
            "1.0" => Some(Version::V10),
            "1.1" => Some(Version::V11),
            "1.2" => Some(Version::V12),
            _ => None,
        }
    }
}

/// What decoding a message produced, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Frame(StompFrame),
    Malformed(String),
}

/// Whether a WebSocket message starts like a STOMP frame (a command and its EOL): the shape
/// that marks a STOMP connection when no `v1x.stomp` subprotocol was negotiated.
pub fn looks_like_stomp(b: &[u8]) -> bool {
    COMMANDS.iter().any(|c| {
        b.strip_prefix(c.as_bytes())
            .is_some_and(|r| r.starts_with(b"\n") || r.starts_with(b"\r\n"))
    })
}

/// STOMP 1.1/1.2 §Value Encoding: the unescaped text, or the undefined escape met.
fn unescape(raw: &[u8], version: Version) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut it = raw.iter();
    while let Some(&c) = it.next() {
        if c != b'\\' {
            out.push(c);
            continue;
        }
        match (it.next(), version) {
            (Some(b'n'), _) => out.push(b'\n'),
            (Some(b'c'), _) => out.push(b':'),
            (Some(b'\\'), _) => out.push(b'\\'),
            (Some(b'r'), Version::V12) => out.push(b'\r'),
            (Some(&e), _) => {
                return Err(format!(
                    "undefined escape \\{} in a header",
                    char::from(e).escape_default()
                ))
            }
            (None, _) => return Err("header ends with a lone backslash".into()),
        }
    }
    Ok(out)
}

/// Decodes the STOMP frames of one whole WebSocket message `b` (a [`Stream`] fed it at
/// once). `cut`: the message is incomplete. `version` is updated by a CONNECTED frame's
/// `version` header. Previews are cut at `max_preview` characters.
pub fn parse_message(
    b: &[u8],
    cut: bool,
    version: &mut Version,
    max_preview: usize,
    out: &mut Vec<Item>,
) {
    let mut s = Stream::new(max_preview, u64::MAX);
    s.feed(b, version, out);
    s.finish(cut, out);
}

/// Where a [`Stream`] is in its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    /// Where a frame (or a heart-beat) can start.
    Start,
    /// A CR where a frame can start: an EOL if an LF follows.
    StartCr,
    Command,
    Header,
    /// A body of content-length: `left` bytes to go, then its NUL.
    BodyLen {
        left: u64,
    },
    BodyNul,
    /// A body without content-length: up to the first NUL.
    BodyScan,
    /// The rest of the message is not decoded (reported already).
    Skip,
    /// More than [`MAX_FRAMES`] frames: the rest of the message, from `from`, is not decoded
    /// (reported when it ends).
    Frames {
        from: u64,
    },
}

/// The STOMP frames of one direction's WebSocket messages, decoded as the message bytes
/// arrive ([`Stream::start`] at each message, [`Stream::feed`], [`Stream::finish`] at its
/// end). Memory: the line in progress (at most [`Stream::line_cap`] bytes kept), the kept
/// headers of the frame in progress (at most [`MAX_HEADERS`], previews) and a body preview;
/// bodies are counted, never buffered. A frame larger than `max_frame` bytes
/// (`Limits::max_subprotocol_message`) is reported when it reaches the limit, `incomplete`,
/// and the rest of its message is not decoded.
#[derive(Debug)]
pub struct Stream {
    max_preview: usize,
    max_frame: u64,
    st: St,
    /// Frames (heart-beats included) begun in this message.
    frames: usize,
    after_frame: bool,
    /// Bytes of the message so far.
    at: u64,
    /// Where the frame in progress began, and its bytes so far.
    frame_start: u64,
    frame_bytes: u64,
    /// The command or header line in progress: its first [`Stream::line_cap`] bytes.
    line: Vec<u8>,
    line_len: u64,
    frame: StompFrame,
    name: &'static str,
    raw: bool,
    dropped: usize,
    problem: Option<String>,
    content_length: Option<Result<u64, ()>>,
    /// The content-length the body is read against.
    declared: u64,
    /// The body's first bytes, for its preview.
    body: Vec<u8>,
}

fn empty_frame() -> StompFrame {
    StompFrame {
        command: String::new(),
        headers: Vec::new(),
        body: None,
        body_len: 0,
        incomplete: false,
    }
}

impl Stream {
    /// A decoder before its first message; previews of `max_preview` characters, frames of at
    /// most `max_frame` bytes.
    pub fn new(max_preview: usize, max_frame: u64) -> Self {
        Stream {
            max_preview,
            max_frame,
            st: St::Start,
            frames: 0,
            after_frame: false,
            at: 0,
            frame_start: 0,
            frame_bytes: 0,
            line: Vec::new(),
            line_len: 0,
            frame: empty_frame(),
            name: "",
            raw: false,
            dropped: 0,
            problem: None,
            content_length: None,
            declared: 0,
            body: Vec::new(),
        }
    }

    /// Bytes of a command or header line kept: enough for the previews of a name and a value
    /// of `max_preview` characters each, escaped (2 bytes a character at most) UTF-8 (4).
    pub fn line_cap(max_preview: usize) -> usize {
        max_preview.saturating_mul(16).max(64)
    }

    fn body_cap(&self) -> usize {
        self.max_preview.saturating_mul(4)
    }

    /// Bytes held now (for memory-bound tests).
    #[doc(hidden)]
    pub fn held_bytes(&self) -> usize {
        let headers: usize = self
            .frame
            .headers
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        self.line.len() + self.body.len() + self.frame.command.len() + headers
    }

    /// The most [`Stream::held_bytes`] can be for previews of `max_preview` characters.
    #[doc(hidden)]
    pub fn max_held(max_preview: usize) -> usize {
        let preview = max_preview.saturating_mul(4);
        Self::line_cap(max_preview) + preview + 16 + MAX_HEADERS * 2 * preview
    }

    /// A new message starts.
    pub fn start(&mut self) {
        self.st = St::Start;
        self.frames = 0;
        self.after_frame = false;
        self.at = 0;
        self.reset_frame();
    }

    fn reset_frame(&mut self) {
        self.line.clear();
        self.line_len = 0;
        self.frame = empty_frame();
        self.name = "";
        self.raw = false;
        self.dropped = 0;
        self.problem = None;
        self.content_length = None;
        self.declared = 0;
        self.body.clear();
        self.frame_bytes = 0;
    }

    fn preview(&self, b: &[u8]) -> String {
        super::preview(b, self.max_preview)
    }

    /// Feeds the next bytes of the message.
    pub fn feed(&mut self, data: &[u8], version: &mut Version, out: &mut Vec<Item>) {
        let mut rest = data;
        while !rest.is_empty() {
            let n = self.step(rest, version, out);
            self.at += n as u64;
            rest = rest.get(n..).unwrap_or_default();
        }
    }

    /// Bytes of the message are missing: the frame in progress is reported as far as it got
    /// and the rest of the message is not decoded.
    pub fn gap(&mut self, out: &mut Vec<Item>) {
        if !matches!(self.st, St::Skip | St::Frames { .. }) {
            self.end_frame(true, out);
            self.st = St::Skip;
        }
    }

    /// The message ended (`cut`: it is incomplete): a frame in progress is reported.
    pub fn finish(&mut self, cut: bool, out: &mut Vec<Item>) {
        if let St::Frames { from } = self.st {
            out.push(Item::Malformed(format!(
                "STOMP message with more than {MAX_FRAMES} frames: the {} bytes from byte \
                 {from} are not decoded",
                self.at.saturating_sub(from)
            )));
        } else {
            self.end_frame(cut, out);
        }
        self.start();
    }

    /// Reports the frame in progress, cut here (`cut`: by a gap or an incomplete message, so
    /// not a fault of the frame).
    fn end_frame(&mut self, cut: bool, out: &mut Vec<Item>) {
        if self.st == St::StartCr {
            // A lone CR where a frame starts: the start of a command line.
            if !self.begin_frame(self.at.saturating_sub(1)) {
                return;
            }
            self.line.push(b'\r');
            self.line_len = 1;
        }
        match self.st {
            St::Start | St::StartCr | St::Skip | St::Frames { .. } => {}
            St::Command => {
                if cut {
                    let command = self.preview(&self.line);
                    out.push(Item::Frame(StompFrame {
                        command,
                        incomplete: true,
                        ..empty_frame()
                    }));
                } else {
                    out.push(Item::Malformed(format!(
                        "STOMP frame without an end of line after its command at byte {}",
                        self.frame_start
                    )));
                }
            }
            St::Header => {
                let mut frame = mem::replace(&mut self.frame, empty_frame());
                frame.incomplete = true;
                out.push(Item::Frame(frame));
                if !cut {
                    out.push(Item::Malformed(format!(
                        "STOMP {} frame cut short in its headers",
                        self.name
                    )));
                }
            }
            St::BodyLen { .. } | St::BodyNul => {
                if !cut {
                    let len = self.declared;
                    self.problem.get_or_insert(format!(
                        "STOMP {} body shorter than its content-length {len}",
                        self.name
                    ));
                }
                self.emit(true, out);
            }
            St::BodyScan => {
                if !cut {
                    self.problem
                        .get_or_insert(format!("STOMP {} frame without its NUL", self.name));
                }
                self.emit(true, out);
            }
        }
        self.reset_frame();
    }

    /// A frame (not a heart-beat) starts at `at`; false when the message has had
    /// [`MAX_FRAMES`] already (the rest of it is then not decoded).
    fn begin_frame(&mut self, at: u64) -> bool {
        if self.frames >= MAX_FRAMES {
            self.st = St::Frames { from: at };
            return false;
        }
        self.frames += 1;
        self.reset_frame();
        self.frame_start = at;
        self.st = St::Command;
        true
    }

    /// An EOL where a frame can start: a heart-beat, or the end of the frame before.
    fn eol(&mut self, at: u64, out: &mut Vec<Item>) {
        if self.after_frame {
            // STOMP 1.2 §Augmented BNF: the EOLs after a frame's NUL belong to it.
            self.st = St::Start;
            return;
        }
        if self.frames >= MAX_FRAMES {
            self.st = St::Frames { from: at };
            return;
        }
        self.frames += 1;
        // STOMP 1.2 §Heart-beating: "a single EOL".
        out.push(Item::Frame(StompFrame {
            command: "HEARTBEAT".into(),
            ..empty_frame()
        }));
        self.st = St::Start;
    }

    /// The frame in progress reached `max_frame` bytes and wants more: report it and skip
    /// the rest of the message.
    fn over(&mut self, out: &mut Vec<Item>) {
        let limit = self.max_frame;
        if self.st == St::Command {
            out.push(Item::Malformed(format!(
                "STOMP command line at byte {} longer than {limit} bytes \
                 (Limits::max_subprotocol_message): the rest of the message is not decoded",
                self.frame_start
            )));
        } else {
            let name = self.name;
            self.emit(true, out);
            out.push(Item::Malformed(format!(
                "STOMP {name} frame larger than {limit} bytes \
                 (Limits::max_subprotocol_message): the rest of the message is not decoded"
            )));
        }
        self.reset_frame();
        self.st = St::Skip;
    }

    /// Pushes the frame in progress and its problem, if any.
    fn emit(&mut self, incomplete: bool, out: &mut Vec<Item>) {
        let mut frame = mem::replace(&mut self.frame, empty_frame());
        frame.incomplete = incomplete;
        frame.body = (!self.body.is_empty()).then(|| self.preview(&self.body));
        out.push(Item::Frame(frame));
        if let Some(p) = self.problem.take() {
            out.push(Item::Malformed(p));
        }
    }

    /// Body bytes: counted, the first kept for the preview.
    fn body_bytes(&mut self, b: &[u8]) {
        self.frame.body_len += b.len() as u64;
        let room = self.body_cap().saturating_sub(self.body.len()).min(b.len());
        self.body
            .extend_from_slice(b.get(..room).unwrap_or_default());
    }

    /// One step over `rest` (not empty): returns the bytes consumed.
    fn step(&mut self, rest: &[u8], version: &mut Version, out: &mut Vec<Item>) -> usize {
        let Some(&b) = rest.first() else {
            return 0;
        };
        // The size limit, for the bytes of a frame.
        let in_frame = matches!(
            self.st,
            St::Command | St::Header | St::BodyLen { .. } | St::BodyNul | St::BodyScan
        );
        let room = if in_frame {
            let room = self.max_frame.saturating_sub(self.frame_bytes);
            if room == 0 {
                self.over(out);
                return 0;
            }
            usize::try_from(room).map_or(rest.len(), |r| r.min(rest.len()))
        } else {
            rest.len()
        };
        let rest = rest.get(..room).unwrap_or(rest);
        let used = match self.st {
            St::Skip | St::Frames { .. } => rest.len(),
            St::Start => {
                match b {
                    b'\n' => self.eol(self.at, out),
                    b'\r' => self.st = St::StartCr,
                    _ => {
                        if self.begin_frame(self.at) {
                            return 0;
                        }
                    }
                }
                1
            }
            St::StartCr => {
                if b == b'\n' {
                    self.eol(self.at.saturating_sub(1), out);
                    1
                } else {
                    // The CR starts a command line; this byte is taken again in it.
                    if self.begin_frame(self.at.saturating_sub(1)) {
                        self.line.push(b'\r');
                        self.line_len = 1;
                        self.frame_bytes = 1;
                    }
                    0
                }
            }
            St::Command | St::Header => {
                let lf = rest.iter().position(|&c| c == b'\n');
                let n = lf.map_or(rest.len(), |i| i + 1);
                let text = rest.get(..lf.unwrap_or(rest.len())).unwrap_or_default();
                let cap = Self::line_cap(self.max_preview);
                let room = cap.saturating_sub(self.line.len()).min(text.len());
                self.line
                    .extend_from_slice(text.get(..room).unwrap_or_default());
                self.line_len += text.len() as u64;
                if lf.is_some() {
                    self.frame_bytes += n as u64;
                    self.line_done(version, out);
                    return n;
                }
                n
            }
            St::BodyLen { left } => {
                let n = usize::try_from(left).map_or(rest.len(), |l| l.min(rest.len()));
                self.body_bytes(rest.get(..n).unwrap_or_default());
                let left = left - n as u64;
                self.st = if left == 0 {
                    St::BodyNul
                } else {
                    St::BodyLen { left }
                };
                n
            }
            St::BodyNul => {
                if b != 0 {
                    let len = self.declared;
                    self.problem.get_or_insert(format!(
                        "STOMP {} body of content-length {len} not followed by NUL",
                        self.name
                    ));
                }
                self.frame_done(out);
                1
            }
            St::BodyScan => match rest.iter().position(|&c| c == 0) {
                Some(l) => {
                    self.body_bytes(rest.get(..l).unwrap_or_default());
                    self.frame_done(out);
                    l + 1
                }
                None => {
                    self.body_bytes(rest);
                    rest.len()
                }
            },
        };
        if in_frame && self.st != St::Start {
            self.frame_bytes += used as u64;
        }
        used
    }

    /// The frame's NUL: report it.
    fn frame_done(&mut self, out: &mut Vec<Item>) {
        self.emit(false, out);
        self.reset_frame();
        self.after_frame = true;
        self.st = St::Start;
    }

    /// A command or header line ended (its LF consumed).
    fn line_done(&mut self, version: &mut Version, out: &mut Vec<Item>) {
        let line = mem::take(&mut self.line);
        let whole = self.line_len <= line.len() as u64;
        let text = if whole {
            line.strip_suffix(b"\r").unwrap_or(&line)
        } else {
            &line[..]
        };
        if self.st == St::Command {
            match COMMANDS.iter().find(|c| c.as_bytes() == text) {
                Some(&name) => {
                    self.name = name;
                    self.frame.command = name.to_string();
                    // STOMP 1.2 §Value Encoding: "CONNECT and CONNECTED frames do not escape".
                    self.raw = matches!(name, "CONNECT" | "CONNECTED") || *version == Version::V10;
                    self.st = St::Header;
                }
                None => {
                    out.push(Item::Malformed(format!(
                        "unknown STOMP command {:?} at byte {}",
                        self.preview(text),
                        self.frame_start
                    )));
                    self.reset_frame();
                    self.st = St::Skip;
                }
            }
        } else if text.is_empty() {
            self.headers_done();
        } else {
            self.header(text, whole, version);
        }
        self.line = line;
        self.line.clear();
        self.line_len = 0;
    }

    /// One header line (`whole`: not cut at the line cap).
    fn header(&mut self, h: &[u8], whole: bool, version: &mut Version) {
        let name = self.name;
        let (k, v) = match h.iter().position(|&c| c == b':') {
            Some(c) => (
                h.get(..c).unwrap_or_default(),
                h.get(c + 1..).unwrap_or_default(),
            ),
            None => {
                if whole {
                    let p = self.preview(h);
                    self.problem
                        .get_or_insert_with(|| format!("STOMP header without a colon: {p:?}"));
                }
                (h, &b""[..])
            }
        };
        let (k, v) = if self.raw {
            (k.to_vec(), v.to_vec())
        } else {
            match (unescape(k, *version), unescape(v, *version)) {
                (Ok(k), Ok(v)) => (k, v),
                (Err(e), _) | (_, Err(e)) => {
                    if whole {
                        self.problem.get_or_insert(e);
                    }
                    (k.to_vec(), v.to_vec())
                }
            }
        };
        // STOMP 1.2 §Repeated Header Entries: the first one counts.
        if k == b"content-length" && self.content_length.is_none() {
            self.content_length = Some(
                std::str::from_utf8(&v)
                    .ok()
                    .filter(|_| whole)
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .ok_or(()),
            );
        }
        if name == "CONNECTED" && k == b"version" {
            if let Some(v) = std::str::from_utf8(&v).ok().and_then(Version::from_header) {
                *version = v;
            }
        }
        if self.frame.headers.len() < MAX_HEADERS {
            let kv = (self.preview(&k), self.preview(&v));
            self.frame.headers.push(kv);
        } else {
            self.dropped += 1;
        }
    }

    /// The blank line after the headers: the body starts.
    fn headers_done(&mut self) {
        let name = self.name;
        if self.dropped > 0 {
            let dropped = self.dropped;
            self.problem.get_or_insert(format!(
                "STOMP {name} frame has {dropped} headers beyond the {MAX_HEADERS} kept"
            ));
        }
        if let Some(Err(())) = self.content_length {
            self.problem
                .get_or_insert("STOMP content-length is not a number".to_string());
        }
        self.st = match self.content_length.and_then(Result::ok) {
            Some(0) => St::BodyNul,
            Some(left) => {
                self.declared = left;
                St::BodyLen { left }
            }
            None => St::BodyScan,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &[u8]) -> Vec<Item> {
        let mut v = Version::V12;
        let mut out = Vec::new();
        parse_message(b, false, &mut v, 256, &mut out);
        out
    }

    fn frame(item: &Item) -> &StompFrame {
        match item {
            Item::Frame(f) => f,
            Item::Malformed(m) => panic!("malformed: {m}"),
        }
    }

    fn h(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn connect_and_connected() {
        let out = parse(b"CONNECT\naccept-version:1.2,1.1,1.0\nheart-beat:100,100\n\n\0");
        assert_eq!(out.len(), 1);
        let f = frame(&out[0]);
        assert_eq!(f.command, "CONNECT");
        assert_eq!(
            f.headers,
            vec![
                h("accept-version", "1.2,1.1,1.0"),
                h("heart-beat", "100,100")
            ]
        );
        assert_eq!(
            (f.body.as_deref(), f.body_len, f.incomplete),
            (None, 0, false)
        );
        let mut v = Version::V12;
        let mut out = Vec::new();
        parse_message(
            b"CONNECTED\r\nversion:1.1\r\n\r\n\0",
            false,
            &mut v,
            256,
            &mut out,
        );
        assert_eq!(frame(&out[0]).headers, vec![h("version", "1.1")]);
        assert_eq!(v, Version::V11);
    }

    #[test]
    fn several_frames_and_heartbeats() {
        let out = parse(
            b"\nMESSAGE\ndestination:/topic/chat\ncontent-length:5\n\nhel\0o\0\n\n\
              RECEIPT\nreceipt-id:r-1\n\n\0",
        );
        let names: Vec<&str> = out.iter().map(|i| frame(i).command.as_str()).collect();
        assert_eq!(names, ["HEARTBEAT", "MESSAGE", "RECEIPT"]);
        let m = frame(&out[1]);
        assert_eq!((m.body.as_deref(), m.body_len), (Some("hel\0o"), 5));
        // A message of beats only: one per EOL.
        let out = parse(b"\n\r\n");
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|i| frame(i).command == "HEARTBEAT"));
    }

    #[test]
    fn header_escapes() {
        let out = parse(b"SEND\ndestination:/q\nnote:a\\cb\\nc\\\\d\\r\n\nx\0");
        assert_eq!(frame(&out[0]).headers[1], h("note", "a:b\nc\\d\r"));
        // CONNECT is not unescaped.
        let out = parse(b"CONNECT\nlogin:a\\cb\n\n\0");
        assert_eq!(frame(&out[0]).headers[0], h("login", "a\\cb"));
        // Undefined escape: the frame with its raw header, and a note.
        let out = parse(b"SEND\nnote:a\\tb\n\n\0");
        assert_eq!(frame(&out[0]).headers[0], h("note", "a\\tb"));
        assert!(matches!(&out[1], Item::Malformed(m) if m.contains("undefined escape \\t")));
        // 1.1 has no \r; 1.0 no escapes at all.
        let mut v = Version::V11;
        let mut out = Vec::new();
        parse_message(b"SEND\nn:\\r\n\n\0", false, &mut v, 256, &mut out);
        assert!(matches!(&out[1], Item::Malformed(_)));
        let mut v = Version::V10;
        let mut out = Vec::new();
        parse_message(b"SEND\nn:\\q\n\n\0", false, &mut v, 256, &mut out);
        assert_eq!(out.len(), 1);
        // The first of repeated headers is kept, all are listed.
        let out = parse(b"MESSAGE\nfoo:1\nfoo:2\n\n\0");
        assert_eq!(frame(&out[0]).headers, vec![h("foo", "1"), h("foo", "2")]);
    }

    #[test]
    fn cut_messages_are_incomplete() {
        let whole = b"SEND\ndestination:/topic/chat\n\nhello world\0";
        let mut v = Version::V12;
        for n in 0..whole.len() {
            let mut out = Vec::new();
            parse_message(&whole[..n], true, &mut v, 256, &mut out);
            assert!(
                out.iter().all(|i| matches!(i, Item::Frame(_))),
                "cut {n}: {out:?}"
            );
            if n > 0 {
                let f = frame(&out[0]);
                assert!(f.incomplete, "cut {n}");
            }
        }
        // Lengths count what was there.
        let mut out = Vec::new();
        parse_message(&whole[..35], true, &mut v, 256, &mut out);
        let f = frame(&out[0]);
        assert_eq!((f.body.as_deref(), f.body_len), (Some("hello"), 5));
    }

    #[test]
    fn hostile_frames() {
        // A huge content-length: no allocation by it, the frame is incomplete.
        let out = parse(b"SEND\ncontent-length:18446744073709551615\n\nab\0");
        let f = frame(&out[0]);
        assert!(f.incomplete);
        assert_eq!(f.body_len, 3);
        assert!(
            matches!(&out[1], Item::Malformed(m) if m.contains("shorter than its content-length 18446744073709551615"))
        );
        let out = parse(b"SEND\ncontent-length:99999999999999999999999\n\nab\0");
        assert_eq!(frame(&out[0]).body.as_deref(), Some("ab"));
        assert!(matches!(&out[1], Item::Malformed(m) if m.contains("not a number")));
        let out = parse(b"SEND\ncontent-length:1\n\nab\0");
        assert!(matches!(&out[1], Item::Malformed(m) if m.contains("not followed by NUL")));
        assert!(matches!(&parse(b"HELLO\n\n\0")[0], Item::Malformed(_)));
        assert!(matches!(&parse(b"SEND")[0], Item::Malformed(_)));
        assert!(matches!(&parse(b"SEND\nx:y\n")[1], Item::Malformed(_)));
        assert!(matches!(&parse(b"SEND\n\nbody")[1], Item::Malformed(_)));
        let mut many = b"SEND\n".to_vec();
        for i in 0..200 {
            many.extend_from_slice(format!("h{i}:v\n").as_bytes());
        }
        many.extend_from_slice(b"\n\0");
        let out = parse(&many);
        assert_eq!(frame(&out[0]).headers.len(), MAX_HEADERS);
        assert!(matches!(&out[1], Item::Malformed(m) if m.contains("136 headers")));
    }

    #[test]
    fn frames_per_message_are_bounded() {
        // Found by review: a message of EOLs was one heart-beat event per byte, and with
        // permessage-deflate a server frame of 4096 EOLs takes 24 bytes on the wire.
        let out = parse(&[b'\n'; 4096]);
        assert_eq!(out.len(), MAX_FRAMES + 1);
        assert!(out[..MAX_FRAMES]
            .iter()
            .all(|i| frame(i).command == "HEARTBEAT"));
        assert!(
            matches!(&out[MAX_FRAMES], Item::Malformed(m) if m.contains("4064 bytes from byte 32"))
        );
        // Frames and their notes: at most two items per frame.
        let out = parse(&b"SEND\nx\n\n\0".repeat(1000));
        assert_eq!(out.len(), 2 * MAX_FRAMES + 1);
        // The EOLs after a frame are not counted.
        let mut msg = b"SEND\n\n\0".to_vec();
        msg.extend_from_slice(&[b'\n'; 100]);
        assert_eq!(parse(&msg).len(), 1);
        let msg = b"\nSEND\n\n\0\n".repeat(MAX_FRAMES / 2);
        assert!(parse(&msg).iter().all(|i| matches!(i, Item::Frame(_))));
    }

    #[test]
    fn every_prefix_is_decoded_without_a_panic() {
        let msg = b"\nMESSAGE\ndestination:/a\\cb\ncontent-length:3\n\nx\0y\0\r\nSEND\n\nz\0";
        for n in 0..=msg.len() {
            for cut in [false, true] {
                let mut v = Version::V12;
                let mut out = Vec::new();
                parse_message(&msg[..n], cut, &mut v, 4, &mut out);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_messages_are_bounded(
            b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            cut in proptest::prelude::any::<bool>(),
        ) {
            let mut v = Version::V12;
            let mut out = Vec::new();
            parse_message(&b, cut, &mut v, 8, &mut out);
            for item in &out {
                if let Item::Frame(f) = item {
                    proptest::prop_assert!(f.headers.len() <= MAX_HEADERS);
                    proptest::prop_assert!(f.command.chars().count() <= 15);
                    for (k, v) in &f.headers {
                        proptest::prop_assert!(k.chars().count() <= 8 && v.chars().count() <= 8);
                    }
                    proptest::prop_assert!(f.body.as_ref().is_none_or(|b| b.chars().count() <= 8));
                }
            }
        }
    }

    #[test]
    fn shape() {
        assert!(looks_like_stomp(b"CONNECT\naccept-version:1.2\n\n\0"));
        assert!(looks_like_stomp(b"STOMP\r\n"));
        assert!(!looks_like_stomp(b"CONNECTX\n"));
        assert!(!looks_like_stomp(b"{\"hello\":1}"));
        assert!(!looks_like_stomp(b"\n"));
    }
}
