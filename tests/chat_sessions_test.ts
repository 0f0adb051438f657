/**
 * Several sessions of one user across chat nodes (in one process: a real
 * status role, real gRPC and real WebSockets): every session on every node
 * receives, the sender's other sessions get its messages, read state is the
 * user's, presence changes only at the first open and the last close, a
 * logout ends only its own session, the cap ends the oldest session
 * wherever it is, and presence lost by the engine is written back. Each
 * check is on the clients' own view (what each would show, once).
 */
import assert from "node:assert/strict";
import { startCluster, type TestCluster } from "../server/chat/_test_kit.ts";
import { clearNodePresence, getSessions } from "../server/engine/presence.ts";
import { type ChatClient, eventually, sleep } from "../testing/mod.ts";
import type { User } from "../server/store/types.ts";

/** Waits until every client shows `ids` (and nothing else from that conversation), each once. */
async function allShow(clients: ChatClient[], peer: number, ids: number[]): Promise<void> {
  for (const c of clients) {
    await eventually(() => c.inbox.view(peer).length >= ids.length, {
      what: `a client to show ${ids.length} messages with ${peer}`,
    });
    assert.deepEqual(c.inbox.view(peer).map((m) => m.id).sort((x, y) => x - y), ids);
  }
}

async function users(c: TestCluster, ...names: string[]): Promise<User[]> {
  return await Promise.all(names.map((n) => c.user(n)));
}

Deno.test("three sessions of one user on two nodes all receive, see their own messages and share read state; presence moves only at the edges", async () => {
  const c = await startCluster();
  try {
    await c.addNode();
    const [alice, bob, carol] = await users(c, "alice", "bob", "carol");
    await c.befriend(alice, bob);
    await c.befriend(alice, carol);
    const b = await c.connect(bob, { node: 0 });
    const watch = await c.connect(carol, { node: 1 });
    const aPresence = () => watch.events("presence", (e) => e.user_id === alice.id);
    const laptop = await c.connect(alice, { node: 0, device: "laptop" });
    await watch.next("presence", (e) => e.user_id === alice.id && e.online);
    const phone = await c.connect(alice, { node: 1, device: "phone" });
    const tablet = await c.connect(alice, { node: 1, device: "tablet" });
    const mine = [laptop, phone, tablet];
    assert.deepEqual(
      (await getSessions(c.engine, alice.id)).map((s) => [s.node, s.device]).sort(),
      [["chat-1", "laptop"], ["chat-2", "phone"], ["chat-2", "tablet"]],
    );

    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const m = await b.request("msg.send", { to: alice.id, text: `b${i}`, client_id: `b${i}` });
      ids.push(m.message.id);
    }
    // From the laptop (node 1) and the phone (node 2): the others get them as their own.
    ids.push(
      (await laptop.request("msg.send", { to: bob.id, text: "l", client_id: "l" })).message.id,
    );
    ids.push(
      (await phone.request("msg.send", { to: bob.id, text: "p", client_id: "p" })).message.id,
    );
    await allShow([...mine, b], bob.id, ids);
    for (const s of mine) {
      await eventually(() => s.inbox.held === 5, { what: "each device to hold all five" });
      assert.equal(s.inbox.duplicates, 0, "nothing came twice");
      assert.equal(s.inbox.fetches, 0, "no gap had to be filled by the client");
    }
    // The same seq on every device: one inbox.
    assert.deepEqual(
      mine.map((s) => s.inbox.view().map((m) => m.seq)),
      [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [1, 2, 3, 4, 5]],
    );

    // Reading on the tablet clears it everywhere.
    await tablet.request("msg.ack", { peer: bob.id, read: ids[2] });
    for (const s of [laptop, phone]) {
      const r = await s.next("msg.read");
      assert.deepEqual([r.peer, r.read_id], [bob.id, ids[2]]);
    }
    assert.equal((await b.next("msg.status", (e) => e.read_id === ids[2])).peer, alice.id);
    await sleep(100);
    assert.equal(tablet.events("msg.read").length, 0);

    // Sessions close one by one: carol hears of alice only at the last.
    await phone.close();
    await laptop.close();
    await watch.request("friend.list");
    await sleep(200);
    assert.equal(aPresence().length, 1, "still the one online event");
    await tablet.close();
    await watch.next("presence", (e) => e.user_id === alice.id && !e.online);
    assert.equal(aPresence().length, 2);
  } finally {
    await c.close();
  }
});

Deno.test("a logout ends only the session of its token; the user's other devices stay and receive", async () => {
  const c = await startCluster();
  try {
    await c.addNode();
    const [alice, bob] = await users(c, "alice", "bob");
    await c.befriend(alice, bob);
    const t1 = await c.login(alice.id);
    const a1 = await c.connect(alice, { node: 0, token: t1.token, device: "one" });
    const a2 = await c.connect(alice, { node: 1, device: "two" });
    const a3 = await c.connect(alice, { node: 0, device: "three" });
    const b = await c.connect(bob, { node: 1 });
    // What the gate does for a logout: status ends the sessions of that token.
    const reply = await c.status.Kick({
      user: { id: alice.id, login: "" },
      reason: "logged out",
      token_id: t1.jti,
    });
    assert.deepEqual(reply, { kicked: true, node: "chat-1", sessions: 1 });
    assert.equal((await a1.next("kicked")).reason, "logged out");
    assert.equal((await a1.closed).code, 4003);
    const m = await b.request("msg.send", { to: alice.id, text: "still there?", client_id: "1" });
    await allShow([a2, a3], bob.id, [m.message.id]);
    assert.ok(a2.isOpen && a3.isOpen);
    assert.deepEqual((await getSessions(c.engine, alice.id)).map((s) => s.device).sort(), [
      "three",
      "two",
    ]);
    assert.equal(b.events("presence", (e) => e.user_id === alice.id && !e.online).length, 0);
  } finally {
    await c.close();
  }
});

Deno.test("past the cap, the oldest session is ended on whichever node holds it", async () => {
  const c = await startCluster({ maxSessionsPerUser: 2 });
  try {
    await c.addNode();
    const [alice] = await users(c, "alice");
    const oldest = await c.connect(alice, { node: 1, device: "old" });
    const second = await c.connect(alice, { node: 0, device: "mid" });
    const third = await c.connect(alice, { node: 0, device: "new" });
    assert.match((await oldest.next("kicked")).reason, /too many sessions/);
    assert.equal((await oldest.closed).code, 4003);
    assert.ok(second.isOpen && third.isOpen);
    await eventually(async () =>
      (await getSessions(c.engine, alice.id)).map((s) => s.device).sort().join() === "mid,new"
    );
  } finally {
    await c.close();
  }
});

Deno.test("presence the engine lost (data gone, or wiped for a node taken for dead) is written back, and routing resumes", async () => {
  const c = await startCluster();
  try {
    await c.addNode();
    const [alice, bob] = await users(c, "alice", "bob");
    await c.befriend(alice, bob);
    const a = await c.connect(alice, { node: 0 });
    const b = await c.connect(bob, { node: 1 });
    // Redis restarted empty: the presence hash and the nodes' markers are gone.
    await c.engine.del("presence");
    for (const n of c.nodes) await c.engine.del(`presence:node:${n.name}`);
    await eventually(async () => (await getSessions(c.engine, bob.id)).length === 1, {
      what: "bob's node to write his session back",
      timeoutMs: 3000,
    });
    const m1 = await a.request("msg.send", { to: bob.id, text: "after the loss", client_id: "1" });
    await allShow([b], alice.id, [m1.message.id]);
    // Status wipes chat-2 as if it were dead (its marker goes last): chat-2 writes it back.
    await clearNodePresence(c.engine, "chat-2");
    await eventually(async () => (await getSessions(c.engine, bob.id)).length === 1, {
      what: "chat-2 to write bob's session back",
      timeoutMs: 3000,
    });
    const m2 = await a.request("msg.send", { to: bob.id, text: "after the wipe", client_id: "2" });
    await allShow([b], alice.id, [m1.message.id, m2.message.id]);
    assert.equal(b.inbox.duplicates, 0);
  } finally {
    await c.close();
  }
});

Deno.test("status stopped for 25 s: users on two nodes keep chatting live, and nothing is lost", async () => {
  // The head sweep is out of the way: what arrives, arrives by push (or the stream's gap fill).
  const c = await startCluster({ headCheckMs: 60_000, heartbeatMs: 4000 });
  try {
    await c.addNode();
    const [alice, bob, carol, dave] = await users(c, "alice", "bob", "carol", "dave");
    await c.befriend(alice, bob);
    await c.befriend(carol, dave);
    const a = await c.connect(alice, { node: 0 });
    const b = await c.connect(bob, { node: 1 });
    const cl = await c.connect(carol, { node: 1 });
    const d = await c.connect(dave, { node: 0 });
    const pairs: [ChatClient, ChatClient, User][] = [[a, b, bob], [b, a, alice], [cl, d, dave], [
      d,
      cl,
      carol,
    ]];
    const late: string[] = [];
    const sent = new Map<ChatClient, number[]>();
    let n = 0;
    const round = async (checkLive: boolean) => {
      await Promise.all(pairs.map(async ([from, to, toUser]) => {
        const id = `m${n++}`;
        const r = await from.request("msg.send", { to: toUser.id, text: id, client_id: id });
        const t0 = Date.now();
        sent.set(to, [...(sent.get(to) ?? []), r.message.id]);
        await eventually(() => to.inbox.has(r.message.id), { what: `${id} to arrive` });
        if (checkLive && Date.now() - t0 > 1500) late.push(`${id}: ${Date.now() - t0} ms`);
      }));
    };
    await round(true);
    await c.stopStatus();
    const until = Date.now() + 25_000;
    while (Date.now() < until) {
      await round(true);
      await sleep(250);
    }
    assert.deepEqual(late, [], "every message arrived live while status was down");
    await c.startStatus();
    for (let i = 0; i < 12; i++) {
      await round(false);
      await sleep(250);
    }
    for (const [to, ids] of sent) {
      const shown = to.inbox.view().filter((m) => m.to === to.welcome!.user.id).map((m) => m.id);
      assert.deepEqual(shown.sort((x, y) => x - y), ids, "each message shown once, none missing");
      assert.equal(to.inbox.duplicates, 0);
    }
    assert.ok(b.isOpen && cl.isOpen, "no session was lost");
  } finally {
    await c.close();
  }
});

Deno.test("sessions on two nodes do not get the message rate twice", async () => {
  const c = await startCluster({ msgRate: 4, msgBurst: 8 });
  try {
    await c.addNode();
    const [alice, bob] = await users(c, "alice", "bob");
    await c.befriend(alice, bob);
    await c.connect(bob, { node: 0 });
    const here = await c.connect(alice, { node: 0 });
    const there = await c.connect(alice, { node: 1 });
    let accepted = 0;
    let n = 0;
    const t0 = Date.now();
    const flood = async (s: ChatClient) => {
      while (Date.now() - t0 < 3000) {
        const id = `m${n++}`;
        await s.request("msg.send", { to: bob.id, text: id, client_id: id }).then(
          () => accepted++,
          (e) => assert.equal(e.code, "rate_limited"),
        );
        await sleep(20);
      }
    };
    await Promise.all([flood(here), flood(there)]);
    const elapsed = (Date.now() - t0) / 1000;
    // One user's budget: the burst plus the rate over the time, whatever the number of nodes
    // (a little more while a node has not yet seen the other session: its first message).
    const budget = 8 + 4 * elapsed + 2;
    assert.ok(accepted <= budget, `${accepted} messages in ${elapsed} s, budget ${budget}`);
    assert.ok(accepted >= 8, `${accepted} messages: the rate still lets some through`);
  } finally {
    await c.close();
  }
});
