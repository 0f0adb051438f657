/**
 * The README's terminal section shows the chat screen and its keys; these
 * tests hold it to what the code draws and knows: the screenshot is
 * render()'s output for the sample state below, and the key table lists
 * every key and command of the help overlay (help.ts).
 */
import assert from "node:assert/strict";
import { COMMANDS, KEYS } from "./help.ts";
import { insertText } from "./input.ts";
import { addHistory, dueAcks, openConversation } from "./messages.ts";
import { render } from "./render.ts";
import { newState, setFriends } from "./state.ts";

const README = await Deno.readTextFile(new URL("../../README.md", import.meta.url));

/** The fenced block after `<!-- name -->` in the README. */
function block(name: string): string {
  const at = README.indexOf(`<!-- ${name} -->`);
  assert.ok(at >= 0, `README has no <!-- ${name} --> block`);
  const m = /```[a-z]*\n([\s\S]*?)\n```/.exec(README.slice(at));
  return m![1];
}

/** alice on a weekday at 12:30, talking with bob; carol wrote twice; dave was here at 9. */
export function sampleScreen(): string[] {
  const at = (h: number, m: number) => new Date(2026, 4, 5, h, m).getTime();
  const s = newState({ id: 1, name: "alice", display_name: "Alice" }, at(12, 30));
  s.conn = { kind: "connected", node: "chat-1" };
  const f = (id: number, name: string, more: object) => ({
    user: { id, name, display_name: "" },
    online: true,
    last_seen: null,
    since: 0,
    unread: 0,
    ...more,
  });
  setFriends(s, [
    f(2, "bob", { user: { id: 2, name: "bob", display_name: "Bob Smith" }, unread: 1 }),
    f(3, "carol", { unread: 2 }),
    f(4, "dave", { online: false, last_seen: at(9, 12) }),
  ]);
  openConversation(s, 2);
  const m = (id: number, from: number, text: string, h: number, min: number) => ({
    id,
    from,
    to: from === 1 ? 2 : 1,
    text,
    client_id: `c${id}`,
    sent_at: at(h, min),
  });
  addHistory(s, 2, {
    messages: [
      m(10, 2, "are we still on for climbing tonight?", 12, 1),
      m(11, 1, "yes! 7pm at the usual wall", 12, 2),
      m(12, 1, "bringing the new rope 🧗", 12, 3),
      m(13, 2, "great, see you there", 12, 4),
    ],
    more: false,
    peer_delivered_id: 12,
    peer_read_id: 11,
  }, false);
  dueAcks(s);
  insertText(s, "sounds good");
  return render(s, { cols: 80, rows: 12 }).map((l) => l.trimEnd());
}

Deno.test("the README's screenshot of the chat screen is what render() draws", () => {
  assert.equal(block("screen"), sampleScreen().join("\n"));
});

Deno.test("the README's key table lists every key and command of the help overlay", () => {
  const table = block("keys");
  for (const [key, what] of [...KEYS, ...COMMANDS]) {
    assert.ok(table.includes(`${key.padEnd(28)}  ${what}`), `${key}: ${what}`);
  }
});

if (import.meta.main) console.log(sampleScreen().join("\n"));
