//! RFC 6455 §5.2 frame headers: layout, parsing, unmasking, and the plausibility test used to
//! find a frame boundary again after a gap.

use crate::model::{Dir, MaskKey, Opcode};

/// Longest header: 2 fixed bytes, 8 bytes of 64-bit length, 4 bytes of masking key.
pub const HEAD_MAX: usize = 14;

/// First byte: FIN, RSV1-3, opcode.
const FIN: u8 = 0x80;
const RSV1: u8 = 0x40;
const RSV2: u8 = 0x20;
const RSV3: u8 = 0x10;
const OPCODE: u8 = 0x0f;
/// Second byte: MASK, 7-bit payload length.
const MASK: u8 = 0x80;
const LEN7: u8 = 0x7f;
/// 7-bit length values announcing the 16-bit and 64-bit forms.
const LEN_16: u8 = 126;
const LEN_64: u8 = 127;
/// RFC 6455 §5.5: control frames carry at most 125 payload bytes.
pub const CONTROL_MAX: u64 = 125;

/// A parsed frame header. Every bit pattern parses: what the RFC forbids is judged by the
/// caller and reported as a violation, not refused here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub fin: bool,
    pub rsv1: bool,
    pub rsv2: bool,
    pub rsv3: bool,
    pub opcode: Opcode,
    pub mask: Option<[u8; 4]>,
    /// Payload length as declared; may be anything up to 2^64-1, never used to allocate.
    pub len: u64,
    /// 2..=14.
    pub header_len: u8,
    /// The length used a longer form than needed (RFC 6455 §5.2: "the minimal number of
    /// bytes MUST be used to encode the length").
    pub non_minimal: bool,
}

impl Head {
    /// RFC 6455 §5.2: "the most significant bit MUST be 0" in the 64-bit form.
    pub fn len_msb(&self) -> bool {
        self.len >> 63 != 0
    }

    /// Bytes of extended payload length: 0, 2 or 8.
    pub fn ext_len(&self) -> u8 {
        let key = if self.mask.is_some() { 4 } else { 0 };
        self.header_len.saturating_sub(2 + key)
    }

    /// The masking key as 8 hex digits.
    pub fn mask_hex(&self) -> Option<MaskKey> {
        self.mask.map(MaskKey::new)
    }
}

/// Header length implied by the second byte (MASK and the 7-bit length).
pub fn header_len(b1: u8) -> usize {
    let ext = match b1 & LEN7 {
        LEN_16 => 2,
        LEN_64 => 8,
        _ => 0,
    };
    let key = if b1 & MASK != 0 { 4 } else { 0 };
    2 + ext + key
}

/// Parses the header at the start of `buf`: `None` means more bytes are needed (nothing is
/// consumed); `Some(head)` consumed `head.header_len` bytes.
pub fn parse(buf: &[u8]) -> Option<Head> {
    let (&b0, &b1) = (buf.first()?, buf.get(1)?);
    let hl = header_len(b1);
    let hdr = buf.get(..hl)?;
    let (len, ext, non_minimal) = match b1 & LEN7 {
        LEN_16 => {
            let v = u64::from(u16::from_be_bytes([*hdr.get(2)?, *hdr.get(3)?]));
            (v, 2, v < u64::from(LEN_16))
        }
        LEN_64 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(hdr.get(2..10)?);
            let v = u64::from_be_bytes(b);
            (v, 8, v <= u64::from(u16::MAX))
        }
        n => (u64::from(n), 0, false),
    };
    let mask = if b1 & MASK != 0 {
        let k = hdr.get(2 + ext..6 + ext)?;
        Some([k[0], k[1], k[2], k[3]])
    } else {
        None
    };
    Some(Head {
        fin: b0 & FIN != 0,
        rsv1: b0 & RSV1 != 0,
        rsv2: b0 & RSV2 != 0,
        rsv3: b0 & RSV3 != 0,
        opcode: Opcode::from_u4(b0 & OPCODE),
        mask,
        len,
        header_len: hl as u8,
        non_minimal,
    })
}

/// XORs `src` with `key` into `dst` (same length), `offset` being the position of `src[0]` in
/// the payload (RFC 6455 §5.3: octet i is XORed with key octet i MOD 4).
pub fn unmask(src: &[u8], key: [u8; 4], offset: u64, dst: &mut [u8]) {
    // Rotate the key so that index j of this piece uses k[j % 4]: a loop the compiler
    // vectorises.
    let r = (offset % 4) as usize;
    let k = [key[r], key[(r + 1) % 4], key[(r + 2) % 4], key[(r + 3) % 4]];
    for (j, (d, s)) in dst.iter_mut().zip(src).enumerate() {
        *d = s ^ k[j % 4];
    }
}

/// Largest payload a resynchronisation candidate may declare: 4 GiB. Real frames rarely come
/// near it, while random bytes read as a 64-bit length almost always exceed it.
pub const RESYNC_MAX_LEN: u64 = 1 << 32;

/// Whether the first two bytes could start a frame of `dir` (used to check the header that
/// should follow a resynchronisation candidate when only its first two bytes are in view).
pub fn plausible_start(b0: u8, b1: u8, dir: Dir, deflate: bool) -> bool {
    let op = Opcode::from_u4(b0 & OPCODE);
    if matches!(op, Opcode::Reserved(_)) || b0 & (RSV2 | RSV3) != 0 {
        return false;
    }
    // RFC 7692 §6: only the first frame of a data message carries RSV1.
    if b0 & RSV1 != 0 && !(deflate && matches!(op, Opcode::Text | Opcode::Binary)) {
        return false;
    }
    // RFC 6455 §5.1: clients mask, servers do not.
    if (b1 & MASK != 0) != (dir == Dir::C2s) {
        return false;
    }
    // RFC 6455 §5.5: control frames are unfragmented and short.
    if op.is_control() && (b0 & FIN == 0 || b1 & LEN7 > CONTROL_MAX as u8) {
        return false;
    }
    true
}

/// Whether a whole header could be a frame of `dir` sent by a conforming peer: the checks of
/// [`plausible_start`], plus a minimal, MSB-clear length below [`RESYNC_MAX_LEN`].
pub fn plausible(head: &Head, b0: u8, b1: u8, dir: Dir, deflate: bool) -> bool {
    plausible_start(b0, b1, dir, deflate)
        && !head.non_minimal
        && !head.len_msb()
        && head.len <= RESYNC_MAX_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_needs_more_until_complete() {
        // 64-bit length, masked: the longest header.
        let mut h = vec![0x82, 0x80 | 127];
        h.extend_from_slice(&70_000u64.to_be_bytes());
        h.extend_from_slice(&[1, 2, 3, 4]);
        for n in 0..h.len() {
            assert_eq!(parse(&h[..n]), None, "prefix {n}");
        }
        let head = parse(&h).unwrap();
        assert_eq!(head.header_len, 14);
        assert_eq!(head.len, 70_000);
        assert_eq!(head.mask, Some([1, 2, 3, 4]));
        assert_eq!(head.mask_hex().as_deref(), Some("01020304"));
        assert!(!head.non_minimal && head.fin && head.opcode == Opcode::Binary);
    }

    #[test]
    fn length_forms() {
        assert_eq!(parse(&[0x81, 125]).unwrap().len, 125);
        let h = parse(&[0x81, 126, 0, 126]).unwrap();
        assert_eq!((h.len, h.header_len, h.non_minimal), (126, 4, false));
        assert!(parse(&[0x81, 126, 0, 125]).unwrap().non_minimal);
        let mut b = vec![0x81, 127];
        b.extend_from_slice(&65_535u64.to_be_bytes());
        assert!(parse(&b).unwrap().non_minimal);
        let mut b = vec![0x81, 127];
        b.extend_from_slice(&(1u64 << 63).to_be_bytes());
        let h = parse(&b).unwrap();
        assert!(h.len_msb() && !h.non_minimal);
    }

    #[test]
    fn unmask_at_any_offset_matches_the_rfc_rule() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let plain = b"Hello, WebSocket!";
        let masked: Vec<u8> = plain
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect();
        for cut in 0..plain.len() {
            let mut out = vec![0; plain.len()];
            let (a, b) = out.split_at_mut(cut);
            unmask(&masked[..cut], key, 0, a);
            unmask(&masked[cut..], key, cut as u64, b);
            assert_eq!(out, plain);
        }
        // RFC 6455 §5.7: a masked "Hello".
        let f = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let h = parse(&f).unwrap();
        let mut out = [0u8; 5];
        unmask(&f[6..], h.mask.unwrap(), 0, &mut out);
        assert_eq!(&out, b"Hello");
    }

    #[test]
    fn plausibility() {
        let p = |b: &[u8], dir, d| plausible(&parse(b).unwrap(), b[0], b[1], dir, d);
        assert!(p(&[0x81, 0x05], Dir::S2c, false));
        assert!(
            !p(&[0x81, 0x85, 0, 0, 0, 0], Dir::S2c, false),
            "masked server"
        );
        assert!(p(&[0x81, 0x85, 0, 0, 0, 0], Dir::C2s, false));
        assert!(!p(&[0x81, 0x05], Dir::C2s, false), "unmasked client");
        assert!(!p(&[0xc1, 0x05], Dir::S2c, false), "RSV1 without deflate");
        assert!(p(&[0xc1, 0x05], Dir::S2c, true));
        assert!(!p(&[0xc0, 0x05], Dir::S2c, true), "RSV1 on a continuation");
        assert!(!p(&[0x83, 0x05], Dir::S2c, false), "reserved opcode");
        assert!(!p(&[0x09, 0x05], Dir::S2c, false), "fragmented ping");
        assert!(!p(&[0x89, 126, 0, 200], Dir::S2c, false), "long ping");
        assert!(!p(&[0x82, 126, 0, 2], Dir::S2c, false), "non-minimal");
        let mut b = vec![0x82, 127];
        b.extend_from_slice(&(1u64 << 40).to_be_bytes());
        assert!(!p(&b, Dir::S2c, false), "too long to be believed");
    }
}
