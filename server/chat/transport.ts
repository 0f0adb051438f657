/**
 * The WebSocket adapter, and the only module that touches a socket: binds
 * `Deno.upgradeWebSocket` to the runtime-neutral `Conn` the sessions talk
 * to, negotiates the `parley.v1` subprotocol and reads the optional
 * `parley.auth.<token>` one.
 */
import { AUTH_SUBPROTOCOL_PREFIX, SUBPROTOCOL } from "../../proto/protocol.ts";

/** What a session may do with its socket. */
export interface Conn {
  send(text: string): void;
  close(code: number, reason: string): void;
  /** Bytes sent but not yet written to the network (a client that does not read). */
  buffered(): number;
}

/** What the transport tells a session. */
export interface ConnEvents {
  onOpen(): void;
  onText(text: string): void;
  /** A binary frame (the protocol has none), with its size in bytes. */
  onBinary(bytes: number): void;
  onClose(code: number): void;
}

export interface UpgradeInfo {
  /** The token offered as a `parley.auth.<token>` subprotocol, if any. */
  token: string | null;
}

/** The offered subprotocols: the one to answer with, and the token if one carries it. */
export function readSubprotocols(
  header: string | null,
): { protocol?: string; token: string | null } {
  const offered = (header ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const auth = offered.find((p) => p.startsWith(AUTH_SUBPROTOCOL_PREFIX));
  const token = auth ? auth.slice(AUTH_SUBPROTOCOL_PREFIX.length) || null : null;
  // Answer with parley.v1 when offered; a client that offered nothing is let in too.
  return { protocol: offered.includes(SUBPROTOCOL) ? SUBPROTOCOL : undefined, token };
}

/** A Conn over a Deno WebSocket (a class, not closures: one small object per socket). */
class SocketConn implements Conn, EventListenerObject {
  events: ConnEvents | undefined;

  constructor(readonly socket: WebSocket) {}

  handleEvent(e: Event): void {
    const events = this.events!;
    switch (e.type) {
      case "open":
        return events.onOpen();
      case "message": {
        const data = (e as MessageEvent).data;
        if (typeof data === "string") return events.onText(data);
        return events.onBinary((data as ArrayBuffer).byteLength ?? 0);
      }
      case "close":
        return events.onClose((e as CloseEvent).code);
        // An error (e.g. invalid UTF-8) is always followed by a close event.
    }
  }

  send(text: string): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    try {
      this.socket.send(text);
    } catch { /* closed meanwhile: the close event follows */ }
  }

  buffered(): number {
    return this.socket.bufferedAmount;
  }

  close(code: number, reason: string): void {
    const state = this.socket.readyState;
    if (state === WebSocket.CLOSING || state === WebSocket.CLOSED) return;
    try {
      this.socket.close(code, reason.slice(0, 120));
    } catch { /* already closing */ }
  }
}

/**
 * Upgrades `req` to a WebSocket and wires it to the events `create` returns
 * for the new connection's `Conn`. The caller checked that `req` is an upgrade.
 */
export function upgrade(
  req: Request,
  create: (conn: Conn, info: UpgradeInfo) => ConnEvents,
): Response {
  const { protocol, token } = readSubprotocols(req.headers.get("sec-websocket-protocol"));
  // idleTimeout 0: liveness is the protocol's own heartbeat (pings from the client).
  const { socket, response } = Deno.upgradeWebSocket(req, { protocol, idleTimeout: 0 });
  socket.binaryType = "arraybuffer";
  const conn = new SocketConn(socket);
  conn.events = create(conn, { token });
  // The conn itself listens (handleEvent): no closures per socket.
  for (const type of ["open", "message", "error", "close"]) socket.addEventListener(type, conn);
  return response;
}
