//! Memory bounds of the subprotocol decoders on long adversarial streams: an SSE line that
//! never ends, Engine.IO payloads declaring huge lengths, a STOMP message of 1 MB without its
//! NUL. What the engine holds is checked against the limits as it goes, and the one event
//! each of them makes is checked at the end.

use super::*;
use crate::model::{SocketIoPacket, SseEvent, StompFrame};
use crate::proto::sse::SseParser;

const PORT: u16 = 40_000;

/// Sends `req` from the client and `head` from the server on a new connection; returns the
/// server's next sequence offset and its ack.
fn exchange(w: &mut Wire, port: u16, req: &[u8], head: &[u8]) -> (u32, u32) {
    w.handshake(port);
    w.send(port, true, ACK | PSH, 1, 1, req);
    let ack = 1 + req.len() as u32;
    w.send(port, false, ACK | PSH, 1, ack, head);
    (1 + head.len() as u32, ack)
}

/// Sends `total` server bytes of `fill` in pieces of 4000 (within the kept payload, so each
/// is decoded whole), checking what is held every 100 pieces against `max_sink`.
fn stream(w: &mut Wire, port: u16, seq: &mut u32, ack: u32, total: usize, max_sink: usize) {
    let piece = [b'a'; 4000];
    let mut sent = 0;
    let mut i = 0;
    while sent < total {
        let n = piece.len().min(total - sent);
        w.send(port, false, ACK | PSH, *seq, ack, &piece[..n]);
        *seq = seq.wrapping_add(n as u32);
        sent += n;
        if i % 100 == 0 {
            let h = w.check();
            assert!(h.max_sink_bytes <= max_sink, "{h:?} > {max_sink}");
        }
        i += 1;
    }
}

/// Ends the capture; returns the events `finish` made (also counted).
fn finish_events(w: &mut Wire) -> Vec<Event> {
    w.engine.finish(&mut w.events);
    let events = w.events.clone();
    w.count();
    events
}

fn sse(events: &[Event]) -> Vec<&SseEvent> {
    events
        .iter()
        // The return type lets a boxed variant coerce too.
        .filter_map(|e| -> Option<&SseEvent> {
            match &e.body {
                EventBody::SseEvent(s) => Some(s),
                _ => None,
            }
        })
        .collect()
}

fn socketio(events: &[Event]) -> Vec<&SocketIoPacket> {
    events
        .iter()
        // The return type lets a boxed variant coerce too.
        .filter_map(|e| -> Option<&SocketIoPacket> {
            match &e.body {
                EventBody::Socketio(p) => Some(p),
                _ => None,
            }
        })
        .collect()
}

fn stomp(events: &[Event]) -> Vec<&StompFrame> {
    events
        .iter()
        // The return type lets a boxed variant coerce too.
        .filter_map(|e| -> Option<&StompFrame> {
            match &e.body {
                EventBody::Stomp(f) => Some(f),
                _ => None,
            }
        })
        .collect()
}

#[test]
fn an_sse_line_that_never_ends() {
    // 10 MB of one `data:` line in a body read until close: only its preview is held.
    let mut w = Wire::new(Limits::default());
    let (mut seq, ack) = exchange(
        &mut w,
        PORT,
        b"GET /events HTTP/1.1\r\nHost: a\r\nAccept: text/event-stream\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: ",
    );
    let max = SseParser::max_held(w.limits.max_text_preview);
    stream(&mut w, PORT, &mut seq, ack, 10_000_000, max);
    assert_eq!(w.kind("sse_event"), 0);
    let events = finish_events(&mut w);
    let e = sse(&events);
    assert_eq!(e.len(), 1);
    assert!(e[0].incomplete && !e[0].dispatched);
    assert_eq!(e[0].data_len, 10_000_000);
    assert_eq!(e[0].data.len(), w.limits.max_text_preview);
}

#[test]
fn engine_io_payloads_declaring_huge_lengths() {
    // Protocol 3: a packet of 9,999,999,999 UTF-16 units, then 5 MB of it; protocol 3's
    // binary framing, 9,999,999,999 bytes; protocol 4: 5 MB without a separator. Each body
    // declares 2 GB. Only the kept bytes of the packet in progress are held.
    let mut w = Wire::new(Limits::default());
    let starts: [(u8, &[u8]); 3] = [
        (3, b"9999999999:4"),
        (3, &[1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 0xff, 4]),
        (4, b"4"),
    ];
    for (c, (eio, start)) in starts.iter().enumerate() {
        let port = PORT + c as u16;
        let req =
            format!("GET /socket.io/?EIO={eio}&transport=polling HTTP/1.1\r\nHost: a\r\n\r\n");
        let mut head = b"HTTP/1.1 200 OK\r\nContent-Length: 2000000000\r\n\r\n".to_vec();
        head.extend_from_slice(start);
        let (mut seq, ack) = exchange(&mut w, port, req.as_bytes(), &head);
        let max = w.limits.max_kept_payload;
        stream(&mut w, port, &mut seq, ack, 5_000_000, max);
    }
    assert_eq!(w.kind("socketio"), 0);
    let events = finish_events(&mut w);
    let p = socketio(&events);
    assert_eq!(p.len(), 3, "{events:?}");
    assert!(p.iter().all(|p| p.incomplete));
    assert_eq!(p[1].binary_len, Some(5_000_000));
    assert_eq!(
        p[2].data.as_deref().map(str::len),
        Some(w.limits.max_text_preview)
    );
}

#[test]
fn a_stomp_message_of_1_mb_without_nul() {
    // One text frame of 1 MB: a MESSAGE whose body has no NUL. STOMP reads the message as it
    // streams (keeping a preview): the frame is reported when the message ends, incomplete,
    // with every body byte counted, and its missing NUL noted.
    let mut w = Wire::new(Limits::default());
    let req = b"GET /stomp HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
        Sec-WebSocket-Protocol: v12.stomp\r\n\r\n";
    let stomp_head = b"MESSAGE\ndestination:/topic/x\n\n";
    let total: u64 = 1 << 20;
    let mut head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
        Sec-WebSocket-Protocol: v12.stomp\r\n\r\n"
        .to_vec();
    head.extend_from_slice(&[0x81, 127]);
    head.extend_from_slice(&total.to_be_bytes());
    head.extend_from_slice(stomp_head);
    let (mut seq, ack) = exchange(&mut w, PORT, req, &head);
    let max = Session::max_held(&w.limits);
    let body = total as usize - stomp_head.len();
    // All but the last byte, then the last one with its events kept.
    stream(&mut w, PORT, &mut seq, ack, body - 1, max);
    assert_eq!(w.kind("stomp"), 0);
    w.send(PORT, false, ACK | PSH, seq, ack, b"a");
    assert_eq!(w.kind("ws_message"), 1);
    assert_eq!(w.kind("stomp"), 1);
    // "STOMP MESSAGE frame without its NUL": the message was decoded whole.
    assert_eq!(w.kind("malformed"), 1);
    let h = w.check();
    assert!(h.max_sink_bytes <= max, "{h:?}");
    // The same message cut by the end of the capture: its frame from what was kept.
    let mut w = Wire::new(Limits::default());
    let (mut seq, ack) = exchange(&mut w, PORT, req, &head);
    stream(&mut w, PORT, &mut seq, ack, body - 1, max);
    let events = finish_events(&mut w);
    let f = stomp(&events);
    assert_eq!(f.len(), 1, "{events:?}");
    assert_eq!(f[0].command, "MESSAGE");
    assert!(f[0].incomplete);
    // The body bytes that arrived.
    assert_eq!(f[0].body_len, total - 1 - stomp_head.len() as u64);
    assert_eq!(
        f[0].body.as_deref().map(str::len),
        Some(w.limits.max_text_preview)
    );
}
