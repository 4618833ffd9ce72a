//! The whole pipeline on one input taken as a capture file: capture reader, engine, and both
//! text renderers. Nothing here may panic, whatever the bytes.
#![no_main]

use std::io;

use libfuzzer_sys::fuzz_target;
use synscope::capture::CaptureReader;
use synscope::engine::Engine;
use synscope::model::{Event, Limits};
use synscope::view;

fn render(events: &mut Vec<Event>) {
    let mut sink = io::sink();
    for e in events.iter() {
        let _ = view::text::write_event(&mut sink, e);
        let _ = view::json::write_event(&mut sink, e);
    }
    events.clear();
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::new(data) else {
        return;
    };
    let _ = reader.format();
    let mut engine = Engine::new(Limits::default());
    let mut events = Vec::new();
    // An error ends the stream like the end of input does.
    while let Ok(Some(frame)) = reader.next_frame() {
        engine.ingest(&frame, &mut events);
        render(&mut events);
        let _ = reader.needs_input();
    }
    let _ = reader.truncated_tail();
    engine.finish(&mut events);
    render(&mut events);
});
