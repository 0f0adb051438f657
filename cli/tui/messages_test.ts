import assert from "node:assert/strict";
import { friend, msg } from "./_test_fixtures.ts";
import { addHistory, addMessage, dueAcks, openConversation, search } from "./messages.ts";
import { conversation, moveSelection, newState, setFriends } from "./state.ts";

Deno.test("openConversation() puts the new-messages line before the first unread message", () => {
  const s = newState({ id: 1, name: "alice", display_name: "" });
  setFriends(s, [friend(2, "bob", { unread: 2 }), friend(3, "carol")]);
  openConversation(s, 2);
  assert.equal(conversation(s, 2).new_from, null, "not before the history is there");
  addHistory(s, 2, {
    messages: [
      msg(10, 2, 1, "old"),
      msg(11, 1, 2, "mine"),
      msg(12, 2, 1, "new 1"),
      msg(13, 2, 1, "new 2"),
    ],
    more: false,
    peer_delivered_id: 0,
    peer_read_id: 0,
  }, false);
  assert.equal(conversation(s, 2).new_from, 12);
  dueAcks(s);
  assert.equal(s.peers[0].unread, 0, "read once shown");
  moveSelection(s, 1);
  assert.equal(conversation(s, 2).new_from, null, "leaving the conversation drops the line");
  moveSelection(s, 1);
  openConversation(s, 2);
  assert.equal(conversation(s, 2).new_from, null, "nothing unread: no line");
});

Deno.test("search() finds loaded messages of the open conversation, ignoring case", () => {
  const s = newState({ id: 1, name: "alice", display_name: "" });
  setFriends(s, [friend(2, "bob")]);
  for (const [id, text] of [[10, "Lunch at noon?"], [11, "no"], [12, "lunch it is"]] as const) {
    addMessage(s, msg(id, id === 11 ? 1 : 2, id === 11 ? 2 : 1, text));
  }
  search(s, "LUNCH");
  assert.deepEqual(s.search, { peer: 2, query: "LUNCH", hits: [10, 12] });
  search(s, "  ");
  assert.equal(s.search, null);
});
