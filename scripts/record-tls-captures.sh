#!/usr/bin/env bash
# Records the TLS captures in assets/captures/tls/ with their NSS key logs (see the README there).
#
#   scripts/record-tls-captures.sh [NAME...]    # all captures, or only those named
#
# Each capture NAME gives assets/captures/tls/NAME.pcapng and, when the scenario has keys,
# NAME.keys (the key log the peer wrote, SSLKEYLOGFILE format), then the Wireshark reference
# NAME.tshark.jsonl (scripts/tshark-dissect-tls.py). Exceptions: `nokeys_*` commits no key log
# (the point), `dsb_*` carries its keys inside the pcapng (a Decryption Secrets Block written by
# `editcap --inject-secrets tls,KEYS`) and commits no .keys either.
#
# Needs: root (or CAP_NET_RAW/CAP_NET_ADMIN) to capture on `lo`; tcpdump; editcap and capinfos
# (wireshark-common); openssl (s_server, s_client; Debian's 3.0); gnutls-bin (gnutls-serv,
# gnutls-cli); curl; python3 (the stdlib peer), and for the aiohttp peer a virtualenv made from
# scripts/peers/tls/requirements.txt (made here in target/tls-peers-venv); node and npm (the
# Node peer, `npm ci` from its package-lock.json); cargo (the rustls peer,
# scripts/peers/tls/rustls, its own Cargo.lock). Traffic stays on loopback.
#
# Like scripts/record-captures.sh: pick a free port, start tcpdump filtered on it, wait until it
# says it is listening, run the peers once (every peer waits for what the other printed, never
# for a fixed time), stop the capture with SIGINT, fail if the kernel dropped a packet. Files are
# written to a temporary directory and moved into place only when their run succeeded.
# Certificates are made fresh each run (make_pki below): a test CA, RSA and EC leaves for
# localhost/127.0.0.1/::1, a CA nobody trusts, and a long chain for the certificate captures
# (PKI=DIR keeps them in DIR for the next run).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# OUT=DIR records somewhere else (to try the script without touching the committed captures).
OUT="${OUT:-$ROOT/assets/captures/tls}"
PEERS="$ROOT/scripts/peers/tls"

for tool in tcpdump editcap capinfos python3 openssl gnutls-serv gnutls-cli curl node npm cargo; do
    command -v "$tool" >/dev/null || { echo "record-tls-captures: $tool not found" >&2; exit 1; }
done

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
    echo "record-tls-captures: timed out waiting for '$2' in $1:" >&2
    cat "$1" >&2
    return 1
}

# start_capture FILE FILTER: tcpdump on lo, nanosecond timestamps. tcpdump prints "listening
# on" only once the filter is attached, so nothing of the exchange is missed.
start_capture() {
    local file="$1" filter="$2" log="$WORK/capture.log"
    : >"$log"
    tcpdump -i lo -U --immediate-mode -B 16384 --time-stamp-precision=nano -w "$file" "$filter" \
        2>"$log" &
    CAPTURE_PID=$!
    wait_for "$log" "listening on"
}

stop_capture() {
    # Packets of the last exchange may still sit in the kernel's capture buffer: give tcpdump
    # time to read them before asking it to stop.
    sleep 0.5
    kill -INT "$CAPTURE_PID"
    wait "$CAPTURE_PID" || true
    CAPTURE_PID=""
}

# make_pki DIR: the certificates every peer uses (fresh each run).
make_pki() {
    local d="$1" i prev
    mkdir -p "$d"
    (
        cd "$d"
        ossl() { openssl "$@" 2>/dev/null; }
        ca() { # ca NAME CN
            ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
                -out "$1.pem" -days 3650 -subj "/O=synscope/CN=$2" \
                -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
        }
        sign() { # sign NAME ISSUER EXTFILE
            ossl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
                -days 3650 -out "$1.pem" -extfile "$3"
        }
        ca ca "synscope test CA"
        ca other-ca "a CA nobody trusts"
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n' >leaf.ext
        ossl req -newkey rsa:2048 -nodes -keyout rsa.key -subj "/O=synscope/CN=localhost" -out rsa.csr
        sign rsa ca leaf.ext
        ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ec.key \
            -subj "/O=synscope/CN=localhost" -out ec.csr
        sign ec ca leaf.ext
        # A long chain: a root and 16 intermediates with 4096-bit RSA keys, and a leaf with 400
        # names: the Certificate message is about 33 kB, two records of at most 16 kB.
        printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n' >ca.ext
        ossl req -x509 -newkey rsa:4096 -nodes -keyout chain0.key -out chain0.pem -days 3650 \
            -subj "/O=synscope/CN=synscope chain root" \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
        prev=chain0
        : >chain.pem
        for i in $(seq 1 16); do
            ossl req -newkey rsa:4096 -nodes -keyout "chain$i.key" \
                -subj "/O=synscope/CN=synscope intermediate $i" -out "chain$i.csr"
            sign "chain$i" "$prev" ca.ext
            cat "chain$i.pem" chain.pem >chain.tmp && mv chain.tmp chain.pem
            prev="chain$i"
        done
        {
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1'
            for i in $(seq 1 400); do printf ',DNS:host-%03d.synscope.test' "$i"; done
            printf '\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n'
        } >chain-leaf.ext
        ossl req -newkey rsa:2048 -nodes -keyout chain-leaf.key \
            -subj "/O=synscope/CN=localhost" -out chain-leaf.csr
        sign chain-leaf "$prev" chain-leaf.ext
    )
}

# finish NAME RAW.pcap KEYS: checks tcpdump's drop count, writes NAME.pcapng (and NAME.keys).
finish() {
    local name="$1" raw="$2" keys="$3"
    if grep -q "dropped by kernel" "$WORK/capture.log" &&
        ! grep -q "^0 packets dropped by kernel" "$WORK/capture.log"; then
        echo "record-tls-captures: $name: tcpdump dropped packets:" >&2
        cat "$WORK/capture.log" >&2
        return 1
    fi
    # tcpdump writes only classic pcap: editcap rewrites it as pcapng (one section, one
    # interface with if_tsresol=9), packets and timestamps unchanged.
    case "$name" in
    dsb_*)
        grep -q '^[A-Z]' "$keys" || { echo "record-tls-captures: $name: no keys" >&2; return 1; }
        editcap -F pcapng --inject-secrets "tls,$keys" "$raw" "$OUT/$name.pcapng"
        rm -f "$OUT/$name.keys"
        ;;
    nokeys_*)
        editcap -F pcapng "$raw" "$OUT/$name.pcapng"
        rm -f "$OUT/$name.keys"
        ;;
    *)
        editcap -F pcapng "$raw" "$OUT/$name.pcapng"
        # A key log with no secret in it (a handshake that failed before any key) is not kept.
        if grep -q '^[A-Z]' "$keys" 2>/dev/null; then
            cp "$keys" "$OUT/$name.keys"
        else
            rm -f "$OUT/$name.keys"
        fi
        ;;
    esac
    echo "$name: $(capinfos -M -c "$OUT/$name.pcapng" 2>/dev/null | awk -F': *' '/Number of packets/ {print $2}') packets, $(stat -c %s "$OUT/$name.pcapng") bytes"
}

# record NAME FILTER COMMAND...: capture FILTER on lo while COMMAND runs; COMMAND writes its
# key log to $KEYS (exported).
record() {
    local name="$1" filter="$2"
    shift 2
    local raw="$WORK/raw-$name.pcap"
    export KEYS="$WORK/$name.keys"
    rm -f "$KEYS"
    start_capture "$raw" "$filter"
    if ! "$@"; then
        stop_capture
        echo "record-tls-captures: $name: '$*' failed" >&2
        return 1
    fi
    stop_capture
    finish "$name" "$raw" "$KEYS"
}

# openssl_pair NAME [6]: scripts/peers/tls/openssl_pair.py scenario NAME (OpenSSL or GnuTLS).
openssl_pair() {
    local name="$1" port keys
    port="$(free_port "${2:-4}")"
    keys="$WORK/$name.keys"
    [[ "$name" == nokeys_* ]] && keys=""
    record "$name" "tcp port $port" python3 "$PEERS/openssl_pair.py" "$name" --port "$port" \
        --pki "$PKI" --keylog "$keys"
}

# python_https_ws: the stdlib peer, server and client in one process; the server logs the keys.
python_https_ws() {
    local port
    port="$(free_port)"
    record python_https_ws "tcp port $port" python3 "$PEERS/https_ws.py" both --port "$port" \
        --pki "$PKI" --keylog "$WORK/python_https_ws.keys"
}

# ladder_http_wss: GET / in clear to one port, then HTTPS and wss to another (stdlib peer).
ladder_http_wss() {
    local port plain
    port="$(free_port)"
    plain="$(free_port)"
    record ladder_http_wss "tcp port $port or tcp port $plain" python3 "$PEERS/https_ws.py" \
        both --port "$port" --plain-port "$plain" --pki "$PKI" --keylog "$WORK/ladder_http_wss.keys"
}

# curl_https: curl (its own SSLKEYLOGFILE) fetches two URLs on one kept-alive connection from
# the stdlib server (ALPN http/1.1), started before the capture so its readiness is not in it.
curl_https() {
    local port log="$WORK/server.log"
    port="$(free_port)"
    : >"$log"
    python3 "$PEERS/https_ws.py" serve --port "$port" --pki "$PKI" --alpn >"$log" 2>&1 &
    SERVER_PID=$!
    wait_for "$log" "listening on"
    record curl_https "tcp port $port" env SSLKEYLOGFILE="$WORK/curl_https.keys" \
        curl --silent --show-error --http1.1 --cacert "$PKI/ca.pem" \
        --resolve "localhost:$port:127.0.0.1" -o /dev/null -o /dev/null \
        "https://localhost:$port/" "https://localhost:$port/hello.txt"
    wait "$SERVER_PID" || true
    SERVER_PID=""
}

# aiohttp_wss_deflate: aiohttp server and client, wss with permessage-deflate; the client logs
# the keys. The packages come from scripts/peers/tls/requirements.txt, in a virtualenv under
# target/ made on first use.
aiohttp_wss_deflate() {
    local port venv="$ROOT/target/tls-peers-venv"
    if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/pip" freeze | cmp -s - <(grep -v '^#' "$PEERS/requirements.txt"); then
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet -r "$PEERS/requirements.txt"
    fi
    port="$(free_port)"
    record aiohttp_wss_deflate "tcp port $port" "$venv/bin/python" "$PEERS/aiohttp_wss.py" \
        --port "$port" --pki "$PKI" --keylog "$WORK/aiohttp_wss_deflate.keys"
}

# node_https_wss: Node https and ws (scripts/peers/tls/node, `npm ci` from its lock file); the
# server logs the keys from its `keylog` event.
node_https_wss() {
    local port
    (cd "$PEERS/node" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    port="$(free_port)"
    record node_https_wss "tcp port $port" node "$PEERS/node/peer.js" --port "$port" \
        --pki "$PKI" --keylog "$WORK/node_https_wss.keys"
}

# rustls_wss NAME [--tls12]: the rustls peer (scripts/peers/tls/rustls, its own Cargo.lock,
# built into target/rustls-peer); its client logs the keys through KeyLogFile.
rustls_wss() {
    local name="$1" port bin="$ROOT/target/rustls-peer/release/synscope-peer-rustls"
    shift
    cargo build --quiet --release --locked --manifest-path "$PEERS/rustls/Cargo.toml" \
        --target-dir "$ROOT/target/rustls-peer"
    port="$(free_port)"
    record "$name" "tcp port $port" env RUST_BACKTRACE=0 SSLKEYLOGFILE="$WORK/$name.keys" \
        "$bin" --port "$port" --pki "$PKI" "$@"
}

OPENSSL=(
    openssl13_aes128gcm openssl13_aes256gcm openssl13_chacha20
    openssl12_aes128gcm openssl12_aes256gcm openssl12_chacha20
    openssl12_aes128cbc_etm openssl12_aes128cbc_noetm openssl12_aes256cbc_sha384
    openssl13_hrr openssl13_resume openssl12_resume_ticket openssl12_resume_id
    openssl13_keyupdate alert_no_common_cipher alert_unknown_ca alert_unknown_ca_tls12
    alert_certificate_required alert_protocol_version openssl13_ipv6_nosni openssl12_cert_chain openssl13_cert_chain
    nokeys_tls13 dsb_tls13 gnutls13 gnutls12_aes128cbc
)
ALL=(
    "${OPENSSL[@]}" python_https_ws ladder_http_wss curl_https aiohttp_wss_deflate
    node_https_wss rustls_wss rustls_wss_tls12
)
WANT=("$@")
[[ ${#WANT[@]} -eq 0 ]] && WANT=("${ALL[@]}")

mkdir -p "$OUT"
# PKI=DIR keeps the certificates in DIR and reuses them on the next run (making the long chain
# takes a minute or two); by default they are made afresh in the temporary directory.
PKI="${PKI:-$WORK/pki}"
[[ -f "$PKI/chain-leaf.pem" ]] || make_pki "$PKI"
for name in "${WANT[@]}"; do
    case "$name" in
    openssl13_ipv6_nosni) openssl_pair "$name" 6 ;;
    openssl* | alert_* | nokeys_tls13 | dsb_tls13 | gnutls*) openssl_pair "$name" ;;
    python_https_ws | ladder_http_wss | curl_https | aiohttp_wss_deflate | node_https_wss) "$name" ;;
    rustls_wss) rustls_wss "$name" ;;
    rustls_wss_tls12) rustls_wss "$name" --tls12 ;;
    *)
        echo "record-tls-captures: unknown capture '$name' (one of: ${ALL[*]})" >&2
        exit 2
        ;;
    esac
done

# Wireshark's dissection of each capture, decrypted with its key log: the reference the TLS
# agreement test compares with. Then --verify: fails if tshark left a record encrypted where
# there are keys, or if a WebSocket accept key is not RFC 6455's.
files=()
for name in "${WANT[@]}"; do files+=("$OUT/$name.pcapng"); done
python3 "$ROOT/scripts/tshark-dissect-tls.py" "${files[@]}"
python3 "$ROOT/scripts/tshark-dissect-tls.py" --verify "${files[@]}"
