/**
 * Ending a node's sessions: a drain asks every client to move to another
 * node (`reconnect`, then 1012) and closes the sockets that never logged
 * in; a shutdown closes them all (1001). Either way the node then waits
 * for the sessions' clean-up (presence) to finish, within a time limit.
 */
import { CLOSE } from "../../proto/protocol.ts";
import type { Session } from "./session.ts";

/** Sends every session to `target` (or just closes it if it never logged in). */
export function moveAll(sockets: Set<Session>, target: string | null): void {
  for (const s of sockets) {
    if (s.authenticated) s.moveAway(target);
    else s.closeWith(CLOSE.SERVICE_RESTART, "node draining");
  }
}

/** Closes every socket: the server is shutting down. */
export function closeAll(sockets: Set<Session>): void {
  for (const s of sockets) s.closeWith(CLOSE.GOING_AWAY, "server shutting down");
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

/** Waits until every session ended, or `ms` passed; true if they all did. */
export async function allDone(sockets: Set<Session>, ms: number): Promise<boolean> {
  const ac = new AbortController();
  const done = Promise.all([...sockets].map((s) => s.done)).then(() => true);
  const result = await Promise.race([done, sleep(ms, ac.signal).then(() => false)]);
  ac.abort();
  return result;
}
