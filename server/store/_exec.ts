/**
 * The seam between the one SQL store (sql_store.ts) and a database: an
 * `Executor` that runs statements (`all/get/run`, `script` for several in
 * one round trip, `tx`, `exclusive`) and a `Dialect` that words what SQL
 * dialects say differently (upserts, locking reads, id lists, error codes).
 * mysql.ts and sqlite.ts each provide both; nothing else differs.
 */
import { AppError } from "../../proto/errors.ts";

export type Row = Record<string, unknown>;

/** What a statement without rows reports. */
export interface RunResult {
  /** Rows inserted, updated (matched) or deleted. */
  changes: number;
  /** For an INSERT into a table with an auto-increment id: the id of its first row. */
  insertId: number;
}

/** One statement with its `?` parameters. */
export interface Stmt {
  sql: string;
  params?: unknown[];
}

/** A SELECT's rows, or what any other statement reports. */
export type StmtResult = Row[] | RunResult;

export interface Exec {
  all(sql: string, params?: unknown[]): Promise<Row[]>;
  get(sql: string, params?: unknown[]): Promise<Row | null>;
  run(sql: string, params?: unknown[]): Promise<RunResult>;
  /**
   * Runs the statements in order, in one round trip where the driver can
   * (MySQL multi-statements), and returns each one's result. Stops at the
   * first error: the statements before it have run.
   */
  script(stmts: Stmt[]): Promise<StmtResult[]>;
}

/** An open transaction. */
export interface TxExec extends Exec {
  /**
   * script(stmts) followed by the commit, in the same round trip where the
   * driver can. The transaction is over once it resolves.
   */
  commitWith(stmts: Stmt[]): Promise<StmtResult[]>;
}

export interface Executor extends Exec {
  readonly dialect: Dialect;
  /**
   * Runs `fn` in a transaction and commits (unless it already did with
   * commitWith); rolls back when `fn` throws. Run again from the start
   * when the database picked it as a deadlock victim, so `fn` must be
   * safe to repeat.
   */
  tx<T>(fn: (t: TxExec) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` holding the database's migration lock, one process at a
   * time. SQLite: one BEGIN IMMEDIATE transaction. MySQL: GET_LOCK on one
   * connection, statements committing one by one (DDL commits implicitly).
   */
  exclusive<T>(fn: (e: Exec) => Promise<T>): Promise<T>;
  /** What the database can do that the SQL store uses when it can; asked once. */
  features(): Promise<Features>;
  close(): Promise<void>;
}

/** Capabilities of the database behind an Executor (see Executor.features()). */
export interface Features {
  /**
   * Whether the rows of one multi-row INSERT get consecutive ids starting
   * at its insertId (MySQL: depends on innodb_autoinc_lock_mode).
   */
  consecutiveIds: boolean;
  /** Whether an upsert takes `RETURNING` and returns the rows as written (MariaDB 10.5+, SQLite). */
  returning: boolean;
}

/** What SQL says differently per database, and what its errors mean. */
export interface Dialect {
  readonly name: "mysql" | "sqlite";
  /** Suffix of an INSERT that turns a conflict on `target` into the update `set`. */
  onConflict(target: string, set: string): string;
  /** In onConflict's `set`: the value the INSERT proposed for `column`. */
  proposed(column: string): string;
  /** `INSERT` that skips rows whose key exists. */
  insertIgnore: string;
  /** The larger of two SQL expressions. */
  greatest(a: string, b: string): string;
  /** Suffix of a SELECT that write-locks the rows it reads (nothing where the whole database is locked). */
  forUpdate: string;
  /** A sub-SELECT with its own ORDER BY / LIMIT as one arm of a UNION. */
  unionArm(select: string): string;
  /** `IN (...)` over a non-empty list of values, as SQL and parameters. */
  inList(values: readonly (number | string)[]): Stmt;
  /** `(a, b) IN (...)` over a non-empty list of pairs, as SQL and parameters. */
  pairList(a: string, b: string, pairs: readonly (readonly [number, string])[]): Stmt;
  /** The constraint a unique-key violation names, or null for any other error. */
  duplicateKey(e: unknown): string | null;
  /** The transaction was rolled back to break a deadlock: run it again. */
  isDeadlock(e: unknown): boolean;
  /** The database cannot be reached (refused, lost, timed out, locked too long). */
  isUnavailable(e: unknown): boolean;
  /** A re-run migration statement found its work done (column or index exists). */
  isAlreadyApplied(e: unknown): boolean;
}

/** Retry-After for an unreachable store: long enough not to hammer it, short for an outage. */
export const STORE_RETRY_AFTER_S = 5;

/**
 * The error for a database that cannot be reached. Clients see it, so the
 * message does not name the database's address unless `detail` (opening
 * the store, which only the operator sees); the driver's error is `cause`.
 */
export function storeUnavailable(cause: unknown, detail = false): AppError {
  const why = cause instanceof Error ? cause.message : String(cause);
  const e = new AppError(
    "store_unavailable",
    detail ? `the store is unavailable: ${why}` : "the store is unavailable; try again shortly",
    503,
    STORE_RETRY_AFTER_S,
  );
  (e as { cause?: unknown }).cause = cause;
  return e;
}

/** `rows` of several values, as `(?, ?), (?, ?)` and their parameters in order. */
export function valuesOf(rows: readonly unknown[][]): Stmt {
  const one = `(${rows[0].map(() => "?").join(", ")})`;
  return { sql: rows.map(() => one).join(", "), params: rows.flat() };
}

export function rowsOf(r: StmtResult | undefined): Row[] {
  if (!Array.isArray(r)) throw new Error("expected rows from a SELECT");
  return r;
}

export function runOf(r: StmtResult | undefined): RunResult {
  if (r === undefined || Array.isArray(r)) throw new Error("expected a statement without rows");
  return r;
}

/** Splits `items` into chunks of at most `size`, for IN lists and multi-row statements. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
