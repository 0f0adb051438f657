/**
 * `deno task install [--dir DIR]`: puts `parley` and `parley-admin` on the
 * PATH as small shims (DIR, default ~/.local/bin) that run this checkout
 * with the permissions of their deno.json tasks and its pinned deno.lock,
 * and without the "Task parley deno run ..." banner `deno task` prints.
 * (`deno install -g` would keep a lockfile of its own, not this one.)
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { ADMIN_PERMISSIONS, PARLEY_PERMISSIONS } from "./compile.ts";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const windows = Deno.build.os === "windows";

/** The shim that runs `script` with `permissions`: a shell script, or a .cmd on Windows. */
export function shim(name: string, script: string, permissions: string[]): string {
  const args = ["run", ...permissions, "--config", `${REPO}deno.json`, `${REPO}${script}`];
  if (windows) {
    return `@echo off\r\nrem ${name}: installed by deno task install\r\n` +
      `"${Deno.execPath()}" ${args.map((a) => `"${a}"`).join(" ")} %*\r\n`;
  }
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh\n# ${name}: installed by deno task install\n` +
    `exec ${q(Deno.execPath())} ${args.map(q).join(" ")} "$@"\n`;
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { dir: { type: "string" } } });
  const home = Deno.env.get(windows ? "USERPROFILE" : "HOME");
  const dir = values.dir ?? `${home}/.local/bin`;
  await Deno.mkdir(dir, { recursive: true });
  for (
    const [name, script, permissions] of [
      ["parley", "cli/parley.ts", PARLEY_PERMISSIONS],
      ["parley-admin", "cli/parley_admin.ts", ADMIN_PERMISSIONS],
    ] as const
  ) {
    const path = `${dir}/${name}${windows ? ".cmd" : ""}`;
    await Deno.writeTextFile(path, shim(name, script, [...permissions]), { mode: 0o755 });
    if (!windows) await Deno.chmod(path, 0o755);
    console.log(`installed ${path}`);
  }
  console.log(`(${dir} must be on your PATH)`);
}
