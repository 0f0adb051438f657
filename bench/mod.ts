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
import { FULL, QUICK, SCENARIOS, SMOKE } from "./plan.ts";
import { runBench } from "./run.ts";
import { formatTable, machine } from "./report.ts";
import { buildRows } from "./rows.ts";
import { formatSummary } from "./profile.ts";

const USAGE = `Usage: deno task bench [--full | --smoke] [--only ${SCENARIOS.join(",")}]
                       [--profile] [--out FILE]

Quick pass by default (under 3 minutes); --full for the long one; --smoke
checks the bench itself in seconds. Needs MySQL and Redis (as the tests do)
and node (for the Socket.IO baseline, installed on first use).`;

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
  const profile = values.full ? FULL : values.smoke ? SMOKE : QUICK;
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
  if (notes.length) console.log(`\n${notes.join("\n")}`);
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
