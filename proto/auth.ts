/**
 * Who may call an internal method. Every call between Parley's roles carries
 * the cluster's shared secret in the `x-parley-cluster` metadata; the status
 * role's admin methods take the admin token (`authorization: Bearer …`, what
 * parley-admin sends) instead. The same check guards a gRPC server (grpc.ts)
 * and an in-process call (local.ts), before any handler runs.
 */
import type * as grpc from "@grpc/grpc-js";
import { createHash, timingSafeEqual } from "node:crypto";
import { AppError } from "./errors.ts";

/** The metadata key that carries the cluster secret. */
export const CLUSTER_HEADER = "x-parley-cluster";

/**
 * - `cluster`: the cluster secret is required (every method by default).
 * - `admin`: the admin token is required; the cluster secret is neither
 *   needed nor enough (an operator's query: e-mails, every session).
 * - `cluster_or_admin`: either one (an action a cluster member takes on its
 *   own, such as the gate ending a user's sessions, which an operator may
 *   also take).
 */
export type Access = "cluster" | "admin" | "cluster_or_admin";

export interface PlaneAuth {
  /**
   * Secrets a caller may present. The first is the one this process sends;
   * a second one is accepted too while a secret is being rotated.
   */
  clusterSecrets: readonly string[];
  /** Required by `admin` methods and accepted by `cluster_or_admin` ones; unset: refused. */
  adminToken?: string;
  /** Told about every refused call (for a rate-limited warning in the log). */
  onRefused?(method: string, peer: string, code: string): void;
}

// deno-lint-ignore no-explicit-any
type Handler = (req: any, ctx: { metadata: grpc.Metadata; peer: string }) => Promise<any>;

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * True if `presented` is one of `accepted`. Both sides are hashed first, so
 * the comparison takes the same time whatever the lengths, and every
 * accepted value is compared (no early exit that would time which matched).
 */
function oneOf(presented: unknown, accepted: Uint8Array[]): boolean {
  if (typeof presented !== "string" || presented === "") return false;
  const d = digest(presented);
  let ok = false;
  for (const a of accepted) ok = timingSafeEqual(d, a) || ok;
  return ok;
}

function bearer(metadata: grpc.Metadata): string | undefined {
  const header = metadata.get("authorization")[0];
  const m = typeof header === "string" ? /^Bearer (.+)$/.exec(header.trim()) : null;
  return m?.[1];
}

/** A checker for one server's calls; throws AppError 401 unless `access` is met. */
export function authorizer(
  auth: PlaneAuth,
): (metadata: grpc.Metadata, access: Access) => void {
  if (auth.clusterSecrets.length === 0 || auth.clusterSecrets.some((s) => !s)) {
    throw new Error("an internal server needs a non-empty cluster secret");
  }
  const secrets = auth.clusterSecrets.map(digest);
  const admin = auth.adminToken ? [digest(auth.adminToken)] : [];
  return (metadata, access) => {
    const isAdmin = access !== "cluster" && oneOf(bearer(metadata), admin);
    if (access === "admin") {
      if (!isAdmin) {
        throw new AppError("admin_unauthorized", "a valid admin token is required", 401);
      }
      return;
    }
    if (isAdmin || oneOf(metadata.get(CLUSTER_HEADER)[0], secrets)) return;
    throw new AppError(
      "unauthenticated",
      "internal call without a valid cluster secret (x-parley-cluster)",
      401,
    );
  };
}

/**
 * Wraps each handler so that it runs only for a call that meets its access
 * rule (`cluster` unless `access` says otherwise). Names in `access` that are
 * not handlers are a programming error, caught at start-up.
 */
export function guardHandlers(
  service: string,
  handlers: Record<string, Handler>,
  access: Partial<Record<string, Access>>,
  auth: PlaneAuth,
): Record<string, Handler> {
  for (const name of Object.keys(access)) {
    if (!handlers[name]) throw new Error(`access rule for unknown method ${service}.${name}`);
  }
  const check = authorizer(auth);
  const out: Record<string, Handler> = {};
  for (const [method, handler] of Object.entries(handlers)) {
    const rule = access[method] ?? "cluster";
    // async, so that a refusal becomes a rejected promise (an error reply), never a throw.
    out[method] = async (req, ctx) => {
      try {
        check(ctx.metadata, rule);
      } catch (e) {
        auth.onRefused?.(`${service}.${method}`, ctx.peer, (e as AppError).code);
        throw e;
      }
      return await handler(req, ctx);
    };
  }
  return out;
}
