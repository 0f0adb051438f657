/**
 * Presence: the sessions each online user has open, and on which chat node,
 * read to route every event to all of them. One hash "presence" maps the
 * user id to a JSON array of sessions, so a lookup is one HGET and a batch
 * one HMGET; online means the array is not empty. Every change is a
 * read-modify-write of the user's field closed by `hsetIfEquals` (a
 * compare-and-set), so sessions of one user opening and closing at once on
 * different nodes never lose each other's entries.
 *
 * Each chat node also keeps a marker key while its sessions are recorded
 * here. Whoever wipes a node's entries (status, for a node it believes dead)
 * deletes the marker too, as does a Redis that lost its data; a node that
 * finds its marker gone writes its sessions again (ensureSessions()).
 */
import { AppError } from "../../proto/errors.ts";
import type { Engine } from "./types.ts";

/** One open session of a user. */
export interface PresenceSession {
  /** The session id on its node. */
  session: string;
  /** The chat node's name. */
  node: string;
  /**
   * The node's gRPC address, so routing needs no registry lookup (and keeps
   * working while status cannot refresh the registry).
   */
  addr?: string;
  /** The client's device id ("" if unknown: a record an older node wrote). */
  device?: string;
  /** The device's label, as the client named it. */
  label?: string;
  /** When the session started (ms since the epoch). */
  since: number;
  /** Id (JWT jti) of the token the session was opened with, so a logout ends only its sessions. */
  jti?: string;
}

const KEY = "presence";
/** Read-modify-write attempts before giving up (each loses only to another writer's success). */
const MAX_TRIES = 50;

const markerKey = (node: string) => `presence:node:${node}`;

function parseOne(r: unknown): PresenceSession | null {
  const o = r as Record<string, unknown> | null;
  if (typeof o?.node !== "string" || typeof o.session !== "string" || typeof o.since !== "number") {
    return null;
  }
  const s: PresenceSession = { session: o.session, node: o.node, since: o.since };
  if (typeof o.addr === "string") s.addr = o.addr;
  if (typeof o.device === "string") s.device = o.device;
  if (typeof o.label === "string") s.label = o.label;
  if (typeof o.jti === "string") s.jti = o.jti;
  return s;
}

/** A user's sessions from the stored JSON; an older node's single record reads as a list of one. */
export function parseSessions(raw: string | null): PresenceSession[] {
  if (raw === null) return [];
  try {
    const v = JSON.parse(raw);
    const items = Array.isArray(v) ? v : [v];
    const out: PresenceSession[] = [];
    for (const item of items) {
      const s = parseOne(item);
      if (s) out.push(s);
    }
    return out;
  } catch {
    return []; // a malformed record reads as offline
  }
}

const encode = (list: PresenceSession[]) =>
  JSON.stringify(list.map((s) => ({
    session: s.session,
    node: s.node,
    addr: s.addr,
    device: s.device,
    label: s.label,
    since: s.since,
    jti: s.jti,
  })));

/**
 * Applies `change` to the user's list until the compare-and-set holds:
 * `change` gets the list read and returns the list to write, or null to
 * leave it as it is. Resolves with the list read last and the one written.
 */
async function update(
  engine: Engine,
  userId: number,
  change: (list: PresenceSession[]) => PresenceSession[] | null,
): Promise<{ before: PresenceSession[]; after: PresenceSession[] }> {
  const field = String(userId);
  for (let i = 0; i < MAX_TRIES; i++) {
    const raw = await engine.hget(KEY, field);
    const before = parseSessions(raw);
    const after = change(before);
    if (after === null) return { before, after: before };
    if (await engine.hsetIfEquals(KEY, field, raw, after.length ? encode(after) : null)) {
      return { before, after };
    }
  }
  throw new AppError("engine_unavailable", "presence is changing too fast; try again", 503, 1);
}

/** The user's open sessions (empty: offline). */
export async function getSessions(engine: Engine, userId: number): Promise<PresenceSession[]> {
  return parseSessions(await engine.hget(KEY, String(userId)));
}

/** The sessions of those `userIds` that are online, in one round trip. */
export async function getSessionsMany(
  engine: Engine,
  userIds: number[],
): Promise<Map<number, PresenceSession[]>> {
  const out = new Map<number, PresenceSession[]>();
  if (userIds.length === 0) return out;
  const raws = await engine.hmget(KEY, userIds.map(String));
  userIds.forEach((id, i) => {
    const list = parseSessions(raws[i]);
    if (list.length > 0) out.set(id, list);
  });
  return out;
}

export interface AddOptions {
  /** The session becomes the user's only one (the single-session policy). */
  replace?: boolean;
  /** Past this many sessions, the oldest others are taken out (the cap of the multi policy). */
  max?: number;
}

/**
 * Adds a session to the user's list (replacing an entry with the same
 * session id). Resolves with the sessions there were before it (`before`,
 * without it) and those this write took out (`evicted`: by `replace`, or
 * the oldest past `max`), which the caller must end.
 */
export async function addSession(
  engine: Engine,
  userId: number,
  s: PresenceSession,
  options: AddOptions = {},
): Promise<{ before: PresenceSession[]; evicted: PresenceSession[] }> {
  let evicted: PresenceSession[] = [];
  const { before } = await update(engine, userId, (list) => {
    const others = list.filter((o) => o.session !== s.session);
    evicted = [];
    if (options.replace) {
      evicted = others;
      return [s];
    }
    const keep = [...others].sort((a, b) => a.since - b.since);
    const max = Math.max(1, options.max ?? Infinity);
    while (keep.length + 1 > max) evicted.push(keep.shift()!);
    return [...keep, s];
  });
  return { before: before.filter((o) => o.session !== s.session), evicted };
}

/**
 * Takes a session out of the user's list. `removed`: it was there; `left`:
 * how many sessions the user still has (0: the user went offline with this).
 */
export async function removeSession(
  engine: Engine,
  userId: number,
  sessionId: string,
): Promise<{ removed: boolean; left: number }> {
  const { before, after } = await update(engine, userId, (list) => {
    const left = list.filter((o) => o.session !== sessionId);
    return left.length === list.length ? null : left;
  });
  return { removed: after.length < before.length, left: after.length };
}

/**
 * Writes back the sessions of `entries` that presence lost (Redis lost its
 * data, or status wiped a node it took for dead); resolves with how many
 * were missing. Entries present are left as they are.
 */
export async function ensureSessions(
  engine: Engine,
  entries: [number, PresenceSession][],
): Promise<number> {
  let written = 0;
  await Promise.all(entries.map(async ([userId, s]) => {
    const { before, after } = await update(
      engine,
      userId,
      (list) => list.some((o) => o.session === s.session) ? null : [...list, s],
    );
    if (after !== before) written++;
  }));
  return written;
}

/** Marks that `node`'s sessions are recorded (see the module comment). */
export async function setNodeMarker(
  engine: Engine,
  node: string,
  startedAt: number,
): Promise<void> {
  await engine.set(markerKey(node), String(startedAt));
}

/** Whether `node`'s marker is still there. */
export async function hasNodeMarker(engine: Engine, node: string): Promise<boolean> {
  return (await engine.get(markerKey(node))) !== null;
}

/** Deletes `node`'s marker (the node is gone, or its entries are being wiped). */
export async function clearNodeMarker(engine: Engine, node: string): Promise<void> {
  await engine.del(markerKey(node));
}

/** The user's newest session, or null if offline. */
export async function getPresence(engine: Engine, userId: number): Promise<PresenceSession | null> {
  const list = await getSessions(engine, userId);
  return list.reduce<PresenceSession | null>((a, b) => (a && a.since > b.since ? a : b), null);
}

/** Makes `s` the user's only session, unconditionally (tests and tools; logins use addSession()). */
export async function setPresence(
  engine: Engine,
  userId: number,
  s: PresenceSession,
): Promise<void> {
  await engine.hset(KEY, String(userId), encode([s]));
}

/** Online users: those with at least one session. */
export function countOnline(engine: Engine): Promise<number> {
  return engine.hlen(KEY);
}

/**
 * One page of online users with their sessions. `cursor` "0" starts; a
 * returned "0" ends. A page may hold more or fewer than `limit` entries,
 * and with Redis a user may show up on two pages if presence changed
 * during the listing.
 */
export async function listOnline(
  engine: Engine,
  options: { cursor: string; limit: number },
): Promise<{ entries: [number, PresenceSession[]][]; cursor: string }> {
  if (!/^\d{1,20}$/.test(options.cursor)) {
    throw new AppError("bad_cursor", "cursor must be the one a previous page returned", 400);
  }
  if (!Number.isSafeInteger(options.limit) || options.limit < 1 || options.limit > 10_000) {
    throw new AppError("bad_limit", "limit must be an integer from 1 to 10000", 400);
  }
  const page = await engine.hscan(KEY, options.cursor, options.limit);
  const entries: [number, PresenceSession[]][] = [];
  for (const [field, raw] of page.entries) {
    const list = parseSessions(raw);
    if (list.length > 0) entries.push([Number(field), list]);
  }
  return { entries, cursor: page.cursor };
}

/**
 * Takes every session on `node` (a node believed dead) out of presence,
 * then deletes the node's marker, so that the node, should it be alive
 * after all, writes its sessions again. Resolves with how many sessions it took out.
 */
export async function clearNodePresence(engine: Engine, node: string): Promise<number> {
  let removed = 0;
  let cursor = "0";
  do {
    const page = await engine.hscan(KEY, cursor, 500);
    cursor = page.cursor;
    await Promise.all(
      page.entries
        .filter(([, raw]) => parseSessions(raw).some((s) => s.node === node))
        .map(async ([field]) => {
          const { before, after } = await update(engine, Number(field), (list) => {
            const left = list.filter((s) => s.node !== node);
            return left.length === list.length ? null : left;
          });
          removed += before.length - after.length;
        }),
    );
  } while (cursor !== "0");
  // Last: a live node that sees its marker gone writes its sessions back,
  // which must not happen before they were taken out.
  await clearNodeMarker(engine, node);
  return removed;
}
