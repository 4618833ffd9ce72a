#!/usr/bin/env bash
# synscope against tshark, side by side in one run, on the same capture:
#
#   scripts/bench-vs-tshark.sh [FILE.pcap]
#
# Without FILE, records the project's WebSocket load capture with scripts/bench-capture.sh into
# $CAPTURE (default /tmp/synscope-bench.pcap; needs root), or reuses it when it is there.
# Runs, each RUNS times (default 5; tshark TSHARK_RUNS times, default 3) and one after the other:
#
#   synscope decode --stats FILE                 decoding alone (no output)
#   synscope decode FILE                         text transcript
#   synscope decode --format json FILE           JSON Lines transcript
#   tshark -r FILE -T fields -e frame.number     tshark's lightest output
#   tshark -r FILE -d tcp.port==P,http -T fields -e <the same protocol fields>
#                                                tshark's field dissection of what the JSON holds
#
# every output to /dev/null, and prints a table: median wall time with the min-max spread, the
# largest max RSS, and the ratio of tshark's median to synscope's. The headline pairs are JSON
# vs tshark's field dissection, and --stats vs tshark's frame numbers. Builds synscope in
# release (or takes SYNSCOPE=BINARY). Prints `uptime` before and after: the machine's load is
# part of the figure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${RUNS:-5}"
TSHARK_RUNS="${TSHARK_RUNS:-3}"
FILE="${1:-${CAPTURE:-/tmp/synscope-bench.pcap}}"
# SYNSCOPE=path/to/binary measures that build instead (an older one, for a before/after).
BIN="${SYNSCOPE:-$ROOT/target/release/synscope}"

for tool in tshark capinfos /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench-vs-tshark: $tool is needed" >&2; exit 2; }
done
if [[ ! -f "$FILE" ]]; then
    echo "== recording $FILE with scripts/bench-capture.sh"
    "$ROOT/scripts/bench-capture.sh" "$FILE"
fi
[[ -n "${SYNSCOPE:-}" ]] ||
    cargo build --quiet --release --manifest-path "$ROOT/Cargo.toml" --bin synscope

# The WebSocket server's port, from the first connection's JSON: tshark dissects HTTP (and so
# the upgrade to WebSocket) only on ports it knows unless told with -d.
PORT="$("$BIN" decode --format json "$FILE" | head -n 1 |
    sed -n 's/.*"server":"[^"]*:\([0-9]*\)".*/\1/p')"
[[ -n "$PORT" ]] || { echo "bench-vs-tshark: no connection in $FILE" >&2; exit 1; }

# The protocol fields of synscope's JSON transcript, as tshark names them: per TCP segment
# (flags, relative seq/ack, length, scaled window, analysis flags), per HTTP message (method,
# target, status) and per WebSocket frame (opcode, FIN, mask, masking key, payload length).
FIELDS=(frame.number frame.time_relative tcp.stream tcp.srcport tcp.dstport tcp.flags.str
    tcp.seq tcp.ack tcp.len tcp.window_size tcp.analysis.flags http.request.method
    http.request.uri http.response.code websocket.opcode websocket.fin websocket.mask
    websocket.masking_key websocket.payload_length)
TSHARK_FIELDS=()
for f in "${FIELDS[@]}"; do TSHARK_FIELDS+=(-e "$f"); done

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# run NAME N CMD...: N runs, each line "wall_seconds max_rss_kb" in $TMP/NAME.
run() {
    local name="$1" n="$2"
    shift 2
    : >"$TMP/$name"
    for _ in $(seq "$n"); do
        /usr/bin/time -f "%e %M" -o "$TMP/$name.one" "$@" >/dev/null 2>"$TMP/$name.err" || {
            echo "bench-vs-tshark: $name failed:" >&2
            cat "$TMP/$name.err" >&2
            exit 1
        }
        cat "$TMP/$name.one" >>"$TMP/$name"
    done
}

# summary NAME: "median min max max_rss_mb" of $TMP/NAME.
summary() {
    sort -n "$TMP/$1" | awk '{ t[NR] = $1; if ($2 > rss) rss = $2 }
        END { m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2;
              printf "%.3f %.3f %.3f %.0f\n", m, t[1], t[NR], rss / 1024 }'
}

echo "== $FILE"
capinfos -c -s -M "$FILE" | tail -n +2
echo "load before: $(uptime)"
run stats "$RUNS" "$BIN" decode --stats "$FILE"
run text "$RUNS" "$BIN" decode "$FILE"
run json "$RUNS" "$BIN" decode --format json "$FILE"
run tshark_frames "$TSHARK_RUNS" tshark -r "$FILE" -T fields -e frame.number
run tshark_fields "$TSHARK_RUNS" tshark -r "$FILE" -d "tcp.port==$PORT,http" -T fields \
    "${TSHARK_FIELDS[@]}"
echo "load after:  $(uptime)"
"$BIN" decode --stats "$FILE" 2>&1 >/dev/null | sed 's/^/synscope --stats: /'

read -r sm _ _ _ < <(summary stats)
read -r jm _ _ _ < <(summary json)
read -r tm _ _ _ < <(summary text)
read -r fm _ _ _ < <(summary tshark_frames)
read -r dm _ _ _ < <(summary tshark_fields)
echo
printf '%-58s %8s %17s %8s  %s\n' "command (output to /dev/null)" "median" "min-max" "max RSS" "tshark / this"
row() {
    local label="$1" name="$2" against="$3"
    read -r m lo hi rss < <(summary "$name")
    local ratio=""
    [[ -n "$against" ]] && ratio="$(awk -v a="$against" -v b="$m" 'BEGIN { printf "%.1fx", a / b }')"
    printf '%-58s %7ss %8s-%-8s %5s MB  %s\n' "$label" "$m" "$lo" "$hi" "$rss" "$ratio"
}
row "synscope decode --stats FILE" stats "$fm"
row "synscope decode FILE (text)" text "$dm"
row "synscope decode --format json FILE" json "$dm"
row "tshark -r FILE -T fields -e frame.number" tshark_frames ""
row "tshark -r FILE -d tcp.port==$PORT,http -T fields (${#FIELDS[@]} fields)" tshark_fields ""
echo
echo "synscope runs: $RUNS each; tshark runs: $TSHARK_RUNS each. Ratios: --stats against tshark's"
echo "frame numbers; text and JSON against tshark's field dissection: ${FIELDS[*]}"
awk -v f="$fm" -v s="$sm" -v d="$dm" -v j="$jm" 'BEGIN {
    printf "headline: JSON transcript %.1fx faster than tshark field dissection; --stats %.1fx faster than tshark -e frame.number\n", d / j, f / s }'
bytes="$(stat -c %s "$FILE" 2>/dev/null || wc -c <"$FILE")"
awk -v b="$bytes" -v s="$sm" -v j="$jm" 'BEGIN {
    printf "file throughput: --stats %.0f MB/s, JSON %.0f MB/s (file bytes / median wall time)\n", b / 1e6 / s, b / 1e6 / j }'
