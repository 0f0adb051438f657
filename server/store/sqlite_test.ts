/** Runs the store contract on the sqlite adapter (a file per test), plus what only SQLite has. */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { silentLogger } from "../log.ts";
import { tempDir } from "../../testing/mod.ts";
import { openStore } from "./mod.ts";
import { MIGRATIONS } from "./migrations.ts";
import { storeContract } from "./store_contract.ts";

storeContract("sqlite", async () => {
  const dir = await tempDir();
  const url = `sqlite:${dir.path}/parley.db`;
  const store = await openStore(url, { log: silentLogger });
  let raw: DatabaseSync | undefined;
  return {
    store,
    openAnother: () => openStore(url, { log: silentLogger }),
    sql(statement, params = []) {
      raw ??= new DatabaseSync(`${dir.path}/parley.db`);
      const st = raw.prepare(statement);
      const rows = st.columns().length > 0 ? st.all(...params) : (st.run(...params), []);
      return Promise.resolve(rows as Record<string, unknown>[]);
    },
    async cleanup() {
      await store.close();
      raw?.close();
      await dir.remove();
    },
  };
});

Deno.test("openStore() creates the sqlite file's missing parent folders", async () => {
  const dir = await tempDir();
  try {
    const store = await openStore(`sqlite:${dir.path}/a/b/parley.db`, { log: silentLogger });
    await store.migrate();
    await store.close();
    assert.ok((await Deno.stat(`${dir.path}/a/b/parley.db`)).isFile);
  } finally {
    await dir.remove();
  }
});

Deno.test("openStore() accepts sqlite::memory: for a throwaway database", async () => {
  const store = await openStore("sqlite::memory:", { log: silentLogger });
  try {
    assert.equal(store.kind, "sqlite");
    await store.migrate();
    const u = await store.createUser({ email: "m@example.com", name: "m", passwordHash: "h" });
    assert.deepEqual(await store.userByName("M"), u);
  } finally {
    await store.close();
  }
});

Deno.test("openStore() rejects a store URL it does not know", async () => {
  await assert.rejects(openStore("postgres://x/y", { log: silentLogger }), /unknown store URL/);
  await assert.rejects(openStore("sqlite:", { log: silentLogger }), /needs a path/);
});

Deno.test("migrate() from three processes at once on one sqlite file applies each version once", async () => {
  const dir = await tempDir();
  try {
    const path = `${dir.path}/parley.db`;
    const mod = new URL("./mod.ts", import.meta.url).href;
    const log = new URL("../log.ts", import.meta.url).href;
    // Every child waits for the same instant, so the migrations really overlap.
    const startAt = Date.now() + 1500;
    const code = `
      const { openStore } = await import(${JSON.stringify(mod)});
      const { silentLogger } = await import(${JSON.stringify(log)});
      const store = await openStore(${JSON.stringify(`sqlite:${path}`)}, { log: silentLogger });
      await new Promise((r) => setTimeout(r, Math.max(0, ${startAt} - Date.now())));
      await store.migrate();
      console.log(await store.schemaVersion());
      await store.close();`;
    const children = [1, 2, 3].map(() =>
      new Deno.Command(Deno.execPath(), { args: ["eval", code], stdout: "piped", stderr: "piped" })
        .output()
    );
    const outs = await Promise.all(children);
    const newest = String(MIGRATIONS[MIGRATIONS.length - 1].version);
    for (const out of outs) {
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      assert.equal(new TextDecoder().decode(out.stdout).trim(), newest);
    }
  } finally {
    await dir.remove();
  }
});
