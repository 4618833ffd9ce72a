//! The demo server and every client scenario, in process, on a free loopback port: each
//! scenario completes and the client saw what the lesson says it should.

// The helpers below are test code too: a failed unwrap is a failed test. (clippy's
// allow-unwrap-in-tests covers only `#[test]` functions, not their helpers.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use synscope::demo::{self, Report, Scenario, ServerConfig};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const PACE: Duration = Duration::from_millis(5);
/// Upper bound on any one test's traffic; it normally takes well under a second.
const LIMIT: Duration = Duration::from_secs(60);

struct Server {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

async fn start(bind: SocketAddr, config: ServerConfig) -> Server {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    // Every scenario runs against the server with TLS on (as `demo all` runs it): plain HTTP
    // must not notice.
    let tls = std::sync::Arc::clone(&demo::tls::demo().unwrap().server);
    let task = tokio::spawn(demo::serve_with_tls(
        listener,
        config,
        Some(tls),
        async move {
            let _ = stopped.await;
        },
    ));
    Server { addr, stop, task }
}

impl Server {
    /// Stops the server and checks that `serve` returns cleanly.
    async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(LIMIT, self.task)
            .await
            .expect("serve returns after shutdown")
            .unwrap()
            .unwrap();
    }
}

/// Long polls held long enough that only the short-timeout one can come back empty.
fn config() -> ServerConfig {
    ServerConfig {
        long_poll_timeout: Duration::from_secs(30),
        ..ServerConfig::paced(PACE)
    }
}

async fn run_on(bind: SocketAddr, scenario: Scenario) -> Report {
    let server = start(bind, config()).await;
    let report = tokio::time::timeout(LIMIT, demo::run(scenario, server.addr, PACE))
        .await
        .expect("scenario finishes in time")
        .unwrap_or_else(|e| panic!("{scenario}: {e}"));
    server.stop().await;
    report
}

async fn run_v4(scenario: Scenario) -> Report {
    run_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), scenario).await
}

fn assert_websocket_chat(r: &Report) {
    assert_eq!(r.statuses, vec![101], "the upgrade");
    assert_eq!(
        r.ws_sent, 5,
        "hello, Korean text, binary, 300 bytes, fragmented"
    );
    assert_eq!(r.ws_echoed, 5);
    assert_eq!(r.ws_pongs, 2, "the ping, and the ping between fragments");
    assert!(
        r.ws_server_pings >= 1,
        "the server pings right after the upgrade"
    );
    assert_eq!(r.ws_close, Some((1000, "bye".to_string())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_chat_echoes_pings_and_closes_1000() {
    let r = run_v4(Scenario::WebSocket).await;
    assert_eq!(r.connections, 1);
    assert_websocket_chat(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_over_ipv6_loopback() {
    let r = run_on(
        SocketAddr::from((Ipv6Addr::LOCALHOST, 0)),
        Scenario::WebSocket,
    )
    .await;
    assert_websocket_chat(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_large_message_is_echoed() {
    let r = run_v4(Scenario::WebSocketLarge).await;
    assert_eq!((r.ws_sent, r.ws_echoed), (1, 1));
    assert_eq!(r.ws_close, Some((1000, "bye".to_string())));
}

/// The wss round: TLS on the demo server's port, the upgrade and the chat inside it, and the
/// client's secrets in the demo's key collector (what the engine decrypts with).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_chats_over_tls_and_logs_its_secrets() {
    let r = run_v4(Scenario::Wss).await;
    assert_eq!(r.connections, 1);
    assert_eq!(r.statuses, vec![101]);
    assert_eq!((r.ws_sent, r.ws_echoed, r.ws_pongs), (2, 2, 1));
    assert_eq!(r.ws_close, Some((1000, "bye".to_string())));
    let keys = String::from_utf8(demo::tls::demo().unwrap().keys.take()).unwrap();
    for label in [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
    ] {
        assert!(keys.contains(label), "{label}: {keys}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_on_one_keep_alive_connection() {
    let r = run_v4(Scenario::Http).await;
    assert_eq!(r.connections, 1);
    assert_eq!(r.statuses, vec![200, 201, 200, 404]);
    assert!(r.news >= 1, "the poll returns the news just posted");
}

fn assert_polls(r: &Report) {
    assert_eq!(r.statuses.len(), demo::POLLS as usize);
    assert_eq!(r.statuses[0], 200, "news #1 is there from the start");
    assert!(r.statuses.iter().all(|&s| s == 200 || s == 204));
    let with_news = r.statuses.iter().filter(|&&s| s == 200).count() as u32;
    assert_eq!(r.empty_answers, demo::POLLS - with_news);
    assert!(r.news >= with_news, "every 200 carries at least one item");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_polling_opens_a_connection_per_request() {
    let r = run_v4(Scenario::Polling).await;
    assert_eq!(r.connections as usize, demo::POLLS as usize);
    assert_polls(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_polling_over_keep_alive_uses_one_connection() {
    let r = run_v4(Scenario::PollingKeepAlive).await;
    assert_eq!(r.connections, 1);
    assert_polls(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polling_waits_for_news() {
    let r = run_v4(Scenario::LongPolling).await;
    assert_eq!(r.connections, 1);
    assert_eq!(r.statuses.len(), demo::LONG_POLLS as usize);
    // Held for up to 30 s with news every 15 ms: all but the last always get news.
    let last = demo::LONG_POLLS as usize - 1;
    assert_eq!(&r.statuses[..last], &[200; demo::LONG_POLLS as usize - 1]);
    assert!(r.news >= demo::LONG_POLLS - 1);
    // The last asks for a 5 ms timeout: news or an empty answer, both are right.
    assert!(r.statuses[last] == 200 || r.statuses[last] == 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_reads_every_chunked_line() {
    let r = run_v4(Scenario::Streaming).await;
    assert_eq!(r.statuses, vec![200]);
    assert_eq!(r.stream_lines, demo::STREAM_ITEMS);
    assert!((1..=5).contains(&r.stream_reads));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_reads_every_event_retry_and_comment() {
    let r = run_v4(Scenario::Sse).await;
    assert_eq!(r.statuses, vec![200]);
    assert_eq!(r.sse_events, 5);
    assert_eq!(r.sse_comments, 1);
    assert_eq!(r.sse_retry, Some(3000));
    assert_eq!(r.sse_last_id.as_deref(), Some("5"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_sees_a_reset() {
    // A port that was just free: bind, note it, release it.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let r = demo::run(Scenario::Refused, addr, PACE).await.unwrap();
    assert_eq!(r.refused, 1);
    assert_eq!(r.connections, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_runs_every_lesson_scenario_in_turn() {
    let r = run_v4(Scenario::All).await;
    // http 1 + polling 6 + polling-keepalive 1 + long-polling 1 + streaming 1 + sse 1 +
    // websocket 1.
    assert_eq!(r.connections, 12);
    assert_eq!(
        r.statuses.len(),
        4 + 6 + 6 + demo::LONG_POLLS as usize + 1 + 1 + 1
    );
    assert_eq!(r.stream_lines, 5);
    assert_eq!(r.sse_events, 5);
    assert_eq!(r.ws_echoed, 5);
    assert_eq!(r.ws_close, Some((1000, "bye".to_string())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_server_stops_when_asked() {
    // A server with no client at all still shuts down when asked.
    let server = start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config()).await;
    server.stop().await;
}
