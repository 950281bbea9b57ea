// <RealtimeProvider> holds one RealtimeClient for the tree; useWebSocket() is the original design's
// hook: {isConnected, send, subscribe, unsubscribe}.
import { createContext, createElement as h, useCallback, useContext, useEffect, useRef, useState,
  useSyncExternalStore } from "react";

import { RealtimeClient } from "./client.js";

const RealtimeContext = createContext(null);

/** Pass a `client`, or `url` and `token` (a string or a function returning a fresh one). */
export function RealtimeProvider({ client, url, token, options, children }) {
  const [own] = useState(() => client || new RealtimeClient({ url, token, ...options }));
  useEffect(() => {
    own.connect();
    return () => {
      if (!client) own.close(); // a client passed in belongs to the caller
    };
  }, [own, client]);
  return h(RealtimeContext.Provider, { value: own }, children);
}

export function useRealtimeClient() {
  const client = useContext(RealtimeContext);
  if (!client) throw new Error("realtime hooks need a <RealtimeProvider> above them");
  return client;
}

/** The client's state ('idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'), re-rendering on change. */
export function useConnectionState() {
  return useClientState(useRealtimeClient());
}

export function useClientState(client) {
  const subscribe = useCallback((onChange) => client.on("state", onChange), [client]);
  return useSyncExternalStore(subscribe, () => client.state, () => "idle");
}

export function useWebSocket() {
  const client = useRealtimeClient();
  const state = useClientState(client);
  const mine = useRef(new Map()); // room -> Set of unsubscribe functions made through this hook
  useEffect(() => () => {
    for (const offs of mine.current.values()) for (const off of offs) off();
    mine.current.clear();
  }, [client]);
  const send = useCallback((type, data) => client.send(type, data), [client]);
  const subscribe = useCallback((room, onEvent = () => {}, options) => {
    const off = client.subscribe(room, onEvent, options);
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
