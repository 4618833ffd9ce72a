//! Streaming UTF-8 validation: a message is checked piece by piece as it arrives, so no
//! message is buffered to be validated and a character split between frames or TCP segments
//! is judged once whole.

/// The state of one validation: bytes so far are valid, except possibly an incomplete
/// character at the end (kept in `carry`).
#[derive(Debug, Clone, Default)]
pub struct Utf8Check {
    carry: [u8; 4],
    carry_len: u8,
    /// Offset of the first byte of the first invalid sequence.
    bad_at: Option<u64>,
    /// Bytes pushed so far.
    seen: u64,
}

/// Length of the character a lead byte announces; 0 for a byte that cannot start one.
fn char_width(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 0,
    }
}

impl Utf8Check {
    pub fn reset(&mut self) {
        *self = Utf8Check::default();
    }

    /// The next bytes of the text.
    pub fn push(&mut self, mut data: &[u8]) {
        if self.bad_at.is_some() {
            return;
        }
        let start = self.seen;
        self.seen += data.len() as u64;
        if self.carry_len > 0 {
            let have = usize::from(self.carry_len);
            let width = char_width(self.carry[0]);
            let take = width.saturating_sub(have).min(data.len());
            if let (Some(dst), Some(src)) =
                (self.carry.get_mut(have..have + take), data.get(..take))
            {
                dst.copy_from_slice(src);
            }
            self.carry_len += take as u8;
            data = data.get(take..).unwrap_or(&[]);
            let whole = usize::from(self.carry_len);
            if whole < width {
                // Still incomplete, but what is there must be a valid start.
                if !valid_prefix(self.carry.get(..whole).unwrap_or(&[])) {
                    self.bad_at = Some(start - have as u64);
                }
                return;
            }
            if std::str::from_utf8(self.carry.get(..whole).unwrap_or(&[])).is_err() {
                self.bad_at = Some(start - have as u64);
                return;
            }
            self.carry_len = 0;
        }
        let off = self.seen - data.len() as u64;
        if let Err(e) = std::str::from_utf8(data) {
            let at = e.valid_up_to();
            match e.error_len() {
                Some(_) => self.bad_at = Some(off + at as u64),
                None => {
                    // An incomplete character at the end (at most 3 bytes): keep it.
                    let tail = data.get(at..).unwrap_or(&[]);
                    let n = tail.len().min(3);
                    if let Some(dst) = self.carry.get_mut(..n) {
                        dst.copy_from_slice(tail.get(..n).unwrap_or(&[]));
                    }
                    self.carry_len = n as u8;
                }
            }
        }
    }

    /// Where the first invalid sequence starts, if one was seen (an incomplete character at
    /// the end is not counted: see [`Utf8Check::complete`]).
    pub fn bad_at(&self) -> Option<u64> {
        self.bad_at
    }

    /// Whether everything pushed is valid UTF-8 and ends on a character boundary.
    pub fn complete(&self) -> bool {
        self.bad_at.is_none() && self.carry_len == 0
    }

    /// Offset of the incomplete character at the end, if there is one.
    pub fn dangling_at(&self) -> Option<u64> {
        (self.carry_len > 0).then(|| self.seen - u64::from(self.carry_len))
    }
}

/// Whether `b` (shorter than its lead byte announces) can still become a valid character.
fn valid_prefix(b: &[u8]) -> bool {
    // Complete it with the smallest continuation bytes allowed after it and test: RFC 3629
    // restricts the second byte after E0, ED, F0 and F4, which from_utf8 knows.
    let Some(&lead) = b.first() else {
        return true;
    };
    let width = char_width(lead);
    let mut probe = [0u8; 4];
    for (i, slot) in probe.iter_mut().enumerate().take(width) {
        *slot = match b.get(i) {
            Some(&x) => x,
            None => match (lead, i) {
                (0xe0, 1) => 0xa0,
                (0xf0, 1) => 0x90,
                _ => 0x80,
            },
        };
    }
    std::str::from_utf8(probe.get(..width).unwrap_or(&[])).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(pieces: &[&[u8]]) -> Utf8Check {
        let mut c = Utf8Check::default();
        for p in pieces {
            c.push(p);
        }
        c
    }

    #[test]
    fn split_characters_are_valid() {
        let s = "aé€😀z".as_bytes();
        for i in 0..=s.len() {
            for j in i..=s.len() {
                let c = check(&[&s[..i], &s[i..j], &s[j..]]);
                assert!(c.complete(), "cut at {i},{j}");
            }
        }
    }

    #[test]
    fn invalid_sequences_are_found_with_their_offset() {
        let c = check(&[b"ab", &[0xc3], &[0x28]]);
        assert_eq!(c.bad_at(), Some(2));
        let c = check(&[b"abc", &[0xff]]);
        assert_eq!(c.bad_at(), Some(3));
        // Surrogate half (ED A0 80), split.
        let c = check(&[b"x", &[0xed], &[0xa0, 0x80]]);
        assert_eq!(c.bad_at(), Some(1));
        // Judged invalid as soon as the second byte rules it out.
        let c = check(&[&[0xed], &[0xa0]]);
        assert_eq!(c.bad_at(), Some(0));
        let c = check(&[&[0xe2, 0x82]]);
        assert!(c.bad_at().is_none() && !c.complete());
        assert_eq!(c.dangling_at(), Some(0));
    }

    proptest! {
        #[test]
        fn agrees_with_from_utf8(bytes in proptest::collection::vec(any::<u8>(), 0..40),
                                 cuts in proptest::collection::vec(0usize..40, 0..5)) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut c = Utf8Check::default();
            let mut last = 0;
            for k in cuts.into_iter().chain([bytes.len()]) {
                c.push(&bytes[last..k]);
                last = k;
            }
            let std = std::str::from_utf8(&bytes);
            prop_assert_eq!(c.complete(), std.is_ok());
            if let Err(e) = std {
                if e.error_len().is_some() {
                    prop_assert_eq!(c.bad_at(), Some(e.valid_up_to() as u64));
                } else {
                    prop_assert_eq!(c.bad_at(), None);
                }
            }
        }
    }
}
