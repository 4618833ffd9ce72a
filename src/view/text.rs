//! The text transcript: one readable line per event.

use std::io::{self, Write};

use crate::model::Event;

/// Writes `event` as one line of text.
pub fn write_event<W: Write>(w: &mut W, event: &Event) -> io::Result<()> {
    writeln!(w, "{:?}", event.body.kind())
}
