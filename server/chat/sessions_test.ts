/**
 * Several sessions of one user on one node (fake connections, in-process
 * routing): every session receives, the sender's other sessions get its
 * message, read state is the user's, presence changes only at the first
 * open and the last close, the cap ends the oldest session, quiet sessions
 * stay out of everything, and a device syncs what it missed while another
 * stayed online. Across nodes: tests/chat_sessions_test.ts.
 */
import assert from "node:assert/strict";
import { eventually, sleep, withoutSeq } from "../../testing/mod.ts";
import { getSessions } from "../engine/presence.ts";
import { startTestNode } from "./_test_node.ts";

Deno.test("every session of a user gets a message to the user, and the sender's other sessions get the user's own", async () => {
  const c = await startTestNode();
  try {
    const [alice, bob] = [await c.user("alice"), await c.user("bob")];
    await c.befriend(alice, bob);
    const laptop = await c.connect(alice, { device: "laptop", label: "Laptop" });
    const phone = await c.connect(alice, { device: "phone" });
    const term = await c.connect(alice, { device: "term" });
    const b = await c.connect(bob);
    assert.deepEqual(laptop.welcome!.device, { id: "laptop", label: "Laptop" });
    assert.equal((await getSessions(c.engine, alice.id)).length, 3);

    const toAlice = (await b.request("msg.send", { to: alice.id, text: "hi", client_id: "b1" }))
      .message;
    for (const s of [laptop, phone, term]) {
      const got = (await s.next("msg.new")).message;
      assert.deepEqual(withoutSeq(got), withoutSeq(toAlice));
      assert.equal(got.seq, 1, "the seq in alice's inbox, the same on every device");
    }
    const fromLaptop = (await laptop.request("msg.send", {
      to: bob.id,
      text: "hello from the laptop",
      client_id: "a1",
    })).message;
    assert.equal(fromLaptop.seq, 2);
    assert.equal((await b.next("msg.new")).message.id, fromLaptop.id);
    for (const s of [phone, term]) {
      const own = (await s.next("msg.new", (e) => e.message.from === alice.id)).message;
      assert.deepEqual(own, fromLaptop, "the same message, at the same seq");
    }
    await sleep(100);
    assert.equal(laptop.events("msg.new").length, 1, "the sending session has it as its result");
    // Each screen shows the conversation the same way, each message once.
    for (const s of [laptop, phone, term]) {
      await eventually(() => s.inbox.held === 2, { what: "each inbox to hold both" });
      assert.deepEqual(s.inbox.view(bob.id).map((m) => m.id), [toAlice.id, fromLaptop.id]);
      assert.equal(s.inbox.duplicates, 0);
    }
  } finally {
    await c.close();
  }
});

Deno.test("read state is the user's: a read on one device is told to the others as msg.read", async () => {
  const c = await startTestNode();
  try {
    const [alice, bob] = [await c.user("alice"), await c.user("bob")];
    await c.befriend(alice, bob);
    const [a1, a2, a3] = [
      await c.connect(alice, { device: "d1" }),
      await c.connect(alice, { device: "d2" }),
      await c.connect(alice, { device: "d3" }),
    ];
    const b = await c.connect(bob);
    const m = (await b.request("msg.send", { to: alice.id, text: "x", client_id: "1" })).message;
    await a1.next("msg.new");
    assert.deepEqual(await a1.request("msg.ack", { peer: bob.id, read: m.id }), {
      delivered_id: m.id,
      read_id: m.id,
    });
    for (const s of [a2, a3]) {
      assert.deepEqual(await s.next("msg.read"), { type: "msg.read", peer: bob.id, read_id: m.id });
    }
    assert.equal((await b.next("msg.status", (e) => e.read_id === m.id)).delivered_id, m.id);
    await sleep(100);
    assert.equal(a1.events("msg.read").length, 0, "the device that read knows");
    // A new device sees it too: nothing unread.
    const a4 = await c.connect(alice, { device: "d4" });
    assert.deepEqual(a4.welcome!.unread, []);
  } finally {
    await c.close();
  }
});

Deno.test("friends see a user come online at the first session and go offline at the last, nothing between", async () => {
  const c = await startTestNode();
  try {
    const [alice, bob] = [await c.user("alice"), await c.user("bob")];
    await c.befriend(alice, bob);
    const b = await c.connect(bob);
    const presence = () => b.events("presence", (e) => e.user_id === alice.id);
    const a1 = await c.connect(alice);
    await b.next("presence", (e) => e.user_id === alice.id && e.online);
    const a2 = await c.connect(alice);
    const a3 = await c.connect(alice);
    await a2.close();
    await a3.close();
    // bob's own ping comes back after anything the closes caused.
    await b.request("friend.list");
    await sleep(100);
    assert.equal(presence().length, 1);
    assert.equal((await b.request("friend.list")).friends[0].online, true);
    await a1.close();
    const off = await b.next("presence", (e) => e.user_id === alice.id && !e.online);
    assert.ok(off.last_seen! > 0);
    assert.equal(presence().length, 2);
    assert.deepEqual(await getSessions(c.engine, alice.id), []);
  } finally {
    await c.close();
  }
});

Deno.test("past chat.maxSessionsPerUser the oldest session is ended, and friends see no change", async () => {
  const c = await startTestNode({ chat: { maxSessionsPerUser: 2 } });
  try {
    const [alice, bob] = [await c.user("alice"), await c.user("bob")];
    await c.befriend(alice, bob);
    const b = await c.connect(bob);
    const a1 = await c.connect(alice, { device: "one" });
    const a2 = await c.connect(alice, { device: "two" });
    await b.next("presence", (e) => e.user_id === alice.id && e.online);
    const a3 = await c.connect(alice, { device: "three" });
    assert.match((await a1.next("kicked")).reason, /too many sessions/);
    assert.equal((await a1.closed).code, 4003);
    assert.ok(a2.isOpen && a3.isOpen);
    const listed = await getSessions(c.engine, alice.id);
    assert.deepEqual(listed.map((s) => s.device).sort(), ["three", "two"]);
    await b.request("friend.list");
    await sleep(100);
    assert.equal(b.events("presence", (e) => e.user_id === alice.id).length, 1);
  } finally {
    await c.close();
  }
});

Deno.test("a quiet session is not announced, is not a device, gets nothing pushed and never ends another", async () => {
  const c = await startTestNode({ chat: { sessions: "single", maxSessionsPerUser: 1 } });
  try {
    const [alice, bob] = [await c.user("alice"), await c.user("bob")];
    await c.befriend(alice, bob);
    const b = await c.connect(bob);
    const screen = await c.connect(alice, { device: "screen" });
    await b.next("presence", (e) => e.user_id === alice.id && e.online);
    const quiet = await c.connect(alice, { quiet: true });
    const w = quiet.welcome!;
    assert.deepEqual([w.quiet, w.device, w.cursor, w.head], [true, null, null, 0]);
    assert.equal(quiet.events("msg.sync").length, 0, "no sync");
    // It sends: the message reaches bob, and alice's screen as her own.
    const sent =
      (await quiet.request("msg.send", { to: bob.id, text: "from a one-shot", client_id: "q1" }))
        .message;
    assert.equal(sent.seq, 1);
    await b.next("msg.new", (e) => e.message.id === sent.id);
    await screen.next("msg.new", (e) => e.message.id === sent.id);
    // It gets no live event, and has no cursor to move.
    await b.request("msg.send", { to: alice.id, text: "reply", client_id: "b1" });
    await screen.next("msg.new", (e) => e.message.from === bob.id);
    const err = await quiet.request("msg.ack", { seq: 1 }).catch((e) => e);
    assert.equal(err.code, "invalid_request");
    const fetched = await quiet.request("msg.fetch", { after: 0 });
    assert.deepEqual(fetched.messages.map((m) => m.seq), [1, 2]);
    assert.equal(fetched.head, 2);
    assert.equal(quiet.events("msg.new").length, 0);
    await quiet.close();
    // Nothing moved for anyone: the screen stayed, no presence flicker, no device.
    await b.request("friend.list");
    await sleep(100);
    assert.ok(screen.isOpen, "not kicked, though the policy is single and the cap 1");
    assert.equal(b.events("presence", (e) => e.user_id === alice.id).length, 1);
    assert.deepEqual((await c.store.devices(alice.id)).map((d) => d.deviceId), ["screen"]);
    assert.deepEqual((await getSessions(c.engine, alice.id)).map((s) => s.device), ["screen"]);
  } finally {
    await c.close();
  }
});

Deno.test("a device that was offline syncs what it missed while another device of the user stayed online", async () => {
  const c = await startTestNode();
  try {
    const [alice, bob] = [await c.user("alice"), await c.user("bob")];
    await c.befriend(alice, bob);
    const b = await c.connect(bob);
    const laptop = await c.connect(alice, { device: "laptop" });
    let phone = await c.connect(alice, { device: "phone" });
    const first =
      (await b.request("msg.send", { to: alice.id, text: "0", client_id: "0" })).message;
    await eventually(() => phone.inbox.held === 1);
    await phone.close();
    const missed = [];
    for (let i = 1; i <= 3; i++) {
      missed.push(
        (await b.request("msg.send", { to: alice.id, text: `${i}`, client_id: `${i}` })).message,
      );
    }
    missed.push(
      (await laptop.request("msg.send", { to: bob.id, text: "4", client_id: "4" })).message,
    );
    await eventually(() => laptop.inbox.held === 5, { what: "the laptop to hold everything" });
    // Wait for the laptop's ack to be written: the phone must not ride on it.
    await eventually(async () =>
      (await c.store.devices(alice.id)).find((d) => d.deviceId === "laptop")?.ackedSeq === 5
    );
    phone = await c.connect(alice, { device: "phone" });
    assert.equal(phone.welcome!.cursor, 1);
    const synced = await phone.syncMessages();
    assert.deepEqual(synced.map((m) => m.id), missed.map((m) => m.id));
    assert.deepEqual(synced.map((m) => m.seq), [2, 3, 4, 5]);
    assert.equal(phone.inbox.has(first.id), false, "what it held before is not sent again");
  } finally {
    await c.close();
  }
});

Deno.test("a message stored behind routing's back reaches an online session within one head sweep, and pong shows the head", async () => {
  const c = await startTestNode({ chat: { headCheckMs: 300 } });
  try {
    const [alice, bob] = [await c.user("alice"), await c.user("bob")];
    await c.befriend(alice, bob);
    // The client neither fetches nor pings: only the server can bring it.
    const a = await c.connect(alice, { ping: false, inbox: { fetch: false } });
    await a.syncMessages();
    const [stored] = await c.store.insertMessages([
      { senderId: bob.id, recipientId: alice.id, clientId: "x", text: "lost push", createdAt: 1 },
    ]);
    const t0 = Date.now();
    const got = await a.next("msg.new", undefined, 2000);
    assert.equal(got.message.id, stored.message.id);
    assert.equal(got.message.seq, 1);
    assert.ok(Date.now() - t0 < 1000, `arrived after ${Date.now() - t0} ms`);
    a.send({ type: "ping", id: "p" });
    assert.equal((await a.next("pong")).head, 1);
  } finally {
    await c.close();
  }
});
