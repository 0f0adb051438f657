/**
 * The node's inbox sweep, every `chat.headCheckMs` (2 s by default): the
 * inbox heads of the users with a session here are read in chunks
 * (`inboxHeads()`), and each session whose stream is behind its user's
 * head reads the rest from the store. This recovers, within one sweep and
 * without the client, a message stored behind routing's back: a push lost
 * to a node killed between the commit and the push, a Deliver given up, a
 * presence list that did not list a new session yet. Every second (and
 * before each pass) the node also makes sure presence still lists its
 * sessions (presence_keeper.ts): one read of its marker key. And every few
 * hours it forgets devices unseen for DEVICE_TTL_MS (any node may; it is
 * one DELETE).
 */
import type { ChatContext } from "./chat_context.ts";
import { keepPresence } from "./presence_keeper.ts";

/** Users per inboxHeads() call (one query; passes go one chunk after the other). */
const CHUNK = 1000;
/** How often the node checks its presence marker. */
const PRESENCE_CHECK_MS = 1000;
/** A device unseen this long is forgotten (it starts anew if it comes back). */
export const DEVICE_TTL_MS = 90 * 24 * 3600 * 1000;
const DEVICE_PRUNE_MS = 6 * 3600 * 1000;

export interface InboxSweep {
  /** One pass now (tests); resolves when it is done. */
  run(): Promise<void>;
  stop(): Promise<void>;
}

/** Compares every live stream with its user's head once. */
export async function checkHeads(ctx: ChatContext): Promise<void> {
  const users: number[] = [];
  for (const [userId, list] of ctx.sessions.entries()) {
    if (list.some((s) => s.stream !== undefined)) users.push(userId);
  }
  for (let i = 0; i < users.length; i += CHUNK) {
    const heads = await ctx.store.inboxHeads(users.slice(i, i + CHUNK));
    for (const [userId, head] of heads) {
      for (const s of ctx.sessions.of(userId)) s.stream?.behind(head);
    }
  }
}

export function startInboxSweep(ctx: ChatContext): InboxSweep {
  const { log } = ctx;
  let running: Promise<void> | null = null;
  let keeping: Promise<void> | null = null;
  let warnedAt = 0;

  const keep = () =>
    keeping ??= keepPresence(ctx).then(
      () => {},
      (e) => warn("presence upkeep failed; will retry", e),
    ).finally(() => (keeping = null));
  const pass = async () => {
    await keep();
    try {
      await checkHeads(ctx);
    } catch (e) {
      warn("inbox head sweep failed; will retry", e);
    }
  };
  const warn = (msg: string, error: unknown) => {
    const now = Date.now();
    if (now - warnedAt < 10_000) return;
    warnedAt = now;
    log.warn(msg, { error });
  };
  const run = () => running ??= pass().finally(() => (running = null));
  const timer = setInterval(run, ctx.config.chat.headCheckMs);
  const keeper = setInterval(keep, PRESENCE_CHECK_MS);
  const pruner = setInterval(() => {
    ctx.store.pruneDevices(Date.now() - DEVICE_TTL_MS).then(
      (n) => n > 0 && log.info("forgot devices unseen for 90 days", { devices: n }),
      (e) => warn("could not prune old devices", e),
    );
  }, DEVICE_PRUNE_MS);
  return {
    run,
    async stop() {
      clearInterval(timer);
      clearInterval(keeper);
      clearInterval(pruner);
      await running;
      await keeping;
    },
  };
}
