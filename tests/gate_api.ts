/**
 * A small client for the gate's JSON API in cross-role tests, optionally
 * bound to a local address (127.0.0.2, 127.0.0.3...) so that a test can
 * act as two different sources, and the assertions those tests share.
 */
import assert from "node:assert/strict";
import type { SmtpCapture } from "../testing/mod.ts";

export interface Reply {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  json: any;
}

/** A tiny client for the gate's JSON API; from `localAddress` (e.g. 127.0.0.2) if given. */
export function gateApi(base: string, localAddress?: string) {
  const client = localAddress ? Deno.createHttpClient({ localAddress }) : undefined;
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(`${base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      client,
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : null };
  };
  return {
    base,
    call,
    close: () => client?.close(),
    code: (email: string, purpose = "register") =>
      call("POST", "/api/v1/codes", { email, purpose }),
    register: (body: Record<string, string>) => call("POST", "/api/v1/register", body),
    login: (login: string, password: string) => call("POST", "/api/v1/login", { login, password }),
    me: (token: string) => call("GET", "/api/v1/me", undefined, token),
    chatNode: (token: string) => call("POST", "/api/v1/session/chat-node", undefined, token),
  };
}
export type GateApi = ReturnType<typeof gateApi>;

export function expectError(r: Reply, status: number, code: string): void {
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.equal(r.json?.error?.code, code, JSON.stringify(r.json));
  assert.equal(typeof r.json.error.message, "string");
}

export function retryAfter(r: Reply): number {
  const v = Number(r.headers.get("retry-after"));
  assert.ok(v > 0, `Retry-After is ${r.headers.get("retry-after")}`);
  return v;
}

/** Requests a code and reads it from the mail that the verify role sent. */
export async function mailedCode(
  api: GateApi,
  smtp: SmtpCapture,
  email: string,
  purpose = "register",
) {
  const since = smtp.mails.length;
  const r = await api.code(email, purpose);
  assert.equal(r.status, 202, JSON.stringify(r.json));
  return await smtp.codeFor(email, { since });
}

/** Any 6-digit string other than `code`. */
export const wrongCode = (code: string) => code === "000000" ? "111111" : "000000";
