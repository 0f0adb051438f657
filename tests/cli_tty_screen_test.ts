// deno-lint-ignore-file no-control-regex -- SGR sequences are what is checked
/**
 * The chat screen item by item, each in a real terminal: tmux runs
 * `parley chat` and the test reads the screen back. Covers what a new user
 * trips over: emoji a terminal counts wider than we do, scrolling limits
 * and the bottom anchor, starting while the server is down, the key hint
 * and help overlay, the habits of terminal chats (new-messages line, input
 * history, multi-line input, nick colours, activity list, /search, notices
 * that expire), and the wording of errors, kicks and logouts. Needs tmux.
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
import { type ChatClient, eventually, freePort, tempDir } from "../testing/mod.ts";
import { ADMIN_ARGS, parleyUser, run, show, stopTmux, TmuxChat } from "../cli/_test_helpers.ts";

const SGR = /\x1b\[[0-9;]*m/g;

/** Waits until the screen satisfies `ok`; a failure shows the screen. */
async function until(pane: TmuxChat, what: string, ok: (screen: string) => boolean, ms = 15_000) {
  await eventually(async () => ok(await pane.screen()), { what, timeoutMs: ms }).catch(
    async (e) => {
      throw new Error(`${e.message}\n--- screen\n${await pane.screen()}`);
    },
  );
}

Deno.test("the chat screen, item by item, in a real terminal", async (t) => {
  const p: Parley = await startSingle();
  const dir = await tempDir();
  const socket = `${dir.path}/tmux.sock`;
  const clients: ChatClient[] = [];
  try {
    const [aliceAcc, bobAcc, carolAcc] = [
      await register(p, "alice"),
      await register(p, "bob"),
      await register(p, "carol"),
    ];
    const a = await loginAndConnect(p, aliceAcc);
    const bob = (await loginAndConnect(p, bobAcc)).client;
    const carol = (await loginAndConnect(p, carolAcc)).client;
    clients.push(bob, carol);
    await befriend({ client: a.client, account: aliceAcc }, { client: bob, account: bobAcc });
    await befriend({ client: a.client, account: aliceAcc }, { client: carol, account: carolAcc });
    await a.client.close();
    const alice = parleyUser(p.gateUrl, `${dir.path}/alice`);
    const logIn = async () => {
      const r = await alice.run(["login", "alice", "--password-stdin"], {
        stdin: aliceAcc.password + "\n",
      });
      assert.equal(r.code, 0, show(r));
    };
    await logIn();
    const send = (from: ChatClient, text: string) =>
      from.request("msg.send", { to: aliceAcc.id, text, client_id: crypto.randomUUID() });
    const open = async (options: { cols?: number; color?: boolean } = {}) => {
      const pane = await TmuxChat.start({
        socket,
        server: p.gateUrl,
        configDir: alice.configDir,
        ...options,
      });
      await until(pane, "the chat screen", (s) => s.includes("● connected") && /›● bob/.test(s));
      return pane;
    };

    await t.step("7: emoji a terminal counts wider never spill into the status line", async () => {
      const pane = await open({ cols: 100 });
      await send(bob, "waves: " + "👋🏽👋🏽👋🏽👋🏽 ".repeat(40));
      await until(pane, "the waves", (s) => s.includes("waves:"));
      await pane.type("x");
      await until(pane, "the typed x", (s) => s.split("\n")[23]?.startsWith("> x"));
      const rows = await pane.rows();
      assert.equal(rows.length, 24);
      assert.match(rows[0], /^ Friends\s+│ bob · online/, rows.join("\n"));
      assert.match(rows[22], /^ alice · ● connected .*F1\/\? help\s*$/, rows.join("\n"));
      assert.match(rows[23], /^> x\s*$/, rows.join("\n"));
      assert.ok(rows.filter((r) => r.includes("│")).length >= 22, "every body row keeps its pane");
      await pane.kill();
    });

    await t.step("11: a short conversation sits at the bottom; PgUp stops at the top", async () => {
      const pane = await open();
      await pane.keys("Down");
      await until(pane, "carol open", (s) => /›● carol/.test(s));
      await send(carol, "only-one");
      await until(pane, "the one message", (s) => s.includes("only-one"));
      const rows = await pane.rows();
      assert.match(rows[21], /carol: only-one/, "right above the status line");
      for (let i = 0; i < 40; i++) await send(carol, `line-${String(i).padStart(2, "0")}`);
      await until(pane, "the last line", (s) => s.includes("line-39"));
      for (let i = 0; i < 6; i++) await pane.keys("PPage");
      await until(pane, "the top", (s) => s.includes("only-one") && !s.includes("line-39"));
      await pane.keys("NPage");
      // One page down from the top, however often PgUp was pressed there.
      await until(pane, "one page down", (s) => !s.includes("only-one") && /line-3\d/.test(s));
      await pane.kill();
    });

    await t.step("12: started while the server is down, the screen says so", async () => {
      const deadGate = `http://127.0.0.1:${await freePort()}`;
      const session = JSON.parse(await Deno.readTextFile(`${alice.configDir}/session.json`));
      const downDir = `${dir.path}/down`;
      await Deno.mkdir(downDir);
      await Deno.writeTextFile(
        `${downDir}/session.json`,
        JSON.stringify({
          ...session,
          server: deadGate,
          chat_url: `ws://127.0.0.1:${await freePort()}/ws`,
        }),
      );
      const pane = await TmuxChat.start({ socket, server: deadGate, configDir: downDir });
      await until(pane, "the connection state", (s) => s.includes("Cannot reach the chat server"));
      const screen = await pane.screen();
      assert.match(screen, /Trying again in \d+s — Ctrl-R tries now/);
      assert.doesNotMatch(screen, /no friends yet|Add a friend/);
      await pane.kill();
    });

    await t.step("13: a key hint, and F1 or ? opens a help listing every key", async () => {
      const pane = await open();
      assert.match((await pane.rows())[22], /F1\/\? help\s*$/);
      await pane.keys("F1");
      await until(pane, "the help", (s) => s.includes("Keys — any key closes this help"));
      const help = await pane.screen();
      for (const key of ["Alt-Enter", "Ctrl-Up/Ctrl-Down", "PgUp/PgDn", "Ctrl-R", "/search TEXT"]) {
        assert.ok(help.includes(key), key);
      }
      await pane.keys("Escape");
      await until(pane, "the help closed", (s) => !s.includes("any key closes"));
      await pane.type("?");
      await until(pane, "the help again", (s) => s.includes("any key closes"));
      await pane.type("q");
      await until(pane, "closed by q", (s) => !s.includes("any key closes"));
      assert.match((await pane.rows())[23], /^>\s*$/, "the closing key is not typed");
      await pane.kill();
    });

    await t.step(
      "14: new-messages line, activity, expiring notices, history, multi-line, colours, /search",
      async () => {
        const pane = await open({ color: true });
        await send(carol, "psst-1");
        await send(carol, "psst-2");
        await until(
          pane,
          "the activity list",
          (s) => s.split("\n")[22].includes("unread: carol 2"),
        );
        assert.match((await pane.rows())[21], /» carol: psst-2/, "a notice above the status line");
        await until(pane, "the notice expired", (s) => !s.includes("» carol"), 20_000);
        assert.match((await pane.rows())[22], /unread: carol 2/, "lasting state stays");

        await pane.keys("Down");
        await until(
          pane,
          "the new-messages line",
          (s) => /new messages[─\s]*\n.*carol: psst-1/.test(s),
        );

        await pane.keys("Up");
        await pane.type("first line");
        await pane.keys("Enter");
        await bob.next("msg.new", (e) => e.message.text === "first line", 10_000);
        await pane.keys("C-Up");
        await until(pane, "the line back", (s) => s.split("\n")[23].startsWith("> first line"));
        await pane.keys("C-Down");
        await until(pane, "the empty draft", (s) => /^>\s*$/.test(s.split("\n")[23]));
        await pane.keys("M-p");
        await until(pane, "Alt-P", (s) => s.split("\n")[23].startsWith("> first line"));
        await pane.keys("C-u");

        await pane.type("top");
        await pane.keys("M-Enter");
        await pane.type("bottom");
        await until(pane, "two input rows", (s) => {
          const rows = s.split("\n");
          return rows[22].startsWith("> top") && rows[23].startsWith("  bottom");
        });
        await pane.keys("Enter");
        await bob.next("msg.new", (e) => e.message.text === "top\nbottom", 10_000);

        await send(bob, "in colour");
        await until(pane, "bob's message", (s) => s.includes("in colour"));
        const styled = (await pane.screen(true)).split("\n").find((l) => l.includes("in colour"))!;
        const before = styled.slice(0, styled.indexOf("bob"));
        assert.match(before.match(SGR)!.join(""), /3[1-5]m|\[3[1-5];|;3[1-5]m/, styled);

        await pane.keys("Down");
        await pane.type("/search psst");
        await pane.keys("Enter");
        await until(pane, "the search results", (s) => s.includes('Search "psst": 2 matches'));
        await pane.keys("Escape");
        await until(pane, "the conversation again", (s) => !s.includes("Search"));
        await pane.kill();
      },
    );

    await t.step(
      "15: /add errors, an operator's kick, a logout, and NO_COLOR's reverse video",
      async () => {
        const pane = await open();
        const status = await pane.screen(true);
        assert.match(
          status.split("\n")[22],
          /\x1b\[(?:[0-9;]*;)?7(?:;[0-9;]*)?m/,
          "reverse video",
        );
        await pane.type("/add nobody");
        await pane.keys("Enter");
        await until(pane, "the error", (s) => s.includes("» no user named nobody"));
        assert.doesNotMatch(await pane.screen(), /CliError/);

        const kick = await run(ADMIN_ARGS, ["kick", "alice", "--reason", "maintenance"], {
          env: { PARLEY_STATUS_ADDR: p.status.target, PARLEY_ADMIN_TOKEN: ADMIN_TOKEN },
        });
        assert.equal(kick.code, 0, show(kick));
        await until(
          pane,
          "the kick",
          (s) => s.includes("kicked by an operator: maintenance — Ctrl-R reconnects"),
        );
        await pane.keys("C-r");
        await until(pane, "reconnected", (s) => s.includes("● connected"));

        const out = await alice.run(["logout"]);
        assert.equal(out.code, 0, show(out));
        await until(
          pane,
          "the logout",
          (s) => s.includes("logged out — quit and run `parley login`"),
        );
        assert.doesNotMatch((await pane.rows())[22], /Ctrl-R/);
        await pane.keys("C-r");
        await until(pane, "no reconnect", (s) => s.includes("this session has ended"));
        await pane.keys("C-c");
        await until(pane, "a clean exit", (s) => s.includes("EXITED 0"));
        await logIn();
      },
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- server log (tail)\n${p.logs().slice(-2000)}`);
  } finally {
    for (const c of clients) await c.close().catch(() => {});
    await stopTmux(socket);
    await dir.remove();
    await p.close();
  }
});
