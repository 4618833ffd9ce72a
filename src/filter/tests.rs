use super::*;
use crate::capture::CaptureReader;
use crate::engine::Engine;
use crate::model::{Limits, Opcode};
use proptest::prelude::*;

/// Filters that parse, covering every form of the grammar.
const VALID: &[&str] = &[
    r#"ws.opcode == "text" && conn == 3"#,
    "http.status >= 400",
    "tcp.analysis",
    "port 8080 or host ::1",
    r#"stomp.command == "SEND""#,
    r#"tls.sni contains "local""#,
    "not (http or ws) and !tcp.analysis",
    "conn in {0, 2 5}",
    r#"http.header.upgrade == websocket || http.header contains "Upgrade""#,
    r#"ws.text == "a \"quoted\" \\ \n \t \x41 \u{1F600} text""#,
    "tcp.flags.syn == 1 and tcp.flags == syn",
    "t > 0.5 and t le 1e3 and frame != 0x10",
    "ip.addr == 127.0.0.1 and tcp.dstport gt 1024",
    "websocket.opcode eq close AND ws.code == 1000",
    "connection.client == 127.0.0.1:39090",
    "host 127.0.0.1 or host [::1]",
    "((((tcp))))",
    "dir == c2s",
];

fn parse(s: &str) -> Filter {
    Filter::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}\n{}", e.caret("")))
}

fn error(s: &str) -> FilterError {
    match Filter::parse(s) {
        Ok(f) => panic!("{s:?} parsed: {f:?}"),
        Err(e) => e,
    }
}

#[test]
fn the_grammar_parses() {
    for s in VALID {
        let f = parse(s);
        assert_eq!(f.text(), s.trim());
    }
}

/// Every prefix of a valid filter (at each character boundary) parses or gives an error
/// pointing inside it (or just after its end), with a message; none panics. Then the same
/// for every suffix, which starts in the middle of a token.
#[test]
fn every_prefix_parses_or_points_inside() {
    for s in VALID {
        for (n, _) in s.char_indices().chain(std::iter::once((s.len(), ' '))) {
            for part in [&s[..n], &s[n..]] {
                match Filter::parse(part) {
                    Ok(_) => {}
                    Err(e) => {
                        assert!(e.pos <= part.len(), "{part:?}: {e:?}");
                        assert!(part.is_char_boundary(e.pos), "{part:?}: {e:?}");
                        assert!(!e.message.is_empty());
                        let caret = e.caret("");
                        assert_eq!(caret.lines().count(), 2, "{caret}");
                    }
                }
            }
        }
    }
}

#[test]
fn errors_point_at_the_mistake() {
    // (filter, position, words the message must hold)
    let cases: &[(&str, usize, &str)] = &[
        ("http.status ==", 14, "expected a value"),
        ("http.status == ", 15, "expected a value"),
        ("http.stauts == 404", 0, "did you mean `http.status`"),
        ("http.status == abc", 15, "is a number"),
        (r#"ws.opcode == "txt""#, 13, "one of `continuation`, `text`"),
        ("(tcp or http", 12, "`)`"),
        ("tcp http", 4, "found `http`"),
        ("tcp and", 7, "a test after `and`"),
        ("not", 3, "a test after `not`"),
        ("port 99999", 5, "0 to 65535"),
        ("http contains x", 5, "is a protocol"),
        ("http.method > 3", 12, "compares numbers"),
        ("http.status contains 4", 12, "looks in text"),
        (r#"ws.text == "open"#, 16, "to end the text"),
        (r#"ws.text == "\q""#, 13, "an escape"),
        ("conn in {1 2", 12, "`}`"),
        ("== 3", 0, "expected a field"),
        ("   ", 3, "empty"),
        ("ws.fin == maybe", 10, "true or false"),
        ("host ba$d", 5, "not an address"),
        ("http.status = = 3", 14, "expected a value"),
    ];
    for (s, pos, words) in cases {
        let e = error(s);
        assert_eq!(e.pos, *pos, "{s:?}: {e}");
        assert!(e.message.contains(words), "{s:?}: {e}");
    }
    let e = error("http.status ==");
    assert_eq!(e.caret("  "), "  http.status ==\n                ^");
    assert_eq!(e.to_string(), format!("{} (column 15)", e.message));
}

#[test]
fn the_caret_counts_cells_and_hides_control_characters() {
    // A wide character before the mistake takes two cells; a control character shows as `?`.
    let e = error("ws.text == \"한\" \u{1b} x");
    assert_eq!(e.caret(""), "ws.text == \"한\" ? x\n                ^");
}

#[test]
fn limits_are_errors_not_crashes() {
    let deep = format!(
        "{}tcp{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert_eq!(error(&deep).pos, MAX_DEPTH);
    let ok = format!("{}tcp{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    parse(&ok);
    let long = "tcp or ".repeat(MAX_LEN);
    assert!(error(&long).message.contains("at most"));
    // A long run of `not` is a loop, not a recursion.
    parse(&format!("{}tcp", "! ".repeat(MAX_LEN / 2 - 3)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any string: a filter or an error inside it, never a panic.
    #[test]
    fn never_panics(s in "\\PC{0,60}") {
        if let Err(e) = Filter::parse(&s) {
            prop_assert!(e.pos <= s.len());
            prop_assert!(s.is_char_boundary(e.pos));
            let _ = e.caret("");
        }
    }

    /// Strings made of the language's own pieces, where mistakes are likelier to go deep
    /// (without `host`, whose names would go to the resolver).
    #[test]
    fn never_panics_on_pieces(parts in proptest::collection::vec(prop_oneof![
        Just("("), Just(")"), Just("and"), Just("or"), Just("!"), Just("not"), Just("=="),
        Just("!="), Just("<"), Just("contains"), Just("in"), Just("{"), Just("}"), Just(","),
        Just("\""), Just("\\"), Just("tcp"), Just("http.status"), Just("ws.opcode"), Just("3"),
        Just("text"), Just("port"), Just("http.method"), Just("::1"), Just(" "), Just("&&"), Just("||"),
    ], 0..16)) {
        let s: String = parts.concat();
        if let Err(e) = Filter::parse(&s) {
            prop_assert!(e.pos <= s.len());
        }
    }
}

fn events(name: &str) -> Vec<Event> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/captures")
        .join(name);
    let bytes = std::fs::read(path).unwrap();
    let mut reader = CaptureReader::new(&bytes[..]).unwrap();
    let mut engine = Engine::new(Limits::default());
    let mut out: Vec<Event> = Vec::new();
    while let Some(f) = reader.next_frame().unwrap() {
        engine.ingest(&f, &mut out);
    }
    engine.finish(&mut out);
    out
}

fn count(events: &[Event], filter: &str) -> usize {
    let mut m = Matcher::new(parse(filter));
    events.iter().filter(|e| m.matches(e)).count()
}

#[test]
fn matches_websocket_messages_by_opcode_and_connection() {
    let ev = events("lesson_all.pcapng");
    let text_on = |c: u32| {
        ev.iter()
            .filter(|e| {
                e.conn == Some(c)
                    && matches!(&e.body, EventBody::WsFrame(w) if w.opcode == Opcode::Text)
                    || e.conn == Some(c)
                        && matches!(&e.body, EventBody::WsMessage(m) if m.opcode == Opcode::Text)
            })
            .count()
    };
    let ws_conn = ev
        .iter()
        .find(|e| matches!(e.body, EventBody::WsMessage(_)))
        .and_then(|e| e.conn)
        .unwrap();
    let want = text_on(ws_conn);
    assert!(want >= 4, "{want}");
    assert_eq!(
        count(&ev, &format!(r#"ws.opcode == "text" && conn == {ws_conn}"#)),
        want
    );
    // The case of a closed set's value does not matter; the word form is the same test.
    assert_eq!(
        count(
            &ev,
            &format!("ws.opcode eq TEXT and tcp.stream == {ws_conn}")
        ),
        want
    );
    assert_eq!(count(&ev, "ws.opcode == text and conn == 999"), 0);
}

#[test]
fn matches_http_status_and_methods() {
    let ev = events("lesson_all.pcapng");
    let errors: Vec<u16> = ev
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::HttpResponse(r) if r.status >= 400 => Some(r.status),
            _ => None,
        })
        .collect();
    assert!(!errors.is_empty());
    assert_eq!(count(&ev, "http.status >= 400"), errors.len());
    assert_eq!(
        count(&ev, "http.status == 404"),
        errors.iter().filter(|s| **s == 404).count()
    );
    let posts = ev
        .iter()
        .filter(|e| matches!(&e.body, EventBody::HttpRequest(r) if r.method == "POST"))
        .count();
    assert!(posts > 0);
    assert_eq!(count(&ev, r#"http.method == "POST""#), posts);
    // `!=` needs the field: only requests that are not POST.
    let requests = count(&ev, "http_request");
    assert_eq!(count(&ev, r#"http.method != "POST""#), requests - posts);
    assert_eq!(
        count(&ev, r#"not http.method == "POST""#),
        ev.len() - posts,
        "`not a == b` is every other event"
    );
    assert_eq!(
        count(&ev, "http.header.upgrade == websocket"),
        count(
            &ev,
            r#"http.header contains "Upgrade: websocket" and http_request"#
        ) + count(
            &ev,
            r#"http.header == "upgrade: websocket" and http_response"#
        )
    );
}

#[test]
fn matches_tcp_analysis_flags() {
    let ev = events("long_poll_random.pcapng");
    let flagged = ev
        .iter()
        .filter(|e| matches!(&e.body, EventBody::Tcp(s) if !s.analysis.is_empty()))
        .count();
    assert!(flagged > 0);
    assert_eq!(count(&ev, "tcp.analysis"), flagged);
    assert_eq!(
        count(&ev, "tcp and not tcp.analysis"),
        count(&ev, "tcp") - flagged
    );
    let dup = ev
        .iter()
        .filter(|e| {
            matches!(&e.body, EventBody::Tcp(s)
                if s.analysis.contains(&crate::model::TcpAnalysis::DuplicateAck))
        })
        .count();
    assert_eq!(count(&ev, "tcp.analysis.duplicate_ack"), dup);
    assert_eq!(count(&ev, r#"tcp.analysis == "duplicate_ack""#), dup);
    // Flags as Wireshark writes them.
    assert_eq!(
        count(&ev, "tcp.flags.syn == 1 && tcp.flags.ack == 0"),
        count(&ev, "connection")
    );
}

#[test]
fn matches_stomp_and_socketio() {
    let ev = events("stomp.pcapng");
    let sends = ev
        .iter()
        .filter(|e| matches!(&e.body, EventBody::Stomp(s) if s.command == "SEND"))
        .count();
    assert!(sends > 0);
    assert_eq!(count(&ev, r#"stomp.command == "SEND""#), sends);
    assert!(count(&ev, r#"stomp.header.destination contains "/""#) > 0);
    let ev = events("socketio_v4.pcapng");
    assert!(count(&ev, r#"socketio.socketio_type == "EVENT""#) > 0);
    assert_eq!(
        count(&ev, "socketio"),
        ev.iter().filter(|e| e.body.kind() == "socketio").count()
    );
}

#[test]
fn matches_tls_names() {
    let ev = events("tls/curl_https.pcapng");
    let sni: Vec<&str> = ev
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::TlsHandshake(h) => h.sni.as_deref(),
            EventBody::ConnectionEnd(c) => c.tls.as_ref().and_then(|t| t.sni.as_deref()),
            _ => None,
        })
        .collect();
    assert!(!sni.is_empty(), "the capture names its server");
    let part = &sni[0][..3];
    assert_eq!(count(&ev, &format!("tls.sni contains {part:?}")), sni.len());
    assert_eq!(count(&ev, r#"tls.sni contains "no such name""#), 0);
    assert!(count(&ev, r#"tls.handshake_type == "client_hello""#) > 0);
}

/// `port` and `host` see every event of a connection through the `Matcher`, as the engine's
/// own `--port` filter picks the connection.
#[test]
fn port_and_host_follow_the_connection() {
    let ev = events("lesson_all.pcapng");
    let port = ev
        .iter()
        .find_map(|e| match &e.body {
            EventBody::Connection(c) => Some(c.server.port()),
            _ => None,
        })
        .unwrap();
    let with_conn = ev.iter().filter(|e| e.conn.is_some()).count();
    assert_eq!(count(&ev, &format!("port {port} and conn")), with_conn);
    assert_eq!(
        count(&ev, &format!("tcp.port == {port} and conn")),
        with_conn
    );
    assert_eq!(count(&ev, "host 127.0.0.1 and conn"), with_conn);
    assert_eq!(count(&ev, "ip.addr == localhost and conn"), with_conn);
    assert_eq!(count(&ev, "host ::1"), 0);
    let ev6 = events("ws_ipv6.pcapng");
    assert_eq!(
        count(&ev6, "host ::1 and conn"),
        ev6.iter().filter(|e| e.conn.is_some()).count()
    );
    // Alone, the filter knows the endpoints only of the events that carry them.
    let f = parse(&format!("port {port}"));
    assert!(f.uses_endpoints());
    assert_eq!(
        ev.iter().filter(|e| f.matches(e)).count(),
        ev.iter()
            .filter(|e| matches!(
                e.body,
                EventBody::Connection(_) | EventBody::ConnectionEnd(_) | EventBody::Pattern(_)
            ))
            .count()
    );
}

/// Every field of the table reads without panicking on every event of a few captures, and
/// each one finds a value somewhere in the committed captures' common kinds.
#[test]
fn every_field_reads_every_event() {
    let mut all = Vec::new();
    for name in [
        "lesson_all.pcapng",
        "stomp.pcapng",
        "socketio_v4.pcapng",
        "sse.pcapng",
        "long_poll_random.pcapng",
        "tls/curl_https.pcapng",
        "ws_deflate.pcapng",
    ] {
        all.extend(events(name));
    }
    for d in fields::FIELDS {
        let f = parse(d.name);
        let _ = all.iter().filter(|e| f.matches(e)).count();
    }
}

#[test]
fn localhost_is_both_loopbacks() {
    let both: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
    assert_eq!(resolve_host("localhost").unwrap(), both);
    assert_eq!(resolve_host("LocalHost").unwrap(), both);
    assert_eq!(resolve_host("[::1]").unwrap(), vec![both[1]]);
    assert!(resolve_host("a b").is_err());
    assert!(resolve_host("").is_err());
}

/// Wireshark's habits: its field names for ours, opcodes by number.
#[test]
fn wireshark_names_and_opcode_numbers() {
    let ev = events("lesson_all.pcapng");
    assert_eq!(
        count(&ev, r#"http.request.method == "GET""#),
        count(&ev, r#"http.method == "GET""#)
    );
    assert_eq!(
        count(&ev, "http.response.code == 404"),
        count(&ev, "http.status == 404")
    );
    assert!(count(&ev, "websocket.opcode == 1") > 0);
    assert_eq!(
        count(&ev, "websocket.opcode == 1"),
        count(&ev, "ws.opcode == text")
    );
    assert_eq!(
        count(&ev, "ws.opcode in {8 9}"),
        count(&ev, "ws.opcode in {close ping}")
    );
    let tls = events("tls/curl_https.pcapng");
    assert_eq!(
        count(
            &tls,
            r#"tls.handshake.extensions_server_name contains "local""#
        ),
        count(&tls, r#"tls.sni contains "local""#)
    );
}
