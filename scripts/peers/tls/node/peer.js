// A Node https server with a ws WebSocket endpoint and a client for both, in one process, for
// scripts/record-tls-captures.sh.
//
//   node peer.js --port P --pki DIR --keylog FILE
//
// Server: https on 127.0.0.1:P (DIR/rsa.pem), TLS 1.3 only with TLS_CHACHA20_POLY1305_SHA256,
// ALPN http/1.1; `GET /` answers a line of text; `/ws` is a ws WebSocketServer (no
// permessage-deflate) echoing every message. The server writes the NSS key log from its
// `keylog` event (one line per secret, as Node gives them). Client: `GET /` (its own
// connection, no agent), then `wss://.../ws` (servername localhost, checked against
// DIR/ca.pem): a text, a JSON text, 100 bytes of binary, 20000 bytes of binary (one WebSocket
// frame over two TLS records), a ping, each waiting for its echo or pong, then close 1000.
"use strict";

const fs = require("fs");
const path = require("path");
const https = require("https");
const { WebSocketServer, WebSocket } = require("ws");

const args = process.argv.slice(2);
const value = (name) => {
  const i = args.indexOf(name);
  if (i < 0 || i + 1 >= args.length) fail(`${name} missing`);
  return args[i + 1];
};
function fail(msg) {
  console.error(`node tls peer: ${msg}`);
  process.exit(1);
}
setTimeout(() => fail("timed out"), 15000).unref();

const port = Number(value("--port"));
const pki = value("--pki");
const keylog = value("--keylog");
const ca = fs.readFileSync(path.join(pki, "ca.pem"));

const server = https.createServer(
  {
    cert: fs.readFileSync(path.join(pki, "rsa.pem")),
    key: fs.readFileSync(path.join(pki, "rsa.key")),
    minVersion: "TLSv1.3",
    ciphers: "TLS_CHACHA20_POLY1305_SHA256",
    ALPNProtocols: ["http/1.1"],
  },
  (req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("hello from node https\n");
  },
);
server.on("keylog", (line) => fs.appendFileSync(keylog, line));
const wss = new WebSocketServer({ server, path: "/ws", perMessageDeflate: false });
wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
});

const get = () =>
  new Promise((resolve, reject) => {
    https
      .get(
        { host: "127.0.0.1", port, path: "/", servername: "localhost", ca, agent: false,
          headers: { host: `localhost:${port}` } },
        (res) => {
          if (res.statusCode !== 200) reject(new Error(`GET /: ${res.statusCode}`));
          res.resume();
          res.on("end", resolve);
        },
      )
      .on("error", reject);
  });

const next = (ws, event) => new Promise((resolve) => ws.once(event, (...a) => resolve(a)));

async function client() {
  await get();
  const ws = new WebSocket(`wss://127.0.0.1:${port}/ws`, {
    ca, servername: "localhost", perMessageDeflate: false, headers: { host: `localhost:${port}` },
  });
  await next(ws, "open");
  const messages = [
    ["hello from node over wss", false],
    [JSON.stringify({ type: "chat", text: "안녕, wss", n: 1 }), false],
    [Buffer.from(Array.from({ length: 100 }, (_, i) => i)), true],
    [Buffer.alloc(20000, 0x5a), true],
  ];
  for (const [m, binary] of messages) {
    ws.send(m, { binary });
    const [data] = await next(ws, "message");
    if (Buffer.compare(Buffer.from(data), Buffer.from(m)) !== 0) fail("echo differs");
  }
  ws.ping("node ping");
  await next(ws, "pong");
  ws.close(1000, "bye");
  await next(ws, "close");
}

server.listen(port, "127.0.0.1", () => {
  client()
    .then(() => {
      server.close();
      wss.close();
    })
    .catch((e) => fail(e.stack || String(e)));
});
