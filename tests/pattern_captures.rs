//! The pattern events of every committed capture (insta JSON snapshots), with the figures
//! each pattern rests on asserted directly; and the connection records' final states.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use insta::assert_json_snapshot;
use serde_json::{json, Value};
use support::{decode_capture, Conv, ACK, PSH, RST};
use synscope::model::{Event, EventBody, Pattern, PatternReport};

fn patterns(events: &[Event]) -> Vec<&PatternReport> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Pattern(p) => Some(&**p),
            _ => None,
        })
        .collect()
}

/// The one pattern event of `events`, which must be a `want`.
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

#[test]
fn pattern_events_come_last_stamped_with_the_last_frame() {
    let events = decode_capture("lesson_all.pcapng");
    let first = events
        .iter()
        .position(|e| e.body.kind() == "pattern")
        .unwrap();
    assert!(events[first..].iter().all(|e| e.body.kind() == "pattern"));
    assert_eq!(events.len() - first, 5);
    let last_frame = events[first - 1].frame;
    for e in &events[first..] {
        assert_eq!((e.frame, e.conn, e.dir), (last_frame, None, None));
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
    assert_json_snapshot!(pattern_json(&events));
}

#[test]
fn polling_keepalive_is_short_polling_on_one_connection() {
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
    let (_, held, held_max) = secs(r.held);
    let (_, interval, _) = secs(r.interval);
    assert!(held > interval, "{held} {interval}");
    assert!(
        held > 4.0 * interval && held_max > 0.050,
        "{held} {interval}"
    );
    assert_json_snapshot!(pattern_json(&events));
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
    }
    assert_json_snapshot!(pattern_json(&decode_capture("ws_chat.pcapng")));
}

#[test]
fn lesson_all_shows_every_pattern() {
    let events = decode_capture("lesson_all.pcapng");
    let p = patterns(&events);
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
    // client host, server and target: one conversation.
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
            patterns(&decode_capture(name)),
            Vec::<&PatternReport>::new(),
            "{name}"
        );
    }
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
