/** Store contract, part 1: users, lookups, profile and search. See store_contract.ts. */
import assert from "node:assert/strict";
import { isCode, makeUser, type StoreCase } from "./_contract_kit.ts";
import { ConflictError } from "./types.ts";

export function userCases(test: StoreCase): void {
  test("createUser() stores a user that is found by id, e-mail and name in any case", async (s) => {
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
  });

  test("createUser() rejects a taken e-mail or name, whatever the case, naming the field", async (s) => {
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
  });

  test("createUser() rejects values longer than their columns with too_long", async (s) => {
    await assert.rejects(
      s.createUser({ email: "x".repeat(250) + "@e.com", name: "x", passwordHash: "h" }),
      isCode("too_long"),
    );
    await assert.rejects(
      s.createUser({ email: "x@e.com", name: "n".repeat(256), passwordHash: "h" }),
      isCode("too_long"),
    );
    assert.equal(await s.countUsers(), 0);
  });

  test("userForLogin() finds a user by e-mail or name with the password hash", async (s) => {
    const cy = await s.createUser({ email: "cy@example.com", name: "Cy", passwordHash: "hash-cy" });
    assert.deepEqual(await s.userForLogin("CY@example.com"), { user: cy, passwordHash: "hash-cy" });
    assert.deepEqual(await s.userForLogin("cy"), { user: cy, passwordHash: "hash-cy" });
    assert.equal(await s.userForLogin("dee"), null);
    await s.setPasswordHash(cy.id, "hash-2");
    assert.equal((await s.userForLogin("cy"))?.passwordHash, "hash-2");
  });

  test("usersByIds() returns known users once each in the order asked", async (s) => {
    const [a, b, c] = [await makeUser(s, "a1"), await makeUser(s, "b1"), await makeUser(s, "c1")];
    assert.deepEqual(await s.usersByIds([c.id, a.id, 9999, c.id, b.id]), [c, a, b]);
    assert.deepEqual(await s.usersByIds([]), []);
  });

  test("updateProfile() changes only the given fields and fails for an unknown user", async (s) => {
    const u = await makeUser(s, "dora");
    const p1 = await s.updateProfile(u.id, { displayName: "Dora 🌸" });
    assert.deepEqual(p1, { ...u, displayName: "Dora 🌸" });
    const p2 = await s.updateProfile(u.id, { bio: "explorer" });
    assert.deepEqual(p2, { ...u, displayName: "Dora 🌸", bio: "explorer" });
    assert.deepEqual(await s.userById(u.id), p2);
    await assert.rejects(s.updateProfile(u.id + 100, { bio: "x" }), isCode("user_not_found"));
    await assert.rejects(
      s.updateProfile(u.id, { displayName: "d".repeat(300) }),
      isCode("too_long"),
    );
  });

  test("setLastSeen() records when the user was last seen", async (s) => {
    const u = await makeUser(s, "eve");
    await s.setLastSeen(u.id, 1_700_000_000_123);
    assert.equal((await s.userById(u.id))?.lastSeenAt, 1_700_000_000_123);
  });

  test("searchUsers() matches a name prefix in any case or an exact e-mail, by name", async (s) => {
    for (const n of ["Mallory", "mark", "Max", "bob", "Zed"]) await makeUser(s, n);
    await s.createUser({ email: "max2@other.org", name: "zmax", passwordHash: "h" });
    const names = async (q: string) =>
      (await s.searchUsers(q, { limit: 10 })).items.map((u) => u.name);
    assert.deepEqual(await names("ma"), ["Mallory", "mark", "Max"]);
    assert.deepEqual(await names("MA"), ["Mallory", "mark", "Max"]);
    assert.deepEqual(await names("MAX2@other.org"), ["zmax"]);
    assert.deepEqual(await names("x"), []);
    assert.deepEqual(await names("ax"), []);
  });

  test("searchUsers() treats % and _ in the query literally", async (s) => {
    for (const n of ["a_b", "axb", "a%c", "abc", "a!d", "a\\e"]) await makeUser(s, n);
    const names = async (q: string) =>
      (await s.searchUsers(q, { limit: 10 })).items.map((u) => u.name);
    assert.deepEqual(await names("a_"), ["a_b"]);
    assert.deepEqual(await names("a%"), ["a%c"]);
    assert.deepEqual(await names("a!"), ["a!d"]);
    assert.deepEqual(await names("a\\"), ["a\\e"]);
    assert.deepEqual(await names("%"), []);
    assert.deepEqual(await names("_"), []);
  });

  test("searchUsers() pages with the opaque cursor until next is null", async (s) => {
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
  });

  test("countUsers() counts every user", async (s) => {
    assert.equal(await s.countUsers(), 0);
    for (const n of ["u1", "u2", "u3"]) await makeUser(s, n);
    assert.equal(await s.countUsers(), 3);
  });

  test("names and e-mails in CJK and emoji round-trip exactly", async (s) => {
    const u = await s.createUser({ email: "李@例え.jp", name: "李小龍🐉", passwordHash: "h" });
    assert.deepEqual(await s.userById(u.id), u);
    assert.equal((await s.userByName("李小龍🐉"))?.id, u.id);
    assert.deepEqual((await s.searchUsers("李小", { limit: 5 })).items, [u]);
  });
}
