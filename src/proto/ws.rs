//! WebSocket (RFC 6455) frames and messages, with permessage-deflate (RFC 7692).
//!
//! INTERFACE STUB: the WebSocket helper replaces the bodies; the signatures are the contract.

use crate::flow::Cx;
use crate::model::{DeflateParams, Dir, Limits};

/// Both directions of one upgraded connection.
pub struct WsSession {}

impl WsSession {
    pub fn new(deflate: Option<DeflateParams>, limits: &Limits) -> Self {
        let _ = (deflate, limits);
        WsSession {}
    }

    /// Feeds in-order bytes of `dir`; emits `ws_frame`, `ws_message` and `violation` events.
    pub fn feed(&mut self, dir: Dir, data: &[u8], cx: &mut Cx) {
        let _ = (dir, data, cx);
    }

    /// `len` bytes of `dir` are missing.
    pub fn gap(&mut self, dir: Dir, len: u32, cx: &mut Cx) {
        let _ = (dir, len, cx);
    }

    /// `dir` ended; a frame or message cut short is reported.
    pub fn end(&mut self, dir: Dir, cx: &mut Cx) {
        let _ = (dir, cx);
    }
}
