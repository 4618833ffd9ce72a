use proptest::prelude::*;

use super::*;
use crate::model::{BodyKind, Event, HttpRequest, Stamp};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

#[derive(Debug, Clone)]
enum Op {
    Data(Dir, Vec<u8>),
    Gap(Dir, u32),
    End(Dir),
}

use Dir::{C2s, S2c};

fn data(dir: Dir, b: &[u8]) -> Op {
    Op::Data(dir, b.to_vec())
}

/// Plays a conversation the way `proto::Session` does: after an upgrade, bytes go to the
/// WebSocket side (collected here).
struct Harness {
    conv: Conversation,
    limits: Limits,
    out: Vec<Event>,
    ws: [Vec<u8>; 2],
    ws_lost: u64,
    upgraded: Option<Option<DeflateParams>>,
}

impl Harness {
    fn new(limits: Limits) -> Self {
        Harness {
            conv: Conversation::new(&limits),
            limits,
            out: Vec::new(),
            ws: [Vec::new(), Vec::new()],
            ws_lost: 0,
            upgraded: None,
        }
    }

    fn feed(&mut self, dir: Dir, bytes: &[u8]) {
        if self.upgraded.is_some() {
            self.ws[dir.idx()].extend_from_slice(bytes);
            return;
        }
        let mut cx = Cx {
            stamp: Stamp::default(),
            conn: 0,
            state: crate::model::ConnState::Established,
            limits: &self.limits,
            keys: &crate::keylog::KeyLog::default(),
            out: &mut self.out,
        };
        if let Some(up) = self.conv.feed(dir, bytes, &mut cx) {
            self.upgraded = Some(up.deflate);
            let [c, s] = up.leftover;
            self.ws[0].extend_from_slice(&c);
            self.ws[1].extend_from_slice(&s);
            self.ws_lost = up.lost_c2s;
        }
    }

    fn gap(&mut self, dir: Dir, len: u32) {
        let mut cx = Cx {
            stamp: Stamp::default(),
            conn: 0,
            state: crate::model::ConnState::Established,
            limits: &self.limits,
            keys: &crate::keylog::KeyLog::default(),
            out: &mut self.out,
        };
        self.conv.gap(dir, len, &mut cx);
    }

    fn end(&mut self, dir: Dir) {
        let mut cx = Cx {
            stamp: Stamp::default(),
            conn: 0,
            state: crate::model::ConnState::Established,
            limits: &self.limits,
            keys: &crate::keylog::KeyLog::default(),
            out: &mut self.out,
        };
        self.conv.end(dir, &mut cx);
    }

    fn end_by(&mut self, dir: Dir, cause: EndCause) {
        let mut cx = Cx {
            stamp: Stamp::default(),
            conn: 0,
            state: crate::model::ConnState::Established,
            limits: &self.limits,
            keys: &crate::keylog::KeyLog::default(),
            out: &mut self.out,
        };
        self.conv.end_by(dir, cause, &mut cx);
    }

    fn play(
        limits: Limits,
        ops: &[Op],
        mut pieces: impl FnMut(usize, &[u8]) -> Vec<usize>,
    ) -> Self {
        let mut h = Harness::new(limits);
        for (i, op) in ops.iter().enumerate() {
            match op {
                Op::Data(dir, b) => {
                    let mut at = 0;
                    for cut in pieces(i, b) {
                        let cut = cut.clamp(at, b.len());
                        h.feed(*dir, &b[at..cut]);
                        at = cut;
                    }
                    h.feed(*dir, &b[at..]);
                }
                Op::Gap(dir, len) => h.gap(*dir, *len),
                Op::End(dir) => h.end(*dir),
            }
        }
        h
    }

    /// Events without stamps, with consecutive pieces of one Content-Length or read-until-close
    /// body merged (their number depends on how the bytes were cut; nothing else may).
    ///
    /// Each piece's `text` is checked here against its own bytes (the preview of a piece
    /// depends on where the piece was cut: a character split between two pieces is in
    /// neither), and a merged body's `text` is the preview of its merged bytes.
    fn normalized(&self) -> Vec<(Option<Dir>, EventBody)> {
        let max_text = self.limits.max_text_preview;
        // Whether the message in progress on [c2s, s2c] is textual, from its head.
        let mut textual = [false; 2];
        let mut v: Vec<(Option<Dir>, EventBody)> = Vec::new();
        for e in &self.out {
            match (&e.body, e.dir) {
                (EventBody::HttpRequest(r), _) => textual[0] = head::textual(&r.headers),
                (EventBody::HttpResponse(r), _) => textual[1] = head::textual(&r.headers),
                (EventBody::HttpBody(b), Some(d)) => {
                    let want = textual[d.idx()]
                        .then(|| text_preview(&b.data.kept, max_text))
                        .flatten();
                    assert_eq!(b.text, want, "{b:?}");
                }
                _ => {}
            }
            if let (Some((d, EventBody::HttpBody(prev))), EventBody::HttpBody(b)) =
                (v.last_mut(), &e.body)
            {
                if *d == e.dir && prev.chunk.is_none() && b.chunk.is_none() && !prev.end {
                    if !prev.data.is_cut() {
                        let mut kept = [&prev.data.kept[..], &b.data.kept[..]].concat();
                        kept.truncate(self.limits.max_kept_payload);
                        prev.data.kept = kept.into();
                    }
                    let t = e.dir.is_some_and(|d| textual[d.idx()]);
                    prev.text = t.then(|| text_preview(&prev.data.kept, max_text)).flatten();
                    prev.data.total += b.data.total;
                    prev.len += b.len;
                    prev.missing += b.missing;
                    prev.end = b.end;
                    continue;
                }
            }
            // Undecoded bytes: one event per piece, so merged; the note that a direction is
            // not HTTP says how many bytes the piece that showed it held, and its hint comes
            // from them: only its name is split-invariant.
            if let (Some((d, EventBody::Data(prev))), EventBody::Data(b)) = (v.last_mut(), &e.body)
            {
                if *d == e.dir {
                    if !prev.data.is_cut() {
                        let mut kept = [&prev.data.kept[..], &b.data.kept[..]].concat();
                        kept.truncate(self.limits.max_kept_payload);
                        prev.data.kept = kept.into();
                    }
                    prev.data.total += b.data.total;
                    prev.len += b.len;
                    prev.text = super::super::text_of(&prev.data.kept, max_text);
                    continue;
                }
            }
            let mut body = e.body.clone();
            match &mut body {
                EventBody::Note(n) if n.note == "not_http" => {
                    n.detail.clear();
                    n.bytes = None;
                }
                EventBody::Data(b) => b.text = super::super::text_of(&b.data.kept, max_text),
                _ => {}
            }
            v.push((e.dir, body));
        }
        v
    }

    fn kinds(&self) -> Vec<String> {
        self.out
            .iter()
            .map(|e| format!("{}:{}", e.dir.map_or("-", |d| d.as_str()), e.body.kind()))
            .collect()
    }

    fn requests(&self) -> Vec<&HttpRequest> {
        self.out
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::HttpRequest(r) => Some(&**r),
                _ => None,
            })
            .collect()
    }

    fn responses(&self) -> Vec<&HttpResponse> {
        self.out
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::HttpResponse(r) => Some(&**r),
                _ => None,
            })
            .collect()
    }

    fn bodies(&self, dir: Dir) -> Vec<HttpBody> {
        self.normalized()
            .into_iter()
            .filter_map(|(d, b)| match b {
                EventBody::HttpBody(b) if d == Some(dir) => Some(*b),
                _ => None,
            })
            .collect()
    }

    fn malformed(&self) -> Vec<(Dir, &str)> {
        self.out
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Malformed(m) => Some((e.dir?, m.detail.as_str())),
                _ => None,
            })
            .collect()
    }

    fn notes(&self) -> Vec<(Dir, &'static str, &str)> {
        self.out
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Note(n) => Some((e.dir?, n.note, n.detail.as_str())),
                _ => None,
            })
            .collect()
    }

    /// Bytes the `data` events of `dir` report, and how many events.
    fn data(&self, dir: Dir) -> (u64, usize) {
        self.out
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Data(b) if e.dir == Some(dir) => Some(b.len),
                _ => None,
            })
            .fold((0, 0), |(sum, n), len| (sum + len, n + 1))
    }

    fn violations(&self) -> Vec<&'static str> {
        self.out
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Violation(v) => Some(v.rule),
                _ => None,
            })
            .collect()
    }
}

fn whole(ops: &[Op]) -> Harness {
    Harness::play(Limits::default(), ops, |_, _| Vec::new())
}

fn with_limits(limits: Limits, ops: &[Op]) -> Harness {
    Harness::play(limits, ops, |_, _| Vec::new())
}

fn upgrade_request() -> String {
    format!(
        "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
         Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
    )
}

fn switching(accept: &str, extensions: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: chat\r\n{extensions}\r\n"
    )
}

const SERVER_FRAME: &[u8] = b"\x81\x05hello";
const CLIENT_FRAME: &[u8] = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Sample conversations for the split tests: (name, limits, ops).
fn samples() -> Vec<(&'static str, Limits, Vec<Op>)> {
    let small = Limits {
        max_http_head: 64,
        max_http_headers: 4,
        max_kept_payload: 8,
        max_upgrade_hold: 16,
        ..Limits::default()
    };
    vec![
        (
            "keep-alive",
            Limits::default(),
            vec![
                data(C2s, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"),
                data(S2c, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
                data(C2s, b"POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"),
                data(S2c, b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
                data(C2s, b"GET /c HTTP/1.1\r\n\r\n"),
                data(
                    S2c,
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                ),
            ],
        ),
        (
            "pipelining",
            Limits::default(),
            vec![
                data(
                    C2s,
                    b"GET /1 HTTP/1.1\r\n\r\nHEAD /2 HTTP/1.1\r\n\r\nPOST /3 HTTP/1.1\r\n\
                      Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
                ),
                data(
                    S2c,
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\
                      Content-Length: 1000\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
                ),
            ],
        ),
        (
            "continue-204-304",
            Limits::default(),
            vec![
                data(
                    C2s,
                    b"PUT /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
                ),
                data(S2c, b"HTTP/1.1 100 Continue\r\n\r\n"),
                data(C2s, b"dataGET /n HTTP/1.1\r\n\r\nGET /m HTTP/1.1\r\n\r\n"),
                data(
                    S2c,
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 204 No Content\r\n\
                      Content-Length: 7\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
                ),
            ],
        ),
        (
            "chunked",
            Limits::default(),
            vec![
                data(C2s, b"GET /stream HTTP/1.1\r\n\r\n"),
                data(
                    S2c,
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                      5;ext=1;name=\"q;x\"\r\nhello\r\n1A \r\nabcdefghijklmnopqrstuvwxyz\r\n\
                      0\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n",
                ),
            ],
        ),
        (
            "until-close",
            small,
            vec![
                data(C2s, b"GET / HTTP/1.0\r\n\r\n"),
                data(S2c, b"HTTP/1.0 200 OK\r\n\r\nsome body bytes that run on"),
                data(S2c, b" and on"),
                Op::End(S2c),
            ],
        ),
        (
            "upgrade",
            Limits::default(),
            vec![
                Op::Data(C2s, upgrade_request().into_bytes()),
                Op::Data(
                    S2c,
                    cat(&[
                        switching(ACCEPT, "Sec-WebSocket-Extensions: permessage-deflate; \
                                           server_no_context_takeover; client_max_window_bits=10\r\n")
                            .as_bytes(),
                        SERVER_FRAME,
                    ]),
                ),
                data(C2s, CLIENT_FRAME),
            ],
        ),
        (
            "upgrade-early-frame",
            Limits::default(),
            vec![
                Op::Data(C2s, cat(&[upgrade_request().as_bytes(), CLIENT_FRAME])),
                data(C2s, CLIENT_FRAME),
                Op::Data(S2c, switching(ACCEPT, "").into_bytes()),
                data(S2c, SERVER_FRAME),
            ],
        ),
        (
            "upgrade-refused",
            Limits::default(),
            vec![
                Op::Data(
                    C2s,
                    cat(&[upgrade_request().as_bytes(), b"GET /after HTTP/1.1\r\n\r\n"]),
                ),
                data(
                    S2c,
                    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 3\r\n\r\nno!\
                      HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                ),
            ],
        ),
        (
            "h2c",
            Limits::default(),
            vec![
                data(
                    C2s,
                    b"GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\
                      HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
                ),
                data(
                    S2c,
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n\x00\x00\x00\x04",
                ),
                data(C2s, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            ],
        ),
        (
            "oversized-and-bad",
            small,
            vec![
                data(C2s, b"GET /ok HTTP/1.1\r\n\r\n"),
                data(
                    C2s,
                    b"GET /big HTTP/1.1\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n\
                      GET /many HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\ne: 5\r\n\r\n\
                      GET /last HTTP/1.1\r\n\r\n",
                ),
                data(
                    S2c,
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n\
                      HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
                ),
            ],
        ),
        (
            "gaps",
            Limits::default(),
            vec![
                data(C2s, b"GET /1 HTTP/1.1\r\n\r\n"),
                data(S2c, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123"),
                Op::Gap(S2c, 3),
                data(S2c, b"789"),
                data(C2s, b"GET /2 HTTP/1.1\r\nHo"),
                Op::Gap(C2s, 100),
                data(C2s, b"ignored tail\r\nGET /3 HTTP/1.1\r\n\r\n"),
                data(S2c, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"),
                Op::Gap(S2c, 40),
                data(S2c, b"junk\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
            ],
        ),
        (
            "random",
            Limits::default(),
            vec![
                data(C2s, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03GET / HTTP/1.1\r\n\r\n"),
                data(S2c, b"\x16\x03\x03\x00\x7a\x02\x00\x00\x76"),
                Op::Gap(C2s, 5),
                data(C2s, b"zz\r\nGET /found HTTP/1.1\r\n\r\n"),
            ],
        ),
    ]
}

type Outcome = (Vec<(Option<Dir>, EventBody)>, [Vec<u8>; 2], u64);

fn outcome(h: &Harness) -> Outcome {
    (h.normalized(), h.ws.clone(), h.ws_lost)
}

#[test]
fn every_prefix_gives_the_same_events() {
    for (name, limits, ops) in samples() {
        let want = outcome(&Harness::play(limits, &ops, |_, _| Vec::new()));
        assert!(!want.0.is_empty(), "{name}");
        for (k, op) in ops.iter().enumerate() {
            let Op::Data(_, b) = op else { continue };
            for n in 0..=b.len() {
                let got = Harness::play(limits, &ops, |i, _| if i == k { vec![n] } else { vec![] });
                assert_eq!(outcome(&got), want, "{name}: op {k} cut at {n}");
            }
        }
        let bytewise = Harness::play(limits, &ops, |_, b| (1..b.len()).collect());
        assert_eq!(outcome(&bytewise), want, "{name}: one byte at a time");
    }
}

proptest! {
    #[test]
    fn any_split_gives_the_same_events(
        sample in 0usize..12,
        seeds in proptest::collection::vec(any::<u16>(), 0..12),
    ) {
        let all = samples();
        let (name, limits, ops) = &all[sample % all.len()];
        let want = outcome(&Harness::play(*limits, ops, |_, _| Vec::new()));
        let got = Harness::play(*limits, ops, |i, b| {
            let mut cuts: Vec<usize> = seeds
                .iter()
                .map(|s| (usize::from(*s) ^ i.wrapping_mul(7919)) % (b.len() + 1))
                .collect();
            cuts.sort_unstable();
            cuts
        });
        prop_assert_eq!(outcome(&got), want, "{}", name);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        c2s in proptest::collection::vec(any::<u8>(), 0..300),
        s2c in proptest::collection::vec(any::<u8>(), 0..300),
        gap in 0u32..50,
    ) {
        let small = Limits { max_http_head: 32, max_http_headers: 2, ..Limits::default() };
        let ops = [
            Op::Data(C2s, c2s.clone()),
            Op::Data(S2c, s2c.clone()),
            Op::Gap(S2c, gap),
            Op::Data(S2c, s2c),
            Op::Gap(C2s, gap),
            Op::Data(C2s, c2s),
            Op::End(C2s),
            Op::End(S2c),
        ];
        let h = with_limits(small, &ops);
        let split = Harness::play(small, &ops, |_, b| (1..b.len()).step_by(3).collect());
        prop_assert_eq!(outcome(&split), outcome(&h));
    }
}

#[test]
fn keep_alive_three_exchanges() {
    let (_, _, ops) = samples().swap_remove(0);
    let h = whole(&ops);
    assert_eq!(
        h.kinds(),
        [
            "c2s:http_request",
            "s2c:http_response",
            "s2c:http_body",
            "c2s:http_request",
            "c2s:http_body",
            "s2c:http_response",
            "c2s:http_request",
            "s2c:http_response",
            "s2c:http_body",
            "s2c:http_body",
        ]
    );
    let methods: Vec<_> = h
        .responses()
        .iter()
        .map(|r| r.request_method.clone())
        .collect();
    assert_eq!(
        methods,
        [Some("GET".into()), Some("POST".into()), Some("GET".into())]
    );
    let r = h.responses();
    assert_eq!(
        (r[0].body, r[1].body, r[2].body),
        (BodyKind::Length, BodyKind::Length, BodyKind::Chunked)
    );
    let b = h.bodies(S2c);
    assert_eq!((b[0].len, b[0].end), (5, true));
    assert_eq!(b[0].data.kept[..], *b"hello");
    let q = h.requests();
    assert_eq!(
        (q[1].method.as_str(), q[1].body),
        ("POST", BodyKind::Length)
    );
    assert_eq!(q[0].head_len, 28);
    assert_eq!(q[0].headers, [("Host".to_string(), "x".to_string())]);
    assert!(h.malformed().is_empty());
}

#[test]
fn pipelined_requests_match_responses_in_order() {
    let (_, _, ops) = samples().swap_remove(1);
    let h = whole(&ops);
    let r = h.responses();
    assert_eq!(r.len(), 3);
    assert_eq!(r[0].request_method.as_deref(), Some("GET"));
    // HEAD: Content-Length describes the body a GET would get; there is none.
    assert_eq!(r[1].request_method.as_deref(), Some("HEAD"));
    assert_eq!(r[1].body, BodyKind::None);
    assert_eq!(r[2].request_method.as_deref(), Some("POST"));
    assert_eq!(r[2].status, 204);
    assert_eq!(
        h.bodies(C2s)
            .iter()
            .map(|b| (b.chunk, b.len, b.end))
            .collect::<Vec<_>>(),
        [(Some(0), 2, false), (Some(1), 0, true)]
    );
    assert!(h.malformed().is_empty());
    assert!(h.conv.pending.is_empty());
}

#[test]
fn continue_then_final_204_and_304_have_no_body() {
    let (_, _, ops) = samples().swap_remove(2);
    let h = whole(&ops);
    let r = h.responses();
    let got: Vec<_> = r
        .iter()
        .map(|r| (r.status, r.request_method.as_deref(), r.body))
        .collect();
    assert_eq!(
        got,
        [
            (100, Some("PUT"), BodyKind::None),
            (200, Some("PUT"), BodyKind::Length),
            (204, Some("GET"), BodyKind::None),
            (304, Some("GET"), BodyKind::None),
        ]
    );
    assert_eq!(h.bodies(C2s)[0].data.kept[..], *b"data");
    assert_eq!(h.requests().len(), 3);
    assert!(h.malformed().is_empty());
}

#[test]
fn chunked_with_extensions_and_trailers() {
    let (_, _, ops) = samples().swap_remove(3);
    let h = Harness::play(Limits::default(), &ops, |_, b| {
        (0..b.len()).step_by(7).collect()
    });
    let b = h.bodies(S2c);
    assert_eq!(
        b.iter()
            .map(|b| (b.chunk, b.len, b.end))
            .collect::<Vec<_>>(),
        [
            (Some(0), 5, false),
            (Some(1), 26, false),
            (Some(2), 0, true)
        ]
    );
    assert_eq!(b[0].data.kept[..], *b"hello");
    assert_eq!(b[1].data.kept[..], *b"abcdefghijklmnopqrstuvwxyz");
    assert!(h.malformed().is_empty());
    // The next message parses: the trailer section was consumed exactly.
    let mut h = h;
    h.feed(C2s, b"GET /again HTTP/1.1\r\n\r\n");
    h.feed(S2c, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert!(h.malformed().is_empty());
    assert_eq!(h.responses().len(), 2);
}

#[test]
fn chunk_is_reported_when_complete_not_per_piece() {
    let mut h = Harness::new(Limits::default());
    h.feed(C2s, b"GET / HTTP/1.1\r\n\r\n");
    h.feed(
        S2c,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123",
    );
    assert_eq!(h.bodies(S2c).len(), 0);
    h.feed(S2c, b"4567");
    h.feed(S2c, b"89abcdef");
    assert_eq!(h.bodies(S2c).len(), 1);
    assert_eq!(h.bodies(S2c)[0].data.kept[..], *b"0123456789abcdef");
}

#[test]
fn content_length_body_is_reported_as_it_arrives() {
    let mut h = Harness::new(Limits {
        max_kept_payload: 4,
        ..Limits::default()
    });
    h.feed(C2s, b"GET / HTTP/1.1\r\n\r\n");
    h.feed(S2c, b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n012345");
    h.feed(S2c, b"6789ab");
    let pieces: Vec<_> = h
        .out
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::HttpBody(b) => Some((b.len, b.end, b.data.kept.to_vec(), b.data.total)),
            _ => None,
        })
        .collect();
    assert_eq!(
        pieces,
        [
            (6, false, b"0123".to_vec(), 6),
            (6, true, b"6789".to_vec(), 6)
        ]
    );
}

#[test]
fn read_until_close_ends_at_end() {
    let (_, limits, ops) = samples().swap_remove(4);
    let h = with_limits(limits, &ops);
    assert_eq!(h.responses()[0].body, BodyKind::Close);
    let b = h.bodies(S2c);
    assert_eq!(b.len(), 1);
    assert_eq!((b[0].len, b[0].end), (34, true));
    assert_eq!(b[0].data.kept[..], *b"some bod");
    // Pieces as they arrive, then the end marker.
    assert_eq!(
        h.kinds()[2..],
        ["s2c:http_body", "s2c:http_body", "s2c:http_body"]
    );
}

#[test]
fn upgrade_with_frame_in_the_same_piece_as_the_101() {
    let (_, _, ops) = samples().swap_remove(5);
    let h = whole(&ops);
    assert_eq!(
        h.ws[1], SERVER_FRAME,
        "leftover is exactly the bytes after the head"
    );
    assert_eq!(h.ws[0], CLIENT_FRAME);
    let r = h.responses()[0];
    assert_eq!(r.status, 101);
    let up = r.upgrade.as_ref().unwrap();
    assert_eq!(up.key, KEY);
    assert_eq!(up.accept, ACCEPT);
    assert_eq!(up.accept_expected, ACCEPT);
    assert!(up.accept_valid);
    assert_eq!(up.subprotocol.as_deref(), Some("chat"));
    let want = DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 10,
    };
    assert_eq!(up.deflate, Some(want));
    assert_eq!(h.upgraded, Some(Some(want)));
    assert!(h.violations().is_empty(), "{:?}", h.violations());
    assert_eq!(h.out.len(), 2, "{:?}", h.kinds());
}

#[test]
fn client_frame_before_101_is_held_then_leftover() {
    let (_, _, ops) = samples().swap_remove(6);
    let h = whole(&ops);
    assert_eq!(h.ws[0], cat(&[CLIENT_FRAME, CLIENT_FRAME]));
    assert_eq!(h.ws[1], SERVER_FRAME);
    assert_eq!(h.upgraded, Some(None));
    assert_eq!(h.violations(), ["data_before_upgrade_answer"]);
    assert!(h.malformed().is_empty());
}

#[test]
fn held_bytes_beyond_the_limit_are_counted() {
    let limits = Limits {
        max_upgrade_hold: 4,
        ..Limits::default()
    };
    let ops = [
        Op::Data(C2s, cat(&[upgrade_request().as_bytes(), CLIENT_FRAME])),
        Op::Gap(C2s, 7),
        Op::Data(S2c, switching(ACCEPT, "").into_bytes()),
    ];
    let h = with_limits(limits, &ops);
    assert_eq!(h.ws[0], &CLIENT_FRAME[..4]);
    assert_eq!(h.ws_lost, (CLIENT_FRAME.len() - 4 + 7) as u64);
    assert_eq!(h.malformed().len(), 1);
}

#[test]
fn invalid_accept() {
    let ops = [
        Op::Data(C2s, upgrade_request().into_bytes()),
        Op::Data(
            S2c,
            switching("AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "").into_bytes(),
        ),
    ];
    let h = whole(&ops);
    let up = h.responses()[0].upgrade.clone().unwrap();
    assert!(!up.accept_valid);
    assert_eq!(up.accept_expected, ACCEPT);
    assert_eq!(h.violations(), ["websocket_accept_mismatch"]);
    // Still a switch: the bytes after are WebSocket whatever the client decides.
    assert!(h.upgraded.is_some());
}

#[test]
fn invalid_deflate_params_are_a_violation() {
    let ops = [
        Op::Data(C2s, upgrade_request().into_bytes()),
        Op::Data(
            S2c,
            switching(
                ACCEPT,
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
            )
            .into_bytes(),
        ),
    ];
    let h = whole(&ops);
    assert_eq!(h.violations(), ["invalid_deflate_params"]);
    assert_eq!(h.upgraded, Some(Some(DeflateParams::default())));
}

#[test]
fn non_101_answer_parses_held_bytes_as_http() {
    let (_, _, ops) = samples().swap_remove(7);
    let h = whole(&ops);
    assert!(h.upgraded.is_none());
    let q = h.requests();
    assert_eq!(q.len(), 2);
    assert_eq!(q[1].target, "/after");
    let r = h.responses();
    assert_eq!((r[0].status, r[1].status), (403, 200));
    assert_eq!(r[1].request_method.as_deref(), Some("GET"));
    // The held request is parsed as soon as the refusal's head is known.
    assert_eq!(
        h.kinds(),
        [
            "c2s:http_request",
            "c2s:violation",
            "s2c:http_response",
            "c2s:http_request",
            "s2c:http_body",
            "s2c:http_response",
        ]
    );
}

#[test]
fn h2c_switch_makes_the_connection_opaque() {
    let (_, _, ops) = samples().swap_remove(8);
    let h = whole(&ops);
    assert!(h.upgraded.is_none());
    // What follows the 101 is another protocol: its bytes are reported as data, not parsed.
    assert_eq!(
        h.kinds(),
        [
            "c2s:http_request",
            "s2c:http_response",
            "s2c:data",
            "c2s:data"
        ]
    );
    assert_eq!(h.conv.unparsed(S2c), 4);
    assert_eq!(h.conv.unparsed(C2s), 24);
    assert_eq!((h.data(S2c), h.data(C2s)), ((4, 1), (24, 1)));
}

#[test]
fn oversized_head_too_many_headers_and_absurd_chunk() {
    let (_, limits, ops) = samples().swap_remove(9);
    let h = with_limits(limits, &ops);
    let m = h.malformed();
    assert_eq!(m.len(), 3, "{m:?}");
    assert!(m[0].1.contains("larger than 64 bytes"), "{m:?}");
    assert!(m[1].1.contains("more than 4 header fields"), "{m:?}");
    assert!(m[2].1.contains("chunk size"), "{m:?}");
    let targets: Vec<_> = h.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(targets, ["/ok", "/last"]);
    // The response after the broken chunked body is found again.
    let r = h.responses();
    assert_eq!(r.len(), 2);
    assert_eq!(
        h.bodies(S2c).last().map(|b| (b.len, b.end)),
        Some((10, true))
    );
}

#[test]
fn chunk_size_overflow_is_malformed_without_allocation() {
    for size in [
        "ffffffffffffffffff",
        "8000000000000000",
        "00000000000000001",
    ] {
        let mut h = Harness::new(Limits::default());
        h.feed(C2s, b"GET / HTTP/1.1\r\n\r\n");
        h.feed(
            S2c,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        h.feed(S2c, size.as_bytes());
        h.feed(S2c, b"\r\n");
        assert_eq!(h.malformed().len(), 1, "{size}");
    }
    let mut h = Harness::new(Limits::default());
    h.feed(C2s, b"GET / HTTP/1.1\r\n\r\n");
    h.feed(
        S2c,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\nab",
    );
    assert!(h.malformed().is_empty());
}

#[test]
fn gap_inside_a_body_keeps_sync() {
    let (_, _, ops) = samples().swap_remove(10);
    let h = whole(&ops);
    let b = h.bodies(S2c);
    assert_eq!((b[0].len, b[0].missing, b[0].end), (10, 3, true));
    assert_eq!(b[0].data.kept[..], *b"0123789");
}

#[test]
fn gap_then_resync_keeps_the_fifo_in_step() {
    let (_, _, ops) = samples().swap_remove(10);
    let h = whole(&ops);
    let targets: Vec<_> = h.requests().iter().map(|r| r.target.clone()).collect();
    // `/2` was cut by the gap: lost, then `/3` found at a line start.
    assert_eq!(targets, ["/1", "/3"]);
    let r = h.responses();
    let got: Vec<_> = r
        .iter()
        .map(|r| (r.status, r.request_method.clone()))
        .collect();
    // The second response answers the lost `/2` (a placeholder, no method). The s2c gap
    // between messages lost the response to `/3`, which pops `/3`: the 404 answers nothing
    // known.
    assert_eq!(got, [(200, Some("GET".into())), (200, None), (404, None)]);
    assert!(h.malformed().is_empty());
}

#[test]
fn gap_between_messages_pops_the_lost_response() {
    let ops = [
        data(C2s, b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"),
        Op::Gap(S2c, 30),
        data(S2c, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ];
    let h = whole(&ops);
    assert_eq!(h.responses()[0].request_method.as_deref(), Some("GET"));
    assert!(h.conv.pending.is_empty());
}

#[test]
fn gap_longer_than_the_body_resyncs_after_it() {
    let ops = [
        data(C2s, b"GET /1 HTTP/1.1\r\n\r\n"),
        data(S2c, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab"),
        Op::Gap(S2c, 10),
        data(
            S2c,
            b"Length: 0\r\n\r\nHTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n",
        ),
    ];
    let h = whole(&ops);
    let b = h.bodies(S2c);
    assert_eq!((b[0].len, b[0].missing, b[0].end), (4, 2, true));
    assert_eq!(h.responses().last().map(|r| r.status), Some(500));
}

#[test]
fn another_protocol_gets_one_note_then_data_until_a_gap() {
    let (_, _, ops) = samples().swap_remove(11);
    let h = whole(&ops);
    assert!(h.malformed().is_empty(), "{:?}", h.malformed());
    let n = h.notes();
    assert_eq!(n.len(), 2, "{n:?}");
    assert_eq!(
        n[0],
        (
            C2s,
            "not_http",
            "not HTTP: 29 bytes of payload, looks like TLS (a ClientHello)"
        )
    );
    assert_eq!(
        n[1],
        (
            S2c,
            "not_http",
            "not HTTP: 9 bytes of payload, looks like TLS (a ServerHello)"
        )
    );
    // After the c2s gap, resynchronisation finds the request; the 4 bytes skipped before it
    // are data too.
    assert_eq!(h.requests().len(), 1);
    assert_eq!(h.requests()[0].target, "/found");
    assert_eq!(h.conv.unparsed(S2c), 9);
    assert_eq!(h.data(S2c), (9, 1));
    assert_eq!(h.data(C2s), (29 + 4, 2));
}

#[test]
fn another_protocol_in_many_pieces_gives_one_note_and_counts_every_byte() {
    let mut h = Harness::new(Limits::default());
    for i in 0..1000u32 {
        h.feed(C2s, &(i | 0x8000_0000).to_be_bytes());
    }
    assert_eq!(h.notes().len(), 1);
    assert_eq!(h.data(C2s), (4000, 1000));
    assert_eq!(h.out.len(), 1001);
    assert!(
        h.notes()[0].2.contains("binary (80 00 00 00)"),
        "{:?}",
        h.notes()
    );
}

#[test]
fn a_text_protocol_is_quoted_and_previewed() {
    let mut h = Harness::new(Limits::default());
    h.feed(C2s, b"*1\r\n$4\r\nPING\r\n");
    h.feed(S2c, b"+PONG\r\n");
    let n = h.notes();
    assert_eq!(n[0].2, "not HTTP: 14 bytes of payload, text: \"*1\"");
    assert_eq!(n[1].2, "not HTTP: 7 bytes of payload, text: \"+PONG\"");
    let texts: Vec<_> = h
        .out
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Data(b) => b.text.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["*1\r\n$4\r\nPING\r\n", "+PONG\r\n"]);
}

#[test]
fn a_request_line_that_goes_wrong_is_a_bad_message_shown() {
    let mut h = Harness::new(Limits::default());
    h.feed(C2s, b"GET /a\x1b[31m HTTP/1.1\r\n\r\n");
    let m = h.malformed();
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(
        m[0].1,
        "not an HTTP request: control byte in start line: byte 0x1b at offset 6 in “GET /a\u{1b}”"
    );
    assert!(h.notes().is_empty());
    // A head that httparse refuses names its line too.
    let mut h = Harness::new(Limits::default());
    h.feed(C2s, b"GET /a HTTP/9.1\r\nHost: x\r\n\r\n");
    let m = h.malformed();
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(
        m[0].1.ends_with("in “GET /a HTTP/9.1”; resynchronising"),
        "{m:?}"
    );
}

#[test]
fn how_a_direction_ends_decides_what_an_unfinished_body_is() {
    let resp = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                 Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
    let play = |causes: &[(Dir, EndCause)]| {
        let mut h = Harness::new(Limits::default());
        h.feed(C2s, b"GET /events HTTP/1.1\r\n\r\n");
        h.feed(S2c, resp);
        for (dir, cause) in causes {
            h.end_by(*dir, *cause);
        }
        (
            h.notes().iter().map(|n| n.1).collect::<Vec<_>>(),
            h.malformed().len(),
        )
    };
    // The capture ends while the stream runs.
    assert_eq!(
        play(&[(C2s, EndCause::NotCaptured), (S2c, EndCause::NotCaptured)]),
        (vec!["capture_ended_in_body"], 0)
    );
    // The client closes (EventSource.close()), then the server.
    assert_eq!(
        play(&[(C2s, EndCause::Fin), (S2c, EndCause::Fin)]),
        (vec!["peer_closed_in_body"], 0)
    );
    // The client resets.
    let rst = EndCause::Reset { by: C2s };
    assert_eq!(
        play(&[(C2s, rst), (S2c, rst)]),
        (vec!["peer_closed_in_body"], 0)
    );
    // The server stops mid-body on its own: that body is cut short.
    assert_eq!(play(&[(S2c, EndCause::Fin)]), (vec![], 1));
    let rst = EndCause::Reset { by: S2c };
    assert_eq!(play(&[(S2c, rst), (C2s, rst)]), (vec![], 1));
}

#[test]
fn end_reports_messages_cut_short() {
    let mut h = Harness::new(Limits::default());
    h.feed(C2s, b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    h.end(C2s);
    h.feed(S2c, b"HTTP/1.1 200 OK\r\nContent-");
    h.end(S2c);
    let m = h.malformed();
    assert_eq!(m.len(), 2, "{m:?}");
    assert!(m[0].1.contains("7 of 10"), "{m:?}");
    assert!(m[1].1.contains("head cut short"), "{m:?}");
}

#[test]
fn te_and_cl_chunked_wins() {
    let ops = [data(
        C2s,
        b"POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n\
              1\r\nx\r\n0\r\n\r\nGET /next HTTP/1.1\r\n\r\n",
    )];
    let h = whole(&ops);
    assert_eq!(h.violations(), ["transfer_encoding_with_content_length"]);
    assert_eq!(h.requests()[0].body, BodyKind::Chunked);
    assert_eq!(h.requests()[1].target, "/next");
}

#[test]
fn head_in_one_piece_is_not_buffered() {
    let mut h = Harness::new(Limits::default());
    h.feed(C2s, b"GET / HTTP/1.1\r\n\r\nGET /part");
    assert_eq!(h.conv.sides[0].head, b"GET /part");
    h.feed(C2s, b" HTTP/1.1\r\n\r\n");
    assert!(h.conv.sides[0].head.is_empty());
    assert_eq!(h.requests().len(), 2);
}

/// Whole requests, with a few broken pieces, that combine into plausible streams.
const REQUESTS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"HEAD /h HTTP/1.1\r\n\r\n",
    b"POST /p HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
    b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: 1\r\n\r\n",
    b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
      Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    b"GET /h2 HTTP/1.1\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n",
    b"\r\n",
    b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
    b"POST /x HTTP/1.1\r\nContent-Length: x\r\n\r\n",
    b"GET /many HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\ne: 5\r\n\r\n",
];

const RESPONSES: &[&[u8]] = &[
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
      Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
      Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=9\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno",
    b"HTTP/1.0 200 OK\r\n\r\nuntil close",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n",
    b"\x81\x05hello",
];

fn stream(of: &'static [&'static [u8]]) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(0..of.len(), 0..8)
        .prop_map(move |ix| ix.into_iter().flat_map(|i| of[i].iter().copied()).collect())
}

proptest! {
    #[test]
    fn http_like_soup_splits_alike(
        c2s in stream(REQUESTS),
        s2c in stream(RESPONSES),
        more in stream(REQUESTS),
        gap in 0u32..20,
        seeds in proptest::collection::vec(any::<u16>(), 0..10),
    ) {
        let limits = Limits {
            max_http_head: 96,
            max_http_headers: 4,
            max_kept_payload: 5,
            max_upgrade_hold: 7,
            max_pending_requests: 3,
            ..Limits::default()
        };
        let ops = [
            Op::Data(C2s, c2s),
            Op::Data(S2c, s2c.clone()),
            Op::Gap(S2c, gap),
            Op::Data(C2s, more.clone()),
            Op::Data(S2c, s2c),
            Op::Gap(C2s, gap),
            Op::Data(C2s, more),
            Op::End(C2s),
            Op::End(S2c),
        ];
        let want = outcome(&with_limits(limits, &ops));
        let got = Harness::play(limits, &ops, |i, b| {
            let mut cuts: Vec<usize> = seeds
                .iter()
                .map(|s| (usize::from(*s) ^ i.wrapping_mul(7919)) % (b.len() + 1))
                .collect();
            cuts.sort_unstable();
            cuts
        });
        prop_assert_eq!(outcome(&got), want);
    }
}

#[test]
fn gap_inside_a_chunk_keeps_sync_and_counts_missing() {
    let ops = [
        data(C2s, b"GET / HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"),
        data(
            S2c,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123",
        ),
        Op::Gap(S2c, 3),
        data(S2c, b"789\r\n0\r\n\r\n"),
        data(
            S2c,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab",
        ),
        // Longer than the chunk: the framing is lost, the next response is found again.
        Op::Gap(S2c, 20),
        data(S2c, b"\r\nHTTP/1.1 204 No Content\r\n\r\n"),
    ];
    let h = whole(&ops);
    let b = h.bodies(S2c);
    assert_eq!(
        b.iter()
            .map(|b| (b.chunk, b.len, b.missing, b.end))
            .collect::<Vec<_>>(),
        [(Some(0), 10, 3, false), (Some(1), 0, 0, true)]
    );
    // The display copy stops at the gap rather than splicing across it.
    assert_eq!(b[0].data.kept[..], *b"0123");
    assert!(b[0].data.is_cut());
    let r = h.responses();
    assert_eq!(
        r.iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 200, 204]
    );
    assert!(h.malformed().is_empty());
}

#[test]
fn pending_upgrade_keys_are_bounded() {
    // Found by review: an upgrade request whose chunked body breaks resynchronises without
    // holding the client's bytes, so such requests pile up in the FIFO, each keeping its
    // Sec-WebSocket-Key whole: 50 of 60 KB held 3 MB, beyond every limit.
    let key = "k".repeat(60_000);
    let req = format!(
        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    );
    let mut h = Harness::new(Limits::default());
    for _ in 0..50 {
        h.feed(C2s, req.as_bytes());
    }
    assert_eq!(h.requests().len(), 50);
    let max = Conversation::max_held(&h.limits);
    assert!(
        h.conv.held_bytes() <= max,
        "{} > {max}",
        h.conv.held_bytes()
    );
    // The answer is still checked against the whole key.
    let accept = upgrade::accept_for(&key);
    h.feed(S2c, switching(&accept, "").as_bytes());
    let up = h.responses()[0].upgrade.clone().unwrap();
    assert!(up.accept_valid);
    assert_eq!(up.accept_expected, accept);
    assert!(key.starts_with(&up.key) && up.key.len() <= MAX_WS_KEY);
}

#[test]
fn a_head_fed_a_byte_at_a_time_is_linear() {
    // A 4 MB head (and a 4 MB trailer section) fed one byte per call: each byte is looked at
    // a bounded number of times (were the buffered head re-scanned per byte, this would be
    // 8 * 10^12 steps and never finish).
    let limits = Limits {
        max_http_head: 4 << 20,
        max_http_headers: 10,
        ..Limits::default()
    };
    let mut msg = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX-Pad: ".to_vec();
    msg.resize((4 << 20) - 4, b'a');
    msg.extend_from_slice(b"\r\n\r\n0\r\nX-Trailer: ");
    msg.resize(msg.len() + (4 << 20) - 100, b'b');
    msg.extend_from_slice(b"\r\n\r\n");
    let mut h = Harness::new(limits);
    for b in msg.chunks(1) {
        h.feed(C2s, b);
    }
    assert_eq!(h.kinds(), ["c2s:http_request", "c2s:http_body"]);
    assert_eq!(h.requests()[0].head_len, 4 << 20);
    assert!(h.bodies(C2s)[0].end);
}

#[test]
fn textual_bodies_carry_a_text_preview() {
    let texts = |h: &Harness, dir| -> Vec<Option<String>> {
        h.bodies(dir).into_iter().map(|b| b.text).collect()
    };
    // A JSON answer and a form POST: the text, as it is.
    let h = whole(&[
        data(
            C2s,
            b"POST /send HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
              Content-Length: 7\r\n\r\nmsg=hi\n",
        ),
        data(
            S2c,
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n\
              {\"next\":5}",
        ),
    ]);
    assert_eq!(texts(&h, C2s), [Some("msg=hi\n".to_string())]);
    assert_eq!(texts(&h, S2c), [Some("{\"next\":5}".to_string())]);
    // Binary content types and compressed bodies get none, even when the bytes are ASCII.
    for head in [
        "Content-Type: application/octet-stream\r\n",
        "Content-Type: text/plain\r\nContent-Encoding: gzip\r\n",
    ] {
        let resp = format!("HTTP/1.1 200 OK\r\n{head}Content-Length: 2\r\n\r\nok");
        let h = whole(&[
            data(C2s, b"GET / HTTP/1.1\r\n\r\n"),
            data(S2c, resp.as_bytes()),
        ]);
        assert_eq!(texts(&h, S2c), [None], "{head}");
    }
    // Not UTF-8: none. No Content-Type: text when the bytes are UTF-8.
    let h = whole(&[
        data(C2s, b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"),
        data(
            S2c,
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n\xff\xfe\
              HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n\xea\xb0\x80!",
        ),
    ]);
    assert_eq!(texts(&h, S2c), [None, Some("가!".to_string())]);
}

#[test]
fn a_text_preview_is_cut_at_a_character_and_the_limits() {
    // The kept copy (5 bytes) ends inside the second "가" (3 bytes each): it is left out.
    let limits = Limits {
        max_kept_payload: 5,
        ..Limits::default()
    };
    let h = with_limits(
        limits,
        &[
            data(C2s, b"GET / HTTP/1.1\r\n\r\n"),
            data(
                S2c,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\n가나다"
                    .as_bytes(),
            ),
        ],
    );
    let b = &h.bodies(S2c)[0];
    assert_eq!((b.len, b.text.as_deref()), (9, Some("가")));
    // At most max_text_preview characters; each chunk of a chunked body has its own.
    let limits = Limits {
        max_text_preview: 3,
        ..Limits::default()
    };
    let h = with_limits(
        limits,
        &[
            data(C2s, b"GET /stream HTTP/1.1\r\n\r\n"),
            data(
                S2c,
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                  Transfer-Encoding: chunked\r\n\r\n6\r\nline 1\r\n2\r\nok\r\n0\r\n\r\n",
            ),
        ],
    );
    let got: Vec<Option<String>> = h.bodies(S2c).into_iter().map(|b| b.text).collect();
    assert_eq!(got, [Some("lin".into()), Some("ok".into()), None]);
}
