//! `synscope decode`: a capture file (or standard input) through the engine into a
//! [`Writer`] on standard output, or only counted (`--stats`).

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::capture::open_path;
use crate::engine::{Engine, Filter};
use crate::explain::Lang;
use crate::model::{Event, Limits};
use crate::view::{Format, Writer};

/// Everything `synscope decode` takes.
#[derive(Debug, Clone, Default)]
pub struct DecodeOptions {
    /// The capture, `-` for standard input.
    pub path: PathBuf,
    pub filter: Filter,
    pub format: Format,
    /// Only count: one summary line on standard error, nothing on standard output.
    pub stats: bool,
    /// The language of a `why:` line under each event of the text format.
    pub explain: Option<Lang>,
    pub limits: Limits,
}

/// Runs `synscope decode` on standard output.
pub fn decode(opts: &DecodeOptions) -> Result<()> {
    let stdout = io::stdout();
    decode_to(opts, BufWriter::with_capacity(1 << 16, stdout.lock()))
}

/// Runs `synscope decode`, writing to `out`. Partial success is data: what was decoded before
/// a corrupt block is written, its connections ended (every `connection` gets its
/// `connection_end`), then the error is returned. A failed write (a closed pipe) stops
/// decoding at the frame that failed and is returned.
pub fn decode_to<W: Write>(opts: &DecodeOptions, out: W) -> Result<()> {
    let started = Instant::now();
    let name = if opts.path.as_os_str() == "-" {
        "standard input".into()
    } else {
        opts.path.display().to_string()
    };
    let mut reader = open_path(&opts.path).with_context(|| format!("cannot read {name}"))?;
    let mut engine = Engine::new(opts.limits).with_filter(opts.filter.clone());
    let mut writer = Writer::new(out, opts.format).explain(opts.explain);
    let mut counted = |_: Event| {};
    // Each event is written as the engine makes it: one frame can make millions (a segment
    // that fills a hole releases every byte held after it), so none are collected.
    let failure = loop {
        let frame = match reader.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break None,
            Err(e) => break Some(e),
        };
        if opts.stats {
            engine.ingest(&frame, &mut counted);
        } else {
            engine.ingest(&frame, &mut writer);
        }
        // The next frame needs a read, which on a live pipe waits for the next packet: show
        // what we have first.
        if reader.needs_input() {
            writer.flush()?;
        } else {
            writer.check()?;
        }
    };
    if opts.stats {
        engine.finish(&mut counted);
    } else {
        engine.finish(&mut writer);
    }
    if let Some(e) = failure {
        writer.flush()?;
        return Err(anyhow::Error::new(e).context(format!("in {name}")));
    }
    if opts.stats {
        writer.flush()?;
    } else {
        writer.finish()?;
    }
    if reader.truncated_tail() {
        eprintln!("synscope: warning: {name} ends inside a packet (cut short)");
    }
    if opts.stats {
        let s = engine.stats();
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "frames {}  bytes {}  tcp {}  filtered out {}  other {}  malformed {}  events {}  \
             time {:.3} s  {:.0} frames/s  {:.1} MB/s",
            s.frames,
            s.bytes,
            s.tcp_segments,
            s.filtered,
            s.other,
            s.malformed,
            s.events,
            secs,
            s.frames as f64 / secs.max(1e-9),
            s.bytes as f64 / 1e6 / secs.max(1e-9)
        );
    }
    Ok(())
}
