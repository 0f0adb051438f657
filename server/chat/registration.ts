/**
 * This chat node's registration with the status role: RegisterNode at start
 * (retried from ~100 ms with backoff until it lands, so a cluster started
 * all at once is complete within a second of status listening), a Heartbeat
 * with the session count every nodeTtl/3 (registering again at once when
 * status has forgotten the node), state "draining" during a drain,
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

/** First retry of a failed registration, doubled each time up to REGISTER_MAX_MS. */
export const REGISTER_FIRST_MS = 100;
export const REGISTER_MAX_MS = 400;

export class NodeRegistration {
  #client: RpcClient<StatusMethods>;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #state: "up" | "draining" = "up";
  #registered = false;
  #stopped = false;
  #inFlight: Promise<void> | null = null;
  #startedAt = Date.now();
  #lastWarn = 0;
  /** After the first try: registration calls wait for the channel to connect (see #register). */
  #waitForStatus = false;

  constructor(readonly options: RegistrationOptions) {
    this.#client = options.status;
  }

  get name(): string {
    return this.options.config.chat.name;
  }

  /** Tries to register once now, then keeps trying (fast) and heartbeating in the background. */
  async start(): Promise<void> {
    await this.beat();
    this.#waitForStatus = true;
    this.#schedule(REGISTER_FIRST_MS);
  }

  #schedule(retryMs: number): void {
    if (this.#stopped) return;
    const every = Math.max(200, Math.floor(this.options.config.status.nodeTtlMs / 3));
    this.#timer = setTimeout(async () => {
      await this.beat();
      // Not registered yet: try again soon, with backoff; else heartbeat on schedule.
      this.#schedule(this.#registered ? REGISTER_FIRST_MS : Math.min(retryMs * 2, REGISTER_MAX_MS));
    }, this.#registered ? every : retryMs);
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
    // Retries wait for the channel, so the call goes out the moment status
    // listens (the channel reconnects every 0.5 s at most); the first try at
    // start fails fast, so a node starts as quickly without status.
    await this.#client.RegisterNode({
      name: this.name,
      ws_url: wsUrl,
      grpc_addr: grpcAddr,
      sessions: sessions(),
      started_at_ms: this.#startedAt,
      state: this.#state,
    }, { waitForReady: this.#waitForStatus, deadlineMs: 1000 });
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
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#inFlight;
    try {
      await this.#client.DeregisterNode({ name: this.name });
    } catch (e) {
      this.options.log.warn("could not deregister from status", { error: (e as Error)?.message });
    }
    this.#client.close();
  }
}
