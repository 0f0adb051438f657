/**
 * A MySQL outage seen through the store: a TCP proxy between the store and
 * the test server is cut (connections reset, then refused) or frozen
 * (connections open, nothing answers), and every call must fail as AppError
 * `store_unavailable` (503, with retryAfterS) within its bound, never hang
 * or leak a driver error, and the store must work again once MySQL is back.
 */
import assert from "node:assert/strict";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { AppError } from "../../proto/errors.ts";
import { eventually, freshMysql, MYSQL_URL } from "../../testing/mod.ts";
import { silentLogger } from "../log.ts";
import { type MysqlTimeouts, openMysql } from "./mysql.ts";
import type { MessageInput, Store } from "./types.ts";

/** A TCP proxy to MySQL that a test can cut (reset and refuse) or freeze (accept, never answer). */
class Proxy {
  #server: Server | undefined;
  #sockets = new Set<Socket>();
  #frozen = false;
  port = 0;

  async listen(): Promise<void> {
    const target = new URL(MYSQL_URL);
    const server = createServer((client) => {
      this.#sockets.add(client);
      client.on("close", () => this.#sockets.delete(client));
      client.on("error", () => {});
      if (this.#frozen) return; // a black hole: the handshake never comes
      const upstream = createConnection(Number(target.port || 3306), target.hostname);
      this.#sockets.add(upstream);
      upstream.on("close", () => {
        this.#sockets.delete(upstream);
        client.destroy();
      });
      upstream.on("error", () => {});
      client.on("close", () => upstream.destroy());
      client.on("data", (b) => this.#frozen || upstream.write(b));
      upstream.on("data", (b) => this.#frozen || client.write(b));
    });
    await new Promise<void>((resolve) => server.listen(this.port, "127.0.0.1", resolve));
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  /** Resets every connection and stops listening: new ones are refused. */
  async cut(): Promise<void> {
    this.#frozen = false;
    for (const s of this.#sockets) s.destroy();
    await new Promise((resolve) => this.#server?.close(resolve));
    this.#server = undefined;
  }

  /** Drops everything sent either way from now on, and leaves new connections unanswered. */
  freeze(): void {
    this.#frozen = true;
  }

  /** Ends a freeze by resetting what it held (MySQL's side of it has moved on). */
  thaw(): void {
    this.#frozen = false;
    for (const s of this.#sockets) s.destroy();
  }

  async close(): Promise<void> {
    await this.cut();
  }
}

/** That `p` rejects with store_unavailable (its cause saying `why`) within `maxMs`. */
async function unavailableWithin(p: Promise<unknown>, maxMs: number, why = /./): Promise<void> {
  const t0 = Date.now();
  await assert.rejects(p, (e) => {
    assert.ok(e instanceof AppError, String(e));
    assert.deepEqual([e.code, e.status], ["store_unavailable", 503]);
    assert.ok((e.retryAfterS ?? 0) > 0);
    assert.match(String((e as { cause?: unknown }).cause ?? e.message), why);
    return true;
  });
  const took = Date.now() - t0;
  assert.ok(took <= maxMs, `took ${took} ms, more than ${maxMs}`);
}

async function withProxiedStore(
  timeouts: MysqlTimeouts,
  fn: (store: Store, proxy: Proxy, users: number[]) => Promise<void>,
) {
  const db = await freshMysql();
  const proxy = new Proxy();
  await proxy.listen();
  const url = new URL(db.url);
  url.port = String(proxy.port);
  const store = await openMysql(url.toString(), { log: silentLogger, timeouts });
  try {
    await store.migrate();
    const users = [];
    for (const name of ["ann", "bob"]) {
      users.push((await store.createUser({ email: `${name}@x.org`, name, passwordHash: "h" })).id);
    }
    await fn(store, proxy, users);
  } finally {
    await proxy.close();
    await store.close();
    await db.drop();
  }
}

const msg = (from: number, to: number, clientId: string): MessageInput => ({
  senderId: from,
  recipientId: to,
  clientId,
  text: clientId,
  createdAt: 1,
});

Deno.test("mysql outage: a cut connection and a refused one fail as store_unavailable, then the store recovers", async () => {
  await withProxiedStore(
    { connectMs: 1000, acquireMs: 2000, queryMs: 5000 },
    async (store, proxy, [ann, bob]) => {
      await store.insertMessages([msg(ann, bob, "before")]);
      // A query in flight when the connection drops...
      proxy.freeze();
      const inFlight = store.insertMessages([msg(ann, bob, "lost")]);
      inFlight.catch(() => {});
      await new Promise((r) => setTimeout(r, 200));
      await proxy.cut();
      await unavailableWithin(inFlight, 2000, /lost|closed|reset/i);
      // ...then pooled connections are gone and new ones refused: each kind of call fails fast.
      await unavailableWithin(store.userById(ann), 3000, /ECONNREFUSED/);
      // Clients see the error: it does not name the database's address.
      const seen = await store.userById(ann).catch((e) => e);
      assert.ok(
        seen instanceof AppError && !seen.message.includes(String(proxy.port)),
        seen.message,
      );
      await unavailableWithin(store.insertMessages([msg(ann, bob, "1"), msg(bob, ann, "2")]), 3000);
      await unavailableWithin(store.insertMessage(msg(ann, bob, "3")), 3000);
      await unavailableWithin(store.createFriendRequest(ann, bob, "hi"), 3000);
      await unavailableWithin(store.inboxHeads([ann, bob]), 3000);
      await unavailableWithin(store.migrate(), 3000);
      await unavailableWithin(
        openMysql(`mysql://root@127.0.0.1:${proxy.port}/x`, { log: silentLogger }),
        3000,
      );
      await proxy.listen();
      await eventually(() => store.userById(ann).then((u) => u !== null, () => false));
      const [r] = await store.insertMessages([msg(ann, bob, "after")]);
      assert.deepEqual([r.duplicate, r.senderSeq, r.recipientSeq], [false, 2, 2]);
      assert.equal(await store.countMessages(), 2, "the lost batch was not stored");
    },
  );
});

Deno.test("mysql outage: an unanswering server fails calls after the query timeout, and waiters after the pool timeout", async () => {
  await withProxiedStore(
    { connectMs: 500, acquireMs: 1000, queryMs: 1500 },
    async (store, proxy, [ann, bob]) => {
      // Ten established connections in the pool.
      const warm = Array.from({ length: 10 }, (_, i) => msg(ann, bob, `w${i}`));
      await Promise.all(warm.map((m) => store.insertMessage(m)));
      proxy.freeze();
      // Ten calls take every pooled connection and wait for answers that do not come...
      const held = Array.from(
        { length: 10 },
        (_, i) => store.insertMessage(msg(ann, bob, `h${i}`)),
      );
      held.forEach((p) => p.catch(() => {}));
      await new Promise((r) => setTimeout(r, 100));
      // ...so the next waits for a connection, and gives up after acquireMs.
      await unavailableWithin(store.userById(ann), 1800, /no free MySQL connection/);
      for (const p of held) await unavailableWithin(p, 3000, /Query inactivity timeout/);
      // A fresh connection's handshake is never answered either.
      await unavailableWithin(store.countUsers(), 2500, /ETIMEDOUT/);
      proxy.thaw();
      await eventually(() => store.countUsers().then((n) => n === 2, () => false));
      // No call stored anything half-way.
      const out = await store.insertMessages([msg(ann, bob, "h0"), msg(bob, ann, "x")]);
      assert.deepEqual(out.map((r) => r.duplicate), [false, false]);
      await store.insertMessages(Array.from({ length: 10 }, (_, i) => msg(ann, bob, `h${i}`)));
      assert.equal(await store.countMessages(), 21);
      assert.equal(await store.inboxHead(ann), 21);
    },
  );
});
