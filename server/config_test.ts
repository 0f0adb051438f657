import assert from "node:assert/strict";
import { ConfigError, parseRoles, resolveConfig, type SecretStore } from "./config.ts";

const memorySecrets = (): SecretStore => {
  const m = new Map<string, string>();
  return { getOrCreate: (n, c) => m.get(n) ?? (m.set(n, c()), m.get(n)!) };
};

Deno.test("resolveConfig() with nothing set runs every role on the embedded defaults", () => {
  const c = resolveConfig({}, { env: {}, secrets: memorySecrets() });
  assert.deepEqual(c.roles, ["gate", "chat", "status", "verify"]);
  assert.equal(c.storeUrl, "sqlite:.data/parley.db");
  assert.equal(c.engineUrl, "memory:");
  assert.equal(c.smtpUrl, null);
  assert.equal(c.gate.port, 8080);
  assert.equal(c.verify.address, "127.0.0.1:50051");
  assert.equal(c.status.address, "127.0.0.1:50052");
  assert.equal(c.chat.port, 8090);
  assert.equal(c.chat.grpcPort, 50055);
  assert.equal(c.chat.publicUrl, "ws://127.0.0.1:8090/ws");
  assert.ok(c.jwtSecret.length >= 32);
  assert.ok(c.adminToken.length >= 16);
});

Deno.test("resolveConfig() lets the environment override the file and flags override both", () => {
  const file = JSON.stringify({
    roles: ["chat"],
    storeUrl: "sqlite:/tmp/x.db",
    chat: { name: "n1", port: 9000 },
  });
  const c = resolveConfig({ config: "c.json", roles: "gate,status" }, {
    env: { PARLEY_STORE_URL: "mysql://u:p@db:3306/parley", PARLEY_CHAT_PORT: "9100" },
    readFile: () => file,
    secrets: memorySecrets(),
  });
  assert.deepEqual(c.roles, ["gate", "status"]);
  assert.equal(c.storeUrl, "mysql://u:p@db:3306/parley");
  assert.equal(c.chat.name, "n1");
  assert.equal(c.chat.port, 9100);
  assert.equal(c.chat.publicUrl, "ws://127.0.0.1:9100/ws");
});

Deno.test("resolveConfig() names the field that is wrong", () => {
  const bad = (file: unknown, pattern: RegExp) =>
    assert.throws(
      () =>
        resolveConfig({ config: "bad.json" }, {
          env: {},
          readFile: () => JSON.stringify(file),
          secrets: memorySecrets(),
        }),
      (e: unknown) => e instanceof ConfigError && pattern.test(e.message),
    );
  bad({ storeUrl: "postgres://x" }, /storeUrl/);
  bad({ chat: { port: 70000 } }, /chat\.port/);
  bad({ nonsense: true }, /nonsense|Unrecognized/);
  bad({ jwtSecret: "short" }, /jwtSecret/);
  assert.throws(
    () => resolveConfig({ config: "x.json" }, { env: {}, readFile: () => "{not json" }),
    /not valid JSON/,
  );
  assert.throws(
    () => resolveConfig({}, { env: { PARLEY_GATE_PORT: "eighty" }, secrets: memorySecrets() }),
    /PARLEY_GATE_PORT/,
  );
});

Deno.test("parseRoles() accepts all and rejects unknown roles by name", () => {
  assert.deepEqual(parseRoles("all"), ["gate", "chat", "status", "verify"]);
  assert.deepEqual(parseRoles("chat, gate,chat"), ["chat", "gate"]);
  assert.throws(() => parseRoles("chat,mail"), /unknown role "mail"/);
});

Deno.test("every example in config/ resolves without error", () => {
  const root = new URL("../config/", import.meta.url);
  const files = [
    ...[...Deno.readDirSync(root)].filter((e) => e.name.endsWith(".json")).map((e) => e.name),
    ...[...Deno.readDirSync(new URL("cluster/", root))].map((e) => `cluster/${e.name}`),
  ];
  assert.ok(files.length >= 6, `found ${files.length} examples`);
  for (const f of files) {
    const c = resolveConfig({ config: new URL(f, root).pathname }, {
      env: {},
      secrets: memorySecrets(),
    });
    assert.ok(c.roles.length > 0, f);
  }
});
