import assert from "node:assert/strict";
import { Hono } from "hono";
import { clientIp, type GateEnv } from "./request.ts";

function ipApp(trustProxy: boolean) {
  const app = new Hono<GateEnv>();
  app.get("/", (c) => c.text(clientIp(c, trustProxy)));
  return async (headers: Record<string, string>, peer?: string) => {
    const env = peer ? { remoteAddr: { hostname: peer } } : {};
    return await (await app.request("/", { headers }, env)).text();
  };
}

Deno.test("clientIp() takes the connection's peer and ignores X-Forwarded-For by default", async () => {
  const ip = ipApp(false);
  assert.equal(await ip({}, "192.0.2.7"), "192.0.2.7");
  assert.equal(await ip({ "x-forwarded-for": "198.51.100.1" }, "192.0.2.7"), "192.0.2.7");
  assert.equal(await ip({}), "unknown");
});

Deno.test("clientIp() behind a trusted proxy takes the address the proxy appended", async () => {
  const ip = ipApp(true);
  // The client may send its own X-Forwarded-For; the proxy appends the real peer last.
  assert.equal(
    await ip({ "x-forwarded-for": "203.0.113.9, 198.51.100.1" }, "10.0.0.2"),
    "198.51.100.1",
  );
  assert.equal(await ip({ "x-forwarded-for": "198.51.100.1" }, "10.0.0.2"), "198.51.100.1");
  assert.equal(await ip({}, "10.0.0.2"), "10.0.0.2");
});
