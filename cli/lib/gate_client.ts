/**
 * A client for the gate's HTTP API (`/api/v1/...`): codes, register, login,
 * logout, password reset and change, profile, and a chat node for a token. A failed call throws the
 * gate's error as an AppError with its stable code, the HTTP status and
 * Retry-After; a gate that cannot be reached throws `gate_unreachable`.
 */
import { AppError } from "../../proto/errors.ts";
import type {
  ChatNodeReply,
  CodePurpose,
  CodeReply,
  LoginReply,
  SelfUser,
} from "../../proto/http.ts";

export type { ChatNodeReply, CodePurpose, CodeReply, LoginReply } from "../../proto/http.ts";

export class GateClient {
  readonly base: string;

  constructor(server: string, private readonly token?: string) {
    this.base = server.replace(/\/+$/, "");
  }

  requestCode(email: string, purpose: CodePurpose): Promise<CodeReply> {
    return this.call("POST", "/api/v1/codes", { email, purpose });
  }

  register(body: { email: string; name: string; password: string; code: string }) {
    return this.call<{ user: SelfUser }>("POST", "/api/v1/register", body);
  }

  /** Whether a user name is free (names are public; checked before a code is mailed). */
  nameAvailable(name: string): Promise<{ available: boolean }> {
    return this.call("GET", `/api/v1/names/${encodeURIComponent(name)}`);
  }

  login(login: string, password: string): Promise<LoginReply> {
    return this.call("POST", "/api/v1/login", { login, password });
  }

  async logout(): Promise<void> {
    await this.call("POST", "/api/v1/logout");
  }

  async resetPassword(email: string, code: string, newPassword: string): Promise<void> {
    await this.call("POST", "/api/v1/password/reset", { email, code, new_password: newPassword });
  }

  async changePassword(oldPassword: string, newPassword: string): Promise<void> {
    await this.call("POST", "/api/v1/password/change", {
      old_password: oldPassword,
      new_password: newPassword,
    });
  }

  me(): Promise<{ user: SelfUser }> {
    return this.call("GET", "/api/v1/me");
  }

  /** A live chat node for this client's token: to reconnect without the password. */
  chatNode(): Promise<ChatNodeReply> {
    return this.call("POST", "/api/v1/session/chat-node");
  }

  updateMe(patch: { display_name?: string; bio?: string }): Promise<{ user: SelfUser }> {
    return this.call("PATCH", "/api/v1/me", patch);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (e) {
      const why = e instanceof DOMException && e.name === "TimeoutError"
        ? "no answer within 15 s"
        : (e as Error).message.replace(/^error sending request for url \([^)]*\): /, "");
      throw new AppError("gate_unreachable", `cannot reach ${this.base}: ${why}`, 503);
    }
    const text = await res.text();
    if (res.ok) return (text ? JSON.parse(text) : {}) as T;
    let code = `http_${res.status}`;
    let message = res.statusText || `HTTP ${res.status}`;
    try {
      const err = JSON.parse(text)?.error;
      if (typeof err?.code === "string") code = err.code;
      if (typeof err?.message === "string") message = err.message;
    } catch { /* not JSON: keep the HTTP status */ }
    const retry = Number(res.headers.get("retry-after"));
    throw new AppError(
      code,
      message,
      res.status,
      Number.isFinite(retry) && retry > 0 ? retry : undefined,
    );
  }
}

/** A time the gate sent (Unix ms or an ISO string) as Unix ms. */
export function toMs(t: number | string): number {
  return typeof t === "number" ? t : Date.parse(t);
}
