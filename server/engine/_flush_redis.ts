/**
 * Test-only: deletes the keys a redis engine URL's `?prefix=` covers, so a
 * test leaves the shared Redis as it found it. It opens its own connection
 * (with no key prefix) instead of going through the Engine interface: a
 * running server never deletes keys wholesale, so the engine has no such
 * call. SCAN + UNLINK on every master, never FLUSHDB, since the database is
 * shared; a URL with no prefix is refused.
 */
import { Cluster, Redis } from "ioredis";
import { parseRedisUrl } from "./redis.ts";

/** Escapes SCAN MATCH glob characters so a prefix is matched literally. */
function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, "\\$&");
}

async function unlinkMatching(node: Redis, match: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await node.scan(cursor, "MATCH", match, "COUNT", 500);
    cursor = next;
    if (keys.length === 0) continue;
    // One UNLINK per key keeps a cluster's keys within their slots.
    const p = node.pipeline();
    for (const k of keys) p.unlink(k);
    await p.exec();
  } while (cursor !== "0");
}

/** Deletes every key under the `?prefix=` of the redis or redis-cluster `url`. */
export async function flushRedisPrefix(url: string): Promise<void> {
  const t = parseRedisUrl(url);
  if (t.prefix === "") {
    throw new Error("flushRedisPrefix() needs a key prefix: refusing to delete a whole database");
  }
  const auth = { username: t.username, password: t.password, tls: t.tls ? {} : undefined };
  const match = globEscape(t.prefix) + "*";
  if (!t.cluster) {
    const client = new Redis({ ...auth, ...t.nodes[0], db: t.db, lazyConnect: true });
    try {
      await client.connect();
      await unlinkMatching(client, match);
    } finally {
      client.disconnect();
    }
    return;
  }
  const cluster = new Cluster(t.nodes, { lazyConnect: true, redisOptions: auth });
  try {
    await cluster.connect();
    for (const node of cluster.nodes("master")) await unlinkMatching(node, match);
  } finally {
    cluster.disconnect();
  }
}
