// Socket.IO server and client in one process, for scripts/record-captures.sh.
//
//   node peer.js --port P [--v2] [--polling-only] [--pace-ms N] [--large [--manifest FILE]]
//
// Default: socket.io 4 (Engine.IO protocol 4, Socket.IO protocol 5). --v2: socket.io 2
// (Engine.IO 3, Socket.IO 4; the client pings, the server pongs). --polling-only: the client
// never upgrades to WebSocket (transports: ["polling"]).
//
// The client connects (HTTP long-polling first, then the upgrade to WebSocket unless
// --polling-only), and once the transport is settled: emits "chat" with an ack, a binary
// event with an ack (one attachment), joins the namespace /admin and emits "status" there
// (answered by the server with an event), waits for a few pings, then disconnects. The server
// greets each connection on / with a "welcome" event. Everything stays on 127.0.0.1.
//
// --large: instead, once the transport is settled, the client emits "big" with a string of
// 15,000 characters, then one of 70,000 (each acked by the server with its length and
// SHA-1), and asks for one of 100,000 that the server emits back as "big"; then disconnects.
// --manifest writes what was sent, one JSON object per event (`dir`, `event`, and the length
// and SHA-1 of its arguments as JSON text, `args_len` and `args_sha1`), for the tests.
"use strict";

const http = require("http");
const crypto = require("crypto");
const fs = require("fs");

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const value = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const port = Number(value("--port", "0"));
const v2 = flag("--v2");
const pollingOnly = flag("--polling-only");
const pace = Number(value("--pace-ms", "20"));
const large = flag("--large");
const manifestPath = value("--manifest", "");
const sha1 = (s) => crypto.createHash("sha1").update(s, "utf8").digest("hex");
// Deterministic ASCII text of `n` characters.
function text(n, seed) {
  let s = "";
  let i = 0;
  while (s.length < n) s += `${seed}:${i++};`;
  return s.slice(0, n);
}
const SIZES = [15000, 70000];
const BACK = 100000;
// Short ping interval so that a few pings show in a capture of under a second.
const PING_INTERVAL = 150;
const PING_TIMEOUT = 1000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fail = (msg) => {
  console.error(`socketio peer: ${msg}`);
  process.exit(1);
};
setTimeout(() => fail("timed out"), 10000).unref();

function serve(httpServer) {
  const opts = { pingInterval: PING_INTERVAL, pingTimeout: PING_TIMEOUT };
  let io;
  if (v2) {
    io = require("socket.io-v2")(httpServer, opts);
  } else {
    const { Server } = require("socket.io");
    io = new Server(httpServer, opts);
  }
  io.on("connection", (socket) => {
    socket.emit("welcome", { text: "hi from the server", v: v2 ? 2 : 4 });
    socket.on("chat", (msg, ack) => ack({ ok: true, echo: msg }));
    socket.on("upload", (name, buf, ack) => ack(`${name}: ${buf.length} bytes`));
    socket.on("big", (s, ack) => ack({ len: s.length, sha1: sha1(s) }));
    socket.on("send-back", (n) => socket.emit("big", text(n, "back")));
  });
  io.of("/admin").on("connection", (socket) => {
    socket.on("status", (q) => socket.emit("status", { asked: q, uptime_s: 42 }));
  });
  return io;
}

function client(url) {
  const opts = {
    transports: pollingOnly ? ["polling"] : ["polling", "websocket"],
    reconnection: false,
  };
  if (v2) {
    const io = require("socket.io-client-v2");
    return { root: io(url, opts), admin: () => io(`${url}/admin`, opts) };
  }
  const { io } = require("socket.io-client");
  const root = io(url, opts);
  return { root, admin: () => root.io.socket("/admin") };
}

const once = (emitter, name) => new Promise((resolve) => emitter.once(name, resolve));
const ack = (socket, ...a) =>
  new Promise((resolve) => socket.emit(...a, (...reply) => resolve(reply)));

async function main() {
  const httpServer = http.createServer();
  const io = serve(httpServer);
  await new Promise((r) => httpServer.listen(port, "127.0.0.1", r));
  const url = `http://127.0.0.1:${port}`;

  const { root, admin } = client(url);
  const welcome = once(root, "welcome");
  await once(root, "connect");
  await welcome;
  const engine = v2 ? root.io.engine : root.io.engine;
  if (!pollingOnly && engine.transport.name !== "websocket") {
    await once(engine, "upgrade");
  }
  if (large) {
    await bigEvents(root);
    await sleep(pace);
    root.disconnect();
    await sleep(100);
    io.close();
    httpServer.close();
    console.log(`socketio peer: done (large, ${pollingOnly ? "polling" : "websocket"})`);
    setTimeout(() => process.exit(0), 50);
    return;
  }
  await sleep(pace);
  const r1 = await ack(root, "chat", "hello from the client");
  if (!r1[0] || r1[0].ok !== true) fail(`chat ack: ${JSON.stringify(r1)}`);
  await sleep(pace);
  const r2 = await ack(root, "upload", "blob.bin", Buffer.from([0, 1, 2, 3, 0xfe, 0xff]));
  if (r2[0] !== "blob.bin: 6 bytes") fail(`upload ack: ${JSON.stringify(r2)}`);
  await sleep(pace);
  const a = admin();
  await once(a, "connect");
  const status = once(a, "status");
  a.emit("status", "uptime?");
  const s = await status;
  if (s.uptime_s !== 42) fail(`status: ${JSON.stringify(s)}`);
  // A few heartbeats: ping/pong every PING_INTERVAL ms.
  await sleep(PING_INTERVAL * 2 + 50);
  a.disconnect();
  await sleep(pace);
  root.disconnect();
  await sleep(100);
  io.close();
  httpServer.close();
  console.log(`socketio peer: done (${v2 ? "v2" : "v4"}${pollingOnly ? ", polling only" : ""})`);
  setTimeout(() => process.exit(0), 50);
}

// The --large scenario.
async function bigEvents(root) {
  const manifest = [];
  const entry = (dir, event, args) => {
    const j = JSON.stringify(args);
    manifest.push({ dir, event, args_len: Buffer.byteLength(j, "utf8"), args_sha1: sha1(j) });
  };
  for (const [i, n] of SIZES.entries()) {
    await sleep(pace);
    const s = text(n, `big${i}`);
    entry("c2s", "big", [s]);
    const [r] = await ack(root, "big", s);
    if (!r || r.len !== n || r.sha1 !== sha1(s)) fail(`big ack: ${JSON.stringify(r)}`);
  }
  await sleep(pace);
  const back = once(root, "big");
  entry("c2s", "send-back", [BACK]);
  root.emit("send-back", BACK);
  const got = await back;
  const want = text(BACK, "back");
  if (got !== want) fail(`big from the server: ${got.length} characters`);
  entry("s2c", "big", [want]);
  if (manifestPath) {
    fs.writeFileSync(manifestPath, manifest.map((m) => JSON.stringify(m)).join("\n") + "\n");
  }
}

main().catch((e) => fail(e.stack || String(e)));
