/**
 * Watching whether a peer's gRPC port takes connections: a bare channel (no
 * calls) whose connection state the status role follows to find a chat node
 * whose process died (server/status/liveness.ts).
 */
import "./h2_guard.ts";
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import { channelOptions, type TlsOptions } from "./grpc.ts";

export type PeerState = "idle" | "connecting" | "ready" | "failed";

const PEER_STATES: Record<grpc.connectivityState, PeerState> = {
  [grpc.connectivityState.IDLE]: "idle",
  [grpc.connectivityState.CONNECTING]: "connecting",
  [grpc.connectivityState.READY]: "ready",
  [grpc.connectivityState.TRANSIENT_FAILURE]: "failed",
  [grpc.connectivityState.SHUTDOWN]: "failed",
};

export interface PeerWatch {
  /** The connection's state now; asking starts a connection attempt when there is none. */
  state(): PeerState;
  /** Resolves with the state after `from` changes, or null if it did not within `ms`. */
  next(from: PeerState, ms: number): Promise<PeerState | null>;
  close(): void;
}

/**
 * A bare channel to `target` (no calls) whose connection state can be
 * watched: "ready" while an HTTP/2 connection is up, "failed" once a
 * connection attempt was refused or failed. For liveness checks.
 */
export function watchPeer(target: string, options: { tls?: TlsOptions | null } = {}): PeerWatch {
  const creds = options.tls
    ? grpc.credentials.createSsl(options.tls.ca ? Buffer.from(options.tls.ca) : null)
    : grpc.credentials.createInsecure();
  const channel = new grpc.Channel(target, creds, channelOptions());
  let closed = false;
  const raw = () => channel.getConnectivityState(true);
  return {
    state: () => (closed ? "failed" : PEER_STATES[raw()]),
    next(from, ms) {
      if (closed) return Promise.resolve(null);
      const now = raw();
      if (PEER_STATES[now] !== from) return Promise.resolve(PEER_STATES[now]);
      return new Promise((resolve) => {
        channel.watchConnectivityState(now, Date.now() + ms, (err) => {
          resolve(err || closed ? null : PEER_STATES[channel.getConnectivityState(false)]);
        });
      });
    },
    close() {
      closed = true;
      channel.close();
    },
  };
}
