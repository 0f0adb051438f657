/**
 * Issue 9, chaos: a chat node restarted (SIGTERM, drain, start) while the
 * other node's users write to its users; three rounds, chat-2, chat-1,
 * chat-2. Its drained users move on through the gate; half of those whose
 * friend is on the other node are away during the restart and come back to
 * it right after it started, so the other node delivers to fresh sessions
 * on a fresh node. See _chaos.ts and _verdict.ts. Needs protocol 2.
 */
import { sleep } from "../testing/mod.ts";
import { chaosRound } from "./_chaos.ts";

Deno.test({
  name:
    "chaos, protocol 2: a chat node restarted while the other node's users write to it, some of its users back on it right after, three times: every acked message is shown by its recipient's client within 5 s, none twice",
  async fn() {
    await chaosRound(async (rig) => {
      for (const node of ["chat-2", "chat-1", "chat-2"]) {
        const away = rig.users.filter((u) => u.client.node === node && u.peer.client.node !== node)
          .filter((_, i) => i % 2 === 0);
        for (const u of away) u.client.pause();
        rig.note(`${away.map((u) => u.name).join(", ") || "nobody"} away`);
        await rig.cluster.stop(node);
        rig.note(`${node} stopped (drained)`);
        await rig.cluster.start(node);
        for (const u of away) u.client.resume();
        rig.ended(`${node} runs again`);
        await sleep(3000);
      }
    });
  },
});
