//! Link, IP and TCP decoding of one captured frame (etherparse underneath).
//!
//! The link header is taken off by hand (its layouts are fixed and small, and several of them,
//! SLL2, BSD NULL and LOOP, are not in etherparse), then etherparse's lax IP slicing finds the
//! IP payload (IPv4 options, IPv6 extension headers, lengths that disagree with the capture) and
//! `TcpSlice` the TCP header. Everything borrows from the frame: no allocation per frame, except
//! for the detail string of a `DecodeError`.
//!
//! Lengths: the TCP payload ends where the IP length says, not at the end of the frame, so the
//! padding Ethernet adds to short frames never becomes payload. `wire_len` comes from the IP
//! length fields, so a frame cut by the snap length has `payload.len() < wire_len`. Where the IP
//! length cannot be trusted the captured length is used instead:
//! - IPv4 total length 0: hosts that capture before TCP segmentation offload (TSO) write 0 for
//!   packets bigger than 64 KiB;
//! - IPv6 payload length 0: a jumbogram (RFC 2675), whose real length sits in a hop-by-hop
//!   option; TSO captures on Linux write the same 0.

use std::net::{IpAddr, SocketAddr};

use etherparse::err::{ip, ipv6_exts, tcp, LenError};
use etherparse::{EtherType, IpNumber, LaxIpSlice, LenSource, TcpSlice};

use crate::capture::{LinkType, RawFrame};
use crate::model::{Layer, TcpOptions};

/// The TCP part of a frame, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpPacket<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// Absolute sequence and acknowledgement numbers.
    pub seq: u32,
    pub ack: u32,
    /// Flags byte (see `model::tcp_flags`).
    pub flags: u8,
    /// Raw (unscaled) window field.
    pub window: u16,
    /// Options; parsed from every segment (MSS/WS/SACK_PERM/timestamps).
    pub options: TcpOptions,
    /// The payload bytes present in the capture.
    pub payload: &'a [u8],
    /// Payload length on the wire, from the IP length fields (>= payload.len()).
    pub wire_len: u32,
}

/// What a frame held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<'a> {
    Tcp(TcpPacket<'a>),
    /// Not a TCP segment the engine can place on a connection, and why: counted by reason
    /// (`--stats`), shown as an event where that helps.
    Other(Skipped),
}

/// Why a frame is not placed on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skipped {
    /// Not IP: ARP, LLDP, spanning tree, a netlink message, MPLS carrying Ethernet...
    NotIp,
    /// IP carrying another protocol than TCP: UDP, ICMP...
    NotTcp {
        /// The IP protocol number.
        protocol: u8,
    },
    /// A fragment of an IP packet: synscope does not reassemble IP.
    Fragment {
        /// It carries (the start of) a TCP segment.
        tcp: bool,
    },
    /// A link type synscope does not decode.
    Link,
    /// More VLAN tags or MPLS labels than synscope follows ([`MAX_VLAN_TAGS`],
    /// [`MAX_MPLS_LABELS`]).
    TooDeep,
}

/// A frame that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{layer:?}: {detail}")]
pub struct DecodeError {
    pub layer: Layer,
    pub detail: String,
}

/// Most VLAN tags peeled off one frame (802.1Q, QinQ and one more); deeper stacks are `Other`.
pub const MAX_VLAN_TAGS: usize = 3;

/// Most MPLS label stack entries followed to the packet under them (RFC 3032 §2.1); deeper
/// stacks are `Other`.
pub const MAX_MPLS_LABELS: usize = 8;

/// MPLS unicast and multicast EtherTypes (RFC 5332 §4).
const ETHERTYPE_MPLS: [u16; 2] = [0x8847, 0x8848];
/// One MPLS label stack entry: label (20 bits), traffic class (3), bottom of stack (1), TTL.
const MPLS_ENTRY_LEN: usize = 4;

// Link header layouts.
const ETHERNET_LEN: usize = 14;
const VLAN_TAG_LEN: usize = 4;
/// Linux cooked v1: packet type, ARPHRD type, address length, address (8), protocol.
const SLL_LEN: usize = 16;
/// Linux cooked v2: protocol, reserved, ifindex, ARPHRD type, packet type, address length,
/// address (8).
const SLL2_LEN: usize = 20;
/// BSD loopback: a 4-byte address family.
const NULL_LEN: usize = 4;
/// SLL's protocol field holds a netlink family, not an EtherType, on netlink captures.
const ARPHRD_NETLINK: u16 = 824;

/// Address families in NULL / LOOP headers. AF_INET is 2 everywhere; AF_INET6 differs by OS.
const AF_INET: u32 = 2;
/// Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30.
const AF_INET6: [u32; 4] = [10, 24, 28, 30];

/// Which IP versions the link header allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Net {
    V4,
    V6,
    /// Raw IP: the version nibble decides.
    Any,
    /// Nothing the engine places (ARP, LLDP, an unknown link type...).
    Skip(Skipped),
}

/// Whether `decode` understands a link type; frames of other types decode to `Other`, so a
/// caller can warn once instead of per frame.
pub fn is_supported(link: LinkType) -> bool {
    matches!(link.0, 0 | 1 | 12 | 14 | 101 | 108 | 113 | 228 | 229 | 276)
}

/// Decodes one frame. Never reads past `frame.data`; a frame cut inside the TCP payload is
/// still `Tcp` with `payload.len() < wire_len`. A frame cut inside the link, IP or TCP header,
/// or with a header that contradicts itself, is a `DecodeError` of that layer.
pub fn decode<'a>(frame: &RawFrame<'a>) -> Result<Decoded<'a>, DecodeError> {
    let (net, ip) = link(frame.link, frame.data)?;
    if let Net::Skip(why) = net {
        return Ok(Decoded::Other(why));
    }
    // Bytes the capture cut off the end of the frame (snap length); 0 for a whole frame.
    let cut = (frame.orig_len as usize).saturating_sub(frame.data.len());
    decode_ip(net, ip, cut)
}

fn err(layer: Layer, detail: impl Into<String>) -> DecodeError {
    DecodeError {
        layer,
        detail: detail.into(),
    }
}

fn short(layer: Layer, what: &str, need: usize, have: usize) -> DecodeError {
    err(layer, format!("{what} needs {need} bytes, {have} present"))
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

fn u32_at(b: &[u8], at: usize) -> Option<[u8; 4]> {
    b.get(at..at.checked_add(4)?)?.first_chunk::<4>().copied()
}

/// Takes the link header off; returns what network layer follows and its bytes.
fn link(link: LinkType, data: &[u8]) -> Result<(Net, &[u8]), DecodeError> {
    match link.0 {
        // LINKTYPE_ETHERNET
        1 => {
            let Some(ethertype) = be16(data, 12) else {
                return Err(short(
                    Layer::Link,
                    "Ethernet header",
                    ETHERNET_LEN,
                    data.len(),
                ));
            };
            ether_payload(ethertype, data.get(ETHERNET_LEN..).unwrap_or(&[]))
        }
        // LINKTYPE_LINUX_SLL
        113 => {
            let (Some(arphrd), Some(proto)) = (be16(data, 2), be16(data, 14)) else {
                return Err(short(
                    Layer::Link,
                    "Linux cooked header",
                    SLL_LEN,
                    data.len(),
                ));
            };
            if arphrd == ARPHRD_NETLINK {
                return Ok((Net::Skip(Skipped::NotIp), &[]));
            }
            ether_payload(proto, data.get(SLL_LEN..).unwrap_or(&[]))
        }
        // LINKTYPE_LINUX_SLL2
        276 => {
            if data.len() < SLL2_LEN {
                return Err(short(
                    Layer::Link,
                    "Linux cooked v2 header",
                    SLL2_LEN,
                    data.len(),
                ));
            }
            let (Some(proto), Some(arphrd)) = (be16(data, 0), be16(data, 8)) else {
                return Err(short(
                    Layer::Link,
                    "Linux cooked v2 header",
                    SLL2_LEN,
                    data.len(),
                ));
            };
            if arphrd == ARPHRD_NETLINK {
                return Ok((Net::Skip(Skipped::NotIp), &[]));
            }
            ether_payload(proto, data.get(SLL2_LEN..).unwrap_or(&[]))
        }
        // LINKTYPE_NULL: the family is in the capturing host's byte order, which the file does
        // not record. Families are small numbers: if the high half is set, it was the other
        // order (what libpcap and Wireshark do).
        0 => {
            let Some(b) = u32_at(data, 0) else {
                return Err(short(Layer::Link, "loopback header", NULL_LEN, data.len()));
            };
            let mut family = u32::from_le_bytes(b);
            if family & 0xffff_0000 != 0 {
                family = family.swap_bytes();
            }
            Ok((af_net(family), data.get(NULL_LEN..).unwrap_or(&[])))
        }
        // LINKTYPE_LOOP (OpenBSD): the same family, always in network order.
        108 => {
            let Some(b) = u32_at(data, 0) else {
                return Err(short(Layer::Link, "loopback header", NULL_LEN, data.len()));
            };
            Ok((
                af_net(u32::from_be_bytes(b)),
                data.get(NULL_LEN..).unwrap_or(&[]),
            ))
        }
        // LINKTYPE_RAW, and DLT_RAW's numbers on systems that write those into files (12, 14).
        101 | 12 | 14 => Ok((Net::Any, data)),
        228 => Ok((Net::V4, data)),
        229 => Ok((Net::V6, data)),
        _ => Ok((Net::Skip(Skipped::Link), &[])),
    }
}

fn af_net(family: u32) -> Net {
    if family == AF_INET {
        Net::V4
    } else if AF_INET6.contains(&family) {
        Net::V6
    } else {
        Net::Skip(Skipped::NotIp)
    }
}

/// Follows an EtherType through up to `MAX_VLAN_TAGS` VLAN tags to IPv4 or IPv6.
fn ether_payload(mut ethertype: u16, mut rest: &[u8]) -> Result<(Net, &[u8]), DecodeError> {
    let mut tags = 0;
    loop {
        match EtherType(ethertype) {
            EtherType::IPV4 => return Ok((Net::V4, rest)),
            EtherType::IPV6 => return Ok((Net::V6, rest)),
            // IEEE 802.1Q (0x8100), 802.1ad QinQ (0x88a8) and the older QinQ 0x9100: a 2-byte
            // tag control field, then the next EtherType.
            EtherType::VLAN_TAGGED_FRAME
            | EtherType::PROVIDER_BRIDGING
            | EtherType::VLAN_DOUBLE_TAGGED_FRAME => {
                if tags == MAX_VLAN_TAGS {
                    return Ok((Net::Skip(Skipped::TooDeep), &[]));
                }
                let Some(next) = be16(rest, 2) else {
                    return Err(short(Layer::Link, "VLAN tag", VLAN_TAG_LEN, rest.len()));
                };
                ethertype = next;
                rest = rest.get(VLAN_TAG_LEN..).unwrap_or(&[]);
                tags += 1;
            }
            EtherType(t) if ETHERTYPE_MPLS.contains(&t) => return mpls(rest),
            _ => return Ok((Net::Skip(Skipped::NotIp), &[])),
        }
    }
}

/// Follows an MPLS label stack (RFC 3032 §2.1) to the packet under its bottom entry. MPLS
/// does not say what it carries: IPv4 and IPv6 are told by their version nibble (RFC 4928
/// §2 makes sure a pseudowire's control word never starts with 4 or 6); anything else
/// (Ethernet over a pseudowire...) is not placed.
fn mpls(mut rest: &[u8]) -> Result<(Net, &[u8]), DecodeError> {
    for _ in 0..MAX_MPLS_LABELS {
        let Some(entry) = rest.get(..MPLS_ENTRY_LEN) else {
            return Err(short(Layer::Link, "MPLS label", MPLS_ENTRY_LEN, rest.len()));
        };
        let bottom = entry.get(2).is_some_and(|b| b & 0x01 != 0);
        rest = rest.get(MPLS_ENTRY_LEN..).unwrap_or(&[]);
        if bottom {
            return Ok(match rest.first().map(|b| b >> 4) {
                Some(4) => (Net::V4, rest),
                Some(6) => (Net::V6, rest),
                _ => (Net::Skip(Skipped::NotIp), &[]),
            });
        }
    }
    Ok((Net::Skip(Skipped::TooDeep), &[]))
}

fn len_detail(what: &str, e: &LenError) -> String {
    let source = match e.len_source {
        LenSource::Slice => "captured",
        _ => "allowed by the IP length",
    };
    format!(
        "{what} needs {} bytes at offset {}, {} {source}",
        e.required_len, e.layer_start_offset, e.len
    )
}

fn ip_error(e: ip::LaxHeaderSliceError) -> DecodeError {
    match e {
        ip::LaxHeaderSliceError::Len(l) => err(Layer::Ip, len_detail("IP header", &l)),
        ip::LaxHeaderSliceError::Content(c) => err(
            Layer::Ip,
            match c {
                ip::HeaderError::UnsupportedIpVersion { version_number } => {
                    format!("IP version {version_number}")
                }
                ip::HeaderError::Ipv4HeaderLengthSmallerThanHeader { ihl } => {
                    format!(
                        "IPv4 header length {} bytes is below the minimum 20",
                        ihl * 4
                    )
                }
            },
        ),
    }
}

fn ext_error(e: &ipv6_exts::HeaderSliceError) -> DecodeError {
    match e {
        ipv6_exts::HeaderSliceError::Len(l) => err(Layer::Ip, len_detail("IP extension header", l)),
        ipv6_exts::HeaderSliceError::Content(c) => {
            err(Layer::Ip, format!("IP extension header: {c}"))
        }
    }
}

fn decode_ip(net: Net, bytes: &[u8], cut: usize) -> Result<Decoded<'_>, DecodeError> {
    let Some(first) = bytes.first() else {
        return Err(short(Layer::Ip, "IP header", 20, 0));
    };
    let version = first >> 4;
    let expected = match net {
        Net::V4 => Some(4),
        Net::V6 => Some(6),
        Net::Any | Net::Skip(_) => None,
    };
    if let Some(v) = expected {
        if version != v {
            return Err(err(
                Layer::Ip,
                format!("IP version {version} where the link header says IPv{v}"),
            ));
        }
    }
    let (ip, ext_err) = LaxIpSlice::from_slice(bytes).map_err(ip_error)?;
    if let Some((e, _)) = &ext_err {
        return Err(ext_error(e));
    }
    let (src, dst, declared) = match &ip {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            let total = usize::from(h.total_len());
            let header_len = usize::from(h.ihl()) * 4;
            // RFC 791: the total length covers the header. 0 is the TSO case (module doc).
            if total != 0 && total < header_len {
                return Err(err(
                    Layer::Ip,
                    format!("IPv4 total length {total} is below its header length {header_len}"),
                ));
            }
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                total,
            )
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            let declared = 40 + usize::from(h.payload_length());
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                declared,
            )
        }
    };
    let p = ip.payload();
    // A fragment other than a whole packet cannot be decoded alone (no reassembly of IP).
    if p.fragmented {
        return Ok(Decoded::Other(Skipped::Fragment {
            tcp: p.ip_number == IpNumber::TCP,
        }));
    }
    if p.ip_number != IpNumber::TCP {
        return Ok(Decoded::Other(Skipped::NotTcp {
            protocol: p.ip_number.0,
        }));
    }
    // The IP payload on the wire: what the IP length says when the capture cut the packet,
    // else exactly the payload slice (bounded by the IP length, or the capture where the IP
    // length is 0).
    let ip_wire = if p.incomplete {
        // The wire carried only `cut` bytes more than the capture holds: an IP length beyond
        // that is a lie, not a snap-length cut (Wireshark: "IPv4 total length exceeds packet
        // length"). Taken as a cut, it would put a phantom hole in the stream and push the
        // reassembly cursor past bytes still to come.
        let on_wire = bytes.len().saturating_add(cut);
        if declared > on_wire {
            return Err(err(
                Layer::Ip,
                format!("IP length {declared} exceeds the packet's {on_wire} bytes"),
            ));
        }
        // An incomplete payload runs to the end of the captured bytes.
        let headers = bytes.len().saturating_sub(p.payload.len());
        declared.saturating_sub(headers)
    } else {
        p.payload.len()
    };
    let seg = TcpSlice::from_slice(p.payload).map_err(|e| tcp_error(&e, p.incomplete))?;
    let header_len = seg.header_slice().len();
    let flags = seg.header_slice().get(13).copied().unwrap_or(0);
    Ok(Decoded::Tcp(TcpPacket {
        src: SocketAddr::new(src, seg.source_port()),
        dst: SocketAddr::new(dst, seg.destination_port()),
        seq: seg.sequence_number(),
        ack: seg.acknowledgment_number(),
        flags,
        window: seg.window_size(),
        options: tcp_options(seg.options()),
        payload: seg.payload(),
        wire_len: u32::try_from(ip_wire.saturating_sub(header_len)).unwrap_or(u32::MAX),
    }))
}

fn tcp_error(e: &tcp::HeaderSliceError, cut: bool) -> DecodeError {
    match e {
        tcp::HeaderSliceError::Len(l) => {
            let what = if l.required_len > 20 {
                "TCP header (with its options)"
            } else {
                "TCP header"
            };
            let mut d = format!("{what} needs {} bytes, {} present", l.required_len, l.len);
            if cut {
                d.push_str(" (the capture cut the packet)");
            }
            err(Layer::Tcp, d)
        }
        tcp::HeaderSliceError::Content(tcp::HeaderError::DataOffsetTooSmall { data_offset }) => {
            err(
                Layer::Tcp,
                format!("TCP data offset {data_offset} is below the minimum 5"),
            )
        }
    }
}

/// TCP option kinds (IANA "TCP Option Kind Numbers").
mod opt {
    pub const END: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WSCALE: u8 = 3;
    pub const SACK_PERM: u8 = 4;
    pub const TIMESTAMP: u8 = 8;
}

/// Reads the options synscope shows. RFC 9293 §3.1: every kind but END and NOP carries a length
/// byte covering kind and length, so unknown kinds (TCP Fast Open, MPTCP, TCP-AO...) are
/// skipped and later options still read; etherparse's `TcpOptionsIterator` stops at the first
/// unknown kind. A known kind with the wrong length is skipped; a length that runs past the
/// header ends the walk (what was read so far is kept).
fn tcp_options(mut b: &[u8]) -> TcpOptions {
    let mut o = TcpOptions::default();
    while let Some(&kind) = b.first() {
        match kind {
            opt::END => break,
            opt::NOP => {
                b = b.get(1..).unwrap_or(&[]);
                continue;
            }
            _ => {}
        }
        let Some(len) = b.get(1).map(|l| usize::from(*l)) else {
            break;
        };
        let Some(body) = b.get(2..len.max(2)).filter(|_| len >= 2) else {
            break;
        };
        match (kind, body.len()) {
            (opt::MSS, 2) => o.mss = be16(body, 0),
            (opt::WSCALE, 1) => o.wscale = body.first().copied(),
            (opt::SACK_PERM, 0) => o.sack_perm = true,
            (opt::TIMESTAMP, 8) => {
                o.ts_val = u32_at(body, 0).map(u32::from_be_bytes);
                o.ts_ecr = u32_at(body, 4).map(u32::from_be_bytes);
            }
            _ => {}
        }
        b = b.get(len..).unwrap_or(&[]);
    }
    o
}

#[cfg(test)]
mod tests;
