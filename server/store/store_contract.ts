/**
 * The contract every store adapter must meet, as Deno tests: an adapter's
 * test file calls `storeContract("sqlite", open)` and gets the whole suite
 * run against fresh databases it provides. The cases live in five files
 * beside this one (users, friends, messages, inboxes, migration 2) and
 * share _contract_kit.ts; this one wires them up and holds the general
 * migration cases.
 */
import assert from "node:assert/strict";
import { friendCases } from "./_contract_friends.ts";
import { inboxCases } from "./_contract_inbox.ts";
import { migrationCases } from "./_contract_migration.ts";
import { messageCases } from "./_contract_messages.ts";
import { makeUser, type StoreCase, type StoreHarness } from "./_contract_kit.ts";
import { userCases } from "./_contract_users.ts";
import { MIGRATIONS } from "./migrations.ts";

export type { StoreHarness } from "./_contract_kit.ts";

/** Registers the contract suite for one adapter. */
export function storeContract(adapter: string, open: () => Promise<StoreHarness>): void {
  const raw = (
    name: string,
    fn: (h: StoreHarness) => Promise<void>,
  ) =>
    Deno.test(`${adapter} store: ${name}`, async () => {
      const h = await open();
      try {
        await fn(h);
      } finally {
        await h.cleanup();
      }
    });
  const test: StoreCase = (name, fn) =>
    raw(name, async (h) => {
      await h.store.migrate();
      await fn(h.store, h);
    });

  raw("migrate() brings a new database to the newest version and is idempotent", async (h) => {
    const newest = MIGRATIONS[MIGRATIONS.length - 1].version;
    assert.equal(await h.store.schemaVersion(), 0);
    await h.store.migrate();
    assert.equal(await h.store.schemaVersion(), newest);
    const ann = await makeUser(h.store, "ann");
    await h.store.migrate();
    assert.equal(await h.store.schemaVersion(), newest);
    assert.deepEqual(await h.store.userById(ann.id), ann);
  });

  raw(
    "migrate() run at once by two stores on one database applies each version once",
    async (h) => {
      const other = await h.openAnother();
      try {
        await Promise.all([h.store.migrate(), other.migrate(), h.store.migrate()]);
        const newest = MIGRATIONS[MIGRATIONS.length - 1].version;
        assert.equal(await h.store.schemaVersion(), newest);
        assert.equal(await other.schemaVersion(), newest);
        const ann = await makeUser(h.store, "ann");
        assert.deepEqual(await other.userById(ann.id), ann);
      } finally {
        await other.close();
      }
    },
  );

  migrationCases(raw);

  test("close() may be called twice", async (store) => {
    await store.close();
    await store.close();
  });

  for (const cases of [userCases, friendCases, messageCases, inboxCases]) {
    for (const [name, fn] of Object.entries(cases)) test(name, fn);
  }
}
