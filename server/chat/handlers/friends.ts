/**
 * Friend requests and friendships: `friend.request`, `.requests`,
 * `.accept`, `.decline`, `.cancel`, `.list`, `.remove`. The other user is
 * told in real time (a `friend.*` event) on all their sessions, and the
 * user's own other sessions of a friendship made or ended; the durable
 * state is in the store, so an offline user sees it at next login.
 * Requests and cancels to one user are limited per pair (FRIEND_CHURN), so
 * that nobody can flood another user with friend.* events.
 */
import { AppError } from "../../../proto/errors.ts";
import type { WireFriend } from "../../../proto/protocol.ts";
import { hit } from "../../engine/rate_limit.ts";
import type { User } from "../../store/types.ts";
import type { ChatContext } from "../chat_context.ts";
import { publicUser, wireFriend, wireRequest } from "../wire.ts";
import type { Handlers } from "./types.ts";

const notFound = () => new AppError("user_not_found", "no such user", 404);
const noRequest = () =>
  new AppError("request_not_found", "there is no such pending friend request", 404);

/**
 * friend.request and friend.cancel from one user to another, counted
 * together over a fixed window (docs/protocol.md §12): enough to ask, take
 * it back and ask again a few times, far too few to flood anyone.
 */
export const FRIEND_CHURN = { limit: 6, windowMs: 10 * 60_000 };

/** Counts one request or cancel from `from` to `to`; throws rate_limited beyond FRIEND_CHURN. */
async function limitChurn(ctx: ChatContext, from: number, to: number): Promise<void> {
  const r = await hit(ctx.engine, `friend:${from}:${to}`, FRIEND_CHURN);
  if (r.allowed) return;
  const s = Math.ceil(r.retryAfterMs / 1000);
  throw new AppError(
    "rate_limited",
    `too many friend requests and cancels to this user; retry in ${s} s`,
    429,
    r.retryAfterMs / 1000,
  );
}

async function userOrThrow(ctx: ChatContext, id: number): Promise<User> {
  const u = await ctx.store.userById(id);
  if (!u) throw notFound();
  return u;
}

/** `friend` as `viewer` sees them: online state, last seen, unread messages from them. */
async function friendView(ctx: ChatContext, viewerId: number, friend: User): Promise<WireFriend> {
  const [online, unread, friends] = await Promise.all([
    ctx.router.online([friend.id]),
    ctx.store.unreadCounts(viewerId),
    ctx.store.friends(viewerId),
  ]);
  const since = friends.find((f) => f.user.id === friend.id)?.since ?? Date.now();
  const count = unread.find((u) => u.peerId === friend.id)?.count ?? 0;
  return wireFriend({ user: friend, since }, online.has(friend.id), count);
}

/** Both became friends: each is told, with the other as `friend`. */
async function announceFriendship(ctx: ChatContext, a: User, b: User): Promise<void> {
  const [forA, forB] = await Promise.all([friendView(ctx, a.id, b), friendView(ctx, b.id, a)]);
  await ctx.router.deliver(a.id, { type: "friend.accepted", friend: forA });
  await ctx.router.deliver(b.id, { type: "friend.accepted", friend: forB });
}

type FriendFrames =
  | "friend.request"
  | "friend.requests"
  | "friend.accept"
  | "friend.decline"
  | "friend.cancel"
  | "friend.list"
  | "friend.remove";

export const friendHandlers: Handlers<FriendFrames> = {
  async "friend.request"(ctx, s, frame, reply) {
    if (frame.user_id === s.userId) {
      throw new AppError("self_request", "you cannot send a friend request to yourself");
    }
    const [me, them] = await Promise.all([
      userOrThrow(ctx, s.userId),
      userOrThrow(ctx, frame.user_id),
    ]);
    await limitChurn(ctx, me.id, them.id);
    const { result, request } = await ctx.store.createFriendRequest(
      s.userId,
      them.id,
      frame.greeting ?? "",
    );
    switch (result) {
      case "friends":
        throw new AppError("already_friends", `you and ${them.name} are already friends`, 409);
      case "exists":
        return reply({ status: "already_sent", user: publicUser(them) });
      case "created": {
        reply({ status: "sent", user: publicUser(them) });
        const users = new Map([[me.id, me], [them.id, them]]);
        await ctx.router.deliver(them.id, {
          type: "friend.request",
          request: wireRequest(request!, users),
        });
        return;
      }
      case "accepted":
        // They had asked first: the two requests make a friendship.
        s.friends.remember(them.id);
        reply({ status: "accepted", user: publicUser(them) });
        await announceFriendship(ctx, me, them);
        return;
    }
  },

  async "friend.requests"(ctx, s, _frame, reply) {
    const { incoming, outgoing } = await ctx.store.pendingRequests(s.userId);
    const ids = new Set([s.userId]);
    for (const r of [...incoming, ...outgoing]) ids.add(r.fromId).add(r.toId);
    const users = new Map((await ctx.store.usersByIds([...ids])).map((u) => [u.id, u]));
    reply({
      incoming: incoming.map((r) => wireRequest(r, users)),
      outgoing: outgoing.map((r) => wireRequest(r, users)),
    });
  },

  async "friend.accept"(ctx, s, frame, reply) {
    if (!(await ctx.store.acceptFriendRequest(s.userId, frame.user_id))) throw noRequest();
    s.friends.remember(frame.user_id);
    const [me, them] = await Promise.all([
      userOrThrow(ctx, s.userId),
      userOrThrow(ctx, frame.user_id),
    ]);
    const [forMe, forThem] = await Promise.all([
      friendView(ctx, me.id, them),
      friendView(ctx, them.id, me),
    ]);
    reply({ friend: forMe });
    await ctx.router.deliver(them.id, { type: "friend.accepted", friend: forThem });
    // The user's other sessions learn of the new friend too.
    await ctx.router.deliver(me.id, { type: "friend.accepted", friend: forMe }, { exclude: s.id });
  },

  async "friend.decline"(ctx, s, frame, reply) {
    if (!(await ctx.store.declineFriendRequest(s.userId, frame.user_id))) throw noRequest();
    reply({});
    await ctx.router.deliver(frame.user_id, { type: "friend.declined", user_id: s.userId });
  },

  async "friend.cancel"(ctx, s, frame, reply) {
    await limitChurn(ctx, s.userId, frame.user_id);
    if (!(await ctx.store.cancelFriendRequest(s.userId, frame.user_id))) throw noRequest();
    reply({});
    await ctx.router.deliver(frame.user_id, { type: "friend.cancelled", user_id: s.userId });
  },

  async "friend.list"(ctx, s, _frame, reply) {
    const [friends, unread] = await Promise.all([
      ctx.store.friends(s.userId),
      ctx.store.unreadCounts(s.userId),
    ]);
    const online = await ctx.router.online(friends.map((f) => f.user.id));
    const counts = new Map(unread.map((u) => [u.peerId, u.count]));
    reply({
      friends: friends.map((f) => wireFriend(f, online.has(f.user.id), counts.get(f.user.id) ?? 0)),
    });
  },

  async "friend.remove"(ctx, s, frame, reply) {
    s.friends.forget(frame.user_id);
    if (!(await ctx.store.removeFriend(s.userId, frame.user_id))) {
      throw new AppError("not_friends", "that user is not your friend", 403);
    }
    reply({});
    await ctx.router.deliver(frame.user_id, { type: "friend.removed", user_id: s.userId });
    await ctx.router.deliver(s.userId, { type: "friend.removed", user_id: frame.user_id }, {
      exclude: s.id,
    });
  },
};
