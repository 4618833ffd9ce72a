//! Capture reader tests: files written by hand with small builders.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Read};
use std::rc::Rc;

use proptest::prelude::*;

use super::*;

/// A frame copied out of the reader, to compare runs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owned {
    ts: u64,
    link: u32,
    data: Vec<u8>,
    orig_len: u32,
}

/// Reads every frame; the error, if one ended the stream.
fn read_all<R: Read>(r: R) -> (Vec<Owned>, bool, Option<CaptureError>) {
    let mut rd = match CaptureReader::new(r) {
        Ok(rd) => rd,
        Err(e) => return (Vec::new(), false, Some(e)),
    };
    let mut out = Vec::new();
    loop {
        match rd.next_frame() {
            Ok(Some(f)) => out.push(Owned {
                ts: f.ts.0,
                link: f.link.0,
                data: f.data.to_vec(),
                orig_len: f.orig_len,
            }),
            Ok(None) => break,
            Err(e) => return (out, rd.truncated_tail(), Some(e)),
        }
    }
    // Fused: more calls after the end give nothing.
    assert!(rd.next_frame().unwrap().is_none());
    (out, rd.truncated_tail(), None)
}

fn read_ok(bytes: &[u8]) -> Vec<Owned> {
    let (frames, truncated, err) = read_all(bytes);
    assert!(err.is_none(), "unexpected error {err:?}");
    assert!(!truncated);
    frames
}

// ---------------------------------------------------------------- pcap builder

fn put32(v: &mut Vec<u8>, big: bool, x: u32) {
    v.extend_from_slice(&if big {
        x.to_be_bytes()
    } else {
        x.to_le_bytes()
    });
}
fn put16(v: &mut Vec<u8>, big: bool, x: u16) {
    v.extend_from_slice(&if big {
        x.to_be_bytes()
    } else {
        x.to_le_bytes()
    });
}

fn pcap_header(big: bool, nanos: bool, link: u32) -> Vec<u8> {
    let mut v = Vec::new();
    put32(&mut v, big, if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
    put16(&mut v, big, 2);
    put16(&mut v, big, 4);
    put32(&mut v, big, 0);
    put32(&mut v, big, 0);
    put32(&mut v, big, 65535);
    put32(&mut v, big, link);
    v
}

fn pcap_record(v: &mut Vec<u8>, big: bool, sec: u32, frac: u32, data: &[u8], orig: u32) {
    put32(v, big, sec);
    put32(v, big, frac);
    put32(v, big, data.len() as u32);
    put32(v, big, orig);
    v.extend_from_slice(data);
}

/// A pcap file and the byte offsets where each record ends.
fn pcap_file(big: bool, nanos: bool) -> (Vec<u8>, Vec<usize>) {
    let mut v = pcap_header(big, nanos, 1);
    let mut ends = vec![v.len()];
    pcap_record(&mut v, big, 1_700_000_000, 123_456, &[1, 2, 3, 4, 5], 5);
    ends.push(v.len());
    pcap_record(&mut v, big, 1_700_000_001, 7, &[9; 60], 1514);
    ends.push(v.len());
    pcap_record(&mut v, big, 1_700_000_002, 0, &[], 0);
    ends.push(v.len());
    (v, ends)
}

// ---------------------------------------------------------------- pcapng builder

fn pad4(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
}

/// Wraps a block body: type, total length, body (padded), total length.
fn ng_block(big: bool, btype: u32, body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    pad4(&mut b);
    let len = 12 + b.len() as u32;
    let mut v = Vec::new();
    put32(&mut v, big, btype);
    put32(&mut v, big, len);
    v.extend_from_slice(&b);
    put32(&mut v, big, len);
    v
}

fn ng_options(big: bool, opts: &[(u16, &[u8])]) -> Vec<u8> {
    let mut v = Vec::new();
    if opts.is_empty() {
        return v;
    }
    for (code, val) in opts {
        put16(&mut v, big, *code);
        put16(&mut v, big, val.len() as u16);
        v.extend_from_slice(val);
        pad4(&mut v);
    }
    put32(&mut v, big, 0); // opt_endofopt
    v
}

fn shb(big: bool) -> Vec<u8> {
    let mut b = Vec::new();
    put32(&mut b, big, 0x1A2B_3C4D);
    put16(&mut b, big, 1);
    put16(&mut b, big, 0);
    b.extend_from_slice(&[0xff; 8]); // section length: unknown
    b.extend(ng_options(big, &[(4, b"synscope tests")]));
    ng_block(big, 0x0A0D_0D0A, &b)
}

fn idb(big: bool, link: u16, snaplen: u32, opts: &[(u16, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    put16(&mut b, big, link);
    put16(&mut b, big, 0);
    put32(&mut b, big, snaplen);
    b.extend(ng_options(big, opts));
    ng_block(big, 1, &b)
}

fn epb(big: bool, if_id: u32, units: u64, data: &[u8], orig: u32) -> Vec<u8> {
    let mut b = Vec::new();
    put32(&mut b, big, if_id);
    put32(&mut b, big, (units >> 32) as u32);
    put32(&mut b, big, units as u32);
    put32(&mut b, big, data.len() as u32);
    put32(&mut b, big, orig);
    b.extend_from_slice(data);
    pad4(&mut b);
    b.extend(ng_options(big, &[(1, b"a comment")]));
    ng_block(big, 6, &b)
}

fn spb(big: bool, orig: u32, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    put32(&mut b, big, orig);
    b.extend_from_slice(data);
    ng_block(big, 3, &b)
}

fn frame(ts: u64, link: u32, data: &[u8], orig_len: u32) -> Owned {
    Owned {
        ts,
        link,
        data: data.to_vec(),
        orig_len,
    }
}

const T0: u64 = 1_700_000_000;

/// A pcapng with two interfaces (Ethernet at 10^-9 with snaplen 64, raw IP at 2^-20 with a
/// one-hour offset), EPBs on both, an SPB, and blocks to skip. Returns the file, the offsets
/// where each block ends, and the frames expected.
fn pcapng_file(big: bool) -> (Vec<u8>, Vec<usize>, Vec<Owned>) {
    let mut v = Vec::new();
    let mut ends = Vec::new();
    let mut push = |v: &mut Vec<u8>, b: Vec<u8>| {
        v.extend(b);
        ends.push(v.len());
    };
    push(&mut v, shb(big));
    push(&mut v, idb(big, 1, 64, &[(2, b"eth0"), (9, &[9])]));
    let offset: i64 = 3600;
    let off = if big {
        offset.to_be_bytes()
    } else {
        offset.to_le_bytes()
    };
    push(&mut v, idb(big, 101, 0, &[(9, &[0x80 | 20]), (14, &off)]));
    // Name resolution, interface statistics, custom, decryption secrets, unknown: skipped.
    push(&mut v, ng_block(big, 4, &[0, 0, 0, 0]));
    push(&mut v, ng_block(big, 5, &[0; 12]));
    push(
        &mut v,
        ng_block(big, 0x0000_0BAD, &[0, 0, 0x7e, 0x2b, 1, 2, 3]),
    );
    push(
        &mut v,
        ng_block(big, 0x0A, &[0x4b, 0x53, 0x4c, 0x4b, 0, 0, 0, 0]),
    );
    push(&mut v, ng_block(big, 0x7777_0001, &[1, 2, 3, 4, 5]));
    let ns0 = T0 * 1_000_000_000 + 5;
    push(&mut v, epb(big, 0, ns0, &[0xaa; 14], 14));
    // 2^-20 s ticks: 3.5 s after T0 = (T0 + 3.5) * 2^20 ticks, minus the one-hour offset.
    let ticks = ((T0 - 3600) << 20) + (7 << 19);
    push(&mut v, epb(big, 1, ticks, &[0x45, 0, 0, 20], 40));
    push(&mut v, spb(big, 100, &[0xbb; 100]));
    push(&mut v, epb(big, 0, ns0 + 1_000, &[0xcc; 3], 3));
    let frames = vec![
        frame(ns0, 1, &[0xaa; 14], 14),
        frame(
            T0 * 1_000_000_000 + 3_500_000_000,
            101,
            &[0x45, 0, 0, 20],
            40,
        ),
        // SPB: previous packet's time, interface 0, cut to its snaplen of 64.
        frame(T0 * 1_000_000_000 + 3_500_000_000, 1, &[0xbb; 64], 100),
        frame(ns0 + 1_000, 1, &[0xcc; 3], 3),
    ];
    (v, ends, frames)
}

// ---------------------------------------------------------------- pcap

#[test]
fn pcap_in_both_byte_orders_and_resolutions() {
    for big in [false, true] {
        for nanos in [false, true] {
            let (bytes, _) = pcap_file(big, nanos);
            let rd = CaptureReader::new(&bytes[..]).unwrap();
            assert_eq!(rd.format(), Format::Pcap);
            let frames = read_ok(&bytes);
            let scale = if nanos { 1 } else { 1_000 };
            assert_eq!(
                frames,
                vec![
                    frame(T0 * 1_000_000_000 + 123_456 * scale, 1, &[1, 2, 3, 4, 5], 5),
                    frame((T0 + 1) * 1_000_000_000 + 7 * scale, 1, &[9; 60], 1514),
                    frame((T0 + 2) * 1_000_000_000, 1, &[], 0),
                ],
                "big={big} nanos={nanos}"
            );
        }
    }
}

#[test]
fn pcap_link_type_keeps_low_16_bits() {
    // draft-ietf-opsawg-pcap §4: FCS length in the top bits.
    let mut v = pcap_header(false, false, 0x1000_0000 | 113);
    pcap_record(&mut v, false, 1, 0, &[1], 1);
    assert_eq!(read_ok(&v)[0].link, 113);
}

#[test]
fn pcap_modified_format() {
    let mut v = Vec::new();
    put32(&mut v, false, 0xa1b2_cd34);
    v.extend_from_slice(&pcap_header(false, false, 1)[4..]);
    put32(&mut v, false, 10);
    put32(&mut v, false, 20);
    put32(&mut v, false, 2);
    put32(&mut v, false, 2);
    v.extend_from_slice(&[0; 8]); // ifindex, protocol, pkt_type, pad
    v.extend_from_slice(&[7, 8]);
    assert_eq!(read_ok(&v), vec![frame(10_000_020_000, 1, &[7, 8], 2)]);
}

#[test]
fn pcap_orig_len_never_below_captured() {
    let mut v = pcap_header(false, false, 1);
    pcap_record(&mut v, false, 1, 0, &[1, 2, 3], 1);
    assert_eq!(read_ok(&v)[0].orig_len, 3);
}

#[test]
fn pcap_record_claiming_4gib_is_corrupt() {
    let mut v = pcap_header(false, false, 1);
    let at = v.len();
    put32(&mut v, false, 1);
    put32(&mut v, false, 0);
    put32(&mut v, false, u32::MAX);
    put32(&mut v, false, u32::MAX);
    v.extend_from_slice(&[0; 100]);
    let (frames, _, err) = read_all(&v[..]);
    assert!(frames.is_empty());
    match err {
        Some(CaptureError::Corrupt { offset, detail }) => {
            assert_eq!(offset, at as u64 + 8);
            assert!(detail.contains("4294967295"), "{detail}");
        }
        e => panic!("expected Corrupt, got {e:?}"),
    }
}

// ---------------------------------------------------------------- pcapng

#[test]
fn pcapng_interfaces_resolutions_and_spb() {
    for big in [false, true] {
        let (bytes, _, want) = pcapng_file(big);
        let rd = CaptureReader::new(&bytes[..]).unwrap();
        assert_eq!(rd.format(), Format::PcapNg);
        assert_eq!(read_ok(&bytes), want, "big={big}");
    }
}

#[test]
fn pcapng_default_resolution_is_microseconds() {
    let mut v = shb(false);
    v.extend(idb(false, 1, 0, &[]));
    v.extend(epb(false, 0, 1_500_000, &[1], 1));
    assert_eq!(read_ok(&v), vec![frame(1_500_000_000, 1, &[1], 1)]);
}

#[test]
fn pcapng_sections_reset_interfaces_and_may_switch_byte_order() {
    let (first, _, mut want) = pcapng_file(false);
    let mut v = first;
    // Second section, big-endian, one interface: raw IPv6 at 10^-6.
    v.extend(shb(true));
    v.extend(idb(true, 229, 0, &[(9, &[6])]));
    v.extend(epb(true, 0, 2_000_001, &[0x60], 1));
    want.push(frame(2_000_001_000, 229, &[0x60], 1));
    assert_eq!(read_ok(&v), want);

    // An interface of the first section does not exist in the second.
    let mut v = shb(false);
    v.extend(idb(false, 1, 0, &[]));
    v.extend(idb(false, 1, 0, &[]));
    v.extend(shb(false));
    v.extend(idb(false, 1, 0, &[]));
    let at = v.len();
    v.extend(epb(false, 1, 0, &[1], 1));
    match read_all(&v[..]).2 {
        Some(CaptureError::Corrupt { offset, .. }) => assert_eq!(offset, at as u64 + 8),
        e => panic!("expected Corrupt, got {e:?}"),
    }
}

#[test]
fn timestamp_units() {
    assert_eq!(TsUnit::from_tsresol(6).to_nanos(1), 1_000);
    assert_eq!(TsUnit::from_tsresol(9).to_nanos(7), 7);
    assert_eq!(TsUnit::from_tsresol(12).to_nanos(7_000), 7);
    assert_eq!(TsUnit::from_tsresol(0).to_nanos(u64::MAX), u64::MAX);
    assert_eq!(TsUnit::from_tsresol(127).to_nanos(u64::MAX), 0);
    assert_eq!(TsUnit::from_tsresol(0x80 | 1).to_nanos(3), 1_500_000_000);
    assert_eq!(
        TsUnit::from_tsresol(0x80 | 30).to_nanos(1 << 30),
        1_000_000_000
    );
    assert_eq!(TsUnit::from_tsresol(0x80).to_nanos(u64::MAX), u64::MAX);
    assert_eq!(TsUnit::from_tsresol(0xff).to_nanos(u64::MAX), 0);
    assert_eq!(with_offset(5, -1), 0);
    assert_eq!(with_offset(5, 2), 2_000_000_005);
    assert_eq!(with_offset(u64::MAX, i64::MAX), u64::MAX);
}

#[test]
fn pcapng_block_claiming_4gib_is_corrupt() {
    let mut v = shb(false);
    v.extend(idb(false, 1, 0, &[]));
    let at = v.len();
    put32(&mut v, false, 6);
    put32(&mut v, false, 0xffff_fffc);
    v.extend_from_slice(&[0; 64]);
    let (frames, _, err) = read_all(&v[..]);
    assert!(frames.is_empty());
    match err {
        Some(CaptureError::Corrupt { offset, detail }) => {
            assert_eq!(offset, at as u64 + 4);
            assert!(detail.contains("4294967292"), "{detail}");
        }
        e => panic!("expected Corrupt, got {e:?}"),
    }
}

#[test]
fn pcapng_damaged_blocks_are_corrupt_with_offset() {
    let base = {
        let mut v = shb(false);
        v.extend(idb(false, 1, 0, &[]));
        v
    };
    let at = base.len() as u64;
    let corrupt_at = |v: &[u8]| match read_all(v).2 {
        Some(CaptureError::Corrupt { offset, detail }) => (offset, detail),
        e => panic!("expected Corrupt, got {e:?}"),
    };

    // Length not a multiple of 4.
    let mut v = base.clone();
    put32(&mut v, false, 6);
    put32(&mut v, false, 33);
    v.extend_from_slice(&[0; 40]);
    assert_eq!(corrupt_at(&v).0, at + 4);

    // Trailing length differs.
    let mut v = base.clone();
    let mut b = epb(false, 0, 0, &[1, 2, 3, 4], 4);
    let n = b.len();
    b[n - 1] = 9;
    v.extend(b);
    let (offset, detail) = corrupt_at(&v);
    assert_eq!(offset, at + n as u64 - 4);
    assert!(detail.contains("trailing"), "{detail}");

    // Captured length beyond the block.
    let mut v = base.clone();
    let mut b = epb(false, 0, 0, &[1, 2, 3, 4], 4);
    b[20..24].copy_from_slice(&400u32.to_le_bytes());
    v.extend(b);
    assert!(corrupt_at(&v).0 >= at);

    // SPB before any interface.
    let mut v = shb(false);
    v.extend(spb(false, 1, &[1]));
    assert!(corrupt_at(&v).1.contains("interface"));

    // Unknown byte-order magic in a later section header.
    let mut v = base.clone();
    let mut b = shb(false);
    b[8..12].copy_from_slice(&[1, 2, 3, 4]);
    v.extend(b);
    assert_eq!(corrupt_at(&v).0, at + 8);
}

#[test]
fn too_many_interfaces_is_corrupt() {
    let mut v = shb(false);
    let one = idb(false, 1, 0, &[]);
    for _ in 0..=MAX_INTERFACES {
        v.extend_from_slice(&one);
    }
    let (_, _, err) = read_all(&v[..]);
    assert!(matches!(err, Some(CaptureError::Corrupt { .. })), "{err:?}");
}

#[test]
fn block_larger_than_the_buffer_grows_it() {
    let big = vec![0x5a; BUF_SIZE * 3 + 1];
    let mut v = shb(false);
    v.extend(idb(false, 1, 0, &[]));
    v.extend(epb(false, 0, 1, &[1], 1));
    v.extend(epb(false, 0, 2, &big, big.len() as u32));
    v.extend(epb(false, 0, 3, &[3], 1));
    let frames = read_ok(&v);
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[1].data, big);
    assert_eq!(frames[2].data, vec![3]);
}

#[test]
fn a_length_field_alone_does_not_grow_the_buffer() {
    let mut v = shb(false);
    v.extend(idb(false, 1, 0, &[]));
    put32(&mut v, false, 6);
    put32(&mut v, false, MAX_BLOCK as u32);
    v.extend_from_slice(&[0; 1000]);
    let mut rd = CaptureReader::new(&v[..]).unwrap();
    assert!(rd.next_frame().unwrap().is_none());
    assert!(rd.truncated_tail());
    assert_eq!(rd.buf.len(), BUF_SIZE);

    // Real bytes do grow it, by doubling.
    v.resize(v.len() + BUF_SIZE, 0);
    let mut rd = CaptureReader::new(&v[..]).unwrap();
    assert!(rd.next_frame().unwrap().is_none());
    assert_eq!(rd.buf.len(), BUF_SIZE * 2);
}

// ---------------------------------------------------------------- not a capture

#[test]
fn empty_input() {
    assert!(matches!(
        CaptureReader::new(&b""[..]),
        Err(CaptureError::Empty)
    ));
}

#[test]
fn text_is_not_a_capture() {
    match CaptureReader::new(&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..]) {
        Err(CaptureError::NotACapture(s)) => {
            assert_eq!(s, "47 45 54 20 2f 20 48 54 54 50 2f 31 2e 31 0d 0a ...")
        }
        Err(e) => panic!("expected NotACapture, got {e:?}"),
        Ok(_) => panic!("expected NotACapture"),
    }
    match CaptureReader::new(&b"hi"[..]) {
        Err(CaptureError::NotACapture(s)) => assert_eq!(s, "68 69"),
        Err(e) => panic!("expected NotACapture, got {e:?}"),
        Ok(_) => panic!("expected NotACapture"),
    }
}

// ---------------------------------------------------------------- cut files and streaming

/// Every prefix of `bytes` reads without error, returns the frames whose blocks are complete,
/// and flags a cut unless it falls on a block boundary.
fn check_every_prefix(bytes: &[u8], ends: &[usize], frames: &[Owned], frame_ends: &[usize]) {
    for n in 1..=bytes.len() {
        let (got, truncated, err) = read_all(&bytes[..n]);
        assert!(err.is_none(), "prefix {n}: {err:?}");
        let complete = frame_ends.iter().filter(|&&e| e <= n).count();
        assert_eq!(got, frames[..complete], "prefix {n}");
        assert_eq!(truncated, !ends.contains(&n), "prefix {n}");
    }
}

#[test]
fn every_prefix_of_a_pcap() {
    let (bytes, ends) = pcap_file(true, false);
    let frames = read_ok(&bytes);
    check_every_prefix(&bytes, &ends, &frames, &ends[1..]);
}

#[test]
fn every_prefix_of_a_pcapng() {
    let (bytes, ends, frames) = pcapng_file(false);
    // The packet blocks are the last four.
    let frame_ends = &ends[ends.len() - 4..];
    check_every_prefix(&bytes, &ends, &frames, frame_ends);
}

/// Serves its bytes in the given chunk sizes (cycling), with an `Interrupted` between chunks.
struct Chunked {
    data: Vec<u8>,
    pos: usize,
    sizes: Vec<usize>,
    turn: usize,
    interrupt: bool,
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.interrupt = !self.interrupt;
        if self.interrupt {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let size = self.sizes[self.turn % self.sizes.len()].max(1);
        self.turn += 1;
        let n = size.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn chunked(data: &[u8], sizes: Vec<usize>) -> Chunked {
    Chunked {
        data: data.to_vec(),
        pos: 0,
        sizes,
        turn: 0,
        interrupt: false,
    }
}

#[test]
fn one_byte_per_read_gives_the_same_frames() {
    let (ng, _, want) = pcapng_file(true);
    let (frames, truncated, err) = read_all(chunked(&ng, vec![1]));
    assert!(err.is_none() && !truncated);
    assert_eq!(frames, want);
    let (pcap, _) = pcap_file(false, true);
    let (frames, _, err) = read_all(chunked(&pcap, vec![1]));
    assert!(err.is_none());
    assert_eq!(frames, read_ok(&pcap));
}

/// A pipe: serves what was pushed, and fails the test if read when it has nothing.
#[derive(Clone, Default)]
struct Pipe(Rc<RefCell<VecDeque<u8>>>);

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut q = self.0.borrow_mut();
        assert!(
            !q.is_empty(),
            "read while the writer has written nothing more"
        );
        let n = buf.len().min(q.len());
        for (b, x) in buf.iter_mut().zip(q.drain(..n)) {
            *b = x;
        }
        Ok(n)
    }
}

#[test]
fn a_frame_comes_out_as_soon_as_its_block_is_complete() {
    let pipe = Pipe::default();
    let push = |b: &[u8]| pipe.0.borrow_mut().extend(b.iter().copied());
    push(&shb(false));
    let mut rd = CaptureReader::new(pipe.clone()).unwrap();
    push(&idb(false, 1, 0, &[]));
    let first = epb(false, 0, 1, &[1, 2], 2);
    push(&first[..10]);
    push(&first[10..]);
    assert_eq!(rd.next_frame().unwrap().unwrap().data, &[1, 2]);
    let second = epb(false, 0, 2, &[3], 1);
    push(&second[..5]);
    push(&second[5..]);
    assert_eq!(rd.next_frame().unwrap().unwrap().data, &[3]);

    // Same for pcap: the header is read without waiting for a packet.
    let pipe = Pipe::default();
    let push = |b: &[u8]| pipe.0.borrow_mut().extend(b.iter().copied());
    push(&pcap_header(false, false, 1));
    let mut rd = CaptureReader::new(pipe.clone()).unwrap();
    let mut rec = Vec::new();
    pcap_record(&mut rec, false, 1, 2, &[4, 5, 6], 3);
    push(&rec);
    assert_eq!(rd.next_frame().unwrap().unwrap().data, &[4, 5, 6]);
}

#[test]
fn needs_input_tells_when_the_next_frame_would_read() {
    let pipe = Pipe::default();
    let push = |b: &[u8]| pipe.0.borrow_mut().extend(b.iter().copied());
    push(&shb(false));
    let mut rd = CaptureReader::new(pipe.clone()).unwrap();
    assert!(rd.needs_input());
    let p3 = epb(false, 0, 3, &[3], 1);
    push(&idb(false, 1, 0, &[]));
    push(&epb(false, 0, 1, &[1], 1));
    push(&epb(false, 0, 2, &[2], 1));
    push(&p3[..9]);
    assert_eq!(rd.next_frame().unwrap().unwrap().data, &[1]);
    // The second packet is buffered: taking it reads nothing (the pipe is empty).
    assert!(!rd.needs_input());
    assert_eq!(rd.next_frame().unwrap().unwrap().data, &[2]);
    assert!(rd.needs_input());
    push(&p3[9..]);
    assert_eq!(rd.next_frame().unwrap().unwrap().data, &[3]);

    // Whole file in one read: every frame is buffered until the last is taken.
    let (bytes, _, want) = pcapng_file(true);
    let mut rd = CaptureReader::new(&bytes[..]).unwrap();
    for _ in 0..want.len() {
        assert!(rd.next_frame().unwrap().is_some());
    }
    assert!(rd.needs_input());
    assert!(rd.next_frame().unwrap().is_none());
    assert!(!rd.needs_input());

    let (bytes, _) = pcap_file(false, false);
    let mut rd = CaptureReader::new(&bytes[..]).unwrap();
    assert!(!rd.needs_input());
    rd.next_frame().unwrap();
    rd.next_frame().unwrap();
    assert!(!rd.needs_input());
    rd.next_frame().unwrap();
    assert!(rd.needs_input());
}

#[test]
fn read_errors_surface_as_io() {
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }
    assert!(matches!(
        CaptureReader::new(Broken),
        Err(CaptureError::Io(_))
    ));
}

proptest! {
    #[test]
    fn any_split_gives_the_same_frames(
        sizes in proptest::collection::vec(1usize..200, 1..20),
        big in any::<bool>(),
    ) {
        let (bytes, _, want) = pcapng_file(big);
        let (frames, truncated, err) = read_all(chunked(&bytes, sizes));
        prop_assert!(err.is_none());
        prop_assert!(!truncated);
        prop_assert_eq!(frames, want);
    }

    #[test]
    fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..400)) {
        for head in [shb(false), shb(true), pcap_header(false, false, 1), pcap_header(true, true, 1)] {
            let mut v = head;
            v.extend(idb(false, 1, 0, &[]));
            v.extend_from_slice(&tail);
            let _ = read_all(&v[..]);
        }
    }
}

// ---------------------------------------------------------------- flaws named for what they are

#[test]
fn a_record_longer_than_the_snap_length_is_corrupt_not_cut_short() {
    // The header says 65535; the record claims 70,000 and the file ends long before.
    let mut v = pcap_header(false, false, 1);
    pcap_record(&mut v, false, 1, 0, &[1, 2, 3], 3);
    let at = v.len();
    put32(&mut v, false, 2);
    put32(&mut v, false, 0);
    put32(&mut v, false, 70_000);
    put32(&mut v, false, 70_000);
    v.extend_from_slice(&[0; 100]);
    let (frames, truncated, err) = read_all(&v[..]);
    assert_eq!(frames.len(), 1);
    assert!(!truncated);
    match err {
        Some(CaptureError::Corrupt { offset, detail }) => {
            assert_eq!(offset, at as u64 + 8);
            assert_eq!(
                detail,
                "packet record claims 70000 captured bytes, more than the file's snap length 65535"
            );
        }
        e => panic!("expected Corrupt, got {e:?}"),
    }
    // pcapng: an EPB beyond its interface's snap length.
    let mut v = shb(false);
    v.extend(idb(false, 1, 64, &[]));
    v.extend(epb(false, 0, 1, &[7; 80], 80));
    let (frames, _, err) = read_all(&v[..]);
    assert!(frames.is_empty());
    assert!(
        matches!(&err, Some(CaptureError::Corrupt { detail, .. }) if detail.contains("snap length 64")),
        "{err:?}"
    );
}

#[test]
fn a_file_shorter_than_its_header_says_so() {
    let full = pcap_header(false, false, 1);
    for n in 1..full.len() {
        let rd = CaptureReader::new(&full[..n]).unwrap();
        assert_eq!(rd.cut(), Some(Cut::FileHeader { have: n, need: 24 }), "{n}");
    }
    let rd = CaptureReader::new(&full[..]).unwrap();
    assert_eq!(rd.cut(), None);
    let ng = shb(false);
    for n in 1..ng.len() {
        let rd = CaptureReader::new(&ng[..n]).unwrap();
        assert_eq!(
            rd.cut(),
            Some(Cut::FileHeader {
                have: n,
                // The block's length and byte order are known from its 12th byte.
                need: if n < 12 { 28 } else { ng.len() },
            }),
            "{n}"
        );
    }
    // Cut inside a packet: said so, not as a header.
    let (bytes, ends) = pcap_file(false, false);
    let mut rd = CaptureReader::new(&bytes[..ends[1] + 3]).unwrap();
    while rd.next_frame().unwrap().is_some() {}
    assert_eq!(rd.cut(), Some(Cut::Packet));
}

#[test]
fn timestamps_out_of_range_are_counted_with_the_first_frame() {
    for nanos in [false, true] {
        let one = if nanos { 1_000_000_000 } else { 1_000_000 };
        let mut v = pcap_header(false, nanos, 1);
        pcap_record(&mut v, false, 10, one - 1, &[1], 1);
        pcap_record(&mut v, false, 10, one, &[2], 1);
        pcap_record(&mut v, false, 10, u32::MAX, &[3], 1);
        let mut rd = CaptureReader::new(&v[..]).unwrap();
        let mut ts = Vec::new();
        while let Some(f) = rd.next_frame().unwrap() {
            ts.push(f.ts.0);
        }
        assert_eq!(rd.timestamps_out_of_range(), (2, Some(2)), "nanos {nanos}");
        // The time is kept as the fields say (it is what tcpdump shows), only flagged.
        assert_eq!(ts[1], 11_000_000_000);
    }
}

/// Reads at most `n` bytes per call, so blocks straddle the reader's buffer refills.
struct Dribble<'a> {
    bytes: &'a [u8],
    n: usize,
}

impl Read for Dribble<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.n.min(buf.len()).min(self.bytes.len());
        let (head, rest) = self.bytes.split_at(n);
        buf[..n].copy_from_slice(head);
        self.bytes = rest;
        Ok(n)
    }
}

/// `frame_offset` points at each frame's bytes in the file, for every committed capture (pcap
/// and pcapng), whether the input comes whole or a few bytes per read.
#[test]
fn frame_offset_points_at_the_frame_in_the_file() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/captures");
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let ext = path.extension().and_then(|e| e.to_str());
        if !matches!(ext, Some("pcap" | "pcapng")) {
            continue;
        }
        files += 1;
        let bytes = std::fs::read(&path).unwrap();
        for n in [usize::MAX, 4093, 7] {
            let mut rd = CaptureReader::new(Dribble { bytes: &bytes, n }).unwrap();
            let mut frames = 0;
            while let Some(f) = rd.next_frame().unwrap() {
                let len = f.data.len();
                let data = f.data.to_vec();
                let at = rd.frame_offset() as usize;
                assert_eq!(bytes.get(at..at + len), Some(&data[..]), "{path:?} n={n}");
                frames += 1;
            }
            assert!(frames > 0, "{path:?}");
        }
    }
    assert!(files > 20);
}
