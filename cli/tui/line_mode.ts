/**
 * `parley chat` when it is not on a terminal: plain lines for scripts,
 * pipes and logs. Reads lines from stdin and prints one line per event:
 *
 *   input:   @bob hello there     send "hello there" to bob
 *            more text            send to the last person you wrote to or heard from
 *            /quit                leave
 *   output:  [12:03] bob: hello           a message to you (marked delivered and read)
 *            [12:04] you → bob: hi        your message, stored by the server
 *            * bob is online / * bob went offline
 *            * bob read your messages
 *            * carol wants to be friends: "hi" (parley accept carol)
 *   errors go to stderr, starting with "!".
 *
 * When stdin ends it waits until everything typed was sent, then exits
 * (0, or 1 if a line could not be sent: refused by the server, to someone
 * who is not a friend, or with no @NAME to say who it is for); --listen
 * keeps it running.
 */
import type { PublicUser, WireMessage } from "../../proto/protocol.ts";
import { ChatClient, type ConnState } from "../lib/chat_client.ts";
import type { Context } from "../lib/parley_context.ts";
import { clock } from "../lib/format.ts";
import { LineReader } from "../lib/prompt.ts";
import { sanitizeLine, sanitizeText } from "../lib/sanitize.ts";
import type { Session } from "../lib/session_file.ts";

export async function runLineMode(
  ctx: Context,
  session: Session,
  options: { listen: boolean },
): Promise<number> {
  const me = session.user.id;
  const users = new Map<number, PublicUser>();
  const seen = new Set<number>();
  const readUpTo = new Map<number, number>();
  let lastPeer: number | null = null;
  let failures = 0;
  const nameOf = (id: number) => sanitizeLine(users.get(id)?.name ?? `#${id}`);
  const byName = (name: string) =>
    [...users.values()].find((u) => u.name.toLowerCase() === name.toLowerCase());
  const out = (line: string) => ctx.io.out(line);
  const warn = (line: string) => ctx.io.err(`! ${line}`);

  const { promise: ready, resolve: setReady } = Promise.withResolvers<void>();
  const { promise: ended, resolve: end } = Promise.withResolvers<number>();
  let drained: (() => void) | null = null;

  const show = (m: WireMessage) => {
    if (seen.has(m.id)) return;
    seen.add(m.id);
    const text = sanitizeText(m.text).replace(/\n/g, "\n    ");
    if (m.from === me) out(`[${clock(m.sent_at)}] you → ${nameOf(m.to)}: ${text}`);
    else {
      out(`[${clock(m.sent_at)}] ${nameOf(m.from)}: ${text}`);
      lastPeer = m.from;
      client.ack(m.from, { read: m.id });
    }
  };

  const loadFriends = async () => {
    const { friends } = await client.request("friend.list", {});
    for (const f of friends) users.set(f.user.id, f.user);
  };

  let lastState: ConnState["kind"] | null = null;
  const client: ChatClient = new ChatClient({
    url: session.chat_url,
    token: session.token,
    ...ctx.chatNodeHooks(session),
    onWelcome() {
      loadFriends().then(() => setReady(), (e) => warn(`could not list friends: ${e.message}`));
    },
    async onEvent(e) {
      await ready;
      switch (e.type) {
        case "msg.new":
          return show(e.message);
        case "msg.sync":
          return e.messages.forEach(show);
        case "msg.status": {
          if (e.read_id > (readUpTo.get(e.peer) ?? 0)) {
            readUpTo.set(e.peer, e.read_id);
            out(`* ${nameOf(e.peer)} read your messages`);
          }
          return;
        }
        case "presence":
          return out(`* ${nameOf(e.user_id)} ${e.online ? "is online" : "went offline"}`);
        case "friend.request": {
          const from = sanitizeLine(e.request.from.name);
          const greeting = e.request.greeting ? `: "${sanitizeLine(e.request.greeting)}"` : "";
          return out(`* ${from} wants to be friends${greeting} (parley accept ${from})`);
        }
        case "friend.accepted":
          users.set(e.friend.user.id, e.friend.user);
          return out(`* you and ${sanitizeLine(e.friend.user.name)} are now friends`);
        case "friend.removed":
          return out(`* ${nameOf(e.user_id)} removed you as a friend`);
      }
    },
    onState(s) {
      if (s.kind === lastState) return;
      lastState = s.kind;
      if (s.kind === "waiting") warn(`disconnected (${s.reason}); reconnecting`);
      if (s.kind === "stopped" && s.code !== "closed") {
        warn(
          s.code === "kicked"
            ? `session ended: ${sanitizeLine(s.reason)}`
            : `${s.reason} — run \`parley login\``,
        );
        end(1);
      }
    },
    onSent(_item, message) {
      show(message);
      if (client.outbox().length === 0) drained?.();
    },
    onSendFailed(item, error) {
      failures++;
      warn(`message to ${nameOf(item.to)} not sent: ${error.message} (${error.code})`);
      if (client.outbox().length === 0) drained?.();
    },
  });

  // A line that cannot be sent is reported at once and makes the exit code 1.
  const refuse = (why: string) => {
    failures++;
    warn(why);
  };
  const handle = (line: string) => {
    const text = line.trim();
    if (text === "") return;
    if (text === "/quit") return end(failures ? 1 : 0);
    const m = text.match(/^@(\S+)\s+([\s\S]+)$/);
    let to: number | null = lastPeer;
    let body = text;
    if (m) {
      const user = byName(m[1]);
      if (!user) return refuse(`${sanitizeLine(m[1])} is not one of your friends`);
      to = user.id;
      body = m[2];
    } else if (text.startsWith("@")) return refuse("nothing to send after the name");
    if (to === null) return refuse("start the line with @NAME to say who it is for");
    lastPeer = to;
    client.send(to, body);
  };

  client.start();
  const reader = new LineReader();
  (async () => {
    await Promise.race([ready, ended]);
    for (;;) {
      const line = await reader.line();
      if (line === null) break;
      handle(line);
    }
    if (client.outbox().length > 0) {
      await new Promise<void>((resolve) => drained = resolve);
    }
    if (!options.listen) end(failures ? 1 : 0);
  })().catch((e) => {
    warn(String(e?.message ?? e));
    end(1);
  });
  const code = await ended;
  client.stop();
  return code;
}
