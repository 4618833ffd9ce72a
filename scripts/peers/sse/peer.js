// Server-Sent Events from an independent server and client, in one process, for
// scripts/record-captures.sh.
//
//   node peer.js --port P [--pace-ms N] [--manifest FILE]
//
// Server: better-sse (a spec-compliant SSE implementation for Node's http server), one
// event stream on GET /events (`text/event-stream`, chunked by Node). Client: eventsource (the
// WHATWG EventSource for Node, which parses the stream with eventsource-parser). The server
// sends five events of 12,000 bytes of data (`event: chunk12k`, ids 1..5), then three of
// 64 KiB and more: 70,000 bytes on one data line, 100,000 bytes in four data lines (three LFs
// in the data), and 65,536 bytes of multi-byte UTF-8 (`é`, 2 bytes each); then one small
// `event: done`. The client checks every event it receives against what was sent (name, id,
// SHA-1 of the data) and closes. --manifest writes what was sent, one JSON object per event
// (`event`, `id`, `data_len` in UTF-8 bytes, `sha1` of the data), for the tests.
// Everything stays on 127.0.0.1.
"use strict";

const http = require("http");
const crypto = require("crypto");
const fs = require("fs");
const { createSession } = require("better-sse");
const { EventSource } = require("eventsource");

const args = process.argv.slice(2);
const value = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const port = Number(value("--port", "0"));
const pace = Number(value("--pace-ms", "20"));
const manifestPath = value("--manifest", "");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fail = (msg) => {
  console.error(`sse peer: ${msg}`);
  process.exit(1);
};
setTimeout(() => fail("timed out"), 20000).unref();

const sha1 = (s) => crypto.createHash("sha1").update(s, "utf8").digest("hex");

// Deterministic text of `n` ASCII bytes: a counter pattern, so that no two events are alike.
function text(n, seed) {
  let s = "";
  let i = 0;
  while (s.length < n) {
    s += `${seed}:${i++};`;
  }
  return s.slice(0, n);
}

const EVENTS = [];
for (let i = 1; i <= 5; i++) {
  EVENTS.push({ event: "chunk12k", id: String(i), data: text(12000, `s${i}`) });
}
EVENTS.push({ event: "big", id: "6", data: text(70000, "big") });
EVENTS.push({
  event: "big",
  id: "7",
  data: [25000, 25000, 25000, 24997].map((n, i) => text(n, `line${i}`)).join("\n"),
});
EVENTS.push({ event: "big", id: "8", data: "é".repeat(32768) });
EVENTS.push({ event: "done", id: "9", data: "bye" });

async function main() {
  const server = http.createServer(async (req, res) => {
    if (!req.url.startsWith("/events")) {
      res.writeHead(404).end();
      return;
    }
    // The data as it is (no JSON encoding); no keep-alive comments, so the capture holds
    // only the scenario's events.
    const session = await createSession(req, res, {
      serializer: (d) => d,
      keepAlive: null,
      retry: 3000,
    });
    for (const e of EVENTS) {
      await sleep(pace);
      // One `data:` field per line (WHATWG HTML §9.2.6: the client joins them with LF).
      await session.batch((buffer) => {
        buffer.event(e.event).id(e.id);
        for (const line of e.data.split("\n")) buffer.data(line);
        buffer.dispatch();
      });
    }
  });
  await new Promise((r) => server.listen(port, "127.0.0.1", r));

  const got = [];
  await new Promise((resolve, reject) => {
    const es = new EventSource(`http://127.0.0.1:${port}/events`);
    const on = (ev) => {
      got.push({ event: ev.type, id: ev.lastEventId, data: ev.data });
      if (ev.type === "done") {
        es.close();
        resolve();
      }
    };
    for (const name of ["chunk12k", "big", "done"]) es.addEventListener(name, on);
    es.onerror = (e) => reject(new Error(`eventsource error: ${e.message || e.type}`));
  });
  if (got.length !== EVENTS.length) fail(`received ${got.length} events of ${EVENTS.length}`);
  EVENTS.forEach((e, i) => {
    const g = got[i];
    if (g.event !== e.event || g.id !== e.id || sha1(g.data) !== sha1(e.data)) {
      fail(`event ${i + 1} differs: ${g.event} ${g.id} ${g.data.length} chars`);
    }
  });
  if (manifestPath) {
    const lines = EVENTS.map((e) =>
      JSON.stringify({
        event: e.event,
        id: e.id,
        data_len: Buffer.byteLength(e.data, "utf8"),
        sha1: sha1(e.data),
      }),
    );
    fs.writeFileSync(manifestPath, lines.join("\n") + "\n");
  }
  await sleep(50);
  server.closeAllConnections();
  server.close();
  console.log(`sse peer: done (${got.length} events)`);
  setTimeout(() => process.exit(0), 50);
}

main().catch((e) => fail(e.stack || String(e)));
