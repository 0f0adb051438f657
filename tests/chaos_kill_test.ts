/**
 * Issue 9, chaos: a chat node SIGKILLed while its users and the other
 * node's users write to each other (messages stored but not yet pushed or
 * acked die with it), and started again at once on its ports, as a
 * supervisor would; three rounds, chat-1, chat-2, chat-1, each with sends
 * in flight on the node. See _chaos.ts for the rig and _verdict.ts for what
 * is checked. Needs protocol 2 (seq, head, msg.fetch).
 */
import { eventually, sleep } from "../testing/mod.ts";
import { chaosRound } from "./_chaos.ts";

Deno.test({
  name:
    "chaos, protocol 2: a chat node SIGKILLed under pipelined sends and restarted, three times: every acked message is shown by its recipient's client within 5 s, none twice",
  async fn() {
    await chaosRound(async (rig) => {
      for (const node of ["chat-1", "chat-2", "chat-1"]) {
        // Kill it with sends in flight: stored, perhaps not yet pushed or acked.
        const here = rig.users.filter((u) => u.client.node === node);
        await eventually(
          () => here.filter((u) => u.client.unacked >= 3).length >= Math.min(2, here.length),
          { intervalMs: 1, what: `sends in flight on ${node}` },
        );
        await sleep(Math.random() * 20);
        await rig.cluster.stop(node, "SIGKILL");
        rig.note(`${node} killed (${here.length} users on it)`);
        await rig.cluster.start(node);
        rig.ended(`${node} runs again`);
        await sleep(3000);
      }
    });
  },
});
