/**
 * Issue 9, chaos: the cluster's Redis (a private redis-server, never the
 * shared one) killed under traffic and started again 1 s later with its
 * data lost (presence, node registry, everything). See _chaos.ts and
 * _verdict.ts. Needs protocol 2.
 */
import { sleep } from "../testing/mod.ts";
import { chaosRound } from "./_chaos.ts";

Deno.test({
  name:
    "chaos, protocol 2: Redis restarted with its data lost under traffic: every acked message is shown by its recipient's client within 5 s, none twice",
  async fn() {
    await chaosRound(async (rig) => {
      await rig.redis.kill();
      rig.note("redis killed");
      await sleep(1000);
      await rig.redis.start();
      rig.note("redis runs again, empty");
    });
  },
});
