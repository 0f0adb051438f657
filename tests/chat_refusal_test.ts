/**
 * Well-formed requests the server must refuse, over a real socket (one
 * process, sqlite + memory): messages and history with strangers, missing
 * users or oneself, acks for other users' messages, friend requests that
 * make no sense, and messages past the rate. Each gets the code
 * docs/protocol.md §7 and §12 give it, nothing is stored, and nothing
 * reaches another user. Every case sets up its own users (tests/bad_input.ts).
 */
import assert from "node:assert/strict";
import { sleep, withoutSeq } from "../testing/mod.ts";
import type { WireMessage } from "../proto/protocol.ts";
import { friends, leaksSince, people, rejectsWith, withParley } from "./bad_input.ts";

Deno.test("requests the server refuses get their code and reach nobody", async (t) => {
  await withParley({ msgRate: 2, msgBurst: 5 }, async (parley, open) => {
    await t.step(
      "messages to a non-friend, a missing user or oneself are refused and reach nobody",
      async () => {
        const [bob, carol] = await people(parley, open, "stranger1", "stranger2");
        const b = bob.client, c = carol.client;
        const markC = c.frames.length;
        const markB = b.frames.length;
        const [bobId, carolId] = [bob.account.id, carol.account.id];
        await rejectsWith(
          b.request("msg.send", { to: carolId, text: "hello stranger", client_id: "s1" }),
          "not_friends",
        );
        await rejectsWith(
          b.request("msg.send", { to: 999_999, text: "hello nobody", client_id: "s2" }),
          "user_not_found",
        );
        await rejectsWith(
          b.request("msg.send", { to: bobId, text: "hello me", client_id: "s3" }),
          "invalid_request",
        );
        b.send({ type: "typing", id: "t1", to: carolId, active: true });
        assert.equal((await b.next("error", (e) => e.id === "t1")).error.code, "not_friends");
        b.send({ type: "typing", id: "t2", to: bobId });
        assert.equal((await b.next("error", (e) => e.id === "t2")).error.code, "invalid_request");
        await sleep(200);
        assert.deepEqual(leaksSince(c, markC), []);
        assert.deepEqual(leaksSince(b, markB), []);
        assert.deepEqual((await c.request("friend.requests")).incoming, []);
      },
    );

    await t.step("history with a stranger, a missing user or oneself is refused", async () => {
      const [alice, bob, carol] = await people(parley, open, "hist1", "hist2", "hist3");
      await friends(alice, carol);
      // carol has a conversation with alice; bob is not in it.
      const ac = (await alice.client.request("msg.send", {
        to: carol.account.id,
        text: "just between us",
        client_id: "ac-1",
      })).message;
      await carol.client.next("msg.new", (e) => e.message.id === ac.id);
      const b = bob.client;
      const e = await rejectsWith(
        b.request("msg.history", { with: carol.account.id }),
        "not_friends",
      );
      assert.ok(!JSON.stringify(e.frame).includes("just between us"));
      await rejectsWith(b.request("msg.history", { with: 999_999 }), "user_not_found");
      await rejectsWith(b.request("msg.history", { with: bob.account.id }), "invalid_request");
    });

    await t.step(
      "acks for ids that are not the user's get invalid_ack and move no cursor",
      async () => {
        const [alice, bob, carol] = await people(parley, open, "ack1", "ack2", "ack3");
        await friends(alice, bob, carol);
        const a = alice.client, b = bob.client, c = carol.client;
        const send = async (to: number, text: string, clientId: string) =>
          (await a.request("msg.send", { to, text, client_id: clientId })).message;
        const toBob = await send(bob.account.id, "for bob", "ack-1");
        await b.next("msg.new", (ev) => ev.message.id === toBob.id);
        const toCarol = await send(carol.account.id, "for carol", "ack-2");
        assert.ok(toCarol.id > toBob.id);
        await c.next("msg.new", (ev) => ev.message.id === toCarol.id);
        const markA = a.frames.length;
        const markC = c.frames.length;
        // alice's message to carol is newer than anything alice sent bob.
        await rejectsWith(
          b.request("msg.ack", { peer: alice.account.id, read: toCarol.id }),
          "invalid_ack",
        );
        await rejectsWith(
          b.request("msg.ack", { peer: carol.account.id, delivered: toCarol.id }),
          "invalid_ack",
        );
        await rejectsWith(b.request("msg.ack", { peer: 999_999, delivered: 1 }), "invalid_ack");
        await sleep(200);
        assert.deepEqual(leaksSince(a, markA), [], "alice got no msg.status");
        assert.deepEqual(leaksSince(c, markC), []);
        const withBob = await a.request("msg.history", { with: bob.account.id });
        assert.deepEqual([withBob.peer_delivered_id, withBob.peer_read_id], [0, 0]);
        const withCarol = await a.request("msg.history", { with: carol.account.id });
        assert.deepEqual([withCarol.peer_delivered_id, withCarol.peer_read_id], [0, 0]);
        // A right ack still works afterwards.
        const ok = await b.request("msg.ack", { peer: alice.account.id, delivered: toBob.id });
        assert.deepEqual(ok, { delivered_id: toBob.id, read_id: 0 });
      },
    );

    await t.step(
      "friend requests to oneself, twice, to a friend or to nobody are refused",
      async () => {
        const [alice, bob, dave] = await people(parley, open, "req1", "req2", "req3");
        await friends(alice, bob);
        const a = alice.client, d = dave.client;
        const markD = d.frames.length;
        await rejectsWith(
          a.request("friend.request", { user_id: alice.account.id }),
          "self_request",
        );
        await rejectsWith(a.request("friend.request", { user_id: 999_999 }), "user_not_found");
        await rejectsWith(
          a.request("friend.request", { user_id: bob.account.id }),
          "already_friends",
        );
        const daveId = dave.account.id;
        const first = await a.request("friend.request", { user_id: daveId, greeting: "hey" });
        assert.equal(first.status, "sent");
        const again = await a.request("friend.request", { user_id: daveId, greeting: "hey!!" });
        assert.equal(again.status, "already_sent");
        await sleep(300);
        assert.equal(d.frames.slice(markD).filter((f) => f.type === "friend.request").length, 1);
        const pending = await d.request("friend.requests");
        assert.deepEqual(pending.incoming.map((r) => [r.from.id, r.greeting]), [[
          alice.account.id,
          "hey",
        ]]);
        await rejectsWith(
          d.request("friend.accept", { user_id: bob.account.id }),
          "request_not_found",
        );
      },
    );

    await t.step(
      "messages past the rate get rate_limited with retry_after_ms and are not stored",
      async () => {
        const [alice, bob] = await people(parley, open, "rate1", "rate2");
        await friends(alice, bob);
        const a = alice.client;
        const to = bob.account.id;
        // Messages as history shows them: without the seq a result or a push carries.
        const send = async (text: string, clientId: string) =>
          withoutSeq((await a.request("msg.send", { to, text, client_id: clientId })).message);
        const sent: WireMessage[] = [];
        for (let i = 0; i < 5; i++) sent.push(await send(`burst ${i}`, `rate-${i}`));
        const e = await rejectsWith(
          a.request("msg.send", { to, text: "one too many", client_id: "rate-5" }),
          "rate_limited",
        );
        const frame = e.frame as { error: { retry_after_ms?: number } };
        const wait = frame.error.retry_after_ms ?? -1;
        assert.ok(wait > 0 && wait <= 1000, `retry_after_ms ${wait}`);
        assert.deepEqual((await a.request("msg.history", { with: to })).messages, sent);
        await sleep(wait + 50);
        sent.push(await send("one too many", "rate-5"));
        // bob's history and what he was pushed hold exactly the accepted messages.
        const hist = await bob.client.request("msg.history", { with: alice.account.id });
        assert.deepEqual(hist.messages, sent);
        const pushed = () => bob.client.events("msg.new").map((ev) => withoutSeq(ev.message));
        await bob.client.next("msg.new", (ev) => ev.message.id === sent.at(-1)!.id);
        assert.deepEqual(pushed(), sent);
      },
    );
  });
});
