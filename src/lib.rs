//! synscope: see how TCP connections open, carry HTTP, upgrade to WebSocket and close.
//!
//! Pipeline: [`capture`] (pcap/pcapng frames) -> [`decode`] (link/IP/TCP) -> [`flow`]
//! (connections, sequence analysis, reassembly) -> [`proto`] (TLS, HTTP/1.x, WebSocket) ->
//! [`model`] (events) -> views ([`view`], [`tui`]). [`engine::Engine`] ties the stages
//! together; it is synchronous and owns no thread.

pub mod capture;
pub mod decode;
pub mod demo;
pub mod engine;
pub mod explain;
pub mod filter;
pub mod flow;
pub mod keylog;
#[cfg(target_os = "linux")]
pub mod live;
pub mod model;
pub mod pattern;
pub mod proto;
pub mod tui;
pub mod view;
