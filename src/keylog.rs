//! TLS secrets from an NSS key log: the `SSLKEYLOGFILE` format that browsers, curl, OpenSSL,
//! Python's `keylog_filename`, Node's `keylog` event and rustls's `KeyLogFile` write
//! (<https://www.ietf.org/archive/id/draft-ietf-tls-keylogfile-02.html>).
//!
//! One line per secret: `LABEL <client_random: 64 hex digits> <secret: hex>`; `#` starts a
//! comment. The client random (from the ClientHello) ties a secret to its connection.
//!
//! The input is hostile like any other: lines are read as they come (a file that is still
//! growing, a Decryption Secrets Block), a line longer than [`MAX_LINE`] is skipped without
//! being buffered, bad lines are counted (the first one is kept for the note that reports
//! them), and at most `Limits::max_keylog_sessions` client randoms are kept
//! ([`KeyLog::held_bytes`] is bounded by it).

use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Longest line taken: a label (31 characters at most), a client random (64 hex digits) and a
/// secret of 48 bytes (96 hex digits), with room for a CR and spaces.
pub const MAX_LINE: usize = 256;

/// Longest secret: SHA-384's output (TLS 1.3 suites with SHA-384; a TLS 1.2 master secret
/// is 48 bytes too).
pub const MAX_SECRET: usize = 48;

/// One secret, up to [`MAX_SECRET`] bytes, kept inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Secret {
    len: u8,
    bytes: [u8; MAX_SECRET],
}

impl Secret {
    /// `None` when `b` is empty or longer than [`MAX_SECRET`].
    pub fn new(b: &[u8]) -> Option<Secret> {
        if b.is_empty() || b.len() > MAX_SECRET {
            return None;
        }
        let mut bytes = [0u8; MAX_SECRET];
        bytes.get_mut(..b.len())?.copy_from_slice(b);
        Some(Secret {
            len: b.len() as u8,
            bytes,
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets are not printed, even in debug output.
        write!(f, "Secret({} bytes)", self.len)
    }
}

/// Which secret a line gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// TLS 1.2 and earlier: the 48-byte master secret.
    ClientRandom,
    ClientEarlyTrafficSecret,
    ClientHandshakeTrafficSecret,
    ServerHandshakeTrafficSecret,
    /// TLS 1.3 `CLIENT_TRAFFIC_SECRET_0`.
    ClientTrafficSecret0,
    /// TLS 1.3 `SERVER_TRAFFIC_SECRET_0`.
    ServerTrafficSecret0,
}

impl Label {
    /// The label as the key log writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::ClientRandom => "CLIENT_RANDOM",
            Label::ClientEarlyTrafficSecret => "CLIENT_EARLY_TRAFFIC_SECRET",
            Label::ClientHandshakeTrafficSecret => "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            Label::ServerHandshakeTrafficSecret => "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            Label::ClientTrafficSecret0 => "CLIENT_TRAFFIC_SECRET_0",
            Label::ServerTrafficSecret0 => "SERVER_TRAFFIC_SECRET_0",
        }
    }

    fn parse(s: &[u8]) -> Option<Label> {
        Some(match s {
            b"CLIENT_RANDOM" => Label::ClientRandom,
            b"CLIENT_EARLY_TRAFFIC_SECRET" => Label::ClientEarlyTrafficSecret,
            b"CLIENT_HANDSHAKE_TRAFFIC_SECRET" => Label::ClientHandshakeTrafficSecret,
            b"SERVER_HANDSHAKE_TRAFFIC_SECRET" => Label::ServerHandshakeTrafficSecret,
            b"CLIENT_TRAFFIC_SECRET_0" => Label::ClientTrafficSecret0,
            b"SERVER_TRAFFIC_SECRET_0" => Label::ServerTrafficSecret0,
            _ => return None,
        })
    }
}

/// Labels that are valid but carry nothing synscope uses (exporter secrets; the RSA line,
/// whose second field is not a client random). Other unknown labels are skipped too.
const IGNORED_LABELS: &[&[u8]] = &[b"EXPORTER_SECRET", b"EARLY_EXPORTER_SECRET"];

/// The secrets of one TLS session (one client random).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    pub master: Option<Secret>,
    pub client_early: Option<Secret>,
    pub client_handshake: Option<Secret>,
    pub server_handshake: Option<Secret>,
    pub client_traffic: Option<Secret>,
    pub server_traffic: Option<Secret>,
}

impl Secrets {
    pub fn get(&self, label: Label) -> Option<&Secret> {
        match label {
            Label::ClientRandom => self.master.as_ref(),
            Label::ClientEarlyTrafficSecret => self.client_early.as_ref(),
            Label::ClientHandshakeTrafficSecret => self.client_handshake.as_ref(),
            Label::ServerHandshakeTrafficSecret => self.server_handshake.as_ref(),
            Label::ClientTrafficSecret0 => self.client_traffic.as_ref(),
            Label::ServerTrafficSecret0 => self.server_traffic.as_ref(),
        }
    }

    fn slot(&mut self, label: Label) -> &mut Option<Secret> {
        match label {
            Label::ClientRandom => &mut self.master,
            Label::ClientEarlyTrafficSecret => &mut self.client_early,
            Label::ClientHandshakeTrafficSecret => &mut self.client_handshake,
            Label::ServerHandshakeTrafficSecret => &mut self.server_handshake,
            Label::ClientTrafficSecret0 => &mut self.client_traffic,
            Label::ServerTrafficSecret0 => &mut self.server_traffic,
        }
    }
}

/// What one [`KeyLog::add`] took in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Added {
    /// Secrets that were new (a line repeating a known secret does not count).
    pub secrets: u64,
    /// Lines that are not key log lines (or too long, or with bad hex).
    pub bad_lines: u64,
    /// The first bad line's number (1-based, over everything this key log read) and why.
    pub first_bad: Option<(u64, String)>,
    /// Secrets for client randoms beyond `Limits::max_keylog_sessions`, ignored.
    pub over_limit: u64,
}

impl Added {
    fn bad(&mut self, line: u64, why: impl Into<String>) {
        self.bad_lines += 1;
        if self.first_bad.is_none() {
            self.first_bad = Some((line, why.into()));
        }
    }
}

/// The secrets read so far, by client random.
#[derive(Debug, Clone, Default)]
pub struct KeyLog {
    sessions: BTreeMap<[u8; 32], Secrets>,
    max_sessions: usize,
    /// The start of a line that has not ended yet (at most [`MAX_LINE`] bytes).
    partial: Vec<u8>,
    /// The line being skipped is longer than [`MAX_LINE`].
    skipping: bool,
    /// Lines read, for numbering bad ones.
    lines: u64,
    /// Bumped whenever a secret is added: a connection waiting for secrets looks again only
    /// when it changed.
    generation: u64,
    /// More secrets may arrive while the capture goes on (`live` and `demo` follow a key log
    /// file or their own TLS stacks): connections wait for missing secrets.
    growing: bool,
}

impl KeyLog {
    /// An empty key log that keeps the secrets of at most `max_sessions` sessions.
    pub fn new(max_sessions: usize) -> KeyLog {
        KeyLog {
            max_sessions,
            ..KeyLog::default()
        }
    }

    /// Marks the key log as still growing (or not): see [`KeyLog::is_growing`].
    pub fn set_growing(&mut self, growing: bool) {
        self.growing = growing;
    }

    /// Whether secrets may still arrive while packets are decoded (`live`, `demo`): a TLS
    /// connection then waits for a missing secret (within `Limits::max_tls_key_wait`) instead
    /// of reporting it missing at once.
    pub fn is_growing(&self) -> bool {
        self.growing
    }

    /// Changes whenever a secret is added.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Sessions with at least one secret.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The secrets of the session whose ClientHello carried `client_random`.
    pub fn get(&self, client_random: &[u8; 32]) -> Option<&Secrets> {
        self.sessions.get(client_random)
    }

    /// Memory held: the sessions' secrets and the partial line.
    pub fn held_bytes(&self) -> usize {
        self.sessions.len() * (32 + std::mem::size_of::<Secrets>()) + self.partial.capacity()
    }

    /// The most [`KeyLog::held_bytes`] can be for `max_sessions` sessions.
    pub fn max_held(max_sessions: usize) -> usize {
        max_sessions * (32 + std::mem::size_of::<Secrets>()) + MAX_LINE
    }

    /// Takes in the next bytes of a key log. Lines end at `\n` (a `\r` before it is dropped);
    /// a line not ended yet waits for the next call or [`KeyLog::finish`].
    pub fn add(&mut self, mut bytes: &[u8]) -> Added {
        let mut added = Added::default();
        while !bytes.is_empty() {
            let (line, rest, ended) = match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => (
                    bytes.get(..i).unwrap_or(&[]),
                    bytes.get(i + 1..).unwrap_or(&[]),
                    true,
                ),
                None => (bytes, &[][..], false),
            };
            bytes = rest;
            if !self.skipping {
                if self.partial.len() + line.len() > MAX_LINE {
                    self.skipping = true;
                    self.partial = Vec::new();
                } else if self.partial.is_empty() && ended {
                    self.line(line, &mut added);
                    continue;
                } else {
                    self.partial.extend_from_slice(line);
                }
            }
            if ended {
                if self.skipping {
                    self.lines += 1;
                    added.bad(
                        self.lines,
                        format!("longer than {MAX_LINE} characters: not a key log line"),
                    );
                    self.skipping = false;
                } else {
                    let line = std::mem::take(&mut self.partial);
                    self.line(&line, &mut added);
                    self.partial = line;
                    self.partial.clear();
                }
            }
        }
        added
    }

    /// The end of the input: a last line without its `\n` is taken as it is.
    pub fn finish(&mut self) -> Added {
        let mut added = Added::default();
        if self.skipping {
            self.lines += 1;
            added.bad(self.lines, format!("longer than {MAX_LINE} characters"));
            self.skipping = false;
        } else if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line, &mut added);
        }
        self.partial = Vec::new();
        added
    }

    fn line(&mut self, line: &[u8], added: &mut Added) {
        self.lines += 1;
        let n = self.lines;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let trimmed = trim(line);
        if trimmed.is_empty() || trimmed.first() == Some(&b'#') {
            return;
        }
        let mut fields = trimmed
            .split(|b| *b == b' ' || *b == b'\t')
            .filter(|f| !f.is_empty());
        let (Some(label), Some(random), Some(secret), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            added.bad(n, "not three fields (LABEL CLIENT_RANDOM SECRET)");
            return;
        };
        if label == b"RSA" {
            // `RSA <first 8 bytes of the encrypted pre-master> <pre-master>`: a valid line
            // synscope does not use (it needs the handshake's randoms to become a master
            // secret; `CLIENT_RANDOM` lines give that directly).
            return;
        }
        let mut cr = [0u8; 32];
        if random.len() != 64 || !unhex(random, &mut cr) {
            added.bad(n, "the client random is not 64 hex digits");
            return;
        }
        let label_ok = !label.is_empty()
            && label
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_');
        if !label_ok {
            added.bad(n, format!("{} is not a label", printable(label)));
            return;
        }
        // A well-formed line with a label synscope has no use for (an exporter secret,
        // OpenSSL's CLIENT_TRAFFIC_SECRET_N after a KeyUpdate, which synscope derives itself,
        // a label newer than this program) is skipped, as Wireshark does.
        if IGNORED_LABELS.contains(&label) {
            return;
        }
        let Some(label) = Label::parse(label) else {
            return;
        };
        let mut buf = [0u8; MAX_SECRET];
        let len = secret.len() / 2;
        let ok = secret.len() % 2 == 0
            && len <= MAX_SECRET
            && buf.get_mut(..len).is_some_and(|b| unhex(secret, b));
        let Some(secret) = ok
            .then(|| Secret::new(buf.get(..len).unwrap_or(&[])))
            .flatten()
        else {
            added.bad(
                n,
                format!("the secret is not 2 to {} hex digits", 2 * MAX_SECRET),
            );
            return;
        };
        if label == Label::ClientRandom && secret.as_bytes().len() != 48 {
            added.bad(n, "a CLIENT_RANDOM master secret is 48 bytes");
            return;
        }
        if !self.sessions.contains_key(&cr) && self.sessions.len() >= self.max_sessions {
            added.over_limit += 1;
            return;
        }
        let slot = self.sessions.entry(cr).or_default().slot(label);
        if *slot != Some(secret) {
            *slot = Some(secret);
            added.secrets += 1;
            self.generation += 1;
        }
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    b.get(start..end).unwrap_or(&[])
}

/// Decodes hex digits into `out` (exactly `2 * out.len()` digits); false on a bad digit.
fn unhex(hex: &[u8], out: &mut [u8]) -> bool {
    if hex.len() != 2 * out.len() {
        return false;
    }
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let (Some(hi), Some(lo)) = (nibble(pair[0]), nibble(pair[1])) else {
            return false;
        };
        *o = (hi << 4) | lo;
    }
    true
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// A short printable rendering of wire text for a note: at most 32 characters, anything but
/// printable ASCII as `\xNN`.
fn printable(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b.iter().take(32) {
        if c.is_ascii_graphic() {
            s.push(char::from(c));
        } else {
            s.push_str(&format!("\\x{c:02x}"));
        }
    }
    if b.len() > 32 {
        s.push('…');
    }
    s
}

/// The client random as hex, shortened for a sentence: `3f2a9c01…`.
pub fn short_random(cr: &[u8; 32]) -> String {
    let mut s: String = cr.iter().take(4).map(|b| format!("{b:02x}")).collect();
    s.push('…');
    s
}

/// A key log file followed as it grows: each [`KeyLogFile::read_new`] reads what was appended
/// since the last one (from the start again if the file was replaced by a shorter one), at most
/// `max_bytes` over the file's life.
#[derive(Debug)]
pub struct KeyLogFile {
    path: PathBuf,
    offset: u64,
    read: u64,
    max_bytes: u64,
    /// The byte limit was reached (reported once).
    pub capped: bool,
}

/// What a read of a key log file brought.
#[derive(Debug, Default)]
pub struct FileRead {
    pub added: Added,
    /// Bytes read this time.
    pub bytes: u64,
    /// This read reached `max_bytes`: the rest of the file is ignored from now on.
    pub capped_now: bool,
    /// The bytes read (for a copy of the key log: `live -w` writes them into the pcapng).
    pub text: Vec<u8>,
}

impl KeyLogFile {
    pub fn new(path: impl Into<PathBuf>, max_bytes: u64) -> KeyLogFile {
        KeyLogFile {
            path: path.into(),
            offset: 0,
            read: 0,
            max_bytes,
            capped: false,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads what the file gained into `log`. A file that does not exist yet is not an error
    /// for a follower (a browser creates it at its first connection): it reads nothing.
    pub fn read_new(&mut self, log: &mut KeyLog) -> io::Result<FileRead> {
        let mut out = FileRead::default();
        let mut f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        let len = f.metadata()?.len();
        if len < self.offset {
            // Replaced or truncated: read it again from the start.
            self.offset = 0;
            log.finish();
        }
        if len == self.offset || self.capped {
            return Ok(out);
        }
        f.seek(SeekFrom::Start(self.offset))?;
        let room = self.max_bytes.saturating_sub(self.read);
        let mut take = f.take(room.min(len - self.offset));
        let mut buf = [0u8; 8192];
        loop {
            let n = take.read(&mut buf)?;
            if n == 0 {
                break;
            }
            let piece = buf.get(..n).unwrap_or(&[]);
            let a = log.add(piece);
            merge(&mut out.added, a);
            out.text.extend_from_slice(piece);
            out.bytes += n as u64;
        }
        self.offset += out.bytes;
        self.read += out.bytes;
        if self.read >= self.max_bytes && self.offset < len {
            self.capped = true;
            out.capped_now = true;
        }
        Ok(out)
    }
}

/// Where a command's key log comes from: `--keylog FILE`, else the `SSLKEYLOGFILE` environment
/// variable (which browsers, curl, Node and Python write to when it is set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySource {
    pub path: PathBuf,
    /// Named by `SSLKEYLOGFILE`, not by `--keylog`: a file that cannot be read is a note,
    /// not an error (the variable may be set for other programs).
    pub from_env: bool,
}

impl KeySource {
    /// `--keylog FILE` when given, else `SSLKEYLOGFILE` when set and not empty.
    pub fn pick(arg: Option<PathBuf>) -> Option<KeySource> {
        match arg {
            Some(path) => Some(KeySource {
                path,
                from_env: false,
            }),
            None => std::env::var_os("SSLKEYLOGFILE")
                .filter(|v| !v.is_empty())
                .map(|v| KeySource {
                    path: PathBuf::from(v),
                    from_env: true,
                }),
        }
    }

    /// How a message names the source: `--keylog keys.log`, `SSLKEYLOGFILE=keys.log`.
    pub fn describe(&self) -> String {
        if self.from_env {
            format!("SSLKEYLOGFILE={}", self.path.display())
        } else {
            format!("--keylog {}", self.path.display())
        }
    }
}

/// Adds the counts of `b` to `a` (keeping `a`'s first bad line).
pub fn merge(a: &mut Added, b: Added) {
    a.secrets += b.secrets;
    a.bad_lines += b.bad_lines;
    a.over_limit += b.over_limit;
    if a.first_bad.is_none() {
        a.first_bad = b.first_bad;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CR: &str = "c2f4b9e0d6e1a9bfae7a0ae2ae0e3e04b20a9a4e29b6b66f7b7ff1e2d2a4b5c6";

    fn cr() -> [u8; 32] {
        let mut b = [0u8; 32];
        assert!(unhex(CR.as_bytes(), &mut b));
        b
    }

    #[test]
    fn reads_every_label() {
        let text = format!(
            "# comment\n\
             CLIENT_RANDOM {CR} {m}\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {CR} {s}\r\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {CR} {s}\n\
             CLIENT_TRAFFIC_SECRET_0 {CR} {s}\n\
             SERVER_TRAFFIC_SECRET_0 {CR} {s}\n\
             EXPORTER_SECRET {CR} {s}\n\
             \n",
            m = "ab".repeat(48),
            s = "01".repeat(32)
        );
        let mut log = KeyLog::new(10);
        let a = log.add(text.as_bytes());
        assert_eq!((a.secrets, a.bad_lines), (5, 0), "{a:?}");
        let s = log.get(&cr()).unwrap();
        assert_eq!(s.master.unwrap().as_bytes(), &[0xab; 48][..]);
        assert_eq!(s.server_traffic.unwrap().as_bytes(), &[1; 32][..]);
        assert!(s.client_early.is_none());
        // The same lines again add nothing new.
        assert_eq!(log.add(text.as_bytes()).secrets, 0);
    }

    #[test]
    fn any_split_of_the_input_reads_the_same() {
        let text = format!(
            "CLIENT_RANDOM {CR} {}\nbad line\nSERVER_TRAFFIC_SECRET_0 {CR} {}",
            "cd".repeat(48),
            "02".repeat(48)
        );
        for cut in 0..=text.len() {
            let mut log = KeyLog::new(10);
            let mut a = log.add(&text.as_bytes()[..cut]);
            merge(&mut a, log.add(&text.as_bytes()[cut..]));
            merge(&mut a, log.finish());
            assert_eq!((a.secrets, a.bad_lines), (2, 1), "cut {cut}");
            assert_eq!(a.first_bad.as_ref().unwrap().0, 2);
        }
    }

    #[test]
    fn garbage_is_counted_not_kept() {
        let mut log = KeyLog::new(10);
        let mut garbage = vec![0xffu8; 100_000];
        garbage.extend_from_slice(b"\nCLIENT_RANDOM xyz 00\nFOO a b\n");
        // Well-formed lines with labels synscope does not use are not bad.
        garbage.extend_from_slice(format!("CLIENT_TRAFFIC_SECRET_N {CR} 0102\n").as_bytes());
        garbage.extend_from_slice(
            format!("ECH_SECRET {CR} 0102\nRSA 0011223344556677 ab\n").as_bytes(),
        );
        garbage.extend_from_slice(format!("CLIENT_RANDOM {CR} 0102\n").as_bytes());
        let a = log.add(&garbage);
        assert_eq!(a.secrets, 0);
        assert_eq!(a.bad_lines, 4);
        assert!(a.first_bad.unwrap().1.contains("longer than"));
        assert!(log.held_bytes() <= KeyLog::max_held(10));
        assert!(log.is_empty());
    }

    #[test]
    fn sessions_beyond_the_limit_are_counted() {
        let mut log = KeyLog::new(2);
        let mut text = String::new();
        for i in 0..5u8 {
            text.push_str(&format!(
                "CLIENT_RANDOM {:02x}{} {}\n",
                i,
                &CR[2..],
                "11".repeat(48)
            ));
        }
        let a = log.add(text.as_bytes());
        assert_eq!((a.secrets, a.over_limit), (2, 3));
        assert_eq!(log.len(), 2);
    }

    #[test]
    fn a_growing_file_is_followed() {
        let dir = std::env::temp_dir().join(format!("synscope-keylog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys.log");
        let _ = std::fs::remove_file(&path);
        let mut log = KeyLog::new(10);
        let mut file = KeyLogFile::new(&path, 1 << 20);
        assert_eq!(file.read_new(&mut log).unwrap().bytes, 0);
        let line = format!("CLIENT_RANDOM {CR} {}\n", "ab".repeat(48));
        std::fs::write(&path, &line[..50]).unwrap();
        let r = file.read_new(&mut log).unwrap();
        assert_eq!((r.bytes, r.added.secrets), (50, 0));
        std::fs::write(&path, &line).unwrap();
        let r = file.read_new(&mut log).unwrap();
        assert_eq!(r.added.secrets, 1);
        assert!(log.get(&cr()).is_some());
        // A cap on the bytes read.
        let mut log = KeyLog::new(10);
        let mut file = KeyLogFile::new(&path, 20);
        let r = file.read_new(&mut log).unwrap();
        assert!(r.capped_now && file.capped);
        assert_eq!(r.bytes, 20);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
