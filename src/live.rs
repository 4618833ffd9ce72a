//! Live mode: a capture thread reads the kernel ring and hands owned batches of frames to the
//! engine through a bounded channel; headless output writes the events as text or JSON Lines
//! until Ctrl-C or SIGTERM, then prints capture statistics.
//!
//! The capture thread blocks when the channel is full rather than dropping frames: while it
//! waits, the kernel ring (64 MiB by default) keeps absorbing the burst, and if that fills too
//! the kernel drops and counts, so every loss is visible in [`LiveStats::dropped`]. Frames are
//! dropped in user space only when the consumer is gone (it dropped the receiver).
//!
//! [`spawn_capture`] is the reusable piece. [`Headless::run`] writes a transcript;
//! [`Headless::feed`] sends the TUI its actions instead, and [`run_tui`] puts the three threads
//! together: capture thread -> engine thread -> UI loop, each hand-off a bounded channel.
//!
//! ```text
//! let cap = LiveCapture::open(&config)?;            // needs CAP_NET_RAW; LiveError::NoPermission
//! drop_root_if_sudo()?;                             // as tcpdump -Z, before opening files
//! let (rx, thread) = spawn_capture(cap, CHANNEL_BATCHES)?;
//! // in the UI loop, forward or poll: each batch is one or more ring blocks, in capture order
//! for batch in rx.try_iter() {
//!     for frame in batch.frames() { engine.ingest(&frame, &mut sink); } // an EventSink
//!     status.kernel_drops = batch.stats.dropped;    // cumulative
//! }
//! // to quit: thread.stop(); keep draining rx until it disconnects; thread.join()
//! ```

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::capture::live::{drop_root_if_sudo, Batch, Dedup, LiveCapture, LiveConfig, LiveError};
use crate::capture::pcapng_writer::{InterfaceStats, PcapngWriter, WriterOptions};
use crate::capture::{LinkType, RawFrame};
use crate::engine::{self, Engine};
use crate::explain::Lang;
use crate::filter::save::Selecting;
use crate::flow::EventSink;
use crate::keylog::{KeyLogFile, KeySource};
use crate::model::{Event, Limits, Timestamp};
use crate::tui::{self, Action, Batches, Source};
use crate::view::text::plural;
use crate::view::{self, Format};

pub use crate::capture::live::LiveStats;

/// Batches the channel holds before the capture thread waits.
pub const CHANNEL_BATCHES: usize = 128;
/// A batch is closed once it holds this many bytes of frames (one ring block is at most 1 MiB
/// by default, so a batch is usually one block).
pub const BATCH_BYTES: usize = 1 << 20;
/// How long the capture thread waits for packets before checking its stop flag.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy)]
struct FrameMeta {
    ts: Timestamp,
    off: usize,
    len: usize,
    orig_len: u32,
}

/// Frames copied out of the kernel ring, owned, to cross threads.
#[derive(Debug, Clone)]
pub struct OwnedBatch {
    link: LinkType,
    data: Vec<u8>,
    frames: Vec<FrameMeta>,
    /// Capture counters as of this batch (kernel drops included).
    pub stats: LiveStats,
}

impl OwnedBatch {
    fn new(link: LinkType) -> Self {
        OwnedBatch {
            link,
            data: Vec::new(),
            frames: Vec::new(),
            stats: LiveStats::default(),
        }
    }

    fn extend(&mut self, batch: &Batch<'_>) {
        if self.data.capacity() == 0 {
            self.data.reserve(BATCH_BYTES);
            self.frames.reserve(1024);
        }
        for f in batch.frames() {
            let off = self.data.len();
            self.data.extend_from_slice(f.data);
            self.frames.push(FrameMeta {
                ts: f.ts,
                off,
                len: f.data.len(),
                orig_len: f.orig_len,
            });
        }
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Bytes of frame data held.
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    /// The frames, in capture order.
    pub fn frames(&self) -> impl Iterator<Item = RawFrame<'_>> + '_ {
        self.frames.iter().filter_map(move |m| {
            Some(RawFrame {
                ts: m.ts,
                link: self.link,
                data: self.data.get(m.off..m.off + m.len)?,
                orig_len: m.orig_len,
            })
        })
    }
}

/// What the capture thread did, once it has ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureReport {
    /// Final counters (kernel received and dropped, frames captured).
    pub stats: LiveStats,
    /// Batches sent to the consumer.
    pub batches: u64,
    /// Frames captured but not delivered because the consumer had gone.
    pub userspace_dropped: u64,
}

/// The running capture thread.
pub struct CaptureThread {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Result<CaptureReport, LiveError>>,
}

impl CaptureThread {
    /// Asks the thread to finish: it keeps reading for [`LiveCapture::flush_delay`] so that
    /// packets sent before the request are delivered, then ends (the channel disconnects).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// Waits for the thread. Drain the receiver first (or drop it): a thread blocked on a full
    /// channel ends only when there is room or no receiver.
    pub fn join(self) -> Result<CaptureReport, LiveError> {
        self.handle.join().unwrap_or_else(|_| {
            Err(LiveError::Os {
                op: "capture thread",
                iface: String::new(),
                source: io::Error::other("the capture thread panicked"),
            })
        })
    }
}

/// Runs `capture` on a new thread that sends [`OwnedBatch`]es into a channel of `bound`
/// batches. The receiver disconnects when the thread ends (after [`CaptureThread::stop`] or an
/// error, which [`CaptureThread::join`] returns).
pub fn spawn_capture(
    capture: LiveCapture,
    bound: usize,
) -> io::Result<(Receiver<OwnedBatch>, CaptureThread)> {
    let (tx, rx) = mpsc::sync_channel(bound.max(1));
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let handle = std::thread::Builder::new()
        .name("synscope-capture".into())
        .spawn(move || capture_loop(capture, tx, &flag))?;
    Ok((rx, CaptureThread { stop, handle }))
}

fn capture_loop(
    mut cap: LiveCapture,
    tx: SyncSender<OwnedBatch>,
    stop: &AtomicBool,
) -> Result<CaptureReport, LiveError> {
    let mut report = CaptureReport::default();
    let flush = cap.flush_delay();
    let mut stopped_at: Option<Instant> = None;
    loop {
        if let Some(t) = stopped_at {
            if t.elapsed() >= flush {
                break;
            }
        } else if stop.load(Ordering::Acquire) {
            stopped_at = Some(Instant::now());
        }
        let mut out = OwnedBatch::new(cap.link_type());
        let mut timeout = POLL_INTERVAL;
        loop {
            let batch = cap.next_batch(timeout)?;
            if batch.is_empty() {
                break;
            }
            out.extend(&batch);
            // Dropping the batch hands its ring block back to the kernel.
            drop(batch);
            timeout = Duration::ZERO;
            if out.data.len() >= BATCH_BYTES {
                break;
            }
        }
        if out.is_empty() {
            continue;
        }
        out.stats = cap.stats();
        let n = out.len() as u64;
        if tx.send(out).is_err() {
            report.userspace_dropped += n;
            break;
        }
        report.batches += 1;
    }
    report.stats = cap.stats();
    Ok(report)
}

/// Everything `synscope live --format ...` needs.
#[derive(Debug, Clone)]
pub struct HeadlessOptions {
    pub capture: LiveConfig,
    /// The headless output (`--format`); the TUI ignores it.
    pub format: Format,
    /// Text format: a `why:` line in this language under each explained event.
    pub explain: Option<Lang>,
    /// Also write every captured frame to this pcapng file.
    pub write: Option<PathBuf>,
    pub limits: Limits,
    /// Become the sudo-invoking user once the capture is open.
    pub drop_privileges: bool,
    /// Which events to show (`live -Y`, `--conn`; the TUI keeps the rows of the connections
    /// it filters in). `-w` still writes every frame.
    pub select: crate::filter::save::Selection,
    /// Segments the engine decodes, beyond what the kernel's filter let through: a `--host`
    /// name with more addresses than the kernel filter takes.
    pub engine_filter: engine::Filter,
    /// TLS secrets: a key log file followed as it grows (`--keylog`, `SSLKEYLOGFILE`),
    /// re-read before every capture batch and whenever the capture is idle.
    pub keylog: Option<KeySource>,
}

/// Secrets handed over in-process while the capture runs (the demo's rustls peers log theirs
/// through rustls's `KeyLog`): each call returns the NSS key log lines logged since the last.
pub type KeyFeed = Box<dyn FnMut() -> Vec<u8> + Send>;

/// Where a live session takes TLS secrets from while it captures.
struct LiveKeys {
    file: Option<(KeySource, KeyLogFile)>,
    feed: Option<KeyFeed>,
    /// A read of the file failed (reported once, then retried quietly).
    failed: bool,
    /// The last line read so far, not yet ended (kept for the `-w` copy, up to
    /// [`crate::keylog::MAX_LINE`] bytes: a longer line is no key log line).
    partial: Vec<u8>,
}

impl LiveKeys {
    fn is_some(&self) -> bool {
        self.file.is_some() || self.feed.is_some()
    }

    /// Takes what the sources gained into the engine; connections waiting for those secrets
    /// go on, their events to `sink`. Returns the whole lines gained, for the `-w` file's
    /// Decryption Secrets Blocks.
    fn poll(&mut self, engine: &mut Engine, sink: &mut dyn EventSink) -> Vec<u8> {
        let mut text = std::mem::take(&mut self.partial);
        if let Some((source, file)) = self.file.as_mut() {
            match engine.read_keys(file, sink) {
                Ok(read) => {
                    self.failed = false;
                    text.extend_from_slice(&read);
                }
                Err(e) if !self.failed => {
                    self.failed = true;
                    engine.key_note(
                        "tls_keylog_unreadable",
                        format!(
                            "{} cannot be read ({e}): no TLS secrets from it until it can",
                            source.describe()
                        ),
                    );
                }
                Err(_) => {}
            }
        }
        if let Some(feed) = self.feed.as_mut() {
            let lines = feed();
            if !lines.is_empty() {
                engine.add_keys(&lines, sink);
                text.extend_from_slice(&lines);
            }
        }
        let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let rest = text.get(whole..).unwrap_or(&[]);
        if rest.len() <= crate::keylog::MAX_LINE {
            self.partial = rest.to_vec();
        }
        text.truncate(whole);
        text
    }
}

/// An open headless live session, ready to [`run`](Headless::run).
pub struct Headless {
    capture: LiveCapture,
    writer: Option<(PathBuf, PcapngWriter<BufWriter<File>>)>,
    keys: LiveKeys,
    format: Format,
    explain: Option<Lang>,
    limits: Limits,
    description: String,
    select: crate::filter::save::Selection,
    engine_filter: engine::Filter,
}

/// What a headless run did.
#[derive(Debug, Clone)]
pub struct Summary {
    pub iface: String,
    pub capture: CaptureReport,
    pub engine: engine::Stats,
    /// Frames written to the `-w` file, and its path.
    pub written: Option<(PathBuf, u64)>,
    pub elapsed: Duration,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.capture;
        let e = &self.engine;
        let secs = self.elapsed.as_secs_f64();
        write!(
            f,
            "{} captured on {} in {:.1} s ({:.0}/s); kernel: {} received, {} dropped; \
             userspace: {} dropped; decoded {} ({} tcp, {} other, {} malformed), {}",
            plural(c.stats.captured, "packet", "packets"),
            self.iface,
            secs,
            c.stats.captured as f64 / secs.max(1e-9),
            c.stats.received,
            c.stats.dropped,
            c.userspace_dropped,
            plural(e.frames, "frame", "frames"),
            e.tcp_segments,
            e.other,
            e.malformed,
            plural(e.events, "event", "events"),
        )?;
        if let Some((path, n)) = &self.written {
            write!(f, "; {n} written to {}", path.display())?;
        }
        Ok(())
    }
}

impl Headless {
    /// Opens the capture, drops root if started by sudo, then creates the `-w` file (so it
    /// belongs to the user, not root).
    pub fn open(opts: HeadlessOptions) -> Result<Headless> {
        let capture = LiveCapture::open(&opts.capture)?;
        if opts.drop_privileges {
            drop_root_if_sudo()?;
        }
        let writer = match &opts.write {
            None => None,
            Some(path) => {
                let file = File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                let w = PcapngWriter::new(
                    BufWriter::with_capacity(1 << 20, file),
                    WriterOptions {
                        application: format!("synscope {}", env!("CARGO_PKG_VERSION")),
                        if_name: Some(opts.capture.iface.clone()),
                        filter: Some(opts.capture.describe_filter()),
                        snaplen: opts.capture.snaplen,
                    },
                )
                .with_context(|| format!("cannot write {}", path.display()))?;
                Some((path.clone(), w))
            }
        };
        let how = match capture.dedup() {
            Dedup::NotNeeded => "",
            Dedup::IgnoreOutgoing => ", loopback de-duplicated by PACKET_IGNORE_OUTGOING",
            Dedup::BpfPktType => ", loopback de-duplicated by a pkt_type filter",
        };
        let ring = match (capture.uses_ring(), capture.ring_error()) {
            (true, _) => "TPACKET_V3 ring".to_string(),
            (false, Some(e)) => format!("recv (the ring failed: {e})"),
            (false, None) => "recv".to_string(),
        };
        let description = format!(
            "capturing on {} ({}; {ring}{how}); stop with Ctrl-C",
            capture.iface(),
            opts.capture.describe_filter()
        );
        let file = opts.keylog.map(|k| {
            let f = KeyLogFile::new(&k.path, opts.limits.max_keylog_bytes);
            (k, f)
        });
        Ok(Headless {
            capture,
            writer,
            keys: LiveKeys {
                file,
                feed: None,
                failed: false,
                partial: Vec::new(),
            },
            format: opts.format,
            explain: opts.explain,
            limits: opts.limits,
            description,
            select: opts.select,
            engine_filter: opts.engine_filter,
        })
    }

    /// Also takes TLS secrets from `feed` while capturing (the demo's in-process key log).
    pub fn with_key_feed(mut self, feed: KeyFeed) -> Headless {
        self.keys.feed = Some(feed);
        self
    }

    /// One line saying what is being captured and how.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Captures until `stop` is set, writing events to `out` (flushed after every batch), then
    /// finishes the engine and the `-w` file.
    pub fn run<W: Write>(self, out: W, stop: &AtomicBool) -> Result<Summary> {
        let mut writer = view::Writer::new(out, self.format).explain(self.explain);
        // Mermaid declares its participants from the `connection` events.
        let skeleton = self.format == Format::Mermaid;
        self.drive(&mut writer, stop, skeleton)
    }

    /// Captures until `stop` is set and sends what the TUI shows to `tx`: events as
    /// [`Action::Events`] of at most [`tui::BATCH_EVENTS`], each sent as soon as it is full and
    /// the rest at the end of each capture batch (see [`tui::Batches`]), then an
    /// [`Action::Info`] status line, "captured N · kernel drops D", followed by `status()`'s
    /// latest text when it gave one (the demo says which scenario is playing). When the capture ends
    /// the engine's last events go out, then [`Action::Loaded`]. Runs on the calling thread, so
    /// run it on a thread of its own: the TUI loop must stay free for keys. If the UI hangs
    /// up, capture goes on (the `-w` file keeps every frame) until `stop` is set.
    pub fn feed(
        self,
        tx: SyncSender<Action>,
        stop: &AtomicBool,
        status: impl FnMut() -> Option<String>,
    ) -> Result<Summary> {
        let mut sink = TuiFeed {
            out: Batches::new(tx.clone()),
            status,
            note: String::new(),
            info: String::new(),
        };
        let summary = self.drive(&mut sink, stop, true);
        if let Err(e) = &summary {
            let _ = tx.send(Action::Failed(format!("{e:#}")));
        }
        summary
    }

    /// The capture loop shared by [`Headless::run`] and [`Headless::feed`]: frames go through
    /// the engine (and to the `-w` file), events to `sink`, until `stop` is set and the capture
    /// thread has delivered what it read before that.
    /// With `skeleton` (the TUI), a filtered-in connection's `connection`, `connection_state`
    /// and `connection_end` go to the sink whatever the display filter says.
    fn drive(self, sink: &mut dyn Sink, stop: &AtomicBool, skeleton: bool) -> Result<Summary> {
        let started = Instant::now();
        let iface = self.capture.iface().to_string();
        let link = self.capture.link_type();
        let (rx, thread) = spawn_capture(self.capture, CHANNEL_BATCHES)
            .context("cannot start the capture thread")?;
        let mut writer = self.writer;
        let mut engine = Engine::new(self.limits).with_filter(self.engine_filter);
        let mut select = self.select;
        let everything = select.is_everything();
        let mut keys = self.keys;
        // The secrets logged since the last look go into the engine (the events of the
        // connections they release through the selection) and, as whole lines, into the `-w`
        // file as a Decryption Secrets Block, before the frames that follow.
        macro_rules! poll_keys {
            () => {{
                let lines = if everything {
                    keys.poll(&mut engine, sink)
                } else {
                    keys.poll(
                        &mut engine,
                        &mut Selecting {
                            selection: &mut select,
                            out: sink,
                            passed: false,
                            skeleton,
                        },
                    )
                };
                write_secrets(&mut writer, &lines)?;
            }};
        }
        if keys.is_some() {
            // Peers write their secrets while the capture runs: TLS connections wait for
            // secrets not there yet (bounded by Limits::max_tls_key_wait).
            engine.set_keys_growing(true);
            // A first block before any frame, so that a reader of the file knows from the
            // start that secrets come as they were logged (see Engine::add_capture_secrets).
            write_secrets(&mut writer, KEYLOG_HEADER)?;
            poll_keys!();
        }
        let mut first: Option<Timestamp> = None;
        let mut last = Timestamp::default();
        let mut stats = LiveStats::default();

        let mut consume = || -> Result<()> {
            loop {
                if stop.load(Ordering::Acquire) {
                    thread.stop();
                }
                let batch = match rx.recv_timeout(POLL_INTERVAL) {
                    Ok(b) => b,
                    Err(RecvTimeoutError::Timeout) => {
                        poll_keys!();
                        sink.idle(stats)?;
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => return Ok(()),
                };
                // Secrets logged up to now, before the records they decrypt (and in the `-w`
                // file, a Decryption Secrets Block before those records' frames).
                poll_keys!();
                for frame in batch.frames() {
                    first.get_or_insert(frame.ts);
                    last = frame.ts;
                    // Events go to the sink as they are made: one frame can make millions.
                    if everything {
                        engine.ingest(&frame, sink);
                    } else {
                        engine.ingest(
                            &frame,
                            &mut Selecting {
                                selection: &mut select,
                                out: sink,
                                passed: false,
                                skeleton,
                            },
                        );
                    }
                    if let Some((_, w)) = writer.as_mut() {
                        w.write_frame(&frame).context("writing the capture file")?;
                    }
                }
                stats = batch.stats;
                sink.batch_done(stats)?;
                if let Some((_, w)) = writer.as_mut() {
                    w.flush().context("writing the capture file")?;
                }
            }
        };
        let consumed = consume();
        if consumed.is_err() {
            // Output failed (a closed pipe...): end the capture thread without waiting for it
            // to fill the channel.
            thread.stop();
        }
        drop(rx);
        let report = thread.join();
        consumed?;
        let report = report?;

        if keys.is_some() {
            poll_keys!();
            engine.end_keys(&mut Selecting {
                selection: &mut select,
                out: sink,
                passed: false,
                skeleton,
            });
            engine.set_keys_growing(false);
        }
        engine.finish(&mut Selecting {
            selection: &mut select,
            out: sink,
            passed: false,
            skeleton,
        });
        sink.end(&report)?;
        let written = match writer {
            None => None,
            Some((path, mut w)) => {
                let s = InterfaceStats {
                    start: first,
                    end: last,
                    received: report.stats.received,
                    dropped: report.stats.dropped,
                    delivered: report.stats.captured,
                };
                w.write_stats(link, &s)
                    .context("writing the capture file")?;
                let n = w.frames();
                w.into_inner().context("writing the capture file")?;
                Some((path, n))
            }
        };
        Ok(Summary {
            iface,
            capture: report,
            engine: engine.stats(),
            written,
            elapsed: started.elapsed(),
        })
    }
}

/// The first Decryption Secrets Block of a `-w` file taken with TLS secrets: a key log
/// comment (lines starting with `#` are skipped by every reader).
const KEYLOG_HEADER: &[u8] =
    b"# TLS secrets logged while synscope captured: each block holds those logged since the last\n";

/// Writes TLS key log lines into the `-w` file, if any, as a Decryption Secrets Block.
fn write_secrets(
    writer: &mut Option<(PathBuf, PcapngWriter<BufWriter<File>>)>,
    lines: &[u8],
) -> Result<()> {
    if let Some((_, w)) = writer.as_mut() {
        w.write_tls_secrets(lines)
            .context("writing the capture file")?;
    }
    Ok(())
}

/// Where [`Headless::drive`] puts the events: the engine pushes each one as it makes it.
trait Sink: EventSink {
    /// One capture batch went through the engine; the capture counters as of that batch.
    fn batch_done(&mut self, stats: LiveStats) -> Result<()>;
    /// Nothing arrived for [`POLL_INTERVAL`].
    fn idle(&mut self, stats: LiveStats) -> Result<()>;
    /// The capture ended, the engine's last events were pushed: the final counters.
    fn end(&mut self, report: &CaptureReport) -> Result<()>;
}

/// The headless writer: each event written as it is made, flushed after every capture batch;
/// a failed write (a closed pipe) is reported when the batch ends, and nothing is written
/// after it.
impl<W: Write> Sink for view::Writer<W> {
    fn batch_done(&mut self, _: LiveStats) -> Result<()> {
        self.flush()?;
        Ok(())
    }

    fn idle(&mut self, _: LiveStats) -> Result<()> {
        Ok(())
    }

    fn end(&mut self, _: &CaptureReport) -> Result<()> {
        self.end()?;
        Ok(())
    }
}

/// The TUI's side of a live session: batches of events and a status line over its channel.
struct TuiFeed<S> {
    out: Batches,
    status: S,
    /// The last text `status` gave.
    note: String,
    /// The last status line sent.
    info: String,
}

impl<S: FnMut() -> Option<String>> TuiFeed<S> {
    /// Sends the status line if it changed.
    fn info(&mut self, stats: LiveStats) {
        if let Some(p) = (self.status)() {
            self.note = p;
        }
        let line = status_line(&self.note, stats);
        if line != self.info {
            self.info.clone_from(&line);
            self.out.send(Action::Info(line));
        }
    }
}

/// "captured N · kernel drops D · NOTE" (without the note when it is empty): the counters
/// first, so a narrow title bar cuts the note, not the drop count.
pub fn status_line(note: &str, stats: LiveStats) -> String {
    let counts = format!(
        "captured {} · kernel drops {}",
        stats.captured, stats.dropped
    );
    if note.is_empty() {
        counts
    } else {
        format!("{counts} · {note}")
    }
}

impl<S> EventSink for TuiFeed<S> {
    fn push(&mut self, event: Event) {
        self.out.push(event);
    }
}

impl<S: FnMut() -> Option<String>> Sink for TuiFeed<S> {
    fn batch_done(&mut self, stats: LiveStats) -> Result<()> {
        self.out.flush();
        self.info(stats);
        Ok(())
    }

    fn idle(&mut self, stats: LiveStats) -> Result<()> {
        self.info(stats);
        Ok(())
    }

    fn end(&mut self, report: &CaptureReport) -> Result<()> {
        self.batch_done(report.stats)?;
        self.out.send(Action::Loaded { warning: None });
        Ok(())
    }
}

/// `synscope live --format ...`: installs the SIGINT/SIGTERM handlers, opens the capture, streams
/// events to stdout until a signal, then prints the statistics to stderr.
pub fn run_headless(opts: HeadlessOptions) -> Result<Summary> {
    let stop = crate::capture::live::stop_on_signals().context("cannot install signal handlers")?;
    let session = Headless::open(opts)?;
    eprintln!("synscope: {}", session.description());
    let stdout = io::stdout();
    let out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let summary = session.run(out, stop)?;
    eprintln!("synscope: {summary}");
    Ok(summary)
}

/// `synscope live`: headless when `opts.format` is wanted (`tui` is `None`), else the TUI
/// with `tui`'s options (its limits replace `opts.limits`). The capture is opened first, so
/// that an error (no rights, no such interface) is one line on a terminal never touched.
pub fn run(mut opts: HeadlessOptions, tui: Option<tui::Options>) -> Result<()> {
    let Some(mut options) = tui else {
        run_headless(opts)?;
        return Ok(());
    };
    opts.limits = options.limits;
    let filter = opts.capture.describe_filter();
    let mut title = match filter.strip_prefix("tcp and ") {
        Some(f) => format!("live {} {f}", opts.capture.iface),
        None => format!("live {}", opts.capture.iface),
    };
    let selected = opts.select.describe();
    if !selected.is_empty() {
        title.push_str(" · ");
        title.push_str(&tui::label::clean(&selected));
    }
    options.waiting = Some(match filter.strip_prefix("tcp and ") {
        Some(f) => format!("{}, {f}", opts.capture.iface),
        None => opts.capture.iface.clone(),
    });
    options.written_to = opts.write.clone();
    let session = Headless::open(opts)?;
    if !io::stdout().is_terminal() {
        anyhow::bail!("the live view draws on a terminal; use --format text, json or mermaid");
    }
    let summary = run_tui(
        session,
        TuiOptions {
            title,
            options,
            stop: Arc::new(AtomicBool::new(false)),
            status: || None,
        },
    )?;
    eprintln!("synscope: {summary}");
    Ok(())
}

/// What the live TUI needs besides the session.
pub struct TuiOptions<S> {
    /// Names the source in the title bar ("live lo port 8080").
    pub title: String,
    pub options: tui::Options,
    /// Capture stops when this is set (the UI quitting sets it too).
    pub stop: Arc<AtomicBool>,
    /// The text after the capture counters in the status line, when it changes (see
    /// [`Headless::feed`]).
    pub status: S,
}

/// `synscope live` without `--format`: the engine runs on a thread of its own, fed by the
/// capture thread, and the TUI draws its events as they arrive, following the newest. When
/// the UI quits, capture stops, the engine drains what the capture thread still delivers, the
/// `-w` file is finished and both threads are joined. Open the session first
/// ([`Headless::open`]), so that a capture error is reported before the terminal is touched.
pub fn run_tui<S>(session: Headless, opts: TuiOptions<S>) -> Result<Summary>
where
    S: FnMut() -> Option<String> + Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(tui::CHANNEL_BATCHES);
    let stop = Arc::clone(&opts.stop);
    let status = opts.status;
    let feeder = std::thread::Builder::new()
        .name("synscope-engine".into())
        .spawn(move || session.feed(tx, &stop, status))
        .context("cannot start the engine thread")?;
    let ui = tui::run_source(Source::Live, &opts.title, opts.options, rx);
    opts.stop.store(true, Ordering::Release);
    let summary = feeder
        .join()
        .unwrap_or_else(|_| Err(anyhow::anyhow!("the engine thread panicked")));
    ui?;
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(captured: u64, dropped: u64) -> LiveStats {
        LiveStats {
            captured,
            received: captured + dropped,
            dropped,
        }
    }

    fn feed(
        tx: SyncSender<Action>,
        notes: Receiver<String>,
    ) -> TuiFeed<impl FnMut() -> Option<String>> {
        TuiFeed {
            out: Batches::new(tx),
            status: move || notes.try_iter().last(),
            note: String::new(),
            info: String::new(),
        }
    }

    #[test]
    fn status_line_puts_the_counters_first() {
        assert_eq!(status_line("", stats(5, 0)), "captured 5 · kernel drops 0");
        assert_eq!(
            status_line("round 2: websocket", stats(7, 3)),
            "captured 7 · kernel drops 3 · round 2: websocket"
        );
    }

    /// A capture batch's events go to the UI in messages of at most BATCH_EVENTS, in order,
    /// the full ones as soon as they fill, then the status line; the status line is sent
    /// again only when it changes.
    #[test]
    fn tui_feed_sends_bounded_batches_and_changed_status_lines() {
        let (tx, rx) = mpsc::sync_channel(64);
        let (notes_tx, notes) = mpsc::channel();
        let mut sink = feed(tx, notes);
        let sample = crate::tui::sample::demo();
        let n = tui::BATCH_EVENTS * 2 + 7;
        for (i, e) in sample.iter().cycle().take(n).enumerate() {
            sink.push(e.clone());
            // Sent as soon as a batch is full: never more than one held.
            assert_eq!(sink.out.pending(), (i + 1) % tui::BATCH_EVENTS);
        }
        sink.batch_done(stats(40, 1)).unwrap();
        let got: Vec<Action> = rx.try_iter().collect();
        let sizes: Vec<usize> = got
            .iter()
            .filter_map(|a| match a {
                Action::Events(e) => Some(e.len()),
                _ => None,
            })
            .collect();
        assert_eq!(sizes, [tui::BATCH_EVENTS, tui::BATCH_EVENTS, 7]);
        let first: Vec<u64> = got
            .iter()
            .filter_map(|a| match a {
                Action::Events(e) => e.first().map(|e| e.frame),
                _ => None,
            })
            .collect();
        let want: Vec<u64> = [0, tui::BATCH_EVENTS, 2 * tui::BATCH_EVENTS]
            .iter()
            .map(|&i| sample[i % sample.len()].frame)
            .collect();
        assert_eq!(first, want);
        assert!(matches!(got.last(), Some(Action::Info(i)) if i == "captured 40 · kernel drops 1"));

        // Nothing new: nothing sent. A new note: the line again, with it.
        sink.idle(stats(40, 1)).unwrap();
        assert_eq!(rx.try_iter().count(), 0);
        notes_tx.send("round 1: polling".to_string()).unwrap();
        sink.idle(stats(40, 1)).unwrap();
        let got: Vec<Action> = rx.try_iter().collect();
        assert!(
            matches!(got.as_slice(), [Action::Info(i)] if i == "captured 40 · kernel drops 1 · round 1: polling"),
            "{got:?}"
        );

        // The end: the last events, the final line, then Loaded.
        sink.push(sample[0].clone());
        let report = CaptureReport {
            stats: stats(41, 1),
            ..CaptureReport::default()
        };
        sink.end(&report).unwrap();
        let got: Vec<Action> = rx.try_iter().collect();
        assert!(matches!(got.as_slice(), [
            Action::Events(e),
            Action::Info(i),
            Action::Loaded { warning: None },
        ] if e.len() == 1 && i == "captured 41 · kernel drops 1 · round 1: polling"));
    }

    /// A write that fails (a closed pipe) is reported when the capture batch ends, and nothing
    /// is written after it; events are written as they come, not held.
    #[test]
    fn transcript_writes_each_event_and_reports_a_failed_write() {
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
        let mut t = view::Writer::new(
            Pipe {
                written: Vec::new(),
                open: true,
            },
            Format::Json,
        );
        let sample = crate::tui::sample::demo();
        t.push(sample[0].clone());
        assert_eq!(
            t.get_ref().written.iter().filter(|&&b| b == b'\n').count(),
            1
        );
        t.batch_done(LiveStats::default()).unwrap();
        t.get_mut().open = false;
        t.push(sample[1].clone());
        t.get_mut().open = true;
        t.push(sample[2].clone());
        assert_eq!(
            t.get_ref().written.iter().filter(|&&b| b == b'\n').count(),
            1
        );
        let err = t.batch_done(LiveStats::default()).unwrap_err();
        assert!(format!("{err}").contains("pipe"), "{err}");
    }

    /// The UI hung up: the feed stops sending without failing, so capture (and `-w`) go on.
    #[test]
    fn tui_feed_outlives_the_ui() {
        let (tx, rx) = mpsc::sync_channel(1);
        let (_notes_tx, notes) = mpsc::channel::<String>();
        let mut sink = feed(tx, notes);
        drop(rx);
        for e in crate::tui::sample::demo() {
            sink.push(e);
        }
        sink.batch_done(stats(1, 0)).unwrap();
        assert!(sink.out.is_gone());
        // Events after that are dropped, not held.
        for e in crate::tui::sample::demo() {
            sink.push(e);
        }
        assert_eq!(sink.out.pending(), 0);
        sink.end(&CaptureReport::default()).unwrap();
    }
}
