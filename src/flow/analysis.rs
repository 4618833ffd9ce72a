//! Wireshark's TCP sequence analysis: relative sequence numbers, window scaling and the
//! `tcp.analysis.*` flags, following `tcp_analyze_sequence_number` in Wireshark's
//! `epan/dissectors/packet-tcp.c` check by check and in the same order.
//!
//! The reference is tshark 4.0.17 (Debian 12), whose code sits between the releases that can
//! be read online: where they disagree (the "ACKed unseen segment" rule), the rule here is the
//! one that reproduces tshark 4.0.17 on every probe. Evidence: the crafted cases in
//! `flow/tests.rs` (each names the capture it was checked on) and `flow/tshark_cases.txt`,
//! about a thousand segments of random conversations replayed against tshark's answers.
//!
//! Like Wireshark, the analysis state lives in absolute 32-bit sequence space, compares with
//! wrapping arithmetic, and uses 0 as "not seen yet" for `nextseq`, `lastack` and
//! `maxseqtobeacked` (so a stream whose numbers really hit 0 gets the same small blind spot as
//! in Wireshark).
//!
//! Left out on purpose: the unacked-segment list (it only feeds RTT/bytes-in-flight fields we
//! do not report; Wireshark also stops counting SYN/FIN's phantom byte once 1000 segments are
//! unacked, a quirk not copied) and the MPTCP exceptions.

use crate::model::{tcp_flags, TcpAnalyses, TcpAnalysis, Timestamp};

/// Bits of one segment's analysis, turned into the model's [`TcpAnalyses`] by [`flags`].
pub(crate) type Bits = u16;

pub(crate) const ZERO_WINDOW_PROBE: Bits = 1 << 0;
pub(crate) const ZERO_WINDOW: Bits = 1 << 1;
pub(crate) const LOST_SEGMENT: Bits = 1 << 2;
pub(crate) const KEEP_ALIVE: Bits = 1 << 3;
pub(crate) const WINDOW_UPDATE: Bits = 1 << 4;
pub(crate) const WINDOW_FULL: Bits = 1 << 5;
pub(crate) const KEEP_ALIVE_ACK: Bits = 1 << 6;
pub(crate) const ZERO_WINDOW_PROBE_ACK: Bits = 1 << 7;
pub(crate) const DUP_ACK: Bits = 1 << 8;
pub(crate) const ACKED_UNSEEN: Bits = 1 << 9;
pub(crate) const SPURIOUS_RETRANSMISSION: Bits = 1 << 10;
pub(crate) const FAST_RETRANSMISSION: Bits = 1 << 11;
pub(crate) const OUT_OF_ORDER: Bits = 1 << 12;
pub(crate) const RETRANSMISSION: Bits = 1 << 13;
pub(crate) const REUSED_PORTS: Bits = 1 << 14;

/// Which flag each bit is. The output order is [`TcpAnalyses::ORDER`]: the order of the checks in
/// `tcp_analyze_sequence_number` (reused ports, found before it, first). Fast and spurious
/// retransmissions also carry `Retransmission` (added by [`TcpAnalyses::insert`]), as tshark
/// sets both `tcp.analysis.fast_retransmission` and `tcp.analysis.retransmission`.
const NAMES: [(Bits, TcpAnalysis); 15] = [
    (REUSED_PORTS, TcpAnalysis::ReusedPorts),
    (ZERO_WINDOW_PROBE, TcpAnalysis::ZeroWindowProbe),
    (ZERO_WINDOW, TcpAnalysis::ZeroWindow),
    (LOST_SEGMENT, TcpAnalysis::LostSegment),
    (KEEP_ALIVE, TcpAnalysis::KeepAlive),
    (WINDOW_UPDATE, TcpAnalysis::WindowUpdate),
    (WINDOW_FULL, TcpAnalysis::WindowFull),
    (KEEP_ALIVE_ACK, TcpAnalysis::KeepAliveAck),
    (ZERO_WINDOW_PROBE_ACK, TcpAnalysis::ZeroWindowProbeAck),
    (DUP_ACK, TcpAnalysis::DuplicateAck),
    (ACKED_UNSEEN, TcpAnalysis::AckLostSegment),
    (SPURIOUS_RETRANSMISSION, TcpAnalysis::SpuriousRetransmission),
    (FAST_RETRANSMISSION, TcpAnalysis::FastRetransmission),
    (OUT_OF_ORDER, TcpAnalysis::OutOfOrder),
    (RETRANSMISSION, TcpAnalysis::Retransmission),
];

/// The flags of `bits`.
pub(crate) fn flags(bits: Bits) -> TcpAnalyses {
    let mut set = TcpAnalyses::EMPTY;
    if bits != 0 {
        for (b, a) in NAMES {
            if bits & b != 0 {
                set.insert(a);
            }
        }
    }
    set
}

/// `a > b` in sequence space (Wireshark's GT_SEQ).
pub(crate) fn seq_gt(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) < 0
}

/// `a < b` in sequence space (LT_SEQ).
pub(crate) fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// `a <= b` in sequence space (LE_SEQ).
fn seq_le(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) <= 0
}

/// What the handshake said about a direction's window scaling (Wireshark's `win_scale`:
/// -1 unknown, -2 "not used", else the shift).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WinScale {
    Unknown,
    NotUsed,
    Shift(u8),
}

/// RFC 7323 §2.3: a shift above 14 is used as 14 (tshark 4.0.17 agrees: WS=15 scales by 2^14).
const MAX_WINDOW_SHIFT: u8 = 14;

/// `dupacknum` after an "ACKed unseen segment" was reported against this endpoint: -1 in
/// Wireshark's unsigned `guint32` field, so it also passes the `dupacknum >= 2` test of the
/// fast retransmission check (tshark 4.0.17 flags such segments as fast retransmissions).
const ACKED_UNSEEN_MARK: u32 = u32::MAX;

/// Wireshark's out-of-order threshold when the handshake RTT is unknown (3 ms).
const OOO_THRESHOLD_NS: u64 = 3_000_000;
/// A retransmission within 20 ms of the second duplicate ACK is a fast retransmission.
const FAST_RT_WINDOW_NS: u64 = 20_000_000;

/// One direction's analysis state, for the segments its endpoint sends
/// (Wireshark's `tcp_flow_t` + `tcp_analyze_seq_flow_info_t`).
#[derive(Debug, Clone)]
pub(crate) struct SeqInfo {
    /// Absolute sequence number shown as relative 0: the ISN, or one before the first
    /// sequence number seen when the SYN was missed.
    pub base: Option<u32>,
    pub win_scale: WinScale,
    /// Highest sequence number sent so far + 1 (0: none yet).
    nextseq: u32,
    nextseq_time: Timestamp,
    /// Highest contiguous sequence number that can be ACKed (0: none yet).
    maxseqtobeacked: u32,
    /// Last acknowledgement number sent (0: none yet) and when.
    lastack: u32,
    lastack_time: Timestamp,
    /// Last raw (unscaled) window sent; `u32::MAX` before the first segment, as in Wireshark.
    window: u32,
    /// The last window came from a SYN, so it is not scaled (Wireshark's `is_first_ack`).
    window_from_syn: bool,
    /// Duplicate ACKs in a row sent by this endpoint, or [`ACKED_UNSEEN_MARK`].
    dupacknum: u32,
    /// Flags of the last segment this endpoint sent (for keep-alive and probe ACKs).
    last_bits: Bits,
}

impl Default for SeqInfo {
    fn default() -> Self {
        SeqInfo {
            base: None,
            win_scale: WinScale::Unknown,
            nextseq: 0,
            nextseq_time: Timestamp(0),
            maxseqtobeacked: 0,
            lastack: 0,
            lastack_time: Timestamp(0),
            window: u32::MAX,
            window_from_syn: false,
            dupacknum: 0,
            last_bits: 0,
        }
    }
}

impl SeqInfo {
    /// `win` as Wireshark's tcp.window_size: SYN windows are never scaled; others are
    /// shifted by this direction's negotiated scale when it is known.
    pub fn scaled_window(&self, raw: u16, flags: u8) -> u32 {
        match self.win_scale {
            WinScale::Shift(s) if flags & tcp_flags::SYN == 0 => u32::from(raw) << s,
            _ => u32::from(raw),
        }
    }
}

/// The fields of one segment the analysis looks at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seg {
    pub seq: u32,
    pub ack: u32,
    /// Payload length on the wire.
    pub len: u32,
    pub flags: u8,
    /// Raw window field.
    pub window: u16,
    /// Window scale option, read only from SYN segments.
    pub wscale: Option<u8>,
}

/// Sets the relative-number bases the way Wireshark does: a direction's base is its SYN's
/// sequence number, or `seq - 1` for its first non-SYN segment (so it shows as 1); the other
/// direction's base is `ack - 1` from the first segment carrying an ACK, if not known yet.
/// Also records the window scale a SYN or SYN-ACK announces (`verify_tcp_window_scaling`).
pub(crate) fn on_segment_start(fwd: &mut SeqInfo, rev: &mut SeqInfo, s: &Seg) {
    let syn = s.flags & tcp_flags::SYN != 0;
    let ack = s.flags & tcp_flags::ACK != 0;
    if fwd.base.is_none() {
        fwd.base = Some(if syn { s.seq } else { s.seq.wrapping_sub(1) });
    }
    if rev.base.is_none() && ack {
        rev.base = Some(s.ack.wrapping_sub(1));
    }
    if syn {
        if let Some(ws) = s.wscale {
            fwd.win_scale = WinScale::Shift(ws.min(MAX_WINDOW_SHIFT));
        }
        if fwd.win_scale == WinScale::Unknown {
            // A SYN (or SYN-ACK) without the option: neither side scales (RFC 7323 §2.2).
            fwd.win_scale = WinScale::NotUsed;
            rev.win_scale = WinScale::NotUsed;
        } else if ack && rev.win_scale == WinScale::NotUsed {
            // The SYN-ACK has the option but the SYN had not: scaling is off.
            fwd.win_scale = WinScale::NotUsed;
        }
    }
}

/// Wireshark's `tcp_analyze_sequence_number` for one segment sent by `fwd`'s endpoint.
/// `first_rtt_ns` is the handshake RTT (0 when unknown), the out-of-order threshold; signed
/// like Wireshark's `nstime_t`.
pub(crate) fn analyze(
    fwd: &mut SeqInfo,
    rev: &mut SeqInfo,
    s: &Seg,
    now: Timestamp,
    first_rtt_ns: i64,
) -> Bits {
    use tcp_flags::{ACK, FIN, RST, SYN};
    let (seq, ack, seglen, flags) = (s.seq, s.ack, s.len, s.flags);
    let window = u32::from(s.window);
    let no_sfr = flags & (SYN | FIN | RST) == 0;
    let mut bits: Bits = 0;

    // ZERO WINDOW PROBE: one byte at the next expected sequence number into a zero window.
    if seglen == 1 && seq == fwd.nextseq && rev.window == 0 {
        bits |= ZERO_WINDOW_PROBE;
    } else {
        bits |= forward_checks(fwd, rev, s, window, no_sfr);
    }

    // finished_fwd: a new ACK number resets the duplicate-ACK count.
    if ack != fwd.lastack {
        fwd.dupacknum = 0;
    }

    // ACKED LOST PACKET: this ACKs beyond what the other side has been seen to send
    // contiguously. If that side has sent past its contiguous mark (a hole), the mark moves
    // to its highest sequence number and this ACK is flagged; otherwise it is flagged only
    // if that side has no duplicate ACKs running, and the count is set to -1 so a run of
    // such ACKs is flagged once. tshark 4.0.17 behaves this way on every probe in the tests
    // (Wireshark's master branch tests `maxseqtobeacked > nextseq` here instead, which
    // tshark 4.0 does not match). The mark is Wireshark's -1 (see `ACKED_UNSEEN_MARK`).
    if rev.maxseqtobeacked != 0 && seq_gt(ack, rev.maxseqtobeacked) && flags & ACK != 0 {
        if seq_lt(rev.maxseqtobeacked, rev.nextseq) {
            rev.maxseqtobeacked = rev.nextseq;
            bits |= ACKED_UNSEEN;
        } else {
            if rev.dupacknum == 0 {
                bits |= ACKED_UNSEEN;
            }
            rev.dupacknum = ACKED_UNSEEN_MARK;
        }
    }

    // RETRANSMISSION / FAST RETRANSMISSION / OUT-OF-ORDER: a segment that carries data (or
    // SYN/FIN) and does not advance the sequence number.
    if (seglen > 0 || flags & (SYN | FIN) != 0) && bits & KEEP_ALIVE == 0 {
        bits |= retransmission_kind(fwd, rev, s, now, first_rtt_ns);
    }

    // finished_checking_retransmission_type: remember the highest sequence number sent.
    let mut nextseq = seq.wrapping_add(seglen);
    if flags & (SYN | FIN) != 0 {
        nextseq = nextseq.wrapping_add(1);
    }
    let probe = bits & ZERO_WINDOW_PROBE != 0;
    if (seq_gt(nextseq, fwd.nextseq) || fwd.nextseq == 0) && !probe {
        fwd.nextseq = nextseq;
        fwd.nextseq_time = now;
    }
    if (seq == fwd.maxseqtobeacked || fwd.maxseqtobeacked == 0) && !probe {
        fwd.maxseqtobeacked = fwd.nextseq;
    }
    fwd.window = window;
    fwd.window_from_syn = flags & SYN != 0;
    fwd.lastack = ack;
    fwd.lastack_time = now;
    fwd.last_bits = bits;
    bits
}

/// The checks between the zero-window-probe test and `finished_fwd`.
fn forward_checks(fwd: &mut SeqInfo, rev: &SeqInfo, s: &Seg, window: u32, no_sfr: bool) -> Bits {
    let (seq, ack, seglen, flags) = (s.seq, s.ack, s.len, s.flags);
    let mut bits: Bits = 0;
    // ZERO WINDOW: window 0 on a segment without SYN/FIN/RST.
    if window == 0 && no_sfr {
        bits |= ZERO_WINDOW;
    }
    // LOST PACKET: starts beyond the next expected byte (not checked on RST).
    if fwd.nextseq != 0 && seq_gt(seq, fwd.nextseq) && flags & tcp_flags::RST == 0 {
        bits |= LOST_SEGMENT;
    }
    // KEEP ALIVE: 0 or 1 byte starting one byte before the next expected one.
    if seglen <= 1 && seq == fwd.nextseq.wrapping_sub(1) && no_sfr {
        bits |= KEEP_ALIVE;
    }
    let same_place = seglen == 0 && seq == fwd.nextseq && ack == fwd.lastack && no_sfr;
    // WINDOW UPDATE: nothing but the window changed.
    if same_place && window != 0 && window != fwd.window {
        bits |= WINDOW_UPDATE;
    }
    // WINDOW FULL: the data reaches exactly the right edge of the peer's advertised window.
    if seglen > 0 && rev.win_scale != WinScale::Unknown && no_sfr {
        let shift = match rev.win_scale {
            WinScale::Shift(n) if !rev.window_from_syn => u32::from(n),
            _ => 0,
        };
        let edge = rev
            .lastack
            .wrapping_add(rev.window.checked_shl(shift).unwrap_or(0));
        if seq.wrapping_add(seglen) == edge {
            bits |= WINDOW_FULL;
        }
    }
    // KEEP ALIVE ACK: repeats the previous ACK right after a keep-alive from the peer.
    if same_place && window != 0 && window == fwd.window && rev.last_bits & KEEP_ALIVE != 0 {
        return bits | KEEP_ALIVE_ACK;
    }
    // ZERO WINDOW PROBE ACK: repeats a zero-window ACK right after a probe from the peer.
    if same_place && window == 0 && window == fwd.window && rev.last_bits & ZERO_WINDOW_PROBE != 0 {
        return bits | ZERO_WINDOW_PROBE_ACK;
    }
    // DUPLICATE ACK: same seq, ack and window as the previous segment, no data.
    if same_place && window != 0 && window == fwd.window {
        // After an "ACKed unseen segment" mark the count restarts at 1.
        fwd.dupacknum = if fwd.dupacknum == ACKED_UNSEEN_MARK {
            1
        } else {
            fwd.dupacknum.saturating_add(1)
        };
        bits |= DUP_ACK;
    }
    bits
}

/// Which kind of retransmission a non-advancing segment is (tshark's default
/// `tcp.fastrt_supersedes_ooo: TRUE`: fast retransmission is checked before out-of-order).
fn retransmission_kind(
    fwd: &SeqInfo,
    rev: &SeqInfo,
    s: &Seg,
    now: Timestamp,
    first_rtt_ns: i64,
) -> Bits {
    use tcp_flags::{FIN, SYN};
    let (seq, seglen, flags) = (s.seq, s.len, s.flags);
    let mut not_advanced = fwd.nextseq != 0 && seq_lt(seq, fwd.nextseq);
    // Starting one byte early with real new data (after a zero window probe) is not a
    // retransmission.
    if seglen > 1 && fwd.nextseq.wrapping_sub(1) == seq {
        not_advanced = false;
    }
    // SPURIOUS: every byte was already ACKed by the receiver.
    if seglen > 0 && rev.lastack != 0 && seq_le(seq.wrapping_add(seglen), rev.lastack) {
        return SPURIOUS_RETRANSMISSION;
    }
    // FAST: at least two duplicate ACKs asked for exactly this byte, less than 20 ms ago.
    if not_advanced
        && rev.dupacknum >= 2
        && rev.lastack == seq
        && elapsed(now, rev.lastack_time) < FAST_RT_WINDOW_NS
    {
        return FAST_RETRANSMISSION;
    }
    // OUT-OF-ORDER: within one handshake RTT (3 ms if unknown) of the segment that carried
    // the highest sequence number, and not ending exactly where that one ended.
    // Wireshark converts the (signed) RTT to an unsigned threshold: a negative RTT, from a
    // clock that went back during the handshake, makes every early segment out-of-order.
    let threshold = if first_rtt_ns == 0 {
        OOO_THRESHOLD_NS
    } else {
        first_rtt_ns as u64
    };
    let phantom = u32::from(flags & (SYN | FIN) != 0);
    if not_advanced
        && elapsed(now, fwd.nextseq_time) < threshold
        && fwd.nextseq != seq.wrapping_add(seglen).wrapping_add(phantom)
    {
        return OUT_OF_ORDER;
    }
    if not_advanced {
        RETRANSMISSION
    } else {
        0
    }
}

/// Nanoseconds from `earlier` to `now`; a capture that went back in time gives a huge value,
/// as Wireshark's unsigned subtraction does.
fn elapsed(now: Timestamp, earlier: Timestamp) -> u64 {
    now.0.checked_sub(earlier.0).unwrap_or(u64::MAX)
}
