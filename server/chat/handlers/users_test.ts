/** `user.search` paging and the e-mail opt-in, through a chat node on SQLite (fake connections). */
import assert from "node:assert/strict";
import { startTestNode } from "../_test_node.ts";

Deno.test("user.search: next is null on the last page when only the searcher would follow", async () => {
  const c = await startTestNode();
  try {
    for (const n of ["bob", "bobby", "bobo"]) await c.user(n);
    const me = await c.user("bobz");
    const a = await c.connect(me);
    // Matches by name: bob, bobby, bobo, bobz (the searcher, never listed).
    const page = await a.request("user.search", { query: "bo", limit: 3 });
    assert.deepEqual(page.users.map((u) => u.name), ["bob", "bobby", "bobo"]);
    assert.equal(page.next, null);
    // A page that would have held only the searcher is not an empty page with a next.
    const first = await a.request("user.search", { query: "bo", limit: 2 });
    assert.deepEqual(first.users.map((u) => u.name), ["bob", "bobby"]);
    const second = await a.request("user.search", { query: "bo", limit: 2, after: first.next });
    assert.deepEqual(second.users.map((u) => u.name), ["bobo"]);
    assert.equal(second.next, null);
  } finally {
    await c.close();
  }
});

Deno.test("user.search: an exact e-mail finds only users who opted in, in any case", async () => {
  const c = await startTestNode();
  try {
    const me = await c.user("ann");
    const dee = await c.user("dee");
    const a = await c.connect(me);
    const byMail = () => a.request("user.search", { query: "DEE@example.com" });
    assert.deepEqual((await byMail()).users, []);
    await c.store.updateProfile(dee.id, { findableByEmail: true });
    assert.deepEqual((await byMail()).users, [{ id: dee.id, name: "dee", display_name: "" }]);
    // Only the exact address: a prefix of it matches no name and no e-mail.
    assert.deepEqual((await a.request("user.search", { query: "dee@example.co" })).users, []);
    await c.store.updateProfile(dee.id, { findableByEmail: false });
    assert.deepEqual((await byMail()).users, []);
  } finally {
    await c.close();
  }
});
