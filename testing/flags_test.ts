import assert from "node:assert/strict";
import { integerFlag } from "./flags.ts";

Deno.test("integerFlag() takes a whole number at or above its minimum and refuses anything else by name", () => {
  assert.equal(integerFlag("pairs", "400", 1), 400);
  assert.equal(integerFlag("pairs", "1", 1), 1);
  assert.equal(integerFlag("pairs", undefined, 1), undefined);
  for (const bad of ["0", "-3", "2.5", "x", ""]) {
    assert.throws(() => integerFlag("pairs", bad, 1), /^Error: --pairs: expected an integer ≥ 1/);
  }
});
