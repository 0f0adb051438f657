/**
 * Frames that are not what the protocol allows, over a real socket (one
 * process, sqlite + memory): unknown types, wrong fields, NUL characters,
 * binary and non-JSON frames, too many invalid frames, frames over 64 KiB
 * and text that is not UTF-8. Each gets the code docs/protocol.md §7, §8 and
 * §12 give it, nothing is stored, and nothing reaches another user. Every
 * case sets up its own users (tests/bad_input.ts).
 */
import assert from "node:assert/strict";
import { login, register } from "./cluster.ts";
import { OPCODE, RawSocket, sleep, withoutSeq } from "../testing/mod.ts";
import { friends, leaksSince, people, rejectsWith, session, withParley } from "./bad_input.ts";

Deno.test("frames the protocol does not allow get their documented code", async (t) => {
  await withParley({}, async (parley, open) => {
    const wsUrl = parley.nodes.get("solo")!.wsUrl;

    await t.step("an unknown frame type gets unknown_type with the request's id", async () => {
      const [{ client: a }] = await people(parley, open, "unknown1");
      a.send({ type: "msg.delete", id: "u1", message_id: 1 });
      assert.equal((await a.next("error", (e) => e.id === "u1")).error.code, "unknown_type");
      a.send({ type: "MSG.SEND", id: 5 });
      assert.equal((await a.next("error", (e) => e.id === 5)).error.code, "unknown_type");
    });

    await t.step(
      "wrong or unknown fields in msg.send get invalid_request and store nothing",
      async () => {
        const [alice, bob] = await people(parley, open, "fields1", "fields2");
        await friends(alice, bob);
        const a = alice.client, b = bob.client;
        const to = bob.account.id;
        const markB = b.frames.length;
        const cases: Record<string, unknown>[] = [
          { to: String(to), text: "x", client_id: "w1" },
          { to, text: 5, client_id: "w2" },
          { to, text: "x" },
          { to, text: "x", client_id: "c".repeat(65) },
          { to, text: "😀".repeat(4001), client_id: "w4" },
          { to, text: "x", client_id: "w5", urgent: true },
          { to, text: " \n\t ", client_id: "w6" },
        ];
        for (const fields of cases) {
          const e = await rejectsWith(a.request("msg.send", fields), "invalid_request");
          assert.equal(e.frame?.type, "error");
        }
        // 4,000 code points is the limit, however many UTF-16 units or bytes they take.
        // (As history shows it: without the seq a result or a push carries.)
        const longest = withoutSeq(
          (await a.request("msg.send", {
            to,
            text: "😀".repeat(4000),
            client_id: "w-max",
          })).message,
        );
        assert.equal([...longest.text].length, 4000);
        assert.deepEqual(withoutSeq((await b.next("msg.new")).message), longest);
        assert.deepEqual((await a.request("msg.history", { with: to })).messages, [longest]);
        assert.equal(leaksSince(b, markB).length, 1, "only the valid message reached bob");
      },
    );

    await t.step("out-of-range limits and fields get invalid_request", async () => {
      const [alice, dave] = await people(parley, open, "range1", "range2");
      const a = alice.client, d = dave.client;
      const markD = d.frames.length;
      // These fail their schema whoever the other user is.
      const bobId = dave.account.id;
      await rejectsWith(a.request("msg.history", { with: bobId, limit: 101 }), "invalid_request");
      await rejectsWith(a.request("user.search", { query: "b", limit: 51 }), "invalid_request");
      await rejectsWith(a.request("user.search", { query: "" }), "invalid_request");
      await rejectsWith(
        a.request("friend.request", { user_id: dave.account.id, greeting: "g".repeat(201) }),
        "invalid_request",
      );
      await rejectsWith(a.request("msg.ack", { peer: bobId }), "invalid_request");
      await rejectsWith(
        a.request("msg.history", { with: alice.account.id }),
        "invalid_request",
      );
      await sleep(200);
      assert.deepEqual(leaksSince(d, markD), []);
      assert.deepEqual((await d.request("friend.requests")).incoming, []);
    });

    await t.step(
      "a NUL character in text, client_id or greeting gets invalid_request at the edge",
      async () => {
        const [alice, bob, dave] = await people(parley, open, "nul1", "nul2", "nul3");
        await friends(alice, bob);
        const a = alice.client, b = bob.client, d = dave.client;
        const to = bob.account.id;
        const markB = b.frames.length;
        const markD = d.frames.length;
        const cases: ["msg.send" | "friend.request", Record<string, unknown>, RegExp][] = [
          ["msg.send", { to, text: "before\0after", client_id: "nul-1" }, /^text:/],
          ["msg.send", { to, text: "\0", client_id: "nul-2" }, /^text:/],
          ["msg.send", { to, text: "fine", client_id: "nul\0-3" }, /^client_id:/],
          ["friend.request", { user_id: dave.account.id, greeting: "hi\0there" }, /^greeting:/],
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
        assert.deepEqual((await a.request("msg.history", { with: to })).messages, []);
        assert.deepEqual((await d.request("friend.requests")).incoming, []);
      },
    );

    await t.step(
      "a binary frame and text that is not a JSON object with a string type get invalid_frame",
      async () => {
        const [{ client: a }] = await people(parley, open, "binary1");
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
        const [{ client: a }] = await people(parley, open, "tenth1");
        for (let i = 0; i < 9; i++) a.send("garbage");
        a.send({ type: "ping", id: "alive" });
        assert.equal((await a.next("pong")).id, "alive", "nine invalid frames are tolerated");
        assert.equal(a.events("error").length, 9);
        a.send("garbage");
        assert.equal((await a.closed).code, 1008);
        assert.equal(a.events("error").length, 10);
      },
    );

    await t.step("a frame over 64 KiB closes the socket with 1009 and is not stored", async () => {
      const [alice, bob] = await people(parley, open, "big1", "big2");
      await friends(alice, bob);
      const b = bob.client;
      const markB = b.frames.length;
      let a = alice.client;
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
      a = (await session(parley, open, alice.account)).client;
      a.send({
        type: "msg.send",
        id: "big",
        to: bob.account.id,
        text: "x".repeat(70_000),
        client_id: "big",
      });
      const e = await a.next("error");
      assert.deepEqual([e.id, e.error.code], [null, "frame_too_large"]);
      assert.equal((await a.closed).code, 1009);
      a = (await session(parley, open, alice.account)).client;
      assert.deepEqual((await a.request("msg.history", { with: bob.account.id })).messages, []);
      assert.deepEqual(leaksSince(b, markB), []);
    });

    await t.step(
      "a text frame that is not UTF-8 closes that connection with 1007; the node keeps serving",
      async () => {
        const account = await register(parley, "utf1");
        const { token } = await login(parley, account);
        const raw = await RawSocket.open(wsUrl);
        try {
          await raw.sendText(JSON.stringify({ type: "auth", token }));
          const first = await raw.readFrame();
          assert.equal(first?.opcode, OPCODE.TEXT);
          assert.equal(JSON.parse(new TextDecoder().decode(first!.payload)).type, "welcome");
          await raw.sendFrame(OPCODE.TEXT, new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]));
          const close = await raw.readUntilClose();
          assert.equal(close?.code, 1007, `closed with ${JSON.stringify(close)}`);
        } finally {
          raw.close();
        }
        const { client: a } = await session(parley, open, account);
        a.send({ type: "ping", id: "after-utf8" });
        assert.equal((await a.next("pong")).id, "after-utf8");
      },
    );
  });
});
