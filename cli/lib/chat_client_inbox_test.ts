/**
 * The terminal client's side of protocol 2 against a scripted chat node:
 * the chat screen's ChatClient names its device in `auth`, hands on each
 * inbox entry once, acks the seq it holds and fills a gap with msg.fetch;
 * a one-shot command's connection is a quiet session. The same against
 * the real chat role: tests/cli_devices_test.ts.
 */
import assert from "node:assert/strict";
import type { ServerEvent } from "../../proto/protocol.ts";
import { ChatClient } from "./chat_client.ts";
import { Context, type Output } from "./parley_context.ts";
import { saveSession } from "./session_file.ts";
import { freePort, scriptedNode, until } from "./_scripted_node.ts";

const ME = 1;
const BOB = 2;

function entry(seq: number, mine = false) {
  return {
    id: 100 + seq,
    from: mine ? ME : BOB,
    to: mine ? BOB : ME,
    text: `m${seq}`,
    client_id: `c${seq}`,
    sent_at: seq,
    seq,
  };
}

const v2 = { protocol: 2, head: 2, cursor: 2, device: { id: "dev-1", label: "laptop" } };

Deno.test("ChatClient names its device, hands on each entry once, acks H and fills a gap", async () => {
  const port = await freePort();
  const auths: Record<string, unknown>[] = [];
  const acks: number[] = [];
  const fetches: number[] = [];
  let node: WebSocket | null = null;
  const push = (frame: unknown) => node!.send(JSON.stringify(frame));
  const server = scriptedNode(
    port,
    (f, ws) => {
      if (f.type === "msg.ack") acks.push(f.seq as number);
      if (f.type !== "msg.fetch") return;
      const after = f.after as number;
      fetches.push(after);
      const head = after < 6 ? 6 : 7;
      const messages = [];
      for (let s = after + 1; s <= head; s++) messages.push(entry(s));
      ws.send(JSON.stringify({ type: "result", id: f.id, data: { messages, head } }));
    },
    "n1",
    {
      welcome: v2,
      onAuth: (f, ws) => {
        auths.push(f);
        node = ws;
      },
    },
  );
  const seen: string[] = [];
  const client = new ChatClient({
    url: `ws://127.0.0.1:${port}/ws`,
    token: "t",
    device: { id: "dev-1", label: "laptop" },
    onEvent: (e: ServerEvent) => {
      if (e.type === "msg.new") seen.push(`new ${e.message.seq}`);
      if (e.type === "msg.sync") seen.push(`sync ${e.messages.map((m) => m.seq).join(",")}`);
    },
  });
  try {
    client.start();
    await until(() => client.state.kind === "connected");
    assert.deepEqual(auths, [{ type: "auth", token: "t", device: "dev-1", label: "laptop" }]);

    // The sync: bob's entry and mine from another device; acked at its end.
    push({ type: "msg.sync", messages: [entry(2), entry(3), entry(4, true)], done: true });
    await until(() => acks.length === 1);
    assert.deepEqual(seen, ["sync 3,4"], "seq 2 is at the cursor: held already");
    assert.deepEqual(acks, [4]);

    // The same entry again is dropped; a jump waits, then is fetched after H.
    push({ type: "msg.new", message: entry(4, true) });
    push({ type: "msg.new", message: entry(6) });
    await until(() => acks.length === 2);
    assert.deepEqual(fetches, [4]);
    assert.deepEqual(seen, ["sync 3,4", "new 6", "new 5"], "5 from the fetch, 6 not twice");
    assert.deepEqual(acks, [4, 6], "never beyond the gap");

    // A pong's head beyond H: the lost last message is fetched.
    push({ type: "pong", time: 1, head: 7 });
    await until(() => acks.length === 3);
    assert.deepEqual(fetches, [4, 6]);
    assert.deepEqual(seen.at(-1), "new 7");
    assert.deepEqual(acks, [4, 6, 7]);
  } finally {
    client.stop();
    await server.shutdown();
  }
});

Deno.test("a one-shot command's connection is a quiet session, without a device", async () => {
  const port = await freePort();
  const auths: Record<string, unknown>[] = [];
  const server = scriptedNode(port, () => {}, "n1", {
    welcome: { protocol: 2, head: 0, cursor: null, device: null, quiet: true },
    onAuth: (f) => auths.push(f),
  });
  const dir = await Deno.makeTempDir();
  const io: Output = {
    out() {},
    err() {},
    stdoutIsTerminal: false,
    stdinIsTerminal: false,
  };
  try {
    await saveSession(dir, {
      server: "http://127.0.0.1:1",
      token: "tok",
      expires_at: Date.now() + 60_000,
      chat_url: `ws://127.0.0.1:${port}/ws`,
      user: { id: ME, name: "me", display_name: "", email: "me@x", bio: "", created_at: 1 },
    });
    const ctx = new Context({ PARLEY_CONFIG_DIR: dir }, { json: false }, io);
    const conn = await ctx.connect();
    conn.close();
    assert.deepEqual(auths, [{ type: "auth", token: "tok", quiet: true }]);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
