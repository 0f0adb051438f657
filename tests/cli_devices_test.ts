/**
 * The terminal client as one of several devices (issue 11, protocol 2),
 * against the real chat role: with `parley chat` open in tmux, the same
 * user runs one-shot commands (`send`, `history`, `friends`) in other
 * processes. The screen is neither kicked nor disturbed, shows the message
 * sent from the other process in the right conversation, clears an unread
 * count when the messages are read elsewhere; a friend connected over the
 * WebSocket sees no presence event for the one-shot sessions; and the
 * screen's session is the device kept in devices.json, labelled with the
 * host name. Needs tmux.
 */
import assert from "node:assert/strict";
import {
  ADMIN_TOKEN,
  befriend,
  loginAndConnect,
  type Parley,
  register,
  startSingle,
} from "./cluster.ts";
import { type ChatClient, eventually, tempDir } from "../testing/mod.ts";
import { ADMIN_ARGS, parleyUser, run, show, stopTmux, TmuxChat } from "../cli/_test_helpers.ts";

/** Waits until the screen satisfies `ok`; a failure shows the screen. */
async function until(pane: TmuxChat, what: string, ok: (screen: string) => boolean) {
  await eventually(async () => ok(await pane.screen()), { what, timeoutMs: 20_000 }).catch(
    async (e) => {
      throw new Error(`${e.message}\n--- screen\n${await pane.screen()}`);
    },
  );
}

/**
 * alice with her friends (connected over the WebSocket from the test, each
 * having seen her go offline), and alice logged in with `parley`.
 */
async function aliceAndFriends(p: Parley, dir: string, names: string[]) {
  const aliceAcc = await register(p, "alice");
  const a = await loginAndConnect(p, aliceAcc);
  const friends: ChatClient[] = [];
  for (const name of names) {
    const account = await register(p, name);
    const client = (await loginAndConnect(p, account)).client;
    friends.push(client);
    await befriend({ client: a.client, account: aliceAcc }, { client, account });
  }
  await a.client.close();
  for (const f of friends) {
    await f.next("presence", (e) => e.user_id === aliceAcc.id && !e.online, 10_000);
  }
  const alice = parleyUser(p.gateUrl, `${dir}/alice`);
  const login = await alice.run(["login", "alice", "--password-stdin"], {
    stdin: aliceAcc.password + "\n",
  });
  assert.equal(login.code, 0, show(login));
  return { aliceAcc, alice, friends };
}

Deno.test("one-shot commands beside an open chat screen: no kick, no presence flicker, synced", async () => {
  const p: Parley = await startSingle();
  const dir = await tempDir();
  const socket = `${dir.path}/tmux.sock`;
  const clients: ChatClient[] = [];
  try {
    const { aliceAcc, alice, friends: [bob, carol] } = await aliceAndFriends(p, dir.path, [
      "bob",
      "carol",
    ]);
    clients.push(bob, carol);

    // No screen open: the commands' sessions do not make alice appear online.
    const offline = bob.events("presence", (e) => e.user_id === aliceAcc.id).length;
    assert.equal((await alice.run(["friends"])).code, 0);
    assert.equal((await alice.run(["send", "bob", "while offline"])).code, 0);
    await bob.next("msg.new", (e) => e.message.text === "while offline", 10_000);
    assert.equal(
      bob.events("presence", (e) => e.user_id === aliceAcc.id).length,
      offline,
      "no online/offline flicker for a one-shot command",
    );

    const pane = await TmuxChat.start({ socket, server: p.gateUrl, configDir: alice.configDir });
    await until(pane, "the chat screen", (s) => s.includes("● connected") && /›● bob/.test(s));
    await bob.next("presence", (e) => e.user_id === aliceAcc.id && e.online, 10_000);
    const presenceSeen = bob.events("presence", (e) => e.user_id === aliceAcc.id).length;

    // The screen is a device: the id kept beside the session, the host name as its label.
    const devices = JSON.parse(await Deno.readTextFile(`${alice.configDir}/devices.json`));
    const deviceId = devices.devices[`${p.gateUrl} #${aliceAcc.id}`];
    assert.match(deviceId, /^[0-9a-f-]{36}$/, JSON.stringify(devices));
    const presence = await run(ADMIN_ARGS, ["presence", "alice", "--json"], {
      env: { PARLEY_STATUS_ADDR: p.status.target, PARLEY_ADMIN_TOKEN: ADMIN_TOKEN },
    });
    const sessions = JSON.parse(presence.stdout).sessions;
    assert.equal(sessions.length, 1, show(presence));
    assert.equal(sessions[0].device, deviceId);
    assert.equal(sessions[0].label, Deno.hostname().slice(0, 64) || "terminal");

    // carol's conversation open; bob writes: unread on the screen.
    await pane.keys("Down");
    await until(pane, "carol selected", (s) => /›● carol/.test(s));
    await bob.request("msg.send", { to: aliceAcc.id, text: "are you there?", client_id: "b-1" });
    await until(pane, "bob unread", (s) => s.split("\n")[22].includes("unread: bob 1"));

    // Another process sends as alice: bob gets it, the screen files it under bob.
    const sent = await alice.run(["send", "bob", "sent from another terminal"]);
    assert.equal(sent.code, 0, show(sent));
    await bob.next("msg.new", (e) => e.message.text === "sent from another terminal", 10_000);

    // Reading in another process clears the unread count on the screen.
    const history = await alice.run(["history", "bob"]);
    assert.equal(history.code, 0, show(history));
    assert.match(history.stdout, /bob +are you there\?/, show(history));
    await until(pane, "read elsewhere", (s) => !s.split("\n")[22].includes("unread: bob"));

    const list = await alice.run(["friends"]);
    assert.equal(list.code, 0, show(list));
    assert.match(list.stdout, /bob/, show(list));

    await pane.keys("Up");
    await until(
      pane,
      "the message from the other process in bob's conversation",
      (s) => /bob: are you there\?/.test(s) && /you: sent from another terminal/.test(s),
    );
    const screen = await pane.screen();
    assert.ok(screen.split("\n")[22].includes("● connected"), screen);
    assert.doesNotMatch(screen, /elsewhere|kicked|logged out/, "the screen was not disturbed");

    // A last message after every command: anything the commands' sessions announced is before it.
    const last = await alice.run(["send", "bob", "last one"]);
    assert.equal(last.code, 0, show(last));
    await bob.next("msg.new", (e) => e.message.text === "last one", 10_000);
    await until(pane, "the last one on the screen", (s) => /you: last one/.test(s));
    assert.equal(
      bob.events("presence", (e) => e.user_id === aliceAcc.id).length,
      presenceSeen,
      "bob saw no presence event for alice's one-shot commands",
    );
    assert.deepEqual(
      carol.events("presence", (e) => e.user_id === aliceAcc.id).map((e) => e.online),
      [false, true],
      "carol too: offline before the screen, online with it, nothing since",
    );

    await pane.keys("C-c");
    await until(pane, "a clean exit", (s) => s.includes("EXITED 0"));
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- server log (tail)\n${p.logs().slice(-2000)}`);
  } finally {
    for (const c of clients) await c.close().catch(() => {});
    await stopTmux(socket);
    await dir.remove();
    await p.close();
  }
});

Deno.test("under the single-session policy too, a one-shot command never kicks the screen", async () => {
  const p: Parley = await startSingle({ chat: { sessions: "single" } });
  const dir = await tempDir();
  const socket = `${dir.path}/tmux.sock`;
  let bob: ChatClient | null = null;
  try {
    const { alice, friends } = await aliceAndFriends(p, dir.path, ["bob"]);
    bob = friends[0];
    const pane = await TmuxChat.start({ socket, server: p.gateUrl, configDir: alice.configDir });
    await until(pane, "the chat screen", (s) => s.includes("● connected") && /›● bob/.test(s));
    for (const args of [["friends"], ["history", "bob"], ["send", "bob", "one-shot"]]) {
      const r = await alice.run(args);
      assert.equal(r.code, 0, show(r));
    }
    await bob.next("msg.new", (e) => e.message.text === "one-shot", 10_000);
    await until(pane, "the one-shot message", (s) => /you: one-shot/.test(s));
    const screen = await pane.screen();
    assert.ok(screen.split("\n")[22].includes("● connected"), screen);
    assert.doesNotMatch(screen, /elsewhere|kicked/, "not kicked");
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- server log (tail)\n${p.logs().slice(-2000)}`);
  } finally {
    await bob?.close().catch(() => {});
    await stopTmux(socket);
    await dir.remove();
    await p.close();
  }
});
