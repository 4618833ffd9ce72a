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
            time_since_request: None,
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
            tls: None,
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

/// Every report the engine would emit for `events`, in order, with the time of the event
/// that triggered each (the end of the input for those `finish` makes).
fn reports(events: &[Event]) -> Vec<(u64, PatternReport)> {
    let mut d = PatternDetector::reporting(Limits::default());
    let mut out: Vec<Event> = Vec::new();
    for e in events {
        d.observe(e);
        d.take_reports(
            Stamp {
                ts: e.ts,
                t: e.t,
                frame: e.frame,
            },
            &mut out,
        );
    }
    let last = events.last().map_or(0, |e| e.t.0);
    d.finish(
        Stamp {
            t: Nanos(last),
            ..Stamp::default()
        },
        &mut out,
    );
    out.into_iter()
        .map(|e| match e.body {
            EventBody::Pattern(r) => (e.t.0, *r),
            other => panic!("not a pattern: {other:?}"),
        })
        .collect()
}

/// The final reports among `reports`.
fn finals(reports: &[(u64, PatternReport)]) -> Vec<&PatternReport> {
    reports
        .iter()
        .map(|(_, r)| r)
        .filter(|r| r.is_final)
        .collect()
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
        time_since_request: None,
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
    // Its open time is the connection's lifetime, from its first packet to its end.
    assert_eq!((r.start, r.duration), (Nanos(0), Nanos(100 * MS)));
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
    // ended (its final report goes out) and forgotten.
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
    let mut d = PatternDetector::reporting(limits);
    let mut out = Vec::new();
    for e in &s.events {
        d.observe(e);
        d.take_reports(Stamp::default(), &mut out);
    }
    assert_eq!(d.evicted(), 1);
    let reported = |out: &[Event]| -> Vec<(String, bool)> {
        out.iter()
            .filter_map(|e| match &e.body {
                EventBody::Pattern(p) => Some((p.target.clone(), p.is_final)),
                _ => None,
            })
            .collect()
    };
    // "/one" was reported when it showed a pattern, and finally when it was forgotten.
    let r = reported(&out);
    assert!(r.contains(&("/one".into(), false)), "{r:?}");
    assert!(r.contains(&("/one".into(), true)), "{r:?}");
    let kept: Vec<usize> = d
        .conversations()
        .map(|c| c.exchanges.len() + c.ticks.len())
        .collect();
    assert_eq!(kept, [5, 5]);
    d.finish(Stamp::default(), &mut out);
    let r = reported(&out);
    let finals: Vec<&str> = r
        .iter()
        .filter(|(_, f)| *f)
        .map(|(t, _)| t.as_str())
        .collect();
    assert_eq!(finals, ["/one", "/two", "/three"]);
    // Each answer's body arrival is a sample too: the third one found no room, but every
    // request is still counted.
    assert!(d.conversations().all(|c| c.requests == 3));
}

#[test]
fn refresh_caches_the_classification() {
    let s = polls_on_new_connections(3, 300_000, 20 * MS, 200);
    let mut d = PatternDetector::new(Limits::default());
    // Up to the third request: two requests are not polling yet.
    let third = s
        .events
        .iter()
        .rposition(|e| e.body.kind() == "http_request")
        .unwrap();
    let (a, b) = s.events.split_at(third);
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
    assert_eq!(request_key("GET", "/poll?since=1"), "/poll");
    assert_eq!(request_key("head", "/poll"), "/poll");
    assert_eq!(request_key("POST", "/send?x=1"), "POST /send");
    let mut r = polls_on_new_connections(3, 300_000, 20 * MS, 200).detect()[0].clone();
    r.duration = Nanos(10 * MS);
    assert!(belongs(&r, "GET", "/poll?since=9", r.start));
    assert!(belongs(&r, "GET", "/poll", Nanos(r.start.0 + 10 * MS)));
    assert!(!belongs(&r, "GET", "/poll", Nanos(r.start.0 + 10 * MS + 1)));
    assert!(!belongs(&r, "POST", "/poll", r.start));
    assert!(!belongs(&r, "GET", "/poll", Nanos(r.start.0 - 1)));
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

/// `n` long polls on one connection: each held `hold(i)`, the client asking again `reask`
/// after each answer (with news: 45 body bytes in the answer's packet).
fn long_polls(n: u32, rtt: u64, reask: u64, hold: impl Fn(u32) -> u64) -> Stream {
    let mut s = Stream::default();
    s.open(0, 0, 40000, Some(rtt));
    let mut t = rtt + 100_000;
    for i in 0..n {
        s.get(t, 0, &format!("/updates?since={i}"));
        t += hold(i);
        s.answer(t, 0, 200, 45);
        t += reask;
    }
    s
}

#[test]
fn equal_holds_are_long_polling() {
    // A server-side timeout or tick: every answer after the same second, asked again within
    // half a millisecond. No answer is faster than another, and that does not matter.
    let s = long_polls(6, 50_000, 500_000, |_| S);
    let r = only(&s.detect()).clone();
    assert_eq!(r.pattern, Pattern::LongPolling, "{r:#?}");
    assert_eq!(r.held.unwrap().median, Nanos(S));
    assert_eq!(r.interval.unwrap().median, Nanos(500_000));
    // Holds that vary (news at random times) are long polling too.
    let holds = [60, 1500, 340, 900, 75, 1210];
    let s = long_polls(6, 50_000, 500_000, |i| holds[i as usize] * MS);
    assert_eq!(only(&s.detect()).pattern, Pattern::LongPolling);
}

#[test]
fn a_hold_must_clear_the_floor_and_ten_rtts() {
    // 5 ms is under the 10 ms floor: the server answers quickly, the client asks at once.
    let s = long_polls(6, 50_000, 500_000, |_| 5 * MS);
    assert_eq!(s.detect(), vec![]);
    // 500 ms over a 100 ms RTT is five round trips, not a hold.
    let s = long_polls(6, 100 * MS, 500_000, |_| 500 * MS);
    assert_eq!(s.detect(), vec![]);
    // Just above both.
    let s = long_polls(6, 100 * MS, 500_000, |_| S);
    assert_eq!(only(&s.detect()).pattern, Pattern::LongPolling);
    let s = long_polls(6, 50_000, 500_000, |_| HOLD_FLOOR_NS);
    assert_eq!(only(&s.detect()).pattern, Pattern::LongPolling);
}

#[test]
fn a_client_that_waits_a_quarter_of_the_hold_is_not_long_polling() {
    // Held 1 s; asked again 250 ms later is the bound; 300 ms later it is a slow server
    // polled regularly.
    let s = long_polls(5, 50_000, 250 * MS, |_| S);
    assert_eq!(only(&s.detect()).pattern, Pattern::LongPolling);
    let s = long_polls(5, 50_000, 300 * MS, |_| S);
    assert_eq!(only(&s.detect()).pattern, Pattern::ShortPolling);
}

/// One `GET target` on its own connection at each time of `at` (ms), answered in 0.4 ms.
fn visits(s: &mut Stream, first_conn: ConnId, target: &str, at: &[u64]) {
    for (i, &ms) in at.iter().enumerate() {
        let c = first_conn + i as ConnId;
        let t = ms * MS;
        s.open(t, c, 41000 + c as u16, Some(40_000));
        s.get(t + 100_000, c, target);
        s.answer(t + 500_000, c, 200, 391);
        s.close(t + 700_000, c, ConnState::Closed);
    }
}

#[test]
fn visits_by_hand_are_not_polling() {
    // Three visits 2 s then 5 s apart: one conversation whose intervals are far from regular.
    let mut s = Stream::default();
    visits(&mut s, 0, "/", &[0, 2000, 7000]);
    assert_eq!(s.detect(), vec![]);
    let mut d = PatternDetector::new(Limits::default());
    s.events.iter().for_each(|e| d.observe(e));
    assert_eq!(
        d.conversations().map(|c| c.requests).collect::<Vec<_>>(),
        [3]
    );
    // Three visits 3.0 s and 3.1 s apart look like polling on the wire, and are taken as
    // such (documented): within 25 % of their median.
    let mut s = Stream::default();
    visits(&mut s, 0, "/", &[0, 3000, 6100]);
    assert_eq!(only(&s.detect()).pattern, Pattern::ShortPolling);
}

#[test]
fn one_interval_in_five_may_be_off() {
    // Polls 100 ms apart, one of them late by half a period.
    let at = [0, 100, 200, 350, 450, 550];
    let mut s = Stream::default();
    visits(&mut s, 0, "/poll", &at);
    assert_eq!(only(&s.detect()).pattern, Pattern::ShortPolling);
    // With four intervals none may be off.
    let mut s = Stream::default();
    visits(&mut s, 0, "/poll", &at[..5]);
    assert_eq!(s.detect(), vec![]);
    // Within 10 ms of the median is regular whatever the period (a busy machine's timers).
    let mut s = Stream::default();
    visits(&mut s, 0, "/poll", &[0, 20, 48, 68]);
    assert_eq!(only(&s.detect()).pattern, Pattern::ShortPolling);
}

/// The demo's rounds, in miniature: each round fetches `/` once, polls `/poll` six times 50 ms
/// apart and `/missing` once, then the client pauses `pause` before the next round.
fn rounds(n: u64, pause: u64) -> Stream {
    let mut s = Stream::default();
    let mut t = 0;
    let mut conn = 0;
    for _ in 0..n {
        let mut at = vec![t];
        at.extend((1..=6).map(|i| t + i * 50));
        at.push(t + 350);
        for (i, &ms) in at.iter().enumerate() {
            let target = match i {
                0 => "/",
                7 => "/missing",
                _ => "/poll",
            };
            visits(&mut s, conn, target, &[ms]);
            conn += 1;
        }
        t += 350 + pause;
    }
    s
}

#[test]
fn a_pause_ends_the_conversations_and_rounds_come_out_separate() {
    let s = rounds(3, 300);
    let r = reports(&s.events);
    let f = finals(&r);
    // One polling conversation per round; `/` and `/missing`, once per round, are not
    // polling, however regular the rounds are.
    let shown: Vec<(u32, Pattern, &str, u32)> = f
        .iter()
        .map(|r| (r.conversation, r.pattern, r.target.as_str(), r.requests))
        .collect();
    assert_eq!(shown.len(), 3, "{shown:?}");
    assert!(
        shown
            .iter()
            .all(|(_, p, t, n)| (*p, *t, *n) == (Pattern::ShortPolling, "/poll", 6)),
        "{shown:?}"
    );
    let ids: Vec<u32> = shown.iter().map(|s| s.0).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    // Each round's final report comes when the next round starts (the pause is known then),
    // the last one's at the end.
    let at: Vec<u64> = r
        .iter()
        .filter(|(_, r)| r.is_final)
        .map(|(t, _)| *t / MS)
        .collect();
    assert_eq!(at, [650, 1300, 1650]);
    // Without a pause much longer than the rounds' own silences (50 ms), `/` and `/missing`
    // come back every 400 ms as regularly as a poll: that is what polling looks like.
    let s = rounds(3, 50);
    let targets: Vec<String> = s.detect().iter().map(|r| r.target.clone()).collect();
    assert!(targets.contains(&"/".to_string()), "{targets:?}");
}

#[test]
fn a_poll_that_stops_and_starts_again_is_two_conversations() {
    // Six polls 20 ms apart, nothing for 1 s, then six more: the wait is 50 periods.
    let at: Vec<u64> = (0..6)
        .map(|i| i * 20)
        .chain((0..6).map(|i| 1100 + i * 20))
        .collect();
    let mut s = Stream::default();
    visits(&mut s, 0, "/poll", &at);
    let r = reports(&s.events);
    let f = finals(&r);
    assert_eq!(f.len(), 2, "{f:#?}");
    assert_eq!(
        f.iter()
            .map(|r| (r.requests, r.conns.len()))
            .collect::<Vec<_>>(),
        [(6, 6), (6, 6)]
    );
    assert_eq!(f[1].conns[0], 6);
    // A pause of three periods is part of the rhythm's spread, not an end.
    let mut s = Stream::default();
    visits(&mut s, 0, "/poll", &[0, 20, 40, 60, 80, 140, 160, 180]);
    assert_eq!(finals(&reports(&s.events)).len(), 1);
}

/// A WebSocket upgrade on connection `id` at `t`, answered 101 1 ms later.
fn upgrade(s: &mut Stream, t: u64, id: ConnId, target: &str) {
    s.request(t, id, target, vec![("Upgrade".into(), "websocket".into())]);
    let r = HttpResponse {
        status: 101,
        reason: "Switching Protocols".into(),
        version: "HTTP/1.1".into(),
        headers: vec![],
        head_len: 129,
        body: BodyKind::None,
        request_method: Some("GET".into()),
        time_since_request: None,
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
        t + MS,
        id,
        Some(Dir::S2c),
        EventBody::HttpResponse(Box::new(r)),
        true,
    );
}

#[test]
fn each_upgraded_connection_is_a_websocket_of_its_own() {
    // Two rounds, each opening /ws for 300 ms with a message a round trip, 2 s apart: two
    // conversations, each open as long as its connection.
    let mut s = Stream::default();
    for (round, id) in [(0u64, 0), (1, 1)] {
        let t0 = round * 2 * S;
        s.open(t0, id, 40000 + id as u16, Some(30_000));
        upgrade(&mut s, t0 + MS, id, "/ws");
        s.ws_message(t0 + 100 * MS, id, Dir::C2s);
        s.ws_message(t0 + 101 * MS, id, Dir::S2c);
        s.close(t0 + 300 * MS, id, ConnState::Closed);
    }
    // A plain GET of the same target in between is another conversation.
    s.open(S, 5, 45000, Some(30_000));
    s.get(S + MS, 5, "/ws");
    s.answer(S + 2 * MS, 5, 426, 0);
    let r = reports(&s.events);
    let f = finals(&r);
    let ws: Vec<(Pattern, Vec<ConnId>, Nanos, Nanos)> = f
        .iter()
        .map(|r| (r.pattern, r.conns.clone(), r.start, r.duration))
        .collect();
    assert_eq!(
        ws,
        [
            (Pattern::Websocket, vec![0], Nanos(0), Nanos(300 * MS)),
            (Pattern::Websocket, vec![1], Nanos(2 * S), Nanos(300 * MS)),
        ]
    );
    // Each was reported as soon as the 101 came, then at its connection's end.
    let first: Vec<(u64, bool)> = r.iter().map(|(t, r)| (*t, r.is_final)).collect();
    assert_eq!(
        first,
        [
            (2 * MS, false),
            (300 * MS, true),
            (2 * S + 2 * MS, false),
            (2 * S + 300 * MS, true)
        ]
    );
}

#[test]
fn a_refused_upgrade_shows_no_pattern() {
    let mut s = Stream::default();
    s.open(0, 0, 40000, Some(30_000));
    s.request(MS, 0, "/ws", vec![("Upgrade".into(), "websocket".into())]);
    s.answer(2 * MS, 0, 400, 10);
    s.close(3 * MS, 0, ConnState::Closed);
    assert_eq!(reports(&s.events), vec![]);
}

#[test]
fn updates_come_at_classification_then_at_most_once_a_second() {
    // Polls every 100 ms for 10 s on one connection: 100 requests.
    let mut s = Stream::default();
    s.open(0, 0, 40000, Some(30_000));
    for i in 0..100 {
        let t = MS + i * 100 * MS;
        s.get(t, 0, "/poll");
        s.answer(t + 300_000, 0, 204, 0);
    }
    let r = reports(&s.events);
    let seen: Vec<(u64, u32, bool)> = r
        .iter()
        .map(|(t, r)| (*t / MS, r.requests, r.is_final))
        .collect();
    // Classified at the third request; then when the count has at least doubled and a
    // second has passed since the last report: 6 is too soon, 13 at 1.2 s, 26, 52; the final
    // with all 100.
    assert_eq!(
        seen,
        [
            (201, 3, false),
            (1201, 13, false),
            (2501, 26, false),
            (5101, 52, false),
            (9901, 100, true)
        ]
    );
    assert!(r.iter().all(|(_, r)| r.conversation == 0));
}

#[test]
fn a_conversation_that_stops_showing_its_pattern_is_reported_none() {
    // Three regular polls, then the client's waits go all over the place.
    let mut s = Stream::default();
    // Three regular polls, then waits all over the place (never four times the median
    // period, so it stays one conversation), and a last one 1.5 s later.
    visits(
        &mut s,
        0,
        "/poll",
        &[0, 100, 200, 450, 500, 800, 850, 1000, 1050, 1350, 1400],
    );
    let r = reports(&s.events);
    let seen: Vec<(u64, Pattern, bool)> = r
        .iter()
        .map(|(t, r)| (*t / MS, r.pattern, r.is_final))
        .collect();
    // Polling at the third request; at the fourth it no longer is, reported once a second
    // has passed since the first report (at the next request after it), and at the end.
    assert_eq!(
        seen,
        [
            (200, Pattern::ShortPolling, false),
            (1350, Pattern::None, false),
            (1400, Pattern::None, true)
        ]
    );
}

#[test]
fn a_load_of_many_connections_gives_few_reports() {
    // 40 connections, each polling /api every 10 ms for 5 s and opening a WebSocket with a
    // message each way every 10 ms: 20,000 requests and 40,000 messages.
    let mut s = Stream::default();
    for c in 0..40u32 {
        s.open(0, c, 30000 + c as u16, Some(30_000));
        s.open(0, 100 + c, 31000 + c as u16, Some(30_000));
        upgrade(&mut s, MS, 100 + c, "/live");
    }
    for i in 0..500u64 {
        for c in 0..40u32 {
            let t = 10 * MS + i * 10 * MS + u64::from(c) * 1000;
            s.get(t, c, "/api");
            s.answer(t + 200_000, c, 200, 20);
            s.ws_message(t + 300_000, 100 + c, Dir::C2s);
            s.ws_message(t + 400_000, 100 + c, Dir::S2c);
        }
    }
    let r = reports(&s.events);
    // Each WebSocket is its own conversation: its first report, a few updates (messages
    // doubling, at most one a second) and a final one. /api is one conversation (one client
    // host) whose requests overlap: no one client's rhythm, no pattern.
    let ids: std::collections::BTreeSet<u32> = r.iter().map(|(_, r)| r.conversation).collect();
    assert_eq!(ids.len(), 40);
    assert!(r.iter().all(|(_, r)| r.pattern == Pattern::Websocket));
    assert!(r.len() <= 40 * 7, "{} reports", r.len());
    assert_eq!(finals(&r).len(), 40);
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
            // Reporting: each conversation reported ends with exactly one final report,
            // and nothing comes after it.
            let mut d = PatternDetector::reporting(limits);
            let mut out = Vec::new();
            for e in &s.events {
                d.observe(e);
                d.take_reports(Stamp::default(), &mut out);
            }
            d.finish(Stamp::default(), &mut out);
            let mut ended = std::collections::BTreeSet::new();
            for e in &out {
                let EventBody::Pattern(r) = &e.body else {
                    return Err(TestCaseError::fail("not a pattern event"));
                };
                prop_assert!(!ended.contains(&r.conversation), "{r:?} after its final");
                if r.is_final {
                    ended.insert(r.conversation);
                }
            }
            let reported: std::collections::BTreeSet<u32> = out
                .iter()
                .filter_map(|e| match &e.body {
                    EventBody::Pattern(r) => Some(r.conversation),
                    _ => None,
                })
                .collect();
            prop_assert_eq!(reported, ended);
        }
    }
}
