//! Tests of the flow table: connection life cycle, Wireshark's relative numbers, window
//! scaling and analysis flags (expectations copied from tshark 4.0.17 run on the same
//! segments, written as pcaps), and reassembly.

use std::net::SocketAddr;

use proptest::prelude::*;

use super::*;
use crate::model::tcp_flags::{ACK, FIN, PSH, RST, SYN};
use crate::model::{Gap, GapReason, HttpBody, Layer, Payload, TcpAnalysis, TcpOptions, Violation};
use TcpAnalysis::*;

// ---------------------------------------------------------------------------------------
// Test doubles and builders

/// Logs every sink call as an event, so tests see them in order with the flow's own events:
/// data as `http_body` (bytes kept), gaps and ends as violations named `sink_gap`/`sink_end`.
struct Rec {
    ws: bool,
}

impl StreamSink for Rec {
    fn new(_: &Limits) -> Self {
        Rec { ws: false }
    }
    fn on_data(&mut self, dir: Dir, data: &[u8], cx: &mut Cx) {
        if data.windows(9).any(|w| w == b"WEBSOCKET") {
            self.ws = true;
        }
        let body = HttpBody {
            len: data.len() as u64,
            chunk: None,
            end: false,
            missing: 0,
            text: None,
            data: Payload {
                kept: data.into(),
                total: data.len() as u64,
            },
        };
        cx.emit(Some(dir), EventBody::HttpBody(Box::new(body)));
    }
    fn on_gap(&mut self, dir: Dir, len: u32, cx: &mut Cx) {
        let v = Violation {
            layer: Layer::Tcp,
            rule: "sink_gap",
            detail: len.to_string(),
        };
        cx.emit(Some(dir), EventBody::Violation(v));
    }
    fn on_end(&mut self, dir: Dir, cause: EndCause, cx: &mut Cx) {
        let v = Violation {
            layer: Layer::Tcp,
            rule: "sink_end",
            detail: format!("{cause:?}"),
        };
        cx.emit(Some(dir), EventBody::Violation(v));
    }
    fn is_websocket(&self) -> bool {
        self.ws
    }
}

use Dir::{C2s as C, S2c as S};

fn client() -> SocketAddr {
    "10.0.0.1:40000".parse().unwrap()
}
fn server() -> SocketAddr {
    "10.0.0.2:80".parse().unwrap()
}

/// One segment of a scenario, as the python pcap writer used for the tshark runs had it.
#[derive(Clone, Debug)]
struct P {
    t: f64,
    dir: Dir,
    seq: u32,
    ack: u32,
    flags: u8,
    win: u16,
    data: Vec<u8>,
    wire: Option<u32>,
    opts: TcpOptions,
    /// Client port, to make several connections.
    port: u16,
}

fn p(t: f64, dir: Dir, seq: u32, ack: u32, flags: u8, win: u16, data: &[u8]) -> P {
    P {
        t,
        dir,
        seq,
        ack,
        flags,
        win,
        data: data.to_vec(),
        wire: None,
        opts: TcpOptions::default(),
        port: 40000,
    }
}

impl P {
    fn ws(mut self, w: u8) -> P {
        self.opts.wscale = Some(w);
        self
    }
    fn mss(mut self, m: u16) -> P {
        self.opts.mss = Some(m);
        self
    }
    fn wire(mut self, n: u32) -> P {
        self.wire = Some(n);
        self
    }
    fn port(mut self, port: u16) -> P {
        self.port = port;
        self
    }
}

fn stamp(i: usize, t: f64) -> Stamp {
    let ns = (t * 1e9).round() as u64;
    Stamp {
        // 1000 s after the epoch: tshark ignores a SYN stamped exactly 0 for the iRTT.
        ts: Timestamp(1_000_000_000_000 + ns),
        t: Nanos(ns),
        frame: i as u64 + 1,
    }
}

fn feed<S: StreamSink>(table: &mut FlowTable<S>, ps: &[P], out: &mut Vec<Event>) {
    for (i, s) in ps.iter().enumerate() {
        let mut c = client();
        c.set_port(s.port);
        let (src, dst) = match s.dir {
            Dir::C2s => (c, server()),
            Dir::S2c => (server(), c),
        };
        let pkt = TcpPacket {
            src,
            dst,
            seq: s.seq,
            ack: s.ack,
            flags: s.flags,
            window: s.win,
            options: s.opts,
            payload: &s.data,
            wire_len: s.wire.unwrap_or(s.data.len() as u32),
        };
        table.ingest(&pkt, stamp(i, s.t), out);
    }
}

fn run_limits(ps: &[P], limits: Limits, finish: bool) -> Vec<Event> {
    let mut table = FlowTable::<Rec>::new(limits);
    let mut out = Vec::new();
    feed(&mut table, ps, &mut out);
    if finish {
        let last = ps.len().saturating_sub(1);
        table.finish(stamp(last, ps.last().map_or(0.0, |p| p.t)), &mut out);
    }
    out
}

fn run(ps: &[P]) -> Vec<Event> {
    run_limits(ps, Limits::default(), true)
}

/// The 3-way handshake of the tshark scenarios: MSS (and WS) options, windows 64240/65160,
/// then the client's ACK with window 1000.
fn hs(c: u32, s: u32, t0: f64, rtt: f64, ws: Option<u8>) -> Vec<P> {
    let mut syn = p(t0, C, c, 0, SYN, 64240, b"").mss(1460);
    let mut synack = p(
        t0 + rtt / 2.0,
        S,
        s,
        c.wrapping_add(1),
        SYN | ACK,
        65160,
        b"",
    )
    .mss(1460);
    if let Some(w) = ws {
        syn = syn.ws(w);
        synack = synack.ws(w);
    }
    vec![
        syn,
        synack,
        p(
            t0 + rtt,
            C,
            c.wrapping_add(1),
            s.wrapping_add(1),
            ACK,
            1000,
            b"",
        ),
    ]
}

/// (seq, ack, len, win, analysis) of every `tcp` event.
type Row = (u32, Option<u32>, u32, u32, Vec<TcpAnalysis>);

fn rows(events: &[Event]) -> Vec<Row> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Tcp(t) => Some((
                t.seq,
                t.ack,
                t.len,
                t.win,
                t.analysis.iter().copied().collect(),
            )),
            _ => None,
        })
        .collect()
}

fn r(seq: u32, ack: Option<u32>, len: u32, win: u32, a: &[TcpAnalysis]) -> Row {
    (seq, ack, len, win, a.to_vec())
}

/// Just the analysis flags of each `tcp` event.
fn flags_of(events: &[Event]) -> Vec<Vec<TcpAnalysis>> {
    rows(events).into_iter().map(|r| r.4).collect()
}

/// One line per event: `#conn kind dir details`.
fn lines(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let dir = e.dir.map_or("", |d| d.as_str());
            let what = match &e.body {
                EventBody::Connection(c) => format!(
                    "connection {} {}{}",
                    c.client,
                    c.server,
                    if c.joined_late { " late" } else { "" }
                ),
                EventBody::Tcp(t) => format!("tcp {dir} {}", t.seq),
                EventBody::Handshake(_) => "handshake".to_string(),
                EventBody::ConnectionState(c) => format!("state {:?}", c.state),
                EventBody::Gap(g) => format!("gap {dir} {} {} {:?}", g.seq, g.len, g.reason),
                EventBody::HttpBody(b) => {
                    format!("data {dir} {}", String::from_utf8_lossy(&b.data.kept))
                }
                // The end's cause is checked apart (`ends_say_why`).
                EventBody::Violation(v) if v.rule == "sink_end" => format!("sink_end {dir}"),
                EventBody::Violation(v) => format!("{} {dir} {}", v.rule, v.detail)
                    .trim_end()
                    .to_string(),
                EventBody::ConnectionEnd(c) => format!("end {:?}", c.state),
                other => other.kind().to_string(),
            };
            format!("#{} {what}", e.conn.map_or(-1, i64::from))
        })
        .collect()
}

/// The last `n` of [`lines`].
fn last_lines(events: &[Event], n: usize) -> Vec<String> {
    let mut l = lines(events);
    l.drain(..l.len().saturating_sub(n));
    l
}

/// The `handshake` event's figures, if there is one.
fn handshake_of(events: &[Event]) -> Option<Handshake> {
    events.iter().find_map(|e| match e.body {
        EventBody::Handshake(h) => Some(h),
        _ => None,
    })
}

/// The bytes delivered for `dir` and its gaps (relative seq, len, reason), in order.
fn stream_of(events: &[Event], dir: Dir) -> (Vec<u8>, Vec<Gap>) {
    let mut bytes = Vec::new();
    let mut gaps = Vec::new();
    for e in events.iter().filter(|e| e.dir == Some(dir)) {
        match &e.body {
            EventBody::HttpBody(b) => bytes.extend_from_slice(&b.data.kept),
            EventBody::Gap(g) => gaps.push(*g),
            _ => {}
        }
    }
    (bytes, gaps)
}

fn ends(events: &[Event]) -> Vec<&ConnectionEnd> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::ConnectionEnd(c) => Some(&**c),
            _ => None,
        })
        .collect()
}

fn gap(seq: u32, len: u32, reason: GapReason) -> Gap {
    Gap { seq, len, reason }
}

const D: &[u8] = &[b'x'; 100];
const CI: u32 = 1000;
const SI: u32 = 5000;

// ---------------------------------------------------------------------------------------
// Connection life cycle

/// tshark (t1): seq/ack/window_size per frame were 0/0/64240, 0/1/65160, 1/1/64256,
/// 1/1/64256, 1/6/65152, 1/6/65152, 6/7/64256, 7/7/65152, 7/8/64256 (WS=7 both ways).
#[test]
fn handshake_data_and_close() {
    let (c, s) = (CI, SI);
    let ps = vec![
        p(0.0, C, c, 0, SYN, 64240, b"").mss(1460).ws(7),
        p(0.010, S, s, c + 1, SYN | ACK, 65160, b"").mss(1460).ws(7),
        p(0.020, C, c + 1, s + 1, ACK, 502, b""),
        p(0.030, C, c + 1, s + 1, ACK | PSH, 502, b"hello"),
        p(0.040, S, s + 1, c + 6, ACK, 509, b""),
        p(0.050, S, s + 1, c + 6, ACK | PSH, 509, b"world!"),
        p(0.060, C, c + 6, s + 7, ACK | FIN, 502, b""),
        p(0.070, S, s + 7, c + 7, ACK | FIN, 509, b""),
        p(0.080, C, c + 7, s + 8, ACK, 502, b""),
    ];
    let ev = run(&ps);
    assert_eq!(
        rows(&ev),
        vec![
            r(0, None, 0, 64240, &[]),
            r(0, Some(1), 0, 65160, &[]),
            r(1, Some(1), 0, 64256, &[]),
            r(1, Some(1), 5, 64256, &[]),
            r(1, Some(6), 0, 65152, &[]),
            r(1, Some(6), 6, 65152, &[]),
            r(6, Some(7), 0, 64256, &[]),
            r(7, Some(7), 0, 65152, &[]),
            r(7, Some(8), 0, 64256, &[]),
        ]
    );
    assert_eq!(
        lines(&ev),
        vec![
            "#0 connection 10.0.0.1:40000 10.0.0.2:80",
            "#0 tcp c2s 0",
            "#0 tcp s2c 0",
            "#0 tcp c2s 1",
            "#0 handshake",
            "#0 state Established",
            "#0 tcp c2s 1",
            "#0 data c2s hello",
            "#0 tcp s2c 1",
            "#0 tcp s2c 1",
            "#0 data s2c world!",
            "#0 tcp c2s 6",
            "#0 sink_end c2s",
            "#0 state Closing",
            "#0 tcp s2c 7",
            "#0 sink_end s2c",
            "#0 state Closed",
            "#0 tcp c2s 7",
            "#0 end Closed",
        ]
    );
    assert_eq!(
        handshake_of(&ev),
        Some(Handshake {
            syn_ack_rtt: Nanos(10_000_000),
            irtt: Nanos(20_000_000),
        })
    );
    // Options only on SYN and SYN-ACK.
    let opts: Vec<bool> = ev
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Tcp(t) => Some(t.options.is_some()),
            _ => None,
        })
        .collect();
    assert_eq!(
        opts,
        [true, true, false, false, false, false, false, false, false]
    );
    let end = ends(&ev)[0];
    assert_eq!(end.segments, [5, 4]);
    assert_eq!(end.bytes, [5, 6]);
    assert_eq!(end.duration, Nanos(80_000_000));
    assert!(!end.websocket);
    assert_eq!(ev.last().map(|e| e.frame), Some(9));
}

#[test]
fn connection_end_waits_for_the_ack_of_the_last_fin_or_the_capture_end() {
    let (c, s) = (CI, SI);
    let mut ps = hs(c, s, 0.0, 0.02, None);
    ps.push(p(0.1, C, c + 1, s + 1, ACK | FIN, 1000, b""));
    ps.push(p(0.2, S, s + 1, c + 2, ACK | FIN, 1000, b""));
    let ev = run_limits(&ps, Limits::default(), false);
    assert!(ends(&ev).is_empty(), "no ACK of the last FIN yet");
    let ev = run(&ps);
    assert_eq!(ends(&ev)[0].state, ConnState::Closed);
    assert_eq!(ev.last().map(|e| e.frame), Some(5));
}

/// The cause each direction's end is given: the sender's FIN, an RST and who sent it, or
/// the end of the capture.
fn end_causes(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Violation(v) if v.rule == "sink_end" => {
                Some(format!("{} {}", e.dir.map_or("", |d| d.as_str()), v.detail))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn ends_say_why() {
    // FIN both ways.
    let (c, s) = (CI, SI);
    let mut ps = hs(c, s, 0.0, 0.02, None);
    ps.push(p(0.1, C, c + 1, s + 1, ACK | FIN, 1000, b""));
    ps.push(p(0.2, S, s + 1, c + 2, ACK | FIN, 1000, b""));
    ps.push(p(0.3, C, c + 2, s + 2, ACK, 1000, b""));
    assert_eq!(end_causes(&run(&ps)), ["c2s Fin", "s2c Fin"]);
    // The client's FIN, then an RST from the server: the server's side ends by that RST.
    let mut ps = hs(c, s, 0.0, 0.02, None);
    ps.push(p(0.1, C, c + 1, s + 1, ACK | FIN, 1000, b""));
    ps.push(p(0.2, S, s + 1, c + 2, RST | ACK, 0, b""));
    assert_eq!(end_causes(&run(&ps)), ["c2s Fin", "s2c Reset { by: S2c }"]);
    // An RST from the client cuts both ways.
    let mut ps = hs(c, s, 0.0, 0.02, None);
    ps.push(p(0.1, C, c + 1, s + 1, RST | ACK, 0, b""));
    assert_eq!(
        end_causes(&run(&ps)),
        ["c2s Reset { by: C2s }", "s2c Reset { by: C2s }"]
    );
    // The capture ends first.
    let ps = hs(c, s, 0.0, 0.02, None);
    assert_eq!(
        end_causes(&run(&ps)),
        ["c2s NotCaptured", "s2c NotCaptured"]
    );
}

/// tshark (r3): the RST-ACK is seq 1 ack 1 with no flag.
#[test]
fn rst_after_handshake_resets() {
    let mut ps = hs(CI, SI, 0.0, 0.02, None);
    ps.push(p(0.05, C, CI + 1, SI + 1, ACK | PSH, 1000, b"GET"));
    ps.push(p(0.1, S, SI + 1, CI + 4, RST | ACK, 0, b""));
    ps.push(p(0.2, C, CI + 4, SI + 1, ACK, 1000, b"")); // stray ACK after the end
    let ev = run(&ps);
    assert_eq!(rows(&ev)[4], r(1, Some(4), 0, 0, &[]));
    assert_eq!(
        lines(&ev)[7..],
        [
            "#0 data c2s GET",
            "#0 tcp s2c 1",
            "#0 state Reset",
            "#0 sink_end c2s",
            "#0 sink_end s2c",
            "#0 end Reset",
            "#0 tcp c2s 4",
        ]
    );
    assert_eq!(ends(&ev).len(), 1);
}

/// tshark (r4): the RST-ACK answering the SYN shows seq 1 (no SYN seen from the server, so
/// its base is seq - 1), ack 1.
#[test]
fn syn_answered_by_rst_is_refused() {
    let ps = vec![
        p(0.0, C, CI, 0, SYN, 64240, b""),
        p(0.001, S, 0, CI + 1, RST | ACK, 0, b""),
    ];
    let ev = run(&ps);
    assert_eq!(
        rows(&ev),
        vec![r(0, None, 0, 64240, &[]), r(1, Some(1), 0, 0, &[])]
    );
    assert_eq!(ends(&ev)[0].state, ConnState::Refused);
    assert_eq!(ends(&ev).len(), 1);
}

/// tshark (r2): a SYN with a new ISN after the close starts stream 1 flagged reused_ports;
/// a SYN with a new ISN in the middle of stream 1 starts stream 2, also flagged.
#[test]
fn port_reuse_starts_new_connections() {
    let (c, s) = (CI, SI);
    let mut ps = hs(c, s, 0.0, 0.02, None);
    ps.push(p(0.1, C, c + 1, s + 1, ACK | FIN, 1000, b""));
    ps.push(p(0.11, S, s + 1, c + 2, ACK | FIN, 1000, b""));
    ps.push(p(0.12, C, c + 2, s + 2, ACK, 1000, b""));
    ps.extend(hs(90000, 70000, 1.0, 0.02, None));
    ps.push(p(1.1, C, 90001, 70001, ACK, 1000, D));
    ps.extend(hs(500000, 800000, 2.0, 0.02, None));
    ps.push(p(2.1, C, 500001, 800001, ACK, 1000, D));
    let ev = run(&ps);
    let f = flags_of(&ev);
    assert_eq!(f[6], [ReusedPorts]);
    assert_eq!(f[10], [ReusedPorts]);
    assert!(f
        .iter()
        .enumerate()
        .all(|(i, a)| a.is_empty() || i == 6 || i == 10));
    let conn_of_tcp: Vec<u32> = ev
        .iter()
        .filter(|e| e.body.kind() == "tcp")
        .filter_map(|e| e.conn)
        .collect();
    assert_eq!(conn_of_tcp, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    let l = lines(&ev);
    let i = l.iter().position(|x| x == "#1 end Established").unwrap();
    assert_eq!(l[i + 1], "#2 connection 10.0.0.1:40000 10.0.0.2:80");
    assert_eq!(l[i + 2], "#2 tcp c2s 0");
    let states: Vec<ConnState> = ends(&ev).iter().map(|e| e.state).collect();
    assert_eq!(
        states,
        [
            ConnState::Closed,
            ConnState::Established,
            ConnState::Established
        ]
    );
    // A retransmitted SYN (same ISN) stays on its connection.
    let ps = vec![
        p(0.0, C, CI, 0, SYN, 64240, b""),
        p(1.0, C, CI, 0, SYN, 64240, b""),
    ];
    let ev = run(&ps);
    assert_eq!(flags_of(&ev), [vec![], vec![Retransmission]]);
    assert_eq!(ends(&ev).len(), 1);
}

/// A SYN-ACK with a new ISN (its SYN missed) starts a new connection where the receiver is
/// the client, flagged reused_ports; a retransmitted SYN-ACK (same ISN) does not. (tshark 4.0
/// also flags reused_ports but keeps the old conversation: a deliberate difference.)
#[test]
fn syn_ack_with_a_new_isn_starts_a_new_connection() {
    let mut ps = hs(CI, SI, 0.0, 0.02, None);
    ps.push(p(0.03, S, SI, CI + 1, SYN | ACK, 65160, b""));
    ps.push(p(0.1, C, CI + 1, SI + 1, ACK | PSH, 1000, b"old"));
    ps.push(p(5.0, S, 90000, 7001, SYN | ACK, 65160, b""));
    ps.push(p(5.01, C, 7001, 90001, ACK | PSH, 1000, b"new"));
    let ev = run(&ps);
    assert_eq!(
        flags_of(&ev),
        [
            vec![],
            vec![],
            vec![],
            vec![Retransmission],
            vec![],
            vec![ReusedPorts],
            vec![]
        ]
    );
    assert_eq!(
        rows(&ev)[5..],
        [
            r(0, Some(1), 0, 65160, &[ReusedPorts]),
            r(1, Some(1), 3, 1000, &[])
        ]
    );
    let l = lines(&ev);
    let i = l.iter().position(|x| x == "#0 end Established").unwrap();
    assert_eq!(l[i + 1], "#1 connection 10.0.0.1:40000 10.0.0.2:80");
    assert_eq!(stream_of(&ev, C).0, b"oldnew");
    assert!(!ev
        .iter()
        .any(|e| e.body.kind() == "handshake" && e.conn == Some(1)));
}

/// tshark (t2): joining mid-stream, each direction's first sequence number shows as 1 and
/// the first ACK sets the other direction's base: 1/1, 1/4, 1/4, 4/4.
#[test]
fn joined_late_guesses_roles_and_numbers_like_wireshark() {
    let (c, s) = (CI, SI);
    let ps = vec![
        p(0.0, S, s + 100, c + 50, ACK | PSH, 509, b"abc"),
        p(0.01, C, c + 50, s + 103, ACK, 502, b""),
        p(0.02, C, c + 50, s + 103, ACK | PSH, 502, b"xyz"),
        p(0.03, S, s + 103, c + 53, ACK, 509, b""),
    ];
    let ev = run(&ps);
    assert_eq!(
        rows(&ev),
        vec![
            r(1, Some(1), 3, 509, &[]),
            r(1, Some(4), 0, 502, &[]),
            r(1, Some(4), 3, 502, &[]),
            r(4, Some(4), 0, 509, &[]),
        ]
    );
    assert_eq!(
        lines(&ev)[0],
        "#0 connection 10.0.0.1:40000 10.0.0.2:80 late"
    );
    assert_eq!(stream_of(&ev, C).0, b"xyz");
    assert_eq!(stream_of(&ev, S).0, b"abc");
    assert_eq!(ends(&ev)[0].state, ConnState::Established);
}

#[test]
fn server_port_guess() {
    let a = |s: &str| -> SocketAddr { s.parse().unwrap() };
    // A port below 1024.
    assert!(dst_is_server(a("1.1.1.1:50000"), a("2.2.2.2:443")));
    assert!(!dst_is_server(a("1.1.1.1:22"), a("2.2.2.2:1500")));
    // Else the port outside the ephemeral range 32768-60999.
    assert!(dst_is_server(a("1.1.1.1:45000"), a("2.2.2.2:8080")));
    assert!(!dst_is_server(a("1.1.1.1:61000"), a("2.2.2.2:32768")));
    // Else the lower port.
    assert!(dst_is_server(a("1.1.1.1:45000"), a("2.2.2.2:40000")));
    assert!(!dst_is_server(a("1.1.1.1:80"), a("2.2.2.2:443")));
    // Equal: the destination.
    assert!(dst_is_server(a("1.1.1.1:8000"), a("2.2.2.2:8000")));
}

/// tshark (t4/t5): the SYN-ACK seen first makes its receiver the client; its WS applies to
/// the server's windows (65152 = 509 << 7) while the client's stay unscaled.
#[test]
fn syn_ack_first_makes_its_receiver_the_client() {
    let ps = vec![
        p(0.0, S, SI, CI + 1, SYN | ACK, 65160, b"").ws(7),
        p(0.01, C, CI + 1, SI + 1, ACK, 502, b""),
        p(0.02, S, SI + 1, CI + 1, ACK | PSH, 509, b"abc"),
    ];
    let ev = run(&ps);
    assert_eq!(lines(&ev)[0], "#0 connection 10.0.0.1:40000 10.0.0.2:80");
    assert_eq!(
        rows(&ev),
        vec![
            r(0, Some(1), 0, 65160, &[]),
            r(1, Some(1), 0, 502, &[]),
            r(1, Some(1), 3, 65152, &[]),
        ]
    );
    assert!(!ev.iter().any(|e| e.body.kind() == "handshake"));
    assert_eq!(stream_of(&ev, S).0, b"abc");
}

/// tshark (t6, t7, t8, c1): scaling needs the option on both SYN and SYN-ACK; a SYN seen
/// alone with WS scales its own side; a shift above 14 counts as 14.
#[test]
fn window_scaling_follows_the_handshake() {
    let data = |t, dir, seq, ack, win, d: &[u8]| p(t, dir, seq, ack, ACK, win, d);
    // SYN with WS, SYN-ACK without: unscaled.
    let ev = run(&[
        p(0.0, C, CI, 0, SYN, 64240, b"").ws(7),
        p(0.01, S, SI, CI + 1, SYN | ACK, 65160, b""),
        data(0.02, C, CI + 1, SI + 1, 502, b""),
        data(0.03, S, SI + 1, CI + 1, 509, b"abc"),
    ]);
    let wins: Vec<u32> = rows(&ev).iter().map(|r| r.3).collect();
    assert_eq!(wins, [64240, 65160, 502, 509]);
    // SYN without, SYN-ACK with: unscaled.
    let ev = run(&[
        p(0.0, C, CI, 0, SYN, 64240, b""),
        p(0.01, S, SI, CI + 1, SYN | ACK, 65160, b"").ws(7),
        data(0.02, C, CI + 1, SI + 1, 502, b""),
        data(0.03, S, SI + 1, CI + 1, 509, b"abc"),
    ]);
    let wins: Vec<u32> = rows(&ev).iter().map(|r| r.3).collect();
    assert_eq!(wins, [64240, 65160, 502, 509]);
    // SYN with WS, SYN-ACK missed: the client's side is scaled, the server's is not.
    let ev = run(&[
        p(0.0, C, CI, 0, SYN, 64240, b"").ws(7),
        data(0.02, C, CI + 1, SI + 1, 502, b""),
        data(0.03, S, SI + 1, CI + 1, 509, b"abc"),
    ]);
    assert_eq!(
        rows(&ev),
        vec![
            r(0, None, 0, 64240, &[]),
            r(1, Some(1), 0, 64256, &[]),
            r(1, Some(1), 3, 509, &[]),
        ]
    );
    // WS=15 scales by 2^14; then a window change is a window update.
    let mut ps = hs(CI, SI, 0.0, 0.02, Some(15));
    ps.push(p(0.1, C, CI + 1, SI + 1, ACK, 3, b""));
    let ev = run(&ps);
    assert_eq!(rows(&ev)[2], r(1, Some(1), 0, 16_384_000, &[]));
    assert_eq!(rows(&ev)[3], r(1, Some(1), 0, 49_152, &[WindowUpdate]));
}

#[test]
fn sequence_numbers_wrap_near_u32_max() {
    let c = u32::MAX - 2;
    let s = u32::MAX;
    let mut ps = hs(c, s, 0.0, 0.02, None);
    ps.push(p(
        0.03,
        C,
        c.wrapping_add(1),
        s.wrapping_add(1),
        ACK,
        1000,
        b"0123456789",
    ));
    ps.push(p(
        0.04,
        C,
        c.wrapping_add(21),
        s.wrapping_add(1),
        ACK,
        1000,
        b"KLMNOPQRST",
    ));
    ps.push(p(
        0.05,
        C,
        c.wrapping_add(11),
        s.wrapping_add(1),
        ACK,
        1000,
        b"ABCDEFGHIJ",
    ));
    ps.push(p(
        0.06,
        S,
        s.wrapping_add(1),
        c.wrapping_add(31),
        ACK,
        1000,
        b"ok",
    ));
    let ev = run(&ps);
    let rel: Vec<(u32, Option<u32>)> = rows(&ev).iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(
        rel,
        [
            (0, None),
            (0, Some(1)),
            (1, Some(1)),
            (1, Some(1)),
            (21, Some(1)),
            (11, Some(1)),
            (1, Some(31)),
        ]
    );
    assert_eq!(stream_of(&ev, C).0, b"0123456789ABCDEFGHIJKLMNOPQRST");
    assert_eq!(stream_of(&ev, S).0, b"ok");
    assert!(stream_of(&ev, C).1.is_empty());
}

#[test]
fn websocket_flag_comes_from_the_sink() {
    let mut ps = hs(CI, SI, 0.0, 0.02, None);
    ps.push(p(0.03, C, CI + 1, SI + 1, ACK, 1000, b"WEBSOCKET"));
    let ev = run(&ps);
    assert!(ends(&ev)[0].websocket);
}

#[test]
fn finish_ends_every_open_connection_in_order() {
    let mut ps = hs(CI, SI, 0.0, 0.02, None);
    ps.extend(
        hs(7000, 9000, 0.1, 0.02, None)
            .into_iter()
            .map(|p| p.port(40001)),
    );
    ps.push(p(0.2, C, CI + 1, SI + 1, ACK, 1000, b"hi"));
    let ev = run(&ps);
    assert_eq!(
        last_lines(&ev, 6),
        [
            "#0 sink_end c2s",
            "#0 sink_end s2c",
            "#0 end Established",
            "#1 sink_end c2s",
            "#1 sink_end s2c",
            "#1 end Established",
        ]
    );
    // Stamped with the last packet.
    assert!(ev[ev.len() - 6..].iter().all(|e| e.frame == 7));
}

// ---------------------------------------------------------------------------------------
// Analysis flags: each scenario was written as a pcap and run through tshark 4.0.17
// (`-T json`, flags = the tcp.analysis.* fields present); the expected flags are its answers.

/// tshark (a1): the segment after a hole is "previous segment not captured"; the filler
/// arriving 1 ms later (within the 20 ms handshake RTT) is out-of-order.
#[test]
fn analysis_out_of_order() {
    let mut ps = hs(CI, SI, 0.0, 0.02, None);
    ps.push(p(0.100, C, CI + 101, SI + 1, ACK, 1000, D));
    ps.push(p(0.101, C, CI + 1, SI + 1, ACK, 1000, D));
    ps.push(p(0.102, S, SI + 1, CI + 201, ACK, 1000, b""));
    let ev = run(&ps);
    assert_eq!(
        rows(&ev)[3..],
        [
            r(101, Some(1), 100, 1000, &[LostSegment]),
            r(1, Some(1), 100, 1000, &[OutOfOrder]),
            r(1, Some(201), 0, 1000, &[]),
        ]
    );
    // Reassembly puts them back in order when the hole fills.
    let (bytes, gaps) = stream_of(&ev, C);
    assert_eq!(bytes.len(), 200);
    assert!(gaps.is_empty());
    let l = lines(&ev);
    let filled = format!("#0 data c2s {}", "x".repeat(100));
    assert_eq!(l[6..9], ["#0 tcp c2s 101", "#0 tcp c2s 1", filled.as_str()]);
}

/// tshark (a2, b1): the same filler 50 ms later is a retransmission; with a 200 ms handshake
/// RTT, 50 ms later is still out-of-order.
#[test]
fn analysis_out_of_order_threshold_is_the_handshake_rtt() {
    let mut ps = hs(CI, SI, 0.0, 0.02, None);
    ps.push(p(0.100, C, CI + 101, SI + 1, ACK, 1000, D));
    ps.push(p(0.150, C, CI + 1, SI + 1, ACK, 1000, D));
    ps.push(p(0.152, S, SI + 1, CI + 201, ACK, 1000, b""));
    assert_eq!(
        flags_of(&run(&ps))[3..],
        [vec![LostSegment], vec![Retransmission], vec![]]
    );
    let mut ps = hs(CI, SI, 0.0, 0.2, None);
    ps.push(p(0.300, C, CI + 101, SI + 1, ACK, 1000, D));
    ps.push(p(0.350, C, CI + 1, SI + 1, ACK, 1000, D));
    assert_eq!(
        flags_of(&run(&ps))[3..],
        [vec![LostSegment], vec![OutOfOrder]]
    );
}

/// tshark (b2): without a handshake the threshold is 3 ms: 2 ms later is out-of-order (its
/// relative seq is "negative": 4294967197), 5 ms later a retransmission.
#[test]
fn analysis_out_of_order_without_handshake_uses_3ms() {
    let ps = vec![
        p(0.300, C, CI + 101, SI + 1, ACK, 1000, D),
        p(0.302, C, CI + 1, SI + 1, ACK, 1000, D),
        p(0.310, C, CI + 301, SI + 1, ACK, 1000, D),
        p(0.315, C, CI + 201, SI + 1, ACK, 1000, D),
    ];
    assert_eq!(
        rows(&run(&ps)),
        vec![
            r(1, Some(1), 100, 1000, &[]),
            r(4294967197, Some(1), 100, 1000, &[OutOfOrder]),
            r(201, Some(1), 100, 1000, &[LostSegment]),
            r(101, Some(1), 100, 1000, &[Retransmission]),
        ]
    );
}

/// tshark (b4): a copy of an older segment within the RTT is out-of-order, a copy ending at
/// the highest sequence number is a retransmission.
#[test]
fn analysis_copies_of_old_segments() {
    let mut ps = hs(CI, SI, 0.0, 0.02, None);
    ps.push(p(0.300, C, CI + 1, SI + 1, ACK, 1000, D));
    ps.push(p(0.301, C, CI + 101, SI + 1, ACK, 1000, D));
    ps.push(p(0.302, C, CI + 1, SI + 1, ACK, 1000, D));
    ps.push(p(0.303, C, CI + 101, SI + 1, ACK, 1000, D));
    ps.push(p(0.304, C, CI + 51, SI + 1, ACK, 1000, D));
    let ev = run(&ps);
    assert_eq!(
        flags_of(&ev)[3..],
        [
            vec![],
            vec![],
            vec![OutOfOrder],
            vec![Retransmission],
            vec![OutOfOrder]
        ]
    );
    // Each byte once.
    assert_eq!(stream_of(&ev, C).0.len(), 200);
}

/// tshark (a3): a resend of unACKed data is a retransmission; once ACKed, a spurious one.
#[test]
fn analysis_retransmission_and_spurious() {
    let mut ps = hs(CI, SI, 0.0, 0.02, None);
    ps.push(p(0.1, C, CI + 1, SI + 1, ACK, 1000, D));
    ps.push(p(0.3, C, CI + 1, SI + 1, ACK, 1000, D));
    ps.push(p(0.302, S, SI + 1, CI + 101, ACK, 1000, b""));
    ps.push(p(0.5, C, CI + 1, SI + 1, ACK, 1000, D));
    let ev = run(&ps);
    assert_eq!(
        flags_of(&ev)[3..],
        [
            vec![],
            vec![Retransmission],
            vec![],
            vec![SpuriousRetransmission, Retransmission]
        ]
    );
    assert_eq!(stream_of(&ev, C).0.len(), 100);
}

/// tshark (a4): three duplicate ACKs, then the missing segment 1 ms later is a fast
/// retransmission (tshark sets both fast_retransmission and retransmission).
#[test]
fn analysis_dup_acks_and_fast_retransmission() {
    let mut ps = hs(CI, SI, 0.0, 0.02, None);
    ps.push(p(0.100, C, CI + 1, SI + 1, ACK, 1000, D));
    ps.push(p(0.101, C, CI + 201, SI + 1, ACK, 1000, D));
    for t in [0.120, 0.121, 0.122, 0.123] {
        ps.push(p(t, S, SI + 1, CI + 101, ACK, 1000, b""));
    }
    ps.push(p(0.124, C, CI + 101, SI + 1, ACK, 1000, D));
    ps.push(p(0.130, S, SI + 1, CI + 301, ACK, 1000, b""));
    let ev = run(&ps);
    assert_eq!(
        flags_of(&ev)[3..],
        [
            vec![],
            vec![LostSegment],
            vec![],
            vec![DuplicateAck],
            vec![DuplicateAck],
            vec![DuplicateAck],
            vec![FastRetransmission, Retransmission],
            vec![],
        ]
    );
    let (bytes, gaps) = stream_of(&ev, C);
    assert_eq!(bytes.len(), 300);
    assert!(gaps.is_empty());
}

/// tshark (a5): 0 or 1 byte one before the next sequence number is a keep-alive; the
/// unchanged ACK answering it a keep-alive ACK.
#[test]
fn analysis_keep_alive() {
    let mut ps = hs(CI, SI, 0.0, 0.02, None);
    ps.push(p(0.1, C, CI + 1, SI + 1, ACK, 1000, D));
    ps.push(p(0.11, S, SI + 1, CI + 101, ACK, 1000, b""));
    ps.push(p(10.0, C, CI + 100, SI + 1, ACK, 1000, b""));
    ps.push(p(10.01, S, SI + 1, CI + 101, ACK, 1000, b""));
    ps.push(p(20.0, C, CI + 100, SI + 1, ACK, 1000, b"\0"));
    ps.push(p(20.01, S, SI + 1, CI + 101, ACK, 1000, b""));
    let ev = run(&ps);
    assert_eq!(
        rows(&ev)[5..],
        [
            r(100, Some(1), 0, 1000, &[KeepAlive]),
            r(1, Some(101), 0, 1000, &[KeepAliveAck]),
            r(100, Some(1), 1, 1000, &[KeepAlive]),
            r(1, Some(101), 0, 1000, &[KeepAliveAck]),
        ]
    );
    // The keep-alive's garbage byte is old data: not delivered.
    assert_eq!(stream_of(&ev, C).0, D);
}

/// tshark (a6): zero window, zero window probes and their ACKs, then a window update.
#[test]
fn analysis_zero_window_probe_and_window_update() {
    let mut ps = hs(CI, SI, 0.0, 0.02, None);
    ps.push(p(0.1, C, CI + 1, SI + 1, ACK, 1000, D));
    ps.push(p(0.11, S, SI + 1, CI + 101, ACK, 0, b""));
    ps.push(p(0.3, C, CI + 101, SI + 1, ACK, 1000, b"y"));
    ps.push(p(0.31, S, SI + 1, CI + 101, ACK, 0, b""));
    ps.push(p(0.5, C, CI + 101, SI + 1, ACK, 1000, b"y"));
    ps.push(p(0.51, S, SI + 1, CI + 101, ACK, 0, b""));
    ps.push(p(0.6, S, SI + 1, CI + 101, ACK, 2000, b""));
    ps.push(p(0.7, C, CI + 101, SI + 1, ACK, 1000, D));
    let ev = run(&ps);
    assert_eq!(
        flags_of(&ev)[3..],
        [
            vec![],
            vec![ZeroWindow],
            vec![ZeroWindowProbe],
            vec![ZeroWindow, ZeroWindowProbeAck],
            vec![ZeroWindowProbe],
            vec![ZeroWindow, ZeroWindowProbeAck],
            vec![WindowUpdate],
            vec![],
        ]
    );
    // The probe byte is delivered once; the data after it overlaps it by one byte.
    let (bytes, gaps) = stream_of(&ev, C);
    assert_eq!(bytes.len(), 200);
    assert_eq!(bytes[100], b'y');
    assert!(gaps.is_empty());
}

/// tshark (a7): an ACK past a hole is "ACKed unseen segment" (only the first of a run; the
/// next one is a dup ACK); reassembly gives the hole up at that ACK.
#[test]
fn analysis_acked_unseen_and_hole_given_up_at_the_ack() {
    let mut ps = hs(CI, SI, 0.0, 0.02, None);
    ps.push(p(0.100, C, CI + 1, SI + 1, ACK, 1000, D));
    ps.push(p(0.101, C, CI + 201, SI + 1, ACK, 1000, D));
    ps.push(p(0.12, S, SI + 1, CI + 301, ACK, 1000, b""));
    ps.push(p(0.13, S, SI + 1, CI + 301, ACK, 1000, b""));
    ps.push(p(0.2, S, SI + 51, CI + 301, ACK, 1000, D));
    let ev = run(&ps);
    assert_eq!(
        rows(&ev)[3..],
        [
            r(1, Some(1), 100, 1000, &[]),
            r(201, Some(1), 100, 1000, &[LostSegment]),
            r(1, Some(301), 0, 1000, &[AckLostSegment]),
            r(1, Some(301), 0, 1000, &[DuplicateAck]),
            r(51, Some(301), 100, 1000, &[LostSegment]),
        ]
    );
    let l = lines(&ev);
    let i = l.iter().position(|x| x == "#0 tcp s2c 1").unwrap();
    assert_eq!(l[i + 1], "#0 gap c2s 101 100 NotCaptured");
    assert_eq!(l[i + 2], "#0 sink_gap c2s 100");
    assert!(l[i + 3].starts_with("#0 data c2s x"));
    // The server's own hole (its first 50 bytes) is given up at the end of the capture.
    assert_eq!(stream_of(&ev, S).1, [gap(1, 50, GapReason::NotCaptured)]);
    assert_eq!(stream_of(&ev, S).0.len(), 100);
}

/// tshark (b3, b5): data reaching the right edge of the receiver's window is window_full;
/// a window from a SYN-ACK is not scaled.
#[test]
fn analysis_window_full() {
    let mut ps = hs(CI, SI, 0.0, 0.02, Some(7));
    ps.push(p(0.25, S, SI + 1, CI + 1, ACK, 2, b""));
    ps.push(p(0.300, C, CI + 1, SI + 1, ACK, 1000, D));
    ps.push(p(0.301, C, CI + 101, SI + 1, ACK, 1000, D));
    ps.push(p(0.302, C, CI + 201, SI + 1, ACK, 1000, &[b'z'; 56]));
    assert_eq!(
        rows(&run(&ps))[2..],
        [
            r(1, Some(1), 0, 128000, &[]),
            r(1, Some(1), 0, 256, &[WindowUpdate]),
            r(1, Some(1), 100, 128000, &[]),
            r(101, Some(1), 100, 128000, &[]),
            r(201, Some(1), 56, 128000, &[WindowFull]),
        ]
    );
    let ps = vec![
        p(0.0, C, CI, 0, SYN, 64240, b"").ws(7),
        p(0.01, S, SI, CI + 1, SYN | ACK, 300, b"").ws(7),
        p(0.02, C, CI + 1, SI + 1, ACK, 1000, b""),
        p(0.03, C, CI + 1, SI + 1, ACK, 1000, D),
        p(0.031, C, CI + 101, SI + 1, ACK, 1000, D),
        p(0.032, C, CI + 201, SI + 1, ACK, 1000, D),
    ];
    assert_eq!(
        flags_of(&run(&ps)),
        [vec![], vec![], vec![], vec![], vec![], vec![WindowFull]]
    );
}

/// tshark (c2): new data starting one byte early (seq = next - 1) is not a retransmission;
/// a real overlap later is.
#[test]
fn analysis_one_byte_early_is_new_data() {
    let mut ps = hs(CI, SI, 0.0, 0.02, None);
    ps.push(p(0.1, C, CI + 1, SI + 1, ACK, 1000, D));
    ps.push(p(0.5, C, CI + 100, SI + 1, ACK, 1000, D));
    ps.push(p(0.9, C, CI + 150, SI + 1, ACK, 1000, D));
    let ev = run(&ps);
    assert_eq!(flags_of(&ev)[3..], [vec![], vec![], vec![Retransmission]]);
    assert_eq!(stream_of(&ev, C).0.len(), 249);
}

/// tshark (r1): SYN, SYN-ACK and FIN resends are retransmissions; an ACK after the close
/// repeating the last one is a dup ACK. tshark's iRTT was 0.51 s (from the latest SYN).
#[test]
fn analysis_handshake_and_fin_retransmissions() {
    let ps = vec![
        p(0.0, C, CI, 0, SYN, 64240, b"").mss(1460),
        p(1.0, C, CI, 0, SYN, 64240, b"").mss(1460),
        p(1.01, S, SI, CI + 1, SYN | ACK, 65160, b"").mss(1460),
        p(1.5, S, SI, CI + 1, SYN | ACK, 65160, b"").mss(1460),
        p(1.51, C, CI + 1, SI + 1, ACK, 1000, b""),
        p(1.52, C, CI + 1, SI + 1, ACK | FIN, 1000, b""),
        p(1.9, C, CI + 1, SI + 1, ACK | FIN, 1000, b""),
        p(1.91, S, SI + 1, CI + 2, ACK | FIN, 1000, b""),
        p(1.92, C, CI + 2, SI + 2, ACK, 1000, b""),
        p(2.0, C, CI + 2, SI + 2, ACK, 1000, b""),
    ];
    let ev = run(&ps);
    assert_eq!(
        rows(&ev),
        vec![
            r(0, None, 0, 64240, &[]),
            r(0, None, 0, 64240, &[Retransmission]),
            r(0, Some(1), 0, 65160, &[]),
            r(0, Some(1), 0, 65160, &[Retransmission]),
            r(1, Some(1), 0, 1000, &[]),
            r(1, Some(1), 0, 1000, &[]),
            r(1, Some(1), 0, 1000, &[Retransmission]),
            r(1, Some(2), 0, 1000, &[]),
            r(2, Some(2), 0, 1000, &[]),
            r(2, Some(2), 0, 1000, &[DuplicateAck]),
        ]
    );
    assert_eq!(
        handshake_of(&ev),
        Some(Handshake {
            syn_ack_rtt: Nanos(10_000_000),
            irtt: Nanos(510_000_000),
        })
    );
    assert_eq!(last_lines(&ev, 2), ["#0 end Closed", "#0 tcp c2s 2"]);
}

/// tshark (n1): the clock went back during the handshake (iRTT -0.5 s); Wireshark turns the
/// negative RTT into a huge unsigned threshold, so a filler 50 s late is still out-of-order.
#[test]
fn analysis_negative_handshake_rtt_makes_everything_out_of_order() {
    let ps = vec![
        p(1.0, C, CI, 0, SYN, 64240, b""),
        p(0.4, S, SI, CI + 1, SYN | ACK, 65160, b""),
        p(0.5, C, CI + 1, SI + 1, ACK, 1000, b""),
        p(10.0, C, CI + 101, SI + 1, ACK, 1000, D),
        p(60.0, C, CI + 1, SI + 1, ACK, 1000, D),
    ];
    let ev = run(&ps);
    assert_eq!(
        flags_of(&ev),
        [vec![], vec![], vec![], vec![LostSegment], vec![OutOfOrder]]
    );
    // The handshake event does not go negative.
    assert_eq!(
        handshake_of(&ev),
        Some(Handshake {
            syn_ack_rtt: Nanos(0),
            irtt: Nanos(0),
        })
    );
}

#[test]
fn analysis_flags_come_in_wiresharks_order() {
    use crate::model::TcpAnalysis as A;
    assert!(analysis::flags(0).is_empty());
    // A fast retransmission is a retransmission too, listed right after it.
    assert_eq!(
        analysis::flags(analysis::FAST_RETRANSMISSION),
        [A::FastRetransmission, A::Retransmission]
    );
    assert_eq!(
        analysis::flags(analysis::DUP_ACK | analysis::ZERO_WINDOW | analysis::REUSED_PORTS),
        [A::ReusedPorts, A::ZeroWindow, A::DuplicateAck]
    );
}

// ---------------------------------------------------------------------------------------
// Reassembly

fn data_conn(segs: &[(u32, &[u8])]) -> Vec<P> {
    let mut ps = hs(CI, SI, 0.0, 0.02, None);
    for (i, (off, d)) in segs.iter().enumerate() {
        ps.push(p(
            0.1 + i as f64 * 0.001,
            C,
            CI + 1 + off,
            SI + 1,
            ACK,
            1000,
            d,
        ));
    }
    ps
}

#[test]
fn overlap_first_seen_bytes_win() {
    // Partial overlap with in-order data already delivered.
    let ev = run(&data_conn(&[(0, b"hello"), (2, b"XXXworld")]));
    assert_eq!(stream_of(&ev, C), (b"helloworld".to_vec(), vec![]));
    // An in-order segment running into held bytes: the held ones win.
    let ev = run(&data_conn(&[(5, b"world"), (0, b"helloWO")]));
    assert_eq!(stream_of(&ev, C), (b"helloworld".to_vec(), vec![]));
    // A held segment fully covered by a later, larger held one, then the start.
    let ev = run(&data_conn(&[(6, b"ab"), (3, b"XXXYYYZZ"), (0, b"012")]));
    assert_eq!(stream_of(&ev, C), (b"012XXXabYZZ".to_vec(), vec![]));
    // A later segment fully inside a held one adds nothing.
    let ev = run(&data_conn(&[(3, b"34567"), (4, b"QQ"), (0, b"012")]));
    assert_eq!(stream_of(&ev, C), (b"01234567".to_vec(), vec![]));
}

#[test]
fn duplicates_are_delivered_once() {
    let ev = run(&data_conn(&[
        (5, b"56789"),
        (5, b"56789"),
        (0, b"01234"),
        (0, b"01234"),
        (5, b"56789"),
    ]));
    assert_eq!(stream_of(&ev, C), (b"0123456789".to_vec(), vec![]));
    let data_events = lines(&ev).iter().filter(|l| l.contains("data")).count();
    assert_eq!(data_events, 2);
}

#[test]
fn hole_filled_later_delivers_in_order_at_the_filler() {
    let ev = run(&data_conn(&[(4, b"4567"), (8, b"89"), (0, b"0123")]));
    let l = lines(&ev);
    let n = l.iter().rposition(|x| x == "#0 tcp c2s 1").unwrap();
    assert_eq!(
        l[n - 2..n + 4],
        [
            "#0 tcp c2s 5",
            "#0 tcp c2s 9",
            "#0 tcp c2s 1",
            "#0 data c2s 0123",
            "#0 data c2s 4567",
            "#0 data c2s 89",
        ]
    );
}

#[test]
fn hole_never_filled_becomes_a_gap_at_the_end() {
    // Hole, then FIN: the FIN waits for the hole; the end of the capture gives it up.
    let mut ps = data_conn(&[(0, b"0123"), (8, b"89")]);
    ps.push(p(0.2, C, CI + 11, SI + 1, ACK | FIN, 1000, b""));
    let ev = run(&ps);
    assert_eq!(
        last_lines(&ev, 6),
        [
            "#0 gap c2s 5 4 NotCaptured",
            "#0 sink_gap c2s 4",
            "#0 data c2s 89",
            "#0 sink_end c2s",
            "#0 sink_end s2c",
            "#0 end Closing",
        ]
    );
    // The peer ACKing the FIN gives the hole up at once (it has the bytes: they will never
    // be resent), and ends the stream.
    ps.push(p(0.3, S, SI + 1, CI + 12, ACK, 1000, b""));
    let ev = run_limits(&ps, Limits::default(), false);
    assert_eq!(
        last_lines(&ev, 5),
        [
            "#0 tcp s2c 1",
            "#0 gap c2s 5 4 NotCaptured",
            "#0 sink_gap c2s 4",
            "#0 data c2s 89",
            "#0 sink_end c2s",
        ]
    );
    // A hole before a FIN with no data after it.
    let mut ps = data_conn(&[(0, b"0123")]);
    ps.push(p(0.2, C, CI + 11, SI + 1, ACK | FIN, 1000, b""));
    let ev = run(&ps);
    assert_eq!(
        stream_of(&ev, C),
        (b"0123".to_vec(), vec![gap(5, 6, GapReason::NotCaptured)])
    );
}

#[test]
fn rst_flushes_held_bytes_as_gaps() {
    let mut ps = data_conn(&[(0, b"01"), (4, b"45")]);
    ps.push(p(0.2, S, SI + 1, CI + 3, RST | ACK, 0, b""));
    let ev = run(&ps);
    assert_eq!(
        last_lines(&ev, 8),
        [
            "#0 tcp s2c 1",
            "#0 state Reset",
            "#0 gap c2s 3 2 NotCaptured",
            "#0 sink_gap c2s 2",
            "#0 data c2s 45",
            "#0 sink_end c2s",
            "#0 sink_end s2c",
            "#0 end Reset",
        ]
    );
}

#[test]
fn held_bytes_cap_turns_the_hole_into_a_gap() {
    let limits = Limits {
        max_held_bytes: 10,
        ..Limits::default()
    };
    let ps = data_conn(&[(5, b"abcde"), (10, b"fghij"), (15, b"klmno"), (0, b"01234")]);
    let ev = run_limits(&ps, limits, true);
    let l = lines(&ev);
    let i = l.iter().position(|x| x == "#0 tcp c2s 16").unwrap();
    assert_eq!(
        l[i + 1..i + 6],
        [
            "#0 gap c2s 1 5 NotCaptured",
            "#0 sink_gap c2s 5",
            "#0 data c2s abcde",
            "#0 data c2s fghij",
            "#0 data c2s klmno",
        ]
    );
    // The late filler is behind the cursor: nothing is delivered twice.
    assert_eq!(
        stream_of(&ev, C),
        (
            b"abcdefghijklmno".to_vec(),
            vec![gap(1, 5, GapReason::NotCaptured)]
        )
    );
    // One segment larger than the cap on its own goes straight through after its hole.
    let limits = Limits {
        max_held_bytes: 3,
        ..Limits::default()
    };
    let ev = run_limits(&data_conn(&[(2, b"23456")]), limits, true);
    assert_eq!(
        stream_of(&ev, C),
        (b"23456".to_vec(), vec![gap(1, 2, GapReason::NotCaptured)])
    );
}

#[test]
fn truncated_payload_becomes_a_truncated_gap() {
    // In order: the captured bytes, then the missing tail.
    let mut ps = hs(CI, SI, 0.0, 0.02, None);
    ps.push(p(0.1, C, CI + 1, SI + 1, ACK, 1000, b"0123").wire(10));
    ps.push(p(0.2, C, CI + 11, SI + 1, ACK, 1000, b"ab"));
    let ev = run(&ps);
    let t = rows(&ev);
    assert_eq!(t[3].2, 10);
    let truncated: Vec<bool> = ev
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Tcp(t) => Some(t.truncated),
            _ => None,
        })
        .collect();
    assert_eq!(truncated, [false, false, false, true, false]);
    let l = lines(&ev);
    let i = l.iter().rposition(|x| x == "#0 tcp c2s 1").unwrap();
    assert_eq!(
        l[i + 1..i + 5],
        [
            "#0 data c2s 0123",
            "#0 gap c2s 5 6 Truncated",
            "#0 sink_gap c2s 6",
            "#0 tcp c2s 11",
        ]
    );
    // Out of order: the truncated tail keeps its place among held bytes.
    let mut ps = hs(CI, SI, 0.0, 0.02, None);
    ps.push(p(0.1, C, CI + 5, SI + 1, ACK, 1000, b"45").wire(4));
    ps.push(p(0.2, C, CI + 9, SI + 1, ACK, 1000, b"89"));
    ps.push(p(0.3, C, CI + 1, SI + 1, ACK, 1000, b"0123"));
    let ev = run(&ps);
    assert_eq!(
        stream_of(&ev, C),
        (b"01234589".to_vec(), vec![gap(7, 2, GapReason::Truncated)])
    );
    // A capture holding more bytes than the IP length (padding) delivers only the payload.
    let mut ps = hs(CI, SI, 0.0, 0.02, None);
    ps.push(p(0.1, C, CI + 1, SI + 1, ACK, 1000, b"abcPAD").wire(3));
    let ev = run(&ps);
    assert_eq!(stream_of(&ev, C).0, b"abc");
}

#[test]
fn gap_filled_later_is_not_delivered_twice() {
    let limits = Limits {
        max_held_bytes: 2,
        ..Limits::default()
    };
    let mut ps = data_conn(&[(3, b"34"), (5, b"56"), (0, b"012"), (0, b"0123456")]);
    ps.push(p(0.2, C, CI + 8, SI + 1, ACK, 1000, b"78"));
    let ev = run_limits(&ps, limits, true);
    assert_eq!(
        stream_of(&ev, C),
        (b"345678".to_vec(), vec![gap(1, 3, GapReason::NotCaptured)])
    );
}

#[test]
fn bytes_after_the_fin_are_not_part_of_the_stream() {
    // Found by the contract fuzz: a segment wholly after a known FIN once underflowed.
    let mut ps = data_conn(&[(0, b"01")]);
    ps.push(p(0.2, C, CI + 5, SI + 1, ACK | FIN, 1000, b""));
    ps.push(p(0.3, C, CI + 9, SI + 1, ACK, 1000, b"late"));
    ps.push(p(0.4, C, CI + 3, SI + 1, ACK, 1000, b"23456"));
    let ev = run(&ps);
    assert_eq!(stream_of(&ev, C), (b"0123".to_vec(), vec![]));
    let l = lines(&ev);
    let i = l.iter().position(|x| x == "#0 data c2s 23").unwrap();
    assert_eq!(l[i + 1], "#0 sink_end c2s");
}

#[test]
fn syn_data_is_delivered() {
    // TCP Fast Open: data on the SYN starts at relative seq 1.
    let ps = vec![
        p(0.0, C, CI, 0, SYN, 64240, b"GET"),
        p(0.01, S, SI, CI + 4, SYN | ACK, 65160, b""),
        p(0.02, C, CI + 4, SI + 1, ACK, 1000, b" /"),
    ];
    let ev = run(&ps);
    assert_eq!(stream_of(&ev, C).0, b"GET /");
}

// ---------------------------------------------------------------------------------------
// Table limits and long streams

#[test]
fn eviction_keeps_the_table_bounded() {
    let limits = Limits {
        max_connections: 4,
        ..Limits::default()
    };
    // Open connections only: each new one ends and forgets the oldest.
    let mut table = FlowTable::<Rec>::new(limits);
    let mut out = Vec::new();
    let ps: Vec<P> = (0..1000u16)
        .map(|i| p(f64::from(i) * 0.001, C, CI, 0, SYN, 64240, b"").port(1024 + i))
        .collect();
    feed(&mut table, &ps, &mut out);
    assert!(table.live() <= 4);
    assert!(table.slots.len() <= 4);
    assert!(table.index.len() <= 4);
    assert!(table.by_age.len() <= 2 * 4 + 64 + 1);
    assert!(table.ended.len() <= 2 * 4 + 64 + 1);
    let e = ends(&out);
    assert_eq!(e.len(), 996);
    assert!(e.iter().all(|e| e.state == ConnState::Handshaking));
    // In order of age, each just before the connection that needed its place.
    let l = lines(&out);
    assert_eq!(
        l[10..13],
        [
            "#0 end Handshaking",
            "#4 connection 10.0.0.1:1028 10.0.0.2:80",
            "#4 tcp c2s 0"
        ]
    );

    // Closed connections are forgotten first and never ended twice; an open one survives.
    let mut table = FlowTable::<Rec>::new(limits);
    let mut out = Vec::new();
    let mut ps = hs(CI, SI, 0.0, 0.02, None);
    for i in 0..500u16 {
        let t = 1.0 + f64::from(i);
        let mut one = hs(CI, SI, t, 0.02, None);
        one.push(p(t + 0.1, C, CI + 1, SI + 1, ACK | FIN, 1000, b""));
        one.push(p(t + 0.2, S, SI + 1, CI + 2, ACK | FIN, 1000, b""));
        one.push(p(t + 0.3, C, CI + 2, SI + 2, ACK, 1000, b""));
        ps.extend(one.into_iter().map(|p| p.port(2000 + i)));
    }
    feed(&mut table, &ps, &mut out);
    assert!(table.live() <= 4);
    assert!(table.index.len() <= 4);
    let e = ends(&out);
    assert_eq!(e.len(), 500);
    assert!(e.iter().all(|e| e.state == ConnState::Closed));
    table.finish(stamp(0, 0.0), &mut out);
    let e = ends(&out);
    assert_eq!(e.len(), 501);
    assert_eq!(e[500].state, ConnState::Established);
    assert_eq!(out.last().and_then(|e| e.conn), Some(0));
}

/// Counts what it receives; reports at `on_end` as a violation "count" "<bytes> <gaps>".
struct Count {
    bytes: [u64; 2],
    gaps: [u64; 2],
}

impl StreamSink for Count {
    fn new(_: &Limits) -> Self {
        Count {
            bytes: [0; 2],
            gaps: [0; 2],
        }
    }
    fn on_data(&mut self, dir: Dir, data: &[u8], _: &mut Cx) {
        self.bytes[dir.idx()] += data.len() as u64;
    }
    fn on_gap(&mut self, dir: Dir, len: u32, _: &mut Cx) {
        self.gaps[dir.idx()] += u64::from(len);
    }
    fn on_end(&mut self, dir: Dir, _: EndCause, cx: &mut Cx) {
        let v = Violation {
            layer: Layer::Tcp,
            rule: "count",
            detail: format!("{} {}", self.bytes[dir.idx()], self.gaps[dir.idx()]),
        };
        cx.emit(Some(dir), EventBody::Violation(v));
    }
    fn is_websocket(&self) -> bool {
        false
    }
}

#[test]
fn streams_longer_than_4_gib_with_wrapping_sequence_numbers() {
    const SEG: u32 = 65536;
    const N: u64 = 81_920; // 5 GiB
    let chunk = vec![7u8; SEG as usize];
    let isn = u32::MAX - 1000;
    let mut table = FlowTable::<Count>::new(Limits::default());
    let mut out = Vec::new();
    feed(&mut table, &hs(isn, SI, 0.0, 0.02, None), &mut out);
    let mut frame = 3usize;
    let mut last_rel = 0;
    let mut send = |table: &mut FlowTable<Count>, off: u64, out: &mut Vec<Event>| {
        let pkt = TcpPacket {
            src: client(),
            dst: server(),
            seq: isn.wrapping_add(1).wrapping_add(off as u32),
            ack: SI + 1,
            flags: ACK,
            window: 1000,
            options: TcpOptions::default(),
            payload: &chunk,
            wire_len: SEG,
        };
        frame += 1;
        table.ingest(&pkt, stamp(frame, 1.0 + frame as f64 * 1e-6), out);
        if let Some(EventBody::Tcp(t)) = out
            .iter()
            .rev()
            .find(|e| e.body.kind() == "tcp")
            .map(|e| &e.body)
        {
            last_rel = t.seq;
        }
        out.retain(|e| e.body.kind() != "tcp");
    };
    let mut i = 0;
    while i < N {
        // Every 10000 segments, swap a pair: the held path works across the wraps too.
        if i % 10_000 == 5 && i + 1 < N {
            send(&mut table, (i + 1) * u64::from(SEG), &mut out);
            send(&mut table, i * u64::from(SEG), &mut out);
            i += 2;
        } else {
            send(&mut table, i * u64::from(SEG), &mut out);
            i += 1;
        }
    }
    assert_eq!(last_rel, (1 + (N - 1) * u64::from(SEG)) as u32);
    let total = N * u64::from(SEG);
    let fin_seq = isn.wrapping_add(1).wrapping_add(total as u32);
    let ps = vec![p(9.0, C, fin_seq, SI + 1, ACK | FIN, 1000, b"")];
    feed(&mut table, &ps, &mut out);
    let counts: Vec<String> = out
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Violation(v) if v.rule == "count" => Some(v.detail.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(counts, [format!("{total} 0")]);
    assert!(!out.iter().any(|e| e.body.kind() == "gap"));
}

// ---------------------------------------------------------------------------------------
// Property tests: reassembly against the original stream

/// Deterministic shuffle (xorshift64) so a failing case replays from its seed.
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    seed |= 1;
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

/// Cuts `0..n` into consecutive segments with lengths taken from `cuts` in turn.
fn cover(n: usize, cuts: &[usize]) -> Vec<(usize, usize)> {
    let mut segs = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < n {
        let len = cuts[i % cuts.len()].min(n - pos);
        segs.push((pos, len));
        pos += len;
        i += 1;
    }
    segs
}

/// A c2s segment at stream offset `off` for a connection with client ISN `isn`.
fn at(isn: u32, off: usize, data: &[u8], wire: usize, flags: u8) -> P {
    p(
        0.1,
        C,
        isn.wrapping_add(1).wrapping_add(off as u32),
        SI + 1,
        flags,
        1000,
        data,
    )
    .wire(wire as u32)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Every byte sent at least once, in any order, duplicated and overlapping: the sink gets
    /// exactly the original stream and no gap.
    #[test]
    fn reordered_duplicated_overlapping_segments_reassemble_exactly(
        data in prop::collection::vec(any::<u8>(), 1..3000),
        cuts in prop::collection::vec(1usize..400, 1..20),
        extra in prop::collection::vec((0usize..3000, 1usize..500), 0..12),
        isn in any::<u32>(),
        seed in any::<u64>(),
    ) {
        let n = data.len();
        let mut segs = cover(n, &cuts);
        for (s, l) in extra {
            let s = s % n;
            segs.push((s, l.min(n - s)));
        }
        shuffle(&mut segs, seed);
        let mut ps = hs(isn, SI, 0.0, 0.02, None);
        for (i, &(s, l)) in segs.iter().enumerate() {
            let mut seg = at(isn, s, &data[s..s + l], l, ACK | PSH);
            seg.t = 0.1 + i as f64 * 1e-4;
            ps.push(seg);
        }
        let ev = run(&ps);
        let (bytes, gaps) = stream_of(&ev, C);
        prop_assert!(gaps.is_empty(), "gaps: {:?}", gaps);
        prop_assert_eq!(bytes, data);
    }

    /// Some segments never sent, some cut short by the snap length, a small held-bytes cap:
    /// delivered bytes match the original at their offsets, delivered + gaps = the stream
    /// length (up to the FIN), and held bytes never pass the cap.
    #[test]
    fn lost_and_truncated_bytes_become_gaps_and_the_cap_holds(
        data in prop::collection::vec(any::<u8>(), 1..3000),
        cuts in prop::collection::vec(1usize..400, 1..20),
        lost in prop::collection::vec(any::<bool>(), 1..16),
        cut_short in prop::collection::vec(0usize..50, 1..16),
        extra in prop::collection::vec((0usize..3000, 1usize..500), 0..6),
        cap in 0usize..1500,
        acks in prop::collection::vec(prop::option::weighted(0.3, 0usize..3100), 1..16),
        isn in any::<u32>(),
        seed in any::<u64>(),
    ) {
        let n = data.len();
        let mut segs: Vec<(usize, usize, usize)> = Vec::new(); // (start, len, captured)
        for (i, (s, l)) in cover(n, &cuts).into_iter().enumerate() {
            if lost[i % lost.len()] {
                continue;
            }
            let short = cut_short[i % cut_short.len()];
            let captured = if short < 10 { l.saturating_sub(short) } else { l };
            segs.push((s, l, captured));
        }
        for (s, l) in extra {
            let s = s % n;
            let l = l.min(n - s);
            segs.push((s, l, l));
        }
        segs.push((n, 0, 0)); // the FIN
        shuffle(&mut segs, seed);
        let mut ps = hs(isn, SI, 0.0, 0.02, None);
        for (i, &(s, l, captured)) in segs.iter().enumerate() {
            let flags = if s == n { ACK | FIN } else { ACK };
            let mut seg = at(isn, s, &data[s..s + captured], l, flags);
            seg.t = 0.1 + i as f64 * 1e-4;
            ps.push(seg);
            // Now and then the server ACKs some offset (possibly past a hole): the hole is
            // given up at once.
            if let Some(a) = acks[i % acks.len()] {
                let ack = isn.wrapping_add(1).wrapping_add((a % (n + 2)) as u32);
                ps.push(p(0.1 + i as f64 * 1e-4, S, SI + 1, ack, ACK, 1000, b""));
            }
        }
        let limits = Limits { max_held_bytes: cap, ..Limits::default() };
        let mut table = FlowTable::<Rec>::new(limits);
        let mut ev = Vec::new();
        feed(&mut table, &ps, &mut ev);
        let peak = table.peak_held(0, C).unwrap_or(0);
        prop_assert!(peak <= cap, "peak {} > cap {}", peak, cap);
        table.finish(stamp(ps.len(), 1.0), &mut ev);
        let mut off = 0usize;
        let mut ended = false;
        for e in ev.iter().filter(|e| e.dir == Some(C)) {
            match &e.body {
                EventBody::HttpBody(b) => {
                    prop_assert!(!ended);
                    let got = &b.data.kept;
                    prop_assert_eq!(&got[..], &data[off..off + got.len()]);
                    off += got.len();
                }
                EventBody::Gap(g) => {
                    prop_assert!(!ended);
                    prop_assert_eq!(g.seq, (off as u32).wrapping_add(1));
                    off += g.len as usize;
                }
                EventBody::Violation(v) if v.rule == "sink_end" => {
                    prop_assert!(!ended);
                    ended = true;
                }
                _ => {}
            }
        }
        prop_assert!(ended);
        prop_assert_eq!(off, n);
    }
}

// ---------------------------------------------------------------------------------------
// Differential check against tshark

/// Replays `tshark_cases.txt` (random conversations written as a pcap and run through
/// `tshark -T json` 4.0.17) and compares every segment's relative seq/ack, length,
/// tcp.window_size and tcp.analysis flags with what tshark showed.
#[test]
fn random_conversations_match_tshark() {
    let mut table = FlowTable::<Rec>::new(Limits::default());
    let mut out = Vec::new();
    let mut mismatches = Vec::new();
    let mut n = 0;
    for line in include_str!("tshark_cases.txt").lines() {
        if line.starts_with('#') {
            continue;
        }
        let (seg, want) = line.split_once(" | ").unwrap();
        let v: Vec<i64> = seg.split(' ').map(|x| x.parse().unwrap()).collect();
        let addr = |port: i64| -> SocketAddr {
            if port == 80 {
                server()
            } else {
                format!("10.0.0.1:{port}").parse().unwrap()
            }
        };
        let payload = vec![0u8; v[8] as usize];
        let pkt = TcpPacket {
            src: addr(v[1]),
            dst: addr(v[2]),
            seq: v[3] as u32,
            ack: v[4] as u32,
            flags: v[5] as u8,
            window: v[6] as u16,
            options: TcpOptions {
                mss: Some(1460),
                wscale: u8::try_from(v[9]).ok(),
                ..TcpOptions::default()
            },
            payload: &payload,
            wire_len: v[7] as u32,
        };
        n += 1;
        let stamp = Stamp {
            ts: Timestamp(v[0] as u64),
            t: Nanos(0),
            frame: n,
        };
        out.clear();
        table.ingest(&pkt, stamp, &mut out);
        let tcp = out.iter().find_map(|e| match &e.body {
            EventBody::Tcp(t) => Some(t),
            _ => None,
        });
        let tcp = tcp.unwrap();
        let mut names: Vec<String> = tcp
            .analysis
            .iter()
            .map(|a| {
                serde_json::to_value(a)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        names.sort();
        let got = format!(
            "{} {} {} {} {}",
            tcp.seq,
            tcp.ack.unwrap_or(0),
            tcp.len,
            tcp.win,
            if names.is_empty() {
                "-".to_string()
            } else {
                names.join(",")
            }
        );
        // Our JSON names are tshark's field suffixes.
        let (numbers, flags) = want.rsplit_once(' ').unwrap();
        let mut flags: Vec<&str> = flags.split(',').collect();
        flags.sort_unstable();
        let want = format!("{numbers} {}", flags.join(","));
        if got != want {
            mismatches.push(format!("frame {n}: tshark {want} / ours {got}"));
        }
    }
    assert!(n > 900);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// A segment of the contract fuzz: (client port index, direction, seq, ack, flags, window,
/// payload length, captured length).
type Arb = (u8, bool, u32, u32, u8, u16, u16, u16);

fn arb_segment() -> impl Strategy<Value = Arb> {
    let near = prop_oneof![0u32..64, (u32::MAX - 64)..=u32::MAX, any::<u32>()];
    (
        0u8..3,
        any::<bool>(),
        near.clone(),
        near,
        any::<u8>(),
        prop_oneof![Just(0u16), any::<u16>()],
        0u16..80,
        0u16..80,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Whatever the segments: no panic; per connection `connection` comes first, at most one
    /// `connection_end` and only `tcp` after it; per direction no bytes after `on_end`; after
    /// `finish` every connection has ended; the table stays within `max_connections`.
    #[test]
    fn arbitrary_segments_keep_the_event_contract(
        segs in prop::collection::vec(arb_segment(), 1..120),
        max_connections in 1usize..4,
        max_held_bytes in 0usize..200,
    ) {
        let limits = Limits { max_connections, max_held_bytes, ..Limits::default() };
        let mut table = FlowTable::<Rec>::new(limits);
        let mut ev = Vec::new();
        let body = [0x55u8; 80];
        for (i, &(port, c2s, seq, ack, flags, win, len, cap)) in segs.iter().enumerate() {
            let mut c = client();
            c.set_port(40000 + u16::from(port));
            let (src, dst) = if c2s { (c, server()) } else { (server(), c) };
            let pkt = TcpPacket {
                src,
                dst,
                seq,
                ack,
                flags,
                window: win,
                options: TcpOptions { wscale: Some(flags % 16), ..TcpOptions::default() },
                payload: &body[..usize::from(cap)],
                wire_len: u32::from(len),
            };
            table.ingest(&pkt, stamp(i, i as f64 * 0.001), &mut ev);
            prop_assert!(table.live() <= max_connections);
        }
        table.finish(stamp(segs.len(), 1.0), &mut ev);
        let mut seen = std::collections::HashMap::new(); // conn -> (ended, [dir ended; 2])
        for e in &ev {
            let id = e.conn.unwrap();
            let kind = e.body.kind();
            match seen.get_mut(&id) {
                None => {
                    prop_assert_eq!(kind, "connection");
                    seen.insert(id, (false, [false; 2]));
                }
                Some((ended, dirs)) => {
                    prop_assert!(kind != "connection");
                    if *ended {
                        prop_assert_eq!(kind, "tcp");
                    }
                    if kind == "connection_end" {
                        *ended = true;
                    }
                    if let Some(d) = e.dir {
                        let is_end = matches!(&e.body, EventBody::Violation(v) if v.rule == "sink_end");
                        if kind == "http_body" || kind == "gap" || is_end {
                            prop_assert!(!dirs[d.idx()]);
                        }
                        if is_end {
                            dirs[d.idx()] = true;
                        }
                    }
                }
            }
        }
        prop_assert!(seen.values().all(|(ended, _)| *ended));
    }
}

// ---------------------------------------------------------------------------------------
// Memory bounds on hostile segment sequences

/// `n` segments of `len` bytes each at every other slot after a hole that never fills:
/// nothing is ever delivered, everything is held out of order. `captured` bytes of each are
/// in the capture (0: the snap length cut them all).
fn holes(n: usize, len: usize, captured: usize) -> Vec<P> {
    let mut ps = hs(CI, SI, 0.0, 0.02, None);
    let body = vec![b'x'; captured];
    for i in 0..n {
        let off = (1 + 2 * i * len) as u32;
        let mut seg = p(0.1, C, CI + 1 + off, SI + 1, ACK, 1000, &body).wire(len as u32);
        seg.t = 0.1 + i as f64 * 1e-6;
        ps.push(seg);
    }
    ps
}

#[test]
fn truncated_out_of_order_segments_are_bounded() {
    // Found by review: a stretch the capture cut short held no bytes, so it never counted
    // against the cap, and each one added a map entry: unbounded memory.
    let mut table = FlowTable::<Rec>::new(Limits::default());
    let mut ev = Vec::new();
    feed(&mut table, &holes(40_000, 10, 0), &mut ev);
    let h = table.held();
    assert!(h.max_stream_pieces <= MAX_HELD_PIECES, "{h:?}");
    assert_eq!(
        h.reassembly_cost,
        h.reassembly_bytes + h.max_stream_pieces * PIECE_COST
    );
}

#[test]
fn tiny_out_of_order_segments_are_bounded_by_pieces() {
    // 1-byte segments stay far under the byte cap, but each is a map entry.
    let ps = holes(40_000, 1, 1);
    let mut table = FlowTable::<Rec>::new(Limits::default());
    let mut ev = Vec::new();
    feed(&mut table, &ps, &mut ev);
    let h = table.held();
    assert_eq!(h.max_stream_pieces, MAX_HELD_PIECES, "{h:?}");
    assert!(h.max_stream_bytes <= MAX_HELD_PIECES);
    // What could not be held was given up as gaps, in order, and every byte is accounted for.
    table.finish(stamp(ps.len(), 1.0), &mut ev);
    let (bytes, gaps) = stream_of(&ev, C);
    assert_eq!(bytes.len(), 40_000);
    let missing: u32 = gaps.iter().map(|g| g.len).sum();
    assert_eq!(missing as usize + bytes.len(), 2 * 40_000);
}

#[test]
fn all_connections_together_stay_within_max_held_total() {
    // Found by review: each direction was bounded, the table was not (65,536 connections
    // x 2 x 4 MiB). Now a stream that would pass the table's budget gives up its hole.
    let limits = Limits {
        max_held_bytes: 4_000,
        max_held_total: 10_000,
        ..Limits::default()
    };
    let mut ps = Vec::new();
    for c in 0..10u16 {
        let port = 41_000 + c;
        ps.extend(
            hs(CI, SI, 0.0, 0.02, None)
                .into_iter()
                .map(|s| s.port(port)),
        );
        for i in 0..5u32 {
            let seg = p(0.1, C, CI + 2 + 1000 * i, SI + 1, ACK, 1000, &[b'a'; 999]);
            ps.push(seg.port(port));
        }
    }
    let mut table = FlowTable::<Rec>::new(limits);
    let mut ev = Vec::new();
    for (i, s) in ps.iter().enumerate() {
        feed(&mut table, std::slice::from_ref(s), &mut ev);
        let h = table.held();
        assert!(
            h.reassembly_cost <= limits.max_held_total,
            "segment {i}: {h:?}"
        );
        assert!(
            h.max_stream_bytes <= limits.max_held_bytes,
            "segment {i}: {h:?}"
        );
    }
    // The budget was really used, then given back as connections ended.
    assert!(ev.iter().any(|e| matches!(e.body, EventBody::Gap(_))));
    table.finish(stamp(ps.len(), 1.0), &mut ev);
    assert_eq!(table.held().reassembly_cost, 0);
}

#[test]
fn an_ended_connection_keeps_little_memory() {
    // Found by review: the sink lived inline in the connection, so each of the up to
    // max_connections ended connections kept 2,192 bytes (143 MB for a full table) though
    // its sink was gone; and the WebSocket half of every session was there from the start.
    assert!(std::mem::size_of::<Conn<crate::proto::Session>>() <= 640);
    assert!(
        std::mem::size_of::<crate::proto::Session>()
            < std::mem::size_of::<crate::proto::ws::WsSession>()
    );
}

#[test]
fn giving_up_holes_one_by_one_is_linear() {
    // Found by review: over a cap, the segment's uncovered stretches were recomputed after
    // each hole given up. With 8,000 one-byte pieces (and holes) before a segment that would
    // add 8,000 more, that is 8,000 walks over 8,000 pieces for one segment.
    let mut ps = holes(8_000, 1, 1);
    // 8,000 more pieces at odd offsets from 20,001, then a segment covering them all.
    for i in 0..8_000u32 {
        ps.push(p(0.2, C, CI + 1 + 20_001 + 2 * i, SI + 1, ACK, 1000, b"y"));
    }
    ps.push(p(
        0.3,
        C,
        CI + 1 + 20_000,
        SI + 1,
        ACK,
        1000,
        &[b'z'; 16_001],
    ));
    let mut table = FlowTable::<Rec>::new(Limits::default());
    let mut ev = Vec::new();
    feed(&mut table, &ps, &mut ev);
    let steps = table.walk_steps(0, C).unwrap();
    assert!(steps < 200_000, "{steps} steps for {} segments", ps.len());
}
