/**
 * Test-only (used by tests/cli_test.ts, cli_tty_test.ts, admin_test.ts):
 * runs the terminal programs as a user would, as child processes (`deno
 * run` with the permissions of their deno.json tasks, as compile.ts lists
 * them), each user with its own config directory, answering prompts
 * through stdin.
 */
import { fileURLToPath } from "node:url";
import { ADMIN_PERMISSIONS, PARLEY_PERMISSIONS } from "./compile.ts";

export const REPO_DIR = fileURLToPath(new URL("../", import.meta.url));

export const PARLEY_ARGS = ["run", ...PARLEY_PERMISSIONS, `${REPO_DIR}cli/parley.ts`];
export const ADMIN_ARGS = ["run", ...ADMIN_PERMISSIONS, `${REPO_DIR}cli/parley_admin.ts`];

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  /** Lines to write to stdin (then it is closed); an empty stdin otherwise. */
  stdin?: string;
  cwd?: string;
}

/** Runs a program to its end and collects its output. */
export async function run(base: string[], args: string[], options: RunOptions = {}): Promise<Run> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: [...base, ...args],
    env: { NO_COLOR: "1", ...options.env },
    cwd: options.cwd ?? REPO_DIR,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = proc.stdin.getWriter();
  if (options.stdin) await writer.write(new TextEncoder().encode(options.stdin));
  await writer.close();
  const out = await proc.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A `parley` user: one config directory, one server. */
export function parleyUser(
  server: string,
  configDir: string,
  extraEnv: Record<string, string> = {},
) {
  const env = { PARLEY_SERVER: server, PARLEY_CONFIG_DIR: configDir, ...extraEnv };
  return {
    configDir,
    run: (args: string[], options: RunOptions = {}) =>
      run(PARLEY_ARGS, args, { ...options, env: { ...env, ...options.env } }),
    /** Starts `parley args` with a stdin the test writes to line by line. */
    spawn(args: string[], options: { env?: Record<string, string> } = {}) {
      const proc = new Deno.Command(Deno.execPath(), {
        args: [...PARLEY_ARGS, ...args],
        env: { NO_COLOR: "1", ...env, ...options.env },
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = proc.stdin.getWriter();
      return {
        write: (line: string) => writer.write(new TextEncoder().encode(line + "\n")),
        closeStdin: () => writer.close(),
        async result(): Promise<Run> {
          const out = await proc.output();
          const dec = new TextDecoder();
          return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
        },
      };
    },
  };
}

/** Shows a run in an assertion message. */
export function show(r: Run): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A tmux window running `parley chat` for one user, on a private tmux
 * server: keys go in with send-keys, the screen comes back with
 * capture-pane (`withStyles`: with its SGR sequences). Needs tmux (.ci/run
 * installs it: apt-get install -y tmux).
 */
export class TmuxChat {
  private constructor(readonly socket: string, readonly name: string) {}

  static async start(options: {
    socket: string;
    server: string;
    configDir: string;
    cols?: number;
    rows?: number;
    /** Colours on (NO_COLOR unset) or off (NO_COLOR=1, the default). */
    color?: boolean;
  }): Promise<TmuxChat> {
    const name = `chat${Math.random().toString(36).slice(2, 8)}`;
    const vars = { PARLEY_SERVER: options.server, PARLEY_CONFIG_DIR: options.configDir };
    const cmd = [
      "env",
      ...(options.color ? ["-u", "NO_COLOR"] : ["NO_COLOR=1"]),
      ...Object.entries(vars).map(([k, v]) => `${k}=${v}`),
      Deno.execPath(),
      ...PARLEY_ARGS,
      "chat",
    ].map(quote).join(" ");
    const pane = new TmuxChat(options.socket, name);
    // A session that stays, so killing a pane never stops the tmux server under the next one.
    await pane.tmux("has-session", "-t", "keeper").catch(() =>
      pane.tmux("new-session", "-d", "-s", "keeper", "sleep 86400")
    );
    // The trailing echo keeps the pane (and its last words) after parley exits.
    await pane.tmux(
      "new-session",
      "-d",
      "-s",
      name,
      "-x",
      String(options.cols ?? 80),
      "-y",
      String(options.rows ?? 24),
      `${cmd}; echo "EXITED $?"; sleep 600`,
    );
    return pane;
  }

  async tmux(...args: string[]): Promise<string> {
    const out = await new Deno.Command("tmux", { args: ["-S", this.socket, ...args] }).output()
      .catch((e) => {
        throw new Error(`tmux is needed for this test (apt-get install -y tmux): ${e.message}`);
      });
    if (!out.success) {
      throw new Error(`tmux ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    return new TextDecoder().decode(out.stdout);
  }

  /** The screen as text, one line per row (or with its SGR sequences). */
  screen(withStyles = false): Promise<string> {
    return this.tmux("capture-pane", "-p", ...(withStyles ? ["-e"] : []), "-t", this.name);
  }

  /** The screen's rows. */
  async rows(): Promise<string[]> {
    return (await this.screen()).replace(/\n$/, "").split("\n");
  }

  /** Keys by tmux name ("Enter", "C-Up", "M-p", "F1"). */
  keys(...keys: string[]): Promise<string> {
    return this.tmux("send-keys", "-t", this.name, ...keys);
  }

  /** Text typed literally. */
  type(text: string): Promise<string> {
    return this.tmux("send-keys", "-t", this.name, "-l", text);
  }

  resize(cols: number, rows: number): Promise<string> {
    return this.tmux("resize-window", "-t", this.name, "-x", String(cols), "-y", String(rows));
  }

  kill(): Promise<string> {
    return this.tmux("kill-session", "-t", this.name);
  }
}

/** Stops the private tmux server of `socket` and every window on it. */
export async function stopTmux(socket: string): Promise<void> {
  await new Deno.Command("tmux", { args: ["-S", socket, "kill-server"] }).output().catch(() => {});
}
