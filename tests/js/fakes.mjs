// Test doubles for realtime.js's own logic: a manual clock and a scripted WebSocket. The server side
// of these tests is the browser suite (tests/browser), which runs against the real server.

export const flush = () => new Promise((resolve) => setImmediate(resolve));

/** setTimeout/clearTimeout/now under the test's control; advance() runs due timers in order. */
export class Clock {
  constructor(start = 1_700_000_000_000) {
    this.t = start;
    this.timers = new Map();
    this.seq = 0;
    this.setTimeout = (fn, ms = 0) => {
      this.seq += 1;
      this.timers.set(this.seq, { at: this.t + ms, fn });
      return this.seq;
    };
    this.clearTimeout = (id) => this.timers.delete(id);
    this.now = () => this.t;
  }

  async advance(ms) {
    const end = this.t + ms;
    await flush();
    for (;;) {
      let next = null;
      for (const [id, timer] of this.timers) {
        if (timer.at <= end && (!next || timer.at < next[1].at)) next = [id, timer];
      }
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
      await flush();
    }
    this.t = end;
    await flush();
  }
}

/** A WebSocket whose server side is the test: open(), receive(frame), drop(code). */
export class FakeWebSocket {
  static instances = [];

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.closedWith = null;
    FakeWebSocket.instances.push(this);
  }

  static reset() {
    FakeWebSocket.instances = [];
  }

  static get last() {
    return FakeWebSocket.instances[FakeWebSocket.instances.length - 1];
  }

  send(text) {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.sent.push(JSON.parse(text));
  }

  close(code, reason) {
    this.readyState = 3;
    this.closedWith = { code, reason };
  }

  open() {
    this.readyState = 1;
    if (this.onopen) this.onopen({});
  }

  receive(frame) {
    if (this.onmessage) this.onmessage({ data: JSON.stringify(frame) });
  }

  connected(data = {}, timestamp = undefined) {
    this.open();
    this.receive({ type: "CONNECTED", timestamp, data: { connectionId: "c1", userId: "42", role: "EMPLOYEE",
      rooms: ["user:42", "role:EMPLOYEE"], heartbeat: 25, ...data } });
  }

  drop(code = 1006, reason = "") {
    this.readyState = 3;
    if (this.onclose) this.onclose({ code, reason });
  }

  sentOfType(type) {
    return this.sent.filter((frame) => frame.type === type);
  }
}

/** A JWT-shaped token (unsigned; the client never verifies, it only reads exp, sub, role). */
export function fakeToken(claims) {
  const part = (obj) => Buffer.from(JSON.stringify(obj)).toString("base64url");
  return `${part({ alg: "HS256", typ: "JWT" })}.${part({ sub: "42", role: "EMPLOYEE", ...claims })}.sig`;
}

/** A fetch for /healthz and /sse: `sse.push(text)` feeds the open stream. */
export function fakeFetch({ healthy = true, sseStatus = 200 } = {}) {
  const calls = [];
  const streams = [];
  const fetch = async (url, init = {}) => {
    calls.push({ url, init });
    if (url.endsWith("/healthz")) {
      if (!healthy) throw new TypeError("fetch failed");
      return { ok: true, status: 200 };
    }
    if (sseStatus !== 200) {
      return { ok: false, status: sseStatus, json: async () => ({ error: { code: "X", message: `status ${sseStatus}` } }) };
    }
    let controller;
    const body = new ReadableStream({ start(c) { controller = c; } });
    const stream = {
      push: (text) => controller.enqueue(new TextEncoder().encode(text)),
      end: () => controller.close(),
      event: (type, frame) => stream.push(`event: ${type}\ndata: ${JSON.stringify(frame)}\n\n`),
    };
    streams.push(stream);
    if (init.signal) init.signal.addEventListener("abort", () => { try { controller.error(new Error("aborted")); } catch { /* closed */ } });
    return { ok: true, status: 200, body };
  };
  return { fetch, calls, streams };
}
