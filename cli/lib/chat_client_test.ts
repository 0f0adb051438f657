/**
 * ChatClient's reconnect and outbox rules, against a small scripted
 * WebSocket server on a real socket: the cases here (a reply lost with the
 * connection, a server that is not up yet) are the ones a real chat node
 * cannot be made to produce on demand. The client against the real chat
 * role is covered by tests/cli_tty_test.ts.
 */
import assert from "node:assert/strict";
import { AppError } from "../../proto/errors.ts";
import { ChatClient, type ConnState } from "./chat_client.ts";
import { freePort, scriptedNode, until } from "./_scripted_node.ts";

Deno.test("ChatClient sends what was queued before the server was up, once it is", async () => {
  const port = await freePort();
  const states: ConnState["kind"][] = [];
  const sent: string[] = [];
  const client = new ChatClient({
    url: `ws://127.0.0.1:${port}/ws`,
    token: "t",
    backoff: { minMs: 20, maxMs: 50 },
    onState: (s) => states.push(s.kind),
    onSent: (item) => sent.push(item.text),
  });
  client.start();
  const item = client.send(2, "typed offline");
  await until(() => states.includes("waiting"));
  assert.equal(client.outbox().length, 1);
  const seen: string[] = [];
  const server = scriptedNode(port, (f, ws) => {
    if (f.type !== "msg.send") return;
    seen.push(f.client_id as string);
    const message = { id: 7, from: 1, to: 2, text: f.text, client_id: f.client_id, sent_at: 1 };
    ws.send(JSON.stringify({ type: "result", id: f.id, data: { message, duplicate: false } }));
  });
  try {
    await until(() => sent.length === 1);
    assert.deepEqual(seen, [item.client_id]);
    assert.deepEqual(client.outbox(), []);
    assert.equal(client.state.kind, "connected");
  } finally {
    client.stop();
    await server.shutdown();
  }
});

Deno.test("ChatClient resends a message whose reply was lost, with the same client_id", async () => {
  const port = await freePort();
  const seen: string[] = [];
  const server = scriptedNode(port, (f, ws) => {
    if (f.type !== "msg.send") return;
    seen.push(f.client_id as string);
    // The first try is "stored" but the connection drops before the reply.
    if (seen.length === 1) return ws.close(1011, "crash");
    const message = { id: 9, from: 1, to: 2, text: f.text, client_id: f.client_id, sent_at: 1 };
    ws.send(JSON.stringify({ type: "result", id: f.id, data: { message, duplicate: true } }));
  });
  const sent: number[] = [];
  const client = new ChatClient({
    url: `ws://127.0.0.1:${port}/ws`,
    token: "t",
    backoff: { minMs: 20, maxMs: 50 },
    onSent: (_item, m) => sent.push(m.id),
  });
  try {
    client.start();
    await until(() => client.state.kind === "connected");
    const item = client.send(2, "once");
    await until(() => sent.length === 1);
    assert.deepEqual(seen, [item.client_id, item.client_id]);
    assert.deepEqual(sent, [9]);
  } finally {
    client.stop();
    await server.shutdown();
  }
});

Deno.test("ChatClient stops for good after a kick or a refused token", async () => {
  const port = await freePort();
  const server = scriptedNode(port, (f, ws) => {
    if (f.type === "ping") {
      ws.send(JSON.stringify({ type: "kicked", reason: "logged in elsewhere" }));
      ws.close(4003, "kicked");
    }
  });
  try {
    const kicked = new ChatClient({ url: `ws://127.0.0.1:${port}/ws`, token: "t" });
    kicked.start();
    await until(() => kicked.state.kind === "connected");
    kicked.connection!.send({ type: "ping" });
    await until(() => kicked.state.kind === "stopped");
    assert.equal((kicked.state as { code: string }).code, "kicked");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(kicked.state.kind, "stopped", "no automatic reconnect");
    kicked.stop();

    const refused = new ChatClient({ url: `ws://127.0.0.1:${port}/ws`, token: "bad" });
    refused.start();
    await until(() => refused.state.kind === "stopped");
    assert.equal((refused.state as { code: string }).code, "token_revoked");
    refused.stop();
  } finally {
    await server.shutdown();
  }
});

Deno.test("ChatClient coalesces receipts per friend and sends only what moved forward", async () => {
  const port = await freePort();
  const acks: unknown[] = [];
  const server = scriptedNode(port, (f) => {
    if (f.type === "msg.ack") acks.push(f);
  });
  const client = new ChatClient({ url: `ws://127.0.0.1:${port}/ws`, token: "t" });
  try {
    client.start();
    await until(() => client.state.kind === "connected");
    client.ack(2, { delivered: 5 });
    client.ack(2, { delivered: 7, read: 6 });
    client.ack(3, { read: 4 });
    await until(() => acks.length === 2);
    client.ack(2, { delivered: 6 });
    await new Promise((r) => setTimeout(r, 120));
    assert.deepEqual(acks, [
      { type: "msg.ack", peer: 2, delivered: 7, read: 6 },
      { type: "msg.ack", peer: 3, delivered: 4, read: 4 },
    ]);
  } finally {
    client.stop();
    await server.shutdown();
  }
});

/** A findNode() that answers from `answers` in turn (a string, or an error to throw) and counts calls. */
function gateStandIn(...answers: (string | AppError)[]) {
  const calls: number[] = [];
  return {
    calls,
    findNode(): Promise<string> {
      calls.push(Date.now());
      const a = answers[Math.min(calls.length, answers.length) - 1];
      return a instanceof AppError ? Promise.reject(a) : Promise.resolve(a);
    },
  };
}

Deno.test("ChatClient asks the gate for another node when the known one refuses connections", async () => {
  const [deadPort, livePort] = [await freePort(), await freePort()];
  const server = scriptedNode(livePort, () => {}, "n2");
  const live = `ws://127.0.0.1:${livePort}/ws`;
  const gate = gateStandIn(live);
  const moved: string[] = [];
  const client = new ChatClient({
    url: `ws://127.0.0.1:${deadPort}/ws`,
    token: "t",
    backoff: { minMs: 20, maxMs: 50 },
    findNode: gate.findNode,
    onUrlChange: (url) => moved.push(url),
  });
  try {
    client.start();
    await until(() => client.state.kind === "connected");
    assert.deepEqual(client.state, { kind: "connected", node: "n2" });
    assert.equal(gate.calls.length, 1, "the gate is asked once the known node failed");
    assert.deepEqual(moved, [live], "the new URL is reported, to be saved in the session");
  } finally {
    client.stop();
    await server.shutdown();
  }
});

/** A TCP listener standing for an attacker's host: counts the connections made to it. */
function attackerListener() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let dialled = 0;
  (async () => {
    for await (const conn of listener) {
      dialled++;
      conn.close();
    }
  })().catch(() => {});
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    dialled: () => dialled,
    close: () => listener.close(),
  };
}

const drainTo = (next: string | null) => (f: Record<string, unknown>, ws: WebSocket) => {
  if (f.type !== "ping") return;
  ws.send(JSON.stringify({ type: "reconnect", reason: "draining", chat_url: next }));
  ws.close(1012, "node draining");
};

Deno.test("ChatClient never dials a reconnect frame's chat_url that the gate did not hand out", async () => {
  const [p1, p2] = [await freePort(), await freePort()];
  const attacker = attackerListener();
  // n1 (the node the gate gave at login) sends a forged reconnect to the attacker.
  const servers = [scriptedNode(p1, drainTo(attacker.url), "n1"), scriptedNode(p2, () => {}, "n2")];
  const n2 = `ws://127.0.0.1:${p2}/ws`;
  const gate = gateStandIn(n2);
  const moved: string[] = [];
  const client = new ChatClient({
    url: `ws://127.0.0.1:${p1}/ws`,
    token: "t",
    findNode: gate.findNode,
    onUrlChange: (url) => moved.push(url),
  });
  try {
    client.start();
    await until(() => client.state.kind === "connected");
    client.connection!.send({ type: "ping" });
    await until(() => client.state.kind === "connected" && client.state.node === "n2");
    assert.equal(gate.calls.length, 1, "the gate named the next node");
    assert.deepEqual(moved, [n2]);
    assert.equal(attacker.dialled(), 0, "the forged URL was never dialled");
  } finally {
    client.stop();
    attacker.close();
    await Promise.all(servers.map((s) => s.shutdown()));
  }
});

Deno.test("ChatClient asks the gate when a node drains, and takes a drain's URL only if the gate named it", async () => {
  const [p1, p2] = [await freePort(), await freePort()];
  const urls = [p1, p2].map((p) => `ws://127.0.0.1:${p}/ws`);
  // n1 drains naming nobody (the gate then names n2); n2 drains naming n1, which the gate gave.
  let n1Drained = false;
  const servers = [
    scriptedNode(p1, (f, ws) => {
      if (n1Drained) return;
      n1Drained = f.type === "ping";
      drainTo(null)(f, ws);
    }, "n1"),
    scriptedNode(p2, drainTo(urls[0]), "n2"),
  ];
  const gate = gateStandIn(urls[1]);
  const moved: string[] = [];
  const client = new ChatClient({
    url: urls[0],
    token: "t",
    findNode: gate.findNode,
    onUrlChange: (url) => moved.push(url),
  });
  const nodeIs = (name: string) => () =>
    client.state.kind === "connected" && client.state.node === name;
  try {
    client.start();
    await until(nodeIs("n1"));
    client.connection!.send({ type: "ping" });
    await until(nodeIs("n2"));
    assert.equal(gate.calls.length, 1);
    client.connection!.send({ type: "ping" });
    await until(nodeIs("n1"));
    assert.equal(gate.calls.length, 1, "a drain naming a node the gate gave needs no gate");
    assert.deepEqual(moved, [urls[1], urls[0]]);
  } finally {
    client.stop();
    await Promise.all(servers.map((s) => s.shutdown()));
  }
});

Deno.test("ChatClient stops when the gate refuses the token, and never asks it after a kick", async () => {
  const deadPort = await freePort();
  const refused = gateStandIn(new AppError("token_revoked", "the session token was revoked", 401));
  const states: ConnState[] = [];
  const client = new ChatClient({
    url: `ws://127.0.0.1:${deadPort}/ws`,
    token: "t",
    backoff: { minMs: 20, maxMs: 50 },
    findNode: refused.findNode,
    onState: (st) => states.push(st),
  });
  client.start();
  await until(() => client.state.kind === "stopped");
  assert.equal((client.state as { code: string }).code, "token_revoked");
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(refused.calls.length, 1, "no retry after the gate refused the token");
  assert.equal(states.filter((st) => st.kind === "connecting").length, 2);
  client.stop();

  const port = await freePort();
  const server = scriptedNode(port, (f, ws) => {
    if (f.type !== "ping") return;
    ws.send(JSON.stringify({ type: "kicked", reason: "logged in elsewhere" }));
    ws.close(4003, "kicked");
  });
  const unused = gateStandIn(`ws://127.0.0.1:${deadPort}/ws`);
  const kicked = new ChatClient({
    url: `ws://127.0.0.1:${port}/ws`,
    token: "t",
    findNode: unused.findNode,
  });
  try {
    kicked.start();
    await until(() => kicked.state.kind === "connected");
    kicked.connection!.send({ type: "ping" });
    await until(() => kicked.state.kind === "stopped");
    await new Promise((r) => setTimeout(r, 150));
    assert.equal((kicked.state as { code: string }).code, "kicked");
    assert.equal(unused.calls.length, 0);
  } finally {
    kicked.stop();
    await server.shutdown();
  }
});

Deno.test("ChatClient reconnects to the same node after a lost connection, and tries it again when the gate is down", async () => {
  const port = await freePort();
  const url = `ws://127.0.0.1:${port}/ws`;
  let welcomes = 0;
  const onFrame = (f: Record<string, unknown>, ws: WebSocket) => {
    if (f.type === "ping") ws.close(1011, "crash");
  };
  let server = scriptedNode(port, onFrame);
  const gate = gateStandIn(new AppError("gate_unreachable", "cannot reach the gate", 503));
  const client = new ChatClient({
    url,
    token: "t",
    backoff: { minMs: 20, maxMs: 50 },
    findNode: gate.findNode,
    onWelcome: () => welcomes++,
  });
  try {
    client.start();
    await until(() => client.state.kind === "connected");
    // A lost connection: the same node is tried first, without the gate.
    client.connection!.send({ type: "ping" });
    await until(() => client.state.kind !== "connected");
    await until(() => client.state.kind === "connected");
    assert.equal(gate.calls.length, 0);
    // The node goes away: the gate is asked, cannot answer, and the node is tried again.
    await server.shutdown();
    client.connection!.close(1006, "network lost");
    await until(() => gate.calls.length >= 1);
    assert.notEqual(client.state.kind, "stopped");
    server = scriptedNode(port, onFrame);
    await until(() => client.state.kind === "connected");
    assert.equal(welcomes, 3, "the same node three times: first, after the loss, once back");
  } finally {
    client.stop();
    await server.shutdown();
  }
});
