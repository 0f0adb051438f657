/**
 * Presence: which chat node and session each online user is connected to,
 * read on every message to route it. One hash "presence" maps the user id
 * to a JSON record, so a lookup is one HGET and a batch one HMGET.
 * Clearing compares the session, so a session that was replaced by a newer
 * login elsewhere cannot erase the newer record.
 */
import { AppError } from "../../proto/errors.ts";
import type { Engine } from "./types.ts";

export interface PresenceRecord {
  /** The chat node's name. */
  node: string;
  /** The session id on that node. */
  session: string;
  /** When the session started (ms since the epoch). */
  since: number;
  /** Id (JWT jti) of the token the session was opened with, so a logout ends only its session. */
  jti?: string;
}

const KEY = "presence";

function parse(raw: string | null): PresenceRecord | null {
  if (raw === null) return null;
  try {
    const r = JSON.parse(raw);
    if (
      typeof r?.node === "string" && typeof r.session === "string" && typeof r.since === "number"
    ) {
      const rec: PresenceRecord = { node: r.node, session: r.session, since: r.since };
      if (typeof r.jti === "string") rec.jti = r.jti;
      return rec;
    }
  } catch { /* a malformed record reads as offline */ }
  return null;
}

const encode = (rec: PresenceRecord) =>
  JSON.stringify({ node: rec.node, session: rec.session, since: rec.since, jti: rec.jti });

export async function setPresence(
  engine: Engine,
  userId: number,
  rec: PresenceRecord,
): Promise<void> {
  await engine.hset(KEY, String(userId), encode(rec));
}

export async function getPresence(engine: Engine, userId: number): Promise<PresenceRecord | null> {
  return parse(await engine.hget(KEY, String(userId)));
}

/** The records of those `userIds` that are online, in one round trip. */
export async function getPresenceMany(
  engine: Engine,
  userIds: number[],
): Promise<Map<number, PresenceRecord>> {
  const out = new Map<number, PresenceRecord>();
  if (userIds.length === 0) return out;
  const raws = await engine.hmget(KEY, userIds.map(String));
  userIds.forEach((id, i) => {
    const rec = parse(raws[i]);
    if (rec) out.set(id, rec);
  });
  return out;
}

/** Removes the user's presence if `session` is still the current one; true if it did. */
export async function clearPresence(
  engine: Engine,
  userId: number,
  session: string,
): Promise<boolean> {
  const field = String(userId);
  // Read, then compare-and-delete the exact record read: if it changed in
  // between, look again (it may be a newer record of the same session).
  for (let i = 0; i < 3; i++) {
    const raw = await engine.hget(KEY, field);
    if (parse(raw)?.session !== session) return false;
    if (await engine.hdelIfEquals(KEY, field, raw!)) return true;
  }
  return false;
}

export function countOnline(engine: Engine): Promise<number> {
  return engine.hlen(KEY);
}

/**
 * One page of online users. `cursor` "0" starts; a returned "0" ends. A
 * page may hold more or fewer than `limit` entries, and with Redis a user
 * may show up on two pages if presence changed during the listing.
 */
export async function listOnline(
  engine: Engine,
  options: { cursor: string; limit: number },
): Promise<{ entries: [number, PresenceRecord][]; cursor: string }> {
  if (!/^\d{1,20}$/.test(options.cursor)) {
    throw new AppError("bad_cursor", "cursor must be the one a previous page returned", 400);
  }
  if (!Number.isSafeInteger(options.limit) || options.limit < 1 || options.limit > 10_000) {
    throw new AppError("bad_limit", "limit must be an integer from 1 to 10000", 400);
  }
  const page = await engine.hscan(KEY, options.cursor, options.limit);
  const entries: [number, PresenceRecord][] = [];
  for (const [field, raw] of page.entries) {
    const rec = parse(raw);
    if (rec) entries.push([Number(field), rec]);
  }
  return { entries, cursor: page.cursor };
}

/**
 * Removes every presence record that points to `node` (a node known to be
 * dead); returns how many. Records rewritten meanwhile (the user logged in
 * elsewhere) are left alone.
 */
export async function clearNodePresence(engine: Engine, node: string): Promise<number> {
  let removed = 0;
  let cursor = "0";
  do {
    const page = await engine.hscan(KEY, cursor, 500);
    cursor = page.cursor;
    const gone = await Promise.all(
      page.entries
        .filter(([, raw]) => parse(raw)?.node === node)
        .map(([field, raw]) => engine.hdelIfEquals(KEY, field, raw)),
    );
    removed += gone.filter(Boolean).length;
  } while (cursor !== "0");
  return removed;
}
