//! Helpers shared by the integration tests. Here: crafted captures (a TCP conversation builder
//! over etherparse's PacketBuilder that writes classic pcap or pcapng bytes, with any link
//! framing synscope reads), the committed captures, and decoding either through the engine.
//! [`tui`]: the TUI drawn without a terminal; [`tmux`]: the binary in a real pseudo-terminal;
//! [`rights`]: running without capture rights.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod rights;
pub mod tmux;
pub mod tui;

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use etherparse::PacketBuilder;
use synscope::capture::{open_path, CaptureReader};
use synscope::engine::Engine;
use synscope::model::{Event, EventBody, Limits};
use synscope::view;

/// Link framing of every packet in a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// LINKTYPE_ETHERNET (1).
    Ethernet,
    /// LINKTYPE_RAW (101): the IP header first.
    Raw,
    /// LINKTYPE_LINUX_SLL (113), Linux cooked v1.
    Sll,
    /// LINKTYPE_LINUX_SLL2 (276), Linux cooked v2.
    Sll2,
    /// LINKTYPE_NULL (0), BSD loopback: a 4-byte address family in host order.
    Null,
}

impl Link {
    pub fn linktype(self) -> u32 {
        match self {
            Link::Ethernet => 1,
            Link::Raw => 101,
            Link::Sll => 113,
            Link::Sll2 => 276,
            Link::Null => 0,
        }
    }

    /// Puts the link header in front of an IP packet.
    pub fn wrap(self, ip: &[u8]) -> Vec<u8> {
        let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
        let ethertype: u16 = if v6 { 0x86dd } else { 0x0800 };
        let mut f = Vec::with_capacity(ip.len() + 20);
        match self {
            Link::Ethernet => {
                f.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
                f.extend_from_slice(&ethertype.to_be_bytes());
            }
            Link::Raw => {}
            Link::Sll => {
                // packet type (0 = to us), ARPHRD_LOOPBACK 772, address length, address (8),
                // protocol.
                f.extend_from_slice(&0u16.to_be_bytes());
                f.extend_from_slice(&772u16.to_be_bytes());
                f.extend_from_slice(&6u16.to_be_bytes());
                f.extend_from_slice(&[0; 8]);
                f.extend_from_slice(&ethertype.to_be_bytes());
            }
            Link::Sll2 => {
                // protocol, reserved, ifindex, ARPHRD, packet type, address length, address.
                f.extend_from_slice(&ethertype.to_be_bytes());
                f.extend_from_slice(&0u16.to_be_bytes());
                f.extend_from_slice(&1u32.to_be_bytes());
                f.extend_from_slice(&772u16.to_be_bytes());
                f.push(0);
                f.push(6);
                f.extend_from_slice(&[0; 8]);
            }
            Link::Null => {
                // AF_INET 2, AF_INET6 30 (macOS), written little-endian like a macOS host.
                let family: u32 = if v6 { 30 } else { 2 };
                f.extend_from_slice(&family.to_le_bytes());
            }
        }
        f.extend_from_slice(ip);
        f
    }
}

/// One captured packet.
#[derive(Debug, Clone)]
pub struct Record {
    pub usec: u64,
    pub data: Vec<u8>,
    /// Length on the wire (>= data.len()).
    pub orig_len: usize,
}

/// Packets of one link type, written as classic pcap or pcapng.
#[derive(Debug, Clone)]
pub struct Pcap {
    pub linktype: u32,
    pub records: Vec<Record>,
}

impl Pcap {
    pub fn new(linktype: u32) -> Pcap {
        Pcap {
            linktype,
            records: Vec::new(),
        }
    }

    /// Appends a record; `snap` cuts the captured bytes (orig_len stays the full length).
    pub fn record(&mut self, usec: u64, data: &[u8], snap: Option<usize>) {
        let cap = snap.map_or(data.len(), |s| s.min(data.len()));
        self.records.push(Record {
            usec,
            data: data[..cap].to_vec(),
            orig_len: data.len(),
        });
    }

    /// The global header alone: a little-endian microsecond pcap.
    pub fn header(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&4u16.to_le_bytes());
        b.extend_from_slice(&0i32.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&65535u32.to_le_bytes());
        b.extend_from_slice(&self.linktype.to_le_bytes());
        b
    }

    /// One classic pcap record (header and data).
    pub fn pcap_record(r: &Record) -> Vec<u8> {
        let mut b = Vec::with_capacity(16 + r.data.len());
        b.extend_from_slice(&((r.usec / 1_000_000) as u32).to_le_bytes());
        b.extend_from_slice(&((r.usec % 1_000_000) as u32).to_le_bytes());
        b.extend_from_slice(&(r.data.len() as u32).to_le_bytes());
        b.extend_from_slice(&(r.orig_len as u32).to_le_bytes());
        b.extend_from_slice(&r.data);
        b
    }

    /// Classic pcap bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let mut b = self.header();
        for r in &self.records {
            b.extend_from_slice(&Pcap::pcap_record(r));
        }
        b
    }

    /// pcapng bytes: one SHB, one IDB (default microsecond resolution), one EPB per packet.
    pub fn pcapng(&self) -> Vec<u8> {
        fn block(out: &mut Vec<u8>, btype: u32, body: &[u8]) {
            let pad = (4 - body.len() % 4) % 4;
            let len = (12 + body.len() + pad) as u32;
            out.extend_from_slice(&btype.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(body);
            out.extend(std::iter::repeat_n(0u8, pad));
            out.extend_from_slice(&len.to_le_bytes());
        }
        let mut b = Vec::new();
        let mut shb = Vec::new();
        shb.extend_from_slice(&0x1a2b3c4du32.to_le_bytes());
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        shb.extend_from_slice(&(-1i64).to_le_bytes());
        block(&mut b, 0x0a0d0d0a, &shb);
        let mut idb = Vec::new();
        idb.extend_from_slice(&(self.linktype as u16).to_le_bytes());
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&65535u32.to_le_bytes());
        block(&mut b, 1, &idb);
        for r in &self.records {
            let mut epb = Vec::new();
            epb.extend_from_slice(&0u32.to_le_bytes());
            epb.extend_from_slice(&((r.usec >> 32) as u32).to_le_bytes());
            epb.extend_from_slice(&(r.usec as u32).to_le_bytes());
            epb.extend_from_slice(&(r.data.len() as u32).to_le_bytes());
            epb.extend_from_slice(&(r.orig_len as u32).to_le_bytes());
            epb.extend_from_slice(&r.data);
            block(&mut b, 6, &epb);
        }
        b
    }
}

/// Flags for [`Conv::seg`].
pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;
pub const FIN: u8 = 0x01;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;

/// One TCP connection between a client and a server, tracking both sides' sequence numbers.
/// Every packet goes into `pcap`, framed by `link`, 10 µs after the previous one.
pub struct Conv {
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Next sequence number of each side [client, server].
    pub next: [u32; 2],
    pub usec: u64,
    pub link: Link,
    pub pcap: Pcap,
}

impl Conv {
    /// A conversation over Ethernet.
    pub fn new(client: &str, server: &str) -> Conv {
        Conv::with_link(client, server, Link::Ethernet)
    }

    pub fn with_link(client: &str, server: &str, link: Link) -> Conv {
        Conv {
            client: client.parse().unwrap(),
            server: server.parse().unwrap(),
            next: [1000, 5000],
            usec: 1_700_000_000_000_000,
            link,
            pcap: Pcap::new(link.linktype()),
        }
    }

    /// The IP packet of one segment from `from_client`'s side with an explicit seq; it
    /// acknowledges everything the other side sent so far.
    pub fn ip_packet(&self, from_client: bool, flags: u8, seq: u32, payload: &[u8]) -> Vec<u8> {
        let ack = self.next[usize::from(from_client)];
        self.ip_packet_ack(from_client, flags, seq, ack, payload)
    }

    /// [`Conv::ip_packet`] with an explicit acknowledgement number.
    pub fn ip_packet_ack(
        &self,
        from_client: bool,
        flags: u8,
        seq: u32,
        ack: u32,
        payload: &[u8],
    ) -> Vec<u8> {
        let (src, dst) = if from_client {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        let b = match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64),
            (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), 64),
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
        let mut out = Vec::with_capacity(payload.len() + 80);
        t.write(&mut out, payload).unwrap();
        out
    }

    /// The framed bytes of one segment (see [`Conv::ip_packet`]).
    pub fn packet(&self, from_client: bool, flags: u8, seq: u32, payload: &[u8]) -> Vec<u8> {
        self.link
            .wrap(&self.ip_packet(from_client, flags, seq, payload))
    }

    /// Sends a segment at the side's next sequence number and advances it.
    pub fn seg(&mut self, from_client: bool, flags: u8, payload: &[u8]) {
        let side = usize::from(!from_client);
        let seq = self.next[side];
        let p = self.packet(from_client, flags, seq, payload);
        self.push(&p, None);
        self.advance(from_client, flags, payload.len());
    }

    /// Moves a side's next sequence number past a segment without capturing it (a packet the
    /// capture missed).
    pub fn advance(&mut self, from_client: bool, flags: u8, len: usize) {
        let side = usize::from(!from_client);
        let adv = len as u32 + u32::from(flags & (SYN | FIN) != 0);
        self.next[side] = self.next[side].wrapping_add(adv);
    }

    /// Sends data from the client (PSH-ACK).
    pub fn c2s(&mut self, payload: &[u8]) {
        self.seg(true, PSH | ACK, payload);
    }

    /// Sends data from the server (PSH-ACK).
    pub fn s2c(&mut self, payload: &[u8]) {
        self.seg(false, PSH | ACK, payload);
    }

    /// Records framed packet bytes 10 µs after the previous one.
    pub fn push(&mut self, p: &[u8], snap: Option<usize>) {
        self.usec += 10;
        self.pcap.record(self.usec, p, snap);
    }

    pub fn handshake(&mut self) {
        self.seg(true, SYN, b"");
        self.seg(false, SYN | ACK, b"");
        self.seg(true, ACK, b"");
    }

    /// Client FIN first, then the server's, then the last ACK.
    pub fn close(&mut self) {
        self.seg(true, FIN | ACK, b"");
        self.seg(false, FIN | ACK, b"");
        self.seg(true, ACK, b"");
    }

    /// Handshake, then the WebSocket upgrade request and its 101 (no extension).
    pub fn websocket(&mut self) {
        self.handshake();
        self.c2s(UPGRADE_REQUEST);
        self.s2c(UPGRADE_RESPONSE);
    }

    /// Handshake, then an upgrade negotiating permessage-deflate with `params` (the
    /// Sec-WebSocket-Extensions value offered and answered).
    pub fn websocket_deflate(&mut self, params: &str) {
        self.handshake();
        let req = format!(
            "GET /chat HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: {params}\r\n\r\n"
        );
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
             Sec-WebSocket-Extensions: {params}\r\n\r\n"
        );
        self.c2s(req.as_bytes());
        self.s2c(resp.as_bytes());
    }

    /// The capture as classic pcap bytes.
    pub fn bytes(&self) -> Vec<u8> {
        self.pcap.bytes()
    }
}

/// Decodes capture bytes (pcap or pcapng) through the whole engine.
pub fn decode(bytes: &[u8]) -> Vec<Event> {
    decode_with(bytes, Limits::default())
}

/// [`decode`] with explicit limits.
pub fn decode_with(bytes: &[u8], limits: Limits) -> Vec<Event> {
    dump(bytes);
    let mut r = CaptureReader::new(bytes).unwrap();
    let events = run_engine(&mut r, limits);
    assert!(!r.truncated_tail());
    // `SYNSCOPE_SHOW=1 cargo test --test NAME -- --nocapture` prints every transcript.
    if std::env::var_os("SYNSCOPE_SHOW").is_some() {
        eprintln!("{}", text(&events));
    }
    events
}

/// Every frame `r` gives, through a fresh engine with `limits`, then `finish` (a capture cut
/// in its last record is not an error here).
pub fn run_engine<R: Read>(r: &mut CaptureReader<R>, limits: Limits) -> Vec<Event> {
    let mut engine = Engine::new(limits);
    let mut events = Vec::new();
    while let Some(f) = r.next_frame().unwrap() {
        engine.ingest(&f, &mut events);
    }
    engine.finish(&mut events);
    events
}

/// Decodes a capture file through the whole engine, with the default limits.
pub fn decode_file(path: &Path) -> Vec<Event> {
    run_engine(&mut open_path(path).unwrap(), Limits::default())
}

/// Where the committed captures are: `assets/captures`.
pub fn captures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/captures")
}

/// The path of the committed capture `assets/captures/NAME`.
pub fn capture_path(name: &str) -> PathBuf {
    captures_dir().join(name)
}

/// Decodes the committed capture `assets/captures/NAME` (see [`decode_file`]).
pub fn decode_capture(name: &str) -> Vec<Event> {
    decode_file(&capture_path(name))
}

/// Every committed capture (`*.pcap`, `*.pcapng` in assets/captures), sorted by path.
pub fn captures() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(captures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.to_string_lossy();
            name.ends_with(".pcap") || name.ends_with(".pcapng")
        })
        .collect();
    paths.sort();
    paths
}

/// The TCP segment of an Ethernet frame (IPv4 or IPv6) with its source and destination.
pub fn tcp_of(frame: &[u8]) -> (SocketAddr, SocketAddr, etherparse::TcpSlice<'_>) {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    let p = SlicedPacket::from_ethernet(frame).expect("an Ethernet frame");
    let (s, d): (IpAddr, IpAddr) = match p.net.expect("an IP packet") {
        NetSlice::Ipv4(ip) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        NetSlice::Ipv6(ip) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        _ => panic!("not IP"),
    };
    let Some(TransportSlice::Tcp(t)) = p.transport else {
        panic!("not TCP")
    };
    (
        SocketAddr::new(s, t.source_port()),
        SocketAddr::new(d, t.destination_port()),
        t,
    )
}

/// A path for `name` in a directory of this test process's own, writable by everyone: a test
/// may run synscope as nobody and have it write there.
pub fn temp_path(name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("synscope-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    dir.join(name)
}

/// `SYNSCOPE_DUMP=DIR cargo test --test NAME` writes every crafted capture to
/// `DIR/TEST-N.pcap` (to compare with `tshark -r`).
fn dump(bytes: &[u8]) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    if let Some(dir) = std::env::var_os("SYNSCOPE_DUMP") {
        let test = std::thread::current()
            .name()
            .unwrap_or("main")
            .replace("::", "-");
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::path::Path::new(&dir).join(format!("{test}-{n}.pcap"));
        std::fs::write(path, bytes).unwrap();
    }
}

/// The text transcript of `events`, as `synscope decode` writes it.
pub fn text(events: &[Event]) -> String {
    let mut out = Vec::new();
    for e in events {
        view::text::write_event(&mut out, e).unwrap();
    }
    String::from_utf8(out).unwrap()
}

/// The JSON Lines output of `events`, as `synscope decode --format json` writes it.
pub fn json(events: &[Event]) -> String {
    let mut out = Vec::new();
    for e in events {
        view::json::write_event(&mut out, e).unwrap();
    }
    String::from_utf8(out).unwrap()
}

/// Event kinds in order, for compact assertions.
pub fn kinds(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.body.kind()).collect()
}

/// Event kinds in order, without the `tcp` events.
pub fn app_kinds(events: &[Event]) -> Vec<&'static str> {
    events
        .iter()
        .map(|e| e.body.kind())
        .filter(|k| *k != "tcp")
        .collect()
}

/// The events of the kinds named, in order.
pub fn only<'e>(events: &'e [Event], kind: &str) -> Vec<&'e Event> {
    events.iter().filter(|e| e.body.kind() == kind).collect()
}

/// The bodies of every event but `tcp`, without stamps: what must not depend on the link
/// framing or the container format.
pub fn app_events(events: &[Event]) -> Vec<EventBody> {
    events
        .iter()
        .filter(|e| !matches!(e.body, EventBody::Tcp(_)))
        .map(|e| e.body.clone())
        .collect()
}

/// A masked client WebSocket frame.
pub fn client_frame(fin: bool, opcode: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    client_frame_rsv(fin, 0, opcode, payload, key)
}

/// A masked client WebSocket frame with RSV bits (`rsv` is 0..=7, RSV1 = 4).
pub fn client_frame_rsv(fin: bool, rsv: u8, opcode: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut f = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
    header_len(&mut f, payload.len(), true);
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

/// An unmasked server WebSocket frame.
pub fn server_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    server_frame_rsv(fin, 0, opcode, payload)
}

/// An unmasked server WebSocket frame with RSV bits (`rsv` is 0..=7, RSV1 = 4).
pub fn server_frame_rsv(fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
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

/// RFC 6455 §1.3's example key and its accept value.
pub const UPGRADE_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
pub const UPGRADE_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
