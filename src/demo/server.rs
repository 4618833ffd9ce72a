//! The demo server: one axum router with an endpoint per pattern of the lesson.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::news::{Answer, News, MAX_TEXT};

/// Most lines or events one `/stream` or `/events` response sends.
pub const MAX_STREAM_ITEMS: u32 = 100;
/// Longest delay between two streamed items, and longest long-poll hold, a client may ask for.
pub const MAX_CLIENT_DELAY: Duration = Duration::from_secs(30);
/// The SSE `retry:` value sent once at the start of `/events` (WHATWG HTML §9.2.6).
pub const SSE_RETRY: Duration = Duration::from_millis(3000);
/// How long `serve` waits for open WebSocket sessions after `shutdown`.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Largest WebSocket message the server accepts (and echoes).
pub const MAX_WS_MESSAGE: usize = 1 << 20;

/// Timing of the server's own sources of traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig {
    /// Period of the news source (the first item is there when `serve` starts). Polling
    /// clients see news at this rate.
    pub news_every: Duration,
    /// How long `/long-poll` holds a request when nothing new arrives and the client named
    /// no `timeout_ms`.
    pub long_poll_timeout: Duration,
    /// Period of the server's pings on each WebSocket (the first goes out right after the
    /// upgrade).
    pub ws_ping_every: Duration,
}

impl Default for ServerConfig {
    /// The pace of the live demo: news about once a second, long polls held up to 5 s.
    fn default() -> Self {
        ServerConfig {
            news_every: Duration::from_secs(1),
            long_poll_timeout: Duration::from_secs(5),
            ws_ping_every: Duration::from_secs(5),
        }
    }
}

impl ServerConfig {
    /// A server whose sources tick in step with a client `pace` (see [`super::run`]): news
    /// every three steps, so short polling meets empty answers and long polls wait.
    pub fn paced(pace: Duration) -> Self {
        ServerConfig {
            news_every: pace.saturating_mul(3).max(Duration::from_millis(1)),
            long_poll_timeout: pace.saturating_mul(20).max(Duration::from_millis(100)),
            ws_ping_every: pace.saturating_mul(4).max(Duration::from_millis(1)),
        }
    }
}

#[derive(Clone)]
struct AppState {
    news: News,
    config: ServerConfig,
    // Each WebSocket session holds a clone; `serve` waits until all are dropped, so a session
    // finishes its close handshake before `serve` returns (axum's graceful shutdown does not
    // track upgraded connections).
    sessions: mpsc::Sender<()>,
}

/// Serves the demo on `listener` until `shutdown` resolves, then waits for open connections
/// to finish (HTTP ones for good, WebSocket ones up to [`SHUTDOWN_GRACE`]) and returns. Bind the listener to loopback (`127.0.0.1` or
/// `[::1]`): the demo is meant to be captured there.
///
/// Endpoints:
/// - `GET /`: a small HTML page listing the endpoints.
/// - `POST /send` (text body, cut to 1 KiB): publishes it as news; `201` with `{"id":N}`.
/// - `GET /poll?since=N`: `200` with `{"next":M,"news":[{"id","text"}...]}` at once, or `204`
///   when nothing is newer than `N`.
/// - `GET /long-poll?since=N[&timeout_ms=T]`: the same answer, but held until news arrives or
///   the timeout passes (then `204`).
/// - `GET /stream?n=K&every_ms=D`: `text/plain`, chunked; K lines, one every D ms.
/// - `GET /events?n=K&every_ms=D`: `text/event-stream`; a comment and `retry:` first, then K
///   events (`event: news`, `id:`, `data:`; one has two `data:` lines), one every D ms.
/// - `GET /ws`: WebSocket; echoes text and binary messages, answers pings, pings now and then,
///   and answers the client's close with the same code and reason.
/// - anything else: `404`.
pub async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_tls(listener, config, None, shutdown).await
}

/// [`serve`], and, with `tls`, the same endpoints over TLS on the same port: a connection
/// whose first byte is a TLS handshake record (22) gets a TLS handshake with this
/// configuration, then HTTP inside it (`https://`, `wss://`); any other speaks plain HTTP.
pub async fn serve_with_tls(
    listener: TcpListener,
    config: ServerConfig,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let news = News::new();
    let (sessions, mut sessions_done) = mpsc::channel::<()>(1);
    let state = AppState {
        news: news.clone(),
        config,
        sessions,
    };
    // The first item is published before the first connection can be accepted.
    news.publish("news #1");
    let ticker = tokio::spawn(publish_news(news, config.news_every));
    let app = router(state);
    // Without TCP_NODELAY a paced small write can wait for the peer's delayed ACK, which
    // would blur the timing the lesson shows.
    let sniffing = Sniffing::spawn(listener, tls.map(tokio_rustls::TlsAcceptor::from))?;
    let acceptor = sniffing.task.abort_handle();
    let result = axum::serve(sniffing, app)
        .with_graceful_shutdown(shutdown)
        .await;
    acceptor.abort();
    ticker.abort();
    // `recv` returns `None` once every session's sender (and the router's) is gone. A client
    // that never closes its WebSocket does not hold `serve` forever.
    let drained = async { while sessions_done.recv().await.is_some() {} };
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, drained).await;
    result
}

/// How long a new connection may take to send its first byte and, if it is TLS, to finish
/// its handshake, before the server drops it.
const FIRST_BYTES: Duration = Duration::from_secs(10);

/// A connection to the demo server: plain TCP, or TLS over it.
enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// The demo server's listener for axum: a task accepts connections, tells TLS from plain HTTP
/// by the first byte (each connection on a task of its own, so a slow one holds up no other)
/// and hands them over ready.
struct Sniffing {
    ready: mpsc::Receiver<(Conn, SocketAddr)>,
    local: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Sniffing {
    fn spawn(
        listener: TcpListener,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> std::io::Result<Sniffing> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let task = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(a) => a,
                    Err(_) => {
                        // Out of file descriptors and the like: try again shortly.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                // Without TCP_NODELAY a paced small write can wait for the peer's delayed
                // ACK, which would blur the timing the lesson shows.
                let _ = tcp.set_nodelay(true);
                let tx = tx.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let conn = match tls {
                        Some(acceptor) => {
                            let mut first = [0u8; 1];
                            let peeked =
                                tokio::time::timeout(FIRST_BYTES, tcp.peek(&mut first)).await;
                            if matches!(peeked, Ok(Ok(1))) && first[0] == 22 {
                                match tokio::time::timeout(FIRST_BYTES, acceptor.accept(tcp)).await
                                {
                                    Ok(Ok(t)) => Conn::Tls(Box::new(t)),
                                    _ => return,
                                }
                            } else {
                                Conn::Plain(tcp)
                            }
                        }
                        None => Conn::Plain(tcp),
                    };
                    let _ = tx.send((conn, peer)).await;
                });
            }
        });
        Ok(Sniffing { ready, local, task })
    }
}

impl axum::serve::Listener for Sniffing {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accepting task is gone (the server is shutting down): nothing more comes.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

impl Drop for Conn {
    /// hyper drops an upgraded connection (a closed WebSocket) without shutting it down: a TLS
    /// one still says close_notify, as a TLS server does before closing (RFC 8446 §6.1), if
    /// the socket takes the bytes now (it does: a few bytes to an idle loopback socket).
    fn drop(&mut self) {
        if let Conn::Tls(t) = self {
            let (tcp, tls) = t.get_mut();
            tls.send_close_notify();
            let mut out = Vec::new();
            while tls.wants_write() {
                if tls.write_tls(&mut out).is_err() {
                    return;
                }
            }
            let _ = tcp.try_write(&out);
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/send", post(send))
        .route("/poll", get(poll))
        .route("/long-poll", get(long_poll))
        .route("/stream", get(stream_lines))
        .route("/events", get(events))
        .route("/ws", get(ws_upgrade))
        .fallback(not_found)
        .with_state(state)
}

/// Publishes "news #2", "news #3", ... one per `every` ("news #1" is published by `serve`).
async fn publish_news(news: News, every: Duration) {
    let start = tokio::time::Instant::now() + every;
    let mut tick = tokio::time::interval_at(start, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for n in 2u64.. {
        tick.tick().await;
        news.publish(&format!("news #{n}"));
    }
}

const INDEX: &str = "<!doctype html>
<html lang=\"ko\"><head><meta charset=\"utf-8\"><title>synscope demo</title></head>
<body><h1>synscope demo</h1><ul>
<li>GET /poll?since=N (short polling)</li>
<li>GET /long-poll?since=N (long polling)</li>
<li>GET /stream (chunked streaming)</li>
<li>GET /events (Server-Sent Events)</li>
<li>GET /ws (WebSocket echo)</li>
<li>POST /send (publish news)</li>
</ul></body></html>
";

async fn index() -> Html<&'static str> {
    Html(INDEX)
}

async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "not found\n")
}

async fn send(State(state): State<AppState>, body: Bytes) -> Response {
    let body = body.get(..body.len().min(MAX_TEXT)).unwrap_or_default();
    let id = state.news.publish(&String::from_utf8_lossy(body));
    (StatusCode::CREATED, Json(serde_json::json!({ "id": id }))).into_response()
}

#[derive(Deserialize)]
struct PollQuery {
    since: Option<u64>,
    timeout_ms: Option<u64>,
}

fn news_answer(news: Vec<super::news::Item>) -> Response {
    match news.last() {
        None => StatusCode::NO_CONTENT.into_response(),
        Some(last) => {
            let next = last.id;
            Json(Answer { next, news }).into_response()
        }
    }
}

async fn poll(State(state): State<AppState>, Query(q): Query<PollQuery>) -> Response {
    news_answer(state.news.since(q.since.unwrap_or(0)))
}

async fn long_poll(State(state): State<AppState>, Query(q): Query<PollQuery>) -> Response {
    let timeout = q
        .timeout_ms
        .map_or(state.config.long_poll_timeout, Duration::from_millis)
        .min(MAX_CLIENT_DELAY);
    news_answer(state.news.wait_since(q.since.unwrap_or(0), timeout).await)
}

#[derive(Deserialize)]
struct StreamQuery {
    n: Option<u32>,
    every_ms: Option<u64>,
}

impl StreamQuery {
    fn items(&self) -> u32 {
        self.n.unwrap_or(5).min(MAX_STREAM_ITEMS)
    }
    fn every(&self) -> Duration {
        self.every_ms
            .map_or(Duration::from_secs(1), Duration::from_millis)
            .min(MAX_CLIENT_DELAY)
    }
}

/// `items` values produced by `make(i)` for `i` in `1..=items`, the first at once and then one
/// per `every`.
fn paced<T>(items: u32, every: Duration, make: impl Fn(u32) -> T) -> impl Stream<Item = T> {
    stream::unfold(1u32, move |i| {
        let item = (i <= items).then(|| make(i));
        async move {
            let item = item?;
            if i > 1 {
                tokio::time::sleep(every).await;
            }
            Some((item, i + 1))
        }
    })
}

async fn stream_lines(Query(q): Query<StreamQuery>) -> Response {
    let n = q.items();
    let lines = paced(n, q.every(), move |i| {
        Ok::<_, Infallible>(Bytes::from(format!("line {i} of {n}\n")))
    });
    // No Content-Length: hyper sends the body with `Transfer-Encoding: chunked`, one chunk per
    // line (RFC 9112 §7.1).
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from_stream(lines),
    )
        .into_response()
}

async fn events(Query(q): Query<StreamQuery>) -> Response {
    let n = q.items();
    let first = Event::default()
        .comment("synscope demo: news as server-sent events")
        .retry(SSE_RETRY);
    let news = paced(n, q.every(), move |i| {
        let event = Event::default().event("news").id(i.to_string());
        // One event carries two lines: SSE sends each as its own `data:` field and the
        // receiver joins them with "\n" (WHATWG HTML §9.2.6).
        let event = if i == 2 {
            event.data(format!("news {i} of {n}\nsecond line"))
        } else {
            event.data(format!("news {i} of {n}"))
        };
        Ok::<_, Infallible>(event)
    });
    Sse::new(stream::once(async move { Ok(first) }).chain(news)).into_response()
}

async fn ws_upgrade(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    let session = state.sessions.clone();
    let ping_every = state.config.ws_ping_every;
    ws.max_message_size(MAX_WS_MESSAGE)
        .on_upgrade(move |socket| async move {
            ws_session(socket, ping_every).await;
            drop(session);
        })
}

/// Echo chat on one WebSocket until the client closes or the connection fails.
async fn ws_session(mut socket: WebSocket, ping_every: Duration) {
    let mut ping = tokio::time::interval(ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pings: u64 = 0;
    let mut closing = false;
    loop {
        tokio::select! {
            // Biased, ping first: the first ping goes out right after the upgrade, before any
            // echo, so every session shows one.
            biased;
            _ = ping.tick(), if !closing => {
                pings += 1;
                let payload = Bytes::from(format!("server ping {pings}"));
                if socket.send(Message::Ping(payload)).await.is_err() {
                    break;
                }
            }
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(text))) => {
                    if socket.send(Message::Text(text)).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Binary(data))) => {
                    if socket.send(Message::Binary(data)).await.is_err() {
                        break;
                    }
                }
                // tungstenite queues the pong itself (RFC 6455 §5.5.2) and flushes it on the
                // next read.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                // tungstenite has queued the reply: the same code and reason (RFC 6455
                // §5.5.1). The next `recv` sends it and then reports the end, after which
                // dropping the socket closes TCP from the server side first (§7.1.1).
                Some(Ok(Message::Close(_))) => closing = true,
                Some(Err(_)) | None => break,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paced_config_keeps_every_period_positive() {
        let c = ServerConfig::paced(Duration::ZERO);
        assert!(c.news_every > Duration::ZERO);
        assert!(c.ws_ping_every > Duration::ZERO);
        assert!(c.long_poll_timeout >= Duration::from_millis(100));
    }

    #[test]
    fn stream_query_is_clamped() {
        let q = StreamQuery {
            n: Some(u32::MAX),
            every_ms: Some(u64::MAX),
        };
        assert_eq!(q.items(), MAX_STREAM_ITEMS);
        assert_eq!(q.every(), MAX_CLIENT_DELAY);
    }

    #[tokio::test]
    async fn paced_yields_exactly_the_items() {
        let got: Vec<u32> = paced(4, Duration::ZERO, |i| i * 10).collect().await;
        assert_eq!(got, vec![10, 20, 30, 40]);
        let none: Vec<u32> = paced(0, Duration::ZERO, |i| i).collect().await;
        assert!(none.is_empty());
    }
}
