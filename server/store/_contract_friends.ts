/** Store contract, part 2: friend requests and friendships. See store_contract.ts. */
import assert from "node:assert/strict";
import { isCode, makeUser, type StoreCases } from "./_contract_kit.ts";

export const friendCases: StoreCases = {
  "a friend request goes from pending to accepted and makes friends both ways": async (s) => {
    const ann = await makeUser(s, "ann");
    const bob = await makeUser(s, "bob");
    const sent = await s.createFriendRequest(ann.id, bob.id, "hi Bob 👋");
    assert.equal(sent.result, "created");
    const req = sent.request!;
    assert.equal(req.fromId, ann.id);
    assert.equal(req.toId, bob.id);
    assert.equal(req.greeting, "hi Bob 👋");
    assert.deepEqual(await s.pendingRequests(bob.id), { incoming: [req], outgoing: [] });
    assert.deepEqual(await s.pendingRequests(ann.id), { incoming: [], outgoing: [req] });
    assert.equal(await s.areFriends(ann.id, bob.id), false);

    const before = Date.now();
    assert.equal(await s.acceptFriendRequest(bob.id, ann.id), true);
    assert.equal(await s.areFriends(ann.id, bob.id), true);
    assert.equal(await s.areFriends(bob.id, ann.id), true);
    assert.deepEqual(await s.pendingRequests(bob.id), { incoming: [], outgoing: [] });
    assert.deepEqual(await s.pendingRequests(ann.id), { incoming: [], outgoing: [] });
    const [f] = await s.friends(ann.id);
    assert.deepEqual(f.user, bob);
    assert.ok(f.since >= before && f.since <= Date.now());
    assert.deepEqual((await s.friends(bob.id)).map((x) => x.user), [ann]);
    assert.deepEqual(await s.friendIds(ann.id), [bob.id]);
    assert.equal(await s.countFriends(ann.id), 1);
    assert.equal(await s.countFriends(bob.id), 1);
    // Accepting twice finds nothing left to accept.
    assert.equal(await s.acceptFriendRequest(bob.id, ann.id), false);
  },

  "createFriendRequest() says exists for a repeat and friends once they are": async (s) => {
    const ann = await makeUser(s, "ann");
    const bob = await makeUser(s, "bob");
    const first = await s.createFriendRequest(ann.id, bob.id, "one");
    const again = await s.createFriendRequest(ann.id, bob.id, "two");
    assert.equal(again.result, "exists");
    assert.deepEqual(again.request, first.request);
    assert.equal((await s.pendingRequests(bob.id)).incoming.length, 1);
    await s.acceptFriendRequest(bob.id, ann.id);
    assert.deepEqual(await s.createFriendRequest(ann.id, bob.id, "three"), {
      result: "friends",
      request: null,
    });
    assert.deepEqual(await s.createFriendRequest(bob.id, ann.id, "four"), {
      result: "friends",
      request: null,
    });
    assert.deepEqual(await s.pendingRequests(bob.id), { incoming: [], outgoing: [] });
  },

  "createFriendRequest() accepts at once when the other side already asked": async (s) => {
    const ann = await makeUser(s, "ann");
    const bob = await makeUser(s, "bob");
    const first = await s.createFriendRequest(ann.id, bob.id, "hello");
    const back = await s.createFriendRequest(bob.id, ann.id, "hello back");
    assert.equal(back.result, "accepted");
    assert.deepEqual(back.request, first.request);
    assert.equal(await s.areFriends(ann.id, bob.id), true);
    assert.equal(await s.areFriends(bob.id, ann.id), true);
    assert.deepEqual(await s.pendingRequests(ann.id), { incoming: [], outgoing: [] });
    assert.deepEqual(await s.pendingRequests(bob.id), { incoming: [], outgoing: [] });
  },

  "two users asking each other at the same moment end up friends": async (s) => {
    const pairs = [];
    for (let i = 0; i < 5; i++) {
      pairs.push([await makeUser(s, `a${i}`), await makeUser(s, `b${i}`)]);
    }
    await Promise.all(pairs.map(async ([a, b]) => {
      const results = await Promise.all([
        s.createFriendRequest(a.id, b.id, ""),
        s.createFriendRequest(b.id, a.id, ""),
      ]);
      assert.deepEqual(results.map((r) => r.result).sort(), ["accepted", "created"]);
      assert.equal(await s.areFriends(a.id, b.id), true);
      assert.equal(await s.areFriends(b.id, a.id), true);
      assert.deepEqual(await s.pendingRequests(a.id), { incoming: [], outgoing: [] });
    }));
  },

  "declineFriendRequest() and cancelFriendRequest() remove only a pending request": async (s) => {
    const ann = await makeUser(s, "ann");
    const bob = await makeUser(s, "bob");
    const cy = await makeUser(s, "cy");
    assert.equal(await s.declineFriendRequest(bob.id, ann.id), false);
    assert.equal(await s.cancelFriendRequest(ann.id, bob.id), false);
    assert.equal(await s.acceptFriendRequest(bob.id, ann.id), false);
    assert.equal(await s.areFriends(ann.id, bob.id), false);

    await s.createFriendRequest(ann.id, bob.id, "");
    await s.createFriendRequest(ann.id, cy.id, "");
    // The wrong side cannot decline or cancel it.
    assert.equal(await s.declineFriendRequest(ann.id, bob.id), false);
    assert.equal(await s.cancelFriendRequest(bob.id, ann.id), false);
    assert.equal(await s.declineFriendRequest(bob.id, ann.id), true);
    assert.equal(await s.declineFriendRequest(bob.id, ann.id), false);
    assert.equal(await s.cancelFriendRequest(ann.id, cy.id), true);
    assert.deepEqual(await s.pendingRequests(ann.id), { incoming: [], outgoing: [] });
    assert.equal(await s.acceptFriendRequest(cy.id, ann.id), false);
    assert.equal(await s.countFriends(ann.id), 0);
    // A declined request can be sent again.
    assert.equal((await s.createFriendRequest(ann.id, bob.id, "")).result, "created");
  },

  "pendingRequests() lists requests oldest first": async (s) => {
    const hub = await makeUser(s, "hub");
    const others = [];
    for (const n of ["x1", "x2", "x3"]) others.push(await makeUser(s, n));
    for (const o of others) await s.createFriendRequest(o.id, hub.id, `from ${o.name}`);
    const { incoming } = await s.pendingRequests(hub.id);
    assert.deepEqual(incoming.map((r) => r.greeting), ["from x1", "from x2", "from x3"]);
  },

  "removeFriend() ends the friendship both ways and keeps the messages": async (s) => {
    const ann = await makeUser(s, "ann");
    const bob = await makeUser(s, "bob");
    const cy = await makeUser(s, "cy");
    await s.createFriendRequest(ann.id, bob.id, "");
    await s.acceptFriendRequest(bob.id, ann.id);
    await s.createFriendRequest(ann.id, cy.id, "");
    await s.acceptFriendRequest(cy.id, ann.id);
    assert.deepEqual(await s.friendIds(ann.id), [bob.id, cy.id]);
    await s.insertMessage({
      senderId: ann.id,
      recipientId: bob.id,
      clientId: "m1",
      text: "bye",
      createdAt: 1,
    });
    assert.equal(await s.removeFriend(bob.id, ann.id), true);
    assert.equal(await s.areFriends(ann.id, bob.id), false);
    assert.equal(await s.areFriends(bob.id, ann.id), false);
    assert.deepEqual(await s.friendIds(ann.id), [cy.id]);
    assert.deepEqual(await s.friendIds(bob.id), []);
    assert.equal(await s.removeFriend(ann.id, bob.id), false);
    assert.equal((await s.history(ann.id, bob.id, { limit: 10 })).length, 1);
    assert.equal(await s.countFriends(ann.id), 1);
  },

  "createFriendRequest() refuses oneself and unknown users": async (s) => {
    const ann = await makeUser(s, "ann");
    await assert.rejects(s.createFriendRequest(ann.id, ann.id, ""), isCode("self_request"));
    await assert.rejects(s.createFriendRequest(ann.id, ann.id + 99, ""), isCode("user_not_found"));
    assert.deepEqual(await s.pendingRequests(ann.id), { incoming: [], outgoing: [] });
  },

  "friends() lists friends by name with their profiles": async (s) => {
    const me = await makeUser(s, "me");
    const names = ["zoe", "Adam", "mia"];
    for (const n of names) {
      const u = await makeUser(s, n);
      await s.createFriendRequest(u.id, me.id, "");
      await s.acceptFriendRequest(me.id, u.id);
    }
    assert.deepEqual((await s.friends(me.id)).map((f) => f.user.name), ["Adam", "mia", "zoe"]);
    assert.equal(await s.countFriends(me.id), 3);
    assert.deepEqual(await s.friends(me.id + 100), []);
  },
};
