// Types for realtime.js (the browser client of realtime-server) and notifications.js.

export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";
export type Transport = "websocket" | "sse";
export type Priority = "LOW" | "NORMAL" | "HIGH" | "URGENT";

/** Any frame from the server: `{type, data, timestamp}`; room events add room, epoch and offset. */
export interface Frame<D = Record<string, any>> {
  type: string;
  data: D;
  timestamp?: string;
  room?: string;
  epoch?: string;
  offset?: number;
}

export interface RoomEvent<D = Record<string, any>> extends Frame<D> {
  room: string;
  epoch: string;
  offset: number;
}

export interface Position {
  epoch: string;
  offset: number;
}

export interface SubscribedInfo {
  room: string;
  epoch: string;
  offset: number;
  /** true: the gap was replayed; false: events were missed, reload the room's state over REST;
   *  undefined: a first subscription (nothing to recover). */
  recovered?: boolean;
  /** true when this answers a resubscription after a reconnect. */
  resumed: boolean;
}

export interface RealtimeError {
  code: string;
  message: string;
  room?: string;
  ref?: string;
  [key: string]: any;
}

export interface BackoffOptions {
  /** First delay in ms (500). */
  initial?: number;
  /** Cap in ms (30000). */
  max?: number;
  /** Growth per attempt (2). */
  factor?: number;
  /** Up to this fraction of each delay is taken off at random (0.5). */
  jitter?: number;
}

export interface RealtimeClientOptions {
  /** Server base URL (http(s)://host:port or ws(s)://host:port/ws); default location.origin. */
  url?: string;
  /** A JWT, or a function returning one (or a promise of one); a function lets the client refresh it. */
  token: string | (() => string | Promise<string>);
  /** Transports in order of preference (["websocket", "sse"]). */
  transports?: Transport[];
  backoff?: BackoffOptions;
  /** ms to wait for CONNECTED before giving up on an attempt (10000). */
  connectTimeout?: number;
  /** Refresh the token this many ms before it expires, or halfway if that is sooner (60000). */
  refreshMargin?: number;
  /** Frames kept while disconnected; the oldest are dropped beyond it (100). */
  queueLimit?: number;
  /** ms a request() waits for its answer (10000). */
  requestTimeout?: number;
  /** This device's id in ACKs (1-64 of A-Z a-z 0-9 _ -); default: one kept in localStorage per browser profile. */
  device?: string;
  /** Acknowledge received NOTIFICATION pushes by itself (true). */
  acks?: boolean;
  /** For tests: where the device id is kept (localStorage). */
  storage?: Pick<Storage, "getItem" | "setItem"> | null;
  /** For tests: replacements for the browser's globals. */
  WebSocket?: any;
  fetch?: typeof fetch;
  setTimeout?: (fn: () => void, ms: number) => any;
  clearTimeout?: (id: any) => void;
  now?: () => number;
  random?: () => number;
}

export interface SubscribeOptions {
  onSubscribed?: (info: SubscribedInfo) => void;
  onError?: (error: RealtimeError) => void;
  /** Ask for the room's viewers (presence rooms: contact:, lead:, campaign:): `SubscribedInfo.presence`, then changes. */
  presence?: boolean;
  onPresence?: (change: PresenceChange) => void;
}

/** A PRESENCE frame: user ids that started and stopped viewing the room since the last one. */
export interface PresenceChange {
  room: string;
  joins: string[];
  leaves: string[];
}

export interface ClientEvents {
  state: (state: ConnectionState, info: { attempt?: number; delay?: number; code?: number; reason?: string;
    transport?: Transport; resumed?: boolean }) => void;
  connected: (info: Record<string, any> & { transport: Transport; resumed: boolean }) => void;
  disconnected: (info: { code: number; reason: string; transport: Transport }) => void;
  subscribed: (info: SubscribedInfo) => void;
  /** Every room event, after duplicates were dropped. */
  event: (event: RoomEvent) => void;
  /** PRESENCE frames of rooms subscribed with `presence: true`. */
  presence: (change: PresenceChange) => void;
  /** Every frame as received. */
  frame: (frame: Frame) => void;
  error: (error: RealtimeError) => void;
  token: (info: { exp: number }) => void;
}

export declare class RealtimeClient {
  constructor(options: RealtimeClientOptions);
  readonly state: ConnectionState;
  readonly transport: Transport | null;
  readonly isConnected: boolean;
  /** CONNECTED.data of the current connection (connectionId, userId, role, rooms, heartbeat, exp). */
  readonly connection: Record<string, any> | null;
  readonly positions: RoomPositions;
  readonly attempt: number;
  readonly baseUrl: string;
  /** The device id ACKs carry. */
  readonly device: string;
  connect(): this;
  close(): void;
  /** Returns a function that removes this handler (and leaves the room when it was the last one). */
  subscribe<D = Record<string, any>>(room: string, onEvent: (event: RoomEvent<D>) => void,
    options?: SubscribeOptions): () => void;
  /** The frame's id, or null when it cannot be sent (over SSE; SUBSCRIBE/PING/AUTH while disconnected). */
  send(type: string, data?: Record<string, any>): string | null;
  request(type: string, data?: Record<string, any>): Promise<Frame>;
  /** Delivery records: this device got (`seen`, the default: and showed) these notifications; batched, no answer. */
  ack(ids: Array<string | number>, options?: { seen?: boolean }): void;
  /** CLAIM a room (the room gets CLAIMED); an ERROR CONFLICT names the holder, its `ref` the id returned. `force`: ADMIN takeover. */
  claim(room: string, options?: { ttl?: number; force?: boolean }): string | null;
  /** RELEASE our claim (ADMIN: anyone's); the room gets RELEASED. */
  release(room: string): string | null;
  on<K extends keyof ClientEvents>(name: K, fn: ClientEvents[K]): () => void;
  /** REST on the same server with the current token; the JSON body (null for 204); throws with .status and .code. */
  api<T = any>(path: string, init?: { method?: string; body?: any; headers?: Record<string, string> }): Promise<T>;
  rooms(): string[];
}

export declare class RoomPositions {
  accept(room: string, epoch: string, offset: number): boolean;
  subscribed(room: string, answer: { epoch: string; offset: number; recovered?: boolean }): void;
  since(room: string): Position | undefined;
  forget(room: string): void;
}

export declare class SseParser {
  constructor(onEvent: (event: { event: string; data: string; id: string | null }) => void,
    onComment?: (text: string) => void);
  push(text: string): void;
}

export declare function backoffDelay(attempt: number, options?: BackoffOptions, random?: () => number): number;
export declare function refreshDelay(expMs: number, nowMs: number, margin?: number): number;
export declare function decodeToken(token: string): Record<string, any> | null;
/** This browser's device id, kept in `storage` (localStorage) under "realtime-server.device". */
export declare function deviceId(storage?: Pick<Storage, "getItem" | "setItem"> | null,
  random?: () => number): string;
export default RealtimeClient;

// --- notifications.js ------------------------------------------------------------------------------

export interface Notification {
  id: string;
  userId: string | null;
  role: string | null;
  title: string;
  message: string;
  type: string;
  priority: Priority;
  data: Record<string, any> | null;
  link: string | null;
  createdAt: string;
  read: boolean;
  readAt: string | null;
}

export type Channel = "inApp" | "toast" | "browser";

/** GET/PUT /api/notifications/preferences (docs/notifications.md). */
export interface NotificationPreferences {
  channels: Record<Channel, boolean>;
  /** Per notification type: each channel on or off (a type not named here has every channel on). */
  types: Record<string, Record<Channel, boolean>>;
  minPriority: { toast: Priority; browser: Priority };
  /** No toast or browser alert (URGENT excepted) between start and end, "HH:MM" in an IANA time zone. */
  quietHours: { start: string; end: string; timezone: string } | null;
}

export interface NotificationSnapshot {
  notifications: Notification[];
  unreadCount: number;
  loading: boolean;
  error: string | null;
  toasts: { id: string; notification: Notification }[];
  preferences: NotificationPreferences | null;
  permission: NotificationPermission | "unsupported";
  /** The `before` cursor of the next (older) page; null when every notification is shown. */
  nextCursor: string | null;
  loadingMore: boolean;
}

export interface NotificationStoreOptions {
  pageSize?: number;
  toastMinPriority?: Priority;
  toastMs?: number;
  browserNotifications?: boolean;
}

export declare class NotificationStore {
  constructor(client: RealtimeClient, options?: NotificationStoreOptions);
  start(): () => void;
  subscribe(listener: (snapshot: NotificationSnapshot) => void): () => void;
  getSnapshot(): NotificationSnapshot;
  refresh(): Promise<void>;
  /** Append the next older page; false when there is none (or it failed: see `error`). */
  loadMore(): Promise<boolean>;
  markRead(id: string, read?: boolean): Promise<{ notification: Notification; unreadCount: number }>;
  markAllRead(): Promise<{ updated: number; unreadCount: number }>;
  remove(id: string): Promise<void>;
  loadPreferences(): Promise<NotificationPreferences>;
  savePreferences(preferences: NotificationPreferences): Promise<NotificationPreferences>;
  requestBrowserPermission(): Promise<NotificationPermission | "unsupported">;
  dismissToast(id: string): void;
  /** These notifications were shown to the user on this device (the list open): acknowledged as seen. */
  seen(ids: string[]): void;
}

export declare function notificationStoreFor(client: RealtimeClient, options?: NotificationStoreOptions): NotificationStore;
export declare function priorityAtLeast(priority: Priority, minimum: Priority): boolean;
