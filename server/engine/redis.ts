/**
 * The `redis://`, `rediss://` and `redis-cluster://` engines: the primitives
 * of types.ts on Redis through ioredis. The compare-and-act primitives are
 * Lua scripts (defineCommand, so ioredis adds the key prefix to KEYS and
 * routes them by slot in a cluster); every primitive touches one key, so
 * none of them can straddle cluster slots.
 *
 * Failing fast matters more than riding out an outage here: the chat node
 * sits on a socket while it waits for presence or a lock, so a command
 * waits for at most one reconnect attempt (maxRetriesPerRequest) and then
 * fails, and opening the engine fails at the first connection error. A
 * Redis that is up but does not answer (frozen, swapping, a stalled
 * network) keeps the connection open, so every command also has a
 * deadline (COMMAND_TIMEOUT_MS) after which it fails the same way.
 */
import { Cluster, Redis } from "ioredis";
import type { ClusterOptions, RedisCommander, RedisOptions } from "ioredis";
import { AppError } from "../../proto/errors.ts";
import type { Logger } from "../log.ts";
import type { Engine, SetOptions } from "./types.ts";
import { byArg, countArg, ttlArg } from "./_args.ts";

/** What a redis URL says, parsed. */
export interface RedisTarget {
  cluster: boolean;
  nodes: { host: string; port: number }[];
  username?: string;
  password?: string;
  db: number;
  tls: boolean;
  /** Prepended to every key (ioredis `keyPrefix`), from `?prefix=`. */
  prefix: string;
}

function badUrl(url: string, why: string): AppError {
  // The password never goes into an error message.
  const shown = url.replace(/\/\/[^@/]*@/, "//***@");
  return new AppError("engine_url_invalid", `engine url ${shown}: ${why}`, 500);
}

function hostPort(url: string, s: string): { host: string; port: number } {
  const m = s.match(/^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/);
  const port = Number(m?.[2] ?? 6379);
  if (!m || port < 1 || port > 65535) throw badUrl(url, `"${s}" is not host:port`);
  return { host: m[1].replace(/^\[|\]$/g, ""), port };
}

/**
 * Parses `redis://[user][:pass@]host[:port][/db][?prefix=P]`, `rediss://...`
 * (TLS) and `redis-cluster://[user][:pass@]host:port,host:port[?prefix=P]`.
 */
export function parseRedisUrl(url: string): RedisTarget {
  const m = url.match(
    /^(redis|rediss|redis-cluster):\/\/(?:([^@/?]*)@)?([^/?]*)(\/[^?]*)?(?:\?(.*))?$/,
  );
  if (!m) {
    throw badUrl(url, "expected redis://host:port, rediss:// or redis-cluster://host:port,...");
  }
  const [, scheme, auth, hosts, path, query] = m;
  const cluster = scheme === "redis-cluster";
  const nodes = hosts.split(",").filter((h) => h !== "").map((h) => hostPort(url, h));
  if (nodes.length === 0) throw badUrl(url, "no host");
  if (!cluster && nodes.length > 1) throw badUrl(url, "several hosts need redis-cluster://");
  let db = 0;
  if (path && path !== "/") {
    if (cluster) throw badUrl(url, "a cluster has no database number");
    if (!/^\/\d{1,2}$/.test(path)) throw badUrl(url, `"${path.slice(1)}" is not a database number`);
    db = Number(path.slice(1));
  }
  let username: string | undefined, password: string | undefined;
  if (auth !== undefined) {
    const i = auth.indexOf(":");
    const user = decodeURIComponent(i < 0 ? auth : auth.slice(0, i));
    username = user || undefined;
    password = i < 0 ? undefined : decodeURIComponent(auth.slice(i + 1));
  }
  const params = new URLSearchParams(query ?? "");
  for (const k of params.keys()) if (k !== "prefix") throw badUrl(url, `unknown option "${k}"`);
  return {
    cluster,
    nodes,
    username,
    password,
    db,
    tls: scheme === "rediss",
    prefix: params.get("prefix") ?? "",
  };
}

/** The Lua scripts behind the atomic primitives; one key each. */
const SCRIPTS = {
  parleyDelIfEquals: `
    if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
    return 0`,
  parleyHdelIfEquals: `
    if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
    return 0`,
  // ARGV: field, expected is null ("1"/"0"), expected, value is null ("1"/"0"), value.
  parleyHsetIfEquals: `
    local cur = redis.call('HGET', KEYS[1], ARGV[1])
    if ARGV[2] == '1' then
      if cur then return 0 end
    elseif cur ~= ARGV[3] then
      return 0
    end
    if ARGV[4] == '1' then redis.call('HDEL', KEYS[1], ARGV[1])
    else redis.call('HSET', KEYS[1], ARGV[1], ARGV[5]) end
    return 1`,
  // The TTL is set when INCRBY created the key (or found one without a TTL)
  // and never extended, so a fixed window really is fixed.
  parleyIncr: `
    local v = redis.call('INCRBY', KEYS[1], ARGV[1])
    local t = redis.call('PTTL', KEYS[1])
    if t < 0 then
      redis.call('PEXPIRE', KEYS[1], ARGV[2])
      t = tonumber(ARGV[2])
    end
    return {v, t}`,
};

type Client = (Redis | Cluster) & RedisCommander & {
  parleyDelIfEquals(key: string, value: string): Promise<number>;
  parleyHdelIfEquals(key: string, field: string, value: string): Promise<number>;
  parleyHsetIfEquals(
    key: string,
    field: string,
    expectedNull: string,
    expected: string,
    valueNull: string,
    value: string,
  ): Promise<number>;
  parleyIncr(key: string, by: number, ttlMs: number): Promise<[number, number]>;
};

/**
 * How long a command may wait for its reply. Parley's commands are single
 * keys and short scripts that Redis answers in well under a millisecond; a
 * second is the margin for a busy event loop on a loaded machine, and a
 * caller learns of a frozen Redis after 2 s instead of never.
 */
export const COMMAND_TIMEOUT_MS = 2_000;

const RETRY = (times: number) => Math.min(times * 200, 2_000);
const COMMON: RedisOptions = {
  lazyConnect: false,
  connectTimeout: 5_000,
  commandTimeout: COMMAND_TIMEOUT_MS,
  // One reconnect attempt, then the queued command fails: callers see an
  // outage in well under a second instead of hanging on a socket.
  maxRetriesPerRequest: 1,
  retryStrategy: RETRY,
  // Commands issued in the same turn go out in one write: a login storm or
  // a head sweep issues many at once, and each write through node:net is
  // a syscall that also wakes Redis.
  enableAutoPipelining: true,
};

/** Resolves when `client` is ready; rejects at its first error (then it is disconnected). */
function ready(client: Redis | Cluster, where: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (e?: Error) => {
      client.off("ready", onReady);
      client.off("error", onError);
      if (!e) return resolve();
      client.disconnect();
      reject(
        new AppError("engine_unavailable", `cannot reach Redis at ${where}: ${e.message}`, 503, 5),
      );
    };
    const onReady = () => done();
    const onError = (e: Error) => done(e);
    client.once("ready", onReady);
    client.once("error", onError);
  });
}

export class RedisEngine implements Engine {
  readonly kind = "redis";
  #client: Client;
  #target: RedisTarget;
  #closed = false;

  private constructor(client: Client, target: RedisTarget) {
    this.#client = client;
    this.#target = target;
  }

  static async open(url: string, log: Logger): Promise<RedisEngine> {
    const t = parseRedisUrl(url);
    const where = t.nodes.map((n) => `${n.host}:${n.port}`).join(",");
    const auth = { username: t.username, password: t.password, tls: t.tls ? {} : undefined };
    const client = t.cluster
      ? new Cluster(
        t.nodes,
        {
          keyPrefix: t.prefix,
          clusterRetryStrategy: RETRY,
          // A Cluster has no maxRetriesPerRequest: with an offline queue its
          // commands would wait for as long as the cluster is unreachable.
          // open() waits for "ready", so nothing needs queueing before that.
          enableOfflineQueue: false,
          redisOptions: { ...COMMON, ...auth },
        } satisfies ClusterOptions,
      )
      : new Redis({ ...COMMON, ...auth, ...t.nodes[0], db: t.db, keyPrefix: t.prefix });
    // Without a listener ioredis prints errors itself; log each distinct one
    // once per outage so a reconnect loop does not flood the log.
    let lastError = "";
    client.on("error", (e: Error) => {
      if (e.message === lastError) return;
      lastError = e.message;
      log.warn("redis connection error", { where, error: e.message });
    });
    client.on("ready", () => {
      if (lastError) log.info("redis connection restored", { where });
      lastError = "";
    });
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      client.defineCommand(name, { numberOfKeys: 1, lua });
    }
    await ready(client, where);
    log.debug("redis engine ready", { where, cluster: t.cluster, prefix: t.prefix });
    return new RedisEngine(client as Client, t);
  }

  /**
   * Awaits a command, turning an outage (no connection, retries exhausted,
   * cluster down, no reply within COMMAND_TIMEOUT_MS) into AppError
   * `engine_unavailable` (503, retry after 2 s) that the edges can answer
   * with "try again"; Redis refusing a command (WRONGTYPE, ERR) is a bug
   * and stays as it is.
   */
  async #run<T>(command: Promise<T>): Promise<T> {
    try {
      return await command;
    } catch (e) {
      const err = e as Error;
      if (err?.name === "ReplyError" && /^(WRONGTYPE|ERR) /.test(err.message)) throw err;
      throw new AppError(
        "engine_unavailable",
        `shared state (Redis) is unavailable: ${err?.message}`,
        503,
        2,
      );
    }
  }

  async get(key: string): Promise<string | null> {
    return await this.#run(this.#client.get(key));
  }

  async mget(keys: string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return [];
    if (!this.#target.cluster) return await this.#run(this.#client.mget(keys));
    // In a cluster the keys may live in different slots (MGET would fail
    // with CROSSSLOT); parallel GETs still cost one round trip of latency.
    // Like MGET, a key of another type reads as missing.
    return await Promise.all(keys.map((k) =>
      this.#run(this.#client.get(k)).catch((e: Error) => {
        if (e.message.startsWith("WRONGTYPE")) return null;
        throw e;
      })
    ));
  }

  async set(key: string, value: string, options: SetOptions = {}): Promise<boolean> {
    const c = this.#client;
    const ms = options.ttlMs === undefined ? undefined : ttlArg(options.ttlMs);
    let r: Promise<string | null>;
    if (ms !== undefined && options.nx) r = c.set(key, value, "PX", ms, "NX");
    else if (ms !== undefined) r = c.set(key, value, "PX", ms);
    else if (options.nx) r = c.set(key, value, "NX");
    else r = c.set(key, value);
    return (await this.#run(r)) === "OK";
  }

  async del(key: string): Promise<void> {
    await this.#run(this.#client.del(key));
  }

  async delIfEquals(key: string, value: string): Promise<boolean> {
    return (await this.#run(this.#client.parleyDelIfEquals(key, value))) === 1;
  }

  async incr(key: string, ttlMs: number, by = 1): Promise<{ value: number; ttlMs: number }> {
    const ms = ttlArg(ttlMs);
    const [value, left] = await this.#run(this.#client.parleyIncr(key, byArg(by), ms));
    return { value: Number(value), ttlMs: Number(left) };
  }

  async pttl(key: string): Promise<number> {
    return await this.#run(this.#client.pttl(key));
  }

  async hget(key: string, field: string): Promise<string | null> {
    return await this.#run(this.#client.hget(key, field));
  }

  async hmget(key: string, fields: string[]): Promise<(string | null)[]> {
    if (fields.length === 0) return [];
    return await this.#run(this.#client.hmget(key, ...fields));
  }

  async hset(key: string, field: string, value: string): Promise<void> {
    await this.#run(this.#client.hset(key, field, value));
  }

  async hdel(key: string, field: string): Promise<void> {
    await this.#run(this.#client.hdel(key, field));
  }

  async hdelIfEquals(key: string, field: string, value: string): Promise<boolean> {
    return (await this.#run(this.#client.parleyHdelIfEquals(key, field, value))) === 1;
  }

  async hsetIfEquals(
    key: string,
    field: string,
    expected: string | null,
    value: string | null,
  ): Promise<boolean> {
    const r = this.#client.parleyHsetIfEquals(
      key,
      field,
      expected === null ? "1" : "0",
      expected ?? "",
      value === null ? "1" : "0",
      value ?? "",
    );
    return (await this.#run(r)) === 1;
  }

  async hgetall(key: string): Promise<Record<string, string>> {
    return await this.#run(this.#client.hgetall(key));
  }

  async hlen(key: string): Promise<number> {
    return await this.#run(this.#client.hlen(key));
  }

  async hscan(
    key: string,
    cursor: string,
    count: number,
  ): Promise<{ cursor: string; entries: [string, string][] }> {
    const page = this.#client.hscan(key, cursor, "COUNT", countArg(count));
    const [next, flat] = await this.#run(page);
    const entries: [string, string][] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) entries.push([flat[i], flat[i + 1]]);
    return { cursor: next, entries };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      // QUIT lets pending replies arrive; if Redis is gone it may never answer.
      await Promise.race([
        this.#client.quit(),
        new Promise((_, reject) =>
          timer = setTimeout(() => reject(new Error("quit timed out")), 2_000)
        ),
      ]);
    } catch {
      this.#client.disconnect();
    } finally {
      clearTimeout(timer);
    }
  }
}
