//! JSON Lines: one object per event, the public schema documented in the README.

use std::io::{self, Write};

use crate::model::Event;

/// Writes `event` as one JSON line.
pub fn write_event<W: Write>(w: &mut W, event: &Event) -> io::Result<()> {
    serde_json::to_writer(&mut *w, event)?;
    w.write_all(b"\n")
}
