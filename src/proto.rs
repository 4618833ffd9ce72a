//! Application protocols over a reassembled TCP connection: HTTP/1.x, then WebSocket after a
//! 101 upgrade.

pub mod http;
pub mod ws;

use crate::flow::{Cx, StreamSink};
use crate::model::{Dir, Limits};

/// One connection's application state: HTTP until a WebSocket upgrade, then WebSocket.
pub struct Session {
    http: http::Conversation,
    ws: Option<ws::WsSession>,
}

impl StreamSink for Session {
    fn new(limits: &Limits) -> Self {
        Session {
            http: http::Conversation::new(limits),
            ws: None,
        }
    }

    fn on_data(&mut self, dir: Dir, data: &[u8], cx: &mut Cx) {
        if let Some(ws) = &mut self.ws {
            ws.feed(dir, data, cx);
            return;
        }
        if let Some(up) = self.http.feed(dir, data, cx) {
            let mut ws = ws::WsSession::new(up.deflate, cx.limits);
            ws.feed(Dir::C2s, &up.leftover[0], cx);
            // Client bytes lost after the held ones (capture gap or hold limit).
            let mut lost = up.lost_c2s;
            while lost > 0 {
                let n = u32::try_from(lost).unwrap_or(u32::MAX);
                ws.gap(Dir::C2s, n, cx);
                lost -= u64::from(n);
            }
            ws.feed(Dir::S2c, &up.leftover[1], cx);
            self.ws = Some(ws);
        }
    }

    fn on_gap(&mut self, dir: Dir, len: u32, cx: &mut Cx) {
        match &mut self.ws {
            Some(ws) => ws.gap(dir, len, cx),
            None => self.http.gap(dir, len, cx),
        }
    }

    fn on_end(&mut self, dir: Dir, cx: &mut Cx) {
        match &mut self.ws {
            Some(ws) => ws.end(dir, cx),
            None => self.http.end(dir, cx),
        }
    }

    fn is_websocket(&self) -> bool {
        self.ws.is_some()
    }
}
