//! Real traffic for the lesson: a small server and the clients that act out each pattern.
//!
//! The lesson (TCP handshake, HTTP, short polling, long polling, streaming, Server-Sent Events,
//! WebSocket) is easiest to understand on real packets between real peers. This module is that
//! pair of peers, usable from the `synscope` binary (a live demo captures them on loopback),
//! from `examples/traffic.rs` (which `scripts/record-captures.sh` records into
//! `assets/captures/`) and from `tests/demo_traffic.rs`.
//!
//! - [`serve`] runs an axum server: `GET /`, `POST /send`, `GET /poll`, `GET /long-poll`,
//!   `GET /stream` (chunked), `GET /events` (SSE) and `GET /ws` (WebSocket echo chat).
//! - [`run`] runs one [`Scenario`] against it and returns a [`Report`] of what the client saw.
//! - [`show`] is `synscope demo`: server and clients in process, captured live and drawn.
//!
//! Everything is bounded: every scenario sends a fixed number of requests and messages, every
//! wait has a timeout, and the server clamps every count and delay a client asks for.
//! Nothing here reads a packet: this is the traffic, not the decoder.

mod clients;
mod news;
mod server;
#[cfg(target_os = "linux")]
pub mod show;
pub mod tls;

pub use clients::{
    run, Report, Scenario, CLOSE_CODE, CLOSE_REASON, KOREAN_TEXT, LARGE_MESSAGE, LONG_POLLS, POLLS,
    STREAM_ITEMS,
};
pub use server::{serve, serve_with_tls, ServerConfig, SHUTDOWN_GRACE};

/// Why a demo client or server stopped before finishing its scenario.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("http: {0}")]
    Http(#[from] hyper::Error),
    #[error("http request: {0}")]
    Request(#[from] hyper::http::Error),
    // Boxed: tungstenite's error is large and would make every `Result` here large too.
    #[error("websocket: {0}")]
    WebSocket(Box<tokio_tungstenite::tungstenite::Error>),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// The peer answered, but not what the scenario expects (the text says what differed).
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

impl From<tokio_tungstenite::tungstenite::Error> for DemoError {
    fn from(e: tokio_tungstenite::tungstenite::Error) -> Self {
        DemoError::WebSocket(Box::new(e))
    }
}
