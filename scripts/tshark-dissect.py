#!/usr/bin/env python3
"""Wireshark's dissection of a capture, reduced to what synscope decodes, one JSON line per frame.

    scripts/tshark-dissect.py assets/captures/ws_chat.pcapng   # writes ws_chat.tshark.jsonl
    scripts/tshark-dissect.py --check CAPTURE...               # exits 1 if a committed file differs

The committed `*.tshark.jsonl` files are the reference `tests/tshark_agreement.rs` compares
synscope's events with, frame for frame, so `cargo test` needs no tshark; `--check` (run by the
test when tshark is installed) proves the committed references still match tshark.

tshark settings: relative sequence numbers and sequence analysis on (the defaults), TCP
reassembly on, HTTP body reassembly OFF so a response is reported at the frame that completes its
head (as synscope does), and every TCP port that carries HTTP in the capture decoded as HTTP
(tshark only guesses HTTP on well-known ports). Each line:

    {"frame":4,"stream":0,"sport":56264,"dport":18080,"flags":24,"seq":1,"ack":1,"len":79,
     "win":65536,"analysis":["retransmission"],"http":[["req","GET","/","HTTP/1.1"]],
     "ws":[[1,true,true,5]]}

`ack` only when the ACK flag is set; `analysis`, `http`, `ws` only when present; `ws` entries are
[opcode, fin, masked, payload length]; `http` response entries are ["resp", status, version],
followed by the frame of the request it answers and the time since that request in
nanoseconds (`http.request_in`, `http.time`) when tshark matched one.
"""
import json
import os
import subprocess
import sys

ANALYSIS = [
    "retransmission", "fast_retransmission", "spurious_retransmission", "out_of_order",
    "lost_segment", "ack_lost_segment", "duplicate_ack", "zero_window", "zero_window_probe",
    "zero_window_probe_ack", "keep_alive", "keep_alive_ack", "window_update", "window_full",
    "reused_ports",
]


def tshark(args):
    return subprocess.run(["tshark", *args], check=True, capture_output=True, text=True).stdout


def http_ports(path):
    """TCP ports whose first payload byte in either direction looks like an HTTP start line."""
    out = tshark(["-r", path, "-Y", "tcp.len > 0", "-T", "fields", "-e", "tcp.srcport",
                  "-e", "tcp.dstport", "-e", "tcp.payload", "-o", "tcp.desegment_tcp_streams:FALSE"])
    ports = set()
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        head = bytes.fromhex(parts[2][:16]) if parts[2] else b""
        if head.startswith(b"HTTP/1.") :
            ports.add(int(parts[0]))
        elif head.split(b" ")[0] in (b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS",
                                     b"PATCH", b"CONNECT", b"TRACE"):
            ports.add(int(parts[1]))
    return sorted(ports)


def walk(node, key_pred, found):
    """Collects (key, value) pairs from tshark's nested JSON whose key satisfies key_pred."""
    if isinstance(node, dict):
        for k, v in node.items():
            if key_pred(k):
                found.append((k, v))
            walk(v, key_pred, found)
    elif isinstance(node, list):
        for v in node:
            walk(v, key_pred, found)


def as_list(v):
    return v if isinstance(v, list) else [v]


def one(layer, key):
    found = []
    walk(layer, lambda k: k == key, found)
    return found[0][1] if found else None


def nanoseconds(seconds):
    """'0.057843337' (tshark's http.time) as an exact integer of nanoseconds."""
    whole, _, frac = seconds.partition(".")
    return int(whole) * 1_000_000_000 + int((frac + "000000000")[:9])


def reduce_frame(layers, http_time=False):
    """One frame's line. `http_time`: response entries also carry the request frame and the
    time since it (off by default: scripts/tshark-dissect-tls.py's references do without)."""
    tcp = layers.get("tcp")
    if tcp is None:
        return None
    tcp = as_list(tcp)[0]
    out = {"frame": int(one(layers["frame"], "frame.number"))}
    out["stream"] = int(one(tcp, "tcp.stream"))
    out["sport"] = int(one(tcp, "tcp.srcport"))
    out["dport"] = int(one(tcp, "tcp.dstport"))
    flags = int(one(tcp, "tcp.flags"), 16) & 0xff
    out["flags"] = flags
    out["seq"] = int(one(tcp, "tcp.seq"))
    if flags & 0x10:
        out["ack"] = int(one(tcp, "tcp.ack"))
    out["len"] = int(one(tcp, "tcp.len"))
    out["win"] = int(one(tcp, "tcp.window_size"))
    found = []
    walk(tcp, lambda k: k.startswith("tcp.analysis."), found)
    names = sorted({k[len("tcp.analysis."):] for k, _ in found} & set(ANALYSIS))
    if names:
        out["analysis"] = names
    http = []
    for h in as_list(layers.get("http", [])):
        method = one(h, "http.request.method")
        if method is not None:
            http.append(["req", method, one(h, "http.request.uri"), one(h, "http.request.version")])
        code = one(h, "http.response.code")
        if code is not None:
            resp = ["resp", int(code), one(h, "http.response.version")]
            request_in, time = one(h, "http.request_in"), one(h, "http.time")
            if http_time and request_in is not None and time is not None:
                resp += [int(request_in), nanoseconds(time)]
            http.append(resp)
    if http:
        out["http"] = http
    ws = []
    for w in as_list(layers.get("websocket", [])):
        opcode = one(w, "websocket.opcode")
        if opcode is None:
            continue
        length = one(w, "websocket.payload_length_ext_64") or one(
            w, "websocket.payload_length_ext_16") or one(w, "websocket.payload_length")
        ws.append([int(opcode), one(w, "websocket.fin") in ("1", "True", "true"),
                   one(w, "websocket.mask") in ("1", "True", "true"), int(length)])
    if ws:
        out["ws"] = ws
    return out


def dissect(path):
    args = ["-r", path, "-o", "http.desegment_body:FALSE", "-T", "json", "--no-duplicate-keys",
            "-J", "frame tcp http websocket"]
    for p in http_ports(path):
        args += ["-d", f"tcp.port=={p},http"]
    packets = json.loads(tshark(args) or "[]")
    lines = []
    for p in packets:
        r = reduce_frame(p["_source"]["layers"], http_time=True)
        if r is not None:
            lines.append(json.dumps(r, separators=(",", ":")))
    return "\n".join(lines) + "\n"


def reference_path(capture):
    base, _ = os.path.splitext(capture)
    return base + ".tshark.jsonl"


def main(argv):
    check = "--check" in argv
    paths = [a for a in argv if a != "--check"]
    if not paths:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    stale = []
    for capture in paths:
        text = dissect(capture)
        ref = reference_path(capture)
        if check:
            try:
                with open(ref, encoding="utf-8") as f:
                    if f.read() != text:
                        stale.append(ref)
            except FileNotFoundError:
                stale.append(ref)
        else:
            with open(ref, "w", encoding="utf-8") as f:
                f.write(text)
    for s in stale:
        print(f"stale tshark reference: {s} (re-run scripts/tshark-dissect.py)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
