#!/usr/bin/env python3
"""HTTP/1.1 pipelining: three requests written in one send on one connection.

    pipelined.py --port P [--host 127.0.0.1]

Run against the demo server (`cargo run --example traffic -- --serve-only 30 --port P`).
The three requests leave in one TCP segment; the server answers them in order (RFC 9112
§9.3.2). The last request says `Connection: close`, so the server closes after the third
answer and the client reads until EOF. Exits 0 when three responses came back.
"""

import argparse
import re
import socket
import sys

REQUESTS = (
    b"GET /poll?since=0 HTTP/1.1\r\nHost: {host}\r\nUser-Agent: pipelined.py\r\n\r\n"
    b"GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: pipelined.py\r\n\r\n"
    b"GET /missing HTTP/1.1\r\nHost: {host}\r\nUser-Agent: pipelined.py\r\n"
    b"Connection: close\r\n\r\n"
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    host = f"{args.host}:{args.port}".encode()
    with socket.create_connection((args.host, args.port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(REQUESTS.replace(b"{host}", host))
        received = b""
        while len(received) < 1 << 20:
            chunk = s.recv(65536)
            if not chunk:
                break
            received += chunk
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", received)
    print(f"statuses: {[int(x) for x in statuses]}", file=sys.stderr)
    if len(statuses) != 3:
        raise SystemExit(f"expected 3 responses, got {len(statuses)}")


if __name__ == "__main__":
    main()
