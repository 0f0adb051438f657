import assert from "node:assert/strict";
import http2 from "node:http2";
import { AppError } from "./errors.ts";
import { connect, serve, type Unary } from "./grpc.ts";
import { watchPeer } from "./peer_watch.ts";
import { testCertificate } from "../testing/mod.ts";

type Verify = {
  SendCode: Unary<{ email: string; purpose: string }, { expires_at_ms: number }>;
  CheckCode: Unary<{ email: string; purpose: string; code: string }, { ok: boolean }>;
};
const SERVICE = "parley.verify.VerifyService";
const SECRET = "test-cluster-secret-0123456789";
const auth = { clusterSecrets: [SECRET] };

/** A verify service whose CheckCode takes `slowMs`. */
function start(slowMs: number) {
  return serve("127.0.0.1", 0, [{
    file: "verify.proto",
    service: SERVICE,
    handlers: {
      SendCode: () => Promise.resolve({ expires_at_ms: 1, resend_after_s: 1 }),
      CheckCode: async () => {
        await new Promise((r) => setTimeout(r, slowMs));
        return { ok: true };
      },
    },
  }], { auth });
}

Deno.test("close() refuses new calls, lets a running one finish, then ends the connections without a GOAWAY", async () => {
  const server = await start(300);
  const client = connect<Verify>("verify.proto", SERVICE, `127.0.0.1:${server.port}`, {
    clusterSecret: SECRET,
  });
  // A plain HTTP/2 session beside it, to see which frames the server sends.
  const session = http2.connect(`http://127.0.0.1:${server.port}`);
  session.on("error", () => {});
  let goaway = false;
  session.on("goaway", () => (goaway = true));
  const sessionClosed = new Promise((r) => session.once("close", r));
  try {
    await new Promise((r) => session.once("remoteSettings", r));
    assert.equal((await client.SendCode({ email: "a", purpose: "register" })).expires_at_ms, 1);
    const running = client.CheckCode({ email: "a", purpose: "register", code: "1" });
    await new Promise((r) => setTimeout(r, 50));
    const closed = server.close();
    // A call that arrives while it waits for the running one is refused at once.
    const t0 = Date.now();
    await assert.rejects(
      client.SendCode({ email: "a", purpose: "register" }),
      (e) => e instanceof AppError && e.code === "peer_unavailable",
    );
    assert.ok(Date.now() - t0 < 200, `refused after ${Date.now() - t0} ms`);
    assert.deepEqual(await running, { ok: true }, "the call in progress got its reply");
    await closed;
    await sessionClosed;
    assert.equal(goaway, false, "no GOAWAY reached the peer");
    await assert.rejects(
      client.SendCode({ email: "a", purpose: "register" }, { deadlineMs: 1000 }),
      (e) => e instanceof AppError && e.code === "peer_unavailable",
    );
  } finally {
    client.close();
    session.destroy();
    await server.close();
  }
});

Deno.test("close() does not wait longer than its grace period for a stuck call", async () => {
  const server = await start(60_000);
  const client = connect<Verify>("verify.proto", SERVICE, `127.0.0.1:${server.port}`, {
    clusterSecret: SECRET,
  });
  try {
    const stuck = client.CheckCode({ email: "a", purpose: "register", code: "1" }, {
      deadlineMs: 10_000,
    }).catch((e) => e);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await server.close();
    const took = Date.now() - t0;
    assert.ok(took >= 1500 && took < 4000, `closed after ${took} ms`);
    const e = await stuck;
    assert.ok(e instanceof AppError && e.code === "peer_unavailable", String(e));
  } finally {
    client.close();
  }
});

Deno.test("watchPeer() sees a connection come up, drop when the server closes, and be refused", async () => {
  const server = await start(0);
  const peer = watchPeer(`127.0.0.1:${server.port}`);
  try {
    let s = peer.state();
    while (s !== "ready") s = (await peer.next(s, 2000)) ?? "timeout" as never;
    await server.close();
    assert.notEqual(await peer.next("ready", 2000), null, "the drop is seen");
    s = peer.state();
    while (s !== "failed") {
      const n = await peer.next(s, 2000);
      assert.ok(n !== null, `stuck in ${s}`);
      s = n;
    }
  } finally {
    peer.close();
  }
});

Deno.test("a TLS server answers over its own listener and closes the same way", async () => {
  const tls = await testCertificate();
  const server = await serve("127.0.0.1", 0, [{
    file: "verify.proto",
    service: SERVICE,
    handlers: {
      SendCode: () => Promise.resolve({ expires_at_ms: 7, resend_after_s: 1 }),
      CheckCode: () => Promise.resolve({ ok: true }),
    },
  }], { tls, auth });
  const client = connect<Verify>("verify.proto", SERVICE, `localhost:${server.port}`, {
    tls,
    clusterSecret: SECRET,
  });
  try {
    assert.equal((await client.SendCode({ email: "a", purpose: "register" })).expires_at_ms, 7);
    await server.close();
    await assert.rejects(
      client.SendCode({ email: "a", purpose: "register" }, { deadlineMs: 1000 }),
      (e) => e instanceof AppError && e.code === "peer_unavailable",
    );
  } finally {
    client.close();
    await server.close();
  }
});
