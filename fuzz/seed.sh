#!/bin/sh
# Seeds the fuzz corpora from the committed captures (assets/captures/*.pcap*): each capture
# as it is for decode_capture, and through the seed extractor (examples/seed_extract.rs) its
# frames for decode_frame, its connections' payload streams for http_stream and ws_stream, its
# segments for flow_segments, and what its SSE, STOMP and Engine.IO connections carry for
# subproto. Works when there are no captures yet. Run from anywhere.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
captures="$here/../assets/captures"
corpus="$here/corpus"
for t in decode_capture decode_frame http_stream ws_stream flow_segments subproto; do
    mkdir -p "$corpus/$t"
done
n=0
set --
if [ -d "$captures" ]; then
    for f in "$captures"/*.pcap "$captures"/*.pcapng; do
        [ -f "$f" ] || continue
        cp "$f" "$corpus/decode_capture/$(basename "$f")"
        set -- "$@" "$f"
        n=$((n + 1))
    done
fi
if [ "$n" -gt 0 ]; then
    # The main worktree's target dir: the dependencies are already built there.
    (cd "$here" && CARGO_TARGET_DIR="$here/../target" cargo run -q --example seed_extract -- "$corpus" "$@")
fi
for t in decode_capture decode_frame http_stream ws_stream flow_segments subproto; do
    echo "$t: $(ls "$corpus/$t" | wc -l) seed(s)"
done
