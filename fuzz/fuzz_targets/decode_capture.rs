//! The whole pipeline on one input taken as a capture file: capture reader, engine, and both
//! text renderers. Besides "no panic": the per-connection event order, every event within
//! the default limits, and the engine's memory within them after every frame.
#![no_main]

#[path = "common.rs"]
mod common;

use common::{check_event, ConnOrder};
use libfuzzer_sys::fuzz_target;
use synscope::capture::CaptureReader;
use synscope::engine::Engine;
use synscope::flow::MAX_HELD_PIECES;
use synscope::model::{Event, Limits};
use synscope::proto::Session;

fn check(events: &mut Vec<Event>, order: &mut ConnOrder, limits: &Limits) {
    for e in events.iter() {
        order.check(e);
        check_event(e, limits);
    }
    events.clear();
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::new(data) else {
        return;
    };
    let _ = reader.format();
    let limits = Limits::default();
    let mut engine = Engine::new(limits);
    let mut events = Vec::new();
    let mut order = ConnOrder::default();
    // An error ends the stream like the end of input does.
    while let Ok(Some(frame)) = reader.next_frame() {
        engine.ingest(&frame, &mut events);
        check(&mut events, &mut order, &limits);
        let _ = reader.needs_input();
        let h = engine.held();
        assert!(h.connections <= limits.max_connections);
        assert!(h.max_stream_bytes <= limits.max_held_bytes);
        assert!(h.max_stream_pieces <= MAX_HELD_PIECES);
        assert!(h.reassembly_bytes <= limits.max_held_total);
        assert!(h.max_sink_bytes <= Session::max_held(&limits));
    }
    let _ = reader.truncated_tail();
    engine.finish(&mut events);
    check(&mut events, &mut order, &limits);
    assert!(order.all_ended());
});
