//! Where the TUI keeps its events: [`Store`] holds them in arrival order and hands each one
//! back by index ([`Ix`]). What the views need for every row (time, frame, connection,
//! direction, kind, class, filter bits) is read without decoding the event; the event itself
//! comes back as a [`Cow`]: borrowed where it is kept whole, owned where it is rebuilt.
//!
//! `evict_front` drops the oldest events (live capture keeps the newest: a ring); the indices
//! of the events kept shift down by the number dropped.

use std::borrow::Cow;

use crate::model::{ConnId, Dir, Event};

/// Index of an event in the store. `u32` keeps the per-connection indices small (4 bytes a
/// row); a store never holds more than `u32::MAX` events.
pub type Ix = u32;

/// What the views read of every event without looking at its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Which filters keep the event ([`crate::tui::timeline::KindFilter::bit`]).
    pub filters: u8,
    /// [`crate::tui::timeline::Class`] as its index.
    pub class: u8,
}

#[derive(Debug, Clone, Default)]
pub struct Store {
    events: Vec<Event>,
    meta: Vec<Meta>,
}

impl Store {
    pub fn new() -> Store {
        Store::default()
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Room for `n` more events (never more than asked: the last doubling of a large store
    /// would reserve room for events that will not come).
    pub fn reserve(&mut self, n: usize) {
        self.events.reserve_exact(n);
        self.meta.reserve_exact(n);
    }

    pub fn capacity(&self) -> usize {
        self.events.capacity()
    }

    /// Appends `e`; returns its index.
    pub fn push(&mut self, e: Event, meta: Meta) -> Ix {
        let ix = self.events.len() as Ix;
        self.events.push(e);
        self.meta.push(meta);
        ix
    }

    /// Event `ix`, whole.
    pub fn get(&self, ix: Ix) -> Option<Cow<'_, Event>> {
        self.events.get(ix as usize).map(Cow::Borrowed)
    }

    /// Nanoseconds since the capture's first packet.
    pub fn t(&self, ix: Ix) -> Option<u64> {
        self.events.get(ix as usize).map(|e| e.t.0)
    }

    pub fn frame(&self, ix: Ix) -> Option<u64> {
        self.events.get(ix as usize).map(|e| e.frame)
    }

    pub fn conn(&self, ix: Ix) -> Option<ConnId> {
        self.events.get(ix as usize).and_then(|e| e.conn)
    }

    pub fn dir(&self, ix: Ix) -> Option<Dir> {
        self.events.get(ix as usize).and_then(|e| e.dir)
    }

    /// The event's JSON kind.
    pub fn kind(&self, ix: Ix) -> Option<&'static str> {
        self.events.get(ix as usize).map(|e| e.body.kind())
    }

    pub fn meta(&self, ix: Ix) -> Option<Meta> {
        self.meta.get(ix as usize).copied()
    }

    /// Drops the `n` oldest events: event `n` becomes event 0.
    pub fn evict_front(&mut self, n: usize) {
        let n = n.min(self.events.len());
        self.events.drain(..n);
        self.meta.drain(..n);
    }

    /// Bytes held (for the memory example).
    pub fn heap_bytes(&self) -> usize {
        self.events.capacity() * std::mem::size_of::<Event>()
            + self.meta.capacity() * std::mem::size_of::<Meta>()
    }
}
