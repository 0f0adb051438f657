/**
 * Test-only (used by tests/cli_test.ts, cli_tty_test.ts, admin_test.ts):
 * runs the terminal programs as a user would, as child processes (`deno
 * run` with the permissions of their deno.json tasks), each user with its
 * own config directory, answering prompts through stdin.
 */
import { fileURLToPath } from "node:url";

export const REPO_DIR = fileURLToPath(new URL("../", import.meta.url));

export const PARLEY_ARGS = [
  "run",
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env=PARLEY_SERVER,PARLEY_CONFIG_DIR,PARLEY_PASSWORD,XDG_CONFIG_HOME,HOME,APPDATA,NO_COLOR",
  `${REPO_DIR}cli/parley.ts`,
];
export const ADMIN_ARGS = [
  "run",
  "--allow-net",
  "--allow-read",
  "--allow-env",
  `${REPO_DIR}cli/parley_admin.ts`,
];

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
