/**
 * The account flows across roles: the gate's HTTP API with the real verify
 * (mailing codes to a real SMTP capture) and status roles behind it over
 * gRPC, first all in one process (SQLite + memory engine), then each role
 * in its own process (MySQL + Redis).
 *
 * In one process the chat role runs too and login must name it. The
 * multi-process test leaves chat out (login only needs status to name a
 * node): it registers a stand-in node with status RegisterNode and expects
 * its ws_url as the login's chat_url.
 */
import assert from "node:assert/strict";
import { startServer } from "../main.ts";
import {
  type Child,
  freePort,
  freshMysql,
  freshRedis,
  memoryLogger,
  type SmtpCapture,
  spawnServer,
  startSmtp,
  tempDir,
  testConfig,
} from "../testing/mod.ts";
import {
  expectError,
  type GateApi,
  gateApi,
  mailedCode,
  retryAfter,
  wrongCode,
} from "./gate_api.ts";
import { statusClient } from "../proto/services.ts";

const FAKE_NODE = {
  name: "stand-in-chat",
  ws_url: "ws://127.0.0.1:9/ws",
  grpc_addr: "127.0.0.1:9",
  sessions: 0,
  started_at_ms: Date.now(),
  state: "up",
};

/**
 * register → login → me → chat-node → logout → password reset, the same
 * against any deployment; returns the token of a last, live login.
 */
async function basicFlow(api: GateApi, smtp: SmtpCapture, chatUrl: string) {
  const code = await mailedCode(api, smtp, "Zoe@Example.com");
  const reg = await api.register({
    email: "zoe@example.com",
    name: "zoe",
    password: "first password",
    code,
  });
  assert.equal(reg.status, 201, JSON.stringify(reg.json));
  assert.equal(reg.json.user.email, "zoe@example.com");

  const login = await api.login("zoe", "first password");
  assert.equal(login.status, 200, JSON.stringify(login.json));
  assert.equal(login.json.chat_url, chatUrl);
  assert.equal((await api.me(login.json.token)).status, 200);
  // A token holder finds a chat node again without the password.
  const node = await api.chatNode(login.json.token);
  assert.equal(node.status, 200, JSON.stringify(node.json));
  assert.deepEqual(node.json, { chat_url: chatUrl, expires_at: login.json.expires_at });
  assert.equal((await api.call("POST", "/api/v1/logout", undefined, login.json.token)).status, 204);
  expectError(await api.me(login.json.token), 401, "token_revoked");
  expectError(await api.chatNode(login.json.token), 401, "token_revoked");

  const other = (await api.login("zoe@example.com", "first password")).json.token;
  const resetCode = await mailedCode(api, smtp, "zoe@example.com", "reset_password");
  const reset = await api.call("POST", "/api/v1/password/reset", {
    email: "zoe@example.com",
    code: resetCode,
    new_password: "second password",
  });
  assert.equal(reset.status, 204, JSON.stringify(reset.json));
  expectError(await api.me(other), 401, "token_revoked");
  expectError(await api.chatNode(other), 401, "token_revoked");
  expectError(await api.login("zoe", "first password"), 401, "invalid_credentials");
  const last = await api.login("zoe", "second password");
  assert.equal(last.status, 200);
  return last.json.token as string;
}

Deno.test("accounts work end to end with all four roles in one process", async (t) => {
  const dir = await tempDir();
  const smtp = await startSmtp();
  const { log, lines } = memoryLogger();
  const config = testConfig({
    roles: ["verify", "status", "chat", "gate"],
    dataDir: dir.path,
    storeUrl: `sqlite:${dir.path}/parley.db`,
    engineUrl: "memory:",
    smtpUrl: smtp.url,
    logLevel: "debug",
  });
  const server = await startServer(config, log);
  const secrets: string[] = [];
  try {
    const base = `http://127.0.0.1:${server.handles.gate!.ports.http}`;
    const api = gateApi(base);
    const chatUrl = `ws://127.0.0.1:${server.handles.chat!.ports.ws}/ws`;

    await t.step("register → login → me → chat-node → logout → reset", async () => {
      await basicFlow(api, smtp, chatUrl);
    });

    let annToken = "";
    await t.step("a code is mailed, resent only after a minute, and registers once", async () => {
      const since = smtp.mails.length;
      const first = await api.code("ann@example.com");
      assert.equal(first.status, 202);
      assert.deepEqual(Object.keys(first.json).sort(), ["expires_at", "resend_after_s"]);
      assert.equal(first.json.resend_after_s, 60);
      assert.ok(Math.abs(first.json.expires_at - (Date.now() + 600_000)) < 5000);
      const code = await smtp.codeFor("ann@example.com", { since });
      secrets.push(code);

      const again = await api.code("ann@example.com");
      expectError(again, 429, "rate_limited");
      assert.ok(retryAfter(again) <= 60);

      const body = { email: "ann@example.com", name: "ann", password: "ann's password", code };
      secrets.push(body.password);
      const wrong = await api.register({ ...body, code: wrongCode(code) });
      expectError(wrong, 400, "code_invalid");
      assert.match(wrong.json.error.message, /4 tries left/);

      const reg = await api.register(body);
      assert.equal(reg.status, 201, JSON.stringify(reg.json));
      const user = reg.json.user;
      assert.deepEqual(Object.keys(user).sort(), [
        "bio",
        "created_at",
        "display_name",
        "email",
        "findable_by_email",
        "id",
        "name",
      ]);
      assert.equal(user.name, "ann");
      assert.equal(user.email, "ann@example.com");
      assert.ok(Number.isInteger(user.id) && user.id > 0);
      assert.ok(Math.abs(user.created_at - Date.now()) < 60_000);

      // A taken name is told at once (names are public)...
      expectError(await api.register(body), 409, "name_taken");
      // ...a taken e-mail only to a valid code: the used one proves nothing.
      expectError(await api.register({ ...body, name: "ann2" }), 400, "code_expired");
    });

    await t.step("a taken name is refused without burning the code", async () => {
      const code = await mailedCode(api, smtp, "bob@example.com");
      const body = { email: "bob@example.com", name: "ANN", password: "bob's password", code };
      expectError(await api.register(body), 409, "name_taken");
      const reg = await api.register({ ...body, name: "bob" });
      assert.equal(reg.status, 201, JSON.stringify(reg.json));
      // The code is used up now, and a used code learns nothing about the address.
      const reuse = await api.register({ ...body, email: "bob@example.com", name: "bob2" });
      expectError(reuse, 400, "code_expired");
    });

    await t.step("five wrong codes kill the code with 429", async () => {
      const code = await mailedCode(api, smtp, "dave@example.com");
      const body = { email: "dave@example.com", name: "dave", password: "dave's password" };
      const answers = [];
      for (let i = 0; i < 5; i++) {
        answers.push(await api.register({ ...body, code: wrongCode(code) }));
      }
      assert.deepEqual(answers.map((a) => a.json.error.code), [
        "code_invalid",
        "code_invalid",
        "code_invalid",
        "code_invalid",
        "code_attempts_exceeded",
      ]);
      assert.equal(answers[4].status, 429);
      expectError(await api.register({ ...body, code }), 429, "code_attempts_exceeded");
    });

    await t.step("login takes the name or the e-mail and names the chat node", async () => {
      const byName = await api.login("ann", "ann's password");
      assert.equal(byName.status, 200, JSON.stringify(byName.json));
      assert.deepEqual(Object.keys(byName.json).sort(), [
        "chat_url",
        "expires_at",
        "token",
        "user",
      ]);
      assert.equal(byName.json.chat_url, chatUrl);
      assert.equal(byName.json.user.name, "ann");
      const ttl = byName.json.expires_at - Date.now();
      assert.ok(ttl > config.tokenTtlS * 1000 - 60_000 && ttl <= config.tokenTtlS * 1000);
      const byEmail = await api.login("ANN@example.com", "ann's password");
      assert.equal(byEmail.status, 200);
      annToken = byEmail.json.token;
      secrets.push(annToken, byName.json.token);
    });

    await t.step("a wrong password and an unknown login get the same answer", async () => {
      const wrong = await api.login("ann", "not ann's password");
      const unknown = await api.login("nobody", "not ann's password");
      expectError(wrong, 401, "invalid_credentials");
      expectError(unknown, 401, "invalid_credentials");
      assert.deepEqual(wrong.json, unknown.json);
    });

    await t.step("GET and PATCH /me show and change the profile", async () => {
      const me = await api.me(annToken);
      assert.equal(me.status, 200);
      assert.equal(me.json.user.name, "ann");
      assert.equal(me.json.user.display_name, "");
      const patched = await api.call("PATCH", "/api/v1/me", {
        display_name: "Ann Lee 🌻",
        bio: "Writes <b>code</b>",
      }, annToken);
      assert.equal(patched.status, 200, JSON.stringify(patched.json));
      assert.equal(patched.json.user.display_name, "Ann Lee 🌻");
      assert.equal(patched.json.user.bio, "Writes <b>code</b>");
      const bioOnly = await api.call("PATCH", "/api/v1/me", { bio: "" }, annToken);
      assert.equal(bioOnly.json.user.display_name, "Ann Lee 🌻");
      assert.equal(bioOnly.json.user.bio, "");
      // Found by an exact e-mail search only after opting in; off by default.
      assert.equal(me.json.user.findable_by_email, false);
      const optIn = await api.call("PATCH", "/api/v1/me", { findable_by_email: true }, annToken);
      assert.equal(optIn.status, 200, JSON.stringify(optIn.json));
      assert.equal(optIn.json.user.findable_by_email, true);
      assert.equal(optIn.json.user.bio, "");
      assert.equal((await api.me(annToken)).json.user.findable_by_email, true);
      const notBool = await api.call("PATCH", "/api/v1/me", { findable_by_email: "yes" }, annToken);
      expectError(notBool, 400, "invalid_request");
      assert.match(notBool.json.error.message, /^findable_by_email: must be true or false$/);
      const optOut = await api.call("PATCH", "/api/v1/me", { findable_by_email: false }, annToken);
      assert.equal(optOut.json.user.findable_by_email, false);
      const bad = await api.call("PATCH", "/api/v1/me", { display_name: "a\u001b[2J" }, annToken);
      expectError(bad, 400, "invalid_request");
      assert.match(bad.json.error.message, /^display_name:/);
      const long = await api.call("PATCH", "/api/v1/me", { bio: "x".repeat(281) }, annToken);
      expectError(long, 400, "invalid_request");
      assert.equal((await api.me(annToken)).json.user.display_name, "Ann Lee 🌻");
    });

    await t.step("logout revokes the token", async () => {
      const logout = await api.call("POST", "/api/v1/logout", undefined, annToken);
      assert.equal(logout.status, 204);
      expectError(await api.me(annToken), 401, "token_revoked");
      expectError(
        await api.call("POST", "/api/v1/logout", undefined, annToken),
        401,
        "token_revoked",
      );
      expectError(await api.call("POST", "/api/v1/logout"), 401, "unauthorized");
    });

    await t.step("a password change needs the old password and ends every session", async () => {
      const a = (await api.login("ann", "ann's password")).json.token;
      const b = (await api.login("ann", "ann's password")).json.token;
      const change = (old_password: string) =>
        api.call("POST", "/api/v1/password/change", {
          old_password,
          new_password: "ann's new password",
        }, a);
      expectError(await change("guess"), 403, "wrong_password");
      assert.equal((await api.me(a)).status, 200);
      assert.equal((await change("ann's password")).status, 204);
      expectError(await api.me(a), 401, "token_revoked");
      expectError(await api.me(b), 401, "token_revoked");
      expectError(await api.login("ann", "ann's password"), 401, "invalid_credentials");
      assert.equal((await api.login("ann", "ann's new password")).status, 200);
    });

    await t.step("a password reset ends every session, and its code works once", async () => {
      const before = (await api.login("ann", "ann's new password")).json.token;
      const code = await mailedCode(api, smtp, "ann@example.com", "reset_password");
      const body = { email: "ann@example.com", code, new_password: "ann's reset password" };
      const reset = await api.call("POST", "/api/v1/password/reset", body);
      assert.equal(reset.status, 204, JSON.stringify(reset.json));
      expectError(await api.me(before), 401, "token_revoked");
      expectError(await api.login("ann", "ann's new password"), 401, "invalid_credentials");
      const after = await api.login("ann", "ann's reset password");
      assert.equal(after.status, 200);
      assert.equal((await api.me(after.json.token)).status, 200);
      const reuse = await api.call("POST", "/api/v1/password/reset", {
        ...body,
        new_password: "someone else's password",
      });
      expectError(reuse, 400, "code_expired");
    });

    await t.step("code requests do not reveal which e-mails have accounts", async () => {
      // From a client that has asked for none of these codes yet.
      const api = gateApi(base, "127.0.0.4");
      const since = smtp.mails.length;
      // Register for a taken e-mail, reset for an unknown one: 202 like any other.
      const taken = await api.code("ann@example.com", "register");
      const unknown = await api.code("ghost@example.com", "reset_password");
      const known = await api.code("bob@example.com", "reset_password");
      for (const r of [taken, unknown, known]) {
        assert.equal(r.status, 202, JSON.stringify(r.json));
        assert.equal(r.json.resend_after_s, known.json.resend_after_s);
        assert.ok(Math.abs(r.json.expires_at - known.json.expires_at) < 5000);
      }
      const bobCode = await smtp.codeFor("bob@example.com", { since });
      // Asking again within the minute is refused the same way for all three.
      for (
        const [email, purpose] of [["ann", "register"], ["ghost", "reset_password"], [
          "bob",
          "reset_password",
        ]]
      ) {
        const again = await api.code(`${email}@example.com`, purpose);
        expectError(again, 429, "rate_limited");
        assert.match(again.json.error.message, /^a code was sent to this address recently/);
        retryAfter(again);
      }
      // Guessing a reset code goes the same way with and without an account.
      const guesses = async (email: string) => {
        const out = [];
        for (let i = 0; i < 6; i++) {
          const r = await api.call("POST", "/api/v1/password/reset", {
            email,
            code: wrongCode(bobCode),
            new_password: "whatever it is",
          });
          out.push([
            r.status,
            r.json.error.code,
            r.json.error.message,
            r.headers.has("retry-after"),
          ]);
        }
        return out;
      };
      const forBob = await guesses("bob@example.com");
      const forGhost = await guesses("ghost@example.com");
      assert.deepEqual(forGhost, forBob);
      assert.equal(forBob[0][1], "code_invalid");
      assert.equal(forBob[5][1], "code_attempts_exceeded");
      // And with nothing pending, both say the code expired.
      const none = await api.call("POST", "/api/v1/password/reset", {
        email: "nobody-at-all@example.com",
        code: "123456",
        new_password: "whatever it is",
      });
      expectError(none, 400, "code_expired");
      // Nothing was mailed for the taken or the unknown address.
      const mailedTo = smtp.mails.slice(since).flatMap((m) => m.to);
      assert.deepEqual(mailedTo, ["bob@example.com"]);
      api.close();
    });

    await t.step("failed logins slow their source down, never the owner elsewhere", async () => {
      const attacker = gateApi(base, "127.0.0.2");
      const owner = gateApi(base, "127.0.0.3");
      try {
        for (let i = 0; i < 4; i++) {
          expectError(await attacker.login("bob", `guess number ${i}`), 401, "invalid_credentials");
        }
        // Three were free; the fourth costs the guesser a second before the next.
        const slowed = await attacker.login("bob", "bob's password");
        expectError(slowed, 429, "rate_limited");
        assert.equal(retryAfter(slowed), 1);
        assert.equal((await owner.login("bob", "bob's password")).status, 200);
      } finally {
        attacker.close();
        owner.close();
      }
    });

    await t.step("/metrics counts logins, registrations and codes", async () => {
      const res = await fetch(`http://127.0.0.1:${server.handles.gate!.ports.http}/metrics`);
      const text = await res.text();
      assert.match(text, /^parley_gate_registrations_total\{role="gate"\} 3$/m);
      assert.match(text, /^parley_gate_logins_total\{result="rate_limited",role="gate"\} 1$/m);
      assert.match(
        text,
        /^parley_gate_codes_requested_total\{purpose="register",role="gate"\} \d+$/m,
      );
    });

    await t.step("the gate never logs passwords, codes or tokens", () => {
      const gateLog = JSON.stringify(lines.filter((l) => l.role === "gate"));
      assert.ok(gateLog.includes('"msg":"request"'), "requests are logged at debug");
      for (const s of secrets) assert.ok(!gateLog.includes(s), `the log contains a secret`);
    });
  } finally {
    await server.close();
    await smtp.close();
    await dir.remove();
  }
});

Deno.test("accounts work end to end with verify, status and gate in separate processes", async () => {
  const [mysql, dir, smtp] = await Promise.all([freshMysql(), tempDir(), startSmtp()]);
  const redis = freshRedis();
  const [verifyPort, statusPort, gatePort] = [await freePort(), await freePort(), await freePort()];
  const configFile = `${dir.path}/cluster.json`;
  await Deno.writeTextFile(
    configFile,
    JSON.stringify({
      verify: { host: "127.0.0.1", port: verifyPort, address: `127.0.0.1:${verifyPort}` },
      status: {
        host: "127.0.0.1",
        port: statusPort,
        address: `127.0.0.1:${statusPort}`,
        nodeTtlMs: 600_000,
      },
      gate: { host: "127.0.0.1", port: gatePort },
    }),
  );
  const env = {
    PARLEY_STORE_URL: mysql.url,
    PARLEY_ENGINE_URL: redis.url,
    PARLEY_SMTP_URL: smtp.url,
    PARLEY_JWT_SECRET: "a-test-secret-that-is-long-enough-for-hs256",
    PARLEY_ADMIN_TOKEN: "a-test-admin-token",
    PARLEY_CLUSTER_SECRET: "a-test-cluster-secret-0123456789-0123456789",
    PARLEY_DATA_DIR: dir.path,
  };
  const children: Child[] = [];
  let status: ReturnType<typeof statusClient> | null = null;
  try {
    // In start order, each up before the next, as a deployment would do it.
    for (const role of ["verify", "status", "gate"]) {
      const child = spawnServer(["--role", role, "--config", configFile], env);
      children.push(child);
      await child.waitForLog("parley is running");
    }
    // The test stands in for a chat node, so it holds the cluster secret.
    status = statusClient(`127.0.0.1:${statusPort}`, { clusterSecret: env.PARLEY_CLUSTER_SECRET });
    await status.RegisterNode(FAKE_NODE);
    const api = gateApi(`http://127.0.0.1:${gatePort}`);
    const token = await basicFlow(api, smtp, FAKE_NODE.ws_url);

    // With no chat node up, login has nowhere to send the user.
    await status.DeregisterNode({ name: FAKE_NODE.name });
    const r = await api.login("zoe", "second password");
    expectError(r, 503, "no_chat_node");
    retryAfter(r);
    // Nor has the chat-node endpoint, for a token that is still good.
    const node = await api.chatNode(token);
    expectError(node, 503, "no_chat_node");
    retryAfter(node);
  } finally {
    status?.close();
    for (const child of children.reverse()) await child.kill("SIGTERM");
    await smtp.close();
    await mysql.drop();
    await dir.remove();
  }
});
