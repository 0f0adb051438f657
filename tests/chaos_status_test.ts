/**
 * Issue 9, chaos: the status role stopped for 25 s (longer than the 15 s
 * node TTL) under traffic across the nodes, then started again. See
 * _chaos.ts and _verdict.ts. Needs protocol 2.
 */
import { sleep } from "../testing/mod.ts";
import { chaosRound } from "./_chaos.ts";

Deno.test({
  name:
    "chaos, protocol 2: the status role stopped for 25 s under traffic: every acked message is shown by its recipient's client within 5 s after it is back, none twice",
  async fn() {
    await chaosRound(async (rig) => {
      await rig.cluster.stop("status");
      rig.note("status stopped");
      await sleep(25_000);
      await rig.cluster.start("status");
      rig.note("status runs again");
    });
  },
});
