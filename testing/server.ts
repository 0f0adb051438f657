/**
 * Helpers for unit tests of server roles: a ResolvedConfig built through
 * resolveConfig() with no files or environment, Deps around an engine and a
 * store the test opened itself, and a logger that keeps what it wrote.
 * Test-only; nothing in a running server imports this module.
 */
import { resolveConfig, type ResolvedConfig } from "../server/config.ts";
import type { SecretStore } from "../server/secrets.ts";
import { createLogger, type Logger, silentLogger } from "../server/log.ts";
import type { Deps } from "../server/role.ts";
import type { Engine } from "../server/engine/types.ts";
import type { Store } from "../server/store/types.ts";

/** Secrets kept in a Map, so tests never write jwt.key or admin.token to disk. */
export function memorySecrets(): SecretStore {
  const m = new Map<string, string>();
  return { getOrCreate: (n, c) => m.get(n) ?? (m.set(n, c()), m.get(n)!) };
}

/**
 * The cluster secret of every testConfig(): roles a test starts from
 * separate configs share it, as the processes of a cluster do.
 */
export const TEST_CLUSTER_SECRET = "test-cluster-secret-0123456789-0123456789";

type Overrides = { [K in keyof ResolvedConfig]?: Partial<ResolvedConfig[K]> | ResolvedConfig[K] };

/**
 * The embedded defaults with every listener on 127.0.0.1 port 0 (a free
 * port), then `overrides` merged one level deep (`{ status: { nodeTtlMs } }`
 * keeps the other status fields).
 */
export function testConfig(overrides: Overrides = {}): ResolvedConfig {
  const base = resolveConfig({}, {
    env: { PARLEY_CLUSTER_SECRET: TEST_CLUSTER_SECRET },
    secrets: memorySecrets(),
  });
  base.gate = { ...base.gate, host: "127.0.0.1", port: 0 };
  base.verify = { ...base.verify, host: "127.0.0.1", port: 0 };
  base.status = { ...base.status, host: "127.0.0.1", port: 0 };
  base.chat = { ...base.chat, host: "127.0.0.1", port: 0, grpcPort: 0 };
  const out = base as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(overrides)) {
    const prev = out[k];
    const isPlain = (x: unknown) =>
      x !== null && typeof x === "object" && !Array.isArray(x) && !(x instanceof Uint8Array);
    out[k] = isPlain(prev) && isPlain(v) ? { ...(prev as object), ...(v as object) } : v;
  }
  return base;
}

/** Deps for a role under test; asking for a part the test did not give is an error. */
export function testDeps(parts: { engine?: Engine; store?: Store; log?: Logger } = {}): Deps {
  return {
    log: parts.log ?? silentLogger,
    engine: () =>
      parts.engine
        ? Promise.resolve(parts.engine)
        : Promise.reject(new Error("test gave no engine")),
    store: () =>
      parts.store ? Promise.resolve(parts.store) : Promise.reject(new Error("test gave no store")),
  };
}

export interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

/** A logger that keeps every line it writes, parsed, for tests that look at the log. */
export function memoryLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = createLogger({}, { level: "debug", write: (l) => lines.push(JSON.parse(l)) });
  return { log, lines };
}
