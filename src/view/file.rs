//! `synscope decode`: a capture file (or standard input) through the engine into a
//! [`Writer`] on standard output, or only counted (`--stats`).

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::capture::{open_path, CaptureError, CaptureReader, Cut, RawFrame};
use crate::engine::{Engine, Filter};
use crate::explain::Lang;
use crate::filter::save::{FrameFile, Selecting, Selection};
use crate::flow::EventSink;
use crate::keylog::KeySource;
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
    /// TLS secrets (`--keylog`, `SSLKEYLOGFILE`); a pcapng's Decryption Secrets Blocks are
    /// read whatever this says.
    pub keylog: Option<KeySource>,
    /// Which events to write (`--filter`/`-Y`, `--conn`): the others are decoded, not written.
    pub select: Selection,
    /// Also write the frames that pass `select` to this pcapng file (`-w`; see
    /// [`crate::filter::save`] for the rule).
    pub write: Option<PathBuf>,
}

/// Events per batch handed from the engine's thread to the writer's.
pub const BATCH_EVENTS: usize = 2048;
/// Batches in flight between the two threads: what the engine may run ahead of the writer.
/// Memory stays flat whatever the file's size: at most `BATCHES + 2` batches exist.
pub const BATCHES: usize = 8;

/// Runs `synscope decode` on standard output.
pub fn decode(opts: &DecodeOptions) -> Result<()> {
    decode_with(opts, false, || {
        BufWriter::with_capacity(1 << 16, io::stdout().lock())
    })
    .map(drop)
}

/// Runs the decode for its `-w` file only (`replay -w`): no event is written, no summary;
/// returns how many frames the file holds.
pub fn count_written(opts: &DecodeOptions) -> Result<u64> {
    Ok(decode_with(opts, true, io::sink)?.unwrap_or(0))
}

/// Runs `synscope decode`, writing to `out`. Partial success is data: what was decoded before
/// a corrupt block is written, its connections ended (every `connection` gets its
/// `connection_end`), then the error is returned. A failed write (a closed pipe) stops
/// decoding soon after (within the batches in flight) and is returned.
pub fn decode_to<W: Write + Send>(opts: &DecodeOptions, out: W) -> Result<()> {
    decode_with(opts, false, move || out).map(drop)
}

/// Frame batches in flight from the reader to the engine.
pub const READ_BATCHES: usize = 4;
/// A frame batch is sent once it holds this many bytes of frames.
pub const READ_BATCH_BYTES: usize = 256 << 10;

/// Frames copied out of the reader's buffer, owned, to cross threads.
#[derive(Default)]
struct FrameBatch {
    data: Vec<u8>,
    frames: Vec<FrameMeta>,
    /// The reader waits for input after this batch.
    flush: bool,
}

struct FrameMeta {
    ts: crate::model::Timestamp,
    link: crate::capture::LinkType,
    orig_len: u32,
    end: usize,
}

impl FrameBatch {
    fn push(&mut self, f: &RawFrame<'_>) {
        self.data.extend_from_slice(f.data);
        self.frames.push(FrameMeta {
            ts: f.ts,
            link: f.link,
            orig_len: f.orig_len,
            end: self.data.len(),
        });
    }

    fn frames(&self) -> impl Iterator<Item = RawFrame<'_>> {
        let mut start = 0;
        self.frames.iter().map(move |m| {
            let data = self.data.get(start..m.end).unwrap_or_default();
            start = m.end;
            RawFrame {
                ts: m.ts,
                link: m.link,
                data,
                orig_len: m.orig_len,
            }
        })
    }
}

/// How the capture ended.
#[derive(Default)]
struct ReadEnd {
    error: Option<CaptureError>,
    /// Where it was cut, if it ended inside its file header or a packet.
    cut: Option<Cut>,
    /// Packets with a timestamp out of range, and the first one's frame number.
    bad_timestamps: (u64, Option<u64>),
}

/// What the reader sends the engine.
enum FromReader {
    Frames(FrameBatch),
    /// TLS key log lines from a pcapng Decryption Secrets Block, for the frames after it.
    Secrets(Vec<u8>),
    End(ReadEnd),
}

/// The reader thread: frames in batches until the end of the capture, an error, or the engine
/// hanging up.
fn read_frames<R: std::io::Read>(
    mut reader: CaptureReader<R>,
    tx: &mpsc::SyncSender<FromReader>,
    spent: &mpsc::Receiver<FrameBatch>,
) {
    let fresh = || {
        let mut batch = spent.try_recv().unwrap_or_else(|_| FrameBatch {
            data: Vec::with_capacity(READ_BATCH_BYTES + (64 << 10)),
            frames: Vec::with_capacity(4096),
            flush: false,
        });
        batch.data.clear();
        batch.frames.clear();
        batch.flush = false;
        batch
    };
    loop {
        let mut batch = fresh();
        let end = loop {
            let (next, secrets) = reader.next_frame_with_secrets();
            if !secrets.is_empty() {
                // The secrets open the frames after them: what was batched before goes first.
                if !batch.frames.is_empty() {
                    let full = std::mem::replace(&mut batch, fresh());
                    if tx.send(FromReader::Frames(full)).is_err() {
                        return;
                    }
                }
                if tx.send(FromReader::Secrets(secrets)).is_err() {
                    return;
                }
            }
            match next {
                Ok(Some(f)) => batch.push(&f),
                Ok(None) => break Some(None),
                Err(e) => break Some(Some(e)),
            }
            if reader.needs_input() {
                batch.flush = true;
                break None;
            }
            if batch.data.len() >= READ_BATCH_BYTES {
                break None;
            }
        };
        if !batch.frames.is_empty() && tx.send(FromReader::Frames(batch)).is_err() {
            return;
        }
        if let Some(error) = end {
            let _ = tx.send(FromReader::End(ReadEnd {
                error,
                cut: reader.cut(),
                bad_timestamps: reader.timestamps_out_of_range(),
            }));
            return;
        }
    }
}

/// The engine's side of the reader's channel.
struct Input<'e> {
    frames: mpsc::Receiver<FromReader>,
    spent: mpsc::SyncSender<FrameBatch>,
    engine: &'e mut Engine,
    /// Which events go on to the sink, and which frames to the file.
    select: Selection,
    file: Option<FrameFile>,
    /// The first failed write to `file` (decoding stops there).
    file_error: Option<anyhow::Error>,
    /// Keep the chosen connections' `connection` events (and state changes, end) whatever
    /// the display filter says: Mermaid declares its participants from them.
    skeleton: bool,
}

impl Input<'_> {
    /// Runs the engine on every frame into `sink` until the capture ends (then the engine is
    /// finished into `sink` too) or `stop(sink)`; `flush(sink)` when the reader waits for
    /// input.
    fn run<S: EventSink>(
        &mut self,
        sink: &mut S,
        stop: impl Fn(&S) -> bool,
        mut flush: impl FnMut(&mut S),
    ) -> ReadEnd {
        let everything = self.select.is_everything();
        for msg in &self.frames {
            match msg {
                FromReader::Frames(batch) => {
                    for f in batch.frames() {
                        if everything && self.file.is_none() {
                            self.engine.ingest(&f, sink);
                        } else {
                            let mut to = Selecting {
                                selection: &mut self.select,
                                out: sink,
                                passed: false,
                                skeleton: self.skeleton,
                            };
                            self.engine.ingest(&f, &mut to);
                            let passed = to.passed || everything;
                            if let (true, Some(file)) = (passed, &mut self.file) {
                                if let Err(e) = file.write(&f) {
                                    self.file_error = Some(e);
                                    return ReadEnd::default();
                                }
                            }
                        }
                        if stop(sink) {
                            return ReadEnd::default();
                        }
                    }
                    if batch.flush {
                        flush(sink);
                    }
                    let _ = self.spent.try_send(batch);
                }
                FromReader::Secrets(s) => {
                    let mut to = Selecting {
                        selection: &mut self.select,
                        out: sink,
                        passed: false,
                        skeleton: self.skeleton,
                    };
                    self.engine.add_capture_secrets(&s, &mut to);
                }
                FromReader::End(end) => {
                    self.finish(sink);
                    flush(sink);
                    return end;
                }
            }
        }
        // The reader thread ended without a word: it panicked.
        self.finish(sink);
        flush(sink);
        ReadEnd {
            error: Some(CaptureError::Io(io::Error::other(
                "the reader thread panicked",
            ))),
            ..ReadEnd::default()
        }
    }
}

impl Input<'_> {
    /// Ends the engine's connections into `sink`, through the selection.
    fn finish(&mut self, sink: &mut dyn EventSink) {
        let mut to = Selecting {
            selection: &mut self.select,
            out: sink,
            passed: false,
            skeleton: self.skeleton,
        };
        self.engine.finish(&mut to);
    }
}

impl Input<'_> {
    /// Closes the frame file: how many frames it holds, or the first error writing it.
    fn close(&mut self) -> Result<Option<u64>> {
        if let Some(e) = self.file_error.take() {
            return Err(e);
        }
        self.file.take().map(FrameFile::finish).transpose()
    }
}

/// What the engine's thread sends the writer's.
enum ToWriter {
    Events(Vec<Event>),
    /// The reader is about to wait for input: write out what was sent so far.
    Flush,
    /// The capture ended cleanly: end the document.
    End,
}

/// The decode pipeline on both cores, three threads with bounded hand-offs:
/// - the reader reads the capture and cuts it into frames, copied into batches
///   ([`FrameBatch`], about [`READ_BATCH_BYTES`] each);
/// - this thread runs the engine on them (the engine stays synchronous: it pushes into a
///   batch of events);
/// - the writer formats and writes the events (not with `--stats`).
///
/// Batches come back empty for reuse, so nothing is allocated per batch once the pipeline is
/// full, and memory does not grow with the file.
///
/// `quiet`: only the `-w` file is wanted: no event is written, no summary or "wrote" line.
/// Returns how many frames the `-w` file holds, if there is one.
fn decode_with<W: Write, F: FnOnce() -> W + Send>(
    opts: &DecodeOptions,
    quiet: bool,
    out: F,
) -> Result<Option<u64>> {
    let started = Instant::now();
    let name = if opts.path.as_os_str() == "-" {
        "standard input".into()
    } else {
        opts.path.display().to_string()
    };
    let reader = open_path(&opts.path).with_context(|| format!("cannot read {name}"))?;
    let mut engine = Engine::new(opts.limits).with_filter(opts.filter.clone());
    if let Some(k) = &opts.keylog {
        engine
            .load_keys(k)
            .with_context(|| format!("cannot read the key log ({})", k.describe()))?;
    }
    let file = match &opts.write {
        Some(w) => Some(FrameFile::create(w, Some(&opts.path))?),
        None => None,
    };
    let mut file_result = None;
    let end = std::thread::scope(|scope| -> Result<ReadEnd> {
        let (frames_tx, frames) = mpsc::sync_channel::<FromReader>(READ_BATCHES);
        let (spent, spent_rx) = mpsc::sync_channel::<FrameBatch>(READ_BATCHES + 2);
        // Not joined: after a failed write it may be blocked reading a pipe that has nothing
        // more yet; it ends at its next send, or with the process.
        std::thread::Builder::new()
            .name("synscope-reader".into())
            .spawn(move || read_frames(reader, &frames_tx, &spent_rx))
            .context("cannot start the reader thread")?;
        let mut input = Input {
            frames,
            spent,
            engine: &mut engine,
            select: opts.select.clone(),
            file,
            file_error: None,
            skeleton: opts.format == Format::Mermaid && !opts.stats && !quiet,
        };
        if opts.stats || quiet {
            // Nothing to write: events are counted by the engine and dropped as they come.
            let mut counted = |_: Event| {};
            let end = input.run(&mut counted, |_| false, |_| {});
            file_result = Some(input.close());
            return Ok(end);
        }
        let (tx, rx) = mpsc::sync_channel::<ToWriter>(BATCHES);
        let (free_tx, free_rx) = mpsc::sync_channel::<Vec<Event>>(BATCHES + 2);
        let format = opts.format;
        let explain = opts.explain;
        let writer = std::thread::Builder::new()
            .name("synscope-writer".into())
            .spawn_scoped(scope, move || -> io::Result<()> {
                let mut w = Writer::new(out(), format).explain(explain);
                for msg in rx {
                    match msg {
                        ToWriter::Events(batch) => {
                            for e in &batch {
                                w.push_ref(e);
                            }
                            w.check()?;
                            // The events go back with the batch and are dropped on the
                            // engine's thread, which allocated them: a free from another
                            // thread locks the allocating thread's malloc arena. (If the
                            // engine's thread has gone, the batch is dropped here.)
                            let _ = free_tx.try_send(batch);
                        }
                        ToWriter::Flush => w.flush()?,
                        ToWriter::End => return w.end(),
                    }
                }
                w.flush()
            })
            .context("cannot start the writer thread")?;
        let mut batch = Batch {
            events: Vec::with_capacity(BATCH_EVENTS),
            tx: &tx,
            free: &free_rx,
            gone: false,
        };
        let end = input.run(
            &mut batch,
            |b| b.gone,
            // The reader waits for input (a live pipe waits for the next packet): show
            // what we have first.
            |b| {
                b.send();
                b.gone |= tx.send(ToWriter::Flush).is_err();
            },
        );
        if !batch.gone && end.error.is_none() {
            let _ = tx.send(ToWriter::End);
        }
        drop(tx);
        file_result = Some(input.close());
        match writer.join() {
            Ok(written) => written?,
            Err(_) => anyhow::bail!("the writer thread panicked"),
        }
        Ok(end)
    })?;
    let written = file_result.transpose()?.flatten();
    if let Some(e) = end.error {
        return Err(anyhow::Error::new(e).context(format!("in {name}")));
    }
    if let (Some(n), Some(path), false) = (written, &opts.write, quiet) {
        eprintln!(
            "synscope: wrote {} to {}",
            crate::view::text::plural(n, "frame", "frames"),
            path.display()
        );
    }
    for w in reader_warnings(end.cut, end.bad_timestamps, &name) {
        eprintln!("synscope: warning: {w}");
    }
    if opts.stats && !quiet {
        let s = engine.stats();
        let secs = started.elapsed().as_secs_f64();
        let reasons = s.other_reasons();
        eprintln!(
            "frames {}  bytes {}  tcp {}  filtered out {}  other {}{}  malformed {}  events {}  \
             time {:.3} s  {:.0} frames/s  {:.1} MB/s",
            s.frames,
            s.bytes,
            s.tcp_segments,
            s.filtered,
            s.other,
            if reasons.is_empty() {
                String::new()
            } else {
                format!(" ({reasons})")
            },
            s.malformed,
            s.events,
            secs,
            s.frames as f64 / secs.max(1e-9),
            s.bytes as f64 / 1e6 / secs.max(1e-9)
        );
    }
    Ok(written)
}

/// What a capture that was read to its end has to warn about, one line each: a cut (in the
/// file header, or in a packet), and timestamps out of range
/// ([`CaptureReader::timestamps_out_of_range`]).
pub fn reader_warnings(
    cut: Option<Cut>,
    bad_timestamps: (u64, Option<u64>),
    name: &str,
) -> Vec<String> {
    let mut w = Vec::new();
    match cut {
        Some(Cut::FileHeader { have, need }) => w.push(format!(
            "{name} ends inside its file header ({have} of {need} bytes): it holds no packet"
        )),
        Some(Cut::Packet) => w.push(format!("{name} ends inside a packet (cut short)")),
        None => {}
    }
    if let (n @ 1.., Some(first)) = bad_timestamps {
        w.push(format!(
            "{} in {name} {} a timestamp out of range (its fraction of a second is a second or \
             more), the first at frame {first}: times from there on are not reliable",
            crate::view::text::plural(n, "packet", "packets"),
            if n == 1 { "has" } else { "have" }
        ));
    }
    w
}

/// The batch the engine pushes into: sent to the writer's thread when full.
struct Batch<'a> {
    events: Vec<Event>,
    tx: &'a mpsc::SyncSender<ToWriter>,
    /// Emptied batches coming back.
    free: &'a mpsc::Receiver<Vec<Event>>,
    /// The writer's thread ended (a write failed): stop decoding.
    gone: bool,
}

impl Batch<'_> {
    fn send(&mut self) {
        if self.events.is_empty() || self.gone {
            return;
        }
        let mut next = self
            .free
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BATCH_EVENTS));
        // Written: drop the events here, on the thread that made them.
        next.clear();
        let full = std::mem::replace(&mut self.events, next);
        self.gone = self.tx.send(ToWriter::Events(full)).is_err();
    }
}

impl EventSink for Batch<'_> {
    fn push(&mut self, event: Event) {
        if self.gone {
            return;
        }
        self.events.push(event);
        if self.events.len() >= BATCH_EVENTS {
            self.send();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::CaptureReader;

    fn capture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("assets/captures")
            .join(name)
    }

    /// What one thread writing as the engine pushes gives.
    fn serial(path: &std::path::Path, format: Format, explain: Option<Lang>) -> Vec<u8> {
        let bytes = std::fs::read(path).unwrap();
        let mut reader = CaptureReader::new(&bytes[..]).unwrap();
        let mut engine = Engine::new(Limits::default());
        let mut w = Writer::new(Vec::new(), format).explain(explain);
        while let Some(f) = reader.next_frame().unwrap() {
            engine.ingest(&f, &mut w);
        }
        engine.finish(&mut w);
        w.finish().unwrap()
    }

    /// A `Write` shared with the test, so that what the writer thread wrote can be read after.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>, Option<usize>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut v = self.0.lock().unwrap();
            if self.1.is_some_and(|cap| v.len() + buf.len() > cap) {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            v.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The two-thread pipeline writes the same bytes as one thread, in every format, on
    /// captures large enough to fill many batches.
    #[test]
    fn the_pipeline_writes_what_one_thread_writes() {
        for name in ["ws_large.pcapng", "lesson_all.pcapng", "socketio_v4.pcapng"] {
            for (format, explain) in [
                (Format::Json, None),
                (Format::Text, Some(Lang::Ko)),
                (Format::Mermaid, None),
            ] {
                let path = capture(name);
                let out = Shared::default();
                let opts = DecodeOptions {
                    path: path.clone(),
                    format,
                    explain,
                    ..DecodeOptions::default()
                };
                decode_to(&opts, out.clone()).unwrap();
                let got = out.0.lock().unwrap().clone();
                assert_eq!(got, serial(&path, format, explain), "{name} {format:?}");
            }
        }
    }

    /// A write that fails (a closed pipe) ends the decode with that error; nothing is written
    /// after it.
    #[test]
    fn a_failed_write_ends_the_decode() {
        let out = Shared(Default::default(), Some(10_000));
        let opts = DecodeOptions {
            path: capture("lesson_all.pcapng"),
            format: Format::Json,
            ..DecodeOptions::default()
        };
        let err = decode_to(&opts, out.clone()).unwrap_err();
        let io = err.downcast_ref::<io::Error>().unwrap();
        assert_eq!(io.kind(), io::ErrorKind::BrokenPipe);
        assert!(out.0.lock().unwrap().len() <= 10_000);
    }

    /// A capture cut by a corrupt block: the frames before it are written, their connections
    /// ended, then the error.
    #[test]
    fn a_corrupt_block_ends_with_the_error_after_the_frames_before_it() {
        let mut bytes = std::fs::read(capture("ws_chat.pcapng")).unwrap();
        let len = bytes.len();
        // The last block's trailing length no longer matches its leading one.
        bytes[len - 1] ^= 0x55;
        let dir = std::env::temp_dir().join(format!("synscope-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("corrupt.pcapng");
        std::fs::write(&path, &bytes).unwrap();
        let out = Shared::default();
        let opts = DecodeOptions {
            path,
            format: Format::Json,
            ..DecodeOptions::default()
        };
        let err = decode_to(&opts, out.clone()).unwrap_err();
        assert!(format!("{err:#}").contains("corrupt.pcapng"), "{err:#}");
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(text.lines().count() > 10, "{text}");
        assert!(text.contains("\"kind\":\"connection_end\""), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
