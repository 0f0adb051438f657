/**
 * The chaos tests' rig (issue 9): a two-node cluster of separate processes
 * on MySQL (through a proxy the test can cut) and a private Redis (that the
 * test can restart empty), friend pairs across the nodes and on each node,
 * every user a testing/inbox_client.ts client (written from the docs only)
 * that pipelines msg.send to its friend. `chaosTest()` runs traffic, then
 * the fault, then more traffic, stops the senders once every message is
 * acked, and judges (_verdict.ts) what each client shows.
 */
import { InboxClient } from "../testing/inbox_client.ts";
import { eventually, sleep } from "../testing/mod.ts";
import { type Cluster, register, startCluster, withLogs } from "./cluster.ts";
import { MysqlProxy, PrivateRedis } from "./_faults.ts";
import { deadline, judge, SHOWN_WITHIN_MS } from "./_verdict.ts";
import type { Rig, User } from "./_chaos_rig.ts";

/** Where the two users of each pair start: four pairs across the nodes, one on each node. */
export const PAIRS: [string, string][] = [
  ["chat-1", "chat-2"],
  ["chat-1", "chat-2"],
  ["chat-2", "chat-1"],
  ["chat-2", "chat-1"],
  ["chat-1", "chat-1"],
  ["chat-2", "chat-2"],
];

export interface Traffic {
  /** How often each user writes a burst of sends. */
  everyMs: number;
  /** msg.send requests in flight at most, per user: a burst tops it up. */
  window: number;
}

const TRAFFIC: Traffic = { everyMs: 300, window: 5 };

async function startRig(): Promise<Rig> {
  const redis = await PrivateRedis.start();
  const mysql = await MysqlProxy.start();
  const notes: string[] = [];
  const ends: number[] = [];
  const t0 = Date.now();
  const note = (line: string) => notes.push(`+${((Date.now() - t0) / 1000).toFixed(1)} s ${line}`);
  let cluster: Cluster | null = null;
  const users: User[] = [];
  try {
    cluster = await startCluster({
      engineUrl: redis.url,
      storeUrl: (url) => mysql.via(url),
      chat: { heartbeatMs: 1000, msgRate: 500, msgBurst: 1000 },
      gate: {
        codesPerIpPerHour: 100_000,
        loginsPerAccountPerHour: 100_000,
        loginsPerIpPerMinute: 100_000,
        chatNodePerUserPerMinute: 10_000,
      },
    });
    const c = cluster;
    for (const [i, [na, nb]] of PAIRS.entries()) {
      const [a, b] = [await newUser(c, `p${i}a`, na), await newUser(c, `p${i}b`, nb)];
      a.peer = b;
      b.peer = a;
      users.push(a, b);
      await a.client.request("friend.request", { user_id: b.account.id, greeting: "hi" });
      await b.client.request("friend.accept", { user_id: a.account.id });
    }
    return {
      cluster,
      redis,
      mysql,
      users,
      t0,
      notes,
      note,
      ends,
      ended: (line) => {
        ends.push(Date.now());
        note(`${line} (fault ended)`);
      },
    };
  } catch (e) {
    await Promise.all(users.map((u) => u.client.close()));
    await cluster?.close();
    await Promise.all([redis.stop(), mysql.stop()]);
    throw e;
  }
}

async function newUser(c: Cluster, name: string, node: string): Promise<User> {
  const account = await register(c, name);
  const client = new InboxClient({
    gateUrl: c.gateUrl,
    login: account.name,
    password: account.password,
    label: name,
    // §11's backoff, with a cap a test can wait for.
    backoffMs: [500, 2000],
    gapWaitMs: 500,
  });
  // The first node is chosen by the test (a pair across nodes); later ones by the gate.
  await client.start(c.nodes.get(node)!.wsUrl);
  return { name, account, client, home: node, peer: null!, sends: new Map() };
}

/** Every user sends bursts to its friend, pipelined (`window` in flight), until stopped. */
function startTraffic(users: User[], t: Traffic = TRAFFIC): { stop(): Promise<void> } {
  let running = true;
  const loops = users.map(async (u) => {
    let n = 0;
    while (running) {
      while (u.client.unacked < t.window) {
        const id = `${u.name}-${n++}`;
        u.sends.set(id, Date.now());
        u.client.send(u.peer.account.id, `${u.name} says ${n}`, id);
      }
      await sleep(t.everyMs);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

export interface ChaosOptions {
  /** Traffic before the fault: until every user has this many acks. */
  warmAcks?: number;
  /** Traffic after the fault ended. */
  afterMs?: number;
}

/**
 * One chaos round: traffic, `fault` (which resolves when the fault has
 * ended: the node is back, the proxy restored...; a fault in several rounds
 * marks each end with `rig.ended()`), traffic for `afterMs`,
 * then every message acked, then the verdict. Throws with every problem
 * found, and the servers' warnings.
 */
export async function chaosRound(
  fault: (rig: Rig) => Promise<void>,
  options: ChaosOptions = {},
): Promise<void> {
  const rig = await startRig();
  try {
    const traffic = startTraffic(rig.users);
    const warm = options.warmAcks ?? 10;
    await eventually(() => rig.users.every((u) => u.client.acked.size >= warm), {
      timeoutMs: 30_000,
      what: `every user to have ${warm} messages acked`,
    });
    rig.note("fault begins");
    await fault(rig);
    if (!rig.ends.length) rig.ended("fault over");
    await sleep(options.afterMs ?? 3000);
    await traffic.stop();
    rig.note("senders stopped");
    const problems = await judge(rig);
    const summary = `${stats(rig)}\n--- timeline ---\n${rig.notes.join("\n")}\n${visits(rig)}`;
    if (problems.length) throw new Error(`${problems.join("\n")}\n${summary}`);
    console.log(summary);
  } catch (e) {
    // Every process's whole log, kept for a failed round (the error shows warnings only).
    const path = await Deno.makeTempFile({ prefix: "parley_chaos_", suffix: ".log" });
    await Deno.writeTextFile(path, rig.cluster.logs());
    if (e instanceof Error) e.message += `\n(all server logs: ${path})`;
    throw withLogs(e, rig.cluster);
  } finally {
    await Promise.all(rig.users.map((u) => u.client.close()));
    await rig.cluster.close();
    await Promise.all([rig.redis.stop(), rig.mysql.stop()]);
  }
}

function visits(rig: Rig): string {
  return rig.users.map((u) =>
    `${u.name}: ${
      u.client.visits.map((v) =>
        `+${((v.at - rig.t0) / 1000).toFixed(1)} s ${v.node}${v.ended ? ` (${v.ended})` : ""}`
      ).join(", ")
    }`
  ).join("\n");
}

/** What the round did, in numbers: sends, acks, and how each client got its messages. */
function stats(rig: Rig): string {
  const sum = (f: (u: User) => number) => rig.users.reduce((n, u) => n + f(u), 0);
  const acked = sum((u) => u.client.acked.size);
  const dup = sum((u) => [...u.client.acked.values()].filter((a) => a.duplicate).length);
  const firstBy = (own: boolean) => {
    const by: Record<string, number> = {};
    for (const u of rig.users) {
      for (const s of u.client.view.shown.values()) {
        if ((s.message.from === u.account.id) === own) by[s.via] = (by[s.via] ?? 0) + 1;
      }
    }
    return JSON.stringify(by);
  };
  const dropped: Record<string, number> = {};
  const retried: Record<string, number> = {};
  for (const u of rig.users) {
    for (const [k, n] of Object.entries(u.client.view.dropped)) dropped[k] = (dropped[k] ?? 0) + n;
    for (const [k, n] of u.client.retried) retried[k] = (retried[k] ?? 0) + n;
  }
  // How long recipients waited, from the ack (or from the end of the fault it was caught in).
  let slowest = 0;
  for (const u of rig.users) {
    for (const a of u.client.acked.values()) {
      const shown = u.peer.client.view.shown.get(a.message.id);
      if (shown) slowest = Math.max(slowest, shown.at - (deadline(rig, a.at) - SHOWN_WITHIN_MS));
    }
  }
  return `${sum((u) => u.sends.size)} sends, ${acked} acked (${dup} as duplicate); ` +
    `the friend's messages first shown by ${firstBy(false)}, one's own by ${firstBy(true)}; ` +
    `dropped as already held ${JSON.stringify(dropped)}; retried ${JSON.stringify(retried)}; ` +
    `sockets ${sum((u) => u.client.visits.length)}; slowest shown ${slowest} ms after its ack ` +
    `or its fault's end`;
}
