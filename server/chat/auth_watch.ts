/**
 * The chat node's own watch over its sessions' tokens. A session's token is
 * checked against the store when it logs in (verifySession()), and again at
 * the node's sweeps (recheckSessions()): the users' auth epochs and the
 * tokens' logouts are read from the store in batches, and a session whose
 * epoch moved (password changed or reset) or whose token was logged out
 * gets `kicked` and close 4003. So ending a session never depends on the
 * gate's Kick reaching it (status down, a node unreachable, a login racing
 * the change): the Kick is only the fast path.
 */
import type { ChatContext } from "./chat_context.ts";
import type { AuthStates } from "../store/types.ts";
import { END_REASONS, endReasons, type TokenClaims, tokenEnded, verifyToken } from "../tokens.ts";

/** What the watch needs of a session. */
export interface WatchedSession {
  readonly closed: boolean;
  /** Sends `kicked` with the reason, then closes 4003. */
  kick(reason: string, replaced: boolean): void;
}

/** Sessions asked about per authStates() call. */
export const CHECK_BATCH = 2000;
/** The least time between two re-checks, whatever the sweep's period. */
export const CHECK_MIN_INTERVAL_MS = 2000;

interface Watched {
  userId: number;
  jti: string;
  authEpoch: number;
}

/** The watch of one chat node (see watchOf()). */
export class AuthWatch {
  #sessions = new Map<WatchedSession, Watched>();
  #running = false;
  #lastStart = -Infinity;

  constructor(readonly ctx: Pick<ChatContext, "store" | "engine" | "log" | "metrics">) {}

  /** Sessions watched (closed ones are forgotten at the next check). */
  get size(): number {
    return this.#sessions.size;
  }

  watch(session: WatchedSession, claims: TokenClaims): void {
    this.#sessions.set(session, {
      userId: claims.userId,
      jti: claims.jti,
      authEpoch: claims.authEpoch,
    });
  }

  /**
   * Starts a re-check unless one is running or one started less than
   * CHECK_MIN_INTERVAL_MS ago; the returned promise (never rejecting) ends
   * with it. A store that cannot answer is logged, and the next sweep tries
   * again.
   */
  tick(now = Date.now()): Promise<void> {
    if (this.#running || now - this.#lastStart < CHECK_MIN_INTERVAL_MS) return Promise.resolve();
    this.#running = true;
    this.#lastStart = now;
    return this.check().then(
      () => {},
      (error) => this.ctx.log.warn("could not re-check the sessions' tokens", { error }),
    ).finally(() => this.#running = false);
  }

  /** Re-checks every open session now; resolves with how many it ended. */
  async check(): Promise<number> {
    for (const s of this.#sessions.keys()) if (s.closed) this.#sessions.delete(s);
    const all = [...this.#sessions];
    let ended = 0;
    for (let i = 0; i < all.length; i += CHECK_BATCH) {
      const batch = all.slice(i, i + CHECK_BATCH);
      const states = await this.ctx.store.authStates(
        batch.map(([, w]) => w.userId),
        batch.map(([, w]) => w.jti),
      );
      ended += await this.#endStale(batch, states);
    }
    return ended;
  }

  async #endStale(batch: [WatchedSession, Watched][], states: AuthStates): Promise<number> {
    const stale: { session: WatchedSession; w: Watched; why: "epoch" | "revoked" }[] = [];
    for (const [session, w] of batch) {
      const why = tokenEnded(w, states);
      // A user the store no longer has: nothing to tell, the token is refused at its next login.
      if (why === "epoch" || why === "revoked") stale.push({ session, w, why });
    }
    if (stale.length === 0) return 0;
    const moved = [...new Set(stale.filter((x) => x.why === "epoch").map((x) => x.w.userId))];
    const labels = await endReasons(this.ctx.engine, moved).catch((error) => {
      this.ctx.log.warn("could not read why the sessions end", { error });
      return new Map<number, string>();
    });
    let ended = 0;
    for (const { session, w, why } of stale) {
      this.#sessions.delete(session);
      if (session.closed) continue;
      const reason = why === "revoked"
        ? END_REASONS.loggedOut
        : labels.get(w.userId) ?? END_REASONS.passwordChanged;
      this.ctx.metrics.kicks.inc({ where: "recheck" });
      this.ctx.log.info("session ended by the token re-check", { user: w.userId, reason });
      session.kick(reason, false);
      ended++;
    }
    return ended;
  }
}

const watches = new WeakMap<object, AuthWatch>();

/** The watch of the node `ctx` belongs to, made when first asked for. */
export function watchOf(ctx: ChatContext): AuthWatch {
  let w = watches.get(ctx);
  if (!w) watches.set(ctx, w = new AuthWatch(ctx));
  return w;
}

/**
 * Verifies a login's token (tokens.ts: signature, expiry, auth epoch and
 * logout, read from the store) and watches the session from then on.
 */
export async function verifySession(
  ctx: ChatContext,
  session: WatchedSession,
  token: string,
): Promise<TokenClaims> {
  const claims = await verifyToken(ctx.config.jwtSecret, ctx.store, token);
  watchOf(ctx).watch(session, claims);
  return claims;
}

/** The sweep's hook: a re-check of the node's sessions, at most every CHECK_MIN_INTERVAL_MS. */
export function recheckSessions(ctx: ChatContext, now = Date.now()): void {
  void watchOf(ctx).tick(now);
}
