/**
 * The gate under attack, as an attacker would do it: floods of wrong
 * passwords and code requests from one source (a client bound to
 * 127.0.0.2) while the owner acts from another (127.0.0.3), probes for
 * which e-mails have accounts, floods of successful calls, bidi controls in
 * a profile, and a frozen Redis. All four roles run in one process on
 * SQLite and the memory engine (a private redis-server for the freeze),
 * with mail to a real SMTP capture.
 */
import assert from "node:assert/strict";
import { randomBytes, scryptSync } from "node:crypto";
import { startServer } from "../main.ts";
import { memoryLogger, type SmtpCapture, startSmtp, tempDir, testConfig } from "../testing/mod.ts";
import { silentLogger } from "../server/log.ts";
import { openStore } from "../server/store/mod.ts";
import { LIMITS } from "../server/gate/limits.ts";
import { haveRedisServer, startRedisServer } from "../server/engine/_redis_servers.ts";
import {
  expectError,
  type GateApi,
  gateApi,
  mailedCode,
  retryAfter,
  wrongCode,
} from "./gate_api.ts";

/** Caps low enough to reach in a test; the rest are the defaults. */
const TEST_LIMITS = {
  ...LIMITS,
  loginsPerAccount: { limit: 3, windowMs: 60 * 60_000 },
  chatNodePerUser: { limit: 3, windowMs: 60_000 },
  resetsPerIp: { limit: 5, windowMs: 60 * 60_000 },
};

async function register(api: GateApi, smtp: SmtpCapture, name: string, password: string) {
  const email = `${name}@example.com`;
  const code = await mailedCode(api, smtp, email);
  const r = await api.register({ email, name, password, code });
  assert.equal(r.status, 201, JSON.stringify(r.json));
}

/** What a client can see of an answer, but the exact seconds to wait. */
const seen = (r: { status: number; json: unknown; headers: Headers }) =>
  JSON.stringify([r.status, r.json, r.headers.has("retry-after")]);

Deno.test("the gate holds against floods from one source while the owner acts from another", async (t) => {
  const [dir, smtp] = await Promise.all([tempDir(), startSmtp()]);
  const config = testConfig({
    dataDir: dir.path,
    storeUrl: `sqlite:${dir.path}/parley.db`,
    engineUrl: "memory:",
    smtpUrl: smtp.url,
    gate: { limits: TEST_LIMITS },
  });
  const server = await startServer(config, memoryLogger().log);
  const base = `http://127.0.0.1:${server.handles.gate!.ports.http}`;
  const api = gateApi(base);
  const attacker = gateApi(base, "127.0.0.2");
  const owner = gateApi(base, "127.0.0.3");
  try {
    await register(api, smtp, "ann", "ann's password");

    await t.step("wrong passwords from one source never lock the owner out", async () => {
      const flood = await Promise.all(
        Array.from({ length: 30 }, (_, i) => attacker.login("ann", `guess ${i}`)),
      );
      const slowed = flood.filter((r) => r.status === 429);
      assert.ok(slowed.length >= 20, `only ${slowed.length} of 30 guesses were slowed`);
      for (const r of slowed) {
        expectError(r, 429, "rate_limited");
        retryAfter(r);
      }
      for (const r of flood.filter((r) => r.status !== 429)) {
        expectError(r, 401, "invalid_credentials");
      }
      // The owner, from their own network, at once, by name and by e-mail.
      assert.equal((await owner.login("ann", "ann's password")).status, 200);
      assert.equal((await owner.login("ann@example.com", "ann's password")).status, 200);
    });

    await t.step("a guessed-at account's e-mail answers like an unknown e-mail", async () => {
      const probe = gateApi(base, "127.0.0.5");
      try {
        const answers = async (login: string) => {
          const out = [];
          for (let i = 0; i < 6; i++) out.push(seen(await probe.login(login, `guess ${i}`)));
          return out;
        };
        const known = await answers("ann@example.com");
        const unknown = await answers("ghost@example.com");
        assert.deepEqual(known, unknown);
        assert.match(known[0], /invalid_credentials/);
        assert.match(known[5], /rate_limited/);
      } finally {
        probe.close();
      }
    });

    await t.step("an unknown login costs a password hash, like a known one", async () => {
      // Alternating, each from its own source so that no delay applies.
      const known: number[] = [], unknown: number[] = [];
      for (let i = 0; i < 7; i++) {
        const probe = gateApi(base, `127.0.1.${10 + i}`);
        try {
          for (const [login, into] of [["ann", known], [`ghost${i}`, unknown]] as const) {
            const started = performance.now();
            expectError(await probe.login(login, "wrong password"), 401, "invalid_credentials");
            into.push(performance.now() - started);
          }
        } finally {
          probe.close();
        }
      }
      const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
      const [k, u] = [median(known), median(unknown)];
      // Without the dummy hash an unknown login would answer in a fraction of a known one.
      assert.ok(u > k * 0.4 && k > u * 0.4, `known ${k.toFixed(1)} ms, unknown ${u.toFixed(1)} ms`);
    });

    await t.step(
      "a flood of code requests from one source leaves the owner a reset code",
      async () => {
        const since = smtp.mails.length;
        const flood = await Promise.all(
          Array.from({ length: 11 }, () => attacker.code("ann@example.com", "reset_password")),
        );
        assert.equal(flood.filter((r) => r.status === 202).length, 1, JSON.stringify(flood));
        for (const r of flood.filter((r) => r.status !== 202)) expectError(r, 429, "rate_limited");
        // The owner asks from home a moment later: answered at once, not "tomorrow".
        const mine = await owner.code("ann@example.com", "reset_password");
        assert.equal(mine.status, 202, JSON.stringify(mine.json));
        // The code in the owner's mailbox (sent for the attacker's request) is the live one.
        const code = await smtp.codeFor("ann@example.com", { since });
        const reset = await owner.call("POST", "/api/v1/password/reset", {
          email: "ann@example.com",
          code,
          new_password: "ann's new password",
        });
        assert.equal(reset.status, 204, JSON.stringify(reset.json));
        assert.equal((await owner.login("ann", "ann's new password")).status, 200);
        // One mail in all: the flood did not turn into a mail bomb.
        assert.equal(smtp.mails.slice(since).length, 1);
      },
    );

    await t.step("register tells a taken e-mail from a free one only to a valid code", async () => {
      const probe = gateApi(base, "127.0.0.6");
      try {
        const guesses = async (email: string, name: string) => {
          const out = [];
          for (let i = 0; i < 6; i++) {
            const r = await probe.register({
              email,
              name,
              password: "a long password",
              code: "123456",
            });
            out.push(seen(r));
          }
          return out;
        };
        // No code asked for: both expired.
        assert.deepEqual(
          await guesses("ann@example.com", "probe1"),
          await guesses("free@example.com", "probe2"),
        );
        // A code asked for (a decoy for the taken one): the same tries, the same end.
        const [taken, free] = [
          await probe.code("ann@example.com", "register"),
          await probe.code("free2@example.com", "register"),
        ];
        assert.equal(seen(taken).replace(/\d{13}/, "T"), seen(free).replace(/\d{13}/, "T"));
        const takenAnswers = await guesses("ann@example.com", "probe3");
        const freeAnswers = await guesses("free2@example.com", "probe4");
        assert.deepEqual(takenAnswers, freeAnswers);
        assert.match(takenAnswers[0], /code_invalid/);
        assert.match(takenAnswers[5], /code_attempts_exceeded/);
        // A taken name is told at once: names are public.
        const name = await probe.register({
          email: "free3@example.com",
          name: "ann",
          password: "a long password",
          code: "123456",
        });
        expectError(name, 409, "name_taken");
      } finally {
        probe.close();
      }
    });

    await t.step("successful logins, chat-node lookups and resets are capped too", async () => {
      await register(api, smtp, "cap", "cap's password");
      const logins = [];
      for (let i = 0; i < 4; i++) logins.push(await owner.login("cap", "cap's password"));
      assert.deepEqual(logins.map((r) => r.status), [200, 200, 200, 429]);
      expectError(logins[3], 429, "rate_limited");
      retryAfter(logins[3]);
      const token = logins[0].json.token;
      const nodes = [];
      for (let i = 0; i < 4; i++) nodes.push(await owner.chatNode(token));
      assert.deepEqual(nodes.map((r) => r.status), [200, 200, 200, 429]);
      const resets = [];
      const resetter = gateApi(base, "127.0.0.7");
      try {
        for (let i = 0; i < 6; i++) {
          resets.push(
            await resetter.call("POST", "/api/v1/password/reset", {
              email: "cap@example.com",
              code: wrongCode("123456"),
              new_password: "whatever it is",
            }),
          );
        }
      } finally {
        resetter.close();
      }
      assert.deepEqual(resets.map((r) => r.status), [400, 400, 400, 400, 400, 429]);
      expectError(resets[5], 429, "rate_limited");
    });

    await t.step(
      "a scrypt hash from before Argon2id logs in and is replaced by Argon2id",
      async () => {
        await register(api, smtp, "legacy", "legacy password");
        const store = await openStore(config.storeUrl, { log: silentLogger });
        try {
          const id = (await store.userForLogin("legacy"))!.user.id;
          const salt = randomBytes(16);
          const key = scryptSync("legacy password", salt, 32, { N: 2 ** 14, r: 8, p: 1 });
          const old = ["scrypt", 2 ** 14, 8, 1, salt.toString("base64"), key.toString("base64")];
          await store.setPasswordHash(id, old.join("$"));
          expectError(await owner.login("legacy", "not the password"), 401, "invalid_credentials");
          assert.equal((await store.userForLogin("legacy"))!.passwordHash, old.join("$"));
          assert.equal((await owner.login("legacy", "legacy password")).status, 200);
          const now = (await store.userForLogin("legacy"))!.passwordHash;
          assert.match(now, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
          assert.equal((await owner.login("legacy", "legacy password")).status, 200);
        } finally {
          await store.close();
        }
      },
    );

    await t.step("display names and bios refuse bidirectional controls", async () => {
      await register(api, smtp, "rtl", "rtl's password");
      const token = (await api.login("rtl", "rtl's password")).json.token;
      const patch = (body: unknown) => api.call("PATCH", "/api/v1/me", body, token);
      const controls = [
        "\u202A",
        "\u202B",
        "\u202C",
        "\u202D",
        "\u202E",
        "\u2066",
        "\u2067",
        "\u2068",
        "\u2069",
        "\u200E",
        "\u200F",
        "\u061C",
      ];
      for (const ch of controls) {
        for (const field of ["display_name", "bio"]) {
          const r = await patch({ [field]: `evil${ch}gpj.exe` });
          expectError(r, 400, "invalid_request");
          assert.match(r.json.error.message, new RegExp(`^${field}: .*bidirectional`));
        }
      }
      // Right-to-left text itself is welcome.
      const rtl = await patch({ display_name: "مرحبا שלום", bio: "Ann — אנה" });
      assert.equal(rtl.status, 200, JSON.stringify(rtl.json));
      assert.equal(rtl.json.user.display_name, "مرحبا שלום");
    });
  } finally {
    for (const client of [api, attacker, owner]) client.close();
    await server.close();
    await smtp.close();
    await dir.remove();
  }
});

Deno.test({
  name: "a frozen Redis makes the gate answer 503 engine_unavailable with Retry-After, not hang",
  ignore: !(await haveRedisServer()),
  async fn() {
    const [dir, redis] = await Promise.all([tempDir(), startRedisServer()]);
    const config = testConfig({
      roles: ["verify", "status", "gate"],
      dataDir: dir.path,
      storeUrl: `sqlite:${dir.path}/parley.db`,
      engineUrl: `redis://127.0.0.1:${redis.port}?prefix=frozen:`,
    });
    const server = await startServer(config, silentLogger);
    const api = gateApi(`http://127.0.0.1:${server.handles.gate!.ports.http}`);
    try {
      expectError(await api.login("nobody", "some password"), 401, "invalid_credentials");
      redis.proc.kill("SIGSTOP");
      for (const call of [() => api.login("nobody", "x"), () => api.code("a@example.com")]) {
        const started = Date.now();
        const r = await call();
        const took = Date.now() - started;
        expectError(r, 503, "engine_unavailable");
        assert.ok(retryAfter(r) >= 1);
        assert.ok(took < 5_000, `answered after ${took} ms`);
      }
      redis.proc.kill("SIGCONT");
      // Thawed, the gate answers as before.
      const again = await api.login("nobody", "some password");
      expectError(again, 401, "invalid_credentials");
    } finally {
      try {
        redis.proc.kill("SIGCONT");
      } catch { /* gone */ }
      api.close();
      await server.close();
      await redis.stop();
      await dir.remove();
    }
  },
});
