//! Saving frames as pcapng: the frames that pass the filters while a capture is decoded
//! (`decode -w`, `replay -w`), and a chosen set of frames of a capture file (the TUI's save).
//!
//! The rule: a frame passes when one of the events decoding it produced passes the display
//! filter (`-Y`) and belongs to one of the chosen connections (`--conn`). Frames the engine's
//! `--port`/`--host` filter leaves out produce no event, so they never pass; with no filter at
//! all, every frame passes (a copy of the capture, non-TCP frames included). Events made at the
//! end of the capture (the last `connection_end`s, final pattern reports) belong to no frame.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::{Filter, Matcher};
use crate::capture::pcapng_writer::{PcapngWriter, WriterOptions};
use crate::capture::{open_path, RawFrame};
use crate::flow::EventSink;
use crate::model::{ConnId, Event, EventBody};

/// Which events pass: a display filter and a set of connections, both optional.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    matcher: Option<Matcher>,
    conns: Vec<ConnId>,
}

impl Selection {
    pub fn new(filter: Option<Filter>, conns: Vec<ConnId>) -> Selection {
        Selection {
            matcher: filter.map(Matcher::new),
            conns,
        }
    }

    /// Whether every event passes.
    pub fn is_everything(&self) -> bool {
        self.matcher.is_none() && self.conns.is_empty()
    }

    /// The display filter, if there is one.
    pub fn filter(&self) -> Option<&Filter> {
        self.matcher.as_ref().map(Matcher::filter)
    }

    /// Whether `e` passes. Call it on every event, in order (the filter follows connections).
    pub fn passes(&mut self, e: &Event) -> bool {
        let by_filter = self.matcher.as_mut().is_none_or(|m| m.matches(e));
        by_filter && self.in_conns(e)
    }

    fn in_conns(&self, e: &Event) -> bool {
        self.conns.is_empty() || e.conn.is_some_and(|c| self.conns.contains(&c))
    }

    /// A title-bar note saying what is selected (`conn 3 · http.status >= 400`), or "".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.conns.is_empty() {
            let list: Vec<String> = self.conns.iter().map(|c| format!("#{c}")).collect();
            parts.push(format!("conn {}", list.join(",")));
        }
        if let Some(f) = self.filter() {
            parts.push(format!("filter {}", f.text()));
        }
        parts.join(" · ")
    }
}

/// The events that draw a connection's frame in the TUI (its row in the list, its state):
/// kept by a view filter that would drop them, so that a filtered view still shows the
/// connections it filters in.
fn skeleton(e: &Event) -> bool {
    matches!(
        e.body,
        EventBody::Connection(_) | EventBody::ConnectionState(_) | EventBody::ConnectionEnd(_)
    )
}

/// An [`EventSink`] that passes on to `out` the events `selection` keeps, and notes whether
/// one did (`passed`, reset by the caller before each frame). With `skeleton` (the TUI), the
/// `connection`, `connection_state` and `connection_end` events of the chosen connections
/// go on too, without counting as passed.
pub struct Selecting<'a> {
    pub selection: &'a mut Selection,
    pub out: &'a mut dyn EventSink,
    pub passed: bool,
    pub skeleton: bool,
}

impl EventSink for Selecting<'_> {
    fn push(&mut self, event: Event) {
        if self.selection.passes(&event) {
            self.passed = true;
            self.out.push(event);
        } else if self.skeleton && skeleton(&event) && self.selection.in_conns(&event) {
            self.out.push(event);
        }
    }
}

/// A pcapng file being written, frame by frame, with its path for messages.
pub struct FrameFile {
    path: PathBuf,
    writer: PcapngWriter<BufWriter<File>>,
}

impl FrameFile {
    /// Creates (or truncates) `path`. Refuses to write over `input`, the capture being read.
    pub fn create(path: &Path, input: Option<&Path>) -> Result<FrameFile> {
        if let Some(input) = input.filter(|i| i.as_os_str() != "-") {
            let same = match (std::fs::canonicalize(input), std::fs::canonicalize(path)) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            };
            if same {
                bail!(
                    "will not write over the capture being read ({})",
                    path.display()
                );
            }
        }
        let file =
            File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
        let writer = PcapngWriter::new(
            BufWriter::with_capacity(1 << 16, file),
            WriterOptions {
                application: format!("synscope {}", env!("CARGO_PKG_VERSION")),
                ..WriterOptions::default()
            },
        )
        .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(FrameFile {
            path: path.to_path_buf(),
            writer,
        })
    }

    pub fn write(&mut self, frame: &RawFrame<'_>) -> Result<()> {
        self.writer
            .write_frame(frame)
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// Flushes the file; returns how many frames it holds.
    pub fn finish(self) -> Result<u64> {
        let n = self.writer.frames();
        let path = self.path;
        let mut w = self
            .writer
            .into_inner()
            .with_context(|| format!("cannot write {}", path.display()))?;
        w.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(n)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Writes the frames numbered `frames` (1-based, as an event's `frame`: Wireshark's
/// `frame.number`) of the capture file `capture` to a new pcapng file `out`, in capture order.
/// Returns how many were written (numbers past the end of the capture are not). For the TUI's
/// save key: the frames of the selected connection, or of the filtered view.
///
/// Fails for standard input (`-`: it cannot be read again), a capture that cannot be read, or
/// `out` being the capture itself. A capture cut short or corrupt after the last frame wanted
/// is not an error.
pub fn write_frames(capture: &Path, frames: &BTreeSet<u64>, out: &Path) -> Result<u64> {
    if capture.as_os_str() == "-" {
        bail!("a capture read from standard input cannot be read again to save frames");
    }
    let mut file = FrameFile::create(out, Some(capture))?;
    let last = frames.last().copied().unwrap_or(0);
    let mut reader =
        open_path(capture).with_context(|| format!("cannot read {}", capture.display()))?;
    let mut n = 0u64;
    while n < last {
        let frame = match reader.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("in {}", capture.display())))
            }
        };
        n += 1;
        if frames.contains(&n) {
            file.write(&frame)?;
        }
    }
    file.finish()
}
