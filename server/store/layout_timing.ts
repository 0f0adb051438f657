/**
 * A/B timing of the message-insert layouts the store had or considered, as
 * raw SQL on MySQL/MariaDB: the statements each layout's insertMessages()
 * sends, interleaved in one process so a noisy machine slows all alike.
 * Not a test: the measurement behind the layout in migrations.ts.
 *
 *   deno run -A server/store/layout_timing.ts --rounds 300 --sizes 32,256
 *   deno run -A server/store/layout_timing.ts --sizes 400 --pairs 400 --prefill 100000 --layouts bare,v1,cols
 *
 * Layouts: `bare` (the floor: the messages' columns with only the primary
 * key, no secondary index and no seqs, one autocommit INSERT; no chat
 * store can be this, it is what a row costs before any index a chat needs),
 * `v1` (schema version 1, no inbox seqs: one autocommit INSERT),
 * `table` (seqs in a separate inbox table, two rows per message, two round
 * trips), `cols` (seqs as messages.sender_seq / recipient_seq, two round
 * trips: raise the heads, RETURNING them, then insert with seqs computed in
 * JS; what the store sends on MariaDB), `colsel` (the same with a SELECT
 * of the heads instead of RETURNING, as on MySQL) and `cols1` (the same
 * columns in one round trip: INSERT ... SELECT from a VALUES CTE joined
 * with the heads just raised, RETURNING the ids and seqs; MariaDB).
 *
 * Per batch it reports wall time (median, p25) and the CPU time of the
 * server thread that ran it (/proc/<mariadbd>/task/<tid>/schedstat, so
 * other clients of a shared server do not count); per block of batches
 * also the whole server process's utime+stime (background flushing and
 * purge included, other clients too), as CPU ms per 1,000 messages.
 */
import { parseArgs } from "node:util";
import mysql from "mysql2/promise";
import { freshMysql } from "../../testing/mod.ts";
import { integerFlag } from "../../testing/flags.ts";

type Conn = mysql.Connection;
type Msg = { s: number; r: number; c: string; t: string; a: number };

const INNODB = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
const MESSAGES = `CREATE TABLE messages (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  sender_id BIGINT NOT NULL, recipient_id BIGINT NOT NULL, client_id VARCHAR(128) NOT NULL,
  text TEXT NOT NULL, created_at BIGINT NOT NULL`;
const HEADS = `CREATE TABLE inbox_heads (user_id BIGINT NOT NULL PRIMARY KEY,
  seq BIGINT NOT NULL, base_seq BIGINT NOT NULL DEFAULT 0) ${INNODB}`;

const SCHEMAS: Record<string, string[]> = {
  bare: [`${MESSAGES}) ${INNODB}`],
  v1: [`${MESSAGES}, UNIQUE KEY uq_messages_client (sender_id, client_id),
    KEY ix_messages_pair (sender_id, recipient_id, id),
    KEY ix_messages_recipient (recipient_id, id)) ${INNODB}`],
  table: [
    `${MESSAGES}, UNIQUE KEY uq_messages_client (sender_id, client_id),
      KEY ix_messages_pair (sender_id, recipient_id, id),
      KEY ix_messages_recipient (recipient_id, id)) ${INNODB}`,
    `CREATE TABLE inbox (user_id BIGINT NOT NULL, seq BIGINT NOT NULL,
      message_id BIGINT NOT NULL, PRIMARY KEY (user_id, seq), KEY ix_inbox_message (message_id))
      ${INNODB}`,
    HEADS,
  ],
  cols: [
    `${MESSAGES}, sender_seq BIGINT NOT NULL, recipient_seq BIGINT NOT NULL,
      UNIQUE KEY uq_messages_client (sender_id, client_id),
      KEY ix_messages_pair (sender_id, recipient_id, id),
      UNIQUE KEY uq_messages_sender_seq (sender_id, sender_seq),
      UNIQUE KEY uq_messages_recipient_seq (recipient_id, recipient_seq)) ${INNODB}`,
    HEADS,
  ],
};
SCHEMAS.colsel = SCHEMAS.cols;
SCHEMAS.cols1 = SCHEMAS.cols;

/** `rows` as `(?, ?), (?, ?)` and their values. */
function values(rows: unknown[][]): [string, unknown[]] {
  const one = `(${rows[0].map(() => "?").join(", ")})`;
  return [rows.map(() => one).join(", "), rows.flat()];
}

/** Entries per user (sender and recipient; one for a message to oneself). */
function counts(msgs: Msg[]): Map<number, number> {
  const n = new Map<number, number>();
  const add = (u: number) => n.set(u, (n.get(u) ?? 0) + 1);
  for (const m of msgs) {
    add(m.s);
    if (m.r !== m.s) add(m.r);
  }
  return n;
}

function raise(msgs: Msg[]): [string, unknown[]] {
  const [v, p] = values([...counts(msgs)].sort((a, b) => a[0] - b[0]));
  return [
    `INSERT INTO inbox_heads (user_id, seq) VALUES ${v}
      ON DUPLICATE KEY UPDATE seq = seq + VALUES(seq)`,
    p,
  ];
}

/** Seqs in input order after `heads` (the heads after the batch, as raised). */
function number(msgs: Msg[], after: Map<number, number>): [number, number][] {
  const n = counts(msgs);
  const heads = new Map([...after].map(([u, s]) => [u, s - (n.get(u) ?? 0)]));
  const next = (u: number) => {
    heads.set(u, heads.get(u)! + 1);
    return heads.get(u)!;
  };
  return msgs.map((m) => {
    const s = next(m.s);
    return [s, m.r === m.s ? s : next(m.r)];
  });
}

async function q(c: Conn, sql: string, params: unknown[]): Promise<unknown> {
  return (await c.query(sql, params))[0];
}

const headsOf = (rows: unknown) =>
  new Map((rows as { user_id: number; seq: number }[]).map((r) => [r.user_id, Number(r.seq)]));

/** One batch per layout, the statements the store sends. */
const INSERTS: Record<string, (c: Conn, msgs: Msg[]) => Promise<void>> = {
  async v1(c, msgs) {
    const [v, p] = values(msgs.map((m) => [m.s, m.r, m.c, m.t, m.a]));
    await q(
      c,
      `INSERT INTO messages (sender_id, recipient_id, client_id, text, created_at) VALUES ${v}`,
      p,
    );
  },
  bare: (c, msgs) => INSERTS.v1(c, msgs),
  async table(c, msgs) {
    const [up, upP] = raise(msgs);
    const users = [...counts(msgs).keys()];
    const [v, p] = values(msgs.map((m) => [m.s, m.r, m.c, m.t, m.a]));
    const out = await q(
      c,
      `START TRANSACTION; ${up}; SELECT user_id, seq FROM inbox_heads WHERE user_id IN (?);
      INSERT INTO messages (sender_id, recipient_id, client_id, text, created_at) VALUES ${v}`,
      [...upP, users, ...p],
    ) as unknown[];
    const first = Number((out[3] as { insertId: number }).insertId);
    const seqs = number(msgs, headsOf(out[2]));
    const entries: unknown[][] = [];
    msgs.forEach((m, i) => {
      entries.push([m.s, seqs[i][0], first + i]);
      if (m.r !== m.s) entries.push([m.r, seqs[i][1], first + i]);
    });
    const [ev, ep] = values(entries);
    await q(c, `INSERT INTO inbox (user_id, seq, message_id) VALUES ${ev}; COMMIT`, ep);
  },
  async cols(c, msgs) {
    const [up, upP] = raise(msgs);
    const out = await q(c, `START TRANSACTION; ${up} RETURNING user_id, seq`, upP) as unknown[];
    const seqs = number(msgs, headsOf(out[1]));
    const [v, p] = values(msgs.map((m, i) => [m.s, m.r, m.c, m.t, m.a, ...seqs[i]]));
    await q(
      c,
      `INSERT INTO messages (sender_id, recipient_id, client_id, text, created_at,
        sender_seq, recipient_seq) VALUES ${v}; COMMIT`,
      p,
    );
  },
  async colsel(c, msgs) {
    const [up, upP] = raise(msgs);
    const users = [...counts(msgs).keys()];
    const out = await q(
      c,
      `START TRANSACTION; ${up}; SELECT user_id, seq FROM inbox_heads WHERE user_id IN (?)`,
      [...upP, users],
    ) as unknown[];
    const seqs = number(msgs, headsOf(out[2]));
    const [v, p] = values(msgs.map((m, i) => [m.s, m.r, m.c, m.t, m.a, ...seqs[i]]));
    await q(
      c,
      `INSERT INTO messages (sender_id, recipient_id, client_id, text, created_at,
        sender_seq, recipient_seq) VALUES ${v}; COMMIT`,
      p,
    );
  },
  async cols1(c, msgs) {
    const [up, upP] = raise(msgs);
    // Each entry's distance below its user's raised head: the last one of a user is 0.
    const left = counts(msgs);
    const below = (u: number) => {
      left.set(u, left.get(u)! - 1);
      return left.get(u)!;
    };
    const rows = msgs.map((m, i) => {
      const so = below(m.s);
      return [i, m.s, m.r, m.c, m.t, m.a, so, m.r === m.s ? so : below(m.r)];
    });
    const [v, p] = values(rows);
    const out = await q(
      c,
      `START TRANSACTION; ${up};
      INSERT INTO messages (sender_id, recipient_id, client_id, text, created_at,
        sender_seq, recipient_seq)
      WITH v (k, s, r, c, t, a, so, ro) AS (VALUES ${v})
      SELECT v.s, v.r, v.c, v.t, v.a, hs.seq - v.so, hr.seq - v.ro
        FROM v JOIN inbox_heads hs ON hs.user_id = v.s JOIN inbox_heads hr ON hr.user_id = v.r
        ORDER BY v.k
      RETURNING id, sender_seq, recipient_seq; COMMIT`,
      [...upP, ...p],
    ) as unknown[];
    if ((out[2] as unknown[]).length !== msgs.length) throw new Error("cols1 lost rows");
  },
};

/** The server's process id, when it runs on this machine and /proc shows it. */
function serverPid(): number | null {
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const comm = Deno.readTextFileSync(`/proc/${e.name}/comm`).trim();
      if (comm === "mariadbd" || comm === "mysqld") return Number(e.name);
    } catch { /* gone or not ours */ }
  }
  return null;
}

/** CPU ns of one server thread so far. */
function threadNs(pid: number, tid: number): number {
  return Number(Deno.readTextFileSync(`/proc/${pid}/task/${tid}/schedstat`).split(" ")[0]);
}

/** utime + stime of the whole server process, in ms. */
function processMs(pid: number): number {
  const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * 10; // fields 14, 15; USER_HZ is 100 on Linux
}

function batch(users: number[], size: number, tag: string): Msg[] {
  return Array.from({ length: size }, (_, i) => {
    const pair = Math.floor(Math.random() * (users.length / 2));
    const [a, b] = [users[2 * pair], users[2 * pair + 1]];
    const [s, r] = i % 2 ? [a, b] : [b, a];
    return { s, r, c: `${tag}-${i}`, t: "x".repeat(100), a: Date.now() };
  });
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

function shuffle<T>(xs: T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

interface Lane {
  name: string;
  conn: Conn;
  tid: number;
  drop(): Promise<void>;
}

async function openLane(name: string): Promise<Lane> {
  const db = await freshMysql();
  const conn = await mysql.createConnection({ uri: db.url, multipleStatements: true });
  for (const sql of SCHEMAS[name]) await conn.query(sql);
  const [rows] = await conn.query(
    "SELECT TID FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()",
  );
  const tid = Number((rows as { TID: number }[])[0]?.TID ?? 0);
  return {
    name,
    conn,
    tid,
    async drop() {
      await conn.end();
      await db.drop();
    },
  };
}

/** Throws unless every user's seqs are 1..head, each once (the layouts number alike). */
async function verify(lane: Lane): Promise<void> {
  if (lane.name === "v1" || lane.name === "bare") return;
  const entries = lane.name === "table"
    ? "SELECT user_id AS u, seq FROM inbox"
    : `SELECT sender_id AS u, sender_seq AS seq FROM messages UNION ALL
       SELECT recipient_id, recipient_seq FROM messages WHERE recipient_id <> sender_id`;
  const [rows] = await lane.conn.query(
    `SELECT e.u, COUNT(*) AS n, COUNT(DISTINCT e.seq) AS d, MAX(e.seq) AS top, MIN(e.seq) AS low,
      h.seq AS head FROM (${entries}) e JOIN inbox_heads h ON h.user_id = e.u GROUP BY e.u, h.seq`,
  );
  for (const r of rows as Record<string, unknown>[]) {
    const [n, d, top, low, head] = [r.n, r.d, r.top, r.low, r.head].map(Number);
    if (n !== d || top !== n || low !== 1 || head !== n) {
      throw new Error(`${lane.name}: user ${r.u} is not dense: ${JSON.stringify(r)}`);
    }
  }
}

if (import.meta.main) {
  const { values: opt } = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "300" },
      sizes: { type: "string", default: "32,256" },
      layouts: { type: "string", default: "bare,v1,table,colsel,cols,cols1" },
      prefill: { type: "string", default: "20000" },
      blocks: { type: "string", default: "15" },
      pairs: { type: "string", default: "64" },
    },
  });
  const pid = serverPid();
  const pairs = integerFlag("pairs", opt.pairs, 1)!;
  const users = Array.from({ length: 2 * pairs }, (_, i) => i + 1);
  const lanes = await Promise.all(opt.layouts.split(",").map(openLane));
  let n = 0;
  const tag = () => `t${n++}`;
  try {
    for (const lane of lanes) {
      for (let i = 0; i < Number(opt.prefill) / 256; i++) {
        await INSERTS[lane.name](lane.conn, batch(users, 256, tag()));
      }
    }
    for (const size of opt.sizes.split(",").map(Number)) {
      const wall = new Map(lanes.map((l) => [l.name, [] as number[]]));
      const cpu = new Map(lanes.map((l) => [l.name, [] as number[]]));
      for (let r = 0; r < Number(opt.rounds); r++) {
        for (const lane of shuffle(lanes)) {
          const msgs = batch(users, size, tag());
          const c0 = pid && lane.tid ? threadNs(pid, lane.tid) : 0;
          const t0 = performance.now();
          await INSERTS[lane.name](lane.conn, msgs);
          const ms = performance.now() - t0;
          const c1 = pid && lane.tid ? threadNs(pid, lane.tid) : 0;
          if (r >= 10) { // warm-up rounds are not counted
            wall.get(lane.name)!.push(ms);
            cpu.get(lane.name)!.push((c1 - c0) / 1e6);
          }
        }
      }
      // Whole-process CPU: blocks of batches per layout, interleaved.
      const per = new Map(lanes.map((l) => [l.name, [] as number[]]));
      const blockMsgs = Math.max(8192, size * 32);
      if (pid) {
        for (let b = 0; b < Number(opt.blocks); b++) {
          for (const lane of shuffle(lanes)) {
            const batches = Array.from(
              { length: blockMsgs / size },
              () => batch(users, size, tag()),
            );
            const m0 = processMs(pid);
            for (const msgs of batches) await INSERTS[lane.name](lane.conn, msgs);
            per.get(lane.name)!.push((processMs(pid) - m0) / (blockMsgs / 1000));
          }
        }
      }
      console.log(
        `\nbatch ${size}: wall ms (p25 / median / p90), server thread CPU ms per batch` +
          ` (p25 / median) and per 1,000 msgs (median), process CPU ms per 1,000 msgs (p25 / median)`,
      );
      for (const lane of lanes) {
        const w = wall.get(lane.name)!;
        const c = cpu.get(lane.name)!;
        const p = per.get(lane.name)!;
        console.log(
          `${lane.name.padEnd(6)} wall ${pct(w, 0.25).toFixed(2)} / ${pct(w, 0.5).toFixed(2)} / ${
            pct(w, 0.9).toFixed(2)
          }   thread ${pct(c, 0.25).toFixed(2)} / ${pct(c, 0.5).toFixed(2)}  (${
            (pct(c, 0.5) * 1000 / size).toFixed(1)
          }/1k)   process ${
            p.length ? `${pct(p, 0.25).toFixed(0)} / ${pct(p, 0.5).toFixed(0)}` : "n/a"
          }`,
        );
      }
    }
    for (const lane of lanes) await verify(lane);
  } finally {
    for (const lane of lanes) await lane.drop();
  }
}
