/**
 * The bench's output: one row per scenario (Parley, the baselines, the
 * ratio the target is about, and the delivery faults), printed as a
 * plain-text table, and the machine it ran on.
 */
import { cpus, totalmem } from "node:os";

export interface Row {
  scenario: string;
  unit: string;
  parley: number | null;
  denoRelay: number | null;
  socketio: number | null;
  /** The ratio the target is stated in, e.g. Parley ÷ Socket.IO. */
  ratio: number | null;
  ratioOf: string;
  target: string;
  /** True/false once measured; null if a side is missing. */
  met: boolean | null;
  /** "lost/dup/out-of-order" (and errors) for message scenarios; "" otherwise. */
  faults: string;
  note?: string;
}

export interface Machine {
  cpu: string;
  cores: number;
  memGb: number;
  kernel: string;
  deno: string;
  node: string;
}

export async function machine(): Promise<Machine> {
  const nodeVersion = await new Deno.Command("node", { args: ["--version"], stdout: "piped" })
    .output().then((o) => new TextDecoder().decode(o.stdout).trim()).catch(() => "?");
  return {
    cpu: cpus()[0]?.model ?? "?",
    cores: cpus().length,
    memGb: Math.round(totalmem() / 2 ** 30),
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    node: nodeVersion,
  };
}

function num(v: number | null, unit: string): string {
  if (v === null || !Number.isFinite(v)) return "—";
  if (unit === "msg/s" || unit === "logins/s") {
    return v >= 100 ? Math.round(v).toLocaleString("en-US") : v.toFixed(1);
  }
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

export function formatTable(rows: Row[]): string {
  const head = [
    "scenario",
    "unit",
    "Parley",
    "Deno relay",
    "Socket.IO",
    "ratio",
    "target",
    "met",
    "lost/dup/ooo",
  ];
  const body = rows.map((r) => [
    r.scenario,
    r.unit,
    num(r.parley, r.unit),
    num(r.denoRelay, r.unit),
    num(r.socketio, r.unit),
    r.ratio === null ? "—" : `${r.ratio.toFixed(2)}x ${r.ratioOf}`,
    r.target,
    r.met === null ? "—" : r.met ? "yes" : "NO",
    r.faults,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ")
      .trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}
