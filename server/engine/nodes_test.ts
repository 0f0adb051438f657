import assert from "node:assert/strict";
import { leastLoaded, type NodeRecord } from "./nodes.ts";

function node(name: string, sessions: number, state: "up" | "draining" = "up"): NodeRecord {
  return {
    name,
    wsUrl: `ws://127.0.0.1:1/${name}`,
    grpcAddr: "127.0.0.1:2",
    sessions,
    startedAt: 1,
    state,
    heartbeatAt: 1,
  };
}

Deno.test("leastLoaded() picks the up node with the fewest sessions, skipping draining ones", () => {
  const nodes = [node("busy", 50), node("quiet", 10), node("draining", 0, "draining")];
  assert.equal(leastLoaded(nodes)?.name, "quiet");
  assert.equal(leastLoaded(nodes, { exclude: "quiet" })?.name, "busy");
});

Deno.test("leastLoaded() counts the extra load it is told about (logins handed out)", () => {
  const nodes = [node("a", 10), node("b", 12)];
  assert.equal(leastLoaded(nodes, { extra: (n) => (n === "a" ? 3 : 0) })?.name, "b");
});

Deno.test("leastLoaded() breaks ties by name in any order and is null when no node takes logins", () => {
  assert.equal(leastLoaded([node("n2", 4), node("n1", 4)])?.name, "n1");
  assert.equal(leastLoaded([node("n1", 4), node("n2", 4)])?.name, "n1");
  assert.equal(leastLoaded([]), null);
  assert.equal(leastLoaded([node("x", 0, "draining")]), null);
});
