/**
 * What every `parley` command is given: the environment (read here and
 * nowhere else in the client), output streams, a prompter, and lazy access
 * to the saved session, the gate and an authenticated chat connection.
 * Also the client's errors: CliError (exit 1) and UsageError (exit 2).
 */
import { AppError } from "../../proto/errors.ts";
import { type Device, device } from "./device_file.ts";
import { GateClient } from "./gate_client.ts";
import { type Prompter, stdinPrompter } from "./prompt.ts";
import { configDir, loadServer, loadSession, saveSession, type Session } from "./session_file.ts";
import { Connection, NODE_GONE, TOKEN_ERRORS } from "./ws.ts";

export const DEFAULT_SERVER = "http://127.0.0.1:8080";

/** A failure to show as one line, then exit with `exitCode`. */
export class CliError extends Error {
  override name = "CliError";
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** Bad flags or arguments: exit 2, with a hint to --help. */
export class UsageError extends CliError {
  override name = "UsageError";
  constructor(message: string) {
    super(message, 2);
  }
}

/** The environment variables the client reads (an empty one counts as unset). */
const CLIENT_VARS = [
  "PARLEY_SERVER",
  "PARLEY_CONFIG_DIR",
  "PARLEY_PASSWORD",
  "XDG_CONFIG_HOME",
  "HOME",
  "APPDATA",
  "NO_COLOR",
] as const;
export type ClientEnv = Partial<Record<(typeof CLIENT_VARS)[number], string>>;

/** The named variables that are set and not empty: the only place either program reads them. */
export function readVars<K extends string>(names: readonly K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const k of names) {
    const v = Deno.env.get(k);
    if (v) out[k] = v;
  }
  return out;
}

export function readEnv(): ClientEnv {
  return readVars(CLIENT_VARS);
}

export interface Output {
  /** One line (or several) to stdout. */
  out(text: string): void;
  /** One line to stderr. */
  err(text: string): void;
  readonly stdoutIsTerminal: boolean;
  readonly stdinIsTerminal: boolean;
}

const enc = new TextEncoder();

export const stdio: Output = {
  out: (t) => writeAll(Deno.stdout, t + "\n"),
  err: (t) => writeAll(Deno.stderr, t + "\n"),
  stdoutIsTerminal: Deno.stdout.isTerminal(),
  stdinIsTerminal: Deno.stdin.isTerminal(),
};

function writeAll(w: { writeSync(b: Uint8Array): number }, text: string): void {
  let buf = enc.encode(text);
  while (buf.length > 0) buf = buf.subarray(w.writeSync(buf));
}

export interface GlobalFlags {
  server?: string;
  json: boolean;
}

export class Context {
  readonly configDir: string;
  private sessionPromise: Promise<Session | null> | null = null;

  constructor(
    readonly env: ClientEnv,
    readonly flags: GlobalFlags,
    readonly io: Output = stdio,
    readonly prompt: Prompter = stdinPrompter(),
  ) {
    this.configDir = configDir(env);
  }

  /**
   * The gate named by --server, PARLEY_SERVER, the session, the one last
   * logged in to (kept after a logout), or the default.
   */
  async server(): Promise<string> {
    const named = this.flags.server ?? this.env.PARLEY_SERVER;
    if (named) return normalizeServer(named);
    return (await this.savedSession())?.server ?? (await loadServer(this.configDir)) ??
      DEFAULT_SERVER;
  }

  savedSession(): Promise<Session | null> {
    return this.sessionPromise ??= loadSession(this.configDir);
  }

  /** The session for the chosen server; a CliError telling the user to log in if none. */
  async session(): Promise<Session> {
    const s = await this.savedSession();
    const named = this.flags.server ?? this.env.PARLEY_SERVER;
    if (!s) throw notLoggedIn();
    if (named && normalizeServer(named) !== s.server) {
      throw new CliError(`not logged in to ${normalizeServer(named)} — run \`parley login\``);
    }
    if (s.expires_at && s.expires_at < Date.now()) {
      throw new CliError("your session has expired — run `parley login`");
    }
    return s;
  }

  async gate(withToken = false): Promise<GateClient> {
    if (!withToken) return new GateClient(await this.server());
    const s = await this.session();
    return new GateClient(s.server, s.token);
  }

  /**
   * An authenticated chat connection for a one-shot command; close it when
   * done. It is a quiet session (docs/protocol.md §3): not announced to
   * friends, not a device, never ending or disturbing the user's open
   * screens. If the saved node is gone, the gate names another for the same
   * token (no password needed) and the session file is updated.
   */
  async connect(): Promise<Connection> {
    const s = await this.session();
    const options = { auth: { quiet: true } };
    try {
      return await Connection.open(s.chat_url, s.token, options);
    } catch (e) {
      if (!(e instanceof AppError) || !NODE_GONE.has(e.code)) throw connectError(e, s.chat_url);
    }
    const url = await this.findChatNode(s);
    try {
      return await Connection.open(url, s.token, options);
    } catch (e) {
      throw connectError(e, url);
    }
  }

  /** This terminal's device for the session's user and server (device_file.ts). */
  device(s: Session): Promise<Device> {
    return device(this.configDir, s.server, s.user.id);
  }

  /** Asks the gate for a live chat node with the session's token and saves it in the session. */
  async findChatNode(s: Session): Promise<string> {
    let url: string;
    try {
      url = (await new GateClient(s.server, s.token).chatNode()).chat_url;
    } catch (e) {
      if (e instanceof AppError && (TOKEN_ERRORS.has(e.code) || e.status === 401)) {
        throw new CliError("your session has ended — run `parley login`");
      }
      throw new CliError(
        `cannot reach your chat node at ${s.chat_url}, and the gate named no other: ${
          e instanceof AppError ? explain(e) : String(e)
        }`,
      );
    }
    if (url !== s.chat_url) await this.saveChatUrl(s, url);
    return url;
  }

  /**
   * For a reconnecting ChatClient: how to ask the gate for another node
   * (errors keep the gate's codes) and to remember the node it moved to.
   */
  chatNodeHooks(s: Session): { findNode(): Promise<string>; onUrlChange(url: string): void } {
    return {
      findNode: async () => (await new GateClient(s.server, s.token).chatNode()).chat_url,
      // Best effort: the next run falls back on the gate again if this write is lost.
      onUrlChange: (url) => void this.saveChatUrl(s, url).catch(() => {}),
    };
  }

  /** Keeps `url` as the session's chat node, in the file and for the rest of this run. */
  async saveChatUrl(s: Session, url: string): Promise<void> {
    const next = { ...s, chat_url: url };
    await saveSession(this.configDir, next);
    this.sessionPromise = Promise.resolve(next);
  }

  /** Prints `value` as JSON when --json was given, else the human lines from `human()`. */
  print(value: unknown, human: () => string[]): void {
    if (this.flags.json) this.io.out(JSON.stringify(value, null, 2));
    else for (const line of human()) this.io.out(line);
  }
}

/** A failed chat `open` as the line a user should read. */
function connectError(e: unknown, url: string): unknown {
  if (!(e instanceof AppError)) return e;
  if (TOKEN_ERRORS.has(e.code)) return new CliError("your session has ended — run `parley login`");
  if (NODE_GONE.has(e.code)) {
    return new CliError(`cannot reach your chat node at ${url} (${e.message}) — try again later`);
  }
  return e;
}

export function notLoggedIn(): CliError {
  return new CliError("not logged in — run `parley login`");
}

/** "localhost:8080" → "http://localhost:8080"; no trailing slash. */
export function normalizeServer(url: string): string {
  const withScheme = /^https?:\/\//i.test(url) ? url : `http://${url}`;
  return withScheme.replace(/\/+$/, "");
}

/** Turns an AppError from the gate or a chat node into the line a user should read. */
export function explain(e: AppError): string {
  switch (e.code) {
    case "invalid_credentials":
      return "wrong login or password";
    case "rate_limited":
    case "too_many_requests":
      return `too many attempts — try again${
        e.retryAfterS ? ` in ${Math.ceil(e.retryAfterS)} s` : " later"
      }`;
    case "token_invalid":
    case "token_expired":
    case "token_revoked":
    case "unauthorized":
      return "your session has ended — run `parley login`";
    case "gate_unreachable":
      return `${e.message} — is the server running? (--server URL or PARLEY_SERVER)`;
    default:
      return `${e.message} (${e.code})`;
  }
}
