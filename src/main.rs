//! `synscope`: parses the command line, hands it to the mode's runner in the library
//! ([`view::file::decode`], `tui::run_replay`, `live::run`, `demo::show::run`), and turns
//! errors into one line and an exit code.

use std::io;
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
    /// TLS secrets to decrypt with: an NSS key log (SSLKEYLOGFILE format). Default: the file
    /// SSLKEYLOGFILE names, when set. A pcapng's Decryption Secrets Blocks are read too.
    #[arg(long, value_name = "FILE")]
    keylog: Option<PathBuf>,
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
        /// what it is and why it happens. JSON and Mermaid output are unchanged.
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
        /// Capture only packets from or to this address.
        #[arg(long, value_name = "ADDR")]
        host: Option<std::net::IpAddr>,
        /// Also write every captured frame to this pcapng file.
        #[arg(short = 'w', long = "write", value_name = "FILE.pcapng")]
        write: Option<PathBuf>,
        /// Run headless: stream events to stdout in this format until Ctrl-C or SIGTERM.
        #[arg(short, long, value_enum)]
        format: Option<Format>,
        /// Headless text: under each event, a line saying what it is and why it happens.
        #[arg(long, requires = "format")]
        explain: bool,
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
    let cli = Cli::parse();
    let lang = cli.lang.map_or_else(Lang::from_env, LangArg::lang);
    let tui = || {
        let mut options = synscope::tui::Options::from_env();
        options.lang = lang;
        options
    };
    let result = match cli.command {
        Command::Decode {
            input,
            format,
            stats,
            explain,
        } => view::file::decode(&view::file::DecodeOptions {
            path: input.path(),
            filter: input.filter(),
            keylog: synscope::keylog::KeySource::pick(input.keylog.clone()),
            format,
            stats,
            explain: explain.then_some(lang),
            limits: Limits::default(),
        }),
        Command::Replay { input } => {
            let mut options = tui();
            options.filter = input.filter();
            options.keylog = synscope::keylog::KeySource::pick(input.keylog.clone());
            synscope::tui::run_replay(&input.path(), options)
        }
        #[cfg(target_os = "linux")]
        Command::Live {
            interface,
            ports,
            host,
            write,
            format,
            explain,
        } => {
            let mut capture = synscope::capture::live::LiveConfig::new(interface);
            capture.ports = ports;
            capture.host = host;
            synscope::live::run(
                synscope::live::HeadlessOptions {
                    capture,
                    format: format.unwrap_or_default(),
                    explain: explain.then_some(lang),
                    write,
                    limits: Limits::default(),
                    drop_privileges: true,
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
