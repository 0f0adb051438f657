/** The in-process router: every session is on this node. */
import assert from "node:assert/strict";
import { LocalSessions } from "./local_sessions.ts";
import { chatMetrics } from "./metrics.ts";
import { InProcessRouter } from "./route_local.ts";
import { RecordingSession } from "./_routing_fakes.ts";

function setup() {
  const metrics = chatMetrics("solo");
  const sessions = new LocalSessions(metrics);
  return { metrics, sessions, router: new InProcessRouter(sessions, metrics) };
}

Deno.test("InProcessRouter delivers events and encoded JSON to the user's session and drops them for others", async () => {
  const { sessions, router } = setup();
  const bob = new RecordingSession(2);
  sessions.add(bob);
  await router.deliver(2, { type: "typing", from: 1, active: true });
  await router.deliver(2, '{"type":"presence","user_id":1,"online":true,"last_seen":null}');
  await router.deliver(3, { type: "typing", from: 1, active: true });
  await router.deliverMany([2, 3, 4], {
    type: "presence",
    user_id: 1,
    online: false,
    last_seen: 5,
  });
  assert.deepEqual(bob.got, [
    { type: "typing", from: 1, active: true },
    '{"type":"presence","user_id":1,"online":true,"last_seen":null}',
    { type: "presence", user_id: 1, online: false, last_seen: 5 },
  ]);
});

Deno.test("InProcessRouter: online() is having a session here, kick() ends it (only the named one)", async () => {
  const { sessions, router, metrics } = setup();
  const bob = new RecordingSession(2, "b1");
  sessions.add(bob);
  assert.deepEqual(await router.online([1, 2, 3]), new Set([2]));
  assert.equal(await router.kick(2, { reason: "x", replaced: false, session: "other" }), false);
  assert.equal(bob.kicked, null);
  assert.equal(await router.kick(1, { reason: "x", replaced: false }), false);
  assert.equal(await router.kick(2, { reason: "logged in elsewhere", replaced: true }), true);
  assert.deepEqual(bob.kicked, { reason: "logged in elsewhere", replaced: true });
  assert.match(
    await metrics.registry.text(),
    /parley_chat_kicks_total\{[^}]*where="local"[^}]*\} 1/,
  );
});

Deno.test("InProcessRouter observes a message's delivery latency when it is pushed", async () => {
  const { sessions, router, metrics } = setup();
  sessions.add(new RecordingSession(2));
  await router.deliver(2, { type: "typing", from: 1, active: true }, { sentAt: Date.now() - 5 });
  await router.deliver(3, { type: "typing", from: 1, active: true }, { sentAt: Date.now() });
  assert.match(
    await metrics.registry.text(),
    /parley_chat_delivery_latency_seconds_count\{[^}]*path="local"[^}]*\} 1/,
  );
});

Deno.test("InProcessRouter reaches every session of a user but the excluded one, and kicks one by id", async () => {
  const { sessions, router } = setup();
  const [a, b] = [new RecordingSession(2, "a"), new RecordingSession(2, "b")];
  sessions.add(a);
  sessions.add(b);
  await router.deliver(2, { type: "typing", from: 1, active: true });
  await router.deliver(2, '{"type":"msg.new","message":{"id":5,"from":2}}', {
    exclude: "a",
    item: { seq: 3, from: 2, id: 5 },
  });
  assert.deepEqual([a.got.length, b.got.length], [1, 2]);
  assert.deepEqual(b.items, [{ seq: 3, from: 2, id: 5 }]);
  assert.equal(
    await router.kickSessions(2, [{ node: "solo", session: "b", since: 1 }], {
      reason: "cap",
      replaced: true,
    }),
    1,
  );
  assert.deepEqual([a.kicked, b.kicked], [null, { reason: "cap", replaced: true }]);
  assert.equal(sessions.size, 2, "a kicked session leaves when it closes, not before");
});
