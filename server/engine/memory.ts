/**
 * The `memory:` engine: the primitives of types.ts on Maps in this process,
 * for the single-process mode and for unit tests. It mirrors Redis where the
 * domain modules could notice a difference: keys expire (lazily on access,
 * plus a periodic sweep so that untouched keys do not pile up), a hash
 * whose last field is deleted disappears, SET without a TTL clears an old
 * one, and using a key as the wrong type fails with WRONGTYPE.
 */
import type { Engine, SetOptions } from "./types.ts";
import { byArg, countArg, ttlArg } from "./_args.ts";

/** How often expired keys nobody reads are dropped. */
const SWEEP_MS = 5_000;

interface Field {
  value: string;
  /** Insertion order, the HSCAN cursor: a field survives a scan while others are deleted. */
  seq: number;
}

type Entry =
  | { type: "string"; value: string; expiresAt: number | null }
  | { type: "hash"; fields: Map<string, Field>; nextSeq: number; expiresAt: number | null };

/** Runs `fn` as an engine call: its result or its error as a promise, never a synchronous throw. */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e);
  }
}

function wrongType(): Error {
  return new Error("WRONGTYPE Operation against a key holding the wrong kind of value");
}

export class MemoryEngine implements Engine {
  readonly kind = "memory";
  #data = new Map<string, Entry>();
  #sweeper: ReturnType<typeof setInterval>;

  constructor(options: { sweepMs?: number } = {}) {
    this.#sweeper = setInterval(() => this.#sweep(), options.sweepMs ?? SWEEP_MS);
    // The sweep is housekeeping: it must not keep a finished process alive.
    Deno.unrefTimer(this.#sweeper);
  }

  /** Keys held, counting expired ones not yet swept; lets tests see the sweep work. */
  get storedKeys(): number {
    return this.#data.size;
  }

  #sweep(now = Date.now()): void {
    for (const [key, e] of this.#data) {
      if (e.expiresAt !== null && e.expiresAt <= now) this.#data.delete(key);
    }
  }

  /** The live entry under `key`, dropping it first if it has expired. */
  #entry(key: string): Entry | undefined {
    const e = this.#data.get(key);
    if (e && e.expiresAt !== null && e.expiresAt <= Date.now()) {
      this.#data.delete(key);
      return undefined;
    }
    return e;
  }

  #string(key: string): (Entry & { type: "string" }) | undefined {
    const e = this.#entry(key);
    if (e && e.type !== "string") throw wrongType();
    return e;
  }

  #hash(key: string): (Entry & { type: "hash" }) | undefined {
    const e = this.#entry(key);
    if (e && e.type !== "hash") throw wrongType();
    return e;
  }

  get(key: string): Promise<string | null> {
    return settle(() => this.#string(key)?.value ?? null);
  }

  mget(keys: string[]): Promise<(string | null)[]> {
    // Like MGET: a key of another type reads as missing rather than failing.
    return settle(() =>
      keys.map((k) => {
        const e = this.#entry(k);
        return e?.type === "string" ? e.value : null;
      })
    );
  }

  set(key: string, value: string, options: SetOptions = {}): Promise<boolean> {
    return settle(() => {
      const expiresAt = options.ttlMs === undefined ? null : Date.now() + ttlArg(options.ttlMs);
      if (options.nx && this.#entry(key)) return false;
      this.#data.set(key, { type: "string", value, expiresAt });
      return true;
    });
  }

  del(key: string): Promise<void> {
    return settle(() => void this.#data.delete(key));
  }

  delIfEquals(key: string, value: string): Promise<boolean> {
    return settle(() => this.#string(key)?.value === value && this.#data.delete(key));
  }

  incr(key: string, ttlMs: number, by = 1): Promise<{ value: number; ttlMs: number }> {
    return settle(() => {
      const ms = ttlArg(ttlMs);
      byArg(by);
      const now = Date.now();
      const e = this.#string(key);
      if (e && !/^-?\d+$/.test(e.value)) {
        throw new Error("ERR value is not an integer or out of range");
      }
      const value = (e ? Number(e.value) : 0) + by;
      // Same rule as the Redis script: the TTL is set when the key is created
      // (or found without one) and never extended by later increments.
      const expiresAt = e?.expiresAt ?? now + ms;
      this.#data.set(key, { type: "string", value: String(value), expiresAt });
      return { value, ttlMs: expiresAt - now };
    });
  }

  pttl(key: string): Promise<number> {
    return settle(() => {
      const e = this.#entry(key);
      if (!e) return -2;
      return e.expiresAt === null ? -1 : e.expiresAt - Date.now();
    });
  }

  hget(key: string, field: string): Promise<string | null> {
    return settle(() => this.#hash(key)?.fields.get(field)?.value ?? null);
  }

  hmget(key: string, fields: string[]): Promise<(string | null)[]> {
    return settle(() => {
      const h = this.#hash(key);
      return fields.map((f) => h?.fields.get(f)?.value ?? null);
    });
  }

  hset(key: string, field: string, value: string): Promise<void> {
    return settle(() => this.#hsetNow(key, field, value));
  }

  #hsetNow(key: string, field: string, value: string): void {
    let h = this.#hash(key);
    if (!h) {
      h = { type: "hash", fields: new Map(), nextSeq: 1, expiresAt: null };
      this.#data.set(key, h);
    }
    const old = h.fields.get(field);
    if (old) old.value = value;
    else h.fields.set(field, { value, seq: h.nextSeq++ });
  }

  /** Deletes `field` if it holds `value` (any value if undefined); true if it did. */
  #hdel(key: string, field: string, value?: string): boolean {
    const h = this.#hash(key);
    const f = h?.fields.get(field);
    if (!h || !f || (value !== undefined && f.value !== value)) return false;
    h.fields.delete(field);
    // Like Redis: a hash without fields does not exist.
    if (h.fields.size === 0) this.#data.delete(key);
    return true;
  }

  hdel(key: string, field: string): Promise<void> {
    return settle(() => void this.#hdel(key, field));
  }

  hdelIfEquals(key: string, field: string, value: string): Promise<boolean> {
    return settle(() => this.#hdel(key, field, value));
  }

  hsetIfEquals(
    key: string,
    field: string,
    expected: string | null,
    value: string | null,
  ): Promise<boolean> {
    return settle(() => {
      const current = this.#hash(key)?.fields.get(field)?.value ?? null;
      if (current !== expected) return false;
      if (value === null) this.#hdel(key, field);
      else this.#hsetNow(key, field, value);
      return true;
    });
  }

  hgetall(key: string): Promise<Record<string, string>> {
    return settle(() => {
      const out: Record<string, string> = {};
      for (const [f, { value }] of this.#hash(key)?.fields ?? []) out[f] = value;
      return out;
    });
  }

  hlen(key: string): Promise<number> {
    return settle(() => this.#hash(key)?.fields.size ?? 0);
  }

  hscan(
    key: string,
    cursor: string,
    count: number,
  ): Promise<{ cursor: string; entries: [string, string][] }> {
    return settle(() => {
      countArg(count);
      if (!/^\d+$/.test(cursor)) throw new Error("ERR invalid cursor");
      const after = Number(cursor);
      const entries: [string, string][] = [];
      let last = 0;
      for (const [f, { value, seq }] of this.#hash(key)?.fields ?? []) {
        if (seq <= after) continue;
        // A field beyond a full page: there is a next page, starting after `last`.
        if (entries.length === count) return { cursor: String(last), entries };
        entries.push([f, value]);
        last = seq;
      }
      return { cursor: "0", entries };
    });
  }

  close(): Promise<void> {
    clearInterval(this.#sweeper);
    return Promise.resolve();
  }
}
