/** Store contract, part 1: users, lookups, profile, search, auth epochs and revoked tokens. See store_contract.ts. */
import assert from "node:assert/strict";
import { isCode, makeUser, type StoreCases } from "./_contract_kit.ts";
import { ConflictError } from "./types.ts";

export const userCases: StoreCases = {
  "createUser() stores a user that is found by id, e-mail and name in any case": async (s) => {
    const before = Date.now();
    const u = await s.createUser({ email: "Ann@Example.com", name: "Ann", passwordHash: "h1" });
    assert.ok(Number.isInteger(u.id) && u.id > 0);
    assert.equal(u.email, "Ann@Example.com");
    assert.equal(u.name, "Ann");
    assert.equal(u.displayName, "");
    assert.equal(u.bio, "");
    assert.equal(u.lastSeenAt, null);
    assert.ok(u.createdAt >= before && u.createdAt <= Date.now());
    assert.deepEqual(await s.userById(u.id), u);
    assert.deepEqual(await s.userByEmail("ann@EXAMPLE.COM"), u);
    assert.deepEqual(await s.userByName("aNN"), u);
    assert.equal(await s.userById(u.id + 1000), null);
    assert.equal(await s.userByEmail("nobody@example.com"), null);
    assert.equal(await s.userByName("nobody"), null);
  },

  "createUser() rejects a taken e-mail or name, whatever the case, naming the field": async (s) => {
    await s.createUser({ email: "bob@example.com", name: "Bob", passwordHash: "h" });
    await assert.rejects(
      s.createUser({ email: "BOB@example.COM", name: "Robert", passwordHash: "h" }),
      (e) => e instanceof ConflictError && e.field === "email",
    );
    await assert.rejects(
      s.createUser({ email: "robert@example.com", name: "bOB", passwordHash: "h" }),
      (e) => e instanceof ConflictError && e.field === "name",
    );
    // A name that reads "email" must not confuse the adapter's error parsing.
    await s.createUser({ email: "e@example.com", name: "email", passwordHash: "h" });
    await assert.rejects(
      s.createUser({ email: "e2@example.com", name: "EMAIL", passwordHash: "h" }),
      (e) => e instanceof ConflictError && e.field === "name",
    );
    // Full-width letters normalise to the same name.
    await assert.rejects(
      s.createUser({ email: "fw@example.com", name: "ｂｏｂ", passwordHash: "h" }),
      (e) => e instanceof ConflictError && e.field === "name",
    );
    assert.equal(await s.countUsers(), 2);
  },

  "createUser() rejects values longer than their columns with too_long": async (s) => {
    await assert.rejects(
      s.createUser({ email: "x".repeat(250) + "@e.com", name: "x", passwordHash: "h" }),
      isCode("too_long"),
    );
    await assert.rejects(
      s.createUser({ email: "x@e.com", name: "n".repeat(256), passwordHash: "h" }),
      isCode("too_long"),
    );
    assert.equal(await s.countUsers(), 0);
  },

  "userForLogin() finds a user by e-mail or name with the password hash and epoch": async (s) => {
    const cy = await s.createUser({ email: "cy@example.com", name: "Cy", passwordHash: "hash-cy" });
    const found = { user: cy, passwordHash: "hash-cy", authEpoch: 0 };
    assert.deepEqual(await s.userForLogin("CY@example.com"), found);
    assert.deepEqual(await s.userForLogin("cy"), found);
    assert.equal(await s.userForLogin("dee"), null);
    assert.equal(await s.setPasswordHash(cy.id, "hash-2"), 0);
    assert.deepEqual(await s.userForLogin("cy"), { ...found, passwordHash: "hash-2" });
  },

  "setPasswordHash() with endSessions bumps the auth epoch, and authStates() reads it": async (
    s,
  ) => {
    const cy = await makeUser(s, "cy");
    const dee = await makeUser(s, "dee");
    assert.equal(await s.setPasswordHash(cy.id, "h2", { endSessions: true }), 1);
    assert.equal(await s.setPasswordHash(cy.id, "h3", { endSessions: true }), 2);
    assert.equal(await s.setPasswordHash(cy.id, "h4", { endSessions: false }), 2);
    assert.deepEqual(await s.userForLogin("cy"), { user: cy, passwordHash: "h4", authEpoch: 2 });
    const states = await s.authStates([cy.id, dee.id, cy.id, dee.id + 100], []);
    assert.deepEqual(states.epochs, new Map([[cy.id, 2], [dee.id, 0]]));
    assert.deepEqual(states.revoked, new Set());
    // Racing bumps each count: the epoch moves in the statement that sets the hash.
    const epochs = await Promise.all(
      Array.from(
        { length: 6 },
        (_, i) => s.setPasswordHash(dee.id, `d${i}`, { endSessions: true }),
      ),
    );
    assert.deepEqual(epochs.sort(), [1, 2, 3, 4, 5, 6]);
    await assert.rejects(s.setPasswordHash(dee.id + 100, "h"), isCode("user_not_found"));
  },

  "setPasswordHash() with ifEpoch changes nothing once the epoch moved": async (s) => {
    const cy = await makeUser(s, "cy");
    // A login read epoch 0, then the password changed (epoch 1): its rehash must not land.
    assert.equal(await s.setPasswordHash(cy.id, "new", { endSessions: true }), 1);
    assert.equal(await s.setPasswordHash(cy.id, "rehashed-old", { ifEpoch: 0 }), 1);
    assert.deepEqual(await s.userForLogin("cy"), { user: cy, passwordHash: "new", authEpoch: 1 });
    assert.equal(await s.setPasswordHash(cy.id, "rehashed-new", { ifEpoch: 1 }), 1);
    assert.equal((await s.userForLogin("cy"))?.passwordHash, "rehashed-new");
    await assert.rejects(
      s.setPasswordHash(cy.id + 100, "h", { ifEpoch: 0 }),
      isCode("user_not_found"),
    );
  },

  "revokeToken() is durable and idempotent, authStates() finds it, prune forgets expired ones":
    async (s) => {
      const cy = await makeUser(s, "cy");
      await s.revokeToken("jti-1", cy.id, 1_000);
      await s.revokeToken("jti-1", cy.id, 1_000);
      await s.revokeToken("jti-2", cy.id, 5_000);
      const states = await s.authStates([cy.id], ["jti-1", "jti-2", "jti-3"]);
      assert.deepEqual(states.revoked, new Set(["jti-1", "jti-2"]));
      assert.deepEqual(await s.authStates([], []), { epochs: new Map(), revoked: new Set() });
      assert.equal(await s.pruneRevokedTokens(999), 0);
      assert.equal(await s.pruneRevokedTokens(1_000), 1);
      assert.deepEqual((await s.authStates([], ["jti-1", "jti-2"])).revoked, new Set(["jti-2"]));
      // More ids than one IN list holds are asked in chunks.
      const many = Array.from({ length: 1200 }, (_, i) => `j${i}`);
      for (const jti of ["j0", "j777", "j1199"]) await s.revokeToken(jti, cy.id, 9_000);
      const big = await s.authStates(Array.from({ length: 1200 }, (_, i) => cy.id + i), many);
      assert.deepEqual(big.revoked, new Set(["j0", "j777", "j1199"]));
      assert.deepEqual([...big.epochs.keys()], [cy.id]);
      await assert.rejects(s.revokeToken("j".repeat(129), cy.id, 1), isCode("too_long"));
    },

  "usersByIds() returns known users once each in the order asked": async (s) => {
    const [a, b, c] = [await makeUser(s, "a1"), await makeUser(s, "b1"), await makeUser(s, "c1")];
    assert.deepEqual(await s.usersByIds([c.id, a.id, 9999, c.id, b.id]), [c, a, b]);
    assert.deepEqual(await s.usersByIds([]), []);
  },

  "updateProfile() changes only the given fields and fails for an unknown user": async (s) => {
    const u = await makeUser(s, "dora");
    assert.equal(u.findableByEmail, false);
    const p1 = await s.updateProfile(u.id, { displayName: "Dora 🌸" });
    assert.deepEqual(p1, { ...u, displayName: "Dora 🌸" });
    const p2 = await s.updateProfile(u.id, { bio: "explorer" });
    assert.deepEqual(p2, { ...u, displayName: "Dora 🌸", bio: "explorer" });
    const p3 = await s.updateProfile(u.id, { findableByEmail: true });
    assert.deepEqual(p3, { ...p2, findableByEmail: true });
    assert.deepEqual(await s.updateProfile(u.id, { bio: "x" }), { ...p3, bio: "x" });
    assert.deepEqual(await s.updateProfile(u.id, { findableByEmail: false }), {
      ...p3,
      bio: "x",
      findableByEmail: false,
    });
    assert.deepEqual(await s.userById(u.id), { ...p3, bio: "x", findableByEmail: false });
    await assert.rejects(s.updateProfile(u.id + 100, { bio: "x" }), isCode("user_not_found"));
    await assert.rejects(
      s.updateProfile(u.id, { displayName: "d".repeat(300) }),
      isCode("too_long"),
    );
  },

  "setLastSeen() records when the user was last seen": async (s) => {
    const u = await makeUser(s, "eve");
    await s.setLastSeen(u.id, 1_700_000_000_123);
    assert.equal((await s.userById(u.id))?.lastSeenAt, 1_700_000_000_123);
  },

  "searchUsers() matches a name prefix in any case, or the exact e-mail of who opted in": async (
    s,
  ) => {
    for (const n of ["Mallory", "mark", "Max", "bob", "Zed"]) await makeUser(s, n);
    const zmax = await s.createUser({ email: "max2@other.org", name: "zmax", passwordHash: "h" });
    const names = async (q: string) =>
      (await s.searchUsers(q, { limit: 10 })).items.map((u) => u.name);
    assert.deepEqual(await names("ma"), ["Mallory", "mark", "Max"]);
    assert.deepEqual(await names("MA"), ["Mallory", "mark", "Max"]);
    // An e-mail finds nobody until its owner opts in.
    assert.deepEqual(await names("max2@other.org"), []);
    await s.updateProfile(zmax.id, { findableByEmail: true });
    assert.deepEqual(await names("MAX2@other.org"), ["zmax"]);
    // Exact after normalisation (NFKC, lower case): full-width letters match, a prefix does not.
    assert.deepEqual(await names("ｍａｘ2@other.org"), ["zmax"]);
    assert.deepEqual(await names("max2@other.or"), []);
    assert.deepEqual(await names("x"), []);
    assert.deepEqual(await names("ax"), []);
  },

  "searchUsers() leaves the searcher out, so next is null on the last page": async (s) => {
    const [ann] = [await makeUser(s, "ann1"), await makeUser(s, "ann2"), await makeUser(s, "ann3")];
    // ann1 searching "ann" sees ann2, ann3: one page of 2, nothing after it.
    const page = await s.searchUsers("ann", { limit: 2, excludeUserId: ann.id });
    assert.deepEqual(page.items.map((u) => u.name), ["ann2", "ann3"]);
    assert.equal(page.next, null);
    const last = await makeUser(s, "ann4");
    const first = await s.searchUsers("ann", { limit: 2, excludeUserId: last.id });
    assert.deepEqual(first.items.map((u) => u.name), ["ann1", "ann2"]);
    assert.notEqual(first.next, null);
    const second = await s.searchUsers("ann", {
      limit: 2,
      after: first.next!,
      excludeUserId: last.id,
    });
    assert.deepEqual(second.items.map((u) => u.name), ["ann3"]);
    assert.equal(second.next, null);
    // An opted-in searcher's own e-mail does not find themself either.
    await s.updateProfile(ann.id, { findableByEmail: true });
    assert.deepEqual(
      (await s.searchUsers("ann1@example.com", { limit: 5, excludeUserId: ann.id })).items,
      [],
    );
  },

  "searchUsers() treats % and _ in the query literally": async (s) => {
    for (const n of ["a_b", "axb", "a%c", "abc", "a!d", "a\\e"]) await makeUser(s, n);
    const names = async (q: string) =>
      (await s.searchUsers(q, { limit: 10 })).items.map((u) => u.name);
    assert.deepEqual(await names("a_"), ["a_b"]);
    assert.deepEqual(await names("a%"), ["a%c"]);
    assert.deepEqual(await names("a!"), ["a!d"]);
    assert.deepEqual(await names("a\\"), ["a\\e"]);
    assert.deepEqual(await names("%"), []);
    assert.deepEqual(await names("_"), []);
  },

  "searchUsers() pages with the opaque cursor until next is null": async (s) => {
    const all = ["p01", "P02", "p03", "p04", "p05", "p06", "p07"];
    for (const n of all) await makeUser(s, n);
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await s.searchUsers("p", { limit: 3, after });
      seen.push(...page.items.map((u) => u.name));
      pages++;
      if (page.next === null) break;
      after = page.next;
    }
    assert.deepEqual(seen, all);
    assert.equal(pages, 3);
    const exact = await s.searchUsers("p", { limit: 7 });
    assert.equal(exact.items.length, 7);
    assert.equal(exact.next, null);
    // A cursor from another query still pages by name.
    const fromP04 = await s.searchUsers("p0", {
      limit: 2,
      after: (await s.searchUsers("p", { limit: 4 })).next!,
    });
    assert.deepEqual(fromP04.items.map((u) => u.name), ["p05", "p06"]);
    await assert.rejects(
      s.searchUsers("p", { limit: 3, after: "@@not-a-cursor" }),
      isCode("bad_cursor"),
    );
  },

  "countUsers() counts every user": async (s) => {
    assert.equal(await s.countUsers(), 0);
    for (const n of ["u1", "u2", "u3"]) await makeUser(s, n);
    assert.equal(await s.countUsers(), 3);
  },

  "names and e-mails in CJK and emoji round-trip exactly": async (s) => {
    const u = await s.createUser({ email: "李@例え.jp", name: "李小龍🐉", passwordHash: "h" });
    assert.deepEqual(await s.userById(u.id), u);
    const findable = await s.updateProfile(u.id, { findableByEmail: true });
    assert.deepEqual((await s.searchUsers("李@例え.JP", { limit: 5 })).items, [findable]);
    assert.equal((await s.userByName("李小龍🐉"))?.id, u.id);
    assert.deepEqual((await s.searchUsers("李小", { limit: 5 })).items, [findable]);
  },
};
