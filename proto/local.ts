/**
 * In-process calls: a service's handlers, served to the roles of the same
 * process through the same typed `RpcClient<Methods>` a gRPC client has and
 * with the same rules: the access check of auth.ts, the request and reply
 * passed through the method's protobuf codec (so a handler sees exactly what
 * it would see over the wire: defaults filled, unknown fields dropped, int64
 * as number), errors turned into what a gRPC caller gets, and a deadline.
 * Only the HTTP/2 hop is skipped.
 */
import * as grpc from "@grpc/grpc-js";
import { AppError } from "./errors.ts";
import { guardHandlers, type PlaneAuth } from "./auth.ts";
import {
  asCallerSees,
  callMetadata,
  type CallOptions,
  type ClientOptions,
  type Handler,
  type RpcClient,
  serviceDefinition,
  type ServiceImpl,
  type Unary,
} from "./grpc.ts";

/** What a caller reads as the peer of an in-process call. */
export const IN_PROCESS_PEER = "in-process";

export interface LocalServiceOptions {
  auth: PlaneAuth;
  /** Called with errors that are not AppErrors (bugs, outages), as serve() does. */
  onError?: (method: string, error: unknown) => void;
}

/** One service's handlers, callable from this process until `close()`. */
export class LocalService {
  readonly file: ServiceImpl["file"];
  readonly service: string;
  #def: grpc.ServiceDefinition;
  #handlers: Record<string, Handler>;
  #onError?: (method: string, error: unknown) => void;
  #closed = false;

  constructor(impl: ServiceImpl, options: LocalServiceOptions) {
    this.file = impl.file;
    this.service = impl.service;
    this.#def = serviceDefinition(impl.file, impl.service);
    for (const method of Object.keys(this.#def)) {
      if (!impl.handlers[method]) throw new Error(`${impl.service}.${method} has no handler`);
    }
    this.#handlers = guardHandlers(impl.service, impl.handlers, impl.access ?? {}, options.auth);
    this.#onError = options.onError;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Later calls fail as calls to a server that went away do (peer_unavailable). */
  close(): void {
    this.#closed = true;
  }

  /** One call, as a gRPC client at `target` would make it. */
  async call(
    method: string,
    req: unknown,
    metadata: grpc.Metadata,
    deadlineMs: number,
    target: string,
  ): Promise<unknown> {
    const def = this.#def[method];
    if (!def) throw new AppError("internal", `${method} on ${target}: no such method`, 500);
    if (this.#closed) throw unavailable(method, target, "the service has stopped");
    const request = def.requestDeserialize(def.requestSerialize(req));
    const run = this.#handlers[method](request, { metadata, peer: IN_PROCESS_PEER }).catch(
      (e) => {
        if (!(e instanceof AppError)) this.#onError?.(`${this.service}.${method}`, e);
        throw asCallerSees(e, target, method);
      },
    );
    // Past the deadline nobody awaits `run` any more; its outcome is dropped, as over gRPC.
    run.catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(unavailable(method, target, "Deadline exceeded (in-process)")),
        deadlineMs,
      );
    });
    try {
      const res = await Promise.race([run, deadline]);
      return def.responseDeserialize(def.responseSerialize(res));
    } finally {
      clearTimeout(timer);
    }
  }
}

/** What a gRPC client reports when its peer does not answer. */
function unavailable(method: string, target: string, why: string): AppError {
  return new AppError("peer_unavailable", `${method} on ${target}: ${why}`, 503, 1);
}

/**
 * An `RpcClient` for `service` that calls `local()` in this process, and
 * `remote()` (a gRPC client, made on first use) whenever `local()` has
 * nothing to offer for `target`. Each call decides again, so a client made
 * before its role started, or kept after it stopped, still goes where a
 * gRPC client would.
 */
export function localClient<Methods extends Record<string, Unary>>(
  file: ServiceImpl["file"],
  service: string,
  target: string,
  options: ClientOptions & {
    local: () => LocalService | null;
    remote: () => RpcClient<Methods>;
  },
): RpcClient<Methods> {
  let remote: RpcClient<Methods> | null = null;
  let closed = false;
  const out: Record<string, unknown> = {
    target,
    close: () => {
      closed = true;
      remote?.close();
      remote = null;
    },
  };
  for (const method of Object.keys(serviceDefinition(file, service))) {
    out[method] = async (req: unknown, callOptions: CallOptions = {}) => {
      if (closed) throw new AppError("internal", `${method} on ${target}: client is closed`, 500);
      const local = options.local();
      if (!local) {
        remote ??= options.remote();
        return await remote[method](req, callOptions);
      }
      const deadlineMs = callOptions.deadlineMs ?? options.deadlineMs ?? 5000;
      return await local.call(method, req, callMetadata(options, callOptions), deadlineMs, target);
    };
  }
  return out as RpcClient<Methods>;
}
