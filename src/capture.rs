//! Capture sources: pcap and pcapng files or streams, read frame by frame.
//!
//! INTERFACE STUB: the capture helper replaces the bodies; the signatures are the contract.

#[cfg(target_os = "linux")]
pub mod live;
pub mod pcapng_writer;

use std::io::Read;

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
}

/// One captured frame, borrowed from the reader's buffer until the next call.
#[derive(Debug, Clone, Copy)]
pub struct RawFrame<'a> {
    pub ts: Timestamp,
    pub link: LinkType,
    /// The captured bytes (at most the snap length).
    pub data: &'a [u8],
    /// Length of the frame on the wire; larger than `data.len()` when the capture cut it.
    pub orig_len: u32,
}

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("read error: {0}")]
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

/// Streams frames out of a pcap or pcapng byte stream with a fixed-size buffer.
pub struct CaptureReader<R: Read> {
    _r: R,
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header; fails with `Empty` / `NotACapture` before any frame.
    pub fn new(r: R) -> Result<Self, CaptureError> {
        Ok(CaptureReader { _r: r })
    }

    pub fn format(&self) -> Format {
        Format::Pcap
    }

    /// The next frame, `Ok(None)` at the end of the stream.
    pub fn next_frame(&mut self) -> Result<Option<RawFrame<'_>>, CaptureError> {
        Ok(None)
    }
}

/// Opens a capture file, or standard input for `-`.
pub fn open_path(path: &std::path::Path) -> Result<CaptureReader<Box<dyn Read>>, CaptureError> {
    let r: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path)?)
    };
    CaptureReader::new(r)
}

impl<R: Read> CaptureReader<R> {
    /// The stream ended inside a block.
    pub fn truncated_tail(&self) -> bool {
        false
    }
}
