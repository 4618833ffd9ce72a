#!/usr/bin/env bash
# Records WebSocket load (examples/wsload.rs) on loopback into a classic pcap for benchmarks:
#
#   scripts/bench-capture.sh OUT.pcap
#
# Defaults give about 1 M echoed 32-byte messages, about 2.3 M packets, a few hundred MB; tune
# with CONNECTIONS, MESSAGES (per connection), SIZE, WINDOW. Not committed (too large): make it
# where a benchmark needs it. Needs root (capture on `lo`), tcpdump, cargo (builds wsload with
# --release). Prints wsload's figures, tcpdump's drop count and capinfos' packet rate. Exits
# non-zero if tcpdump dropped packets, since a benchmark input with holes measures the wrong
# thing.
#
# TLS=1: the same load as wss (wsload --tls: rustls, TLS 1.3 TLS_AES_256_GCM_SHA384, one TLS
# record per message), and the client's NSS key log beside the capture, OUT.keys (OUT without
# its extension, then .keys), for the decryption speed figures:
#
#   TLS=1 scripts/bench-capture.sh /tmp/wss-load.pcap     # writes /tmp/wss-load.keys too
#   synscope decode --keylog /tmp/wss-load.keys /tmp/wss-load.pcap
#   tshark -o tls.keylog_file:/tmp/wss-load.keys -r /tmp/wss-load.pcap -q
set -euo pipefail

OUT="${1:?usage: bench-capture.sh OUT.pcap}"
CONNECTIONS="${CONNECTIONS:-40}"
MESSAGES="${MESSAGES:-25000}"
SIZE="${SIZE:-32}"
WINDOW="${WINDOW:-8}"
TLS="${TLS:-0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

cargo build --quiet --release --manifest-path "$ROOT/Cargo.toml" --example wsload
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT

# A large kernel buffer (-B, KiB) so tcpdump keeps up with the burst.
tcpdump -i lo -U -B 65536 -w "$OUT" "tcp port $PORT" 2>"$LOG" &
CAPTURE_PID=$!
for _ in $(seq 100); do
    grep -q "listening on" "$LOG" && break
    sleep 0.1
done
grep -q "listening on" "$LOG" || { cat "$LOG" >&2; kill "$CAPTURE_PID"; exit 1; }

WSLOAD=("$ROOT/target/release/examples/wsload" --port "$PORT" --connections "$CONNECTIONS"
    --messages "$MESSAGES" --size "$SIZE" --window "$WINDOW")
if [[ "$TLS" == 1 ]]; then
    KEYS="${OUT%.*}.keys"
    rm -f "$KEYS"
    SSLKEYLOGFILE="$KEYS" "${WSLOAD[@]}" --tls
    echo "key log: $KEYS ($(grep -c '^CLIENT_TRAFFIC_SECRET_0 ' "$KEYS") TLS 1.3 sessions)"
else
    "${WSLOAD[@]}"
fi
# Let tcpdump read what is still in the kernel buffer before it stops.
sleep 1
kill -INT "$CAPTURE_PID"
wait "$CAPTURE_PID" || true
grep -E "captured|dropped" "$LOG"
capinfos -c -s -u -x -M "$OUT" | tail -n +2
if ! grep -q "^0 packets dropped by kernel" "$LOG"; then
    echo "bench-capture: tcpdump dropped packets" >&2
    exit 1
fi
