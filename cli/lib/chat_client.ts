/**
 * The long-lived connection behind `parley chat`: reconnects by itself with
 * exponential backoff and jitter, keeps an outbox of messages typed while
 * offline (or whose reply was lost) and sends them once back, each with its
 * own client_id so a resend is never stored twice, and coalesces receipts
 * per friend. Follows docs/protocol.md §11: no automatic reconnect after a
 * kick (4003) or a refused token (4001); when the node it knows cannot be
 * reached, or a node drains, it asks the gate for a live one with the same
 * token (`findNode`) instead of giving up. The token only ever goes to
 * chat URLs the gate handed out: a `reconnect` frame's chat_url is used
 * only if the gate named that URL before (a forged frame cannot send the
 * client, and its token, anywhere else).
 *
 * It is a device (docs/protocol.md §3, §9): `auth` names the device id and
 * label given, and the inbox (inbox_sync.ts) keeps its seqs: an entry that
 * comes again is dropped before anyone sees it (`onEvent` gets msg.sync with
 * the new entries only, and msg.new only once), the seq held is acked, and a
 * gap is filled with msg.fetch, whose entries are handed on as msg.new.
 */
import { AppError } from "../../proto/errors.ts";
import { CLOSE, type ServerEvent, type WireMessage } from "../../proto/protocol.ts";
import {
  Connection,
  NODE_GONE,
  type RequestBody,
  type RequestType,
  TOKEN_ERRORS,
  type Welcome,
} from "./ws.ts";
import { MAX_FETCH_LIMIT, type ResultData } from "../../proto/protocol.ts";
import { InboxSync } from "./inbox_sync.ts";

export type ConnState =
  | { kind: "connecting"; attempt: number }
  | { kind: "connected"; node: string }
  | { kind: "waiting"; retryAt: number; attempt: number; reason: string }
  | { kind: "stopped"; code: string; reason: string };

export interface OutboxItem {
  client_id: string;
  to: number;
  text: string;
  queued_at: number;
}

export interface ChatClientOptions {
  url: string;
  token: string;
  /** This device (device_file.ts); without it the server derives one from the token. */
  device?: { id: string; label: string };
  onWelcome?(welcome: Welcome): void;
  onEvent?(event: ServerEvent): void;
  onState?(state: ConnState): void;
  /** A queued message was stored by the server. */
  onSent?(item: OutboxItem, message: WireMessage): void;
  /** A queued message was refused for good (not friends, too long...). */
  onSendFailed?(item: OutboxItem, error: AppError): void;
  /** The chat URL changed (the gate picked another node, or a drain named one it had). */
  onUrlChange?(url: string): void;
  /**
   * Asks the gate for a live chat node's URL with the same token (POST
   * /api/v1/session/chat-node). Used when a reconnect to the known URL
   * failed, or a node drains. Without it, the client keeps retrying the
   * known URL (it never follows a drain's URL the gate did not hand out).
   */
  findNode?(): Promise<string>;
  backoff?: { minMs: number; maxMs: number };
  /** 0..1; injectable so tests can pin the jitter. */
  random?: () => number;
  openTimeoutMs?: number;
}

/** Server error codes after which a queued message is retried later. */
const RETRY_CODES = new Set(["rate_limited", "internal", "disconnected", "chat_timeout"]);
const MAX_SEND_TRIES = 8;

export class ChatClient {
  private conn: Connection | null = null;
  private stateValue: ConnState = { kind: "connecting", attempt: 0 };
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private url: string;
  private readonly queue: (OutboxItem & { tries: number })[] = [];
  private flushing = false;
  private kickReason: string | null = null;
  /** The known URL failed (or a node drains): ask the gate before the next try. */
  private askGate = false;
  /** Every chat URL the gate handed out (at login, or from findNode): the only ones dialled. */
  private readonly gateUrls = new Set<string>();
  private readonly wantAcks = new Map<number, { delivered: number; read: number }>();
  private readonly sentAcks = new Map<number, { delivered: number; read: number }>();
  /** The inbox's seqs and message ids, across reconnects. */
  readonly inbox: InboxSync;

  constructor(private readonly options: ChatClientOptions) {
    this.url = options.url;
    this.gateUrls.add(options.url);
    this.inbox = new InboxSync({
      onFetched: (message) => this.options.onEvent?.({ type: "msg.new", message }),
      onFetchError: () => {/* fetched again at the next pong or entry */},
    });
  }

  get state(): ConnState {
    return this.stateValue;
  }

  get connection(): Connection | null {
    return this.conn;
  }

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  /** Closes for good; the outbox is kept (see `outbox()`). */
  stop(reason = "closed"): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.flushTimer);
    clearTimeout(this.ackTimer);
    this.inbox.flushAck();
    this.inbox.detach();
    const c = this.conn;
    this.conn = null;
    c?.close(1000, reason);
    this.setState({ kind: "stopped", code: "closed", reason });
  }

  /** Skips the backoff wait (or reconnects after a kick when the user asks). */
  reconnectNow(): void {
    if (this.conn) return;
    clearTimeout(this.retryTimer);
    this.stopped = false;
    this.attempt = 0;
    void this.connect();
  }

  /** Messages not yet stored by the server, oldest first. */
  outbox(): OutboxItem[] {
    return this.queue.map(({ tries: _, ...item }) => item);
  }

  /** Queues a message and sends it as soon as the connection allows. */
  send(to: number, text: string): OutboxItem {
    const item = { client_id: crypto.randomUUID(), to, text, queued_at: Date.now(), tries: 0 };
    this.queue.push(item);
    this.scheduleFlush(0);
    const { tries: _, ...out } = item;
    return out;
  }

  /** A request on the current connection; fails with `offline` when there is none. */
  request<K extends RequestType>(type: K, body: RequestBody<K>): Promise<ResultData[K]> {
    if (!this.conn) {
      return Promise.reject(new AppError("offline", "not connected to the chat node", 503));
    }
    return this.conn.request(type, body);
  }

  /** Records that messages from `peer` were delivered / read up to an id; sent shortly, batched. */
  ack(peer: number, marks: { delivered?: number; read?: number }): void {
    const want = this.wantAcks.get(peer) ?? { delivered: 0, read: 0 };
    want.delivered = Math.max(want.delivered, marks.delivered ?? 0, marks.read ?? 0);
    want.read = Math.max(want.read, marks.read ?? 0);
    this.wantAcks.set(peer, want);
    if (this.ackTimer === undefined) {
      this.ackTimer = setTimeout(() => {
        this.ackTimer = undefined;
        this.flushAcks();
      }, 50);
    }
  }

  typing(to: number, active: boolean): void {
    this.conn?.send({ type: "typing", to, active });
  }

  private setState(s: ConnState): void {
    this.stateValue = s;
    this.options.onState?.(s);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.setState({ kind: "connecting", attempt: this.attempt });
    if (this.askGate && this.options.findNode && !(await this.refreshUrl())) return;
    let conn: Connection;
    try {
      conn = await Connection.open(this.url, this.options.token, {
        heartbeat: true,
        timeoutMs: this.options.openTimeoutMs,
        auth: this.options.device
          ? { device: this.options.device.id, label: this.options.device.label }
          : undefined,
        onEvent: (e) => this.onEvent(e),
        onStrayError: () => {/* a refused ack or typing changes nothing for the user */},
        onClose: (code, reason) => this.onClosed(conn, code, reason),
      });
    } catch (e) {
      const err = e instanceof AppError ? e : new AppError("disconnected", String(e), 503);
      if (TOKEN_ERRORS.has(err.code)) {
        this.stopped = true;
        this.setState({ kind: "stopped", code: err.code, reason: err.message });
        return;
      }
      if (NODE_GONE.has(err.code)) this.askGate = true;
      this.scheduleReconnect(err.message);
      return;
    }
    if (this.stopped) {
      conn.close();
      return;
    }
    this.conn = conn;
    this.attempt = 0;
    this.askGate = false;
    this.sentAcks.clear();
    this.inbox.welcome({
      ack: (seq) => conn.send({ type: "msg.ack", seq }),
      fetch: (after) => conn.request("msg.fetch", { after, limit: MAX_FETCH_LIMIT }),
    }, conn.welcome);
    this.setState({ kind: "connected", node: conn.welcome.node });
    this.options.onWelcome?.(conn.welcome);
    this.flushAcks();
    this.scheduleFlush(0);
  }

  private onEvent(e: ServerEvent): void {
    if (e.type === "msg.new" && !this.inbox.take(e.message)) return;
    if (e.type === "msg.sync") {
      e = { ...e, messages: e.messages.filter((m) => this.inbox.take(m)) };
      if (e.done) this.inbox.flushAck();
    }
    if (e.type === "pong" && typeof e.head === "number") this.inbox.head(e.head);
    if (e.type === "kicked") this.kickReason = e.reason;
    if (e.type === "reconnect") {
      // The frame's URL is a hint, taken only if the gate named it before;
      // otherwise the gate names the node (a frame can be forged, the gate's answer not).
      const hint = (e as { chat_url?: string | null }).chat_url;
      if (hint && this.gateUrls.has(hint)) this.setUrl(hint);
      else this.askGate = true;
    }
    this.options.onEvent?.(e);
  }

  private setUrl(url: string): void {
    if (url === this.url) return;
    this.url = url;
    this.options.onUrlChange?.(url);
  }

  /**
   * Asks the gate for a live node; false if the token was refused (stopped).
   * If the gate cannot answer, the known URL is tried anyway (the node may
   * be back) and the gate is asked again after the next failure.
   */
  private async refreshUrl(): Promise<boolean> {
    let url: string;
    try {
      url = await this.options.findNode!();
    } catch (e) {
      const err = e instanceof AppError ? e : new AppError("gate_unreachable", String(e), 503);
      if (this.stopped) return false;
      if (TOKEN_ERRORS.has(err.code) || err.status === 401) {
        this.stopped = true;
        this.setState({ kind: "stopped", code: err.code, reason: err.message });
        return false;
      }
      return true;
    }
    if (this.stopped) return false;
    this.askGate = false;
    this.gateUrls.add(url);
    this.setUrl(url);
    return true;
  }

  private onClosed(conn: Connection, code: number, reason: string): void {
    if (this.conn !== conn) return;
    this.conn = null;
    this.inbox.detach();
    if (this.stopped) return;
    if (code === CLOSE.KICKED) {
      this.stopped = true;
      const why = this.kickReason || reason || "logged in elsewhere";
      this.kickReason = null;
      this.setState({ kind: "stopped", code: "kicked", reason: why });
    } else if (code === CLOSE.AUTH_FAILED) {
      this.stopped = true;
      this.setState({ kind: "stopped", code: "token_invalid", reason: reason || "session ended" });
    } else if (code === CLOSE.POLICY) {
      this.stopped = true;
      this.setState({ kind: "stopped", code: "policy", reason: reason || "closed by the server" });
    } else if (code === CLOSE.SERVICE_RESTART) {
      // Draining: go at once, where the node said (or where the gate says, if it named none).
      this.attempt = 0;
      void this.connect();
    } else {
      this.scheduleReconnect(reason || `connection lost (${code})`);
    }
  }

  private scheduleReconnect(reason: string): void {
    if (this.stopped) return;
    const { minMs, maxMs } = this.options.backoff ?? { minMs: 500, maxMs: 30_000 };
    const base = Math.min(maxMs, minMs * 2 ** this.attempt);
    const delay = Math.round(base * (0.5 + 0.5 * (this.options.random ?? Math.random)()));
    this.attempt++;
    this.setState({ kind: "waiting", retryAt: Date.now() + delay, attempt: this.attempt, reason });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }

  private flushAcks(): void {
    if (!this.conn) return;
    for (const [peer, want] of this.wantAcks) {
      const sent = this.sentAcks.get(peer) ?? { delivered: 0, read: 0 };
      if (want.delivered <= sent.delivered && want.read <= sent.read) continue;
      const frame: { type: "msg.ack"; peer: number; delivered?: number; read?: number } = {
        type: "msg.ack",
        peer,
      };
      if (want.delivered > sent.delivered) frame.delivered = want.delivered;
      if (want.read > sent.read) frame.read = want.read;
      if (this.conn.send(frame)) this.sentAcks.set(peer, { ...want });
    }
  }

  private scheduleFlush(delayMs: number): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = setTimeout(() => void this.flush(), delayMs);
  }

  /** Sends the outbox one message at a time, so they are stored in the order typed. */
  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0 && this.conn && !this.stopped) {
        const item = this.queue[0];
        item.tries++;
        try {
          const res = await this.conn.request("msg.send", {
            to: item.to,
            text: item.text,
            client_id: item.client_id,
          });
          this.queue.shift();
          this.inbox.take(res.message);
          this.options.onSent?.(stripTries(item), res.message);
        } catch (e) {
          const err = e instanceof AppError ? e : new AppError("internal", String(e), 500);
          if (RETRY_CODES.has(err.code) && item.tries < MAX_SEND_TRIES) {
            // A lost connection is retried at the next welcome; the rest after a pause.
            if (err.code !== "disconnected" && this.conn) {
              this.scheduleFlush((err.retryAfterS ?? 2 ** Math.min(item.tries, 5) / 4) * 1000);
            }
            if (err.code === "disconnected") item.tries--;
            return;
          }
          this.queue.shift();
          this.options.onSendFailed?.(stripTries(item), err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}

function stripTries(item: OutboxItem & { tries: number }): OutboxItem {
  const { tries: _, ...out } = item;
  return out;
}
