/** Tests of the size rules (size_lint.ts), run through Deno.lint.runPlugin. */
import assert from "node:assert/strict";
import plugin, { MAX_FILE_LINES, MAX_FUNCTION_LINES } from "./size_lint.ts";

/** A function `name` whose head-to-brace span is `lines` lines. */
function fn(name: string, lines: number): string {
  return [`export function ${name}() {`, ...Array(lines - 2).fill("  void 0;"), "}"].join("\n");
}

function run(file: string, source: string): string[] {
  return Deno.lint.runPlugin(plugin, file, source).map((d) => `${d.id}: ${d.message}`);
}

Deno.test("function-size: 100 lines pass, 101 are reported by name", () => {
  assert.deepEqual(run("/r/server/a.ts", fn("ok", MAX_FUNCTION_LINES)), []);
  assert.deepEqual(run("/r/server/a.ts", fn("big", MAX_FUNCTION_LINES + 1)), [
    "parley/function-size: function big has 101 lines (at most 100)",
  ]);
});

Deno.test("function-size: methods and arrow functions count from their head", () => {
  const body = Array(MAX_FUNCTION_LINES).fill("    void 0;").join("\n");
  const source = [
    "export class C {",
    "  method() {",
    body,
    "  }",
    "}",
    "export const arrow = () => {",
    body,
    "};",
  ].join("\n");
  assert.deepEqual(run("/r/server/a.ts", source), [
    "parley/function-size: function method has 102 lines (at most 100)",
    "parley/function-size: function arrow has 102 lines (at most 100)",
  ]);
});

Deno.test("file-size: 400 lines pass, 401 are reported", () => {
  const lines = (n: number) => Array(n).fill("void 0;").join("\n") + "\n";
  assert.deepEqual(run("/r/proto/a.ts", lines(MAX_FILE_LINES)), []);
  assert.deepEqual(run("/r/proto/a.ts", lines(MAX_FILE_LINES + 1)), [
    "parley/file-size: file has 401 lines (at most 400): split it",
  ]);
});

Deno.test("tests are not held to the size rules", () => {
  const big = fn("big", 500);
  assert.deepEqual(run("/r/server/a_test.ts", big), []);
  assert.deepEqual(run("/r/tests/cluster.ts", big), []);
  assert.equal(run("/r/testing/kit.ts", big).length, 2);
});
