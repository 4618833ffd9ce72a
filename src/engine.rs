//! The decode engine: frames in, events out. Synchronous, owns no thread; time comes from the
//! frames' timestamps.
//!
//! Every event the engine emits also goes through a [`PatternDetector`]; [`Engine::finish`]
//! appends the `pattern` events after everything else (live capture calls it when it stops,
//! so they come there too). A `pattern` event can also come mid-stream, when the detector
//! forgets a conversation to stay within `Limits::max_conversations`.

use crate::capture::LinkType;
use crate::capture::RawFrame;
use crate::decode::{decode, is_supported, Decoded};
use crate::flow::FlowTable;
use crate::model::{Event, EventBody, Layer, Limits, Malformed, Nanos, Stamp, Timestamp};
use crate::pattern::PatternDetector;
use crate::proto::Session;

/// Counters over everything the engine was fed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub frames: u64,
    pub bytes: u64,
    pub tcp_segments: u64,
    /// Frames that were not TCP over IP.
    pub other: u64,
    pub malformed: u64,
    /// Frames of a link type synscope cannot decode (also counted in `other`).
    pub unsupported_link: u64,
    pub events: u64,
}

pub struct Engine {
    flows: FlowTable<Session>,
    origin: Option<Timestamp>,
    last: Stamp,
    stats: Stats,
    /// Unsupported link types already reported (one `malformed` event each, not one per frame).
    warned_links: Vec<LinkType>,
    patterns: PatternDetector,
}

impl Engine {
    pub fn new(limits: Limits) -> Self {
        Engine {
            flows: FlowTable::new(limits),
            origin: None,
            last: Stamp::default(),
            stats: Stats::default(),
            warned_links: Vec::new(),
            patterns: PatternDetector::new(limits),
        }
    }

    /// Decodes one frame and appends its events to `out`, in order.
    pub fn ingest(&mut self, frame: &RawFrame, out: &mut Vec<Event>) {
        let before = out.len();
        self.stats.frames += 1;
        self.stats.bytes += frame.data.len() as u64;
        let origin = *self.origin.get_or_insert(frame.ts);
        let stamp = Stamp {
            ts: frame.ts,
            t: Nanos(frame.ts.since(origin)),
            frame: self.stats.frames,
        };
        self.last = stamp;
        match decode(frame) {
            Ok(Decoded::Tcp(pkt)) => {
                self.stats.tcp_segments += 1;
                self.flows.ingest(&pkt, stamp, out);
            }
            Ok(Decoded::Other) => {
                self.stats.other += 1;
                if !is_supported(frame.link) {
                    self.stats.unsupported_link += 1;
                    // Bounded: at most one entry per distinct link type seen (a u32 each).
                    if !self.warned_links.contains(&frame.link) && self.warned_links.len() < 64 {
                        self.warned_links.push(frame.link);
                        self.stats.malformed += 1;
                        out.push(stamp.event(
                            None,
                            None,
                            EventBody::Malformed(Malformed {
                                layer: Layer::Link,
                                detail: format!(
                                    "link type {} is not supported: its frames are skipped",
                                    frame.link.0
                                ),
                            }),
                        ));
                    }
                }
            }
            Err(e) => {
                self.stats.malformed += 1;
                out.push(stamp.event(
                    None,
                    None,
                    EventBody::Malformed(Malformed {
                        layer: e.layer,
                        detail: e.detail,
                    }),
                ));
            }
        }
        self.observe(before, stamp, out);
    }

    /// Feeds the events from `before` on to the pattern detector, appends the reports of
    /// conversations it forgot, and counts them all.
    fn observe(&mut self, before: usize, stamp: Stamp, out: &mut Vec<Event>) {
        for e in out.get(before..).unwrap_or(&[]) {
            self.patterns.observe(e);
        }
        self.patterns.take_forgotten(stamp, out);
        self.stats.events += (out.len() - before) as u64;
    }

    /// End of input: flushes what is held, ends every open connection, then appends one
    /// `pattern` event per conversation that shows a pattern (see [`crate::pattern`]).
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        let before = out.len();
        self.flows.finish(self.last, out);
        self.observe(before, self.last, out);
        let before = out.len();
        self.patterns.finish(self.last, out);
        self.stats.events += (out.len() - before) as u64;
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Timestamp of the first frame, once one was seen.
    pub fn origin(&self) -> Option<Timestamp> {
        self.origin
    }
}
