/**
 * `deno task bench [--full | --smoke] [--only a,b] [--profile] [--out FILE]`:
 * starts the baselines and Parley (fresh MySQL database and Redis prefix,
 * then SQLite + memory), runs the scenarios of issue 5 against each with
 * the same load generator, prints one table and writes everything to
 * bench/results/latest.json. The quick pass takes under three minutes;
 * `--full` is the long one (50,000 sessions over three chat nodes, 30 s
 * runs); `--smoke` runs every scenario for a moment with a few sockets.
 * `--profile` also samples the CPU of Parley's processes in each scenario
 * and prints where the time went (profiling slows them: numbers from a
 * profiled run are not the results).
 *
 * Scenarios (`--only`): throughput, sqlite, crossnode, latency, capacity, login.
 */
import { parseArgs } from "node:util";
import { FULL, type Profile, QUICK, SCENARIOS, SMOKE } from "./plan.ts";
import { runBench } from "./run.ts";
import { formatTable, machine } from "./report.ts";
import { buildRows, cpuLines } from "./rows.ts";
import { formatSummary } from "./profile.ts";
import { integerFlag } from "../testing/flags.ts";

const USAGE = `Usage: deno task bench [--full | --smoke] [--only ${SCENARIOS.join(",")}]
                       [--profile] [--pairs N] [--seconds S] [--sessions N] [--out FILE]

Quick pass by default (under 3 minutes); --full for the long one; --smoke
checks the bench itself in seconds. Needs MySQL and Redis (as the tests do)
and node (for the Socket.IO baseline, installed on first use).

  --pairs N      sender/receiver pairs in the throughput runs
  --seconds S    length of each throughput and latency run (warm-up is a fifth of it)
  --sessions N   idle sessions in the capacity run (spread over 3 chat nodes)`;

/** The pass's sizes with the command line's overrides; a bad number is an error. */
function withOverrides(
  base: Profile,
  v: { pairs?: string; seconds?: string; sessions?: string },
): Profile {
  const pairs = integerFlag("pairs", v.pairs, 1);
  const seconds = integerFlag("seconds", v.seconds, 1);
  const sessions = integerFlag("sessions", v.sessions, 3);
  const p = structuredClone(base);
  if (pairs) p.throughput.pairs = pairs;
  if (seconds) {
    for (const run of [p.throughput, p.latency]) {
      run.durationMs = seconds * 1000;
      run.warmupMs = seconds * 200;
    }
    p.login.durationMs = seconds * 1000;
  }
  if (sessions) p.capacity.sessions = sessions;
  return p;
}

async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        full: { type: "boolean" },
        smoke: { type: "boolean" },
        only: { type: "string" },
        profile: { type: "boolean" },
        pairs: { type: "string" },
        seconds: { type: "string" },
        sessions: { type: "string" },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error(`bench: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const only = new Set(values.only ? values.only.split(",").map((s) => s.trim()) : SCENARIOS);
  for (const s of only) {
    if (!SCENARIOS.includes(s)) {
      console.error(`bench: unknown scenario "${s}" (expected ${SCENARIOS.join(", ")})`);
      return 2;
    }
  }
  let profile = values.full ? FULL : values.smoke ? SMOKE : QUICK;
  try {
    profile = withOverrides(profile, values);
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    return 2;
  }
  const startedAt = new Date();
  const errors: string[] = [];
  const t0 = performance.now();
  const measured = await runBench(profile, only, errors, { profile: values.profile });
  const rows = buildRows(measured);
  const host = await machine();
  const seconds = (performance.now() - t0) / 1000;

  console.log(
    `\nParley bench, ${profile.name} pass${values.profile ? " (PROFILED)" : ""}, ` +
      `${startedAt.toISOString().slice(0, 16)}Z, ${seconds.toFixed(0)} s — ${host.cpu}, ` +
      `${host.cores} cores, ${host.memGb} GB, Linux ${host.kernel}, deno ${host.deno}, ` +
      `node ${host.node}\n`,
  );
  console.log(formatTable(rows));
  const notes = rows.filter((r) => r.note).map((r) => `${r.scenario}: ${r.note}`);
  if (measured.mysql) {
    notes.push(
      `MySQL ${measured.mysql.version}: innodb_flush_log_at_trx_commit=` +
        `${measured.mysql.innodb_flush_log_at_trx_commit}, sync_binlog=${measured.mysql.sync_binlog}`,
    );
  }
  if (notes.length) console.log(`\n${notes.join("\n")}`);
  const cpu = cpuLines(measured);
  if (cpu.length) {
    console.log(
      `\nCPU per delivered message, µs, in each run's window (all processes share ` +
        `the ${host.cores} cores):\n${cpu.join("\n")}`,
    );
  }
  for (const pr of measured.profiles) console.log(`\n${formatSummary(pr.label, pr.summary)}`);
  if (errors.length) console.log(`\nErrors:\n- ${errors.join("\n- ")}`);
  const out = values.out ?? new URL("./results/latest.json", import.meta.url).pathname;
  await Deno.mkdir(out.replace(/\/[^/]*$/, ""), { recursive: true });
  await Deno.writeTextFile(
    out,
    JSON.stringify(
      { startedAt, seconds, profile, machine: host, rows, measured, errors },
      null,
      2,
    ) +
      "\n",
  );
  console.log(`\nWritten to ${out}`);
  return errors.length ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
