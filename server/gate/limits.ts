/**
 * The gate's rate limits, all kept in the engine so every gate replica
 * counts together:
 * - code requests: per client IP per hour, and per e-mail per day (on top of
 *   verify's one-per-minute rule), so a code cannot be brute-forced by
 *   asking for fresh ones;
 * - failed logins: per account and per client IP, in a fixed window; only
 *   failures count, so a household behind one NAT can still log in, and a
 *   success clears the account's count.
 * Each refusal is AppError rate_limited (429) with the seconds to wait.
 */
import { AppError } from "../../proto/errors.ts";
import type { GateLimits } from "../config.ts";
import { type Engine, hit } from "../engine/mod.ts";

/** The defaults; config fields gate.codesPerIpPerHour etc. override them. */
export const LIMITS: GateLimits = {
  codesPerIp: { limit: 20, windowMs: 60 * 60_000 },
  codesPerEmail: { limit: 10, windowMs: 24 * 60 * 60_000 },
  loginFailuresPerAccount: { limit: 10, windowMs: 15 * 60_000 },
  loginFailuresPerIp: { limit: 50, windowMs: 15 * 60_000 },
};
export type Limits = GateLimits;

export function rateLimited(retryAfterMs: number, what: string): AppError {
  const s = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new AppError("rate_limited", `too many ${what}; try again in ${s} s`, 429, s);
}

/** Counts a code request from `ip` for `email`; throws rate_limited past either limit. */
export async function limitCodeRequest(
  engine: Engine,
  ip: string,
  email: string,
  limits: Limits = LIMITS,
): Promise<void> {
  const byIp = await hit(engine, `gate:codes:ip:${ip}`, limits.codesPerIp);
  if (!byIp.allowed) throw rateLimited(byIp.retryAfterMs, "code requests from this address");
  const byEmail = await hit(engine, `gate:codes:email:${email}`, limits.codesPerEmail);
  if (!byEmail.allowed) throw rateLimited(byEmail.retryAfterMs, "code requests for this e-mail");
}

/**
 * Failed logins of one account or one IP. Keyed by user id when the login
 * names a user and by the login text when it does not, so an unknown login
 * is limited exactly like a known one and reveals nothing.
 */
export class LoginFailures {
  constructor(readonly engine: Engine, readonly limits: Limits = LIMITS) {}

  static account(user: { id: number } | null, login: string): string {
    return user ? `uid:${user.id}` : `login:${login.toLowerCase()}`;
  }

  #keys(account: string, ip: string) {
    return {
      account: `gate:login_fail:${account}`,
      ip: `gate:login_fail:ip:${ip}`,
    };
  }

  /** Throws rate_limited if the account or the IP has used up its failures; counts nothing. */
  async check(account: string, ip: string): Promise<void> {
    const keys = this.#keys(account, ip);
    const [forAccount, forIp] = await this.engine.mget([keys.account, keys.ip]);
    if (Number(forAccount) >= this.limits.loginFailuresPerAccount.limit) {
      throw rateLimited(await this.#left(keys.account), "failed logins for this account");
    }
    if (Number(forIp) >= this.limits.loginFailuresPerIp.limit) {
      throw rateLimited(await this.#left(keys.ip), "failed logins from this address");
    }
  }

  async fail(account: string, ip: string): Promise<void> {
    const keys = this.#keys(account, ip);
    await Promise.all([
      this.engine.incr(keys.account, this.limits.loginFailuresPerAccount.windowMs),
      this.engine.incr(keys.ip, this.limits.loginFailuresPerIp.windowMs),
    ]);
  }

  /** After a success (or a password reset) the account starts afresh; the IP does not. */
  async clear(account: string): Promise<void> {
    await this.engine.del(this.#keys(account, "").account);
  }

  async #left(key: string): Promise<number> {
    const ms = await this.engine.pttl(key);
    return ms > 0 ? ms : 1000;
  }
}
