//! A WebSocket echo server and client over rustls on 127.0.0.1, for
//! scripts/record-tls-captures.sh.
//!
//! ```text
//! SSLKEYLOGFILE=KEYS synscope-peer-rustls --port P --pki DIR [--tls12]
//! ```
//!
//! Server: DIR/rsa.pem and DIR/rsa.key, ALPN http/1.1, one connection, tokio-tungstenite's
//! `accept_async` over the TLS stream, echoing every message until the close. Client: trusts
//! DIR/ca.pem, connects as `localhost` offering ALPN http/1.1, writes the NSS key log with
//! rustls's `KeyLogFile` (the file SSLKEYLOGFILE names), upgrades `wss://localhost:P/ws`, sends
//! a text, a 200-byte text, a 20000-byte binary message (over two TLS records)
//! and a ping, waits for each echo or pong, then closes with 1000. `--tls12`: both sides offer
//! only TLS 1.2 (rustls then picks TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 for an RSA key).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

struct Args {
    port: u16,
    pki: PathBuf,
    tls12: bool,
}

fn args() -> Result<Args> {
    let mut port = None;
    let mut pki = None;
    let mut tls12 = false;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--port" => port = Some(it.next().context("--port N")?.parse()?),
            "--pki" => pki = Some(PathBuf::from(it.next().context("--pki DIR")?)),
            "--tls12" => tls12 = true,
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(Args {
        port: port.context("--port missing")?,
        pki: pki.context("--pki missing")?,
        tls12,
    })
}

static TLS12_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
static TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

fn versions(tls12: bool) -> &'static [&'static rustls::SupportedProtocolVersion] {
    if tls12 {
        TLS12_ONLY
    } else {
        TLS13_ONLY
    }
}

/// The ring provider (X25519 key shares, no post-quantum hybrid): it builds without aws-lc's C
/// toolchain, and the classic key exchange is what the captures are for.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config(pki: &Path, tls12: bool) -> Result<rustls::ServerConfig> {
    let certs =
        CertificateDer::pem_file_iter(pki.join("rsa.pem"))?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(pki.join("rsa.key"))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions(tls12))?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // One connection: no session tickets to resume with.
    config.send_tls13_tickets = 0;
    Ok(config)
}

fn client_config(pki: &Path, tls12: bool) -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(pki.join("ca.pem"))? {
        roots.add(cert?)?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions(tls12))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.key_log = Arc::new(rustls::KeyLogFile::new());
    Ok(config)
}

async fn serve(listener: TcpListener, acceptor: TlsAcceptor) -> Result<()> {
    let (tcp, _) = listener.accept().await?;
    let tls = acceptor.accept(tcp).await?;
    let mut ws = tokio_tungstenite::accept_async(tls).await?;
    while let Some(msg) = ws.next().await {
        match msg? {
            m @ (Message::Text(_) | Message::Binary(_)) => ws.send(m).await?,
            Message::Close(_) => break,
            _ => {}
        }
    }
    // tungstenite queued the close reply: send it, then close_notify and FIN (the server ends
    // TCP first, RFC 6455 §7.1.1), and read until the client's close_notify so that nothing
    // arrives on a closed socket.
    ws.flush().await?;
    let tls = ws.get_mut();
    tls.shutdown().await?;
    let mut buf = [0u8; 1024];
    while tls.read(&mut buf).await? > 0 {}
    Ok(())
}

async fn client(port: u16, connector: TlsConnector) -> Result<()> {
    let tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
    let tls = connector
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?;
    let url = format!("wss://localhost:{port}/ws");
    let (mut ws, resp) = tokio_tungstenite::client_async(url, tls).await?;
    if resp.status() != 101 {
        bail!("upgrade answered {}", resp.status());
    }
    let big: Vec<u8> = (0..20_000u32).map(|i| (i % 253) as u8).collect();
    for m in [
        Message::text("hello from rustls over wss"),
        Message::text("r".repeat(200)),
        Message::binary(big),
    ] {
        ws.send(m.clone()).await?;
        match ws.next().await {
            Some(Ok(got)) if got == m => {}
            other => bail!("echo: {other:?}"),
        }
    }
    ws.send(Message::Ping("rustls ping".into())).await?;
    match ws.next().await {
        Some(Ok(Message::Pong(p))) if &p[..] == b"rustls ping" => {}
        other => bail!("pong: {other:?}"),
    }
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    }))
    .await?;
    // The server's close frame ends the WebSocket stream; then close_notify and FIN.
    while let Some(msg) = ws.next().await {
        msg?;
    }
    ws.get_mut().shutdown().await?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let a = args()?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, a.port)).await?;
    let acceptor = TlsAcceptor::from(Arc::new(server_config(&a.pki, a.tls12)?));
    let connector = TlsConnector::from(Arc::new(client_config(&a.pki, a.tls12)?));
    let server = tokio::spawn(serve(listener, acceptor));
    tokio::time::timeout(Duration::from_secs(15), client(a.port, connector))
        .await
        .context("client timed out")??;
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .context("server timed out")???;
    Ok(())
}
