/**
 * The logged-in session, kept between runs in the user's config directory:
 * `$PARLEY_CONFIG_DIR`, else `$XDG_CONFIG_HOME/parley`, else
 * `~/.config/parley`, file `session.json`, mode 0600 (it holds a bearer
 * token). Written to a temporary file first and renamed, so a crash never
 * leaves half a file. The server is also kept on its own (`server.json`),
 * so that logging out forgets the session but not where it was. The
 * device ids beside them are device_file.ts.
 */
import type { SelfUser } from "../../proto/protocol.ts";

export interface Session {
  /** The gate's base URL this session belongs to. */
  server: string;
  token: string;
  /** Unix ms when the token expires. */
  expires_at: number;
  user: SelfUser;
  /** The chat node the gate picked at login. */
  chat_url: string;
}

const FILE = "session.json";
const SERVER_FILE = "server.json";

/** The config directory from the environment variables that name it. */
export function configDir(env: {
  PARLEY_CONFIG_DIR?: string;
  XDG_CONFIG_HOME?: string;
  HOME?: string;
  APPDATA?: string;
}): string {
  if (env.PARLEY_CONFIG_DIR) return env.PARLEY_CONFIG_DIR;
  if (env.XDG_CONFIG_HOME) return `${env.XDG_CONFIG_HOME}/parley`;
  if (env.HOME) return `${env.HOME}/.config/parley`;
  if (env.APPDATA) return `${env.APPDATA}/parley`;
  return ".parley";
}

function isSession(v: unknown): v is Session {
  const s = v as Session;
  return !!s && typeof s === "object" && typeof s.server === "string" &&
    typeof s.token === "string" && typeof s.chat_url === "string" &&
    typeof s.expires_at === "number" && !!s.user && typeof s.user.id === "number" &&
    typeof s.user.name === "string";
}

/** The saved session, or null if there is none (or it is unreadable). */
export async function loadSession(dir: string): Promise<Session | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/${FILE}`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  try {
    const v = JSON.parse(text);
    return isSession(v) ? v : null;
  } catch {
    return null;
  }
}

/** Writes `text` to `dir/name` (mode 0600) through a temporary file and a rename. */
export async function writeAtomic(dir: string, name: string, text: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${dir}/.${name}.${crypto.randomUUID()}`;
  try {
    await Deno.writeTextFile(tmp, text, { mode: 0o600 });
    // mode on create is filtered by the umask; make sure it is 0600.
    if (Deno.build.os !== "windows") await Deno.chmod(tmp, 0o600);
    await Deno.rename(tmp, `${dir}/${name}`);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

export async function saveSession(dir: string, session: Session): Promise<void> {
  await writeAtomic(dir, FILE, JSON.stringify(session, null, 2) + "\n");
  await saveServer(dir, session.server);
}

/** Remembers the gate last logged in to, for after a logout. */
export async function saveServer(dir: string, server: string): Promise<void> {
  await writeAtomic(dir, SERVER_FILE, JSON.stringify({ server }) + "\n");
}

/** The gate last logged in to, or null. */
export async function loadServer(dir: string): Promise<string | null> {
  try {
    const v = JSON.parse(await Deno.readTextFile(`${dir}/${SERVER_FILE}`));
    return typeof v?.server === "string" && v.server ? v.server : null;
  } catch {
    return null;
  }
}

/** Forgets the session (the server stays remembered). */
export async function clearSession(dir: string): Promise<void> {
  try {
    await Deno.remove(`${dir}/${FILE}`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

export function sessionPath(dir: string): string {
  return `${dir}/${FILE}`;
}
