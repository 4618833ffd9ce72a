//! TCP connections: tracking by 4-tuple, relative sequence numbers, Wireshark-style analysis,
//! and reassembly into one in-order byte stream per direction.
//!
//! INTERFACE STUB: the flow helper replaces the bodies; the signatures are the contract.

use crate::decode::TcpPacket;
use crate::model::{ConnId, Dir, Event, EventBody, Limits, Stamp};

/// Where a connection's application events go, with the packet's stamp.
pub struct Cx<'o> {
    pub stamp: Stamp,
    pub conn: ConnId,
    pub limits: &'o Limits,
    pub out: &'o mut Vec<Event>,
}

impl Cx<'_> {
    pub fn emit(&mut self, dir: Option<Dir>, body: EventBody) {
        self.out.push(self.stamp.event(Some(self.conn), dir, body));
    }
}

/// The application layer riding on a connection: receives each direction's in-order bytes.
pub trait StreamSink {
    fn new(limits: &Limits) -> Self;
    /// The next in-order bytes of `dir`.
    fn on_data(&mut self, dir: Dir, data: &[u8], cx: &mut Cx);
    /// `len` bytes of `dir` are missing; the next `on_data` continues after them.
    fn on_gap(&mut self, dir: Dir, len: u32, cx: &mut Cx);
    /// `dir` will carry no more bytes (FIN, RST, or the capture ended).
    fn on_end(&mut self, dir: Dir, cx: &mut Cx);
    /// Whether the connection switched to WebSocket (reported in `connection_end`).
    fn is_websocket(&self) -> bool;
}

/// All connections of a capture.
pub struct FlowTable<S: StreamSink> {
    _s: Option<S>,
}

impl<S: StreamSink> FlowTable<S> {
    pub fn new(limits: Limits) -> Self {
        let _ = limits;
        FlowTable { _s: None }
    }

    /// Takes one TCP segment, appends its events (connection, tcp, handshake, gap, app events,
    /// connection_end) to `out` in order.
    pub fn ingest(&mut self, pkt: &TcpPacket, stamp: Stamp, out: &mut Vec<Event>) {
        let _ = (pkt, stamp, out);
    }

    /// End of capture: flush held segments (as gaps), end every stream, and emit a
    /// `connection_end` for each connection not yet ended.
    pub fn finish(&mut self, stamp: Stamp, out: &mut Vec<Event>) {
        let _ = (stamp, out);
    }
}
