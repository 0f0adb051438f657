/**
 * Issue 9, chaos: MySQL out for 10 s under traffic: the proxy between the
 * cluster and the (shared, untouched) MySQL server drops every connection
 * and refuses new ones, then lets them through again. See _chaos.ts and
 * _verdict.ts. Needs protocol 2.
 */
import { sleep } from "../testing/mod.ts";
import { chaosRound } from "./_chaos.ts";

Deno.test({
  name:
    "chaos, protocol 2: MySQL out for 10 s under traffic: every acked message is shown by its recipient's client within 5 s after it is back, none twice",
  async fn() {
    await chaosRound(async (rig) => {
      await rig.mysql.cut();
      rig.note("mysql cut");
      await sleep(10_000);
      await rig.mysql.restore();
      rig.note("mysql restored");
    });
  },
});
