/**
 * CPU profiles of Parley's processes during a scenario, for "profile
 * before you optimise": a process started with `--inspect=127.0.0.1:PORT`
 * is sampled over the Chrome DevTools protocol (Profiler.start / stop), the
 * `.cpuprofile` is saved (open it in Chrome DevTools or speedscope), and
 * `summarize()` prints where the time went: by function, and by module
 * (an npm package, or a file of Parley's).
 */

export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Attaches to the inspector on `port` and starts sampling; `stop()` returns the profile. */
export async function startProfile(
  port: number,
  options: { intervalUs?: number } = {},
): Promise<{ stop(): Promise<CpuProfile> }> {
  const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const url = list[0]?.webSocketDebuggerUrl as string | undefined;
  if (!url) throw new Error(`no inspector target on port ${port}`);
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error(`cannot attach to the inspector at ${url}`));
  });
  let id = 0;
  const pending = new Map<number, (v: { result?: unknown; error?: unknown }) => void>();
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if (msg.id !== undefined) pending.get(msg.id)?.(msg);
  };
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const n = ++id;
      pending.set(n, (msg) => {
        pending.delete(n);
        if (msg.error) reject(new Error(`${method}: ${JSON.stringify(msg.error)}`));
        else resolve(msg.result);
      });
      ws.send(JSON.stringify({ id: n, method, params }));
    });
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: options.intervalUs ?? 500 });
  await call("Profiler.start");
  return {
    async stop() {
      const { profile } = await call("Profiler.stop") as { profile: CpuProfile };
      await call("Profiler.disable").catch(() => {});
      ws.close();
      return profile;
    },
  };
}

export interface ProfileSummary {
  totalMs: number;
  /** Share of the sampled time the main thread was not idle; the other shares are of that busy time. */
  busyPct: number;
  /** Share of samples per module: an npm package, a Parley file, or a V8 bucket. */
  modules: { name: string; pct: number }[];
  /** Functions by self time. */
  functions: { name: string; where: string; pct: number }[];
}

const REPO = new URL("../", import.meta.url).href;

function moduleOf(url: string, fn: string): string {
  if (!url) return fn.startsWith("(") ? fn : "(native)";
  const npm = url.match(/registry\.npmjs\.org\/((?:@[^/]+\/)?[^/]+)\//);
  if (npm) return `npm:${npm[1]}`;
  if (url.startsWith(REPO)) return url.slice(REPO.length);
  if (url.startsWith("ext:") || url.startsWith("node:")) return url.split("/")[0];
  return url;
}

export function summarize(profile: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((s, i) => self.set(s, (self.get(s) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const wall = [...self.values()].reduce((a, b) => a + b, 0) || 1;
  const idle = profile.nodes.filter((n) => n.callFrame.functionName === "(idle)")
    .reduce((s, n) => s + (self.get(n.id) ?? 0), 0);
  for (const n of profile.nodes) if (n.callFrame.functionName === "(idle)") self.delete(n.id);
  const total = wall - idle || 1;
  const mods = new Map<string, number>();
  const fns = new Map<string, { name: string; where: string; us: number }>();
  for (const [nodeId, us] of self) {
    const { functionName, url, lineNumber } = byId.get(nodeId)!.callFrame;
    const name = functionName || "(anonymous)";
    const mod = moduleOf(url, name);
    mods.set(mod, (mods.get(mod) ?? 0) + us);
    const where = url ? `${mod}:${lineNumber + 1}` : mod;
    const key = `${name}@${where}`;
    const f = fns.get(key) ?? { name, where, us: 0 };
    f.us += us;
    fns.set(key, f);
  }
  const pct = (us: number) => Math.round((us / total) * 1000) / 10;
  return {
    totalMs: wall / 1000,
    busyPct: Math.round(((wall - idle) / wall) * 1000) / 10,
    modules: [...mods].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({
      name,
      pct: pct(us),
    })),
    functions: [...fns.values()].sort((a, b) => b.us - a.us).slice(0, top).map((f) => ({
      name: f.name,
      where: f.where,
      pct: pct(f.us),
    })),
  };
}

export function formatSummary(title: string, s: ProfileSummary): string {
  const lines = [
    `${title}: ${s.totalMs.toFixed(0)} ms sampled, main thread busy ${s.busyPct}% ` +
    `(shares below are of the busy time)`,
    "  by module:",
  ];
  for (const m of s.modules.slice(0, 15)) {
    lines.push(`    ${m.pct.toFixed(1).padStart(5)}%  ${m.name}`);
  }
  lines.push("  by function (self time):");
  for (const f of s.functions) {
    lines.push(`    ${f.pct.toFixed(1).padStart(5)}%  ${f.name}  ${f.where}`);
  }
  return lines.join("\n");
}
