//! Runs the demo server and one client scenario against it on loopback, then exits.
//!
//! ```text
//! cargo run --example traffic -- --scenario websocket --port 8080 [--pace-ms 20] [--ipv6]
//! ```
//!
//! `scripts/record-captures.sh` runs this under a packet capture to make
//! `assets/captures/*`. With `--scenario refused` no server starts: the client connects to a
//! port where nothing listens. With `--serve-only SECS` no client runs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use synscope::demo::{self, Scenario, ServerConfig};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

#[derive(Parser)]
#[command(about = "Demo server and client on loopback, for captures")]
struct Args {
    /// Scenario to run (http, polling, polling-keepalive, long-polling, streaming, sse,
    /// websocket, websocket-large, wss, refused, all).
    #[arg(long, default_value = "all")]
    scenario: Scenario,
    /// Port on loopback (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Time between the client's steps, in milliseconds.
    #[arg(long, default_value_t = 20)]
    pace_ms: u64,
    /// Use [::1] instead of 127.0.0.1.
    #[arg(long)]
    ipv6: bool,
    /// Run no client: print `listening on ADDR` and serve other peers (e.g.
    /// `scripts/peers/pipelined.py`) until SIGINT, or at most this many seconds.
    #[arg(long, value_name = "SECS")]
    serve_only: Option<u64>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let ip = if args.ipv6 {
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    } else {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    };
    let pace = Duration::from_millis(args.pace_ms);

    if args.scenario == Scenario::Refused {
        let report = demo::run(Scenario::Refused, SocketAddr::new(ip, args.port), pace).await?;
        eprintln!("{report:?}");
        return Ok(());
    }

    let listener = TcpListener::bind(SocketAddr::new(ip, args.port))
        .await
        .with_context(|| format!("cannot listen on {ip} port {}", args.port))?;
    let addr = listener.local_addr()?;
    if let Some(secs) = args.serve_only {
        println!("listening on {addr}");
        let stop = async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = tokio::time::sleep(Duration::from_secs(secs)) => {}
            }
        };
        demo::serve(listener, ServerConfig::paced(pace), stop).await?;
        return Ok(());
    }
    let (stop, stopped) = oneshot::channel::<()>();
    // The wss scenario's TLS, on the same port (the server tells it by its first byte).
    let tls = match args.scenario {
        Scenario::Wss => Some(std::sync::Arc::clone(
            &demo::tls::demo().map_err(anyhow::Error::msg)?.server,
        )),
        _ => None,
    };
    let server = tokio::spawn(demo::serve_with_tls(
        listener,
        ServerConfig::paced(pace),
        tls,
        async move {
            let _ = stopped.await;
        },
    ));
    let report = demo::run(args.scenario, addr, pace).await;
    let _ = stop.send(());
    server.await.context("server task")??;
    let report = report.with_context(|| format!("scenario {}", args.scenario))?;
    eprintln!("{} on {addr}: {report:?}", args.scenario);
    Ok(())
}
