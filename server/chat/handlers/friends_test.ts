import assert from "node:assert/strict";
import { startTestNode } from "../_test_node.ts";
import { FRIEND_CHURN } from "./friends.ts";
import { eventually, RequestError } from "../../../testing/mod.ts";

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RequestError) return e.code;
    throw e;
  }
  return "ok";
}

Deno.test("user.search finds by name prefix or exact e-mail, pages, and never shows e-mails or oneself", async () => {
  const c = await startTestNode();
  try {
    const alice = await c.user("alice");
    for (const n of ["bob", "bobby", "bobo"]) await c.user(n);
    const carol = await c.user("carol");
    await c.user("alicia");
    const a = await c.connect(alice);
    const p1 = await a.request("user.search", { query: "BO", limit: 2 });
    assert.deepEqual(p1.users.map((u) => u.name), ["bob", "bobby"]);
    assert.ok(p1.next);
    const p2 = await a.request("user.search", { query: "bo", limit: 2, after: p1.next });
    assert.deepEqual(p2.users.map((u) => u.name), ["bobo"]);
    assert.equal(p2.next, null);
    await c.store.updateProfile(carol.id, { findableByEmail: true });
    const byMail = await a.request("user.search", { query: "carol@example.com" });
    assert.deepEqual(byMail.users.map((u) => u.name), ["carol"]);
    assert.deepEqual(Object.keys(byMail.users[0]).sort(), ["display_name", "id", "name"]);
    const ali = await a.request("user.search", { query: "ali" });
    assert.deepEqual(ali.users.map((u) => u.name), ["alicia"]);
    assert.equal(
      await code(a.request("user.search", { query: "bo", after: "%%%" })),
      "invalid_request",
    );
  } finally {
    await c.close();
  }
});

Deno.test("a friend request reaches the other user live, and accepting makes both friends", async () => {
  const c = await startTestNode();
  try {
    const alice = await c.user("alice");
    const bob = await c.user("bob");
    const a = await c.connect(alice);
    const b = await c.connect(bob);
    const sent = await a.request("friend.request", { user_id: bob.id, greeting: "hi Bob 👋" });
    assert.deepEqual(sent, {
      status: "sent",
      user: { id: bob.id, name: "bob", display_name: "" },
    });
    const ev = await b.next("friend.request");
    assert.equal(ev.request.from.id, alice.id);
    assert.equal(ev.request.greeting, "hi Bob 👋");
    assert.equal(
      (await a.request("friend.request", { user_id: bob.id })).status,
      "already_sent",
    );
    const reqs = await b.request("friend.requests");
    assert.deepEqual(reqs.incoming.map((r) => r.from.name), ["alice"]);
    assert.deepEqual(reqs.outgoing, []);
    assert.deepEqual((await a.request("friend.requests")).outgoing.map((r) => r.to.name), ["bob"]);

    const acc = await b.request("friend.accept", { user_id: alice.id });
    assert.equal(acc.friend.user.id, alice.id);
    assert.equal(acc.friend.online, true);
    const accepted = await a.next("friend.accepted");
    assert.equal(accepted.friend.user.id, bob.id);
    assert.equal(accepted.friend.online, true);
    assert.deepEqual((await a.request("friend.list")).friends.map((f) => f.user.name), ["bob"]);
    assert.equal(await code(a.request("friend.request", { user_id: bob.id })), "already_friends");
    assert.equal(
      await code(b.request("friend.accept", { user_id: alice.id })),
      "request_not_found",
    );
  } finally {
    await c.close();
  }
});

Deno.test("friend requests to oneself, to a missing user, or resolved twice get their codes", async () => {
  const c = await startTestNode();
  try {
    const alice = await c.user("alice");
    const bob = await c.user("bob");
    const a = await c.connect(alice);
    assert.equal(await code(a.request("friend.request", { user_id: alice.id })), "self_request");
    assert.equal(await code(a.request("friend.request", { user_id: 999_999 })), "user_not_found");
    assert.equal(await code(a.request("friend.decline", { user_id: bob.id })), "request_not_found");
    assert.equal(await code(a.request("friend.cancel", { user_id: bob.id })), "request_not_found");
    assert.equal(await code(a.request("friend.remove", { user_id: bob.id })), "not_friends");
    assert.equal(
      await code(a.request("friend.request", { user_id: bob.id, greeting: "x".repeat(201) })),
      "invalid_request",
    );
    assert.deepEqual(await c.store.pendingRequests(alice.id), { incoming: [], outgoing: [] });
  } finally {
    await c.close();
  }
});

Deno.test("crossing requests make a friendship and both sides get friend.accepted", async () => {
  const c = await startTestNode();
  try {
    const alice = await c.user("alice");
    const bob = await c.user("bob");
    const a = await c.connect(alice);
    const b = await c.connect(bob);
    await a.request("friend.request", { user_id: bob.id });
    const r = await b.request("friend.request", { user_id: alice.id });
    assert.equal(r.status, "accepted");
    assert.equal((await a.next("friend.accepted")).friend.user.id, bob.id);
    assert.equal((await b.next("friend.accepted")).friend.user.id, alice.id);
    assert.ok(await c.store.areFriends(alice.id, bob.id));
  } finally {
    await c.close();
  }
});

Deno.test("decline, cancel and remove are told to the other user", async () => {
  const c = await startTestNode();
  try {
    const alice = await c.user("alice");
    const bob = await c.user("bob");
    const a = await c.connect(alice);
    const b = await c.connect(bob);
    await a.request("friend.request", { user_id: bob.id });
    await b.request("friend.decline", { user_id: alice.id });
    assert.equal((await a.next("friend.declined")).user_id, bob.id);
    await a.request("friend.request", { user_id: bob.id });
    await b.next("friend.request");
    await a.request("friend.cancel", { user_id: bob.id });
    assert.equal((await b.next("friend.cancelled")).user_id, alice.id);
    await c.befriend(alice, bob);
    await a.request("msg.send", { to: bob.id, text: "hi", client_id: "1" });
    await b.request("friend.remove", { user_id: alice.id });
    assert.equal((await a.next("friend.removed")).user_id, bob.id);
    // alice's cached friendship is dropped by the event: no more messages.
    assert.equal(
      await code(a.request("msg.send", { to: bob.id, text: "still there?", client_id: "2" })),
      "not_friends",
    );
    assert.deepEqual((await b.request("friend.list")).friends, []);
  } finally {
    await c.close();
  }
});

Deno.test("an offline user sees pending requests at the next login", async () => {
  const c = await startTestNode();
  try {
    const alice = await c.user("alice");
    const bob = await c.user("bob");
    const a = await c.connect(alice);
    await a.request("friend.request", { user_id: bob.id, greeting: "hello" });
    const b = await c.connect(bob);
    assert.equal(b.welcome!.pending_requests, 1);
    const reqs = await b.request("friend.requests");
    assert.equal(reqs.incoming[0].greeting, "hello");
  } finally {
    await c.close();
  }
});

Deno.test("friend.list shows online state, last seen and unread counts", async () => {
  const c = await startTestNode();
  try {
    const alice = await c.user("alice");
    const bob = await c.user("bob");
    const carol = await c.user("carol");
    await c.befriend(alice, bob);
    await c.befriend(alice, carol);
    const b = await c.connect(bob);
    await b.request("msg.send", { to: alice.id, text: "one", client_id: "1" });
    await b.request("msg.send", { to: alice.id, text: "two", client_id: "2" });
    const cl = await c.connect(carol);
    await cl.close();
    await eventually(async () => (await c.store.userById(carol.id))!.lastSeenAt !== null);
    const a = await c.connect(alice);
    const list = (await a.request("friend.list")).friends;
    assert.deepEqual(list.map((f) => [f.user.name, f.online, f.unread]), [
      ["bob", true, 2],
      ["carol", false, 0],
    ]);
    assert.equal(list[0].last_seen, null);
    assert.ok(list[1].last_seen! > 0);
  } finally {
    await c.close();
  }
});

Deno.test("requests and cancels to one user are limited per pair: beyond 6 in 10 minutes rate_limited, and the other user hears nothing more", async () => {
  const c = await startTestNode();
  try {
    const [alice, bob, carol] = [await c.user("alice"), await c.user("bob"), await c.user("carol")];
    const a = await c.connect(alice);
    const b = await c.connect(bob);
    const cl = await c.connect(carol);
    for (let i = 0; i < FRIEND_CHURN.limit / 2; i++) {
      await a.request("friend.request", { user_id: bob.id });
      await a.request("friend.cancel", { user_id: bob.id });
    }
    const err = await a.request("friend.request", { user_id: bob.id }).catch((e) => e);
    assert.ok(err instanceof RequestError);
    assert.equal(err.code, "rate_limited");
    const retry = (err.frame as { error: { retry_after_ms: number } }).error.retry_after_ms;
    assert.ok(retry > 9 * 60_000 && retry <= FRIEND_CHURN.windowMs, `retry_after_ms ${retry}`);
    assert.equal(await code(a.request("friend.cancel", { user_id: bob.id })), "rate_limited");
    assert.deepEqual(await c.store.pendingRequests(bob.id), { incoming: [], outgoing: [] });
    // Other pairs are not affected: carol may ask bob, and bob may ask alice.
    assert.equal((await cl.request("friend.request", { user_id: bob.id })).status, "sent");
    assert.equal((await b.request("friend.request", { user_id: alice.id })).status, "sent");
    await b.next("friend.request", (e) => e.request.from.id === carol.id);
    assert.equal(b.events("friend.request", (e) => e.request.from.id === alice.id).length, 3);
    assert.equal(b.events("friend.cancelled").length, 3);
  } finally {
    await c.close();
  }
});
