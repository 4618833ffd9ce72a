//! The demo clients: one [`Scenario`] per pattern of the lesson, each a fixed, short script.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{header, Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::news::Answer;
use super::server::MAX_CLIENT_DELAY;
use super::DemoError;

type Result<T> = std::result::Result<T, DemoError>;

/// Requests made by the short-polling scenarios.
pub const POLLS: u32 = 6;
/// Requests made by the long-polling scenario: the first gets the news already there at once,
/// the next four are each held until news comes (the first of them for part of the news
/// period, the others for a whole one, so that the median hold is the news period in every
/// round), and the last asks for a short timeout.
pub const LONG_POLLS: u32 = 6;
/// Lines asked of `/stream` and events asked of `/events`.
pub const STREAM_ITEMS: u32 = 5;
/// Size of the one message of [`Scenario::WebSocketLarge`]: above 65535, so its frame uses
/// the 64-bit length (RFC 6455 §5.2), and above the loopback MTU, so it spans TCP segments.
pub const LARGE_MESSAGE: usize = 70_000;
/// Largest HTTP response body a client reads.
pub const MAX_BODY: usize = 64 * 1024;
/// The Korean text message of the WebSocket scenario ("Hello, WebSocket!"): non-ASCII UTF-8.
pub const KOREAN_TEXT: &str = "안녕하세요, 웹소켓!";
/// Code and reason of the client's close in the WebSocket scenarios (RFC 6455 §7.4.1).
pub const CLOSE_CODE: u16 = 1000;
pub const CLOSE_REASON: &str = "bye";

/// One pattern of the lesson, acted out by [`run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Plain HTTP on one kept-alive connection: `GET /`, `POST /send`, `GET /poll`, and a
    /// `GET` of a missing page (404).
    Http,
    /// Short polling, a new connection per request (`Connection: close`): [`POLLS`] requests.
    Polling,
    /// Short polling over one kept-alive connection: [`POLLS`] requests.
    PollingKeepAlive,
    /// Long polling over one kept-alive connection: [`LONG_POLLS`] requests, each sent right
    /// after the previous answer; the last asks for a timeout of one `pace`.
    LongPolling,
    /// One chunked `GET /stream` of [`STREAM_ITEMS`] lines, read as it arrives.
    Streaming,
    /// One `GET /events` of [`STREAM_ITEMS`] server-sent events, read as they arrive.
    Sse,
    /// WebSocket chat: two text messages (one Korean), a binary message, a ping, a message
    /// of more than 125 bytes, a message in three fragments with a ping between them, then
    /// close 1000 "bye".
    WebSocket,
    /// WebSocket with one [`LARGE_MESSAGE`]-byte binary message, then close.
    WebSocketLarge,
    /// WebSocket over TLS (`wss://`, rustls with the demo's certificate,
    /// [`super::tls::demo`]; the server must be [`super::serve_with_tls`]): the TLS handshake
    /// (SNI `localhost`, ALPN `http/1.1`), the upgrade, a text, a Korean text, a ping, then
    /// close 1000 "bye" and close_notify. The client logs its secrets to the demo's
    /// [`super::tls::DemoTls::keys`].
    Wss,
    /// A connection attempt to `addr`, where nothing must listen: SYN answered by RST.
    Refused,
    /// Every scenario of [`Scenario::ALL`] in turn.
    All,
}

impl Scenario {
    /// What [`Scenario::All`] runs, in this order (not [`Scenario::Refused`], which needs a
    /// closed port, nor [`Scenario::WebSocketLarge`]).
    pub const ALL: [Scenario; 7] = [
        Scenario::Http,
        Scenario::Polling,
        Scenario::PollingKeepAlive,
        Scenario::LongPolling,
        Scenario::Streaming,
        Scenario::Sse,
        Scenario::WebSocket,
    ];

    /// Every scenario, for listings and command lines.
    pub const EVERY: [Scenario; 11] = [
        Scenario::Http,
        Scenario::Polling,
        Scenario::PollingKeepAlive,
        Scenario::LongPolling,
        Scenario::Streaming,
        Scenario::Sse,
        Scenario::WebSocket,
        Scenario::WebSocketLarge,
        Scenario::Wss,
        Scenario::Refused,
        Scenario::All,
    ];

    /// The command-line name (`websocket`, `long-polling`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Http => "http",
            Scenario::Polling => "polling",
            Scenario::PollingKeepAlive => "polling-keepalive",
            Scenario::LongPolling => "long-polling",
            Scenario::Streaming => "streaming",
            Scenario::Sse => "sse",
            Scenario::WebSocket => "websocket",
            Scenario::WebSocketLarge => "websocket-large",
            Scenario::Wss => "wss",
            Scenario::Refused => "refused",
            Scenario::All => "all",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Scenario::EVERY
            .into_iter()
            .find(|sc| sc.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Scenario::EVERY.iter().map(|s| s.name()).collect();
                format!("unknown scenario {s:?} (one of: {})", names.join(", "))
            })
    }
}

/// What a client saw. Counts add up over [`Scenario::All`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// TCP connections the client opened (refused attempts not included).
    pub connections: u32,
    /// Status of every HTTP response, in order (the WebSocket upgrade's 101 included).
    pub statuses: Vec<u16>,
    /// News items received by polling and long polling.
    pub news: u32,
    /// `204 No Content` answers to a poll or long poll (nothing new, or a timeout).
    pub empty_answers: u32,
    /// Lines read from `/stream`.
    pub stream_lines: u32,
    /// Body pieces as the client read them from `/stream` (at least one per chunk the
    /// client's reads did not merge).
    pub stream_reads: u32,
    /// Server-sent events dispatched (those with data).
    pub sse_events: u32,
    /// Comment lines seen in the event stream.
    pub sse_comments: u32,
    /// The `retry:` value, in ms, if one was sent.
    pub sse_retry: Option<u64>,
    /// The last event id seen.
    pub sse_last_id: Option<String>,
    /// WebSocket data messages sent (a fragmented message counts once).
    pub ws_sent: u32,
    /// Of those, how many came back identical.
    pub ws_echoed: u32,
    /// Pongs received that carry the payload of the client's ping.
    pub ws_pongs: u32,
    /// Pings received from the server (tungstenite answers them).
    pub ws_server_pings: u32,
    /// Code and reason of the server's close frame.
    pub ws_close: Option<(u16, String)>,
    /// Connection attempts refused (RST in answer to SYN).
    pub refused: u32,
}

impl Report {
    fn add(&mut self, other: Report) {
        self.connections += other.connections;
        self.statuses.extend(other.statuses);
        self.news += other.news;
        self.empty_answers += other.empty_answers;
        self.stream_lines += other.stream_lines;
        self.stream_reads += other.stream_reads;
        self.sse_events += other.sse_events;
        self.sse_comments += other.sse_comments;
        self.sse_retry = other.sse_retry.or(self.sse_retry);
        self.sse_last_id = other.sse_last_id.or(self.sse_last_id.take());
        self.ws_sent += other.ws_sent;
        self.ws_echoed += other.ws_echoed;
        self.ws_pongs += other.ws_pongs;
        self.ws_server_pings += other.ws_server_pings;
        self.ws_close = other.ws_close.or(self.ws_close.take());
        self.refused += other.refused;
    }
}

/// Runs `scenario` against the demo server at `addr` (see [`super::serve`]), waiting `pace`
/// between steps (about 1 s for people to follow, a few ms for recordings and tests), and
/// returns what the client saw. Every wait is bounded, so this always ends; an answer the
/// scenario does not expect is an error.
pub async fn run(scenario: Scenario, addr: SocketAddr, pace: Duration) -> Result<Report> {
    let mut report = Report::default();
    match scenario {
        Scenario::Http => http(addr, pace, &mut report).await?,
        Scenario::Polling => polling(addr, pace, false, &mut report).await?,
        Scenario::PollingKeepAlive => polling(addr, pace, true, &mut report).await?,
        Scenario::LongPolling => long_polling(addr, pace, &mut report).await?,
        Scenario::Streaming => streaming(addr, pace, &mut report).await?,
        Scenario::Sse => sse(addr, pace, &mut report).await?,
        Scenario::WebSocket => websocket(addr, pace, &mut report).await?,
        Scenario::WebSocketLarge => websocket_large(addr, pace, &mut report).await?,
        Scenario::Wss => wss(addr, pace, &mut report).await?,
        Scenario::Refused => refused(addr, &mut report).await?,
        Scenario::All => {
            for (i, sc) in Scenario::ALL.into_iter().enumerate() {
                if i > 0 {
                    tokio::time::sleep(pace).await;
                }
                report.add(Box::pin(run(sc, addr, pace)).await?);
            }
        }
    }
    Ok(report)
}

/// The longest any single step may take: longer than any delay the server accepts.
fn step_timeout(pace: Duration) -> Duration {
    MAX_CLIENT_DELAY + Duration::from_secs(5) + pace.saturating_mul(2)
}

async fn within<T>(
    pace: Duration,
    what: &'static str,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::time::timeout(step_timeout(pace), fut)
        .await
        .map_err(|_| DemoError::Timeout(what))?
}

fn pace_ms(pace: Duration) -> u128 {
    pace.as_millis()
}

/// One HTTP/1.1 connection, driven by hyper; requests go one after the other.
struct HttpConn {
    sender: SendRequest<Full<Bytes>>,
    driver: JoinHandle<std::result::Result<(), hyper::Error>>,
    host: String,
    pace: Duration,
}

/// Opens a TCP connection to `addr` (counted in the report), Nagle off so each write is its
/// own segment.
async fn connect(addr: SocketAddr, pace: Duration, report: &mut Report) -> Result<TcpStream> {
    let stream = within(pace, "TCP connect", async {
        Ok(TcpStream::connect(addr).await?)
    })
    .await?;
    stream.set_nodelay(true)?;
    report.connections += 1;
    Ok(stream)
}

impl HttpConn {
    async fn open(addr: SocketAddr, pace: Duration, report: &mut Report) -> Result<HttpConn> {
        let stream = connect(addr, pace, report).await?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let driver = tokio::spawn(conn);
        Ok(HttpConn {
            sender,
            driver,
            host: addr.to_string(),
            pace,
        })
    }

    /// Sends one request and returns the response head; the caller reads the body.
    async fn request(
        &mut self,
        method: Method,
        path: &str,
        body: &str,
        close: bool,
        report: &mut Report,
    ) -> Result<Response<Incoming>> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.host)
            .header(header::USER_AGENT, "synscope-demo");
        if close {
            req = req.header(header::CONNECTION, "close");
        }
        if !body.is_empty() {
            req = req.header(header::CONTENT_TYPE, "text/plain; charset=utf-8");
        }
        let req = req.body(Full::new(Bytes::copy_from_slice(body.as_bytes())))?;
        let sender = &mut self.sender;
        let resp = within(self.pace, "HTTP response", async move {
            sender.ready().await?;
            Ok(sender.send_request(req).await?)
        })
        .await?;
        report.statuses.push(resp.status().as_u16());
        Ok(resp)
    }

    /// Ends the connection: the client closes (FIN) unless the server already did, and waits
    /// until hyper has shut the socket.
    async fn close(self) -> Result<()> {
        drop(self.sender);
        let driver = self.driver;
        within(self.pace, "connection close", async move {
            match driver.await {
                Ok(r) => Ok(r?),
                Err(e) => Err(DemoError::Unexpected(format!(
                    "connection task failed: {e}"
                ))),
            }
        })
        .await
    }
}

/// Reads a whole response body (at most [`MAX_BODY`] bytes).
async fn read_body(resp: Response<Incoming>, pace: Duration) -> Result<Vec<u8>> {
    let mut body = resp.into_body();
    let mut out = Vec::new();
    within(pace, "HTTP body", async {
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                if out.len() + data.len() > MAX_BODY {
                    return Err(DemoError::Unexpected("response body too large".into()));
                }
                out.extend_from_slice(&data);
            }
        }
        Ok(())
    })
    .await?;
    Ok(out)
}

fn expect_status(resp: &Response<Incoming>, want: &[u16]) -> Result<u16> {
    let got = resp.status().as_u16();
    if want.contains(&got) {
        Ok(got)
    } else {
        Err(DemoError::Unexpected(format!(
            "status {got}, expected one of {want:?}"
        )))
    }
}

/// Reads a poll or long-poll answer; returns the `since` to ask next.
async fn read_news(
    resp: Response<Incoming>,
    since: u64,
    pace: Duration,
    report: &mut Report,
) -> Result<u64> {
    let status = expect_status(&resp, &[200, 204])?;
    let body = read_body(resp, pace).await?;
    if status == 204 {
        report.empty_answers += 1;
        return Ok(since);
    }
    let answer: Answer = serde_json::from_slice(&body)?;
    if answer.news.is_empty() || answer.news.iter().any(|i| i.id <= since) {
        return Err(DemoError::Unexpected(format!(
            "news not newer than {since}: {answer:?}"
        )));
    }
    report.news += u32::try_from(answer.news.len()).unwrap_or(u32::MAX);
    Ok(answer.next)
}

async fn http(addr: SocketAddr, pace: Duration, report: &mut Report) -> Result<()> {
    let mut conn = HttpConn::open(addr, pace, report).await?;
    let resp = conn.request(Method::GET, "/", "", false, report).await?;
    expect_status(&resp, &[200])?;
    read_body(resp, pace).await?;
    tokio::time::sleep(pace).await;

    let resp = conn
        .request(
            Method::POST,
            "/send",
            "새 소식: hello from the demo",
            false,
            report,
        )
        .await?;
    expect_status(&resp, &[201])?;
    let created: serde_json::Value = serde_json::from_slice(&read_body(resp, pace).await?)?;
    let id = created["id"]
        .as_u64()
        .ok_or_else(|| DemoError::Unexpected(format!("no id in {created}")))?;
    tokio::time::sleep(pace).await;

    let path = format!("/poll?since={}", id.saturating_sub(1));
    let resp = conn.request(Method::GET, &path, "", false, report).await?;
    read_news(resp, id.saturating_sub(1), pace, report).await?;
    tokio::time::sleep(pace).await;

    let resp = conn
        .request(Method::GET, "/missing", "", false, report)
        .await?;
    expect_status(&resp, &[404])?;
    read_body(resp, pace).await?;
    conn.close().await
}

async fn polling(
    addr: SocketAddr,
    pace: Duration,
    keep_alive: bool,
    report: &mut Report,
) -> Result<()> {
    let mut since = 0;
    let mut kept = None;
    for i in 0..POLLS {
        if i > 0 {
            tokio::time::sleep(pace).await;
        }
        let mut conn = match kept.take() {
            Some(conn) => conn,
            None => HttpConn::open(addr, pace, report).await?,
        };
        let path = format!("/poll?since={since}");
        let resp = conn
            .request(Method::GET, &path, "", !keep_alive, report)
            .await?;
        since = read_news(resp, since, pace, report).await?;
        if keep_alive {
            kept = Some(conn);
        } else {
            // `Connection: close`: the server closes after its answer (RFC 9112 §9.6).
            conn.close().await?;
        }
    }
    if let Some(conn) = kept {
        conn.close().await?;
    }
    Ok(())
}

async fn long_polling(addr: SocketAddr, pace: Duration, report: &mut Report) -> Result<()> {
    let mut conn = HttpConn::open(addr, pace, report).await?;
    let mut since = 0;
    for i in 0..LONG_POLLS {
        // No pause: a long-polling client asks again as soon as it has an answer.
        let path = if i + 1 == LONG_POLLS {
            let timeout = pace_ms(pace).max(1);
            format!("/long-poll?since={since}&timeout_ms={timeout}")
        } else {
            format!("/long-poll?since={since}")
        };
        let resp = conn.request(Method::GET, &path, "", false, report).await?;
        since = read_news(resp, since, pace, report).await?;
    }
    conn.close().await
}

async fn streaming(addr: SocketAddr, pace: Duration, report: &mut Report) -> Result<()> {
    let mut conn = HttpConn::open(addr, pace, report).await?;
    let path = format!("/stream?n={STREAM_ITEMS}&every_ms={}", pace_ms(pace));
    let resp = conn.request(Method::GET, &path, "", false, report).await?;
    expect_status(&resp, &[200])?;
    read_pieces(resp, pace, "stream chunk", "stream too long", |data| {
        report.stream_reads += 1;
        let lines = data.iter().filter(|&&b| b == b'\n').count();
        report.stream_lines += u32::try_from(lines).unwrap_or(u32::MAX);
        Ok(())
    })
    .await?;
    conn.close().await
}

/// Reads a streamed body piece by piece as it arrives (each piece within one step's time,
/// at most [`MAX_BODY`] bytes in all), handing each to `piece`. `what` names the wait for a
/// timeout, `too_long` the error past the limit.
async fn read_pieces(
    resp: Response<Incoming>,
    pace: Duration,
    what: &'static str,
    too_long: &str,
    mut piece: impl FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let mut body = resp.into_body();
    let mut total = 0usize;
    while let Some(frame) = within(pace, what, async { Ok(body.frame().await) }).await? {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        total += data.len();
        if total > MAX_BODY {
            return Err(DemoError::Unexpected(too_long.into()));
        }
        piece(&data)?;
    }
    Ok(())
}

/// Incremental `text/event-stream` parser (WHATWG HTML §9.2.6), enough for the demo's
/// stream: lines end in LF, CRLF or CR; a blank line dispatches the event if it has data.
#[derive(Default)]
struct SseParser {
    line: Vec<u8>,
    data: String,
    last_cr: bool,
}

/// Longest SSE line the client keeps.
const MAX_SSE_LINE: usize = 16 * 1024;

impl SseParser {
    fn feed(&mut self, bytes: &[u8], report: &mut Report) -> Result<()> {
        for &b in bytes {
            let lf_after_cr = b == b'\n' && self.last_cr;
            self.last_cr = b == b'\r';
            if lf_after_cr {
                continue;
            }
            if b == b'\n' || b == b'\r' {
                let line = std::mem::take(&mut self.line);
                self.line_done(&String::from_utf8_lossy(&line), report);
            } else if self.line.len() < MAX_SSE_LINE {
                self.line.push(b);
            } else {
                return Err(DemoError::Unexpected("SSE line too long".into()));
            }
        }
        Ok(())
    }

    fn line_done(&mut self, line: &str, report: &mut Report) {
        if line.is_empty() {
            if !self.data.is_empty() {
                report.sse_events += 1;
            }
            self.data.clear();
            return;
        }
        if line.starts_with(':') {
            report.sse_comments += 1;
            return;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "data" => {
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                if self.data.len() + value.len() <= MAX_SSE_LINE {
                    self.data.push_str(value);
                }
            }
            "id" => report.sse_last_id = Some(value.to_owned()),
            "retry" => report.sse_retry = value.parse().ok().or(report.sse_retry),
            _ => {}
        }
    }
}

async fn sse(addr: SocketAddr, pace: Duration, report: &mut Report) -> Result<()> {
    let mut conn = HttpConn::open(addr, pace, report).await?;
    let path = format!("/events?n={STREAM_ITEMS}&every_ms={}", pace_ms(pace));
    let resp = conn.request(Method::GET, &path, "", false, report).await?;
    expect_status(&resp, &[200])?;
    let content_type = resp.headers().get(header::CONTENT_TYPE).cloned();
    if content_type.as_ref().and_then(|v| v.to_str().ok()) != Some("text/event-stream") {
        return Err(DemoError::Unexpected(format!(
            "content-type {content_type:?}"
        )));
    }
    let mut parser = SseParser::default();
    read_pieces(resp, pace, "SSE event", "event stream too long", |data| {
        parser.feed(data, report)
    })
    .await?;
    conn.close().await
}

type Ws = WebSocketStream<TcpStream>;

/// What a WebSocket runs over: TCP, or TLS over TCP.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> Io for T {}

async fn ws_connect(addr: SocketAddr, pace: Duration, report: &mut Report) -> Result<Ws> {
    let stream = connect(addr, pace, report).await?;
    // `SocketAddr`'s Display brackets IPv6 addresses, as a URL needs.
    let url = format!("ws://{addr}/ws");
    let (ws, resp) = within(pace, "WebSocket handshake", async {
        Ok(tokio_tungstenite::client_async(url, stream).await?)
    })
    .await?;
    report.statuses.push(resp.status().as_u16());
    Ok(ws)
}

/// The next message that is not a server ping (those are counted; tungstenite answers them).
async fn ws_next<S: Io>(
    ws: &mut WebSocketStream<S>,
    pace: Duration,
    report: &mut Report,
) -> Result<Message> {
    loop {
        let msg = within(pace, "WebSocket message", async {
            match ws.next().await {
                Some(m) => Ok(m?),
                None => Err(DemoError::Unexpected("WebSocket ended early".into())),
            }
        })
        .await?;
        match msg {
            Message::Ping(_) => report.ws_server_pings += 1,
            other => return Ok(other),
        }
    }
}

/// Sends a data message and checks that the next data message is the same.
async fn ws_echo<S: Io>(
    ws: &mut WebSocketStream<S>,
    msg: Message,
    pace: Duration,
    report: &mut Report,
) -> Result<()> {
    ws.send(msg.clone()).await?;
    report.ws_sent += 1;
    expect_echo(ws, &msg, pace, report).await
}

async fn expect_echo<S: Io>(
    ws: &mut WebSocketStream<S>,
    sent: &Message,
    pace: Duration,
    r: &mut Report,
) -> Result<()> {
    let got = ws_next(ws, pace, r).await?;
    if &got == sent {
        r.ws_echoed += 1;
        Ok(())
    } else {
        Err(DemoError::Unexpected(format!(
            "echo {got:?}, sent {sent:?}"
        )))
    }
}

async fn expect_pong<S: Io>(
    ws: &mut WebSocketStream<S>,
    payload: &[u8],
    pace: Duration,
    r: &mut Report,
) -> Result<()> {
    match ws_next(ws, pace, r).await? {
        Message::Pong(p) if p.as_ref() == payload => {
            r.ws_pongs += 1;
            Ok(())
        }
        other => Err(DemoError::Unexpected(format!(
            "expected a pong, got {other:?}"
        ))),
    }
}

/// Closes with 1000 "bye" and reads until the server's close and the end of the stream
/// (RFC 6455 §7.1.1: the server closes the TCP connection first).
async fn ws_close<S: Io>(
    mut ws: WebSocketStream<S>,
    pace: Duration,
    report: &mut Report,
) -> Result<()> {
    ws.close(Some(CloseFrame {
        code: CloseCode::from(CLOSE_CODE),
        reason: CLOSE_REASON.into(),
    }))
    .await?;
    loop {
        let next = within(pace, "WebSocket close", async { Ok(ws.next().await) }).await?;
        match next {
            Some(Ok(Message::Close(frame))) => {
                report.ws_close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
            }
            Some(Ok(Message::Ping(_))) => report.ws_server_pings += 1,
            Some(Ok(other)) => {
                return Err(DemoError::Unexpected(format!("after close: {other:?}")))
            }
            Some(Err(tokio_tungstenite::tungstenite::Error::ConnectionClosed)) | None => break,
            // A TLS server that closes without close_notify, after its close frame.
            Some(Err(tokio_tungstenite::tungstenite::Error::Io(e)))
                if e.kind() == std::io::ErrorKind::UnexpectedEof && report.ws_close.is_some() =>
            {
                break
            }
            Some(Err(e)) => return Err(e.into()),
        }
    }
    if report.ws_close.is_none() {
        return Err(DemoError::Unexpected(
            "no close frame from the server".into(),
        ));
    }
    Ok(())
}

async fn websocket(addr: SocketAddr, pace: Duration, report: &mut Report) -> Result<()> {
    let mut ws = ws_connect(addr, pace, report).await?;
    tokio::time::sleep(pace).await;
    ws_echo(&mut ws, Message::text("hello"), pace, report).await?;
    tokio::time::sleep(pace).await;
    ws_echo(&mut ws, Message::text(KOREAN_TEXT), pace, report).await?;
    tokio::time::sleep(pace).await;
    let binary: Vec<u8> = (0u8..16).chain([0xfe, 0xff, 0x00, 0x80]).collect();
    ws_echo(&mut ws, Message::binary(binary), pace, report).await?;
    tokio::time::sleep(pace).await;

    let ping = b"are you there?";
    ws.send(Message::Ping(Bytes::from_static(ping))).await?;
    expect_pong(&mut ws, ping, pace, report).await?;
    tokio::time::sleep(pace).await;

    // 300 bytes: the 16-bit extended payload length (RFC 6455 §5.2).
    let long = "0123456789".repeat(30);
    ws_echo(&mut ws, Message::text(long), pace, report).await?;
    tokio::time::sleep(pace).await;

    // One text message in three frames: FIN=0 text, FIN=0 continuation, FIN=1
    // continuation, with a ping between the first two: control frames may be injected in
    // the middle of a fragmented message (RFC 6455 §5.4).
    let text = OpCode::Data(Data::Text);
    let cont = OpCode::Data(Data::Continue);
    ws.send(Message::Frame(Frame::message("frag", text, false)))
        .await?;
    tokio::time::sleep(pace).await;
    let mid = b"between fragments";
    ws.send(Message::Ping(Bytes::from_static(mid))).await?;
    expect_pong(&mut ws, mid, pace, report).await?;
    tokio::time::sleep(pace).await;
    ws.send(Message::Frame(Frame::message("men", cont, false)))
        .await?;
    tokio::time::sleep(pace).await;
    ws.send(Message::Frame(Frame::message("ted", cont, true)))
        .await?;
    report.ws_sent += 1;
    expect_echo(&mut ws, &Message::text("fragmented"), pace, report).await?;
    tokio::time::sleep(pace).await;

    ws_close(ws, pace, report).await
}

async fn websocket_large(addr: SocketAddr, pace: Duration, report: &mut Report) -> Result<()> {
    let mut ws = ws_connect(addr, pace, report).await?;
    tokio::time::sleep(pace).await;
    let data: Vec<u8> = (0..LARGE_MESSAGE).map(|i| (i % 251) as u8).collect();
    ws_echo(&mut ws, Message::binary(data), pace, report).await?;
    tokio::time::sleep(pace).await;
    ws_close(ws, pace, report).await
}

async fn wss(addr: SocketAddr, pace: Duration, report: &mut Report) -> Result<()> {
    let demo = super::tls::demo().map_err(DemoError::Unexpected)?;
    let tcp = connect(addr, pace, report).await?;
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::clone(&demo.client));
    let name = rustls::pki_types::ServerName::try_from("localhost")
        .map_err(|e| DemoError::Unexpected(e.to_string()))?;
    let tls = within(pace, "TLS handshake", async {
        Ok(connector.connect(name, tcp).await?)
    })
    .await?;
    let url = format!("wss://localhost:{}/ws", addr.port());
    let (mut ws, resp) = within(pace, "WebSocket handshake", async {
        Ok(tokio_tungstenite::client_async(url, tls).await?)
    })
    .await?;
    report.statuses.push(resp.status().as_u16());
    tokio::time::sleep(pace).await;
    ws_echo(&mut ws, Message::text("hello over TLS"), pace, report).await?;
    tokio::time::sleep(pace).await;
    ws_echo(&mut ws, Message::text(KOREAN_TEXT), pace, report).await?;
    tokio::time::sleep(pace).await;
    let ping = b"still there?";
    ws.send(Message::Ping(Bytes::from_static(ping))).await?;
    expect_pong(&mut ws, ping, pace, report).await?;
    tokio::time::sleep(pace).await;
    ws_close(ws, pace, report).await
}

async fn refused(addr: SocketAddr, report: &mut Report) -> Result<()> {
    match TcpStream::connect(addr).await {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            report.refused += 1;
            Ok(())
        }
        Err(e) => Err(e.into()),
        Ok(_) => Err(DemoError::Unexpected(format!(
            "{addr} accepted a connection; the refused scenario needs a closed port"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_round_trip() {
        for sc in Scenario::EVERY {
            assert_eq!(sc.name().parse::<Scenario>(), Ok(sc));
        }
        assert!("nope"
            .parse::<Scenario>()
            .unwrap_err()
            .contains("websocket"));
    }

    fn parse_sse(chunks: &[&[u8]]) -> Report {
        let mut parser = SseParser::default();
        let mut report = Report::default();
        for c in chunks {
            parser.feed(c, &mut report).unwrap();
        }
        report
    }

    #[test]
    fn sse_parser_counts_events_comments_retry_and_ids() {
        let stream = b": hello\nretry: 3000\n\nevent: news\nid: 1\ndata: a\n\n\
                       event: news\r\nid: 2\r\ndata: b\r\ndata: c\r\n\r\nid: 3\rdata:d\r\r";
        let whole = parse_sse(&[stream]);
        assert_eq!(whole.sse_events, 3);
        assert_eq!(whole.sse_comments, 1);
        assert_eq!(whole.sse_retry, Some(3000));
        assert_eq!(whole.sse_last_id.as_deref(), Some("3"));
        // Any split point gives the same result, CRLF cut in two included.
        for cut in 0..=stream.len() {
            let (a, b) = stream.split_at(cut);
            assert_eq!(parse_sse(&[a, b]), whole, "cut at {cut}");
        }
    }

    #[test]
    fn sse_event_without_data_is_not_dispatched() {
        let r = parse_sse(&[b"event: x\nid: 9\n\n"]);
        assert_eq!(r.sse_events, 0);
        assert_eq!(r.sse_last_id.as_deref(), Some("9"));
    }

    #[test]
    fn report_add_sums_and_keeps_last() {
        let mut a = Report {
            news: 2,
            ws_close: Some((1000, "bye".into())),
            statuses: vec![200],
            ..Report::default()
        };
        a.add(Report {
            news: 3,
            statuses: vec![204],
            ..Report::default()
        });
        assert_eq!(a.news, 5);
        assert_eq!(a.statuses, vec![200, 204]);
        assert_eq!(a.ws_close, Some((1000, "bye".into())));
    }
}
