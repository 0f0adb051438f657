/**
 * The sessions this node holds, by user: where routing pushes an event for
 * a user connected here (to every session of the user, or all but one),
 * and what the node's gRPC service (Deliver, Kick), the heartbeat and head
 * sweeps and presence upkeep look up. A user may have several sessions
 * here; quiet sessions (docs/protocol.md §3) are never added.
 */
import type { ServerEvent } from "../../proto/protocol.ts";
import type { PresenceSession } from "../engine/presence.ts";
import type { ChatMetrics } from "./metrics.ts";

/** A message event's place in the user's inbox, and what a delivered receipt needs of it. */
export interface SeqItem {
  seq: number;
  /** The message's sender and id. */
  from: number;
  id: number;
}

/** What routing needs of a session. */
export interface LocalSession {
  readonly id: string;
  readonly userId: number;
  /**
   * Pushes an event (an object, or JSON from another node); `item` when it
   * is a message with its inbox seq. False if the session is gone.
   */
  deliver(frame: ServerEvent | string, item?: SeqItem): boolean;
  /**
   * Ends the session (`kicked`, then close 4003). `replaced`: the user stays
   * online (a newer login took over), so friends are not told the user left.
   */
  kick(reason: string, replaced: boolean): void;
}

/** What the node's own upkeep (head sweep, presence upkeep) needs of a session besides routing. */
export interface NodeSession extends LocalSession {
  readonly closed: boolean;
  /** The session's entry in presence (null until the login recorded it). */
  readonly presence: PresenceSession | null;
  /** The session's inbox stream, once the login opened it. */
  readonly stream: { readonly sent: number; behind(head: number): void } | undefined;
}

const NONE: readonly LocalSession[] = [];

export class LocalSessions<S extends LocalSession = LocalSession> {
  #byUser = new Map<number, S[]>();
  #count = 0;
  /** Sessions added so far (a running total, for telling a login burst). */
  logins = 0;

  constructor(readonly metrics: Pick<ChatMetrics, "sessions">) {}

  /** Sessions held. */
  get size(): number {
    return this.#count;
  }

  /** Users with at least one session here. */
  get users(): number {
    return this.#byUser.size;
  }

  /** The user's sessions here (an empty list if none); do not keep or change it. */
  of(userId: number): readonly S[] {
    return this.#byUser.get(userId) ?? (NONE as readonly S[]);
  }

  has(userId: number): boolean {
    return this.#byUser.has(userId);
  }

  /** One session of the user by id. */
  find(userId: number, sessionId: string): S | undefined {
    return this.#byUser.get(userId)?.find((s) => s.id === sessionId);
  }

  /** Every user with sessions here, with them. */
  entries(): IterableIterator<[number, S[]]> {
    return this.#byUser.entries();
  }

  add(session: S): void {
    this.logins++;
    const list = this.#byUser.get(session.userId);
    if (list?.includes(session)) return;
    if (list) list.push(session);
    else this.#byUser.set(session.userId, [session]);
    this.#count++;
    this.metrics.sessions.set(this.#count);
  }

  remove(session: S): void {
    const list = this.#byUser.get(session.userId);
    const i = list?.indexOf(session) ?? -1;
    if (!list || i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.#byUser.delete(session.userId);
    this.#count--;
    this.metrics.sessions.set(this.#count);
  }
}
