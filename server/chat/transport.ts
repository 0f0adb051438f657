/**
 * The WebSocket adapter, and the only chat module that touches a socket:
 * answers an upgrade request (server/ws/handshake.ts), negotiates the
 * `parley.v1` subprotocol, reads the optional `parley.auth.<token>` one, and
 * binds the socket (server/ws/socket.ts, frames refused by their header
 * beyond MAX_FRAME_BYTES) to the runtime-neutral `Conn` the sessions talk to.
 */
import { AUTH_SUBPROTOCOL_PREFIX, MAX_FRAME_BYTES, SUBPROTOCOL } from "../../proto/protocol.ts";
import { Upgrade } from "../http1.ts";
import { readHandshake, readProtocols, switchingHeaders } from "../ws/handshake.ts";
import { ServerSocket, type SocketEvents } from "../ws/socket.ts";

/** What a session may do with its socket. */
export interface Conn {
  send(text: string): void;
  close(code: number, reason: string): void;
  /** Bytes sent but not yet written to the network (a client that does not read). */
  buffered(): number;
  /** Stop reading the client's frames until `resume()` (frames read are waiting to be handled). */
  pause(): void;
  resume(): void;
}

/** What the transport tells a session. */
export interface ConnEvents {
  onOpen(): void;
  onText(text: string): void;
  /**
   * A binary frame (the protocol has none), with its size in bytes; also a
   * frame of either kind over MAX_FRAME_BYTES, with the size it announced:
   * nothing of it was read, and the socket closes with 1009 after this call.
   */
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
  const offered = readProtocols(header) ?? [];
  const auth = offered.find((p) => p.startsWith(AUTH_SUBPROTOCOL_PREFIX));
  const token = auth ? auth.slice(AUTH_SUBPROTOCOL_PREFIX.length) || null : null;
  // Answer with parley.v1 when offered; a client that offered nothing is let in too.
  return { protocol: offered.includes(SUBPROTOCOL) ? SUBPROTOCOL : undefined, token };
}

/** A Conn over a ServerSocket, and the socket's listener (one small object per socket). */
class SocketConn implements Conn, SocketEvents {
  events!: ConnEvents;

  constructor(readonly socket: ServerSocket) {}

  send(text: string): void {
    this.socket.send(text);
  }

  buffered(): number {
    return this.socket.buffered;
  }

  close(code: number, reason: string): void {
    this.socket.close(code, reason);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  text(text: string): void {
    this.events.onText(text);
  }

  binary(bytes: number): void {
    this.events.onBinary(bytes);
  }

  tooBig(bytes: number): void {
    this.events.onBinary(bytes);
  }

  closed(code: number): void {
    this.events.onClose(code);
  }
}

/** Why an upgrade request was refused: the HTTP status, headers and a message for the body. */
export interface Refusal {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

/**
 * Answers an upgrade request: a Refusal, or an Upgrade that opens the
 * socket and wires it to the events `create` returns for its `Conn`. The
 * caller checked the method and the path.
 */
export async function upgrade(
  req: Request,
  create: (conn: Conn, info: UpgradeInfo) => ConnEvents,
): Promise<Refusal | Upgrade> {
  const handshake = await readHandshake(req.headers);
  if (!handshake.ok) return handshake;
  const { protocol, token } = readSubprotocols(req.headers.get("sec-websocket-protocol"));
  return new Upgrade(switchingHeaders(handshake.accept, protocol), (raw, head) => {
    const socket = new ServerSocket(raw, head, { maxMessage: MAX_FRAME_BYTES });
    const conn = new SocketConn(socket);
    conn.events = create(conn, { token });
    conn.events.onOpen();
    socket.start(conn);
  });
}
