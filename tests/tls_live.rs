//! `synscope live --keylog FILE` on `lo`, for real (CI runs as root): a rustls server and
//! client talk HTTPS over a real socket on 127.0.0.1 while the client appends its secrets to an
//! NSS key log file, as curl or a browser does with `SSLKEYLOGFILE`; the file does not exist
//! when synscope starts. synscope must re-read the file as it grows and decrypt: the request
//! and response come out as on a plain connection, with no `tls_keys_missing` note.
//!
//! Without capture rights the test fails under `CI=true`; elsewhere it says why and returns.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::rights::BIN;
use support::temp_path;
use synscope::demo::tls::{Offer, Pki};

/// rustls's `KeyLog` writing NSS key log lines to a file, one write and flush per secret, as
/// rustls's own `KeyLogFile` does.
#[derive(Debug)]
struct FileKeyLog(Mutex<std::fs::File>);

impl rustls::KeyLog for FileKeyLog {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let line = format!("{label} {} {}\n", hex(client_random), hex(secret));
        let mut f = self.0.lock().unwrap();
        f.write_all(line.as_bytes()).unwrap();
        f.flush().unwrap();
    }
}

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\nConnection: close\r\n\r\nhello over tls";

/// One HTTPS exchange over 127.0.0.1: the client logs its secrets to `keylog`.
fn https_exchange(listener: TcpListener, keylog: &Path, offer: &Offer) {
    let pki = Pki::new().unwrap();
    let server_cfg = pki.server(offer, None).unwrap();
    let mut client_cfg = (*pki.client(offer, None).unwrap()).clone();
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(keylog)
        .unwrap();
    client_cfg.key_log = Arc::new(FileKeyLog(Mutex::new(file)));
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        let conn = rustls::ServerConnection::new(server_cfg).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        let mut req = Vec::new();
        let mut buf = [0u8; 1024];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tls.read(&mut buf).unwrap();
            assert!(n > 0, "the client closed before its request ended");
            req.extend_from_slice(&buf[..n]);
        }
        tls.write_all(RESPONSE).unwrap();
        tls.conn.send_close_notify();
        tls.flush().unwrap();
        // Wait for the client's close_notify, then close.
        while tls.read(&mut buf).is_ok_and(|n| n > 0) {}
    });
    let sock = TcpStream::connect(addr).unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(client_cfg), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => panic!("client read: {e}"),
        }
    }
    assert_eq!(got, RESPONSE);
    tls.conn.send_close_notify();
    tls.flush().unwrap();
    drop(tls);
    server.join().unwrap();
}

struct Live {
    child: std::process::Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

fn lines<R: Read + Send + 'static>(r: R) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// `synscope live ARGS` (JSON), once it says it is capturing; `None` without capture rights
/// outside CI.
fn start(args: &[&str], env: &[(&str, &Path)]) -> Option<Live> {
    let mut cmd = Command::new(BIN);
    cmd.arg("live")
        .args(args)
        .env_remove("SSLKEYLOGFILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stderr = lines(child.stderr.take().unwrap());
    let stdout = lines(child.stdout.take().unwrap());
    let first = stderr
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_default();
    if !first.contains("capturing on") {
        let _ = child.kill();
        let _ = child.wait();
        if first.contains("CAP_NET_RAW") && std::env::var("CI").as_deref() != Ok("true") {
            eprintln!("NOT RUN: {first}");
            return None;
        }
        panic!("synscope live did not start: {first}");
    }
    Some(Live {
        child,
        stdout,
        stderr,
    })
}

impl Live {
    /// The JSON events up to and including the first one for which `done` holds (at most 60
    /// seconds: the events come as the packets are captured, not at the end).
    fn until(&self, done: impl Fn(&serde_json::Value) -> bool) -> Vec<serde_json::Value> {
        let mut got = Vec::new();
        loop {
            let line = self
                .stdout
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|e| panic!("{e}: no awaited event; got {got:#?}"));
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            let stop = done(&v);
            got.push(v);
            if stop {
                return got;
            }
        }
    }

    /// SIGINT; the rest of stdout's events and stderr.
    fn stop(mut self) -> (Vec<serde_json::Value>, String) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success());
        let status = self.child.wait().unwrap();
        let rest = self
            .stdout
            .iter()
            .map(|l| serde_json::from_str(&l).unwrap())
            .collect();
        let err: Vec<String> = self.stderr.iter().collect();
        assert!(status.success(), "{status:?}\n{}", err.join("\n"));
        (rest, err.join("\n"))
    }
}

fn keylog_path(name: &str) -> PathBuf {
    let p = temp_path(name);
    let _ = std::fs::remove_file(&p);
    p
}

fn check_decrypted(events: &[serde_json::Value], version: &str) {
    let kinds = |k: &str| events.iter().filter(|e| e["kind"] == k).collect::<Vec<_>>();
    let req = kinds("http_request");
    assert_eq!(req.len(), 1, "{events:#?}");
    assert_eq!(req[0]["target"], "/hello");
    let resp = kinds("http_response");
    assert_eq!(resp.len(), 1, "{events:#?}");
    assert_eq!(resp[0]["status"], 200);
    let body = kinds("http_body");
    assert!(
        body.iter().any(|b| b["text"] == "hello over tls"),
        "{body:#?}"
    );
    let notes = kinds("note");
    assert!(notes.is_empty(), "{notes:#?}");
    let hello = kinds("tls_handshake");
    assert!(
        hello
            .iter()
            .any(|h| h["handshake_type"] == "server_hello" && h["version"] == version),
        "{hello:#?}"
    );
    assert!(events
        .iter()
        .any(|e| e["kind"] == "tls_record" && e["inner_type"] == "application_data"));
    let end = kinds("connection_end");
    assert_eq!(end.len(), 1);
    assert_eq!(end[0]["tls"]["decrypted"], true, "{:#?}", end[0]);
}

fn live_keylog(version: &'static rustls::SupportedProtocolVersion, from_env: bool) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let keylog = keylog_path(&format!("live-{port}.keys"));
    let kl = keylog.to_str().unwrap();
    let written = temp_path(&format!("live-{port}.pcapng"));
    let w = written.to_str().unwrap();
    let running = if from_env {
        start(
            &["--port", &port, "--format", "json", "-w", w],
            &[("SSLKEYLOGFILE", &keylog)],
        )
    } else {
        start(
            &["--port", &port, "--format", "json", "--keylog", kl, "-w", w],
            &[],
        )
    };
    let Some(live) = running else { return };
    assert!(!keylog.exists(), "the key log is made by the client");
    let offer = Offer {
        versions: vec![version],
        ..Offer::default()
    };
    https_exchange(listener, &keylog, &offer);
    // The request decrypted while the capture runs, not only at its end.
    let mut events = live.until(|e| e["kind"] == "http_response");
    let (rest, err) = live.stop();
    events.extend(rest);
    assert!(!err.contains("panicked"), "{err}");
    let name = if std::ptr::eq(version, &rustls::version::TLS13) {
        "TLS 1.3"
    } else {
        "TLS 1.2"
    };
    check_decrypted(&events, name);
    // The -w file carries the secrets (Decryption Secrets Blocks, as they were logged):
    // decoded without any key log it gives the live events, line for line.
    let out = Command::new(BIN)
        .args(["decode", "--format", "json", w])
        .env_remove("SSLKEYLOGFILE")
        .output()
        .unwrap();
    assert!(out.status.success());
    let decoded: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(decoded, events);
    let _ = std::fs::remove_file(&keylog);
    let _ = std::fs::remove_file(&written);
}

#[test]
fn live_rereads_a_growing_keylog_and_decrypts_tls13() {
    live_keylog(&rustls::version::TLS13, false);
}

#[test]
fn live_rereads_a_growing_keylog_and_decrypts_tls12() {
    live_keylog(&rustls::version::TLS12, false);
}

#[test]
fn live_takes_sslkeylogfile_from_the_environment() {
    live_keylog(&rustls::version::TLS13, true);
}
