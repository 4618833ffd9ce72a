#!/usr/bin/env bash
# Records assets/demo.pcapng, the demo that `synscope demo` replays when it cannot capture, and
# its Wireshark reference assets/demo.tshark.jsonl (compared by tests/tshark_agreement.rs).
#
#   scripts/record-demo.sh
#
# Needs: root (or CAP_NET_RAW) to capture on `lo`; cargo; tshark and python3 for the reference.
# The recording is `synscope demo all --once -w FILE --pace-ms PACE_MS`: synscope's own
# capture of its own demo (port-filtered, loopback de-duplicated), written as pcapng. PACE_MS
# must equal RECORDING_PACE in src/demo/show.rs (its test `recording_was_made_at_its_pace`
# checks it): playback speed is computed from it. 250 ms keeps the whole demo to ~15 s of
# capture and a few tens of KB. The new recording is built into the binary on the next build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/assets/demo.pcapng"
PACE_MS=250

for tool in cargo python3 tshark; do
    command -v "$tool" >/dev/null || { echo "record-demo: $tool not found" >&2; exit 1; }
done

cargo build --quiet --manifest-path "$ROOT/Cargo.toml" --bin synscope
BIN="$ROOT/target/debug/synscope"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# --recording is not given: without capture rights the demo would replay the old recording
# and copy it to -w; refuse instead.
if ! "$BIN" demo all --once --pace-ms "$PACE_MS" -w "$WORK/demo.pcapng" --format json \
    >"$WORK/events.jsonl" 2>"$WORK/log"; then
    cat "$WORK/log" >&2
    echo "record-demo: the demo failed" >&2
    exit 1
fi
cat "$WORK/log" >&2
if grep -q "built-in recording" "$WORK/log"; then
    echo "record-demo: live capture is not permitted here: run as root" >&2
    exit 1
fi
# The summary line: "kernel: N received, 0 dropped; userspace: 0 dropped".
grep -q "kernel: [0-9]* received, 0 dropped; userspace: 0 dropped" "$WORK/log" || {
    echo "record-demo: packets were dropped; record again on a quieter machine" >&2
    exit 1
}
mv "$WORK/demo.pcapng" "$OUT"
echo "$(basename "$OUT"): $(wc -l <"$WORK/events.jsonl") events, $(stat -c %s "$OUT") bytes"

# Wireshark's dissection, the reference tests/tshark_agreement.rs compares with.
python3 "$ROOT/scripts/tshark-dissect.py" "$OUT"
