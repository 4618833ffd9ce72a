//! RFC 7692 permessage-deflate, receiving side: one raw-DEFLATE inflater per direction,
//! fed incrementally, its output handed out through a fixed scratch buffer.

use flate2::{Decompress, FlushDecompress, Status};

/// Output produced per `decompress` call; lives on the stack.
const SCRATCH: usize = 4096;

/// RFC 7692 §7.2.2: appended to a message's payload before inflating it.
pub const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// How a call to [`Inflater::inflate`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// All input consumed and all output available for it handed out.
    Done,
    /// A block with BFINAL set ended the DEFLATE stream; further input is not inflated.
    StreamEnd,
    /// The output callback asked to stop (the work limit was reached).
    Stopped,
    /// The input is not valid DEFLATE. (zlib-rs's message for it depends on how the input
    /// was cut into calls, so it is not passed on: events must not depend on the cuts.)
    Error,
}

/// One direction's inflater and its sliding window.
pub struct Inflater {
    dec: Decompress,
    /// RFC 7692 §7.2.2: with `*_no_context_takeover` each message starts a fresh window.
    pub no_context_takeover: bool,
    window: u64,
    /// Output since the last reset.
    since_reset: u64,
    /// The window was lost (a gap, an error, a stream end): a back-reference into it can fail
    /// through no fault of the sender, until a full window of output has been produced again.
    context_lost: bool,
}

impl Inflater {
    /// `max_window_bits` is the sender's negotiated window (RFC 7692 §7.1.2); values below 9
    /// are read as 9 (zlib itself turns a window of 8 into 9) and above 15 as 15.
    pub fn new(max_window_bits: u8, no_context_takeover: bool) -> Inflater {
        let bits = max_window_bits.clamp(9, 15);
        Inflater {
            dec: Decompress::new_with_window_bits(false, bits),
            no_context_takeover,
            window: 1 << bits,
            since_reset: 0,
            context_lost: false,
        }
    }

    /// Starts a fresh window. `lost` says the sender may still refer to the old one.
    pub fn reset(&mut self, lost: bool) {
        self.dec.reset(false);
        self.since_reset = 0;
        self.context_lost = lost && !self.no_context_takeover;
    }

    /// Whether an error now may be due to a window lost earlier rather than to the sender.
    pub fn context_lost(&self) -> bool {
        self.context_lost
    }

    /// Inflates `input`, handing each piece of output to `out`, which returns false to stop.
    /// Never allocates by the output size: the output goes through a fixed stack buffer.
    pub fn inflate(&mut self, mut input: &[u8], out: &mut dyn FnMut(&[u8]) -> bool) -> Outcome {
        let mut buf = [0u8; SCRATCH];
        loop {
            let (in0, out0) = (self.dec.total_in(), self.dec.total_out());
            let st = self.dec.decompress(input, &mut buf, FlushDecompress::None);
            let used = usize::try_from(self.dec.total_in() - in0).unwrap_or(usize::MAX);
            let made = usize::try_from(self.dec.total_out() - out0).unwrap_or(0);
            input = input.get(used..).unwrap_or(&[]);
            self.since_reset += made as u64;
            if self.since_reset >= self.window {
                self.context_lost = false;
            }
            if made > 0 && !out(buf.get(..made).unwrap_or(&buf)) {
                return Outcome::Stopped;
            }
            match st {
                Err(_) => return Outcome::Error,
                Ok(Status::StreamEnd) => return Outcome::StreamEnd,
                Ok(Status::Ok | Status::BufError) => {}
            }
            // Output space left over means the inflater has given all it can for the input.
            if (input.is_empty() && made < buf.len()) || (used == 0 && made == 0) {
                return Outcome::Done;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(inf: &mut Inflater, input: &[u8]) -> (Vec<u8>, Outcome) {
        let mut v = Vec::new();
        let o = inf.inflate(input, &mut |b| {
            v.extend_from_slice(b);
            true
        });
        (v, o)
    }

    #[test]
    fn rfc7692_hello_and_shared_window() {
        let mut inf = Inflater::new(15, false);
        let (v, o) = collect(&mut inf, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        assert_eq!(o, Outcome::Done);
        let (v2, _) = collect(&mut inf, &TRAILER);
        assert_eq!([v, v2].concat(), b"Hello");
        let (v, _) = collect(
            &mut inf,
            &[0xf2, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff],
        );
        assert_eq!(v, b"Hello");
    }

    #[test]
    fn garbage_is_an_error_and_reset_recovers() {
        let mut inf = Inflater::new(15, false);
        let (_, o) = collect(&mut inf, &[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(o, Outcome::Error);
        inf.reset(true);
        assert!(inf.context_lost());
        let mut input = vec![0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        input.extend_from_slice(&TRAILER);
        assert_eq!(collect(&mut inf, &input).0, b"Hello");
    }

    #[test]
    fn stop_is_honoured() {
        // 1 MiB of zeros compresses to about 1 KiB.
        let mut c = flate2::Compress::new(flate2::Compression::default(), false);
        let mut z = Vec::with_capacity(1 << 16);
        c.compress_vec(&vec![0u8; 1 << 20], &mut z, flate2::FlushCompress::Sync)
            .unwrap();
        let mut inf = Inflater::new(15, false);
        let mut got = 0usize;
        let o = inf.inflate(&z, &mut |b| {
            got += b.len();
            got < 10_000
        });
        assert_eq!(o, Outcome::Stopped);
        assert!(got < 10_000 + SCRATCH);
    }
}
