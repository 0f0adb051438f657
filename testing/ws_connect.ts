/**
 * Opening an authenticated test client in one call (`connect()`), and the
 * small helpers tests share with it.
 */
import type { WireMessage } from "../proto/protocol.ts";
import {
  AUTH_PREFIX,
  type AuthFields,
  ChatClient,
  type InboxOptions,
  SUBPROTOCOL,
} from "./ws_client.ts";

export interface ConnectOptions extends AuthFields {
  /** How the token travels: an `auth` frame (default) or the `parley.auth.<token>` subprotocol. */
  via?: "frame" | "subprotocol";
  /** Ping at the interval the welcome advertises (default true). */
  ping?: boolean;
  timeoutMs?: number;
  inbox?: InboxOptions;
}

/** A message as msg.history shows it: without the inbox seq a push or a result carries. */
export function withoutSeq({ seq: _, ...m }: WireMessage): WireMessage {
  return m;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Opens a socket at `url`, authenticates with `token` and resolves with the
 * client once the welcome arrived; pings at the advertised interval.
 */
export async function connect(
  url: string,
  token: string,
  options: ConnectOptions = {},
): Promise<ChatClient> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const bySubprotocol = options.via === "subprotocol";
  const client = await ChatClient.open(url, {
    protocols: bySubprotocol ? [SUBPROTOCOL, AUTH_PREFIX + token] : [SUBPROTOCOL],
    timeoutMs,
    inbox: options.inbox,
  });
  const fields: AuthFields = {};
  if (options.device !== undefined) fields.device = options.device;
  if (options.label !== undefined) fields.label = options.label;
  if (options.quiet !== undefined) fields.quiet = options.quiet;
  try {
    const welcome = bySubprotocol
      ? await client.awaitWelcome(timeoutMs)
      : await client.auth(token, timeoutMs, fields);
    if (options.ping ?? true) client.startPinging(Math.max(200, welcome.heartbeat_ms / 2));
    return client;
  } catch (e) {
    await client.close();
    throw e;
  }
}
