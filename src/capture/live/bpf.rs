//! A small compiler from synscope's capture filter (TCP, src-or-dst port in a set, src-or-dst
//! host) to a classic BPF program that the kernel runs on every packet before it is queued to
//! the capture socket (`SO_ATTACH_FILTER`), so unwanted packets never cost a copy.
//!
//! The instruction set and encoding are the kernel's classic BPF (`linux/filter.h`,
//! Documentation/networking/filter.rst); the ancillary loads (`SKF_AD_OFF + SKF_AD_PKTTYPE`,
//! `SKF_AD_PROTOCOL`) read the socket buffer's metadata instead of packet bytes. The programs
//! match what `tcpdump -d 'tcp and (port A or port B) and host H'` produces, with two
//! documented limits:
//! - IPv6: only packets whose fixed header's next header is TCP (6) match; a TCP segment behind
//!   IPv6 extension headers (hop-by-hop, routing, fragment, ...) is not captured. Loopback and
//!   ordinary TCP traffic never carry them.
//! - IPv4 with a port filter: non-first fragments (fragment offset != 0) carry no TCP header and
//!   are dropped, as tcpdump does.
//!
//! A load past the end of the packet makes the kernel return 0 (drop), so a truncated header
//! never matches.

use std::net::IpAddr;

/// One classic BPF instruction, laid out as the kernel's `struct sock_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

// Instruction classes, sizes, modes and operations (linux/bpf_common.h).
pub const BPF_LD: u16 = 0x00;
pub const BPF_LDX: u16 = 0x01;
pub const BPF_JMP: u16 = 0x05;
pub const BPF_RET: u16 = 0x06;
pub const BPF_W: u16 = 0x00;
pub const BPF_H: u16 = 0x08;
pub const BPF_B: u16 = 0x10;
pub const BPF_ABS: u16 = 0x20;
pub const BPF_IND: u16 = 0x40;
pub const BPF_MSH: u16 = 0xa0;
pub const BPF_JA: u16 = 0x00;
pub const BPF_JEQ: u16 = 0x10;
pub const BPF_JSET: u16 = 0x40;
pub const BPF_K: u16 = 0x00;

/// Ancillary data area (linux/filter.h `SKF_AD_OFF` = -0x1000), as the u32 the kernel reads.
pub const SKF_AD_OFF: u32 = (-0x1000i32) as u32;
/// `skb->protocol` (the EtherType, host order), whatever the link layer.
pub const SKF_AD_PROTOCOL: u32 = 0;
/// `skb->pkt_type`: PACKET_HOST, PACKET_OUTGOING, ...
pub const SKF_AD_PKTTYPE: u32 = 4;
/// linux/if_packet.h: the packet was sent by this host (the loopback transmit copy).
pub const PACKET_OUTGOING: u32 = 4;

const ETHERTYPE_IPV4: u32 = 0x0800;
const ETHERTYPE_IPV6: u32 = 0x86dd;
const IPPROTO_TCP: u32 = 6;
/// Ethernet header length: where the IP header starts on LINKTYPE_ETHERNET.
const ETHERNET_HEADER: u32 = 14;

/// Most ports one filter accepts: each costs two instructions, and classic BPF's conditional
/// jumps reach at most 255 instructions ahead.
pub const MAX_FILTER_PORTS: usize = 32;

/// How the IP header is found in what the socket sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// An Ethernet header (lo, Ethernet): EtherType at byte 12, IP at byte 14.
    Ethernet,
    /// The packet starts at the IP header (tun, raw IP links); the IP version comes from the
    /// kernel's `skb->protocol`.
    RawIp,
}

/// What to capture. Every program accepts only TCP over IPv4 or IPv6.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FilterSpec {
    /// Accept a segment whose source or destination port is in this set; empty = any port.
    pub ports: Vec<u16>,
    /// Accept a packet whose source or destination address is this one; `None` = any host.
    pub host: Option<IpAddr>,
    /// Reject packets the kernel marks `PACKET_OUTGOING`: the loopback de-duplication used when
    /// the kernel lacks `PACKET_IGNORE_OUTGOING` (Linux < 4.20).
    pub reject_outgoing: bool,
    /// Bytes of each packet to keep (the program's accept return value).
    pub snaplen: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("at most {MAX_FILTER_PORTS} ports can be filtered on, {0} were given")]
    TooManyPorts(usize),
    #[error("the filter program is too long for classic BPF jumps")]
    TooLong,
}

/// A jump target inside a program being built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Label(usize);

#[derive(Debug, Clone, Copy)]
enum Target {
    Next,
    To(Label),
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Plain(Insn),
    /// Conditional jump with symbolic targets.
    Jump {
        code: u16,
        k: u32,
        jt: Target,
        jf: Target,
    },
    /// Unconditional jump.
    Always(Label),
    /// A label's position (emits nothing).
    Mark(Label),
}

#[derive(Default)]
struct Builder {
    ops: Vec<Op>,
    labels: usize,
}

impl Builder {
    fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }
    fn mark(&mut self, l: Label) {
        self.ops.push(Op::Mark(l));
    }
    fn stmt(&mut self, code: u16, k: u32) {
        self.ops.push(Op::Plain(Insn {
            code,
            jt: 0,
            jf: 0,
            k,
        }));
    }
    fn jump(&mut self, code: u16, k: u32, jt: Target, jf: Target) {
        self.ops.push(Op::Jump { code, k, jt, jf });
    }
    /// `jeq #k`: to `jt` if the accumulator equals `k`, else to `jf`.
    fn jeq(&mut self, k: u32, jt: Target, jf: Target) {
        self.jump(BPF_JMP | BPF_JEQ | BPF_K, k, jt, jf);
    }
    /// Loads the IP protocol byte at `at` and drops anything but TCP.
    fn tcp_only(&mut self, at: u32, drop: Label) {
        self.stmt(BPF_LD | BPF_B | BPF_ABS, at);
        self.jeq(IPPROTO_TCP, Target::Next, Target::To(drop));
    }
    fn ja(&mut self, l: Label) {
        self.ops.push(Op::Always(l));
    }

    /// Resolves labels into relative offsets. Every jump goes forward (labels are marked after
    /// their uses), which is what the kernel's checker requires.
    fn finish(self) -> Result<Vec<Insn>, FilterError> {
        let mut at = vec![usize::MAX; self.labels];
        let mut n = 0usize;
        for op in &self.ops {
            match op {
                Op::Mark(Label(l)) => {
                    if let Some(slot) = at.get_mut(*l) {
                        *slot = n;
                    }
                }
                _ => n += 1,
            }
        }
        let mut out = Vec::with_capacity(n);
        for op in &self.ops {
            let pc = out.len();
            let rel = |t: Target| -> Result<u32, FilterError> {
                match t {
                    Target::Next => Ok(0),
                    Target::To(Label(l)) => {
                        let dest = at.get(l).copied().unwrap_or(usize::MAX);
                        dest.checked_sub(pc + 1)
                            .filter(|_| dest != usize::MAX)
                            .and_then(|d| u32::try_from(d).ok())
                            .ok_or(FilterError::TooLong)
                    }
                }
            };
            match *op {
                Op::Mark(_) => {}
                Op::Plain(i) => out.push(i),
                Op::Always(l) => out.push(Insn {
                    code: BPF_JMP | BPF_JA,
                    jt: 0,
                    jf: 0,
                    k: rel(Target::To(l))?,
                }),
                Op::Jump { code, k, jt, jf } => {
                    let jt = u8::try_from(rel(jt)?).map_err(|_| FilterError::TooLong)?;
                    let jf = u8::try_from(rel(jf)?).map_err(|_| FilterError::TooLong)?;
                    out.push(Insn { code, jt, jf, k });
                }
            }
        }
        Ok(out)
    }
}

/// Compiles `spec` for packets framed as `framing`.
///
/// The program, for Ethernet framing, IPv4 host H and ports {P}:
/// ```text
///   [ld #pkttype; jeq #OUTGOING -> drop]      only with reject_outgoing
///   ldh [12]; jeq #0x800 -> v4; jeq #0x86dd -> v6 else drop
/// v4: ldb [23]; jeq #6 else drop
///     ld [26]; jeq #H -> ok; ld [30]; jeq #H else drop
/// ok: ldh [20]; jset #0x1fff -> drop          non-first fragment
///     ldx 4*([14]&0xf); ldh [x+14]; jeq #P -> accept ...; ldh [x+16]; jeq #P -> accept ... drop
/// v6: ldb [20]; jeq #6 else drop; (src/dst address words at 22/38); ldh [54]; ldh [56] ...
/// accept: ret #snaplen
/// drop:   ret #0
/// ```
pub fn compile(spec: &FilterSpec, framing: Framing) -> Result<Vec<Insn>, FilterError> {
    if spec.ports.len() > MAX_FILTER_PORTS {
        return Err(FilterError::TooManyPorts(spec.ports.len()));
    }
    let mut ports = spec.ports.clone();
    ports.sort_unstable();
    ports.dedup();

    let mut b = Builder::default();
    let accept = b.label();
    let drop = b.label();
    let v4 = b.label();
    let v6 = b.label();
    let nh = match framing {
        Framing::Ethernet => ETHERNET_HEADER,
        Framing::RawIp => 0,
    };
    let (want_v4, want_v6) = match spec.host {
        None => (true, true),
        Some(IpAddr::V4(_)) => (true, false),
        Some(IpAddr::V6(_)) => (false, true),
    };

    if spec.reject_outgoing {
        b.stmt(
            BPF_LD | BPF_W | BPF_ABS,
            SKF_AD_OFF.wrapping_add(SKF_AD_PKTTYPE),
        );
        b.jeq(PACKET_OUTGOING, Target::To(drop), Target::Next);
    }
    match framing {
        Framing::Ethernet => b.stmt(BPF_LD | BPF_H | BPF_ABS, 12),
        Framing::RawIp => b.stmt(
            BPF_LD | BPF_H | BPF_ABS,
            SKF_AD_OFF.wrapping_add(SKF_AD_PROTOCOL),
        ),
    }
    // IPv4 to v4, IPv6 to v6, anything else (or the family the host rules out) dropped.
    if want_v4 {
        let not_v4 = if want_v6 {
            Target::Next
        } else {
            Target::To(drop)
        };
        b.jeq(ETHERTYPE_IPV4, Target::To(v4), not_v4);
    }
    if want_v6 {
        b.jeq(ETHERTYPE_IPV6, Target::To(v6), Target::To(drop));
    }

    if want_v4 {
        b.mark(v4);
        // RFC 791: protocol at byte 9, source at 12, destination at 16.
        b.tcp_only(nh + 9, drop);
        if let Some(IpAddr::V4(h)) = spec.host {
            let ok = b.label();
            let h = u32::from(h);
            b.stmt(BPF_LD | BPF_W | BPF_ABS, nh + 12);
            b.jeq(h, Target::To(ok), Target::Next);
            b.stmt(BPF_LD | BPF_W | BPF_ABS, nh + 16);
            b.jeq(h, Target::Next, Target::To(drop));
            b.mark(ok);
        }
        if ports.is_empty() {
            b.ja(accept);
        } else {
            // RFC 791: flags + fragment offset at byte 6; only the first fragment has ports.
            b.stmt(BPF_LD | BPF_H | BPF_ABS, nh + 6);
            b.jump(
                BPF_JMP | BPF_JSET | BPF_K,
                0x1fff,
                Target::To(drop),
                Target::Next,
            );
            // X = IHL * 4, the IPv4 header length; ports at X+0 (source) and X+2 (destination).
            b.stmt(BPF_LDX | BPF_B | BPF_MSH, nh);
            port_tests(&mut b, &ports, BPF_LD | BPF_H | BPF_IND, nh, accept, drop);
        }
    }
    if want_v6 {
        b.mark(v6);
        // RFC 8200: next header at byte 6, source at 8..24, destination at 24..40.
        b.tcp_only(nh + 6, drop);
        if let Some(IpAddr::V6(h)) = spec.host {
            let ok = b.label();
            let try_dst = b.label();
            let words: Vec<u32> = h
                .octets()
                .chunks_exact(4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            for (base, miss) in [(nh + 8, try_dst), (nh + 24, drop)] {
                if base == nh + 24 {
                    b.mark(try_dst);
                }
                for (i, w) in words.iter().enumerate() {
                    b.stmt(BPF_LD | BPF_W | BPF_ABS, base + 4 * i as u32);
                    let hit = if i == 3 { Target::To(ok) } else { Target::Next };
                    b.jeq(*w, hit, Target::To(miss));
                }
            }
            b.mark(ok);
        }
        if ports.is_empty() {
            b.ja(accept);
        } else {
            port_tests(
                &mut b,
                &ports,
                BPF_LD | BPF_H | BPF_ABS,
                nh + 40,
                accept,
                drop,
            );
        }
    }
    b.mark(accept);
    b.stmt(BPF_RET | BPF_K, spec.snaplen.max(1));
    b.mark(drop);
    b.stmt(BPF_RET | BPF_K, 0);
    b.finish()
}

/// Loads the source port (at `base`) then the destination port (`base + 2`) with `load` (ABS, or
/// IND relative to X) and jumps to `accept` when either is in `ports`.
fn port_tests(b: &mut Builder, ports: &[u16], load: u16, base: u32, accept: Label, drop: Label) {
    for (field, last_field) in [(base, false), (base + 2, true)] {
        b.stmt(load, field);
        for (i, p) in ports.iter().enumerate() {
            let last = last_field && i + 1 == ports.len();
            let miss = if last { Target::To(drop) } else { Target::Next };
            b.jeq(u32::from(*p), Target::To(accept), miss);
        }
    }
}

/// The program in `tcpdump -d` style, to read a program (the tests compare it with tcpdump's).
pub fn disassemble(prog: &[Insn]) -> String {
    let mut s = String::new();
    for (pc, i) in prog.iter().enumerate() {
        let jt = pc + 1 + usize::from(i.jt);
        let jf = pc + 1 + usize::from(i.jf);
        let text = match i.code {
            c if c == BPF_LD | BPF_W | BPF_ABS && i.k >= SKF_AD_OFF => {
                format!("ld #ancillary{}", i.k.wrapping_sub(SKF_AD_OFF))
            }
            c if c == BPF_LD | BPF_H | BPF_ABS && i.k >= SKF_AD_OFF => {
                format!("ldh #ancillary{}", i.k.wrapping_sub(SKF_AD_OFF))
            }
            c if c == BPF_LD | BPF_W | BPF_ABS => format!("ld [{}]", i.k),
            c if c == BPF_LD | BPF_H | BPF_ABS => format!("ldh [{}]", i.k),
            c if c == BPF_LD | BPF_B | BPF_ABS => format!("ldb [{}]", i.k),
            c if c == BPF_LD | BPF_H | BPF_IND => format!("ldh [x + {}]", i.k),
            c if c == BPF_LDX | BPF_B | BPF_MSH => format!("ldxb 4*([{}]&0xf)", i.k),
            c if c == BPF_JMP | BPF_JA => format!("ja {}", pc + 1 + i.k as usize),
            c if c == BPF_JMP | BPF_JEQ | BPF_K => format!("jeq #{:#x} jt {jt} jf {jf}", i.k),
            c if c == BPF_JMP | BPF_JSET | BPF_K => format!("jset #{:#x} jt {jt} jf {jf}", i.k),
            c if c == BPF_RET | BPF_K => format!("ret #{}", i.k),
            c => format!("op {c:#x} k {:#x}", i.k),
        };
        s.push_str(&format!("({pc:03}) {text}\n"));
    }
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use etherparse::PacketBuilder;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// What the kernel knows beside the bytes.
    #[derive(Clone, Copy)]
    pub struct Meta {
        pub pkttype: u32,
        pub protocol: u32,
    }

    /// A classic BPF interpreter for the instructions `compile` emits, with the kernel's rule
    /// that a load past the packet's end returns 0 (drop). Used to check the compiler without a
    /// kernel; the live tests check the same programs in the kernel.
    pub fn run(prog: &[Insn], pkt: &[u8], meta: Meta) -> u32 {
        let (mut a, mut x) = (0u32, 0u32);
        let mut pc = 0usize;
        let load = |off: u32, size: usize| -> Option<u32> {
            let off = off as usize;
            let b = pkt.get(off..off + size)?;
            Some(b.iter().fold(0u32, |v, &b| (v << 8) | u32::from(b)))
        };
        for _ in 0..4096 {
            let i = prog[pc];
            pc += 1;
            match i.code {
                c if c & 0x07 == BPF_LD && c & 0xe0 == BPF_ABS && i.k >= SKF_AD_OFF => {
                    a = match i.k - SKF_AD_OFF {
                        SKF_AD_PKTTYPE => meta.pkttype,
                        SKF_AD_PROTOCOL => meta.protocol,
                        other => panic!("ancillary {other}"),
                    }
                }
                c if c == BPF_LD | BPF_W | BPF_ABS => match load(i.k, 4) {
                    Some(v) => a = v,
                    None => return 0,
                },
                c if c == BPF_LD | BPF_H | BPF_ABS => match load(i.k, 2) {
                    Some(v) => a = v,
                    None => return 0,
                },
                c if c == BPF_LD | BPF_B | BPF_ABS => match load(i.k, 1) {
                    Some(v) => a = v,
                    None => return 0,
                },
                c if c == BPF_LD | BPF_H | BPF_IND => match load(x.wrapping_add(i.k), 2) {
                    Some(v) => a = v,
                    None => return 0,
                },
                c if c == BPF_LDX | BPF_B | BPF_MSH => match load(i.k, 1) {
                    Some(v) => x = (v & 0xf) * 4,
                    None => return 0,
                },
                c if c == BPF_JMP | BPF_JA => pc += i.k as usize,
                c if c == BPF_JMP | BPF_JEQ | BPF_K => {
                    pc += usize::from(if a == i.k { i.jt } else { i.jf })
                }
                c if c == BPF_JMP | BPF_JSET | BPF_K => {
                    pc += usize::from(if a & i.k != 0 { i.jt } else { i.jf })
                }
                c if c == BPF_RET | BPF_K => return i.k,
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
        panic!("program did not return");
    }

    /// A packet sent to this host.
    const HOST: Meta = Meta {
        pkttype: 0,
        protocol: 0,
    };
    /// The loopback's transmit copy of a packet.
    const OUTGOING: Meta = Meta {
        pkttype: PACKET_OUTGOING,
        protocol: 0,
    };

    /// A packet to this host that the kernel tagged with EtherType `protocol`.
    fn tagged(protocol: u32) -> Meta {
        Meta {
            pkttype: 0,
            protocol,
        }
    }

    fn tcp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ethernet2([0; 6], [0; 6])
            .ipv4(src, dst, 64)
            .tcp(sport, dport, 1, 100)
            .write(&mut v, b"hi")
            .unwrap();
        v
    }

    fn tcp6(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ethernet2([0; 6], [0; 6])
            .ipv6(src.octets(), dst.octets(), 64)
            .tcp(sport, dport, 1, 100)
            .write(&mut v, b"hi")
            .unwrap();
        v
    }

    fn udp4(sport: u16, dport: u16) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ethernet2([0; 6], [0; 6])
            .ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
            .udp(sport, dport)
            .write(&mut v, b"hi")
            .unwrap();
        v
    }

    fn spec(ports: &[u16], host: Option<IpAddr>) -> FilterSpec {
        FilterSpec {
            ports: ports.to_vec(),
            host,
            reject_outgoing: false,
            snaplen: 65535,
        }
    }

    #[test]
    fn port_filter_matches_either_direction_and_nothing_else() {
        let p = compile(&spec(&[8080, 9000], None), Framing::Ethernet).unwrap();
        let lo = [127, 0, 0, 1];
        assert_eq!(run(&p, &tcp4(lo, lo, 40000, 8080), HOST), 65535);
        assert_eq!(run(&p, &tcp4(lo, lo, 8080, 40000), HOST), 65535);
        assert_eq!(run(&p, &tcp4(lo, lo, 9000, 1), HOST), 65535);
        assert_eq!(run(&p, &tcp4(lo, lo, 40000, 8081), HOST), 0);
        assert_eq!(run(&p, &udp4(40000, 8080), HOST), 0);
        let l6 = Ipv6Addr::LOCALHOST;
        assert_eq!(run(&p, &tcp6(l6, l6, 40000, 8080), HOST), 65535);
        assert_eq!(run(&p, &tcp6(l6, l6, 8080, 1), HOST), 65535);
        assert_eq!(run(&p, &tcp6(l6, l6, 1, 2), HOST), 0);
    }

    #[test]
    fn no_ports_accepts_all_tcp_only() {
        let p = compile(&spec(&[], None), Framing::Ethernet).unwrap();
        assert_eq!(
            run(&p, &tcp4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2), HOST),
            65535
        );
        assert_eq!(
            run(
                &p,
                &tcp6(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, 1, 2),
                HOST
            ),
            65535
        );
        assert_eq!(run(&p, &udp4(1, 2), HOST), 0);
        let mut arp = vec![0u8; 42];
        arp[12] = 0x08;
        arp[13] = 0x06;
        assert_eq!(run(&p, &arp, HOST), 0);
    }

    #[test]
    fn host_filter_v4_and_v6() {
        let h4: IpAddr = "127.0.0.2".parse().unwrap();
        let p = compile(&spec(&[80], Some(h4)), Framing::Ethernet).unwrap();
        assert_eq!(
            run(&p, &tcp4([127, 0, 0, 2], [127, 0, 0, 1], 80, 5), HOST),
            65535
        );
        assert_eq!(
            run(&p, &tcp4([127, 0, 0, 1], [127, 0, 0, 2], 5, 80), HOST),
            65535
        );
        assert_eq!(
            run(&p, &tcp4([127, 0, 0, 1], [127, 0, 0, 1], 5, 80), HOST),
            0
        );
        assert_eq!(
            run(&p, &tcp4([127, 0, 0, 2], [127, 0, 0, 1], 5, 81), HOST),
            0
        );
        let l6 = Ipv6Addr::LOCALHOST;
        assert_eq!(
            run(&p, &tcp6(l6, l6, 80, 5), HOST),
            0,
            "a v4 host rules out IPv6"
        );

        let h6: Ipv6Addr = "fd00::1:2".parse().unwrap();
        let p = compile(&spec(&[], Some(IpAddr::V6(h6))), Framing::Ethernet).unwrap();
        assert_eq!(run(&p, &tcp6(h6, l6, 1, 2), HOST), 65535);
        assert_eq!(run(&p, &tcp6(l6, h6, 1, 2), HOST), 65535);
        // Differs only in the last word, then only in the first.
        assert_eq!(
            run(&p, &tcp6("fd00::1:3".parse().unwrap(), l6, 1, 2), HOST),
            0
        );
        assert_eq!(
            run(&p, &tcp6(l6, "fd01::1:2".parse().unwrap(), 1, 2), HOST),
            0
        );
        assert_eq!(
            run(&p, &tcp4([127, 0, 0, 1], [127, 0, 0, 1], 1, 2), HOST),
            0
        );
    }

    #[test]
    fn non_first_fragments_and_truncated_headers_are_dropped() {
        let p = compile(&spec(&[80], None), Framing::Ethernet).unwrap();
        let mut f = tcp4([127, 0, 0, 1], [127, 0, 0, 1], 5, 80);
        assert_eq!(run(&p, &f, HOST), 65535);
        f[14 + 7] = 1; // fragment offset 1 (x 8 bytes)
        assert_eq!(run(&p, &f, HOST), 0);
        let f = tcp4([127, 0, 0, 1], [127, 0, 0, 1], 5, 80);
        assert_eq!(run(&p, &f[..14 + 20 + 3], HOST), 0, "cut inside the ports");
        assert_eq!(run(&p, &f[..10], HOST), 0);
        assert_eq!(run(&p, &[], HOST), 0);
    }

    #[test]
    fn ip_options_move_the_ports() {
        // IHL 6: one 4-byte option word; the ports follow it.
        let mut v = Vec::new();
        PacketBuilder::ethernet2([0; 6], [0; 6])
            .ip(etherparse::IpHeaders::Ipv4(
                etherparse::Ipv4Header {
                    options: [1u8, 1, 1, 0][..].try_into().unwrap(),
                    source: [127, 0, 0, 1],
                    destination: [127, 0, 0, 1],
                    time_to_live: 64,
                    ..Default::default()
                },
                Default::default(),
            ))
            .tcp(5, 80, 1, 100)
            .write(&mut v, b"x")
            .unwrap();
        assert_eq!(v[14] & 0xf, 6);
        let p = compile(&spec(&[80], None), Framing::Ethernet).unwrap();
        assert_eq!(run(&p, &v, HOST), 65535);
        let p = compile(&spec(&[81], None), Framing::Ethernet).unwrap();
        assert_eq!(run(&p, &v, HOST), 0);
    }

    #[test]
    fn reject_outgoing_uses_pkttype() {
        let mut s = spec(&[80], None);
        s.reject_outgoing = true;
        let p = compile(&s, Framing::Ethernet).unwrap();
        let f = tcp4([127, 0, 0, 1], [127, 0, 0, 1], 5, 80);
        assert_eq!(run(&p, &f, HOST), 65535);
        assert_eq!(run(&p, &f, OUTGOING), 0);
    }

    #[test]
    fn raw_ip_framing_reads_protocol_from_the_kernel() {
        let p = compile(&spec(&[80], None), Framing::RawIp).unwrap();
        let f = tcp4([10, 0, 0, 1], [10, 0, 0, 2], 5, 80);
        let ip = &f[14..];
        assert_eq!(run(&p, ip, tagged(0x0800)), 65535);
        assert_eq!(run(&p, ip, tagged(0x0806)), 0);
        let f = tcp6(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, 80, 5);
        assert_eq!(run(&p, &f[14..], tagged(0x86dd)), 65535);
    }

    #[test]
    fn too_many_ports_is_an_error_and_the_maximum_compiles() {
        let many: Vec<u16> = (1..=MAX_FILTER_PORTS as u16 + 1).collect();
        assert_eq!(
            compile(&spec(&many, None), Framing::Ethernet),
            Err(FilterError::TooManyPorts(MAX_FILTER_PORTS + 1))
        );
        let max = &many[..MAX_FILTER_PORTS];
        let h: Ipv6Addr = "fd00::1".parse().unwrap();
        let mut s = spec(max, Some(IpAddr::V6(h)));
        s.reject_outgoing = true;
        let p = compile(&s, Framing::Ethernet).unwrap();
        let last = *max.last().unwrap();
        assert_eq!(
            run(&p, &tcp6(h, Ipv6Addr::LOCALHOST, 1000, last), HOST),
            65535
        );
        assert_eq!(
            run(&p, &tcp6(h, Ipv6Addr::LOCALHOST, 1000, last + 1), HOST),
            0
        );
    }

    #[test]
    fn disassembly_reads_like_tcpdump() {
        let h: IpAddr = "127.0.0.1".parse().unwrap();
        let p = compile(&spec(&[8080], Some(h)), Framing::Ethernet).unwrap();
        let text = disassemble(&p);
        // The same tests as `tcpdump -d 'tcp and port 8080 and host 127.0.0.1'`, host first.
        let want = "\
(000) ldh [12]
(001) jeq #0x800 jt 2 jf 16
(002) ldb [23]
(003) jeq #0x6 jt 4 jf 16
(004) ld [26]
(005) jeq #0x7f000001 jt 8 jf 6
(006) ld [30]
(007) jeq #0x7f000001 jt 8 jf 16
(008) ldh [20]
(009) jset #0x1fff jt 16 jf 10
(010) ldxb 4*([14]&0xf)
(011) ldh [x + 14]
(012) jeq #0x1f90 jt 15 jf 13
(013) ldh [x + 16]
(014) jeq #0x1f90 jt 15 jf 16
(015) ret #65535
(016) ret #0
";
        assert_eq!(text, want);
    }

    proptest! {
        /// The program agrees with the filter's meaning on random TCP/IPv4 and IPv6 packets.
        #[test]
        fn agrees_with_the_predicate(
            ports in proptest::collection::vec(0u16..16, 0..6),
            sport in 0u16..16, dport in 0u16..16,
            a in 0u8..4, b in 0u8..4, host in proptest::option::of(0u8..4),
            v6 in any::<bool>(), outgoing in any::<bool>(), reject in any::<bool>(),
        ) {
            let addr = |n: u8| -> IpAddr {
                if v6 { IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, u16::from(n))) }
                else { IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)) }
            };
            let host = host.map(|h| if h == 3 { addr(h) } else { IpAddr::V4(Ipv4Addr::new(127, 0, 0, h)) });
            let (src, dst) = (addr(a), addr(b));
            let f = match (src, dst) {
                (IpAddr::V4(s), IpAddr::V4(d)) => tcp4(s.octets(), d.octets(), sport, dport),
                (IpAddr::V6(s), IpAddr::V6(d)) => tcp6(s, d, sport, dport),
                _ => unreachable!(),
            };
            let s = FilterSpec { ports: ports.clone(), host, reject_outgoing: reject, snaplen: 100 };
            let p = compile(&s, Framing::Ethernet).unwrap();
            let meta = if outgoing { OUTGOING } else { HOST };
            let want = (ports.is_empty() || ports.contains(&sport) || ports.contains(&dport))
                && host.is_none_or(|h| h == src || h == dst)
                && !(reject && outgoing);
            prop_assert_eq!(run(&p, &f, meta), if want { 100 } else { 0 });
        }
    }
}
