/**
 * The two gate calls of inbox_client.ts (docs/protocol.md §1 and §11):
 * login with the password, and a live chat node for a token it holds.
 */
import type { Frame } from "./inbox_conn.ts";

/** A refused or failed gate call: the HTTP status (0: no answer) and its Retry-After. */
export class GateError extends Error {
  override name = "GateError";
  constructor(readonly status: number, readonly retryAfterMs: number, message: string) {
    super(`gate ${status}: ${message}`);
  }
}

/** POSTs `body` (with the bearer `token`) to the gate; resolves with the JSON answer. */
export async function gate(
  base: string,
  path: string,
  o: { body?: unknown; token?: string },
): Promise<Frame> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers,
    body: JSON.stringify(o.body ?? {}),
  }).catch((e) => {
    throw new GateError(0, 0, String(e));
  });
  const text = await res.text();
  if (!res.ok) {
    throw new GateError(res.status, Number(res.headers.get("retry-after") ?? 0) * 1000, text);
  }
  return JSON.parse(text);
}
