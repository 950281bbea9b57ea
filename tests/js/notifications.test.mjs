// Unit tests of notifications.js (the store the dashboard and the React package share): paging with
// nextCursor, and the in-memory bound. The REST side is a small stand-in for client.api; the real
// server is exercised by the browser tests.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { NotificationStore } from "../../web/static/notifications.js";

function fakeClient(all, pageSize) {
  const calls = [];
  return {
    calls,
    state: "open",
    on: () => () => {},
    connect() {},
    async api(path) {
      calls.push(path);
      const url = new URL(path, "http://x");
      const before = url.searchParams.get("before");
      const start = before ? all.findIndex((n) => n.id === before) + 1 : 0;
      const page = all.slice(start, start + pageSize);
      const more = start + pageSize < all.length;
      return { notifications: page, unreadCount: all.length, nextCursor: more ? page[page.length - 1].id : null };
    },
  };
}

const notifications = (count) => Array.from({ length: count }, (_, i) => ({ id: String(count - i), title: `n${count - i}`,
  priority: "LOW", read: false }));

describe("NotificationStore paging", () => {
  test("loadMore appends the next page from nextCursor until there is none", async () => {
    const all = notifications(5);
    const client = fakeClient(all, 2);
    const store = new NotificationStore(client, { pageSize: 2 });
    await store.refresh();
    assert.deepEqual(store.getSnapshot().notifications.map((n) => n.id), ["5", "4"]);
    assert.equal(store.getSnapshot().nextCursor, "4");
    assert.equal(await store.loadMore(), true);
    assert.equal(await store.loadMore(), true);
    assert.deepEqual(store.getSnapshot().notifications.map((n) => n.id), ["5", "4", "3", "2", "1"]);
    assert.equal(store.getSnapshot().nextCursor, null);
    assert.equal(await store.loadMore(), false, "nothing more to load");
    assert.deepEqual(client.calls.slice(1), ["/api/notifications?limit=2&before=4", "/api/notifications?limit=2&before=2"]);
  });

  test("a push keeps what load-more fetched", async () => {
    const client = fakeClient(notifications(4), 2);
    const store = new NotificationStore(client, { pageSize: 2 });
    await store.refresh();
    await store.loadMore();
    store._event({ type: "NOTIFICATION", room: "user:1", offset: 1, data: { notification: { id: "9", title: "new",
      priority: "LOW", read: false }, unreadCount: 5 } });
    assert.deepEqual(store.getSnapshot().notifications.map((n) => n.id), ["9", "4", "3", "2", "1"]);
    assert.equal(store.getSnapshot().unreadCount, 5);
  });
});
