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

/**
 * Permissions of the chat client: its config dir is the user's choice, so
 * read/write are not scoped; the host name labels its device.
 */
export const PARLEY_PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env=PARLEY_SERVER,PARLEY_CONFIG_DIR,PARLEY_PASSWORD,XDG_CONFIG_HOME,HOME,APPDATA,NO_COLOR",
  "--allow-sys=hostname",
];
/** @grpc/grpc-js reads GRPC_* and proxy variables as it loads: env cannot be scoped. */
export const ADMIN_PERMISSIONS = ["--allow-net", "--allow-read", "--allow-env"];

export function compileArgs(target?: string): string[][] {
  // --no-lock: the lockfile's npm snapshot also holds the server's native
  // addon (@node-rs/argon2), whose build for the target deno compile would
  // fetch; the clients' own npm packages are pinned in deno.json (their
  // dependencies are not). Measured on Deno 2.9.6: with the lockfile,
  // deno compile overflows its stack; with the lockfile and
  // --exclude-unused-npm it embeds the same packages as --no-lock but first
  // downloads the whole snapshot, argon2's build for the target included,
  // so a cross-compile with DENORT_BIN fails offline.
  const t = ["--no-lock", ...(target ? ["--target", target] : [])];
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

/**
 * When `deno compile` failed because it could not download denort, what to
 * do instead (null for any other failure): Deno's own error is a raw stack
 * of "error sending request" causes that never names DENORT_BIN.
 */
export function denortAdvice(stderr: string, denoVersion = Deno.version.deno): string | null {
  const url = /https:\/\/dl\.deno\.land\/\S*denort-[\w.-]+?\.zip/.exec(stderr)?.[0];
  if (!url && !/Setting up base binary/.test(stderr)) return null;
  const zip = url ?? `https://dl.deno.land/release/v${denoVersion}/denort-TARGET.zip`;
  const target = /denort-([\w.-]+?)\.zip/.exec(zip)?.[1] ?? "TARGET";
  const chain = stderr.split("Stack backtrace")[0];
  const causes = [...chain.matchAll(/^\s*\d+: (.+)$/gm)].map((m) => m[1].trim());
  const why = causes.at(-1) ?? "the download failed";
  return [
    `deno task compile: could not download Deno's runtime for ${target} (denort): ${why}.`,
    "Without network, build with a denort you already have:",
    `  1. on a machine with network, download ${zip}`,
    `  2. unzip it and copy the denort file here`,
    `  3. DENORT_BIN=/path/to/denort deno task compile${
      target === "TARGET" || target === Deno.build.target ? "" : ` --target ${target}`
    }`,
    `(denort must be the same Deno version, ${denoVersion}, built for ${target}.)`,
  ].join("\n");
}

/**
 * Runs one `deno compile`: its progress lines pass through as they come,
 * while an error is held back to be explained if it is the denort download.
 */
async function compile(args: string[]): Promise<boolean> {
  const child = new Deno.Command(Deno.execPath(), { args, stdout: "inherit", stderr: "piped" })
    .spawn();
  const enc = new TextEncoder();
  let held = "";
  let partial = "";
  for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop()!;
    for (const line of lines) {
      if (held || /error/i.test(line)) held += line + "\n";
      else await Deno.stderr.write(enc.encode(line + "\n"));
    }
  }
  held += partial;
  const { success } = await child.status;
  const advice = success ? null : denortAdvice(held);
  if (advice) console.error(advice);
  else await Deno.stderr.write(enc.encode(held));
  return success;
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { target: { type: "string" } } });
  for (const args of compileArgs(values.target)) {
    console.log(`deno ${args.join(" ")}`);
    if (!(await compile(args))) Deno.exit(1);
  }
}
