/**
 * A chat client written the way an outside author would write one, from
 * docs/protocol.md alone, for the chaos tests (tests/chaos_*_test.ts): it
 * keeps its user's inbox by the client rules of §9 (inbox_view.ts), acks
 * the highest contiguous seq in batches and never beyond a gap, fills a gap
 * (a jump, or a `welcome.head` / `pong.head` beyond what it holds) with
 * `msg.fetch` after a short wait, pipelines `msg.send` and resends what had
 * no result with the same client_id after a reconnect, and reconnects as
 * §11 says: backoff, the same chat_url first, then the gate's chat-node
 * endpoint; a drain's hint only if the gate handed out that URL before.
 *
 * It shares no code with the server or with testing/ws_client.ts, so a test
 * through it checks the protocol, not an implementation against itself (its
 * seq rules, proto/inbox_seq.ts, are the terminal client's, not the server's). A
 * protocol 1 server (no seq) gets the old rules: dedupe by id, ack
 * `delivered` per peer.
 */
import { ConnectError, type Frame, InboxConn, ReplyError } from "./inbox_conn.ts";
import { gate, GateError } from "./inbox_gate.ts";
import { type InboxMessage, InboxView, type Via } from "./inbox_view.ts";

export { ReplyError } from "./inbox_conn.ts";
export type { InboxMessage, Shown } from "./inbox_view.ts";

/** Replies that mean "try again later" (docs §7), and this side's lost socket or timeout. */
const TRANSIENT = new Set([
  "store_unavailable",
  "internal",
  "rate_limited",
  "busy",
  "socket_closed",
  "timeout",
]);

export interface InboxClientOptions {
  gateUrl: string;
  login: string;
  password: string;
  /** The device id, chosen once and kept (protocol 2); a fresh UUID by default. */
  device?: string;
  label?: string;
  /** Reconnect backoff: first wait and cap, doubling, with jitter (§11: e.g. 0.5 s to 30 s). */
  backoffMs?: [number, number];
  /** How long a gap may wait for its entries before msg.fetch (the rules: at most 1 s). */
  gapWaitMs?: number;
  /** How often the held seq is acked. */
  ackEveryMs?: number;
}

/** A msg.send the server acked. */
export interface Acked {
  message: InboxMessage;
  at: number;
  duplicate: boolean;
}

/** One socket the client had, for failure messages. */
export interface Visit {
  at: number;
  url: string;
  node: string;
  ended?: string;
}

interface Sending {
  to: number;
  text: string;
  on: InboxConn | null;
  done(m: InboxMessage): void;
}

export class InboxClient {
  readonly view = new InboxView();
  readonly acked = new Map<string, Acked>();
  readonly errors: string[] = [];
  /** Transient failures retried, by request and code, e.g. "msg.send store_unavailable". */
  readonly retried = new Map<string, number>();
  readonly visits: Visit[] = [];
  userId = 0;
  protocol = 0;
  #conn: InboxConn | null = null;
  #token = "";
  #url = "";
  /** Every chat_url the gate handed this client (§11: the only URLs it dials). */
  #fromGate = new Set<string>();
  #sending = new Map<string, Sending>();
  #stopped = false;
  #paused = false;
  #wake: (() => void) | null = null;
  #run: Promise<void> = Promise.resolve();
  #ackTimer: ReturnType<typeof setInterval> | undefined;
  #acking = false;
  #cursor = 0;
  #deliveredAcked = new Map<number, number>();
  #gapTimer: ReturnType<typeof setTimeout> | undefined;
  #filling = false;
  readonly device: string;

  constructor(readonly opts: InboxClientOptions) {
    this.device = opts.device ?? crypto.randomUUID();
  }

  /** The node the client is connected to now (null between sockets). */
  get node(): string | null {
    return this.#conn?.live ? String(this.#conn.welcome!.node) : null;
  }

  get live(): boolean {
    return this.#conn?.live ?? false;
  }

  /** Logs in and connects (to `url`, or the gate's chat_url); resolves once welcomed. */
  async start(url?: string): Promise<void> {
    await this.#login();
    if (url) this.#fromGate.add(url);
    this.#conn = await this.#connect(url ?? this.#url);
    this.#ackTimer = setInterval(() => this.#ack(), this.opts.ackEveryMs ?? 200);
    this.#run = this.#loop();
  }

  /** Sends a message; resolves once acked, resending across reconnects with the same client_id. */
  send(to: number, text: string, clientId: string): Promise<InboxMessage> {
    return new Promise((done) => {
      const s: Sending = { to, text, on: null, done };
      this.#sending.set(clientId, s);
      if (this.live) this.#write(clientId, s);
    });
  }

  /** Sends still waiting for their result. */
  get unacked(): number {
    return this.#sending.size;
  }

  /** A request on the current socket. */
  request(type: string, fields: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<Frame> {
    if (!this.#conn?.live) return Promise.reject(new ReplyError("socket_closed", "not connected"));
    return this.#conn.request(type, fields, timeoutMs);
  }

  /** Closes the socket and stays away until resume() (a laptop lid shut). */
  pause(): void {
    this.#paused = true;
    this.#conn?.close();
  }

  /** Comes back: to the chat_url it had, as after a lost connection. */
  resume(): void {
    this.#paused = false;
    this.#wake?.();
  }

  async close(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#ackTimer);
    clearTimeout(this.#gapTimer);
    this.#conn?.close();
    this.#wake?.();
    await this.#run;
  }

  // --- connections ---

  async #login(): Promise<void> {
    const r = await gate(this.opts.gateUrl, "/api/v1/login", {
      body: { login: this.opts.login, password: this.opts.password },
    });
    this.#token = r.token;
    this.userId = r.user.id;
    this.#url = r.chat_url;
    this.#fromGate.add(r.chat_url);
  }

  async #askGate(): Promise<string> {
    const r = await gate(this.opts.gateUrl, "/api/v1/session/chat-node", { token: this.#token });
    this.#fromGate.add(r.chat_url);
    return r.chat_url;
  }

  async #connect(url: string): Promise<InboxConn> {
    const label = this.opts.label ?? "chaos";
    const conn = await InboxConn.open(url, {
      token: this.#token,
      device: this.protocol === 1 ? undefined : { id: this.device, label },
      onEvent: (f) => this.#onEvent(f),
    });
    const w = conn.welcome!;
    this.#url = url;
    this.visits.push({ at: Date.now(), url, node: String(w.node) });
    const first = this.protocol === 0;
    this.protocol = Number(w.protocol);
    if (this.protocol >= 2) {
      const cursor = Number(w.cursor);
      if (first) this.view.startAt(cursor);
      else if (cursor > this.view.held) {
        // §9 rule 5 allows it when another session of this device acked more; this client runs
        // one session per device, so the server recorded an ack it never sent.
        this.view.anomalies.push(
          `welcome.cursor ${cursor} is beyond the held seq ${this.view.held}`,
        );
      }
      this.#cursor = cursor;
      this.view.head(Number(w.head));
    }
    this.#conn = conn;
    // §11: after reconnecting, resend every msg.send that had no result, with the same client_id.
    for (const [id, s] of this.#sending) this.#write(id, s);
    this.#checkGap();
    return conn;
  }

  /** Reconnects until closed: backoff, same URL first, then the gate (§11). */
  async #loop(): Promise<void> {
    let failures = 0;
    let next: "same" | "gate" | "login" | string = "same";
    let wait = 0;
    while (!this.#stopped) {
      const ended = await this.#conn!.ended;
      if (this.#stopped) return;
      const visit = this.visits[this.visits.length - 1];
      visit.ended = `${ended.code}${ended.hint !== undefined ? ` reconnect→${ended.hint}` : ""}`;
      if (ended.kicked) {
        this.errors.push(`kicked (${ended.kicked}) on ${visit.node}`);
        return;
      }
      if (ended.code === 4001) [next, wait] = ["login", 0];
      else if (ended.hint !== undefined) {
        [next, wait] = [ended.hint && this.#fromGate.has(ended.hint) ? ended.hint : "gate", 0];
      } else [next, wait] = ["same", this.#backoff(++failures)];
      for (;;) {
        await this.#sleep(wait);
        while (this.#paused && !this.#stopped) {
          await new Promise<void>((r) => this.#wake = r);
          [next, wait] = ["same", 0];
        }
        if (this.#stopped) return;
        try {
          if (next === "login") await this.#login();
          let url = next;
          if (next === "gate") url = await this.#askGate();
          else if (next === "same" || next === "login") url = this.#url;
          await this.#connect(url);
          failures = 0;
          break;
        } catch (e) {
          const after = e instanceof GateError ? e.retryAfterMs : 0;
          wait = Math.max(after, this.#backoff(++failures));
          const token = e instanceof ConnectError && e.code.startsWith("token_");
          next = token ? "login" : e instanceof GateError && e.status === 401 ? "login" : "gate";
        }
      }
    }
  }

  #backoff(failures: number): number {
    const [min, max] = this.opts.backoffMs ?? [500, 30_000];
    return Math.min(max, min * 2 ** Math.min(failures - 1, 20)) * (0.5 + Math.random() / 2);
  }

  #sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  // --- messages ---

  #write(clientId: string, s: Sending): void {
    const conn = this.#conn!;
    if (s.on === conn) return; // already in flight on this socket
    s.on = conn;
    conn.request("msg.send", { to: s.to, text: s.text, client_id: clientId }, 30_000).then(
      (data) => this.#sent(clientId, s, data),
      (e: ReplyError) => {
        s.on = null;
        if (e.code === "socket_closed") return; // resent after the next welcome
        if (TRANSIENT.has(e.code)) {
          this.#retry("msg.send", e);
          setTimeout(() => {
            if (this.#sending.get(clientId) === s && this.live && !s.on) this.#write(clientId, s);
          }, e.retryAfterMs ?? 500);
          return;
        }
        this.errors.push(`msg.send ${clientId}: ${e.message}`);
      },
    );
  }

  #retry(what: string, e: ReplyError): void {
    const key = `${what} ${e.code}`;
    this.retried.set(key, (this.retried.get(key) ?? 0) + 1);
  }

  #sent(clientId: string, s: Sending, data: Frame): void {
    const message = data.message as InboxMessage;
    const before = this.acked.get(clientId);
    if (before && before.message.id !== message.id) {
      this.errors.push(`${clientId} acked as ${before.message.id} and as ${message.id}`);
    }
    if (!before) this.acked.set(clientId, { message, at: Date.now(), duplicate: !!data.duplicate });
    this.#sending.delete(clientId);
    this.#take(message, "sent");
    s.done(message);
  }

  #onEvent(f: Frame): void {
    if (f.type === "msg.new") this.#take(f.message, "new");
    else if (f.type === "msg.sync") { for (const m of f.messages) this.#take(m, "sync"); }
    else if (f.type === "pong" && typeof f.head === "number") {
      this.view.head(f.head);
      this.#checkGap();
    }
  }

  #take(m: InboxMessage, via: Via): void {
    this.view.take(m, via);
    this.#checkGap();
  }

  /** A gap waits briefly for its entries (they may be on their way), then is fetched. */
  #checkGap(): void {
    if (!this.view.gap || this.#gapTimer !== undefined || this.#filling) return;
    this.#gapTimer = setTimeout(() => {
      this.#gapTimer = undefined;
      this.#fill();
    }, this.opts.gapWaitMs ?? 500);
  }

  async #fill(): Promise<void> {
    if (!this.view.gap || !this.live || this.#stopped) return;
    this.#filling = true;
    try {
      while (this.view.gap && this.live) {
        const before = this.view.held;
        const r = await this.request("msg.fetch", { after: before, limit: 500 });
        for (const m of r.messages as InboxMessage[]) this.view.take(m, "fetch");
        this.view.head(Number(r.head));
        if (this.view.held === before) {
          this.view.anomalies.push(
            `msg.fetch after ${before} (head ${r.head}) brought no seq ${before + 1}`,
          );
          break;
        }
      }
    } catch (e) {
      // A transient failure leaves the gap: it is fetched again below, or after a reconnect.
      if (e instanceof ReplyError && TRANSIENT.has(e.code)) this.#retry("msg.fetch", e);
      else this.errors.push(`msg.fetch: ${e}`);
    } finally {
      this.#filling = false;
    }
    if (this.view.gap && this.live) this.#checkGap();
  }

  /** Batched acks: the held seq (protocol 2), else `delivered` per peer (protocol 1). */
  #ack(): void {
    const conn = this.#conn;
    // §10: a server that sent nothing (not even a pong) for 3 heartbeats is gone.
    if (conn?.live && Date.now() - conn.lastHeard > 3 * Number(conn.welcome!.heartbeat_ms)) {
      this.errors.push(`nothing heard from ${this.node} for 3 heartbeats: reconnecting`);
      conn.close();
    }
    if (!this.live || this.#acking) return;
    const acks: Record<string, unknown>[] = [];
    if (this.protocol >= 2 && this.view.held > this.#cursor) acks.push({ seq: this.view.held });
    if (this.protocol === 1) {
      for (const [peer, id] of this.view.highestFrom(this.userId)) {
        if (id > (this.#deliveredAcked.get(peer) ?? 0)) acks.push({ peer, delivered: id });
      }
    }
    if (!acks.length) return;
    this.#acking = true;
    Promise.all(acks.map(async (a) => {
      const r = await this.request("msg.ack", a);
      if (typeof r.seq === "number") this.#cursor = Math.max(this.#cursor, r.seq);
      if (a.peer) this.#deliveredAcked.set(a.peer as number, a.delivered as number);
    })).catch((e) => {
      // A transient failure is acked again at the next tick.
      if (e instanceof ReplyError && TRANSIENT.has(e.code)) this.#retry("msg.ack", e);
      else this.errors.push(`msg.ack: ${e}`);
    }).finally(() => this.#acking = false);
  }
}
