/**
 * The `mysql` dialect and executor for a cluster: MySQL or MariaDB through
 * a mysql2 connection pool. Values always go through `?` placeholders
 * (mysql2 escapes them); the pool allows multi-statements so that a
 * transaction's statements and its COMMIT travel in one round trip
 * (`script`, `commitWith`). A transaction's START TRANSACTION is sent with
 * its first statements, not on its own.
 *
 * Outages: every call is bounded (connect, pool wait, query) and a driver
 * error that means the server cannot be reached becomes AppError
 * `store_unavailable`; the connection it happened on is dropped.
 */
import mysql, { type Pool, type PoolConnection } from "mysql2/promise";
import type { Logger } from "../log.ts";
import type { Dialect, Exec, Executor, Features, TxExec } from "./_exec.ts";
import type { Row, RunResult, Stmt, StmtResult } from "./_exec.ts";
import { storeUnavailable } from "./_exec.ts";
import { MysqlSocket } from "./mysql_socket.ts";
import { SqlStore } from "./sql_store.ts";

function errCode(e: unknown): string | undefined {
  return (e as { code?: string } | null)?.code;
}

/** Driver and server errors that mean "cannot reach the server", not "bad statement". */
const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "PROTOCOL_CONNECTION_LOST",
  "PROTOCOL_SEQUENCE_TIMEOUT",
  "ER_CON_COUNT_ERROR",
  "ER_SERVER_SHUTDOWN",
  "ER_CONNECTION_KILLED",
  "POOL_ACQUIRE_TIMEOUT",
]);

export const MYSQL: Dialect = {
  name: "mysql",
  onConflict: (_target, set) => `ON DUPLICATE KEY UPDATE ${set}`,
  proposed: (column) => `VALUES(${column})`,
  insertIgnore: "INSERT IGNORE",
  greatest: (a, b) => `GREATEST(${a}, ${b})`,
  forUpdate: " FOR UPDATE",
  unionArm: (select) => `(${select})`,
  // mysql2 expands an array parameter into a comma-separated list.
  inList: (values) => ({ sql: "IN (?)", params: [values] }),
  // ... and an array of arrays into `(a, b), (c, d)`.
  pairList: (a, b, pairs) => ({ sql: `(${a}, ${b}) IN (?)`, params: [pairs] }),
  duplicateKey(e) {
    if (errCode(e) !== "ER_DUP_ENTRY") return null;
    // "Duplicate entry 'x' for key 'uq_users_email'" (MySQL 8 writes 'users.uq_users_email').
    return /for key '([^']*)'\s*$/.exec(String((e as Error).message))?.[1] ?? "";
  },
  isDeadlock: (e) => errCode(e) === "ER_LOCK_DEADLOCK",
  isUnavailable: (e) =>
    (e as { fatal?: boolean } | null)?.fatal === true || UNREACHABLE.has(errCode(e) ?? ""),
  // A column or index added, a table made, an index dropped (MySQL 8 has no DROP INDEX IF EXISTS).
  isAlreadyApplied: (e) =>
    ["ER_DUP_FIELDNAME", "ER_DUP_KEYNAME", "ER_TABLE_EXISTS_ERROR", "ER_CANT_DROP_FIELD_OR_KEY"]
      .includes(errCode(e) ?? ""),
};

/** How long the store waits before it calls MySQL unavailable. */
export interface MysqlTimeouts {
  /** Opening a TCP connection and the handshake. */
  connectMs?: number;
  /** Waiting for a free connection of the pool. */
  acquireMs?: number;
  /** One round trip (a query or a script), lock waits included. */
  queryMs?: number;
}

const DEFAULT_TIMEOUTS: Required<MysqlTimeouts> = {
  connectMs: 5000,
  acquireMs: 10_000,
  queryMs: 30_000,
};

const TX_ATTEMPTS = 5;

class MysqlExecutor implements Executor {
  readonly dialect = MYSQL;
  #pool: Pool;
  #timeouts: Required<MysqlTimeouts>;
  #features: Promise<Features> | undefined;
  #closed = false;

  constructor(pool: Pool, timeouts: Required<MysqlTimeouts>) {
    this.#pool = pool;
    this.#timeouts = timeouts;
  }

  /** A pooled connection within acquireMs, or store_unavailable. */
  async #conn(): Promise<PoolConnection> {
    const got = this.#pool.getConnection();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Whenever the connection comes after all, it goes back to the pool.
        got.then((c) => c.release(), () => {});
        reject(Object.assign(new Error("no free MySQL connection in time"), {
          code: "POOL_ACQUIRE_TIMEOUT",
        }));
      }, this.#timeouts.acquireMs);
    });
    try {
      return await Promise.race([got, late]);
    } catch (e) {
      throw MYSQL.isUnavailable(e) ? storeUnavailable(e) : e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** One round trip on `c`; an outage drops the connection and becomes store_unavailable. */
  async #query(c: PoolConnection, sql: string, params: unknown[], timeout = true) {
    try {
      const [res] = await c.query(
        { sql, timeout: timeout ? this.#timeouts.queryMs : undefined },
        params,
      );
      return res;
    } catch (e) {
      if (!MYSQL.isUnavailable(e)) throw e;
      c.destroy();
      throw storeUnavailable(e);
    }
  }

  /** Runs `stmts` joined as one multi-statement query; one result per statement. */
  async #script(c: PoolConnection, stmts: Stmt[]): Promise<StmtResult[]> {
    const sql = stmts.map((s) => s.sql).join(";\n");
    const res = await this.#query(c, sql, stmts.flatMap((s) => s.params ?? []));
    const each = (stmts.length === 1 ? [res] : res) as unknown[];
    return each.map(toResult);
  }

  async #on<T>(fn: (c: PoolConnection) => Promise<T>): Promise<T> {
    const c = await this.#conn();
    try {
      return await fn(c);
    } finally {
      c.release(); // a no-op for a destroyed connection
    }
  }

  all(sql: string, params: unknown[] = []): Promise<Row[]> {
    return this.#on(async (c) => (await this.#query(c, sql, params)) as Row[]);
  }
  async get(sql: string, params?: unknown[]): Promise<Row | null> {
    return (await this.all(sql, params))[0] ?? null;
  }
  run(sql: string, params: unknown[] = []): Promise<RunResult> {
    return this.#on(async (c) => toResult(await this.#query(c, sql, params)) as RunResult);
  }
  script(stmts: Stmt[]): Promise<StmtResult[]> {
    return this.#on((c) => this.#script(c, stmts));
  }

  async tx<T>(fn: (t: TxExec) => Promise<T>): Promise<T> {
    for (let attempt = 1;; attempt++) {
      const c = await this.#conn();
      // START TRANSACTION rides along with the first statements, COMMIT with the last.
      const tx = { state: "new" as "new" | "open" | "done" };
      const send = async (stmts: Stmt[], commit: boolean): Promise<StmtResult[]> => {
        if (tx.state === "done") throw new Error("the transaction is over");
        const begin = tx.state === "new" ? [{ sql: "START TRANSACTION" }] : [];
        tx.state = "open";
        const out = await this.#script(c, [
          ...begin,
          ...stmts,
          ...(commit ? [{ sql: "COMMIT" }] : []),
        ]);
        if (commit) tx.state = "done";
        return out.slice(begin.length, begin.length + stmts.length);
      };
      const t: TxExec = {
        all: async (sql, params) => rows((await send([{ sql, params }], false))[0]),
        get: async (sql, params) => rows((await send([{ sql, params }], false))[0])[0] ?? null,
        run: async (sql, params) => (await send([{ sql, params }], false))[0] as RunResult,
        script: (stmts) => send(stmts, false),
        commitWith: (stmts) => send(stmts, true),
      };
      try {
        const out = await fn(t);
        if (tx.state === "open") await this.#query(c, "COMMIT", []);
        return out;
      } catch (e) {
        if (tx.state === "open") await this.#query(c, "ROLLBACK", []).catch(() => {});
        if (!MYSQL.isDeadlock(e) || attempt >= TX_ATTEMPTS) throw e;
      } finally {
        c.release();
      }
    }
  }

  async exclusive<T>(fn: (e: Exec) => Promise<T>): Promise<T> {
    // GET_LOCK is server-wide, so the name carries the database's.
    const lock = "LEFT(CONCAT('parley_migrate:', DATABASE()), 64)";
    return await this.#on(async (c) => {
      const got = (await this.#query(c, `SELECT GET_LOCK(${lock}, 60) AS ok`, [])) as Row[];
      if (Number(got[0]?.ok) !== 1) {
        throw new Error("could not take the migration lock within 60 s");
      }
      // Migrations may run long: no query timeout on this connection.
      const e: Exec = {
        all: async (sql, params = []) => (await this.#query(c, sql, params, false)) as Row[],
        get: async (sql, params = []) =>
          ((await this.#query(c, sql, params, false)) as Row[])[0] ?? null,
        run: async (sql, params = []) =>
          toResult(await this.#query(c, sql, params, false)) as RunResult,
        script: (stmts) => this.#script(c, stmts),
      };
      try {
        return await fn(e);
      } finally {
        await this.#query(c, `DO RELEASE_LOCK(${lock})`, []).catch(() => {});
      }
    });
  }

  /**
   * consecutiveIds: innodb_autoinc_lock_mode 0 or 1 (a "simple insert"
   * takes its whole range of ids at once) and an auto-increment step of 1.
   * returning: MariaDB 10.5+ (MySQL has no RETURNING).
   */
  features(): Promise<Features> {
    this.#features ??= this.get(
      "SELECT @@innodb_autoinc_lock_mode AS mode, @@auto_increment_increment AS step, VERSION() AS v",
    ).then((r) => {
      const [, major, minor] = /^(\d+)\.(\d+)\..*MariaDB/.exec(String(r?.v)) ?? [];
      return {
        consecutiveIds: Number(r?.mode) <= 1 && Number(r?.step) === 1,
        returning: Number(major) * 1000 + Number(minor) >= 10_005,
      };
    }, (e) => {
      this.#features = undefined; // not known yet: ask again next time
      throw e;
    });
    return this.#features;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}

function rows(r: StmtResult | undefined): Row[] {
  return Array.isArray(r) ? r : [];
}

/** A driver result as rows (a SELECT) or as a RunResult. */
function toResult(res: unknown): StmtResult {
  if (Array.isArray(res)) return res as Row[];
  const h = res as { affectedRows?: number; insertId?: number };
  return { changes: Number(h.affectedRows ?? 0), insertId: Number(h.insertId ?? 0) };
}

/** Opens a pool for `mysql://user:pass@host:port/db`, creating the database if it is missing. */
export async function openMysql(
  url: string,
  options: { log: Logger; timeouts?: MysqlTimeouts },
): Promise<SqlStore> {
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ""));
  if (!/^[A-Za-z0-9_$-]{1,64}$/.test(database)) {
    throw new Error(
      "the mysql store URL needs a database name, e.g. mysql://user@host:3306/parley",
    );
  }
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const base = {
    host: u.hostname.replace(/^\[|\]$/g, ""),
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username) || "root",
    password: decodeURIComponent(u.password) || undefined,
    charset: "utf8mb4",
    // BIGINT columns come back as numbers (strings only past 2^53, which ids never reach).
    supportBigNumbers: true,
    bigNumberStrings: false,
    connectTimeout: timeouts.connectMs,
    // mysql2 captures a stack trace for every query by default, to report
    // where it was called from: a measurable share of a chat node's CPU.
    trace: false,
  };
  const stream = () => new MysqlSocket(base.host, base.port);
  const pool = mysql.createPool({
    ...base,
    stream,
    database,
    connectionLimit: 10,
    waitForConnections: true,
    // Every value is a placeholder, so several statements per query add round trips saved, not risk.
    multipleStatements: true,
  });
  const store = new SqlStore(new MysqlExecutor(pool, timeouts), options.log);
  try {
    await pool.query("SELECT 1");
  } catch (e) {
    if (errCode(e) !== "ER_BAD_DB_ERROR") {
      await pool.end();
      throw MYSQL.isUnavailable(e) ? storeUnavailable(e, true) : e;
    }
    // A newcomer only needs a server: make the database on first start.
    const conn = await mysql.createConnection({ ...base, stream });
    try {
      await conn.query(
        `CREATE DATABASE IF NOT EXISTS ${
          conn.escapeId(database)
        } CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
      );
    } finally {
      await conn.end();
    }
    options.log.info("created the database", { database });
  }
  return store;
}
