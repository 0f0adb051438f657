import assert from "node:assert/strict";
import { createApp } from "./app.ts";
import type { Services } from "./request.ts";
import { gateMetrics } from "./telemetry.ts";
import { memoryLogger, testConfig } from "../../testing/mod.ts";
import { silentLogger } from "../log.ts";
import { signToken } from "../tokens.ts";
import { type Engine, openEngine } from "../engine/mod.ts";

/**
 * A gate whose store, engine, verify and status all fail the test if used:
 * every case here must be answered at the edge, before any of them.
 */
function edgeOnlyGate(parts: { engine?: Engine } = {}) {
  const { log, lines } = memoryLogger();
  const touched: string[] = [];
  const refuse = (what: string) => () => {
    touched.push(what);
    return Promise.reject(new Error(`${what} must not be used`));
  };
  const s: Services = {
    config: testConfig(),
    log,
    store: refuse("store"),
    engine: parts.engine ? () => Promise.resolve(parts.engine!) : refuse("engine"),
    verify: { SendCode: refuse("verify.SendCode"), CheckCode: refuse("verify.CheckCode") },
    status: { PickNode: refuse("status.PickNode"), Kick: refuse("status.Kick") },
    metrics: gateMetrics(),
  };
  return { app: createApp(s), s, lines, touched };
}

async function call(
  app: ReturnType<typeof createApp>,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { "content-type": "application/json" },
) {
  const res = await app.request(path, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { res, status: res.status, json: text ? JSON.parse(text) : null };
}

const validRegister = { email: "ann@example.com", name: "ann", password: "long enough", code: "1" };

Deno.test("the gate answers malformed JSON with 400 invalid_json", async () => {
  const { app, touched } = edgeOnlyGate();
  for (const text of ["{", "", "{'email': 1}", "nul"]) {
    const r = await call(app, "POST", "/api/v1/register", text);
    assert.equal(r.status, 400, text);
    assert.deepEqual(r.json.error.code, "invalid_json", text);
    assert.equal(typeof r.json.error.message, "string");
  }
  assert.deepEqual(touched, []);
});

Deno.test("the gate refuses unknown fields, missing fields and wrong types, naming the field", async () => {
  const { app, touched } = edgeOnlyGate();
  const cases: [unknown, RegExp][] = [
    [{ ...validRegister, admin: true }, /unknown field "admin"/],
    [{ ...validRegister, password: undefined }, /^password: is required$/],
    [{ ...validRegister, code: 123456 }, /^code: must be a string$/],
    [[validRegister], /body must be a JSON object/],
    ["42", /body must be a JSON object/],
    [null, /body must be a JSON object/],
  ];
  for (const [body, message] of cases) {
    const r = await call(app, "POST", "/api/v1/register", body === null ? "null" : body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.error.code, "invalid_request", JSON.stringify(body));
    assert.match(r.json.error.message, message);
  }
  // An unknown field wins over a bad value: the request as a whole is malformed.
  const both = await call(app, "POST", "/api/v1/register", { ...validRegister, name: "x", y: 1 });
  assert.equal(both.json.error.code, "invalid_request");
  assert.deepEqual(touched, []);
});

Deno.test("the gate gives a bad e-mail, name or password its own error code", async () => {
  const { app, touched } = edgeOnlyGate();
  const cases: [Record<string, unknown>, number, string, RegExp][] = [
    [{ email: "not-an-address" }, 400, "invalid_email", /^email:/],
    [{ email: `${"a".repeat(250)}@example.com` }, 400, "invalid_email", /^email:/],
    [{ name: "ab" }, 400, "invalid_name", /^name:/],
    [{ name: "a".repeat(33) }, 400, "invalid_name", /^name:/],
    [{ name: "ann lee" }, 400, "invalid_name", /^name:/],
    [{ name: "änn" }, 400, "invalid_name", /^name:/],
    [{ password: "short" }, 400, "weak_password", /^password: must be at least 8/],
    // Eight characters, but only seven code points would be too few: "ü" counts once.
    [{ password: "üüüüüüü" }, 400, "weak_password", /^password:/],
    [{ password: "x".repeat(1025) }, 400, "invalid_request", /^password: must be at most 1024/],
  ];
  for (const [patch, status, code, message] of cases) {
    const r = await call(app, "POST", "/api/v1/register", { ...validRegister, ...patch });
    assert.equal(r.status, status, JSON.stringify(patch));
    assert.equal(r.json.error.code, code, JSON.stringify(patch));
    assert.match(r.json.error.message, message);
  }
  const reset = await call(app, "POST", "/api/v1/password/reset", {
    email: "ann@example.com",
    code: "123456",
    new_password: "1234567",
  });
  assert.equal(reset.json.error.code, "weak_password");
  assert.match(reset.json.error.message, /^new_password:/);
  const purpose = await call(app, "POST", "/api/v1/codes", { email: "a@b.co", purpose: "login" });
  assert.equal(purpose.json.error.code, "invalid_request");
  assert.match(purpose.json.error.message, /^purpose:/);
  assert.deepEqual(touched, []);
});

Deno.test("the gate answers a body that is not JSON with 415 and a huge one with 413", async () => {
  const { app, touched } = edgeOnlyGate();
  const form = await call(app, "POST", "/api/v1/login", "login=ann&password=x", {
    "content-type": "application/x-www-form-urlencoded",
  });
  assert.equal(form.status, 415);
  assert.equal(form.json.error.code, "unsupported_media_type");
  const none = await call(app, "POST", "/api/v1/login", { login: "ann", password: "x" }, {});
  assert.equal(none.status, 415);

  const big = JSON.stringify({ login: "ann", password: "x".repeat(20_000) });
  const r = await call(app, "POST", "/api/v1/login", big);
  assert.equal(r.status, 413);
  assert.equal(r.json.error.code, "body_too_large");

  // Without Content-Length (a streamed body) the limit holds too.
  const chunk = new TextEncoder().encode("x".repeat(4096));
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(ctrl) {
      if (sent++ < 10) ctrl.enqueue(chunk);
      else ctrl.close();
    },
  });
  const streamed = await app.request("/api/v1/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: stream,
  });
  assert.equal(streamed.status, 413);
  assert.equal((await streamed.json()).error.code, "body_too_large");
  assert.deepEqual(touched, []);
});

Deno.test("the gate answers unknown paths with 404 and wrong methods with 405 and Allow", async () => {
  const { app } = edgeOnlyGate();
  const missing = await call(app, "GET", "/api/v1/nothing");
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.code, "not_found");
  const wrong = await call(app, "GET", "/api/v1/login");
  assert.equal(wrong.status, 405);
  assert.equal(wrong.json.error.code, "method_not_allowed");
  assert.equal(wrong.res.headers.get("allow"), "POST, OPTIONS");
  const me = await call(app, "DELETE", "/api/v1/me");
  assert.equal(me.status, 405);
  assert.equal(me.res.headers.get("allow"), "GET, PATCH, OPTIONS");
});

Deno.test("the gate refuses a missing, forged or expired token before touching the store", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  const { app, s, touched } = edgeOnlyGate({ engine });
  const none = await call(app, "GET", "/api/v1/me");
  assert.equal(none.status, 401);
  assert.equal(none.json.error.code, "unauthorized");
  assert.match(none.res.headers.get("www-authenticate") ?? "", /^Bearer/);
  const basic = await call(app, "POST", "/api/v1/logout", undefined, {
    authorization: "Basic YTpi",
  });
  assert.equal(basic.json.error.code, "unauthorized");

  const otherKey = new TextEncoder().encode("another-secret-that-is-32-bytes-long!!");
  const { token } = await signToken(otherKey, 1, 3600);
  const forged = await call(app, "GET", "/api/v1/me", undefined, {
    authorization: `Bearer ${token}`,
  });
  assert.equal(forged.status, 401);
  assert.equal(forged.json.error.code, "token_invalid");
  const garbage = await call(app, "GET", "/api/v1/me", undefined, {
    authorization: "Bearer not.a.jwt",
  });
  assert.equal(garbage.json.error.code, "token_invalid");
  const expired = await signToken(s.config.jwtSecret, 1, -10);
  const late = await call(app, "GET", "/api/v1/me", undefined, {
    authorization: `Bearer ${expired.token}`,
  });
  assert.equal(late.json.error.code, "token_expired");
  assert.deepEqual(touched, []);
  await engine.close();
});

Deno.test("the gate allows cross-origin JSON calls", async () => {
  const { app } = edgeOnlyGate();
  const pre = await app.request("/api/v1/login", {
    method: "OPTIONS",
    headers: {
      origin: "https://web.example",
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type, authorization",
    },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get("access-control-allow-origin"), "*");
  assert.match(pre.headers.get("access-control-allow-methods") ?? "", /POST/);
  assert.match(pre.headers.get("access-control-allow-headers") ?? "", /authorization/i);
  const res = await app.request("/healthz", { headers: { origin: "https://web.example" } });
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  await res.body?.cancel();
});

Deno.test("/healthz is cheap and /metrics counts requests by route and status", async () => {
  const { app, lines, touched } = edgeOnlyGate();
  const health = await call(app, "GET", "/healthz");
  assert.equal(health.status, 200);
  assert.deepEqual(health.json, { ok: true, roles: ["gate", "chat", "status", "verify"] });
  await call(app, "POST", "/api/v1/login", "{");
  await call(app, "GET", "/no/such/thing");
  const res = await app.request("/metrics");
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
  const text = await res.text();
  assert.match(
    text,
    /^parley_gate_http_requests_total\{method="POST",route="\/api\/v1\/login",status="400",role="gate"\} 1$/m,
  );
  assert.match(text, /route="other",status="404"/);
  assert.doesNotMatch(text, /no\/such\/thing/);
  assert.match(text, /^# TYPE parley_gate_http_request_duration_seconds histogram$/m);
  // One debug line per request, with no body content in it.
  const logged = lines.filter((l) => l.msg === "request");
  assert.deepEqual(
    logged.map((l) => [l.method, l.path, l.status]),
    [
      ["GET", "/healthz", 200],
      ["POST", "/api/v1/login", 400],
      ["GET", "/no/such/thing", 404],
      ["GET", "/metrics", 200],
    ],
  );
  assert.deepEqual(touched, []);
});

Deno.test("the gate answers a crash with 500 internal and logs it with its stack", async () => {
  const { app, lines, touched } = edgeOnlyGate();
  const r = await call(app, "POST", "/api/v1/login", { login: "ann", password: "secret-pw" });
  assert.equal(r.status, 500);
  assert.deepEqual(r.json, { error: { code: "internal", message: "internal error" } });
  const crash = lines.find((l) => l.msg === "request crashed");
  assert.ok(crash, "the crash is logged");
  assert.equal(crash.level, "error");
  assert.match(String((crash.error as { stack: string }).stack), /must not be used/);
  assert.ok(!JSON.stringify(lines).includes("secret-pw"), "the password is never logged");
  assert.ok(touched.length > 0);
});
