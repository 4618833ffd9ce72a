#!/usr/bin/env python3
"""WebSocket echo server and client with permessage-deflate (RFC 7692), both on loopback.

tungstenite (the Rust demo's WebSocket library) has no permessage-deflate, so the compressed
captures come from an independent implementation: Python's `websockets` (pip install
websockets; tested with 17.4).

    deflate.py --port P --mode context      # context takeover both ways, 15-bit windows
    deflate.py --port P --mode no-context   # {client,server}_no_context_takeover,
                                            # {client,server}_max_window_bits=10

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


def factories(mode):
    if mode == "context":
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
    parser.add_argument("--mode", choices=["context", "no-context"], default="context")
    parser.add_argument("--pace-ms", type=int, default=20)
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


if __name__ == "__main__":
    asyncio.run(main())
