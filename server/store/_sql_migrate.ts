/**
 * The migration runner of the SQL store: applies migrations.ts's versions
 * not yet recorded in schema_migrations, in order, under the database's
 * migration lock (Executor.exclusive), and reads the schema's version.
 * SqlStore.migrate() and schemaVersion() are these.
 */
import type { Logger } from "../log.ts";
import type { Executor } from "./_exec.ts";
import { SQL } from "./_sql.ts";
import { CREATE_SCHEMA_MIGRATIONS, MIGRATIONS } from "./migrations.ts";

/**
 * Applies the migrations not yet recorded, up to `upTo` (every one when
 * it is undefined). On MySQL a statement whose work a half-done earlier run
 * already did (an added column or index) is skipped.
 */
export async function applyMigrations(ex: Executor, log: Logger, upTo = Infinity): Promise<void> {
  const d = ex.dialect;
  await ex.exclusive(async (e) => {
    await e.run(CREATE_SCHEMA_MIGRATIONS[d.name]);
    const rows = await e.all("SELECT version FROM schema_migrations");
    const done = new Set(rows.map((r) => Number(r.version)));
    for (const m of MIGRATIONS) {
      if (done.has(m.version) || m.version > upTo) continue;
      for (const sql of m[d.name]) {
        await e.run(sql).catch((err) => {
          if (!d.isAlreadyApplied(err)) throw err;
        });
      }
      await e.run(SQL.recordMigration, [m.version, Date.now()]);
      log.info("migration applied", { version: m.version, name: m.name });
    }
    const newest = Math.max(0, ...done);
    const known = MIGRATIONS[MIGRATIONS.length - 1].version;
    if (newest > known) {
      log.warn("the database schema is newer than this program", { newest, known });
    }
  });
}

/** The newest version applied; 0 for a database never migrated. */
export async function schemaVersion(ex: Executor): Promise<number> {
  const table = ex.dialect.name === "mysql"
    ? `SELECT 1 AS x FROM information_schema.tables
       WHERE table_schema = DATABASE() AND table_name = 'schema_migrations'`
    : "SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'";
  return (await ex.get(table)) ? Number((await ex.get(SQL.schemaVersion))!.v) : 0;
}
