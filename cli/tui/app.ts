/**
 * The interactive chat screen: wires the reconnecting ChatClient, the state
 * (state.ts), the pure renderer (render.ts) and the terminal (screen.ts,
 * raw-mode keys, SIGWINCH). Keys: Up/Down, Tab/Shift-Tab or Ctrl-N/Ctrl-P
 * pick a conversation; Enter sends; PgUp/PgDn scroll; Ctrl-R reconnects
 * after a kick; Ctrl-L redraws; Ctrl-C or Ctrl-D quits. Lines starting with
 * "/" are commands (/add, /accept, /decline, /requests, /quit, /help).
 */
import { AppError } from "../../proto/errors.ts";
import { ChatClient } from "../lib/chat_client.ts";
import type { Context } from "../lib/parley_context.ts";
import { sanitizeLine } from "../lib/sanitize.ts";
import type { Session } from "../lib/session_file.ts";
import { findIncoming, findUser } from "../lib/users.ts";
import { type Key, parseKeys } from "./keys.ts";
import { cursorAt, render } from "./render.ts";
import { Screen } from "./screen.ts";
import {
  addHistory,
  addQueued,
  applyEvent,
  type ChatState,
  conversation,
  dueAcks,
  editInput,
  insertText,
  markFailed,
  moveSelection,
  newState,
  notify,
  setFriends,
  takeInput,
} from "./state.ts";

const enc = new TextEncoder();

function writeAll(text: string): void {
  let buf = enc.encode(text);
  while (buf.length > 0) buf = buf.subarray(Deno.stdout.writeSync(buf));
}

const HELP_LINE = "/add NAME [greeting] · /accept NAME · /decline NAME · /requests · /quit";

export async function runChatScreen(ctx: Context, session: Session): Promise<number> {
  const state: ChatState = newState(session.user);
  const screen = new Screen(writeAll);
  let size = Deno.consoleSize();
  const color = !ctx.env.NO_COLOR;
  const { promise: quit, resolve: stop } = Promise.withResolvers<number>();

  let drawQueued = false;
  const draw = () => {
    drawQueued = false;
    state.now = Date.now();
    state.queued = client.outbox().length;
    const s = { cols: size.columns, rows: size.rows, color };
    screen.draw(render(state, s), cursorAt(state, s));
  };
  const redraw = () => {
    if (drawQueued) return;
    drawQueued = true;
    setTimeout(draw, 10);
  };
  const report = (e: unknown) => {
    notify(state, e instanceof AppError ? `${e.message} (${e.code})` : String(e));
    redraw();
  };

  const sendAcks = () => {
    for (const a of dueAcks(state)) client.ack(a.peer, a);
  };

  const loadHistory = async (peerId: number, older = false) => {
    const c = conversation(state, peerId);
    if (client.state.kind !== "connected") return;
    const before = older ? c.messages.find((m) => m.id !== null)?.id ?? undefined : undefined;
    const page = await client.request("msg.history", {
      with: peerId,
      limit: 50,
      ...(before ? { before } : {}),
    });
    addHistory(state, peerId, page, older);
    sendAcks();
    redraw();
  };

  const openSelected = () => {
    const id = state.selected;
    if (id === null) return;
    const c = conversation(state, id);
    if (!c.loaded) loadHistory(id).catch(report);
    sendAcks();
    redraw();
  };

  const refreshFriends = async () => {
    const { friends } = await client.request("friend.list", {});
    setFriends(state, friends);
    // What was open before a reconnect may have missed messages: reload it.
    for (const c of state.conversations.values()) c.loaded = false;
    openSelected();
  };

  const client: ChatClient = new ChatClient({
    url: session.chat_url,
    token: session.token,
    onWelcome(w) {
      state.pending_requests = w.pending_requests;
      refreshFriends().catch(report);
    },
    onEvent(e) {
      if (applyEvent(state, e)) {
        if (e.type === "msg.new" || e.type === "msg.sync") sendAcks();
        redraw();
      }
    },
    onState(st) {
      state.conn = st;
      redraw();
    },
    onSent(_item, message) {
      applyEvent(state, { type: "msg.new", message });
      redraw();
    },
    onSendFailed(item, error) {
      markFailed(state, item, error.code);
      notify(state, `not sent: ${error.message}`);
      redraw();
    },
    ...ctx.chatNodeHooks(session),
  });

  const command = async (line: string) => {
    const [cmd, name, ...rest] = line.trim().split(/\s+/);
    switch (cmd) {
      case "/quit":
      case "/q":
        return stop(0);
      case "/help":
        return notify(state, HELP_LINE);
      case "/add": {
        if (!name) return notify(state, "usage: /add NAME [greeting]");
        const user = await findUser(client, name);
        const greeting = rest.join(" ");
        const res = await client.request("friend.request", {
          user_id: user.id,
          ...(greeting ? { greeting } : {}),
        });
        if (res.status === "accepted") await refreshFriends();
        return notify(
          state,
          res.status === "accepted"
            ? `you and ${user.name} are now friends`
            : `friend request sent to ${user.name}`,
        );
      }
      case "/accept":
      case "/decline": {
        if (!name) return notify(state, `usage: ${cmd} NAME`);
        const req = await findIncoming(client, name);
        if (cmd === "/accept") {
          await client.request("friend.accept", { user_id: req.from.id });
          await refreshFriends();
          state.selected = req.from.id;
          openSelected();
        } else await client.request("friend.decline", { user_id: req.from.id });
        state.pending_requests = Math.max(0, state.pending_requests - 1);
        return notify(state, `${cmd === "/accept" ? "accepted" : "declined"} ${req.from.name}`);
      }
      case "/requests": {
        const { incoming } = await client.request("friend.requests", {});
        state.pending_requests = incoming.length;
        return notify(
          state,
          incoming.length
            ? `requests from: ${incoming.map((r) => sanitizeLine(r.from.name)).join(", ")}`
            : "no pending friend requests",
        );
      }
      default:
        return notify(state, `unknown command ${cmd} — ${HELP_LINE}`);
    }
  };

  let typingSentAt = 0;
  const onKey = (k: Key) => {
    const c = state.selected === null ? null : conversation(state, state.selected);
    const page = Math.max(1, size.rows - 4);
    switch (k.name) {
      case "text":
        insertText(state, k.text);
        if (
          state.selected !== null && !state.input.startsWith("/") &&
          Date.now() - typingSentAt > 3000
        ) {
          typingSentAt = Date.now();
          client.typing(state.selected, true);
        }
        break;
      case "enter": {
        const text = takeInput(state);
        if (text.trim() === "") break;
        if (text.startsWith("/")) {
          command(text).catch(report).finally(redraw);
          break;
        }
        if (state.selected === null) {
          notify(state, "no conversation open — /add NAME to find a friend");
          break;
        }
        addQueued(state, client.send(state.selected, text));
        typingSentAt = 0;
        if (c) c.scroll = 0;
        break;
      }
      case "backspace":
      case "delete":
      case "left":
      case "right":
      case "home":
      case "end":
        editInput(state, k.name);
        break;
      case "up":
      case "backtab":
        moveSelection(state, -1);
        openSelected();
        break;
      case "down":
      case "tab":
        moveSelection(state, 1);
        openSelected();
        break;
      case "pageup":
        if (c) {
          c.scroll += page;
          if (c.more) loadHistory(state.selected!, true).catch(report);
        }
        break;
      case "pagedown":
        if (c) c.scroll = Math.max(0, c.scroll - page);
        break;
      case "ctrl":
        switch (k.key) {
          case "c":
            return stop(0);
          case "d":
            if (state.input === "") return stop(0);
            editInput(state, "delete");
            break;
          case "a":
            editInput(state, "home");
            break;
          case "e":
            editInput(state, "end");
            break;
          case "u":
            editInput(state, "kill");
            break;
          case "w":
            editInput(state, "word");
            break;
          case "n":
            moveSelection(state, 1);
            openSelected();
            break;
          case "p":
            moveSelection(state, -1);
            openSelected();
            break;
          case "l":
            screen.invalidate();
            break;
          case "r":
            client.reconnectNow();
            break;
        }
        break;
    }
    redraw();
  };

  const onResize = () => {
    try {
      size = Deno.consoleSize();
    } catch { /* not a terminal any more */ }
    screen.invalidate();
    draw();
  };
  const onTerm = () => stop(130);
  const signals: [Deno.Signal, () => void][] = Deno.build.os === "windows"
    ? []
    : [["SIGWINCH", onResize], ["SIGTERM", onTerm], ["SIGHUP", onTerm]];
  for (const [sig, fn] of signals) Deno.addSignalListener(sig, fn);
  const ticker = setInterval(redraw, 1000);

  Deno.stdin.setRaw(true);
  screen.enter();
  try {
    client.start();
    draw();
    // Keys are read until quit; the pending read is abandoned when the process exits.
    (async () => {
      const buf = new Uint8Array(4096);
      const dec = new TextDecoder();
      let rest = "";
      for (;;) {
        const n = await Deno.stdin.read(buf);
        if (n === null) return stop(0);
        const parsed = parseKeys(rest + dec.decode(buf.subarray(0, n), { stream: true }));
        rest = parsed.rest;
        for (const k of parsed.keys) onKey(k);
      }
    })().catch((e) => {
      report(e);
      stop(1);
    });
    return await quit;
  } finally {
    clearInterval(ticker);
    for (const [sig, fn] of signals) Deno.removeSignalListener(sig, fn);
    const unsent = client.outbox();
    client.stop("quit");
    screen.leave();
    Deno.stdin.setRaw(false);
    if (unsent.length) {
      ctx.io.err(
        `parley: ${unsent.length} message${unsent.length === 1 ? " was" : "s were"} not sent ` +
          `(offline): ${unsent.map((m) => JSON.stringify(m.text)).join(", ")}`,
      );
    }
  }
}
