/**
 * Routes an authenticated client frame to its handler. A handler checks
 * what the schema cannot (friendship, existence, rate), does the work,
 * calls `reply` with the result data (sent only if the frame had an id) and
 * routes events to the other users concerned. Failures are thrown as
 * AppErrors; the session turns them into error frames.
 */
import type { ClientFrame, ClientFrameType, ResultData } from "../../../proto/protocol.ts";
import type { ChatContext } from "../context.ts";
import type { Session } from "../session.ts";
import { friendHandlers } from "./friends.ts";
import { messageHandlers } from "./messages.ts";
import { userHandlers } from "./users.ts";

type Handled = Exclude<ClientFrameType, "auth">;
type FrameOf<T extends ClientFrameType> = Extract<ClientFrame, { type: T }>;
export type Reply<T> = T extends keyof ResultData ? (data: ResultData[T]) => void : () => void;

export type Handler<T extends Handled> = (
  ctx: ChatContext,
  s: Session,
  frame: FrameOf<T>,
  reply: Reply<T>,
) => Promise<void>;

export type Handlers<T extends Handled> = { [K in T]: Handler<K> };

const HANDLERS: Handlers<Handled> = {
  ...userHandlers,
  ...friendHandlers,
  ...messageHandlers,
};

export function dispatch(
  ctx: ChatContext,
  s: Session,
  frame: Exclude<ClientFrame, { type: "auth" }>,
  reply: (data: unknown) => void,
): Promise<void> {
  const handler = HANDLERS[frame.type] as Handler<Handled>;
  return handler(ctx, s, frame as never, reply as never);
}
