/**
 * Times `insertMessages` on a store: the call the chat node's group commit
 * (server/chat/writer.ts) makes for every batch, and so the ceiling of one
 * node's durable throughput in the bench. Not a test: a measurement to run
 * before and after a change to the insert path.
 *
 *   deno run -A server/store/insert_timing.ts            # MySQL test server, batches 256 and 32
 *   deno run -A server/store/insert_timing.ts --store sqlite --rounds 100 --sizes 256,32,1
 *   deno run -A server/store/insert_timing.ts --store sqlite --rounds 300 --sizes 400 --pairs 400
 *
 * Each round stores one batch of messages between 64 pairs of users (as
 * the writer's lanes mix many conversations; `--pairs`: the bench's
 * throughput runs have 400) and is timed on its own; the
 * `x2` rows run two batches at once, as the writer's two lanes do. Each row
 * also gives the CPU this process spent per batch: on MySQL, the client's
 * share of a batch (what it costs a chat node); on SQLite, all of it.
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { freshMysql, tempDir } from "../../testing/mod.ts";
import { integerFlag } from "../../testing/flags.ts";
import { silentLogger } from "../log.ts";
import { openStore } from "./mod.ts";
import type { MessageInput, Store } from "./types.ts";

function batch(users: number[], size: number, tag: string): MessageInput[] {
  return Array.from({ length: size }, (_, i) => {
    const pair = Math.floor(Math.random() * (users.length / 2));
    const [a, b] = [users[2 * pair], users[2 * pair + 1]];
    const [from, to] = i % 2 ? [a, b] : [b, a];
    return {
      senderId: from,
      recipientId: to,
      clientId: `${tag}-${i}`,
      text: "x".repeat(100),
      createdAt: Date.now(),
    };
  });
}

function summary(ms: number[], rows: number): string {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return `median ${at(0.5).toFixed(2)} ms  p90 ${at(0.9).toFixed(2)} ms  mean ${
    mean.toFixed(2)
  } ms  ${Math.round(rows / (mean / 1000))} rows/s`;
}

async function time(store: Store, users: number[], size: number, rounds: number, lanes: number) {
  let n = 0;
  const tag = () => `${size}x${lanes}-${n++}-${crypto.randomUUID()}`;
  for (let i = 0; i < 5; i++) await store.insertMessages(batch(users, size, tag()));
  const ms: number[] = [];
  const c0 = process.cpuUsage();
  for (let r = 0; r < rounds; r++) {
    const batches = Array.from({ length: lanes }, () => batch(users, size, tag()));
    const t0 = performance.now();
    await Promise.all(batches.map((b) => store.insertMessages(b)));
    ms.push(performance.now() - t0);
  }
  // This process's CPU (the store's client side, as in a chat node; SQLite's own work too) per batch.
  const cpu = process.cpuUsage(c0);
  const perBatch = (us: number) => (us / (rounds * lanes)).toFixed(0);
  console.log(
    `${store.kind} batch ${size} x${lanes}: ${summary(ms, size * lanes)}  CPU here ${
      perBatch(cpu.user + cpu.system)
    } µs a batch (system ${perBatch(cpu.system)})`,
  );
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      store: { type: "string", default: "mysql" },
      rounds: { type: "string", default: "200" },
      sizes: { type: "string", default: "256,32" },
      pairs: { type: "string", default: "64" },
    },
  });
  const pairs = integerFlag("pairs", values.pairs, 1)!;
  const db = values.store === "mysql" ? await freshMysql() : null;
  const dir = db ? null : await tempDir();
  const store = await openStore(db?.url ?? `sqlite:${dir!.path}/t.db`, { log: silentLogger });
  try {
    await store.migrate();
    const users: number[] = [];
    for (let i = 0; i < 2 * pairs; i++) {
      const name = `t${i}`;
      users.push((await store.createUser({ email: `${name}@x.org`, name, passwordHash: "h" })).id);
    }
    for (const size of values.sizes.split(",").map(Number)) {
      for (const lanes of [1, 2]) await time(store, users, size, Number(values.rounds), lanes);
    }
  } finally {
    await store.close();
    await db?.drop();
    await dir?.remove();
  }
}
