//! Headless views of the event stream: text transcript, JSON Lines, Mermaid sequence diagram,
//! and the one [`Writer`] that `decode`, `live` and `demo` put them on standard output with.

pub mod file;
pub mod json;
pub mod mermaid;
pub mod text;
pub mod tls;

use std::io::{self, Write};

use crate::explain::{Lang, Transcript};
use crate::flow::EventSink;
use crate::model::Event;

/// A headless output format (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// One readable line per event.
    #[default]
    Text,
    /// JSON Lines: one object per event (schema in the README).
    Json,
    /// A Mermaid sequence diagram: one participant per endpoint.
    Mermaid,
}

/// Writes events in a [`Format`] as they come, an [`EventSink`] the engine pushes into.
///
/// With [`Writer::explain`], the text format puts a `why:` line under each event the
/// explanations cover (JSON and Mermaid are unchanged). Output is not flushed per event: call
/// [`Writer::flush`] when the reader is about to wait (a live batch ended, a pipe has no more
/// input yet) and [`Writer::finish`] at the end.
///
/// The first write that fails (a closed pipe: `synscope decode f | head`) latches: nothing is
/// written after it, and [`Writer::check`], [`Writer::flush`] and [`Writer::finish`] return it,
/// so the caller stops reading at its next check instead of decoding into a dead pipe.
pub struct Writer<W: Write> {
    out: W,
    format: Format,
    explain: Option<(Lang, Transcript)>,
    mermaid: mermaid::MermaidWriter,
    latch: Latch,
    /// One JSON line, reused: no allocation per event.
    line: Vec<u8>,
    /// One text line, reused.
    text: String,
}

/// The first write error, until it is reported; then only what it was.
enum Latch {
    Open,
    Failed(io::Error),
    Reported(io::ErrorKind),
}

impl<W: Write> Writer<W> {
    pub fn new(out: W, format: Format) -> Writer<W> {
        Writer {
            out,
            format,
            explain: None,
            mermaid: mermaid::MermaidWriter::new(),
            latch: Latch::Open,
            line: Vec::with_capacity(512),
            text: String::with_capacity(256),
        }
    }

    /// Explains each event in `lang` under its line (text format only).
    pub fn explain(mut self, lang: Option<Lang>) -> Writer<W> {
        self.explain = lang.map(|l| (l, Transcript::default()));
        self
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Writes one event now (what [`EventSink::push`] does, with the error returned instead
    /// of latched).
    pub fn write(&mut self, e: &Event) -> io::Result<()> {
        match self.format {
            Format::Text => {
                self.text.clear();
                text::format_event(&mut self.text, e);
                self.text.push('\n');
                self.out.write_all(self.text.as_bytes())?;
                if let Some((lang, transcript)) = &mut self.explain {
                    if let Some(why) = transcript.why(*lang, e) {
                        text::write_why(&mut self.out, crate::explain::why_label(*lang), &why)?;
                    }
                }
                Ok(())
            }
            Format::Json => {
                self.line.clear();
                json::encode(&mut self.line, e)?;
                self.out.write_all(&self.line)
            }
            Format::Mermaid => self.mermaid.write_event(&mut self.out, e),
        }
    }

    /// Whether a write has failed (nothing more is written).
    pub fn failed(&self) -> bool {
        !matches!(self.latch, Latch::Open)
    }

    /// The write error, if one happened: the error itself the first time, its kind after.
    pub fn check(&mut self) -> io::Result<()> {
        match std::mem::replace(&mut self.latch, Latch::Open) {
            Latch::Open => Ok(()),
            Latch::Failed(e) => {
                self.latch = Latch::Reported(e.kind());
                Err(e)
            }
            Latch::Reported(kind) => {
                self.latch = Latch::Reported(kind);
                Err(io::Error::new(kind, "an earlier write failed"))
            }
        }
    }

    /// [`Writer::check`], then flushes what is buffered.
    pub fn flush(&mut self) -> io::Result<()> {
        self.check()?;
        let flushed = self.out.flush();
        self.latched(flushed)
    }

    /// Ends the output (an empty Mermaid diagram is still a diagram) and flushes it.
    pub fn end(&mut self) -> io::Result<()> {
        self.check()?;
        if self.format == Format::Mermaid {
            let ended = self.mermaid.finish(&mut self.out);
            self.latched(ended)?;
        }
        self.flush()
    }

    /// [`Writer::end`], and the writer back.
    pub fn finish(mut self) -> io::Result<W> {
        self.end()?;
        Ok(self.out)
    }

    /// The writer, whatever state it is in.
    pub fn into_inner(self) -> W {
        self.out
    }

    pub fn get_ref(&self) -> &W {
        &self.out
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    fn latched(&mut self, r: io::Result<()>) -> io::Result<()> {
        if let Err(e) = &r {
            self.latch = Latch::Reported(e.kind());
        }
        r
    }
}

impl<W: Write> Writer<W> {
    /// [`EventSink::push`] by reference: writes `event` unless a write failed before.
    pub fn push_ref(&mut self, event: &Event) {
        if let Latch::Open = self.latch {
            if let Err(e) = self.write(event) {
                self.latch = Latch::Failed(e);
            }
        }
    }
}

impl<W: Write> EventSink for Writer<W> {
    fn push(&mut self, event: Event) {
        self.push_ref(&event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pipe that can be closed: writes fail with EPIPE from then on.
    #[derive(Debug)]
    struct Pipe {
        written: Vec<u8>,
        open: bool,
    }

    impl Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if !self.open {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn lines(w: &Writer<Pipe>) -> usize {
        w.out.written.iter().filter(|&&b| b == b'\n').count()
    }

    /// The first failed write latches: reported once as itself, then by its kind; nothing is
    /// written after it even when the pipe would take it.
    #[test]
    fn the_first_write_error_stops_the_output() {
        let sample = crate::tui::sample::demo();
        let mut w = Writer::new(
            Pipe {
                written: Vec::new(),
                open: true,
            },
            Format::Json,
        );
        w.push(sample[0].clone());
        assert_eq!(lines(&w), 1);
        w.flush().unwrap();
        w.out.open = false;
        w.push(sample[1].clone());
        assert!(w.failed());
        w.out.open = true;
        w.push(sample[2].clone());
        assert_eq!(lines(&w), 1);
        let err = w.check().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(w.flush().unwrap_err().kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(w.finish().unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    }

    /// Each format writes what its own view writes; explanations go under text lines only.
    #[test]
    fn formats_write_what_their_views_write() {
        let sample = crate::tui::sample::demo();
        let run = |format: Format, lang: Option<Lang>| {
            let mut w = Writer::new(Vec::new(), format).explain(lang);
            for e in &sample {
                w.push(e.clone());
            }
            String::from_utf8(w.finish().unwrap()).unwrap()
        };
        let mut text = Vec::new();
        let mut json = Vec::new();
        let mut mermaid = Vec::new();
        let mut m = mermaid::MermaidWriter::new();
        for e in &sample {
            text::write_event(&mut text, e).unwrap();
            json::write_event(&mut json, e).unwrap();
            m.write_event(&mut mermaid, e).unwrap();
        }
        m.finish(&mut mermaid).unwrap();
        assert_eq!(run(Format::Text, None).as_bytes(), text);
        assert_eq!(run(Format::Json, None).as_bytes(), json);
        assert_eq!(run(Format::Json, Some(Lang::En)).as_bytes(), json);
        assert_eq!(run(Format::Mermaid, None).as_bytes(), mermaid);
        let explained = run(Format::Text, Some(Lang::En));
        assert!(explained.lines().count() > sample.len(), "{explained}");
        assert!(explained.contains("why: "), "{explained}");
        // An empty Mermaid diagram is still a diagram.
        assert_eq!(run_empty(Format::Mermaid), "sequenceDiagram\n");
        assert_eq!(run_empty(Format::Json), "");
    }

    /// The transcript's time column, padded without a String of its own, as `{:>11}` of
    /// [`text::time`] pads it.
    #[test]
    fn the_time_column_is_padded_as_before() {
        let sample = crate::tui::sample::demo();
        for ns in [0, 999, 1_500_000_000, 12_345_678_901_234, u64::MAX] {
            let mut e = sample[0].clone();
            e.t = crate::model::Nanos(ns);
            let mut line = String::new();
            text::format_event(&mut line, &e);
            assert!(
                line.starts_with(&format!("{:>11} ", text::time(ns))),
                "{ns}: {line}"
            );
        }
    }

    fn run_empty(format: Format) -> String {
        String::from_utf8(Writer::new(Vec::new(), format).finish().unwrap()).unwrap()
    }
}
