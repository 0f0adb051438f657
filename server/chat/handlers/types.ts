/**
 * The shapes every handler shares: the `Caller` (what a handler may use of
 * the session whose frame it handles: the user, the session and its inbox,
 * their friend cache and rate buckets, and a way to send a frame), `Reply`
 * and `Handler`.
 */
import type {
  ClientFrame,
  ClientFrameType,
  ResultData,
  ServerFrame,
} from "../../../proto/protocol.ts";
import type { TokenBucket } from "../../engine/rate_limit.ts";
import type { ChatContext } from "../chat_context.ts";
import type { FriendCache } from "../friend_cache.ts";
import type { SessionInbox } from "../session_inbox.ts";

/** What a handler may use of the session whose frame it handles. */
export interface Caller {
  readonly userId: number;
  /** The session's id: events about its own actions go to the user's other sessions only. */
  readonly id: string;
  /** The device's inbox (stream, cursor, receipts); undefined for a quiet session. */
  readonly inbox: SessionInbox | undefined;
  /** Who the user's friends are, as far as this session knows (see friend_cache.ts). */
  readonly friends: FriendCache;
  /** The user's message rate (shared by the user's sessions, see buckets.ts). */
  readonly messageBucket: TokenBucket;
  /** Typing indicators beyond this rate are dropped silently. */
  readonly typingBucket: TokenBucket;
  send(frame: ServerFrame): void;
}

export type Handled = Exclude<ClientFrameType, "auth">;
type FrameOf<T extends ClientFrameType> = Extract<ClientFrame, { type: T }>;
export type Reply<T> = T extends keyof ResultData ? (data: ResultData[T]) => void : () => void;

export type Handler<T extends Handled> = (
  ctx: ChatContext,
  caller: Caller,
  frame: FrameOf<T>,
  reply: Reply<T>,
) => Promise<void>;

export type Handlers<T extends Handled> = { [K in T]: Handler<K> };
