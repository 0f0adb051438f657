/**
 * The JSON that `parley-admin --json` prints, in the convention both
 * programs share: times are Unix ms in fields named `*_at`, durations are
 * ms in fields named `*_ms`, and a value that is absent is null (never ""
 * or 0). The status role's gRPC replies use proto3 defaults ("" and 0) for
 * absent values and `*_ms` names for times; they are converted here.
 */
import type {
  AdminKickReply,
  NodeInfo,
  OnlineList,
  PresenceInfo,
  SessionInfo,
  StatsReply,
  UserDetails,
} from "../../proto/services.ts";

const time = (ms: number) => ms > 0 ? ms : null;
const text = (s: string) => s === "" ? null : s;

export function nodeJson(n: NodeInfo) {
  return {
    name: n.name,
    state: n.state,
    sessions: n.sessions,
    started_at: time(n.started_at_ms),
    heartbeat_age_ms: n.heartbeat_age_ms,
    ws_url: text(n.ws_url),
    grpc_addr: text(n.grpc_addr),
  };
}

export function presenceJson(p: PresenceInfo) {
  return {
    user_id: p.user_id,
    name: p.name,
    online: p.online,
    node: p.online ? text(p.node) : null,
    session_id: p.online ? text(p.session_id) : null,
    since_at: p.online ? time(p.since_ms) : null,
    last_seen_at: p.online ? null : time(p.last_seen_ms),
    sessions: (p.sessions ?? []).map(sessionJson),
  };
}

export function sessionJson(s: SessionInfo) {
  return {
    session_id: s.session_id,
    node: s.node,
    device: text(s.device),
    label: text(s.label),
    since_at: time(s.since_ms),
  };
}

export function onlineJson(o: OnlineList) {
  return { total: o.total, users: o.users.map(presenceJson), next_cursor: text(o.next_cursor) };
}

export function userJson(u: UserDetails) {
  return {
    id: u.id,
    name: u.name,
    display_name: u.display_name,
    email: u.email,
    bio: u.bio,
    created_at: time(u.created_at_ms),
    friends: u.friends,
    messages: u.messages,
    presence: u.presence ? presenceJson(u.presence) : null,
  };
}

export function statsJson(s: StatsReply) {
  return {
    users: s.users,
    messages: s.messages,
    sessions: s.sessions,
    nodes: s.nodes.map(nodeJson),
  };
}

export function kickJson(k: AdminKickReply) {
  return { kicked: k.kicked, node: k.kicked ? text(k.node) : null, sessions: k.sessions ?? 0 };
}
