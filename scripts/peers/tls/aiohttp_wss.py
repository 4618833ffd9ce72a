#!/usr/bin/env python3
"""aiohttp server and client over TLS with permessage-deflate, for scripts/record-tls-captures.sh.

    aiohttp_wss.py --port P --pki DIR --keylog FILE

One process: an aiohttp web server on 127.0.0.1:P (DIR/rsa.pem, ALPN http/1.1) answering
`GET /` and echoing every WebSocket message on `/ws` (permessage-deflate accepted: aiohttp's
`compress=True`), and an aiohttp client that verifies it against DIR/ca.pem as `localhost`,
writes the NSS key log (`SSLContext.keylog_filename`), fetches `GET /`, then opens
`wss://.../ws` offering permessage-deflate (`compress=15`) and sends: the same English sentence
three times (later copies compress to a few bytes: the deflate context is kept), a Korean
sentence, 1000 bytes of binary, a ping, then close 1000. Each message waits for its echo.
"""
import argparse
import asyncio
import os
import ssl
import sys

import aiohttp
from aiohttp import web

SENTENCE = "The quick brown fox jumps over the lazy dog, over TLS and deflated."
KOREAN = "웹소켓은 TLS 안에서도 같은 핸드셰이크를 합니다."


async def index(_request):
    return web.Response(text="hello from aiohttp over TLS\n")


async def ws_echo(request):
    ws = web.WebSocketResponse(compress=True, autoping=True)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type == aiohttp.WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


async def main(args):
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(os.path.join(args.pki, "rsa.pem"), os.path.join(args.pki, "rsa.key"))
    sctx.set_alpn_protocols(["http/1.1"])
    app = web.Application()
    app.add_routes([web.get("/", index), web.get("/ws", ws_echo)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port, ssl_context=sctx)
    await site.start()

    cctx = ssl.create_default_context(cafile=os.path.join(args.pki, "ca.pem"))
    cctx.set_alpn_protocols(["http/1.1"])
    cctx.keylog_filename = args.keylog
    base = f"https://127.0.0.1:{args.port}"
    # One connection for GET /, one for the WebSocket (force_close: no pooling).
    conn = aiohttp.TCPConnector(ssl=cctx, force_close=True)
    async with aiohttp.ClientSession(connector=conn) as session:
        async with session.get(base + "/", server_hostname="localhost") as resp:
            if resp.status != 200:
                sys.exit(f"GET /: {resp.status}")
            await resp.read()
        async with session.ws_connect(f"wss://127.0.0.1:{args.port}/ws", compress=15,
                                      server_hostname="localhost", autoping=True) as ws:
            if ws.compress == 0:
                sys.exit("permessage-deflate not negotiated")
            for text in [SENTENCE, SENTENCE, SENTENCE, KOREAN]:
                await ws.send_str(text)
                got = await ws.receive(timeout=10)
                if got.data != text:
                    sys.exit(f"echo: {got!r}")
            blob = bytes(i % 251 for i in range(1000))
            await ws.send_bytes(blob)
            got = await ws.receive(timeout=10)
            if got.data != blob:
                sys.exit(f"binary echo: {got!r}")
            await ws.ping(b"deflate ping")
            # The pong is handled by aiohttp (autoping); wait for it with the close below.
            await ws.close(code=1000, message=b"bye")
    await runner.cleanup()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pki", required=True)
    ap.add_argument("--keylog", required=True)
    asyncio.run(main(ap.parse_args()))
