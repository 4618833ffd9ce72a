//! Decoder tests: packets from etherparse's `PacketBuilder`, link headers added by hand.

use etherparse::{
    Icmpv6Header, IpHeaders, IpNumber, Ipv4Header, Ipv6Extensions, Ipv6FragmentHeader, Ipv6Header,
    Ipv6RawExtHeader, PacketBuilder, PacketBuilderStep, TcpHeader, TcpOptionElement, UdpHeader,
    VlanId,
};
use proptest::prelude::*;

use super::*;
use crate::capture::LinkType;
use crate::model::{tcp_flags, Timestamp};

const A4: [u8; 4] = [10, 0, 0, 1];
const B4: [u8; 4] = [10, 0, 0, 2];
const A6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const B6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];

/// Serialises a built packet.
trait Bytes {
    fn bytes(self, payload: &[u8]) -> Vec<u8>;
}

macro_rules! impl_bytes {
    ($($t:ty),*) => {$(
        impl Bytes for PacketBuilderStep<$t> {
            fn bytes(self, payload: &[u8]) -> Vec<u8> {
                let mut v = Vec::new();
                self.write_to_vec(&mut v, payload).unwrap();
                v
            }
        }
    )*};
}
impl_bytes!(TcpHeader, UdpHeader, Icmpv6Header);

/// Decodes `data` as a frame the capture may have cut: the wire length is unknown (larger), so
/// a short frame is a snap-length cut.
fn dec(link: LinkType, data: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    decode(&RawFrame {
        ts: Timestamp(0),
        link,
        data,
        orig_len: u32::MAX,
    })
}

/// Decodes `data` as a frame captured whole (`orig_len` is its length).
fn dec_whole(link: LinkType, data: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    decode(&RawFrame {
        ts: Timestamp(0),
        link,
        data,
        orig_len: data.len() as u32,
    })
}

fn tcp(link: LinkType, data: &[u8]) -> TcpPacket<'_> {
    match dec(link, data) {
        Ok(Decoded::Tcp(t)) => t,
        other => panic!("expected TCP, got {other:?}"),
    }
}

fn err_layer(link: LinkType, data: &[u8]) -> (Layer, String) {
    match dec(link, data) {
        Err(e) => (e.layer, e.detail),
        Ok(d) => panic!("expected an error, got {d:?}"),
    }
}

fn ipv4_tcp(payload: &[u8]) -> Vec<u8> {
    PacketBuilder::ipv4(A4, B4, 64)
        .tcp(40000, 80, 1000, 512)
        .ack(77)
        .psh()
        .bytes(payload)
}

fn ipv6_tcp(payload: &[u8]) -> Vec<u8> {
    PacketBuilder::ipv6(A6, B6, 64)
        .tcp(40000, 443, 5, 100)
        .syn()
        .bytes(payload)
}

fn with_link(header: &[u8], ip: &[u8]) -> Vec<u8> {
    let mut v = header.to_vec();
    v.extend_from_slice(ip);
    v
}

fn ethernet(ethertype: u16, ip: &[u8]) -> Vec<u8> {
    let mut h = MAC_B.to_vec();
    h.extend_from_slice(&MAC_A);
    h.extend_from_slice(&ethertype.to_be_bytes());
    with_link(&h, ip)
}

fn sll(proto: u16, ip: &[u8]) -> Vec<u8> {
    let mut h = vec![0, 0, 0x03, 0x04, 0, 6]; // host, ARPHRD_LOOPBACK (772), 6-byte address
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&proto.to_be_bytes());
    with_link(&h, ip)
}

fn sll2(proto: u16, ip: &[u8]) -> Vec<u8> {
    let mut h = proto.to_be_bytes().to_vec();
    h.extend_from_slice(&[0, 0]); // reserved
    h.extend_from_slice(&1u32.to_be_bytes()); // ifindex
    h.extend_from_slice(&[0x03, 0x04, 0, 6]); // ARPHRD_LOOPBACK, host, address length
    h.extend_from_slice(&[0; 8]);
    with_link(&h, ip)
}

fn check_v4(t: &TcpPacket, payload: &[u8]) {
    assert_eq!(t.src, "10.0.0.1:40000".parse().unwrap());
    assert_eq!(t.dst, "10.0.0.2:80".parse().unwrap());
    assert_eq!((t.seq, t.ack, t.window), (1000, 77, 512));
    assert_eq!(t.flags, tcp_flags::ACK | tcp_flags::PSH);
    assert_eq!(t.payload, payload);
    assert_eq!(t.wire_len, payload.len() as u32);
}

fn check_v6(t: &TcpPacket, payload: &[u8]) {
    assert_eq!(t.src, "[2001:db8::1]:40000".parse().unwrap());
    assert_eq!(t.dst, "[2001:db8::2]:443".parse().unwrap());
    assert_eq!(t.flags, tcp_flags::SYN);
    assert_eq!(t.payload, payload);
    assert_eq!(t.wire_len, payload.len() as u32);
}

#[test]
fn every_link_type() {
    let p = b"hello";
    let v4 = ipv4_tcp(p);
    let v6 = ipv6_tcp(p);

    check_v4(&tcp(LinkType::ETHERNET, &ethernet(0x0800, &v4)), p);
    check_v6(&tcp(LinkType::ETHERNET, &ethernet(0x86dd, &v6)), p);
    check_v4(&tcp(LinkType::LINUX_SLL, &sll(0x0800, &v4)), p);
    check_v6(&tcp(LinkType::LINUX_SLL, &sll(0x86dd, &v6)), p);
    check_v4(&tcp(LinkType::LINUX_SLL2, &sll2(0x0800, &v4)), p);
    check_v6(&tcp(LinkType::LINUX_SLL2, &sll2(0x86dd, &v6)), p);
    for raw in [LinkType::RAW, LinkType(12), LinkType(14)] {
        check_v4(&tcp(raw, &v4), p);
        check_v6(&tcp(raw, &v6), p);
    }
    check_v4(&tcp(LinkType::IPV4, &v4), p);
    check_v6(&tcp(LinkType::IPV6, &v6), p);

    // NULL: the family in either byte order; every OS's AF_INET6.
    check_v4(
        &tcp(LinkType::NULL, &with_link(&2u32.to_le_bytes(), &v4)),
        p,
    );
    check_v4(
        &tcp(LinkType::NULL, &with_link(&2u32.to_be_bytes(), &v4)),
        p,
    );
    for af6 in [10u32, 24, 28, 30] {
        check_v6(&tcp(LinkType::NULL, &with_link(&af6.to_le_bytes(), &v6)), p);
        check_v6(&tcp(LinkType::NULL, &with_link(&af6.to_be_bytes(), &v6)), p);
    }
    // LOOP: network order only.
    check_v4(
        &tcp(LinkType::LOOP, &with_link(&2u32.to_be_bytes(), &v4)),
        p,
    );
    check_v6(
        &tcp(LinkType::LOOP, &with_link(&24u32.to_be_bytes(), &v6)),
        p,
    );
    assert_eq!(
        dec(LinkType::LOOP, &with_link(&2u32.to_le_bytes(), &v4)),
        Ok(Decoded::Other(Skipped::NotIp))
    );
    // Another family (AF_UNIX = 1) is not IP.
    assert_eq!(
        dec(LinkType::NULL, &with_link(&1u32.to_le_bytes(), &v4)),
        Ok(Decoded::Other(Skipped::NotIp))
    );
}

#[test]
fn ethernet_built_by_etherparse() {
    let pkt = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4(A4, B4, 64)
        .tcp(40000, 80, 1000, 512)
        .ack(77)
        .psh()
        .bytes(b"abc");
    check_v4(&tcp(LinkType::ETHERNET, &pkt), b"abc");
}

#[test]
fn link_and_ip_version_must_agree() {
    let v6 = ipv6_tcp(b"");
    assert_eq!(err_layer(LinkType::IPV4, &v6).0, Layer::Ip);
    assert_eq!(
        err_layer(LinkType::ETHERNET, &ethernet(0x0800, &v6)).0,
        Layer::Ip
    );
    let mut bogus = ipv4_tcp(b"");
    bogus[0] = 0x75;
    let (layer, detail) = err_layer(LinkType::RAW, &bogus);
    assert_eq!(layer, Layer::Ip);
    assert!(detail.contains("version 7"), "{detail}");
}

#[test]
fn unsupported_link_types_are_other() {
    assert!(!is_supported(LinkType(105)));
    assert!(is_supported(LinkType::LINUX_SLL2));
    assert_eq!(
        dec(LinkType(105), &ipv4_tcp(b"x")),
        Ok(Decoded::Other(Skipped::Link))
    );
}

#[test]
fn vlan_tags() {
    let p = b"vlan";
    let single = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .single_vlan(VlanId::try_new(42).unwrap())
        .ipv4(A4, B4, 64)
        .tcp(40000, 80, 1000, 512)
        .ack(77)
        .psh()
        .bytes(p);
    check_v4(&tcp(LinkType::ETHERNET, &single), p);
    let double = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .double_vlan(VlanId::try_new(1).unwrap(), VlanId::try_new(2).unwrap())
        .ipv6(A6, B6, 64)
        .tcp(40000, 443, 5, 100)
        .syn()
        .bytes(p);
    check_v6(&tcp(LinkType::ETHERNET, &double), p);

    // Tags by hand: 0x9100 outer, 0x8100 inner, over SLL too.
    let v4 = ipv4_tcp(p);
    let tags = |n: usize| {
        let mut v = Vec::new();
        for i in 0..n {
            v.extend_from_slice(&[0, i as u8]);
            let next: u16 = if i + 1 == n { 0x0800 } else { 0x8100 };
            v.extend_from_slice(&next.to_be_bytes());
        }
        v.extend_from_slice(&v4);
        v
    };
    check_v4(&tcp(LinkType::ETHERNET, &ethernet(0x9100, &tags(3))), p);
    check_v4(&tcp(LinkType::LINUX_SLL, &sll(0x8100, &tags(1))), p);
    // Deeper than MAX_VLAN_TAGS: not followed.
    assert_eq!(
        dec(LinkType::ETHERNET, &ethernet(0x8100, &tags(4))),
        Ok(Decoded::Other(Skipped::TooDeep))
    );
    // Cut inside a tag.
    let cut = ethernet(0x8100, &[0, 1, 8]);
    assert_eq!(err_layer(LinkType::ETHERNET, &cut).0, Layer::Link);
}

#[test]
fn ethernet_padding_is_not_payload() {
    let mut frame = ethernet(0x0800, &ipv4_tcp(b""));
    assert_eq!(frame.len(), 54);
    frame.resize(60, 0);
    let t = tcp(LinkType::ETHERNET, &frame);
    assert_eq!(t.payload, b"");
    assert_eq!(t.wire_len, 0);

    // Padding after a 2-byte payload, and a 4-byte FCS after a full-size frame.
    let mut frame = ethernet(0x0800, &ipv4_tcp(b"hi"));
    frame.resize(60, 0xee);
    assert_eq!(tcp(LinkType::ETHERNET, &frame).payload, b"hi");
    let mut frame = ethernet(0x86dd, &ipv6_tcp(&[7; 1000]));
    frame.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let t = tcp(LinkType::ETHERNET, &frame);
    assert_eq!((t.payload.len(), t.wire_len), (1000, 1000));
}

#[test]
fn payload_cut_by_the_snap_length() {
    let payload = [0x42; 100];
    let full = ethernet(0x0800, &ipv4_tcp(&payload));
    let cut = &full[..full.len() - 30];
    let t = tcp(LinkType::ETHERNET, cut);
    assert_eq!(t.payload, &payload[..70]);
    assert_eq!(t.wire_len, 100);

    let full = ipv6_tcp(&payload);
    let t = tcp(LinkType::RAW, &full[..full.len() - 1]);
    assert_eq!((t.payload.len(), t.wire_len), (99, 100));

    // Cut right after the TCP header.
    let full = ipv4_tcp(&payload);
    let t = tcp(LinkType::RAW, &full[..40]);
    assert_eq!((t.payload.len(), t.wire_len), (0, 100));
}

#[test]
fn an_ip_length_beyond_a_whole_frame_is_malformed() {
    let payload = [0x42; 100];
    let mut v4 = ipv4_tcp(&payload);
    v4[2..4].copy_from_slice(&9000u16.to_be_bytes());
    let e = dec_whole(LinkType::RAW, &v4).unwrap_err();
    assert_eq!(e.layer, Layer::Ip);
    assert!(e.detail.contains("9000"), "{}", e.detail);
    let mut v6 = ipv6_tcp(&payload);
    v6[4..6].copy_from_slice(&9000u16.to_be_bytes());
    assert_eq!(dec_whole(LinkType::RAW, &v6).unwrap_err().layer, Layer::Ip);
    // The same frame with the wire length the IP header claims is a snap-length cut.
    let t = match decode(&RawFrame {
        ts: Timestamp(0),
        link: LinkType::RAW,
        data: &v4,
        orig_len: 9000,
    }) {
        Ok(Decoded::Tcp(t)) => t,
        other => panic!("expected TCP, got {other:?}"),
    };
    assert_eq!((t.payload.len(), t.wire_len), (100, 9000 - 40));
    // A whole frame whose IP length is right decodes as before.
    let v4 = ipv4_tcp(&payload);
    let t = match dec_whole(LinkType::RAW, &v4) {
        Ok(Decoded::Tcp(t)) => t,
        other => panic!("expected TCP, got {other:?}"),
    };
    assert_eq!((t.payload.len(), t.wire_len), (100, 100));
}

#[test]
fn headers_cut_short_are_errors() {
    let v4 = ethernet(0x0800, &ipv4_tcp(b"x"));
    for n in 0..14 {
        assert_eq!(
            err_layer(LinkType::ETHERNET, &v4[..n]).0,
            Layer::Link,
            "cut at {n}"
        );
    }
    for n in 14..34 {
        assert_eq!(
            err_layer(LinkType::ETHERNET, &v4[..n]).0,
            Layer::Ip,
            "cut at {n}"
        );
    }
    for n in 34..54 {
        let (layer, detail) = err_layer(LinkType::ETHERNET, &v4[..n]);
        assert_eq!(layer, Layer::Tcp, "cut at {n}");
        assert!(detail.contains("needs 20 bytes"), "{detail}");
        assert!(detail.contains("cut"), "{detail}");
    }
    let v6 = ipv6_tcp(b"");
    for n in 0..40 {
        assert_eq!(
            err_layer(LinkType::RAW, &v6[..n]).0,
            Layer::Ip,
            "cut at {n}"
        );
    }
    for n in 40..60 {
        assert_eq!(
            err_layer(LinkType::RAW, &v6[..n]).0,
            Layer::Tcp,
            "cut at {n}"
        );
    }
    assert_eq!(
        err_layer(LinkType::LINUX_SLL, &sll(0x0800, &[])[..15]).0,
        Layer::Link
    );
    assert_eq!(
        err_layer(LinkType::LINUX_SLL2, &sll2(0x0800, &[])[..19]).0,
        Layer::Link
    );
    assert_eq!(err_layer(LinkType::NULL, &[2, 0, 0]).0, Layer::Link);
    assert_eq!(err_layer(LinkType::LOOP, &[]).0, Layer::Link);
}

#[test]
fn bad_header_fields_are_errors() {
    // IHL 4.
    let mut p = ipv4_tcp(b"");
    p[0] = 0x44;
    assert_eq!(err_layer(LinkType::RAW, &p).0, Layer::Ip);
    // IHL 15 (60 bytes) beyond a 40-byte packet.
    p[0] = 0x4f;
    assert_eq!(err_layer(LinkType::RAW, &p).0, Layer::Ip);
    // Total length 10 < header length 20.
    let mut p = ipv4_tcp(b"");
    p[2..4].copy_from_slice(&10u16.to_be_bytes());
    let (layer, detail) = err_layer(LinkType::RAW, &p);
    assert_eq!(layer, Layer::Ip);
    assert!(detail.contains("total length 10"), "{detail}");
    // TCP data offset 4.
    let mut p = ipv4_tcp(b"abcd");
    p[20 + 12] = 0x40;
    let (layer, detail) = err_layer(LinkType::RAW, &p);
    assert_eq!(layer, Layer::Tcp);
    assert!(detail.contains("data offset 4"), "{detail}");
    // TCP data offset 15 (60 bytes) beyond a 24-byte IP payload.
    p[20 + 12] = 0xf0;
    let (layer, detail) = err_layer(LinkType::RAW, &p);
    assert_eq!(layer, Layer::Tcp);
    assert!(detail.contains("needs 60 bytes"), "{detail}");
}

#[test]
fn ipv4_total_length_zero_uses_the_captured_length() {
    // TSO captures write 0; the payload is everything captured.
    let mut p = ipv4_tcp(&[1; 30]);
    p[2..4].copy_from_slice(&[0, 0]);
    let t = tcp(LinkType::RAW, &p);
    assert_eq!((t.payload.len(), t.wire_len), (30, 30));
}

#[test]
fn ipv6_payload_length_zero_uses_the_captured_length() {
    let mut p = ipv6_tcp(&[1; 30]);
    p[4..6].copy_from_slice(&[0, 0]);
    let t = tcp(LinkType::RAW, &p);
    assert_eq!((t.payload.len(), t.wire_len), (30, 30));
}

#[test]
fn ipv4_options() {
    let mut h = Ipv4Header::new(0, 64, IpNumber::TCP, A4, B4).unwrap();
    h.options = [1, 1, 1, 0, 7, 3, 4, 0][..].try_into().unwrap(); // NOP x3, EOL, record route
    let p = PacketBuilder::ip(IpHeaders::Ipv4(h, Default::default()))
        .tcp(40000, 80, 1000, 512)
        .ack(77)
        .psh()
        .bytes(b"opt");
    assert_eq!(p[0], 0x47);
    check_v4(&tcp(LinkType::RAW, &p), b"opt");
}

fn ipv6_with_exts(exts: Ipv6Extensions, payload: &[u8]) -> Vec<u8> {
    let h = Ipv6Header {
        traffic_class: 0,
        flow_label: Default::default(),
        payload_length: 0,
        next_header: IpNumber::TCP,
        hop_limit: 64,
        source: A6,
        destination: B6,
    };
    PacketBuilder::ip(IpHeaders::Ipv6(h, exts))
        .tcp(40000, 443, 5, 100)
        .syn()
        .bytes(payload)
}

#[test]
fn ipv6_hop_by_hop_extension_header() {
    let exts = Ipv6Extensions {
        hop_by_hop_options: Some(
            Ipv6RawExtHeader::new_raw(IpNumber::TCP, &[1, 4, 0, 0, 0, 0]).unwrap(),
        ),
        ..Default::default()
    };
    let p = ipv6_with_exts(exts, b"hbh");
    assert_eq!(p[6], 0, "next header is hop-by-hop");
    check_v6(&tcp(LinkType::RAW, &p), b"hbh");
    // Cut inside the extension header.
    assert_eq!(err_layer(LinkType::RAW, &p[..44]).0, Layer::Ip);
    // Cut in the payload: wire_len still counts past the extension header.
    let t = tcp(LinkType::RAW, &p[..p.len() - 2]);
    assert_eq!((t.payload, t.wire_len), (&b"h"[..], 3));
}

#[test]
fn fragments_are_other() {
    // IPv4: more fragments.
    let mut p = ipv4_tcp(b"frag");
    p[6] = 0x20;
    assert_eq!(
        dec(LinkType::RAW, &p),
        Ok(Decoded::Other(Skipped::Fragment { tcp: true }))
    );
    // IPv4: a later fragment.
    let mut p = ipv4_tcp(b"frag");
    p[6..8].copy_from_slice(&[0x00, 0x10]);
    assert_eq!(
        dec(LinkType::RAW, &p),
        Ok(Decoded::Other(Skipped::Fragment { tcp: true }))
    );
    // IPv4: don't-fragment is a whole packet.
    let mut p = ipv4_tcp(b"frag");
    p[6] = 0x40;
    check_v4(&tcp(LinkType::RAW, &p), b"frag");

    // IPv6: a first fragment (offset 0, more fragments).
    let exts = Ipv6Extensions {
        fragment: Some(Ipv6FragmentHeader::new(
            IpNumber::TCP,
            0.try_into().unwrap(),
            true,
            9,
        )),
        ..Default::default()
    };
    assert_eq!(
        dec(LinkType::RAW, &ipv6_with_exts(exts, b"x")),
        Ok(Decoded::Other(Skipped::Fragment { tcp: true }))
    );
    // IPv6: an atomic fragment (offset 0, no more) is a whole packet (RFC 6946).
    let exts = Ipv6Extensions {
        fragment: Some(Ipv6FragmentHeader::new(
            IpNumber::TCP,
            0.try_into().unwrap(),
            false,
            9,
        )),
        ..Default::default()
    };
    check_v6(&tcp(LinkType::RAW, &ipv6_with_exts(exts, b"x")), b"x");
}

#[test]
fn non_tcp_is_other() {
    let udp = PacketBuilder::ipv4(A4, B4, 64).udp(53, 53).bytes(b"q");
    assert_eq!(
        dec(LinkType::RAW, &udp),
        Ok(Decoded::Other(Skipped::NotTcp { protocol: 17 }))
    );
    let icmp = PacketBuilder::ipv6(A6, B6, 64)
        .icmpv6_echo_request(1, 2)
        .bytes(b"");
    assert_eq!(
        dec(LinkType::RAW, &icmp),
        Ok(Decoded::Other(Skipped::NotTcp { protocol: 58 }))
    );
    // ARP, LLDP.
    assert_eq!(
        dec(LinkType::ETHERNET, &ethernet(0x0806, &[0; 28])),
        Ok(Decoded::Other(Skipped::NotIp))
    );
    assert_eq!(
        dec(LinkType::ETHERNET, &ethernet(0x88cc, &[])),
        Ok(Decoded::Other(Skipped::NotIp))
    );
    // 802.3 length field, not an EtherType.
    assert_eq!(
        dec(LinkType::ETHERNET, &ethernet(46, &[0; 46])),
        Ok(Decoded::Other(Skipped::NotIp))
    );
    // Netlink over SLL: the protocol field is not an EtherType.
    let mut nl = sll(0x0800, &ipv4_tcp(b""));
    nl[2..4].copy_from_slice(&824u16.to_be_bytes());
    assert_eq!(
        dec(LinkType::LINUX_SLL, &nl),
        Ok(Decoded::Other(Skipped::NotIp))
    );
}

fn options_of(opts: &[TcpOptionElement]) -> TcpOptions {
    let p = PacketBuilder::ipv4(A4, B4, 64)
        .tcp(1, 2, 3, 4)
        .syn()
        .options(opts)
        .unwrap()
        .bytes(b"");
    tcp(LinkType::RAW, &p).options
}

fn raw_options(raw: &[u8]) -> TcpOptions {
    let p = PacketBuilder::ipv4(A4, B4, 64)
        .tcp(1, 2, 3, 4)
        .syn()
        .options_raw(raw)
        .unwrap()
        .bytes(b"");
    tcp(LinkType::RAW, &p).options
}

#[test]
fn each_tcp_option() {
    use TcpOptionElement::*;
    assert_eq!(options_of(&[]), TcpOptions::default());
    assert_eq!(options_of(&[MaximumSegmentSize(1460)]).mss, Some(1460));
    assert_eq!(options_of(&[Noop, WindowScale(7)]).wscale, Some(7));
    assert!(options_of(&[SelectiveAcknowledgementPermitted]).sack_perm);
    let ts = options_of(&[Noop, Noop, Timestamp(0xdead_beef, 42)]);
    assert_eq!((ts.ts_val, ts.ts_ecr), (Some(0xdead_beef), Some(42)));
    // SACK blocks are not kept, and do not stop the walk.
    let o = options_of(&[
        Noop,
        Noop,
        SelectiveAcknowledgement((1, 2), [None, None, None]),
        MaximumSegmentSize(9000),
    ]);
    assert_eq!(o.mss, Some(9000));
    // A Linux SYN: all four.
    let o = options_of(&[
        MaximumSegmentSize(65495),
        SelectiveAcknowledgementPermitted,
        Timestamp(1, 0),
        Noop,
        WindowScale(7),
    ]);
    assert_eq!(
        o,
        TcpOptions {
            mss: Some(65495),
            wscale: Some(7),
            sack_perm: true,
            ts_val: Some(1),
            ts_ecr: Some(0),
        }
    );
}

#[test]
fn tcp_option_edge_cases() {
    // Unknown kind (TCP Fast Open cookie request, kind 34 len 2) before the MSS: skipped.
    assert_eq!(raw_options(&[34, 2, 2, 4, 5, 180]).mss, Some(1460));
    // End of options stops the walk.
    assert_eq!(raw_options(&[0, 0, 2, 4, 5, 180]).mss, None);
    // A known kind with the wrong length is skipped, the walk goes on.
    let o = raw_options(&[2, 3, 5, 3, 3, 9, 1, 1]);
    assert_eq!((o.mss, o.wscale), (None, Some(9)));
    // A length below 2 or past the header ends the walk, keeping what was read.
    assert_eq!(raw_options(&[3, 3, 4, 34, 1, 0, 0, 0]).wscale, Some(4));
    let o = raw_options(&[3, 3, 4, 2, 40, 0, 0, 0]);
    assert_eq!((o.mss, o.wscale), (None, Some(4)));
    assert_eq!(tcp_options(&[2]), TcpOptions::default());
    assert_eq!(tcp_options(&[2, 4, 5]), TcpOptions::default());
}

const LINKS: [LinkType; 12] = [
    LinkType::NULL,
    LinkType::ETHERNET,
    LinkType(12),
    LinkType(14),
    LinkType::RAW,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::LINUX_SLL2,
    LinkType(105),
    LinkType(u32::MAX),
];

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(
        data in proptest::collection::vec(any::<u8>(), 0..200),
        which in 0..LINKS.len(),
    ) {
        if let Ok(Decoded::Tcp(t)) = dec(LINKS[which], &data) {
            prop_assert!(t.payload.len() <= t.wire_len as usize);
        }
    }

    /// Valid headers followed by noise: the decoder must look at every field.
    #[test]
    fn mutated_packets_never_panic(
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        flips in proptest::collection::vec((0usize..128, any::<u8>()), 0..6),
        cut in 0usize..200,
        v6 in any::<bool>(),
    ) {
        let mut p = if v6 { ipv6_tcp(&payload) } else { ipv4_tcp(&payload) };
        for (at, x) in flips {
            if let Some(b) = p.get_mut(at) {
                *b ^= x;
            }
        }
        p.truncate(cut);
        let framed = ethernet(if v6 { 0x86dd } else { 0x0800 }, &p);
        for (link, bytes) in [(LinkType::RAW, &p), (LinkType::ETHERNET, &framed)] {
            if let Ok(Decoded::Tcp(t)) = dec(link, bytes) {
                prop_assert!(t.payload.len() <= t.wire_len as usize);
            }
        }
    }
}

#[test]
fn mpls_label_stacks_are_followed_to_ip() {
    let p = b"mpls";
    // RFC 3032 §2.1: label 20 bits, TC 3, S 1 (bottom of stack), TTL 8.
    let entry = |label: u32, bottom: bool| {
        let v = (label << 12) | (u32::from(bottom) << 8) | 64;
        v.to_be_bytes()
    };
    let stack = |n: usize, under: &[u8]| {
        let mut v = Vec::new();
        for i in 0..n {
            v.extend_from_slice(&entry(16 + i as u32, i + 1 == n));
        }
        v.extend_from_slice(under);
        v
    };
    let v4 = ipv4_tcp(p);
    check_v4(
        &tcp(LinkType::ETHERNET, &ethernet(0x8847, &stack(1, &v4))),
        p,
    );
    check_v4(
        &tcp(LinkType::ETHERNET, &ethernet(0x8848, &stack(3, &v4))),
        p,
    );
    // Under VLAN tags, and over SLL.
    let mut tagged = vec![0, 7, 0x88, 0x47];
    tagged.extend(stack(2, &v4));
    check_v4(&tcp(LinkType::ETHERNET, &ethernet(0x8100, &tagged)), p);
    check_v4(&tcp(LinkType::LINUX_SLL, &sll(0x8847, &stack(2, &v4))), p);
    // IPv6 under the stack.
    let v6 = PacketBuilder::ipv6(A6, B6, 64)
        .tcp(40000, 443, 5, 100)
        .syn()
        .bytes(p);
    assert!(matches!(
        dec(LinkType::ETHERNET, &ethernet(0x8847, &stack(2, &v6))),
        Ok(Decoded::Tcp(_))
    ));
    // Ethernet over a pseudowire (a control word starting with 0): not IP.
    let pw = [0u8; 18];
    assert_eq!(
        dec(LinkType::ETHERNET, &ethernet(0x8847, &stack(1, &pw))),
        Ok(Decoded::Other(Skipped::NotIp))
    );
    // Deeper than MAX_MPLS_LABELS: not followed.
    assert_eq!(
        dec(
            LinkType::ETHERNET,
            &ethernet(0x8847, &stack(MAX_MPLS_LABELS + 1, &v4))
        ),
        Ok(Decoded::Other(Skipped::TooDeep))
    );
    check_v4(
        &tcp(
            LinkType::ETHERNET,
            &ethernet(0x8847, &stack(MAX_MPLS_LABELS, &v4)),
        ),
        p,
    );
    // Cut inside a label, or with nothing under the bottom label.
    assert_eq!(
        err_layer(LinkType::ETHERNET, &ethernet(0x8847, &[0, 1])).0,
        Layer::Link
    );
    assert_eq!(
        dec(LinkType::ETHERNET, &ethernet(0x8847, &stack(1, &[]))),
        Ok(Decoded::Other(Skipped::NotIp))
    );
}
