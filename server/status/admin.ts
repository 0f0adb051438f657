/**
 * The status role's admin calls behind parley-admin: nodes, presence (every
 * session of a user: node, device, since), the online list, kicks (every
 * session of a user, one session, or those of one token), user details and
 * totals. The admin token is checked before any of these runs (STATUS.access
 * in proto/services.ts, checked by the plane); Kick also takes the cluster
 * secret, for the gate (a logout ends the sessions of its token).
 */
import { AppError } from "../../proto/errors.ts";
import type { Engine } from "../engine/types.ts";
import type { Logger } from "../log.ts";
import type { Store, User } from "../store/types.ts";
import { getNode, liveNodes, type NodeRecord, nodeStarts } from "../engine/nodes.ts";
import { countOnline, getSessions, listOnline, type PresenceSession } from "../engine/presence.ts";
import type {
  AdminKickReply,
  AdminKickRequest,
  Empty,
  ListOnlineRequest,
  NodeInfo,
  NodeKickRequest,
  OnlineList,
  PresenceInfo,
  SessionInfo,
  StatsReply,
  UserDetails,
  UserRef,
} from "../../proto/services.ts";
import { toNodeInfo } from "./registry.ts";
import type { ChatClients } from "./chat_clients.ts";

const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;

export interface AdminParts {
  engine: Engine;
  store: Store;
  chatClients: ChatClients;
  nodeTtlMs: number;
  log: Logger;
}

/** The admin calls, by their names in status.proto. */
export function adminHandlers(parts: AdminParts) {
  const { engine, store, nodeTtlMs } = parts;
  return {
    async ListNodes(_req: Empty): Promise<{ nodes: NodeInfo[] }> {
      const now = Date.now();
      const [nodes, starts] = await Promise.all([
        liveNodes(engine, nodeTtlMs, now),
        nodeStarts(engine),
      ]);
      return { nodes: nodes.map((n) => toNodeInfo(n, now, starts.get(n.name)?.restarts)) };
    },

    async Presence(req: UserRef): Promise<PresenceInfo> {
      const user = await findUser(store, req);
      return presenceInfo(user, await livePresence(parts, user.id));
    },

    ListOnline: (req: ListOnlineRequest) => listOnlinePage(parts, req),

    Kick: (req: AdminKickRequest) => kick(parts, req),

    async UserInfo(req: UserRef): Promise<UserDetails> {
      const user = await findUser(store, req);
      const [friends, messages, rec] = await Promise.all([
        store.countFriends(user.id),
        store.countMessages(user.id),
        livePresence(parts, user.id),
      ]);
      return {
        id: user.id,
        email: user.email,
        name: user.name,
        display_name: user.displayName,
        bio: user.bio,
        created_at_ms: user.createdAt,
        friends,
        messages,
        presence: presenceInfo(user, rec),
      };
    },

    async Stats(_req: Empty): Promise<StatsReply> {
      const now = Date.now();
      const [users, messages, nodes, starts] = await Promise.all([
        store.countUsers(),
        store.countMessages(),
        liveNodes(engine, nodeTtlMs, now),
        nodeStarts(engine),
      ]);
      return {
        users,
        messages,
        sessions: nodes.reduce((sum, n) => sum + n.sessions, 0),
        nodes: nodes.map((n) => toNodeInfo(n, now, starts.get(n.name)?.restarts)),
      };
    },
  };
}

/** One page of the online users, each with their sessions on live nodes. */
async function listOnlinePage(
  { engine, store, nodeTtlMs }: AdminParts,
  req: ListOnlineRequest,
): Promise<OnlineList> {
  const asked = Number(req.limit) || DEFAULT_PAGE;
  const limit = Math.min(Math.max(1, Math.trunc(asked)), MAX_PAGE);
  const cursor = typeof req.cursor === "string" && req.cursor !== "" ? req.cursor : "0";
  const now = Date.now();
  const [page, total, nodes] = await Promise.all([
    listOnline(engine, { cursor, limit }),
    countOnline(engine),
    liveNodes(engine, nodeTtlMs, now),
  ]);
  const live = new Set(nodes.map((n) => n.name));
  const entries = page.entries
    .map(([id, list]) => [id, list.filter((x) => live.has(x.node))] as const)
    .filter(([, list]) => list.length > 0);
  const users = new Map(
    (await store.usersByIds(entries.map(([id]) => Number(id)))).map((u) => [u.id, u]),
  );
  const out: PresenceInfo[] = [];
  for (const [id, list] of entries) {
    const user = users.get(Number(id));
    if (user) out.push(presenceInfo(user, list));
  }
  return { total, users: out, next_cursor: page.cursor === "0" ? "" : page.cursor };
}

/** Ends the user's live sessions that the request names (all, one session, one token's). */
async function kick(parts: AdminParts, req: AdminKickRequest): Promise<AdminKickReply> {
  const { engine, store, chatClients, log } = parts;
  const user = await findUser(store, req.user);
  const tokenId = typeof req.token_id === "string" ? req.token_id : "";
  const sessionId = typeof req.session_id === "string" ? req.session_id : "";
  const targets = (await liveOnly(parts, await getSessions(engine, user.id))).filter(({ s }) =>
    (!tokenId || s.jti === tokenId) && (!sessionId || s.session === sessionId)
  );
  const reason = typeof req.reason === "string" && req.reason.trim()
    ? req.reason.trim().slice(0, 200)
    : "kicked by an administrator";
  // One call per session, naming it: a kick never ends a session that opened since.
  const calls = targets.map(({ s, node }) => ({
    addr: node.grpcAddr,
    node: node.name,
    req: { user_id: user.id, session_id: s.session, reason } satisfies NodeKickRequest,
  }));
  let failure: unknown = null;
  const done = await Promise.all(calls.map(async (c) => {
    try {
      return (await chatClients.get(c.addr).Kick(c.req)).kicked ? c : null;
    } catch (e) {
      failure ??= e;
      return null;
    }
  }));
  // Only when no call got through is the kick itself a failure.
  if (failure && done.every((c) => c === null)) throw failure;
  const kicked = done.filter((c) => c !== null);
  const sessions = kicked.length;
  const node = kicked[0]?.node ?? "";
  log.info("admin kick", { userId: user.id, node, sessions, reason });
  return { kicked: sessions > 0, node, sessions };
}

/** The user a UserRef names: by id, or by name or e-mail; a clear error otherwise. */
async function findUser(store: Store, ref: UserRef | null | undefined): Promise<User> {
  const id = Number(ref?.id ?? 0);
  const login = typeof ref?.login === "string" ? ref.login.trim() : "";
  let user: User | null;
  if (Number.isSafeInteger(id) && id > 0) user = await store.userById(id);
  else if (id === 0 && login) {
    user = login.includes("@") ? await store.userByEmail(login) : await store.userByName(login);
  } else throw new AppError("invalid_user_ref", "give a user id or a name or e-mail", 400);
  if (!user) throw new AppError("user_not_found", "no such user", 404);
  return user;
}

/** Of `sessions`, those on live nodes (a dead node's sessions are gone), with the node records. */
async function liveOnly(
  { engine, nodeTtlMs }: AdminParts,
  sessions: PresenceSession[],
): Promise<{ s: PresenceSession; node: NodeRecord }[]> {
  const now = Date.now();
  const names = [...new Set(sessions.map((x) => x.node))];
  const nodes = new Map<string, NodeRecord | null>(
    await Promise.all(names.map(async (n) => [n, await getNode(engine, n)] as const)),
  );
  const out: { s: PresenceSession; node: NodeRecord }[] = [];
  for (const x of sessions) {
    const node = nodes.get(x.node);
    if (node && now - node.heartbeatAt <= nodeTtlMs) out.push({ s: x, node });
  }
  return out;
}

async function livePresence(parts: AdminParts, userId: number): Promise<PresenceSession[]> {
  return (await liveOnly(parts, await getSessions(parts.engine, userId))).map((x) => x.s);
}

function presenceInfo(user: User, sessions: PresenceSession[]): PresenceInfo {
  const list = [...sessions].sort((a, b) => a.since - b.since);
  const newest = list[list.length - 1];
  return {
    user_id: user.id,
    name: user.name,
    online: list.length > 0,
    node: newest?.node ?? "",
    session_id: newest?.session ?? "",
    since_ms: newest?.since ?? 0,
    last_seen_ms: user.lastSeenAt ?? 0,
    sessions: list.map((x): SessionInfo => ({
      session_id: x.session,
      node: x.node,
      device: x.device ?? "",
      label: x.label ?? "",
      since_ms: x.since,
    })),
  };
}
