//! HTTP/1.x message heads: finding where a head ends, rejecting bytes that cannot start one,
//! parsing it with httparse into the event model, and deciding how its body is framed.

use crate::model::{BodyKind, Dir, Headers, HttpRequest, HttpResponse};

/// Longest request method token accepted before the bytes are declared not HTTP. The longest
/// registered method (IANA HTTP Method Registry) is `UPDATEREDIRECTREF`, 17 characters.
pub(super) const MAX_METHOD_LEN: u8 = 32;

/// Methods that mark a request start when resynchronising (RFC 9110 §9.1 and RFC 5789 PATCH).
/// Each is followed by the SP of the request line (RFC 9112 §3).
const RESYNC_METHODS: [&[u8]; 9] = [
    b"GET ",
    b"HEAD ",
    b"POST ",
    b"PUT ",
    b"DELETE ",
    b"CONNECT ",
    b"OPTIONS ",
    b"TRACE ",
    b"PATCH ",
];

/// What marks a response start when resynchronising: the HTTP-version of a status line.
const RESYNC_STATUS: &[u8] = b"HTTP/1.";

/// Longest resynchronisation candidate (`CONNECT `, `OPTIONS `).
pub(super) const MAX_CANDIDATE: usize = 8;

/// Where the blank line that ends a head (RFC 9112 §2.1: `CRLF` alone; a bare `LF` is accepted
/// as a line terminator per §2.2) has been looked for so far. Resumable across pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Blank {
    /// Inside a line.
    Mid,
    /// Just after a line's LF.
    LineStart,
    /// A CR at the start of a line.
    LineStartCr,
}

impl Blank {
    /// Advances over `data`; returns the count of bytes of `data` up to and including the LF
    /// that ends the first empty line.
    pub(super) fn scan(&mut self, data: &[u8]) -> Option<usize> {
        for (i, &b) in data.iter().enumerate() {
            *self = match (*self, b) {
                (Blank::LineStart | Blank::LineStartCr, b'\n') => {
                    *self = Blank::Mid;
                    return Some(i + 1);
                }
                (_, b'\n') => Blank::LineStart,
                (Blank::LineStart, b'\r') => Blank::LineStartCr,
                _ => Blank::Mid,
            };
        }
        None
    }
}

/// Incremental plausibility check of a head's first line, so that bytes that are not HTTP are
/// reported as soon as they arrive instead of after `max_http_head` bytes. Checks the shape
/// only (method token + SP, or `HTTP/1.`; no control bytes in the line); httparse judges the
/// rest once the head is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StartCheck {
    /// Request: bytes of the method token seen so far.
    Method(u8),
    /// Response: bytes of `HTTP/1.` matched so far.
    Version(u8),
    /// The rest of the first line.
    Line,
    /// The first line is complete: nothing more to check.
    Done,
}

/// Why bytes cannot start an HTTP message: offset of the offending byte in the slice checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NotStart {
    pub at: usize,
    pub byte: u8,
    pub what: &'static str,
    /// The bytes began as a start line does (a method and SP, or `HTTP/1.`): a bad message
    /// rather than another protocol.
    pub in_line: bool,
}

impl StartCheck {
    pub(super) fn new(dir: Dir) -> Self {
        match dir {
            Dir::C2s => StartCheck::Method(0),
            Dir::S2c => StartCheck::Version(0),
        }
    }

    /// Checks the next bytes of the head (each byte is checked once across calls).
    pub(super) fn run(&mut self, data: &[u8]) -> Result<(), NotStart> {
        for (i, &b) in data.iter().enumerate() {
            let in_line = *self == StartCheck::Line;
            let bad = |what| NotStart {
                at: i,
                byte: b,
                what,
                in_line,
            };
            *self = match *self {
                StartCheck::Done => return Ok(()),
                StartCheck::Method(n) if is_tchar(b) => {
                    if n >= MAX_METHOD_LEN {
                        return Err(bad("method token too long"));
                    }
                    StartCheck::Method(n + 1)
                }
                StartCheck::Method(n) if b == b' ' && n > 0 => StartCheck::Line,
                StartCheck::Method(_) => return Err(bad("invalid byte in method")),
                StartCheck::Version(n) => {
                    if RESYNC_STATUS.get(usize::from(n)) != Some(&b) {
                        return Err(bad("status line does not start with HTTP/1."));
                    }
                    if usize::from(n) + 1 == RESYNC_STATUS.len() {
                        StartCheck::Line
                    } else {
                        StartCheck::Version(n + 1)
                    }
                }
                StartCheck::Line if b == b'\n' => StartCheck::Done,
                // RFC 9112 §3, §4: no control characters in the start line (HTAB and the CR
                // of the CRLF aside).
                StartCheck::Line if (b < 0x20 && b != b'\t' && b != b'\r') || b == 0x7f => {
                    return Err(bad("control byte in start line"));
                }
                StartCheck::Line => StartCheck::Line,
            };
        }
        Ok(())
    }
}

/// RFC 9110 §5.6.2 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `cand` (bytes at a line start) is a message start for `dir`: `Some(true)` when
/// complete, `Some(false)` while a prefix of one, `None` when it cannot be.
pub(super) fn candidate(dir: Dir, cand: &[u8]) -> Option<bool> {
    let matches = |full: &[u8]| full.starts_with(cand);
    let complete = |full: &[u8]| full == cand;
    match dir {
        Dir::S2c if matches(RESYNC_STATUS) => Some(complete(RESYNC_STATUS)),
        Dir::S2c => None,
        Dir::C2s => {
            let mut any = false;
            for m in RESYNC_METHODS {
                if complete(m) {
                    return Some(true);
                }
                any |= matches(m);
            }
            any.then_some(false)
        }
    }
}

fn headers_of(raw: &[httparse::Header]) -> Headers {
    raw.iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

fn error_text(e: httparse::Error, max_headers: usize) -> String {
    match e {
        httparse::Error::TooManyHeaders => format!("more than {max_headers} header fields"),
        e => e.to_string(),
    }
}

/// Tolerances of real peers that do not make the framing ambiguous.
fn config() -> httparse::ParserConfig {
    let mut c = httparse::ParserConfig::default();
    c.allow_multiple_spaces_in_request_line_delimiters(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true);
    c
}

/// Parses a complete request head (ending with its blank line). `body` is left `None`.
pub(super) fn parse_request(buf: &[u8], max_headers: usize) -> Result<HttpRequest, String> {
    // One allocation per head, bounded by the configured header count.
    let mut raw = vec![httparse::EMPTY_HEADER; max_headers];
    let mut req = httparse::Request::new(&mut raw);
    match config().parse_request(&mut req, buf) {
        Ok(httparse::Status::Complete(_)) => Ok(HttpRequest {
            method: req.method.unwrap_or_default().to_string(),
            target: req.path.unwrap_or_default().to_string(),
            version: format!("HTTP/1.{}", req.version.unwrap_or(1)),
            headers: headers_of(req.headers),
            head_len: u32::try_from(buf.len()).unwrap_or(u32::MAX),
            body: BodyKind::None,
        }),
        Ok(httparse::Status::Partial) => Err("request head does not parse".to_string()),
        Err(e) => Err(format!("request head: {}", error_text(e, max_headers))),
    }
}

/// Parses a complete response head. `body`, `request_method` and `upgrade` are left empty.
pub(super) fn parse_response(buf: &[u8], max_headers: usize) -> Result<HttpResponse, String> {
    let mut raw = vec![httparse::EMPTY_HEADER; max_headers];
    let mut resp = httparse::Response::new(&mut raw);
    match config().parse_response(&mut resp, buf) {
        Ok(httparse::Status::Complete(_)) => Ok(HttpResponse {
            status: resp.code.unwrap_or_default(),
            reason: resp.reason.unwrap_or_default().to_string(),
            version: format!("HTTP/1.{}", resp.version.unwrap_or(1)),
            headers: headers_of(resp.headers),
            head_len: u32::try_from(buf.len()).unwrap_or(u32::MAX),
            body: BodyKind::None,
            request_method: None,
            time_since_request: None,
            upgrade: None,
        }),
        Ok(httparse::Status::Partial) => Err("response head does not parse".to_string()),
        Err(e) => Err(format!("response head: {}", error_text(e, max_headers))),
    }
}

/// Values of every header field named `name` (case-insensitive), in wire order.
pub(super) fn values<'h>(headers: &'h Headers, name: &'h str) -> impl Iterator<Item = &'h str> {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The comma-separated elements of every field named `name` (RFC 9110 §5.6.1), trimmed, empty
/// elements skipped.
pub(super) fn list<'h>(headers: &'h Headers, name: &'h str) -> impl Iterator<Item = &'h str> {
    values(headers, name)
        .flat_map(|v| v.split(','))
        .map(|e| e.trim_matches([' ', '\t']))
        .filter(|e| !e.is_empty())
}

/// How a message's body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    None,
    Length(u64),
    Chunked,
    /// Read until the sender closes.
    Close,
}

impl Framing {
    pub(super) fn kind(self) -> BodyKind {
        match self {
            Framing::None => BodyKind::None,
            Framing::Length(_) => BodyKind::Length,
            Framing::Chunked => BodyKind::Chunked,
            Framing::Close => BodyKind::Close,
        }
    }
}

/// Something wrong with a message's framing, reported after the message itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Note {
    Violation(&'static str, String),
    Malformed(String),
}

/// RFC 9112 §6.3 rules 3 to 7 for a message whose body is not ruled out by its method or
/// status. `request`: requests without framing headers have no body; responses are read until
/// close.
pub(super) fn framing(headers: &Headers, request: bool, notes: &mut Vec<Note>) -> Framing {
    let has_te = values(headers, "transfer-encoding").next().is_some();
    let has_cl = values(headers, "content-length").next().is_some();
    if has_te {
        if has_cl {
            // RFC 9112 §6.3 rule 3: Transfer-Encoding overrides Content-Length; a sender MUST
            // NOT send both (§6.2), and it is the classic request-smuggling shape.
            notes.push(Note::Violation(
                "transfer_encoding_with_content_length",
                "both Transfer-Encoding and Content-Length; Transfer-Encoding wins \
                 (RFC 9112 §6.3)"
                    .to_string(),
            ));
        }
        let last = list(headers, "transfer-encoding").last().unwrap_or("");
        // RFC 9112 §6.3 rule 4: chunked must be the final coding.
        if last.eq_ignore_ascii_case("chunked") {
            return Framing::Chunked;
        }
        if request {
            notes.push(Note::Violation(
                "transfer_encoding_not_chunked",
                format!(
                    "request Transfer-Encoding does not end with chunked ({last:?}); body read \
                     until close (RFC 9112 §6.3)"
                ),
            ));
        }
        return Framing::Close;
    }
    if has_cl {
        // RFC 9112 §6.3 rule 5: a list of identical values is one length; anything else is an
        // unrecoverable framing error.
        let mut len: Option<u64> = None;
        for v in list(headers, "content-length") {
            let n = match parse_decimal(v) {
                Some(n) if len.is_none_or(|l| l == n) => n,
                _ => {
                    let all: Vec<&str> = values(headers, "content-length").collect();
                    notes.push(Note::Malformed(format!(
                        "invalid Content-Length {:?}; body read until close",
                        all.join(", ")
                    )));
                    return Framing::Close;
                }
            };
            len = Some(n);
        }
        return match len {
            Some(n) => Framing::Length(n),
            None => {
                notes.push(Note::Malformed(
                    "empty Content-Length; body read until close".to_string(),
                ));
                Framing::Close
            }
        };
    }
    if request {
        Framing::None
    } else {
        Framing::Close
    }
}

/// Whether a message's body is text worth previewing: its Content-Type (RFC 9110 §8.3) is
/// textual, or absent, and no content coding other than `identity` (RFC 9110 §8.4)
/// compresses it. Textual: `text/*`, JSON (`application/json`, `+json`), form data
/// (`application/x-www-form-urlencoded`), JavaScript, XML and event streams. The bytes still
/// have to be UTF-8 for a preview to be made.
pub(super) fn textual(headers: &Headers) -> bool {
    if list(headers, "content-encoding").any(|c| !c.eq_ignore_ascii_case("identity")) {
        return false;
    }
    let Some(ct) = values(headers, "content-type").next() else {
        return true;
    };
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim_matches([' ', '\t'])
        .to_ascii_lowercase();
    media.starts_with("text/")
        || media == "application/json"
        || media.ends_with("+json")
        || media == "application/x-www-form-urlencoded"
        || media.contains("javascript")
        || media.contains("xml")
        || media.contains("event-stream")
}

/// `1*DIGIT` into a u64, refusing overflow.
fn parse_decimal(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_line_found_across_pieces() {
        let mut b = Blank::Mid;
        assert_eq!(b.scan(b"GET / HTTP/1.1\r\nHost: a\r"), None);
        assert_eq!(b.scan(b"\n\r"), None);
        assert_eq!(b.scan(b"\nrest"), Some(1));
        let mut b = Blank::Mid;
        assert_eq!(b.scan(b"GET / HTTP/1.1\n\nX"), Some(16));
    }

    #[test]
    fn start_check_rejects_binary_at_once() {
        let mut c = StartCheck::new(Dir::C2s);
        let e = c.run(&[0x16, 0x03, 0x01]).unwrap_err();
        assert_eq!((e.at, e.byte), (0, 0x16));
        let mut c = StartCheck::new(Dir::S2c);
        assert!(c.run(b"HTTP/1").is_ok());
        assert!(c.run(b".1 200 OK\r\n\x00anything").is_ok());
        let mut c = StartCheck::new(Dir::S2c);
        assert_eq!(c.run(b"HTTP/2 200").unwrap_err().at, 5);
        let mut c = StartCheck::new(Dir::C2s);
        assert_eq!(c.run(b"GET /\x01").unwrap_err().at, 5);
    }

    #[test]
    fn resync_candidates() {
        assert_eq!(candidate(Dir::C2s, b"GE"), Some(false));
        assert_eq!(candidate(Dir::C2s, b"GET "), Some(true));
        assert_eq!(candidate(Dir::C2s, b"GETX"), None);
        assert_eq!(candidate(Dir::C2s, b"OPTIONS "), Some(true));
        assert_eq!(candidate(Dir::S2c, b"HTTP/1."), Some(true));
        assert_eq!(candidate(Dir::S2c, b"HTTP/2"), None);
    }

    fn h(pairs: &[(&str, &str)]) -> Headers {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn framing_rules() {
        let mut n = Vec::new();
        assert_eq!(framing(&h(&[]), true, &mut n), Framing::None);
        assert_eq!(framing(&h(&[]), false, &mut n), Framing::Close);
        assert_eq!(
            framing(&h(&[("Content-Length", "5, 5")]), true, &mut n),
            Framing::Length(5)
        );
        assert!(n.is_empty());
        assert_eq!(
            framing(
                &h(&[("Content-Length", "5"), ("content-length", "6")]),
                false,
                &mut n
            ),
            Framing::Close
        );
        assert!(matches!(n.pop(), Some(Note::Malformed(_))));
        assert_eq!(
            framing(
                &h(&[("Content-Length", "99999999999999999999999")]),
                false,
                &mut n
            ),
            Framing::Close
        );
        assert!(matches!(n.pop(), Some(Note::Malformed(_))));
        assert_eq!(
            framing(
                &h(&[
                    ("Content-Length", "3"),
                    ("Transfer-Encoding", "gzip, Chunked")
                ]),
                true,
                &mut n
            ),
            Framing::Chunked
        );
        assert!(matches!(
            n.pop(),
            Some(Note::Violation("transfer_encoding_with_content_length", _))
        ));
        assert_eq!(
            framing(&h(&[("Transfer-Encoding", "chunked, gzip")]), false, &mut n),
            Framing::Close
        );
        assert!(n.is_empty());
        assert_eq!(
            framing(&h(&[("Transfer-Encoding", "gzip")]), true, &mut n),
            Framing::Close
        );
        assert!(matches!(
            n.pop(),
            Some(Note::Violation("transfer_encoding_not_chunked", _))
        ));
    }

    #[test]
    fn textual_bodies_by_content_type_and_coding() {
        let t = |pairs: &[(&str, &str)]| {
            let hs: Headers = pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            textual(&hs)
        };
        assert!(t(&[]));
        for ct in [
            "text/plain; charset=UTF-8",
            "Text/HTML",
            "application/json",
            "application/problem+json",
            "application/x-www-form-urlencoded",
            "application/javascript",
            "text/javascript",
            "application/xml",
            "image/svg+xml",
            "text/event-stream",
            " application/json ;charset=utf-8",
        ] {
            assert!(t(&[("Content-Type", ct)]), "{ct}");
        }
        for ct in [
            "application/octet-stream",
            "image/png",
            "application/grpc",
            "",
        ] {
            assert!(!t(&[("content-type", ct)]), "{ct}");
        }
        // Compressed text is not text on the wire.
        assert!(!t(&[
            ("Content-Type", "text/html"),
            ("Content-Encoding", "gzip")
        ]));
        assert!(!t(&[("Content-Encoding", "identity, br")]));
        assert!(t(&[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "identity")
        ]));
    }
}
