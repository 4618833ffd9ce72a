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
pub mod detail;
pub mod help;
pub mod label;
pub mod layout;
pub mod patterns;
pub mod sample;
pub mod theme;
pub mod timeline;
pub mod ui;

use std::io::{self, IsTerminal, Read, Stdout};
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
use crate::engine::Engine;
use crate::explain::Lang;
use crate::model::{Event, Limits};

/// Events sent to the UI in one message, at most.
pub const BATCH_EVENTS: usize = 4096;
/// Batches in flight between the reader and the UI: the reader waits when the UI lags, so
/// memory stays bounded by the timeline, not by a queue.
pub const CHANNEL_BATCHES: usize = 8;
/// A batch goes out after this long even when not full, so a slow stream still shows.
const BATCH_AGE: Duration = Duration::from_millis(50);
/// Longest the loop spends taking in queued batches before it looks at the keyboard again.
const DRAIN_BUDGET: Duration = Duration::from_millis(8);

/// How the TUI runs.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub limits: Limits,
    /// Draw with colours; [`Options::from_env`] turns it off when `NO_COLOR` is set.
    pub color: bool,
    /// Most events kept in memory (each takes about 300 bytes); beyond it events are counted
    /// and dropped.
    pub max_events: usize,
    /// Language of the explanations in the detail pane.
    pub lang: Lang,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limits: Limits::default(),
            color: true,
            max_events: 4_000_000,
            lang: Lang::En,
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
    let rx = spawn_reader(path.to_path_buf(), options.limits)?;
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
    run_source(
        Source::Replay,
        &format!("replay {}", label::clean(&name)),
        options,
        rx,
    )
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
    run(app, rx)
}

/// Starts the thread that decodes `path` and sends its events as [`Action`]s. Returns once the
/// capture's header was read, with the error if it could not be.
pub fn spawn_reader(path: PathBuf, limits: Limits) -> Result<Receiver<Action>> {
    let (input, total): (Box<dyn Read + Send>, Option<u64>) = if path.as_os_str() == "-" {
        (Box::new(io::stdin()), None)
    } else {
        let f = std::fs::File::open(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let len = f.metadata().ok().map(|m| m.len());
        (Box::new(f), len)
    };
    let (tx, rx) = mpsc::sync_channel(CHANNEL_BATCHES);
    let (opened_tx, opened_rx) = mpsc::channel::<Result<(), String>>();
    thread::Builder::new()
        .name("synscope-reader".into())
        .spawn(move || read_capture(input, total, limits, &tx, &opened_tx))
        .context("cannot start the reader thread")?;
    match opened_rx.recv() {
        Ok(Ok(())) => Ok(rx),
        Ok(Err(e)) => bail!("cannot read {}: {e}", path.display()),
        Err(_) => bail!("cannot read {}: the reader stopped", path.display()),
    }
}

/// The reader thread: frames in, batches of events out, until the end of the input or until
/// the UI hangs up.
fn read_capture(
    input: Box<dyn Read + Send>,
    total: Option<u64>,
    limits: Limits,
    tx: &SyncSender<Action>,
    opened: &mpsc::Sender<Result<(), String>>,
) {
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
    let mut engine = Engine::new(limits);
    let mut batch: Vec<Event> = Vec::with_capacity(BATCH_EVENTS);
    let mut sent = Instant::now();
    let send = |batch: &mut Vec<Event>| -> bool {
        let events = std::mem::replace(batch, Vec::with_capacity(BATCH_EVENTS));
        tx.send(Action::Events(events)).is_ok()
            && tx
                .send(Action::Progress {
                    bytes: read.load(Ordering::Relaxed),
                    total,
                })
                .is_ok()
    };
    loop {
        match reader.next_frame() {
            Ok(Some(frame)) => engine.ingest(&frame, &mut batch),
            Ok(None) => break,
            Err(e) => {
                let _ = send(&mut batch);
                let _ = tx.send(Action::Failed(e.to_string()));
                return;
            }
        }
        if batch.len() >= BATCH_EVENTS || (!batch.is_empty() && sent.elapsed() >= BATCH_AGE) {
            if !send(&mut batch) {
                return;
            }
            sent = Instant::now();
        }
    }
    engine.finish(&mut batch);
    if !send(&mut batch) {
        return;
    }
    let warning = reader
        .truncated_tail()
        .then(|| "the capture ends inside a packet (cut short)".to_string());
    let _ = tx.send(Action::Loaded { warning });
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
        restore_terminal();
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
    while !app.quit {
        if dirty {
            tty.terminal
                .draw(|f| ui::render(&app, f))
                .context("cannot draw")?;
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
