/**
 * The status role's admin calls behind parley-admin: nodes, presence, the
 * online list, kicks, user details and totals. The admin token is checked
 * before any of these runs (STATUS.access in proto/services.ts, checked by
 * the plane); Kick also takes the cluster secret, for the gate.
 */
import { AppError } from "../../proto/errors.ts";
import type { Engine } from "../engine/types.ts";
import type { Logger } from "../log.ts";
import type { Store, User } from "../store/types.ts";
import { getNode, liveNodes, type NodeRecord, nodeStarts } from "../engine/nodes.ts";
import { countOnline, getPresence, listOnline, type PresenceRecord } from "../engine/presence.ts";
import type {
  AdminKickReply,
  AdminKickRequest,
  Empty,
  ListOnlineRequest,
  NodeInfo,
  OnlineList,
  PresenceInfo,
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

export function adminHandlers(parts: AdminParts) {
  const { engine, store, chatClients, nodeTtlMs, log } = parts;

  async function findUser(ref: UserRef | null | undefined): Promise<User> {
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

  /** The user's presence record if the node holding it is live; stale ones count as offline. */
  async function livePresence(userId: number): Promise<PresenceRecord | null> {
    const rec = await getPresence(engine, userId);
    if (!rec) return null;
    const node = await getNode(engine, rec.node);
    return node && isLive(node, Date.now()) ? rec : null;
  }

  const isLive = (node: NodeRecord, now: number) => now - node.heartbeatAt <= nodeTtlMs;

  function presenceInfo(user: User, rec: PresenceRecord | null): PresenceInfo {
    return {
      user_id: user.id,
      name: user.name,
      online: rec !== null,
      node: rec?.node ?? "",
      session_id: rec?.session ?? "",
      since_ms: rec?.since ?? 0,
      last_seen_ms: user.lastSeenAt ?? 0,
    };
  }

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
      const user = await findUser(req);
      return presenceInfo(user, await livePresence(user.id));
    },

    async ListOnline(req: ListOnlineRequest): Promise<OnlineList> {
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
      const entries = page.entries.filter(([, rec]) => live.has(rec.node));
      const users = new Map(
        (await store.usersByIds(entries.map(([id]) => Number(id)))).map((u) => [u.id, u]),
      );
      const out: PresenceInfo[] = [];
      for (const [id, rec] of entries) {
        const user = users.get(Number(id));
        if (user) out.push(presenceInfo(user, rec));
      }
      return { total, users: out, next_cursor: page.cursor === "0" ? "" : page.cursor };
    },

    async Kick(req: AdminKickRequest): Promise<AdminKickReply> {
      const user = await findUser(req.user);
      const rec = await livePresence(user.id);
      if (!rec || (req.token_id && rec.jti !== req.token_id)) return { kicked: false, node: "" };
      const node = await getNode(engine, rec.node);
      if (!node) return { kicked: false, node: "" };
      const reason = typeof req.reason === "string" && req.reason.trim()
        ? req.reason.trim().slice(0, 200)
        : "kicked by an administrator";
      const reply = await chatClients.get(node.grpcAddr).Kick({
        user_id: user.id,
        session_id: rec.session,
        reason,
      });
      log.info("admin kick", { userId: user.id, node: node.name, kicked: reply.kicked, reason });
      return { kicked: reply.kicked, node: node.name };
    },

    async UserInfo(req: UserRef): Promise<UserDetails> {
      const user = await findUser(req);
      const [friends, messages, rec] = await Promise.all([
        store.countFriends(user.id),
        store.countMessages(user.id),
        livePresence(user.id),
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
