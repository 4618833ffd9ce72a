// An HTTP news server and its client in one process, written with Node's own `http` module
// (not the demo's hyper/axum), for scripts/record-captures.sh.
//
//   node longpoll.js --port P --mode fixed|random|slow
//
// --mode fixed: long polling against a server-side tick. The server holds every
//   `GET /updates?since=N` for exactly HOLD_MS (1000 ms) and answers 200 with the news of that
//   tick; the client asks again as soon as an answer has arrived (well within a
//   millisecond). 6 requests on one kept-alive connection.
// --mode random: long polling with news at random times. Each request is held until the next
//   news item, HOLD_MIN_MS to HOLD_MAX_MS (50 to 1500 ms) later, drawn from a seeded
//   generator (the same holds on every run); the client asks again at once. 8 requests.
// --mode slow: not long polling. A slow server takes SLOW_MS (500 ms) to answer every
//   `GET /report` (with data); the client waits WAIT_MS (1000 ms) after each answer before it
//   asks again. 5 requests.
//
// Everything stays on 127.0.0.1; the process exits 0 when the client is done, 1 on any error
// or after 30 s.
"use strict";

const http = require("http");

const args = process.argv.slice(2);
const value = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const port = Number(value("--port", "0"));
const mode = value("--mode", "fixed");

const HOLD_MS = 1000;
const HOLD_MIN_MS = 50;
const HOLD_MAX_MS = 1500;
const SLOW_MS = 500;
const WAIT_MS = 1000;
const REQUESTS = { fixed: 6, random: 8, slow: 5 }[mode];
if (REQUESTS === undefined) {
  console.error(`longpoll peer: unknown mode '${mode}' (fixed, random, slow)`);
  process.exit(2);
}

const fail = (msg) => {
  console.error(`longpoll peer: ${msg}`);
  process.exit(1);
};
setTimeout(() => fail("timed out"), 30000).unref();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// mulberry32: a small seeded generator, so that the random holds are the same on every run.
function generator(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = generator(9);

let published = 0;
function answer(res, since) {
  published += 1;
  const body = JSON.stringify({
    next: published,
    news: [{ id: published, text: `news #${published} (after ${since})` }],
  });
  res.writeHead(200, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  const since = Number(url.searchParams.get("since") || "0");
  if (mode === "slow" && url.pathname === "/report") {
    setTimeout(() => answer(res, since), SLOW_MS);
  } else if (mode !== "slow" && url.pathname === "/updates") {
    const hold =
      mode === "fixed" ? HOLD_MS : HOLD_MIN_MS + Math.round(random() * (HOLD_MAX_MS - HOLD_MIN_MS));
    setTimeout(() => answer(res, since), hold);
  } else {
    res.writeHead(404, { "content-length": 0 });
    res.end();
  }
});
server.keepAliveTimeout = 10000;

function get(agent, path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port: server.address().port, path, agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        if (res.statusCode !== 200) {
          reject(new Error(`${path}: status ${res.statusCode}`));
        } else {
          resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
        }
      });
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

async function client() {
  // One kept-alive connection for every request.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let since = 0;
  for (let i = 0; i < REQUESTS; i++) {
    if (mode === "slow" && i > 0) {
      await sleep(WAIT_MS);
    }
    const path = mode === "slow" ? `/report?since=${since}` : `/updates?since=${since}`;
    const got = await get(agent, path);
    since = got.next;
  }
  agent.destroy();
}

server.listen(port, "127.0.0.1", async () => {
  try {
    await client();
  } catch (e) {
    fail(e.message);
  }
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
