import assert from "node:assert/strict";
import { start } from "./mod.ts";
import { openEngine } from "../engine/mod.ts";
import { openStore } from "../store/mod.ts";
import { silentLogger } from "../log.ts";
import { testConfig, testDeps } from "../../testing/mod.ts";
import type { TlsConfig } from "../config.ts";

async function withParts(fn: (deps: ReturnType<typeof testDeps>) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "parley_gate_" });
  const engine = await openEngine("memory:", { log: silentLogger });
  const store = await openStore(`sqlite:${dir}/parley.db`, { log: silentLogger });
  try {
    await store.migrate();
    await fn(testDeps({ engine, store }));
  } finally {
    await store.close();
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("start() serves the gate on a free port and close() stops it", async () => {
  await withParts(async (deps) => {
    const gate = await start(testConfig({ roles: ["gate"] }), deps);
    const url = `http://127.0.0.1:${gate.ports.http}/healthz`;
    try {
      assert.ok(gate.ports.http > 0);
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { ok: true, roles: ["gate"] });
    } finally {
      await gate.close();
    }
    await assert.rejects(fetch(url), TypeError);
  });
});

/** A certificate for localhost and 127.0.0.1 and the throwaway CA that signed it (openssl). */
async function testCertificate(): Promise<TlsConfig & { ca: string }> {
  const dir = await Deno.makeTempDir({ prefix: "parley_tls_" });
  const openssl = async (...args: string[]) => {
    const out = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" })
      .output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  try {
    await openssl(
      "req",
      "-x509",
      ...ec,
      "-keyout",
      `${dir}/ca.key`,
      "-out",
      `${dir}/ca.pem`,
      "-days",
      "1",
      "-subj",
      "/CN=parley test CA",
    );
    await openssl(
      "req",
      "-x509",
      ...ec,
      "-keyout",
      `${dir}/key.pem`,
      "-out",
      `${dir}/cert.pem`,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-CA",
      `${dir}/ca.pem`,
      "-CAkey",
      `${dir}/ca.key`,
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
    );
    const read = (name: string) => Deno.readTextFile(`${dir}/${name}`);
    return { cert: await read("cert.pem"), key: await read("key.pem"), ca: await read("ca.pem") };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("start() serves HTTPS when the config has a certificate", async () => {
  const tls = await testCertificate();
  await withParts(async (deps) => {
    const gate = await start(testConfig({ roles: ["gate"], tls }), deps);
    const client = Deno.createHttpClient({ caCerts: [tls.ca] });
    try {
      const res = await fetch(`https://localhost:${gate.ports.http}/healthz`, { client });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).ok, true);
      // Plain HTTP on the TLS port gets no answer.
      await assert.rejects(fetch(`http://127.0.0.1:${gate.ports.http}/healthz`));
    } finally {
      client.close();
      await gate.close();
    }
  });
});
