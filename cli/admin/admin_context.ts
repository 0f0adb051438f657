/**
 * What every `parley-admin` command is given: a status client with the
 * admin token in each call's metadata, the output streams and --json; and
 * the environment reading and error wording of the admin tool.
 */
import { AppError } from "../../proto/errors.ts";
import type { CallOptions, RpcClient } from "../../proto/grpc.ts";
import { adminMetadata, type StatusMethods, type UserRef } from "../../proto/services.ts";
import { CliError, type Output, readVars, UsageError } from "../lib/parley_context.ts";

export const DEFAULT_STATUS = "127.0.0.1:50052";

const ADMIN_VARS = ["PARLEY_STATUS_ADDR", "PARLEY_ADMIN_TOKEN", "PARLEY_DATA_DIR"] as const;
export type AdminEnv = Partial<Record<(typeof ADMIN_VARS)[number], string>>;

export function readAdminEnv(): AdminEnv {
  return readVars(ADMIN_VARS);
}

/** The admin token, and the file it was read from (null when given by flag or variable). */
export interface AdminToken {
  token: string;
  from: string | null;
}

/**
 * The admin token: --token, PARLEY_ADMIN_TOKEN, or the file a single-process
 * server writes (`<data dir>/admin.token`, .data/ by default). Where it came
 * from is only said when the status role refuses it.
 */
export function resolveToken(flag: string | undefined, env: AdminEnv): AdminToken {
  if (flag) return { token: flag, from: null };
  if (env.PARLEY_ADMIN_TOKEN) return { token: env.PARLEY_ADMIN_TOKEN, from: null };
  const path = `${env.PARLEY_DATA_DIR ?? ".data"}/admin.token`;
  try {
    const token = Deno.readTextFileSync(path).trim();
    if (token) return { token, from: path };
  } catch { /* no file: say what to do below */ }
  throw new CliError(
    `no admin token — pass --token TOKEN, set PARLEY_ADMIN_TOKEN, or run where ${path} exists`,
  );
}

export interface AdminContext {
  status: RpcClient<StatusMethods>;
  /** The status role's address, as given. */
  address: string;
  /** The token file, when the token came from one. */
  tokenFrom: string | null;
  /** Metadata (and deadline) for every call. */
  call: CallOptions;
  json: boolean;
  io: Output;
}

/** "#42" is user id 42; anything else is a name or an e-mail address. */
export function userRef(text: string): UserRef {
  const m = /^#(\d+)$/.exec(text.trim());
  if (m) return { id: Number(m[1]), login: "" };
  if (!text.trim()) throw new UsageError("no user given");
  return { id: 0, login: text.trim() };
}

export function adminCall(token: string): CallOptions {
  return { metadata: adminMetadata(token), deadlineMs: 5000 };
}

/** The one line an operator reads when a call fails. */
export function explainAdmin(
  e: AppError,
  ctx: Pick<AdminContext, "address" | "tokenFrom">,
): string {
  switch (e.code) {
    case "admin_unauthorized":
      return `the status role refused the admin token${
        ctx.tokenFrom ? ` in ${ctx.tokenFrom}` : ""
      } (admin_unauthorized) — check --token / PARLEY_ADMIN_TOKEN`;
    case "peer_unavailable":
      return `cannot reach the status role at ${ctx.address} — is it running? (--status ADDR or PARLEY_STATUS_ADDR)`;
    case "peer_not_parley":
      return `${ctx.address} answers, but is not a Parley status service — check --status ADDR or PARLEY_STATUS_ADDR`;
    case "user_not_found":
      return "no such user (user_not_found)";
    default:
      return `${e.message} (${e.code})`;
  }
}

/** Prints `value` as JSON with --json, else the human lines. */
export function show(ctx: AdminContext, value: unknown, lines: () => string[]): void {
  if (ctx.json) ctx.io.out(JSON.stringify(value, null, 2));
  else for (const l of lines()) ctx.io.out(l.trimEnd());
}
