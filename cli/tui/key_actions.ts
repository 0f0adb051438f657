/**
 * What each key does on the chat screen (the list users read is help.ts):
 * the help overlay first takes any key, then navigation between
 * conversations and scrolling, the input line's editing and history, and
 * the Ctrl keys. Enter sends the input, or runs it as a /command.
 */
import { runCommand } from "./commands.ts";
import type { ChatScreen } from "./controller.ts";
import { editInput, insertNewline, insertText, newerSent, olderSent, takeInput } from "./input.ts";
import type { Key } from "./keys.ts";
import { addQueued } from "./messages.ts";
import { maxScroll } from "./render.ts";
import { FINAL_KICKS } from "./render_status.ts";
import { conversation, moveSelection, notify } from "./state.ts";

const EDIT_KEYS = new Set(["backspace", "delete", "left", "right", "home", "end"]);

export function handleKey(app: ChatScreen, k: Key): void {
  const s = app.state;
  if (s.help) {
    // The overlay is read, then any key closes it.
    s.help = false;
  } else if (k.name === "f1" || (k.name === "text" && k.text === "?" && s.input === "")) {
    s.help = true;
  } else if (!navigate(app, k) && !edit(app, k)) ctrl(app, k);
  app.redraw();
}

/** Switching conversations and scrolling; false if `k` is none of those. */
function navigate(app: ChatScreen, k: Key): boolean {
  const s = app.state;
  const c = s.selected === null ? null : conversation(s, s.selected);
  const page = Math.max(1, app.size.rows - 5);
  const move = (delta: number) => {
    moveSelection(s, delta);
    app.openSelected();
  };
  switch (k.name) {
    case "up":
    case "backtab":
      move(-1);
      return true;
    case "down":
    case "tab":
      move(1);
      return true;
    case "pageup":
      if (c) {
        const top = maxScroll(s, app.renderSize);
        // At the top: fetch what is older; never scroll past what there is.
        if (c.scroll >= top && c.more) app.loadHistory(s.selected!, true).catch(app.report);
        c.scroll = Math.min(c.scroll + page, top);
      }
      return true;
    case "pagedown":
      if (c) c.scroll = Math.max(0, c.scroll - page);
      return true;
    case "escape":
      s.search = null;
      return true;
    case "ctrl":
      if (k.key === "n" || k.key === "p") move(k.key === "n" ? 1 : -1);
      return k.key === "n" || k.key === "p";
    default:
      return false;
  }
}

/** Typing, editing, history and Enter; false if `k` is none of those. */
function edit(app: ChatScreen, k: Key): boolean {
  const s = app.state;
  if (k.name === "text") {
    insertText(s, k.text);
    if (s.selected !== null && !s.input.startsWith("/") && Date.now() - app.typingSentAt > 3000) {
      app.typingSentAt = Date.now();
      app.client.typing(s.selected, true);
    }
  } else if (k.name === "enter") enter(app);
  else if (EDIT_KEYS.has(k.name)) editInput(s, k.name as Parameters<typeof editInput>[1]);
  else if (k.name === "ctrl-up" || (k.name === "alt" && k.key === "p")) olderSent(s);
  else if (k.name === "ctrl-down" || (k.name === "alt" && k.key === "n")) newerSent(s);
  else if (k.name === "alt" && k.key === "enter") insertNewline(s);
  else return false;
  return true;
}

function enter(app: ChatScreen): void {
  const s = app.state;
  const text = takeInput(s);
  if (text.trim() === "") return;
  if (text.startsWith("/")) {
    runCommand(app, text).catch(app.report).finally(app.redraw);
    return;
  }
  if (s.selected === null) {
    notify(s, "no conversation open — /add NAME to find a friend");
    return;
  }
  addQueued(s, app.client.send(s.selected, text));
  app.typingSentAt = 0;
  conversation(s, s.selected).scroll = 0;
}

function ctrl(app: ChatScreen, k: Key): void {
  if (k.name !== "ctrl") return;
  const s = app.state;
  switch (k.key) {
    case "c":
      return app.quit(0);
    case "d":
      if (s.input === "") return app.quit(0);
      return editInput(s, "delete");
    case "a":
      return editInput(s, "home");
    case "e":
      return editInput(s, "end");
    case "u":
      return editInput(s, "kill");
    case "w":
      return editInput(s, "word");
    case "l":
      return app.screen.invalidate();
    case "r": {
      const st = s.conn;
      // A revoked session cannot come back with the same token.
      if (st.kind === "stopped" && (FINAL_KICKS.has(st.reason) || st.code.startsWith("token"))) {
        return notify(s, "this session has ended — quit and run `parley login`");
      }
      return app.client.reconnectNow();
    }
  }
}
