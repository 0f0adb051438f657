/** `user.search`. */
import { AppError } from "../../../proto/errors.ts";
import { DEFAULT_SEARCH_LIMIT } from "../../../proto/protocol.ts";
import { publicUser } from "../wire.ts";
import type { Handlers } from "./types.ts";

export const userHandlers: Handlers<"user.search"> = {
  async "user.search"(ctx, s, frame, reply) {
    // The searcher is left out by the query itself, so `next` is null on the last page.
    const page = await ctx.store.searchUsers(frame.query.trim(), {
      limit: frame.limit ?? DEFAULT_SEARCH_LIMIT,
      after: frame.after,
      excludeUserId: s.userId,
    }).catch((e) => {
      if (e instanceof AppError && e.code === "bad_cursor") {
        throw new AppError("invalid_request", "after: not a cursor from a previous page");
      }
      throw e;
    });
    // publicUser() leaves out e-mails: a search by e-mail confirms a match, never shows one.
    reply({ users: page.items.map(publicUser), next: page.next });
  },
};
