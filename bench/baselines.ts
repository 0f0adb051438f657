/**
 * Starts the two baselines as child processes, the way Parley's nodes are
 * started: the Deno relay (bench/relay_deno.ts) and the Socket.IO relay on
 * Node (bench/socketio/relay.mjs). socket.io is installed with `npm ci`
 * from the committed lock file into bench/.baselines/socketio (ignored by
 * git) the first time it is missing.
 */
import { type Proc, readyJsonLine, spawnProc } from "./procs.ts";

const BENCH = new URL("./", import.meta.url).pathname;
const INSTALL_DIR = `${BENCH}.baselines/socketio`;

export interface Baseline {
  /** What the load generator dials. */
  url: string;
  proc: Proc;
  close(): Promise<void>;
}

export async function startDenoRelay(): Promise<Baseline> {
  const proc = spawnProc("relay_deno", Deno.execPath(), [
    "run",
    "--allow-net",
    `${BENCH}relay_deno.ts`,
  ]);
  const { listening } = await readyJsonLine<{ listening: number }>(proc);
  return { url: `ws://127.0.0.1:${listening}`, proc, close: () => proc.stop() };
}

/** Installs socket.io into bench/.baselines/socketio unless the pinned version is already there. */
export async function ensureSocketIo(): Promise<string> {
  const lock = JSON.parse(await Deno.readTextFile(`${BENCH}socketio/package-lock.json`));
  const want = lock.packages["node_modules/socket.io"].version as string;
  try {
    const have = JSON.parse(
      await Deno.readTextFile(`${INSTALL_DIR}/node_modules/socket.io/package.json`),
    );
    if (have.version === want) return `${INSTALL_DIR}/node_modules`;
  } catch { /* not installed yet */ }
  await Deno.mkdir(INSTALL_DIR, { recursive: true });
  for (const f of ["package.json", "package-lock.json"]) {
    await Deno.copyFile(`${BENCH}socketio/${f}`, `${INSTALL_DIR}/${f}`);
  }
  const out = await new Deno.Command("npm", {
    args: ["ci", "--no-audit", "--no-fund", "--loglevel=error"],
    cwd: INSTALL_DIR,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `npm ci for the Socket.IO baseline failed:\n${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return `${INSTALL_DIR}/node_modules`;
}

export async function startSocketIoRelay(): Promise<Baseline> {
  const modules = await ensureSocketIo();
  const proc = spawnProc("socketio", "node", [`${BENCH}socketio/relay.mjs`, "0"], {
    SOCKETIO_MODULES: modules,
  });
  const { listening } = await readyJsonLine<{ listening: number }>(proc);
  return { url: `ws://127.0.0.1:${listening}`, proc, close: () => proc.stop() };
}
