/**
 * The sessions this node holds, by user: where routing pushes an event for
 * a user connected here, and what the node's gRPC service (Deliver, Kick)
 * and the heartbeat sweep look up. One session per user: a newer login
 * replaces the entry (and kicks the older session first, see login.ts).
 */
import type { ServerEvent } from "../../proto/protocol.ts";
import type { ChatMetrics } from "./metrics.ts";

/** What routing needs of a session. */
export interface LocalSession {
  readonly id: string;
  readonly userId: number;
  /** Pushes an event (an object, or JSON from another node); false if the session is gone. */
  deliver(frame: ServerEvent | string): boolean;
  /**
   * Ends the session (`kicked`, then close 4003). `replaced`: a newer login
   * of the same user took over, so friends are not told the user left.
   */
  kick(reason: string, replaced: boolean): void;
}

export class LocalSessions {
  #byUser = new Map<number, LocalSession>();
  /** Sessions added so far (a running total, for telling a login burst). */
  logins = 0;

  constructor(readonly metrics: Pick<ChatMetrics, "sessions">) {}

  get size(): number {
    return this.#byUser.size;
  }

  get(userId: number): LocalSession | undefined {
    return this.#byUser.get(userId);
  }

  add(session: LocalSession): void {
    this.logins++;
    this.#byUser.set(session.userId, session);
    this.metrics.sessions.set(this.#byUser.size);
  }

  /** Forgets the session, unless a newer one of the same user took its place. */
  remove(session: LocalSession): void {
    if (this.#byUser.get(session.userId) === session) this.#byUser.delete(session.userId);
    this.metrics.sessions.set(this.#byUser.size);
  }
}
