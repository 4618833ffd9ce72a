//! The decode engine: frames in, events out. Synchronous, owns no thread; time comes from the
//! frames' timestamps.
//!
//! Every event the engine emits also goes through a [`PatternDetector`]; the `pattern` events
//! it makes for an event (a conversation shows a pattern, its report changed, it ended) come
//! right after that event, stamped with its time and frame. [`Engine::finish`] ends the
//! conversations still going, so their final reports come last (live capture calls it when
//! it stops, so they come there too).

use crate::capture::LinkType;
use crate::capture::RawFrame;
use crate::decode::{decode, Decoded, Skipped, MAX_MPLS_LABELS, MAX_VLAN_TAGS};
use crate::flow::{EventSink, FlowTable, Held};
use crate::keylog::{Added, KeyLog, KeyLogFile, KeySource};
use crate::model::{Event, EventBody, Layer, Limits, Malformed, Nanos, Note, Stamp, Timestamp};
use crate::pattern::PatternDetector;
use crate::proto::Session;

/// Counters over everything the engine was fed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub frames: u64,
    pub bytes: u64,
    pub tcp_segments: u64,
    /// Frames that were not TCP over IP: the sum of the reasons below.
    pub other: u64,
    pub malformed: u64,
    /// TCP segments the [`Filter`] left out.
    pub filtered: u64,
    /// Frames of a link type synscope cannot decode (also counted in `other`).
    pub unsupported_link: u64,
    /// Frames that are not IP: ARP, LLDP, netlink, MPLS over Ethernet... (in `other`).
    pub not_ip: u64,
    /// IP packets of another protocol: UDP, ICMP... (in `other`).
    pub not_tcp: u64,
    /// IP fragments, which synscope does not reassemble (in `other`).
    pub ip_fragments: u64,
    /// Frames under more VLAN tags or MPLS labels than synscope follows (in `other`).
    pub too_deep: u64,
    pub events: u64,
}

impl Stats {
    /// Why the `other` frames were not placed, as `ARP and the like 3, UDP/ICMP 5, ...`:
    /// the reasons with a count, in words; empty when there are none.
    pub fn other_reasons(&self) -> String {
        [
            (self.not_ip, "not IP"),
            (self.not_tcp, "not TCP"),
            (self.ip_fragments, "IP fragments"),
            (self.unsupported_link, "unsupported link type"),
            (self.too_deep, "too many VLAN/MPLS headers"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{what} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
    }
}

/// Which TCP segments to decode, as tcpdump's `tcp port N or ...` and `host ADDR` would pick
/// them; the default keeps everything. Segments left out are counted (`Stats::filtered`),
/// never decoded, so they open no connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Keep a segment from or to any of these ports (empty: any port).
    pub ports: Vec<u16>,
    /// Keep a segment from or to any of these addresses (empty: any address): a host name's
    /// addresses (`localhost`: 127.0.0.1 and ::1).
    pub hosts: Vec<std::net::IpAddr>,
}

impl Filter {
    /// Whether the filter keeps every segment.
    pub fn is_empty(&self) -> bool {
        self.ports.is_empty() && self.hosts.is_empty()
    }

    /// Whether a segment between `src` and `dst` passes.
    pub fn matches(&self, src: std::net::SocketAddr, dst: std::net::SocketAddr) -> bool {
        let port = self.ports.is_empty()
            || self.ports.contains(&src.port())
            || self.ports.contains(&dst.port());
        let host = self.hosts.is_empty()
            || self.hosts.contains(&src.ip())
            || self.hosts.contains(&dst.ip());
        port && host
    }
}

/// Most unsupported link types reported (one `note` each); a capture cycling through more
/// gets no further notes, so the list stays small.
pub const MAX_LINK_WARNINGS: usize = 64;

/// Most notes about frames the engine cannot place (IP fragments carrying TCP, stacks too
/// deep to follow) given one by one; the rest are counted in [`Stats`] only.
pub const MAX_UNPLACED_NOTES: u64 = 64;

/// Shows each event passed on to the pattern detector first, and passes on the pattern
/// reports it made for the event right after it.
struct Observed<'p, 'o> {
    patterns: &'p mut PatternDetector,
    out: Counted<'o>,
}

impl EventSink for Observed<'_, '_> {
    fn push(&mut self, event: Event) {
        self.patterns.observe(&event);
        let stamp = Stamp {
            ts: event.ts,
            t: event.t,
            frame: event.frame,
        };
        self.out.push(event);
        self.patterns.take_reports(stamp, &mut self.out);
    }
}

/// Counts the events passed on.
struct Counted<'a> {
    out: &'a mut dyn EventSink,
    n: u64,
}

impl EventSink for Counted<'_> {
    fn push(&mut self, event: Event) {
        self.n += 1;
        self.out.push(event);
    }
}

pub struct Engine {
    flows: FlowTable<Session>,
    origin: Option<Timestamp>,
    last: Stamp,
    stats: Stats,
    /// Unsupported link types already reported (one `malformed` event each, not one per frame).
    warned_links: Vec<LinkType>,
    patterns: PatternDetector,
    filter: Filter,
    /// Notes given about frames the engine could not place (bounded by
    /// [`MAX_UNPLACED_NOTES`]).
    unplaced_notes: u64,
    /// Key log remarks (bad lines, limits) waiting for a frame to be stamped with.
    key_notes: Vec<Note>,
    limits: Limits,
}

/// Most key log remarks waiting for a frame (they come once per source or per read).
const MAX_KEY_NOTES: usize = 16;

impl Engine {
    pub fn new(limits: Limits) -> Self {
        Engine {
            flows: FlowTable::new(limits),
            origin: None,
            last: Stamp::default(),
            stats: Stats::default(),
            warned_links: Vec::new(),
            patterns: PatternDetector::reporting(limits),
            filter: Filter::default(),
            unplaced_notes: 0,
            key_notes: Vec::new(),
            limits,
        }
    }

    /// The TLS secrets known so far.
    pub fn keys(&self) -> &KeyLog {
        self.flows.keys()
    }

    /// Whether secrets may still arrive while frames are decoded (`live`, `demo`): TLS
    /// connections then wait for missing secrets (see [`crate::proto::tls`]).
    pub fn set_keys_growing(&mut self, growing: bool) {
        self.flows.keys_mut().set_growing(growing);
    }

    /// Takes in the next bytes of an NSS key log (a file's text, a pcapng Decryption Secrets
    /// Block, what a TLS stack logs). Lines not understood become one `note` (`conn`-less,
    /// layer `tls`, stamped with the next frame); connections waiting for secrets that
    /// arrived go on at once, their events going to `out`.
    pub fn add_keys(&mut self, bytes: &[u8], out: &mut dyn EventSink) {
        let added = self.flows.keys_mut().add(bytes);
        self.keys_added(added, out);
    }

    /// Reads what `file` gained since the last read into the key log (the whole file the
    /// first time), and goes on as [`Engine::add_keys`] does; returns the bytes read. A file
    /// that does not exist yet reads as empty (a browser creates its key log at its first
    /// connection).
    pub fn read_keys(
        &mut self,
        file: &mut KeyLogFile,
        out: &mut dyn EventSink,
    ) -> std::io::Result<Vec<u8>> {
        let read = file.read_new(self.flows.keys_mut())?;
        if read.capped_now {
            self.key_note(
                "tls_keylog_too_large",
                format!(
                    "the key log {} is larger than synscope reads (Limits::max_keylog_bytes, \
                     {} bytes): the rest is ignored",
                    file.path().display(),
                    self.limits.max_keylog_bytes
                ),
            );
        }
        self.keys_added(read.added, out);
        Ok(read.text)
    }

    /// Loads a whole key log before decoding (`decode`, `replay`): every line, the last one
    /// even without its newline. An unreadable `--keylog` is an error; an unreadable
    /// `SSLKEYLOGFILE` is a note (the variable may be set for other programs).
    pub fn load_keys(&mut self, source: &KeySource) -> std::io::Result<()> {
        let mut file = KeyLogFile::new(&source.path, self.limits.max_keylog_bytes);
        let exists = source.path.exists();
        let mut none = Vec::new();
        match self.read_keys(&mut file, &mut none) {
            Ok(_) if exists => {}
            Ok(_) if source.from_env => self.key_note(
                "tls_keylog_unreadable",
                format!(
                    "{} does not exist: no TLS secrets from it",
                    source.describe()
                ),
            ),
            Ok(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{}: no such file", source.path.display()),
                ))
            }
            Err(e) if source.from_env => self.key_note(
                "tls_keylog_unreadable",
                format!(
                    "{} cannot be read ({e}): no TLS secrets from it",
                    source.describe()
                ),
            ),
            Err(e) => return Err(e),
        }
        self.end_keys(&mut none);
        Ok(())
    }

    /// The secrets of a pcapng Decryption Secrets Block, for the frames after it. A capture
    /// written while it ran (`synscope live -w`, the demo) holds them as they came, which can
    /// be just after the first records they open: from the first such block on, connections
    /// wait for missing secrets as `live` does ([`Engine::set_keys_growing`]).
    pub fn add_capture_secrets(&mut self, bytes: &[u8], out: &mut dyn EventSink) {
        self.set_keys_growing(true);
        self.add_keys(bytes, out);
        self.end_keys(out);
    }

    /// The end of one key log source: a last line without its newline is taken.
    pub fn end_keys(&mut self, out: &mut dyn EventSink) {
        let added = self.flows.keys_mut().finish();
        self.keys_added(added, out);
    }

    /// A remark about a key log source as a whole (a file too large, unreadable...): a
    /// `note` with `name`, stamped with the next frame.
    pub fn key_note(&mut self, name: &'static str, detail: String) {
        if self.key_notes.len() < MAX_KEY_NOTES {
            self.key_notes.push(Note {
                layer: Layer::Tls,
                note: name,
                detail,
                bytes: None,
            });
        }
    }

    fn keys_added(&mut self, added: Added, out: &mut dyn EventSink) {
        if let Some((line, why)) = &added.first_bad {
            self.key_note(
                "tls_keylog_bad_lines",
                format!(
                    "{} key log line(s) are not NSS key log lines and were ignored (first: \
                     line {line}, {why})",
                    added.bad_lines
                ),
            );
        }
        if added.over_limit > 0 {
            self.key_note(
                "tls_keylog_full",
                format!(
                    "the key log holds secrets for more sessions than synscope keeps \
                     (Limits::max_keylog_sessions, {}): {} secret(s) ignored",
                    self.flows.keys().len(),
                    added.over_limit
                ),
            );
        }
        if added.secrets > 0 && self.origin.is_some() {
            let mut out = Observed {
                patterns: &mut self.patterns,
                out: Counted { out, n: 0 },
            };
            self.flows.keys_changed(self.last, &mut out);
            let Observed { out, .. } = out;
            self.stats.events += out.n;
        }
    }

    /// Emits the waiting key log remarks with `stamp`.
    fn flush_key_notes(&mut self, stamp: Stamp, out: &mut dyn EventSink) {
        for n in self.key_notes.drain(..) {
            out.push(stamp.event(None, None, EventBody::Note(Box::new(n))));
        }
    }

    /// Decodes only the TCP segments `filter` keeps (set it before the first frame).
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// Decodes one frame and hands its events to `out`, in order, as they are made (a `Vec`
    /// collects them; see [`EventSink`] for why a writer may be better).
    pub fn ingest(&mut self, frame: &RawFrame, out: &mut dyn EventSink) {
        let mut out = Observed {
            patterns: &mut self.patterns,
            out: Counted { out, n: 0 },
        };
        self.stats.frames += 1;
        self.stats.bytes += frame.data.len() as u64;
        let origin = *self.origin.get_or_insert(frame.ts);
        let stamp = Stamp {
            ts: frame.ts,
            t: Nanos(frame.ts.since(origin)),
            frame: self.stats.frames,
        };
        self.last = stamp;
        for n in self.key_notes.drain(..) {
            out.push(stamp.event(None, None, EventBody::Note(Box::new(n))));
        }
        match decode(frame) {
            Ok(Decoded::Tcp(pkt)) if !self.filter.matches(pkt.src, pkt.dst) => {
                self.stats.filtered += 1;
            }
            Ok(Decoded::Tcp(pkt)) => {
                self.stats.tcp_segments += 1;
                self.flows.ingest(&pkt, stamp, &mut out);
            }
            Ok(Decoded::Other(why)) => {
                self.stats.other += 1;
                let note = match why {
                    Skipped::NotIp => {
                        self.stats.not_ip += 1;
                        None
                    }
                    Skipped::NotTcp { .. } => {
                        self.stats.not_tcp += 1;
                        None
                    }
                    Skipped::Fragment { tcp } => {
                        self.stats.ip_fragments += 1;
                        tcp.then_some((
                            Layer::Ip,
                            "ip_fragment",
                            "a fragment of an IP packet carrying TCP: synscope does not \
                             reassemble IP, so that segment is missing from its connection"
                                .to_string(),
                        ))
                    }
                    Skipped::TooDeep => {
                        self.stats.too_deep += 1;
                        Some((
                            Layer::Link,
                            "too_deep",
                            format!(
                                "a frame under more than {MAX_VLAN_TAGS} VLAN tags or \
                                 {MAX_MPLS_LABELS} MPLS labels: not followed, skipped"
                            ),
                        ))
                    }
                    Skipped::Link => {
                        self.stats.unsupported_link += 1;
                        (!self.warned_links.contains(&frame.link)
                            && self.warned_links.len() < MAX_LINK_WARNINGS)
                            .then(|| {
                                self.warned_links.push(frame.link);
                                (
                                    Layer::Link,
                                    "link_not_supported",
                                    format!(
                                        "link type {} is not supported: its frames are skipped",
                                        frame.link.describe()
                                    ),
                                )
                            })
                    }
                };
                if let Some((layer, name, detail)) = note {
                    // Link types get one note each (bounded by their list); the others a
                    // note each up to a bound, then only their count.
                    let room =
                        name == "link_not_supported" || self.unplaced_notes < MAX_UNPLACED_NOTES;
                    if room {
                        if name != "link_not_supported" {
                            self.unplaced_notes += 1;
                        }
                        out.push(stamp.event(
                            None,
                            None,
                            EventBody::Note(Box::new(Note {
                                layer,
                                note: name,
                                detail,
                                bytes: Some(frame.data.len() as u64),
                            })),
                        ));
                    }
                }
            }
            Err(e) => {
                self.stats.malformed += 1;
                out.push(stamp.event(
                    None,
                    None,
                    EventBody::Malformed(Malformed {
                        layer: e.layer,
                        detail: e.detail,
                    }),
                ));
            }
        }
        self.stats.events += out.out.n;
    }

    /// End of input: flushes what is held, ends every open connection, then passes on the
    /// final `pattern` reports of the conversations still going (see [`crate::pattern`]).
    pub fn finish(&mut self, out: &mut dyn EventSink) {
        if !self.key_notes.is_empty() {
            let last = self.last;
            let mut counted = Counted { out, n: 0 };
            self.flush_key_notes(last, &mut counted);
            self.stats.events += counted.n;
        }
        let mut out = Observed {
            patterns: &mut self.patterns,
            out: Counted { out, n: 0 },
        };
        self.flows.finish(self.last, &mut out);
        let Observed { mut out, .. } = out;
        self.patterns.finish(self.last, &mut out);
        self.stats.events += out.n;
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// What the engine holds in memory now (walks every connection; for memory-bound tests).
    #[doc(hidden)]
    pub fn held(&self) -> Held {
        self.flows.held()
    }

    /// Timestamp of the first frame, once one was seen.
    pub fn origin(&self) -> Option<Timestamp> {
        self.origin
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Memory bounds on long adversarial captures, built in memory with etherparse and fed
    //! frame by frame: what the engine holds is checked against the limits as it goes.

    use etherparse::PacketBuilder;

    use super::*;
    use crate::flow::MAX_HELD_PIECES;
    use crate::model::tcp_flags::{ACK, FIN, PSH, SYN};
    use crate::proto::Session;

    /// The same bounds for the subprotocols' buffers (SSE, Engine.IO, STOMP).
    mod subprotocols;

    const CLIENT: [u8; 4] = [10, 0, 0, 1];
    const SERVER: [u8; 4] = [10, 0, 0, 2];
    const SERVER_PORT: u16 = 80;
    /// Initial sequence numbers of every connection's client and server.
    const CISN: u32 = 1000;
    const SISN: u32 = 5000;

    /// An engine fed hand-built raw IPv4 frames.
    struct Wire {
        engine: Engine,
        limits: Limits,
        usec: u64,
        events: Vec<Event>,
        kinds: std::collections::HashMap<&'static str, u64>,
        frames: u64,
        buf: Vec<u8>,
        /// Every frame sent, when recording.
        record: Option<Vec<(Timestamp, Vec<u8>)>>,
    }

    impl Wire {
        fn new(limits: Limits) -> Wire {
            Wire {
                engine: Engine::new(limits),
                limits,
                usec: 1_700_000_000_000_000,
                events: Vec::new(),
                kinds: Default::default(),
                frames: 0,
                buf: Vec::with_capacity(1 << 16),
                record: None,
            }
        }

        /// One segment of the connection from client port `port`; `seq` and `ack` are
        /// offsets from the sender's and receiver's ISN.
        fn send(
            &mut self,
            port: u16,
            from_client: bool,
            flags: u8,
            seq: u32,
            ack: u32,
            data: &[u8],
        ) {
            let (isn, peer_isn) = if from_client {
                (CISN, SISN)
            } else {
                (SISN, CISN)
            };
            let b = if from_client {
                PacketBuilder::ipv4(CLIENT, SERVER, 64).tcp(port, SERVER_PORT, isn + seq, 65535)
            } else {
                PacketBuilder::ipv4(SERVER, CLIENT, 64).tcp(SERVER_PORT, port, isn + seq, 65535)
            };
            let mut t = b;
            if flags & SYN != 0 {
                t = t.syn();
            }
            if flags & ACK != 0 {
                t = t.ack(peer_isn + ack);
            }
            if flags & PSH != 0 {
                t = t.psh();
            }
            if flags & FIN != 0 {
                t = t.fin();
            }
            self.buf.clear();
            t.write(&mut self.buf, data).unwrap();
            self.usec += 10;
            let ts = Timestamp(self.usec * 1000);
            if let Some(r) = &mut self.record {
                // Recording only: the frames are replayed by the caller.
                r.push((ts, self.buf.clone()));
                return;
            }
            let frame = raw(ts, &self.buf);
            self.engine.ingest(&frame, &mut self.events);
            self.frames += 1;
            self.count();
        }

        fn count(&mut self) {
            for e in self.events.drain(..) {
                *self.kinds.entry(e.body.kind()).or_default() += 1;
            }
        }

        fn handshake(&mut self, port: u16) {
            self.send(port, true, SYN, 0, 0, b"");
            self.send(port, false, SYN | ACK, 0, 1, b"");
            self.send(port, true, ACK, 1, 1, b"");
        }

        /// What the engine holds is within the limits.
        fn check(&self) -> Held {
            let h = self.engine.held();
            let l = &self.limits;
            assert!(h.connections <= l.max_connections, "{h:?}");
            assert!(h.max_stream_bytes <= l.max_held_bytes, "{h:?}");
            assert!(h.max_stream_pieces <= MAX_HELD_PIECES, "{h:?}");
            assert!(h.reassembly_cost <= l.max_held_total, "{h:?}");
            assert!(h.max_sink_bytes <= Session::max_held(l), "{h:?}");
            assert!(h.queue_entries <= 5 * h.connections + 130, "{h:?}");
            h
        }

        fn finish(&mut self) {
            self.engine.finish(&mut self.events);
            self.count();
            assert_eq!(self.engine.held().reassembly_bytes, 0);
        }

        fn kind(&self, k: &str) -> u64 {
            self.kinds.get(k).copied().unwrap_or(0)
        }
    }

    #[test]
    fn a_hole_that_never_fills() {
        // 100,000 segments after a hole that never fills: held bytes and pieces stay capped,
        // what does not fit is given up as gaps, and the events stay proportional.
        let mut w = Wire::new(Limits::default());
        w.handshake(40_000);
        let body = [b'x'; 100];
        let mut peak = Held::default();
        for i in 0..100_000u32 {
            w.send(40_000, true, ACK | PSH, 1 + 100 + 200 * i, 1, &body);
            if i % 1000 == 0 {
                let h = w.check();
                peak.max_stream_pieces = peak.max_stream_pieces.max(h.max_stream_pieces);
            }
        }
        assert_eq!(peak.max_stream_pieces, MAX_HELD_PIECES);
        w.finish();
        // Each segment gives its tcp event and at most a gap and a body piece.
        assert!(
            w.kinds.values().sum::<u64>() <= 4 * w.frames,
            "{:?}",
            w.kinds
        );
        assert!(w.kind("gap") >= 100_000 - MAX_HELD_PIECES as u64);
    }

    #[test]
    fn ten_thousand_connections_never_closed() {
        // Each opens, sends an HTTP head that never ends and a segment after a hole, and
        // stays open: per-connection buffers stay within their limits and the out-of-order
        // bytes of all of them within max_held_total.
        let limits = Limits {
            max_held_total: 1 << 20,
            ..Limits::default()
        };
        let mut w = Wire::new(limits);
        let head = format!("GET / HTTP/1.1\r\nX-Pad: {}", "a".repeat(1300));
        for c in 0..10_000u16 {
            let port = 20_000 + c;
            w.handshake(port);
            w.send(port, true, ACK | PSH, 1, 1, head.as_bytes());
            w.send(port, true, ACK | PSH, 5000, 1, &[b'b'; 1000]);
            if c % 500 == 0 {
                w.check();
            }
        }
        let h = w.check();
        assert_eq!(h.connections, 10_000);
        // The budget filled up; after that each new hole was given up at once (its head
        // then lost, as a gap inside a head drops the partial message).
        assert!(h.reassembly_cost > limits.max_held_total - 2000, "{h:?}");
        assert!(w.kind("gap") >= 9000);
        assert!(h.sink_bytes >= 900 * head.len(), "{h:?}");
        w.finish();
        assert_eq!(w.kind("connection_end"), 10_000);
        // A table smaller than the capture: the oldest are ended and forgotten.
        let mut w = Wire::new(Limits {
            max_connections: 1000,
            ..limits
        });
        for c in 0..10_000u16 {
            w.handshake(20_000 + c);
            w.send(20_000 + c, true, ACK | PSH, 1, 1, head.as_bytes());
        }
        assert_eq!(w.check().connections, 1000);
        assert_eq!(w.kind("connection_end"), 9000);
    }

    #[test]
    fn an_http_head_that_never_ends() {
        // 5 MB of header lines: reported once as too large, skipped while looking for the
        // next request, never buffered beyond max_http_head.
        let mut w = Wire::new(Limits::default());
        w.handshake(40_000);
        w.send(40_000, true, ACK | PSH, 1, 1, b"GET / HTTP/1.1\r\n");
        let mut seq = 1 + 16;
        let line = format!("X-Long: {}\r\n", "a".repeat(1390));
        for i in 0..3600 {
            w.send(40_000, true, ACK | PSH, seq, 1, line.as_bytes());
            seq += line.len() as u32;
            if i % 100 == 0 {
                let h = w.check();
                assert!(h.max_sink_bytes <= w.limits.max_http_head, "{h:?}");
            }
        }
        w.finish();
        assert_eq!(w.kind("malformed"), 1);
        assert_eq!(w.kind("http_request"), 0);
    }

    #[test]
    fn a_websocket_frame_claiming_2_62_bytes() {
        // A server frame declaring 2^62 bytes, then 50 MB of it: nothing is buffered beyond
        // the display copies, and the frame is reported once, incomplete, at the end.
        let mut w = Wire::new(Limits::default());
        w.handshake(40_000);
        let req = b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        let resp =
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                     Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        w.send(40_000, true, ACK | PSH, 1, 1, req);
        let mut seq = 1;
        let mut first = resp.to_vec();
        first.extend_from_slice(&[0x82, 127]);
        first.extend_from_slice(&(1u64 << 62).to_be_bytes());
        w.send(40_000, false, ACK | PSH, seq, 1 + req.len() as u32, &first);
        seq += first.len() as u32;
        let chunk = vec![0x5a; 65_000];
        for i in 0..800 {
            w.send(40_000, false, ACK | PSH, seq, 1 + req.len() as u32, &chunk);
            seq = seq.wrapping_add(chunk.len() as u32);
            if i % 50 == 0 {
                w.check();
            }
        }
        assert_eq!(w.kind("ws_frame"), 0);
        w.finish();
        assert_eq!(w.kind("ws_frame"), 1);
        assert_eq!(w.kind("ws_message"), 1);
    }

    /// Limits under which [`hole_before_a_million_pings`] holds 1 MB.
    pub(crate) fn million_limits() -> Limits {
        Limits {
            max_held_bytes: 1 << 20,
            ..Limits::default()
        }
    }

    /// Raw IPv4 frames (with their capture times) of a WebSocket connection whose server
    /// sends 1 MB of 2-byte ping frames after a hole, then the segment that fills it: that
    /// last frame releases 1,020,001 events. Found by review.
    pub(crate) fn hole_before_a_million_pings() -> (Vec<(Timestamp, Vec<u8>)>, u64) {
        let mut w = Wire::new(million_limits());
        w.record = Some(Vec::new());
        w.handshake(40_000);
        let req = b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        let resp =
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                     Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        w.send(40_000, true, ACK | PSH, 1, 1, req);
        let ack = 1 + req.len() as u32;
        w.send(40_000, false, ACK | PSH, 1, ack, resp);
        let base = 1 + resp.len() as u32;
        let pings: Vec<u8> = [0x89u8, 0x00].repeat(30_000);
        let n = (1 << 20) / pings.len() as u32;
        for i in 1..n {
            w.send(
                40_000,
                false,
                ACK | PSH,
                base + i * pings.len() as u32,
                ack,
                &pings,
            );
        }
        // The segment that fills the hole, last.
        w.send(40_000, false, ACK | PSH, base, ack, &pings);
        (w.record.take().unwrap_or_default(), u64::from(n) * 30_000)
    }

    #[test]
    fn one_segment_can_release_a_million_events() {
        // `ingest` hands each event to an `EventSink` as it is made, so a writer (main's)
        // holds none of them (1.1 GB of `Event`s if collected, at 96 bytes each: the
        // default limits allow 4 MB held, 4 million events); this one keeps a count.
        let (frames, messages_made) = hole_before_a_million_pings();
        let mut engine = Engine::new(million_limits());
        let ((ts, last), rest) = frames.split_last().unwrap();
        let mut sink = Vec::new();
        for (ts, data) in rest {
            engine.ingest(&raw(*ts, data), &mut sink);
            sink.clear();
        }
        let (mut events, mut messages) = (0u64, 0u64);
        let before = engine.stats().events;
        engine.ingest(&raw(*ts, last), &mut |e: Event| {
            events += 1;
            messages += u64::from(matches!(e.body, EventBody::WsMessage(_)));
        });
        assert_eq!(messages, messages_made);
        assert_eq!(events, 1 + 2 * messages);
        assert_eq!(engine.stats().events - before, events);
    }

    fn raw(ts: Timestamp, data: &[u8]) -> RawFrame<'_> {
        RawFrame {
            ts,
            link: LinkType::IPV4,
            data,
            orig_len: data.len() as u32,
        }
    }
}
