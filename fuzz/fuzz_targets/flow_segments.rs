//! Arbitrary TCP segments into `FlowTable<proto::Session>`, then `finish`. The first byte
//! picks the limits; then each segment is a 16-byte header and its captured payload:
//!
//! `sel flags seq:u32 ack:u32 win ws len:u16 cap:u16 payload[cap]` (little-endian), where
//! `sel` bits 0-1 pick the client port, bit 2 the direction (server to client), bit 3 a SYN
//! option of window scale `ws`, bits 4-5 the server port, bits 6-7 the time step; `seq` and
//! `ack` are offsets from a fixed ISN per direction; `len` is the payload length on the wire
//! and `cap` (at most `len`) how much of it was captured.
//!
//! Besides "no panic": the event order contract per connection, every event within its
//! limits, the table within `max_connections`, out-of-order bytes within `max_held_bytes` per
//! direction and `max_held_total` overall, pieces within `MAX_HELD_PIECES`, sinks within
//! `Session::max_held`, and every connection ended after `finish`.
#![no_main]

#[path = "common.rs"]
mod common;

use std::net::{Ipv4Addr, SocketAddr};

use common::{check_event, ConnOrder};
use libfuzzer_sys::fuzz_target;
use synscope::decode::TcpPacket;
use synscope::flow::{FlowTable, MAX_HELD_PIECES};
use synscope::model::{Limits, Nanos, Stamp, TcpOptions, Timestamp};
use synscope::proto::Session;

const ISN: [u32; 2] = [1_000_000, 3_000_000_000];
const CLIENT_PORTS: [u16; 4] = [40000, 40001, 1023, 60000];
const SERVER_PORTS: [u16; 4] = [80, 8080, 40000, 443];
/// Time steps in nanoseconds; the last one goes back 1 ms.
const STEPS: [i64; 4] = [0, 100_000, 50_000_000, -1_000_000];
const HEADER: usize = 16;

fn check(table: &FlowTable<Session>, limits: &Limits) {
    let h = table.held();
    assert!(h.connections <= limits.max_connections.max(1), "{h:?}");
    assert!(h.max_stream_bytes <= limits.max_held_bytes, "{h:?}");
    assert!(h.max_stream_pieces <= MAX_HELD_PIECES, "{h:?}");
    assert!(h.reassembly_bytes <= limits.max_held_total, "{h:?}");
    assert!(h.max_sink_bytes <= Session::max_held(limits), "{h:?}");
    // Each queue is compacted past 2 x connections + 64; `finish` may add one entry per
    // connection to the ending queue.
    assert!(h.queue_entries <= 5 * h.connections + 130, "{h:?}");
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, mut rest)) = data.split_first() else {
        return;
    };
    let limits = common::limits(pick);
    let mut table = FlowTable::<Session>::new(limits);
    let mut order = ConnOrder::default();
    let mut out = Vec::new();
    let mut ts: i64 = 1_000_000_000;
    let mut frame = 0u64;
    let server_ip = Ipv4Addr::new(10, 0, 0, 2);
    let client_ip = Ipv4Addr::new(10, 0, 0, 1);
    while let Some((h, tail)) = rest.split_first_chunk::<HEADER>() {
        let sel = h[0];
        let flags = h[1];
        let seq = u32::from_le_bytes([h[2], h[3], h[4], h[5]]);
        let ack = u32::from_le_bytes([h[6], h[7], h[8], h[9]]);
        let win = u16::from(h[10]) * 257;
        let ws = h[11];
        let len = u16::from_le_bytes([h[12], h[13]]);
        let cap = usize::from(u16::from_le_bytes([h[14], h[15]]).min(len)).min(tail.len());
        let (payload, tail) = tail.split_at(cap);
        rest = tail;
        let client = SocketAddr::from((client_ip, CLIENT_PORTS[usize::from(sel & 3)]));
        let server = SocketAddr::from((server_ip, SERVER_PORTS[usize::from((sel >> 4) & 3)]));
        let s2c = sel & 4 != 0;
        let (src, dst) = if s2c {
            (server, client)
        } else {
            (client, server)
        };
        let d = usize::from(s2c);
        ts = (ts + STEPS[usize::from(sel >> 6)]).max(0);
        frame += 1;
        let stamp = Stamp {
            ts: Timestamp(ts as u64),
            t: Nanos(ts as u64),
            frame,
        };
        let pkt = TcpPacket {
            src,
            dst,
            seq: ISN[d].wrapping_add(seq),
            ack: ISN[1 - d].wrapping_add(ack),
            flags,
            window: win,
            options: TcpOptions {
                wscale: (sel & 8 != 0).then_some(ws),
                ..TcpOptions::default()
            },
            payload,
            wire_len: u32::from(len),
        };
        let before = out.len();
        table.ingest(&pkt, stamp, &mut out);
        for e in &out[before..] {
            order.check(e);
            check_event(e, &limits);
        }
        out.clear();
        check(&table, &limits);
    }
    let stamp = Stamp {
        ts: Timestamp(ts as u64),
        t: Nanos(ts as u64),
        frame,
    };
    table.finish(stamp, &mut out);
    for e in &out {
        order.check(e);
        check_event(e, &limits);
    }
    assert!(order.all_ended());
    check(&table, &limits);
});
