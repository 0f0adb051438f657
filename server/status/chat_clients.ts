/**
 * One gRPC client per chat node address, kept and reused (each holds one
 * HTTP/2 channel), and closed together when the status role stops.
 */
import type { RpcClient } from "../../proto/grpc.ts";
import type { ChatNodeMethods } from "../../proto/services.ts";

export interface ChatClients {
  get(grpcAddr: string): RpcClient<ChatNodeMethods>;
  /** Closes the clients of addresses not in `addrs` (nodes that left). */
  retain(addrs: Set<string>): void;
  closeAll(): void;
}

/** `dial` makes the client of one address (the plane's: cluster secret, deadline, in-process). */
export function chatClients(dial: (grpcAddr: string) => RpcClient<ChatNodeMethods>): ChatClients {
  const clients = new Map<string, RpcClient<ChatNodeMethods>>();
  return {
    get(addr) {
      let c = clients.get(addr);
      if (!c) {
        c = dial(addr);
        clients.set(addr, c);
      }
      return c;
    },
    retain(addrs) {
      for (const [addr, c] of clients) {
        if (!addrs.has(addr)) {
          c.close();
          clients.delete(addr);
        }
      }
    },
    closeAll() {
      for (const c of clients.values()) c.close();
      clients.clear();
    },
  };
}
