//! The developer's tools of the TUI that reach outside it: what `:` jumps to, what `y` copies
//! (as an OSC 52 escape sequence for the terminal to put on the clipboard), and what `w`/`W`
//! save (the capture's frames, read back by their numbers and written as pcapng).
//!
//! [`crate::tui::app::update`] stays pure: it only asks for these as [`Effect`]s, and the
//! terminal loop carries them out.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::capture::pcapng_writer::{PcapngWriter, WriterOptions};
use crate::capture::CaptureReader;
use crate::model::{Event, EventBody, Payload};

/// Most bytes put on the clipboard in one copy (before base64): terminals cap OSC 52 around
/// here (xterm's default is about 100 kB of base64).
pub const MAX_COPY_BYTES: usize = 64 * 1024;

/// Something the app asks the terminal loop to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Put this text on the clipboard (OSC 52).
    Copy(String),
    /// Turn mouse capture on (true) or off.
    Mouse(bool),
    /// Write these frames (1-based capture frame numbers, ascending, no repeats) of the
    /// capture to a new pcapng file named after `name` ("conn-3").
    Save { frames: Vec<u64>, name: String },
}

/// Where the frames of the capture on screen can be read again, for saving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frames {
    /// A capture file: replay, or live/demo writing `-w FILE`.
    File(PathBuf),
    /// A capture held in memory (the demo's built-in recording).
    Bytes(&'static [u8]),
    /// Nothing keeps them; the text says why and what to do instead.
    None(String),
}

/// What `:` jumps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jump {
    /// `#12`: connection 12.
    Conn(u32),
    /// `12`: frame 12.
    Frame(u64),
}

/// Reads what was typed after `:`: `#N` for a connection, `N` for a frame (spaces around
/// ignored). The error says what is accepted.
pub fn parse_jump(s: &str) -> Result<Jump, String> {
    let s = s.trim();
    let bad = || {
        format!(
            "\"{}\": type #N for connection N, or N for frame N",
            crate::tui::label::clean(s)
        )
    };
    if let Some(n) = s.strip_prefix('#') {
        n.trim().parse::<u32>().map(Jump::Conn).map_err(|_| bad())
    } else {
        match s.parse::<u64>() {
            Ok(0) => Err("frames are numbered from 1".into()),
            Ok(n) => Ok(Jump::Frame(n)),
            Err(_) => Err(bad()),
        }
    }
}

/// The escape sequence that asks the terminal to put `text` on the clipboard (OSC 52,
/// selection `c`), at most [`MAX_COPY_BYTES`] of it (cut at a character boundary). The
/// payload is base64, so no control character of `text` reaches the terminal as such.
pub fn osc52(text: &str) -> String {
    let mut end = text.len().min(MAX_COPY_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(&text.as_bytes()[..end]);
    format!("\x1b]52;c;{b64}\x07")
}

/// The kept bytes of a payload as text: UTF-8 as it is (a character cut at the end left
/// out), anything else as hex (`48 65 6c ...`).
fn payload_text(p: &Payload) -> String {
    match std::str::from_utf8(&p.kept) {
        Ok(s) => s.to_string(),
        Err(e) if e.error_len().is_none() => {
            String::from_utf8_lossy(&p.kept[..e.valid_up_to()]).into_owned()
        }
        Err(_) => {
            let mut s = String::with_capacity(p.kept.len() * 3);
            for (i, b) in p.kept.iter().enumerate() {
                if i > 0 {
                    s.push(if i % 16 == 0 { '\n' } else { ' ' });
                }
                s.push_str(&format!("{b:02x}"));
            }
            s
        }
    }
}

/// What `y` copies of `e`: its payload (a WebSocket message or frame, an HTTP body piece,
/// other bytes; text as text, binary as hex), an HTTP head as its lines, a decoded message's
/// text, or else `label` (the arrow's text). Returns `(text, what it is)`.
pub fn copy_text(e: &Event, label: &str) -> (String, &'static str) {
    let head = |first: String, headers: &[(String, String)]| {
        let mut s = first;
        for (k, v) in headers {
            s.push_str(&format!("\n{k}: {v}"));
        }
        s.push_str("\n\n");
        s
    };
    let payload = |p: &Payload| (!p.kept.is_empty()).then(|| payload_text(p));
    let got = match &e.body {
        EventBody::WsMessage(m) => payload(&m.data)
            .or_else(|| m.text.clone())
            .map(|t| (t, "the message's payload")),
        EventBody::WsFrame(f) => payload(&f.data).map(|t| (t, "the frame's payload")),
        EventBody::HttpBody(b) => payload(&b.data)
            .or_else(|| b.text.clone())
            .map(|t| (t, "the body piece")),
        EventBody::Data(d) => payload(&d.data)
            .or_else(|| d.text.clone())
            .map(|t| (t, "the payload")),
        EventBody::HttpRequest(r) => Some((
            head(
                format!("{} {} {}", r.method, r.target, r.version),
                &r.headers,
            ),
            "the request head",
        )),
        EventBody::HttpResponse(r) => Some((
            head(
                format!("{} {} {}", r.version, r.status, r.reason),
                &r.headers,
            ),
            "the response head",
        )),
        EventBody::SseEvent(ev) => Some((ev.data.clone(), "the event's data")),
        _ => None,
    };
    got.unwrap_or_else(|| (label.to_string(), "the arrow's text"))
}

/// A file name in `dir` that does not exist yet: `synscope-NAME.pcapng`, then `-2`, `-3`...
pub fn free_path(dir: &Path, name: &str) -> PathBuf {
    let mut n = 1u32;
    loop {
        let file = if n == 1 {
            format!("synscope-{name}.pcapng")
        } else {
            format!("synscope-{name}-{n}.pcapng")
        };
        let p = dir.join(file);
        if !p.exists() || n == u32::MAX {
            return p;
        }
        n += 1;
    }
}

/// Writes frames `frames` (ascending 1-based numbers) of the capture read from `input` to
/// `out` as pcapng; returns how many were written (fewer when the capture ends first).
pub fn copy_frames<R: Read, W: Write>(input: R, frames: &[u64], out: W) -> io::Result<u64> {
    let mut reader =
        CaptureReader::new(input).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let opts = WriterOptions {
        application: format!("synscope {}", env!("CARGO_PKG_VERSION")),
        ..WriterOptions::default()
    };
    let mut w = PcapngWriter::new(out, opts)?;
    let mut number = 0u64;
    let mut want = frames.iter().copied().peekable();
    while let Some(&next) = want.peek() {
        let frame = match reader.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        };
        number += 1;
        if number == next {
            w.write_frame(&frame)?;
            want.next();
        }
    }
    w.flush()?;
    Ok(w.frames())
}

/// Writes frames `frames` of `src` to a new file named after `name` in `dir`; returns the
/// file and the number of frames written, or a sentence saying why not.
pub fn save(
    src: &Frames,
    frames: &[u64],
    dir: &Path,
    name: &str,
) -> Result<(PathBuf, u64), String> {
    let input: Box<dyn Read> = match src {
        Frames::File(p) => {
            Box::new(File::open(p).map_err(|e| format!("cannot read {} again: {e}", p.display()))?)
        }
        Frames::Bytes(b) => Box::new(*b),
        Frames::None(why) => return Err(why.clone()),
    };
    if frames.is_empty() {
        return Err("nothing to save: no frame is shown".into());
    }
    let path = free_path(dir, name);
    let file = File::create(&path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let written = copy_frames(input, frames, BufWriter::new(file))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok((path, written))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc52_is_the_escape_sequence_with_base64() {
        assert_eq!(osc52("hello"), "\x1b]52;c;aGVsbG8=\x07");
        // Control characters travel inside base64, never raw.
        let s = osc52("a\x1b]0;evil\x07b");
        assert!(s.starts_with("\x1b]52;c;"));
        assert_eq!(s.matches('\x1b').count(), 1);
        assert_eq!(s.matches('\x07').count(), 1);
        let b64 = s.trim_start_matches("\x1b]52;c;").trim_end_matches('\x07');
        let back = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(back, b"a\x1b]0;evil\x07b");
        // Long text is cut at a character boundary.
        let long = "é".repeat(MAX_COPY_BYTES);
        let b64 = osc52(&long);
        let back = base64::engine::general_purpose::STANDARD
            .decode(
                b64.trim_start_matches("\x1b]52;c;")
                    .trim_end_matches('\x07'),
            )
            .unwrap();
        assert_eq!(back.len(), MAX_COPY_BYTES);
        assert!(std::str::from_utf8(&back).is_ok());
    }

    #[test]
    fn jumps_parse() {
        assert_eq!(parse_jump("#12"), Ok(Jump::Conn(12)));
        assert_eq!(parse_jump(" # 3 "), Ok(Jump::Conn(3)));
        assert_eq!(parse_jump("12"), Ok(Jump::Frame(12)));
        assert!(parse_jump("0").is_err());
        assert!(parse_jump("").is_err());
        assert!(parse_jump("#").is_err());
        assert!(parse_jump("x12").unwrap_err().contains("#N"));
        assert!(parse_jump("99999999999999999999999").is_err());
    }

    #[test]
    fn binary_payloads_copy_as_hex() {
        let p = Payload::capped(&[0xff, 0x00, 0x41], 16);
        assert_eq!(payload_text(&p), "ff 00 41");
        let p = Payload::capped("hé".as_bytes(), 2);
        assert_eq!(
            payload_text(&p),
            "h",
            "a character cut at the end is left out"
        );
    }
}
