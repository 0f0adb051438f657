/**
 * A login racing a password change must not keep a valid token (issue 8,
 * item 3). Against MySQL: logins with the old password race a password
 * change, the change started before or after them, staggered so that some
 * logins read the old hash and sign only after the change committed. Every
 * login that read the old hash (it succeeded with the old password) must
 * have a token the gate and the chat node refuse; a login with the new
 * password must work.
 */
import assert from "node:assert/strict";
import { startServer } from "../main.ts";
import { LIMITS } from "../server/gate/limits.ts";
import { silentLogger } from "../server/log.ts";
import {
  connect,
  freshMysql,
  RequestError,
  sleep,
  startSmtp,
  tempDir,
  testConfig,
} from "../testing/mod.ts";
import { expectError, gateApi, mailedCode } from "./gate_api.ts";

const TRIALS = 10;
const LOGINS = 10;
/** Between one racing login and the next. */
const STAGGER_MS = 15;

interface Raced {
  status: number;
  token?: string;
  chatUrl?: string;
  /** When the reply arrived (ms since the trial began). */
  at: number;
}

Deno.test("every token from a login that read the old hash is refused after the password change, whichever started first", async () => {
  const dir = await tempDir();
  const smtp = await startSmtp();
  const db = await freshMysql();
  const config = testConfig({
    dataDir: dir.path,
    storeUrl: db.url,
    engineUrl: "memory:",
    smtpUrl: smtp.url,
    // Each racing login from its own source (X-Forwarded-For), so that the
    // gate's per-source limits on parallel tries do not refuse them first.
    gate: {
      trustProxy: true,
      limits: { ...LIMITS, loginsPerAccount: { limit: 10_000, windowMs: 3_600_000 } },
    },
  });
  const server = await startServer(config, silentLogger);
  const api = gateApi(`http://127.0.0.1:${server.handles.gate!.ports.http}`);
  const from = (ip: string) => ({ "content-type": "application/json", "x-forwarded-for": ip });
  const loginFrom = async (ip: string, password: string, t0: number): Promise<Raced> => {
    const res = await fetch(`${api.base}/api/v1/login`, {
      method: "POST",
      headers: from(ip),
      body: JSON.stringify({ login: "rae", password }),
    });
    const json = await res.json();
    return { status: res.status, token: json.token, chatUrl: json.chat_url, at: Date.now() - t0 };
  };
  try {
    const code = await mailedCode(api, smtp, "rae@example.com");
    let password = "password number 0";
    const reg = await api.register({ email: "rae@example.com", name: "rae", password, code });
    assert.equal(reg.status, 201, JSON.stringify(reg.json));

    let oldHashTokens = 0;
    let signedAfterChange = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const changeFirst = trial % 2 === 1;
      const next = `password number ${trial + 1}`;
      const own = await loginFrom("10.9.0.1", password, Date.now());
      assert.equal(own.status, 200);

      const t0 = Date.now();
      const change = (async () => {
        if (!changeFirst) await sleep(2 * STAGGER_MS);
        const r = await api.call("POST", "/api/v1/password/change", {
          old_password: password,
          new_password: next,
        }, own.token);
        return { status: r.status, at: Date.now() - t0 };
      })();
      const logins = Array.from({ length: LOGINS }, async (_, i) => {
        await sleep((changeFirst ? STAGGER_MS : 0) + i * STAGGER_MS);
        return await loginFrom(`10.9.${trial + 1}.${i + 1}`, password, t0);
      });
      const [changed, raced] = await Promise.all([change, Promise.all(logins)]);
      assert.equal(changed.status, 204, `trial ${trial}: the change answered ${changed.status}`);

      for (const r of raced) {
        // A login that read the new hash fails; one that read the old hash got a token.
        if (r.status === 401) continue;
        assert.equal(r.status, 200, `trial ${trial}: a racing login answered ${r.status}`);
        oldHashTokens++;
        if (r.at > changed.at) signedAfterChange++;
        expectError(await api.me(r.token!), 401, "token_revoked");
        expectError(await api.chatNode(r.token!), 401, "token_revoked");
        await assert.rejects(
          connect(r.chatUrl!, r.token!),
          (e: unknown) => e instanceof RequestError && e.code === "token_revoked",
        );
      }
      password = next;
      // The new password works, and its token holds.
      const fresh = await loginFrom("10.9.0.2", password, t0);
      assert.equal(fresh.status, 200);
      assert.equal((await api.me(fresh.token!)).status, 200);
    }
    // The race was run, not skipped: old-hash logins got tokens, some only after the change.
    assert.ok(oldHashTokens > 0, "no racing login read the old hash");
    assert.ok(
      signedAfterChange > 0,
      `no old-hash login was answered after the change (${oldHashTokens} old-hash tokens)`,
    );
    console.log(
      `${oldHashTokens} old-hash tokens in ${TRIALS} trials, ${signedAfterChange} answered ` +
        "after the change: all refused",
    );
  } finally {
    api.close();
    await server.close();
    await smtp.close();
    await db.drop();
    await dir.remove();
  }
});
