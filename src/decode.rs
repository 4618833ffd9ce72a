//! Link, IP and TCP decoding of one captured frame (etherparse underneath).
//!
//! INTERFACE STUB: the decode helper replaces the bodies; the signatures are the contract.

use std::net::SocketAddr;

use crate::capture::RawFrame;
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
    /// Not TCP over IP (ARP, UDP, ICMP, IP fragments...): counted, not shown.
    Other,
}

/// A frame that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{layer:?}: {detail}")]
pub struct DecodeError {
    pub layer: Layer,
    pub detail: String,
}

/// Decodes one frame. Never reads past `frame.data`; a frame cut inside the TCP payload is
/// still `Tcp` with `payload.len() < wire_len`.
pub fn decode<'a>(frame: &RawFrame<'a>) -> Result<Decoded<'a>, DecodeError> {
    let _ = frame;
    Ok(Decoded::Other)
}
