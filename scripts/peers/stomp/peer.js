// A minimal STOMP 1.2 broker over WebSocket (ws) and a @stomp/stompjs client, in one process,
// for scripts/record-captures.sh.
//
//   node peer.js --port P [--pace-ms N] [--large [--deflate] [--manifest FILE]]
//
// Broker: subprotocols v12.stomp, v11.stomp, v10.stomp (the first the client offers);
// CONNECT/STOMP -> CONNECTED with version and heart-beat; SUBSCRIBE; SEND -> MESSAGE to every
// subscription of the destination; RECEIPT for any frame with a receipt header (sent in the
// same WebSocket message as the MESSAGE frames a SEND caused: several STOMP frames in one
// message); DISCONNECT; heart-beats (a bare LF) at the negotiated rate. Client: subscribes to
// /topic/chat, sends a text with a receipt, a JSON body with content-type and content-length,
// a header that needs STOMP 1.2 escaping, lets heart-beats run, then disconnects.
// Everything stays on 127.0.0.1.
//
// --large: instead, the client sends SEND frames with bodies of 20,000, 70,000 and 100,000
// bytes (stompjs sets content-length), the first with a receipt, and one of 65,536 bytes
// without content-length (skipContentLengthHeader: the body runs to the NUL); the broker
// answers each with a MESSAGE carrying the same body. --deflate: both ends negotiate
// permessage-deflate (ws's implementation), so the large frames travel compressed.
// --manifest writes what was sent, one JSON object per SEND (`body_len`, `sha1`), for the
// tests.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const { WebSocketServer, WebSocket } = require("ws");
const { Client } = require("@stomp/stompjs");

const args = process.argv.slice(2);
const value = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const port = Number(value("--port", "0"));
const pace = Number(value("--pace-ms", "20"));
const large = args.includes("--large");
const deflate = args.includes("--deflate");
const manifestPath = value("--manifest", "");
const sha1 = (s) => crypto.createHash("sha1").update(s, "utf8").digest("hex");
// Deterministic ASCII text of `n` characters.
function text(n, seed) {
  let s = "";
  let i = 0;
  while (s.length < n) s += `${seed}:${i++};`;
  return s.slice(0, n);
}
const HEARTBEAT_MS = 100;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fail = (msg) => {
  console.error(`stomp peer: ${msg}`);
  process.exit(1);
};
setTimeout(() => fail("timed out"), 10000).unref();

// STOMP 1.2 §Value Encoding (CONNECT and CONNECTED frames are not escaped).
const unescape = (v) =>
  v.replace(/\\([rnc\\])/g, (_, c) => ({ r: "\r", n: "\n", c: ":", "\\": "\\" })[c]);
const escape = (v) =>
  v.replace(/\\/g, "\\\\").replace(/\r/g, "\\r").replace(/\n/g, "\\n").replace(/:/g, "\\c");

function frame(command, headers, body = "") {
  const raw = command === "CONNECTED";
  const lines = Object.entries(headers).map(([k, v]) =>
    raw ? `${k}:${v}` : `${escape(k)}:${escape(String(v))}`,
  );
  return `${command}\n${lines.join("\n")}\n\n${body}\0`;
}

// Splits one WebSocket message into frames (a bare EOL is a heart-beat, skipped).
function* parse(text) {
  let rest = text;
  for (;;) {
    rest = rest.replace(/^(\r?\n)+/, "");
    const end = rest.indexOf("\n\n");
    if (!rest || end < 0) return;
    const [command, ...hs] = rest.slice(0, end).split("\n");
    const headers = {};
    for (const h of hs) {
      const i = h.indexOf(":");
      const k = unescape(h.slice(0, i));
      if (!(k in headers)) headers[k] = command === "CONNECT" ? h.slice(i + 1) : unescape(h.slice(i + 1));
    }
    const nul = rest.indexOf("\0", end + 2);
    yield { command, headers, body: rest.slice(end + 2, nul) };
    rest = rest.slice(nul + 1);
  }
}

function broker(wss) {
  let messageId = 0;
  const subs = new Set();
  wss.on("connection", (ws) => {
    let beat = null;
    ws.on("close", () => {
      clearInterval(beat);
      for (const s of subs) if (s.ws === ws) subs.delete(s);
    });
    ws.on("message", (data) => {
      let out = "";
      for (const f of parse(data.toString("utf8"))) {
        if (f.command === "CONNECT" || f.command === "STOMP") {
          // heart-beat: the client's cx,cy; we can send every max(cy, ours) ms.
          const [, cy] = (f.headers["heart-beat"] || "0,0").split(",").map(Number);
          if (cy > 0) beat = setInterval(() => ws.send("\n"), Math.max(cy, HEARTBEAT_MS));
          out += frame("CONNECTED", {
            version: "1.2",
            "heart-beat": `${HEARTBEAT_MS},${HEARTBEAT_MS}`,
            server: "synscope-peer/1.0",
          });
        } else if (f.command === "SUBSCRIBE") {
          subs.add({ ws, id: f.headers.id, destination: f.headers.destination });
        } else if (f.command === "UNSUBSCRIBE") {
          for (const s of subs) if (s.ws === ws && s.id === f.headers.id) subs.delete(s);
        } else if (f.command === "SEND") {
          for (const s of subs) {
            if (s.destination !== f.headers.destination) continue;
            const headers = { ...f.headers, subscription: s.id, "message-id": ++messageId };
            delete headers.receipt;
            const m = frame("MESSAGE", headers, f.body);
            if (s.ws === ws) out += m;
            else s.ws.send(m);
          }
        } else if (f.command !== "DISCONNECT") {
          out += frame("ERROR", { message: `unsupported command ${f.command}` });
        }
        if (f.headers.receipt) out += frame("RECEIPT", { "receipt-id": f.headers.receipt });
      }
      if (out) ws.send(out);
    });
  });
}

async function main() {
  const wss = new WebSocketServer({
    host: "127.0.0.1",
    port,
    path: "/stomp",
    handleProtocols: (offered) => [...offered].find((p) => /^v1[012]\.stomp$/.test(p)) || false,
    // Compress every message (ws's default threshold is 1024 bytes).
    perMessageDeflate: deflate ? { threshold: 0 } : false,
  });
  await new Promise((r) => wss.once("listening", r));
  broker(wss);

  const url = `ws://127.0.0.1:${port}/stomp`;
  const received = [];
  const client = new Client({
    brokerURL: url,
    webSocketFactory: () =>
      new WebSocket(url, ["v12.stomp", "v11.stomp", "v10.stomp"], {
        perMessageDeflate: deflate ? { threshold: 0 } : false,
      }),
    heartbeatIncoming: HEARTBEAT_MS,
    heartbeatOutgoing: HEARTBEAT_MS,
    reconnectDelay: 0,
  });
  const connected = new Promise((r) => (client.onConnect = r));
  client.onStompError = (f) => fail(`ERROR ${f.headers.message}`);
  client.activate();
  await connected;
  await new Promise((r) => {
    client.subscribe("/topic/chat", (m) => {
      received.push(m.body);
      r();
    });
    client.publish({ destination: "/topic/chat", body: "hello", headers: { receipt: "r-1" } });
  });
  if (large) {
    await bigFrames(client, received);
    await client.deactivate();
    wss.close();
    console.log(`stomp peer: done (large${deflate ? ", deflate" : ""})`);
    setTimeout(() => process.exit(0), 50);
    return;
  }
  await sleep(pace);
  const receipt = new Promise((r) => client.watchForReceipt("r-2", r));
  client.publish({
    destination: "/topic/chat",
    body: JSON.stringify({ from: "alice", text: "héllo, wörld" }),
    headers: { "content-type": "application/json", receipt: "r-2" },
  });
  await receipt;
  await sleep(pace);
  // STOMP 1.2 escaping: ':' -> \c, '\n' -> \n, '\' -> \\.
  client.publish({
    destination: "/topic/chat",
    body: "escaped",
    headers: { note: "a:b\nc\\d" },
    skipContentLengthHeader: true,
  });
  // Let a few heart-beats go both ways.
  await sleep(HEARTBEAT_MS * 3 + 50);
  await client.deactivate();
  if (received.length !== 3) fail(`received ${received.length} messages`);
  wss.close();
  console.log("stomp peer: done");
  setTimeout(() => process.exit(0), 50);
}

// The --large scenario: each SEND comes back as a MESSAGE with the same body.
async function bigFrames(client, received) {
  const manifest = [];
  const sends = [
    { n: 20000, receipt: "big-1" },
    { n: 70000 },
    { n: 100000 },
    { n: 65536, noLength: true },
  ];
  for (const [i, s] of sends.entries()) {
    await sleep(pace);
    const body = text(s.n, `stomp${i}`);
    const before = received.length;
    const headers = s.receipt ? { receipt: s.receipt } : {};
    client.publish({
      destination: "/topic/chat",
      body,
      headers,
      skipContentLengthHeader: Boolean(s.noLength),
    });
    manifest.push({ body_len: s.n, sha1: sha1(body), content_length: !s.noLength });
    for (let t = 0; received.length === before && t < 500; t++) await sleep(10);
    const got = received[received.length - 1];
    if (received.length === before || sha1(got) !== sha1(body)) fail(`big frame ${i} not echoed`);
  }
  if (manifestPath) {
    fs.writeFileSync(manifestPath, manifest.map((m) => JSON.stringify(m)).join("\n") + "\n");
  }
}

main().catch((e) => fail(e.stack || String(e)));
