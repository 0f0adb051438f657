/**
 * Issue 9, chaos: chat-2 restarted (SIGTERM, drain, start) while chat-1's
 * users write to chat-2's users. Its drained users move on through the
 * gate; two of them are away during the restart and come back to chat-2
 * right after it started, so chat-1 delivers to fresh sessions on a fresh
 * node. See _chaos.ts and _verdict.ts. Needs protocol 2.
 */
import { chaosRound } from "./_chaos.ts";

Deno.test({
  name:
    "chaos, protocol 2: chat-2 restarted while chat-1's users write to it, some of its users back on it right after: every acked message is shown by its recipient's client within 5 s, none twice",
  async fn() {
    await chaosRound(async (rig) => {
      const away = rig.users.filter((u) => u.home === "chat-2" && u.peer.home === "chat-1")
        .filter((_, i) => i % 2 === 0);
      for (const u of away) u.client.pause();
      rig.note(`${away.map((u) => u.name).join(", ")} away`);
      await rig.cluster.stop("chat-2");
      rig.note("chat-2 stopped (drained)");
      await rig.cluster.start("chat-2");
      rig.note("chat-2 runs again");
      for (const u of away) u.client.resume();
    });
  },
});
