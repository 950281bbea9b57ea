// notifications.js: the notification center's state for one RealtimeClient, shared by the built-in
// dashboard and the React hooks (getSnapshot/subscribe fit React's useSyncExternalStore).
//
// The list and unread count come from REST (/api/notifications) and are kept current by the
// NOTIFICATION and NOTIFICATION_READ pushes. After every reconnect the list is reloaded: role
// notifications created while we were away are not replayed (docs/notifications.md). The count follows
// the pushes, which every device of the user receives in the same order, so all devices show the same
// one; a REST answer's count is taken only when no push came while it was on its way.
//
// Delivery records (docs/presence.md): what the store loads is acknowledged as delivered to this
// device, what it shows (a toast, or what the app passes to seen()) as seen.

export const PRIORITIES = ["LOW", "NORMAL", "HIGH", "URGENT"];

export function priorityAtLeast(priority, minimum) {
  return PRIORITIES.indexOf(priority || "NORMAL") >= PRIORITIES.indexOf(minimum);
}

const stores = new WeakMap();
const LIST_MAX = 500; // notifications kept in memory; older ones come back with loadMore()

/** The one store per client, so a bell and a toast list agree. */
export function notificationStoreFor(client, options) {
  let store = stores.get(client);
  if (!store) {
    store = new NotificationStore(client, options);
    stores.set(client, store);
  }
  return store;
}

export class NotificationStore {
  /**
   * @param client a RealtimeClient
   * @param options pageSize (20), toastMinPriority ('HIGH'), toastMs (6000; URGENT stays until
   *   dismissed), browserNotifications (true: shown when permission is granted and the push says so)
   */
  constructor(client, options = {}) {
    this.client = client;
    this.options = { pageSize: 20, toastMinPriority: "HIGH", toastMs: 6000, browserNotifications: true, ...options };
    this.snapshot = { notifications: [], unreadCount: 0, loading: true, error: null, toasts: [], preferences: null,
      permission: browserPermission(), nextCursor: null, loadingMore: false };
    this._listeners = new Set();
    this._timers = new Map();
    this._users = 0;
    this._pushes = 0; // pushes that carried an unread count: a REST answer older than one of them is stale
  }

  /** Begin listening and load the first page and the preferences. Counted: returns a function that
   *  releases this user; the store stops when the last one has. */
  start() {
    this._users += 1;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this._users -= 1;
      if (this._users === 0) this._stop();
    };
    if (this._users > 1) return release;
    const offEvent = this.client.on("event", (frame) => this._event(frame));
    const offConnected = this.client.on("connected", (info) => info.resumed && this.refresh());
    if (this.client.state === "idle") this.client.connect();
    this.refresh();
    this.loadPreferences().catch(() => {});
    this._stop = () => {
      offEvent();
      offConnected();
      for (const timer of this._timers.values()) clearTimeout(timer);
      this._timers.clear();
    };
    return release;
  }

  subscribe = (listener) => {
    this._listeners.add(listener);
    return () => this._listeners.delete(listener);
  };

  getSnapshot = () => this.snapshot;

  _set(changes) {
    this.snapshot = { ...this.snapshot, ...changes };
    for (const listener of [...this._listeners]) listener(this.snapshot);
  }

  async refresh() {
    const pushes = this._pushes;
    try {
      const page = await this.client.api(`/api/notifications?limit=${this.options.pageSize}`);
      this._set({ notifications: page.notifications, loading: false, error: null, nextCursor: page.nextCursor || null,
        ...this._answered(pushes, page.unreadCount) });
      this._ack(page.notifications, false);
    } catch (error) {
      this._set({ loading: false, error: error.message });
    }
  }

  /** The next (older) page after the ones shown, from the last page's `nextCursor`; false when there is none. */
  async loadMore() {
    const cursor = this.snapshot.nextCursor;
    if (!cursor || this.snapshot.loadingMore) return false;
    this._set({ loadingMore: true });
    const pushes = this._pushes;
    try {
      const page = await this.client.api(`/api/notifications?limit=${this.options.pageSize}&before=${encodeURIComponent(cursor)}`);
      const known = new Set(this.snapshot.notifications.map((n) => String(n.id)));
      const older = page.notifications.filter((n) => !known.has(String(n.id)));
      this._set({ notifications: [...this.snapshot.notifications, ...older], nextCursor: page.nextCursor || null,
        loadingMore: false, error: null, ...this._answered(pushes, page.unreadCount) });
      this._ack(older, false);
      return true;
    } catch (error) {
      this._set({ loadingMore: false, error: error.message });
      return false;
    }
  }

  async markRead(id, read = true) {
    this._patch([id], { read });
    const pushes = this._pushes;
    const answer = await this.client.api(`/api/notifications/${encodeURIComponent(id)}`,
      { method: "PATCH", body: { read } });
    this._set(this._answered(pushes, answer.unreadCount));
    return answer;
  }

  async markAllRead() {
    this._set({ notifications: this.snapshot.notifications.map((n) => ({ ...n, read: true })) });
    const pushes = this._pushes;
    const answer = await this.client.api("/api/notifications/mark-all-read", { method: "POST" });
    this._set(this._answered(pushes, answer.unreadCount));
    return answer;
  }

  /** These notifications were shown to the user on this device (the list open, say): acknowledged as seen. */
  seen(ids) {
    this._ack(ids.map((id) => ({ id })), true);
  }

  /** A REST answer's unread count, unless a push (which is newer) came while the call was on its way. */
  _answered(pushesBefore, unreadCount) {
    return this._pushes === pushesBefore && typeof unreadCount === "number" ? { unreadCount } : {};
  }

  _ack(notifications, seen) {
    if (typeof this.client.ack === "function") this.client.ack(notifications.map((n) => n.id), { seen });
  }

  async remove(id) {
    const gone = this.snapshot.notifications.find((n) => n.id === id);
    this._set({ notifications: this.snapshot.notifications.filter((n) => n.id !== id),
      unreadCount: Math.max(0, this.snapshot.unreadCount - (gone && !gone.read ? 1 : 0)) });
    await this.client.api(`/api/notifications/${encodeURIComponent(id)}`, { method: "DELETE" });
  }

  async loadPreferences() {
    const preferences = await this.client.api("/api/notifications/preferences");
    this._set({ preferences });
    return preferences;
  }

  async savePreferences(preferences) {
    const saved = await this.client.api("/api/notifications/preferences", { method: "PUT", body: preferences });
    this._set({ preferences: saved });
    return saved;
  }

  /** Ask the browser for permission (call from a click); browser notifications follow once granted. */
  async requestBrowserPermission() {
    const N = globalThis.Notification;
    if (!N) return "unsupported";
    const permission = await N.requestPermission();
    this._set({ permission });
    return permission;
  }

  dismissToast(id) {
    clearTimeout(this._timers.get(id));
    this._timers.delete(id);
    this._set({ toasts: this.snapshot.toasts.filter((t) => t.id !== id) });
  }

  _event(frame) {
    const data = frame.data || {};
    if (typeof data.unreadCount === "number") this._pushes += 1;
    if (frame.type === "NOTIFICATION") this._notification(frame, data);
    else if (frame.type === "NOTIFICATION_READ") this._read(data);
  }

  _notification(frame, data) {
    // a stored notification carries `notification`; a bare NOTIFICATION event carries the fields itself
    const stored = data.notification;
    const notification = stored || { id: `${frame.room}@${frame.offset}`, title: data.title || "Notification",
      message: data.message || "", priority: data.priority || "NORMAL", type: "NOTIFICATION", read: false,
      createdAt: frame.timestamp, data: data.data || null, link: data.link || null };
    const others = this.snapshot.notifications.filter((n) => n.id !== notification.id);
    const unreadCount = typeof data.unreadCount === "number" ? data.unreadCount
      : this.snapshot.unreadCount + (others.length === this.snapshot.notifications.length ? 1 : 0);
    const list = [notification, ...others];
    const kept = list.slice(0, LIST_MAX);
    // a list cut at its bound goes on, with "load more", from the last one kept
    const nextCursor = kept.length < list.length ? String(kept[kept.length - 1].id) : this.snapshot.nextCursor;
    this._set({ notifications: kept, unreadCount, nextCursor });
    const silent = data.silent === true;
    const toastWanted = stored ? data.toast !== false : true;
    if (!silent && toastWanted && priorityAtLeast(notification.priority, this.options.toastMinPriority)) {
      this._toast(notification);
    }
    if (!silent && data.browser === true && this.options.browserNotifications) this._browser(notification);
  }

  _toast(notification) {
    this._ack([notification], true);
    const toast = { id: notification.id, notification };
    this._set({ toasts: [...this.snapshot.toasts.filter((t) => t.id !== toast.id), toast].slice(-5) });
    if (notification.priority !== "URGENT") {
      this._timers.set(toast.id, setTimeout(() => this.dismissToast(toast.id), this.options.toastMs));
    }
  }

  _browser(notification) {
    const N = globalThis.Notification;
    if (!N || N.permission !== "granted") return;
    try {
      new N(notification.title, { body: notification.message, tag: `rt-${notification.id}` });
    } catch {
      /* some browsers only allow it from a service worker */
    }
  }

  _read(data) {
    const ids = new Set((data.ids || []).map(String));
    if (data.deleted) {
      this._set({ notifications: this.snapshot.notifications.filter((n) => !ids.has(String(n.id))) });
    } else {
      this._patch(ids, { read: data.read !== false });
    }
    if (typeof data.unreadCount === "number") this._set({ unreadCount: data.unreadCount });
  }

  _patch(ids, { read }) {
    const wanted = new Set([...ids].map(String));
    const readAt = read ? new Date().toISOString() : null;
    this._set({ notifications: this.snapshot.notifications.map((n) => (wanted.has(String(n.id)) ? { ...n, read, readAt } : n)) });
  }
}

function browserPermission() {
  const N = globalThis.Notification;
  return N ? N.permission : "unsupported";
}
