//! Record protection, for reading a capture with the session's secrets: the key schedules
//! (TLS 1.3's HKDF-Expand-Label, RFC 8446 §7; TLS 1.2's PRF key expansion, RFC 5246 §5 and
//! §6.3) and the opening of protected records (AEAD: AES-GCM, ChaCha20-Poly1305; CBC with
//! HMAC, MAC-then-encrypt or encrypt-then-MAC, RFC 7366). All cryptography is RustCrypto's;
//! this module only lays the bytes out as the RFCs say.
//!
//! Nothing here trusts the record: every length is checked before it is used, a record that
//! does not authenticate is an `Err`, and nothing panics.

use std::ops::Range;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use cbc::cipher::{BlockModeDecrypt, KeyIvInit};
use chacha20poly1305::ChaCha20Poly1305;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha384};
use subtle::ConstantTimeEq;
use tls_parser::{TlsCipherEnc, TlsCipherEncMode, TlsCipherMac, TlsPRF};

use crate::model::TlsVersion;

/// AEAD tag length (AES-GCM and ChaCha20-Poly1305 alike).
const TAG: usize = 16;
/// TLS 1.2 AES-GCM's explicit nonce (RFC 5288 §3).
const GCM_EXPLICIT: usize = 8;
/// AES block size: the CBC IV and padding unit.
const BLOCK: usize = 16;

/// The hash of a suite's key schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
}

impl Hash {
    /// Output length in bytes.
    pub fn size(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }
}

/// The HMAC of a CBC suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacAlg {
    Sha1,
    Sha256,
    Sha384,
}

impl MacAlg {
    fn len(self) -> usize {
        match self {
            MacAlg::Sha1 => 20,
            MacAlg::Sha256 => 32,
            MacAlg::Sha384 => 48,
        }
    }
}

/// How a suite protects records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gcm,
    ChaCha,
    Cbc(MacAlg),
}

/// What synscope needs to know of a cipher suite to decrypt it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suite {
    pub kind: Kind,
    /// Key length in bytes.
    pub key_len: usize,
    /// The key schedule's hash (TLS 1.3 HKDF; TLS 1.2 PRF).
    pub hash: Hash,
}

/// The suite `id` as `version` uses it, or why synscope cannot decrypt it.
pub fn suite(id: u16, version: TlsVersion) -> Result<Suite, String> {
    let Some(cs) = tls_parser::TlsCipherSuite::from_id(id) else {
        return Err(format!("cipher suite 0x{id:04x} is unknown"));
    };
    let tls13 = version == TlsVersion::TLS13;
    if !tls13 && version != TlsVersion::TLS12 && version != TlsVersion::TLS11 {
        return Err(format!(
            "{version} records are not decrypted (TLS 1.1 to 1.3 are)"
        ));
    }
    let hash = match cs.prf {
        TlsPRF::Sha384 => Hash::Sha384,
        // TLS 1.2's default PRF is SHA-256 (RFC 5246 §5); TLS 1.1's is MD5+SHA-1, not
        // supported below.
        TlsPRF::Sha256 | TlsPRF::Default => Hash::Sha256,
        _ => return Err(format!("{} uses a PRF synscope lacks", cs.name)),
    };
    if version == TlsVersion::TLS11 {
        return Err(format!(
            "TLS 1.1 ({}) is not decrypted: its PRF is MD5+SHA-1",
            cs.name
        ));
    }
    let key_len = match (cs.enc, cs.enc_size) {
        // tls-parser's table gives ChaCha20-Poly1305 a 128-bit size; its key is 256 bits.
        (TlsCipherEnc::Chacha20_Poly1305, _) => 32,
        (TlsCipherEnc::Aes, 128) => 16,
        (TlsCipherEnc::Aes, 256) => 32,
        _ => {
            return Err(format!(
                "{} is not decrypted (AES and ChaCha20 suites are)",
                cs.name
            ))
        }
    };
    let kind = match (cs.enc, cs.enc_mode, cs.mac) {
        (TlsCipherEnc::Chacha20_Poly1305, _, TlsCipherMac::Aead) => Kind::ChaCha,
        (TlsCipherEnc::Aes, TlsCipherEncMode::Gcm, TlsCipherMac::Aead) => Kind::Gcm,
        (TlsCipherEnc::Aes, TlsCipherEncMode::Cbc, mac) if !tls13 => Kind::Cbc(match mac {
            TlsCipherMac::HmacSha1 => MacAlg::Sha1,
            TlsCipherMac::HmacSha256 => MacAlg::Sha256,
            TlsCipherMac::HmacSha384 => MacAlg::Sha384,
            _ => return Err(format!("{} uses a MAC synscope lacks", cs.name)),
        }),
        _ => {
            return Err(format!(
                "{} is not decrypted (AES-GCM, ChaCha20-Poly1305 and AES-CBC with HMAC are)",
                cs.name
            ))
        }
    };
    Ok(Suite {
        kind,
        key_len,
        hash,
    })
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context, into `out`.
fn expand_label(hash: Hash, secret: &[u8], label: &[u8], out: &mut [u8]) -> Option<()> {
    // struct { uint16 length; opaque label<7..255> = "tls13 " + Label; opaque context<0..255>; }
    let full = 6 + label.len();
    let mut info = Vec::with_capacity(4 + full);
    info.extend_from_slice(&u16::try_from(out.len()).ok()?.to_be_bytes());
    info.push(u8::try_from(full).ok()?);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label);
    info.push(0);
    match hash {
        Hash::Sha256 => Hkdf::<Sha256>::from_prk(secret)
            .ok()?
            .expand(&info, out)
            .ok(),
        Hash::Sha384 => Hkdf::<Sha384>::from_prk(secret)
            .ok()?
            .expand(&info, out)
            .ok(),
    }
}

/// The next TLS 1.3 application traffic secret after a KeyUpdate (RFC 8446 §7.2).
pub fn next_traffic_secret(hash: Hash, secret: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0u8; hash.size()];
    expand_label(hash, secret, b"traffic upd", &mut out)?;
    Some(out)
}

/// TLS 1.2 PRF (RFC 5246 §5): P_hash(secret, label + seed) into `out`.
fn prf(hash: Hash, secret: &[u8], label: &[u8], seed: &[&[u8]], out: &mut [u8]) -> Option<()> {
    match hash {
        Hash::Sha256 => p_hash::<Hmac<Sha256>>(secret, label, seed, out),
        Hash::Sha384 => p_hash::<Hmac<Sha384>>(secret, label, seed, out),
    }
}

fn p_hash<M: Mac + KeyInit + Clone>(
    secret: &[u8],
    label: &[u8],
    seed: &[&[u8]],
    out: &mut [u8],
) -> Option<()> {
    let key = <M as KeyInit>::new_from_slice(secret).ok()?;
    // A(1) = HMAC(secret, label + seed); A(i) = HMAC(secret, A(i-1)).
    let mut a = {
        let mut m = key.clone();
        m.update(label);
        for s in seed {
            m.update(s);
        }
        m.finalize().into_bytes()
    };
    let mut filled = 0;
    while filled < out.len() {
        let mut m = key.clone();
        m.update(&a);
        m.update(label);
        for s in seed {
            m.update(s);
        }
        let block = m.finalize().into_bytes();
        let n = block.len().min(out.len() - filled);
        out.get_mut(filled..filled + n)?
            .copy_from_slice(block.get(..n)?);
        filled += n;
        let mut m = key.clone();
        m.update(&a);
        a = m.finalize().into_bytes();
    }
    Some(())
}

/// An AEAD cipher with its key.
enum Aead {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
}

impl Aead {
    fn new(kind: Kind, key: &[u8]) -> Option<Aead> {
        Some(match (kind, key.len()) {
            (Kind::Gcm, 16) => Aead::Aes128(Box::new(Aes128Gcm::new_from_slice(key).ok()?)),
            (Kind::Gcm, 32) => Aead::Aes256(Box::new(Aes256Gcm::new_from_slice(key).ok()?)),
            (Kind::ChaCha, 32) => {
                Aead::ChaCha(Box::new(ChaCha20Poly1305::new_from_slice(key).ok()?))
            }
            _ => return None,
        })
    }

    /// Opens `buf` (ciphertext, tag at its end) in place; the plaintext is `buf[..len - TAG]`.
    fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> Result<(), ()> {
        let split = buf.len().checked_sub(TAG).ok_or(())?;
        let (msg, tag) = buf.split_at_mut(split);
        let tag = aes_gcm::Tag::try_from(&*tag).map_err(|_| ())?;
        let nonce = aes_gcm::Nonce::<aes_gcm::aes::cipher::consts::U12>::from(*nonce);
        match self {
            Aead::Aes128(c) => c.decrypt_inout_detached(&nonce, aad, msg.into(), &tag),
            Aead::Aes256(c) => c.decrypt_inout_detached(&nonce, aad, msg.into(), &tag),
            Aead::ChaCha(c) => c.decrypt_inout_detached(&nonce, aad, msg.into(), &tag),
        }
        .map_err(|_| ())
    }
}

/// The keys of one direction of a connection, and how its records are laid out.
pub struct Protection {
    scheme: Scheme,
}

enum Scheme {
    /// TLS 1.3 (RFC 8446 §5.2-5.3): nonce = iv XOR seq; the additional data is the record
    /// header; the real content type follows the content, then zero padding.
    Tls13 { aead: Aead, iv: [u8; 12] },
    /// TLS 1.2 AES-GCM (RFC 5288 §3): nonce = salt (4 bytes from the key block) + the record's
    /// explicit 8 bytes.
    Tls12Gcm { aead: Aead, salt: [u8; 4] },
    /// TLS 1.2 ChaCha20-Poly1305 (RFC 7905 §2): nonce = iv XOR seq.
    Tls12ChaCha { aead: Aead, iv: [u8; 12] },
    /// TLS 1.1/1.2 AES-CBC with HMAC (RFC 5246 §6.2.3.2): a per-record IV, then
    /// MAC-then-encrypt, or encrypt-then-MAC when both sides agreed to RFC 7366.
    Cbc {
        key: CbcKey,
        mac: MacAlg,
        mac_key: Box<[u8]>,
        etm: bool,
    },
}

enum CbcKey {
    Aes128([u8; 16]),
    Aes256([u8; 32]),
}

/// Why a record did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// Too short for the scheme's nonce, IV, tag or MAC.
    TooShort,
    /// The tag or MAC does not match (a wrong key, or a wrong sequence number), or the padding
    /// is wrong.
    Auth,
    /// TLS 1.3: the plaintext is all padding, with no content type.
    NoContentType,
}

/// What an opened record holds: the content type and where its plaintext sits in the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub content_type: u8,
    pub range: Range<usize>,
}

impl Protection {
    /// TLS 1.3 traffic keys from a traffic secret (RFC 8446 §7.3).
    pub fn tls13(suite: Suite, secret: &[u8]) -> Option<Protection> {
        let mut key = [0u8; 32];
        let key = key.get_mut(..suite.key_len)?;
        expand_label(suite.hash, secret, b"key", key)?;
        let mut iv = [0u8; 12];
        expand_label(suite.hash, secret, b"iv", &mut iv)?;
        Some(Protection {
            scheme: Scheme::Tls13 {
                aead: Aead::new(suite.kind, key)?,
                iv,
            },
        })
    }

    /// The TLS 1.2 keys of both directions, [client, server], from the master secret
    /// (RFC 5246 §6.3: the key block is `PRF(master, "key expansion", server_random +
    /// client_random)`, cut into MAC keys, encryption keys, then IVs).
    pub fn tls12(
        suite: Suite,
        master: &[u8],
        client_random: &[u8; 32],
        server_random: &[u8; 32],
        etm: bool,
    ) -> Option<[Protection; 2]> {
        let (mac_len, iv_len) = match suite.kind {
            Kind::Gcm => (0, 4),
            Kind::ChaCha => (0, 12),
            Kind::Cbc(m) => (m.len(), 0),
        };
        let total = 2 * (mac_len + suite.key_len + iv_len);
        let mut block = [0u8; 2 * (48 + 32 + 12)];
        let block = block.get_mut(..total)?;
        prf(
            suite.hash,
            master,
            b"key expansion",
            &[server_random, client_random],
            block,
        )?;
        let mut at = 0;
        let mut take = |n: usize| {
            let s = block.get(at..at + n).unwrap_or(&[]).to_vec();
            at += n;
            s
        };
        let (cmac, smac) = (take(mac_len), take(mac_len));
        let (ckey, skey) = (take(suite.key_len), take(suite.key_len));
        let (civ, siv) = (take(iv_len), take(iv_len));
        let one = |mac: Vec<u8>, key: Vec<u8>, iv: Vec<u8>| -> Option<Protection> {
            let scheme = match suite.kind {
                Kind::Gcm => Scheme::Tls12Gcm {
                    aead: Aead::new(suite.kind, &key)?,
                    salt: iv.as_slice().try_into().ok()?,
                },
                Kind::ChaCha => Scheme::Tls12ChaCha {
                    aead: Aead::new(suite.kind, &key)?,
                    iv: iv.as_slice().try_into().ok()?,
                },
                Kind::Cbc(m) => Scheme::Cbc {
                    key: match key.len() {
                        16 => CbcKey::Aes128(key.as_slice().try_into().ok()?),
                        32 => CbcKey::Aes256(key.as_slice().try_into().ok()?),
                        _ => return None,
                    },
                    mac: m,
                    mac_key: mac.into(),
                    etm,
                },
            };
            Some(Protection { scheme })
        };
        Some([one(cmac, ckey, civ)?, one(smac, skey, siv)?])
    }

    /// Opens record number `seq` with header `header` (type, version, length as on the wire),
    /// whose body was copied into `buf`: on success the plaintext is `buf[range]`.
    pub fn open(&self, seq: u64, header: &[u8; 5], buf: &mut [u8]) -> Result<Opened, OpenError> {
        let outer = header[0];
        let version = [header[1], header[2]];
        match &self.scheme {
            Scheme::Tls13 { aead, iv } => {
                if buf.len() < TAG + 1 {
                    return Err(OpenError::TooShort);
                }
                aead.open(&xor_nonce(iv, seq), header, buf)
                    .map_err(|_| OpenError::Auth)?;
                let plain = buf.get(..buf.len() - TAG).ok_or(OpenError::TooShort)?;
                // RFC 8446 §5.4: the content type is the last non-zero byte.
                let at = plain
                    .iter()
                    .rposition(|&b| b != 0)
                    .ok_or(OpenError::NoContentType)?;
                Ok(Opened {
                    content_type: plain[at],
                    range: 0..at,
                })
            }
            Scheme::Tls12Gcm { aead, salt } => {
                if buf.len() < GCM_EXPLICIT + TAG {
                    return Err(OpenError::TooShort);
                }
                let mut nonce = [0u8; 12];
                nonce[..4].copy_from_slice(salt);
                nonce[4..].copy_from_slice(&buf[..GCM_EXPLICIT]);
                let len = buf.len() - GCM_EXPLICIT - TAG;
                let aad = aad12(seq, outer, version, len);
                aead.open(&nonce, &aad, &mut buf[GCM_EXPLICIT..])
                    .map_err(|_| OpenError::Auth)?;
                Ok(Opened {
                    content_type: outer,
                    range: GCM_EXPLICIT..GCM_EXPLICIT + len,
                })
            }
            Scheme::Tls12ChaCha { aead, iv } => {
                if buf.len() < TAG {
                    return Err(OpenError::TooShort);
                }
                let len = buf.len() - TAG;
                let aad = aad12(seq, outer, version, len);
                aead.open(&xor_nonce(iv, seq), &aad, buf)
                    .map_err(|_| OpenError::Auth)?;
                Ok(Opened {
                    content_type: outer,
                    range: 0..len,
                })
            }
            Scheme::Cbc {
                key,
                mac,
                mac_key,
                etm,
            } => open_cbc(key, *mac, mac_key, *etm, seq, outer, version, buf),
        }
    }
}

/// RFC 8446 §5.3 / RFC 7905 §2: the 64-bit sequence number, left-padded, XORed into the IV.
fn xor_nonce(iv: &[u8; 12], seq: u64) -> [u8; 12] {
    let mut n = *iv;
    for (b, s) in n[4..].iter_mut().zip(seq.to_be_bytes()) {
        *b ^= s;
    }
    n
}

/// TLS 1.2 AEAD additional data (RFC 5246 §6.2.3.3): seq_num + type + version + length.
fn aad12(seq: u64, ty: u8, version: [u8; 2], len: usize) -> [u8; 13] {
    let mut a = [0u8; 13];
    a[..8].copy_from_slice(&seq.to_be_bytes());
    a[8] = ty;
    a[9..11].copy_from_slice(&version);
    a[11..13].copy_from_slice(&(len as u16).to_be_bytes());
    a
}

/// HMAC over the pseudo-header and `parts`, compared in constant time with `expected`.
fn mac_ok(
    alg: MacAlg,
    key: &[u8],
    seq: u64,
    ty: u8,
    version: [u8; 2],
    parts: &[&[u8]],
    expected: &[u8],
) -> bool {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let Ok(len) = u16::try_from(len) else {
        return false;
    };
    let head = {
        let mut h = [0u8; 13];
        h[..8].copy_from_slice(&seq.to_be_bytes());
        h[8] = ty;
        h[9..11].copy_from_slice(&version);
        h[11..].copy_from_slice(&len.to_be_bytes());
        h
    };
    fn run<M: Mac + KeyInit>(key: &[u8], head: &[u8], parts: &[&[u8]], expected: &[u8]) -> bool {
        let Ok(mut m) = <M as KeyInit>::new_from_slice(key) else {
            return false;
        };
        m.update(head);
        for p in parts {
            m.update(p);
        }
        let tag = m.finalize().into_bytes();
        tag.len() == expected.len() && bool::from(tag.as_slice().ct_eq(expected))
    }
    match alg {
        MacAlg::Sha1 => run::<Hmac<Sha1>>(key, &head, parts, expected),
        MacAlg::Sha256 => run::<Hmac<Sha256>>(key, &head, parts, expected),
        MacAlg::Sha384 => run::<Hmac<Sha384>>(key, &head, parts, expected),
    }
}

/// Decrypts `blocks` (a whole number of AES blocks) in place with CBC and `iv`.
fn cbc_decrypt(key: &CbcKey, iv: &[u8], blocks: &mut [u8]) -> Result<(), OpenError> {
    use cbc::cipher::inout::InOutBuf;
    match key {
        CbcKey::Aes128(k) => {
            let mut d = cbc::Decryptor::<aes::Aes128>::new_from_slices(k, iv)
                .map_err(|_| OpenError::TooShort)?;
            let (chunks, tail) = InOutBuf::from(blocks).into_chunks();
            if !tail.is_empty() {
                return Err(OpenError::Auth);
            }
            d.decrypt_blocks_inout(chunks);
        }
        CbcKey::Aes256(k) => {
            let mut d = cbc::Decryptor::<aes::Aes256>::new_from_slices(k, iv)
                .map_err(|_| OpenError::TooShort)?;
            let (chunks, tail) = InOutBuf::from(blocks).into_chunks();
            if !tail.is_empty() {
                return Err(OpenError::Auth);
            }
            d.decrypt_blocks_inout(chunks);
        }
    }
    Ok(())
}

/// RFC 5246 §6.2.3.2 padding: `pad_len + 1` bytes, each `pad_len`. The length of what
/// precedes it.
fn unpad(plain: &[u8]) -> Result<usize, OpenError> {
    let pad = usize::from(*plain.last().ok_or(OpenError::Auth)?);
    let start = plain.len().checked_sub(pad + 1).ok_or(OpenError::Auth)?;
    let ok = plain
        .get(start..)
        .is_some_and(|p| p.iter().all(|&b| usize::from(b) == pad));
    if ok {
        Ok(start)
    } else {
        Err(OpenError::Auth)
    }
}

#[allow(clippy::too_many_arguments)]
fn open_cbc(
    key: &CbcKey,
    mac: MacAlg,
    mac_key: &[u8],
    etm: bool,
    seq: u64,
    ty: u8,
    version: [u8; 2],
    buf: &mut [u8],
) -> Result<Opened, OpenError> {
    let m = mac.len();
    if etm {
        // RFC 7366 §3: IV + ciphertext, then the MAC over them.
        let body = buf.len().checked_sub(m).ok_or(OpenError::TooShort)?;
        if body < 2 * BLOCK || !body.is_multiple_of(BLOCK) {
            return Err(OpenError::TooShort);
        }
        let (cipher, tag) = buf.split_at_mut(body);
        if !mac_ok(mac, mac_key, seq, ty, version, &[cipher], tag) {
            return Err(OpenError::Auth);
        }
        let (iv, blocks) = cipher.split_at_mut(BLOCK);
        cbc_decrypt(key, iv, blocks)?;
        let end = unpad(blocks)?;
        Ok(Opened {
            content_type: ty,
            range: BLOCK..BLOCK + end,
        })
    } else {
        if buf.len() < 2 * BLOCK || !buf.len().is_multiple_of(BLOCK) {
            return Err(OpenError::TooShort);
        }
        let (iv, blocks) = buf.split_at_mut(BLOCK);
        cbc_decrypt(key, iv, blocks)?;
        let end = unpad(blocks)?;
        let content = end.checked_sub(m).ok_or(OpenError::Auth)?;
        let (text, tag) = blocks.split_at(content);
        let tag = tag.get(..m).ok_or(OpenError::Auth)?;
        if !mac_ok(mac, mac_key, seq, ty, version, &[text], tag) {
            return Err(OpenError::Auth);
        }
        Ok(Opened {
            content_type: ty,
            range: BLOCK..BLOCK + content,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn hkdf_expand_label_matches_rfc_8448() {
        // RFC 8448 §3 (simple 1-RTT handshake): the server handshake traffic secret and the
        // key and IV it gives.
        let secret = hex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
        let mut key = [0u8; 16];
        expand_label(Hash::Sha256, &secret, b"key", &mut key).unwrap();
        assert_eq!(key.to_vec(), hex("3fce516009c21727d0f2e4e86ee403bc"));
        let mut iv = [0u8; 12];
        expand_label(Hash::Sha256, &secret, b"iv", &mut iv).unwrap();
        assert_eq!(iv.to_vec(), hex("5d313eb2671276ee13000b30"));
    }

    #[test]
    fn tls12_prf_matches_a_known_vector() {
        // The TLS 1.2 PRF (SHA-256) test vector circulated on the IETF TLS list
        // (https://mailarchive.ietf.org/arch/msg/tls/fzVCzk-z3FShgGJ6DOXqM1ydxms/).
        let secret = hex("9bbe436ba940f017b17652849a71db35");
        let seed = hex("a0ba9f936cda311827a6f796ffd5198c");
        let mut out = [0u8; 100];
        prf(Hash::Sha256, &secret, b"test label", &[&seed], &mut out).unwrap();
        assert_eq!(
            out.to_vec(),
            hex(concat!(
                "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a",
                "6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab",
                "4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701",
                "87347b66"
            ))
        );
    }

    #[test]
    fn suites_are_told_apart() {
        let s = suite(0x1301, TlsVersion::TLS13).unwrap();
        assert_eq!((s.kind, s.key_len, s.hash), (Kind::Gcm, 16, Hash::Sha256));
        let s = suite(0x1302, TlsVersion::TLS13).unwrap();
        assert_eq!((s.kind, s.key_len, s.hash), (Kind::Gcm, 32, Hash::Sha384));
        let s = suite(0x1303, TlsVersion::TLS13).unwrap();
        assert_eq!((s.kind, s.key_len), (Kind::ChaCha, 32));
        let s = suite(0xc013, TlsVersion::TLS12).unwrap();
        assert_eq!(s.kind, Kind::Cbc(MacAlg::Sha1));
        let s = suite(0xc028, TlsVersion::TLS12).unwrap();
        assert_eq!((s.kind, s.hash), (Kind::Cbc(MacAlg::Sha384), Hash::Sha384));
        assert!(suite(0x0005, TlsVersion::TLS12).is_err()); // RC4
        assert!(suite(0x1304, TlsVersion::TLS13).is_err()); // CCM
        assert!(suite(0xc02f, TlsVersion::TLS10).is_err());
        assert!(suite(0x0a0a, TlsVersion::TLS12).is_err());
    }

    #[test]
    fn hostile_records_do_not_open() {
        let s = suite(0x1301, TlsVersion::TLS13).unwrap();
        let p = Protection::tls13(s, &[7; 32]).unwrap();
        let header = [23, 3, 3, 0, 0];
        for len in [0, 1, 16, 17, 100] {
            let mut buf = vec![0u8; len];
            assert!(p.open(0, &header, &mut buf).is_err());
        }
        let [c, _] = Protection::tls12(
            suite(0xc013, TlsVersion::TLS12).unwrap(),
            &[1; 48],
            &[2; 32],
            &[3; 32],
            false,
        )
        .unwrap();
        for len in [0, 15, 16, 31, 32, 33, 48, 64] {
            let mut buf = vec![0u8; len];
            assert!(c.open(0, &[23, 3, 3, 0, 0], &mut buf).is_err());
        }
    }
}
