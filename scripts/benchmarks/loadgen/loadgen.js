#!/usr/bin/env node
// Load generator for scripts/bench (see docs/benchmarks.md). One process, N WebSocket clients.
//
// Usage: node loadgen.js '<config JSON>'   (written by scripts/benchmarks/run.py)
//
// Talks to the orchestrator over stdio:
//   stdout: one JSON object per line: {"mark": "<name>", "t": <epoch ms>} at phase boundaries,
//           then {"result": {...}} once at the end. Nothing else is written to stdout.
//   stdin:  after {"mark": "connected"} and before each measured phase ({"mark": "ready"}) it
//           waits for a line "go" (the orchestrator reads the server's RSS, or waits for the
//           machine to be idle, in between). If stdin closes, the process exits.
//   stderr: human-readable progress.
//
// Every phase is bounded in count and in time; a global deadline ends the process with whatever
// was measured so far (exit code 2).
//
// The recovery storm (cfg.storm, "ours" only): every client is cut at once, events are published while
// they are away, then every client reconnects (the kernel picks the process, with --workers) and resumes
// with `since`; the phase reports the time until all have recovered and checks that each got exactly the
// events it missed, in order, each once. Anything else sets result.error: the case fails loudly.
'use strict';

const http = require('http');
const crypto = require('crypto');
const { performance, PerformanceObserver } = require('perf_hooks');
const WebSocket = require('ws');

const cfg = JSON.parse(process.argv[2] || '{}');
const HOST = cfg.host || '127.0.0.1';
const PORT = cfg.port;
const N = cfg.n;
const KIND = cfg.kind; // 'raw' | 'socketio' | 'ours'

const now = () => performance.timeOrigin + performance.now(); // epoch ms, sub-ms resolution
const log = (...a) => process.stderr.write(`[loadgen ${cfg.label || KIND}] ${a.join(' ')}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mark = (name, extra) => process.stdout.write(JSON.stringify({ mark: name, t: now(), ...(extra || {}) }) + '\n');

// ---------------------------------------------------------------- the load generator's own GC
// V8's collections stop this process too: a pause here delays every client's receive timestamp, as a
// server pause would. Recorded so that a latency tail can be told apart from the server's.
const gcPauses = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcPauses.push({ at: performance.timeOrigin + e.startTime, ms: e.duration });
}).observe({ entryTypes: ['gc'] });
function gcBetween(t0, t1) {
  const inside = gcPauses.filter((g) => g.at >= t0 && g.at <= t1);
  const ms = inside.map((g) => g.ms);
  return { count: ms.length, totalMs: Math.round(ms.reduce((a, b) => a + b, 0) * 10) / 10,
           maxMs: Math.round(Math.max(0, ...ms) * 10) / 10 };
}

// ---------------------------------------------------------------- JWT (HS256, no dependency)
function jwtSign(claims) {
  const h = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const p = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const s = crypto.createHmac('sha256', cfg.secret).update(`${h}.${p}`).digest('base64url');
  return `${h}.${p}.${s}`;
}
function tokenFor(sub, role, extra) {
  const iat = Math.floor(Date.now() / 1000);
  return jwtSign({ sub, role, iat, exp: iat + 3600, ...(extra || {}) });
}

// ---------------------------------------------------------------- statistics
// One stats object per measured run; events carry its name in data.phase ("burst2", "paced", ...).
const stats = {};
function newStats(name, expected, latCap) {
  const st = {
    name, expected, delivered: 0, outOfOrder: 0, firstRecv: 0, lastRecv: 0,
    lat: new Float64Array(Math.max(1, Math.min(latCap, 4_000_000))), latN: 0, resolve: null,
    lastSeq: new Int32Array(N).fill(-1),
    seqMax: [], // slowest delivery per event (by seq): shows whether a tail is a few stalled events or all of them
  };
  stats[name] = st;
  return st;
}
function pct(sorted, n, p) {
  if (n === 0) return null;
  const idx = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1));
  return sorted[idx];
}
function summary(arr, n) {
  if (n === 0) return { n: 0, p50: null, p90: null, p99: null, max: null, mean: null };
  const a = arr.subarray(0, n);
  a.sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += a[i];
  const r3 = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
  return { n, p50: r3(pct(a, n, 50)), p90: r3(pct(a, n, 90)), p99: r3(pct(a, n, 99)), max: r3(a[n - 1]), mean: r3(sum / n) };
}
let otherMessages = 0;
let unexpectedMessages = 0;
const wireBytes = {}; // phase -> size of one received frame's text
const cpuAt = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const cpuSplit = () => { const u = process.cpuUsage(); return { userSec: u.user / 1e6, systemSec: u.system / 1e6 }; };

// ---------------------------------------------------------------- clients
const clients = new Array(N);
const slowCount = Math.round(N * (cfg.slowFraction || 0));
const slowSet = new Set();
for (let k = 0; k < slowCount; k++) slowSet.add(Math.floor(((k + 0.5) * N) / slowCount));
const restSubs = [];
const restRoom = cfg.rest ? cfg.rest.room : null;
for (let i = 0; i < N; i++) {
  const slow = slowSet.has(i);
  const c = {
    i, ws: null, ready: false, failed: false, closed: false, slow, rooms: (cfg.rooms || []).slice(), subscribed: 0,
    token: null, tStart: 0, tConnected: 0, tReady: 0, lastHeard: 0, lastPing: 0, timer: null, done: null,
    pos: {}, // room -> {epoch, offset}: the last position this client saw ("ours"), what it resumes from
    since: null, storm: null, // the recovery storm: what it resumes from, and what it received since
  };
  if (cfg.presence) { // the presence case: one of cfg.presence.rooms rooms, with presence: true
    c.presenceRoom = `${cfg.presence.prefix}${i % cfg.presence.rooms}`;
    c.rooms.push(c.presenceRoom);
  }
  if (restRoom && !slow && restSubs.length < cfg.rest.subscribers) {
    c.rooms.push(restRoom);
    restSubs.push(c);
  }
  clients[i] = c;
}
let closedAfterReady = 0;
// The presence case: PRESENCE frames received (and the user ids they named), and the churn's leave/rejoin
// cycles (UNSUBSCRIBE, then SUBSCRIBE with presence: true) sent while a burst ran.
const presence = { frames: 0, joinsSeen: 0, leavesSeen: 0, unsubscribed: 0, churnCycles: 0 };
let churnNext = 0;
// Clients leave their presence room at cfg.presence.churnPerSec (one client after another) until stop() is
// called, and each rejoins (SUBSCRIBE with presence: true) cfg.presence.rejoinMs later: longer than the
// server's PRESENCE_INTERVAL, so a leave and its rejoin are two diffs, not one that cancels out.
// stop() returns the cycles started and a promise of the last rejoin.
function startChurn() {
  if (!cfg.presence || !(cfg.presence.churnPerSec > 0)) return () => ({ cycles: 0, rejoined: Promise.resolve() });
  const t0 = now();
  let sent = 0;
  const pending = [];
  const tick = () => {
    const due = Math.floor(((now() - t0) / 1000) * cfg.presence.churnPerSec);
    for (let tries = 0; sent < due && tries < N; tries++) {
      const c = clients[churnNext++ % N];
      if (!c.ready || c.closed || c.slow || !c.presenceRoom || c.away) continue;
      c.away = true;
      const k = sent++;
      c.ws.send(JSON.stringify({ type: 'UNSUBSCRIBE', data: { room: c.presenceRoom }, id: `u${k}` }));
      pending.push(sleep(cfg.presence.rejoinMs).then(() => {
        c.away = false;
        if (c.closed) return;
        c.ws.send(JSON.stringify({ type: 'SUBSCRIBE', data: { room: c.presenceRoom, presence: true }, id: `r${k}` }));
      }));
    }
  };
  const timer = setInterval(tick, 20);
  return () => {
    clearInterval(timer);
    presence.churnCycles += sent;
    return { cycles: sent, rejoined: Promise.all(pending) };
  };
}
const failReasons = {};

function record(c, d) {
  if (!d || typeof d !== 'object') { unexpectedMessages++; return; }
  const st = stats[d.phase];
  if (!st) { otherMessages++; return; }
  const t = now();
  st.delivered++;
  if (st.firstRecv === 0) st.firstRecv = t;
  st.lastRecv = t;
  if (st.latN < st.lat.length && typeof d.ts === 'number') {
    const ms = t - d.ts;
    st.lat[st.latN++] = ms;
    if (d.seq >= 0 && d.seq < 100000 && !(st.seqMax[d.seq] >= ms)) st.seqMax[d.seq] = ms;
  }
  if (d.seq <= st.lastSeq[c.i]) st.outOfOrder++; else st.lastSeq[c.i] = d.seq;
  if (st.resolve && st.delivered >= st.expected) { const r = st.resolve; st.resolve = null; r(); }
}

// Protocol adapters: open URL, handshake, and turning a text frame into the event's `data`.
const adapters = {
  raw: {
    url: (c) => `ws://${HOST}:${PORT}${cfg.wsPath || '/ws'}?token=${c.token}`,
    onText(c, text) {
      const m = JSON.parse(text);
      if (!c.ready) { if (m.type === 'CONNECTED') ready(c); return null; }
      return m.data;
    },
  },
  socketio: {
    url: () => `ws://${HOST}:${PORT}/socket.io/?EIO=4&transport=websocket`,
    onText(c, text) {
      const t = text.charCodeAt(0);
      if (t === 52 /* '4' engine.io message */) {
        const s = text.charCodeAt(1);
        if (s === 50 /* '2' EVENT */) {
          const arr = JSON.parse(text.slice(2));
          const body = arr[1];
          return body && body.data;
        }
        if (s === 48 /* '0' CONNECT ok */) { ready(c); return null; }
        if (s === 52 /* '4' CONNECT_ERROR */) { fail(c, 'connect_error ' + text.slice(2, 120)); return null; }
        if (s === 49 /* '1' DISCONNECT */) { c.ws.terminate(); return null; }
        return null;
      }
      if (t === 48 /* '0' engine.io open */) { c.ws.send('40' + JSON.stringify({ token: c.token })); return null; }
      if (t === 50 /* '2' ping */) { c.ws.send('3'); return null; }
      return null;
    },
  },
  ours: {
    url: (c) => `ws://${HOST}:${PORT}${cfg.wsPath || '/ws'}?token=${c.token}`,
    onText(c, text) {
      const m = JSON.parse(text);
      if (m.room !== undefined && typeof m.offset === 'number') {
        c.pos[m.room] = { epoch: m.epoch, offset: m.offset };
        if (c.storm && m.room === c.storm.room) { stormReceived(c, m); return null; } // counted by the storm only
      }
      if (m.room !== undefined && m.data && m.data.phase !== undefined) return m.data;
      switch (m.type) {
        case 'CONNECTED':
          c.tConnected = now();
          c.heartbeat = (m.data && m.data.heartbeat) || 25;
          if (c.rooms.length === 0) { ready(c); return null; }
          c.rooms.forEach((room, k) => {
            const data = { room };
            if (c.since && c.since[room]) data.since = c.since[room];
            if (room === c.presenceRoom) data.presence = true;
            c.ws.send(JSON.stringify({ type: 'SUBSCRIBE', data, id: `s${k}` }));
          });
          return null;
        case 'SUBSCRIBED':
          if (m.data && m.data.epoch !== undefined && !c.pos[m.data.room]) {
            c.pos[m.data.room] = { epoch: m.data.epoch, offset: m.data.offset };
          }
          if (c.storm && m.data && m.data.room === c.storm.room) c.storm.recovered = m.data.recovered;
          if (!c.ready && ++c.subscribed >= c.rooms.length) ready(c);
          return null;
        case 'ERROR':
          if (!c.ready) fail(c, 'ERROR ' + JSON.stringify(m.data).slice(0, 160));
          else unexpectedMessages++;
          return null;
        case 'PING':
          c.ws.send('{"type":"PONG","data":{}}');
          return null;
        case 'PRESENCE': {
          const d = m.data || m;
          presence.frames++;
          presence.joinsSeen += (d.joins || []).length;
          presence.leavesSeen += (d.leaves || []).length;
          return null;
        }
        case 'UNSUBSCRIBED':
          presence.unsubscribed++;
          return null;
        default:
          if (c.ready) otherMessages++;
          return null;
      }
    },
  },
};
const adapter = adapters[KIND];
if (!adapter) { log(`unknown kind ${KIND}`); process.exit(3); }

let inflight = 0;
const handshakeMs = new Float64Array(N);
let handshakeN = 0;

function settle(c) {
  if (c.timer) { clearTimeout(c.timer); c.timer = null; }
  if (c.done) { const d = c.done; c.done = null; inflight--; d(); }
}
function ready(c) {
  if (c.ready || c.failed) return;
  c.ready = true;
  c.tReady = now();
  if (!c.tConnected) c.tConnected = c.tReady;
  if (!c.storm) handshakeMs[handshakeN++] = c.tReady - c.tStart;
  if (c.slow) c.ws._socket.pause(); // never reads again: the "slow reader" variant
  settle(c);
}
function fail(c, why) {
  if (c.ready || c.failed) return;
  c.failed = true;
  const key = String(why).slice(0, 80);
  failReasons[key] = (failReasons[key] || 0) + 1;
  try { c.ws && c.ws.terminate(); } catch (e) { /* ignore */ }
  settle(c);
}

function open(c, onDone) {
  c.done = onDone;
  c.token = tokenFor(`bench-${c.i}`, cfg.clientRole || 'EMPLOYEE', cfg.clientClaims);
  c.tStart = now();
  const ws = new WebSocket(adapter.url(c), {
    perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: cfg.connectTimeoutMs,
  });
  c.ws = ws;
  c.timer = setTimeout(() => fail(c, 'timeout'), cfg.connectTimeoutMs);
  // A socket cut by the storm may still report its end after the client has opened the next one: only the
  // client's current socket speaks for it.
  ws.on('message', (data, isBinary) => {
    if (c.ws !== ws) return;
    c.lastHeard = now();
    let d;
    try {
      d = adapter.onText(c, isBinary ? data.toString('utf8') : data.toString());
    } catch (e) {
      unexpectedMessages++;
      return;
    }
    if (d !== null && d !== undefined) {
      if (wireBytes[d.phase] === undefined) wireBytes[d.phase] = data.length;
      record(c, d);
    }
  });
  ws.on('unexpected-response', (req, res) => { if (c.ws === ws) fail(c, `HTTP ${res.statusCode}`); });
  ws.on('error', (e) => { if (c.ws === ws) fail(c, e.code || e.message); });
  ws.on('close', (code) => {
    if (c.ws !== ws) return;
    if (c.ready) { if (!c.closed) { c.closed = true; closedAfterReady++; if (c.storm) c.storm.closedCode = code; } }
    else fail(c, `close ${code}`);
  });
}

async function connectAll() {
  const conc = cfg.connectConcurrency || 200;
  const deadline = now() + cfg.connectDeadlineMs;
  let next = 0;
  let lastLog = now();
  let finish = null;
  const done = new Promise((resolve) => { finish = resolve; });
  const pump = () => {
    const late = now() >= deadline;
    while (!late && inflight < conc && next < N) {
      inflight++;
      open(clients[next++], pump);
    }
    if (inflight === 0 && (next >= N || late)) finish();
  };
  // Progress, and the phase deadline: clients still in their handshake then count as failed.
  const guard = setInterval(() => {
    if (now() - lastLog > 2000) {
      lastLog = now();
      log(`connecting: ${handshakeN} ready, ${inflight} in flight, ${next}/${N} started`);
    }
    if (now() >= deadline) {
      for (let i = 0; i < next; i++) if (!clients[i].ready) fail(clients[i], 'connect phase deadline');
      pump();
    }
  }, 250);
  pump();
  await done;
  clearInterval(guard);
  for (const c of clients) {
    if (!c.ws && !c.failed) {
      c.failed = true;
      failReasons['not started (deadline)'] = (failReasons['not started (deadline)'] || 0) + 1;
    }
  }
}

// ---------------------------------------------------------------- heartbeats ("ours" protocol only)
// As our browser client (web/static/realtime.js) does: a socket that has heard nothing for a heartbeat
// sends a JSON PING (the server's WebSocket pings are answered by the ws library itself, as browsers
// do). A client that receives events stays quiet.
let hbTimer = null;
function startHeartbeats() {
  if (KIND !== 'ours') return;
  hbTimer = setInterval(() => {
    const t = now();
    for (const c of clients) {
      if (!c.ready || c.slow || c.closed) continue;
      const period = (c.heartbeat || 25) * 1000;
      if (t - c.lastHeard >= period && t - c.lastPing >= period) {
        c.lastPing = t;
        try { c.ws.send('{"type":"PING","data":{}}'); } catch (e) { /* ignore */ }
      }
    }
  }, 1000);
}

// ---------------------------------------------------------------- publishing
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const adminToken = tokenFor('bench-admin', 'ADMIN', cfg.adminClaims);
let padLen = null;
function makeEvent(phase, seq, room, type) {
  // extraData: fields the server's schema wants for this event type (e.g. leadId)
  const data = { ...(cfg.extraData || {}), phase, seq, ts: Math.round(now() * 1000) / 1000, pad: '' };
  const ev = { type, room, data };
  if (padLen === null) padLen = Math.max(0, (cfg.eventBytes || 200) - JSON.stringify(ev).length);
  data.pad = 'x'.repeat(padLen);
  return JSON.stringify(ev);
}
function post(body) {
  return new Promise((resolve) => {
    const t0 = now();
    const headers = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
    if (KIND === 'ours') headers.Authorization = `Bearer ${adminToken}`;
    const req = http.request({ host: HOST, port: PORT, path: cfg.publishPath, method: 'POST', agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (b) => chunks.push(b));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString(), ms: now() - t0 }));
    });
    req.on('socket', (s) => s.setNoDelay(true));
    req.setTimeout(cfg.requestTimeoutMs || 30000, () => req.destroy(new Error('request timeout')));
    req.on('error', (e) => resolve({ status: 0, body: e.message, ms: now() - t0 }));
    req.end(body);
  });
}
function tallyResponses(list) {
  const byStatus = {};
  let firstError = null;
  for (const r of list) {
    byStatus[r.status] = (byStatus[r.status] || 0) + 1;
    if ((r.status < 200 || r.status >= 300) && !firstError) firstError = `${r.status} ${String(r.body).trim().slice(0, 200)}`;
  }
  return { byStatus, firstError };
}
function waitDelivered(st, timeoutMs) {
  if (st.delivered >= st.expected) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => { st.resolve = null; resolve(false); }, timeoutMs);
    st.resolve = () => { clearTimeout(t); resolve(true); };
  });
}
const readyClients = () => clients.filter((c) => c.ready && !c.closed);
const activeReaders = () => clients.filter((c) => c.ready && !c.closed && !c.slow).length;

async function phaseBurst(name, E) {
  const readers = activeReaders();
  const st = newStats(name, E * readers, E * readers);
  const cpu0 = cpuAt();
  const u0 = cpuSplit();
  mark(`${name}_start`);
  const t0 = now();
  const stopChurn = name === 'warmup' ? () => ({ cycles: 0, rejoined: Promise.resolve() }) : startChurn();
  const responses = [];
  let seq = 0;
  const conc = cfg.burst.concurrency || 4;
  const worker = async () => {
    while (seq < E) {
      const s = seq++;
      responses.push(await post(makeEvent(name, s, cfg.burstRoom, cfg.burstType)));
    }
  };
  await Promise.all(Array.from({ length: Math.min(conc, E) }, worker));
  const tPosted = now();
  const accepted = responses.some((r) => r.status >= 200 && r.status < 300);
  const complete = accepted ? await waitDelivered(st, cfg.burst.timeoutMs) : false;
  const churn = stopChurn();
  const cpu1 = cpuAt();
  const u1 = cpuSplit();
  mark(`${name}_end`);
  const elapsed = (st.lastRecv || now()) - t0;
  const churnCycles = churn.cycles;
  await churn.rejoined; // every client back in its presence room before the next phase
  return {
    name, events: E, readers, expected: st.expected, delivered: st.delivered, complete, churnCycles,
    outOfOrder: st.outOfOrder,
    seconds: elapsed / 1000,
    deliveriesPerSec: st.delivered > 0 ? st.delivered / (elapsed / 1000) : 0,
    publishSeconds: (tPosted - t0) / 1000,
    responses: tallyResponses(responses),
    latencyMs: summary(st.lat, st.latN),
    loadgenCpuSec: cpu1 - cpu0,
    loadgenUserSec: u1.userSec - u0.userSec, loadgenSystemSec: u1.systemSec - u0.systemSec,
  };
}

async function phasePaced() {
  const rate = cfg.paced.rate;
  const E = Math.round(rate * cfg.paced.seconds);
  const readers = activeReaders();
  const st = newStats('paced', E * readers, E * readers);
  const cpu0 = cpuAt();
  mark('paced_start');
  const t0 = now();
  const pending = [];
  let inFlight = 0;
  let maxInFlight = 0;
  for (let s = 0; s < E; s++) {
    const due = t0 + (s * 1000) / rate;
    const wait = due - now();
    if (wait > 0) await sleep(wait);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    pending.push(post(makeEvent('paced', s, cfg.pacedRoom, cfg.pacedType)).then((r) => { inFlight--; return r; }));
  }
  const responses = await Promise.all(pending);
  const complete = await waitDelivered(st, cfg.paced.drainTimeoutMs);
  const cpu1 = cpuAt();
  mark('paced_end');
  return {
    events: E, rate, readers, expected: st.expected, delivered: st.delivered, complete, maxInFlight,
    outOfOrder: st.outOfOrder, seconds: (now() - t0) / 1000,
    responses: tallyResponses(responses),
    latencyMs: summary(st.lat, st.latN),
    slowestPerEventMs: st.seqMax.map((v) => Math.round((v || 0) * 10) / 10),
    loadgenGc: gcBetween(t0, now()),
    loadgenCpuSec: cpu1 - cpu0,
  };
}

async function phaseRest() {
  const R = cfg.rest.requests;
  const subs = restSubs.filter((c) => c.ready && !c.closed).length;
  const st = newStats('rest', R * subs, R * subs);
  const reqMs = new Float64Array(R);
  let reqN = 0;
  const cpu0 = cpuAt();
  mark('rest_start');
  const t0 = now();
  const deadline = t0 + cfg.rest.timeoutMs;
  const responses = [];
  let seq = 0;
  let deliveredReported = 0;
  const worker = async () => {
    while (seq < R && now() < deadline) {
      const s = seq++;
      const r = await post(makeEvent('rest', s, restRoom, cfg.restType));
      responses.push(r);
      reqMs[reqN++] = r.ms;
      if (r.status >= 200 && r.status < 300) {
        try { deliveredReported += JSON.parse(r.body).delivered || 0; } catch (e) { /* ignore */ }
      }
    }
  };
  await Promise.all(Array.from({ length: cfg.rest.concurrency }, worker));
  const tDone = now();
  const ok = responses.filter((r) => r.status >= 200 && r.status < 300).length;
  st.expected = ok * subs;
  const complete = await waitDelivered(st, cfg.rest.drainTimeoutMs);
  const cpu1 = cpuAt();
  mark('rest_end');
  return {
    requests: responses.length, ok, concurrency: cfg.rest.concurrency, subscribers: subs,
    seconds: (tDone - t0) / 1000, requestsPerSec: ok / ((tDone - t0) / 1000),
    responses: tallyResponses(responses), deliveredReportedByServer: deliveredReported,
    expected: st.expected, delivered: st.delivered, complete, outOfOrder: st.outOfOrder,
    requestMs: summary(reqMs, reqN), deliveryLatencyMs: summary(st.lat, st.latN),
    loadgenCpuSec: cpu1 - cpu0,
  };
}

// ---------------------------------------------------------------- recovery storm ("ours")
let stormWaiter = null;
let stormPending = 0;
function stormReceived(c, m) {
  const s = c.storm;
  s.got.push(m.offset);
  if (s.epoch !== m.epoch) s.otherEpoch++;
  if (s.doneAt === 0 && s.expected !== null && s.got.length >= s.expected) {
    s.doneAt = now();
    if (--stormPending === 0 && stormWaiter) { const w = stormWaiter; stormWaiter = null; w(); }
  }
}

async function phaseStorm() {
  const room = cfg.storm.room;
  const E = cfg.storm.events;
  const group = clients.filter((c) => c.ready && !c.closed && !c.slow && c.rooms.includes(room) && c.pos[room]);
  const cpu0 = cpuAt();
  mark('storm_start');
  // 1. every client cut at once (no close frame: the TCP connection is destroyed, as when a network drops)
  for (const c of group) {
    const since = { epoch: c.pos[room].epoch, offset: c.pos[room].offset };
    c.storm = { room, since, got: [], expected: null, epoch: null, recovered: undefined, doneAt: 0, otherEpoch: 0,
                closedCode: null };
    const ws = c.ws;
    c.ws = null; // its late events are ignored from here
    try { ws.terminate(); } catch (e) { /* ignore */ }
    Object.assign(c, { ready: false, failed: false, closed: false, subscribed: 0, tConnected: 0, done: null,
                       rooms: [room], since: { [room]: since } });
  }
  const tCut = now();
  // 2. events published while they are away (through REST, spread over the processes by the kernel)
  const responses = [];
  let seq = 0;
  const worker = async () => {
    while (seq < E) {
      const s = seq++;
      responses.push(await post(makeEvent('storm', s, room, cfg.burstType)));
    }
  };
  await Promise.all(Array.from({ length: Math.min(cfg.storm.concurrency || 4, E) }, worker));
  const tPublished = now();
  const accepted = responses.filter((r) => r.status >= 200 && r.status < 300).map((r) => JSON.parse(r.body));
  const epochs = new Set(accepted.map((a) => a.epoch));
  const top = Math.max(0, ...accepted.map((a) => a.offset));
  const epoch = accepted.length ? accepted[0].epoch : null;
  for (const c of group) {
    c.storm.epoch = epoch;
    c.storm.expected = c.storm.since.epoch === epoch ? top - c.storm.since.offset : null;
  }
  // 3. every client reconnects (up to connectConcurrency handshakes at once) and resumes with `since`
  stormPending = group.filter((c) => c.storm.expected !== null && c.storm.expected > 0).length;
  const allDone = new Promise((resolve) => { stormWaiter = resolve; if (stormPending === 0) resolve(); });
  const tReconnect = now();
  let next = 0;
  let finishConnects = null;
  const connectsDone = new Promise((resolve) => { finishConnects = resolve; });
  const pump = () => {
    while (inflight < (cfg.connectConcurrency || 200) && next < group.length) {
      inflight++;
      open(group[next++], pump);
    }
    if (inflight === 0 && next >= group.length) finishConnects();
  };
  pump();
  const timedOut = await Promise.race([
    Promise.all([connectsDone, allDone]).then(() => false),
    sleep(cfg.storm.timeoutMs).then(() => true),
  ]);
  stormWaiter = null;
  const tRecovered = now();
  await sleep(cfg.settleMs); // a duplicate or a late extra event would show up here
  const cpu1 = cpuAt();
  mark('storm_end');
  // 4. the check: each client got exactly since+1..top, in order, each once, with recovered: true
  let reconnected = 0, failed = 0, recovered = 0, notRecovered = 0, missing = 0, duplicates = 0, outOfOrder = 0;
  let extra = 0, expectedTotal = 0, deliveredOnce = 0, clientsExact = 0;
  const perClientMs = new Float64Array(group.length);
  let perClientN = 0;
  const examples = [];
  for (const c of group) {
    const s = c.storm;
    if (c.ready) reconnected++; else failed++;
    if (s.recovered === true) recovered++; else notRecovered++;
    const from = s.since.offset;
    const want = s.expected === null ? 0 : s.expected;
    expectedTotal += want;
    const seen = new Map();
    let last = from;
    let order = true;
    for (const o of s.got) {
      seen.set(o, (seen.get(o) || 0) + 1);
      if (o <= last) order = false;
      last = Math.max(last, o);
    }
    let clientMissing = 0, clientDup = 0, clientExtra = 0;
    for (let o = from + 1; o <= from + want; o++) {
      const k = seen.get(o) || 0;
      if (k === 0) clientMissing++; else { deliveredOnce++; if (k > 1) clientDup += k - 1; }
    }
    for (const [o, k] of seen) if (o <= from || o > from + want) { clientExtra += k; if (o <= from) clientDup += k; }
    missing += clientMissing;
    duplicates += clientDup;
    extra += clientExtra;
    if (!order) outOfOrder++;
    const exact = s.expected !== null && s.recovered === true && clientMissing === 0 && clientDup === 0
      && clientExtra === 0 && order && s.otherEpoch === 0;
    if (exact) clientsExact++;
    else if (examples.length < 5) {
      examples.push({ client: c.i, since: s.since, recovered: s.recovered, expected: s.expected,
                      got: s.got.slice(0, 20), ready: c.ready, closedCode: s.closedCode });
    }
    if (s.doneAt) perClientMs[perClientN++] = s.doneAt - tReconnect;
    c.since = null;
  }
  const doneTimes = group.map((c) => c.storm.doneAt).filter((t) => t > 0);
  const lastDone = doneTimes.length ? Math.max(...doneTimes) : 0;
  const ok = !timedOut && accepted.length === E && epochs.size === 1 && failed === 0 && clientsExact === group.length;
  for (const c of group) c.storm = null;
  const out = {
    clients: group.length, events: E, accepted: accepted.length, epoch, top, epochs: epochs.size,
    publishSeconds: (tPublished - tCut) / 1000, responses: tallyResponses(responses),
    reconnected, failed, recovered, notRecovered, expected: expectedTotal, deliveredOnce, missing, duplicates,
    extra, clientsOutOfOrder: outOfOrder, clientsExact, timedOut,
    secondsToAllRecovered: lastDone ? (lastDone - tReconnect) / 1000 : null,
    secondsToAllReconnected: (tRecovered - tReconnect) / 1000,
    recoveryMs: summary(perClientMs, perClientN), loadgenCpuSec: cpu1 - cpu0, complete: ok, examples,
  };
  if (!ok) {
    out.failure = `recovery storm FAILED: ${clientsExact}/${group.length} clients got exactly the events they missed `
      + `(reconnect failures ${failed}, recovered:false ${notRecovered}, missing ${missing}, duplicates ${duplicates}, `
      + `extra ${extra}, out of order ${outOfOrder}, publishes accepted ${accepted.length}/${E}, `
      + `epochs ${epochs.size}${timedOut ? ', timed out' : ''})`;
  }
  return out;
}

// ---------------------------------------------------------------- main
const result = { kind: KIND, n: N, slowReaders: slowCount, phases: {} };
let finished = false;
function finish(code) {
  if (finished) return;
  finished = true;
  if (hbTimer) clearInterval(hbTimer);
  result.otherMessages = otherMessages;
  result.unexpectedMessages = unexpectedMessages;
  result.closedAfterReady = closedAfterReady;
  result.wireBytes = wireBytes;
  if (cfg.presence) {
    result.presence = { ...presence, rooms: cfg.presence.rooms, churnPerSec: cfg.presence.churnPerSec,
                        joins: clients.filter((c) => c.ready && c.presenceRoom).length + presence.churnCycles };
  }
  result.loadgen = { cpuSec: cpuAt(), ...cpuSplit(), rssMiB: Math.round(process.memoryUsage().rss / 1048576), node: process.version };
  process.stdout.write(JSON.stringify({ result }) + '\n', () => {
    for (const c of clients) { try { c.ws && c.ws.terminate(); } catch (e) { /* ignore */ } }
    process.exit(code);
  });
}
setTimeout(() => { log('global deadline reached'); result.error = 'global deadline reached'; finish(2); }, cfg.deadlineMs).unref();
// stdin: "go" lines from the orchestrator; end of stdin means the orchestrator is gone.
let stdinBuf = '';
let goWaiter = null;
process.stdin.on('data', (d) => {
  stdinBuf += d.toString();
  if (goWaiter && stdinBuf.includes('go')) { stdinBuf = ''; const w = goWaiter; goWaiter = null; w(); }
});
process.stdin.on('end', () => { if (!finished) { log('stdin closed, exiting'); process.exit(4); } });
// Before each measured phase the orchestrator may hold us until the machine is idle.
async function gate(phase) {
  mark('ready', { phase });
  await waitGo();
}
function waitGo() {
  return new Promise((resolve) => {
    if (stdinBuf.includes('go')) { stdinBuf = ''; resolve(); return; }
    goWaiter = resolve;
  });
}

(async () => {
  const cpu0 = cpuAt();
  const t0 = now();
  startHeartbeats(); // early: a long connect phase must not look like silence to the server
  await connectAll();
  const t1 = now();
  const ready = readyClients().length;
  result.connect = {
    requested: N, ready, failed: N - ready, failReasons, seconds: (t1 - t0) / 1000,
    connectedSeconds: (clients.reduce((m, c) => (c.ready && c.tConnected > m ? c.tConnected : m), t0) - t0) / 1000,
    connectsPerSec: ready / ((t1 - t0) / 1000), concurrency: cfg.connectConcurrency,
    handshakeMs: summary(handshakeMs, handshakeN), loadgenCpuSec: cpuAt() - cpu0,
  };
  log(`connected ${ready}/${N} in ${((t1 - t0) / 1000).toFixed(2)} s` + (N - ready ? ` failures: ${JSON.stringify(failReasons)}` : ''));
  mark('connected', { ready });
  await waitGo();
  if (ready === 0) { result.error = 'no client connected'; finish(1); return; }
  await sleep(cfg.settleMs);
  if (cfg.warmupEvents > 0) {
    result.phases.warmup = await phaseBurst('warmup', cfg.warmupEvents);
    if (!result.phases.warmup.delivered) {
      const why = result.phases.warmup.responses.firstError;
      result.error = `warm-up: no event was delivered${why ? `; first failed publish: ${why}` : ''}`;
      log(result.error);
      finish(1);
      return;
    }
    await sleep(cfg.settleMs);
  }
  const runs = [];
  for (let k = 1; k <= (cfg.burst.repeat || 1); k++) {
    if (k > 1) await sleep(cfg.settleMs);
    await gate(`burst${k}`);
    const r = await phaseBurst(`burst${k}`, cfg.burst.events);
    runs.push(r);
    log(`burst ${k}: ${r.delivered}/${r.expected} in ${r.seconds.toFixed(2)} s = ${Math.round(r.deliveriesPerSec)}/s`);
  }
  // Headline: the median run by deliveries/s; every run is kept.
  const sorted = runs.slice().sort((a, b) => a.deliveriesPerSec - b.deliveriesPerSec);
  result.phases.burst = { ...sorted[Math.floor((sorted.length - 1) / 2)], runsDeliveriesPerSec: runs.map((r) => Math.round(r.deliveriesPerSec)) };
  result.phases.burstRuns = runs;
  await sleep(cfg.settleMs);
  await gate('paced');
  result.phases.paced = await phasePaced();
  log(`paced: p50 ${result.phases.paced.latencyMs.p50} ms p99 ${result.phases.paced.latencyMs.p99} ms (${result.phases.paced.delivered}/${result.phases.paced.expected})`);
  if (cfg.rest && restSubs.length) {
    await sleep(cfg.settleMs);
    await gate('rest');
    result.phases.rest = await phaseRest();
    log(`rest: ${Math.round(result.phases.rest.requestsPerSec)} req/s, delivery p99 ${result.phases.rest.deliveryLatencyMs.p99} ms`);
  }
  if (cfg.storm && KIND === 'ours') {
    await sleep(cfg.settleMs);
    await gate('storm');
    const st = result.phases.storm = await phaseStorm();
    if (st.failure) {
      log(`!!! ${st.failure}`);
      for (const ex of st.examples) log(`!!! e.g. ${JSON.stringify(ex)}`);
      result.error = st.failure;
      await sleep(200);
      result.connectedAtEnd = readyClients().length;
      finish(1);
      return;
    }
    log(`recovery storm: ${st.clients} clients cut, ${st.events} events published while away, all recovered `
        + `after ${st.secondsToAllRecovered.toFixed(2)} s (p99 ${st.recoveryMs.p99} ms per client); `
        + `${st.deliveredOnce}/${st.expected} missed deliveries, each exactly once`);
  }
  await sleep(200);
  result.connectedAtEnd = readyClients().length;
  finish(0);
})().catch((e) => { log('fatal', e && e.stack); result.error = String(e && e.stack); finish(1); });
