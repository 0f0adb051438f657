// deno-lint-ignore-file no-control-regex -- the tests look for SGR sequences
/**
 * The chat screen's newer parts as render() draws them: the bottom anchor,
 * the scroll limit, the connection state before any friend list, the key
 * hint and help overlay, the "new messages" line, nick colours, the search
 * view, the multi-line input, NO_COLOR's reverse video and the wording
 * after a logout or an operator's kick.
 */
import assert from "node:assert/strict";
import { friend as fixtureFriend, msg as fixture, page } from "./_test_fixtures.ts";
import { insertNewline, insertText } from "./input.ts";
import { addHistory, addMessage, openConversation, search } from "./messages.ts";
import { cursorAt, maxScroll, render } from "./render.ts";
import { newState, setFriends } from "./state.ts";

const NOW = new Date(2026, 4, 5, 12, 30).getTime();
const ME = { id: 1, name: "alice", display_name: "" };
const SIZE = { cols: 80, rows: 24 };
const msg = (id: number, from: number, to: number, text: string) =>
  fixture(id, from, to, text, NOW - 60_000);

function withBob(unread = 0) {
  const s = newState(ME, NOW);
  s.conn = { kind: "connected", node: "n" };
  setFriends(s, [fixtureFriend(2, "bob", { unread }), fixtureFriend(3, "carol")]);
  return s;
}

Deno.test("render() anchors a one-message conversation to the bottom", () => {
  const s = withBob();
  addHistory(s, 2, page([msg(10, 2, 1, "only one")]), false);
  const lines = render(s, SIZE);
  assert.match(lines[21], /bob: only one/, "right above the status line");
  assert.ok(!lines.slice(1, 21).some((l) => l.includes("only one")));
});

Deno.test("maxScroll() stops PgUp at the first line of the conversation", () => {
  const s = withBob();
  addHistory(s, 2, page(Array.from({ length: 30 }, (_, i) => msg(10 + i, 2, 1, `n${i}`))), false);
  assert.equal(maxScroll(s, SIZE), 30 + 0 - 21, "30 lines, 21 rows");
  const short = withBob();
  addHistory(short, 2, page([msg(10, 2, 1, "hi")]), false);
  assert.equal(maxScroll(short, SIZE), 0, "nothing to scroll");
});

Deno.test("render() before the first friend list shows the connection, not 'no friends'", () => {
  const s = newState(ME, NOW);
  s.conn = {
    kind: "waiting",
    retryAt: NOW + 3000,
    attempt: 2,
    reason: "cannot reach the chat node",
  };
  const text = render(s, SIZE).join("\n");
  assert.doesNotMatch(text, /no friends yet|Add a friend/);
  assert.match(text, /Cannot reach the chat server\./);
  assert.match(text, /Trying again in 3s — Ctrl-R tries now/);
  s.conn = { kind: "connecting", attempt: 0 };
  assert.match(render(s, SIZE).join("\n"), /Connecting to the chat server…/);
  setFriends(s, []);
  assert.match(render(s, SIZE).join("\n"), /no friends yet/);
});

Deno.test("render() shows the key hint, and the help overlay lists every key", () => {
  const s = withBob();
  assert.match(render(s, SIZE)[22], /F1\/\? help $/);
  s.help = true;
  const text = render(s, SIZE).join("\n");
  for (const key of ["Alt-Enter", "Ctrl-Up/Ctrl-Down", "PgUp/PgDn", "Ctrl-R", "/search TEXT"]) {
    assert.ok(text.includes(key), key);
  }
});

Deno.test("render() draws a 'new messages' line where the unread messages begin", () => {
  const s = withBob(2);
  openConversation(s, 2);
  addHistory(
    s,
    2,
    page([msg(10, 2, 1, "seen"), msg(11, 2, 1, "unseen 1"), msg(12, 2, 1, "unseen 2")]),
    false,
  );
  const lines = render(s, SIZE);
  const at = lines.findIndex((l) => l.includes("new messages"));
  assert.ok(at > 0);
  assert.match(lines[at - 1], /bob: seen\s*$/);
  assert.match(lines[at + 1], /unseen 1/);
});

Deno.test("render() colours each friend's name, the same way every time", () => {
  const s = withBob();
  addMessage(s, msg(10, 2, 1, "hi"));
  const line = render(s, { ...SIZE, color: true }).find((l) => l.includes("hi"))!;
  assert.match(line, /\x1b\[0;1;3\dmbob/, "bob in a colour");
  assert.deepEqual(render(s, { ...SIZE, color: true }), render(s, { ...SIZE, color: true }));
});

Deno.test("render() under NO_COLOR keeps the status line's reverse video and drops colours", () => {
  const s = withBob();
  const lines = render(s, { ...SIZE, color: "mono" });
  assert.match(lines[22], /^\x1b\[0;7m/);
  assert.doesNotMatch(lines.join(""), /\x1b\[[0-9;]*3\dm/, "no colour codes");
});

Deno.test("render() lists search results instead of the conversation", () => {
  const s = withBob();
  addHistory(
    s,
    2,
    page([msg(10, 2, 1, "lunch?"), msg(11, 1, 2, "no"), msg(12, 2, 1, "Lunch!")]),
    false,
  );
  search(s, "lunch");
  const text = render(s, SIZE).join("\n");
  assert.match(text, /Search "lunch": 2 matches/);
  assert.ok(text.includes("lunch?") && text.includes("Lunch!") && !text.includes("you: no"));
});

Deno.test("render() grows the input area for a multi-line message and puts the cursor in it", () => {
  const s = withBob();
  insertText(s, "first line");
  insertNewline(s);
  insertText(s, "second");
  const lines = render(s, SIZE);
  assert.match(lines[22], /^> first line\s*$/);
  assert.match(lines[23], /^ {2}second\s*$/);
  assert.match(lines[21], /F1\/\? help $/, "the status line moved up");
  assert.deepEqual(cursorAt(s, SIZE), { row: 23, col: 8 });
});

Deno.test("render() after a logout says to log in again, after an operator's kick offers Ctrl-R", () => {
  const s = withBob();
  s.conn = { kind: "stopped", code: "kicked", reason: "logged out" };
  const out = render(s, SIZE)[22];
  assert.match(out, /logged out — quit and run `parley login`/);
  assert.doesNotMatch(out, /Ctrl-R/);
  s.conn = { kind: "stopped", code: "kicked", reason: "kicked by an operator: maintenance" };
  assert.match(render(s, SIZE)[22], /kicked by an operator: maintenance — Ctrl-R reconnects/);
});
