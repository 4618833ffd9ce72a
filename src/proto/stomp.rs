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
//! frames; 1.0 has no escapes. A message is decoded from its kept bytes (at most
//! `Limits::max_kept_payload`): a frame running past them is reported with what it holds and
//! `incomplete`. At most [`MAX_FRAMES`] frames are decoded per message and [`MAX_HEADERS`]
//! headers kept per frame, so a message costs a bounded number of events.

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

/// The length of the EOL at `b[i..]`: 1 for LF, 2 for CRLF, 0 otherwise.
fn eol(b: &[u8], i: usize) -> usize {
    match (b.get(i), b.get(i + 1)) {
        (Some(b'\n'), _) => 1,
        (Some(b'\r'), Some(b'\n')) => 2,
        _ => 0,
    }
}

/// The line at `b[i..]`: its text (without the EOL) and the offset after its EOL; `None` when
/// no LF ends it within `b`.
fn line(b: &[u8], i: usize) -> Option<(&[u8], usize)> {
    let rest = b.get(i..)?;
    let lf = rest.iter().position(|&c| c == b'\n')?;
    let text = rest.get(..lf)?;
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    Some((text, i + lf + 1))
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

/// Decodes the STOMP frames of one WebSocket message from its kept bytes `b`. `total` is the
/// message's full length; `cut`: bytes of it are missing from `b`. `version` is updated by a
/// CONNECTED frame's `version` header. Previews are cut at `max_preview` characters.
pub fn parse_message(
    b: &[u8],
    total: u64,
    cut: bool,
    version: &mut Version,
    max_preview: usize,
    out: &mut Vec<Item>,
) {
    let preview = |x: &[u8]| super::preview(x, max_preview);
    let mut i = 0;
    let mut after_frame = false;
    let mut frames = 0usize;
    while i < b.len() {
        let n = eol(b, i);
        if n > 0 && after_frame {
            // STOMP 1.2 §Augmented BNF: the EOLs after a frame's NUL belong to it.
            i += n;
            continue;
        }
        if frames == MAX_FRAMES {
            out.push(Item::Malformed(format!(
                "STOMP message with more than {MAX_FRAMES} frames: the {} bytes from byte {i} \
                 are not decoded",
                total.saturating_sub(i as u64)
            )));
            return;
        }
        frames += 1;
        if n > 0 {
            // STOMP 1.2 §Heart-beating: "a single EOL".
            out.push(Item::Frame(StompFrame {
                command: "HEARTBEAT".into(),
                headers: Vec::new(),
                body: None,
                body_len: 0,
                incomplete: false,
            }));
            i += n;
            continue;
        }
        let Some((command, mut j)) = line(b, i) else {
            // The command line runs past the kept bytes.
            if cut {
                out.push(Item::Frame(StompFrame {
                    command: preview(b.get(i..).unwrap_or_default()),
                    headers: Vec::new(),
                    body: None,
                    body_len: 0,
                    incomplete: true,
                }));
            } else {
                out.push(Item::Malformed(format!(
                    "STOMP frame without an end of line after its command at byte {i}"
                )));
            }
            return;
        };
        let Some(&name) = COMMANDS.iter().find(|c| c.as_bytes() == command) else {
            out.push(Item::Malformed(format!(
                "unknown STOMP command {:?} at byte {i}",
                preview(command)
            )));
            return;
        };
        // STOMP 1.2 §Value Encoding: "CONNECT and CONNECTED frames do not escape".
        let raw = matches!(name, "CONNECT" | "CONNECTED") || *version == Version::V10;
        let mut frame = StompFrame {
            command: name.to_string(),
            headers: Vec::new(),
            body: None,
            body_len: 0,
            incomplete: false,
        };
        let mut dropped = 0usize;
        let mut problem: Option<String> = None;
        let mut content_length: Option<Result<u64, ()>> = None;
        // Headers, up to the blank line.
        loop {
            let Some((h, next)) = line(b, j) else {
                frame.incomplete = true;
                out.push(Item::Frame(frame));
                if !cut {
                    out.push(Item::Malformed(format!(
                        "STOMP {name} frame cut short in its headers"
                    )));
                }
                return;
            };
            j = next;
            if h.is_empty() {
                break;
            }
            let (k, v) = match h.iter().position(|&c| c == b':') {
                Some(c) => (
                    h.get(..c).unwrap_or_default(),
                    h.get(c + 1..).unwrap_or_default(),
                ),
                None => {
                    problem.get_or_insert_with(|| {
                        format!("STOMP header without a colon: {:?}", preview(h))
                    });
                    (h, &b""[..])
                }
            };
            let (k, v) = if raw {
                (k.to_vec(), v.to_vec())
            } else {
                match (unescape(k, *version), unescape(v, *version)) {
                    (Ok(k), Ok(v)) => (k, v),
                    (Err(e), _) | (_, Err(e)) => {
                        problem.get_or_insert(e);
                        (k.to_vec(), v.to_vec())
                    }
                }
            };
            // STOMP 1.2 §Repeated Header Entries: the first one counts.
            if k == b"content-length" && content_length.is_none() {
                content_length = Some(
                    std::str::from_utf8(&v)
                        .ok()
                        .and_then(|s| s.trim().parse::<u64>().ok())
                        .ok_or(()),
                );
            }
            if name == "CONNECTED" && k == b"version" {
                if let Some(v) = std::str::from_utf8(&v).ok().and_then(Version::from_header) {
                    *version = v;
                }
            }
            if frame.headers.len() < MAX_HEADERS {
                frame.headers.push((preview(&k), preview(&v)));
            } else {
                dropped += 1;
            }
        }
        if dropped > 0 {
            problem.get_or_insert(format!(
                "STOMP {name} frame has {dropped} headers beyond the {MAX_HEADERS} kept"
            ));
        }
        if let Some(Err(())) = content_length {
            problem.get_or_insert("STOMP content-length is not a number".to_string());
        }
        // The body: content-length octets then NUL, or up to the first NUL.
        let rest = b.get(j..).unwrap_or_default();
        match content_length.and_then(Result::ok) {
            Some(len) => {
                let kept = usize::try_from(len).ok().filter(|&l| l < rest.len());
                frame.body_len = len;
                match kept {
                    Some(l) => {
                        frame.body = (l > 0).then(|| preview(rest.get(..l).unwrap_or_default()));
                        if rest.get(l) != Some(&0) {
                            problem.get_or_insert(format!(
                                "STOMP {name} body of content-length {len} not followed by NUL"
                            ));
                        }
                        i = j + l + 1;
                    }
                    None => {
                        frame.body = (!rest.is_empty()).then(|| preview(rest));
                        frame.incomplete = true;
                        if !cut {
                            problem.get_or_insert(format!(
                                "STOMP {name} body shorter than its content-length {len}"
                            ));
                        }
                        i = b.len();
                    }
                }
            }
            None => match rest.iter().position(|&c| c == 0) {
                Some(l) => {
                    frame.body_len = l as u64;
                    frame.body = (l > 0).then(|| preview(rest.get(..l).unwrap_or_default()));
                    i = j + l + 1;
                }
                None => {
                    // Runs past the kept bytes: assume it ends with the message's last byte.
                    frame.body_len = if cut {
                        total.saturating_sub(j as u64 + 1).max(rest.len() as u64)
                    } else {
                        rest.len() as u64
                    };
                    frame.body = (!rest.is_empty()).then(|| preview(rest));
                    frame.incomplete = true;
                    if !cut {
                        problem.get_or_insert(format!("STOMP {name} frame without its NUL"));
                    }
                    i = b.len();
                }
            },
        }
        out.push(Item::Frame(frame));
        if let Some(p) = problem {
            out.push(Item::Malformed(p));
        }
        after_frame = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &[u8]) -> Vec<Item> {
        let mut v = Version::V12;
        let mut out = Vec::new();
        parse_message(b, b.len() as u64, false, &mut v, 256, &mut out);
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
            25,
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
        parse_message(b"SEND\nn:\\r\n\n\0", 11, false, &mut v, 256, &mut out);
        assert!(matches!(&out[1], Item::Malformed(_)));
        let mut v = Version::V10;
        let mut out = Vec::new();
        parse_message(b"SEND\nn:\\q\n\n\0", 11, false, &mut v, 256, &mut out);
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
            parse_message(&whole[..n], whole.len() as u64, true, &mut v, 256, &mut out);
            assert!(
                out.iter().all(|i| matches!(i, Item::Frame(_))),
                "cut {n}: {out:?}"
            );
            if n > 0 {
                let f = frame(&out[0]);
                assert!(f.incomplete, "cut {n}");
            }
        }
        let mut out = Vec::new();
        parse_message(&whole[..35], 1000, true, &mut v, 256, &mut out);
        let f = frame(&out[0]);
        assert_eq!(
            (f.body.as_deref(), f.body_len),
            (Some("hello"), 1000 - 30 - 1)
        );
    }

    #[test]
    fn hostile_frames() {
        // A huge content-length: no allocation by it, the frame is incomplete.
        let out = parse(b"SEND\ncontent-length:18446744073709551615\n\nab\0");
        let f = frame(&out[0]);
        assert!(f.incomplete);
        assert_eq!(f.body_len, u64::MAX);
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
                parse_message(&msg[..n], msg.len() as u64, cut, &mut v, 4, &mut out);
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
            parse_message(&b, b.len() as u64 + u64::from(cut), cut, &mut v, 8, &mut out);
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
