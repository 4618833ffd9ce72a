//! Capture sources: pcap and pcapng files or streams, read frame by frame.
//!
//! [`CaptureReader`] streams frames out of any [`Read`] with a fixed-size buffer: memory does not
//! grow with the file. A block larger than the buffer grows it, up to [`MAX_BLOCK`]; a block
//! claiming more is `Corrupt`. A frame is returned as soon as its block is complete, so a pipe
//! that is still being written (`tcpdump -U -w - | synscope decode -`) is decoded live.
//!
//! Block layouts come from pcap-parser's block parsers; this module does the framing (how long a
//! block is, whether all of it is buffered), the per-section and per-interface state of pcapng
//! (byte order, link type, snap length, timestamp resolution and offset) and the timestamps.

#[cfg(target_os = "linux")]
pub mod live;
pub mod pcapng_writer;

use std::io::{self, Read};

use pcap_parser::nom;
use pcap_parser::pcapng::{
    parse_enhancedpacketblock_be, parse_enhancedpacketblock_le, parse_interfacedescriptionblock_be,
    parse_interfacedescriptionblock_le, parse_sectionheaderblock, parse_simplepacketblock_be,
    parse_simplepacketblock_le, OptionCode,
};
use pcap_parser::{
    parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified, parse_pcap_header, PcapError,
    BOM_MAGIC, EPB_MAGIC, IDB_MAGIC, SHB_MAGIC, SPB_MAGIC,
};

use crate::model::Timestamp;

/// A link-layer type (LINKTYPE_* numbers from pcap/pcapng headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const RAW: LinkType = LinkType(101);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// The link type's name (tcpdump.org's LINKTYPE_ list), where synscope knows it.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "BSD loopback",
            1 => "Ethernet",
            6 => "Token Ring",
            8 => "SLIP",
            9 => "PPP",
            10 => "FDDI",
            12 | 14 | 101 => "raw IP",
            50 => "PPP in HDLC framing",
            51 => "PPPoE",
            104 => "Cisco HDLC",
            105 => "IEEE 802.11 Wi-Fi",
            107 => "Frame Relay",
            108 => "OpenBSD loopback",
            113 => "Linux cooked (SLL)",
            119 => "Prism 802.11",
            127 => "802.11 with radiotap",
            147..=162 => "user-defined",
            187 => "Bluetooth HCI",
            189 => "Linux USB",
            192 => "PPI",
            195 | 215 | 230 | 283 => "IEEE 802.15.4",
            201 => "Bluetooth HCI with direction",
            220 => "Linux USB (mmapped)",
            227 => "SocketCAN",
            228 => "raw IPv4",
            229 => "raw IPv6",
            239 => "Linux netfilter log (NFLOG)",
            249 => "USBPcap",
            251 => "Bluetooth LE link layer",
            253 => "Linux netlink",
            263 => "Zigbee",
            276 => "Linux cooked v2 (SLL2)",
            _ => return None,
        })
    }

    /// `239 (Linux netfilter log (NFLOG))`, or the number alone when the name is unknown.
    pub fn describe(self) -> String {
        match self.name() {
            Some(n) => format!("{} ({n})", self.0),
            None => self.0.to_string(),
        }
    }
}

/// One captured frame, borrowed from the reader's buffer until the next call.
#[derive(Debug, Clone, Copy)]
pub struct RawFrame<'a> {
    pub ts: Timestamp,
    pub link: LinkType,
    /// The captured bytes (at most the snap length).
    pub data: &'a [u8],
    /// Length of the frame on the wire; larger than `data.len()` when the capture cut it.
    /// Never smaller than `data.len()` (a file claiming less is corrected up).
    pub orig_len: u32,
}

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The I/O error is the source, not part of the message: printed as a chain
    /// (`anyhow`'s `{:#}`) it would otherwise appear twice.
    #[error("read error")]
    Io(#[from] std::io::Error),
    #[error("the input is empty")]
    Empty,
    #[error("not a pcap or pcapng capture (starts with {0})")]
    NotACapture(String),
    #[error("corrupt capture at byte {offset}: {detail}")]
    Corrupt { offset: u64, detail: String },
}

/// Container format of a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap,
    PcapNg,
}

/// Largest pcapng block or pcap record (header included) the reader accepts, in bytes. The
/// buffer grows to hold one such block; a block claiming more is `Corrupt`. 16 MiB is far above
/// any real snap length (Wireshark's own cap is 256 KiB for most link types).
pub const MAX_BLOCK: usize = 16 << 20;

/// Size of the read buffer a reader starts with.
pub const BUF_SIZE: usize = 256 << 10;

/// Most interfaces a pcapng section may describe; a file with more is `Corrupt` (the table of
/// interfaces would otherwise grow with the file).
pub const MAX_INTERFACES: usize = 4096;

/// Most bytes of TLS key log kept from Decryption Secrets Blocks between two frames.
pub const MAX_SECRETS: usize = 16 << 20;
/// pcapng Decryption Secrets Block type, and its TLS key log secrets type ("TLSK").
const DSB_MAGIC: u32 = 0x0000_000a;
const DSB_TLS_KEY_LOG: u32 = 0x544c_534b;

/// Bytes shown in `NotACapture`.
const SNIFF_SHOWN: usize = 16;

// Wire layouts. pcap: tcpdump.org pcap(5) / draft-ietf-opsawg-pcap §4-5; pcapng:
// draft-ietf-opsawg-pcapng §3-4.
const PCAP_HEADER_LEN: usize = 24;
const PCAP_RECORD_LEN: usize = 16;
/// Kuznetsov's patched libpcap adds ifindex, protocol, pkt_type and padding to each record.
const PCAP_MODIFIED_RECORD_LEN: usize = 24;
const PCAP_MAGIC_MODIFIED: u32 = 0xa1b2_cd34;
/// Block type, total length ... total length: the smallest pcapng block.
const NG_MIN_BLOCK: usize = 12;
/// An SHB's byte-order magic sits after its type and length.
const NG_SHB_PEEK: usize = 12;
/// EPB: type, len, interface id, ts high, ts low, captured len, original len, then data.
const EPB_DATA: usize = 28;
const EPB_MIN_LEN: usize = 32;
/// The smallest section header block: type, length, byte-order magic, versions, section
/// length, length.
const NG_MIN_SHB: usize = 28;
/// SPB: type, len, original len, then data.
const SPB_DATA: usize = 12;
const SPB_MIN_LEN: usize = 16;
/// pcapng's default timestamp resolution: microseconds (if_tsresol absent).
const DEFAULT_TSRESOL: u8 = 6;

/// Every magic a capture can start with, as bytes in file order.
const MAGICS: [([u8; 4], Format); 6] = [
    ([0xd4, 0xc3, 0xb2, 0xa1], Format::Pcap),
    ([0xa1, 0xb2, 0xc3, 0xd4], Format::Pcap),
    ([0x4d, 0x3c, 0xb2, 0xa1], Format::Pcap),
    ([0xa1, 0xb2, 0x3c, 0x4d], Format::Pcap),
    ([0x34, 0xcd, 0xb2, 0xa1], Format::Pcap),
    ([0x0a, 0x0d, 0x0d, 0x0a], Format::PcapNg),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endian {
    Little,
    Big,
}

impl Endian {
    fn u32(self, b: [u8; 4]) -> u32 {
        match self {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        }
    }
}

/// Units per second of an interface's timestamps (pcapng `if_tsresol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TsUnit {
    /// 10^-n seconds.
    Pow10(u8),
    /// 2^-n seconds.
    Pow2(u8),
}

impl TsUnit {
    /// pcapng §4.2 if_tsresol: the high bit picks base 2, the rest is the exponent.
    fn from_tsresol(b: u8) -> TsUnit {
        if b & 0x80 != 0 {
            TsUnit::Pow2(b & 0x7f)
        } else {
            TsUnit::Pow10(b)
        }
    }

    /// Nanoseconds in `units` ticks, saturating.
    fn to_nanos(self, units: u64) -> u64 {
        match self {
            TsUnit::Pow10(n) if n <= 9 => units.saturating_mul(10u64.pow(u32::from(9 - n))),
            // Finer than a nanosecond: divide; past 10^-28 every count rounds to 0.
            TsUnit::Pow10(n) => match 10u64.checked_pow(u32::from(n - 9)) {
                Some(div) => units / div,
                None => 0,
            },
            TsUnit::Pow2(n) => {
                // units < 2^64 and 1e9 < 2^30, so the product fits in u128; n <= 127.
                let ns = (u128::from(units) * 1_000_000_000) >> n;
                u64::try_from(ns).unwrap_or(u64::MAX)
            }
        }
    }
}

/// What a pcapng interface description says about the packets that name it.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: LinkType,
    snaplen: u32,
    unit: TsUnit,
    /// if_tsoffset: seconds added to every timestamp.
    offset_secs: i64,
}

#[derive(Debug)]
enum State {
    Pcap {
        endian: Endian,
        nanos: bool,
        modified: bool,
        link: LinkType,
        /// The file header's snap length: no record captures more (0: no limit).
        snaplen: u32,
    },
    PcapNg {
        endian: Endian,
        interfaces: Vec<Interface>,
    },
}

/// Where the next frame's bytes sit in the buffer, and what describes them.
struct FrameAt {
    at: usize,
    len: usize,
    ts: Timestamp,
    /// The timestamp is within its fields' range.
    ts_ok: bool,
    link: LinkType,
    orig_len: u32,
}

/// The next frame and the file offset of its first byte ([`CaptureReader::next_frame_at`]).
pub type NextAt<'a> = Result<Option<(u64, RawFrame<'a>)>, CaptureError>;

/// Streams frames out of a pcap or pcapng byte stream with a fixed-size buffer.
///
/// Contract: frames come out in file order, each as soon as its block is complete in the input.
/// An error ends the stream: after `Err` (or `Ok(None)`) every later call returns `Ok(None)`.
pub struct CaptureReader<R: Read> {
    r: R,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    eof: bool,
    done: bool,
    truncated: bool,
    format: Format,
    state: State,
    /// Timestamp of the previous frame: a Simple Packet Block has none of its own.
    last_ts: Timestamp,
    /// Frames returned so far.
    frames: u64,
    /// File offset of the last frame's captured bytes ([`CaptureReader::frame_offset`]).
    frame_offset: u64,
    /// The stream ended inside the file header (`Some(bytes it held)`).
    header_cut: Option<usize>,
    /// Records whose timestamp fraction is a second or more, and the first one's frame number.
    bad_ts: u64,
    first_bad_ts: Option<u64>,
    /// TLS key log lines from Decryption Secrets Blocks not yet taken (at most
    /// [`MAX_SECRETS`] bytes).
    secrets: Vec<u8>,
}

/// Where a capture stream that ended early was cut ([`CaptureReader::cut`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Inside the file header: `have` of its `need` bytes (pcap: 24; pcapng: the section
    /// header block).
    FileHeader { have: usize, need: usize },
    /// Inside a packet record or block, after every frame before it was read.
    Packet,
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header; fails with `Empty` / `NotACapture` before any frame.
    ///
    /// A stream that ends inside the file header is not an error: the reader yields no frame and
    /// `truncated_tail()` is true.
    pub fn new(r: R) -> Result<Self, CaptureError> {
        let mut rd = CaptureReader {
            r,
            buf: vec![0; BUF_SIZE],
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
            done: false,
            truncated: false,
            format: Format::Pcap,
            state: State::PcapNg {
                endian: Endian::Little,
                interfaces: Vec::new(),
            },
            last_ts: Timestamp(0),
            frames: 0,
            frame_offset: 0,
            header_cut: None,
            bad_ts: 0,
            first_bad_ts: None,
            secrets: Vec::new(),
        };
        let full = rd.fill(4)?;
        let head = rd.available();
        if head.is_empty() {
            return Err(CaptureError::Empty);
        }
        let Some(format) = MAGICS
            .iter()
            .find(|(m, _)| m.starts_with(&head[..head.len().min(4)]))
            .map(|(_, f)| *f)
        else {
            return Err(CaptureError::NotACapture(hex_prefix(head)));
        };
        rd.format = format;
        if !full {
            rd.header_cut = Some(rd.end - rd.start);
            rd.end_of_input();
            return Ok(rd);
        }
        match format {
            Format::Pcap => rd.read_pcap_header()?,
            Format::PcapNg => {
                // The first block is an SHB (its type is the magic we just matched).
                if let Some((len, endian)) = rd.ng_block_len()? {
                    rd.section_header(len, endian)?;
                }
            }
        }
        if rd.truncated && rd.header_cut.is_none() {
            rd.header_cut = Some(rd.end - rd.start);
        }
        Ok(rd)
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// The next frame, `Ok(None)` at the end of the stream.
    pub fn next_frame(&mut self) -> Result<Option<RawFrame<'_>>, CaptureError> {
        let at = self.next_at()?;
        Ok(at.map(|f| self.frame_of(f)))
    }

    /// [`CaptureReader::next_frame`], with the TLS key log lines of the pcapng Decryption
    /// Secrets Blocks read on the way to it (empty when there were none): they come before
    /// the packets they decrypt, so hand them to the engine before this frame.
    pub fn next_frame_with_secrets(
        &mut self,
    ) -> (Result<Option<RawFrame<'_>>, CaptureError>, Vec<u8>) {
        let at = self.next_at();
        let secrets = std::mem::take(&mut self.secrets);
        (at.map(|a| a.map(|f| self.frame_of(f))), secrets)
    }

    /// [`CaptureReader::next_frame_with_secrets`], each frame with its
    /// [`CaptureReader::frame_offset`].
    pub fn next_frame_at(&mut self) -> (NextAt<'_>, Vec<u8>) {
        let at = self.next_at();
        let secrets = std::mem::take(&mut self.secrets);
        let offset = self.frame_offset;
        (at.map(|a| a.map(|f| (offset, self.frame_of(f)))), secrets)
    }

    fn frame_of(&self, f: FrameAt) -> RawFrame<'_> {
        // `next_*` checked that the block, and so the frame inside it, is in the buffer.
        let data = self.buf.get(f.at..f.at + f.len).unwrap_or(&[]);
        RawFrame {
            ts: f.ts,
            link: f.link,
            data,
            orig_len: f
                .orig_len
                .max(u32::try_from(data.len()).unwrap_or(u32::MAX)),
        }
    }

    fn next_at(&mut self) -> Result<Option<FrameAt>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        let next = match self.state {
            State::Pcap { .. } => self.next_pcap(),
            State::PcapNg { .. } => self.next_pcapng(),
        };
        let f = match next {
            Ok(Some(f)) => f,
            Ok(None) => {
                self.done = true;
                return Ok(None);
            }
            Err(e) => {
                self.done = true;
                return Err(e);
            }
        };
        self.frames += 1;
        // `buf[start]` is at file offset `offset`; the frame's block may already be consumed.
        self.frame_offset = if f.at <= self.start {
            self.offset.saturating_sub((self.start - f.at) as u64)
        } else {
            self.offset + (f.at - self.start) as u64
        };
        if !f.ts_ok {
            self.bad_ts += 1;
            self.first_bad_ts.get_or_insert(self.frames);
        }
        Ok(Some(f))
    }

    /// Offset in the input of the first captured byte of the frame returned last: the TUI
    /// reads payload bytes back from the file there instead of keeping them.
    pub fn frame_offset(&self) -> u64 {
        self.frame_offset
    }

    /// The stream ended inside a block (a file cut mid-packet, or a capture still being written
    /// when its writer stopped). Frames before the cut were all returned; this is a warning.
    pub fn truncated_tail(&self) -> bool {
        self.truncated
    }

    /// Where the stream was cut, when it ended inside its file header or a block.
    pub fn cut(&self) -> Option<Cut> {
        if !self.truncated {
            return None;
        }
        Some(match self.header_cut {
            Some(have) => Cut::FileHeader {
                have,
                need: match self.format {
                    Format::Pcap => PCAP_HEADER_LEN,
                    // The section header block says how long it is, once 8 bytes are there.
                    Format::PcapNg => self.ng_header_len().unwrap_or(NG_MIN_SHB).max(have + 1),
                },
            },
            None => Cut::Packet,
        })
    }

    /// Packet records whose timestamp is out of range (pcap: a fraction of a second that is a
    /// second or more, which no writer makes; the frame's time then runs on into the next
    /// seconds), and the frame number of the first one.
    pub fn timestamps_out_of_range(&self) -> (u64, Option<u64>) {
        (self.bad_ts, self.first_bad_ts)
    }

    /// The length the first block (an SHB) claims, when its header is in the buffer.
    fn ng_header_len(&self) -> Option<usize> {
        let b = self.buf.get(..self.end)?;
        let len = u32_at(b, 4)?;
        let v = match u32::from_le_bytes(u32_at(b, 8)?) {
            BOM_MAGIC => u32::from_le_bytes(len),
            _ => u32::from_be_bytes(len),
        };
        Some(v as usize)
    }

    /// Whether the next `next_frame` call has to read from the source: the buffer holds no
    /// complete packet block. A caller that buffers its output should flush it then, because on
    /// a live capture (`tcpdump -U -w - | synscope decode -`) that read waits for the next
    /// packet. Reading files, this is true once per buffer refill.
    pub fn needs_input(&self) -> bool {
        if self.done {
            return false;
        }
        let mut b = self.available();
        match self.state {
            State::Pcap {
                endian, modified, ..
            } => {
                let hdr_len = if modified {
                    PCAP_MODIFIED_RECORD_LEN
                } else {
                    PCAP_RECORD_LEN
                };
                match u32_at(b, 8).map(|c| endian.u32(c) as usize) {
                    Some(caplen) => b.len() < hdr_len.saturating_add(caplen),
                    None => true,
                }
            }
            State::PcapNg { mut endian, .. } => loop {
                let Some(t) = u32_at(b, 0) else {
                    return true;
                };
                if u32::from_le_bytes(t) == SHB_MAGIC {
                    match u32_at(b, 8) {
                        Some(bom) if u32::from_be_bytes(bom) == BOM_MAGIC => endian = Endian::Big,
                        Some(_) => endian = Endian::Little,
                        None => return true,
                    }
                }
                let Some(len) = u32_at(b, 4).map(|l| endian.u32(l) as usize) else {
                    return true;
                };
                let btype = endian.u32(t);
                if len < NG_MIN_BLOCK || b.len() < len {
                    // A bad length is reported by next_frame without reading.
                    return b.len() < len;
                }
                if btype == EPB_MAGIC || btype == SPB_MAGIC {
                    return false;
                }
                b = b.get(len..).unwrap_or(&[]);
            },
        }
    }

    fn available(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// The first `N` unconsumed bytes; the caller filled at least that many.
    fn peek<const N: usize>(&self) -> Option<&[u8; N]> {
        self.available().first_chunk::<N>()
    }

    fn corrupt(&self, at: usize, detail: impl Into<String>) -> CaptureError {
        CaptureError::Corrupt {
            offset: self.offset + at as u64,
            detail: detail.into(),
        }
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
    }

    /// The input ended: it was cut inside a block if bytes are left over.
    fn end_of_input(&mut self) {
        self.truncated = self.end > self.start;
        self.done = true;
    }

    /// Makes `need` bytes available from `start`, reading as little as the reader gives at a
    /// time: never waits for more than `need`, so a live pipe's frame comes out as soon as its
    /// block is complete. `Ok(false)` when the input ended first. Callers keep `need` <=
    /// MAX_BLOCK; the buffer grows past `BUF_SIZE` only by doubling once it is full of bytes
    /// actually read, so a length field alone never allocates (a cut file claiming 16 MiB costs
    /// only what it holds).
    fn fill(&mut self, need: usize) -> Result<bool, CaptureError> {
        if self.end - self.start >= need {
            return Ok(true);
        }
        if self.start + need > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.end - self.start < need {
            if self.eof {
                return Ok(false);
            }
            if self.end == self.buf.len() {
                // Here start == 0 and buf.len() < need <= MAX_BLOCK.
                let grown = self
                    .buf
                    .len()
                    .saturating_mul(2)
                    .min(need)
                    .max(self.buf.len() + 1);
                self.buf.resize(grown, 0);
            }
            let Some(space) = self.buf.get_mut(self.end..) else {
                return Ok(false);
            };
            match self.r.read(space) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n.min(space.len()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(true)
    }

    fn read_pcap_header(&mut self) -> Result<(), CaptureError> {
        if !self.fill(PCAP_HEADER_LEN)? {
            self.end_of_input();
            return Ok(());
        }
        let head = self.available();
        let h = match parse_pcap_header(head) {
            Ok((_, h)) => h,
            Err(e) => return Err(self.corrupt(0, format!("pcap file header: {}", describe(&e)))),
        };
        // draft-ietf-opsawg-pcap §4: the low 16 bits are the link type, the high bits carry FCS
        // information we do not need (the decoder stops at the IP length anyway).
        let link = LinkType((h.network.0 as u32) & 0xffff);
        self.state = State::Pcap {
            endian: if h.is_bigendian() {
                Endian::Big
            } else {
                Endian::Little
            },
            nanos: h.is_nanosecond_precision(),
            modified: h.magic_number == PCAP_MAGIC_MODIFIED,
            link,
            snaplen: h.snaplen,
        };
        self.consume(PCAP_HEADER_LEN);
        Ok(())
    }

    fn next_pcap(&mut self) -> Result<Option<FrameAt>, CaptureError> {
        let State::Pcap {
            endian,
            nanos,
            modified,
            link,
            snaplen,
        } = self.state
        else {
            return Ok(None);
        };
        let hdr_len = if modified {
            PCAP_MODIFIED_RECORD_LEN
        } else {
            PCAP_RECORD_LEN
        };
        if !self.fill(hdr_len)? {
            self.end_of_input();
            return Ok(None);
        }
        let Some(h) = self.peek::<PCAP_RECORD_LEN>() else {
            return Ok(None);
        };
        let caplen = endian.u32([h[8], h[9], h[10], h[11]]) as usize;
        // A record never holds more than the snap length (libpcap: "bigger than snaplen"):
        // one that says it does is corrupt, not a packet cut short.
        if snaplen != 0 && caplen > snaplen as usize {
            return Err(self.corrupt(
                8,
                format!(
                    "packet record claims {caplen} captured bytes, more than the file's snap \
                     length {snaplen}"
                ),
            ));
        }
        if caplen > MAX_BLOCK - hdr_len {
            return Err(self.corrupt(
                8,
                format!("packet record claims {caplen} captured bytes (limit {MAX_BLOCK})"),
            ));
        }
        let total = hdr_len + caplen;
        if !self.fill(total)? {
            self.end_of_input();
            return Ok(None);
        }
        let rec = self.available().get(..total).unwrap_or(&[]);
        let parsed = match (modified, endian) {
            (true, _) => parse_pcap_frame_modified(rec),
            (false, Endian::Little) => parse_pcap_frame(rec),
            (false, Endian::Big) => parse_pcap_frame_be(rec),
        };
        let p = match parsed {
            Ok((_, p)) => p,
            Err(e) => return Err(self.corrupt(0, format!("packet record: {}", describe(&e)))),
        };
        let frac = u64::from(p.ts_usec) * if nanos { 1 } else { 1_000 };
        let ts = Timestamp((u64::from(p.ts_sec) * 1_000_000_000).saturating_add(frac));
        let f = FrameAt {
            at: self.start + hdr_len,
            len: caplen,
            ts,
            // pcap(5): the fraction is below a second (10^6 µs, or 10^9 ns).
            ts_ok: frac < 1_000_000_000,
            link,
            orig_len: p.origlen,
        };
        self.last_ts = ts;
        self.consume(total);
        Ok(Some(f))
    }

    /// Reads the type and length of the next pcapng block (filling the header), checks the
    /// length and returns it with the byte order the block is written in. `None` at the end.
    fn ng_block_len(&mut self) -> Result<Option<(usize, Endian)>, CaptureError> {
        if !self.fill(8)? {
            self.end_of_input();
            return Ok(None);
        }
        let State::PcapNg { endian, .. } = self.state else {
            return Ok(None);
        };
        let Some(h) = self.peek::<8>() else {
            return Ok(None);
        };
        let (endian, len_bytes) = if u32::from_le_bytes([h[0], h[1], h[2], h[3]]) == SHB_MAGIC {
            // pcapng §4.1: a new section may switch byte order; its byte-order magic says which.
            if !self.fill(NG_SHB_PEEK)? {
                self.end_of_input();
                return Ok(None);
            }
            let Some(h) = self.peek::<NG_SHB_PEEK>() else {
                return Ok(None);
            };
            let bom = [h[8], h[9], h[10], h[11]];
            let e = if u32::from_le_bytes(bom) == BOM_MAGIC {
                Endian::Little
            } else if u32::from_be_bytes(bom) == BOM_MAGIC {
                Endian::Big
            } else {
                return Err(self.corrupt(
                    8,
                    format!("section header byte-order magic is {}", hex_prefix(&bom)),
                ));
            };
            (e, [h[4], h[5], h[6], h[7]])
        } else {
            (endian, [h[4], h[5], h[6], h[7]])
        };
        let len = endian.u32(len_bytes) as usize;
        if len > MAX_BLOCK {
            return Err(self.corrupt(4, format!("block claims {len} bytes (limit {MAX_BLOCK})")));
        }
        // pcapng §3.1: the total length counts type and both lengths, and is a multiple of 4.
        if len < NG_MIN_BLOCK || !len.is_multiple_of(4) {
            return Err(self.corrupt(4, format!("block length {len} is not a valid length")));
        }
        Ok(Some((len, endian)))
    }

    /// pcapng §3.1: a block ends with a copy of its length; a mismatch means the file lost sync
    /// (every later block would be misread). The block is in the buffer.
    fn check_trailer(&self, len: usize, endian: Endian) -> Result<(), CaptureError> {
        let tail = self
            .available()
            .get(len.saturating_sub(4)..len)
            .and_then(|t| t.first_chunk::<4>());
        let trailer = tail.map(|t| endian.u32(*t));
        if trailer != Some(len as u32) {
            return Err(self.corrupt(
                len.saturating_sub(4),
                format!(
                    "block length {len} does not match its trailing copy {}",
                    trailer.unwrap_or(0)
                ),
            ));
        }
        Ok(())
    }

    /// Processes the SHB at `start` (of `len` bytes): a new section forgets every interface.
    fn section_header(&mut self, len: usize, endian: Endian) -> Result<(), CaptureError> {
        if !self.fill(len)? {
            self.end_of_input();
            return Ok(());
        }
        self.check_trailer(len, endian)?;
        let block = self.available().get(..len).unwrap_or(&[]);
        let shb = match parse_sectionheaderblock(block) {
            Ok((_, shb)) => shb,
            Err(e) => return Err(self.corrupt(0, format!("section header: {}", describe(&e)))),
        };
        // pcapng §4.1: a reader must not read a section whose major version it does not know.
        if shb.major_version != 1 {
            return Err(self.corrupt(
                12,
                format!("pcapng version {} is not supported", shb.major_version),
            ));
        }
        self.state = State::PcapNg {
            endian,
            interfaces: Vec::new(),
        };
        self.consume(len);
        Ok(())
    }

    fn next_pcapng(&mut self) -> Result<Option<FrameAt>, CaptureError> {
        loop {
            let Some((len, endian)) = self.ng_block_len()? else {
                return Ok(None);
            };
            let Some(h) = self.peek::<4>() else {
                return Ok(None);
            };
            let btype = endian.u32(*h);
            if btype == SHB_MAGIC {
                self.section_header(len, endian)?;
                if self.done {
                    return Ok(None);
                }
                continue;
            }
            if !self.fill(len)? {
                self.end_of_input();
                return Ok(None);
            }
            self.check_trailer(len, endian)?;
            match btype {
                IDB_MAGIC => self.interface_description(len, endian)?,
                EPB_MAGIC => return self.enhanced_packet(len, endian).map(Some),
                SPB_MAGIC => return self.simple_packet(len, endian).map(Some),
                DSB_MAGIC => self.decryption_secrets(len, endian),
                // NRB, ISB, custom, obsolete Packet Block and unknown blocks carry nothing
                // synscope shows.
                _ => {}
            }
            self.consume(len);
        }
    }

    /// A Decryption Secrets Block (pcapng, draft-ietf-opsawg-pcapng §4.7; written by
    /// `editcap --inject-secrets tls,KEYS`): a TLS key log is kept for
    /// [`CaptureReader::next_frame_with_secrets`]; other secret types, a block whose length
    /// fields disagree, and what would pass [`MAX_SECRETS`] are skipped.
    fn decryption_secrets(&mut self, len: usize, endian: Endian) {
        let block = self.available().get(..len).unwrap_or(&[]);
        let field = |at: usize| {
            block
                .get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map(|b| endian.u32(b))
        };
        let (Some(kind), Some(n)) = (field(8), field(12)) else {
            return;
        };
        if kind != DSB_TLS_KEY_LOG {
            return;
        }
        // The data ends before the block's trailing length.
        let Some(data) = block.get(16..(16 + n as usize).min(len.saturating_sub(4))) else {
            return;
        };
        if self.secrets.len() + data.len() + 1 > MAX_SECRETS {
            return;
        }
        let data = data.to_vec();
        self.secrets.extend_from_slice(&data);
        // Lines of two blocks must not run together.
        if data.last().is_some_and(|b| *b != b'\n') {
            self.secrets.push(b'\n');
        }
    }

    fn interface_description(&mut self, len: usize, endian: Endian) -> Result<(), CaptureError> {
        let block = self.available().get(..len).unwrap_or(&[]);
        let parsed = match endian {
            Endian::Little => parse_interfacedescriptionblock_le(block),
            Endian::Big => parse_interfacedescriptionblock_be(block),
        };
        let idb = match parsed {
            Ok((_, idb)) => idb,
            Err(e) => {
                return Err(self.corrupt(0, format!("interface description: {}", describe(&e))))
            }
        };
        let mut unit = TsUnit::Pow10(DEFAULT_TSRESOL);
        let mut offset_secs = 0i64;
        for opt in &idb.options {
            let Ok(v) = opt.as_bytes() else { continue };
            if opt.code == OptionCode::IfTsresol {
                if let Some(b) = v.first() {
                    unit = TsUnit::from_tsresol(*b);
                }
            } else if opt.code == OptionCode::IfTsoffset {
                // pcap-parser reads this one as little-endian whatever the section says.
                if let Some(b) = v.first_chunk::<8>() {
                    offset_secs = match endian {
                        Endian::Little => i64::from_le_bytes(*b),
                        Endian::Big => i64::from_be_bytes(*b),
                    };
                }
            }
        }
        let iface = Interface {
            link: LinkType(u32::from(idb.linktype.0 as u16)),
            snaplen: idb.snaplen,
            unit,
            offset_secs,
        };
        let full = match &self.state {
            State::PcapNg { interfaces, .. } => interfaces.len() >= MAX_INTERFACES,
            State::Pcap { .. } => false,
        };
        if full {
            return Err(self.corrupt(0, format!("more than {MAX_INTERFACES} interfaces")));
        }
        if let State::PcapNg { interfaces, .. } = &mut self.state {
            interfaces.push(iface);
        }
        Ok(())
    }

    fn interface(&self, id: u32) -> Option<Interface> {
        match &self.state {
            State::PcapNg { interfaces, .. } => interfaces.get(id as usize).copied(),
            State::Pcap { .. } => None,
        }
    }

    fn enhanced_packet(&mut self, len: usize, endian: Endian) -> Result<FrameAt, CaptureError> {
        let block = self.available().get(..len).unwrap_or(&[]);
        if len < EPB_MIN_LEN {
            return Err(self.corrupt(4, format!("enhanced packet block of {len} bytes")));
        }
        let parsed = match endian {
            Endian::Little => parse_enhancedpacketblock_le(block),
            Endian::Big => parse_enhancedpacketblock_be(block),
        };
        let epb = match parsed {
            Ok((_, epb)) => epb,
            Err(e) => {
                return Err(self.corrupt(0, format!("enhanced packet block: {}", describe(&e))))
            }
        };
        let caplen = epb.caplen as usize;
        if let Some(iface) = self.interface(epb.if_id) {
            if iface.snaplen != 0 && caplen > iface.snaplen as usize {
                return Err(self.corrupt(
                    20,
                    format!(
                        "packet claims {caplen} captured bytes, more than its interface's snap \
                         length {}",
                        iface.snaplen
                    ),
                ));
            }
        }
        if caplen > len - EPB_MIN_LEN {
            return Err(self.corrupt(
                20,
                format!("captured length {caplen} exceeds the block ({len} bytes)"),
            ));
        }
        let Some(iface) = self.interface(epb.if_id) else {
            return Err(self.corrupt(
                8,
                format!(
                    "packet names interface {} which was not described",
                    epb.if_id
                ),
            ));
        };
        let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
        let ts = Timestamp(with_offset(iface.unit.to_nanos(units), iface.offset_secs));
        let f = FrameAt {
            at: self.start + EPB_DATA,
            len: caplen,
            ts,
            ts_ok: true,
            link: iface.link,
            orig_len: epb.origlen,
        };
        self.last_ts = ts;
        self.consume(len);
        Ok(f)
    }

    fn simple_packet(&mut self, len: usize, endian: Endian) -> Result<FrameAt, CaptureError> {
        let block = self.available().get(..len).unwrap_or(&[]);
        if len < SPB_MIN_LEN {
            return Err(self.corrupt(4, format!("simple packet block of {len} bytes")));
        }
        let parsed = match endian {
            Endian::Little => parse_simplepacketblock_le(block),
            Endian::Big => parse_simplepacketblock_be(block),
        };
        let spb = match parsed {
            Ok((_, spb)) => spb,
            Err(e) => return Err(self.corrupt(0, format!("simple packet block: {}", describe(&e)))),
        };
        // pcapng §4.4: an SPB belongs to interface 0; its captured length is the smaller of the
        // original length and that interface's snap length (0 = no limit), bounded by the block.
        let Some(iface) = self.interface(0) else {
            return Err(self.corrupt(0, "simple packet block before any interface description"));
        };
        let mut caplen = (spb.origlen as usize).min(len - SPB_MIN_LEN);
        if iface.snaplen != 0 {
            caplen = caplen.min(iface.snaplen as usize);
        }
        let f = FrameAt {
            at: self.start + SPB_DATA,
            len: caplen,
            // It carries no timestamp: reuse the previous packet's.
            ts: self.last_ts,
            ts_ok: true,
            link: iface.link,
            orig_len: spb.origlen,
        };
        self.consume(len);
        Ok(f)
    }
}

fn u32_at(b: &[u8], at: usize) -> Option<[u8; 4]> {
    b.get(at..at.checked_add(4)?)?.first_chunk::<4>().copied()
}

/// Adds pcapng's if_tsoffset (seconds, signed) to a time in nanoseconds, clamped at the epoch.
fn with_offset(ns: u64, offset_secs: i64) -> u64 {
    let delta = i128::from(offset_secs) * 1_000_000_000;
    let t = i128::from(ns) + delta;
    u64::try_from(t.max(0)).unwrap_or(u64::MAX)
}

/// A short description of a pcap-parser error (never its input bytes, which can be megabytes).
fn describe(e: &nom::Err<PcapError<&[u8]>>) -> String {
    match e {
        nom::Err::Incomplete(_) => "a field runs past the end of the block".to_string(),
        nom::Err::Error(pe) | nom::Err::Failure(pe) => match pe {
            PcapError::NomError(_, kind) => format!("invalid ({})", kind.description()),
            PcapError::HeaderNotRecognized => "header not recognized".to_string(),
            _ => "invalid".to_string(),
        },
    }
}

/// The first bytes of a stream, as hex, for `NotACapture`.
fn hex_prefix(b: &[u8]) -> String {
    let shown = b.get(..b.len().min(SNIFF_SHOWN)).unwrap_or(&[]);
    let mut s = String::with_capacity(shown.len() * 3 + 3);
    for (i, x) in shown.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{x:02x}"));
    }
    if b.len() > SNIFF_SHOWN {
        s.push_str(" ...");
    }
    s
}

/// Opens a capture file, or standard input for `-` (`Send`: `decode` reads on a thread of its
/// own).
pub fn open_path(
    path: &std::path::Path,
) -> Result<CaptureReader<Box<dyn Read + Send>>, CaptureError> {
    let r: Box<dyn Read + Send> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path)?)
    };
    CaptureReader::new(r)
}

#[cfg(test)]
mod tests;
