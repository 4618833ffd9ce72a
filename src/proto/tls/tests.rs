//! The TLS layer on real TLS: a rustls client and server talk in memory (certificates from
//! rcgen, secrets logged through rustls's `KeyLog`), every byte each writes is recorded in
//! order, and the recording is fed to [`Tls`] as a capture would deliver it.

use std::sync::Arc;

use proptest::prelude::*;
use rustls::crypto::ring::{cipher_suite as cs, kx_group};

use super::*;
use crate::demo::tls::{InMemory, KeyCollector, Offer, Pki};
use crate::model::{Event, Stamp};

/// What one side wrote, in order: `(direction, bytes of one write)`.
type Trace = Vec<(Dir, Vec<u8>)>;

/// A rustls pair in memory ([`InMemory`]), with the test's unwraps.
struct Pair(InMemory);

impl Pair {
    fn new(pki: &Pki, client: &Offer, server: &Offer, keys: &KeyCollector) -> Pair {
        Pair::with_configs(
            pki.client(client, Some(keys)).unwrap(),
            pki.server(server, Some(keys)).unwrap(),
        )
    }

    fn with_configs(c: Arc<rustls::ClientConfig>, s: Arc<rustls::ServerConfig>) -> Pair {
        Pair(InMemory::new(c, s).unwrap())
    }

    fn pump(&mut self) {
        self.0.pump().unwrap();
    }

    fn client_says(&mut self, data: &[u8]) -> Vec<u8> {
        self.0.say(true, data).unwrap()
    }

    fn server_says(&mut self, data: &[u8]) -> Vec<u8> {
        self.0.say(false, data).unwrap()
    }

    fn trace(&self) -> Trace {
        self.0
            .trace
            .iter()
            .map(|(c, b)| (if *c { Dir::C2s } else { Dir::S2c }, b.clone()))
            .collect()
    }
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

/// A whole session: handshake, a request and its response, both close_notify.
fn session(client: &Offer, server: &Offer) -> (Trace, Vec<u8>) {
    let pki = Pki::new().unwrap();
    let keys = KeyCollector::new();
    let mut p = Pair::new(&pki, client, server, &keys);
    p.pump();
    assert_eq!(p.client_says(REQUEST), REQUEST);
    assert_eq!(p.server_says(RESPONSE), RESPONSE);
    p.0.client.send_close_notify();
    p.0.server.send_close_notify();
    p.pump();
    (p.trace(), keys.take())
}

/// What the layer above got.
#[derive(Default)]
struct Rec {
    data: [Vec<u8>; 2],
    gaps: [u64; 2],
    ended: [bool; 2],
}

impl Upper for Rec {
    fn data(&mut self, dir: Dir, data: &[u8], _: &mut Cx) {
        self.data[dir.idx()].extend_from_slice(data);
    }
    fn gap(&mut self, dir: Dir, len: u32, _: &mut Cx) {
        self.gaps[dir.idx()] += u64::from(len);
    }
    fn end(&mut self, dir: Dir, _: EndCause, _: &mut Cx) {
        self.ended[dir.idx()] = true;
    }
}

/// Feeds a trace (each write cut into the given pieces) to a fresh [`Tls`].
struct Run {
    events: Vec<Event>,
    up: Rec,
    tls: Tls,
}

fn keylog(text: &[u8]) -> KeyLog {
    let mut k = KeyLog::new(100);
    k.add(text);
    k
}

fn run_with(trace: &Trace, keys: &KeyLog, limits: &Limits, cut: impl Fn(usize) -> usize) -> Run {
    let mut events = Vec::new();
    let mut up = Rec::default();
    let mut tls = Tls::new(limits);
    for (i, (dir, bytes)) in trace.iter().enumerate() {
        let mut cx = Cx {
            stamp: Stamp {
                frame: i as u64 + 1,
                ..Stamp::default()
            },
            conn: 0,
            state: crate::model::ConnState::Established,
            limits,
            keys,
            out: &mut events,
        };
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let n = cut(rest.len()).clamp(1, rest.len());
            tls.feed(*dir, &rest[..n], &mut cx, &mut up);
            rest = &rest[n..];
        }
    }
    let mut cx = Cx {
        stamp: Stamp::default(),
        conn: 0,
        state: crate::model::ConnState::Established,
        limits,
        keys,
        out: &mut events,
    };
    tls.end(Dir::C2s, EndCause::Fin, &mut cx, &mut up);
    tls.end(Dir::S2c, EndCause::Fin, &mut cx, &mut up);
    Run { events, up, tls }
}

fn run(trace: &Trace, keys: &KeyLog) -> Run {
    run_with(trace, keys, &Limits::default(), |n| n)
}

fn handshakes(events: &[Event]) -> Vec<(Dir, &'static str)> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::TlsHandshake(h) => Some((e.dir?, h.handshake_type.name().unwrap_or("?"))),
            _ => None,
        })
        .collect()
}

fn hs(events: &[Event], ty: TlsHandshakeType) -> &TlsHandshake {
    events
        .iter()
        .find_map(|e| match &e.body {
            EventBody::TlsHandshake(h) if h.handshake_type == ty => Some(&**h),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {ty:?}"))
}

fn notes(events: &[Event]) -> Vec<&'static str> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Note(n) => Some(n.note),
            _ => None,
        })
        .collect()
}

fn alerts(events: &[Event]) -> Vec<(Dir, TlsAlert)> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::TlsAlert(a) => Some((e.dir?, *a)),
            _ => None,
        })
        .collect()
}

fn offer(versions: &[&'static rustls::SupportedProtocolVersion]) -> Offer {
    Offer {
        versions: versions.to_vec(),
        alpn: vec![b"http/1.1".to_vec()],
        ..Offer::default()
    }
}

fn suite_offer(suite: rustls::SupportedCipherSuite) -> Offer {
    let v = match suite {
        rustls::SupportedCipherSuite::Tls13(_) => &rustls::version::TLS13,
        rustls::SupportedCipherSuite::Tls12(_) => &rustls::version::TLS12,
    };
    Offer {
        suites: vec![suite],
        ..offer(&[v])
    }
}

/// The session decrypts, and the layer above gets exactly what the peers sent.
fn decrypts(trace: &Trace, keys: &[u8]) -> Run {
    let r = run(trace, &keylog(keys));
    assert_eq!(r.up.data[0], REQUEST, "{:#?}", r.events);
    assert_eq!(r.up.data[1], RESPONSE);
    assert_eq!(r.up.gaps, [0, 0]);
    assert!(r.up.ended.iter().all(|e| *e));
    assert!(notes(&r.events).is_empty(), "{:?}", notes(&r.events));
    assert!(r.tls.summary().decrypted);
    r
}

#[test]
fn tls13_is_seen_and_decrypted() {
    let (trace, keys) = session(&offer(&[&rustls::version::TLS13]), &offer(&[]));
    let r = decrypts(&trace, &keys);
    let ch = hs(&r.events, TlsHandshakeType::CLIENT_HELLO);
    assert_eq!(ch.sni.as_deref(), Some("localhost"));
    assert_eq!(ch.alpn.as_deref(), Some(&["http/1.1".to_string()][..]));
    assert_eq!(ch.supported_versions, Some(vec![TlsVersion::TLS13]));
    assert!(ch.cipher_suites.as_ref().unwrap().len() >= 3);
    assert!(!ch.key_share_groups.as_ref().unwrap().is_empty());
    let sh = hs(&r.events, TlsHandshakeType::SERVER_HELLO);
    assert_eq!(sh.version, Some(TlsVersion::TLS13));
    assert_eq!(sh.cipher_suite, Some(TlsCipherSuite(0x1302)));
    let ee = hs(&r.events, TlsHandshakeType::ENCRYPTED_EXTENSIONS);
    assert_eq!(ee.alpn.as_deref(), Some(&["http/1.1".to_string()][..]));
    let cert = hs(&r.events, TlsHandshakeType::CERTIFICATE);
    assert_eq!(cert.subject.as_deref(), Some("CN=localhost"));
    assert_eq!(
        cert.san.as_deref(),
        Some(&["localhost".to_string(), "127.0.0.1".into(), "::1".into()][..])
    );
    assert_eq!(cert.certificates, Some(2));
    let seq: Vec<_> = handshakes(&r.events);
    assert_eq!(
        &seq[..7],
        &[
            (Dir::C2s, "client_hello"),
            (Dir::S2c, "server_hello"),
            (Dir::S2c, "encrypted_extensions"),
            (Dir::S2c, "certificate"),
            (Dir::S2c, "certificate_verify"),
            (Dir::S2c, "finished"),
            (Dir::C2s, "finished"),
        ]
    );
    assert!(seq.contains(&(Dir::S2c, "new_session_ticket")));
    let close: Vec<_> = alerts(&r.events)
        .iter()
        .map(|(d, a)| (*d, a.description.name()))
        .collect();
    assert_eq!(
        close,
        [
            (Dir::C2s, Some("close_notify")),
            (Dir::S2c, Some("close_notify"))
        ]
    );
    let s = r.tls.summary();
    assert_eq!(s.sni.as_deref(), Some("localhost"));
    assert_eq!(s.alpn.as_deref(), Some("http/1.1"));
}

#[test]
fn every_tls13_suite_decrypts() {
    for suite in [
        cs::TLS13_AES_128_GCM_SHA256,
        cs::TLS13_AES_256_GCM_SHA384,
        cs::TLS13_CHACHA20_POLY1305_SHA256,
    ] {
        let (trace, keys) = session(&suite_offer(suite), &offer(&[]));
        let r = decrypts(&trace, &keys);
        let sh = hs(&r.events, TlsHandshakeType::SERVER_HELLO);
        assert_eq!(
            sh.cipher_suite.map(|c| c.0),
            Some(u16::from(suite.suite())),
            "{suite:?}"
        );
    }
}

#[test]
fn every_tls12_aead_suite_decrypts() {
    // rcgen's keys are ECDSA P-256: the ECDHE_ECDSA suites.
    for suite in [
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ] {
        let (trace, keys) = session(&suite_offer(suite), &offer(&[]));
        let r = decrypts(&trace, &keys);
        let sh = hs(&r.events, TlsHandshakeType::SERVER_HELLO);
        assert_eq!(sh.version, Some(TlsVersion::TLS12));
        // TLS 1.2: the certificate, key exchange and Finished in order; the Finished messages
        // are decrypted after each side's ChangeCipherSpec.
        let seq = handshakes(&r.events);
        assert_eq!(
            seq,
            [
                (Dir::C2s, "client_hello"),
                (Dir::S2c, "server_hello"),
                (Dir::S2c, "certificate"),
                (Dir::S2c, "server_key_exchange"),
                (Dir::S2c, "server_hello_done"),
                (Dir::C2s, "client_key_exchange"),
                (Dir::C2s, "finished"),
                (Dir::S2c, "finished"),
            ],
            "{suite:?}"
        );
        let cert = hs(&r.events, TlsHandshakeType::CERTIFICATE);
        assert_eq!(cert.subject.as_deref(), Some("CN=localhost"));
        let ccs = r
            .events
            .iter()
            .filter(|e| {
                matches!(&e.body, EventBody::TlsRecord(r)
                if r.content_type == TlsContentType::CHANGE_CIPHER_SPEC)
            })
            .count();
        assert_eq!(ccs, 2);
    }
}

#[test]
fn without_keys_records_stay_visible_with_one_note() {
    let (trace, _) = session(&offer(&[&rustls::version::TLS13]), &offer(&[]));
    let r = run(&trace, &KeyLog::new(10));
    assert!(r.up.data.iter().all(Vec::is_empty));
    assert_eq!(notes(&r.events), ["tls_keys_missing"]);
    let EventBody::Note(n) = &r
        .events
        .iter()
        .find(|e| e.body.kind() == "note")
        .unwrap()
        .body
    else {
        unreachable!()
    };
    assert!(
        n.detail.contains("SERVER_HANDSHAKE_TRAFFIC_SECRET"),
        "{}",
        n.detail
    );
    assert!(n.detail.contains("no key log was given"), "{}", n.detail);
    // The hellos are still read; everything after them is encrypted records.
    assert_eq!(
        handshakes(&r.events),
        [(Dir::C2s, "client_hello"), (Dir::S2c, "server_hello")]
    );
    let encrypted = r
        .events
        .iter()
        .filter(
            |e| matches!(&e.body, EventBody::TlsRecord(r) if r.encrypted && r.inner_type.is_none()),
        )
        .count();
    assert!(encrypted >= 6, "{encrypted}");
    assert!(!r.tls.summary().decrypted);

    // The key log of another session: said so.
    let (_, other) = session(&offer(&[&rustls::version::TLS13]), &offer(&[]));
    let r = run(&trace, &keylog(&other));
    assert_eq!(notes(&r.events), ["tls_keys_missing"]);
    let EventBody::Note(n) = &r
        .events
        .iter()
        .find(|e| e.body.kind() == "note")
        .unwrap()
        .body
    else {
        unreachable!()
    };
    assert!(n.detail.contains("1 other session"), "{}", n.detail);
}

#[test]
fn a_wrong_secret_is_a_clear_note() {
    let (trace, keys) = session(&offer(&[&rustls::version::TLS13]), &offer(&[]));
    // Every secret of the session changed in its last hex digit.
    let r = run(&trace, &keylog(flip_last_digit(&keys).as_bytes()));
    assert_eq!(
        notes(&r.events),
        ["tls_decrypt_failed", "tls_decrypt_failed"]
    );
    assert!(r.up.data.iter().all(Vec::is_empty));
    // TLS 1.2: a wrong master secret.
    let (trace, keys) = session(
        &suite_offer(cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
        &offer(&[]),
    );
    let r = run(&trace, &keylog(flip_last_digit(&keys).as_bytes()));
    assert_eq!(
        notes(&r.events),
        ["tls_decrypt_failed", "tls_decrypt_failed"]
    );
    let EventBody::Note(n) = &r
        .events
        .iter()
        .find(|e| e.body.kind() == "note")
        .unwrap()
        .body
    else {
        unreachable!()
    };
    assert!(n.detail.contains("did not authenticate"), "{}", n.detail);
    assert!(n.detail.contains("CLIENT_RANDOM"), "{}", n.detail);
}

/// Every line of a key log with the last hex digit of its secret changed.
fn flip_last_digit(keys: &[u8]) -> String {
    String::from_utf8_lossy(keys)
        .lines()
        .map(|l| {
            let mut l = l.to_string();
            let last = l.pop().unwrap_or('0');
            l.push(if last == '0' { '1' } else { '0' });
            l + "\n"
        })
        .collect()
}

#[test]
fn hello_retry_request_is_told_apart() {
    let client = Offer {
        groups: vec![kx_group::X25519, kx_group::SECP384R1],
        ..offer(&[&rustls::version::TLS13])
    };
    let server = Offer {
        groups: vec![kx_group::SECP384R1],
        ..offer(&[])
    };
    let (trace, keys) = session(&client, &server);
    let r = decrypts(&trace, &keys);
    let seq = handshakes(&r.events);
    assert_eq!(
        &seq[..3],
        &[
            (Dir::C2s, "client_hello"),
            (Dir::S2c, "hello_retry_request"),
            (Dir::C2s, "client_hello"),
        ]
    );
    let hrr = hs(&r.events, TlsHandshakeType::HELLO_RETRY_REQUEST);
    assert_eq!(hrr.key_share_groups, Some(vec![TlsGroup(24)]));
    assert_eq!(hrr.version, Some(TlsVersion::TLS13));
}

#[test]
fn key_updates_are_followed() {
    let pki = Pki::new().unwrap();
    let keys = KeyCollector::new();
    let mut p = Pair::new(&pki, &offer(&[&rustls::version::TLS13]), &offer(&[]), &keys);
    p.pump();
    p.client_says(b"one");
    p.0.client.refresh_traffic_keys().unwrap();
    p.client_says(b"two");
    p.0.server.refresh_traffic_keys().unwrap();
    p.server_says(b"three");
    p.0.client.refresh_traffic_keys().unwrap();
    p.client_says(b"four");
    let r = run(&p.trace(), &keylog(&keys.take()));
    assert_eq!(r.up.data[0], b"onetwofour");
    assert_eq!(r.up.data[1], b"three");
    assert!(notes(&r.events).is_empty(), "{:?}", notes(&r.events));
    // Three asked for; rustls asks the peer to update too, and it answers with its own.
    let updates = handshakes(&r.events)
        .iter()
        .filter(|(_, t)| *t == "key_update")
        .count();
    assert!(updates >= 3, "{updates}");
}

#[test]
fn resumed_sessions_decrypt() {
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let pki = Pki::new().unwrap();
        let keys = KeyCollector::new();
        let c = pki.client(&offer(&[version]), Some(&keys)).unwrap();
        let s = pki.server(&offer(&[]), Some(&keys)).unwrap();
        let mut first = Pair::with_configs(c.clone(), s.clone());
        first.pump();
        first.client_says(REQUEST);
        let mut second = Pair::with_configs(c, s);
        second.pump();
        assert_eq!(second.client_says(REQUEST), REQUEST);
        assert_eq!(second.server_says(RESPONSE), RESPONSE);
        let r = run(&second.trace(), &keylog(&keys.take()));
        assert_eq!(r.up.data[0], REQUEST, "{version:?}");
        assert_eq!(r.up.data[1], RESPONSE);
        let sh = hs(&r.events, TlsHandshakeType::SERVER_HELLO);
        assert!(sh.resumed, "{version:?}");
        // No certificate in a resumed handshake.
        assert!(!handshakes(&r.events)
            .iter()
            .any(|(_, t)| *t == "certificate"));
    }
}

#[test]
fn large_messages_span_records_and_records_span_writes() {
    let pki = Pki::new().unwrap();
    let keys = KeyCollector::new();
    let mut p = Pair::new(&pki, &offer(&[&rustls::version::TLS13]), &offer(&[]), &keys);
    p.pump();
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(p.server_says(&big).len(), big.len());
    // Fed one byte at a time, in pieces of 7 bytes, and of 4000.
    let text = keys.take();
    for cut in [1usize, 7, 4000] {
        let r = run_with(&p.trace(), &keylog(&text), &Limits::default(), |_| cut);
        assert_eq!(r.up.data[1], big, "cut {cut}");
    }
}

/// Every prefix of one direction's bytes: the records and handshake messages reported are
/// exactly those complete in the prefix.
#[test]
fn every_prefix_gives_the_complete_records() {
    let (trace, keys) = session(&offer(&[&rustls::version::TLS12]), &offer(&[]));
    let keys = keylog(&keys);
    let server: Vec<u8> = trace
        .iter()
        .filter(|(d, _)| *d == Dir::S2c)
        .flat_map(|(_, b)| b.clone())
        .collect();
    let client: Vec<u8> = trace
        .iter()
        .filter(|(d, _)| *d == Dir::C2s)
        .flat_map(|(_, b)| b.clone())
        .collect();
    // Record boundaries of the server's stream.
    let mut ends = Vec::new();
    let mut at = 0;
    while at + HEADER <= server.len() {
        at += HEADER + record_len(&server[at..]);
        ends.push(at);
    }
    assert_eq!(at, server.len());
    let limits = Limits::default();
    for n in 0..=server.len() {
        let mut events = Vec::new();
        let mut up = Rec::default();
        let mut tls = Tls::new(&limits);
        let mut cx = Cx {
            stamp: Stamp::default(),
            conn: 0,
            state: crate::model::ConnState::Established,
            limits: &limits,
            keys: &keys,
            out: &mut events,
        };
        tls.feed(Dir::C2s, &client[..client.len().min(600)], &mut cx, &mut up);
        tls.feed(Dir::S2c, &server[..n], &mut cx, &mut up);
        let records = events
            .iter()
            .filter(|e| e.dir == Some(Dir::S2c) && e.body.kind() == "tls_record")
            .count();
        let complete = ends.iter().filter(|&&e| e <= n).count();
        assert_eq!(records, complete, "prefix {n}");
        assert!(!events
            .iter()
            .any(|e| matches!(e.body, EventBody::Violation(_))));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Cutting every write at arbitrary points gives the same events and the same plaintext.
    #[test]
    fn any_split_gives_the_same_events(seed in any::<u64>(), tls13 in any::<bool>()) {
        let (trace, keys) = SESSIONS.with(|s| s[usize::from(tls13)].clone());
        let keys = keylog(&keys);
        let whole = run(&trace, &keys);
        let state = std::cell::Cell::new(seed | 1);
        let cut = |n: usize| {
            // xorshift: a different cut each call.
            let mut x = state.get();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            state.set(x);
            1 + (x as usize) % n.max(1)
        };
        let split = run_with(&trace, &keys, &Limits::default(), cut);
        prop_assert_eq!(&split.up.data, &whole.up.data);
        let kinds = |r: &Run| r.events.iter().map(|e| format!("{:?}", e.body)).collect::<Vec<_>>();
        prop_assert_eq!(kinds(&split), kinds(&whole));
    }
}

thread_local! {
    /// One TLS 1.2 and one TLS 1.3 session, recorded once per test thread.
    static SESSIONS: [(Trace, Vec<u8>); 2] = [
        session(&offer(&[&rustls::version::TLS12]), &offer(&[])),
        session(&offer(&[&rustls::version::TLS13]), &offer(&[])),
    ];
}

#[test]
fn hostile_records_are_reported_and_decoding_goes_on() {
    let (trace, keys) = session(&offer(&[&rustls::version::TLS13]), &offer(&[]));
    let keys = keylog(&keys);
    // A record claiming more than TLS allows, then garbage, before the real session.
    let mut bad = vec![23u8, 3, 3, 0xff, 0xff];
    bad.extend_from_slice(&[0x41; 64]);
    let mut t = vec![(Dir::C2s, bad)];
    t.extend(trace.iter().cloned());
    let r = run(&t, &keys);
    let v: Vec<_> = r
        .events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Violation(v) => Some(v.rule),
            _ => None,
        })
        .collect();
    assert_eq!(v, ["tls_record_overflow"]);
    // Sync was found again at the ClientHello and the session decrypted.
    assert_eq!(r.up.data[0], REQUEST);

    // A handshake message claiming 16 MB: noted, skipped, never buffered.
    let mut huge = vec![22u8, 3, 1, 0x40, 0x00, 1, 0xff, 0xff, 0xff];
    huge.extend(std::iter::repeat_n(0u8, 0x4000 - 4));
    let mut t = vec![];
    for _ in 0..100 {
        t.push((Dir::C2s, huge.clone()));
        huge = vec![22u8, 3, 1, 0x40, 0x00];
        huge.extend(std::iter::repeat_n(7u8, 0x4000));
    }
    let r = run(&t, &keys);
    assert_eq!(notes(&r.events), ["tls_handshake_too_large"]);
    assert!(r.tls.held_bytes() <= Tls::max_held(&Limits::default()));
    assert!(r.tls.half[0].hs.capacity() < 100_000);

    // A record cut by the end of the stream.
    let r = run(&vec![(Dir::S2c, vec![23u8, 3, 3, 1, 0, 9, 9])], &keys);
    assert_eq!(notes(&r.events), ["tls_record_cut"]);

    // An alert of 3 bytes.
    let r = run(&vec![(Dir::S2c, vec![21u8, 3, 3, 0, 3, 2, 40, 0])], &keys);
    assert_eq!(alerts(&r.events).len(), 1);
    assert!(r
        .events
        .iter()
        .any(|e| matches!(&e.body, EventBody::Violation(v) if v.rule == "tls_bad_alert")));
}

#[test]
fn a_gap_inside_a_record_keeps_sync_and_decryption() {
    let pki = Pki::new().unwrap();
    let keys = KeyCollector::new();
    let mut p = Pair::new(&pki, &offer(&[&rustls::version::TLS13]), &offer(&[]), &keys);
    p.pump();
    p.server_says(b"first");
    let lost_at = p.0.trace.len();
    p.server_says(&[b'x'; 300]);
    p.server_says(b"third");
    let keys = keylog(&keys.take());
    let limits = Limits::default();
    let mut events = Vec::new();
    let mut up = Rec::default();
    let mut tls = Tls::new(&limits);
    for (i, (dir, bytes)) in p.trace().iter().enumerate() {
        let mut cx = Cx {
            stamp: Stamp::default(),
            conn: 0,
            state: crate::model::ConnState::Established,
            limits: &limits,
            keys: &keys,
            out: &mut events,
        };
        if i == lost_at {
            // The record's header arrives, 100 of its bytes are lost, then the rest.
            tls.feed(*dir, &bytes[..50], &mut cx, &mut up);
            tls.gap(*dir, 100, &mut cx, &mut up);
            tls.feed(*dir, &bytes[150..], &mut cx, &mut up);
        } else {
            tls.feed(*dir, bytes, &mut cx, &mut up);
        }
    }
    assert_eq!(up.data[1], b"firstthird");
    assert!(up.gaps[1] > 300);
    assert!(notes(&events).is_empty(), "{:?}", notes(&events));
}

#[test]
fn a_growing_key_log_is_waited_for() {
    let (trace, keys) = session(&offer(&[&rustls::version::TLS13]), &offer(&[]));
    let limits = Limits::default();
    let mut log = KeyLog::new(10);
    log.set_growing(true);
    let mut events = Vec::new();
    let mut up = Rec::default();
    let mut tls = Tls::new(&limits);
    for (dir, bytes) in &trace {
        let mut cx = Cx {
            stamp: Stamp::default(),
            conn: 0,
            state: crate::model::ConnState::Established,
            limits: &limits,
            keys: &log,
            out: &mut events,
        };
        tls.feed(*dir, bytes, &mut cx, &mut up);
    }
    // Held: nothing encrypted shown yet, no note.
    assert!(notes(&events).is_empty());
    assert!(up.data[0].is_empty());
    assert_eq!(handshakes(&events).len(), 2);
    log.add(&keys);
    let mut cx = Cx {
        stamp: Stamp::default(),
        conn: 0,
        state: crate::model::ConnState::Established,
        limits: &limits,
        keys: &log,
        out: &mut events,
    };
    tls.keys_changed(&mut cx, &mut up);
    assert_eq!(up.data[0], REQUEST);
    assert_eq!(up.data[1], RESPONSE);
    assert!(notes(&events).is_empty());

    // Secrets that never come: the records are shown at the end, with the note.
    let mut log = KeyLog::new(10);
    log.set_growing(true);
    let r = run(&trace, &log);
    assert_eq!(notes(&r.events), ["tls_keys_missing"]);
    assert!(
        r.events
            .iter()
            .filter(|e| e.body.kind() == "tls_record")
            .count()
            > 8
    );
}

#[test]
fn looks_like_tls_by_its_bytes() {
    assert!(looks_like_tls(&[22, 3, 1, 2, 0]));
    assert!(looks_like_tls(&[22]));
    assert!(looks_like_tls(&[23, 3, 3]));
    assert!(!looks_like_tls(b"GET / HTTP/1.1"));
    assert!(!looks_like_tls(&[22, 4]));
    assert!(!looks_like_tls(&[22, 3, 9]));
    assert!(!looks_like_tls(&[]));
}
