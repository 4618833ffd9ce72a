//! Crafted captures for integration tests: a TCP conversation builder over etherparse's
//! PacketBuilder that writes classic pcap bytes.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};

use etherparse::PacketBuilder;
use synscope::capture::CaptureReader;
use synscope::engine::Engine;
use synscope::model::{Event, Limits};

/// A classic little-endian microsecond pcap with one link type.
pub struct Pcap {
    pub bytes: Vec<u8>,
}

impl Pcap {
    pub fn new(linktype: u32) -> Pcap {
        let mut b = Vec::new();
        b.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&4u16.to_le_bytes());
        b.extend_from_slice(&0i32.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&65535u32.to_le_bytes());
        b.extend_from_slice(&linktype.to_le_bytes());
        Pcap { bytes: b }
    }

    /// Appends a record; `snap` cuts the captured bytes (orig_len stays the full length).
    pub fn record(&mut self, usec: u64, data: &[u8], snap: Option<usize>) {
        let cap = snap.map_or(data.len(), |s| s.min(data.len()));
        self.bytes
            .extend_from_slice(&((usec / 1_000_000) as u32).to_le_bytes());
        self.bytes
            .extend_from_slice(&((usec % 1_000_000) as u32).to_le_bytes());
        self.bytes.extend_from_slice(&(cap as u32).to_le_bytes());
        self.bytes
            .extend_from_slice(&(data.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(&data[..cap]);
    }
}

/// Flags for [`Conv::seg`].
pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;
pub const FIN: u8 = 0x01;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;

/// One TCP connection between a client and a server, tracking both sides' sequence numbers.
pub struct Conv {
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Next sequence number of each side [client, server].
    pub next: [u32; 2],
    pub usec: u64,
    pub pcap: Pcap,
    /// Ethernet framing (linktype 1) or raw IP (101).
    pub ethernet: bool,
}

impl Conv {
    pub fn new(client: &str, server: &str) -> Conv {
        Conv {
            client: client.parse().unwrap(),
            server: server.parse().unwrap(),
            next: [1000, 5000],
            usec: 1_700_000_000_000_000,
            pcap: Pcap::new(1),
            ethernet: true,
        }
    }

    /// Builds the bytes of one segment from `from_client`'s side with explicit seq.
    pub fn packet(&self, from_client: bool, flags: u8, seq: u32, payload: &[u8]) -> Vec<u8> {
        let (src, dst) = if from_client {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        let ack = self.next[usize::from(from_client)];
        let b = if self.ethernet {
            PacketBuilder::ethernet2([1, 0, 0, 0, 0, 1], [1, 0, 0, 0, 0, 2])
        } else {
            unreachable!("only ethernet framing is built here")
        };
        let b = match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => b.ipv4(s.octets(), d.octets(), 64),
            (IpAddr::V6(s), IpAddr::V6(d)) => b.ipv6(s.octets(), d.octets(), 64),
            _ => panic!("mixed address families"),
        };
        let mut t = b.tcp(src.port(), dst.port(), seq, 65535);
        if flags & SYN != 0 {
            t = t
                .options(&[
                    etherparse::TcpOptionElement::MaximumSegmentSize(65495),
                    etherparse::TcpOptionElement::SelectiveAcknowledgementPermitted,
                    etherparse::TcpOptionElement::WindowScale(7),
                ])
                .unwrap();
        }
        if flags & ACK != 0 {
            t = t.ack(ack);
        }
        if flags & FIN != 0 {
            t = t.fin();
        }
        if flags & RST != 0 {
            t = t.rst();
        }
        if flags & PSH != 0 {
            t = t.psh();
        }
        if flags & SYN != 0 {
            t = t.syn();
        }
        let mut out = Vec::with_capacity(b_len(payload));
        t.write(&mut out, payload).unwrap();
        out
    }

    /// Sends a segment at the side's next sequence number and advances it.
    pub fn seg(&mut self, from_client: bool, flags: u8, payload: &[u8]) {
        let side = usize::from(!from_client);
        let seq = self.next[side];
        let p = self.packet(from_client, flags, seq, payload);
        self.push(&p, None);
        let adv = payload.len() as u32 + u32::from(flags & (SYN | FIN) != 0);
        self.next[side] = seq.wrapping_add(adv);
    }

    /// Records raw packet bytes 10 µs after the previous one.
    pub fn push(&mut self, p: &[u8], snap: Option<usize>) {
        self.usec += 10;
        self.pcap.record(self.usec, p, snap);
    }

    pub fn handshake(&mut self) {
        self.seg(true, SYN, b"");
        self.seg(false, SYN | ACK, b"");
        self.seg(true, ACK, b"");
    }

    pub fn close(&mut self) {
        self.seg(true, FIN | ACK, b"");
        self.seg(false, FIN | ACK, b"");
        self.seg(true, ACK, b"");
    }
}

fn b_len(payload: &[u8]) -> usize {
    payload.len() + 80
}

/// Decodes pcap bytes through the whole engine.
pub fn decode(bytes: &[u8]) -> Vec<Event> {
    let mut r = CaptureReader::new(bytes).unwrap();
    let mut engine = Engine::new(Limits::default());
    let mut events = Vec::new();
    while let Some(f) = r.next_frame().unwrap() {
        engine.ingest(&f, &mut events);
    }
    engine.finish(&mut events);
    events
}

/// Event kinds in order, for compact assertions.
pub fn kinds(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.body.kind()).collect()
}

/// A masked client WebSocket frame.
pub fn client_frame(fin: bool, opcode: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut f = vec![(u8::from(fin) << 7) | opcode];
    header_len(&mut f, payload.len(), true);
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

/// An unmasked server WebSocket frame.
pub fn server_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![(u8::from(fin) << 7) | opcode];
    header_len(&mut f, payload.len(), false);
    f.extend_from_slice(payload);
    f
}

fn header_len(f: &mut Vec<u8>, len: usize, masked: bool) {
    let m = if masked { 0x80 } else { 0 };
    if len < 126 {
        f.push(m | len as u8);
    } else if len <= 0xffff {
        f.push(m | 126);
        f.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        f.push(m | 127);
        f.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

pub const UPGRADE_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
pub const UPGRADE_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
