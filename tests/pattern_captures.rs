//! The pattern events of every committed capture (insta JSON snapshots), with the figures
//! each pattern rests on asserted directly; and the connection records' final states.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use insta::assert_json_snapshot;
use serde_json::{json, Value};
use support::{decode_capture, Conv, ACK, PSH, RST};
use synscope::model::{Event, EventBody, Pattern, PatternReport};

/// Every pattern report, updates and final ones, in order.
fn reports(events: &[Event]) -> Vec<&PatternReport> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Pattern(p) => Some(&**p),
            _ => None,
        })
        .collect()
}

/// The final reports: one per conversation that showed a pattern, in the order they ended.
fn patterns(events: &[Event]) -> Vec<&PatternReport> {
    reports(events).into_iter().filter(|r| r.is_final).collect()
}

/// The one final report of `events`, which must be a `want`.
fn one_pattern(events: &[Event], want: Pattern) -> &PatternReport {
    let p = patterns(events);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].pattern, want);
    p[0]
}

/// The pattern events as JSON, as `decode --format json` prints them.
fn pattern_json(events: &[Event]) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e.body.kind() == "pattern")
        .map(|e| serde_json::to_value(e).unwrap())
        .collect()
}

fn secs(s: Option<synscope::model::Spread>) -> (f64, f64, f64) {
    let s = s.unwrap();
    (s.min.secs_f64(), s.median.secs_f64(), s.max.secs_f64())
}

/// The server's time of every response of `events` (seconds), in order.
fn server_times(events: &[Event]) -> Vec<f64> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::HttpResponse(r) => r.time_since_request.map(|t| t.secs_f64()),
            _ => None,
        })
        .collect()
}

#[test]
fn pattern_events_follow_the_event_that_made_them() {
    // A report comes right after the event that made it (stamped with its frame and time,
    // no connection); each conversation's reports end with one final report, and the last
    // ones come at the end of the capture, after the last connection's end.
    for name in [
        "lesson_all.pcapng",
        "demo_rounds.pcapng",
        "long_poll_random.pcapng",
    ] {
        let events = decode_capture(name);
        let mut finals = std::collections::BTreeSet::new();
        for (i, e) in events.iter().enumerate() {
            let EventBody::Pattern(r) = &e.body else {
                continue;
            };
            let before = &events[i - 1];
            assert_eq!((e.conn, e.dir), (None, None), "{name}");
            assert_eq!((e.frame, e.t), (before.frame, before.t), "{name}: {r:?}");
            assert!(
                !finals.contains(&r.conversation),
                "{name}: {r:?} after its final"
            );
            if r.is_final {
                finals.insert(r.conversation);
            }
        }
        let reported: std::collections::BTreeSet<u32> =
            reports(&events).iter().map(|r| r.conversation).collect();
        assert_eq!(reported, finals, "{name}");
        let last_end = events
            .iter()
            .rposition(|e| e.body.kind() == "connection_end")
            .unwrap();
        assert!(events[last_end..]
            .iter()
            .skip(1)
            .all(|e| e.body.kind() == "pattern"));
    }
}

#[test]
fn polling_is_short_polling_over_a_new_connection_per_request() {
    let events = decode_capture("polling.pcapng");
    let r = one_pattern(&events, Pattern::ShortPolling);
    assert_eq!(
        (r.requests, r.conns.as_slice()),
        (6, &[0, 1, 2, 3, 4, 5][..])
    );
    assert_eq!(r.target, "/poll");
    // The client waits ~21 ms (its 20 ms pace and a new handshake); the server answers in
    // well under a millisecond.
    let (imin, imed, _) = secs(r.interval);
    let (_, hmed, hmax) = secs(r.held);
    assert!(imin > 0.020 && imed < 0.025, "{imin} {imed}");
    assert!(hmax < 0.001 && imed > 50.0 * hmed, "{hmed} {hmax}");
    // Reported as soon as the third request came, then when the capture ended.
    let all = reports(&events);
    assert_eq!(
        all.iter()
            .map(|r| (r.requests, r.is_final))
            .collect::<Vec<_>>(),
        [(3, false), (6, true)]
    );
    assert_json_snapshot!(pattern_json(&events));
}

#[test]
fn polling_keepalive_is_short_polling_on_one_connection() {
    // The client's first wait is 28 ms, the others 21-22 ms: one interval in five may be off.
    let events = decode_capture("polling_keepalive.pcapng");
    let r = one_pattern(&events, Pattern::ShortPolling);
    assert_eq!((r.requests, r.conns.as_slice()), (6, &[0][..]));
    assert_json_snapshot!(pattern_json(&events));
}

#[test]
fn long_polling_holds_longer_than_the_client_waits() {
    let events = decode_capture("long_polling.pcapng");
    let r = one_pattern(&events, Pattern::LongPolling);
    assert_eq!((r.requests, r.target.as_str()), (4, "/long-poll"));
    // Held: the answers that took 10 ms or more (the first came at once: news was there).
    let (held_min, held, _) = secs(r.held);
    let (_, interval, _) = secs(r.interval);
    assert!(held_min > 0.010, "{held_min}");
    assert!(held > 4.0 * interval, "{held} {interval}");
    assert_json_snapshot!(pattern_json(&events));
}

#[test]
fn equal_holds_are_long_polling() {
    // Node's http server holds every request exactly 1 s (a server-side tick) and its client
    // asks again at once: the first re-ask took 11 ms (Node warming up), the others under a
    // millisecond. Nothing to compare the holds with but the floor, the RTT and the waits.
    let events = decode_capture("long_poll_fixed.pcapng");
    let r = one_pattern(&events, Pattern::LongPolling);
    assert_eq!((r.requests, r.target.as_str()), (6, "/updates"));
    assert_eq!(r.conns, [0]);
    let (hmin, hmed, hmax) = secs(r.held);
    assert!(hmin >= 1.0 && hmax < 1.02, "{hmin} {hmax}");
    let (_, imed, imax) = secs(r.interval);
    assert!(imed < 0.001 && imax < 0.015, "{imed} {imax}");
    // Every response says how long the server took: Wireshark's http.time.
    let times = server_times(&events);
    assert_eq!(times.len(), 6);
    assert!(times.iter().all(|t| (1.0..1.02).contains(t)), "{times:?}");
    assert!((hmed - times[2]).abs() < 0.01, "{hmed} {times:?}");
    // Long polling from the second request on: a held answer asked again at once.
    let all = reports(&events);
    assert_eq!(all[0].requests, 2);
    assert!(all.iter().all(|r| r.pattern == Pattern::LongPolling));
    assert_json_snapshot!(pattern_json(&events));
}

#[test]
fn holds_at_random_times_are_long_polling() {
    // News at random times: holds from 0.26 s to 1.39 s, asked again at once.
    let events = decode_capture("long_poll_random.pcapng");
    let r = one_pattern(&events, Pattern::LongPolling);
    assert_eq!(r.requests, 8);
    let (hmin, _, hmax) = secs(r.held);
    assert!(hmin < 0.3 && hmax > 1.3, "{hmin} {hmax}");
    let (_, imed, _) = secs(r.interval);
    assert!(imed < 0.002, "{imed}");
    assert_json_snapshot!(pattern_json(&events));
}

#[test]
fn a_slow_server_with_a_waiting_client_is_not_long_polling() {
    // Every answer takes 0.5 s, then the client waits 1 s: regular polling of a slow server.
    let events = decode_capture("slow_server.pcapng");
    let r = one_pattern(&events, Pattern::ShortPolling);
    assert_eq!(r.requests, 5);
    let (hmin, hmed, _) = secs(r.held);
    let (imin, _, imax) = secs(r.interval);
    assert!(hmin >= 0.5 && hmed < 0.53, "{hmin} {hmed}");
    assert!(imin >= 1.0 && imax < 1.02, "{imin} {imax}");
    assert!(reports(&events)
        .iter()
        .all(|r| r.pattern == Pattern::ShortPolling));
    assert_json_snapshot!(pattern_json(&events));
}

#[test]
fn visits_by_hand_are_not_polling() {
    // Three `curl` of the page, 2 s then 5 s apart, each on its own connection.
    let events = decode_capture("visits_by_hand.pcapng");
    let gets: Vec<f64> = events
        .iter()
        .filter(|e| e.body.kind() == "http_request")
        .map(|e| e.t.secs_f64())
        .collect();
    assert_eq!(gets.len(), 3);
    assert!((gets[1] - gets[0] - 2.0).abs() < 0.1 && (gets[2] - gets[1] - 5.0).abs() < 0.1);
    assert_eq!(reports(&events), Vec::<&PatternReport>::new());
}

/// Five rounds of `synscope demo all --rounds 5 --pace-ms 50`: per round, which conversations
/// showed which pattern (final reports), and the long poll's median hold.
#[test]
fn every_demo_round_shows_each_pattern_in_a_conversation_of_its_own() {
    let events = decode_capture("demo_rounds.pcapng");
    let finals = patterns(&events);
    // A round is the conversations that began between two `GET /` of the http scenario.
    let rounds: Vec<f64> = events
        .iter()
        .filter(|e| matches!(&e.body, EventBody::HttpRequest(r) if r.target == "/"))
        .map(|e| e.t.secs_f64())
        .collect();
    assert_eq!(rounds.len(), 5);
    let round_of = |r: &PatternReport| rounds.iter().rposition(|&s| s <= r.start.secs_f64());
    let mut holds = Vec::new();
    for (i, _) in rounds.iter().enumerate() {
        let mut shown: Vec<(Pattern, &str)> = finals
            .iter()
            .filter(|r| round_of(r) == Some(i))
            .map(|r| (r.pattern, r.target.as_str()))
            .collect();
        shown.sort_by_key(|(_, t)| *t);
        assert_eq!(
            shown,
            [
                (Pattern::Streaming, "/events"),
                (Pattern::LongPolling, "/long-poll"),
                (Pattern::ShortPolling, "/poll"),
                (Pattern::Streaming, "/stream"),
                (Pattern::Websocket, "/ws"),
            ],
            "round {}",
            i + 1
        );
        let long = finals
            .iter()
            .find(|r| round_of(r) == Some(i) && r.pattern == Pattern::LongPolling)
            .unwrap();
        holds.push(long.held.unwrap().median.secs_f64());
        // The WebSocket is open as long as its own connection: half a second, not the rounds.
        let ws = finals
            .iter()
            .find(|r| round_of(r) == Some(i) && r.pattern == Pattern::Websocket)
            .unwrap();
        assert_eq!(ws.conns.len(), 1);
        assert!(
            (0.4..0.7).contains(&ws.duration.secs_f64()),
            "{:?}",
            ws.duration
        );
        let poll = finals
            .iter()
            .find(|r| round_of(r) == Some(i) && r.pattern == Pattern::ShortPolling)
            .unwrap();
        assert_eq!((poll.requests, poll.conns.len()), (13, 8));
    }
    // The server's news comes every 3 steps (150 ms): every round's long poll is held that
    // long (a late re-ask shortens one hold: 139 ms in round 2).
    assert!(
        holds.iter().all(|h| (0.135..0.155).contains(h)),
        "{holds:?}"
    );
    // `/` and `/missing`, met once a round, are no pattern.
    assert!(finals
        .iter()
        .all(|r| r.target != "/" && r.target != "/missing"));
    // Each round gives ten reports: when each of its five conversations shows its pattern,
    // and its final report.
    let per_round: Vec<usize> = (0..5)
        .map(|i| {
            reports(&events)
                .iter()
                .filter(|r| round_of(r) == Some(i))
                .count()
        })
        .collect();
    assert_eq!(per_round, [10; 5]);
}

#[test]
fn a_chunked_response_arriving_over_time_is_streaming() {
    let events = decode_capture("streaming_chunked.pcapng");
    let r = one_pattern(&events, Pattern::Streaming);
    assert_eq!((r.target.as_str(), r.chunks), ("/stream", Some(5)));
    let (min, _, max) = secs(r.chunk_spacing);
    assert!(
        min > 0.019 && max < 0.025,
        "chunks every ~20 ms: {min} {max}"
    );
    assert_eq!(r.sse_events, None);
    assert_json_snapshot!(pattern_json(&events));
}

#[test]
fn server_sent_events_are_streaming() {
    let events = decode_capture("sse.pcapng");
    let r = one_pattern(&events, Pattern::Streaming);
    // Six chunks carry data: the comment and retry, then the five events.
    assert_eq!((r.target.as_str(), r.chunks), ("/events", Some(6)));
    assert!(r.sse_events.is_some());
    assert_json_snapshot!(pattern_json(&events));
}

#[test]
fn an_upgraded_connection_is_websocket() {
    for name in ["ws_chat.pcapng", "ws_ipv6.pcapng", "ws_deflate.pcapng"] {
        let events = decode_capture(name);
        let p = patterns(&events);
        assert_eq!(p.len(), 1, "{name}");
        assert_eq!(p[0].pattern, Pattern::Websocket, "{name}");
        assert_eq!(p[0].requests, 1);
        let [up, down] = p[0].messages.unwrap();
        assert!(up >= 9 && down >= 9, "{name}: {up} {down}");
        // Open as long as the connection: from its SYN to its end.
        let end = events
            .iter()
            .find_map(|e| match &e.body {
                EventBody::ConnectionEnd(c) => Some(c.duration),
                _ => None,
            })
            .unwrap();
        assert_eq!((p[0].start.0, p[0].duration), (0, end), "{name}");
    }
    assert_json_snapshot!(pattern_json(&decode_capture("ws_chat.pcapng")));
}

#[test]
fn socket_io_s_upgrade_is_a_websocket_apart_from_its_polling() {
    // Engine.IO 4: the handshake GET and the POST, then the WebSocket on its own connection
    // (conversation 2): the polling requests before it are not folded into it.
    let events = decode_capture("socketio_v4.pcapng");
    let p = patterns(&events);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(
        (p[0].pattern, p[0].conns.as_slice()),
        (Pattern::Websocket, &[2][..])
    );
    // Kept on long-polling, the GETs are long polling.
    let events = decode_capture("socketio_polling.pcapng");
    let r = one_pattern(&events, Pattern::LongPolling);
    assert_eq!(r.target, "/socket.io/");
}

#[test]
fn lesson_all_shows_every_pattern() {
    let events = decode_capture("lesson_all.pcapng");
    let mut p = patterns(&events);
    p.sort_by_key(|r| r.conversation);
    let found: Vec<(Pattern, &str)> = p.iter().map(|r| (r.pattern, r.target.as_str())).collect();
    assert_eq!(
        found,
        [
            (Pattern::ShortPolling, "/poll"),
            (Pattern::LongPolling, "/long-poll"),
            (Pattern::Streaming, "/stream"),
            (Pattern::Streaming, "/events"),
            (Pattern::Websocket, "/ws"),
        ]
    );
    // The polling scenarios over new connections and over one kept-alive connection share
    // client host, server and target, and follow each other without a pause: one
    // conversation.
    assert_eq!(p[0].requests, 13);
    assert_eq!(p[0].conns.len(), 8);
    assert_json_snapshot!(pattern_json(&events));
}

#[test]
fn single_requests_show_no_pattern() {
    for name in [
        "http_keepalive.pcapng",
        "http_keepalive_usec.pcap",
        "http_pipelined.pcapng",
        "refused.pcapng",
    ] {
        assert_eq!(
            reports(&decode_capture(name)),
            Vec::<&PatternReport>::new(),
            "{name}"
        );
    }
}

#[test]
fn every_response_says_how_long_the_server_took() {
    // Pipelined: three requests in one segment, answered in order; each answer's time runs
    // from its own request (Wireshark 4.0 matches them all to the last request).
    let events = decode_capture("http_pipelined.pcapng");
    let times = server_times(&events);
    assert_eq!(times.len(), 3);
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    // The text transcript shows a hold worth mentioning ("held 1.003 s"), not the
    // sub-millisecond answers.
    let text = support::text(&decode_capture("long_poll_fixed.pcapng"));
    let held = text
        .lines()
        .filter(|l| l.contains("200 OK") && l.contains("  held 1.00"))
        .count();
    assert_eq!(held, 6, "{text}");
    let text = support::text(&decode_capture("polling.pcapng"));
    assert!(!text.contains("held"), "{text}");
}

#[test]
fn connection_records_end_with_their_state() {
    // Refused at the SYN: the closing record names both ends and says so.
    let events = decode_capture("refused.pcapng");
    let end = events
        .iter()
        .find(|e| e.body.kind() == "connection_end")
        .unwrap();
    let j = serde_json::to_value(end).unwrap();
    assert_eq!(j["state"], "refused");
    assert_eq!(
        (j["client"].as_str(), j["server"].as_str()),
        (Some("127.0.0.1:38056"), Some("127.0.0.1:40511"))
    );
    // Reset mid-stream.
    let mut c = Conv::new("10.0.0.1:40000", "10.0.0.2:8080");
    c.handshake();
    c.seg(true, PSH | ACK, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    c.seg(false, RST | ACK, b"");
    let events = support::decode(&c.pcap.bytes());
    let end = events
        .iter()
        .find(|e| e.body.kind() == "connection_end")
        .unwrap();
    let mut j = serde_json::to_value(end).unwrap();
    j["t"] = json!(null);
    j["duration"] = json!(null);
    assert_eq!(
        j,
        json!({"t": null, "frame": 5, "conn": 0, "kind": "connection_end",
               "client": "10.0.0.1:40000", "server": "10.0.0.2:8080", "state": "reset",
               "websocket": false, "duration": null, "segments": [3, 2], "bytes": [27, 0]})
    );
}
