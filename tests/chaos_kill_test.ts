/**
 * Issue 9, chaos: a chat node SIGKILLed while its users and the other
 * node's users write to each other (messages stored but not yet pushed or
 * acked die with it), then started again on its ports: three rounds, each
 * with sends in flight on the node. chat-1, then chat-2 are restarted at
 * once, as a supervisor would (their users come back to a fresh node while
 * the other node's users write to them), then chat-1 stays down 3 s (its
 * users move to chat-2 through the gate, and chat-2's users write to them
 * meanwhile). See _chaos.ts for the rig and
 * _verdict.ts for what is checked. Needs protocol 2 (seq, head, msg.fetch).
 */
import { eventually, sleep } from "../testing/mod.ts";
import { chaosRound } from "./_chaos.ts";

Deno.test({
  name:
    "chaos, protocol 2: a chat node SIGKILLed under pipelined sends and restarted (at once, twice, then after 3 s): every acked message is shown by its recipient's client within 5 s, none twice",
  async fn() {
    await chaosRound(async (rig) => {
      for (const [node, downMs] of [["chat-1", 0], ["chat-2", 0], ["chat-1", 3000]] as const) {
        // Kill it with sends in flight: stored, perhaps not yet pushed or acked.
        const here = rig.users.filter((u) => u.client.node === node);
        await eventually(
          () => here.filter((u) => u.client.unacked >= 3).length >= Math.min(2, here.length),
          { intervalMs: 1, what: `sends in flight on ${node}` },
        );
        await sleep(Math.random() * 20);
        await rig.cluster.stop(node, "SIGKILL");
        rig.note(`${node} killed (${here.length} users on it)`);
        await sleep(downMs);
        await rig.cluster.start(node);
        rig.ended(`${node} runs again`);
        await sleep(3000);
      }
    });
  },
});
