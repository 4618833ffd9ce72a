//! Writes captured frames as pcapng (draft-ietf-opsawg-pcapng), streaming: a Section Header
//! Block first, an Interface Description Block the first time a link type is seen, one Enhanced
//! Packet Block per frame, and at the end, optionally, an Interface Statistics Block with the
//! kernel's counters. Everything is little-endian (the byte-order magic says so; readers of
//! either endianness accept it). Timestamps are nanoseconds (`if_tsresol` = 9), as captured.

use std::io::{self, Write};

use crate::capture::{LinkType, RawFrame};
use crate::model::Timestamp;

// Block types (pcapng §4).
const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 0x0000_0001;
const ISB: u32 = 0x0000_0005;
const EPB: u32 = 0x0000_0006;
const DSB: u32 = 0x0000_000A;
/// Decryption Secrets Block secrets type: a TLS key log ("TLSK").
const DSB_TLS_KEY_LOG: u32 = 0x544c_534b;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

// Option codes (pcapng §4.2, §4.6).
const OPT_END: u16 = 0;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;
const IF_TSRESOL: u16 = 9;
const IF_FILTER: u16 = 11;
const ISB_STARTTIME: u16 = 2;
const ISB_ENDTIME: u16 = 3;
const ISB_IFRECV: u16 = 4;
const ISB_IFDROP: u16 = 5;
const ISB_USRDELIV: u16 = 8;

/// EPB fixed part: type, total length, interface id, timestamp (high, low), captured length,
/// original length.
const EPB_HEADER: usize = 28;

/// What the section and interface blocks say about the capture.
#[derive(Debug, Clone, Default)]
pub struct WriterOptions {
    /// `shb_userappl`: the program that wrote the file.
    pub application: String,
    /// `if_name` of every interface block.
    pub if_name: Option<String>,
    /// `if_filter`, as a filter string (tcpdump syntax).
    pub filter: Option<String>,
    /// Snap length written in interface blocks (0 = no limit).
    pub snaplen: u32,
}

/// Counters for the closing Interface Statistics Block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InterfaceStats {
    pub start: Option<Timestamp>,
    pub end: Timestamp,
    /// `isb_ifrecv`: packets received (by the kernel filter).
    pub received: u64,
    /// `isb_ifdrop`: packets dropped by the kernel for want of buffer space.
    pub dropped: u64,
    /// `isb_usrdeliv`: packets delivered to synscope.
    pub delivered: u64,
}

/// A pcapng stream being written to `W`.
pub struct PcapngWriter<W: Write> {
    w: W,
    opts: WriterOptions,
    /// Link type of each interface block written, by interface id.
    interfaces: Vec<LinkType>,
    frames: u64,
}

const PAD: [u8; 4] = [0; 4];

fn pad_len(n: usize) -> usize {
    (4 - n % 4) % 4
}

/// Appends one option (code, length, value, padding to 32 bits). Values longer than an option
/// can say (65535 bytes) are cut.
fn push_option(buf: &mut Vec<u8>, code: u16, value: &[u8]) {
    let value = value.get(..usize::from(u16::MAX)).unwrap_or(value);
    buf.extend_from_slice(&code.to_le_bytes());
    buf.extend_from_slice(&(value.len() as u16).to_le_bytes());
    buf.extend_from_slice(value);
    buf.extend_from_slice(&PAD[..pad_len(value.len())]);
}

/// Writes a block whose body (everything between the length fields) is `body`.
fn write_block<W: Write>(w: &mut W, kind: u32, body: &[u8]) -> io::Result<()> {
    let total = u32::try_from(12 + body.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pcapng block too large"))?;
    w.write_all(&kind.to_le_bytes())?;
    w.write_all(&total.to_le_bytes())?;
    w.write_all(body)?;
    w.write_all(&total.to_le_bytes())
}

/// A timestamp in `if_tsresol` 9 units, split as pcapng stores it (high word first).
fn split_ts(ts: Timestamp) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&((ts.0 >> 32) as u32).to_le_bytes());
    b[4..].copy_from_slice(&(ts.0 as u32).to_le_bytes());
    b
}

impl<W: Write> PcapngWriter<W> {
    /// Starts a section: writes the Section Header Block.
    pub fn new(mut w: W, opts: WriterOptions) -> io::Result<Self> {
        let mut body = Vec::with_capacity(64);
        body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        // Section length unknown (we stream): -1.
        body.extend_from_slice(&(-1i64).to_le_bytes());
        if !opts.application.is_empty() {
            push_option(&mut body, SHB_USERAPPL, opts.application.as_bytes());
            push_option(&mut body, OPT_END, &[]);
        }
        write_block(&mut w, SHB, &body)?;
        Ok(PcapngWriter {
            w,
            opts,
            interfaces: Vec::new(),
            frames: 0,
        })
    }

    /// The interface id for `link`, writing its Interface Description Block the first time.
    fn interface(&mut self, link: LinkType) -> io::Result<u32> {
        if let Some(i) = self.interfaces.iter().position(|l| *l == link) {
            return Ok(i as u32);
        }
        let link16 = u16::try_from(link.0).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "link type does not fit pcapng")
        })?;
        let mut body = Vec::with_capacity(64);
        body.extend_from_slice(&link16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&self.opts.snaplen.to_le_bytes());
        if let Some(name) = &self.opts.if_name {
            push_option(&mut body, IF_NAME, name.as_bytes());
        }
        // if_tsresol: 10^-9 s.
        push_option(&mut body, IF_TSRESOL, &[9]);
        if let Some(f) = &self.opts.filter {
            // First byte 0: a filter string in libpcap syntax.
            let mut v = Vec::with_capacity(f.len() + 1);
            v.push(0);
            v.extend_from_slice(f.as_bytes());
            push_option(&mut body, IF_FILTER, &v);
        }
        push_option(&mut body, OPT_END, &[]);
        write_block(&mut self.w, IDB, &body)?;
        self.interfaces.push(link);
        Ok(self.interfaces.len() as u32 - 1)
    }

    /// Appends one frame as an Enhanced Packet Block. No allocation: the fixed header is built
    /// on the stack.
    pub fn write_frame(&mut self, frame: &RawFrame) -> io::Result<()> {
        let id = self.interface(frame.link)?;
        let caplen = frame.data.len();
        let pad = pad_len(caplen);
        let total = u32::try_from(EPB_HEADER + caplen + pad + 4)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
        let mut h = [0u8; EPB_HEADER];
        h[0..4].copy_from_slice(&EPB.to_le_bytes());
        h[4..8].copy_from_slice(&total.to_le_bytes());
        h[8..12].copy_from_slice(&id.to_le_bytes());
        h[12..20].copy_from_slice(&split_ts(frame.ts));
        h[20..24].copy_from_slice(&(caplen as u32).to_le_bytes());
        h[24..28].copy_from_slice(&frame.orig_len.max(caplen as u32).to_le_bytes());
        self.w.write_all(&h)?;
        self.w.write_all(frame.data)?;
        self.w.write_all(&PAD[..pad])?;
        self.w.write_all(&total.to_le_bytes())?;
        self.frames += 1;
        Ok(())
    }

    /// Appends an Interface Statistics Block for the interface of `link` (writing its
    /// description first if no frame was written).
    pub fn write_stats(&mut self, link: LinkType, s: &InterfaceStats) -> io::Result<()> {
        let id = self.interface(link)?;
        let mut body = Vec::with_capacity(96);
        body.extend_from_slice(&id.to_le_bytes());
        body.extend_from_slice(&split_ts(s.end));
        if let Some(start) = s.start {
            push_option(&mut body, ISB_STARTTIME, &split_ts(start));
        }
        push_option(&mut body, ISB_ENDTIME, &split_ts(s.end));
        push_option(&mut body, ISB_IFRECV, &s.received.to_le_bytes());
        push_option(&mut body, ISB_IFDROP, &s.dropped.to_le_bytes());
        push_option(&mut body, ISB_USRDELIV, &s.delivered.to_le_bytes());
        push_option(&mut body, OPT_END, &[]);
        write_block(&mut self.w, ISB, &body)
    }

    /// Appends a Decryption Secrets Block holding NSS key log lines (what `editcap
    /// --inject-secrets tls,KEYS` writes): readers that know pcapng (synscope, Wireshark)
    /// decrypt the frames after it with them. Write it before the frames it decrypts.
    pub fn write_tls_secrets(&mut self, key_log: &[u8]) -> io::Result<()> {
        if key_log.is_empty() {
            return Ok(());
        }
        let len = u32::try_from(key_log.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "secrets too large"))?;
        let mut body = Vec::with_capacity(8 + key_log.len() + 3);
        body.extend_from_slice(&DSB_TLS_KEY_LOG.to_le_bytes());
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(key_log);
        body.extend_from_slice(&PAD[..pad_len(key_log.len())]);
        write_block(&mut self.w, DSB, &body)
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    /// Flushes and returns the writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
    use pcap_parser::{Block, PcapBlockOwned, PcapError, PcapNGReader};

    fn frame(ts: u64, link: LinkType, data: &[u8], orig_len: u32) -> RawFrame<'_> {
        RawFrame {
            ts: Timestamp(ts),
            link,
            data,
            orig_len,
        }
    }

    fn opts() -> WriterOptions {
        WriterOptions {
            application: "synscope test".into(),
            if_name: Some("lo".into()),
            filter: Some("tcp and port 8080".into()),
            snaplen: 262_144,
        }
    }

    /// (interface id, timestamp, data, original length) of one packet block.
    type Packet = (u32, u64, Vec<u8>, u32);

    /// Everything pcap-parser (an independent reader) finds in `bytes`: interfaces (id, link
    /// type), packets, and the number of statistics blocks.
    fn read_back(bytes: &[u8]) -> (Vec<(u32, u16)>, Vec<Packet>, usize) {
        let mut r = PcapNGReader::new(1 << 20, bytes).unwrap();
        let (mut idbs, mut pkts, mut isbs) = (Vec::new(), Vec::new(), 0);
        loop {
            match r.next() {
                Ok((n, block)) => {
                    match block {
                        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                            assert_eq!(idb.if_tsresol, 9);
                            assert_eq!(idb.snaplen, 262_144);
                            idbs.push((idbs.len() as u32, idb.linktype.0 as u16));
                        }
                        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                            let ts = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                            pkts.push((epb.if_id, ts, epb.packet_data().to_vec(), epb.origlen));
                        }
                        PcapBlockOwned::NG(Block::InterfaceStatistics(_)) => isbs += 1,
                        PcapBlockOwned::NG(Block::SectionHeader(_)) => {}
                        _ => panic!("unexpected block"),
                    }
                    r.consume(n);
                }
                Err(PcapError::Eof) => break,
                Err(PcapError::Incomplete(_)) => r.refill().unwrap(),
                Err(e) => panic!("{e:?}"),
            }
        }
        (idbs, pkts, isbs)
    }

    #[test]
    fn frames_round_trip_through_an_independent_reader() {
        let mut w = PcapngWriter::new(Vec::new(), opts()).unwrap();
        // Lengths 0..=5 exercise every padding.
        let payloads: Vec<Vec<u8>> = (0..6u8).map(|n| (0..n).collect()).collect();
        for (i, p) in payloads.iter().enumerate() {
            let ts = 1_700_000_000_123_456_789 + i as u64;
            w.write_frame(&frame(ts, LinkType::ETHERNET, p, p.len() as u32 + 100))
                .unwrap();
        }
        w.write_frame(&frame(5, LinkType::RAW, b"raw", 3)).unwrap();
        w.write_frame(&frame(6, LinkType::ETHERNET, b"eth", 3))
            .unwrap();
        let stats = InterfaceStats {
            start: Some(Timestamp(1)),
            end: Timestamp(9),
            received: 8,
            dropped: 0,
            delivered: 8,
        };
        w.write_stats(LinkType::ETHERNET, &stats).unwrap();
        assert_eq!(w.frames(), 8);
        let bytes = w.into_inner().unwrap();
        assert_eq!(bytes.len() % 4, 0);

        let (idbs, pkts, isbs) = read_back(&bytes);
        assert_eq!(idbs, vec![(0, 1), (1, 101)], "one interface per link type");
        assert_eq!(isbs, 1);
        assert_eq!(pkts.len(), 8);
        for (i, p) in payloads.iter().enumerate() {
            assert_eq!(pkts[i].0, 0);
            assert_eq!(pkts[i].1, 1_700_000_000_123_456_789 + i as u64, "ns kept");
            assert_eq!(&pkts[i].2, p);
            assert_eq!(pkts[i].3, p.len() as u32 + 100);
        }
        assert_eq!((pkts[6].0, pkts[6].2.as_slice()), (1, &b"raw"[..]));
        assert_eq!((pkts[7].0, pkts[7].2.as_slice()), (0, &b"eth"[..]));
    }

    #[test]
    fn empty_capture_is_a_valid_file() {
        let w = PcapngWriter::new(Vec::new(), WriterOptions::default()).unwrap();
        let bytes = w.into_inner().unwrap();
        assert_eq!(bytes.len(), 28);
        let (idbs, pkts, _) = read_back(&bytes);
        assert!(idbs.is_empty() && pkts.is_empty());
    }

    #[test]
    fn block_lengths_frame_every_block() {
        let mut w = PcapngWriter::new(Vec::new(), opts()).unwrap();
        w.write_frame(&frame(1, LinkType::ETHERNET, b"abcde", 5))
            .unwrap();
        w.write_stats(LinkType::ETHERNET, &InterfaceStats::default())
            .unwrap();
        let b = w.into_inner().unwrap();
        // Walk blocks by their leading length and check the trailing copy of each.
        let mut off = 0;
        let mut kinds = Vec::new();
        let mut lens = Vec::new();
        while off < b.len() {
            let kind = u32::from_le_bytes(b[off..off + 4].try_into().unwrap());
            let len = u32::from_le_bytes(b[off + 4..off + 8].try_into().unwrap()) as usize;
            assert_eq!(len % 4, 0);
            let tail = u32::from_le_bytes(b[off + len - 4..off + len].try_into().unwrap());
            assert_eq!(tail as usize, len);
            kinds.push(kind);
            lens.push(len);
            off += len;
        }
        assert_eq!(kinds, vec![SHB, IDB, EPB, ISB]);
        // EPB: 28 header + 5 data + 3 padding + 4 trailer.
        assert_eq!(lens[2], 40);
    }

    #[test]
    fn large_option_values_are_cut_not_refused() {
        let mut o = opts();
        o.if_name = Some("x".repeat(70_000));
        let mut w = PcapngWriter::new(Vec::new(), o).unwrap();
        w.write_frame(&frame(1, LinkType::ETHERNET, b"a", 1))
            .unwrap();
        let (idbs, pkts, _) = read_back(&w.into_inner().unwrap());
        assert_eq!((idbs.len(), pkts.len()), (1, 1));
    }
}
