/**
 * This node's entry in the status role's registry: RegisterNode at start,
 * a Heartbeat with the session count every nodeTtl/3 (registering again
 * when status has forgotten the node), state "draining" during a drain,
 * DeregisterNode at the end. Status being down is logged and retried; it
 * never stops the node.
 */
import { AppError } from "../../proto/errors.ts";
import type { RpcClient } from "../../proto/grpc.ts";
import type { StatusMethods } from "../../proto/services.ts";
import type { ResolvedConfig } from "../config.ts";
import type { Logger } from "../log.ts";

export interface RegistrationOptions {
  config: ResolvedConfig;
  /** The status role's client; closed by stop(). */
  status: RpcClient<StatusMethods>;
  wsUrl: string;
  grpcAddr: string;
  sessions: () => number;
  log: Logger;
}

export class NodeRegistration {
  #client: RpcClient<StatusMethods>;
  #timer: ReturnType<typeof setInterval> | undefined;
  #state: "up" | "draining" = "up";
  #registered = false;
  #inFlight: Promise<void> | null = null;
  #startedAt = Date.now();
  #lastWarn = 0;

  constructor(readonly options: RegistrationOptions) {
    this.#client = options.status;
  }

  get name(): string {
    return this.options.config.chat.name;
  }

  /** Registers (once; failures are retried by the heartbeat) and starts heartbeating. */
  async start(): Promise<void> {
    await this.beat();
    const every = Math.max(200, Math.floor(this.options.config.status.nodeTtlMs / 3));
    this.#timer = setInterval(() => this.beat(), every);
  }

  /** One heartbeat now (or the registration, if it has not succeeded yet). */
  beat(): Promise<void> {
    this.#inFlight ??= this.#beat().finally(() => (this.#inFlight = null));
    return this.#inFlight;
  }

  async #beat(): Promise<void> {
    try {
      if (!this.#registered) return await this.#register();
      await this.#client.Heartbeat({
        name: this.name,
        sessions: this.options.sessions(),
        state: this.#state,
      });
    } catch (e) {
      if (e instanceof AppError && e.code === "node_unknown") {
        this.#registered = false;
        return await this.#register().catch((e2) => this.#warn(e2));
      }
      this.#warn(e);
    }
  }

  async #register(): Promise<void> {
    const { wsUrl, grpcAddr, sessions, log } = this.options;
    await this.#client.RegisterNode({
      name: this.name,
      ws_url: wsUrl,
      grpc_addr: grpcAddr,
      sessions: sessions(),
      started_at_ms: this.#startedAt,
      state: this.#state,
    });
    this.#registered = true;
    log.info("registered with status", { node: this.name, wsUrl, grpcAddr });
  }

  #warn(e: unknown): void {
    const now = Date.now();
    if (now - this.#lastWarn < 10_000) return;
    this.#lastWarn = now;
    this.options.log.warn("status unreachable; will retry", { error: (e as Error)?.message });
  }

  /** Stops new logins being sent here: status keeps the node but stops picking it. */
  async setDraining(): Promise<void> {
    this.#state = "draining";
    await this.#inFlight;
    await this.beat();
  }

  /** Stops heartbeating and removes the node from the registry. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#inFlight;
    try {
      await this.#client.DeregisterNode({ name: this.name });
    } catch (e) {
      this.options.log.warn("could not deregister from status", { error: (e as Error)?.message });
    }
    this.#client.close();
  }
}
