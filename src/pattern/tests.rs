//! Boundaries of the classifier, on synthetic event streams (times in nanoseconds).

use super::*;
use crate::model::{
    ConnState, ConnectionEnd, ConnectionInfo, Handshake, HttpBody, HttpRequest, HttpResponse,
    Opcode, Payload, Timestamp, WsMessage, WsUpgrade,
};

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;
const SERVER: &str = "10.0.0.2:8080";

/// Builds an event stream the way the engine orders it.
#[derive(Default)]
struct Stream {
    events: Vec<Event>,
    frame: u64,
}

impl Stream {
    fn push(&mut self, t: u64, conn: ConnId, dir: Option<Dir>, body: EventBody, new_frame: bool) {
        if new_frame || self.frame == 0 {
            self.frame += 1;
        }
        self.events.push(Event {
            ts: Timestamp(t),
            t: Nanos(t),
            frame: self.frame,
            conn: Some(conn),
            dir,
            body,
        });
    }

    /// Connection `id` from client port `port`; `rtt` is the handshake's iRTT (`None`: the
    /// capture joined late).
    fn open(&mut self, t: u64, id: ConnId, port: u16, rtt: Option<u64>) {
        let info = ConnectionInfo {
            client: SocketAddr::from(([10, 0, 0, 1], port)),
            server: SERVER.parse().unwrap(),
            joined_late: rtt.is_none(),
        };
        self.push(t, id, None, EventBody::Connection(Box::new(info)), true);
        if let Some(rtt) = rtt {
            let h = Handshake {
                syn_ack_rtt: Nanos(rtt / 2),
                irtt: Nanos(rtt),
            };
            self.push(t + rtt, id, None, EventBody::Handshake(h), true);
        }
    }

    fn get(&mut self, t: u64, id: ConnId, target: &str) {
        self.request(t, id, target, vec![]);
    }

    fn request(&mut self, t: u64, id: ConnId, target: &str, headers: Vec<(String, String)>) {
        self.request_with(t, id, "GET", target, headers);
    }

    fn request_with(
        &mut self,
        t: u64,
        id: ConnId,
        method: &str,
        target: &str,
        headers: Vec<(String, String)>,
    ) {
        let r = HttpRequest {
            method: method.into(),
            target: target.into(),
            version: "HTTP/1.1".into(),
            headers,
            head_len: 80,
            body: BodyKind::None,
        };
        self.push(
            t,
            id,
            Some(Dir::C2s),
            EventBody::HttpRequest(Box::new(r)),
            true,
        );
    }

    fn head(&mut self, t: u64, id: ConnId, status: u16, body: BodyKind, ctype: &str) {
        let r = HttpResponse {
            status,
            reason: String::new(),
            version: "HTTP/1.1".into(),
            headers: vec![("Content-Type".into(), ctype.into())],
            head_len: 120,
            body,
            request_method: Some("GET".into()),
            upgrade: None,
        };
        self.push(
            t,
            id,
            Some(Dir::S2c),
            EventBody::HttpResponse(Box::new(r)),
            true,
        );
    }

    /// A response with a `len`-byte body in the same packet as its head (no body for 0).
    fn answer(&mut self, t: u64, id: ConnId, status: u16, len: u64) {
        if len == 0 {
            self.head(t, id, status, BodyKind::None, "application/json");
        } else {
            self.head(t, id, status, BodyKind::Length, "application/json");
            self.piece(t, id, len, true, false);
        }
    }

    fn piece(&mut self, t: u64, id: ConnId, len: u64, end: bool, new_frame: bool) {
        let b = HttpBody {
            len,
            chunk: None,
            end,
            missing: 0,
            text: None,
            data: Payload::default(),
        };
        self.push(
            t,
            id,
            Some(Dir::S2c),
            EventBody::HttpBody(Box::new(b)),
            new_frame,
        );
    }

    fn close(&mut self, t: u64, id: ConnId, state: ConnState) {
        let end = ConnectionEnd {
            client: SocketAddr::from(([10, 0, 0, 1], 1)),
            server: SERVER.parse().unwrap(),
            state,
            websocket: false,
            duration: Nanos(0),
            segments: [0; 2],
            bytes: [0; 2],
        };
        self.push(t, id, None, EventBody::ConnectionEnd(Box::new(end)), true);
    }

    fn ws_message(&mut self, t: u64, id: ConnId, dir: Dir) {
        let m = WsMessage {
            opcode: Opcode::Text,
            len: 5,
            compressed: false,
            frames: 1,
            text: Some("hello".into()),
            code: None,
            code_name: None,
            reason: None,
            data: Payload::default(),
            incomplete: false,
        };
        self.push(t, id, Some(dir), EventBody::WsMessage(Box::new(m)), true);
    }

    fn detect(&self) -> Vec<PatternReport> {
        detect_with(&self.events, Limits::default())
    }
}

fn detect_with(events: &[Event], limits: Limits) -> Vec<PatternReport> {
    let mut d = PatternDetector::new(limits);
    for e in events {
        d.observe(e);
    }
    d.snapshot()
}

fn only(reports: &[PatternReport]) -> &PatternReport {
    assert_eq!(reports.len(), 1, "{reports:#?}");
    &reports[0]
}

/// `n` polls of `target`, each on a new connection: the server answers after `answer`, the
/// client waits `wait` after each answer.
fn polls_on_new_connections(n: u32, answer: u64, wait: u64, status: u16) -> Stream {
    let mut s = Stream::default();
    let mut t = 0;
    for i in 0..n {
        s.open(t, i, 40000 + i as u16, Some(50_000));
        t += 100_000;
        s.get(t, i, "/poll?since=3");
        t += answer;
        s.answer(t, i, status, if status == 204 { 0 } else { 45 });
        s.close(t + 50_000, i, ConnState::Closed);
        t += wait;
    }
    s
}

#[test]
fn a_slow_server_is_short_polling_not_long_polling() {
    // Every answer takes 2 s, the client waits 5 s between requests.
    for status in [200, 204] {
        let s = polls_on_new_connections(4, 2 * S, 5 * S, status);
        let r = only(&s.detect()).clone();
        assert_eq!(r.pattern, Pattern::ShortPolling, "status {status}: {r:#?}");
        assert_eq!(r.requests, 4);
        assert_eq!(r.conns, [0, 1, 2, 3]);
        assert_eq!(r.held.unwrap().median, Nanos(2 * S));
        // The interval runs from the answer to the next request: 5 s of waiting plus the
        // 0.1 ms between the next connection's SYN and its request.
        assert_eq!(r.interval.unwrap().median, Nanos(5 * S + 100_000));
        assert_eq!(r.target, "/poll");
        assert_eq!(r.client, "10.0.0.1");
    }
}

#[test]
fn a_keep_alive_poller_is_short_polling_on_one_connection() {
    let mut s = Stream::default();
    s.open(0, 7, 50000, Some(30_000));
    let mut t = MS;
    for i in 0..6 {
        s.get(t, 7, &format!("/poll?since={i}"));
        s.answer(t + 300_000, 7, if i % 3 == 0 { 200 } else { 204 }, 0);
        t += 20 * MS;
    }
    s.close(t, 7, ConnState::Closed);
    let r = only(&s.detect()).clone();
    assert_eq!(r.pattern, Pattern::ShortPolling);
    assert_eq!((r.requests, r.conns.as_slice()), (6, &[7][..]));
    assert_eq!(r.held.unwrap().max, Nanos(300_000));
    assert_eq!(r.interval.unwrap().min, Nanos(20 * MS - 300_000));
    assert_eq!(r.duration, Nanos(5 * 20 * MS + 300_000));
    assert_eq!(r.bytes, [6 * 80, 6 * 120]);
    assert_eq!(r.overhead_bytes, 6 * 200);
}

#[test]
fn requests_sent_back_to_back_show_no_pattern() {
    // The client asks again 0.1 ms after each answer: neither waits nor holds.
    let s = polls_on_new_connections(5, 200_000, 0, 200);
    let mut s2 = Stream::default();
    s2.open(0, 0, 40000, Some(20_000));
    let mut t = 0;
    for _ in 0..5 {
        s2.get(t, 0, "/item");
        s2.answer(t + 200_000, 0, 200, 10);
        t += 300_000;
    }
    assert_eq!(s2.detect(), vec![]);
    // Over new connections the interval (0.1 ms) is still under the noise floor.
    assert_eq!(s.detect(), vec![]);
}

#[test]
fn two_requests_are_not_yet_short_polling() {
    let s = polls_on_new_connections(2, 300_000, 20 * MS, 200);
    assert_eq!(s.detect(), vec![]);
    let s = polls_on_new_connections(3, 300_000, 20 * MS, 200);
    assert_eq!(only(&s.detect()).pattern, Pattern::ShortPolling);
}

#[test]
fn long_polling_holds_and_reasks_at_once() {
    // The demo's long poll: the first answer at once (news was waiting), then held until news.
    let mut s = Stream::default();
    s.open(0, 0, 40000, Some(25_000));
    let steps = [
        (360_000, 200),
        (58 * MS, 200),
        (58 * MS, 200),
        (21 * MS, 204),
    ];
    let mut t = MS;
    for (held, status) in steps {
        s.get(t, 0, "/long-poll?since=1");
        t += held;
        s.answer(t, 0, status, if status == 204 { 0 } else { 45 });
        t += 1_200_000;
    }
    let r = only(&s.detect()).clone();
    assert_eq!(r.pattern, Pattern::LongPolling, "{r:#?}");
    let held = r.held.unwrap();
    let interval = r.interval.unwrap();
    assert_eq!(held.max, Nanos(58 * MS));
    assert_eq!(interval.median, Nanos(1_200_000));
    assert!(held.median > interval.median);
}

#[test]
fn engine_io_polling_is_long_polling_on_its_gets_and_no_pattern_on_its_posts() {
    // Engine.IO's polling transport: GETs held until the server has a packet, and the client's
    // packets in POSTs answered at once, on the same target. Mixed together the quick POSTs
    // would hide the held GETs; a send is not a poll. The first GET (the handshake) is
    // answered at once with the open packet.
    let mut s = Stream::default();
    let mut t = MS;
    for i in 0..4u32 {
        let get = 2 * i;
        let post = 2 * i + 1;
        s.open(t, get, 40000 + get as u16, Some(25_000));
        s.get(t + MS, get, "/socket.io/?EIO=4&transport=polling");
        s.open(t + 2 * MS, post, 40000 + post as u16, Some(25_000));
        s.request_with(
            t + 3 * MS,
            post,
            "POST",
            "/socket.io/?EIO=4&transport=polling",
            vec![],
        );
        s.answer(t + 4 * MS, post, 200, 2);
        t += if i == 0 { 5 * MS } else { 150 * MS };
        s.answer(t, get, 200, 1);
        t += MS;
    }
    let r = only(&s.detect()).clone();
    assert_eq!(r.pattern, Pattern::LongPolling, "{r:#?}");
    assert_eq!((r.target.as_str(), r.requests), ("/socket.io/", 4));
}

#[test]
fn long_polling_that_always_times_out() {
    // Every request held 30 s and answered 204; the client asks again 2 ms later. No answer
    // is ten times the fastest, but empty answers held for far more than the RTT are held.
    for rtt in [Some(40 * MS), None] {
        let mut s = Stream::default();
        s.open(0, 0, 40000, rtt);
        let mut t = 100 * MS;
        for _ in 0..3 {
            s.get(t, 0, "/updates");
            t += 30 * S;
            s.answer(t, 0, 204, 0);
            t += 2 * MS;
        }
        let r = only(&s.detect()).clone();
        assert_eq!(r.pattern, Pattern::LongPolling, "rtt {rtt:?}");
        assert_eq!(r.held.unwrap().min, Nanos(30 * S));
    }
}

#[test]
fn held_but_a_waiting_client_is_not_long_polling() {
    // Answers held 30 ms, but the client then waits 200 ms: polling with slow answers.
    let mut s = Stream::default();
    s.open(0, 0, 40000, Some(25_000));
    let mut t = MS;
    for i in 0..4 {
        s.get(t, 0, "/poll");
        let held = if i == 0 { 300_000 } else { 30 * MS };
        t += held;
        s.answer(t, 0, 200, 12);
        t += 200 * MS;
    }
    assert_eq!(only(&s.detect()).pattern, Pattern::ShortPolling);
}

/// One streamed response: head at 1 ms, then `pieces` pieces `every` apart (the first with the
/// head), the last ending the body.
fn stream_of(pieces: u32, every: u64, ctype: &str) -> Stream {
    let mut s = Stream::default();
    s.open(0, 0, 40000, Some(25_000));
    s.get(500_000, 0, "/stream?n=5");
    s.head(MS, 0, 200, BodyKind::Chunked, ctype);
    for i in 0..pieces {
        s.piece(MS + u64::from(i) * every, 0, 12, i + 1 == pieces, i > 0);
    }
    s
}

#[test]
fn a_body_that_keeps_arriving_is_streaming() {
    let s = stream_of(5, 20 * MS, "text/plain");
    let r = only(&s.detect()).clone();
    assert_eq!(r.pattern, Pattern::Streaming);
    assert_eq!(r.chunks, Some(5));
    assert_eq!(r.chunk_spacing.unwrap().median, Nanos(20 * MS));
    assert_eq!(r.sse_events, None);
    assert_eq!(r.requests, 1);
    assert_eq!(r.duration, Nanos(MS / 2 + 4 * 20 * MS));
}

#[test]
fn two_pieces_are_not_a_stream() {
    assert_eq!(stream_of(2, S, "text/plain").detect(), vec![]);
    assert_eq!(
        only(&stream_of(3, S, "text/plain").detect()).pattern,
        Pattern::Streaming
    );
}

#[test]
fn a_download_delivered_back_to_back_is_not_a_stream() {
    // 40 segments 30 µs apart: the network's pace, not the server's.
    assert_eq!(stream_of(40, 30_000, "application/zip").detect(), vec![]);
    // Spaced more than the noise floor but less than 4 RTTs (RTT 25 µs here, so take a
    // conversation whose RTT is long).
    let mut s = Stream::default();
    s.open(0, 0, 40000, Some(100 * MS));
    s.get(200 * MS, 0, "/big.zip");
    s.head(300 * MS, 0, 200, BodyKind::Length, "application/zip");
    for i in 0..10 {
        s.piece(300 * MS + i * 20 * MS, 0, 1400, i == 9, true);
    }
    assert_eq!(s.detect(), vec![]);
}

#[test]
fn an_event_stream_is_streaming_from_its_head() {
    let mut s = stream_of(1, 0, "text/event-stream; charset=utf-8");
    s.push(
        MS,
        0,
        Some(Dir::S2c),
        EventBody::SseEvent(Box::new(crate::model::SseEvent {
            event: None,
            id: None,
            data: "x".into(),
            retry: None,
            data_len: 1,
            comment: None,
            dispatched: true,
            incomplete: false,
        })),
        false,
    );
    let r = only(&s.detect()).clone();
    assert_eq!(r.pattern, Pattern::Streaming);
    assert_eq!((r.chunks, r.sse_events), (Some(1), Some(1)));
}

#[test]
fn an_upgraded_connection_is_a_websocket() {
    let mut s = Stream::default();
    s.open(0, 3, 40000, Some(25_000));
    s.request(MS, 3, "/ws", vec![("Upgrade".into(), "websocket".into())]);
    let r = HttpResponse {
        status: 101,
        reason: "Switching Protocols".into(),
        version: "HTTP/1.1".into(),
        headers: vec![],
        head_len: 129,
        body: BodyKind::None,
        request_method: Some("GET".into()),
        upgrade: Some(WsUpgrade {
            key: String::new(),
            accept: String::new(),
            accept_expected: String::new(),
            accept_valid: true,
            subprotocol: None,
            extensions: None,
            deflate: None,
        }),
    };
    s.push(
        2 * MS,
        3,
        Some(Dir::S2c),
        EventBody::HttpResponse(Box::new(r)),
        true,
    );
    for i in 0..3u64 {
        s.ws_message(10 * MS + i * 20 * MS, 3, Dir::C2s);
        s.ws_message(11 * MS + i * 20 * MS, 3, Dir::S2c);
    }
    s.ws_message(70 * MS, 3, Dir::S2c);
    s.close(100 * MS, 3, ConnState::Closed);
    let r = only(&s.detect()).clone();
    assert_eq!(r.pattern, Pattern::Websocket);
    assert_eq!(r.messages, Some([3, 4]));
    assert_eq!(r.requests, 1);
    assert_eq!(r.target, "/ws");
    assert_eq!(r.duration, Nanos(99 * MS), "until the connection ended");
    assert_eq!(r.interval, None);
}

#[test]
fn conversations_are_per_client_host_server_and_target() {
    let mut s = Stream::default();
    s.open(0, 0, 40000, Some(25_000));
    let mut t = MS;
    for i in 0..4 {
        s.get(t, 0, &format!("/a?i={i}"));
        s.answer(t + 100_000, 0, 200, 3);
        s.get(t + 200_000, 0, "/b#frag");
        s.answer(t + 300_000, 0, 200, 3);
        t += 30 * MS;
    }
    let d = {
        let mut d = PatternDetector::new(Limits::default());
        for e in &s.events {
            d.observe(e);
        }
        d
    };
    let names: Vec<&str> = d.conversations().map(|c| c.target.as_str()).collect();
    assert_eq!(names, ["/a", "/b"]);
    assert!(d.conversations().all(|c| c.requests == 4));
}

#[test]
fn limits_bound_conversations_and_samples() {
    // Three polled targets, room for two conversations: the least recently active one is
    // forgotten, and its pattern handed out as an event.
    let mut s = Stream::default();
    s.open(0, 0, 40000, Some(25_000));
    let mut t = MS;
    for target in ["/one", "/two", "/three"] {
        for _ in 0..3 {
            s.get(t, 0, target);
            s.answer(t + 100_000, 0, 200, 3);
            t += 20 * MS;
        }
    }
    let limits = Limits {
        max_conversations: 2,
        max_pattern_samples: 5,
        ..Limits::default()
    };
    let mut d = PatternDetector::new(limits);
    for e in &s.events {
        d.observe(e);
    }
    assert_eq!(d.evicted(), 1);
    let mut out = Vec::new();
    d.take_forgotten(Stamp::default(), &mut out);
    assert_eq!(out.len(), 1);
    let EventBody::Pattern(p) = &out[0].body else {
        panic!("{out:?}")
    };
    assert_eq!(p.target, "/one");
    let kept: Vec<usize> = d
        .conversations()
        .map(|c| c.exchanges.len() + c.ticks.len())
        .collect();
    assert_eq!(kept, [5, 5]);
    d.finish(Stamp::default(), &mut out);
    assert_eq!(out.len(), 3);
    // Each answer's body arrival is a sample too: the third one found no room, but every
    // request is still counted.
    assert!(d.conversations().all(|c| c.requests == 3));
}

#[test]
fn refresh_caches_the_classification() {
    let s = polls_on_new_connections(3, 300_000, 20 * MS, 200);
    let mut d = PatternDetector::new(Limits::default());
    let (a, b) = s.events.split_at(s.events.len() - 3);
    for e in a {
        d.observe(e);
    }
    d.refresh();
    assert_eq!(d.conversations().next().unwrap().report, None);
    for e in b {
        d.observe(e);
    }
    d.refresh();
    let r = d.conversations().next().unwrap().report.clone();
    assert_eq!(r.map(|r| r.pattern), Some(Pattern::ShortPolling));
}

#[test]
fn pipelined_and_interim_answers_match_in_order() {
    let mut s = Stream::default();
    s.open(0, 0, 40000, Some(25_000));
    // Two pipelined requests, a 100 Continue, then both answers.
    s.get(MS, 0, "/a");
    s.get(MS, 0, "/b");
    s.head(2 * MS, 0, 100, BodyKind::None, "");
    s.answer(3 * MS, 0, 200, 5);
    s.answer(9 * MS, 0, 200, 5);
    let mut d = PatternDetector::new(Limits::default());
    for e in &s.events {
        d.observe(e);
    }
    let held: Vec<Option<u64>> = d.conversations().map(|c| c.exchanges[0].held()).collect();
    assert_eq!(held, [Some(2 * MS), Some(8 * MS)]);
}

#[test]
fn figures() {
    assert_eq!(median(&[]), None);
    assert_eq!(median(&[5]), Some(5));
    assert_eq!(median(&[9, 1, 4]), Some(4));
    assert_eq!(median(&[1, 2, 4, 9]), Some(3));
    assert_eq!(median(&[u64::MAX, u64::MAX]), Some(u64::MAX));
    assert_eq!(
        spread(&[3, 1, 2]),
        Some(Spread {
            min: Nanos(1),
            median: Nanos(2),
            max: Nanos(3)
        })
    );
    assert_eq!(conversation_target("/poll?since=1"), "/poll");
    assert_eq!(conversation_target("/a#x?y"), "/a");
    assert_eq!(conversation_target("*"), "*");
    let long = "é".repeat(MAX_TARGET + 10);
    assert_eq!(conversation_target(&long).chars().count(), MAX_TARGET);
}

#[test]
fn events_without_their_connection_are_ignored() {
    // A capture that starts mid-stream: answers without requests, bodies without answers.
    let mut s = Stream::default();
    s.answer(MS, 9, 200, 5);
    s.piece(2 * MS, 9, 5, true, true);
    s.ws_message(3 * MS, 9, Dir::C2s);
    s.close(4 * MS, 9, ConnState::Reset);
    let mut d = PatternDetector::new(Limits::default());
    for e in &s.events {
        d.observe(e);
    }
    assert_eq!(d.conversations().count(), 0);
    assert_eq!(d.snapshot(), vec![]);
}

mod any_order {
    //! Events in any order, at any times (clocks go back in captures): no panic, and the
    //! limits hold.
    use super::*;
    use proptest::prelude::*;

    fn op(s: &mut Stream, kind: u8, t: u64, conn: ConnId, n: u8) {
        match kind % 9 {
            0 => s.open(t, conn, 40000 + u16::from(n), Some(u64::from(n) * 1000)),
            1 => s.get(t, conn, &format!("/t{}?q={n}", n % 4)),
            2 => s.answer(
                t,
                conn,
                [200, 204, 101, 100][usize::from(n % 4)],
                u64::from(n),
            ),
            3 => s.head(t, conn, 200, BodyKind::Chunked, "text/event-stream"),
            4 => s.piece(
                t,
                conn,
                u64::from(n),
                n.is_multiple_of(3),
                n.is_multiple_of(2),
            ),
            5 => s.ws_message(
                t,
                conn,
                if n.is_multiple_of(2) {
                    Dir::C2s
                } else {
                    Dir::S2c
                },
            ),
            6 => s.close(t, conn, ConnState::Reset),
            7 => s.request(t, conn, "/ws", vec![("Upgrade".into(), "websocket".into())]),
            _ => s.push(
                t,
                conn,
                Some(Dir::S2c),
                EventBody::SseEvent(Box::new(crate::model::SseEvent {
                    event: None,
                    id: None,
                    data: String::new(),
                    retry: None,
                    data_len: 0,
                    comment: None,
                    dispatched: true,
                    incomplete: false,
                })),
                false,
            ),
        }
    }

    proptest! {
        #[test]
        fn any_sequence_is_classified_within_limits(
            ops in proptest::collection::vec((any::<u8>(), any::<u32>(), 0u32..4, any::<u8>()), 0..200),
            conversations in 0usize..4,
            samples in 0usize..8,
        ) {
            let mut s = Stream::default();
            for (kind, t, conn, n) in ops {
                op(&mut s, kind, u64::from(t) * 1000, conn, n);
            }
            let limits = Limits {
                max_conversations: conversations,
                max_pattern_samples: samples,
                max_pending_requests: 2,
                ..Limits::default()
            };
            let mut d = PatternDetector::new(limits);
            for e in &s.events {
                d.observe(e);
            }
            d.refresh();
            prop_assert!(d.conversations().count() <= conversations);
            for c in d.conversations() {
                prop_assert!(c.exchanges.len() + c.ticks.len() <= samples);
                prop_assert!(c.conns.len() <= samples);
                prop_assert_eq!(&c.report, &c.classify());
            }
            let mut out = Vec::new();
            d.finish(Stamp::default(), &mut out);
            prop_assert!(out.iter().all(|e| e.body.kind() == "pattern"));
        }
    }
}
