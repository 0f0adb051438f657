/**
 * `parley chat` when it is not on a terminal: plain lines for scripts,
 * pipes and logs. Reads lines from stdin and prints one line per event:
 *
 *   input:   @bob hello there     send "hello there" to bob
 *            more text            send to the last person you wrote to or heard from
 *            /quit                leave
 *   output:  [12:03] bob: hello           a message to you (marked delivered and read)
 *            [12:04] you → bob: hi        your message, stored by the server (also one
 *                                         sent from another of your devices)
 *            * bob is online / * bob went offline
 *            * bob read your messages
 *            * carol wants to be friends: "hi" (parley accept carol)
 *   errors go to stderr, starting with "!".
 *
 * When stdin ends it waits until everything typed was sent, then exits
 * (0, or 1 if a line could not be sent: refused by the server, to someone
 * who is not a friend, or with no @NAME to say who it is for); --listen
 * keeps it running. It is a device of its own (chat_client.ts), like the
 * chat screen.
 */
import type { PublicUser, ServerEvent, WireMessage } from "../../proto/protocol.ts";
import { ChatClient, type ConnState } from "../lib/chat_client.ts";
import type { Device } from "../lib/device_file.ts";
import type { Context } from "../lib/parley_context.ts";
import { clock } from "../lib/format.ts";
import { LineReader } from "../lib/prompt.ts";
import { sanitizeLine, sanitizeText } from "../lib/sanitize.ts";
import type { Session } from "../lib/session_file.ts";

export async function runLineMode(
  ctx: Context,
  session: Session,
  device: Device,
  options: { listen: boolean },
): Promise<number> {
  const mode = new LineMode(ctx, session, device);
  mode.client.start();
  mode.readInput(options.listen);
  const code = await mode.ended;
  mode.client.stop();
  return code;
}

/** One run of the plain mode: the client, the names it knows, and what it printed. */
class LineMode {
  readonly client: ChatClient;
  readonly ended: Promise<number>;
  readonly end: (code: number) => void;
  readonly #me: number;
  readonly #users = new Map<number, PublicUser>();
  readonly #seen = new Set<number>();
  readonly #readUpTo = new Map<number, number>();
  #lastPeer: number | null = null;
  #failures = 0;
  #ready = Promise.withResolvers<void>();
  #drained: (() => void) | null = null;
  #lastState: ConnState["kind"] | null = null;

  constructor(readonly ctx: Context, session: Session, device: Device) {
    this.#me = session.user.id;
    const { promise, resolve } = Promise.withResolvers<number>();
    [this.ended, this.end] = [promise, resolve];
    this.client = new ChatClient({
      url: session.chat_url,
      token: session.token,
      device,
      ...ctx.chatNodeHooks(session),
      onWelcome: () => {
        this.#loadFriends().then(
          () => this.#ready.resolve(),
          (e) => this.#warn(`could not list friends: ${e.message}`),
        );
      },
      onEvent: async (e) => {
        await this.#ready.promise;
        this.#onEvent(e);
      },
      onState: (s) => this.#onState(s),
      onSent: (_item, message) => {
        this.#show(message);
        if (this.client.outbox().length === 0) this.#drained?.();
      },
      onSendFailed: (item, error) => {
        this.#failures++;
        this.#warn(
          `message to ${this.#nameOf(item.to)} not sent: ${error.message} (${error.code})`,
        );
        if (this.client.outbox().length === 0) this.#drained?.();
      },
    });
  }

  /** Sends each stdin line; at its end waits for the outbox, then ends (unless listening). */
  readInput(listen: boolean): void {
    const reader = new LineReader();
    (async () => {
      await Promise.race([this.#ready.promise, this.ended]);
      for (;;) {
        const line = await reader.line();
        if (line === null) break;
        this.#handle(line);
      }
      if (this.client.outbox().length > 0) {
        await new Promise<void>((resolve) => this.#drained = resolve);
      }
      if (!listen) this.end(this.#failures ? 1 : 0);
    })().catch((e) => {
      this.#warn(String(e?.message ?? e));
      this.end(1);
    });
  }

  #out(line: string): void {
    this.ctx.io.out(line);
  }

  #warn(line: string): void {
    this.ctx.io.err(`! ${line}`);
  }

  #nameOf(id: number): string {
    return sanitizeLine(this.#users.get(id)?.name ?? `#${id}`);
  }

  #byName(name: string): PublicUser | undefined {
    return [...this.#users.values()].find((u) => u.name.toLowerCase() === name.toLowerCase());
  }

  async #loadFriends(): Promise<void> {
    const { friends } = await this.client.request("friend.list", {});
    for (const f of friends) this.#users.set(f.user.id, f.user);
  }

  /** Prints a message once: mine (from any of my devices) or a friend's (then marked read). */
  #show(m: WireMessage): void {
    if (this.#seen.has(m.id)) return;
    this.#seen.add(m.id);
    const text = sanitizeText(m.text).replace(/\n/g, "\n    ");
    if (m.from === this.#me) {
      this.#out(`[${clock(m.sent_at)}] you → ${this.#nameOf(m.to)}: ${text}`);
      return;
    }
    this.#out(`[${clock(m.sent_at)}] ${this.#nameOf(m.from)}: ${text}`);
    this.#lastPeer = m.from;
    this.client.ack(m.from, { read: m.id });
  }

  #onEvent(e: ServerEvent): void {
    switch (e.type) {
      case "msg.new":
        return this.#show(e.message);
      case "msg.sync":
        return e.messages.forEach((m) => this.#show(m));
      case "msg.status": {
        if (e.read_id > (this.#readUpTo.get(e.peer) ?? 0)) {
          this.#readUpTo.set(e.peer, e.read_id);
          this.#out(`* ${this.#nameOf(e.peer)} read your messages`);
        }
        return;
      }
      case "presence":
        return this.#out(`* ${this.#nameOf(e.user_id)} ${e.online ? "is online" : "went offline"}`);
      case "friend.request": {
        const from = sanitizeLine(e.request.from.name);
        const greeting = e.request.greeting ? `: "${sanitizeLine(e.request.greeting)}"` : "";
        return this.#out(`* ${from} wants to be friends${greeting} (parley accept ${from})`);
      }
      case "friend.accepted":
        this.#users.set(e.friend.user.id, e.friend.user);
        return this.#out(`* you and ${sanitizeLine(e.friend.user.name)} are now friends`);
      case "friend.removed":
        return this.#out(`* ${this.#nameOf(e.user_id)} removed you as a friend`);
    }
  }

  #onState(s: ConnState): void {
    if (s.kind === this.#lastState) return;
    this.#lastState = s.kind;
    if (s.kind === "waiting") this.#warn(`disconnected (${s.reason}); reconnecting`);
    if (s.kind === "stopped" && s.code !== "closed") {
      this.#warn(
        s.code === "kicked"
          ? `session ended: ${sanitizeLine(s.reason)}`
          : `${s.reason} — run \`parley login\``,
      );
      this.end(1);
    }
  }

  /** A line that cannot be sent is reported at once and makes the exit code 1. */
  #refuse(why: string): void {
    this.#failures++;
    this.#warn(why);
  }

  #handle(line: string): void {
    const text = line.trim();
    if (text === "") return;
    if (text === "/quit") return this.end(this.#failures ? 1 : 0);
    const m = text.match(/^@(\S+)\s+([\s\S]+)$/);
    let to: number | null = this.#lastPeer;
    let body = text;
    if (m) {
      const user = this.#byName(m[1]);
      if (!user) return this.#refuse(`${sanitizeLine(m[1])} is not one of your friends`);
      to = user.id;
      body = m[2];
    } else if (text.startsWith("@")) return this.#refuse("nothing to send after the name");
    if (to === null) return this.#refuse("start the line with @NAME to say who it is for");
    this.#lastPeer = to;
    this.client.send(to, body);
  }
}
