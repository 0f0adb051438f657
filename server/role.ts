/**
 * What every role exports and receives. A role module's `start(config, deps)`
 * binds its listeners and resolves to a handle; `close()` stops it cleanly.
 */
import type { ResolvedConfig } from "./config.ts";
import type { Engine } from "./engine/types.ts";
import type { Logger } from "./log.ts";
import { Plane } from "./plane.ts";
import type { Store } from "./store/types.ts";

export interface Deps {
  log: Logger;
  /** The process's store, opened (and migrated) on first use and shared by its roles. */
  store(): Promise<Store>;
  /** The process's engine, opened on first use and shared by its roles. */
  engine(): Promise<Engine>;
  /**
   * The process's internal plane, shared by its roles so that they call each
   * other in-process. Unset (a role started alone, as unit tests do): the
   * role gets a plane of its own (planeOf), and its calls go over gRPC.
   */
  plane?: Plane;
}

/** The plane a role serves and dials through (call once, at start). */
export function planeOf(deps: Deps): Plane {
  return deps.plane ?? new Plane();
}

export interface RoleHandle {
  /** Addresses actually bound, e.g. `{ http: 8080 }` or `{ grpc: 50051 }`. */
  ports: Record<string, number>;
  /** For the chat role: stop taking logins, move clients away, then close. */
  drain?(): Promise<void>;
  close(): Promise<void>;
}

export type StartRole = (config: ResolvedConfig, deps: Deps) => Promise<RoleHandle>;
