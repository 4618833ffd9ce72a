// Socket.IO server and client in one process, for scripts/record-captures.sh.
//
//   node peer.js --port P [--v2] [--polling-only] [--pace-ms N]
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
"use strict";

const http = require("http");

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

main().catch((e) => fail(e.stack || String(e)));
