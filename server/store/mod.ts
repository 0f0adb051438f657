/**
 * Opens the durable store named by the config's store URL: `sqlite:PATH`
 * (`sqlite::memory:` for tests) or `mysql://user:pass@host:port/db`. The
 * dialects are loaded lazily so a process only pulls in the driver it uses.
 * Opening does not migrate; the caller runs `migrate()` (main.ts does, once
 * per process, before any role uses the store).
 */
import type { Logger } from "../log.ts";
import type { Store } from "./types.ts";

export * from "./types.ts";
export { normalizeKey, STORE_LIMITS } from "./_common.ts";

export async function openStore(url: string, options: { log: Logger }): Promise<Store> {
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length);
    if (path === "") {
      throw new Error('the sqlite store URL needs a path, e.g. "sqlite:.data/parley.db"');
    }
    const { openSqlite } = await import("./sqlite.ts");
    return openSqlite(path, options);
  }
  if (url.startsWith("mysql://")) {
    const { openMysql } = await import("./mysql.ts");
    return await openMysql(url, options);
  }
  throw new Error(`unknown store URL "${url}": expected sqlite:PATH or mysql://user:pass@host/db`);
}
