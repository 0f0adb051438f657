/**
 * The engine's entry: `openEngine(url)` picks the adapter from the URL
 * (`memory:`, `redis://`, `rediss://`, `redis-cluster://`) and the domain
 * modules built on the primitives are re-exported here. ioredis is loaded
 * only when a redis URL is opened, so the single-process mode never pays
 * for it.
 */
import { AppError } from "../../proto/errors.ts";
import type { Logger } from "../log.ts";
import type { Engine } from "./types.ts";
import { MemoryEngine } from "./memory.ts";

export type { Engine, SetOptions } from "./types.ts";
export * from "./locks.ts";
export * from "./presence.ts";
export * from "./nodes.ts";
export * from "./rate_limit.ts";

/**
 * Opens the engine `url` names. A redis engine is connected when this
 * resolves; an unreachable Redis rejects with AppError `engine_unavailable`
 * at the first connection error, a malformed URL with `engine_url_invalid`;
 * later, while Redis is unreachable, calls reject within about a second
 * with `engine_unavailable` (503) rather than wait for it to come back.
 */
export async function openEngine(url: string, options: { log: Logger }): Promise<Engine> {
  if (url === "memory:") return new MemoryEngine();
  if (/^(redis|rediss|redis-cluster):\/\//.test(url)) {
    const { RedisEngine } = await import("./redis.ts");
    return await RedisEngine.open(url, options.log);
  }
  throw new AppError(
    "engine_url_invalid",
    `unknown engine url "${
      url.split(":")[0]
    }:..."; expected memory:, redis://, rediss:// or redis-cluster://`,
    500,
  );
}
