/**
 * The chaos tests' verdict (issue 9 "Done when"): every message acked to
 * its sender is shown by its recipient's client (inbox_client.ts's view,
 * not history) within 5 s after the fault ended (or after its ack, for
 * one acked later), none is shown twice, the sender's own view holds it,
 * history holds each exactly once, every client holds its inbox without a
 * gap up to the head, and no process crashed. Returns every problem found,
 * in words, with examples.
 */
import type { InboxClient, InboxMessage } from "../testing/inbox_client.ts";
import { sleep } from "../testing/mod.ts";
import type { Rig, User } from "./_chaos_rig.ts";

/** How long after a fault every acked message must be shown to its recipient (issue 9). */
export const SHOWN_WITHIN_MS = 5000;

/** Polls `fn` until it holds (true) or `timeoutMs` passed (false). */
async function waitFor(fn: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** Most examples listed per kind of problem. */
const EXAMPLES = 8;

function list(title: string, items: string[], detail = ""): string[] {
  if (!items.length) return [];
  const more = items.length > EXAMPLES ? `\n  ... and ${items.length - EXAMPLES} more` : "";
  const head = `${title}: ${items.length}${detail ? ` ${detail}` : ""}`;
  return [`${head}\n  ${items.slice(0, EXAMPLES).join("\n  ")}${more}`];
}

function shownTo(u: User, id: number): boolean {
  return u.client.view.shown.has(id);
}

/**
 * The deadline of a message acked at `at`: 5 s after the end of the first
 * fault that ended after it (it may have been lost by that fault), else 5 s
 * after its ack.
 */
export function deadline(rig: Rig, at: number): number {
  return Math.max(at, rig.ends.find((end) => end >= at) ?? at) + SHOWN_WITHIN_MS;
}

export async function judge(rig: Rig): Promise<string[]> {
  const { users } = rig;
  const out: string[] = [];
  const rel = (t: number) => `+${((t - rig.t0) / 1000).toFixed(1)} s`;
  // Senders resend until acked (§11); the round waits for that first.
  await waitFor(() => users.every((u) => u.client.unacked === 0), 60_000);
  out.push(...list(
    "sends never acked (60 s after the senders stopped)",
    users.filter((u) => u.client.unacked).map((u) => `${u.name}: ${u.client.unacked}`),
  ));
  const acked = users.flatMap((u) => [...u.client.acked.values()].map((a) => ({ u, ...a })));
  const last = Math.max(...acked.map((a) => deadline(rig, a.at)));
  // Give a missing message well past its deadline, to tell "late" from "never".
  await waitFor(
    () =>
      acked.every((a) => shownTo(a.u.peer, a.message.id)) &&
      users.every((u) => u.client.protocol < 2 || !u.client.view.gap),
    last + 10_000 - Date.now(),
  );
  rig.note("verdict");

  const missing: [string, string][] = [];
  const late: [string, string][] = [];
  const ownMissing: string[] = [];
  for (const a of acked) {
    const m = a.message;
    const where = `${a.u.name} → ${a.u.peer.name}`;
    const what = `${where} (${a.u.home} → ${a.u.peer.home}): id ${m.id} ${m.client_id}${
      m.seq ? ` sender seq ${m.seq}` : ""
    }, acked ${rel(a.at)}${a.duplicate ? " (duplicate)" : ""}`;
    const shown = a.u.peer.client.view.shown.get(m.id);
    if (!shown) missing.push([where, what]);
    else if (shown.at > deadline(rig, a.at)) {
      late.push([where, `${what}, shown ${rel(shown.at)} by ${shown.via} at seq ${shown.seq}`]);
    }
    if (!shownTo(a.u, m.id)) ownMissing.push(what);
  }
  out.push(...list(
    `acked messages never shown by the recipient's client (of ${acked.length} acked; faults ended ${
      rig.ends.map(rel).join(", ")
    })`,
    spread(missing),
    perPair(missing),
  ));
  out.push(
    ...list(
      `acked messages shown more than ${SHOWN_WITHIN_MS} ms after the fault (or their ack)`,
      spread(late),
      perPair(late),
    ),
  );
  out.push(...list("acked messages missing from the sender's own view", ownMissing));

  for (const u of users) {
    const c = u.client;
    out.push(...list(`${u.name}: shown twice (one client_id, several message ids)`, twice(c)));
    out.push(...list(`${u.name}: inbox anomalies`, c.view.anomalies));
    out.push(...list(`${u.name}: client errors`, c.errors));
    if (c.protocol >= 2 && c.view.gap) {
      out.push(
        `${u.name}: holds its inbox up to seq ${c.view.held} only, head ${c.view.known}` +
          ` (missing seqs ${missingSeqs(c).join(", ")})`,
      );
    }
  }
  for (const u of users.filter((u) => u.account.id < u.peer.account.id)) {
    out.push(...await checkHistory(u).catch((e) => [`${u.name}: history: ${e}`]));
  }
  out.push(...list(
    "processes that exited on their own",
    rig.cluster.unexpectedExits().map((e) => `${e.name} code ${e.code} signal ${e.signal}`),
  ));
  const old = users.filter((u) => u.client.protocol < 2).map((u) => u.name);
  if (old.length) {
    out.push(
      `NEEDS PROTOCOL 2 (issue 9: seq, head, msg.fetch): the server spoke protocol ${
        users[0].client.protocol
      } to ${old.join(", ")}; their clients ran the protocol 1 rules (dedupe by id, ack delivered)`,
    );
  }
  return out;
}

/** How many items each pair has, e.g. "{p0a → p0b: 12, p2b → p2a: 3}". */
function perPair(items: [string, string][]): string {
  const n = new Map<string, number>();
  for (const [k] of items) n.set(k, (n.get(k) ?? 0) + 1);
  return `{${[...n].map(([k, c]) => `${k}: ${c}`).join(", ")}}`;
}

/** The items, taking one of each pair in turn, so the examples show every pair. */
function spread(items: [string, string][]): string[] {
  const queues = [...Map.groupBy(items, ([k]) => k).values()];
  const out: string[] = [];
  for (let i = 0; out.length < items.length; i++) {
    for (const q of queues) if (i < q.length) out.push(q[i][1]);
  }
  return out;
}

function twice(c: InboxClient): string[] {
  const byClientId = new Map<string, number[]>();
  for (const { message: m } of c.view.shown.values()) {
    const key = `${m.from}/${m.client_id}`;
    byClientId.set(key, [...byClientId.get(key) ?? [], m.id]);
  }
  return [...byClientId].filter(([, ids]) => ids.length > 1).map(([k, ids]) =>
    `${k}: ids ${ids.join(", ")}`
  );
}

function missingSeqs(c: InboxClient): number[] {
  const out: number[] = [];
  for (let s = c.view.held + 1; s <= c.view.known && out.length < 10; s++) {
    if (c.view.idAt(s) === undefined) out.push(s);
  }
  return out;
}

/** Every message between `u` and its peer, oldest first, through msg.history pages. */
async function history(u: User): Promise<InboxMessage[]> {
  const out: InboxMessage[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await u.client.request("msg.history", {
      with: u.peer.account.id,
      limit: 100,
      ...(before ? { before } : {}),
    });
    const msgs = page.messages as InboxMessage[];
    out.unshift(...msgs);
    if (!page.more || msgs.length === 0) return out;
    before = Math.min(...msgs.map((m) => m.id));
  }
}

/** History holds each acked message exactly once, and both clients show exactly history. */
async function checkHistory(a: User): Promise<string[]> {
  const h = await history(a);
  const out: string[] = [];
  const ids = new Map<number, number>();
  for (const m of h) ids.set(m.id, (ids.get(m.id) ?? 0) + 1);
  out.push(...list(
    `${a.name}/${a.peer.name}: message ids twice in history`,
    [...ids].filter(([, n]) => n > 1).map(([id, n]) => `${id} × ${n}`),
  ));
  for (const u of [a, a.peer]) {
    const mine = h.filter((m) => m.from === u.account.id);
    const byClientId = Map.groupBy(mine, (m) => m.client_id);
    const wrong: string[] = [];
    for (const [clientId, ack] of u.client.acked) {
      const stored = byClientId.get(clientId) ?? [];
      if (stored.length !== 1 || stored[0].id !== ack.message.id) {
        wrong.push(
          `${clientId} acked as ${ack.message.id}, stored as [${stored.map((m) => m.id)}]`,
        );
      }
    }
    out.push(...list(`${u.name}: acked messages not in history exactly once as acked`, wrong));
    const unsent = mine.filter((m) => !u.sends.has(m.client_id)).map((m) => m.client_id);
    out.push(...list(`${u.name}: stored messages it never sent`, unsent));
    const shown = u.client.view.shown;
    const notShown = h.filter((m) => !shown.has(m.id)).map((m) => `${m.id} ${m.client_id}`);
    out.push(...list(`${u.name}: messages in history its client never showed`, notShown));
    const inHistory = new Set(h.map((m) => m.id));
    const extra = [...shown.keys()].filter((id) => !inHistory.has(id)).map(String);
    out.push(...list(`${u.name}: shown but not in history`, extra));
  }
  return out;
}
