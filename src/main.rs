//! `synscope`: parses the command line, picks a mode, and turns errors into one line and an
//! exit code.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use synscope::capture::open_path;
use synscope::engine::Engine;
use synscope::explain::Lang;
use synscope::model::{Event, Limits};
use synscope::view;

#[derive(Parser)]
#[command(
    name = "synscope",
    version,
    about = "See TCP handshakes, HTTP and WebSocket as they happen"
)]
struct Cli {
    /// Language of the explanations (`decode --explain`, the detail pane). Default: Korean
    /// when LC_ALL, LC_MESSAGES or LANG starts with `ko`, English otherwise.
    #[arg(long, global = true, value_enum, value_name = "LANG")]
    lang: Option<LangArg>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LangArg {
    /// English.
    En,
    /// Korean (한국어).
    Ko,
}

impl LangArg {
    fn lang(self) -> Lang {
        match self {
            LangArg::En => Lang::En,
            LangArg::Ko => Lang::Ko,
        }
    }
}

/// The capture to read, and which of its TCP segments to decode.
#[derive(clap::Args)]
struct Input {
    /// Capture file (pcap or pcapng), or `-` to read one from standard input.
    #[arg(required_unless_present = "read", conflicts_with = "read")]
    file: Option<PathBuf>,
    /// The capture file, as tcpdump and tshark take it (`-r FILE`).
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    read: Option<PathBuf>,
    /// Decode only TCP segments from or to this port (repeatable), like tcpdump's `port N`.
    #[arg(long = "port", value_name = "N")]
    ports: Vec<u16>,
    /// Decode only packets from or to this address, like tcpdump's `host ADDR`.
    #[arg(long, value_name = "ADDR")]
    host: Option<std::net::IpAddr>,
}

impl Input {
    fn path(&self) -> PathBuf {
        self.read
            .clone()
            .or_else(|| self.file.clone())
            .unwrap_or_else(|| "-".into())
    }

    fn filter(&self) -> synscope::engine::Filter {
        synscope::engine::Filter {
            ports: self.ports.clone(),
            host: self.host,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Decode a capture (pcap or pcapng; `-` for stdin) into a timeline of events.
    Decode {
        #[command(flatten)]
        input: Input,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Print only a summary of what was decoded (frames, events, throughput) on stderr.
        #[arg(long)]
        stats: bool,
        /// Text format: under each event (all but plain ACK and data segments), a line saying
        /// what it is and why it happens. JSON output is unchanged.
        #[arg(long)]
        explain: bool,
    },
    /// Replay a capture (pcap or pcapng; `-` for stdin) in the terminal: each connection as a
    /// sequence diagram. Press ? for the keys. Honours NO_COLOR.
    Replay {
        #[command(flatten)]
        input: Input,
    },
    /// Capture live (Linux; needs CAP_NET_RAW) and draw each connection as packets arrive,
    /// following the newest; --format streams text or JSON instead. Press ? for the keys.
    #[cfg(target_os = "linux")]
    Live {
        /// Interface to capture on.
        #[arg(short, long, default_value = "lo")]
        interface: String,
        /// Capture only TCP segments from or to this port (repeatable).
        #[arg(long = "port", value_name = "N")]
        ports: Vec<u16>,
        /// Capture only packets from or to this address.
        #[arg(long, value_name = "ADDR")]
        host: Option<std::net::IpAddr>,
        /// Also write every captured frame to this pcapng file.
        #[arg(short = 'w', long = "write", value_name = "FILE.pcapng")]
        write: Option<PathBuf>,
        /// Run headless: stream events to stdout in this format until Ctrl-C or SIGTERM.
        #[arg(short, long, value_enum)]
        format: Option<Format>,
    },
    /// The lesson acted out: a real HTTP + WebSocket server and real clients on 127.0.0.1,
    /// captured live and drawn as they talk, round after round until you quit. Without
    /// capture rights, replays the built-in recording of the same demo.
    #[cfg(target_os = "linux")]
    Demo {
        /// What to act out.
        #[arg(value_enum, default_value_t = DemoPart::All)]
        part: DemoPart,
        /// Time between two steps of a client, in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 1000)]
        pace_ms: u64,
        /// Run each scenario once, then stop capturing (the TUI stays open; headless exits).
        #[arg(long)]
        once: bool,
        /// Also write every captured frame to this pcapng file.
        #[arg(short = 'w', long = "write", value_name = "FILE.pcapng")]
        write: Option<PathBuf>,
        /// Run headless: stream events to stdout in this format.
        #[arg(short, long, value_enum)]
        format: Option<Format>,
        /// Replay the built-in recording even when live capture is possible.
        #[arg(long)]
        recording: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum DemoPart {
    /// The WebSocket chat: upgrade, text, binary, ping/pong, fragments, close.
    Websocket,
    /// Short polling: a connection per request, then one kept-alive connection.
    Polling,
    /// Long polling: each request held until there is news.
    LongPolling,
    /// A chunked stream, then Server-Sent Events.
    Streaming,
    /// All of them, plain HTTP first.
    All,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// One readable line per event.
    Text,
    /// JSON Lines: one object per event (schema in the README).
    Json,
    /// A Mermaid sequence diagram (decode only): one participant per endpoint.
    Mermaid,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let lang = cli.lang.map_or_else(Lang::from_env, LangArg::lang);
    let result = match cli.command {
        Command::Decode {
            input,
            format,
            stats,
            explain,
        } => decode(
            &input.path(),
            input.filter(),
            format,
            stats,
            explain.then_some(lang),
        ),
        Command::Replay { input } => {
            let mut options = synscope::tui::Options::from_env();
            options.lang = lang;
            options.filter = input.filter();
            synscope::tui::run_replay(&input.path(), options)
        }
        #[cfg(target_os = "linux")]
        Command::Live {
            interface,
            ports,
            host,
            write,
            format,
        } => live(interface, ports, host, write, format, lang),
        #[cfg(target_os = "linux")]
        Command::Demo {
            part,
            pace_ms,
            once,
            write,
            format,
            recording,
        } => demo(part, pace_ms, once, write, format, recording, lang),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed pipe (`synscope decode f | head`) is not an error worth a message.
            if e.downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("synscope: {e:#}");
            ExitCode::FAILURE
        }
    }
}

impl Format {
    /// The headless format of `live` and `demo`; a Mermaid diagram is a whole document, made by
    /// `decode` from a capture.
    #[cfg(target_os = "linux")]
    fn live(self) -> Result<synscope::live::OutputFormat> {
        match self {
            Format::Text => Ok(synscope::live::OutputFormat::Text),
            Format::Json => Ok(synscope::live::OutputFormat::Json),
            Format::Mermaid => anyhow::bail!(
                "--format mermaid is for `synscope decode` (record with -w, then decode the file)"
            ),
        }
    }
}

#[cfg(target_os = "linux")]
fn demo(
    part: DemoPart,
    pace_ms: u64,
    once: bool,
    write: Option<PathBuf>,
    format: Option<Format>,
    recording: bool,
    lang: Lang,
) -> Result<()> {
    use synscope::demo::show::{self, DemoOptions, Part};
    let mut tui = synscope::tui::Options::from_env();
    tui.lang = lang;
    show::run(&DemoOptions {
        part: match part {
            DemoPart::Websocket => Part::WebSocket,
            DemoPart::Polling => Part::Polling,
            DemoPart::LongPolling => Part::LongPolling,
            DemoPart::Streaming => Part::Streaming,
            DemoPart::All => Part::All,
        },
        pace: std::time::Duration::from_millis(pace_ms),
        once,
        write,
        format: format.map(Format::live).transpose()?,
        recording,
        tui,
    })
}

#[cfg(target_os = "linux")]
fn live(
    iface: String,
    ports: Vec<u16>,
    host: Option<std::net::IpAddr>,
    write: Option<PathBuf>,
    format: Option<Format>,
    lang: Lang,
) -> Result<()> {
    use synscope::capture::live::LiveConfig;
    use synscope::live::{run_headless, run_tui, Headless, HeadlessOptions, OutputFormat};
    let mut capture = LiveConfig::new(iface);
    capture.ports = ports;
    capture.host = host;
    let mut opts = HeadlessOptions {
        capture,
        format: OutputFormat::Text,
        write,
        limits: Limits::default(),
        drop_privileges: true,
    };
    if let Some(format) = format {
        opts.format = format.live()?;
        run_headless(opts)?;
        return Ok(());
    }
    let mut options = synscope::tui::Options::from_env();
    options.lang = lang;
    opts.limits = options.limits;
    // Open first: a capture error (no rights, no such interface) is one line on a terminal
    // that was never touched.
    let filter = opts.capture.describe_filter();
    let title = match filter.strip_prefix("tcp and ") {
        Some(f) => format!("live {} {f}", opts.capture.iface),
        None => format!("live {}", opts.capture.iface),
    };
    let session = Headless::open(opts)?;
    if !io::stdout().is_terminal() {
        anyhow::bail!("the live view draws on a terminal; use --format text or --format json");
    }
    let summary = run_tui(
        session,
        synscope::live::TuiOptions {
            title,
            options,
            stop: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
            status: || None,
        },
    )?;
    eprintln!("synscope: {summary}");
    Ok(())
}

/// Decodes `path` to standard output; `explain`: the language of a `why:` line under each
/// event of the text format.
fn decode(
    path: &Path,
    filter: synscope::engine::Filter,
    format: Format,
    stats_only: bool,
    explain: Option<Lang>,
) -> Result<()> {
    let started = Instant::now();
    let name = if path.as_os_str() == "-" {
        "standard input".into()
    } else {
        path.display().to_string()
    };
    let mut reader = open_path(path).with_context(|| format!("cannot read {name}"))?;
    let mut engine = Engine::new(Limits::default()).with_filter(filter);
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut mermaid = view::mermaid::MermaidWriter::new();
    let mut transcript = synscope::explain::Transcript::default();
    let mut write = |out: &mut BufWriter<_>, e: &Event| -> io::Result<()> {
        if stats_only {
            return Ok(());
        }
        match format {
            Format::Text => {
                view::text::write_event(out, e)?;
                if let Some(lang) = explain {
                    if let Some(why) = transcript.why(lang, e) {
                        let label = synscope::explain::why_label(lang);
                        view::text::write_why(out, label, &why)?;
                    }
                }
            }
            Format::Json => view::json::write_event(out, e)?,
            Format::Mermaid => mermaid.write_event(out, e)?,
        }
        Ok(())
    };
    // Each event is written as the engine makes it: one frame can make millions (a segment
    // that fills a hole releases every byte held after it), so none are collected.
    let mut failed: Option<io::Error> = None;
    let mut sink = |out: &mut BufWriter<_>, failed: &mut Option<io::Error>, e: Event| {
        if failed.is_none() {
            if let Err(err) = write(out, &e) {
                *failed = Some(err);
            }
        }
    };
    loop {
        let frame = match reader.next_frame() {
            Ok(f) => f,
            Err(e) => {
                // Partial success is data: what was decoded before the corrupt block is
                // shown, its connections ended (every `connection` gets its
                // `connection_end`), then the error.
                engine.finish(&mut |e| sink(&mut out, &mut failed, e));
                if let Some(err) = failed.take() {
                    return Err(err.into());
                }
                out.flush()?;
                return Err(anyhow::Error::new(e).context(format!("in {name}")));
            }
        };
        let Some(frame) = frame else { break };
        engine.ingest(&frame, &mut |e| sink(&mut out, &mut failed, e));
        if let Some(err) = failed.take() {
            return Err(err.into());
        }
        // The next frame needs a read, which on a live pipe waits for the next packet: show
        // what we have first.
        if reader.needs_input() {
            out.flush()?;
        }
    }
    engine.finish(&mut |e| sink(&mut out, &mut failed, e));
    if let Some(err) = failed.take() {
        return Err(err.into());
    }
    if matches!(format, Format::Mermaid) && !stats_only {
        mermaid.finish(&mut out)?;
    }
    out.flush()?;
    if reader.truncated_tail() {
        eprintln!("synscope: warning: {name} ends inside a packet (cut short)");
    }
    if stats_only {
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
