/**
 * Users chatting through a cluster while a test restarts its roles, doing
 * what docs/protocol.md §11 tells a client to do: on a `reconnect` event it
 * connects to the `chat_url` it names with the same token; when its socket
 * drops without one (a crash) it logs in again through the gate, with
 * backoff; either way it resends every msg.send that had no result, with the
 * same client_id. `checkStored()` then proves every acked message is in
 * history exactly once and nothing was stored twice.
 */
import assert from "node:assert/strict";
import { type ChatClient, connect, RequestError, sleep, withoutSeq } from "../testing/mod.ts";
import type { WireMessage } from "../proto/protocol.ts";
import { type Account, fullHistory, login, loginWithRetry, type Parley } from "./cluster.ts";

/** How a chatter got from one node to the next. */
export interface Move {
  from: string | null;
  to: string;
  /** The close code of the socket it left. */
  code: number;
  /** "reconnect": by the event's chat_url; "login": through the gate again. */
  how: "reconnect" | "login";
}

export class Chatter {
  /** client_id → the message the server acked. */
  readonly acked = new Map<string, WireMessage>();
  /** client_id → text, for every msg.send written to a socket. */
  readonly sent = new Map<string, string>();
  readonly errors: string[] = [];
  readonly moves: Move[] = [];
  client: ChatClient | null = null;
  #token = "";
  #n = 0;
  #running = false;
  #loop: Promise<void> = Promise.resolve();
  #inflight = new Set<Promise<void>>();

  constructor(
    readonly p: Parley,
    readonly account: Account,
    /** Whom to write to. */
    readonly peer: number,
    readonly everyMs = 50,
  ) {}

  /** The node its socket is on now. */
  get node(): string | null {
    return this.client?.isOpen ? this.client.welcome?.node ?? null : null;
  }

  /** Connects (to `node`, or where the gate says) and starts writing. */
  async start(node?: string): Promise<void> {
    if (node) {
      this.#token = (await login(this.p, this.account)).token;
      this.client = await connect(this.p.nodes.get(node)!.wsUrl, this.#token);
    } else {
      const r = await loginWithRetry(this.p, this.account);
      this.client = r.client;
      this.#token = r.login.token;
    }
    this.#running = true;
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    while (this.#running) {
      const client = this.client!;
      if (client.isOpen) {
        const clientId = `${this.account.name}-${this.#n++}`;
        this.#send(client, clientId, `${this.account.name} says ${this.#n}`);
        await sleep(this.everyMs);
        continue;
      }
      await this.#move(client);
    }
  }

  async #move(old: ChatClient): Promise<void> {
    const info = await old.closed;
    const from = old.welcome?.node ?? null;
    const ev = old.frames.find((f) => f.type === "reconnect") as
      | { chat_url?: string | null }
      | undefined;
    if (ev?.chat_url) {
      try {
        this.client = await connect(ev.chat_url, this.#token);
        this.moves.push({ from, to: this.client.welcome!.node, code: info.code, how: "reconnect" });
        this.#resend();
        return;
      } catch (e) {
        this.errors.push(`reconnect to ${ev.chat_url}: ${e}`);
      }
    }
    const r = await loginWithRetry(this.p, this.account, { deadlineMs: 30_000 });
    this.client = r.client;
    this.#token = r.login.token;
    this.moves.push({ from, to: r.client.welcome!.node, code: info.code, how: "login" });
    this.#resend();
  }

  #send(client: ChatClient, clientId: string, text: string): void {
    this.sent.set(clientId, text);
    const p = client.request("msg.send", { to: this.peer, text, client_id: clientId }, 15_000)
      .then((r) => {
        const before = this.acked.get(clientId);
        if (before && JSON.stringify(before) !== JSON.stringify(r.message)) {
          this.errors.push(`${clientId} acked twice, differently`);
        }
        this.acked.set(clientId, r.message);
      }, (e) => {
        // A drop before the reply leaves the message unacked: it is resent.
        if (!(e instanceof RequestError && e.code === "socket_closed")) {
          this.errors.push(`${clientId}: ${e}`);
        }
      })
      .finally(() => this.#inflight.delete(p));
    this.#inflight.add(p);
  }

  #resend(): void {
    for (const id of this.unacked) this.#send(this.client!, id, this.sent.get(id)!);
  }

  get unacked(): string[] {
    return [...this.sent.keys()].filter((id) => !this.acked.has(id));
  }

  /** Stops writing, then resends until every message is acked (or `deadlineMs` passed). */
  async stop(deadlineMs = 30_000): Promise<void> {
    this.#running = false;
    await this.#loop;
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      await Promise.all([...this.#inflight]);
      if (this.unacked.length === 0 || Date.now() > deadline) return;
      if (!this.client!.isOpen) await this.#move(this.client!);
      else this.#resend();
      await sleep(100);
    }
  }

  async close(): Promise<void> {
    this.#running = false;
    await this.client?.close().catch(() => {});
  }
}

/**
 * History between `a` and `b` holds every message each of them sent exactly
 * once, as it was acked, and nothing else.
 */
export async function checkStored(a: Chatter, b: Chatter): Promise<void> {
  assert.deepEqual(a.unacked, [], `${a.account.name}: every message acked in the end`);
  assert.deepEqual(b.unacked, [], `${b.account.name}: every message acked in the end`);
  const history = await fullHistory(a.client!, b.account.id);
  const ids = history.map((m) => m.id);
  assert.equal(new Set(ids).size, ids.length, "no message id twice in history");
  for (const c of [a, b]) {
    const mine = history.filter((m) => m.from === c.account.id);
    const clientIds = mine.map((m) => m.client_id);
    assert.equal(new Set(clientIds).size, clientIds.length, `no ${c.account.name} message twice`);
    const stored = new Map(mine.map((m) => [m.client_id, m]));
    for (const [clientId, acked] of c.acked) {
      // (The ack carries the message's seq in the sender's inbox; history has none.)
      assert.deepEqual(
        stored.get(clientId),
        withoutSeq(acked),
        `acked ${clientId} is stored as acked`,
      );
    }
    assert.deepEqual(new Set(clientIds), new Set(c.sent.keys()), `${c.account.name}: all stored`);
  }
}
