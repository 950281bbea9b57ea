// realtime.js: the browser client of realtime-server. Dependency-free ES module; served at
// /static/realtime.js and importable from a bundler. Types: realtime.d.ts beside this file.
//
// WebSocket first; when /ws fails before CONNECTED while the server answers /healthz, the same
// attempt goes to Server-Sent Events (fetch + a stream reader, so the token travels in a header and
// every event type arrives). Every room's last (epoch, offset) is kept, sent as `since` after a
// reconnect, and duplicates are dropped; a room that could not be recovered is reported
// (`recovered: false`) so the app reloads it over REST.

const HOME_ROOM = /^(user|role):/;
const NOT_QUEUED = new Set(["SUBSCRIBE", "UNSUBSCRIBE", "PING", "AUTH"]);
const NOTIFICATION_ID = /^[1-9][0-9]{0,17}$/;
const DEVICE_KEY = "realtime-server.device";
const ACK_DELAY = 250; // ms: ACKs of one burst of notifications leave as one frame
const ACK_MAX_IDS = 100; // the server's ACK_MAX_IDS default

/** This browser's device id: kept in localStorage (one per browser profile), else made for this page. */
export function deviceId(storage = globalThis.localStorage, random = Math.random) {
  try {
    const kept = storage && storage.getItem(DEVICE_KEY);
    if (kept && /^[A-Za-z0-9_-]{1,64}$/.test(kept)) return kept;
  } catch {
    /* storage refused (private mode, a sandboxed frame): a device id for this page only */
  }
  const made = globalThis.crypto && typeof globalThis.crypto.randomUUID === "function" && random === Math.random
    ? globalThis.crypto.randomUUID()
    : Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join("");
  try {
    if (storage) storage.setItem(DEVICE_KEY, made);
  } catch {
    /* as above */
  }
  return made;
}

/** Delay before reconnect attempt `attempt` (0-based): exponential, capped, minus up to `jitter` of it. */
export function backoffDelay(attempt, { initial = 500, max = 30000, factor = 2, jitter = 0.5 } = {},
                             random = Math.random) {
  const base = Math.min(max, initial * Math.pow(factor, Math.min(attempt, 64)));
  return Math.max(0, Math.round(base * (1 - jitter * random())));
}

/** When to refresh a token expiring at `expMs` (ms since epoch): `margin` before, or halfway if sooner. */
export function refreshDelay(expMs, nowMs, margin = 60000) {
  const remaining = expMs - nowMs;
  if (remaining <= 0) return 0;
  return Math.max(0, remaining - Math.min(margin, remaining / 2));
}

/** The claims of a JWT, unverified (only to learn `exp` and the home rooms early); null if not a JWT. */
export function decodeToken(token) {
  try {
    const part = String(token).split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const text = typeof atob === "function" ? atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "="))
      : Buffer.from(part, "base64").toString("binary");
    return JSON.parse(decodeURIComponent(escape(text)));
  } catch {
    return null;
  }
}

/**
 * Per room: the epoch, the highest offset delivered, and the offset the server said we are at
 * (SUBSCRIBED). `since()` is what a reconnect asks for; `accept()` drops replays already seen.
 */
export class RoomPositions {
  constructor() {
    this.rooms = new Map();
  }

  /** True when the event is new; false for a duplicate (same epoch, offset already delivered). */
  accept(room, epoch, offset) {
    let position = this.rooms.get(room);
    if (!position || position.epoch !== epoch) {
      position = { epoch, delivered: 0, floor: 0 };
      this.rooms.set(room, position);
    }
    if (offset <= position.delivered) return false;
    position.delivered = offset;
    return true;
  }

  /** A SUBSCRIBED answer. After a recovery the replay follows and moves `delivered` itself. */
  subscribed(room, { epoch, offset, recovered }) {
    const position = this.rooms.get(room);
    if (position && position.epoch === epoch) {
      if (recovered !== true) position.floor = Math.max(position.floor, offset);
      return;
    }
    // a new epoch: offsets restart, and the latest values the server sends after SUBSCRIBED are new to us
    this.rooms.set(room, { epoch, delivered: 0, floor: offset });
  }

  since(room) {
    const position = this.rooms.get(room);
    return position ? { epoch: position.epoch, offset: Math.max(position.delivered, position.floor) } : undefined;
  }

  forget(room) {
    this.rooms.delete(room);
  }
}

/** Splits a text/event-stream into events; feed it decoded text chunks. */
export class SseParser {
  constructor(onEvent, onComment = () => {}) {
    this.buffer = "";
    this.onEvent = onEvent;
    this.onComment = onComment;
    this._reset();
  }

  _reset() {
    this.event = "message";
    this.data = [];
    this.id = null;
  }

  push(text) {
    this.buffer += text;
    let newline;
    while ((newline = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, newline);
      const skip = this.buffer.startsWith("\r\n", newline) ? 2 : 1;
      this.buffer = this.buffer.slice(newline + skip);
      this._line(line);
    }
  }

  _line(line) {
    if (line === "") {
      if (this.data.length) this.onEvent({ event: this.event, data: this.data.join("\n"), id: this.id });
      this._reset();
      return;
    }
    if (line.startsWith(":")) {
      this.onComment(line.slice(1).trim());
      return;
    }
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id") this.id = value;
  }
}

const DEFAULTS = {
  transports: ["websocket", "sse"],
  backoff: { initial: 500, max: 30000, factor: 2, jitter: 0.5 },
  connectTimeout: 10000,
  refreshMargin: 60000,
  queueLimit: 100,
  requestTimeout: 10000,
  acks: true,
};

export class RealtimeClient {
  /**
   * @param {object} options  url (server base, default location.origin), token (string or function
   *   returning one, or a promise of one), transports, backoff {initial, max, factor, jitter},
   *   connectTimeout, refreshMargin, queueLimit, requestTimeout, device (this device's id for ACKs;
   *   default: one kept in localStorage), acks (false: no automatic ACKs); for tests: WebSocket, fetch,
   *   setTimeout, clearTimeout, now, random, storage.
   */
  constructor(options = {}) {
    const g = globalThis;
    this.options = { ...DEFAULTS, ...options, backoff: { ...DEFAULTS.backoff, ...(options.backoff || {}) } };
    const base = String(options.url || (g.location ? g.location.origin : "http://localhost:8000"));
    this.baseUrl = base.replace(/^ws(s?):/, "http$1:").replace(/\/ws\/?$/, "").replace(/\/+$/, "");
    this._WebSocket = options.WebSocket || g.WebSocket;
    this._fetch = options.fetch || (g.fetch ? g.fetch.bind(g) : null);
    this._setTimeout = options.setTimeout || g.setTimeout.bind(g);
    this._clearTimeout = options.clearTimeout || g.clearTimeout.bind(g);
    this._now = options.now || Date.now;
    this._random = options.random || Math.random;

    this.state = "idle";
    this.transport = null;
    this.connection = null; // CONNECTED.data of the current connection
    this.positions = new RoomPositions();
    this.attempt = 0;
    this._listeners = new Map();
    this._subs = new Map(); // room -> Set<{onEvent, onSubscribed, onError}>
    this._homeRooms = [];
    this._queue = [];
    this._pending = new Map(); // frame id -> {resolve, reject, timer}
    this._subscribeIds = new Map(); // frame id -> room
    this._resuming = new Set(); // rooms whose next SUBSCRIBED answers a resubscription
    this._timers = {};
    this._seq = 0;
    this._conn = null; // the live transport: {kind, send(frame), close(code, reason)}
    this._hadConnection = false;
    this._skewMs = 0;
    this._tokenValue = typeof options.token === "string" ? options.token : null;
    this._learnHome(this._tokenValue);
    this._online = () => this.state === "reconnecting" && this._retryNow();
    this._listensOnline = Boolean(g.addEventListener && !options.WebSocket);
    this.device = options.device || deviceId("storage" in options ? options.storage : g.localStorage, this._random);
    this._acks = { delivered: new Set(), seen: new Set() }; // notification ids waiting to be acknowledged
  }

  // --- public API --------------------------------------------------------------------------------

  /** Start connecting (again after close()). Returns this. */
  connect() {
    if (this.state === "idle" || this.state === "closed") {
      this._closed = false;
      this.attempt = 0;
      // added here, not in the constructor, so a client that is made but never connected (React may
      // render twice and keep one) leaves no listener behind
      if (this._listensOnline) globalThis.addEventListener("online", this._online);
      this._open();
    }
    return this;
  }

  /** Close for good (until connect()); queued frames are kept for the next connect(). */
  close() {
    this._closed = true;
    if (this._listensOnline) globalThis.removeEventListener("online", this._online);
    this._clearAllTimers();
    const conn = this._conn;
    this._conn = null;
    if (conn) conn.close(1000, "client closed");
    this._failPending("client closed");
    this._setState("closed", { code: 1000 });
  }

  get isConnected() {
    return this.state === "open";
  }

  /**
   * Receive a room's events. `options.onSubscribed({room, epoch, offset, recovered, resumed, presence?})`
   * and `options.onError(error)`. With `options.presence` the room's viewers come in `onSubscribed`
   * (`presence`, user ids) and their changes in `options.onPresence({room, joins, leaves})` (presence
   * rooms only: contact:, lead:, campaign:). Returns a function that unsubscribes this handler.
   */
  subscribe(room, onEvent, options = {}) {
    const entry = { onEvent, onSubscribed: options.onSubscribed, onError: options.onError,
      presence: Boolean(options.presence), onPresence: options.onPresence };
    let set = this._subs.get(room);
    const first = !set;
    if (first) {
      set = new Set();
      this._subs.set(room, set);
    }
    // the first handler that wants presence asks again (SUBSCRIBED is answered anew, with the viewers)
    const askPresence = !first && entry.presence && ![...set].some((other) => other.presence);
    set.add(entry);
    if ((first || askPresence) && this.state === "open") this._sendSubscribe(room, false);
    return () => this._unsubscribe(room, entry);
  }

  /** Send a frame; queued while disconnected (not on SSE, which has no upstream). Returns its id or null. */
  send(type, data = {}) {
    const id = this._nextId();
    const frame = { type, data, id, timestamp: new Date(this._now()).toISOString() };
    if (this._conn && this._conn.kind === "sse" && this.state === "open") {
      if (type !== "PING") this._emit("error", { code: "NOT_ON_SSE", message: `${type} cannot be sent over SSE` });
      return null;
    }
    if (this.state === "open" && this._conn) {
      this._conn.send(frame);
      return id;
    }
    if (NOT_QUEUED.has(type)) return null;
    this._queue.push(frame);
    while (this._queue.length > this.options.queueLimit) {
      const dropped = this._queue.shift();
      this._emit("error", { code: "QUEUE_FULL", message: `dropped queued ${dropped.type}`, frame: dropped });
    }
    return id;
  }

  /** Send and wait for the answer that carries our id as `ref` (rejects on ERROR, timeout or close). */
  request(type, data = {}) {
    if (!(this.state === "open" && this._conn && this._conn.kind === "websocket")) {
      return Promise.reject(new Error(`not connected over WebSocket (state ${this.state})`));
    }
    const id = this._nextId();
    return new Promise((resolve, reject) => {
      const timer = this._setTimeout(() => {
        this._pending.delete(id);
        reject(new Error(`${type}: no answer within ${this.options.requestTimeout} ms`));
      }, this.options.requestTimeout);
      this._pending.set(id, { resolve, reject, timer });
      this._conn.send({ type, data, id, timestamp: new Date(this._now()).toISOString() });
    });
  }

  /**
   * Claim a room (lead:, contact:): the room then gets CLAIMED {room, by, until}, to its subscribers.
   * Someone else's claim answers an ERROR CONFLICT whose `ref` is the id returned here (on 'error').
   * `force` (ADMIN) takes over. Returns the frame id, or null when it could not be sent or queued.
   */
  claim(room, { ttl, force } = {}) {
    const data = { room };
    if (ttl !== undefined) data.ttl = ttl;
    if (force) data.force = true;
    return this.send("CLAIM", data);
  }

  /** End our claim of a room (ADMIN: anyone's); the room gets RELEASED. Returns the frame id or null. */
  release(room) {
    return this.send("RELEASE", { room });
  }

  /**
   * Tell the server this device got these notifications (`seen`: and showed them to the user), for the
   * delivery records (GET /api/notifications/{id}/deliveries). Ids of one burst leave as one ACK; kept
   * while disconnected and sent once connected (over SSE, which has no upstream, they are dropped).
   * Received NOTIFICATION pushes are acknowledged by the client itself (unless `acks: false`).
   */
  ack(ids, { seen = true } = {}) {
    const wanted = seen ? this._acks.seen : this._acks.delivered;
    for (const id of ids || []) {
      const text = String(id);
      if (NOTIFICATION_ID.test(text)) wanted.add(text);
    }
    if (wanted.size && this._timers.ack === undefined) this._timer("ack", ACK_DELAY, () => this._sendAcks());
  }

  _sendAcks() {
    const conn = this._conn;
    if (!conn || this.state !== "open") return; // sent once connected
    if (conn.kind !== "websocket") {
      this._acks.seen.clear();
      this._acks.delivered.clear();
      return;
    }
    const seenIds = [...this._acks.seen];
    const deliveredIds = [...this._acks.delivered].filter((id) => !this._acks.seen.has(id)); // seen says both
    this._acks.seen.clear();
    this._acks.delivered.clear();
    for (const [seen, ids] of [[true, seenIds], [false, deliveredIds]]) {
      for (let start = 0; start < ids.length; start += ACK_MAX_IDS) {
        conn.send({ type: "ACK", data: { ids: ids.slice(start, start + ACK_MAX_IDS), device: this.device, seen },
          id: this._nextId(), timestamp: new Date(this._now()).toISOString() });
      }
    }
  }

  /** Listen: 'state' (state, info), 'connected', 'subscribed', 'event', 'presence', 'frame', 'error', 'token'. Returns off(). */
  on(name, fn) {
    if (!this._listeners.has(name)) this._listeners.set(name, new Set());
    this._listeners.get(name).add(fn);
    return () => this._listeners.get(name).delete(fn);
  }

  /** REST call to the same server with the current token; resolves the JSON body (null for 204). */
  async api(path, { method = "GET", body, headers = {} } = {}) {
    const token = await this._token(false);
    const init = { method, headers: { Authorization: `Bearer ${token}`, ...headers } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await this._fetch(this.baseUrl + path, init);
    const text = response.status === 204 ? "" : await response.text();
    const json = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const error = new Error((json && json.error && json.error.message) || `HTTP ${response.status}`);
      error.status = response.status;
      error.code = json && json.error && json.error.code;
      throw error;
    }
    return json;
  }

  /** The rooms the client follows: the home rooms plus every subscribed room. */
  rooms() {
    return [...new Set([...this._homeRooms, ...this._subs.keys()])];
  }

  // --- connecting --------------------------------------------------------------------------------

  async _open(forceSse = false) {
    const attemptId = (this._attemptId = (this._attemptId || 0) + 1);
    this._setState("connecting", { attempt: this.attempt });
    let token;
    try {
      token = await this._token(this._needFreshToken);
      this._needFreshToken = false;
    } catch (error) {
      if (attemptId !== this._attemptId || this._closed) return;
      this._emit("error", { code: "TOKEN", message: `token function failed: ${error && error.message}` });
      this._scheduleRetry();
      return;
    }
    if (attemptId !== this._attemptId || this._closed) return;
    const wantWs = this.options.transports.includes("websocket") && this._WebSocket && !forceSse;
    if (wantWs) this._openWebSocket(token);
    else if (this.options.transports.includes("sse") && this._fetch) this._openSse(token);
    else this._scheduleRetry();
  }

  _openWebSocket(token) {
    const url = `${this.baseUrl.replace(/^http/, "ws")}/ws?token=${encodeURIComponent(token)}`;
    let ws;
    try {
      ws = new this._WebSocket(url);
    } catch (error) {
      this._transportFailed("websocket", 1006, String(error && error.message));
      return;
    }
    let done = false;
    const conn = {
      kind: "websocket",
      connected: false,
      send: (frame) => ws.readyState === 1 && ws.send(JSON.stringify(frame)),
      close: (code, reason) => {
        done = true;
        detach();
        try {
          ws.close(code, reason);
        } catch {
          /* already closed */
        }
      },
    };
    const detach = () => {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    };
    this._conn = conn;
    this._timer("connect", this.options.connectTimeout, () => {
      conn.close(4000, "no CONNECTED in time");
      this._lost(conn, 1006, "connect timeout");
    });
    ws.onmessage = (event) => {
      if (done) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this._frame(conn, frame);
    };
    ws.onclose = (event) => {
      if (done) return;
      done = true;
      detach();
      this._lost(conn, event.code || 1006, event.reason || "");
    };
    ws.onerror = () => {}; // a close event follows
  }

  _openSse(token, restart = false) {
    const params = [];
    const rooms = this.rooms();
    if (rooms.length) params.push(`rooms=${rooms.map(encodeURIComponent).join(",")}`);
    const since = rooms.map((room) => [room, this.positions.since(room)]).filter(([, s]) => s)
      .map(([room, s]) => encodeURIComponent(`${room}@${s.epoch}:${s.offset}`));
    if (since.length) params.push(`since=${since.join(",")}`);
    if (!restart && this._hadConnection) rooms.forEach((room) => this._resuming.add(room));
    const controller = typeof AbortController === "function" ? new AbortController() : null;
    let done = false;
    const conn = {
      kind: "sse",
      connected: false,
      send: () => {},
      close: () => {
        done = true;
        if (controller) controller.abort();
      },
    };
    this._conn = conn;
    this._timer("connect", this.options.connectTimeout, () => {
      conn.close();
      this._lost(conn, 1006, "connect timeout");
    });
    const url = `${this.baseUrl}/sse${params.length ? "?" + params.join("&") : ""}`;
    const init = { headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" }, cache: "no-store" };
    if (controller) init.signal = controller.signal;
    const parser = new SseParser((event) => {
      if (done) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (event.event === "CLOSE") {
        conn.close();
        this._lost(conn, frame.code || 1006, frame.reason || "");
        return;
      }
      this._frame(conn, frame);
    }, () => {
      if (!done) this._heard(conn);
    });
    (async () => {
      const response = await this._fetch(url, init);
      if (!response.ok) {
        let message = `HTTP ${response.status}`;
        try {
          message = (await response.json()).error.message || message;
        } catch {
          /* not our JSON */
        }
        if (!done) {
          done = true;
          this._emit("error", { code: `HTTP_${response.status}`, message, transport: "sse" });
          this._lost(conn, response.status === 401 ? 4001 : 1006, message);
        }
        return;
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done: ended } = await reader.read();
        if (done) return;
        if (ended) break;
        parser.push(decoder.decode(value, { stream: true }));
      }
      if (!done) {
        done = true;
        this._lost(conn, 1006, "stream ended");
      }
    })().catch((error) => {
      if (!done) {
        done = true;
        this._lost(conn, 1006, String(error && error.message));
      }
    });
  }

  /** Restart the SSE stream with every room's position (rooms changed, or a fresh token). */
  _restartSse() {
    if (this._timers.sseRestart) return;
    this._timer("sseRestart", 0, async () => {
      const old = this._conn;
      if (!old || old.kind !== "sse" || this.state !== "open") return;
      let token;
      try {
        token = await this._token(false);
      } catch {
        return;
      }
      if (this._conn !== old) return;
      old.close();
      this._openSse(token, true);
    });
  }

  _transportFailed(kind, code, reason) {
    this._lost({ kind, connected: false }, code, reason);
  }

  /** A transport ended. Decide: stop, fall back to SSE, or retry after a backoff delay. */
  async _lost(conn, code, reason) {
    if (this._conn && this._conn !== conn) return; // a stale transport
    this._conn = null;
    this._clearTimer("connect");
    this._clearTimer("heartbeat");
    this._clearTimer("refresh");
    this._failPending("connection lost");
    if (this._closed) return;
    this._emit("disconnected", { code, reason, transport: conn.kind });
    if (code === 4001) this._needFreshToken = true;
    if (code === 4001 && typeof this.options.token !== "function") {
      this._emit("error", { code: "TOKEN_EXPIRED", message: reason || "token expired; pass a token function" });
      this._setState("closed", { code, reason });
      return;
    }
    if (conn.kind === "websocket" && !conn.connected && this.options.transports.includes("sse") && this._fetch
        && !this._triedSse) {
      this._setState("connecting", { attempt: this.attempt, code, reason });
      if (await this._serverUp()) {
        if (this._closed || this._conn) return;
        this._triedSse = true;
        this._open(true);
        return;
      }
    }
    this._triedSse = false;
    if (this._closed || this._conn) return;
    this._scheduleRetry({ code, reason });
  }

  async _serverUp() {
    try {
      const response = await this._fetch(`${this.baseUrl}/healthz`, { cache: "no-store" });
      return response.ok;
    } catch {
      return false;
    }
  }

  _scheduleRetry(info = {}) {
    const delay = backoffDelay(this.attempt, this.options.backoff, this._random);
    this.attempt += 1;
    this._setState("reconnecting", { ...info, attempt: this.attempt, delay });
    this._timer("retry", delay, () => this._open());
  }

  _retryNow() {
    this._clearTimer("retry");
    this._open();
  }

  // --- frames ------------------------------------------------------------------------------------

  _frame(conn, frame) {
    this._heard(conn);
    if (!frame || typeof frame !== "object") return;
    this._emit("frame", frame);
    const data = frame.data || {};
    if (typeof frame.room === "string" && typeof frame.offset === "number") {
      if (!this.positions.accept(frame.room, frame.epoch, frame.offset)) return;
      if (frame.type === "NOTIFICATION" && this.options.acks && data.notification) {
        this.ack([data.notification.id], { seen: false }); // delivered to this device
      }
      const set = this._subs.get(frame.room);
      if (set) for (const entry of [...set]) this._call(entry.onEvent, frame);
      this._emit("event", frame);
      return;
    }
    const ref = data.ref;
    if (frame.type === "CONNECTED") {
      this._connected(conn, frame);
    } else if (frame.type === "SUBSCRIBED") {
      this._subscribed(data);
    } else if (frame.type === "PRESENCE") {
      const change = { room: data.room, joins: data.joins || [], leaves: data.leaves || [] };
      for (const entry of this._subs.get(change.room) || []) if (entry.presence) this._call(entry.onPresence, change);
      this._emit("presence", change);
    } else if (frame.type === "AUTHENTICATED") {
      this._authenticated(data);
    } else if (frame.type === "ERROR") {
      const room = this._subscribeIds.get(ref);
      const error = { ...data, room };
      if (room) {
        this._subscribeIds.delete(ref);
        for (const entry of this._subs.get(room) || []) this._call(entry.onError, error);
      }
      const pending = this._pending.get(ref);
      if (pending) {
        this._settle(ref);
        pending.reject(Object.assign(new Error(data.message || data.code), { code: data.code }));
      }
      this._emit("error", error);
      return;
    }
    if (ref !== undefined && this._pending.has(ref)) {
      const pending = this._pending.get(ref);
      this._settle(ref);
      pending.resolve(frame);
    }
  }

  _connected(conn, frame) {
    const data = frame.data || {};
    conn.connected = true;
    this._clearTimer("connect");
    this.connection = data;
    this.transport = conn.kind;
    if (frame.timestamp) {
      const serverMs = Date.parse(frame.timestamp);
      if (!Number.isNaN(serverMs)) this._skewMs = serverMs - this._now();
    }
    const resumed = this._hadConnection;
    if (Array.isArray(data.rooms)) this._homeRooms = data.rooms.slice();
    this.attempt = 0;
    this._triedSse = false;
    if (conn.kind === "websocket") {
      // learn every home room's position, and resume each room after a reconnect
      for (const room of this.rooms()) this._sendSubscribe(room, resumed);
    }
    this._hadConnection = true;
    this._setState("open", { transport: conn.kind, resumed });
    this._emit("connected", { ...data, transport: conn.kind, resumed });
    if (conn.kind === "websocket") {
      const queued = this._queue.splice(0);
      for (const queuedFrame of queued) conn.send(queuedFrame);
    }
    if (this._acks.seen.size || this._acks.delivered.size) this._timer("ack", 0, () => this._sendAcks());
    this._scheduleRefresh(data.exp);
    this._heartbeatPeriod = (Number(data.heartbeat) || 25) * 1000;
    this._lastHeard = this._now();
    this._startHeartbeat(conn);
  }

  _sendSubscribe(room, resuming) {
    if (!this._conn) return;
    if (this._conn.kind === "sse") {
      this._restartSse();
      return;
    }
    const id = this._nextId();
    const data = { room };
    const since = this.positions.since(room);
    if (since && resuming) data.since = since;
    if ([...(this._subs.get(room) || [])].some((entry) => entry.presence)) data.presence = true;
    if (resuming) this._resuming.add(room);
    this._subscribeIds.set(id, room);
    this._conn.send({ type: "SUBSCRIBE", data, id, timestamp: new Date(this._now()).toISOString() });
  }

  _subscribed(data) {
    const room = data.room;
    if (data.ref !== undefined) this._subscribeIds.delete(data.ref);
    this.positions.subscribed(room, data);
    const resumed = this._resuming.delete(room);
    // a resubscription that did not recover (or could not even ask) lost events: the app must reload
    const recovered = data.recovered === true ? true : resumed ? false : undefined;
    const info = { room, epoch: data.epoch, offset: data.offset, recovered, resumed };
    if (Array.isArray(data.presence)) info.presence = data.presence;
    for (const entry of this._subs.get(room) || []) this._call(entry.onSubscribed, info);
    this._emit("subscribed", info);
  }

  _unsubscribe(room, entry) {
    const set = this._subs.get(room);
    if (!set || !set.delete(entry) || set.size) return;
    this._subs.delete(room);
    if (HOME_ROOM.test(room) && this._homeRooms.includes(room)) return; // the server keeps us there anyway
    this.positions.forget(room);
    if (this.state !== "open" || !this._conn) return;
    if (this._conn.kind === "sse") this._restartSse();
    else this._conn.send({ type: "UNSUBSCRIBE", data: { room }, id: this._nextId(),
      timestamp: new Date(this._now()).toISOString() });
  }

  // --- liveness and tokens ---------------------------------------------------------------------

  _heard(conn) {
    if (this._conn === conn) this._lastHeard = this._now();
  }

  /** Any frame (or SSE comment) is life. A WebSocket silent for a heartbeat gets a PING; silence for two
   *  heartbeats plus 5 s means a dead link (a sleeping laptop, a dropped NAT entry): reconnect. */
  _startHeartbeat(conn) {
    const period = this._heartbeatPeriod;
    const tick = () => {
      if (this._conn !== conn) return;
      const silent = this._now() - this._lastHeard;
      if (silent >= 2 * period + 5000) {
        conn.close(4000, "heartbeat timeout");
        this._lost(conn, 1006, "heartbeat timeout");
        return;
      }
      if (silent >= period && conn.kind === "websocket") conn.send({ type: "PING", data: {}, id: this._nextId() });
      this._timer("heartbeat", Math.min(period, 5000), tick);
    };
    this._timer("heartbeat", Math.min(period, 5000), tick);
  }

  _scheduleRefresh(exp) {
    this._clearTimer("refresh");
    if (typeof this.options.token !== "function" || !exp) return;
    const delay = refreshDelay(exp * 1000, this._now() + this._skewMs, this.options.refreshMargin);
    this._timer("refresh", delay, () => this._refresh());
  }

  async _refresh() {
    const conn = this._conn;
    try {
      await this._token(true);
      if (!conn || this._conn !== conn) return;
      if (conn.kind === "sse") {
        this._restartSse();
        return;
      }
      await this.request("AUTH", { token: this._tokenValue });
    } catch (error) {
      this._emit("error", { code: "TOKEN_REFRESH", message: String(error && error.message) });
      if (this._conn === conn) this._timer("refresh", 5000, () => this._refresh());
    }
  }

  _authenticated(data) {
    this._emit("token", { exp: data.exp });
    if (this.connection) this.connection = { ...this.connection, exp: data.exp };
    this._scheduleRefresh(data.exp);
  }

  /** The token to use: a static string, or the function's (cached until close to expiry, or `fresh`). */
  async _token(fresh) {
    const source = this.options.token;
    if (typeof source !== "function") {
      if (!source) throw new Error("no token: pass options.token");
      return source;
    }
    const claims = this._tokenValue && decodeToken(this._tokenValue);
    const valid = claims && claims.exp && claims.exp * 1000 - (this._now() + this._skewMs) > this.options.refreshMargin;
    if (!fresh && valid) return this._tokenValue;
    const token = await source();
    if (typeof token !== "string" || !token) throw new Error("the token function returned no token");
    this._tokenValue = token;
    this._learnHome(token);
    return token;
  }

  _learnHome(token) {
    const claims = token && decodeToken(token);
    if (claims && typeof claims.sub === "string" && typeof claims.role === "string" && !this._homeRooms.length) {
      this._homeRooms = [`user:${claims.sub}`, `role:${claims.role}`];
    }
  }

  // --- small helpers -------------------------------------------------------------------------------

  _nextId() {
    this._seq += 1;
    return String(this._seq);
  }

  _settle(ref) {
    const pending = this._pending.get(ref);
    if (pending) this._clearTimeout(pending.timer);
    this._pending.delete(ref);
  }

  _failPending(reason) {
    for (const [ref, pending] of [...this._pending]) {
      this._settle(ref);
      pending.reject(new Error(reason));
    }
    this._subscribeIds.clear();
  }

  _setState(state, info = {}) {
    const changed = state !== this.state;
    this.state = state;
    if (state !== "open") this.transport = null;
    if (changed || state === "reconnecting") this._emit("state", state, info);
  }

  _emit(name, ...args) {
    for (const fn of [...(this._listeners.get(name) || [])]) this._call(fn, ...args);
  }

  _call(fn, ...args) {
    if (typeof fn !== "function") return;
    try {
      fn(...args);
    } catch (error) {
      if (globalThis.console) console.error("realtime.js: a listener threw", error);
    }
  }

  _timer(name, delay, fn) {
    this._clearTimer(name);
    this._timers[name] = this._setTimeout(() => {
      delete this._timers[name];
      fn();
    }, delay);
  }

  _clearTimer(name) {
    if (this._timers[name] !== undefined) this._clearTimeout(this._timers[name]);
    delete this._timers[name];
  }

  _clearAllTimers() {
    for (const name of Object.keys(this._timers)) this._clearTimer(name);
  }
}

export default RealtimeClient;
