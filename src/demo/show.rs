//! `synscope demo`: the lesson acted out by real peers on loopback, captured and shown as it
//! happens.
//!
//! Four threads, each hand-off a bounded channel or a flag:
//! - traffic: a tokio runtime (2 workers) runs the demo server ([`super::serve`]) on
//!   127.0.0.1 at a free port and the clients of the chosen [`Part`] against it
//!   ([`super::run`]), at one step per `pace`, round after round (or once);
//! - capture, engine and UI: the same as `synscope live` ([`crate::live::run_tui`]), with a port
//!   filter on the server's port, so only the demo's packets are seen; headless, the engine
//!   runs on the main thread ([`crate::live::Headless::run`]).
//!
//! The port is bound and the capture opened before the first client starts, so the first SYN
//! is captured. Without capture rights (or with `--recording`), the demo replays
//! [`RECORDING`], the same demo recorded by `scripts/record-demo.sh` and built into the
//! binary, played back in time so it unfolds as the live one would.

use std::collections::HashMap;
use std::io::{self, BufWriter, IsTerminal};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tokio::sync::oneshot;

use super::{Scenario, ServerConfig};
use crate::capture::live::{LiveConfig, LiveError};
use crate::capture::CaptureReader;
use crate::engine::Engine;
use crate::explain::Lang;
use crate::flow::EventSink;
use crate::live::{self, Headless, HeadlessOptions, TuiOptions};
use crate::model::{ConnId, Event, EventBody, Nanos};
use crate::tui::{self, Action, App, Source};
use crate::view;

/// The demo recorded by `scripts/record-demo.sh` (`synscope demo all --once -w
/// assets/demo.pcapng --pace-ms 250`): what the demo shows when it cannot capture.
pub const RECORDING: &[u8] = include_bytes!("../../assets/demo.pcapng");
/// The `--pace-ms` [`RECORDING`] was made with: playback runs at `RECORDING_PACE / pace`
/// speed, so the recording unfolds at the pace asked for (one step a second by default).
pub const RECORDING_PACE: Duration = Duration::from_millis(250);
/// With `--once`: how long capture goes on after the last connection has closed, for its last
/// ACKs (the kernel sends them at once; this is ample).
pub const SETTLE: Duration = Duration::from_millis(300);
/// How long the server may take to close its connections when the user quits mid-scenario.
const QUIT_GRACE: Duration = Duration::from_secs(2);
/// Pause between two rounds, in steps of `pace`. Long enough that the pattern detector sees
/// the rounds as separate conversations: inside a round client and server are never silent
/// for much more than one pace, and a silence of [`crate::pattern::PAUSE_RATIO`] times the
/// longest one before it ends the conversations of one request.
pub const ROUND_PAUSE_STEPS: u32 = 6;

/// What `demo all` acts out: every pattern of [`Scenario::ALL`], then the WebSocket again
/// over TLS ([`Scenario::Wss`]), decrypted with the secrets the client logs in-process.
const ALL_LIVE: [Scenario; 8] = [
    Scenario::Http,
    Scenario::Polling,
    Scenario::PollingKeepAlive,
    Scenario::LongPolling,
    Scenario::Streaming,
    Scenario::Sse,
    Scenario::WebSocket,
    Scenario::Wss,
];

/// The part of the lesson to act out (the command line's names are [`Part::name`]s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Part {
    /// The WebSocket chat: upgrade, text, binary, ping/pong, fragments, close.
    #[value(name = "websocket")]
    WebSocket,
    /// Short polling: a connection per request, then one kept-alive connection.
    Polling,
    /// Long polling: each request held until there is news.
    LongPolling,
    /// A chunked stream, then Server-Sent Events.
    Streaming,
    /// All of them, plain HTTP first.
    All,
}

impl Part {
    pub const EVERY: [Part; 5] = [
        Part::WebSocket,
        Part::Polling,
        Part::LongPolling,
        Part::Streaming,
        Part::All,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Part::WebSocket => "websocket",
            Part::Polling => "polling",
            Part::LongPolling => "long-polling",
            Part::Streaming => "streaming",
            Part::All => "all",
        }
    }

    /// The client scenarios of this part, in the order they run.
    pub fn scenarios(self) -> &'static [Scenario] {
        match self {
            Part::WebSocket => &[Scenario::WebSocket],
            Part::Polling => &[Scenario::Polling, Scenario::PollingKeepAlive],
            Part::LongPolling => &[Scenario::LongPolling],
            Part::Streaming => &[Scenario::Streaming, Scenario::Sse],
            Part::All => &ALL_LIVE,
        }
    }

    /// Whether a connection whose first request targets `target` belongs to this part: each
    /// scenario's first request names its endpoint (`GET /` only in the plain HTTP one).
    pub fn has_target(self, target: &str) -> bool {
        let path = target.split('?').next().unwrap_or(target);
        match self {
            Part::WebSocket => path == "/ws",
            Part::Polling => path == "/poll",
            Part::LongPolling => path == "/long-poll",
            Part::Streaming => path == "/stream" || path == "/events",
            Part::All => true,
        }
    }
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything `synscope demo` takes.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub part: Part,
    /// Time between two steps of a client.
    pub pace: Duration,
    /// Run this many rounds of the part's scenarios, then stop capturing (headless: exit;
    /// TUI: stay open); `None`: round after round until the user quits.
    pub rounds: Option<u32>,
    /// Also write every captured frame to this pcapng file.
    pub write: Option<PathBuf>,
    /// Headless output instead of the TUI.
    pub format: Option<view::Format>,
    /// Headless text: a `why:` line in this language under each explained event.
    pub explain: Option<Lang>,
    /// Replay [`RECORDING`] even when live capture is possible.
    pub recording: bool,
    pub tui: tui::Options,
}

/// Runs the demo until the user quits (or, with `rounds`, until the last round ran).
pub fn run(opts: &DemoOptions) -> Result<()> {
    if opts.format.is_none() && !io::stdout().is_terminal() {
        bail!("the demo draws on a terminal; use --format text or --format json for a transcript");
    }
    if opts.recording {
        return replay_recording(opts, "--recording");
    }
    // Bound first: the capture filter needs the port, and no client starts before the
    // capture is open.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .context("cannot start the demo server on 127.0.0.1")?;
    let addr = listener
        .local_addr()
        .context("cannot start the demo server on 127.0.0.1")?;
    let mut capture = LiveConfig::new("lo");
    capture.ports = vec![addr.port()];
    capture.host = Some(addr.ip());
    let session = Headless::open(HeadlessOptions {
        capture,
        format: opts.format.unwrap_or_default(),
        explain: opts.explain,
        write: opts.write.clone(),
        limits: opts.tui.limits,
        drop_privileges: true,
        select: Default::default(),
        engine_filter: Default::default(),
        keylog: None,
    })
    .map(|s| {
        // The wss round's client logs its TLS secrets here, in-process: the engine takes
        // them as they come and decrypts.
        match super::tls::demo() {
            Ok(tls) if opts.part.scenarios().contains(&Scenario::Wss) => {
                let keys = tls.keys.clone();
                s.with_key_feed(Box::new(move || keys.take()))
            }
            _ => s,
        }
    });
    let session = match session {
        Ok(s) => s,
        Err(e) => match e.downcast_ref::<LiveError>() {
            Some(LiveError::NoPermission { .. }) => {
                eprintln!(
                    "synscope: live capture is not permitted here (it needs root or \
                     CAP_NET_RAW: sudo synscope demo, or sudo setcap \
                     cap_net_raw,cap_net_admin+eip $(which synscope)); replaying the built-in \
                     recording of the demo instead"
                );
                return replay_recording(opts, "no capture rights");
            }
            _ => return Err(e),
        },
    };
    match opts.format {
        Some(_) => headless(opts, session, listener, addr),
        None => with_tui(opts, session, listener, addr),
    }
}

fn headless(
    opts: &DemoOptions,
    session: Headless,
    listener: TcpListener,
    addr: SocketAddr,
) -> Result<()> {
    let signal =
        crate::capture::live::stop_on_signals().context("cannot install signal handlers")?;
    eprintln!(
        "synscope: demo {} on http://{addr}/ (pace {} ms); {}",
        opts.part,
        opts.pace.as_millis(),
        session.description()
    );
    let traffic = Traffic::spawn(
        listener,
        opts.part,
        opts.pace,
        opts.rounds,
        Box::new(|note: Note| {
            if let Note::Failed { .. } = note {
                eprintln!("synscope: {note}");
            }
        }),
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    let conductor = conduct(traffic, Arc::clone(&stop), move || {
        signal.load(Ordering::Acquire)
    })?;
    let stdout = io::stdout();
    let out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let summary = session.run(out, &stop);
    stop.store(true, Ordering::Release);
    let outcome = join_conductor(conductor);
    let summary = summary?;
    eprintln!("synscope: {summary}");
    outcome?.check()
}

fn with_tui(
    opts: &DemoOptions,
    session: Headless,
    listener: TcpListener,
    addr: SocketAddr,
) -> Result<()> {
    let (notes_tx, notes) = mpsc::channel::<String>();
    let traffic = Traffic::spawn(
        listener,
        opts.part,
        opts.pace,
        opts.rounds,
        Box::new(move |note: Note| {
            let _ = notes_tx.send(note.to_string());
        }),
    )?;
    // The UI quitting sets `stop` too, which stops the traffic.
    let stop = Arc::new(AtomicBool::new(false));
    let conductor = conduct(traffic, Arc::clone(&stop), || false)?;
    let title = format!("demo {} ─ lo port {}", opts.part, addr.port());
    let summary = live::run_tui(
        session,
        TuiOptions {
            title,
            options: tui::Options {
                waiting: Some(format!("lo, port {}", addr.port())),
                written_to: opts.write.clone(),
                ..opts.tui.clone()
            },
            stop: Arc::clone(&stop),
            status: move || notes.try_iter().last(),
        },
    );
    stop.store(true, Ordering::Release);
    let outcome = join_conductor(conductor);
    let summary = summary?;
    eprintln!("synscope: {summary}");
    outcome?.check()
}

/// How often the conductor looks at its flags.
const CONDUCTOR_POLL: Duration = Duration::from_millis(50);

/// Starts the thread that ends the traffic and then the capture, in that order, so that the
/// capture holds every connection to its end: it waits until `quit()` (a signal), `stop` (the
/// UI quit, or the capture ended on its own) or the traffic's natural end (`--rounds`); stops
/// and joins the traffic; waits [`SETTLE`] for the last packets unless `stop` was already
/// set; then sets `stop`, which ends the capture.
fn conduct(
    mut traffic: Traffic,
    stop: Arc<AtomicBool>,
    quit: impl Fn() -> bool + Send + 'static,
) -> Result<JoinHandle<Result<Outcome>>> {
    std::thread::Builder::new()
        .name("synscope-conductor".into())
        .spawn(move || {
            while !quit() && !stop.load(Ordering::Acquire) && !traffic.is_finished() {
                std::thread::sleep(CONDUCTOR_POLL);
            }
            traffic.stop();
            let outcome = traffic.join();
            if !stop.load(Ordering::Acquire) {
                std::thread::sleep(SETTLE);
                stop.store(true, Ordering::Release);
            }
            outcome
        })
        .context("cannot start the demo's conductor thread")
}

fn join_conductor(conductor: JoinHandle<Result<Outcome>>) -> Result<Outcome> {
    conductor
        .join()
        .unwrap_or_else(|_| Err(anyhow!("the demo's conductor thread panicked")))
}

/// What the traffic thread tells about its progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A scenario starts.
    Playing { round: u32, scenario: Scenario },
    /// A scenario stopped short (the demo goes on with the next one).
    Failed {
        round: u32,
        scenario: Scenario,
        why: String,
    },
    /// Every round ran (`--once`, `--rounds`).
    Done,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::Playing { round, scenario } => write!(f, "round {round}: {scenario}"),
            Note::Failed {
                round,
                scenario,
                why,
            } => write!(f, "round {round}: {scenario} failed: {why}"),
            Note::Done => f.write_str("done"),
        }
    }
}

/// How the traffic went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Scenarios that ran to their end.
    pub completed: u32,
    /// What failed, in order.
    pub failures: Vec<String>,
}

impl Outcome {
    /// An error naming the failures, if any.
    pub fn check(self) -> Result<()> {
        match self.failures.first() {
            None => Ok(()),
            Some(first) => bail!(
                "{} demo scenario(s) failed; the first: {first}",
                self.failures.len()
            ),
        }
    }
}

type OnNote = Box<dyn FnMut(Note) + Send>;

/// The demo's server and clients on a runtime of their own.
pub struct Traffic {
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<Result<Outcome>>,
}

impl Traffic {
    /// Serves the demo on `listener` (bound to loopback, non-blocking) and runs the clients of
    /// `part` against it, round after round until [`Traffic::stop`], or `rounds` times; `note`
    /// hears of each scenario. With `rounds` the thread ends when the last round ran and the
    /// server has closed every connection.
    pub fn spawn(
        listener: TcpListener,
        part: Part,
        pace: Duration,
        rounds: Option<u32>,
        note: OnNote,
    ) -> Result<Traffic> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("synscope-demo")
            .enable_all()
            .build()
            .context("cannot start the demo's runtime")?;
        let (stop, stopped) = oneshot::channel();
        let handle = std::thread::Builder::new()
            .name("synscope-traffic".into())
            .spawn(move || {
                let outcome = runtime.block_on(act(listener, part, pace, rounds, note, stopped));
                // Whatever is left (a client cut short by quitting) is dropped here.
                runtime.shutdown_timeout(Duration::from_millis(500));
                outcome
            })
            .context("cannot start the demo thread")?;
        Ok(Traffic {
            stop: Some(stop),
            handle,
        })
    }

    /// Asks the clients to stop and the server to close (harmless once they have).
    pub fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }

    /// Whether the thread has ended (with `rounds`, the demo is over).
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// Waits for the thread; [`Traffic::stop`] it first unless it runs a number of `rounds`.
    pub fn join(self) -> Result<Outcome> {
        self.handle
            .join()
            .unwrap_or_else(|_| Err(anyhow!("the demo thread panicked")))
    }
}

/// The traffic thread's work: the server, the clients, then a clean shutdown.
async fn act(
    listener: TcpListener,
    part: Part,
    pace: Duration,
    rounds: Option<u32>,
    mut note: OnNote,
    mut stopped: oneshot::Receiver<()>,
) -> Result<Outcome> {
    let listener = tokio::net::TcpListener::from_std(listener)
        .context("cannot start the demo server on 127.0.0.1")?;
    let addr = listener.local_addr()?;
    let (server_stop, server_stopped) = oneshot::channel::<()>();
    // TLS on the same port when a scenario needs it (the server tells TLS by its first byte).
    let tls = if part.scenarios().contains(&Scenario::Wss) {
        super::tls::demo().ok().map(|d| Arc::clone(&d.server))
    } else {
        None
    };
    let server = tokio::spawn(super::serve_with_tls(
        listener,
        ServerConfig::paced(pace),
        tls,
        async move {
            let _ = server_stopped.await;
        },
    ));
    let mut outcome = Outcome::default();
    let clients = async {
        for round in 1u32.. {
            for (i, &scenario) in part.scenarios().iter().enumerate() {
                if i > 0 {
                    tokio::time::sleep(pace).await;
                }
                note(Note::Playing { round, scenario });
                match super::run(scenario, addr, pace).await {
                    Ok(_) => outcome.completed += 1,
                    Err(e) => {
                        let failed = Note::Failed {
                            round,
                            scenario,
                            why: e.to_string(),
                        };
                        outcome.failures.push(failed.to_string());
                        note(failed);
                    }
                }
            }
            if rounds.is_some_and(|n| round >= n) {
                break;
            }
            tokio::time::sleep(pace.saturating_mul(ROUND_PAUSE_STEPS)).await;
        }
    };
    let finished = tokio::select! {
        () = clients => true,
        _ = &mut stopped => false,
    };
    let _ = server_stop.send(());
    // After the clients' natural end every connection is closing and the server returns at
    // once; after a quit, a long poll may still be held: do not wait for it.
    let grace = if finished {
        super::SHUTDOWN_GRACE + QUIT_GRACE
    } else {
        QUIT_GRACE
    };
    match tokio::time::timeout(grace, server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => return Err(e).context("the demo server failed"),
        Ok(Err(e)) => bail!("the demo server task failed: {e}"),
        Err(_) if finished => bail!("the demo server did not close its connections"),
        Err(_) => {}
    }
    if finished && rounds.is_some() {
        note(Note::Done);
    }
    Ok(outcome)
}

/// Events of [`RECORDING`] that belong to `part`, their times counted from the first kept
/// one. A connection belongs to the part its first request names ([`Part::has_target`]).
pub fn recording_events(part: Part, limits: crate::model::Limits) -> Result<Vec<Event>> {
    let mut events = Vec::new();
    recording_into(part, limits, &mut events)?;
    Ok(events)
}

/// Decodes [`RECORDING`] into `out`, event by event as [`recording_events`] lists them, none
/// collected: a part is chosen by a first pass that only notes each connection's first
/// request, then the second pass passes on that part's events.
pub fn recording_into(
    part: Part,
    limits: crate::model::Limits,
    out: &mut dyn EventSink,
) -> Result<()> {
    let mut first_target: HashMap<ConnId, bool> = HashMap::new();
    if part != Part::All {
        decode_recording(limits, &mut |e: Event| {
            if let (Some(c), EventBody::HttpRequest(r)) = (e.conn, &e.body) {
                first_target
                    .entry(c)
                    .or_insert_with(|| part.has_target(&r.target));
            }
        })?;
    }
    let keep = |c: &ConnId| part == Part::All || first_target.get(c).copied().unwrap_or(false);
    let mut t0 = None;
    decode_recording(limits, &mut |mut e: Event| {
        let kept = match (&e.conn, &e.body) {
            (Some(c), _) => keep(c),
            (None, EventBody::Pattern(p)) => part == Part::All || p.conns.iter().any(keep),
            (None, _) => part == Part::All,
        };
        if kept {
            if part != Part::All {
                let t0 = *t0.get_or_insert(e.t.0);
                e.t = Nanos(e.t.0.saturating_sub(t0));
            }
            out.push(e);
        }
    })
}

fn decode_recording(limits: crate::model::Limits, out: &mut dyn EventSink) -> Result<()> {
    let mut reader = CaptureReader::new(RECORDING).context("the built-in recording")?;
    let mut engine = Engine::new(limits);
    while let Some(frame) = reader
        .next_frame()
        .context("reading the built-in recording")?
    {
        engine.ingest(&frame, out);
    }
    engine.finish(out);
    Ok(())
}

/// The playback speed that shows [`RECORDING`] at `pace` per step.
pub fn recording_speed(pace: Duration) -> f64 {
    RECORDING_PACE.as_secs_f64() / pace.as_secs_f64().max(1e-3)
}

fn replay_recording(opts: &DemoOptions, why: &str) -> Result<()> {
    if let Some(path) = &opts.write {
        // The recording is a capture of this very demo: a copy is what `-w` would have made.
        std::fs::write(path, RECORDING)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let (part, limits) = (opts.part, opts.tui.limits);
    match opts.format {
        Some(format) => {
            let stdout = io::stdout();
            let out = BufWriter::with_capacity(1 << 16, stdout.lock());
            let mut writer = view::Writer::new(out, format).explain(opts.explain);
            recording_into(part, limits, &mut writer)?;
            writer.end()?;
            Ok(())
        }
        None => {
            let title = format!("demo {} ─ RECORDING ({why})", opts.part);
            let mut app = App::new(Source::Replay, title, (80, 24), opts.tui.max_events);
            app.color = opts.tui.color;
            // `w`/`W` save from the recording itself.
            app.frames = tui::tools::Frames::Bytes(RECORDING);
            // As live: each new connection takes the diagram as playback reaches it.
            app.follow_conns = true;
            let (tx, rx) = mpsc::sync_channel(tui::CHANNEL_BATCHES);
            // Playback first: no frame is drawn with every event showing at once.
            let _ = tx.send(Action::Autoplay(recording_speed(opts.pace)));
            let _ = tx.send(Action::Info(format!(
                "built-in recording (pace {} ms), played in time: space pauses, s shows all",
                RECORDING_PACE.as_millis()
            )));
            // The events follow from a thread of their own, in bounded batches, as they are
            // decoded (the UI loop takes them in while it runs).
            std::thread::Builder::new()
                .name("synscope-recording".into())
                .spawn(move || {
                    let mut out = tui::Batches::new(tx);
                    let end = match recording_into(part, limits, &mut out) {
                        Ok(()) => Action::Loaded { warning: None },
                        Err(e) => Action::Failed(format!("{e:#}")),
                    };
                    out.send(end);
                })
                .context("cannot start the recording's reader thread")?;
            tui::run(app, rx)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Limits;

    #[test]
    fn part_names_and_scenarios() {
        let names: Vec<&str> = Part::EVERY.iter().map(|p| p.name()).collect();
        assert_eq!(
            names,
            ["websocket", "polling", "long-polling", "streaming", "all"]
        );
        assert!(Part::Streaming.scenarios().contains(&Scenario::Sse));
        assert!(Part::All.scenarios().contains(&Scenario::Sse));
        assert_eq!(Part::All.scenarios()[..7], Scenario::ALL);
        assert_eq!(Part::All.scenarios().last(), Some(&Scenario::Wss));
        // The command line takes the same names.
        for p in Part::EVERY {
            let v = clap::ValueEnum::to_possible_value(&p).unwrap();
            assert_eq!(v.get_name(), p.name());
        }
    }

    #[test]
    fn targets_pick_the_part() {
        assert!(Part::WebSocket.has_target("/ws"));
        assert!(!Part::WebSocket.has_target("/wsx"));
        assert!(Part::Polling.has_target("/poll?since=0"));
        assert!(!Part::Polling.has_target("/long-poll?since=0"));
        assert!(Part::LongPolling.has_target("/long-poll?since=3&timeout_ms=1"));
        assert!(Part::Streaming.has_target("/events?n=5&every_ms=250"));
        assert!(Part::Streaming.has_target("/stream?n=5"));
        assert!(!Part::Streaming.has_target("/"));
        assert!(Part::All.has_target("/"));
    }

    #[test]
    fn recording_speed_maps_the_recorded_pace_to_the_asked_one() {
        assert_eq!(recording_speed(Duration::from_millis(1000)), 0.25);
        assert_eq!(recording_speed(RECORDING_PACE), 1.0);
        assert!(recording_speed(Duration::ZERO).is_finite());
    }

    fn traffic(part: Part, once: bool) -> (Traffic, mpsc::Receiver<Note>) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let (tx, rx) = mpsc::channel();
        let t = Traffic::spawn(
            listener,
            part,
            Duration::from_millis(2),
            once.then_some(1),
            Box::new(move |n| {
                let _ = tx.send(n);
            }),
        )
        .unwrap();
        (t, rx)
    }

    /// Once: every scenario of the part runs, in order, then the thread ends by itself.
    #[test]
    fn traffic_once_runs_each_scenario_then_ends() {
        let (t, notes) = traffic(Part::Streaming, true);
        let outcome = t.join().unwrap();
        assert_eq!(
            outcome,
            Outcome {
                completed: 2,
                failures: vec![]
            }
        );
        let notes: Vec<Note> = notes.try_iter().collect();
        assert_eq!(
            notes,
            [
                Note::Playing {
                    round: 1,
                    scenario: Scenario::Streaming
                },
                Note::Playing {
                    round: 1,
                    scenario: Scenario::Sse
                },
                Note::Done,
            ]
        );
        let failed = Outcome {
            completed: 1,
            failures: vec!["round 1: sse failed: timed out".into()],
        };
        let err = failed.check().unwrap_err().to_string();
        assert!(
            err.contains("1 demo scenario(s) failed") && err.contains("sse"),
            "{err}"
        );
    }

    /// Looping: rounds follow each other until stopped; stopping ends the thread.
    #[test]
    fn traffic_loops_until_stopped() {
        let (mut t, notes) = traffic(Part::LongPolling, false);
        let round_two = Note::Playing {
            round: 2,
            scenario: Scenario::LongPolling,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match notes.recv_timeout(left) {
                Ok(n) if n == round_two => break,
                Ok(Note::Failed { why, .. }) => panic!("{why}"),
                Ok(_) => {}
                Err(e) => panic!("no second round: {e}"),
            }
        }
        assert!(!t.is_finished());
        t.stop();
        let outcome = t.join().unwrap();
        assert!(
            outcome.completed >= 1 && outcome.failures.is_empty(),
            "{outcome:?}"
        );
        assert!(!notes.try_iter().any(|n| n == Note::Done));
        assert_eq!(
            round_two.to_string(),
            "round 2: long-polling",
            "what the status line shows"
        );
    }

    fn kinds(events: &[Event]) -> Vec<&'static str> {
        events.iter().map(|e| e.body.kind()).collect()
    }

    /// The built-in recording holds the whole demo, decodes cleanly, and each part selects
    /// only its own connections, re-timed from zero.
    #[test]
    fn recording_holds_every_part() {
        let all = recording_events(Part::All, Limits::default()).unwrap();
        let k = kinds(&all);
        for bad in ["gap", "violation", "malformed"] {
            assert!(!k.contains(&bad), "{bad} in the recording");
        }
        let conns = k.iter().filter(|k| **k == "connection").count();
        let ends = k.iter().filter(|k| **k == "connection_end").count();
        assert_eq!(conns, ends);
        // http, polling (6 connections), keep-alive polling, long polling, stream, SSE, ws.
        assert_eq!(conns, 1 + 6 + 1 + 1 + 1 + 1 + 1);
        let mut total = 0;
        for part in [
            Part::WebSocket,
            Part::Polling,
            Part::LongPolling,
            Part::Streaming,
        ] {
            let ev = recording_events(part, Limits::default()).unwrap();
            assert_eq!(ev.first().map(|e| e.t.0), Some(0), "{part}");
            let n = kinds(&ev).iter().filter(|k| **k == "connection").count();
            total += n;
            for e in &ev {
                if let EventBody::HttpRequest(r) = &e.body {
                    assert!(
                        part.has_target(&r.target) || r.target.starts_with("/poll"),
                        "{part}: {}",
                        r.target
                    );
                }
            }
            let want = match part {
                Part::WebSocket => 1,
                Part::Polling => 7,
                Part::LongPolling => 1,
                _ => 2,
            };
            assert_eq!(n, want, "{part}");
        }
        // Every connection but the plain HTTP one belongs to one part.
        assert_eq!(total, conns - 1);
    }

    /// The recording was made at RECORDING_PACE: the client's WebSocket text messages are
    /// one pace apart (plus the echo's round trip).
    #[test]
    fn recording_was_made_at_its_pace() {
        let ev = recording_events(Part::WebSocket, Limits::default()).unwrap();
        let texts: Vec<u64> = ev
            .iter()
            .filter(|e| {
                e.dir == Some(crate::model::Dir::C2s)
                    && matches!(&e.body, EventBody::WsMessage(m)
                        if m.opcode == crate::model::Opcode::Text)
            })
            .map(|e| e.t.0)
            .collect();
        assert!(texts.len() >= 3, "{texts:?}");
        let step = texts[1] - texts[0];
        let pace = RECORDING_PACE.as_nanos() as u64;
        assert!(
            step >= pace && step < pace + pace / 2,
            "{step} ns between messages, pace {pace} ns"
        );
    }
}
