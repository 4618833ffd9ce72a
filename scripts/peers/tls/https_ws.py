#!/usr/bin/env python3
"""An HTTP/1.1 and WebSocket server and client over Python's `ssl` (standard library only), for
scripts/record-tls-captures.sh.

    https_ws.py serve --port P --pki DIR [--keylog FILE] [--connections N] [--alpn]
    https_ws.py both --port P --pki DIR [--keylog FILE] [--plain-port Q]

`serve`: a TLS server on 127.0.0.1:P (certificate DIR/rsa.pem, key DIR/rsa.key) that prints
"listening on" when it accepts, answers `GET /` (HTML) and `GET /hello.txt` (text) with
keep-alive, upgrades `GET /ws` to WebSocket and echoes every message until a close, and exits
after N connections. `--alpn` selects http/1.1 when offered. `--keylog` makes the *server*
write the NSS key log (SSLContext.keylog_filename).

`both`: that server in a thread and the client in this process. The client opens one connection
for `GET /` and `GET /hello.txt` (kept alive, the second with `Connection: close`), then a
second one that upgrades `GET /ws` and sends a text, a 300-byte text (16-bit length), a binary
message and a ping, each waiting for its echo or pong, then closes with 1000. With
`--plain-port Q`, first the same `GET /` in clear to a plaintext server on Q, then everything
above over TLS (the ladder: HTTP, then HTTPS and wss). The client verifies the server against
DIR/ca.pem for the name `localhost`.
"""
import argparse
import base64
import hashlib
import os
import socket
import ssl
import sys
import threading

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
PAGE = b"<!doctype html>\n<title>synscope</title>\n<p>hello over https</p>\n"
TEXT = b"hello over TLS\n"


class Reader:
    """Buffered exact reads from a socket (plain or TLS)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("peer closed")
        self.buf += chunk

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def head(self):
        """An HTTP head up to and including the blank line, or None at a clean EOF."""
        while b"\r\n\r\n" not in self.buf:
            try:
                self.fill()
            except EOFError:
                if not self.buf:
                    return None
                raise
        i = self.buf.index(b"\r\n\r\n") + 4
        out, self.buf = self.buf[:i], self.buf[i:]
        return out.decode("latin-1")


def headers(head):
    lines = head.split("\r\n")
    fields = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k.strip().lower()] = v.strip()
    return lines[0], fields


def ws_frame(opcode, payload, masked):
    out = bytearray([0x80 | opcode])
    mbit = 0x80 if masked else 0
    n = len(payload)
    if n < 126:
        out.append(mbit | n)
    elif n < 65536:
        out.append(mbit | 126)
        out += n.to_bytes(2, "big")
    else:
        out.append(mbit | 127)
        out += n.to_bytes(8, "big")
    if masked:
        key = os.urandom(4)
        out += key
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes(out) + payload


def ws_read(r):
    b0, b1 = r.exact(2)
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(r.exact(2), "big")
    elif n == 127:
        n = int.from_bytes(r.exact(8), "big")
    key = r.exact(4) if b1 & 0x80 else None
    payload = r.exact(n)
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return b0 & 0x0F, payload


def respond(sock, status, ctype, body, close):
    head = (f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n")
    sock.sendall(head.encode() + body)


def serve_conn(sock):
    r = Reader(sock)
    while True:
        head = r.head()
        if head is None:
            return
        start, h = headers(head)
        method, target, _ = start.split(" ", 2)
        close = h.get("connection", "").lower() == "close"
        if h.get("upgrade", "").lower() == "websocket":
            accept = base64.b64encode(hashlib.sha1(h["sec-websocket-key"].encode() + GUID).digest())
            sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            while True:
                opcode, payload = ws_read(r)
                if opcode == 8:
                    sock.sendall(ws_frame(8, payload[:2], False))
                    return
                if opcode == 9:
                    sock.sendall(ws_frame(10, payload, False))
                elif opcode in (1, 2):
                    sock.sendall(ws_frame(opcode, payload, False))
        if method == "GET" and target == "/":
            respond(sock, "200 OK", "text/html; charset=utf-8", PAGE, close)
        elif method == "GET" and target == "/hello.txt":
            respond(sock, "200 OK", "text/plain", TEXT, close)
        else:
            respond(sock, "404 Not Found", "text/plain", b"not found\n", close)
        if close:
            return


def server_context(pki, keylog, alpn):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(pki, "rsa.pem"), os.path.join(pki, "rsa.key"))
    if keylog:
        ctx.keylog_filename = keylog
    if alpn:
        ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def serve(port, connections, ctx=None, ready=None):
    """Accepts `connections` connections on 127.0.0.1:port, one at a time."""
    lsock = socket.create_server(("127.0.0.1", port))
    if ready is not None:
        ready.set()
    else:
        print(f"listening on 127.0.0.1:{port}", flush=True)
    for _ in range(connections):
        conn, _ = lsock.accept()
        try:
            if ctx is not None:
                conn = ctx.wrap_socket(conn, server_side=True)
            serve_conn(conn)
            if ctx is not None:
                conn = conn.unwrap()           # close_notify both ways
        except (EOFError, ConnectionError, ssl.SSLError) as e:
            print(f"server: {e}", file=sys.stderr)
        finally:
            conn.close()
    lsock.close()


def get(sock, r, path, close=False):
    lines = [f"GET {path} HTTP/1.1", "Host: localhost", "User-Agent: python-ssl-peer",
             "Accept: */*"] + (["Connection: close"] if close else [])
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    start, h = headers(r.head())
    body = r.exact(int(h["content-length"]))
    if not start.startswith("HTTP/1.1 200"):
        raise SystemExit(f"client: {path}: {start}")
    return body


def client(port, ctx, plain_port=None):
    if plain_port is not None:
        with socket.create_connection(("127.0.0.1", plain_port)) as s:
            get(s, Reader(s), "/", close=True)
    raw = socket.create_connection(("127.0.0.1", port))
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    r = Reader(s)
    get(s, r, "/")
    get(s, r, "/hello.txt", close=True)
    s.unwrap().close()                    # close_notify both ways, then FIN
    raw = socket.create_connection(("127.0.0.1", port))
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    r = Reader(s)
    key = base64.b64encode(os.urandom(16))
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key +
              b"\r\nSec-WebSocket-Version: 13\r\nUser-Agent: python-ssl-peer\r\n\r\n")
    start, h = headers(r.head())
    want = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
    if not start.startswith("HTTP/1.1 101") or h.get("sec-websocket-accept") != want:
        raise SystemExit(f"client: upgrade refused: {start}")
    for opcode, payload, answer in [
        (1, "hello over wss".encode(), 1),
        (1, ("0123456789" * 30).encode(), 1),
        (2, bytes(range(16)) + b"\xfe\xff", 2),
        (9, b"are you there?", 10),
    ]:
        s.sendall(ws_frame(opcode, payload, True))
        got = ws_read(r)
        if got != (answer, payload):
            raise SystemExit(f"client: sent {opcode} {payload!r}, got {got!r}")
    s.sendall(ws_frame(8, (1000).to_bytes(2, "big") + b"bye", True))
    if ws_read(r)[0] != 8:
        raise SystemExit("client: no close frame")
    s.unwrap().close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["serve", "both"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--plain-port", type=int)
    ap.add_argument("--pki", required=True)
    ap.add_argument("--keylog", default="")
    ap.add_argument("--connections", type=int, default=1)
    ap.add_argument("--alpn", action="store_true")
    args = ap.parse_args()
    sctx = server_context(args.pki, args.keylog, args.alpn)
    if args.mode == "serve":
        serve(args.port, args.connections, sctx)
        return
    threads = []
    for port, ctx, n in [(args.port, sctx, 2), (args.plain_port, None, 1)]:
        if port is None:
            continue
        ready = threading.Event()
        t = threading.Thread(target=serve, args=(port, n, ctx, ready), daemon=True)
        t.start()
        ready.wait(10)
        threads.append(t)
    cctx = ssl.create_default_context(cafile=os.path.join(args.pki, "ca.pem"))
    client(args.port, cctx, args.plain_port)
    for t in threads:
        t.join(10)
        if t.is_alive():
            raise SystemExit("server did not finish")


if __name__ == "__main__":
    main()
