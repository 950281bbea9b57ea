"use client";
// Room state as React state: useLiveData(room, reducer?), and the three the original design names.
// Each takes `options` last ({url, token} or {client}) to work without a <RealtimeProvider>.
import { useCallback, useEffect, useRef, useState } from "react";

import { useClientState, useRealtimeClient } from "./context.js";

const keepLast = (events = [], event) => (event.type === "RESYNC" ? events : [...events, event].slice(-100));

/**
 * Fold a room's events into state with `reducer(state, event)` (default: the last 100 events).
 * When a reconnect could not recover the room, the reducer gets `{type: "RESYNC", room, data}`:
 * the place to reload from REST. Returns {data, lastEvent, recovered, isConnected}.
 */
export function useLiveData(room, reducer = keepLast, initial = undefined, options = undefined) {
  const client = useRealtimeClient(options);
  const state = useClientState(client);
  const reduce = useRef(reducer);
  reduce.current = reducer;
  const [value, setValue] = useState({ data: initial, lastEvent: null, recovered: undefined });
  useEffect(() => {
    if (!room) return undefined;
    return client.subscribe(room, (event) => {
      setValue((v) => ({ ...v, data: reduce.current(v.data, event), lastEvent: event }));
    }, {
      onSubscribed: (info) => {
        if (info.recovered === false) {
          setValue((v) => ({ ...v, recovered: false, data: reduce.current(v.data, { type: "RESYNC", room, data: info }) }));
        } else if (info.recovered === true) {
          setValue((v) => ({ ...v, recovered: true }));
        }
      },
    });
  }, [client, room]);
  return { ...value, isConnected: state === "open" };
}

const mergeStats = (stats, event) => (event.type === "STATS_UPDATE" ? { ...(stats || {}), ...event.data } : stats);

/** Dashboard statistics (STATS_UPDATE in `stats:dashboard`): {stats, loading, isConnected, updatedAt}.
 *  `useLiveStats(options)` and `useLiveStats(room, options)` both work. */
export function useLiveStats(room = "stats:dashboard", options = undefined) {
  if (room && typeof room === "object") [room, options] = ["stats:dashboard", room];
  const { data, isConnected, lastEvent } = useLiveData(room, mergeStats, null, options);
  return { stats: data, loading: data === null, isConnected, updatedAt: lastEvent ? lastEvent.timestamp : null };
}

const TYPING_MS = 8000;

function conversation(state, event) {
  const d = event.data || {};
  switch (event.type) {
    case "MESSAGE_RECEIVED":
    case "MESSAGE_SENT": {
      const message = { ...d, id: String(d.messageId), direction: d.direction || (event.type === "MESSAGE_SENT" ? "OUTBOUND" : "INBOUND"),
        at: event.timestamp };
      return { ...state, messages: [...state.messages.filter((m) => m.id !== message.id), message].slice(-200) };
    }
    case "MESSAGE_STATUS_UPDATE":
      return { ...state, messages: state.messages.map((m) => (m.id === String(d.messageId) ? { ...m, status: d.status } : m)) };
    case "TYPING_START":
      return { ...state, typing: { ...state.typing, [d.userId]: Date.now() } };
    case "TYPING_STOP": {
      const typing = { ...state.typing };
      delete typing[d.userId];
      return { ...state, typing };
    }
    case "RESYNC":
      return { ...state, stale: true };
    default:
      return state;
  }
}

/** One contact's conversation: {messages, typingUsers, stale, isConnected, sendTyping(bool)}. */
export function useLiveMessages(contactId, options = undefined) {
  const client = useRealtimeClient(options);
  const room = contactId === undefined || contactId === null ? null : `contact:${contactId}`;
  const { data, isConnected } = useLiveData(room, conversation, { messages: [], typing: {}, stale: false }, options);
  const [, tick] = useState(0);
  const now = Date.now();
  const typingUsers = Object.entries(data.typing).filter(([, at]) => now - at < TYPING_MS).map(([user]) => user);
  useEffect(() => {
    if (!typingUsers.length) return undefined;
    const timer = setTimeout(() => tick((n) => n + 1), 1000); // let a typing indicator expire without a STOP
    return () => clearTimeout(timer);
  });
  const sendTyping = useCallback((typing = true) => client.send(typing ? "TYPING_START" : "TYPING_STOP",
    { contactId: String(contactId) }), [client, contactId]);
  return { messages: data.messages, typingUsers, stale: data.stale, isConnected, sendTyping };
}
