// Types of @realtime-server/react. The browser client's types are realtime.d.ts (re-exported here);
// the event payloads are events.d.ts, generated from the server's event catalogue.
import type { ComponentType, ReactNode, MouseEvent as ReactMouseEvent } from "react";

import type {
  ConnectionState, Frame, Notification, NotificationPreferences, NotificationSnapshot, NotificationStoreOptions,
  RealtimeClient, RealtimeClientOptions, RoomEvent, SubscribeOptions, SubscribedInfo, Transport,
} from "./realtime.js";
import type { EventPayloads, EventType, LiveEvent } from "./events.js";

export * from "./realtime.js";
export * from "./events.js";

/** Where a hook gets its client: `client`, else the nearest <RealtimeProvider>, else a connection shared by
 *  every hook given the same `url` and `token` (opened by the first, closed after the last unmounts). */
export type ClientChoice = Partial<Omit<RealtimeClientOptions, "token">> & {
  client?: RealtimeClient;
  token?: RealtimeClientOptions["token"];
};

export interface RealtimeProviderProps {
  /** A client of your own: connected by the Provider, never closed by it. */
  client?: RealtimeClient;
  /** Server base URL; a change makes a new connection. */
  url?: string;
  /** A JWT (a change makes a new connection) or a function returning one (called whenever a token is
   *  needed; its identity may change on every render). */
  token?: RealtimeClientOptions["token"];
  options?: Partial<RealtimeClientOptions>;
  children?: ReactNode;
}
export declare function RealtimeProvider(props: RealtimeProviderProps): ReactNode;

export declare function useRealtimeClient(options?: ClientChoice): RealtimeClient;
export declare function useClientState(client: RealtimeClient): ConnectionState;
export declare function useConnectionState(options?: ClientChoice): ConnectionState;

export interface UseWebSocket {
  isConnected: boolean;
  state: ConnectionState;
  transport: Transport | null;
  /** The frame's id, or null when it cannot be sent. */
  send(type: string, data?: Record<string, unknown>): string | null;
  /** Follow a room; the returned function (or unmounting, or unsubscribe(room)) stops this handler. */
  subscribe<T extends EventType = EventType>(room: string, onEvent?: (event: LiveEvent<T>) => void,
    options?: SubscribeOptions): () => void;
  unsubscribe(room: string): void;
  client: RealtimeClient;
}
export declare function useWebSocket(options?: ClientChoice): UseWebSocket;

/** What a reducer gets when a reconnect could not recover the room: reload its state over REST. */
export interface ResyncEvent {
  type: "RESYNC";
  room: string;
  data: SubscribedInfo;
}

export interface LiveData<S> {
  data: S;
  lastEvent: LiveEvent | null;
  recovered: boolean | undefined;
  isConnected: boolean;
}
export declare function useLiveData<S = LiveEvent[]>(room: string | null | undefined,
  reducer?: (state: S, event: LiveEvent | ResyncEvent) => S, initial?: S, options?: ClientChoice): LiveData<S>;

export type Stats = EventPayloads["STATS_UPDATE"];
export interface LiveStats {
  stats: Stats | null;
  loading: boolean;
  isConnected: boolean;
  updatedAt: string | null;
}
export declare function useLiveStats(room?: string, options?: ClientChoice): LiveStats;
export declare function useLiveStats(options: ClientChoice): LiveStats;

export interface LiveMessage extends Record<string, unknown> {
  id: string;
  messageId: string | number;
  contactId: string | number;
  content?: string;
  status?: string;
  direction: "INBOUND" | "OUTBOUND" | string;
  at: string | undefined;
}
export interface LiveMessages {
  messages: LiveMessage[];
  /** Ids of the users typing to this contact now. */
  typingUsers: string[];
  /** A reconnect could not recover the conversation: reload it over REST. */
  stale: boolean;
  isConnected: boolean;
  sendTyping(typing?: boolean): string | null;
}
export declare function useLiveMessages(contactId: string | number | null | undefined,
  options?: ClientChoice): LiveMessages;

export interface UseNotifications extends NotificationSnapshot {
  markRead(id: string, read?: boolean): Promise<{ notification: Notification; unreadCount: number }>;
  markAllRead(): Promise<{ updated: number; unreadCount: number }>;
  remove(id: string): Promise<void>;
  refresh(): Promise<void>;
  loadMore(): Promise<boolean>;
  savePreferences(preferences: NotificationPreferences): Promise<NotificationPreferences>;
  dismissToast(id: string): void;
  requestBrowserPermission(): Promise<NotificationPermission | "unsupported">;
  /** These notifications were shown to the user (the list open): acknowledged as seen on this device. */
  seen(ids: string[]): void;
}
export declare function useNotifications(options?: ClientChoice & NotificationStoreOptions): UseNotifications;

export interface NotificationCenterClassNames {
  bell?: string; badge?: string; panel?: string; list?: string; item?: string; read?: string; unread?: string;
  link?: string; message?: string; button?: string; more?: string;
}
export interface ItemHelpers {
  markRead(id: string, read?: boolean): Promise<unknown>;
  remove(id: string): Promise<void>;
  classNames: NotificationCenterClassNames;
}
export interface NotificationCenterProps extends ClientChoice {
  /** Added to the root (`rt-notification-center`). */
  className?: string;
  /** Added to each part beside its rt- class. */
  classNames?: NotificationCenterClassNames;
  /** Replace an item's content (the <li> around it stays: click to mark read, data-id). */
  renderItem?: (item: Notification, helpers: ItemHelpers) => ReactNode;
  /** Called after an item was clicked (and marked read). A link in the item is followed as usual. */
  onItemClick?: (item: Notification, event: ReactMouseEvent) => void;
  onOpen?: () => void;
  /** Without the default stylesheet (rt- classes only). */
  unstyled?: boolean;
  maxItems?: number;
  pageSize?: number;
  title?: string;
  emptyText?: string;
  /** Wanted width in px; narrowed to fit the viewport (360). */
  panelWidth?: number;
  /** The bell's icon (an inline SVG bell by default). */
  icon?: ReactNode;
}
export declare function NotificationCenter(props: NotificationCenterProps): ReactNode;
export default NotificationCenter;

export interface NotificationToastProps extends ClientChoice {
  className?: string;
  classNames?: { toast?: string; dismiss?: string };
  /** Called when a toast is clicked, before its link is followed; call event.preventDefault() to stay. */
  onClick?: (notification: Notification, event: ReactMouseEvent) => void;
  renderToast?: (notification: Notification, helpers: { dismiss(): void }) => ReactNode;
  unstyled?: boolean;
}
export declare function NotificationToast(props: NotificationToastProps): ReactNode;

export declare const BellIcon: ComponentType<Record<string, unknown>>;
export declare function panelPosition(anchor: { right: number; bottom: number },
  viewport: { width: number; height: number }, wanted?: { width: number; maxHeight: number }):
  { left: number; top: number; width: number; maxHeight: number };

export type { Frame, RoomEvent };
