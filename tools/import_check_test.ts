/** Tests of the import-graph check (import_check.ts) on small graphs made by hand. */
import assert from "node:assert/strict";
import { cycles, type Graph, graphOf, violations } from "./import_check.ts";

const graph = (edges: Record<string, string[]>): Graph =>
  new Map(Object.entries(edges).map(([k, v]) => [k, new Set(v)]));

Deno.test("cycles() finds every cycle, of two modules, of three, and a self-import", () => {
  const g = graph({
    "a.ts": ["b.ts"],
    "b.ts": ["a.ts", "c.ts"],
    "c.ts": ["d.ts"],
    "d.ts": ["e.ts"],
    "e.ts": ["c.ts"],
    "f.ts": ["f.ts"],
    "g.ts": ["a.ts", "c.ts"],
  });
  assert.deepEqual(cycles(g), [["a.ts", "b.ts"], ["c.ts", "d.ts", "e.ts"], ["f.ts"]]);
});

Deno.test("cycles() finds none in a graph that only fans in and out", () => {
  const g = graph({ "a.ts": ["b.ts", "c.ts"], "b.ts": ["c.ts"], "c.ts": [], "d.ts": ["a.ts"] });
  assert.deepEqual(cycles(g), []);
});

Deno.test("violations() names imports across the layering rules", () => {
  const g = graph({
    "server/a.ts": ["tests/kit.ts", "proto/x.ts", "testing/mod.ts"],
    "cli/b.ts": ["server/config.ts", "proto/x.ts"],
    "proto/x.ts": ["cli/c.ts"],
    "main.ts": ["tests/kit.ts", "server/a.ts"],
    "tests/t.ts": ["tests/kit.ts", "server/a.ts"],
  });
  assert.deepEqual(violations(g).map((v) => v.split(":")[0]), [
    "cli/b.ts imports server/config.ts",
    "main.ts imports tests/kit.ts",
    "proto/x.ts imports cli/c.ts",
    "server/a.ts imports tests/kit.ts",
  ]);
});

Deno.test("graphOf() keeps local modules and both code and type imports", () => {
  const root = "/repo";
  const g = graphOf({
    modules: [
      {
        specifier: "file:///repo/a.ts",
        dependencies: [
          { code: { specifier: "file:///repo/b.ts" } },
          { type: { specifier: "file:///repo/c.ts" } },
          { code: { specifier: "npm:zod@4" } },
          { code: { specifier: "file:///elsewhere/d.ts" } },
        ],
      },
      { specifier: "npm:zod@4" },
    ],
  }, root);
  assert.deepEqual([...g.keys()], ["a.ts"]);
  assert.deepEqual([...g.get("a.ts")!].sort(), ["b.ts", "c.ts"]);
});
