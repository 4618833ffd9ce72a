//! TLS (RFC 8446, RFC 5246) between TCP and HTTP: records, handshake messages and alerts as
//! they cross the wire, and, with the session's secrets from an NSS key log
//! ([`crate::keylog`]), the application data decrypted and handed to the layer above
//! ([`Upper`]: HTTP, then WebSocket and the subprotocols) as if it had been sent in the clear.
//!
//! A connection is TLS when its first bytes are a record header ([`looks_like_tls`]), whatever
//! the port. Per direction:
//! - **Records** are reassembled across segments (several per segment, one across many); each
//!   is a `tls_record` event. A header with an unknown content type or version, or a length
//!   above [`MAX_RECORD`] (2^14 + 2048, RFC 5246 §6.2.3), is a `violation` and the direction
//!   looks for the next plausible header. A record cut by a capture gap is skipped with its
//!   sequence number counted, so decryption keeps in step.
//! - **Handshake messages** are reassembled across records (plaintext or decrypted) up to
//!   `Limits::max_tls_handshake`; a longer one is noted and skipped, never buffered. Each is a
//!   `tls_handshake` event: ClientHello (SNI, ALPN, supported versions, suites, key share
//!   groups), ServerHello (version, suite, ALPN, resumption) told apart from a
//!   HelloRetryRequest, Certificate (subject, SAN), EncryptedExtensions (ALPN), KeyUpdate...
//!   The messages are parsed by rusticata's `tls-parser`, certificates by `x509-parser`.
//! - **Decryption** (`crypto`): TLS 1.3 from the handshake and traffic secrets (switching at
//!   each Finished and KeyUpdate), TLS 1.2 from the master secret (switching at each
//!   ChangeCipherSpec). A secret the key log lacks gives one `tls_keys_missing` note per
//!   connection, and the records stay visible as encrypted; a record that does not
//!   authenticate gives one `tls_decrypt_failed` note per direction, which then stays
//!   encrypted. While the key log is still growing (`live`, `demo`: the peers write their
//!   secrets while the capture runs) a connection waits for missing secrets, holding its
//!   records (up to `Limits::max_tls_key_wait` bytes, [`MAX_KEY_WAIT`] of capture time).
//!
//! Memory ([`Tls::max_held`]): a partial record and a partial handshake message per
//! direction, one record of decryption scratch, and the records held while waiting for keys.

pub mod crypto;

use std::mem;

use tls_parser::TlsExtension;

use crate::flow::{Cx, EndCause};
use crate::keylog::{short_random, KeyLog, Label, Secret};
use crate::model::{
    Dir, EventBody, Layer, Limits, Note, Timestamp, TlsAlert, TlsAlertDescription, TlsAlertLevel,
    TlsCipherSuite, TlsContentType, TlsGroup, TlsHandshake, TlsHandshakeType, TlsRecord,
    TlsSummary, TlsVersion, Violation,
};
use crypto::{OpenError, Protection};

/// Record header length: type (1), version (2), length (2).
pub const HEADER: usize = 5;
/// Largest record body any TLS version allows: TLSCiphertext.length ≤ 2^14 + 2048 (RFC 5246
/// §6.2.3; TLS 1.3 allows 2^14 + 256, RFC 8446 §5.2).
pub const MAX_RECORD: usize = (1 << 14) + 2048;
/// Handshake message header: type (1), length (3).
const HS_HEADER: usize = 4;
/// Longest capture time a connection waits for secrets from a growing key log.
pub const MAX_KEY_WAIT: u64 = 2_000_000_000;
/// Most entries kept of a ClientHello's lists (suites, versions, groups, ALPN) in an event.
const MAX_LIST: usize = 128;
/// Longest name kept (SNI, ALPN protocol, certificate subject and SAN entries), in bytes.
const MAX_NAME: usize = 256;
/// RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest
/// (SHA-256 of "HelloRetryRequest").
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Whether a connection's first bytes start a TLS record: a content type of 20 to 24, then
/// version 3.0 to 3.4 (as far as the bytes go). No HTTP message starts with a control
/// character, so one byte is already telling.
pub fn looks_like_tls(first: &[u8]) -> bool {
    match first {
        [t, rest @ ..] if (20..=24).contains(t) => match rest {
            [] => true,
            [3] => true,
            [3, minor, ..] => *minor <= 4,
            _ => false,
        },
        _ => false,
    }
}

/// The layer above TLS: the decrypted application data of each direction, in order.
pub trait Upper {
    fn data(&mut self, dir: Dir, data: &[u8], cx: &mut Cx);
    /// `len` bytes of `dir`'s application data are lost (a gap, a record that did not open).
    fn gap(&mut self, dir: Dir, len: u32, cx: &mut Cx);
    fn end(&mut self, dir: Dir, cause: EndCause, cx: &mut Cx);
}

/// TLS 1.3 key stage of a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Stage {
    /// Before the ServerHello, or TLS 1.2.
    #[default]
    Clear,
    /// Handshake traffic keys (after the ServerHello, until this side's Finished).
    Handshake,
    /// Application traffic keys (after this side's Finished; KeyUpdates renew them).
    Application,
}

/// One direction's state.
#[derive(Default)]
struct Half {
    /// The record being reassembled (header included), at most `HEADER + MAX_RECORD` bytes.
    rec: Vec<u8>,
    /// Bytes of the current record lost to a capture gap: it is skipped when complete.
    rec_missing: usize,
    /// Sync is lost (a gap that ran past a record's end, or a bad header): looking for the
    /// next plausible record header.
    lost: bool,
    /// Handshake bytes that do not yet form a whole message.
    hs: Vec<u8>,
    /// Bytes still to skip of a handshake message too large to keep.
    hs_skip: u64,
    /// Records are protected from here on (TLS 1.2: after ChangeCipherSpec; TLS 1.3: after
    /// the ServerHello).
    encrypted: bool,
    /// The keys in force, when the key log had them.
    prot: Option<Box<Protection>>,
    /// TLS 1.3: the application traffic keys, tried when a handshake-stage record does not
    /// open (the Finished that switches to them was not seen, or the handshake secret is
    /// missing).
    next: Option<Box<Protection>>,
    /// TLS 1.3: the secret of the keys in force (KeyUpdate derives the next one from it).
    secret: Option<Secret>,
    /// TLS 1.3: the application traffic secret behind `next`.
    next_secret: Option<Secret>,
    stage: Stage,
    /// Sequence number of the next protected record.
    seq: u64,
    /// Decryption gave up on this direction (noted once).
    failed: bool,
    /// Plaintext was handed up: later losses are gaps for the layer above.
    delivered: bool,
}

/// What the hellos said.
#[derive(Default)]
struct Hello {
    client_random: Option<[u8; 32]>,
    server_random: Option<[u8; 32]>,
    session_id: Option<Vec<u8>>,
    version: Option<TlsVersion>,
    suite: Option<TlsCipherSuite>,
    /// Both sides agreed to encrypt-then-MAC (RFC 7366).
    etm: bool,
    client_etm: bool,
    /// The ClientHello offered 0-RTT early data.
    early_offered: bool,
    sni: Option<String>,
    alpn: Option<String>,
}

/// One connection's TLS.
pub struct Tls {
    half: [Half; 2],
    hello: Hello,
    /// Decryption room for one record, reused.
    scratch: Vec<u8>,
    /// Records (`dir` byte, then the record) held while waiting for secrets.
    held: Vec<u8>,
    /// Capture time the wait began.
    wait_since: Option<Timestamp>,
    /// The wait ended without the secrets: from now on missing secrets are reported at once.
    gave_up: bool,
    /// Key log generation last looked at.
    generation: u64,
    noted_missing: bool,
    noted_early: bool,
    decrypted: bool,
    max_handshake: usize,
    max_wait: usize,
}

impl Tls {
    pub fn new(limits: &Limits) -> Tls {
        Tls {
            half: Default::default(),
            hello: Hello::default(),
            scratch: Vec::new(),
            held: Vec::new(),
            wait_since: None,
            gave_up: false,
            generation: 0,
            noted_missing: false,
            noted_early: false,
            decrypted: false,
            max_handshake: limits.max_tls_handshake,
            max_wait: limits.max_tls_key_wait,
        }
    }

    /// Bytes held now.
    pub fn held_bytes(&self) -> usize {
        self.half
            .iter()
            .map(|h| h.rec.capacity() + h.hs.capacity())
            .sum::<usize>()
            + self.scratch.capacity()
            + self.held.capacity()
    }

    /// The most [`Tls::held_bytes`] can be under `limits` (a buffer may have grown to twice
    /// what it holds).
    pub fn max_held(limits: &Limits) -> usize {
        let record = 2 * (HEADER + MAX_RECORD);
        let hs = 2 * (limits.max_tls_handshake + MAX_RECORD);
        let wait = 2 * (limits.max_tls_key_wait + HEADER + MAX_RECORD + 1);
        2 * (record + hs) + record + wait
    }

    /// What the connection's TLS negotiated, for `connection_end`.
    pub fn summary(&self) -> TlsSummary {
        TlsSummary {
            version: self.hello.version,
            cipher_suite: self.hello.suite,
            sni: self.hello.sni.clone(),
            alpn: self.hello.alpn.clone(),
            decrypted: self.decrypted,
        }
    }

    /// The next in-order bytes of `dir`.
    pub fn feed(&mut self, dir: Dir, data: &[u8], cx: &mut Cx, up: &mut dyn Upper) {
        self.check_keys(cx, up);
        self.records(dir, data, cx, up);
    }

    /// `len` bytes of `dir` are missing from the capture.
    pub fn gap(&mut self, dir: Dir, len: u32, cx: &mut Cx, up: &mut dyn Upper) {
        self.check_keys(cx, up);
        let len = len as usize;
        let h = &mut self.half[dir.idx()];
        if h.lost {
            return;
        }
        if h.rec.len() >= HEADER {
            let need = HEADER + record_len(&h.rec) - h.rec.len() - h.rec_missing;
            if len <= need {
                // Inside the current record: it is skipped when complete; sync is kept.
                h.rec_missing += len;
                if len == need {
                    self.finish_broken(dir, cx, up);
                }
                return;
            }
        }
        // The gap runs past a record boundary: where the next record starts is unknown.
        let h = &mut self.half[dir.idx()];
        let lost_app = h.delivered;
        h.rec.clear();
        h.rec_missing = 0;
        h.lost = true;
        h.hs.clear();
        h.hs_skip = 0;
        if h.encrypted && h.prot.is_some() && !h.failed {
            // The sequence number is lost with the records: decryption ends here.
            h.failed = true;
            h.prot = None;
            h.next = None;
            note(
                cx,
                dir,
                "tls_decrypt_failed",
                format!(
                    "{len} bytes of this direction are missing from the capture: the records \
                     they held cannot be counted, so the ones after them cannot be decrypted"
                ),
                Some(len as u64),
            );
        }
        if lost_app {
            up.gap(dir, u32::try_from(len).unwrap_or(u32::MAX), cx);
        }
    }

    /// `dir` carries no more bytes (`cause` says why; it is passed on to the layer above).
    pub fn end(&mut self, dir: Dir, cause: EndCause, cx: &mut Cx, up: &mut dyn Upper) {
        // Records held for secrets that did not come are shown as they are.
        if self.wait_since.is_some() {
            self.give_up(cx, up);
        }
        let h = &mut self.half[dir.idx()];
        if !h.rec.is_empty() && !h.lost {
            let have = h.rec.len();
            let want = if have >= HEADER {
                Some(HEADER + record_len(&h.rec))
            } else {
                None
            };
            h.rec.clear();
            let detail = match want {
                Some(w) => format!(
                    "the stream ended {have} bytes into a record of {w} bytes: its rest was \
                     not captured"
                ),
                None => format!("the stream ended inside a record header ({have} of 5 bytes)"),
            };
            note(cx, dir, "tls_record_cut", detail, Some(have as u64));
        }
        up.end(dir, cause, cx);
    }

    /// The key log may have gained secrets: a connection waiting for them goes on.
    pub fn keys_changed(&mut self, cx: &mut Cx, up: &mut dyn Upper) {
        self.check_keys(cx, up);
    }

    fn check_keys(&mut self, cx: &mut Cx, up: &mut dyn Upper) {
        if cx.keys.generation() == self.generation {
            if let Some(since) = self.wait_since {
                if cx.stamp.ts.since(since) > MAX_KEY_WAIT {
                    self.give_up(cx, up);
                }
            }
            return;
        }
        self.generation = cx.keys.generation();
        self.arm(cx.keys);
        if self.wait_since.is_some() && !self.missing_for_held() {
            self.release(cx, up);
        }
    }

    /// Whether a record held now would still lack its keys.
    fn missing_for_held(&self) -> bool {
        self.half
            .iter()
            .any(|h| h.encrypted && h.prot.is_none() && h.next.is_none() && !h.failed)
    }

    /// Installs every key the key log now has and the connection lacks.
    fn arm(&mut self, keys: &KeyLog) {
        let (Some(cr), Some(version), Some(suite_id)) = (
            self.hello.client_random,
            self.hello.version,
            self.hello.suite,
        ) else {
            return;
        };
        let Ok(suite) = crypto::suite(suite_id.0, version) else {
            return;
        };
        let Some(secrets) = keys.get(&cr) else { return };
        if version == TlsVersion::TLS13 {
            for dir in [Dir::C2s, Dir::S2c] {
                let (hs_label, app_label) = labels13(dir);
                let h = &mut self.half[dir.idx()];
                if h.failed {
                    continue;
                }
                if h.stage == Stage::Handshake && h.prot.is_none() {
                    if let Some(s) = secrets.get(hs_label) {
                        h.prot = Protection::tls13(suite, s.as_bytes()).map(Box::new);
                        h.secret = Some(*s);
                    }
                }
                if h.stage == Stage::Handshake && h.next.is_none() {
                    if let Some(s) = secrets.get(app_label) {
                        h.next = Protection::tls13(suite, s.as_bytes()).map(Box::new);
                        h.next_secret = Some(*s);
                    }
                }
                if h.stage == Stage::Application && h.prot.is_none() && h.seq == 0 {
                    if let Some(s) = secrets.get(app_label) {
                        h.prot = Protection::tls13(suite, s.as_bytes()).map(Box::new);
                        h.secret = Some(*s);
                    }
                }
            }
        } else if let (Some(sr), Some(master)) =
            (self.hello.server_random, secrets.get(Label::ClientRandom))
        {
            let Some([c, s]) =
                Protection::tls12(suite, master.as_bytes(), &cr, &sr, self.hello.etm)
            else {
                return;
            };
            for (dir, p) in [(Dir::C2s, c), (Dir::S2c, s)] {
                let h = &mut self.half[dir.idx()];
                // Keys take effect at this side's ChangeCipherSpec; before it they wait in
                // `next`.
                if h.failed {
                    continue;
                }
                // The sequence number is counted whether or not records were decrypted.
                if h.encrypted && h.prot.is_none() {
                    h.prot = Some(Box::new(p));
                } else if !h.encrypted {
                    h.next = Some(Box::new(p));
                }
            }
        }
    }

    /// Splits `data` into records and handles each.
    fn records(&mut self, dir: Dir, mut data: &[u8], cx: &mut Cx, up: &mut dyn Upper) {
        let d = dir.idx();
        while !data.is_empty() {
            if self.half[d].lost {
                match find_header(data) {
                    Some(at) => {
                        data = data.get(at..).unwrap_or(&[]);
                        self.half[d].lost = false;
                    }
                    None => return,
                }
            }
            if self.half[d].rec.is_empty() {
                // Whole records straight from the input; only a tail is buffered.
                let Some(hdr) = data.first_chunk::<HEADER>().copied() else {
                    self.half[d].rec.extend_from_slice(data);
                    return;
                };
                if !self.header_ok(dir, &hdr, cx) {
                    data = data.get(1..).unwrap_or(&[]);
                    continue;
                }
                let len = record_len(&hdr);
                match data.get(HEADER..HEADER + len) {
                    Some(body) => {
                        self.record(dir, hdr, body, cx, up);
                        data = data.get(HEADER + len..).unwrap_or(&[]);
                    }
                    None => {
                        let h = &mut self.half[d];
                        h.rec.reserve_exact(HEADER + len);
                        h.rec.extend_from_slice(data);
                        return;
                    }
                }
                continue;
            }
            let h = &mut self.half[d];
            // Complete the buffered record.
            if h.rec.len() < HEADER {
                let n = (HEADER - h.rec.len()).min(data.len());
                h.rec.extend_from_slice(data.get(..n).unwrap_or(&[]));
                data = data.get(n..).unwrap_or(&[]);
                if h.rec.len() < HEADER {
                    return;
                }
                let Some(hdr) = h.rec.first_chunk::<HEADER>().copied() else {
                    return;
                };
                if !self.header_ok(dir, &hdr, cx) {
                    // Look for a header from the byte after this one's first.
                    let h = &mut self.half[d];
                    let rest = h.rec.get(1..).unwrap_or(&[]).to_vec();
                    h.rec.clear();
                    self.records(dir, &rest, cx, up);
                    continue;
                }
            }
            let h = &mut self.half[d];
            let want = HEADER + record_len(&h.rec);
            let need = want - h.rec.len() - h.rec_missing;
            let n = need.min(data.len());
            if h.rec_missing == 0 {
                h.rec.extend_from_slice(data.get(..n).unwrap_or(&[]));
            }
            data = data.get(n..).unwrap_or(&[]);
            if n < need {
                if h.rec_missing > 0 {
                    // A record with a hole: count what arrives, keep nothing.
                    h.rec_missing += n;
                }
                return;
            }
            if h.rec_missing > 0 {
                h.rec_missing += n;
                self.finish_broken(dir, cx, up);
                continue;
            }
            let rec = mem::take(&mut h.rec);
            if let (Some(hdr), Some(body)) = (rec.first_chunk::<HEADER>(), rec.get(HEADER..)) {
                self.record(dir, *hdr, body, cx, up);
            }
            // Give the buffer back for the next partial record, unless it grew large.
            let mut rec = rec;
            rec.clear();
            if rec.capacity() <= 4096 {
                self.half[d].rec = rec;
            }
        }
    }

    /// A record whose bytes were partly lost: shown, skipped, its sequence number counted.
    fn finish_broken(&mut self, dir: Dir, cx: &mut Cx, up: &mut dyn Upper) {
        let h = &mut self.half[dir.idx()];
        let Some(hdr) = h.rec.first_chunk::<HEADER>().copied() else {
            h.rec.clear();
            h.rec_missing = 0;
            return;
        };
        h.rec.clear();
        h.rec_missing = 0;
        let encrypted = h.encrypted && self.is_protected(dir, hdr[0]);
        let h = &mut self.half[dir.idx()];
        if encrypted {
            h.seq = h.seq.wrapping_add(1);
        }
        let lost_app = h.delivered;
        cx.emit(
            Some(dir),
            EventBody::TlsRecord(TlsRecord {
                content_type: TlsContentType(hdr[0]),
                version: TlsVersion(u16::from_be_bytes([hdr[1], hdr[2]])),
                length: record_len(&hdr) as u16,
                encrypted,
                inner_type: None,
                plaintext_len: None,
            }),
        );
        if lost_app && (encrypted || hdr[0] == TlsContentType::APPLICATION_DATA.0) {
            up.gap(dir, record_len(&hdr) as u32, cx);
        }
    }

    /// Checks a record header; a bad one is reported (once per run of bad bytes) and the
    /// direction looks for the next plausible header.
    fn header_ok(&mut self, dir: Dir, hdr: &[u8; HEADER], cx: &mut Cx) -> bool {
        let len = record_len(hdr);
        let problem = if !(20..=24).contains(&hdr[0]) || hdr[1] != 3 || hdr[2] > 4 {
            Some(format!(
                "bytes {:02x} {:02x} {:02x} are not a TLS record header (content type 20-24, \
                 version 3.x)",
                hdr[0], hdr[1], hdr[2]
            ))
        } else if len > MAX_RECORD {
            Some(format!(
                "a record claims {len} bytes, more than TLS allows ({MAX_RECORD}, RFC 5246 \
                 §6.2.3)"
            ))
        } else {
            None
        };
        let Some(detail) = problem else {
            return true;
        };
        let h = &mut self.half[dir.idx()];
        h.lost = true;
        h.rec.clear();
        h.rec_missing = 0;
        cx.emit(
            Some(dir),
            EventBody::Violation(Violation {
                layer: Layer::Tls,
                rule: if len > MAX_RECORD && (20..=24).contains(&hdr[0]) {
                    "tls_record_overflow"
                } else {
                    "tls_bad_record_header"
                },
                detail: format!("{detail}; looking for the next record"),
            }),
        );
        false
    }

    /// Whether a record of outer type `ty` on `dir` is protected, once the direction is
    /// encrypted: every record in TLS 1.2; in TLS 1.3 only application_data ones (a
    /// ChangeCipherSpec is sent in the clear for middleboxes, RFC 8446 §D.4).
    fn is_protected(&self, dir: Dir, ty: u8) -> bool {
        let h = &self.half[dir.idx()];
        h.encrypted
            && (self.hello.version != Some(TlsVersion::TLS13)
                || ty == TlsContentType::APPLICATION_DATA.0)
    }

    /// One whole record.
    fn record(
        &mut self,
        dir: Dir,
        hdr: [u8; HEADER],
        body: &[u8],
        cx: &mut Cx,
        up: &mut dyn Upper,
    ) {
        if self.wait_since.is_some() {
            self.hold(dir, &hdr, body, cx, up);
            return;
        }
        let content_type = TlsContentType(hdr[0]);
        let mut rec = TlsRecord {
            content_type,
            version: TlsVersion(u16::from_be_bytes([hdr[1], hdr[2]])),
            length: body.len() as u16,
            encrypted: false,
            inner_type: None,
            plaintext_len: None,
        };
        if !self.is_protected(dir, hdr[0]) {
            if content_type == TlsContentType::APPLICATION_DATA {
                // Application data is never in the clear: this is 0-RTT early data sent
                // before the ServerHello, or the capture joined after the handshake.
                rec.encrypted = true;
                cx.emit(Some(dir), EventBody::TlsRecord(rec));
                if self.hello.early_offered && self.hello.version.is_none() {
                    self.note_early(dir, cx);
                } else {
                    self.note_missing(dir, cx);
                }
                return;
            }
            cx.emit(Some(dir), EventBody::TlsRecord(rec));
            self.content(dir, content_type, body, cx, up);
            return;
        }
        rec.encrypted = true;
        let d = dir.idx();
        if self.half[d].prot.is_none() && self.half[d].next.is_none() && !self.half[d].failed {
            // Secrets may still come: wait for them, if allowed.
            if cx.keys.is_growing() && !self.gave_up && self.hello.client_random.is_some() {
                self.wait_since = Some(cx.stamp.ts);
                self.hold(dir, &hdr, body, cx, up);
                return;
            }
        }
        let mut scratch = mem::take(&mut self.scratch);
        match self.open(dir, &hdr, body, &mut scratch) {
            Ok(o) => {
                let plain = scratch.get(o.range.clone()).unwrap_or(&[]);
                rec.inner_type = Some(TlsContentType(o.content_type));
                rec.plaintext_len = Some(plain.len() as u16);
                cx.emit(Some(dir), EventBody::TlsRecord(rec));
                self.decrypted = true;
                self.content(dir, TlsContentType(o.content_type), plain, cx, up);
            }
            Err(why) => {
                cx.emit(Some(dir), EventBody::TlsRecord(rec));
                self.not_opened(dir, why, body.len(), cx, up);
            }
        }
        self.scratch = scratch;
    }

    /// Decrypts a protected record into `scratch`, advancing the sequence number.
    fn open(
        &mut self,
        dir: Dir,
        hdr: &[u8; HEADER],
        body: &[u8],
        scratch: &mut Vec<u8>,
    ) -> Result<crypto::Opened, Failure> {
        let h = &mut self.half[dir.idx()];
        let seq = h.seq;
        h.seq = h.seq.wrapping_add(1);
        if h.failed {
            return Err(Failure::Given);
        }
        let load = |scratch: &mut Vec<u8>| {
            scratch.clear();
            scratch.extend_from_slice(body);
        };
        // RFC 8446 §4.2.10: a client that offered 0-RTT may go on sending early data (with
        // the early traffic secret) after the ServerHello, until its EndOfEarlyData; such a
        // record does not open with the handshake keys and does not count in their sequence.
        let early = dir == Dir::C2s
            && self.hello.early_offered
            && h.stage == Stage::Handshake
            && !h.delivered;
        if let Some(p) = &h.prot {
            load(scratch);
            match p.open(seq, hdr, scratch) {
                Ok(o) => return Ok(o),
                Err(_) if early => {
                    h.seq = seq;
                    return Err(Failure::Early);
                }
                Err(e) if h.next.is_none() => return Err(Failure::Open(e)),
                Err(_) => {}
            }
        }
        // TLS 1.3: the application keys, from their first record.
        if let Some(p) = h.next.take() {
            load(scratch);
            match p.open(0, hdr, scratch) {
                Ok(o) => {
                    h.prot = Some(p);
                    h.secret = h.next_secret.take();
                    h.stage = Stage::Application;
                    h.seq = 1;
                    return Ok(o);
                }
                Err(e) => {
                    h.next = Some(p);
                    if h.prot.is_some() {
                        return Err(Failure::Open(e));
                    }
                }
            }
        }
        Err(Failure::Missing)
    }

    fn not_opened(&mut self, dir: Dir, why: Failure, len: usize, cx: &mut Cx, up: &mut dyn Upper) {
        let h = &mut self.half[dir.idx()];
        let lost_app = h.delivered;
        match why {
            Failure::Given => {}
            Failure::Early => self.note_early(dir, cx),
            Failure::Missing => self.note_missing(dir, cx),
            Failure::Open(e) => {
                h.failed = true;
                h.prot = None;
                h.next = None;
                let what = match e {
                    OpenError::Auth => "did not authenticate",
                    OpenError::TooShort => "is too short for its cipher",
                    OpenError::NoContentType => "holds only padding",
                };
                let label = match (self.hello.version, h.stage, dir) {
                    (Some(TlsVersion::TLS13), Stage::Handshake, _) => labels13(dir).0.as_str(),
                    (Some(TlsVersion::TLS13), _, _) => labels13(dir).1.as_str(),
                    _ => Label::ClientRandom.as_str(),
                };
                let seq = h.seq.wrapping_sub(1);
                note(
                    cx,
                    dir,
                    "tls_decrypt_failed",
                    format!(
                        "record {seq} of this direction {what} with the key log's {label} for \
                         client random {}: a wrong secret, or a key log line of another \
                         session; this direction is not decrypted from here on",
                        self.hello
                            .client_random
                            .as_ref()
                            .map_or_else(|| "?".into(), short_random)
                    ),
                    Some(len as u64),
                );
            }
        }
        if lost_app {
            up.gap(dir, u32::try_from(len).unwrap_or(u32::MAX), cx);
        }
    }

    /// One `tls_early_data` note per connection: 0-RTT data is shown, not decrypted.
    fn note_early(&mut self, dir: Dir, cx: &mut Cx) {
        if self.noted_early {
            return;
        }
        self.noted_early = true;
        note(
            cx,
            dir,
            "tls_early_data",
            "the client sent 0-RTT early data (RFC 8446 §2.3) before the handshake \
             finished: synscope shows its records but does not decrypt them"
                .to_string(),
            None,
        );
    }

    /// One `tls_keys_missing` note per connection: which secret, and why it was not found.
    fn note_missing(&mut self, dir: Dir, cx: &mut Cx) {
        if self.noted_missing {
            return;
        }
        self.noted_missing = true;
        let keys = cx.keys;
        let detail = match (
            self.hello.client_random,
            self.hello.version,
            self.hello.suite,
        ) {
            (None, _, _) => "the ClientHello was not captured: without its client random no \
                             key log line can be found, so the records stay encrypted"
                .to_string(),
            (_, None, _) | (_, _, None) => "the ServerHello was not captured: the version and \
                                           cipher suite are unknown, so the records stay \
                                           encrypted"
                .to_string(),
            (Some(cr), Some(version), Some(suite)) => {
                if let Err(why) = crypto::suite(suite.0, version) {
                    format!("{why}; the records stay encrypted")
                } else {
                    let need: Vec<Label> = if version == TlsVersion::TLS13 {
                        vec![
                            Label::ClientHandshakeTrafficSecret,
                            Label::ServerHandshakeTrafficSecret,
                            Label::ClientTrafficSecret0,
                            Label::ServerTrafficSecret0,
                        ]
                    } else {
                        vec![Label::ClientRandom]
                    };
                    let session = keys.get(&cr);
                    let missing: Vec<&str> = need
                        .iter()
                        .filter(|l| session.and_then(|s| s.get(**l)).is_none())
                        .map(|l| l.as_str())
                        .collect();
                    let whose = format!("client random {}", short_random(&cr));
                    let source = if keys.is_empty() {
                        "no key log was given (--keylog FILE, SSLKEYLOGFILE, or a pcapng \
                         Decryption Secrets Block)"
                            .to_string()
                    } else if session.is_none() {
                        format!(
                            "the key log holds {} other session(s), none with this client \
                             random",
                            keys.len()
                        )
                    } else {
                        "the key log has this session but not these lines".to_string()
                    };
                    format!(
                        "{version} needs {} for {whose}: {source}; the records stay encrypted",
                        if missing.is_empty() {
                            need.iter()
                                .map(|l| l.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        } else {
                            missing.join(", ")
                        }
                    )
                }
            }
        };
        note(cx, dir, "tls_keys_missing", detail, None);
    }

    /// Holds a record until the secrets arrive (or the wait ends).
    fn hold(&mut self, dir: Dir, hdr: &[u8; HEADER], body: &[u8], cx: &mut Cx, up: &mut dyn Upper) {
        let over = self.held.len() + 1 + HEADER + body.len() > self.max_wait;
        let late = self
            .wait_since
            .is_some_and(|s| cx.stamp.ts.since(s) > MAX_KEY_WAIT);
        if over || late {
            self.give_up(cx, up);
            self.record(dir, *hdr, body, cx, up);
            return;
        }
        self.held.push(dir.idx() as u8);
        self.held.extend_from_slice(hdr);
        self.held.extend_from_slice(body);
    }

    /// The secrets did not come: the held records are shown as they are, and from now on
    /// missing secrets are reported at once.
    fn give_up(&mut self, cx: &mut Cx, up: &mut dyn Upper) {
        self.gave_up = true;
        self.release(cx, up);
    }

    /// Handles the held records in order.
    fn release(&mut self, cx: &mut Cx, up: &mut dyn Upper) {
        self.wait_since = None;
        let held = mem::take(&mut self.held);
        let mut at = 0;
        while let Some((&d, rest)) = held.get(at..).and_then(|r| r.split_first()) {
            let Some(hdr) = rest.first_chunk::<HEADER>() else {
                break;
            };
            let len = record_len(hdr);
            let Some(body) = rest.get(HEADER..HEADER + len) else {
                break;
            };
            let dir = if d == 0 { Dir::C2s } else { Dir::S2c };
            self.record(dir, *hdr, body, cx, up);
            at += 1 + HEADER + len;
        }
        if self.held.is_empty() && self.held.capacity() < held.capacity() {
            let mut held = held;
            held.clear();
            if held.capacity() <= 4096 {
                self.held = held;
            }
        }
    }

    /// The content of a record (plaintext, or decrypted) of type `ty`.
    fn content(
        &mut self,
        dir: Dir,
        ty: TlsContentType,
        data: &[u8],
        cx: &mut Cx,
        up: &mut dyn Upper,
    ) {
        match ty {
            TlsContentType::HANDSHAKE => self.handshake_bytes(dir, data, cx),
            TlsContentType::CHANGE_CIPHER_SPEC => self.change_cipher_spec(dir),
            TlsContentType::ALERT => {
                let mut pairs = data.chunks_exact(2);
                for p in &mut pairs {
                    cx.emit(
                        Some(dir),
                        EventBody::TlsAlert(TlsAlert {
                            level: TlsAlertLevel(p[0]),
                            description: TlsAlertDescription(p[1]),
                        }),
                    );
                }
                if !pairs.remainder().is_empty() {
                    cx.emit(
                        Some(dir),
                        EventBody::Violation(Violation {
                            layer: Layer::Tls,
                            rule: "tls_bad_alert",
                            detail: format!(
                                "an alert record of {} bytes: alerts are 2 bytes each",
                                data.len()
                            ),
                        }),
                    );
                }
            }
            TlsContentType::APPLICATION_DATA
                if self.half[dir.idx()].encrypted && !data.is_empty() =>
            {
                self.half[dir.idx()].delivered = true;
                up.data(dir, data, cx);
            }
            _ => {}
        }
    }

    /// TLS 1.2 (and earlier): this side's records are protected from the next one on.
    fn change_cipher_spec(&mut self, dir: Dir) {
        // TLS 1.3 sends one for middleboxes only (RFC 8446 §D.4), also before its ServerHello
        // (after a HelloRetryRequest): only one after a TLS 1.2 ServerHello switches keys.
        if matches!(self.hello.version, None | Some(TlsVersion::TLS13)) {
            return;
        }
        let h = &mut self.half[dir.idx()];
        h.encrypted = true;
        h.seq = 0;
        h.prot = h.next.take();
    }

    /// Handshake bytes: whole messages are parsed, a partial one is kept.
    fn handshake_bytes(&mut self, dir: Dir, mut data: &[u8], cx: &mut Cx) {
        let d = dir.idx();
        loop {
            let h = &mut self.half[d];
            if h.hs_skip > 0 {
                let n = (h.hs_skip.min(data.len() as u64)) as usize;
                h.hs_skip -= n as u64;
                data = data.get(n..).unwrap_or(&[]);
            }
            if data.is_empty() {
                return;
            }
            if h.hs.is_empty() {
                match hs_message(data) {
                    Some((ty, body, rest)) => {
                        self.message(dir, ty, body, cx);
                        data = rest;
                        continue;
                    }
                    None => {
                        if let Some(total) = self.too_long(dir, data, cx) {
                            self.half[d].hs_skip = total;
                            continue;
                        }
                        self.half[d].hs.extend_from_slice(data);
                        return;
                    }
                }
            }
            // A partial message waits for the rest.
            let h = &mut self.half[d];
            let want = if h.hs.len() >= HS_HEADER {
                HS_HEADER + u24(&h.hs[1..4])
            } else {
                let n = (HS_HEADER - h.hs.len()).min(data.len());
                h.hs.extend_from_slice(data.get(..n).unwrap_or(&[]));
                data = data.get(n..).unwrap_or(&[]);
                if h.hs.len() < HS_HEADER {
                    return;
                }
                let head = h.hs.clone();
                if let Some(total) = self.too_long(dir, &head, cx) {
                    let h = &mut self.half[d];
                    h.hs.clear();
                    h.hs_skip = total - HS_HEADER as u64;
                    continue;
                }
                HS_HEADER + u24(&self.half[d].hs[1..4])
            };
            let h = &mut self.half[d];
            let n = (want - h.hs.len()).min(data.len());
            h.hs.extend_from_slice(data.get(..n).unwrap_or(&[]));
            data = data.get(n..).unwrap_or(&[]);
            if h.hs.len() < want {
                return;
            }
            let msg = mem::take(&mut h.hs);
            if let Some((ty, body, _)) = hs_message(&msg) {
                self.message(dir, ty, body, cx);
            }
        }
    }

    /// A message whose header (the first 4 bytes of `head`) claims more than
    /// `Limits::max_tls_handshake`: noted; the message's whole length is returned for the
    /// caller to skip.
    fn too_long(&mut self, dir: Dir, head: &[u8], cx: &mut Cx) -> Option<u64> {
        let head = head.get(..HS_HEADER)?;
        let len = u24(&head[1..4]);
        if len <= self.max_handshake {
            return None;
        }
        let ty = TlsHandshakeType(head[0]);
        note(
            cx,
            dir,
            "tls_handshake_too_large",
            format!(
                "a {} message claims {len} bytes, more than synscope keeps \
                 (Limits::max_tls_handshake, {} bytes): skipped, not decoded",
                ty.name().unwrap_or("handshake"),
                self.max_handshake
            ),
            Some(len as u64),
        );
        Some((HS_HEADER + len) as u64)
    }

    /// One whole handshake message.
    fn message(&mut self, dir: Dir, ty: u8, body: &[u8], cx: &mut Cx) {
        let mut hs = TlsHandshake::new(TlsHandshakeType(ty), body.len() as u32);
        let mut after = After::Nothing;
        match TlsHandshakeType(ty) {
            TlsHandshakeType::CLIENT_HELLO => self.client_hello(body, &mut hs),
            TlsHandshakeType::SERVER_HELLO => after = self.server_hello(body, &mut hs),
            TlsHandshakeType::ENCRYPTED_EXTENSIONS => {
                if let Some(exts) = body.get(2..) {
                    if let Ok((_, exts)) = tls_parser::parse_tls_server_hello_extensions(exts) {
                        for e in &exts {
                            if let TlsExtension::ALPN(p) = e {
                                hs.alpn = Some(names(p));
                                self.hello.alpn = p.first().map(|n| name(n));
                            }
                        }
                    }
                }
            }
            TlsHandshakeType::CERTIFICATE => {
                let tls13 = self.hello.version == Some(TlsVersion::TLS13);
                certificate(body, tls13, &mut hs);
            }
            TlsHandshakeType::KEY_UPDATE => {
                hs.update_requested = body.first().map(|b| *b == 1);
                after = After::KeyUpdate;
            }
            TlsHandshakeType::FINISHED => after = After::Finished,
            _ => {}
        }
        cx.emit(Some(dir), EventBody::TlsHandshake(Box::new(hs)));
        match after {
            After::Nothing => {}
            After::ServerHello => {
                if self.hello.version == Some(TlsVersion::TLS13) {
                    for h in &mut self.half {
                        h.encrypted = true;
                        h.stage = Stage::Handshake;
                        h.seq = 0;
                    }
                }
                self.arm(cx.keys);
            }
            After::Finished => {
                let h = &mut self.half[dir.idx()];
                if self.hello.version == Some(TlsVersion::TLS13) && h.stage == Stage::Handshake {
                    // RFC 8446 §7.3: this side's next record uses the application keys.
                    h.stage = Stage::Application;
                    h.seq = 0;
                    h.prot = h.next.take();
                    h.secret = h.next_secret.take();
                }
            }
            After::KeyUpdate => self.key_update(dir),
        }
    }

    /// RFC 8446 §4.6.3: this side's next record uses keys from the next traffic secret.
    fn key_update(&mut self, dir: Dir) {
        let (Some(v), Some(s)) = (self.hello.version, self.hello.suite) else {
            return;
        };
        let Ok(suite) = crypto::suite(s.0, v) else {
            return;
        };
        let h = &mut self.half[dir.idx()];
        let Some(secret) = h.secret else { return };
        let Some(next) = crypto::next_traffic_secret(suite.hash, secret.as_bytes()) else {
            return;
        };
        h.prot = Protection::tls13(suite, &next).map(Box::new);
        h.secret = Secret::new(&next);
        h.seq = 0;
    }

    fn client_hello(&mut self, body: &[u8], hs: &mut TlsHandshake) {
        let Ok((_, ch)) = tls_parser::parse_tls_handshake_client_hello(body) else {
            return;
        };
        hs.version = Some(TlsVersion(ch.version.0));
        hs.cipher_suites = Some(
            ch.ciphers
                .iter()
                .take(MAX_LIST)
                .map(|c| TlsCipherSuite(c.0))
                .collect(),
        );
        self.hello.client_random = ch.random.try_into().ok();
        self.hello.session_id = ch.session_id.map(<[u8]>::to_vec);
        let exts = ch
            .ext
            .and_then(|e| tls_parser::parse_tls_client_hello_extensions(e).ok())
            .map(|(_, e)| e)
            .unwrap_or_default();
        for e in &exts {
            match e {
                TlsExtension::SNI(list) => {
                    // RFC 6066 §3: name type 0 is host_name.
                    if let Some((_, n)) = list.iter().find(|(t, _)| t.0 == 0) {
                        let n = name(n);
                        self.hello.sni = Some(n.clone());
                        hs.sni = Some(n);
                    }
                }
                TlsExtension::ALPN(p) => hs.alpn = Some(names(p)),
                TlsExtension::SupportedVersions(v) => {
                    hs.supported_versions =
                        Some(v.iter().take(MAX_LIST).map(|v| TlsVersion(v.0)).collect());
                }
                TlsExtension::KeyShare(raw) => {
                    hs.key_share_groups = Some(client_shares(raw));
                }
                TlsExtension::EncryptThenMac => self.hello.client_etm = true,
                TlsExtension::EarlyData(_) => self.hello.early_offered = true,
                _ => {}
            }
        }
    }

    fn server_hello(&mut self, body: &[u8], hs: &mut TlsHandshake) -> After {
        let Ok((_, sh)) = tls_parser::parse_tls_handshake_server_hello(body) else {
            return After::Nothing;
        };
        let hrr = sh.random == HRR_RANDOM;
        if hrr {
            hs.handshake_type = TlsHandshakeType::HELLO_RETRY_REQUEST;
        }
        let mut version = TlsVersion(sh.version.0);
        let mut etm = false;
        let mut psk = false;
        let exts = sh
            .ext
            .and_then(|e| tls_parser::parse_tls_server_hello_extensions(e).ok())
            .map(|(_, e)| e)
            .unwrap_or_default();
        for e in &exts {
            match e {
                TlsExtension::SupportedVersions(v) => {
                    if let Some(v) = v.first() {
                        version = TlsVersion(v.0);
                    }
                }
                TlsExtension::KeyShare(raw) => {
                    // RFC 8446 §4.2.8: a ServerHello's share starts with its group; a
                    // HelloRetryRequest carries only the group it asks for.
                    if let Some(g) = raw.get(..2) {
                        hs.key_share_groups =
                            Some(vec![TlsGroup(u16::from_be_bytes([g[0], g[1]]))]);
                    }
                }
                TlsExtension::ALPN(p) => {
                    hs.alpn = Some(names(p));
                    self.hello.alpn = p.first().map(|n| name(n));
                }
                TlsExtension::PreSharedKey(_) => psk = true,
                // tls-parser reads a ServerHello's type 22 (encrypt_then_mac, RFC 7366) as an
                // unknown extension (it takes 21 for it there).
                TlsExtension::Unknown(t, _) if t.0 == 22 => etm = true,
                _ => {}
            }
        }
        hs.version = Some(version);
        hs.cipher_suite = Some(TlsCipherSuite(sh.cipher.0));
        if hrr {
            return After::Nothing;
        }
        hs.resumed = if version == TlsVersion::TLS13 {
            psk
        } else {
            // RFC 5246 §7.4.1.3, RFC 5077 §3.4: the server echoes the session id it resumes.
            sh.session_id
                .is_some_and(|s| !s.is_empty() && self.hello.session_id.as_deref() == Some(s))
        };
        self.hello.server_random = sh.random.try_into().ok();
        self.hello.version = Some(version);
        self.hello.suite = Some(TlsCipherSuite(sh.cipher.0));
        self.hello.etm = etm && self.hello.client_etm;
        After::ServerHello
    }
}

/// What a handshake message changes once its event is out.
enum After {
    Nothing,
    ServerHello,
    Finished,
    KeyUpdate,
}

/// Why a protected record was not decrypted.
#[derive(Debug, Clone, Copy)]
enum Failure {
    /// 0-RTT early data.
    Early,
    /// No keys for it.
    Missing,
    /// The direction gave up earlier.
    Given,
    Open(OpenError),
}

/// The TLS 1.3 secrets of `dir`: handshake, then application.
fn labels13(dir: Dir) -> (Label, Label) {
    match dir {
        Dir::C2s => (
            Label::ClientHandshakeTrafficSecret,
            Label::ClientTrafficSecret0,
        ),
        Dir::S2c => (
            Label::ServerHandshakeTrafficSecret,
            Label::ServerTrafficSecret0,
        ),
    }
}

/// The record length of a header (its bytes 3-4); 0 when `b` is shorter.
fn record_len(b: &[u8]) -> usize {
    match b.get(3..5) {
        Some(l) => usize::from(u16::from_be_bytes([l[0], l[1]])),
        None => 0,
    }
}

fn u24(b: &[u8]) -> usize {
    b.iter()
        .take(3)
        .fold(0usize, |a, &x| (a << 8) | usize::from(x))
}

/// A whole handshake message at the start of `data`: (type, body, rest).
fn hs_message(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let head = data.get(..HS_HEADER)?;
    let len = u24(&head[1..4]);
    let body = data.get(HS_HEADER..HS_HEADER + len)?;
    Some((head[0], body, data.get(HS_HEADER + len..)?))
}

/// Where the next plausible record header starts in `data` after lost sync: a content type of
/// 20 to 24, version 3.1 to 3.4 (3.0 is too rare to be worth a false match), a length within
/// [`MAX_RECORD`]. A header cut at the end of `data` is not found (the bytes are skipped).
fn find_header(data: &[u8]) -> Option<usize> {
    data.windows(HEADER).position(|w| {
        (20..=24).contains(&w[0])
            && w[1] == 3
            && (1..=4).contains(&w[2])
            && record_len(w) <= MAX_RECORD
    })
}

/// Wire text for an event: lossy UTF-8, cut at [`MAX_NAME`] bytes (the views escape it).
fn name(b: &[u8]) -> String {
    String::from_utf8_lossy(b.get(..MAX_NAME).unwrap_or(b)).into_owned()
}

fn names(list: &[&[u8]]) -> Vec<String> {
    list.iter().take(MAX_LIST).map(|n| name(n)).collect()
}

/// The groups of a ClientHello's key_share (RFC 8446 §4.2.8: a 2-byte list length, then
/// entries of group (2), key length (2), key).
fn client_shares(raw: &[u8]) -> Vec<TlsGroup> {
    let mut out = Vec::new();
    let mut rest = raw.get(2..).unwrap_or(&[]);
    while let Some(e) = rest.get(..4) {
        out.push(TlsGroup(u16::from_be_bytes([e[0], e[1]])));
        let len = usize::from(u16::from_be_bytes([e[2], e[3]]));
        rest = rest.get(4 + len..).unwrap_or(&[]);
        if out.len() >= MAX_LIST {
            break;
        }
    }
    out
}

/// A Certificate message: the chain's length, and the first certificate's subject and SAN.
/// TLS 1.3 (RFC 8446 §4.4.2) adds a request context and extensions per entry.
fn certificate(body: &[u8], tls13: bool, hs: &mut TlsHandshake) {
    let mut rest = body;
    if tls13 {
        let ctx = usize::from(*rest.first().unwrap_or(&0));
        rest = rest.get(1 + ctx..).unwrap_or(&[]);
    }
    let list = u24(rest.get(..3).unwrap_or(&[]));
    let mut list = rest.get(3..3 + list).unwrap_or(&[]);
    let mut count = 0u32;
    while let Some(head) = list.get(..3) {
        let len = u24(head);
        let Some(der) = list.get(3..3 + len) else {
            break;
        };
        if count == 0 {
            leaf(der, hs);
        }
        count += 1;
        list = list.get(3 + len..).unwrap_or(&[]);
        if tls13 {
            let ext = usize::from(u16::from_be_bytes([
                *list.first().unwrap_or(&0),
                *list.get(1).unwrap_or(&0),
            ]));
            list = list.get(2 + ext..).unwrap_or(&[]);
        }
    }
    hs.certificates = Some(count);
}

/// The end-entity certificate's subject and subjectAltName entries.
fn leaf(der: &[u8], hs: &mut TlsHandshake) {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return;
    };
    let subject = cert.subject().to_string();
    hs.subject = Some(name(subject.as_bytes()));
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        let mut out = Vec::new();
        for g in san.value.general_names.iter().take(MAX_LIST) {
            use x509_parser::extensions::GeneralName;
            match g {
                GeneralName::DNSName(n) => out.push(name(n.as_bytes())),
                GeneralName::IPAddress(ip) => match ip.len() {
                    4 => out.push(std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).to_string()),
                    16 => {
                        let mut b = [0u8; 16];
                        b.copy_from_slice(ip);
                        out.push(std::net::Ipv6Addr::from(b).to_string());
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        if !out.is_empty() {
            hs.san = Some(out);
        }
    }
}

fn note(cx: &mut Cx, dir: Dir, note: &'static str, detail: String, bytes: Option<u64>) {
    cx.emit(
        Some(dir),
        EventBody::Note(Box::new(Note {
            layer: Layer::Tls,
            note,
            detail,
            bytes,
        })),
    );
}

#[cfg(test)]
mod tests;
