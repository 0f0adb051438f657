/**
 * Where a message run's CPU went: the CPU time each process on the machine
 * used inside the run's measured window (utime + stime of all its threads,
 * from /proc/PID/stat), divided by the messages delivered in it. With every
 * process on two shared cores, this says what one message costs the
 * server, the store and the load generator, side by side for Parley and
 * the relays.
 */

/** A process to account for, by the name it gets in the report. */
export interface CpuWatch {
  name: string;
  pid: number;
}

/** /proc's clock ticks per second (USER_HZ, 100 in Linux's ABI). */
const TICKS = 100;

const dec = new TextDecoder();

/** Output of a short command; "" if it cannot run (Deno asks for full access to read another process's /proc). */
async function output(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
    return dec.decode(out.stdout);
  } catch {
    return "";
  }
}

/** CPU seconds each of `pids` has used so far (all threads); a process that is gone is missing. */
export async function cpuSeconds(pids: number[]): Promise<Map<number, number>> {
  const seconds = new Map<number, number>();
  if (!pids.length) return seconds;
  const text = await output("cat", pids.map((pid) => `/proc/${pid}/stat`));
  for (const line of text.split("\n")) {
    // The command name (field 2) may hold spaces and parentheses: fields are counted after its ")".
    const close = line.lastIndexOf(")");
    if (close < 0) continue;
    const f = line.slice(close + 2).split(" ");
    seconds.set(Number(line.slice(0, line.indexOf(" "))), (Number(f[11]) + Number(f[12])) / TICKS);
  }
  return seconds;
}

/** Services the store runs in, by their process name: what Parley's messages also cost. */
const SERVICES: Record<string, string> = {
  mariadbd: "MySQL",
  mysqld: "MySQL",
  "redis-server": "Redis",
};

/** The local MySQL/MariaDB and Redis servers (none if they run elsewhere). */
export async function servicePids(): Promise<CpuWatch[]> {
  const text = await output("ps", ["-e", "-o", "pid=,comm="]);
  return text.split("\n").flatMap((line) => {
    const [pid, comm] = line.trim().split(/\s+/);
    const name = SERVICES[comm];
    return name ? [{ name, pid: Number(pid) }] : [];
  });
}

/** CPU seconds per name (processes of one name summed) between two instants, and the wall time. */
export interface CpuWindow {
  wallSeconds: number;
  seconds: Record<string, number>;
}

const sleepUntil = (at: number) => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));

/** Samples `watch` at `fromAt` and at `toAt` (epoch ms). Processes gone by then are left out. */
export async function sampleWindow(
  watch: CpuWatch[],
  fromAt: number,
  toAt: number,
): Promise<CpuWindow> {
  await sleepUntil(fromAt);
  const t0 = performance.now();
  const pids = watch.map((w) => w.pid);
  const before = await cpuSeconds(pids);
  await sleepUntil(toAt);
  const after = await cpuSeconds(pids);
  const wallSeconds = (performance.now() - t0) / 1000;
  const seconds: Record<string, number> = {};
  for (const w of watch) {
    const [a, b] = [before.get(w.pid), after.get(w.pid)];
    if (a !== undefined && b !== undefined) seconds[w.name] = (seconds[w.name] ?? 0) + b - a;
  }
  return { wallSeconds, seconds };
}

/** Microseconds of CPU per message, per name, at `rate` delivered messages per second. */
export function usPerMessage(w: CpuWindow, rate: number): Record<string, number> {
  const out: Record<string, number> = {};
  if (!(rate > 0) || !(w.wallSeconds > 0)) return out;
  for (const [name, s] of Object.entries(w.seconds)) {
    out[name] = (s / w.wallSeconds) / rate * 1e6;
  }
  return out;
}

/**
 * `bench-chat-1 47, MySQL 24, …, total 110 µs`, largest first; processes
 * that did next to nothing (an idle node) are left out of the list, not the total.
 */
export function formatUs(us: Record<string, number>): string {
  const items = Object.entries(us).sort((a, b) => b[1] - a[1]);
  const total = items.reduce((s, [, v]) => s + v, 0);
  const fmt = (v: number) => v >= 10 ? v.toFixed(0) : v.toFixed(1);
  const shown = items.filter(([, v]) => v >= 0.05);
  return [...shown.map(([n, v]) => `${n} ${fmt(v)}`), `total ${fmt(total)} µs`].join(", ");
}
