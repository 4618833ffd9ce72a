//! JSON Lines: one object per event, the public schema documented in the README.
//!
//! serde_json escapes only U+0000-U+001F, `"` and `\`; the characters a terminal would act on
//! beyond those (DEL, the C1 controls such as U+009B CSI, and the bidi controls) are written
//! as `\uXXXX` too, so wire text shown with `-f json` is as inert as in the text view. The
//! JSON value is the same either way.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};

use crate::model::Event;
use crate::view::text::unsafe_for_terminal;

/// Writes `event` as one JSON line.
pub fn write_event<W: Write>(w: &mut W, event: &Event) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut *w, TerminalSafe);
    event.serialize(&mut ser)?;
    w.write_all(b"\n")
}

/// serde_json's compact output with [`unsafe_for_terminal`] characters escaped in strings.
struct TerminalSafe;

impl Formatter for TerminalSafe {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut from = 0;
        for (i, c) in fragment.char_indices() {
            if unsafe_for_terminal(c) {
                writer.write_all(fragment.get(from..i).unwrap_or_default().as_bytes())?;
                // Every such character is in the Basic Multilingual Plane: one \u escape.
                write!(writer, "\\u{:04x}", u32::from(c))?;
                from = i + c.len_utf8();
            }
        }
        CompactFormatter.write_string_fragment(writer, fragment.get(from..).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Dir, EventBody, Nanos, Opcode, Payload, Stamp, Timestamp, WsMessage};

    #[test]
    fn wire_text_reaches_the_terminal_escaped() {
        // Found by review: serde_json escapes only U+0000-U+001F, so a WebSocket text with a
        // C1 CSI (U+009B, what xterm takes as ESC [), DEL or a bidi override went out raw.
        let text = "a\u{9b}2J\u{7f}\u{202e}b\u{9d}52;c;x\u{9c}\u{200f}ü\"\\\n";
        let e = Stamp {
            ts: Timestamp(0),
            t: Nanos(0),
            frame: 1,
        }
        .event(
            Some(0),
            Some(Dir::S2c),
            EventBody::WsMessage(WsMessage {
                opcode: Opcode::Text,
                len: text.len() as u64,
                compressed: false,
                frames: 1,
                text: Some(text.to_string()),
                code: None,
                code_name: None,
                reason: None,
                data: Payload::default(),
                incomplete: false,
            }),
        );
        let mut out = Vec::new();
        write_event(&mut out, &e).unwrap();
        let line = String::from_utf8(out).unwrap();
        let body = line.strip_suffix('\n').unwrap();
        assert!(
            !body.chars().any(crate::view::text::unsafe_for_terminal),
            "{body:?}"
        );
        assert!(body.contains(r#""text":"a\u009b2J\u007f\u202eb\u009d52;c;x\u009c\u200fü\"\\\n""#));
        // Still the same JSON value.
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["text"], text);
    }
}
