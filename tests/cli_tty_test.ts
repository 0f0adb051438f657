/**
 * The interactive chat screen driven through a real pseudo-terminal: tmux
 * runs `parley chat` in an 80x24 window; keys go in with send-keys and the
 * screen is read back with capture-pane. A second user, connected over the
 * WebSocket from the test, reads and answers. Needs tmux (.ci/run installs
 * it: apt-get install -y tmux). tests/cli_tty_screen_test.ts covers the
 * rest of the screen, item by item.
 */
import assert from "node:assert/strict";
import { befriend, loginAndConnect, type Parley, register, startSingle } from "./cluster.ts";
import { eventually, tempDir } from "../testing/mod.ts";
import { parleyUser, show, stopTmux, TmuxChat } from "../cli/_test_helpers.ts";

Deno.test("the chat screen in a terminal: open a conversation, send, see the reply and the read mark", async () => {
  const p: Parley = await startSingle();
  const dir = await tempDir();
  const socket = `${dir.path}/tmux.sock`;
  let pane: TmuxChat | null = null;
  const screen = () => pane!.screen();
  let bob: Awaited<ReturnType<typeof loginAndConnect>>["client"] | null = null;
  try {
    const aliceAcc = await register(p, "alice");
    const bobAcc = await register(p, "bob");
    const carolAcc = await register(p, "carol");
    const a = await loginAndConnect(p, aliceAcc);
    const b = await loginAndConnect(p, bobAcc);
    const c = await loginAndConnect(p, carolAcc);
    bob = b.client;
    await befriend({ client: a.client, account: aliceAcc }, { client: b.client, account: bobAcc });
    await befriend({ client: a.client, account: aliceAcc }, {
      client: c.client,
      account: carolAcc,
    });
    await a.client.close();
    await c.client.close();

    const alice = parleyUser(p.gateUrl, `${dir.path}/alice`);
    const login = await alice.run(["login", "alice", "--password-stdin"], {
      stdin: aliceAcc.password + "\n",
    });
    assert.equal(login.code, 0, show(login));

    pane = await TmuxChat.start({ socket, server: p.gateUrl, configDir: alice.configDir });

    // The friend list, with bob first (selected) and the connection up.
    await eventually(async () => {
      const s = await screen();
      return s.includes("● connected") && /›● bob/.test(s) && s.includes("carol");
    }, { timeoutMs: 20_000, what: "the chat screen" }).catch(async (e) => {
      throw new Error(`${e.message}\n${await screen()}`);
    });

    // Down then Up: carol, then back to bob.
    await pane.keys("Down");
    await eventually(async () => /›○ carol/.test(await screen()), { what: "carol selected" });
    await pane.keys("Up");
    await eventually(async () => /›● bob/.test(await screen()), { what: "bob selected" });

    await pane.type("hello bob, 日本語 👍");
    await pane.keys("Enter");
    const got = await bob.next("msg.new", (e) => e.message.from === aliceAcc.id, 10_000);
    assert.equal(got.message.text, "hello bob, 日本語 👍");

    // Delivered only: one tick.
    await bob.request("msg.ack", { peer: aliceAcc.id, delivered: got.message.id });
    await eventually(async () => /you: hello bob, 日本語 👍 ✓\s*$/m.test(await screen()), {
      what: "the delivered mark",
    });
    // Read, and a reply with an escape sequence that must not reach the terminal.
    await bob.request("msg.ack", { peer: aliceAcc.id, read: got.message.id });
    await bob.request("msg.send", {
      to: aliceAcc.id,
      text: "hi alice \x1b]0;pwned\x07\x1b[2Jback",
      client_id: "reply-1",
    });
    await eventually(async () => {
      const s = await screen();
      return /you: hello bob, 日本語 👍 ✓✓\s*$/m.test(s) && /bob: hi alice back\s*$/m.test(s);
    }, { what: "the read mark and the reply" }).catch(async (e) => {
      throw new Error(`${e.message}\n${await screen()}`);
    });
    // Alice had the conversation open, so the reply was read at once.
    await bob.next("msg.status", (e) => e.peer === aliceAcc.id && e.read_id > got.message.id, 5000);

    // A narrow terminal: the friend list gives way, the conversation stays.
    await pane.resize(40, 12);
    await eventually(async () => {
      const s = await screen();
      return !s.includes("│") && /bob: hi alice back/.test(s);
    }, { what: "the narrow layout" }).catch(async (e) => {
      throw new Error(`${e.message}\n${await screen()}`);
    });

    await pane.keys("C-c");
    await eventually(async () => (await screen()).includes("EXITED 0"), { what: "a clean exit" });
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- server log (tail)\n${p.logs().slice(-2000)}`);
  } finally {
    await bob?.close().catch(() => {});
    await stopTmux(socket);
    await dir.remove();
    await p.close();
  }
});
