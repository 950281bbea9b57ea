"use client";
// <RealtimeProvider> holds one RealtimeClient for the tree. Every hook also works without a Provider
// when given options ({url, token} or {client}): hooks given the same url and token share one
// connection, opened by the first and closed when the last one unmounts. useWebSocket() is the
// original design's hook: {isConnected, send, subscribe, unsubscribe}.
import { createContext, createElement as h, useCallback, useContext, useEffect, useMemo, useRef,
  useSyncExternalStore } from "react";

import { RealtimeClient } from "./client.js";

const RealtimeContext = createContext(null);
const CLIENT_OPTIONS = ["url", "token", "transports", "backoff", "connectTimeout", "refreshMargin", "queueLimit",
  "requestTimeout"];

/** The options of a RealtimeClient among a hook's or a component's options. */
export function clientOptions(options) {
  const picked = {};
  if (options) for (const key of CLIENT_OPTIONS) if (options[key] !== undefined) picked[key] = options[key];
  return picked;
}

/**
 * A client that follows `url` and `token`: a new one (and a new connection) when the url or a string
 * token changes; a token *function* may change identity on every render without reconnecting (the
 * latest one is called whenever a token is needed). Connected while mounted, closed on unmount.
 */
function useOwnClient(enabled, { url, token, ...rest }) {
  const tokenRef = useRef(token);
  tokenRef.current = token;
  const tokenKey = typeof token === "function" ? "(function)" : String(token ?? "");
  const restKey = JSON.stringify(rest);
  const client = useMemo(() => {
    if (!enabled) return null;
    const source = typeof tokenRef.current === "function" ? () => tokenRef.current() : tokenRef.current;
    return new RealtimeClient({ ...rest, url, token: source });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [enabled, url, tokenKey, restKey]);
  useEffect(() => {
    if (!client) return undefined;
    client.connect();
    return () => client.close();
  }, [client]);
  return client;
}

/** Pass a `client`, or `url` and `token` (a string or a function returning a fresh one), and `options`. */
export function RealtimeProvider({ client, url, token, options, children }) {
  const own = useOwnClient(!client, { ...(options || {}), url, token });
  useEffect(() => {
    if (client) client.connect(); // a client passed in belongs to the caller: connected, never closed here
  }, [client]);
  return h(RealtimeContext.Provider, { value: client || own }, children);
}

// --- hooks without a Provider -------------------------------------------------------------------

const shared = new Map(); // key -> {client, users}
const functionIds = new WeakMap();
let nextFunctionId = 0;

function sharedKey(options) {
  const { token, ...rest } = clientOptions(options);
  let tokenKey = token;
  if (typeof token === "function") {
    if (!functionIds.has(token)) functionIds.set(token, `fn${(nextFunctionId += 1)}`);
    tokenKey = functionIds.get(token);
  }
  return JSON.stringify([tokenKey ?? null, rest]);
}

function sharedClient(options) {
  const key = sharedKey(options);
  let entry = shared.get(key);
  if (!entry) {
    entry = { key, client: new RealtimeClient(clientOptions(options)), users: 0 };
    shared.set(key, entry);
  }
  return entry;
}

/**
 * The client for a hook: `options.client`, else the Provider's, else a connection shared by every hook
 * given the same `url` and `token`. Throws only when there is none of the three.
 */
export function useRealtimeClient(options) {
  const fromContext = useContext(RealtimeContext);
  const given = options && options.client;
  const standalone = !given && !fromContext && options && options.token !== undefined ? sharedClient(options) : null;
  useEffect(() => {
    if (!standalone) return undefined;
    standalone.users += 1;
    shared.set(standalone.key, standalone); // back in after a StrictMode unmount removed it
    standalone.client.connect();
    return () => {
      standalone.users -= 1;
      if (standalone.users === 0) {
        shared.delete(standalone.key);
        standalone.client.close();
      }
    };
  }, [standalone]);
  const client = given || fromContext || (standalone && standalone.client);
  if (!client) {
    throw new Error("realtime hooks need a <RealtimeProvider> above them, or options: {url, token} or {client}");
  }
  return client;
}

/** The client's state ('idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'), re-rendering on change. */
export function useConnectionState(options) {
  return useClientState(useRealtimeClient(options));
}

export function useClientState(client) {
  const subscribe = useCallback((onChange) => client.on("state", onChange), [client]);
  return useSyncExternalStore(subscribe, () => client.state, () => "idle");
}

/** {isConnected, state, transport, send, subscribe, unsubscribe, client}; `options` as useRealtimeClient. */
export function useWebSocket(options) {
  const client = useRealtimeClient(options);
  const state = useClientState(client);
  const mine = useRef(new Map()); // room -> Set of unsubscribe functions made through this hook
  useEffect(() => () => {
    for (const offs of mine.current.values()) for (const off of offs) off();
    mine.current.clear();
  }, [client]);
  const send = useCallback((type, data) => client.send(type, data), [client]);
  const subscribe = useCallback((room, onEvent = () => {}, subscribeOptions) => {
    const off = client.subscribe(room, onEvent, subscribeOptions);
    if (!mine.current.has(room)) mine.current.set(room, new Set());
    mine.current.get(room).add(off);
    return () => {
      off();
      const offs = mine.current.get(room);
      if (offs) offs.delete(off);
    };
  }, [client]);
  const unsubscribe = useCallback((room) => {
    for (const off of mine.current.get(room) || []) off();
    mine.current.delete(room);
  }, []);
  return { isConnected: state === "open", state, transport: client.transport, send, subscribe, unsubscribe, client };
}
