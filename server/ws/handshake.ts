/**
 * The server's side of the WebSocket opening handshake (RFC 6455 §4.2):
 * checks an upgrade request's headers, reads the offered subprotocols as
 * the list RFC 7230 §7 defines (commas with optional whitespace, empty
 * elements allowed, repeated headers joined), and builds the 101 headers.
 */

/** The headers of a 101 answer, or why the request is refused. */
export type Handshake =
  | { ok: true; accept: string; protocols: string[] }
  | { ok: false; status: 400 | 426; message: string; headers?: Record<string, string> };

const ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** A tchar run (RFC 7230 §3.2.6): what a subprotocol name is made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Base64 of 16 bytes. */
const KEY = /^[A-Za-z0-9+/]{22}==$/;

/** The elements of a comma-separated header list, trimmed; empty elements are skipped. */
function list(value: string | null): string[] {
  if (value === null) return [];
  return value.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

function hasToken(value: string | null, token: string): boolean {
  return list(value).some((v) => v.toLowerCase() === token);
}

/**
 * The subprotocols offered in `Sec-WebSocket-Protocol` (every occurrence of
 * the header, joined by commas), in order, or null if one is not a token.
 */
export function readProtocols(header: string | null): string[] | null {
  const offered = list(header);
  return offered.every((p) => TOKEN.test(p)) ? offered : null;
}

/** Checks an upgrade request (the caller checked the method and `Upgrade: websocket`). */
export async function readHandshake(headers: Headers): Promise<Handshake> {
  const refuse = (message: string): Handshake => ({ ok: false, status: 400, message });
  if (!hasToken(headers.get("upgrade"), "websocket")) {
    return refuse("the Upgrade header must name websocket");
  }
  if (!hasToken(headers.get("connection"), "upgrade")) {
    return refuse("the Connection header must include Upgrade");
  }
  const version = headers.get("sec-websocket-version")?.trim();
  if (version !== "13") {
    return {
      ok: false,
      status: 426,
      message: "only WebSocket version 13 is spoken here",
      headers: { "sec-websocket-version": "13" },
    };
  }
  const key = headers.get("sec-websocket-key")?.trim() ?? "";
  if (!KEY.test(key)) return refuse("Sec-WebSocket-Key must be 16 bytes in base64");
  const length = headers.get("content-length");
  if (headers.has("transfer-encoding") || (length !== null && length.trim() !== "0")) {
    return refuse("an upgrade request has no body");
  }
  const protocols = readProtocols(headers.get("sec-websocket-protocol"));
  if (protocols === null) {
    return refuse("Sec-WebSocket-Protocol must be a comma-separated list of tokens");
  }
  return { ok: true, accept: await acceptKey(key), protocols };
}

/** Sec-WebSocket-Accept for `key`: base64(SHA-1(key + GUID)). */
export async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(key + ACCEPT_GUID),
  );
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/** The headers of the 101 answer. */
export function switchingHeaders(accept: string, protocol?: string): Record<string, string> {
  return {
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-accept": accept,
    ...(protocol ? { "sec-websocket-protocol": protocol } : {}),
  };
}
