//! WebSocket load on loopback: N connections, each sending M binary messages to an echo
//! server and waiting for every echo, then closing with 1000.
//!
//! ```text
//! cargo run --release --example wsload -- [--connections 40] [--messages 5000] [--size 32]
//!     [--window 8] [--port 0] [--demo-server | --tls]
//! ```
//!
//! The echo server is a minimal tokio-tungstenite one in this process (or, with
//! `--demo-server`, `synscope::demo::serve`). Every message is sent and flushed on its own, so
//! each is its own TCP segment: the point is many small packets, the load a live capture of
//! chat-like traffic sees. `scripts/bench-capture.sh` records this for benchmarks.
//!
//! `--tls`: the same load as `wss`: rustls on both sides (TLS 1.3, rustls's first suite,
//! TLS_AES_256_GCM_SHA384), with a self-signed certificate for `localhost` made at start
//! (rcgen); each message is its own TLS record. The client writes the NSS key log to the file
//! `SSLKEYLOGFILE` names, when set (rustls's `KeyLogFile`), so a capture of it can be
//! decrypted (`TLS=1 scripts/bench-capture.sh`).

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use synscope::demo::{self, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

#[derive(Parser)]
#[command(about = "WebSocket echo load on loopback")]
struct Args {
    /// Concurrent WebSocket connections.
    #[arg(long, default_value_t = 40)]
    connections: u32,
    /// Echoed messages per connection.
    #[arg(long, default_value_t = 5000)]
    messages: u32,
    /// Payload bytes per message.
    #[arg(long, default_value_t = 32)]
    size: usize,
    /// Messages each connection keeps in flight before waiting for an echo (1: strict
    /// ping-pong; 8 keeps both cores busy on loopback, about 150k packets/s here).
    #[arg(long, default_value_t = 8)]
    window: u32,
    /// Server port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Echo with the demo server's `/ws` instead of the minimal echo server.
    #[arg(long, conflicts_with = "tls")]
    demo_server: bool,
    /// wss: TLS 1.3 (rustls) on every connection; the client writes the key log to
    /// SSLKEYLOGFILE when it is set.
    #[arg(long)]
    tls: bool,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
}

/// Frames counted on both sides.
#[derive(Default)]
struct Counts {
    client_sent: AtomicU64,
    client_received: AtomicU64,
    server_sent: AtomicU64,
    server_received: AtomicU64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if args.window == 0 || args.size > 1 << 20 {
        bail!("--window must be at least 1 and --size at most 1 MiB");
    }
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, args.port))
        .await
        .context("cannot listen")?;
    let addr = listener.local_addr()?;
    let counts = Arc::new(Counts::default());
    if args.demo_server {
        tokio::spawn(demo::serve(
            listener,
            ServerConfig::default(),
            std::future::pending(),
        ));
    } else {
        let acceptor = args.tls.then(tls_acceptor).transpose()?;
        tokio::spawn(echo_server(listener, acceptor, counts.clone()));
    }
    let connector = args.tls.then(tls_connector).transpose()?;

    let started = Instant::now();
    let mut clients = Vec::with_capacity(args.connections as usize);
    for _ in 0..args.connections {
        let counts = counts.clone();
        let connector = connector.clone();
        let (messages, size, window) = (args.messages, args.size, args.window);
        clients.push(tokio::spawn(async move {
            let tcp = TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            match connector {
                None => {
                    let (ws, _) =
                        tokio_tungstenite::client_async(format!("ws://{addr}/ws"), tcp).await?;
                    client(ws, messages, size, window, &counts).await
                }
                Some(connector) => {
                    let tls = connector
                        .connect(ServerName::try_from("localhost")?, tcp)
                        .await?;
                    let url = format!("wss://localhost:{}/ws", addr.port());
                    let (ws, _) = tokio_tungstenite::client_async(url, tls).await?;
                    client(ws, messages, size, window, &counts).await
                }
            }
        }));
    }
    let all = futures_util::future::join_all(clients);
    let results = tokio::time::timeout(Duration::from_secs(args.timeout_secs), all)
        .await
        .context("load did not finish in time")?;
    let elapsed = started.elapsed().as_secs_f64();
    let mut echoed = 0u64;
    for r in results {
        echoed += r.context("client task")??;
    }
    let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
    println!(
        "{} connections x {} messages of {} B (window {}) on {addr}: {echoed} echoed in {:.3} s",
        args.connections, args.messages, args.size, args.window, elapsed
    );
    // The demo server does not count its frames.
    let server = if args.demo_server {
        String::new()
    } else {
        format!(
            "; server sent {} received {}",
            c(&counts.server_sent),
            c(&counts.server_received)
        )
    };
    println!(
        "{:.0} messages/s echoed; frames client sent {} received {}{server}",
        echoed as f64 / elapsed.max(1e-9),
        c(&counts.client_sent),
        c(&counts.client_received),
    );
    Ok(())
}

/// The server side of `--tls`: a self-signed certificate for `localhost`, made now.
fn tls_acceptor() -> Result<TlsAcceptor> {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    CERT.set(cert.der().clone()).ok();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The certificate the server made, the one the clients trust.
static CERT: std::sync::OnceLock<rustls::pki_types::CertificateDer<'static>> =
    std::sync::OnceLock::new();

/// The client side of `--tls`: trusts the server's certificate, logs keys to SSLKEYLOGFILE.
fn tls_connector() -> Result<TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CERT.get().context("no server certificate")?.clone())?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.key_log = Arc::new(rustls::KeyLogFile::new());
    Ok(TlsConnector::from(Arc::new(config)))
}

/// rustls with *ring* (classic X25519 key exchange; rustls 0.23.48 deprecates it only for
/// lacking post-quantum groups): it builds without aws-lc's C toolchain.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

async fn echo_server(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    counts: Arc<Counts>,
) -> Result<()> {
    loop {
        let (tcp, _) = listener.accept().await?;
        let counts = counts.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            match acceptor {
                None => {
                    if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                        echo(ws, &counts).await;
                    }
                }
                Some(acceptor) => {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    if let Ok(ws) = tokio_tungstenite::accept_async(tls).await {
                        echo(ws, &counts).await;
                    }
                }
            }
        });
    }
}

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocketStream<S>, counts: &Counts) {
    while let Some(Ok(msg)) = ws.next().await {
        counts.server_received.fetch_add(1, Ordering::Relaxed);
        if matches!(msg, Message::Binary(_) | Message::Text(_)) {
            if ws.send(msg).await.is_err() {
                break;
            }
            counts.server_sent.fetch_add(1, Ordering::Relaxed);
        }
        // Close: tungstenite queued the reply; the next read sends it and ends.
    }
}

/// Sends `messages` messages keeping `window` in flight; returns how many came back.
async fn client<S: AsyncRead + AsyncWrite + Unpin>(
    mut ws: WebSocketStream<S>,
    messages: u32,
    size: usize,
    window: u32,
    counts: &Counts,
) -> Result<u64> {
    let payload = bytes::Bytes::from(vec![0x5a; size]);
    let mut sent = 0u32;
    let mut echoed = 0u32;
    while sent < messages.min(window) {
        ws.send(Message::Binary(payload.clone())).await?;
        sent += 1;
    }
    counts.client_sent.fetch_add(sent.into(), Ordering::Relaxed);
    while echoed < messages {
        let Some(msg) = ws.next().await else {
            bail!("connection ended after {echoed} echoes");
        };
        counts.client_received.fetch_add(1, Ordering::Relaxed);
        match msg? {
            Message::Binary(b) if b.len() == size => echoed += 1,
            Message::Ping(_) | Message::Pong(_) => continue,
            other => bail!("unexpected {other:?}"),
        }
        if sent < messages {
            ws.send(Message::Binary(payload.clone())).await?;
            sent += 1;
            counts.client_sent.fetch_add(1, Ordering::Relaxed);
        }
    }
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "done".into(),
    }))
    .await?;
    counts.client_sent.fetch_add(1, Ordering::Relaxed);
    while let Some(Ok(_)) = ws.next().await {
        counts.client_received.fetch_add(1, Ordering::Relaxed);
    }
    Ok(echoed.into())
}
