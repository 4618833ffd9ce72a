//! JSON Lines: one object per event, the public schema documented in the README.

use std::io::{self, Write};

use serde::Serialize;

use crate::model::Event;

/// Writes `event` as one JSON line.
///
/// Strings from the wire may hold any character. JSON requires escaping only `"`, `\` and
/// U+0000..U+001F, so DEL, the C1 controls (U+0080..U+009F, CSI among them: some terminals
/// act on them in UTF-8), the bidi controls and the Unicode line separators would otherwise
/// reach a terminal, or a line splitter that treats NEL/LS/PS as line ends (Python's
/// `str.splitlines`), raw. They are written as `\uXXXX` escapes: the same JSON values, one
/// line per event, nothing a terminal acts on.
pub fn write_event<W: Write>(w: &mut W, event: &Event) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut *w, TerminalSafe);
    event.serialize(&mut ser)?;
    w.write_all(b"\n")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventBody, Layer, Malformed, Stamp};

    fn event(detail: &str) -> Event {
        Stamp::default().event(
            None,
            None,
            EventBody::Malformed(Malformed {
                layer: Layer::Http,
                detail: detail.into(),
            }),
        )
    }

    fn line(detail: &str) -> String {
        let mut out = Vec::new();
        write_event(&mut out, &event(detail)).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn controls_and_line_separators_are_escaped_and_values_unchanged() {
        let hostile = "a\u{1b}[31m\u{7f}\u{85}\u{9b}2J\u{2028}\u{2029}\u{202e}é🙂\"\\\n";
        let l = line(hostile);
        assert_eq!(
            l,
            "{\"t\":0.0,\"frame\":0,\"kind\":\"malformed\",\"layer\":\"http\",\"detail\":\
             \"a\\u001b[31m\\u007f\\u0085\\u009b2J\\u2028\\u2029\\u202eé🙂\\\"\\\\\\n\"}\n"
        );
        assert!(!l
            .trim_end()
            .chars()
            .any(|c| c.is_control() || needs_escape(c)));
        assert_eq!(l.lines().count(), 1);
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["detail"], hostile);
    }

    #[test]
    fn plain_text_is_written_as_serde_json_writes_it() {
        let d = "plain ascii, ünïcödé, \u{1b} and \"quotes\"";
        assert_eq!(line(d), serde_json::to_string(&event(d)).unwrap() + "\n");
    }

    #[test]
    fn bidi_marks_are_escaped_too() {
        // The whole Bidi_Control set, as in the text view: ALM, LRM and RLM also reorder
        // what a terminal shows.
        let l = line("x\u{61c}\u{200e}\u{200f}y");
        assert!(l.contains(r#""detail":"x\u061c\u200e\u200fy""#), "{l}");
    }
}
