#!/usr/bin/env bash
# Loss under load: tcpdump and `synscope live` capture the same port on lo side by side while a
# WebSocket echo load runs (40 connections x 5000 echoed messages by default), then every frame
# tcpdump saw must be in synscope's capture, and synscope's kernel drop count must be 0.
#
#   scripts/live-load.sh [CONNECTIONS] [MESSAGES]
#
# Needs root (or CAP_NET_RAW), tcpdump, tshark and capinfos. Builds synscope in release. The
# load is `examples/wsload.rs` when the tree has it, else the load generator of
# tests/live_load.rs. Files are kept in $OUT (default /tmp/synscope-live-load) for a look.
set -euo pipefail

CONNS=${1:-40}
MSGS=${2:-5000}
PORT=${PORT:-47913}
OUT=${OUT:-/tmp/synscope-live-load}
cd "$(dirname "$0")/.."
mkdir -p "$OUT"
rm -f "$OUT"/*

for tool in tcpdump tshark capinfos; do
  command -v "$tool" >/dev/null || { echo "live-load: $tool is needed" >&2; exit 2; }
done

echo "== building (release)"
cargo build --release --quiet --bin synscope
if [[ -f examples/wsload.rs ]]; then
  cargo build --release --quiet --example wsload
  LOAD=(target/release/examples/wsload --connections "$CONNS" --messages "$MSGS" --port "$PORT")
else
  bin=$(cargo test --release --quiet --test live_load --no-run --message-format=json 2>/dev/null \
    | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
  LOAD=(env SYNSCOPE_LOAD_PORT="$PORT" SYNSCOPE_LOAD_CONNECTIONS="$CONNS"
        SYNSCOPE_LOAD_MESSAGES="$MSGS" "$bin" load_generator --exact --nocapture)
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# Waits until FILE has a line matching PATTERN (the capture is open), at most 20 s.
wait_for() {
  for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "live-load: no '$2' in $1:" >&2; cat "$1" >&2; exit 1
}

echo "== capturing tcp port $PORT on lo with tcpdump and synscope"
# -B: a 64 MiB kernel buffer like synscope's ring; -s: the same snap length. (Not
# --immediate-mode: a wakeup per packet makes tcpdump drop heavily on a busy 2-core machine.)
tcpdump -i lo -n -s 262144 -B 65536 -w "$OUT/tcpdump.pcap" "tcp port $PORT" 2>"$OUT/tcpdump.err" &
pids+=($!); tcpdump_pid=$!
target/release/synscope live --format json --port "$PORT" -w "$OUT/synscope.pcapng" \
  >"$OUT/events.jsonl" 2>"$OUT/synscope.err" &
pids+=($!); synscope_pid=$!
wait_for "$OUT/tcpdump.err" "listening on"
wait_for "$OUT/synscope.err" "capturing on"

echo "== load: $CONNS connections x $MSGS messages"
start=$(date +%s.%N)
"${LOAD[@]}" 2>&1 | grep -v '^$' | tail -3
end=$(date +%s.%N)
# tcpdump does not drain its buffer on SIGINT and hands over a block every second at least.
sleep 2
kill -INT "$synscope_pid"; wait "$synscope_pid" || { echo "synscope failed" >&2; cat "$OUT/synscope.err" >&2; exit 1; }
kill -INT "$tcpdump_pid"; wait "$tcpdump_pid" || true
trap - EXIT

echo "== results"
cat "$OUT/tcpdump.err" | grep -E "captured|received|dropped" | sed 's/^/tcpdump:  /'
grep -v "capturing on" "$OUT/synscope.err"
t=$(capinfos -c -M "$OUT/tcpdump.pcap" | awk '/Number of packets/ {print $NF}')
s=$(capinfos -c -M "$OUT/synscope.pcapng" | awk '/Number of packets/ {print $NF}')
dur=$(capinfos -u -M "$OUT/synscope.pcapng" | awk '/Capture duration/ {print $(NF-1)}')
load_secs=$(echo "$end - $start" | bc)
echo "frames: tcpdump $t, synscope $s"
printf 'rate: %.0f packets/s over the capture (%.2f s), load ran %.2f s\n' \
  "$(echo "$s / $dur" | bc -l)" "$dur" "$load_secs"

# The kernel's own count of the packets on the port: tcpdump's socket gets both loopback copies
# of each ("received by filter", dropped ones included) and discards the outgoing one itself.
rcv=$(sed -n 's/^\([0-9]*\) packets received by filter/\1/p' "$OUT/tcpdump.err")
tdrop=$(sed -n 's/^\([0-9]*\) packets dropped by kernel/\1/p' "$OUT/tcpdump.err")
echo "packets on the port by the kernel's count: $((rcv / 2)); tcpdump dropped $tdrop copies"

# Same frames, not only the same count: compare a per-frame key (IP id, ports, seq, ack,
# flags, length) of both captures as sorted lists.
key() {
  tshark -r "$1" -T fields -e ip.id -e tcp.srcport -e tcp.dstport -e tcp.seq_raw \
    -e tcp.ack_raw -e tcp.flags -e tcp.len 2>/dev/null | sort
}
key "$OUT/tcpdump.pcap" >"$OUT/tcpdump.keys"
key "$OUT/synscope.pcapng" >"$OUT/synscope.keys"
missing=$(comm -23 "$OUT/tcpdump.keys" "$OUT/synscope.keys" | wc -l)
extra=$(comm -13 "$OUT/tcpdump.keys" "$OUT/synscope.keys" | wc -l)
dups=$(uniq -d "$OUT/synscope.keys" | wc -l)
echo "frames tcpdump saw that synscope did not: $missing; synscope only: $extra; repeated: $dups"
drops=$(sed -n 's/.*kernel: [0-9]* received, \([0-9]*\) dropped.*/\1/p' "$OUT/synscope.err")
if [[ "$missing" == 0 && "$dups" == 0 && "$drops" == 0 && "$s" == $((rcv / 2)) ]] &&
   [[ "$tdrop" != 0 || "$extra" == 0 ]]; then
  echo "PASS: synscope has every frame tcpdump saw, once, and all $s the kernel counted; drops 0"
else
  echo "FAIL" >&2; exit 1
fi
