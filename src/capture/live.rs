//! Live capture on Linux: an AF_PACKET socket with the port/host filter compiled to classic BPF
//! and run by the kernel, loopback packets seen once, a TPACKET_V3 memory-mapped receive ring,
//! and the kernel's drop counter.
//!
//! Opening order (each step before the first packet can be queued):
//! 1. `socket(AF_PACKET, SOCK_RAW, 0)`: protocol 0, so nothing is received yet;
//! 2. bind to the interface with protocol 0, to learn its hardware type (ARPHRD_*) and so the
//!    link type and where the IP header starts;
//! 3. on a loopback interface, `PACKET_IGNORE_OUTGOING` (Linux >= 4.20). On `lo` the kernel
//!    hands every packet to packet sockets twice, once as it leaves (PACKET_OUTGOING) and once as
//!    it arrives (PACKET_HOST); the option drops the leaving copy in the kernel, per packet. If
//!    the kernel lacks it (ENOPROTOOPT), the BPF program starts by rejecting `pkt_type ==
//!    PACKET_OUTGOING`, read with the `SKF_AD_PKTTYPE` ancillary load: the same per-packet
//!    decision, not a guess from timing or contents. Other interfaces need neither: there a
//!    host's own packets appear once, as outgoing;
//! 4. attach the filter (`SO_ATTACH_FILTER`, see [`bpf`]);
//! 5. map the TPACKET_V3 ring, or fall back to plain `recv` if the kernel refuses it;
//! 6. bind again with `ETH_P_ALL`: only now do packets flow, all of them already filtered.
//!
//! All system calls are in the `sys` submodule, the only place with `unsafe` code.

use std::io;
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::time::Duration;

use crate::capture::{LinkType, RawFrame};
use crate::model::Timestamp;

pub mod bpf;
mod sys;

use bpf::{FilterError, FilterSpec, Framing, Insn};

pub use sys::stop_on_signals;

/// Default bytes kept of each packet (tcpdump's default): whole packets, even on `lo` whose
/// MTU is 65536.
pub const DEFAULT_SNAPLEN: u32 = 262_144;

/// TPACKET_V3 ring geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingConfig {
    /// Bytes per block; a multiple of the page size. A block is handed to user space when it is
    /// full or its timeout expires, so it is also the unit of a batch. 1 MiB holds one packet
    /// of the largest loopback size (64 KiB) many times over.
    pub block_size: u32,
    /// Blocks in the ring: `block_size * block_count` bytes of kernel memory absorb bursts
    /// while user space is busy. Packets are dropped (and counted) only when all are full.
    pub block_count: u32,
    /// TPACKET_V3 packs packets of any size into a block; the frame size only has to divide
    /// the block size (the kernel checks `tp_frame_nr`), 2048 is the customary value.
    pub frame_size: u32,
    /// A block with at least one packet is handed over after this many ms even if not full:
    /// the worst-case delay before a packet shows up when traffic is light.
    pub block_timeout_ms: u32,
}

impl Default for RingConfig {
    /// 64 blocks of 1 MiB (64 MiB: at 150k packets/s of ~200 bytes, two seconds of traffic),
    /// handed over after at most 10 ms.
    fn default() -> Self {
        RingConfig {
            block_size: 1 << 20,
            block_count: 64,
            frame_size: 2048,
            block_timeout_ms: 10,
        }
    }
}

/// How to see each loopback packet once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoopbackDedup {
    /// `PACKET_IGNORE_OUTGOING`, or the BPF `pkt_type` test when the kernel lacks the option.
    #[default]
    Auto,
    /// Always the BPF `pkt_type` test (to exercise the old-kernel path).
    BpfPktType,
}

/// What the capture does about loopback's double delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedup {
    /// Not a loopback interface: each packet is seen once anyway.
    NotNeeded,
    /// The kernel option `PACKET_IGNORE_OUTGOING`.
    IgnoreOutgoing,
    /// The BPF program rejects `PACKET_OUTGOING` packets.
    BpfPktType,
}

/// What to capture and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveConfig {
    /// Interface name (`lo`, `eth0`, ...).
    pub iface: String,
    /// Capture TCP segments from or to any of these ports; empty = every port.
    pub ports: Vec<u16>,
    /// Capture packets from or to this address only.
    pub host: Option<IpAddr>,
    /// Bytes kept of each packet.
    pub snaplen: u32,
    /// The mmap ring; `None` reads with `recv`, one system call per packet.
    pub ring: Option<RingConfig>,
    /// Socket receive buffer for the `recv` path (the ring path does not use it).
    pub recv_buffer: u32,
    pub loopback_dedup: LoopbackDedup,
}

impl LiveConfig {
    /// Defaults: every TCP packet, whole packets, the default ring.
    pub fn new(iface: impl Into<String>) -> Self {
        LiveConfig {
            iface: iface.into(),
            ports: Vec::new(),
            host: None,
            snaplen: DEFAULT_SNAPLEN,
            ring: Some(RingConfig::default()),
            recv_buffer: 32 << 20,
            loopback_dedup: LoopbackDedup::Auto,
        }
    }

    /// The filter in tcpdump's words, for messages: `tcp and (port 80 or port 81) and host H`.
    pub fn describe_filter(&self) -> String {
        let mut s = String::from("tcp");
        match self.ports.as_slice() {
            [] => {}
            [p] => s.push_str(&format!(" and port {p}")),
            ps => {
                let list: Vec<String> = ps.iter().map(|p| format!("port {p}")).collect();
                s.push_str(&format!(" and ({})", list.join(" or ")));
            }
        }
        if let Some(h) = self.host {
            s.push_str(&format!(" and host {h}"));
        }
        s
    }
}

/// Capture counters, cumulative since the capture was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LiveStats {
    /// Frames handed to the caller.
    pub captured: u64,
    /// Packets that passed the kernel filter, including the dropped ones (PACKET_STATISTICS
    /// `tp_packets`).
    pub received: u64,
    /// Packets the kernel dropped because the ring or socket buffer was full
    /// (PACKET_STATISTICS `tp_drops`).
    pub dropped: u64,
}

/// Why live capture could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(
        "capturing on {iface} needs the CAP_NET_RAW capability, which this process does not \
         have. Ways out:\n  \
         - run it as root: sudo synscope live ... (synscope drops root once the capture is open)\n  \
         - or allow the binary once: sudo setcap cap_net_raw,cap_net_admin+eip $(which synscope)\n  \
         - or decode a capture made elsewhere (tcpdump -w FILE): synscope replay FILE"
    )]
    NoPermission { iface: String },
    #[error("no network interface named {name:?}; available: {}", available.join(", "))]
    NoSuchInterface {
        name: String,
        available: Vec<String>,
    },
    #[error("interface {iface} has hardware type {hatype} (ARPHRD), which synscope cannot decode")]
    UnsupportedLink { iface: String, hatype: u16 },
    #[error("capture filter: {0}")]
    Filter(#[from] FilterError),
    #[error("{op} on {iface}: {source}")]
    Os {
        op: &'static str,
        iface: String,
        source: io::Error,
    },
    #[error("cannot drop root privileges: {0}")]
    Privileges(io::Error),
}

/// One packet's place in a copied buffer (the `recv` path).
#[derive(Debug, Clone, Copy)]
struct FrameMeta {
    ts: u64,
    off: usize,
    len: usize,
    orig_len: u32,
}

enum Reader {
    Ring {
        ring: sys::Ring,
        next: usize,
    },
    Recv {
        buf: Vec<u8>,
        frames: Vec<FrameMeta>,
        per_packet: usize,
    },
}

/// An open live capture. Reading is single-threaded: move it to the thread that reads.
pub struct LiveCapture {
    fd: OwnedFd,
    iface: String,
    link: LinkType,
    dedup: Dedup,
    filter: Vec<Insn>,
    ring_error: Option<String>,
    block_timeout_ms: u32,
    reader: Reader,
    stats: LiveStats,
}

/// `ARPHRD_*` (linux/if_arp.h) to the link type of what a SOCK_RAW packet socket delivers.
fn link_for(hatype: u16) -> Option<(LinkType, Framing)> {
    const ARPHRD_IEEE802: u16 = 6;
    const ARPHRD_PPP: u16 = 512;
    const ARPHRD_RAWIP: u16 = 519;
    const ARPHRD_TUNNEL: u16 = 768;
    const ARPHRD_TUNNEL6: u16 = 769;
    const ARPHRD_SIT: u16 = 776;
    match hatype {
        libc::ARPHRD_ETHER | libc::ARPHRD_LOOPBACK | ARPHRD_IEEE802 => {
            Some((LinkType::ETHERNET, Framing::Ethernet))
        }
        // Links without a link-layer header: the packet starts at the IP header (tun devices
        // are ARPHRD_NONE).
        libc::ARPHRD_NONE
        | ARPHRD_RAWIP
        | ARPHRD_PPP
        | ARPHRD_TUNNEL
        | ARPHRD_TUNNEL6
        | ARPHRD_SIT => Some((LinkType::RAW, Framing::RawIp)),
        _ => None,
    }
}

/// Names of the network interfaces, for messages and `--list`.
pub fn interface_names() -> Vec<String> {
    pnet::datalink::interfaces()
        .into_iter()
        .map(|i| i.name)
        .collect()
}

impl LiveCapture {
    /// Opens a capture on `config.iface` (see the module documentation for the order of
    /// steps). Fails with [`LiveError::NoPermission`] without CAP_NET_RAW.
    pub fn open(config: &LiveConfig) -> Result<LiveCapture, LiveError> {
        let ifaces = pnet::datalink::interfaces();
        let Some(iface) = ifaces.iter().find(|i| i.name == config.iface) else {
            return Err(LiveError::NoSuchInterface {
                name: config.iface.clone(),
                available: ifaces.iter().map(|i| i.name.clone()).collect(),
            });
        };
        let os = |op: &'static str| {
            let name = config.iface.clone();
            move |source: io::Error| LiveError::Os {
                op,
                iface: name,
                source,
            }
        };
        let fd = sys::packet_socket().map_err(|e| match e.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => LiveError::NoPermission {
                iface: config.iface.clone(),
            },
            _ => os("opening a packet socket")(e),
        })?;
        sys::bind(&fd, iface.index, false).map_err(os("binding"))?;
        let hatype = sys::hardware_type(&fd).map_err(os("reading the link type"))?;
        let Some((link, framing)) = link_for(hatype) else {
            return Err(LiveError::UnsupportedLink {
                iface: config.iface.clone(),
                hatype,
            });
        };

        let dedup = if hatype != libc::ARPHRD_LOOPBACK && !iface.is_loopback() {
            Dedup::NotNeeded
        } else if config.loopback_dedup == LoopbackDedup::BpfPktType {
            Dedup::BpfPktType
        } else {
            match sys::ignore_outgoing(&fd) {
                Ok(()) => Dedup::IgnoreOutgoing,
                // Linux < 4.20 does not know the option.
                Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => Dedup::BpfPktType,
                Err(e) => return Err(os("setting PACKET_IGNORE_OUTGOING")(e)),
            }
        };
        let spec = FilterSpec {
            ports: config.ports.clone(),
            host: config.host,
            reject_outgoing: dedup == Dedup::BpfPktType,
            snaplen: config.snaplen,
        };
        let filter = bpf::compile(&spec, framing)?;
        sys::attach_filter(&fd, &filter).map_err(os("attaching the capture filter"))?;

        let mut ring_error = None;
        let ring = match config.ring {
            Some(g) => match sys::Ring::setup(
                &fd,
                sys::RingGeometry {
                    block_size: g.block_size,
                    block_count: g.block_count.max(1),
                    frame_size: g.frame_size,
                    block_timeout_ms: g.block_timeout_ms,
                },
            ) {
                Ok(r) => Some(r),
                Err(e) => {
                    ring_error = Some(e.to_string());
                    None
                }
            },
            None => None,
        };
        let reader = match ring {
            Some(ring) => Reader::Ring { ring, next: 0 },
            None => {
                // The socket may have been switched to TPACKET_V3 before the ring failed; the
                // recv path works with any version.
                sys::set_rcvbuf(&fd, config.recv_buffer);
                sys::enable_timestamps(&fd).map_err(os("enabling timestamps"))?;
                let per_packet = (config.snaplen as usize).clamp(64, RECV_MAX_PACKET);
                Reader::Recv {
                    buf: vec![0; RECV_BATCH_BYTES.max(per_packet)],
                    frames: Vec::with_capacity(RECV_BATCH_PACKETS),
                    per_packet,
                }
            }
        };
        sys::bind(&fd, iface.index, true).map_err(os("binding"))?;
        Ok(LiveCapture {
            fd,
            iface: config.iface.clone(),
            link,
            dedup,
            filter,
            ring_error,
            block_timeout_ms: config.ring.map_or(0, |r| r.block_timeout_ms),
            reader,
            stats: LiveStats::default(),
        })
    }

    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// Link type of every frame this capture yields.
    pub fn link_type(&self) -> LinkType {
        self.link
    }

    pub fn dedup(&self) -> Dedup {
        self.dedup
    }

    /// The BPF program attached to the socket.
    pub fn filter_program(&self) -> &[Insn] {
        &self.filter
    }

    /// True when frames come from the TPACKET_V3 ring.
    pub fn uses_ring(&self) -> bool {
        matches!(self.reader, Reader::Ring { .. })
    }

    /// How long after the last packet it may take for it to be readable: the ring hands over
    /// a partly filled block when its timeout expires. A reader that stops should keep reading
    /// this long so that nothing sent before the stop is left behind.
    pub fn flush_delay(&self) -> Duration {
        match &self.reader {
            Reader::Ring { .. } => Duration::from_millis(3 * u64::from(self.block_timeout_ms) + 20),
            Reader::Recv { .. } => Duration::from_millis(20),
        }
    }

    /// Why the ring could not be set up, when a ring was asked for and the `recv` path is used.
    pub fn ring_error(&self) -> Option<&str> {
        self.ring_error.as_deref()
    }

    /// The next frames, waiting up to `timeout` for some; an empty batch on timeout or when a
    /// signal interrupted the wait. On the ring path a batch is one ring block, returned to the
    /// kernel when the batch is dropped: drop it promptly.
    pub fn next_batch(&mut self, timeout: Duration) -> Result<Batch<'_>, LiveError> {
        let link = self.link;
        let iface = &self.iface;
        let os = |op: &'static str| {
            move |source: io::Error| LiveError::Os {
                op,
                iface: iface.clone(),
                source,
            }
        };
        match &mut self.reader {
            Reader::Ring { ring, next } => {
                let idx = *next;
                if !ring.ready(idx) {
                    sys::poll_readable(&self.fd, timeout).map_err(os("waiting for packets"))?;
                    if !ring.ready(idx) {
                        return Ok(Batch {
                            link,
                            src: Source::Empty,
                        });
                    }
                }
                *next = (idx + 1) % ring.block_count();
                let Some(block) = ring.take(idx) else {
                    return Ok(Batch {
                        link,
                        src: Source::Empty,
                    });
                };
                let (first, count) = block_header(block.bytes());
                self.stats.captured += u64::from(count);
                Ok(Batch {
                    link,
                    src: Source::Block {
                        block,
                        first,
                        count,
                    },
                })
            }
            Reader::Recv {
                buf,
                frames,
                per_packet,
            } => {
                frames.clear();
                let mut used = 0usize;
                let mut waited = timeout.is_zero();
                while frames.len() < RECV_BATCH_PACKETS {
                    let Some(room) = buf.get_mut(used..used + *per_packet) else {
                        break;
                    };
                    match sys::recv_one(&self.fd, room).map_err(os("reading a packet"))? {
                        Some((len, wire, ts)) => {
                            frames.push(FrameMeta {
                                ts,
                                off: used,
                                len,
                                orig_len: u32::try_from(wire).unwrap_or(u32::MAX),
                            });
                            used += len;
                        }
                        // Nothing queued yet: wait once, then read what arrived.
                        None if frames.is_empty() && !waited => {
                            waited = true;
                            if !sys::poll_readable(&self.fd, timeout)
                                .map_err(os("waiting for packets"))?
                            {
                                break;
                            }
                        }
                        None => break,
                    }
                }
                self.stats.captured += frames.len() as u64;
                Ok(Batch {
                    link,
                    src: Source::Copied { buf, frames },
                })
            }
        }
    }

    /// Counters so far. Reads the kernel's PACKET_STATISTICS, which the kernel resets on each
    /// read, and adds them to the running totals.
    pub fn stats(&mut self) -> LiveStats {
        if let Ok((packets, drops)) = sys::packet_statistics(&self.fd) {
            self.stats.received += u64::from(packets);
            self.stats.dropped += u64::from(drops);
        }
        self.stats
    }
}

/// What [`drop_root_if_sudo`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedTo {
    pub uid: u32,
    pub gid: u32,
    pub user: Option<String>,
}

/// When running as root under sudo (`SUDO_UID`/`SUDO_GID` set and not 0), becomes the invoking
/// user for good, as `tcpdump -Z` does: call it once the capture is open and before opening
/// files, so the rest of the run, including `-w`, happens with the user's rights. Sets the
/// user's supplementary groups (`initgroups`) or none, then the gid, then the uid, and checks
/// that root cannot be regained. `Ok(None)` when there is nothing to drop.
pub fn drop_root_if_sudo() -> Result<Option<DroppedTo>, LiveError> {
    let (_, euid) = sys::ids();
    if euid != 0 {
        return Ok(None);
    }
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
    let (Some(uid), Some(gid)) = (var("SUDO_UID"), var("SUDO_GID")) else {
        return Ok(None);
    };
    if uid == 0 {
        return Ok(None);
    }
    let user = std::env::var("SUDO_USER")
        .ok()
        .filter(|u| !u.is_empty() && u != "root");
    sys::become_user(uid, gid, user.as_deref()).map_err(LiveError::Privileges)?;
    Ok(Some(DroppedTo { uid, gid, user }))
}

/// Largest packet the `recv` path keeps whole: the loopback MTU (65536) plus its Ethernet
/// header, rounded up.
const RECV_MAX_PACKET: usize = 66 << 10;
/// Bytes of packets read per `recv`-path batch.
const RECV_BATCH_BYTES: usize = 1 << 20;
/// Packets read per `recv`-path batch.
const RECV_BATCH_PACKETS: usize = 1024;

/// `struct tpacket_block_desc` (native byte order): `num_pkts` at 12, `offset_to_first_pkt` at
/// 16.
fn block_header(b: &[u8]) -> (usize, u32) {
    let count = ne_u32(b, 12).unwrap_or(0);
    let first = ne_u32(b, 16).unwrap_or(0) as usize;
    (first, count)
}

fn ne_u32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

fn ne_u16(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_ne_bytes([s[0], s[1]]))
}

/// Frames read by one [`LiveCapture::next_batch`] call.
pub struct Batch<'a> {
    link: LinkType,
    src: Source<'a>,
}

enum Source<'a> {
    Empty,
    Block {
        block: sys::Block<'a>,
        first: usize,
        count: u32,
    },
    Copied {
        buf: &'a [u8],
        frames: &'a [FrameMeta],
    },
}

impl Batch<'_> {
    pub fn len(&self) -> usize {
        match &self.src {
            Source::Empty => 0,
            Source::Block { count, .. } => *count as usize,
            Source::Copied { frames, .. } => frames.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn link(&self) -> LinkType {
        self.link
    }

    /// The frames, in capture order.
    pub fn frames(&self) -> Frames<'_> {
        let inner = match &self.src {
            Source::Empty => Inner::Empty,
            Source::Block {
                block,
                first,
                count,
            } => Inner::Block {
                bytes: block.bytes(),
                off: *first,
                left: *count,
            },
            Source::Copied { buf, frames } => Inner::Copied {
                buf,
                frames: frames.iter(),
            },
        };
        Frames {
            link: self.link,
            inner,
        }
    }
}

/// Iterator over a [`Batch`]'s frames.
pub struct Frames<'b> {
    link: LinkType,
    inner: Inner<'b>,
}

enum Inner<'b> {
    Empty,
    Block {
        bytes: &'b [u8],
        off: usize,
        left: u32,
    },
    Copied {
        buf: &'b [u8],
        frames: std::slice::Iter<'b, FrameMeta>,
    },
}

impl<'b> Iterator for Frames<'b> {
    type Item = RawFrame<'b>;

    fn next(&mut self) -> Option<RawFrame<'b>> {
        let link = self.link;
        match &mut self.inner {
            Inner::Empty => None,
            Inner::Copied { buf, frames } => {
                let m = frames.next()?;
                let data = buf.get(m.off..m.off + m.len)?;
                Some(RawFrame {
                    ts: Timestamp(m.ts),
                    link,
                    data,
                    orig_len: m.orig_len,
                })
            }
            Inner::Block { bytes, off, left } => {
                if *left == 0 {
                    return None;
                }
                // struct tpacket3_hdr: tp_next_offset 0, tp_sec 4, tp_nsec 8, tp_snaplen 12,
                // tp_len 16, tp_status 20, tp_mac 24 (u16). The kernel wrote it; the checks
                // only keep a bad block from panicking (iteration stops).
                let h = *off;
                let parsed = (|| {
                    let next = ne_u32(bytes, h)? as usize;
                    let sec = ne_u32(bytes, h + 4)?;
                    let nsec = ne_u32(bytes, h + 8)?;
                    let snap = ne_u32(bytes, h + 12)? as usize;
                    let len = ne_u32(bytes, h + 16)?;
                    let mac = usize::from(ne_u16(bytes, h + 24)?);
                    let start = h.checked_add(mac)?;
                    let data = bytes.get(start..start.checked_add(snap)?)?;
                    let ts = u64::from(sec) * 1_000_000_000 + u64::from(nsec);
                    Some((
                        next,
                        RawFrame {
                            ts: Timestamp(ts),
                            link,
                            data,
                            orig_len: len,
                        },
                    ))
                })();
                let Some((next, frame)) = parsed else {
                    *left = 0;
                    return None;
                };
                *left -= 1;
                if next == 0 {
                    *left = 0;
                }
                *off = h.saturating_add(next);
                Some(frame)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_types_from_hardware_types() {
        assert_eq!(
            link_for(libc::ARPHRD_LOOPBACK),
            Some((LinkType::ETHERNET, Framing::Ethernet))
        );
        assert_eq!(
            link_for(libc::ARPHRD_ETHER),
            Some((LinkType::ETHERNET, Framing::Ethernet))
        );
        assert_eq!(
            link_for(libc::ARPHRD_NONE),
            Some((LinkType::RAW, Framing::RawIp))
        );
        assert_eq!(link_for(519), Some((LinkType::RAW, Framing::RawIp)));
        assert_eq!(link_for(801), None, "802.11 radiotap is not decoded");
    }

    #[test]
    fn filter_descriptions() {
        let mut c = LiveConfig::new("lo");
        assert_eq!(c.describe_filter(), "tcp");
        c.ports = vec![80];
        assert_eq!(c.describe_filter(), "tcp and port 80");
        c.ports = vec![80, 443];
        c.host = Some("::1".parse().unwrap());
        assert_eq!(
            c.describe_filter(),
            "tcp and (port 80 or port 443) and host ::1"
        );
    }

    /// A block laid out as the kernel writes it, walked by the frame iterator.
    #[test]
    fn block_frames_are_walked_and_bounded() {
        let mut b = vec![0u8; 4096];
        let put =
            |b: &mut Vec<u8>, off: usize, v: u32| b[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        put(&mut b, 12, 2); // num_pkts
        put(&mut b, 16, 48); // offset_to_first_pkt
                             // Packet 1 at 48: next at +128, mac at +82, 5 bytes of 60.
        put(&mut b, 48, 128);
        put(&mut b, 52, 7);
        put(&mut b, 56, 9);
        put(&mut b, 60, 5);
        put(&mut b, 64, 60);
        b[48 + 24..48 + 26].copy_from_slice(&82u16.to_ne_bytes());
        b[48 + 82..48 + 87].copy_from_slice(b"hello");
        // Packet 2 at 176: snaplen runs past the block: iteration stops, no panic.
        put(&mut b, 176, 0);
        put(&mut b, 188, 10_000);
        b[176 + 24..176 + 26].copy_from_slice(&82u16.to_ne_bytes());
        let (first, count) = block_header(&b);
        let frames: Vec<RawFrame> = Frames {
            link: LinkType::ETHERNET,
            inner: Inner::Block {
                bytes: &b,
                off: first,
                left: count,
            },
        }
        .collect();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].data, b"hello");
        assert_eq!(frames[0].orig_len, 60);
        assert_eq!(frames[0].ts, Timestamp(7_000_000_009));
    }
}
