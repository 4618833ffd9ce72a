//! The terminal UI: `synscope replay FILE` draws each connection as a sequence diagram.
//!
//! - [`app`]: the state and `update(&mut App, Action)`, pure and clock-free;
//! - [`ui`]: `render(&App, &mut Frame)`, which never mutates;
//! - this module: the terminal loop. One loop owns the [`App`]; events come in as
//!   [`Action`]s over a bounded channel from a reader thread (replay) or from live capture,
//!   keys and resizes from crossterm, and the passing of time as [`Action::Tick`].
//!
//! Live capture reuses all of it: build `App::new(Source::Live, ..)`, send
//! `Action::Events(batch)` from the capture thread, and call [`run`].

pub mod app;
pub mod cells;
pub mod detail;
pub mod help;
pub mod label;
pub mod layout;
pub mod lesson;
pub mod patterns;
pub mod sample;
pub mod store;
pub mod theme;
pub mod timeline;
pub mod tools;
pub mod ui;

use std::fs::File;
use std::io::{self, IsTerminal, Read, Stdout, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Once};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use crossterm::event::{self as cevent, DisableMouseCapture, EnableMouseCapture};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

pub use app::{update, Action, App, Source};

use crate::capture::CaptureReader;
use crate::engine::{Engine, Filter};
use crate::explain::Lang;
use crate::flow::EventSink;
use crate::model::{Event, EventBody, Limits};
use crate::tui::store::{Located, Span};

/// Events sent to the UI in one message, at most.
pub const BATCH_EVENTS: usize = 4096;
/// Batches in flight between the reader and the UI: the reader waits when the UI lags, so
/// memory stays bounded by the timeline, not by a queue.
pub const CHANNEL_BATCHES: usize = 8;
/// Most events the TUI keeps ([`Options::max_events`]'s default): a 24-byte row each, plus a
/// fixed-size entry of its kind's column and the per-connection indices (about 100 bytes an
/// event on a WebSocket load capture, whose payload previews stay in the file: [`store`]).
/// Beyond it a replay counts events and does not keep them; live capture lets the oldest go.
pub const MAX_EVENTS: usize = 4_000_000;
/// A batch goes out after this long even when not full, so a slow stream still shows.
const BATCH_AGE: Duration = Duration::from_millis(50);
/// Longest the loop spends taking in queued batches before it looks at the keyboard again.
const DRAIN_BUDGET: Duration = Duration::from_millis(8);

/// How the TUI runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub limits: Limits,
    /// Draw with colours; [`Options::from_env`] turns it off when `NO_COLOR` is set.
    pub color: bool,
    /// Most events kept in memory ([`MAX_EVENTS`] by default); beyond it events are counted
    /// and dropped.
    pub max_events: usize,
    /// Language of the explanations in the detail pane.
    pub lang: Lang,
    /// Which segments of a replayed capture to decode (`replay --port/--host`).
    pub filter: Filter,
    /// Where TLS secrets come from (`replay --keylog`, `SSLKEYLOGFILE`).
    pub keylog: Option<crate::keylog::KeySource>,
    /// Which events a replay shows (`replay -Y`, `--conn`): the others are dropped as the
    /// capture loads, but every chosen connection keeps its row (see
    /// [`crate::filter::save::Selecting`]); the title says what is selected.
    pub select: crate::filter::save::Selection,
    /// Live capture: what it listens to, for the screen shown before the first connection
    /// ("lo, port 8080").
    pub waiting: Option<String>,
    /// Live capture: the `-w` file the frames are written to, which `w`/`W` read back.
    pub written_to: Option<PathBuf>,
    /// Play back at once in step mode, one arrow per this interval (`replay --step`).
    pub step: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limits: Limits::default(),
            color: true,
            max_events: MAX_EVENTS,
            lang: Lang::En,
            filter: Filter::default(),
            keylog: None,
            select: crate::filter::save::Selection::default(),
            waiting: None,
            written_to: None,
            step: None,
        }
    }
}

impl Options {
    /// Defaults, with colours off when `NO_COLOR` is set to anything but the empty string
    /// (https://no-color.org), and the explanations in the locale's language
    /// ([`Lang::from_env`]).
    pub fn from_env() -> Options {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Options {
            color: !no_color,
            lang: Lang::from_env(),
            ..Options::default()
        }
    }
}

/// Counts the bytes read through it, for the progress indicator.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Replays a capture file (`-` for standard input) in the terminal until the user quits.
/// Fails before touching the terminal if the file cannot be opened or is not a capture.
pub fn run_replay(path: &Path, options: Options) -> Result<()> {
    let mut engine = Engine::new(options.limits).with_filter(options.filter.clone());
    if let Some(k) = &options.keylog {
        engine
            .load_keys(k)
            .with_context(|| format!("cannot read the key log ({})", k.describe()))?;
    }
    let rx = spawn_selected_reader(path.to_path_buf(), engine, options.select.clone())?;
    if !io::stdout().is_terminal() {
        bail!("replay draws on a terminal; use `synscope decode` for text or JSON output");
    }
    let name = if path.as_os_str() == "-" {
        "stdin".to_string()
    } else {
        path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    let mut title = format!("replay {}", label::clean(&name));
    let selected = options.select.describe();
    if !selected.is_empty() {
        title.push_str(" · ");
        title.push_str(&label::clean(&selected));
    }
    let mut app = App::new(Source::Replay, title, (80, 24), options.max_events);
    app.color = options.color;
    app.lang = options.lang;
    if path.as_os_str() != "-" {
        app.frames = tools::Frames::File(path.to_path_buf());
    } else {
        app.frames = tools::Frames::None(
            "the capture came from standard input and is not kept: save it with tcpdump -w \
             FILE, then replay FILE"
                .into(),
        );
    }
    run(app, rx)
}

/// Runs the UI on events from `rx`: what live capture calls. Its capture thread sends
/// `Action::Events(batch)` as packets are decoded (in capture order, a few thousand at most
/// per batch), and `Action::Loaded { .. }` or `Action::Failed(why)` when capture stops; the
/// view follows the newest event until the user scrolls away. `title` names the source in
/// the title bar ("live lo port 8080").
pub fn run_source(
    source: Source,
    title: &str,
    options: Options,
    rx: Receiver<Action>,
) -> Result<()> {
    let mut app = App::new(source, title, (80, 24), options.max_events);
    app.color = options.color;
    app.lang = options.lang;
    app.waiting = options.waiting;
    if let Some(path) = options.written_to {
        app.frames = tools::Frames::File(path);
    }
    if let Some(every) = options.step {
        update(&mut app, Action::StepPlay(every));
    }
    run(app, rx)
}

/// Starts the thread that decodes `path` and sends its events as [`Action`]s. Returns once the
/// capture's header was read, with the error if it could not be.
pub fn spawn_reader(path: PathBuf, limits: Limits, filter: Filter) -> Result<Receiver<Action>> {
    spawn_engine_reader(path, Engine::new(limits).with_filter(filter))
}

/// [`spawn_reader`] with an engine set up by the caller (its key log loaded).
pub fn spawn_engine_reader(path: PathBuf, engine: Engine) -> Result<Receiver<Action>> {
    spawn_selected_reader(path, engine, crate::filter::save::Selection::default())
}

/// [`spawn_engine_reader`] that sends only the events `select` keeps (and the rows of the
/// connections it keeps).
pub fn spawn_selected_reader(
    path: PathBuf,
    engine: Engine,
    select: crate::filter::save::Selection,
) -> Result<Receiver<Action>> {
    let (input, total): (Box<dyn Read + Send>, Option<u64>) = if path.as_os_str() == "-" {
        (Box::new(io::stdin()), None)
    } else {
        let f = std::fs::File::open(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let len = f.metadata().ok().map(|m| m.len());
        (Box::new(f), len)
    };
    // A second handle to read payload previews back from, for a regular file only (not
    // standard input or a pipe: what was read from those is gone).
    let back = Some(&path)
        .filter(|p| p.as_os_str() != "-")
        .and_then(|p| std::fs::File::open(p).ok())
        .filter(|f| f.metadata().is_ok_and(|m| m.is_file()))
        .map(Arc::new);
    let (tx, rx) = mpsc::sync_channel(CHANNEL_BATCHES);
    let (opened_tx, opened_rx) = mpsc::channel::<Result<(), String>>();
    thread::Builder::new()
        .name("synscope-reader".into())
        .spawn(move || read_capture(input, total, back, engine, select, tx, &opened_tx))
        .context("cannot start the reader thread")?;
    match opened_rx.recv() {
        Ok(Ok(())) => Ok(rx),
        Ok(Err(e)) => bail!("cannot read {}: {e}", path.display()),
        Err(_) => bail!("cannot read {}: the reader stopped", path.display()),
    }
}

/// An [`EventSink`] that sends events to the UI as the engine makes them, in
/// [`Action::Events`] of at most [`BATCH_EVENTS`], over a bounded channel: one frame can make
/// a million events ([`EventSink`] says how), and they go out batch by batch, the engine
/// waiting while the channel is full, so the events held between the engine and the UI are
/// at most `(channel bound + 1) * BATCH_EVENTS`, never a whole frame's. If the UI hangs up,
/// events are dropped from then on (a live capture goes on for its `-w` file).
pub struct Batches {
    tx: SyncSender<Action>,
    batch: Vec<Event>,
    /// With a file to read payload previews back from: where each event's preview is in it
    /// (one per event of `batch`), and the file; batches then go out as
    /// [`Action::Located`].
    spans: Vec<Option<Span>>,
    file: Option<Arc<File>>,
    /// When the last batch went out (or the sink was made).
    flushed: Instant,
    /// Batches sent so far.
    sent: u64,
    /// The UI hung up.
    gone: bool,
}

impl Batches {
    pub fn new(tx: SyncSender<Action>) -> Batches {
        Batches {
            tx,
            batch: Vec::with_capacity(BATCH_EVENTS),
            spans: Vec::new(),
            file: None,
            flushed: Instant::now(),
            sent: 0,
            gone: false,
        }
    }

    /// Batches that say where in `file` each event's payload preview is
    /// ([`Batches::push_located`]).
    pub fn with_file(mut self, file: Arc<File>) -> Batches {
        self.file = Some(file);
        self.spans = Vec::with_capacity(BATCH_EVENTS);
        self
    }

    /// Events made but not sent yet (fewer than [`BATCH_EVENTS`]).
    pub fn pending(&self) -> usize {
        self.batch.len()
    }

    /// How long ago the last batch went out.
    pub fn since_flush(&self) -> Duration {
        self.flushed.elapsed()
    }

    /// Batches sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Whether the UI hung up.
    pub fn is_gone(&self) -> bool {
        self.gone
    }

    /// Sends the events not sent yet, if any. False once the UI hung up.
    pub fn flush(&mut self) -> bool {
        if !self.batch.is_empty() && !self.gone {
            let events = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH_EVENTS));
            let action = match &self.file {
                Some(file) => Action::Located(Located {
                    events,
                    spans: std::mem::replace(&mut self.spans, Vec::with_capacity(BATCH_EVENTS)),
                    file: Arc::clone(file),
                }),
                None => Action::Events(events),
            };
            self.gone = self.tx.send(action).is_err();
            self.sent += 1;
            self.flushed = Instant::now();
        }
        self.batch.clear();
        self.spans.clear();
        !self.gone
    }

    /// Sends `action` after the events not sent yet (so that `Loaded` comes after the last
    /// events). False once the UI hung up.
    pub fn send(&mut self, action: Action) -> bool {
        if self.flush() {
            self.send_now(action);
        }
        !self.gone
    }

    /// Sends `action` now, ahead of the events not sent yet: for what says nothing about them
    /// ([`Action::Progress`]), so that the batch being filled is not cut short. False once the
    /// UI hung up.
    pub fn send_now(&mut self, action: Action) -> bool {
        if !self.gone {
            self.gone = self.tx.send(action).is_err();
        }
        !self.gone
    }
}

impl Batches {
    /// Queues `event`, its payload preview at `span` in the file.
    pub fn push_located(&mut self, event: Event, span: Option<Span>) {
        if self.gone {
            return;
        }
        self.batch.push(event);
        if self.file.is_some() {
            self.spans.push(span);
        }
        if self.batch.len() >= BATCH_EVENTS {
            self.flush();
        }
    }
}

impl EventSink for Batches {
    fn push(&mut self, event: Event) {
        self.push_located(event, None);
    }
}

/// Payload previews of one frame's events, found in the frame's bytes: the TUI reads them back
/// from the file when it shows them instead of holding them ([`store`]). Between the engine and
/// the [`Batches`]: each event whose kept bytes are in the frame as they are (or masked with
/// the frame's key, from the first payload byte) goes on with `kept` empty and a [`Span`];
/// the rest (bytes decrypted, inflated, or reassembled from several segments) as they are.
struct Locate<'a> {
    out: &'a mut Batches,
    /// The frame's captured bytes, and the file offset of the first.
    data: &'a [u8],
    at: u64,
    /// Where the next search starts: a frame's events come in the order of their bytes.
    cursor: usize,
    /// The last `ws_frame` found: a one-frame message that follows it has the same bytes.
    last: Option<(
        Option<crate::model::ConnId>,
        Option<crate::model::Dir>,
        Span,
    )>,
    /// Its kept bytes, and the needle being searched for (reused buffers).
    last_kept: Vec<u8>,
    needle: Vec<u8>,
}

impl<'a> Locate<'a> {
    fn new(out: &'a mut Batches, data: &'a [u8], at: u64) -> Locate<'a> {
        Locate {
            out,
            data,
            at,
            cursor: 0,
            last: None,
            last_kept: Vec::new(),
            needle: Vec::new(),
        }
    }

    /// Where `kept` (masked with `mask` first) is in the frame. Where it usually is is tried
    /// first: `header` bytes after the end of the previous one found (the next WebSocket
    /// frame, the next piece of a body), or, when `kept` is all of the payload, at the end of
    /// the frame; then the whole frame is searched. (Any place with the same bytes will do.)
    fn find(
        &mut self,
        kept: &[u8],
        mask: Option<[u8; 4]>,
        header: usize,
        whole: bool,
    ) -> Option<Span> {
        if kept.is_empty() || kept.len() > self.data.len() {
            return None;
        }
        self.needle.clear();
        self.needle.extend_from_slice(kept);
        if let Some(k) = mask {
            store::unmask(&mut self.needle, k);
        }
        let after = (self.cursor > 0).then_some(self.cursor + header);
        let at_end = whole.then(|| self.data.len() - kept.len());
        let here = |at: usize| self.data.get(at..at + kept.len()) == Some(&self.needle[..]);
        let pos = match [after, at_end].into_iter().flatten().find(|&at| here(at)) {
            Some(at) => at,
            None => memchr::memmem::find(self.data, &self.needle)?,
        };
        self.cursor = pos + kept.len();
        Some(Span {
            at: self.at + pos as u64,
            len: u32::try_from(kept.len()).ok()?,
            mask,
            text: None,
        })
    }

    /// Takes a text preview out of the event when it is the start of the kept bytes.
    fn text(text: &mut Option<String>, kept: &[u8], span: &mut Span) {
        if let Some(t) = text.as_ref().filter(|t| kept.starts_with(t.as_bytes())) {
            span.text = u32::try_from(t.len()).ok();
            *text = None;
        }
    }
}

impl EventSink for Locate<'_> {
    fn push(&mut self, mut event: Event) {
        let (conn, dir) = (event.conn, event.dir);
        let span = match &mut event.body {
            EventBody::WsFrame(f) => {
                let mask = f.mask_key.as_ref().and_then(store::mask_bytes);
                let whole = f.data.kept.len() as u64 == f.payload_len;
                let span = self.find(&f.data.kept, mask, usize::from(f.header_len), whole);
                if let Some(s) = span {
                    self.last = Some((conn, dir, s));
                    self.last_kept.clear();
                    self.last_kept.extend_from_slice(&f.data.kept);
                    f.data.kept = Box::default();
                }
                span
            }
            EventBody::WsMessage(m) => match self.last {
                Some((c, d, s))
                    if (c, d) == (conn, dir)
                        && !m.data.kept.is_empty()
                        && *m.data.kept == *self.last_kept =>
                {
                    let mut s = s;
                    Locate::text(&mut m.text, &m.data.kept, &mut s);
                    m.data.kept = Box::default();
                    Some(s)
                }
                _ => None,
            },
            EventBody::HttpBody(b) => {
                let whole = !b.data.is_cut();
                let mut span = self.find(&b.data.kept, None, 0, whole);
                if let Some(s) = &mut span {
                    Locate::text(&mut b.text, &b.data.kept, s);
                    b.data.kept = Box::default();
                }
                span
            }
            EventBody::Data(d) => {
                let whole = !d.data.is_cut();
                let mut span = self.find(&d.data.kept, None, 0, whole);
                if let Some(s) = &mut span {
                    Locate::text(&mut d.text, &d.data.kept, s);
                    d.data.kept = Box::default();
                }
                span
            }
            _ => None,
        };
        self.out.push_located(event, span);
    }
}

/// The reader thread: frames in, batches of events out, until the end of the input or until
/// the UI hangs up.
fn read_capture(
    input: Box<dyn Read + Send>,
    total: Option<u64>,
    back: Option<Arc<File>>,
    mut engine: Engine,
    mut select: crate::filter::save::Selection,
    tx: SyncSender<Action>,
    opened: &mpsc::Sender<Result<(), String>>,
) {
    let everything = select.is_everything();
    let read = Arc::new(AtomicU64::new(0));
    let counting = Counting {
        inner: input,
        read: Arc::clone(&read),
    };
    let mut reader = match CaptureReader::new(counting) {
        Ok(r) => r,
        Err(e) => {
            let _ = opened.send(Err(e.to_string()));
            return;
        }
    };
    let _ = opened.send(Ok(()));
    let locate = back.is_some();
    let mut out = Batches::new(tx);
    if let Some(f) = back {
        out = out.with_file(f);
    }
    let mut reported = 0;
    loop {
        let (frame, secrets) = reader.next_frame_at();
        if !secrets.is_empty() {
            engine.add_capture_secrets(&secrets, &mut out);
        }
        match frame {
            Ok(Some((at, frame))) => {
                // Previews found in the frame stay in the file (`Locate`), of the events the
                // selection lets through.
                let mut located;
                let sink: &mut dyn EventSink = if locate {
                    located = Locate::new(&mut out, frame.data, at);
                    &mut located
                } else {
                    &mut out
                };
                if everything {
                    engine.ingest(&frame, sink)
                } else {
                    engine.ingest(
                        &frame,
                        &mut crate::filter::save::Selecting {
                            selection: &mut select,
                            out: sink,
                            passed: false,
                            skeleton: true,
                        },
                    )
                }
            }
            Ok(None) => break,
            Err(e) => {
                out.send(Action::Failed(e.to_string()));
                return;
            }
        }
        if out.pending() > 0 && out.since_flush() >= BATCH_AGE {
            out.flush();
        }
        // Progress after each batch that went out (bytes read only change between frames).
        if out.sent() != reported {
            reported = out.sent();
            let bytes = read.load(Ordering::Relaxed);
            out.send_now(Action::Progress { bytes, total });
        }
        if out.is_gone() {
            return;
        }
    }
    engine.finish(&mut crate::filter::save::Selecting {
        selection: &mut select,
        out: &mut out,
        passed: false,
        skeleton: true,
    });
    let warning = reader
        .truncated_tail()
        .then(|| "the capture ends inside a packet (cut short)".to_string());
    let bytes = read.load(Ordering::Relaxed);
    out.send(Action::Progress { bytes, total });
    out.send(Action::Loaded { warning });
}

static PANIC_HOOK: Once = Once::new();

/// Puts the terminal back as it was: mouse capture off, main screen, cursor shown, cooked
/// mode. Safe to call twice.
pub fn restore_terminal() {
    let _ = execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = disable_raw_mode();
}

/// The terminal in raw mode on the alternate screen; restored when dropped, and by the panic
/// hook if the program panics.
struct Tty {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Tty {
    fn enter() -> Result<Tty> {
        PANIC_HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore_terminal();
                previous(info);
            }));
        });
        enable_raw_mode().context("cannot put the terminal in raw mode")?;
        let entered = execute!(
            io::stdout(),
            EnterAlternateScreen,
            EnableMouseCapture,
            cursor::Hide
        );
        if let Err(e) = entered {
            restore_terminal();
            return Err(e).context("cannot switch to the alternate screen");
        }
        match Terminal::new(CrosstermBackend::new(io::stdout())) {
            Ok(terminal) => Ok(Tty { terminal }),
            Err(e) => {
                restore_terminal();
                Err(e).context("cannot size the terminal")
            }
        }
    }
}

impl Drop for Tty {
    fn drop(&mut self) {
        // Blank the alternate screen before leaving it: a terminal that copies it around when
        // it goes back to the main screen at another size (tmux pushes its top rows into the
        // scrollback, then pulls them back) then shows blank rows, not fragments.
        let _ = execute!(
            io::stdout(),
            crossterm::terminal::Clear(crossterm::terminal::ClearType::All),
            cursor::MoveTo(0, 0)
        );
        restore_terminal();
    }
}

/// Does what the last updates asked for ([`tools::Effect`]): OSC 52 to the terminal, mouse
/// capture on or off, a save on a thread of its own (it reports through `said`).
fn carry_out(app: &mut App, tty: &mut Tty, said: &mpsc::Sender<String>) {
    for effect in std::mem::take(&mut app.effects) {
        match effect {
            tools::Effect::Copy(text) => {
                let out = tty.terminal.backend_mut();
                let _ = out
                    .write_all(tools::osc52(&text).as_bytes())
                    .and_then(|()| out.flush());
            }
            tools::Effect::Mouse(on) => {
                let out = tty.terminal.backend_mut();
                let _ = if on {
                    execute!(out, EnableMouseCapture)
                } else {
                    execute!(out, DisableMouseCapture)
                };
            }
            tools::Effect::Save { frames, name } => {
                let src = app.frames.clone();
                let said = said.clone();
                let spawned =
                    thread::Builder::new()
                        .name("synscope-save".into())
                        .spawn(move || {
                            let dir =
                                std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
                            let msg = match tools::save(&src, &frames, &dir, &name) {
                                Ok((path, n)) => format!(
                                    "saved {} frame{} to {}",
                                    label::count(n),
                                    if n == 1 { "" } else { "s" },
                                    label::clean(&path.display().to_string())
                                ),
                                Err(why) => format!("not saved: {}", label::clean(&why)),
                            };
                            let _ = said.send(msg);
                        });
                if let Err(e) = spawned {
                    app.status = Some(format!("not saved: cannot start a thread ({e})"));
                }
            }
        }
    }
}

fn translate(e: cevent::Event) -> Option<Action> {
    match e {
        cevent::Event::Key(k) => Some(Action::Key(k)),
        cevent::Event::Mouse(m) => Some(Action::Mouse(m)),
        cevent::Event::Resize(w, h) => Some(Action::Resize(w, h)),
        _ => None,
    }
}

/// Runs the UI on the terminal until the user quits: `app` takes in every action from
/// `source` (batches of events, progress) and from the keyboard, mouse and clock.
pub fn run(mut app: App, source: Receiver<Action>) -> Result<()> {
    let mut tty = Tty::enter()?;
    let size = tty.terminal.size().context("cannot size the terminal")?;
    update(&mut app, Action::Resize(size.width, size.height));
    let mut source_open = true;
    let mut last_tick = Instant::now();
    let mut was_playing = false;
    let mut dirty = true;
    // Saves run on threads of their own; what they say comes back here.
    let (said_tx, said_rx) = mpsc::channel::<String>();
    while !app.quit {
        carry_out(&mut app, &mut tty, &said_tx);
        while let Ok(said) = said_rx.try_recv() {
            update(&mut app, Action::Status(said));
            dirty = true;
        }
        if dirty {
            tty.terminal
                .draw(|f| ui::render(&app, f))
                .context("cannot draw")?;
            // The (hidden) cursor waits in the top left corner: a terminal that shrinks then
            // drops the rows below it, where it would otherwise push the top rows into the
            // scrollback (tmux does), to come back as fragments after exit when it grows.
            let _ = execute!(tty.terminal.backend_mut(), cursor::MoveTo(0, 0));
            dirty = false;
        }
        // Take in what the source sent, within a budget so keys stay responsive.
        let mut pending = false;
        if source_open {
            let started = Instant::now();
            loop {
                match source.try_recv() {
                    Ok(a) => {
                        update(&mut app, a);
                        dirty = true;
                        if started.elapsed() >= DRAIN_BUDGET {
                            pending = true;
                            break;
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        source_open = false;
                        if matches!(app.load, app::Load::Loading { .. }) {
                            update(&mut app, Action::Failed("the source stopped".into()));
                        }
                        break;
                    }
                }
            }
        }
        let busy = source_open || app.play.state == app::PlayState::Playing;
        let timeout = if pending {
            Duration::ZERO
        } else if busy {
            Duration::from_millis(16)
        } else {
            Duration::from_millis(250)
        };
        if cevent::poll(timeout).context("cannot read the terminal")? {
            // Everything already typed, at once (a held key should not lag behind).
            loop {
                if let Some(a) = translate(cevent::read().context("cannot read the terminal")?) {
                    if matches!(a, Action::Resize(..)) {
                        // Redraw every cell: what the terminal kept of the old size is not
                        // what ratatui believes is on screen.
                        tty.terminal.clear().context("cannot draw")?;
                    }
                    update(&mut app, a);
                    dirty = true;
                }
                if app.quit || !cevent::poll(Duration::ZERO).unwrap_or(false) {
                    break;
                }
            }
        }
        // Playback advances by the wall time since the previous turn, counted only from the
        // turn playing started (not the idle time before the key that started it).
        let now = Instant::now();
        let playing = app.play.state == app::PlayState::Playing;
        if playing && was_playing {
            update(&mut app, Action::Tick(now - last_tick));
            dirty = true;
        }
        was_playing = playing;
        last_tick = now;
    }
    drop(tty);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;
    use crate::capture::pcapng_writer::{PcapngWriter, WriterOptions};
    use crate::capture::{LinkType, RawFrame};
    use crate::engine::tests::{hole_before_a_million_pings, million_limits};

    fn raw(ts: crate::model::Timestamp, data: &[u8]) -> RawFrame<'_> {
        RawFrame {
            ts,
            link: LinkType::IPV4,
            data,
            orig_len: data.len() as u32,
        }
    }

    /// Counts the events made before passing them on.
    struct Made<'a> {
        made: &'a AtomicU64,
        out: Batches,
    }

    impl EventSink for Made<'_> {
        fn push(&mut self, event: Event) {
            self.made.fetch_add(1, Ordering::Relaxed);
            self.out.push(event);
        }
    }

    /// One frame that releases a million events: they reach the UI in batches of at most
    /// BATCH_EVENTS while the engine is still inside that frame, and the engine waits on the
    /// bounded channel, so the events made but not yet taken in never pass the channel's
    /// batches, the one being sent and the one being filled.
    #[test]
    fn a_million_events_from_one_frame_stay_within_the_channel() {
        let (frames, messages) = hole_before_a_million_pings();
        let ((ts, last), rest) = frames.split_last().unwrap();
        let mut engine = Engine::new(million_limits());
        for (ts, data) in rest {
            engine.ingest(&raw(*ts, data), &mut Vec::new());
        }
        const BOUND: usize = 2;
        let (tx, rx) = mpsc::sync_channel(BOUND);
        let made = AtomicU64::new(0);
        let (taken, most_ahead) = thread::scope(|s| {
            let made = &made;
            s.spawn(move || {
                let mut out = Made {
                    made,
                    out: Batches::new(tx),
                };
                engine.ingest(&raw(*ts, last), &mut out);
                out.out.send(Action::Loaded { warning: None });
            });
            let (mut taken, mut most_ahead) = (0u64, 0u64);
            for a in rx {
                if let Action::Events(batch) = a {
                    assert!(batch.len() <= BATCH_EVENTS);
                    taken += batch.len() as u64;
                    most_ahead = most_ahead.max(made.load(Ordering::Relaxed) - taken);
                }
            }
            (taken, most_ahead)
        });
        assert_eq!(taken, 1 + 2 * messages);
        assert_eq!(made.load(Ordering::Relaxed), taken);
        assert!(
            most_ahead <= ((BOUND + 2) * BATCH_EVENTS) as u64,
            "{most_ahead} events held"
        );
    }

    /// The replay reader streams the same capture from a file, then 20,000 small frames
    /// (copies of the SYN-ACK, one `tcp` event each): every event arrives, in full batches,
    /// with progress, and `Loaded` last.
    #[test]
    fn the_reader_streams_a_capture_in_bounded_batches() {
        let (frames, messages) = hole_before_a_million_pings();
        let mut w = PcapngWriter::new(Vec::new(), WriterOptions::default()).unwrap();
        for (ts, data) in &frames {
            w.write_frame(&raw(*ts, data)).unwrap();
        }
        let (ts, syn_ack) = &frames[1];
        for i in 0..20_000 {
            let ts = crate::model::Timestamp(ts.0 + 1_000_000_000 + i * 1000);
            w.write_frame(&raw(ts, syn_ack)).unwrap();
        }
        let file = w.into_inner().unwrap();
        let len = file.len() as u64;
        let (tx, rx) = mpsc::sync_channel(CHANNEL_BATCHES);
        let (opened_tx, opened_rx) = mpsc::channel();
        let reader = thread::spawn(move || {
            read_capture(
                Box::new(io::Cursor::new(file)),
                Some(len),
                None,
                Engine::new(million_limits()),
                crate::filter::save::Selection::default(),
                tx,
                &opened_tx,
            )
        });
        assert_eq!(opened_rx.recv().unwrap(), Ok(()));
        let started = Instant::now();
        let mut app = App::new(Source::Replay, "t", (80, 24), usize::MAX);
        let (mut events, mut batches, mut last_progress) = (0u64, 0u64, None);
        let mut ended = false;
        for a in rx {
            assert!(!ended, "an action after Loaded");
            match &a {
                Action::Events(b) => {
                    assert!(!b.is_empty() && b.len() <= BATCH_EVENTS);
                    events += b.len() as u64;
                    batches += 1;
                }
                Action::Progress { bytes, total } => {
                    assert_eq!(*total, Some(len));
                    last_progress = Some(*bytes);
                }
                Action::Loaded { warning } => {
                    assert_eq!(*warning, None);
                    ended = true;
                }
                other => panic!("unexpected {other:?}"),
            }
            update(&mut app, a);
        }
        reader.join().unwrap();
        assert!(ended);
        // Full batches, but for one sent each BATCH_AGE and the last (the UI takes in whole
        // batches: a batch per frame would make it redraw per frame).
        let aged = (started.elapsed().as_millis() / BATCH_AGE.as_millis()) as u64;
        assert!(
            batches <= events / BATCH_EVENTS as u64 + aged + 2,
            "{batches} batches for {events} events"
        );
        assert_eq!(last_progress, Some(len));
        // The handshake, request, upgrade, the pings and their messages, the copies, the end.
        assert!(events > 2 * messages + 20_000, "{events}");
        assert_eq!(app.timeline.len() as u64, events);
        assert_eq!(app.load, app::Load::Done);
    }

    /// Replaying a file, the TUI reads payload previews back from it: every event of real
    /// captures (WebSocket frames masked and not, text messages, HTTP bodies, subprotocols)
    /// comes back from the timeline as the engine made it, and most previews came from the
    /// file.
    #[test]
    fn replayed_events_come_back_whole_from_the_file() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/captures");
        for name in [
            "ws_chat.pcapng",
            "ws_chat_nano.pcap",
            "ws_large.pcapng",
            "ws_deflate.pcapng",
            "stomp.pcapng",
            "sse.pcapng",
            "http_keepalive.pcapng",
            "socketio_v4.pcapng",
        ] {
            let path = dir.join(name);
            let mut reader = crate::capture::open_path(&path).unwrap();
            let mut engine = Engine::new(Limits::default());
            let mut want = Vec::new();
            while let Some(frame) = reader.next_frame().unwrap() {
                engine.ingest(&frame, &mut want);
            }
            engine.finish(&mut want);
            let rx = spawn_reader(path, Limits::default(), Filter::default()).unwrap();
            let mut app = App::new(Source::Replay, "t", (80, 24), usize::MAX);
            for a in rx {
                update(&mut app, a);
            }
            let tl = &app.timeline;
            assert_eq!(tl.len(), want.len(), "{name}");
            for (ix, e) in want.iter().enumerate() {
                assert_eq!(tl.event(ix as u32).as_deref(), Some(e), "{name} event {ix}");
            }
            let payloads = want
                .iter()
                .filter(|e| match &e.body {
                    EventBody::WsFrame(f) => !f.data.kept.is_empty(),
                    EventBody::HttpBody(b) => !b.data.kept.is_empty(),
                    _ => false,
                })
                .count() as u64;
            assert!(
                tl.store().from_file() * 2 >= payloads,
                "{name}: {} of {payloads} from the file",
                tl.store().from_file()
            );
        }
    }
}
