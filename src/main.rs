//! `synscope`: parses the command line, hands it to the mode's runner in the library
//! ([`view::file::decode`], `tui::run_replay`, `live::run`, `demo::show::run`), and turns
//! errors into one line and an exit code.

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
#[cfg(target_os = "linux")]
use synscope::demo::show::Part;
use synscope::explain::Lang;
use synscope::model::Limits;
use synscope::view::{self, Format};

#[derive(Parser)]
#[command(
    name = "synscope",
    version,
    about = "See TCP handshakes, HTTP and WebSocket as they happen"
)]
struct Cli {
    /// Language of the explanations (`--explain`, the detail pane). Default: Korean
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

/// The capture to read, which of its TCP segments to decode, and which events to show.
#[derive(clap::Args)]
struct Input {
    /// Capture file (pcap or pcapng), or `-` to read one from standard input.
    #[arg(conflicts_with = "read")]
    file: Option<PathBuf>,
    /// The capture file, as tcpdump and tshark take it (`-r FILE`).
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    read: Option<PathBuf>,
    /// Decode only TCP segments from or to this port (repeatable), like tcpdump's `port N`.
    #[arg(long = "port", value_name = "N")]
    ports: Vec<u16>,
    /// Decode only packets from or to this host, like tcpdump's `host NAME`: an address, or a
    /// name and all its addresses (`localhost`: 127.0.0.1 and ::1).
    #[arg(long, value_name = "HOST")]
    host: Option<String>,
    /// Show only the events that pass this display filter, like tshark's `-Y`:
    /// e.g. `http.status >= 400`, `ws.opcode == "text" && conn == 3`, `port 8080 or host ::1`
    /// (fields and grammar: README, "Display filters").
    #[arg(short = 'Y', long = "filter", value_name = "EXPR")]
    display: Option<String>,
    /// Show only connection N (the `#N` of the text, the `conn` of the JSON; repeatable).
    #[arg(long = "conn", value_name = "N")]
    conns: Vec<u32>,
    /// Write the frames that pass the filters (`--port`, `--host`, `--conn`, `-Y`) to this
    /// pcapng file: a frame passes when an event it produced passes.
    #[arg(short = 'w', long = "write", value_name = "FILE.pcapng")]
    write: Option<PathBuf>,
    /// TLS secrets to decrypt with: an NSS key log (SSLKEYLOGFILE format). Default: the file
    /// SSLKEYLOGFILE names, when set. A pcapng's Decryption Secrets Blocks are read too.
    #[arg(long, value_name = "FILE")]
    keylog: Option<PathBuf>,
}

/// A mistake on the command line: said in full, then exit status 2 (as clap's own).
struct Usage(String);

impl Input {
    /// The capture's path; without one, or `-` with a terminal on standard input, what to do.
    fn path(&self, command: &str) -> Result<PathBuf, Usage> {
        let Some(path) = self.read.clone().or_else(|| self.file.clone()) else {
            return Err(Usage(format!(
                "{command} reads a capture: give a pcap or pcapng file, or `-` for standard \
                 input\n\
                 \n  synscope {command} capture.pcapng\
                 \n  tcpdump -i lo -U -w - 'tcp port 8080' | synscope {command} -\
                 \n  synscope demo            (no capture needed: the lesson, acted out live)\
                 \n\nThe repository's captures are in assets/captures/. More: synscope {command} --help"
            )));
        };
        if path.as_os_str() == "-" && io::stdin().is_terminal() {
            return Err(Usage(format!(
                "{command} - reads a capture from standard input, but standard input is this \
                 terminal; pipe one in:\n\
                 \n  tcpdump -i lo -U -w - 'tcp port 8080' | synscope {command} -\
                 \n  synscope {command} - < capture.pcapng"
            )));
        }
        Ok(path)
    }

    fn filter(&self) -> Result<synscope::engine::Filter, Usage> {
        let hosts = match &self.host {
            Some(h) => {
                synscope::filter::resolve_host(h).map_err(|m| Usage(format!("--host: {m}")))?
            }
            None => Vec::new(),
        };
        Ok(synscope::engine::Filter {
            ports: self.ports.clone(),
            hosts,
        })
    }

    fn selection(&self) -> Result<synscope::filter::save::Selection, Usage> {
        Ok(synscope::filter::save::Selection::new(
            display_filter(self.display.as_deref())?,
            self.conns.clone(),
        ))
    }
}

/// Parses `-Y`; a mistake is shown with a caret under it.
fn display_filter(expr: Option<&str>) -> Result<Option<synscope::filter::Filter>, Usage> {
    expr.map(|e| {
        synscope::filter::Filter::parse(e)
            .map_err(|err| Usage(format!("bad filter: {err}\n{}", err.caret("  "))))
    })
    .transpose()
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
        /// what it is and why it happens. JSON and Mermaid output are unchanged.
        #[arg(long)]
        explain: bool,
    },
    /// Replay a capture (pcap or pcapng; `-` for stdin) in the terminal: each connection as a
    /// sequence diagram. Press ? for the keys. Honours NO_COLOR.
    Replay {
        #[command(flatten)]
        input: Input,
        /// Play back at once in step mode: one arrow per this interval (`1s`, `500ms`, `2`),
        /// whatever the capture's timing. `S` switches between steps and capture time.
        #[arg(long, value_name = "TIME", value_parser = synscope::tui::app::parse_interval)]
        step: Option<std::time::Duration>,
    },
    /// Capture live (Linux; needs CAP_NET_RAW) and draw each connection as packets arrive,
    /// following the newest; --format streams text, JSON or Mermaid instead. Press ? for the
    /// keys.
    #[cfg(target_os = "linux")]
    Live {
        /// Interface to capture on.
        #[arg(short, long, default_value = "lo")]
        interface: String,
        /// Capture only TCP segments from or to this port (repeatable).
        #[arg(long = "port", value_name = "N")]
        ports: Vec<u16>,
        /// Capture only packets from or to this host: an address, or a name and all its
        /// addresses (`localhost`: 127.0.0.1 and ::1).
        #[arg(long, value_name = "HOST")]
        host: Option<String>,
        /// Show only the events that pass this display filter, like tshark's `-Y` (README,
        /// "Display filters").
        #[arg(short = 'Y', long = "filter", value_name = "EXPR")]
        display: Option<String>,
        /// Show only connection N (repeatable).
        #[arg(long = "conn", value_name = "N")]
        conns: Vec<u32>,
        /// Also write every captured frame to this pcapng file (whatever -Y and --conn show).
        #[arg(short = 'w', long = "write", value_name = "FILE.pcapng")]
        write: Option<PathBuf>,
        /// Run headless: stream events to stdout in this format until Ctrl-C or SIGTERM.
        #[arg(short, long, value_enum)]
        format: Option<Format>,
        /// Headless text: under each event, a line saying what it is and why it happens.
        #[arg(long, requires = "format")]
        explain: bool,
        /// TLS secrets to decrypt with: an NSS key log (SSLKEYLOGFILE format), re-read as
        /// the TLS peers append to it. Default: the file SSLKEYLOGFILE names, when set.
        #[arg(long, value_name = "FILE")]
        keylog: Option<PathBuf>,
    },
    /// The lesson acted out: a real HTTP + WebSocket server and real clients on 127.0.0.1,
    /// captured live and drawn as they talk, round after round until you quit. Without
    /// capture rights, replays the built-in recording of the same demo.
    #[cfg(target_os = "linux")]
    Demo {
        /// What to act out.
        #[arg(value_enum, default_value_t = Part::All)]
        part: Part,
        /// Time between two steps of a client, in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 1000)]
        pace_ms: u64,
        /// Run each scenario once, then stop capturing (the TUI stays open; headless exits).
        #[arg(long, conflicts_with = "rounds")]
        once: bool,
        /// Run this many rounds, then stop capturing (as --once does after one).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        rounds: Option<u32>,
        /// Also write every captured frame to this pcapng file.
        #[arg(short = 'w', long = "write", value_name = "FILE.pcapng")]
        write: Option<PathBuf>,
        /// Run headless: stream events to stdout in this format.
        #[arg(short, long, value_enum)]
        format: Option<Format>,
        /// Headless text: under each event, a line saying what it is and why it happens.
        #[arg(long, requires = "format")]
        explain: bool,
        /// Replay the built-in recording even when live capture is possible.
        #[arg(long)]
        recording: bool,
    },
}

fn main() -> ExitCode {
    let result = match run(Cli::parse()) {
        Ok(result) => result,
        Err(Usage(message)) => {
            eprintln!("synscope: {message}");
            return ExitCode::from(2);
        }
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

/// Runs the command; a mistake on the command line is a [`Usage`].
fn run(cli: Cli) -> Result<anyhow::Result<()>, Usage> {
    let lang = cli.lang.map_or_else(Lang::from_env, LangArg::lang);
    let tui = || {
        let mut options = synscope::tui::Options::from_env();
        options.lang = lang;
        options
    };
    Ok(match cli.command {
        Command::Decode {
            input,
            format,
            stats,
            explain,
        } => view::file::decode(&view::file::DecodeOptions {
            path: input.path("decode")?,
            filter: input.filter()?,
            keylog: synscope::keylog::KeySource::pick(input.keylog.clone()),
            format,
            stats,
            explain: explain.then_some(lang),
            limits: Limits::default(),
            select: input.selection()?,
            write: input.write.clone(),
        }),
        Command::Replay { input, step } => {
            let path = input.path("replay")?;
            let mut options = tui();
            options.step = step;
            options.filter = input.filter()?;
            options.keylog = synscope::keylog::KeySource::pick(input.keylog.clone());
            options.select = input.selection()?;
            replay(&path, options, input.write.as_deref())
        }
        #[cfg(target_os = "linux")]
        Command::Live {
            interface,
            ports,
            host,
            display,
            conns,
            write,
            format,
            explain,
            keylog,
        } => {
            let hosts = match &host {
                Some(h) => {
                    synscope::filter::resolve_host(h).map_err(|m| Usage(format!("--host: {m}")))?
                }
                None => Vec::new(),
            };
            let mut capture = synscope::capture::live::LiveConfig::new(interface);
            capture.ports = ports;
            // The kernel's filter takes one address; a name with more (localhost: 127.0.0.1
            // and ::1) is filtered by the engine.
            let (kernel_host, engine_filter) = match hosts.as_slice() {
                [one] => (Some(*one), synscope::engine::Filter::default()),
                _ => (
                    None,
                    synscope::engine::Filter {
                        ports: Vec::new(),
                        hosts,
                    },
                ),
            };
            capture.host = kernel_host;
            synscope::live::run(
                synscope::live::HeadlessOptions {
                    capture,
                    format: format.unwrap_or_default(),
                    explain: explain.then_some(lang),
                    write,
                    limits: Limits::default(),
                    drop_privileges: true,
                    select: synscope::filter::save::Selection::new(
                        display_filter(display.as_deref())?,
                        conns,
                    ),
                    engine_filter,
                    keylog: synscope::keylog::KeySource::pick(keylog),
                },
                format.is_none().then(tui),
            )
        }
        #[cfg(target_os = "linux")]
        Command::Demo {
            part,
            pace_ms,
            once,
            rounds,
            write,
            format,
            explain,
            recording,
        } => synscope::demo::show::run(&synscope::demo::show::DemoOptions {
            part,
            pace: std::time::Duration::from_millis(pace_ms),
            rounds: if once { Some(1) } else { rounds },
            write,
            format,
            explain: explain.then_some(lang),
            recording,
            tui: tui(),
        }),
    })
}

/// `synscope replay`, with `-w`: the frames that pass the filters are written first (the
/// capture is read twice), and the count is said after the TUI closes.
fn replay(
    path: &std::path::Path,
    options: synscope::tui::Options,
    write: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let Some(out) = write else {
        return synscope::tui::run_replay(path, options);
    };
    if path.as_os_str() == "-" {
        anyhow::bail!(
            "replay -w reads the capture twice, which standard input cannot give; use \
             `synscope decode - -w FILE` (with the same filters), then replay FILE"
        );
    }
    let written = view::file::count_written(&view::file::DecodeOptions {
        path: path.to_path_buf(),
        filter: options.filter.clone(),
        keylog: options.keylog.clone(),
        limits: options.limits,
        select: options.select.clone(),
        write: Some(out.to_path_buf()),
        ..view::file::DecodeOptions::default()
    })?;
    synscope::tui::run_replay(path, options)?;
    eprintln!(
        "synscope: wrote {} to {}",
        synscope::view::text::plural(written, "frame", "frames"),
        out.display()
    );
    Ok(())
}
