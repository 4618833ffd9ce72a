//! `synscope`: parses the command line, picks a mode, and turns errors into one line and an
//! exit code.

use std::io::{self, BufWriter, Write};
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

#[derive(Subcommand)]
enum Command {
    /// Decode a capture (pcap or pcapng; `-` for stdin) into a timeline of events.
    Decode {
        /// Capture file, or `-` to read a pcap/pcapng stream from standard input.
        file: PathBuf,
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
        /// Capture file, or `-` to read a pcap/pcapng stream from standard input.
        file: PathBuf,
    },
    /// Capture live (Linux; needs CAP_NET_RAW) and show events as packets arrive.
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
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// One readable line per event.
    Text,
    /// JSON Lines: one object per event (schema in the README).
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let lang = cli.lang.map_or_else(Lang::from_env, LangArg::lang);
    let result = match cli.command {
        Command::Decode {
            file,
            format,
            stats,
            explain,
        } => decode(&file, format, stats, explain.then_some(lang)),
        Command::Replay { file } => {
            let mut options = synscope::tui::Options::from_env();
            options.lang = lang;
            synscope::tui::run_replay(&file, options)
        }
        #[cfg(target_os = "linux")]
        Command::Live {
            interface,
            ports,
            host,
            write,
            format,
        } => live(interface, ports, host, write, format),
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

#[cfg(target_os = "linux")]
fn live(
    iface: String,
    ports: Vec<u16>,
    host: Option<std::net::IpAddr>,
    write: Option<PathBuf>,
    format: Option<Format>,
) -> Result<()> {
    use synscope::capture::live::LiveConfig;
    use synscope::live::{run_headless, HeadlessOptions, OutputFormat};
    let format = match format {
        Some(Format::Text) => OutputFormat::Text,
        Some(Format::Json) => OutputFormat::Json,
        None => {
            // The TUI is wired here once it exists; until then, the text transcript.
            eprintln!("synscope: the live TUI is not built yet; showing the text transcript");
            OutputFormat::Text
        }
    };
    let mut capture = LiveConfig::new(iface);
    capture.ports = ports;
    capture.host = host;
    run_headless(HeadlessOptions {
        capture,
        format,
        write,
        limits: Limits::default(),
        drop_privileges: true,
    })?;
    Ok(())
}

/// Decodes `path` to standard output; `explain`: the language of a `why:` line under each
/// event of the text format.
fn decode(path: &Path, format: Format, stats_only: bool, explain: Option<Lang>) -> Result<()> {
    let started = Instant::now();
    let name = if path.as_os_str() == "-" {
        "standard input".into()
    } else {
        path.display().to_string()
    };
    let mut reader = open_path(path).with_context(|| format!("cannot read {name}"))?;
    let mut engine = Engine::new(Limits::default());
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut events: Vec<Event> = Vec::with_capacity(64);
    let mut tracker = synscope::explain::Tracker::default();
    let mut write = |out: &mut BufWriter<_>, events: &mut Vec<Event>| -> io::Result<()> {
        if !stats_only {
            for e in events.iter() {
                match format {
                    Format::Text => {
                        view::text::write_event(out, e)?;
                        if let Some(lang) = explain {
                            let cx = tracker.context(e);
                            if synscope::explain::in_transcript(e) {
                                if let Some(why) = synscope::explain::explain(lang, e, cx) {
                                    let label = synscope::explain::why_label(lang);
                                    view::text::write_why(out, label, &why)?;
                                }
                            }
                        }
                    }
                    Format::Json => view::json::write_event(out, e)?,
                }
            }
        }
        events.clear();
        Ok(())
    };
    loop {
        let frame = match reader.next_frame() {
            Ok(f) => f,
            Err(e) => {
                // Partial success is data: what was decoded before the corrupt block is
                // shown, its connections ended (every `connection` gets its
                // `connection_end`), then the error.
                engine.finish(&mut events);
                write(&mut out, &mut events)?;
                out.flush()?;
                return Err(anyhow::Error::new(e).context(format!("in {name}")));
            }
        };
        let Some(frame) = frame else { break };
        engine.ingest(&frame, &mut events);
        write(&mut out, &mut events)?;
        // The next frame needs a read, which on a live pipe waits for the next packet: show
        // what we have first.
        if reader.needs_input() {
            out.flush()?;
        }
    }
    engine.finish(&mut events);
    write(&mut out, &mut events)?;
    out.flush()?;
    if reader.truncated_tail() {
        eprintln!("synscope: warning: {name} ends inside a packet (cut short)");
    }
    if stats_only {
        let s = engine.stats();
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "frames {}  bytes {}  tcp {}  other {}  malformed {}  events {}  time {:.3} s  \
             {:.0} frames/s  {:.1} MB/s",
            s.frames,
            s.bytes,
            s.tcp_segments,
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
