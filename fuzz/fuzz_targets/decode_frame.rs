//! One frame through the link/IP/TCP decoder: the first byte picks the link type, the rest is
//! the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synscope::capture::{LinkType, RawFrame};
use synscope::decode::{decode, Decoded};
use synscope::model::Timestamp;

/// Every link type `decode` knows, and one it does not.
const LINKS: [u32; 11] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let link = LinkType(LINKS[usize::from(pick) % LINKS.len()]);
    let raw = RawFrame {
        ts: Timestamp(0),
        link,
        data: frame,
        orig_len: frame.len() as u32,
    };
    if let Ok(Decoded::Tcp(t)) = decode(&raw) {
        // The decoder's contract: the payload is borrowed from the frame and never longer than
        // what the IP length says went on the wire.
        assert!(t.payload.len() <= t.wire_len as usize);
        let start = frame.as_ptr() as usize;
        let p = t.payload.as_ptr() as usize;
        assert!(p >= start && p + t.payload.len() <= start + frame.len());
    }
});
