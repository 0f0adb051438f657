// deno-lint-ignore-file no-control-regex -- the tests look for control characters
import assert from "node:assert/strict";
import type { WireFriend } from "../../proto/protocol.ts";
import { width } from "../lib/width.ts";
import { friend as fixtureFriend } from "./_test_fixtures.ts";
import { cursorAt, render } from "./render.ts";
import { applyEvent } from "./events.ts";
import { insertText } from "./input.ts";
import { addMessage, addQueued, dueAcks } from "./messages.ts";
import { type ChatState, conversation, moveSelection, newState, setFriends } from "./state.ts";

const NOW = new Date(2026, 4, 5, 12, 30).getTime();
const ME = { id: 1, name: "alice", display_name: "Alice" };

/** Friends are offline here unless a test says otherwise. */
const friend = (id: number, name: string, extra: Partial<WireFriend> = {}) =>
  fixtureFriend(id, name, { online: false, ...extra });

function msg(id: number, from: number, to: number, text: string, minutesAgo = 5) {
  return { id, from, to, text, client_id: `c${id}`, sent_at: NOW - minutesAgo * 60_000 };
}

/** alice with bob (open, online) and carol (3 unread), a short conversation with bob. */
function sample(): ChatState {
  const s = newState(ME, NOW);
  s.conn = { kind: "connected", node: "chat-1" };
  setFriends(s, [
    friend(2, "bob", { online: true, user: { id: 2, name: "bob", display_name: "Bob Smith" } }),
    friend(3, "carol", { unread: 3, last_seen: NOW - 3_600_000 }),
  ]);
  addMessage(s, msg(10, 2, 1, "hello alice", 9));
  addMessage(s, msg(11, 1, 2, "hi bob", 8));
  addMessage(s, msg(12, 1, 2, "are you there?", 7));
  const c = conversation(s, 2);
  c.loaded = true;
  c.peer_delivered = 12;
  c.peer_read = 11;
  return s;
}

const SGR = /\x1b\[[0-9;]*m/g;
const plain = (lines: string[]) => lines.map((l) => l.replace(SGR, ""));

function assertGrid(lines: string[], cols: number, rows: number): void {
  assert.equal(lines.length, rows, `expected ${rows} lines`);
  for (const [i, l] of plain(lines).entries()) {
    assert.equal(
      width(l),
      cols,
      `line ${i} is ${width(l)} columns, not ${cols}: ${JSON.stringify(l)}`,
    );
  }
}

const find = (lines: string[], text: string) => lines.find((l) => l.includes(text));

Deno.test("render() fills an 80x24 terminal: friends, the open conversation, status and input", () => {
  const s = sample();
  const lines = render(s, { cols: 80, rows: 24 });
  assertGrid(lines, 80, 24);
  assert.match(lines[0], /Friends\s+│ bob \(Bob Smith\) · online/);
  assert.match(lines[1], /^›● bob\s+│/);
  assert.match(lines[2], /^ ○ carol\s+3│/);
  assert.ok(find(lines, "12:21 bob: hello alice"));
  assert.match(lines[22], /^ alice · ● connected/);
  assert.match(lines[23], /^> /);
  // Messages sit at the bottom of the conversation, right above the status line.
  assert.match(lines[21], /│ 12:23 you: are you there\? ✓\s*$/);
});

Deno.test("render() marks my messages ✓ when delivered and ✓✓ when read", () => {
  const s = sample();
  let lines = render(s, { cols: 80, rows: 24 });
  assert.match(find(lines, "hi bob")!, /hi bob ✓✓/);
  assert.match(find(lines, "are you there?")!, /are you there\? ✓(?!✓)/);
  assert.doesNotMatch(find(lines, "hello alice")!, /✓/);
  applyEvent(s, { type: "msg.status", peer: 2, delivered_id: 12, read_id: 12 });
  lines = render(s, { cols: 80, rows: 24 });
  assert.match(find(lines, "are you there?")!, /are you there\? ✓✓/);
});

Deno.test("render() shows a message typed offline as queued until the server stores it", () => {
  const s = sample();
  addQueued(s, { client_id: "q1", to: 2, text: "later", queued_at: NOW });
  s.queued = 1;
  s.conn = { kind: "waiting", retryAt: NOW + 4200, attempt: 2, reason: "lost" };
  let lines = render(s, { cols: 80, rows: 24 });
  assert.match(find(lines, "later")!, /later \[queued\]/);
  assert.match(lines[22], /reconnecting in 5s · 1 queued/);
  addMessage(s, { ...msg(13, 1, 2, "later", 0), client_id: "q1" });
  s.queued = 0;
  lines = render(s, { cols: 80, rows: 24 });
  assert.equal(lines.filter((l) => l.includes("later")).length, 1);
  assert.doesNotMatch(find(lines, "later")!, /queued/);
});

Deno.test("render() strips escape sequences and controls from names and messages", () => {
  const s = newState(ME, NOW);
  setFriends(s, [friend(2, "ev\x1b[2Jil\x07", { unread: 0 })]);
  addMessage(s, msg(10, 2, 1, "x\x1b]0;pwned title\x07y \x1b[31mred\x1b[0m \x9b2J z\r\nnext"));
  conversation(s, 2).loaded = true;
  for (const color of [false, true]) {
    const lines = render(s, { cols: 60, rows: 10, color });
    const text = plain(lines).join("\n");
    assert.doesNotMatch(text, /[\x00-\x09\x0b-\x1f\x7f-\x9f]/, "no control character survives");
    assert.ok(!text.includes("pwned"));
    assert.ok(text.includes("xy red  z"));
    assert.ok(text.includes("evil"));
    assertGrid(lines, 60, 10);
  }
});

Deno.test("render() keeps CJK and emoji whole and every line exactly as wide as the terminal", () => {
  const s = sample();
  setFriends(s, [
    friend(2, "bob", { online: true, user: { id: 2, name: "bob", display_name: "ボブ・スミス" } }),
    friend(3, "carol", { unread: 120 }),
  ]);
  addMessage(
    s,
    msg(20, 2, 1, "日本語のテキストはとても長いのでここで折り返す必要があります 👨‍👩‍👧👍🇯🇵", 1),
  );
  insertText(s, "入力中の日本語テキスト👍 and a long english tail that scrolls sideways");
  for (const [cols, rows] of [[80, 24], [61, 17], [50, 10], [49, 10], [40, 12], [23, 7], [12, 5]]) {
    for (const color of [false, true]) {
      const lines = render(s, { cols, rows, color });
      assertGrid(lines, cols, rows);
      const text = plain(lines).join("\n");
      assert.ok(!text.includes("\uFFFD"));
    }
  }
  const wide = plain(render(s, { cols: 80, rows: 24 })).join("\n");
  assert.ok(wide.includes("👨‍👩‍👧"), "a family emoji stays one grapheme");
  assert.ok(wide.includes("99+"), "large unread counts are capped");
});

Deno.test("render() at 40x12 hides the friend list and names the conversation in the header", () => {
  const s = sample();
  const lines = render(s, { cols: 40, rows: 12 });
  assertGrid(lines, 40, 12);
  assert.ok(!lines.some((l) => l.includes("│")), "no friend pane");
  assert.match(lines[0], /‹ bob \(Bob Smith\) › 1\/2 · online/);
  assert.match(lines[10], /3 unread/, "unread elsewhere shows in the status line");
  assert.ok(find(lines, "12:23 you: are you there? ✓"));
  moveSelection(s, 1);
  assert.match(render(s, { cols: 40, rows: 12 })[0], /‹ carol › 2\/2 · last seen 1 h ago/);
});

Deno.test("render() on a tiny terminal keeps the status and input lines", () => {
  const s = sample();
  assertGrid(render(s, { cols: 30, rows: 2 }), 30, 2);
  assertGrid(render(s, { cols: 30, rows: 3 }), 30, 3);
  assert.match(render(s, { cols: 30, rows: 2 })[1], /^> /);
  assert.deepEqual(render(s, { cols: 0, rows: 0 }), []);
});

Deno.test("a message in another conversation counts as unread and shows as a notice", () => {
  const s = sample();
  applyEvent(s, { type: "msg.new", message: msg(30, 3, 1, "psst", 0) });
  const carol = s.peers.find((p) => p.name === "carol")!;
  assert.equal(carol.unread, 4);
  const lines = render(s, { cols: 80, rows: 24 });
  assert.match(lines[2], /carol\s+4│/);
  assert.match(lines[21], /^ » carol: psst/, "a notice line above the status line");
  assert.match(lines[22], /unread: carol 4/, "the activity list in the status line");
  s.now += 10_000;
  const later = render(s, { cols: 80, rows: 24 });
  assert.ok(!find(later, "psst"), "the notice expires");
  assert.match(later[22], /unread: carol 4/, "lasting state stays");
});

Deno.test("dueAcks() acks reading of the open conversation only", () => {
  const s = sample();
  addMessage(s, msg(30, 3, 1, "psst", 0));
  assert.deepEqual(dueAcks(s), [{ peer: 2, read: 10 }]);
  assert.deepEqual(dueAcks(s), [], "nothing twice");
  moveSelection(s, 1);
  assert.deepEqual(dueAcks(s), [{ peer: 3, read: 30 }]);
  assert.equal(s.peers.find((p) => p.name === "carol")!.unread, 0);
});

Deno.test("render() scrolls back with the newest line replaced by a hint", () => {
  const s = sample();
  for (let i = 0; i < 40; i++) addMessage(s, msg(100 + i, 2, 1, `line ${i}`, 1));
  conversation(s, 2).scroll = 10;
  const lines = render(s, { cols: 80, rows: 24 });
  // 43 lines in all, 21 rows, 10 scrolled: lines 12-32 show, the last replaced by the hint.
  assert.ok(find(lines, "line 9"));
  assert.ok(find(lines, "line 28"));
  assert.ok(!find(lines, "line 29") && !find(lines, "line 39"));
  assert.match(lines[21], /newer messages below/);
});

Deno.test("cursorAt() puts the cursor after the typed text, counting wide characters twice", () => {
  const s = sample();
  insertText(s, "日本a");
  assert.deepEqual(cursorAt(s, { cols: 80, rows: 24 }), { row: 23, col: 7 });
  const long = sample();
  insertText(long, "x".repeat(200));
  const at = cursorAt(long, { cols: 40, rows: 12 });
  assert.ok(at.col < 40, "the input scrolls so the cursor stays on screen");
  assert.match(render(long, { cols: 40, rows: 12 })[11], /^> x+ $/);
});

Deno.test("render() tells the user why the session ended and how to reconnect", () => {
  const s = sample();
  s.conn = { kind: "stopped", code: "kicked", reason: "logged in elsewhere" };
  assert.match(render(s, { cols: 80, rows: 24 })[22], /logged in elsewhere — Ctrl-R reconnects/);
});
