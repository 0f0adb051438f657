/**
 * What every `parley-admin` command is given: a status client with the
 * admin token in each call's metadata, the output streams and --json; and
 * the environment reading and error wording of the admin tool.
 */
import { AppError } from "../../proto/errors.ts";
import type { CallOptions, RpcClient } from "../../proto/grpc.ts";
import { adminMetadata, type StatusMethods, type UserRef } from "../../proto/services.ts";
import { CliError, type Output, UsageError } from "../lib/parley_context.ts";

export const DEFAULT_STATUS = "127.0.0.1:50052";

export interface AdminEnv {
  PARLEY_STATUS_ADDR?: string;
  PARLEY_ADMIN_TOKEN?: string;
  PARLEY_DATA_DIR?: string;
}

export function readAdminEnv(): AdminEnv {
  const get = (k: keyof AdminEnv) => Deno.env.get(k) || undefined;
  return {
    PARLEY_STATUS_ADDR: get("PARLEY_STATUS_ADDR"),
    PARLEY_ADMIN_TOKEN: get("PARLEY_ADMIN_TOKEN"),
    PARLEY_DATA_DIR: get("PARLEY_DATA_DIR"),
  };
}

/**
 * The admin token: --token, PARLEY_ADMIN_TOKEN, or the file a single-process
 * server writes (`<data dir>/admin.token`, .data/ by default), with a note.
 */
export function resolveToken(
  flag: string | undefined,
  env: AdminEnv,
  note: (line: string) => void,
): string {
  if (flag) return flag;
  if (env.PARLEY_ADMIN_TOKEN) return env.PARLEY_ADMIN_TOKEN;
  const path = `${env.PARLEY_DATA_DIR ?? ".data"}/admin.token`;
  try {
    const token = Deno.readTextFileSync(path).trim();
    if (token) {
      note(`parley-admin: using the admin token in ${path}`);
      return token;
    }
  } catch { /* no file: say what to do below */ }
  throw new CliError(
    `no admin token — pass --token TOKEN, set PARLEY_ADMIN_TOKEN, or run where ${path} exists`,
  );
}

export interface AdminContext {
  status: RpcClient<StatusMethods>;
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
export function explainAdmin(e: AppError, address: string): string {
  switch (e.code) {
    case "admin_unauthorized":
      return "the status role refused the admin token (admin_unauthorized) — check --token / PARLEY_ADMIN_TOKEN";
    case "peer_unavailable":
      return `cannot reach the status role at ${address} — is it running? (--status ADDR or PARLEY_STATUS_ADDR)`;
    case "user_not_found":
      return "no such user (user_not_found)";
    default:
      return `${e.message} (${e.code})`;
  }
}
