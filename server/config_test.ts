import assert from "node:assert/strict";
import { ConfigError, parseRoles, resolveConfig, type ResolveOptions } from "./config.ts";
import { fileSecretStore, type SecretStore } from "./secrets.ts";
import { tempDir } from "../testing/mod.ts";

const SECRET = "a-cluster-secret-of-32-characters-or-more";
const JWT = "a-jwt-key-of-32-characters-or-more-0123456789";

function memorySecrets(): SecretStore & { names: Map<string, string> } {
  const names = new Map<string, string>();
  return { names, getOrCreate: (n, c) => names.get(n) ?? (names.set(n, c()), names.get(n)!) };
}

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
    env: {
      PARLEY_STORE_URL: "mysql://u:p@db:3306/parley",
      PARLEY_CHAT_PORT: "9100",
      PARLEY_CLUSTER_SECRET: SECRET,
      PARLEY_JWT_SECRET: JWT,
    },
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

Deno.test("every example in config/ resolves, the cluster's with the shared secrets only", () => {
  const root = new URL("../config/", import.meta.url);
  const files = [
    ...[...Deno.readDirSync(root)].filter((e) => e.name.endsWith(".json")).map((e) => e.name),
    ...[...Deno.readDirSync(new URL("cluster/", root))].map((e) => `cluster/${e.name}`),
  ];
  assert.ok(files.length >= 6, `found ${files.length} examples`);
  for (const f of files) {
    const resolve = (env: Record<string, string>) =>
      resolveConfig({ config: new URL(f, root).pathname }, { env, secrets: memorySecrets() });
    const c = resolve({ PARLEY_CLUSTER_SECRET: SECRET, PARLEY_JWT_SECRET: JWT });
    assert.ok(c.roles.length > 0, f);
    assert.equal(c.clusterSecret, SECRET, f);
    if (f.startsWith("cluster/")) {
      assert.throws(() => resolve({}), /PARLEY_CLUSTER_SECRET/, f);
      if (c.roles.includes("gate") || c.roles.includes("chat")) {
        assert.throws(() => resolve({ PARLEY_CLUSTER_SECRET: SECRET }), /PARLEY_JWT_SECRET/, f);
        assert.equal(new TextDecoder().decode(c.jwtSecret), JWT, f);
      }
      // Every internal listener of the examples stays on loopback.
      assert.equal(c.verify.host, "127.0.0.1", f);
      assert.equal(c.status.host, "127.0.0.1", f);
      assert.equal(c.chat.grpcHost, "127.0.0.1", f);
    }
  }
});

// --- the internal plane: cluster secret, listeners, ports ---

const resolve = (env: Record<string, string>, options: ResolveOptions = {}) =>
  resolveConfig({}, { env, secrets: memorySecrets(), ...options });

const refused = (pattern: RegExp) => (e: unknown) =>
  e instanceof ConfigError && pattern.test(e.message);

Deno.test("by default only the gate and the chat WebSocket listen on every interface", () => {
  const c = resolve({});
  assert.equal(c.gate.host, "0.0.0.0");
  assert.equal(c.chat.host, "0.0.0.0");
  assert.equal(c.verify.host, "127.0.0.1");
  assert.equal(c.status.host, "127.0.0.1");
  assert.equal(c.chat.grpcHost, "127.0.0.1");
  assert.equal(c.chat.grpcAddress, "127.0.0.1:50055");
  // chat.host moves the WebSocket only.
  const moved = resolve({ PARLEY_CHAT_HOST: "10.1.2.3" });
  assert.equal(moved.chat.host, "10.1.2.3");
  assert.equal(moved.chat.grpcHost, "127.0.0.1");
  assert.equal(moved.chat.grpcAddress, "127.0.0.1:50055");
  assert.equal(moved.chat.publicUrl, "ws://10.1.2.3:8090/ws");
  const grpc = resolve({ PARLEY_CHAT_GRPC_HOST: "10.1.2.3" });
  assert.equal(grpc.chat.grpcHost, "10.1.2.3");
  assert.equal(grpc.chat.grpcAddress, "10.1.2.3:50055");
});

Deno.test("a single process generates its cluster secret once and keeps it", () => {
  const secrets = memorySecrets();
  const a = resolveConfig({}, { env: {}, secrets });
  assert.match(a.clusterSecret, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(secrets.names.get("cluster.key"), a.clusterSecret);
  assert.equal(resolveConfig({}, { env: {}, secrets }).clusterSecret, a.clusterSecret);
  assert.notEqual(resolve({}).clusterSecret, a.clusterSecret, "another data dir, another secret");
  assert.equal(a.clusterSecretAccept, null);
});

Deno.test("the generated cluster secret is written to <dataDir>/cluster.key, mode 0600", async () => {
  const dir = await tempDir();
  try {
    const c = resolveConfig({}, { env: {}, secrets: fileSecretStore(`${dir.path}/data`) });
    const path = `${dir.path}/data/cluster.key`;
    assert.equal((await Deno.readTextFile(path)).trim(), c.clusterSecret);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const again = resolveConfig({}, { env: {}, secrets: fileSecretStore(`${dir.path}/data`) });
    assert.equal(again.clusterSecret, c.clusterSecret);
  } finally {
    await dir.remove();
  }
});

Deno.test("a process that runs only some roles refuses to start without the cluster secret", () => {
  for (const roles of ["gate", "chat", "status", "verify", "gate,status,verify"]) {
    assert.throws(
      () => resolve({ PARLEY_ROLES: roles }),
      refused(/clusterSecret.*PARLEY_CLUSTER_SECRET.*clusterSecretFile/s),
      roles,
    );
  }
  // Nothing was generated on the way.
  const secrets = memorySecrets();
  assert.throws(() => resolveConfig({ roles: "chat" }, { env: {}, secrets }));
  assert.equal(secrets.names.has("cluster.key"), false);
});

Deno.test("the cluster secret comes from the config, the environment or a file", () => {
  const file = JSON.stringify({ roles: ["chat"], clusterSecret: SECRET, jwtSecret: JWT });
  const fromFile = resolveConfig({ config: "c.json" }, {
    env: {},
    readFile: () => file,
    secrets: memorySecrets(),
  });
  assert.equal(fromFile.clusterSecret, SECRET);
  assert.equal(
    resolve({ PARLEY_ROLES: "gate", PARLEY_CLUSTER_SECRET: SECRET, PARLEY_JWT_SECRET: JWT })
      .clusterSecret,
    SECRET,
  );
  const keyFile = resolveConfig({ roles: "gate" }, {
    env: { PARLEY_CLUSTER_SECRET_FILE: "/etc/parley/cluster.key", PARLEY_JWT_SECRET: JWT },
    readFile: (p) => p === "/etc/parley/cluster.key" ? `${SECRET}\n` : "",
    secrets: memorySecrets(),
  });
  assert.equal(keyFile.clusterSecret, SECRET);
  const rotating = resolve({
    PARLEY_ROLES: "gate",
    PARLEY_CLUSTER_SECRET: SECRET,
    PARLEY_JWT_SECRET: JWT,
    PARLEY_CLUSTER_SECRET_ACCEPT: `${SECRET}-next`,
  });
  assert.equal(rotating.clusterSecretAccept, `${SECRET}-next`);
});

Deno.test("a weak or unsendable cluster secret is refused by name", () => {
  const bad = (env: Record<string, string>, pattern: RegExp, options: ResolveOptions = {}) =>
    assert.throws(() => resolve({ PARLEY_ROLES: "gate", ...env }, options), refused(pattern));
  bad({ PARLEY_CLUSTER_SECRET: "short" }, /clusterSecret.*32/);
  bad({ PARLEY_CLUSTER_SECRET: `${SECRET} with spaces` }, /clusterSecret/);
  bad({ PARLEY_CLUSTER_SECRET: `${SECRET}é` }, /clusterSecret/);
  bad({ PARLEY_CLUSTER_SECRET: SECRET, PARLEY_CLUSTER_SECRET_ACCEPT: "x" }, /clusterSecretAccept/);
  bad({ PARLEY_CLUSTER_SECRET_FILE: "/nope" }, /clusterSecretFile: cannot read \/nope/, {
    readFile: () => {
      throw new Error("No such file");
    },
  });
  bad({ PARLEY_CLUSTER_SECRET_FILE: "/short" }, /clusterSecretFile.*32/, { readFile: () => "abc" });
  bad({ PARLEY_CLUSTER_SECRET_FILE: "/two" }, /clusterSecretFile.*one line/, {
    readFile: () => `${SECRET}\n${SECRET}`,
  });
});

Deno.test("listen ports come from the environment, and an address alone moves its port too", () => {
  const c = resolve({
    PARLEY_VERIFY_PORT: "6001",
    PARLEY_STATUS_PORT: "6002",
    PARLEY_CHAT_GRPC_PORT: "6003",
  });
  assert.equal(c.verify.port, 6001);
  assert.equal(c.verify.address, "127.0.0.1:6001");
  assert.equal(c.status.port, 6002);
  assert.equal(c.status.address, "127.0.0.1:6002");
  assert.equal(c.chat.grpcPort, 6003);
  assert.equal(c.chat.grpcAddress, "127.0.0.1:6003");
  const byAddr = resolve({
    PARLEY_VERIFY_ADDR: "127.0.0.1:7001",
    PARLEY_STATUS_ADDR: "127.0.0.1:7002",
    PARLEY_CHAT_GRPC_ADDR: "127.0.0.1:7003",
  });
  assert.equal(byAddr.verify.port, 7001);
  assert.equal(byAddr.status.port, 7002);
  assert.equal(byAddr.chat.grpcPort, 7003);
  assert.throws(() => resolve({ PARLEY_STATUS_PORT: "fifty" }), refused(/PARLEY_STATUS_PORT/));
  assert.throws(() => resolve({ PARLEY_VERIFY_PORT: "70000" }), refused(/verify\.port/));
});

Deno.test("a process whose own client would dial a port its role does not listen on is refused", () => {
  const env = { PARLEY_CLUSTER_SECRET: SECRET, PARLEY_JWT_SECRET: JWT };
  const mismatch = [
    // [roles, variables, the fields the message must name]
    ["verify,gate", { PARLEY_VERIFY_ADDR: "127.0.0.1:7001", PARLEY_VERIFY_PORT: "6001" }, "verify"],
    ["status,gate", { PARLEY_STATUS_ADDR: "127.0.0.1:7002", PARLEY_STATUS_PORT: "6002" }, "status"],
    ["status,chat", { PARLEY_STATUS_ADDR: "127.0.0.1:7002", PARLEY_STATUS_PORT: "6002" }, "status"],
    [
      "chat,status",
      { PARLEY_CHAT_GRPC_ADDR: "127.0.0.1:7003", PARLEY_CHAT_GRPC_PORT: "6003" },
      "chat",
    ],
    ["all", { PARLEY_VERIFY_ADDR: "127.0.0.1:7001", PARLEY_VERIFY_PORT: "6001" }, "verify"],
  ] as const;
  for (const [roles, vars, role] of mismatch) {
    const field = role === "chat"
      ? "chat\\.grpcAddress.*chat\\.grpcPort"
      : `${role}\\.address.*${role}\\.port`;
    assert.throws(
      () => resolveConfig({ roles }, { env: { ...env, ...vars }, secrets: memorySecrets() }),
      refused(new RegExp(`${field}.*would dial`)),
      `${roles} ${JSON.stringify(vars)}`,
    );
  }
  // No role of the process dials it: the address is for other processes, and may differ.
  const fine = [
    ["gate", { PARLEY_VERIFY_ADDR: "10.0.0.5:7001", PARLEY_VERIFY_PORT: "6001" }],
    ["verify", { PARLEY_VERIFY_ADDR: "lb.internal:7001", PARLEY_VERIFY_PORT: "6001" }],
    ["chat", { PARLEY_CHAT_GRPC_ADDR: "203.0.113.9:7003", PARLEY_CHAT_GRPC_PORT: "6003" }],
    // Port 0: the process binds a free port and points its address at it.
    ["verify,gate", { PARLEY_VERIFY_ADDR: "127.0.0.1:7001", PARLEY_VERIFY_PORT: "0" }],
    ["verify,gate", { PARLEY_VERIFY_ADDR: "verify.internal:6001", PARLEY_VERIFY_PORT: "6001" }],
  ] as const;
  for (const [roles, vars] of fine) {
    resolveConfig({ roles }, { env: { ...env, ...vars }, secrets: memorySecrets() });
  }
});

Deno.test("a gate or chat node in a process of its own refuses to start without the JWT key", () => {
  const secrets = memorySecrets();
  for (const roles of ["gate", "chat", "gate,status", "chat,verify", "gate,chat,status"]) {
    assert.throws(
      () => resolveConfig({ roles }, { env: { PARLEY_CLUSTER_SECRET: SECRET }, secrets }),
      refused(/jwtSecret: this process runs only .*PARLEY_JWT_SECRET.*jwtKeyFile/s),
      roles,
    );
  }
  // Nothing was generated on the way: two processes could not agree on it.
  assert.equal(secrets.names.has("jwt.key"), false);
  const given = (env: Record<string, string>, options: ResolveOptions = {}) =>
    new TextDecoder().decode(
      resolveConfig({ roles: "chat" }, {
        env: { PARLEY_CLUSTER_SECRET: SECRET, ...env },
        secrets,
        ...options,
      }).jwtSecret,
    );
  assert.equal(given({ PARLEY_JWT_SECRET: JWT }), JWT);
  assert.equal(
    given({ PARLEY_JWT_KEY_FILE: "/etc/parley/jwt.key" }, {
      readFile: (p) => p === "/etc/parley/jwt.key" ? `${JWT}\n` : "",
    }),
    JWT,
  );
  assert.equal(secrets.names.has("jwt.key"), false);
  // Status and verify never touch a token: they start without one, and write none.
  for (const roles of ["status", "verify", "status,verify"]) {
    const c = resolveConfig({ roles }, { env: { PARLEY_CLUSTER_SECRET: SECRET }, secrets });
    assert.ok(c.jwtSecret.length >= 32, roles);
  }
  assert.equal(secrets.names.has("jwt.key"), false);
  // Every role in one process: generated once and kept.
  const all = resolveConfig({}, { env: {}, secrets });
  assert.equal(secrets.names.get("jwt.key"), new TextDecoder().decode(all.jwtSecret));
  assert.deepEqual(resolveConfig({}, { env: {}, secrets }).jwtSecret, all.jwtSecret);
});
