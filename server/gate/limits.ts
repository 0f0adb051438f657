/**
 * The gate's rate limits, kept in the engine so every gate replica counts
 * together. They follow what large providers do: count per (account,
 * source) as well as per account, slow a guesser down instead of locking
 * the owner out, and answer the same whether or not an account exists.
 *
 * A source is the client's IP address; IPv6 addresses count per /64, the
 * block one subscriber usually holds (so rotating within it gains nothing).
 *
 * - Failed logins raise a delay for that (login, source) pair: the first
 *   FREE_FAILURES are free (typos), then 1 s, 2 s, 4 s ... up to 15 min
 *   before the next try from that source. A login that many sources fail
 *   on (a distributed guesser) loses the free tries: each failing source
 *   waits at least a minute, doubling. A source that has not failed on that
 *   login is never refused for it, so the owner logs in from their own
 *   network while someone else guesses elsewhere. Failures are counted by
 *   the login as typed (name or e-mail, lower-cased), whether or not an
 *   account has it: the delays cannot tell an unknown login from a known one,
 *   nor link an account's name to its e-mail.
 * - A source that fails on many logins (spraying) is refused for the rest
 *   of its window; every login attempt from a source counts against a
 *   per-minute cap, before the password is hashed, so a flood costs no CPU.
 * - Successful logins per account are capped (only someone with the
 *   password ever sees that answer).
 * - Code requests: one per minute per (address, purpose, source), a daily
 *   quota per (address, source) below the address's daily quota, and an
 *   hourly quota per source. Only a request that passes the per-source
 *   checks counts against the address, so one source cannot use up an
 *   address's quota, and the owner can still get a code from another.
 * - Password resets per source, chat-node lookups per user.
 *
 * Each refusal is AppError rate_limited (429) with the seconds to wait.
 */
import { AppError } from "../../proto/errors.ts";
import { CODE_RULES, type CodePurpose } from "../../proto/http.ts";
import type { GateLimits } from "../config.ts";
import { type Engine, hit, unhit } from "../engine/mod.ts";

/** The defaults; the gate.* fields of the config file override the limits. */
export const LIMITS: GateLimits = {
  codesPerIp: { limit: 20, windowMs: 60 * 60_000 },
  codesPerEmail: { limit: 10, windowMs: 24 * 60 * 60_000 },
  codesPerEmailPerIp: { limit: 3, windowMs: 24 * 60 * 60_000 },
  loginFailuresPerAccount: { limit: 10, windowMs: 15 * 60_000 },
  loginFailuresPerIp: { limit: 50, windowMs: 15 * 60_000 },
  loginsPerIp: { limit: 60, windowMs: 60_000 },
  loginsPerAccount: { limit: 30, windowMs: 60 * 60_000 },
  resetsPerIp: { limit: 30, windowMs: 60 * 60_000 },
  chatNodePerUser: { limit: 30, windowMs: 60_000 },
};
export type Limits = GateLimits;

/** Failures of one login from one source that cost nothing (typos). */
export const FREE_FAILURES = 3;
/** How long a (login, source) pair remembers its failures. */
export const FAILURE_MEMORY_MS = 60 * 60_000;
const MAX_DELAY_MS = 15 * 60_000;
/** The least wait after a failure on a login that many sources fail on. */
const HOT_DELAY_MS = 60_000;

export function rateLimited(retryAfterMs: number, what: string): AppError {
  const s = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new AppError("rate_limited", `too many ${what}; try again in ${s} s`, 429, s);
}

/** The source a limit counts: the IP, or its /64 for IPv6. */
export function sourceOf(ip: string): string {
  const v4 = /^(?:::ffff:)?(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (v4) return v4[1];
  if (!ip.includes(":")) return ip;
  const [head, tail = ""] = ip.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = ip.includes("::")
    ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right]
    : left;
  return groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":") + "::/64";
}

/**
 * The wait before the next try after the `n`th failure of a login from one
 * source, when the login has failed `total` times from all sources.
 */
export function failureDelayMs(n: number, total: number, limits: Limits = LIMITS): number {
  const own = n <= FREE_FAILURES ? 0 : 1000 * 2 ** (n - FREE_FAILURES - 1);
  const hot = total >= limits.loginFailuresPerAccount.limit ? HOT_DELAY_MS * 2 ** (n - 1) : 0;
  return Math.min(MAX_DELAY_MS, Math.max(own, hot));
}

async function leftMs(engine: Engine, key: string, fallback: number): Promise<number> {
  const ms = await engine.pttl(key);
  return ms > 0 ? ms : fallback;
}

/**
 * Logins: the delays and caps above, around one password check. Each try
 * is admitted before the password is checked and counted as a failure
 * until it succeeds, so a burst of parallel guesses gets no more tries
 * than the same guesses one after the other.
 */
export class LoginLimits {
  constructor(readonly engine: Engine, readonly limits: Limits = LIMITS) {}

  /** The login as typed, for counting: the same for a known and an unknown one. */
  static account(login: string): string {
    return `login:${login.trim().toLowerCase()}`;
  }

  #keys(account: string, ip: string) {
    const src = sourceOf(ip);
    return {
      pairTries: `gate:login:tries:${account}|${src}`,
      pairWait: `gate:login:wait:${account}|${src}`,
      accountFails: `gate:login:fail:${account}`,
      sourceFails: `gate:login:fail_src:${src}`,
      sourceTries: `gate:login:try:${src}`,
    };
  }

  /**
   * Before the password is checked: counts the try against the source and
   * the (login, source) pair, and throws rate_limited if the pair must
   * still wait, or the source has failed or tried too often. The wait
   * that this try earns if it fails starts now (a success clears it).
   */
  async admit(account: string, ip: string): Promise<void> {
    const k = this.#keys(account, ip);
    const tries = await hit(this.engine, k.sourceTries, this.limits.loginsPerIp);
    if (!tries.allowed) throw rateLimited(tries.retryAfterMs, "logins from this address");
    const [wait, sourceFails, accountFails] = await this.engine.mget([
      k.pairWait,
      k.sourceFails,
      k.accountFails,
    ]);
    if (wait !== null) throw await this.#mustWait(k.pairWait);
    if (Number(sourceFails) >= this.limits.loginFailuresPerIp.limit) {
      const ms = await leftMs(this.engine, k.sourceFails, this.limits.loginFailuresPerIp.windowMs);
      throw rateLimited(ms, "failed logins from this address");
    }
    const { value: n } = await this.engine.incr(k.pairTries, FAILURE_MEMORY_MS);
    const delay = failureDelayMs(n, Number(accountFails), this.limits);
    // NX: of parallel tries past the free ones, only the first gets through.
    if (delay > 0 && !await this.engine.set(k.pairWait, String(n), { ttlMs: delay, nx: true })) {
      await this.engine.incr(k.pairTries, FAILURE_MEMORY_MS, -1);
      throw await this.#mustWait(k.pairWait);
    }
  }

  async #mustWait(key: string): Promise<AppError> {
    return rateLimited(await leftMs(this.engine, key, 1000), "failed logins");
  }

  /** A wrong password (or unknown login): counted against the login and the source. */
  async fail(account: string, ip: string): Promise<void> {
    const k = this.#keys(account, ip);
    await Promise.all([
      this.engine.incr(k.accountFails, this.limits.loginFailuresPerAccount.windowMs),
      this.engine.incr(k.sourceFails, this.limits.loginFailuresPerIp.windowMs),
    ]);
  }

  /**
   * The right password: forgets this pair's tries, and counts the login
   * against the account's cap (rate_limited past it). The login's own
   * failure count stays, so sources that keep failing stay slowed.
   */
  async succeed(account: string, ip: string, userId: number): Promise<void> {
    await this.forget(account, ip);
    const ok = await hit(this.engine, `gate:login:ok:${userId}`, this.limits.loginsPerAccount);
    if (!ok.allowed) throw rateLimited(ok.retryAfterMs, "logins to this account");
  }

  /** Forgets the tries of (login, source): after a success or a password reset there. */
  async forget(account: string, ip: string): Promise<void> {
    const k = this.#keys(account, ip);
    await Promise.all([this.engine.del(k.pairTries), this.engine.del(k.pairWait)]);
  }
}

/**
 * Admits a code request for (email, purpose) from `ip`, or throws
 * rate_limited. The per-minute rule is checked first and counts nothing;
 * the address's own quota is counted last, only for a request that every
 * per-source limit let through.
 */
export async function admitCodeRequest(
  engine: Engine,
  ip: string,
  email: string,
  purpose: CodePurpose,
  limits: Limits = LIMITS,
): Promise<{ release(): Promise<void> }> {
  const src = sourceOf(ip);
  const block = `gate:code_block:${purpose}:${email}|${src}`;
  const recent = await engine.pttl(block);
  if (recent > 0 || recent === -1) throw sentRecently(recent);
  const counted: [string, { windowMs: number }][] = [
    [`gate:codes:ip:${src}`, limits.codesPerIp],
    [`gate:codes:pair:${email}|${src}`, limits.codesPerEmailPerIp],
    [`gate:codes:email:${email}`, limits.codesPerEmail],
  ];
  const byIp = await hit(engine, `gate:codes:ip:${src}`, limits.codesPerIp);
  if (!byIp.allowed) throw rateLimited(byIp.retryAfterMs, "code requests from this address");
  const pair = await hit(engine, `gate:codes:pair:${email}|${src}`, limits.codesPerEmailPerIp);
  if (!pair.allowed) {
    throw rateLimited(pair.retryAfterMs, "code requests for this e-mail from this address");
  }
  const byEmail = await hit(engine, `gate:codes:email:${email}`, limits.codesPerEmail);
  if (!byEmail.allowed) throw rateLimited(byEmail.retryAfterMs, "code requests for this e-mail");
  const ttlMs = CODE_RULES.resendAfterS * 1000;
  if (!await engine.set(block, "1", { ttlMs, nx: true })) {
    throw sentRecently(await engine.pttl(block));
  }
  // A code that could not be sent (verify or mail down) must neither hold
  // the owner's next try back for a minute nor count against any quota.
  let released: Promise<void> | null = null;
  return {
    release: () =>
      released ??= Promise.all([
        engine.del(block),
        ...counted.map(([key, window]) => unhit(engine, key, window)),
      ]).then(() => {}, () => {}),
  };
}

/** The answer to a second code request within the minute, with verify's wording. */
export function sentRecently(leftMs: number): AppError {
  const s = leftMs > 0 ? Math.ceil(leftMs / 1000) : 1;
  return new AppError(
    "rate_limited",
    `a code was sent to this address recently; try again in ${s} s`,
    429,
    s,
  );
}

/** Password reset attempts from `ip`. */
export async function admitReset(engine: Engine, ip: string, limits: Limits = LIMITS) {
  const r = await hit(engine, `gate:resets:ip:${sourceOf(ip)}`, limits.resetsPerIp);
  if (!r.allowed) throw rateLimited(r.retryAfterMs, "password resets from this address");
}

/** Chat-node lookups by one user (a reconnecting client needs a few). */
export async function admitChatNode(engine: Engine, userId: number, limits: Limits = LIMITS) {
  const r = await hit(engine, `gate:chat_node:${userId}`, limits.chatNodePerUser);
  if (!r.allowed) throw rateLimited(r.retryAfterMs, "chat node requests");
}
