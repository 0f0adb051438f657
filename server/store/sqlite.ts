/**
 * The `sqlite` dialect and executor: one file through Deno's built-in
 * node:sqlite, for the single-machine default. node:sqlite is synchronous;
 * a transaction of the SQL store spans awaits, so the executor serialises
 * them with an async lock per database file shared by every connection of
 * this process (otherwise a second connection would block the event loop
 * in SQLite's busy handler while the first waits for it to run). Other
 * processes on the same file wait in busy_timeout.
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import type { Logger } from "../log.ts";
import type { Dialect, Exec, Executor, Features, TxExec } from "./_exec.ts";
import type { Row, RunResult, Stmt, StmtResult } from "./_exec.ts";
import { storeUnavailable } from "./_exec.ts";
import { SqlStore } from "./sql_store.ts";

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_CONSTRAINT_UNIQUE = 2067;
const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;

function sqliteCode(e: unknown): number | undefined {
  return (e as { errcode?: number } | null)?.errcode;
}

// node:sqlite does not always set errcode on SQLITE_BUSY; its message is fixed.
const isBusy = (e: unknown) =>
  sqliteCode(e) === SQLITE_BUSY || sqliteCode(e) === SQLITE_LOCKED ||
  /database is locked/.test(String(e));

export const SQLITE: Dialect = {
  name: "sqlite",
  onConflict: (target, set) => `ON CONFLICT (${target}) DO UPDATE SET ${set}`,
  proposed: (column) => `excluded.${column}`,
  insertIgnore: "INSERT OR IGNORE",
  greatest: (a, b) => `max(${a}, ${b})`,
  // BEGIN IMMEDIATE already holds the database's one write lock.
  forUpdate: "",
  unionArm: (select) => `SELECT * FROM (${select})`,
  // One JSON parameter instead of a placeholder per value keeps the SQL text fixed.
  inList: (values) => ({
    sql: "IN (SELECT value FROM json_each(?))",
    params: [JSON.stringify(values)],
  }),
  pairList: (a, b, pairs) => ({
    sql: `(${a}, ${b}) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))`,
    params: [JSON.stringify(pairs)],
  }),
  duplicateKey(e) {
    const code = sqliteCode(e);
    if (code !== SQLITE_CONSTRAINT_UNIQUE && code !== SQLITE_CONSTRAINT_PRIMARYKEY) return null;
    // "UNIQUE constraint failed: users.email_norm"
    return /constraint failed: (.*)$/.exec(String((e as Error).message))?.[1] ?? "";
  },
  isDeadlock: () => false,
  isUnavailable: isBusy,
  isAlreadyApplied: () => false,
};

/**
 * Runs `fn` again while SQLite answers SQLITE_BUSY. Switching a new file to
 * WAL can be refused at once, without the busy handler, while another
 * process is switching it too; WAL is then set by the time we retry.
 */
function retryBusy(fn: () => void, deadlineMs = 10_000, waitMs = 20): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      return fn();
    } catch (e) {
      if (!isBusy(e) || Date.now() >= deadline) throw e;
      Atomics.wait(pause, 0, 0, waitMs); // open is synchronous: a short blocking pause
    }
  }
}

/** A FIFO async lock; `idle` is true when nobody holds or waits for it. */
class Lock {
  #tail: Promise<void> = Promise.resolve();
  #users = 0;
  get idle(): boolean {
    return this.#users === 0;
  }
  async take(): Promise<() => void> {
    this.#users++;
    const before = this.#tail;
    let release!: () => void;
    this.#tail = new Promise((r) => release = r);
    await before;
    return () => {
      this.#users--;
      release();
    };
  }
}

/** One lock per database file in this process (":memory:" databases are each their own). */
const locks = new Map<string, { lock: Lock; open: number }>();

/** Above this many cached statements the cache starts over (batch sizes make many shapes). */
const MAX_STATEMENTS = 500;

class SqliteExecutor implements Executor {
  readonly dialect = SQLITE;
  #db: DatabaseSync;
  #key: string;
  #lock: Lock;
  #statements = new Map<string, StatementSync>();
  #closed = false;

  constructor(db: DatabaseSync, key: string) {
    this.#db = db;
    this.#key = key;
    const entry = locks.get(key) ?? { lock: new Lock(), open: 0 };
    entry.open++;
    locks.set(key, entry);
    this.#lock = entry.lock;
  }

  /** A cached prepared statement: preparing is most of the cost of a small query. */
  #st(sql: string): StatementSync {
    let st = this.#statements.get(sql);
    if (!st) {
      if (this.#statements.size >= MAX_STATEMENTS) this.#statements.clear();
      st = this.#db.prepare(sql);
      this.#statements.set(sql, st);
    }
    return st;
  }

  #call<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw SQLITE.isUnavailable(e) ? storeUnavailable(e) : e;
    }
  }

  #all = (sql: string, params: unknown[] = []): Row[] =>
    this.#call(() => this.#st(sql).all(...(params as SQLInputValue[])) as Row[]);

  #run = (sql: string, params: unknown[] = []): RunResult =>
    this.#call(() => {
      const r = this.#st(sql).run(...(params as SQLInputValue[]));
      const changes = Number(r.changes);
      // A multi-row INSERT numbers its rows consecutively; SQLite reports the last.
      return { changes, insertId: Number(r.lastInsertRowid) - Math.max(changes, 1) + 1 };
    });

  #script = (stmts: Stmt[]): StmtResult[] =>
    stmts.map((s) =>
      /^\s*(SELECT|WITH)\b|\bRETURNING\b/i.test(s.sql)
        ? this.#all(s.sql, s.params)
        : this.#run(s.sql, s.params)
    );

  /** Runs a statement outside a transaction, after any transaction of this file in progress. */
  async #outside<T>(fn: () => T): Promise<T> {
    if (this.#lock.idle) return fn();
    const release = await this.#lock.take();
    try {
      return fn();
    } finally {
      release();
    }
  }

  all(sql: string, params?: unknown[]): Promise<Row[]> {
    return this.#outside(() => this.#all(sql, params));
  }
  get(sql: string, params?: unknown[]): Promise<Row | null> {
    return this.#outside(() => this.#all(sql, params)[0] ?? null);
  }
  run(sql: string, params?: unknown[]): Promise<RunResult> {
    return this.#outside(() => this.#run(sql, params));
  }
  script(stmts: Stmt[]): Promise<StmtResult[]> {
    return this.#outside(() => this.#script(stmts));
  }

  async tx<T>(fn: (t: TxExec) => Promise<T>): Promise<T> {
    const release = await this.#lock.take();
    let open = false;
    const inTx: TxExec = {
      all: (sql, params) => Promise.resolve(this.#all(sql, params)),
      get: (sql, params) => Promise.resolve(this.#all(sql, params)[0] ?? null),
      run: (sql, params) => Promise.resolve(this.#run(sql, params)),
      script: (stmts) => Promise.resolve(this.#script(stmts)),
      commitWith: (stmts) => {
        const out = this.#script(stmts);
        this.#call(() => this.#db.exec("COMMIT"));
        open = false;
        return Promise.resolve(out);
      },
    };
    try {
      this.#call(() => this.#db.exec("BEGIN IMMEDIATE"));
      open = true;
      const out = await fn(inTx);
      if (open) this.#call(() => this.#db.exec("COMMIT"));
      open = false;
      return out;
    } catch (e) {
      if (open) this.#db.exec("ROLLBACK");
      throw e;
    } finally {
      release();
    }
  }

  exclusive<T>(fn: (e: Exec) => Promise<T>): Promise<T> {
    return this.tx(fn);
  }

  features(): Promise<Features> {
    // One writer at a time numbers a multi-row INSERT's rows in order; RETURNING since 3.35.
    return Promise.resolve({ consecutiveIds: true, returning: true });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const release = await this.#lock.take();
    try {
      this.#statements.clear();
      this.#db.close();
    } finally {
      release();
      const entry = locks.get(this.#key);
      if (entry && --entry.open === 0) locks.delete(this.#key);
    }
  }
}

let memories = 0;

/** Opens (and creates) the database at `path`, or an in-memory one for ":memory:". */
export function openSqlite(path: string, options: { log: Logger }): SqlStore {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  // busy_timeout first: switching to WAL needs a lock another process may hold.
  db.exec("PRAGMA busy_timeout = 10000");
  // WAL lets readers run beside the one writer; NORMAL sync is durable across
  // a crash of the process (not of the machine) and much faster than FULL.
  retryBusy(() => db.exec("PRAGMA journal_mode = WAL"));
  db.exec("PRAGMA synchronous = NORMAL");
  // A checkpoint every 40,000 WAL pages (160 MB; the WAL file keeps that
  // size) instead of SQLite's 1,000: pages the hot path rewrites in every
  // batch (inbox heads, the indexes' right edges) are copied back and synced
  // less often. And a page cache of up to 64 MiB instead of 2: a batch
  // between 400 pairs touches a leaf of each of the messages table's indexes
  // per user, more than 2 MiB of pages, which were read again from the OS.
  // insert_timing.ts, batches of 400 between 400 pairs, after 120,000 rows:
  // a pair of batches took 87-94 ms on average before, 75-82 ms with the
  // larger cache alone, 61-72 ms with both. Bench quick passes of 20 s, one
  // after the other: 22.7k and 24.2k msg/s against 21.1k and 21.9k. (10,000
  // pages, batches of 64 between 64 pairs, had taken p90 from 26-30 ms to
  // 11-14 ms.)
  db.exec("PRAGMA wal_autocheckpoint = 40000");
  db.exec("PRAGMA cache_size = -65536");
  db.exec("PRAGMA foreign_keys = ON");
  // The searched columns are already lower-cased; a case-sensitive LIKE
  // matches MySQL's utf8mb4_bin and lets SQLite turn a prefix into an index range.
  db.exec("PRAGMA case_sensitive_like = ON");
  const key = path === ":memory:" ? `:memory:${++memories}` : resolve(path);
  return new SqlStore(new SqliteExecutor(db, key), options.log);
}
