#!/usr/bin/env bash
# Records the real-traffic captures in assets/captures/ (see assets/captures/README.md).
#
#   scripts/record-captures.sh [NAME...]    # all captures, or only those named (e.g. ws_chat)
#
# Needs: root (or CAP_NET_RAW/CAP_NET_ADMIN) to capture on `lo`; tcpdump; editcap and capinfos
# (Debian: wireshark-common, comes with tshark) to turn tcpdump's classic pcap into pcapng;
# python3 with `websockets` (pip install websockets) for the
# permessage-deflate peers, which tungstenite does not implement; node and npm for the Socket.IO
# STOMP and SSE peers (scripts/peers/socketio, scripts/peers/stomp, scripts/peers/sse: `npm ci`
# installs the versions their package-lock.json pins) and the long-poll peer
# (scripts/peers/longpoll.js, Node's own http module only); curl for the visits by hand; cargo
# to build `examples/traffic.rs` and synscope (whose own capture records the demo's rounds).
# Each capture: pick a free port, start the capture filtered on that
# port, wait until it says it is capturing, run the peers once (the demo server and a client
# scenario of src/demo.rs, or a script of scripts/peers/), stop the capture with SIGINT.
# Re-runnable: every file is written to a temporary directory and moved into place only when
# its run succeeded. Traffic stays on loopback.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/assets/captures"
PEERS="$ROOT/scripts/peers"
# Time between client steps: short, so captures are small and quick to record, long enough
# that each step is its own burst of packets in the timeline.
PACE_MS=20

for tool in tcpdump editcap capinfos python3 cargo node npm curl; do
    command -v "$tool" >/dev/null || { echo "record-captures: $tool not found" >&2; exit 1; }
done

cargo build --quiet --manifest-path "$ROOT/Cargo.toml" --example traffic --bin synscope
TRAFFIC="$ROOT/target/debug/examples/traffic"
SYNSCOPE="$ROOT/target/debug/synscope"

WORK="$(mktemp -d)"
CAPTURE_PID=""
SERVER_PID=""
cleanup() {
    [[ -n "$CAPTURE_PID" ]] && kill -INT "$CAPTURE_PID" 2>/dev/null || true
    [[ -n "$SERVER_PID" ]] && kill -INT "$SERVER_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# free_port [4|6]: a TCP port nothing listens on right now.
free_port() {
    local host=127.0.0.1
    [[ "${1:-4}" == 6 ]] && host=::1
    python3 -c 'import socket,sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$host"
}

# wait_for FILE TEXT: until FILE contains TEXT (at most 10 s).
wait_for() {
    for _ in $(seq 100); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "record-captures: timed out waiting for '$2' in $1:" >&2
    cat "$1" >&2
    return 1
}

# start_capture FILE PORT PRECISION: tcpdump on lo, filtered on PORT, timestamps in PRECISION
# (nano or micro). tcpdump prints "listening on" only once the filter
# is attached, so nothing of the exchange is missed. (dumpcap, which writes pcapng itself,
# says "Capturing on" before it really captures: in a test it missed a SYN+RST 4 times in 20.)
start_capture() {
    local file="$1" port="$2" precision="$3" log="$WORK/capture.log"
    : >"$log"
    # -B: a 64 MiB kernel buffer, so that bursts of 64 KiB loopback segments are not dropped
    # while the machine is busy.
    tcpdump -i lo -U --immediate-mode -B 65536 --time-stamp-precision="$precision" -w "$file" \
        "tcp port $port" 2>"$log" &
    CAPTURE_PID=$!
    wait_for "$log" "listening on"
}

stop_capture() {
    # Packets of the last exchange may still sit in the kernel's capture buffer: give the
    # capture tool time to read them before asking it to stop.
    sleep 0.5
    kill -INT "$CAPTURE_PID"
    wait "$CAPTURE_PID" || true
    CAPTURE_PID=""
}

# record NAME.EXT PORT COMMAND...: capture port PORT on lo while COMMAND runs.
record() {
    local name="$1" port="$2"
    shift 2
    # Nanosecond timestamps, except for *_usec.pcap (classic microsecond pcap).
    local tmp="$WORK/raw-${name%.*}.pcap" precision=nano
    [[ "$name" == *_usec.pcap ]] && precision=micro
    start_capture "$tmp" "$port" "$precision"
    if ! "$@"; then
        stop_capture
        echo "record-captures: $name: '$*' failed" >&2
        return 1
    fi
    stop_capture
    if grep -q "dropped by kernel" "$WORK/capture.log" &&
        ! grep -q "^0 packets dropped by kernel" "$WORK/capture.log"; then
        echo "record-captures: $name: tcpdump dropped packets:" >&2
        cat "$WORK/capture.log" >&2
        return 1
    fi
    if [[ "$name" == *.pcapng ]]; then
        # tcpdump writes only classic pcap: editcap rewrites it as pcapng (one section, one
        # interface with if_tsresol=9), packets and timestamps unchanged.
        editcap -F pcapng "$tmp" "$OUT/$name"
    else
        cp "$tmp" "$OUT/$name"
    fi
    echo "$name: $(capinfos -M -c "$OUT/$name" 2>/dev/null | awk -F': *' '/Number of packets/ {print $2}') packets, $(stat -c %s "$OUT/$name") bytes"
}

# scenario NAME.EXT SCENARIO [--ipv6]: the demo server and one client scenario, at
# SCENARIO_PACE_MS if set, else PACE_MS.
scenario() {
    local name="$1" scenario="$2" family=4
    shift 2
    [[ "${1:-}" == --ipv6 ]] && family=6
    local port
    port="$(free_port "$family")"
    record "$name" "$port" "$TRAFFIC" --scenario "$scenario" --port "$port" \
        --pace-ms "${SCENARIO_PACE_MS:-$PACE_MS}" "$@"
}

# deflate NAME MODE [ARGS...]: Python websockets server and client with permessage-deflate.
deflate() {
    python3 -c 'import websockets' 2>/dev/null ||
        { echo "record-captures: python3 websockets missing (pip install websockets)" >&2; return 1; }
    local name="$1" mode="$2" port
    shift 2
    port="$(free_port)"
    record "$name" "$port" python3 "$PEERS/deflate.py" --port "$port" --mode "$mode" \
        --pace-ms "$PACE_MS" "$@"
}

# with_manifest NAME.EXT FUNCTION ARGS...: runs `FUNCTION NAME.EXT ARGS... --manifest TMP`;
# the peer writes there what it sent (sizes, SHA-1), moved to assets/captures/NAME.peer.jsonl
# once the recording succeeded (tests/subproto_captures.rs checks the decoded events with it).
with_manifest() {
    local name="$1" fn="$2" manifest="$WORK/${1%.*}.peer.jsonl"
    shift 2
    "$fn" "$name" "$@" --manifest "$manifest"
    mv "$manifest" "$OUT/${name%.*}.peer.jsonl"
}

# npm_peer DIR: installs a Node peer's dependencies from its lock file, once per run.
NPM_DONE=()
npm_peer() {
    local dir="$PEERS/$1"
    [[ " ${NPM_DONE[*]} " == *" $1 "* ]] && return 0
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    NPM_DONE+=("$1")
}

# socketio NAME [ARGS...]: Node socket.io server and client (scripts/peers/socketio/peer.js).
socketio() {
    local name="$1" port
    shift
    npm_peer socketio
    port="$(free_port)"
    record "$name" "$port" node "$PEERS/socketio/peer.js" --port "$port" --pace-ms "$PACE_MS" "$@"
}

# stomp NAME [ARGS...]: a STOMP broker over ws and a @stomp/stompjs client
# (scripts/peers/stomp/peer.js).
stomp() {
    local name="$1" port
    shift
    npm_peer stomp
    port="$(free_port)"
    record "$name" "$port" node "$PEERS/stomp/peer.js" --port "$port" --pace-ms "$PACE_MS" "$@"
}

# sse NAME [ARGS...]: a better-sse server and an eventsource client (scripts/peers/sse/peer.js).
sse_peer() {
    local name="$1" port
    shift
    npm_peer sse
    port="$(free_port)"
    record "$name" "$port" node "$PEERS/sse/peer.js" --port "$port" --pace-ms "$PACE_MS" "$@"
}

# pipelined NAME: the demo server alone, and a raw socket client that pipelines 3 requests.
pipelined() {
    local port log="$WORK/server.log"
    port="$(free_port)"
    : >"$log"
    "$TRAFFIC" --serve-only 60 --port "$port" --pace-ms "$PACE_MS" >"$log" 2>&1 &
    SERVER_PID=$!
    # Wait before capturing, so the readiness check is not in the capture.
    wait_for "$log" "listening on"
    record "$1" "$port" python3 "$PEERS/pipelined.py" --port "$port"
    kill -INT "$SERVER_PID"
    wait "$SERVER_PID"
    SERVER_PID=""
}

# sse_client_closed NAME: the demo server alone, and curl reading a stream of Server-Sent Events
# that it closes after 0.45 s (the stream runs for 2 s): a client that stops reading a stream,
# as a closed EventSource does.
sse_client_closed() {
    local port log="$WORK/server.log"
    port="$(free_port)"
    : >"$log"
    "$TRAFFIC" --serve-only 60 --port "$port" --pace-ms "$PACE_MS" >"$log" 2>&1 &
    SERVER_PID=$!
    wait_for "$log" "listening on"
    # curl exits 28 when --max-time ends the transfer: that is the point here.
    record "$1" "$port" sh -c "curl -sN --max-time 0.45 \
        'http://127.0.0.1:$port/events?n=20&every_ms=100' >/dev/null; [ \$? -eq 28 ] && sleep 0.3"
    kill -INT "$SERVER_PID"
    wait "$SERVER_PID"
    SERVER_PID=""
}

# longpoll NAME MODE: the Node long-poll peer (scripts/peers/longpoll.js), server and client.
longpoll() {
    local port
    port="$(free_port)"
    record "$1" "$port" node "$PEERS/longpoll.js" --port "$port" --mode "$2"
}

# three_visits PORT: what a person does with a browser or curl: open the page, again 2 s
# later, and again 5 s after that.
three_visits() {
    local url="http://127.0.0.1:$1/"
    curl --silent --show-error --fail --output /dev/null "$url" && sleep 2 &&
        curl --silent --show-error --fail --output /dev/null "$url" && sleep 5 &&
        curl --silent --show-error --fail --output /dev/null "$url"
}

# visits NAME: the demo server alone, and three visits of `GET /` by hand (not polling).
visits() {
    local port log="$WORK/server.log"
    port="$(free_port)"
    : >"$log"
    "$TRAFFIC" --serve-only 60 --port "$port" --pace-ms "$PACE_MS" >"$log" 2>&1 &
    SERVER_PID=$!
    wait_for "$log" "listening on"
    record "$1" "$port" three_visits "$port"
    kill -INT "$SERVER_PID"
    wait "$SERVER_PID"
    SERVER_PID=""
}

# demo_rounds NAME: `synscope demo all --rounds 5` at a fast pace, recorded by synscope's own
# capture (as scripts/record-demo.sh records the built-in demo): its -w file is the capture.
DEMO_ROUNDS_PACE_MS=50
demo_rounds() {
    local log="$WORK/demo.log" tmp="$WORK/$1"
    if ! "$SYNSCOPE" demo all --rounds 5 --pace-ms "$DEMO_ROUNDS_PACE_MS" -w "$tmp" \
        --format json >/dev/null 2>"$log"; then
        cat "$log" >&2
        echo "record-captures: $1: the demo failed" >&2
        return 1
    fi
    if grep -q "built-in recording" "$log" ||
        ! grep -q "kernel: [0-9]* received, 0 dropped; userspace: 0 dropped" "$log"; then
        cat "$log" >&2
        echo "record-captures: $1: not captured live, or packets were dropped" >&2
        return 1
    fi
    mv "$tmp" "$OUT/$1"
    echo "$1: $(capinfos -M -c "$OUT/$1" 2>/dev/null | awk -F': *' '/Number of packets/ {print $2}') packets, $(stat -c %s "$OUT/$1") bytes"
}

ALL=(
    ws_chat ws_chat_nano ws_ipv6 ws_large ws_deflate ws_deflate_no_context
    http_keepalive http_keepalive_usec http_pipelined polling polling_keepalive
    long_polling streaming_chunked sse refused lesson_all socketio_v4 socketio_polling
    socketio_v3 stomp sse_large stomp_large stomp_large_deflate socketio_large_ws
    socketio_large_polling socketio_large_v3_polling ws_deflate_large sse_client_closed
    long_poll_fixed long_poll_random slow_server visits_by_hand demo_rounds
)
WANT=("$@")
[[ ${#WANT[@]} -eq 0 ]] && WANT=("${ALL[@]}")

mkdir -p "$OUT"
for name in "${WANT[@]}"; do
    case "$name" in
    ws_chat) scenario ws_chat.pcapng websocket ;;
    ws_chat_nano) scenario ws_chat_nano.pcap websocket ;;
    ws_ipv6) scenario ws_ipv6.pcapng websocket --ipv6 ;;
    ws_large) scenario ws_large.pcapng websocket-large ;;
    ws_deflate) deflate ws_deflate.pcapng context ;;
    ws_deflate_no_context) deflate ws_deflate_no_context.pcapng no-context ;;
    http_keepalive) scenario http_keepalive.pcapng http ;;
    http_keepalive_usec) scenario http_keepalive_usec.pcap http ;;
    http_pipelined) pipelined http_pipelined.pcapng ;;
    polling) scenario polling.pcapng polling ;;
    polling_keepalive) scenario polling_keepalive.pcapng polling-keepalive ;;
    long_polling) scenario long_polling.pcapng long-polling ;;
    streaming_chunked) scenario streaming_chunked.pcapng streaming ;;
    sse) scenario sse.pcapng sse ;;
    refused) scenario refused.pcapng refused ;;
    # Every pattern of the lesson in turn, at a pace slow enough that each shows its shape
    # (the patterns view of the TUI is snapshotted on it).
    lesson_all) SCENARIO_PACE_MS=100 scenario lesson_all.pcapng all ;;
    socketio_v4) socketio socketio_v4.pcapng ;;
    socketio_polling) socketio socketio_polling.pcapng --polling-only ;;
    socketio_v3) socketio socketio_v3.pcapng --v2 ;;
    stomp) stomp stomp.pcapng ;;
    # Messages of 12 KB and of 64 KiB and more, from independent peers; each peer also writes
    # what it sent (NAME.peer.jsonl).
    sse_large) with_manifest sse_large.pcapng sse_peer ;;
    stomp_large) with_manifest stomp_large.pcapng stomp --large ;;
    stomp_large_deflate) with_manifest stomp_large_deflate.pcapng stomp --large --deflate ;;
    socketio_large_ws) with_manifest socketio_large_ws.pcapng socketio --large ;;
    socketio_large_polling) with_manifest socketio_large_polling.pcapng socketio --large --polling-only ;;
    socketio_large_v3_polling)
        with_manifest socketio_large_v3_polling.pcapng socketio --large --v2 --polling-only
        ;;
    ws_deflate_large) with_manifest ws_deflate_large.pcapng deflate large ;;
    sse_client_closed) sse_client_closed sse_client_closed.pcapng ;;
    # The pattern rules pinned down (src/pattern.rs, tests/pattern_captures.rs).
    long_poll_fixed) longpoll long_poll_fixed.pcapng fixed ;;
    long_poll_random) longpoll long_poll_random.pcapng random ;;
    slow_server) longpoll slow_server.pcapng slow ;;
    visits_by_hand) visits visits_by_hand.pcapng ;;
    demo_rounds) demo_rounds demo_rounds.pcapng ;;
    *)
        echo "record-captures: unknown capture '$name' (one of: ${ALL[*]})" >&2
        exit 2
        ;;
    esac
done

# Wireshark's dissection of each capture, the reference tests/tshark_agreement.rs compares with.
for name in "${WANT[@]}"; do
    for f in "$OUT/$name".pcap "$OUT/$name".pcapng; do
        [[ -f "$f" ]] && python3 "$(dirname "$0")/tshark-dissect.py" "$f"
    done
done
