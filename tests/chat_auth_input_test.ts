/**
 * Bad input before and at authentication, over a real socket (one process,
 * sqlite + memory): each case gets the error or close code docs/protocol.md
 * §7 and §8 give it, and a refused login never touches the user's live
 * session. Every case sets up its own users (tests/bad_input.ts).
 */
import assert from "node:assert/strict";
import { gateCall, login, register } from "./cluster.ts";
import { ChatClient, connect, eventually, sleep } from "../testing/mod.ts";
import { people, rejectsWith, session, signedToken, withParley } from "./bad_input.ts";

const AUTH_TIMEOUT_MS = 1000;
const MAX_UNAUTHENTICATED = 3;

Deno.test("bad input at authentication gets its documented code and close", async (t) => {
  await withParley({
    authTimeoutMs: AUTH_TIMEOUT_MS,
    maxUnauthenticated: MAX_UNAUTHENTICATED,
    // A valid login replaces the live session (the single-session policy's kick, checked below).
    sessions: "single",
  }, async (parley, open) => {
    const wsUrl = parley.nodes.get("solo")!.wsUrl;
    const metricsUrl = new URL("/metrics", wsUrl.replace(/^ws/, "http"));

    await t.step(
      "a socket past the cap of unauthenticated sockets is closed with 1013",
      async () => {
        // Sockets of other cases may still be counted for a moment after they closed.
        await eventually(async () => {
          const text = await (await fetch(metricsUrl)).text();
          return /^parley_chat_unauthenticated_sockets(\{[^}]*\})? 0$/m.test(text);
        }, { what: "no unauthenticated sockets on the node" });
        const waiting: ChatClient[] = [];
        for (let i = 0; i < MAX_UNAUTHENTICATED; i++) {
          waiting.push(open(await ChatClient.open(wsUrl)));
        }
        const over = open(await ChatClient.open(wsUrl));
        assert.equal((await over.closed).code, 1013);
        for (const w of waiting) assert.ok(w.isOpen, "the ones under the cap stay open");
        await Promise.all(waiting.map((w) => w.close()));
      },
    );

    await t.step(
      "frames before auth get not_authenticated; no auth within the timeout closes with 4002",
      async () => {
        const s = open(await ChatClient.open(wsUrl));
        const started = Date.now();
        s.send({ type: "ping" });
        s.send({ type: "friend.list", id: "early" });
        const e1 = await s.next("error", (e) => e.id === null);
        assert.equal(e1.error.code, "not_authenticated");
        const e2 = await s.next("error", (e) => e.id === "early");
        assert.equal(e2.error.code, "not_authenticated");
        assert.equal((await s.closed).code, 4002);
        const took = Date.now() - started;
        assert.ok(
          took >= AUTH_TIMEOUT_MS - 100 && took < AUTH_TIMEOUT_MS + 3000,
          `closed after ${took} ms`,
        );
        assert.deepEqual(s.frames.filter((f) => f.type === "result"), []);
      },
    );

    await t.step(
      "a revoked token (after logout) is refused with token_revoked and 4001",
      async () => {
        const [rev] = await people(parley, open, "revoked");
        const spare = await login(parley, rev.account);
        const out = await gateCall(parley.gateUrl, "POST", "/api/v1/logout", {
          token: spare.token,
        });
        assert.equal(out.status, 204);
        const s = open(await ChatClient.open(wsUrl));
        await rejectsWith(s.auth(spare.token), "token_revoked");
        assert.equal((await s.closed).code, 4001);
        assert.ok(rev.client.isOpen, "a refused login does not kick the user's live session");
        const v = await ChatClient.open(wsUrl, {
          protocols: ["parley.v1", `parley.auth.${spare.token}`],
        }).catch((e) => e as Error);
        if (!(v instanceof ChatClient)) {
          assert.fail(`the subprotocol variant was refused at the upgrade: ${v.message}`);
        }
        open(v);
        await rejectsWith(v.awaitWelcome(), "token_revoked");
        assert.equal((await v.closed).code, 4001);
        assert.ok(rev.client.isOpen);
      },
    );

    await t.step(
      "an expired or foreign-signed token is refused with 4001; a valid one works",
      async () => {
        const account = await register(parley, "expiring");
        const { client: live } = await session(parley, open, account);
        const expired = await signedToken(account.id, { expS: -60 });
        const s1 = open(await ChatClient.open(wsUrl));
        await rejectsWith(s1.auth(expired), "token_expired");
        assert.equal((await s1.closed).code, 4001);
        const foreign = await signedToken(account.id, { expS: 600, secret: "x".repeat(48) });
        const s2 = open(await ChatClient.open(wsUrl));
        await rejectsWith(s2.auth(foreign), "token_invalid");
        assert.equal((await s2.closed).code, 4001);
        const s3 = open(await ChatClient.open(wsUrl));
        await rejectsWith(s3.auth("not-a-jwt"), "token_invalid");
        assert.equal((await s3.closed).code, 4001);
        assert.ok(live.isOpen, "refused logins do not kick the live session");
        // The same claims with a future expiry are accepted: only expiry made the difference.
        const good = open(await connect(wsUrl, await signedToken(account.id, { expS: 600 })));
        assert.equal(good.welcome!.user.id, account.id);
        assert.equal((await live.closed).code, 4003);
      },
    );

    await t.step("a second auth gets already_authenticated", async () => {
      const [twice] = await people(parley, open, "twice");
      const { token } = await login(parley, twice.account);
      twice.client.send({ type: "auth", id: "again", token });
      const e = await twice.client.next("error", (f) => f.id === "again");
      assert.equal(e.error.code, "already_authenticated");
      await sleep(200);
      assert.ok(twice.client.isOpen, "the session goes on");
    });
  });
});
