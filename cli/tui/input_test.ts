import assert from "node:assert/strict";
import { editInput, insertNewline, insertText, newerSent, olderSent, takeInput } from "./input.ts";
import { newState } from "./state.ts";

const me = { id: 1, name: "alice", display_name: "" };

Deno.test("olderSent()/newerSent() walk the sent lines and come back to the draft", () => {
  const s = newState(me);
  for (const line of ["first", "second", "second", "third"]) {
    insertText(s, line);
    takeInput(s);
  }
  assert.deepEqual(s.sent, ["first", "second", "third"], "a repeated line is kept once");
  insertText(s, "half typed");
  olderSent(s);
  assert.equal(s.input, "third");
  assert.equal(s.cursor, 5, "the cursor goes to the end");
  olderSent(s);
  olderSent(s);
  olderSent(s);
  assert.equal(s.input, "first", "stops at the oldest");
  newerSent(s);
  assert.equal(s.input, "second");
  newerSent(s);
  newerSent(s);
  assert.equal(s.input, "half typed", "after the newest comes the draft");
  newerSent(s);
  assert.equal(s.input, "half typed");
});

Deno.test("insertNewline() makes a multi-line message; a paste keeps its line breaks", () => {
  const s = newState(me);
  insertText(s, "line one");
  insertNewline(s);
  insertText(s, "line two");
  assert.equal(s.input, "line one\nline two");
  editInput(s, "home");
  insertText(s, "pasted\nabove\x1b[2J ");
  assert.equal(s.input, "pasted\nabove line one\nline two", "controls are stripped");
  editInput(s, "end");
  editInput(s, "word");
  editInput(s, "word");
  assert.equal(s.input, "pasted\nabove line one\n", "Ctrl-W stops at a line break");
});
