/**
 * `deno task compile [--target TRIPLE]`: builds the standalone binaries
 * dist/parley and dist/parley-admin with `deno compile`, each with the
 * permissions its task has, and the .proto file the admin tool loads at run
 * time. Targets: x86_64-unknown-linux-gnu, aarch64-unknown-linux-gnu,
 * x86_64-apple-darwin, aarch64-apple-darwin, x86_64-pc-windows-msvc.
 * Compiling needs Deno's `denort` runtime for the target: downloaded by
 * deno, or the file named by DENORT_BIN.
 */
import { parseArgs } from "node:util";

/** Permissions of the chat client: its config dir is the user's choice, so read/write are not scoped. */
export const PARLEY_PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env=PARLEY_SERVER,PARLEY_CONFIG_DIR,PARLEY_PASSWORD,XDG_CONFIG_HOME,HOME,APPDATA,NO_COLOR",
];
/** @grpc/grpc-js reads GRPC_* and proxy variables as it loads: env cannot be scoped. */
export const ADMIN_PERMISSIONS = ["--allow-net", "--allow-read", "--allow-env"];

export function compileArgs(target?: string): string[][] {
  const t = target ? ["--target", target] : [];
  const exe = target?.includes("windows") ? ".exe" : "";
  return [
    ["compile", ...PARLEY_PERMISSIONS, ...t, "--output", `dist/parley${exe}`, "cli/parley.ts"],
    [
      "compile",
      ...ADMIN_PERMISSIONS,
      "--include",
      "proto/status.proto",
      ...t,
      "--output",
      `dist/parley-admin${exe}`,
      "cli/parley_admin.ts",
    ],
  ];
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { target: { type: "string" } } });
  for (const args of compileArgs(values.target)) {
    console.log(`deno ${args.join(" ")}`);
    const { success } = await new Deno.Command(Deno.execPath(), {
      args,
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!success) Deno.exit(1);
  }
}
