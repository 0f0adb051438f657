import assert from "node:assert/strict";
import { CliError } from "../lib/parley_context.ts";
import { AppError } from "../../proto/errors.ts";
import { describeError } from "./controller.ts";
import { Screen } from "./screen.ts";

Deno.test("Screen turns autowrap off while it is up and erases each row it redraws", () => {
  const out: string[] = [];
  const screen = new Screen((t) => out.push(t));
  screen.enter();
  assert.ok(out[0].includes("\x1b[?7l"), "autowrap off");
  screen.draw(["row one", "row two"], { row: 1, col: 0 });
  assert.ok(out[1].includes("\x1b[1;1H\x1b[2Krow one"));
  screen.draw(["row one", "row 2"], { row: 1, col: 0 });
  assert.ok(!out[2].includes("row one"), "only changed rows are written");
  assert.ok(out[2].includes("\x1b[2;1H\x1b[2Krow 2"));
  screen.leave();
  assert.ok(out[3].includes("\x1b[?7h"), "autowrap back on");
});

Deno.test("describeError() shows a client error's message, not its class", () => {
  assert.equal(describeError(new CliError("no user named nobody")), "no user named nobody");
  assert.equal(
    describeError(new AppError("rate_limited", "slow down", 429)),
    "slow down (rate_limited)",
  );
});
