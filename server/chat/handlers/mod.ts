/**
 * Routes an authenticated client frame to its handler. A handler checks
 * what the schema cannot (friendship, existence, rate), does the work,
 * calls `reply` with the result data (sent only if the frame had an id) and
 * routes events to the other users concerned. Failures are thrown as
 * AppErrors; the session turns them into error frames (only before the
 * reply: a request gets a result or an error, never both).
 *
 * Handlers see the session only as a `Caller` (types.ts).
 */
import type { ClientFrame } from "../../../proto/protocol.ts";
import type { ChatContext } from "../chat_context.ts";
import { friendHandlers } from "./friends.ts";
import { inboxHandlers } from "./inbox.ts";
import { messageHandlers } from "./messages.ts";
import type { Caller, Handled, Handler, Handlers } from "./types.ts";
import { userHandlers } from "./users.ts";

export type { Caller } from "./types.ts";

const HANDLERS: Handlers<Handled> = {
  ...userHandlers,
  ...friendHandlers,
  ...messageHandlers,
  ...inboxHandlers,
};

export function dispatch(
  ctx: ChatContext,
  caller: Caller,
  frame: Exclude<ClientFrame, { type: "auth" }>,
  reply: (data: unknown) => void,
): Promise<void> {
  const handler = HANDLERS[frame.type] as Handler<Handled>;
  return handler(ctx, caller, frame as never, reply as never);
}
