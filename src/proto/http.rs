//! HTTP/1.x over both directions of one connection.
//!
//! INTERFACE STUB: the HTTP helper replaces the bodies; the signatures are the contract.

use crate::flow::Cx;
use crate::model::{DeflateParams, Dir, Limits};

/// A switch to WebSocket: what was negotiated and the bytes of each direction that followed
/// the heads (they belong to the WebSocket stream).
#[derive(Debug, Default)]
pub struct Upgraded {
    pub deflate: Option<DeflateParams>,
    /// Bytes after the heads, [c2s, s2c].
    pub leftover: [Vec<u8>; 2],
}

/// Request/response state of one connection.
pub struct Conversation {}

impl Conversation {
    pub fn new(limits: &Limits) -> Self {
        let _ = limits;
        Conversation {}
    }

    /// Feeds in-order bytes of `dir`; returns `Some` once a 101 answer to a WebSocket upgrade
    /// request completes (the emitted `http_response` carries the `upgrade` details).
    pub fn feed(&mut self, dir: Dir, data: &[u8], cx: &mut Cx) -> Option<Upgraded> {
        let _ = (dir, data, cx);
        None
    }

    /// `len` bytes of `dir` are missing: resynchronise at the next message start.
    pub fn gap(&mut self, dir: Dir, len: u32, cx: &mut Cx) {
        let _ = (dir, len, cx);
    }

    /// `dir` ended: completes a read-until-close body, reports a truncated message.
    pub fn end(&mut self, dir: Dir, cx: &mut Cx) {
        let _ = (dir, cx);
    }
}
