/**
 * Turning the user names people type into user ids over the chat
 * connection: search for an exact name, or look among friends and pending
 * requests. Each failure is a CliError worded for the person at the keyboard.
 */
import type { PublicUser, WireFriend, WireFriendRequest } from "../../proto/protocol.ts";
import { CliError } from "./parley_context.ts";
import { sanitizeLine } from "./sanitize.ts";
import type { RequestBody, RequestType } from "./ws.ts";
import type { ResultData } from "../../proto/protocol.ts";

/** Anything that sends requests: a Connection or a ChatClient. */
export interface Requester {
  request<K extends RequestType>(type: K, body: RequestBody<K>): Promise<ResultData[K]>;
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * The user whose name is exactly `name` (case-insensitive). Search never
 * lists the searcher, so naming yourself (`me`) gets its own answer.
 */
export async function findUser(
  conn: Requester,
  name: string,
  me?: Pick<PublicUser, "name">,
): Promise<PublicUser> {
  const query = name.trim().replace(/^@/, "");
  if (!query) throw new CliError("no user name given", 2);
  if (me && same(me.name, query)) throw new CliError(`${sanitizeLine(query)} is you`);
  const { users } = await conn.request("user.search", { query, limit: 50 });
  const hit = users.find((u) => same(u.name, query));
  if (!hit) throw new CliError(`no user named ${sanitizeLine(query)}`);
  return hit;
}

/** The friend whose name is `name`. */
export async function findFriend(conn: Requester, name: string): Promise<WireFriend> {
  const query = name.trim().replace(/^@/, "");
  const { friends } = await conn.request("friend.list", {});
  const hit = friends.find((f) => same(f.user.name, query));
  if (!hit) throw new CliError(`${sanitizeLine(query)} is not one of your friends`);
  return hit;
}

/** The pending request `name` sent you. */
export async function findIncoming(conn: Requester, name: string): Promise<WireFriendRequest> {
  const query = name.trim().replace(/^@/, "");
  const { incoming } = await conn.request("friend.requests", {});
  const hit = incoming.find((r) => same(r.from.name, query));
  if (!hit) throw new CliError(`no friend request from ${sanitizeLine(query)}`);
  return hit;
}
