#!/usr/bin/env python3
"""WebSocket echo server and client with permessage-deflate (RFC 7692), both on loopback.

tungstenite (the Rust demo's WebSocket library) has no permessage-deflate, so the compressed
captures come from an independent implementation: Python's `websockets` (pip install
websockets; tested with 17.4).

    deflate.py --port P --mode context      # context takeover both ways, 15-bit windows
    deflate.py --port P --mode no-context   # {client,server}_no_context_takeover,
                                            # {client,server}_max_window_bits=10
    deflate.py --port P --mode large [--manifest FILE]
                                            # context takeover; messages of 64 KiB and more

The client sends text that repeats, so with context takeover the later messages compress to a
few bytes (they refer back into earlier messages), and without it every copy costs the same.
It also sends Korean text, a binary message, a message in three fragments (only the first
frame has RSV1 set, RFC 7692 §6.1), a ping, then closes with 1000 "bye". Exits 0 when every
echo matched.
"""

import argparse
import asyncio
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)

SENTENCE = "WebSocket messages that repeat compress well when the context is kept. "
MESSAGES = [
    SENTENCE,
    SENTENCE,
    SENTENCE * 3,
    "웹소켓 메시지가 반복되면 압축이 잘 된다. " * 2,
    SENTENCE,
]
BINARY = bytes(range(64)) * 4
FRAGMENTS = ["fragmented ", "and compressed ", SENTENCE]


def text(n, seed):
    """Deterministic ASCII text of `n` characters (the Node peers' pattern)."""
    parts, i, size = [], 0, 0
    while size < n:
        p = f"{seed}:{i};"
        parts.append(p)
        size += len(p)
        i += 1
    return "".join(parts)[:n]


# --mode large: texts of 70,000 and 100,000 characters, 65,536 bytes of UTF-8 (Korean, 3 bytes
# a character, and one ASCII byte), a binary message of 80,000 pseudo-random (incompressible)
# bytes, and 100,000 characters sent as four fragments.
LARGE = [
    text(70000, "deflate0"),
    text(100000, "deflate1"),
    "가" * 21845 + "!",
    bytes((i * 7919 + (i >> 8) * 104729) % 251 for i in range(80000)),
]
LARGE_FRAGMENTS = [text(25000, f"frag{i}") for i in range(4)]


def factories(mode):
    if mode in ("context", "large"):
        client = ClientPerMessageDeflateFactory(client_max_window_bits=True)
        server = ServerPerMessageDeflateFactory()
    else:
        client = ClientPerMessageDeflateFactory(
            server_no_context_takeover=True,
            client_no_context_takeover=True,
            server_max_window_bits=10,
            client_max_window_bits=10,
        )
        server = ServerPerMessageDeflateFactory(
            server_no_context_takeover=True,
            client_no_context_takeover=True,
            server_max_window_bits=10,
            client_max_window_bits=10,
        )
    return client, server


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def expect_echo(ws, sent):
    got = await asyncio.wait_for(ws.recv(), timeout=10)
    if got != sent:
        raise SystemExit(f"echo mismatch: sent {sent!r}, got {got!r}")


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=["context", "no-context", "large"], default="context")
    parser.add_argument("--pace-ms", type=int, default=20)
    parser.add_argument("--manifest", help="write what was sent (length, SHA-1), one JSON a line")
    args = parser.parse_args()
    pace = args.pace_ms / 1000
    client_ext, server_ext = factories(args.mode)

    # No keepalive pings from either side: only the scenario's frames are in the capture.
    async with serve(
        echo,
        "127.0.0.1",
        args.port,
        compression=None,
        extensions=[server_ext],
        ping_interval=None,
    ):
        async with connect(
            f"ws://127.0.0.1:{args.port}/chat",
            compression=None,
            extensions=[client_ext],
            ping_interval=None,
        ) as ws:
            negotiated = ws.response.headers.get("Sec-WebSocket-Extensions")
            print(f"negotiated: {negotiated}", file=sys.stderr)
            if not negotiated or "permessage-deflate" not in negotiated:
                raise SystemExit("permessage-deflate was not negotiated")
            if args.mode == "large":
                await large(ws, pace, args.manifest)
                return
            for text in MESSAGES:
                await asyncio.sleep(pace)
                await ws.send(text)
                await expect_echo(ws, text)
            await asyncio.sleep(pace)
            await ws.send(BINARY)
            await expect_echo(ws, BINARY)
            await asyncio.sleep(pace)
            # An iterable is sent as one fragmented message, a frame per item.
            await ws.send(FRAGMENTS)
            await expect_echo(ws, "".join(FRAGMENTS))
            await asyncio.sleep(pace)
            pong = await ws.ping(b"deflate ping")
            await asyncio.wait_for(pong, timeout=10)
            await asyncio.sleep(pace)
            await ws.close(code=1000, reason="bye")


async def large(ws, pace, manifest):
    """The --mode large scenario: each message echoed, then close 1000 "bye"."""
    import hashlib
    import json

    sent = []
    for m in LARGE:
        await asyncio.sleep(pace)
        await ws.send(m)
        await expect_echo(ws, m)
        sent.append(m)
    await asyncio.sleep(pace)
    await ws.send(LARGE_FRAGMENTS)
    joined = "".join(LARGE_FRAGMENTS)
    await expect_echo(ws, joined)
    sent.append(joined)
    await asyncio.sleep(pace)
    await ws.close(code=1000, reason="bye")
    if manifest:
        with open(manifest, "w") as f:
            for m in sent:
                b = m if isinstance(m, bytes) else m.encode()
                kind = "binary" if isinstance(m, bytes) else "text"
                f.write(json.dumps({"opcode": kind, "len": len(b), "sha1": hashlib.sha1(b).hexdigest()}) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
