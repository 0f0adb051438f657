import assert from "node:assert/strict";
import { friend, msg } from "./_test_fixtures.ts";
import { applyEvent } from "./events.ts";
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

Deno.test("a message I sent from another device shows in its conversation, without a notice", () => {
  const s = newState({ id: 1, name: "alice", display_name: "" });
  setFriends(s, [friend(2, "bob"), friend(3, "carol")]);
  assert.equal(s.selected, 2);
  applyEvent(s, { type: "msg.new", message: { ...msg(40, 1, 3, "from my phone"), seq: 9 } });
  const line = conversation(s, 3).messages.at(-1)!;
  assert.deepEqual([line.id, line.from, line.text], [40, 1, "from my phone"]);
  assert.equal(conversation(s, 2).messages.length, 0, "not in the open conversation");
  assert.equal(s.peers.find((p) => p.id === 3)!.unread, 0, "my own message is not unread");
  assert.deepEqual(s.notices, [], "nothing to announce");
  applyEvent(s, {
    type: "msg.sync",
    messages: [{ ...msg(41, 1, 2, "synced"), seq: 10 }],
    done: true,
  });
  assert.equal(conversation(s, 2).messages.at(-1)!.text, "synced");
});

Deno.test("msg.read from another device clears the unread count and the receipt to send", () => {
  const s = newState({ id: 1, name: "alice", display_name: "" });
  setFriends(s, [friend(2, "bob"), friend(3, "carol", { unread: 5 })]);
  for (const id of [50, 51, 52]) applyEvent(s, { type: "msg.new", message: msg(id, 3, 1, "hi") });
  const carol = s.peers.find((p) => p.id === 3)!;
  assert.equal(carol.unread, 8);
  applyEvent(s, { type: "msg.read", peer: 3, read_id: 51 });
  assert.equal(carol.unread, 1, "only 52 is newer than what was read");
  applyEvent(s, { type: "msg.read", peer: 3, read_id: 52 });
  assert.equal(carol.unread, 0, "read everywhere");
  moveSelection(s, 1);
  assert.deepEqual(dueAcks(s), [], "read elsewhere: nothing to ack here");
  applyEvent(s, { type: "msg.new", message: msg(53, 3, 1, "more") });
  assert.deepEqual(dueAcks(s), [{ peer: 3, read: 53 }]);
  setFriends(s, [friend(2, "bob", { unread: 3 }), friend(3, "carol")]);
  applyEvent(s, { type: "msg.read", peer: 2, read_id: 7 });
  assert.equal(s.peers.find((p) => p.id === 2)!.unread, 0, "none loaded: none left unread");
});
