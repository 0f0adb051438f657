/**
 * The slash commands typed in the chat screen's input line: /add, /accept,
 * /decline, /requests, /search, /help and /quit. Each answers with a
 * notice (or opens a view); failures are reported by the caller.
 */
import { sanitizeLine } from "../lib/sanitize.ts";
import { findIncoming, findUser } from "../lib/users.ts";
import type { ChatScreen } from "./controller.ts";
import { conversation, notify } from "./state.ts";
import { search } from "./messages.ts";

const USAGE = "/add NAME [greeting] · /accept NAME · /decline NAME · /requests · " +
  "/search TEXT · /help · /quit";
/** How many older pages /search loads before it searches (100 messages each). */
const SEARCH_PAGES = 5;

export async function runCommand(app: ChatScreen, line: string): Promise<void> {
  const s = app.state;
  const [cmd, ...words] = line.trim().split(/\s+/);
  const name = words[0];
  switch (cmd) {
    case "/quit":
    case "/q":
      return app.quit(0);
    case "/help":
    case "/?":
      s.help = true;
      return;
    case "/add":
      if (!name) return notify(s, "usage: /add NAME [greeting]");
      return await add(app, name, words.slice(1).join(" "));
    case "/accept":
    case "/decline":
      if (!name) return notify(s, `usage: ${cmd} NAME`);
      return await answer(app, cmd, name);
    case "/requests": {
      const { incoming } = await app.client.request("friend.requests", {});
      s.pending_requests = incoming.length;
      return notify(
        s,
        incoming.length
          ? `requests from: ${incoming.map((r) => sanitizeLine(r.from.name)).join(", ")}`
          : "no pending friend requests",
      );
    }
    case "/search":
      return await searchOpen(app, line.trim().slice(cmd.length).trim());
    default:
      return notify(s, `unknown command ${cmd} — ${USAGE}`);
  }
}

async function add(app: ChatScreen, name: string, greeting: string): Promise<void> {
  const user = await findUser(app.client, name, app.state.me);
  const res = await app.client.request("friend.request", {
    user_id: user.id,
    ...(greeting ? { greeting } : {}),
  });
  if (res.status === "accepted") await app.refreshFriends();
  notify(
    app.state,
    res.status === "accepted"
      ? `you and ${sanitizeLine(user.name)} are now friends`
      : `friend request sent to ${sanitizeLine(user.name)}`,
  );
}

async function answer(app: ChatScreen, cmd: string, name: string): Promise<void> {
  const s = app.state;
  const req = await findIncoming(app.client, name);
  if (cmd === "/accept") {
    await app.client.request("friend.accept", { user_id: req.from.id });
    await app.refreshFriends();
    s.selected = req.from.id;
    app.openSelected();
  } else await app.client.request("friend.decline", { user_id: req.from.id });
  s.pending_requests = Math.max(0, s.pending_requests - 1);
  notify(s, `${cmd === "/accept" ? "accepted" : "declined"} ${sanitizeLine(req.from.name)}`);
}

/** /search TEXT: loads a few older pages first, then lists the matches (Esc closes). */
async function searchOpen(app: ChatScreen, query: string): Promise<void> {
  const s = app.state;
  if (!query) {
    search(s, null);
    return notify(s, "usage: /search TEXT (in the open conversation)");
  }
  if (s.selected === null) return notify(s, "no conversation open to search");
  const peerId = s.selected;
  for (let i = 0; i < SEARCH_PAGES && conversation(s, peerId).more; i++) {
    await app.loadHistory(peerId, true);
  }
  search(s, query);
  const n = s.search?.hits.length ?? 0;
  if (n > 0) return;
  search(s, null);
  notify(s, `no message with "${sanitizeLine(query)}" in this conversation`);
}
