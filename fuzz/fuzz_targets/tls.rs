//! TLS under the whole plaintext stack: a `proto::Session` (TLS, then HTTP, WebSocket and the
//! subprotocols) fed a real TLS session made by rustls (a certificate made once per process
//! with rcgen, `synscope::demo::tls`) and the fuzzer's bytes, with and without the session's
//! key log.
//!
//! Byte 0 picks:
//! - bit 0: small limits or the defaults (`common::limits`);
//! - bits 1-2, the mode:
//!   - 0 *raw, no keys*: the first `byte 1` writes of a session recorded once (handshake,
//!     `GET /ws` upgraded, WebSocket frames, close_notify), then the rest as pieces and gaps
//!     (`common::ops`): records, handshake messages and alerts in the clear, arbitrary records
//!     after a real handshake;
//!   - 1 *raw, with keys*: the same with that session's key log, so the fuzzer's records after
//!     the handshake meet real keys (authentication failures, sequence numbers, KeyUpdate...);
//!   - 2 *sealed*: a fresh rustls pair per input, the handshake, then every data piece of the
//!     rest written as application data by the client (c2s) or the server (s2c), so the bytes
//!     the stack above TLS gets after decryption are the fuzzer's (gaps are real capture gaps
//!     between TLS writes); keys given at the start;
//!   - 3 *key log*: a u16 length, that many bytes as the key log's text (fed in two halves,
//!     the second after the handshake, as `live` does while the key log grows), then the
//!     recorded session and the rest as in mode 0;
//! - bit 3: TLS 1.2 instead of 1.3;
//! - bit 4 (modes 1 and 2): the key log is still growing: the secrets arrive only after the
//!   handshake's records (connections wait for them, then `keys_changed`).
//!
//! Checked besides "no panic": every event within its limits (`common::check_event`), the
//! session's held bytes within `Session::max_held` and TLS's within `Tls::max_held` after every
//! call, and, in mode 2 with the keys from the start, default limits and no gap, that every
//! record decrypted (no `tls_decrypt_failed`, no `tls_keys_missing` note).
#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::OnceLock;

use common::{check_event, ops, Op};
use libfuzzer_sys::fuzz_target;
use synscope::demo::tls::{InMemory, KeyCollector, Offer, Pki};
use synscope::flow::{Cx, EndCause, StreamSink};
use synscope::keylog::KeyLog;
use synscope::model::{Dir, Event, EventBody, Limits, Stamp};
use synscope::proto::tls::Tls;
use synscope::proto::Session;

const UPGRADE: &[u8] = b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";
const SWITCH: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

/// `(from the client, bytes)` of each write, and the key log.
type Recorded = (Vec<(bool, Vec<u8>)>, Vec<u8>);

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| Pki::new().expect("rcgen"))
}

fn offer(tls12: bool) -> Offer {
    Offer {
        versions: if tls12 {
            vec![&rustls::version::TLS12]
        } else {
            vec![&rustls::version::TLS13]
        },
        alpn: vec![b"http/1.1".to_vec()],
        ..Offer::default()
    }
}

/// A rustls pair after its handshake, and the key log it wrote.
fn pair(tls12: bool) -> (InMemory, KeyCollector) {
    let keys = KeyCollector::new();
    let o = offer(tls12);
    let mut p = InMemory::new(
        pki().client(&o, Some(&keys)).expect("client"),
        pki().server(&o, Some(&keys)).expect("server"),
    )
    .expect("pair");
    p.pump().expect("handshake");
    (p, keys)
}

/// One session per version, recorded once: handshake, upgrade, frames, close_notify.
fn recorded(tls12: bool) -> &'static Recorded {
    static R: [OnceLock<Recorded>; 2] = [OnceLock::new(), OnceLock::new()];
    R[usize::from(tls12)].get_or_init(|| {
        let (mut p, keys) = pair(tls12);
        p.say(true, UPGRADE).expect("say");
        p.say(false, SWITCH).expect("say");
        p.say(
            true,
            &[
                0x81,
                0x85,
                1,
                2,
                3,
                4,
                b'h' ^ 1,
                b'e' ^ 2,
                b'l' ^ 3,
                b'l' ^ 4,
                b'o' ^ 1,
            ],
        )
        .expect("say");
        p.say(false, &[0x81, 0x02, b'o', b'k']).expect("say");
        p.client.send_close_notify();
        p.server.send_close_notify();
        p.pump().expect("close");
        (p.trace, keys.take())
    })
}

fn dir(from_client: bool) -> Dir {
    if from_client {
        Dir::C2s
    } else {
        Dir::S2c
    }
}

/// Feeds a session and checks its bounds after every call.
struct Run<'l> {
    s: Session,
    keys: KeyLog,
    limits: &'l Limits,
    out: Vec<Event>,
    frame: u64,
}

impl<'l> Run<'l> {
    fn new(limits: &'l Limits) -> Self {
        Run {
            s: Session::new(limits),
            keys: KeyLog::new(limits.max_keylog_sessions),
            limits,
            out: Vec::new(),
            frame: 0,
        }
    }

    fn with<F: FnOnce(&mut Session, &mut Cx)>(&mut self, f: F) {
        self.frame += 1;
        let mut cx = Cx {
            stamp: Stamp {
                frame: self.frame,
                ..Stamp::default()
            },
            conn: 0,
            state: synscope::model::ConnState::Established,
            limits: self.limits,
            keys: &self.keys,
            out: &mut self.out,
        };
        f(&mut self.s, &mut cx);
        let held = self.s.held_bytes();
        let max = Session::max_held(self.limits);
        assert!(held <= max, "session held {held} > {max}");
        let tls = self.s.held_by_layer()[3];
        let max_tls = Tls::max_held(self.limits);
        assert!(tls <= max_tls, "tls held {tls} > {max_tls}");
        assert!(self.keys.held_bytes() <= KeyLog::max_held(self.limits.max_keylog_sessions));
    }

    fn data(&mut self, d: Dir, b: &[u8]) {
        self.with(|s, cx| s.on_data(d, b, cx));
    }

    fn op(&mut self, op: Op) {
        match op {
            Op::Data(d, b) => self.data(d, b),
            Op::Gap(d, n) => self.with(|s, cx| s.on_gap(d, n, cx)),
        }
    }

    fn add_keys(&mut self, text: &[u8], end: bool) {
        self.keys.add(text);
        if end {
            self.keys.finish();
        }
        self.with(|s, cx| s.on_keys(cx));
    }

    fn end(mut self) -> Vec<Event> {
        self.keys.set_growing(false);
        self.with(|s, cx| s.on_keys(cx));
        self.with(|s, cx| {
            s.on_end(Dir::C2s, EndCause::Fin, cx);
            s.on_end(Dir::S2c, EndCause::Fin, cx);
        });
        self.out
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let limits = common::limits(pick);
    let mode = (pick >> 1) & 3;
    let tls12 = pick & 8 != 0;
    let growing = pick & 16 != 0;
    let mut run = Run::new(&limits);
    let mut check_plain: Option<[Vec<u8>; 2]> = None;
    match mode {
        0 | 1 => {
            let Some((&k, rest)) = rest.split_first() else {
                return;
            };
            let (trace, keys) = recorded(tls12);
            if mode == 1 {
                run.keys.set_growing(growing);
                if !growing {
                    run.add_keys(keys, true);
                }
            }
            for (c, b) in trace.iter().take(usize::from(k)) {
                run.data(dir(*c), b);
            }
            if mode == 1 && growing {
                run.add_keys(keys, true);
            }
            for op in ops(rest) {
                run.op(op);
            }
        }
        2 => {
            let (mut p, keys) = pair(tls12);
            let handshake = p.trace.len();
            run.keys.set_growing(growing);
            if !growing {
                run.add_keys(&keys.take(), true);
            }
            let mut wrote = [Vec::new(), Vec::new()];
            let mut fed = 0;
            let mut gapped = false;
            for op in ops(rest) {
                match op {
                    Op::Data(d, b) => {
                        let c = d == Dir::C2s;
                        if p.say(c, b).is_err() {
                            return;
                        }
                        wrote[d.idx()].extend_from_slice(b);
                    }
                    Op::Gap(d, n) => {
                        // A gap in the capture: what TLS wrote so far goes in, then the gap
                        // (what the peers read is no longer what TLS hands up).
                        for (c, b) in &p.trace[fed..] {
                            run.data(dir(*c), b);
                        }
                        fed = p.trace.len();
                        run.with(|s, cx| s.on_gap(d, n, cx));
                        wrote = [Vec::new(), Vec::new()];
                        gapped = true;
                        continue;
                    }
                }
                check_plain = Some(wrote.clone());
            }
            let trace = std::mem::take(&mut p.trace);
            for (i, (c, b)) in trace.iter().enumerate().skip(fed) {
                run.data(dir(*c), b);
                if growing && i + 1 == handshake {
                    run.add_keys(&keys.take(), true);
                }
            }
            if growing {
                run.add_keys(&keys.take(), true);
                check_plain = None;
            }
            // Gaps lose records (the rest cannot be decrypted: said by a note); small limits
            // can cut what is held.
            if pick & 1 == 0 || gapped {
                check_plain = None;
            }
        }
        _ => {
            let Some((len, rest)) = rest.split_first_chunk::<2>() else {
                return;
            };
            let n = usize::from(u16::from_le_bytes(*len)).min(rest.len());
            let (text, rest) = rest.split_at(n);
            let (a, b) = text.split_at(text.len() / 2);
            let (trace, _) = recorded(tls12);
            run.keys.set_growing(true);
            run.add_keys(a, false);
            let half = trace.len() / 2;
            for (c, bytes) in &trace[..half] {
                run.data(dir(*c), bytes);
            }
            run.add_keys(b, true);
            for (c, bytes) in &trace[half..] {
                run.data(dir(*c), bytes);
            }
            for op in ops(rest) {
                run.op(op);
            }
        }
    }
    let events = run.end();
    for e in &events {
        check_event(e, &limits);
    }
    if let Some(wrote) = check_plain {
        // Every record decrypted: the notes that would say otherwise are absent.
        for e in &events {
            if let EventBody::Note(n) = &e.body {
                assert!(
                    n.note != "tls_decrypt_failed" && n.note != "tls_keys_missing",
                    "{n:?} (wrote {} + {} bytes)",
                    wrote[0].len(),
                    wrote[1].len()
                );
            }
        }
    }
});
