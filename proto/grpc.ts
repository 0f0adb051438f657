/**
 * Thin typed layer over @grpc/grpc-js and @grpc/proto-loader, shared by the
 * roles and by parley-admin: load a service from this folder's .proto files,
 * serve it with async handlers, and call it with a deadline on every call.
 * Errors cross the wire as a gRPC status plus `parley-code` metadata and come
 * out on the other side as the same AppError.
 */
import "./h2_guard.ts";
import * as grpc from "@grpc/grpc-js";
import * as loader from "@grpc/proto-loader";
import { Buffer } from "node:buffer";
import { fileURLToPath } from "node:url";
import { AppError } from "./errors.ts";
import { CallCount, listenWithoutGoaway } from "./listener.ts";
import { type Access, CLUSTER_HEADER, guardHandlers, type PlaneAuth } from "./auth.ts";

export type ProtoFile = "verify.proto" | "status.proto" | "chat.proto";

const packages = new Map<ProtoFile, grpc.GrpcObject>();

function loadPackage(file: ProtoFile): grpc.GrpcObject {
  let pkg = packages.get(file);
  if (!pkg) {
    const path = fileURLToPath(new URL(`./${file}`, import.meta.url));
    const def = loader.loadSync(path, {
      keepCase: true,
      longs: Number,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    pkg = grpc.loadPackageDefinition(def);
    packages.set(file, pkg);
  }
  return pkg;
}

/** The method definitions (paths and protobuf codecs) of one service. */
export function serviceDefinition(file: ProtoFile, service: string): grpc.ServiceDefinition {
  return lookup(file, service).service;
}

function lookup(file: ProtoFile, service: string): grpc.ServiceClientConstructor {
  let cur: unknown = loadPackage(file);
  for (const part of service.split(".")) cur = (cur as Record<string, unknown>)[part];
  if (typeof cur !== "function") throw new Error(`no service ${service} in ${file}`);
  return cur as grpc.ServiceClientConstructor;
}

export interface TlsOptions {
  cert: string;
  key: string;
  ca?: string;
}

// --- errors across the wire ---

const STATUS_TO_GRPC: Record<number, grpc.status> = {
  400: grpc.status.INVALID_ARGUMENT,
  401: grpc.status.UNAUTHENTICATED,
  403: grpc.status.PERMISSION_DENIED,
  404: grpc.status.NOT_FOUND,
  409: grpc.status.ALREADY_EXISTS,
  410: grpc.status.FAILED_PRECONDITION,
  429: grpc.status.RESOURCE_EXHAUSTED,
  503: grpc.status.UNAVAILABLE,
};

const GRPC_TO_STATUS: Partial<Record<grpc.status, number>> = {
  [grpc.status.INVALID_ARGUMENT]: 400,
  [grpc.status.UNAUTHENTICATED]: 401,
  [grpc.status.PERMISSION_DENIED]: 403,
  [grpc.status.NOT_FOUND]: 404,
  [grpc.status.ALREADY_EXISTS]: 409,
  [grpc.status.FAILED_PRECONDITION]: 410,
  [grpc.status.RESOURCE_EXHAUSTED]: 429,
  [grpc.status.UNAVAILABLE]: 503,
  [grpc.status.DEADLINE_EXCEEDED]: 503,
};

function toServiceError(e: unknown): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  if (e instanceof AppError) {
    metadata.set("parley-code", e.code);
    if (e.retryAfterS !== undefined) metadata.set("parley-retry-after", String(e.retryAfterS));
    return {
      code: STATUS_TO_GRPC[e.status] ?? grpc.status.INTERNAL,
      details: e.message,
      metadata,
    };
  }
  metadata.set("parley-code", "internal");
  return { code: grpc.status.INTERNAL, details: "internal error", metadata };
}

/** What grpc-js reports when the peer speaks HTTP/2 but not this service. */
const NOT_PARLEY = new Set([
  grpc.status.UNIMPLEMENTED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.INTERNAL,
  grpc.status.UNKNOWN,
]);

function fromServiceError(e: grpc.ServiceError, target: string, method: string): AppError {
  const code = e.metadata?.get("parley-code")[0];
  const retry = e.metadata?.get("parley-retry-after")[0];
  if (typeof code === "string") {
    return new AppError(
      code,
      e.details,
      GRPC_TO_STATUS[e.code] ?? 500,
      retry === undefined ? undefined : Number(retry),
    );
  }
  // No parley-code: the peer never answered (down, unreachable, timed out).
  if (e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.DEADLINE_EXCEEDED) {
    return new AppError("peer_unavailable", `${method} on ${target}: ${e.details}`, 503, 1);
  }
  // An answer without parley-code: what listens there is not a Parley role (an
  // HTTP server, another gRPC service), e.g. a client pointed at the wrong port.
  if (NOT_PARLEY.has(e.code)) {
    return new AppError("peer_not_parley", `${method} on ${target}: ${e.details}`, 502);
  }
  return new AppError("internal", `${method} on ${target}: ${e.details}`, 500);
}

/**
 * The error a caller over gRPC would get for a handler that threw `e`: the
 * same status, details and parley-code round trip, for in-process calls.
 */
export function asCallerSees(e: unknown, target: string, method: string): AppError {
  const s = toServiceError(e);
  const err = Object.assign(new Error(s.details), s) as unknown as grpc.ServiceError;
  return fromServiceError(err, target, method);
}

// --- server ---

export interface CallContext {
  metadata: grpc.Metadata;
  peer: string;
}

// deno-lint-ignore no-explicit-any
export type Handler<Req = any, Res = any> = (req: Req, ctx: CallContext) => Promise<Res>;

export interface RpcServerOptions {
  tls?: TlsOptions | null;
  /** Who may call: checked for every method before its handler runs (auth.ts). */
  auth: PlaneAuth;
  /** Called with errors that are not AppErrors (bugs, outages), before `internal` is sent. */
  onError?: (method: string, error: unknown) => void;
}

export interface RpcServer {
  /** The port actually bound (useful when asked for 0). */
  port: number;
  close(): Promise<void>;
}

export interface ServiceImpl {
  file: ProtoFile;
  service: string;
  /** Keyed by the .proto method names. */
  handlers: Record<string, Handler>;
  /** Methods whose rule is not `cluster` (see auth.ts). */
  access?: Partial<Record<string, Access>>;
}

/**
 * Serves `services` on host:port. Every call must meet its method's access
 * rule (`options.auth`), else it is refused with UNAUTHENTICATED before any
 * handler runs. Every handler is async; a thrown AppError reaches the caller
 * with its code.
 */
export async function serve(
  host: string,
  port: number,
  services: ServiceImpl[],
  options: RpcServerOptions,
): Promise<RpcServer> {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": 8 * 1024 * 1024,
    "grpc.keepalive_time_ms": 30_000,
  });
  const calls = new CallCount();
  for (const { file, service, handlers: open, access } of services) {
    const def = lookup(file, service).service;
    const handlers = guardHandlers(service, open, access ?? {}, options.auth);
    const impl: grpc.UntypedServiceImplementation = {};
    for (const method of Object.keys(def)) {
      const handler = handlers[method];
      if (!handler) throw new Error(`${service}.${method} has no handler`);
      impl[method] = (
        call: grpc.ServerUnaryCall<unknown, unknown>,
        callback: grpc.sendUnaryData<unknown>,
      ) => {
        if (calls.closing) {
          // Shutting down: the caller hears what it would from a closed connection.
          callback(toServiceError(new AppError("peer_unavailable", "shutting down", 503, 1)), null);
          return;
        }
        calls.begin();
        handler(call.request, { metadata: call.metadata, peer: call.getPeer() }).then(
          (res) => callback(null, res),
          (e) => {
            if (!(e instanceof AppError)) options.onError?.(`${service}.${method}`, e);
            callback(toServiceError(e), null);
          },
        ).finally(() => calls.end());
      };
    }
    server.addService(def, impl);
  }
  const creds = options.tls
    ? grpc.ServerCredentials.createSsl(
      options.tls.ca ? Buffer.from(options.tls.ca) : null,
      [{ cert_chain: Buffer.from(options.tls.cert), private_key: Buffer.from(options.tls.key) }],
      false,
    )
    : grpc.ServerCredentials.createInsecure();
  const listener = await listenWithoutGoaway(server, creds, host, port, calls);
  return {
    port: listener.port,
    close: () => {
      // Clients in this process hang up first: see closeLocalClients().
      closeLocalClients(listener.port);
      return listener.close();
    },
  };
}

// --- client ---

/*
 * Deno 2.9's node:http2 can abort the whole process (an nghttp2 assertion in
 * find_stream_on_goaway_func, denoland/deno#36788) when a server ends a
 * client's HTTP/2 session, while a session the client ends itself is safe.
 * When several roles share a process (the single-process mode, tests), a
 * closing server therefore first makes every client in this process that
 * dials its port hang up; their next call opens a fresh channel.
 */
interface LocalClient {
  target: string;
  hangUp(): void;
}
const openClients = new Set<LocalClient>();

function closeLocalClients(port: number): void {
  for (const c of openClients) {
    const m = c.target.match(/^(.*):(\d+)$/);
    if (!m || Number(m[2]) !== port) continue;
    const host = m[1].replace(/^\[|\]$/g, "");
    if (
      ["127.0.0.1", "localhost", "::1", "0.0.0.0", "::"].includes(host) || host.startsWith("127.")
    ) {
      c.hangUp();
    }
  }
}

export interface CallOptions {
  /** ms before the call fails with peer_unavailable; 5 s by default. */
  deadlineMs?: number;
  /**
   * Wait (until the deadline) for the channel to connect instead of failing
   * at once while the peer is unreachable, so the call lands as soon as the
   * peer is back (a registration racing the status role's start).
   */
  waitForReady?: boolean;
  metadata?: Record<string, string>;
}

// deno-lint-ignore no-explicit-any
export type Unary<Req = any, Res = any> = (req: Req, options?: CallOptions) => Promise<Res>;

export type RpcClient<Methods> = Methods & {
  /** host:port this client talks to. */
  readonly target: string;
  close(): void;
};

export interface ClientOptions {
  tls?: TlsOptions | null;
  /** Sent as `x-parley-cluster` on every call; unset for parley-admin (it sends the admin token). */
  clusterSecret?: string;
  /** Default deadline for every call, in ms. */
  deadlineMs?: number;
}

/**
 * Channel settings of every client. Reconnect fast (100 ms, then with
 * backoff up to 500 ms) so that a restarted peer is reached again within
 * half a second: a connection attempt to a peer that is down costs one
 * refused SYN. Keepalive pings find a peer whose host vanished without
 * closing the connection; 30 s keeps them far from any server's ping limit.
 */
export function channelOptions(): grpc.ChannelOptions {
  return {
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 500,
  };
}

/**
 * A client for one service at one address; keep it and reuse it (it holds
 * one HTTP/2 channel). Methods are the .proto method names.
 */
export function connect<Methods extends Record<string, Unary>>(
  file: ProtoFile,
  service: string,
  target: string,
  options: ClientOptions = {},
): RpcClient<Methods> {
  const Ctor = lookup(file, service);
  const creds = options.tls
    ? grpc.credentials.createSsl(options.tls.ca ? Buffer.from(options.tls.ca) : null)
    : grpc.credentials.createInsecure();
  const chanOptions = channelOptions();
  // The channel is made on first use and again after a local server it
  // talked to closed (closeLocalClients), so a client outlives its peer.
  let client: grpc.Client | null = null;
  let closed = false;
  const channel = (): grpc.Client => (client ??= new Ctor(target, creds, chanOptions));
  const entry: LocalClient = {
    target,
    hangUp() {
      client?.close();
      client = null;
    },
  };
  openClients.add(entry);
  const out: Record<string, unknown> = {
    target,
    close: () => {
      closed = true;
      openClients.delete(entry);
      entry.hangUp();
    },
  };
  for (const method of Object.keys(Ctor.service)) {
    out[method] = (req: unknown, callOptions: CallOptions = {}) =>
      new Promise((resolve, reject) => {
        if (closed) {
          reject(new AppError("internal", `${method} on ${target}: client is closed`, 500));
          return;
        }
        const md = callMetadata(options, callOptions);
        const deadline = Date.now() + (callOptions.deadlineMs ?? options.deadlineMs ?? 5000);
        // deno-lint-ignore no-explicit-any
        (channel() as any)[method](
          req,
          md,
          { deadline, waitForReady: callOptions.waitForReady ?? false },
          (err: grpc.ServiceError | null, res: unknown) =>
            err ? reject(fromServiceError(err, target, method)) : resolve(res),
        );
      });
  }
  return out as RpcClient<Methods>;
}

/** The metadata of one call: the cluster secret (if the client has one), then the call's own. */
export function callMetadata(options: ClientOptions, callOptions: CallOptions): grpc.Metadata {
  const md = new grpc.Metadata();
  if (options.clusterSecret) md.set(CLUSTER_HEADER, options.clusterSecret);
  for (const [k, v] of Object.entries(callOptions.metadata ?? {})) md.set(k, v);
  return md;
}
