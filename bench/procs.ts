/**
 * Child processes of the bench (Parley's roles and the baselines): spawn,
 * wait for a readiness line, read the resident memory from
 * /proc/PID/status, and stop them — politely, then for sure.
 */

export interface Proc {
  name: string;
  pid: number;
  /** The last 64 KiB the process wrote (stdout and stderr), for error reports. */
  tail(): string;
  /** Resolves once the output contains `text`; rejects if the process exits first. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  /** Polls `check` until it is true; rejects if the process exits first. */
  waitUntil(check: () => Promise<boolean>, what: string, timeoutMs?: number): Promise<void>;
  /** First full line of stdout that is JSON. */
  firstJson(): Promise<unknown>;
  /** VmRSS in KiB. */
  rssKb(): Promise<number>;
  stop(signal?: Deno.Signal): Promise<void>;
}

const KEEP = 64 * 1024;

export function spawnProc(
  name: string,
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  cwd?: string,
): Proc {
  const child = new Deno.Command(cmd, {
    args,
    env: { NO_COLOR: "1", ...env },
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return new ChildProc(name, child);
}

/** A spawned child whose output is kept (the last KEEP bytes) and watched. */
class ChildProc implements Proc {
  readonly pid: number;
  #text = "";
  #stdoutText = "";
  #exited = false;
  #wake: (() => void)[] = [];
  readonly #status: Promise<Deno.CommandStatus>;

  constructor(readonly name: string, readonly child: Deno.ChildProcess) {
    this.pid = child.pid;
    const pumps = Promise.all([this.#pump(child.stdout, true), this.#pump(child.stderr, false)]);
    this.#status = child.status.then(async (s) => {
      this.#exited = true;
      await pumps.catch(() => {});
      this.#notify();
      return s;
    });
  }

  #notify(): void {
    for (const w of this.#wake.splice(0)) w();
  }

  async #pump(stream: ReadableStream<Uint8Array>, isStdout: boolean): Promise<void> {
    const dec = new TextDecoder();
    for await (const chunk of stream) {
      const s = dec.decode(chunk, { stream: true });
      this.#text = (this.#text + s).slice(-KEEP);
      if (isStdout && this.#stdoutText.length < KEEP) this.#stdoutText += s;
      this.#notify();
    }
  }

  /** Waits (woken by new output) until `found()`; rejects on exit or timeout. */
  async #until(found: () => boolean, what: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!found()) {
      if (this.#exited) {
        throw new Error(`${this.name} exited before ${what}:\n${this.#text.slice(-3000)}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `${this.name}: no ${what} within ${timeoutMs} ms:\n${this.#text.slice(-3000)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250));
        this.#wake.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  tail(): string {
    return this.#text;
  }

  waitFor(needle: string, timeoutMs = 60_000): Promise<void> {
    return this.#until(() => this.#text.includes(needle), `"${needle}" in its output`, timeoutMs);
  }

  async waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    while (!(await check().catch(() => false))) {
      if (this.#exited) {
        throw new Error(`${this.name} exited before ${what}:\n${this.#text.slice(-3000)}`);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `${this.name}: not ${what} within ${timeoutMs} ms:\n${this.#text.slice(-3000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async firstJson(): Promise<unknown> {
    let found: unknown;
    await this.#until(
      () => {
        for (const line of this.#stdoutText.split("\n").slice(0, -1)) {
          try {
            found = JSON.parse(line);
            return true;
          } catch { /* not JSON */ }
        }
        return false;
      },
      "JSON line on stdout",
      60_000,
    );
    return found;
  }

  async rssKb(): Promise<number> {
    // Deno only lets a process read /proc with --allow-all, so ask cat.
    const out = await new Deno.Command("cat", {
      args: [`/proc/${this.pid}/status`],
      stdout: "piped",
      stderr: "null",
    }).output();
    const s = new TextDecoder().decode(out.stdout);
    const m = s.match(/^VmRSS:\s+(\d+)\s+kB/m);
    if (!m) throw new Error(`${this.name}: no VmRSS in /proc/${this.pid}/status`);
    return Number(m[1]);
  }

  async stop(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    if (!this.#exited) {
      try {
        this.child.kill(signal);
      } catch { /* already gone */ }
    }
    const t = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 8_000);
    await this.#status;
    clearTimeout(t);
  }
}

export async function readyJsonLine<T>(proc: Proc): Promise<T> {
  return await proc.firstJson() as T;
}

/** True once something accepts TCP connections on 127.0.0.1:port. */
export async function tcpOpen(port: number): Promise<boolean> {
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    c.close();
    return true;
  } catch {
    return false;
  }
}

/** True once GET url answers 2xx. */
export async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url);
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}
