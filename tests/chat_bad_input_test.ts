/**
 * Bad input and abuse over a real socket (one process, sqlite + memory):
 * each case gets the error or close code docs/protocol.md §7, §8 and §12
 * give it, nothing is stored, and nothing reaches another user.
 */
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import {
  type Account,
  befriend,
  gateCall,
  JWT_SECRET,
  login,
  loginAndConnect,
  type Parley,
  register,
  startSingle,
  withLogs,
} from "./cluster.ts";
import { ChatClient, connect, OPCODE, RawSocket, RequestError, sleep } from "../testing/mod.ts";
import type { WireMessage } from "../proto/protocol.ts";

const AUTH_TIMEOUT_MS = 1000;
const MAX_UNAUTHENTICATED = 3;
/** Events that would mean something reached another user. */
const LEAKS = new Set(["msg.new", "msg.status", "typing", "friend.request", "friend.accepted"]);

async function rejectsWith(p: Promise<unknown>, code: string): Promise<RequestError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RequestError && e.code === code) return e;
    throw new assert.AssertionError({ message: `expected ${code}, got ${e}` });
  }
  throw new assert.AssertionError({ message: `expected ${code}, got a result` });
}

function leaksSince(client: ChatClient, mark: number): unknown[] {
  return client.frames.slice(mark).filter((f) => LEAKS.has(f.type));
}

function signedToken(userId: number, options: { expS: number; secret?: string }): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(String(userId))
    .setIssuer("parley")
    .setAudience("parley-chat")
    .setJti(crypto.randomUUID())
    .setIssuedAt(now - 3600)
    .setExpirationTime(now + options.expS)
    .sign(new TextEncoder().encode(options.secret ?? JWT_SECRET));
}

Deno.test({
  name: "bad input over a real socket gets its documented code, stores nothing and reaches nobody",
  async fn(t) {
    const parley: Parley = await startSingle({
      chat: {
        authTimeoutMs: AUTH_TIMEOUT_MS,
        maxUnauthenticated: MAX_UNAUTHENTICATED,
        msgRate: 2,
        msgBurst: 5,
      },
    });
    const wsUrl = parley.nodes.get("solo")!.wsUrl;
    const open: ChatClient[] = [];
    const sessions = new Map<string, ChatClient>();
    /** A new session of `account` (the previous one closed first); sync consumed. */
    const session = async (account: Account) => {
      await sessions.get(account.name)?.close();
      const { client } = await loginAndConnect(parley, account);
      open.push(client);
      sessions.set(account.name, client);
      await client.syncMessages();
      return client;
    };
    try {
      // Unauthenticated sockets first, while none of the others exist.
      await t.step(
        "a socket past the cap of unauthenticated sockets is closed with 1013",
        async () => {
          const waiting: ChatClient[] = [];
          for (let i = 0; i < MAX_UNAUTHENTICATED; i++) {
            waiting.push(await ChatClient.open(wsUrl));
          }
          open.push(...waiting);
          const over = await ChatClient.open(wsUrl);
          open.push(over);
          assert.equal((await over.closed).code, 1013);
          for (const w of waiting) assert.ok(w.isOpen, "the ones under the cap stay open");
          await Promise.all(waiting.map((w) => w.close()));
        },
      );

      const alice = await register(parley, "alice");
      const bob = await register(parley, "bob");
      const carol = await register(parley, "carol");
      const dave = await register(parley, "dave");
      let a = await session(alice);
      const b = await session(bob);
      const c = await session(carol);
      const d = await session(dave);
      await befriend({ client: a, account: alice }, { client: b, account: bob });
      await befriend({ client: a, account: alice }, { client: c, account: carol });
      // What alice and bob legitimately said; history must only ever hold this.
      const ab: WireMessage[] = [];
      const send = async (from: ChatClient, to: number, text: string, clientId: string) =>
        (await from.request("msg.send", { to, text, client_id: clientId })).message;

      await t.step(
        "frames before auth get not_authenticated; no auth within the timeout closes with 4002",
        async () => {
          const s = await ChatClient.open(wsUrl);
          open.push(s);
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

      await t.step("an unknown frame type gets unknown_type with the request's id", async () => {
        a = await session(alice);
        a.send({ type: "msg.delete", id: "u1", message_id: 1 });
        assert.equal((await a.next("error", (e) => e.id === "u1")).error.code, "unknown_type");
        a.send({ type: "MSG.SEND", id: 5 });
        assert.equal((await a.next("error", (e) => e.id === 5)).error.code, "unknown_type");
      });

      await t.step(
        "wrong or unknown fields in msg.send get invalid_request and store nothing",
        async () => {
          a = await session(alice);
          const markB = b.frames.length;
          const cases: Record<string, unknown>[] = [
            { to: String(bob.id), text: "x", client_id: "w1" },
            { to: bob.id, text: 5, client_id: "w2" },
            { to: bob.id, text: "x" },
            { to: bob.id, text: "x", client_id: "c".repeat(65) },
            { to: bob.id, text: "😀".repeat(4001), client_id: "w4" },
            { to: bob.id, text: "x", client_id: "w5", urgent: true },
            { to: bob.id, text: " \n\t ", client_id: "w6" },
          ];
          for (const fields of cases) {
            const e = await rejectsWith(a.request("msg.send", fields), "invalid_request");
            assert.equal(e.frame?.type, "error");
          }
          // 4,000 code points is the limit, however many UTF-16 units or bytes they take.
          const longest = await send(a, bob.id, "😀".repeat(4000), "w-max");
          assert.equal([...longest.text].length, 4000);
          ab.push(longest);
          assert.deepEqual((await b.next("msg.new")).message, longest);
          const hist = await a.request("msg.history", { with: bob.id });
          assert.deepEqual(hist.messages, ab);
          assert.deepEqual(leaksSince(b, markB).length, 1, "only the valid message reached bob");
        },
      );

      await t.step("out-of-range limits and fields get invalid_request", async () => {
        a = await session(alice);
        const markD = d.frames.length;
        await rejectsWith(
          a.request("msg.history", { with: bob.id, limit: 101 }),
          "invalid_request",
        );
        await rejectsWith(a.request("user.search", { query: "b", limit: 51 }), "invalid_request");
        await rejectsWith(a.request("user.search", { query: "" }), "invalid_request");
        await rejectsWith(
          a.request("friend.request", { user_id: dave.id, greeting: "g".repeat(201) }),
          "invalid_request",
        );
        await rejectsWith(a.request("msg.ack", { peer: bob.id }), "invalid_request");
        await rejectsWith(a.request("msg.history", { with: alice.id }), "invalid_request");
        await sleep(200);
        assert.deepEqual(leaksSince(d, markD), []);
        assert.deepEqual((await d.request("friend.requests")).incoming, []);
      });

      await t.step(
        "a NUL character in text, client_id or greeting gets invalid_request at the edge",
        async () => {
          a = await session(alice);
          const markB = b.frames.length;
          const markD = d.frames.length;
          const cases: ["msg.send" | "friend.request", Record<string, unknown>, RegExp][] = [
            ["msg.send", { to: bob.id, text: "before\0after", client_id: "nul-1" }, /^text:/],
            ["msg.send", { to: bob.id, text: "\0", client_id: "nul-2" }, /^text:/],
            ["msg.send", { to: bob.id, text: "fine", client_id: "nul\0-3" }, /^client_id:/],
            ["friend.request", { user_id: dave.id, greeting: "hi\0there" }, /^greeting:/],
          ];
          for (const [type, fields, field] of cases) {
            const e = await rejectsWith(a.request(type, fields), "invalid_request");
            const frame = e.frame as { error: { message: string } };
            assert.match(frame.error.message, field, `${type} ${JSON.stringify(fields)}`);
            assert.match(frame.error.message, /NUL/);
          }
          await sleep(200);
          assert.deepEqual(leaksSince(b, markB), [], "nothing reached bob");
          assert.deepEqual(leaksSince(d, markD), [], "no friend request reached dave");
          assert.deepEqual((await a.request("msg.history", { with: bob.id })).messages, ab);
          assert.deepEqual((await d.request("friend.requests")).incoming, []);
        },
      );

      await t.step(
        "a binary frame and text that is not a JSON object with a string type get invalid_frame",
        async () => {
          a = await session(alice);
          // [frame, the id the error carries]: null where the frame could not be
          // read, the frame's own id where it could (proto/protocol.ts ErrorFrame.id).
          const frames: [string | Uint8Array, string | null][] = [
            [new TextEncoder().encode(JSON.stringify({ type: "ping", id: "bin" })), null],
            ["not json {", null],
            ["[1,2,3]", null],
            [JSON.stringify({ id: "no-type" }), "no-type"],
            [JSON.stringify({ type: 7, id: "num-type" }), "num-type"],
          ];
          for (const [f, id] of frames) {
            a.send(f);
            const e = await a.next("error");
            assert.equal(e.error.code, "invalid_frame", `for ${String(f).slice(0, 40)}`);
            assert.equal(e.id, id, `the id of the error for ${String(f).slice(0, 40)}`);
          }
          assert.deepEqual(a.events("pong"), [], "the binary ping was not served");
        },
      );

      await t.step(
        "the tenth invalid frame within a minute gets its error and closes with 1008",
        async () => {
          a = await session(alice);
          for (let i = 0; i < 9; i++) a.send("garbage");
          a.send({ type: "ping", id: "alive" });
          assert.equal((await a.next("pong")).id, "alive", "nine invalid frames are tolerated");
          assert.equal(a.events("error").length, 9);
          a.send("garbage");
          assert.equal((await a.closed).code, 1008);
          assert.equal(a.events("error").length, 10);
        },
      );

      await t.step(
        "a frame over 64 KiB closes the socket with 1009 and is not stored",
        async () => {
          a = await session(alice);
          const markB = b.frames.length;
          // Exactly 65,536 bytes (a ping padded with JSON whitespace) is allowed.
          const ping = JSON.stringify({ type: "ping", id: "edge" });
          const edge = ping.slice(0, -1) + " ".repeat(65_536 - ping.length) + "}";
          assert.equal(new TextEncoder().encode(edge).length, 65_536);
          a.send(edge);
          assert.equal((await a.next("pong")).id, "edge");
          a.send(edge.slice(0, -1) + " }");
          const tooBig = await a.next("error", (e) => e.error.code === "frame_too_large");
          assert.equal(tooBig.id, null);
          assert.equal((await a.closed).code, 1009, "one byte more is too big");
          a = await session(alice);
          a.send({
            type: "msg.send",
            id: "big",
            to: bob.id,
            text: "x".repeat(70_000),
            client_id: "big",
          });
          const e = await a.next("error");
          assert.deepEqual([e.id, e.error.code], [null, "frame_too_large"]);
          assert.equal((await a.closed).code, 1009);
          a = await session(alice);
          assert.deepEqual((await a.request("msg.history", { with: bob.id })).messages, ab);
          assert.deepEqual(leaksSince(b, markB), []);
        },
      );

      await t.step(
        "a text frame that is not UTF-8 ends the connection and the node keeps serving",
        async () => {
          const { token } = await login(parley, alice);
          const raw = await RawSocket.open(wsUrl);
          try {
            await raw.sendText(JSON.stringify({ type: "auth", token }));
            const texts: string[] = [];
            const first = await raw.readFrame();
            assert.equal(first?.opcode, OPCODE.TEXT);
            texts.push(new TextDecoder().decode(first!.payload));
            assert.equal(JSON.parse(texts[0]).type, "welcome");
            await raw.sendFrame(OPCODE.TEXT, new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]));
            const close = await raw.readUntilClose(texts);
            // §8: dropped without a close frame (1006); 1007 would be the RFC's code.
            assert.ok(
              close === null || close.code === 1007,
              `closed with ${JSON.stringify(close)}`,
            );
          } finally {
            raw.close();
          }
          a = await session(alice);
          a.send({ type: "ping", id: "after-utf8" });
          assert.equal((await a.next("pong")).id, "after-utf8");
        },
      );

      await t.step(
        "messages to a non-friend, a missing user or oneself are refused and reach nobody",
        async () => {
          const markC = c.frames.length;
          const markB = b.frames.length;
          await rejectsWith(
            b.request("msg.send", { to: carol.id, text: "hello stranger", client_id: "s1" }),
            "not_friends",
          );
          await rejectsWith(
            b.request("msg.send", { to: 999_999, text: "hello nobody", client_id: "s2" }),
            "user_not_found",
          );
          await rejectsWith(
            b.request("msg.send", { to: bob.id, text: "hello me", client_id: "s3" }),
            "invalid_request",
          );
          b.send({ type: "typing", id: "t1", to: carol.id, active: true });
          assert.equal((await b.next("error", (e) => e.id === "t1")).error.code, "not_friends");
          b.send({ type: "typing", id: "t2", to: bob.id });
          assert.equal((await b.next("error", (e) => e.id === "t2")).error.code, "invalid_request");
          await sleep(200);
          assert.deepEqual(leaksSince(c, markC), []);
          assert.deepEqual(leaksSince(b, markB), []);
        },
      );

      await t.step("history with a stranger, a missing user or oneself is refused", async () => {
        // carol has a conversation with alice; bob is not in it.
        const ac = await send(a, carol.id, "just between us", "ac-1");
        await c.next("msg.new", (e) => e.message.id === ac.id);
        const e = await rejectsWith(b.request("msg.history", { with: carol.id }), "not_friends");
        assert.ok(!JSON.stringify(e.frame).includes("just between us"));
        await rejectsWith(b.request("msg.history", { with: 999_999 }), "user_not_found");
        await rejectsWith(b.request("msg.history", { with: bob.id }), "invalid_request");
      });

      await t.step(
        "acks for ids that are not the user's get invalid_ack and move no cursor",
        async () => {
          const toBob = await send(a, bob.id, "for bob", "ack-1");
          ab.push(toBob);
          await b.next("msg.new", (ev) => ev.message.id === toBob.id);
          const toCarol = await send(a, carol.id, "for carol", "ack-2");
          assert.ok(toCarol.id > toBob.id);
          await c.next("msg.new", (ev) => ev.message.id === toCarol.id);
          const markA = a.frames.length;
          const markC = c.frames.length;
          // alice's message to carol is newer than anything alice sent bob.
          await rejectsWith(
            b.request("msg.ack", { peer: alice.id, read: toCarol.id }),
            "invalid_ack",
          );
          await rejectsWith(
            b.request("msg.ack", { peer: carol.id, delivered: toCarol.id }),
            "invalid_ack",
          );
          await rejectsWith(b.request("msg.ack", { peer: 999_999, delivered: 1 }), "invalid_ack");
          await sleep(200);
          assert.deepEqual(leaksSince(a, markA), [], "alice got no msg.status");
          assert.deepEqual(leaksSince(c, markC), []);
          const withBob = await a.request("msg.history", { with: bob.id });
          assert.deepEqual([withBob.peer_delivered_id, withBob.peer_read_id], [0, 0]);
          const withCarol = await a.request("msg.history", { with: carol.id });
          assert.deepEqual([withCarol.peer_delivered_id, withCarol.peer_read_id], [0, 0]);
          // A right ack still works afterwards.
          const ok = await b.request("msg.ack", { peer: alice.id, delivered: toBob.id });
          assert.deepEqual(ok, { delivered_id: toBob.id, read_id: 0 });
        },
      );

      await t.step(
        "friend requests to oneself, twice, to a friend or to nobody are refused",
        async () => {
          const markD = d.frames.length;
          await rejectsWith(a.request("friend.request", { user_id: alice.id }), "self_request");
          await rejectsWith(a.request("friend.request", { user_id: 999_999 }), "user_not_found");
          await rejectsWith(a.request("friend.request", { user_id: bob.id }), "already_friends");
          const first = await a.request("friend.request", { user_id: dave.id, greeting: "hey" });
          assert.equal(first.status, "sent");
          const again = await a.request("friend.request", { user_id: dave.id, greeting: "hey!!" });
          assert.equal(again.status, "already_sent");
          await sleep(300);
          assert.equal(d.frames.slice(markD).filter((f) => f.type === "friend.request").length, 1);
          const pending = await d.request("friend.requests");
          assert.deepEqual(pending.incoming.map((r) => [r.from.id, r.greeting]), [[
            alice.id,
            "hey",
          ]]);
          await rejectsWith(d.request("friend.accept", { user_id: bob.id }), "request_not_found");
        },
      );

      await t.step(
        "a revoked token (after logout) is refused with token_revoked and 4001",
        async () => {
          const spare = await login(parley, alice);
          const out = await gateCall(parley.gateUrl, "POST", "/api/v1/logout", {
            token: spare.token,
          });
          assert.equal(out.status, 204);
          const s = await ChatClient.open(wsUrl);
          open.push(s);
          await rejectsWith(s.auth(spare.token), "token_revoked");
          assert.equal((await s.closed).code, 4001);
          assert.ok(a.isOpen, "a refused login does not kick the user's live session");
          const v = await ChatClient.open(wsUrl, {
            protocols: ["parley.v1", `parley.auth.${spare.token}`],
          })
            .catch((e) => e as Error);
          if (v instanceof ChatClient) {
            open.push(v);
            await rejectsWith(v.awaitWelcome(), "token_revoked");
            assert.equal((await v.closed).code, 4001);
          } else assert.fail(`the subprotocol variant was refused at the upgrade: ${v.message}`);
          assert.ok(a.isOpen);
        },
      );

      await t.step(
        "an expired or foreign-signed token is refused with 4001; a valid one works",
        async () => {
          const expired = await signedToken(dave.id, { expS: -60 });
          const s1 = await ChatClient.open(wsUrl);
          open.push(s1);
          await rejectsWith(s1.auth(expired), "token_expired");
          assert.equal((await s1.closed).code, 4001);
          const foreign = await signedToken(dave.id, { expS: 600, secret: "x".repeat(48) });
          const s2 = await ChatClient.open(wsUrl);
          open.push(s2);
          await rejectsWith(s2.auth(foreign), "token_invalid");
          assert.equal((await s2.closed).code, 4001);
          const s3 = await ChatClient.open(wsUrl);
          open.push(s3);
          await rejectsWith(s3.auth("not-a-jwt"), "token_invalid");
          assert.equal((await s3.closed).code, 4001);
          assert.ok(d.isOpen, "refused logins do not kick dave's live session");
          // The same claims with a future expiry are accepted: only expiry made the difference.
          const good = await connect(wsUrl, await signedToken(dave.id, { expS: 600 }));
          open.push(good);
          assert.equal(good.welcome!.user.id, dave.id);
          assert.equal((await d.closed).code, 4003);
          sessions.set("dave", good);
        },
      );

      await t.step("a second auth gets already_authenticated", async () => {
        const { token } = await login(parley, bob);
        const s = sessions.get("bob")!;
        s.send({ type: "auth", id: "again", token });
        const e = await s.next("error", (f) => f.id === "again");
        assert.equal(e.error.code, "already_authenticated");
        await sleep(200);
        assert.ok(s.isOpen, "the session goes on");
      });

      await t.step(
        "messages past the rate get rate_limited with retry_after_ms and are not stored",
        async () => {
          a = await session(alice);
          const sent: WireMessage[] = [];
          for (let i = 0; i < 5; i++) sent.push(await send(a, bob.id, `burst ${i}`, `rate-${i}`));
          const e = await rejectsWith(
            a.request("msg.send", { to: bob.id, text: "one too many", client_id: "rate-5" }),
            "rate_limited",
          );
          const frame = e.frame as { error: { retry_after_ms?: number } };
          const wait = frame.error.retry_after_ms ?? -1;
          assert.ok(wait > 0 && wait <= 1000, `retry_after_ms ${wait}`);
          ab.push(...sent);
          assert.deepEqual((await a.request("msg.history", { with: bob.id })).messages, ab);
          await sleep(wait + 50);
          const later = await send(a, bob.id, "one too many", "rate-5");
          ab.push(later);
        },
      );

      await t.step(
        "in the end bob's history with alice holds exactly the valid messages",
        async () => {
          const hist = await b.request("msg.history", { with: alice.id, limit: 100 });
          assert.deepEqual(hist.messages, ab);
          const got = b.events("msg.new").map((e) => e.message);
          assert.deepEqual(got, ab, "bob was pushed exactly the valid messages");
        },
      );
    } catch (e) {
      throw withLogs(e, parley);
    } finally {
      await Promise.all(open.map((s) => s.close()));
      await parley.close();
    }
  },
});
