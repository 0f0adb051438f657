/**
 * The `parley` commands as a user runs them: each command is a child
 * process (`deno run cli/parley.ts ...`) with its own config directory,
 * against a running Parley (every role in one child process, mail to a
 * real SMTP capture). Covers register (the mailed code typed on stdin),
 * login, search, add/accept, friends, send, history with receipts, the
 * plain chat mode, errors and exit codes, password reset and logout.
 */
import assert from "node:assert/strict";
import { type Parley, register, startSingle } from "./cluster.ts";
import { freePort, tempDir } from "../testing/mod.ts";
import { parleyUser, REPO_DIR, run, show } from "../cli/_test_helpers.ts";

Deno.test("parley commands: register, befriend, send, history with read receipts, logout", async (t) => {
  const p: Parley = await startSingle();
  const dir = await tempDir();
  try {
    const alice = parleyUser(p.gateUrl, `${dir.path}/alice`, { PARLEY_PASSWORD: "alice-pass-123" });
    const bob = parleyUser(p.gateUrl, `${dir.path}/bob`);

    await t.step("register asks for the mailed code and leaves a 0600 session", async () => {
      const since = p.smtp.mails.length;
      const child = alice.spawn(["register", "--email", "alice@example.test", "--name", "alice"]);
      const code = await p.smtp.codeFor("alice@example.test", { since });
      await child.write(code);
      await child.closeStdin();
      const r = await child.result();
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, /registered and logged in as alice/);
      assert.match(r.stderr, /A code was sent to alice@example\.test/);
      const st = await Deno.stat(`${alice.configDir}/session.json`);
      assert.equal(st.mode! & 0o777, 0o600);
    });

    await t.step("login reads the password from stdin with --password-stdin", async () => {
      const account = await register(p, "bob");
      const wrong = await bob.run(["login", "bob", "--password-stdin"], { stdin: "nope-nope\n" });
      assert.equal(wrong.code, 1, show(wrong));
      assert.equal(wrong.stderr.trim(), "parley: wrong login or password");
      const r = await bob.run(["login", "bob", "--password-stdin"], {
        stdin: account.password + "\n",
      });
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, /logged in as bob/);
      const who = await bob.run(["whoami", "--json"]);
      assert.equal(JSON.parse(who.stdout).user.email, "bob@example.test", show(who));
    });

    await t.step("search finds bob; add sends a request that bob sees and accepts", async () => {
      const found = await alice.run(["search", "bo", "--json"]);
      assert.equal(found.code, 0, show(found));
      assert.deepEqual(JSON.parse(found.stdout).map((u: { name: string }) => u.name), ["bob"]);

      const add = await alice.run(["add", "bob", "hi", "bob,", "it's", "alice"]);
      assert.equal(add.code, 0, show(add));
      assert.match(add.stdout, /friend request sent to bob/);

      const reqs = await bob.run(["requests"]);
      assert.match(reqs.stdout, /alice "hi bob, it's alice"/, show(reqs));
      const acc = await bob.run(["accept", "alice"]);
      assert.equal(acc.code, 0, show(acc));
      assert.match(acc.stdout, /you and alice are now friends/);

      const friends = await alice.run(["friends", "--json"]);
      assert.deepEqual(
        JSON.parse(friends.stdout).map((f: { user: { name: string } }) => f.user.name),
        [
          "bob",
        ],
      );
    });

    let sentId = 0;
    await t.step(
      "send stores a message; history shows it without a read mark until bob reads",
      async () => {
        const s = await alice.run(["send", "bob", "hello", "bob", "日本語", "👍"]);
        assert.equal(s.code, 0, show(s));
        assert.match(s.stdout, /^sent to bob at \d\d:\d\d$/m);
        const h = await alice.run(["history", "bob", "--json"]);
        const page = JSON.parse(h.stdout);
        assert.equal(page.messages.length, 1);
        assert.equal(page.messages[0].text, "hello bob 日本語 👍");
        sentId = page.messages[0].id;
        assert.ok(page.peer_read_id < sentId);
        const text = await alice.run(["history", "bob"]);
        assert.match(text.stdout, /you {2}hello bob 日本語 👍$/m, show(text));
        assert.doesNotMatch(text.stdout, /✓✓/);
      },
    );

    await t.step("bob reading the conversation puts ✓✓ on alice's message", async () => {
      const peek = await bob.run(["history", "alice", "--peek"]);
      assert.match(peek.stdout, /alice {2}hello bob 日本語 👍$/m, show(peek));
      let h = await alice.run(["history", "bob", "--json"]);
      assert.ok(JSON.parse(h.stdout).peer_read_id < sentId, "--peek marks nothing read");

      const read = await bob.run(["history", "alice"]);
      assert.equal(read.code, 0, show(read));
      h = await alice.run(["history", "bob"]);
      assert.match(h.stdout, /you {2}hello bob 日本語 👍 ✓✓$/m, show(h));
    });

    await t.step(
      "plain chat mode sends '@name text' lines and prints the stored message",
      async () => {
        const r = await bob.run(["chat"], { stdin: "@alice hi from a pipe\nand a second line\n" });
        assert.equal(r.code, 0, show(r));
        assert.match(r.stdout, /^\[\d\d:\d\d\] you → alice: hi from a pipe$/m);
        assert.match(r.stdout, /^\[\d\d:\d\d\] you → alice: and a second line$/m);
        const h = await alice.run(["history", "bob", "--json", "--peek"]);
        assert.deepEqual(
          JSON.parse(h.stdout).messages.map((m: { text: string }) => m.text),
          ["hello bob 日本語 👍", "hi from a pipe", "and a second line"],
        );
      },
    );

    await t.step(
      "a saved chat node that is gone is replaced by one the gate names, without the password",
      async () => {
        const file = `${bob.configDir}/session.json`;
        const live = p.nodes.get("solo")!.wsUrl;
        const dead = `ws://127.0.0.1:${await freePort()}/ws`;
        const saveDead = async () => {
          const session = JSON.parse(await Deno.readTextFile(file));
          await Deno.writeTextFile(file, JSON.stringify({ ...session, chat_url: dead }));
        };
        const savedUrl = async () => JSON.parse(await Deno.readTextFile(file)).chat_url;

        await saveDead();
        const friends = await bob.run(["friends", "--json"]);
        assert.equal(friends.code, 0, show(friends));
        assert.deepEqual(
          JSON.parse(friends.stdout).map((f: { user: { name: string } }) => f.user.name),
          ["alice"],
        );
        assert.equal(await savedUrl(), live, "the session keeps the node the gate named");

        await saveDead();
        const chat = await bob.run(["chat"], { stdin: "@alice sent via the gate's node\n" });
        assert.equal(chat.code, 0, show(chat));
        assert.match(chat.stdout, /you → alice: sent via the gate's node$/m);
        assert.equal(await savedUrl(), live);
        assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
      },
    );

    await t.step("errors are one line with exit 1, usage errors exit 2", async () => {
      const nobody = await alice.run(["send", "nobody", "hi"]);
      assert.equal(nobody.code, 1, show(nobody));
      assert.equal(nobody.stderr.trim(), "parley: no user named nobody");
      const usage = await alice.run(["send", "bob"]);
      assert.equal(usage.code, 2, show(usage));
      const unknown = await alice.run(["frobnicate"]);
      assert.equal(unknown.code, 2, show(unknown));
      const flag = await alice.run(["friends", "--bogus"]);
      assert.equal(flag.code, 2, show(flag));
      const help = await alice.run(["history", "--help"]);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /parley history USER/);
      const stranger = parleyUser(p.gateUrl, `${dir.path}/nobody`);
      const out = await stranger.run(["friends"]);
      assert.equal(out.code, 1);
      assert.equal(out.stderr.trim(), "parley: not logged in — run `parley login`");
      const down = await parleyUser("http://127.0.0.1:9", `${dir.path}/down`).run([
        "login",
        "x",
        "--password-stdin",
      ], { stdin: "password\n" });
      assert.equal(down.code, 1, show(down));
      assert.equal(down.stderr.trim().split("\n").length, 1, show(down));
      assert.match(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:9/);
    });

    await t.step("reset-password sets a new password with the mailed code", async () => {
      const since = p.smtp.mails.length;
      const child = bob.spawn(["reset-password", "--email", "bob@example.test"], {
        env: { PARLEY_PASSWORD: "bob-new-password-1" },
      });
      const code = await p.smtp.codeFor("bob@example.test", { since });
      await child.write(code);
      await child.closeStdin();
      const r = await child.result();
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, /password changed — log in with `parley login`/);
      await assert.rejects(Deno.stat(`${bob.configDir}/session.json`), Deno.errors.NotFound);
      const again = await bob.run(["login", "bob"], {
        env: { PARLEY_PASSWORD: "bob-new-password-1" },
      });
      assert.equal(again.code, 0, show(again));
    });

    await t.step("logout revokes the session and forgets it", async () => {
      const session = JSON.parse(await Deno.readTextFile(`${alice.configDir}/session.json`));
      const r = await alice.run(["logout"]);
      assert.equal(r.code, 0, show(r));
      await assert.rejects(Deno.stat(`${alice.configDir}/session.json`), Deno.errors.NotFound);
      const me = await fetch(`${p.gateUrl}/api/v1/me`, {
        headers: { authorization: `Bearer ${session.token}` },
      });
      await me.body?.cancel();
      assert.equal(me.status, 401);
      const who = await alice.run(["whoami"]);
      assert.equal(who.code, 1);
    });
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- server log (tail)\n${p.logs().slice(-3000)}`);
  } finally {
    await dir.remove();
    await p.close();
  }
});

Deno.test({
  name: "deno task compile builds parley and parley-admin binaries that run --help",
  // This machine cannot download denort; set DENORT_BIN to a local one to run it.
  ignore: !Deno.env.get("DENORT_BIN"),
  async fn() {
    const build = await run(["run", "--allow-run", `${REPO_DIR}cli/compile.ts`], []);
    assert.equal(build.code, 0, show(build));
    for (const bin of ["parley", "parley-admin"]) {
      const out = await new Deno.Command(`${REPO_DIR}dist/${bin}`, { args: ["--help"] }).output();
      assert.equal(out.code, 0, `${bin} --help`);
      assert.match(new TextDecoder().decode(out.stdout), new RegExp(`^${bin} —`));
    }
  },
});

/** A denort target whose runtime is not in Deno's cache, so compiling for it must download it. */
async function uncachedTarget(): Promise<string | null> {
  const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  const denoDir = JSON.parse(new TextDecoder().decode(info.stdout)).denoDir as string;
  for (
    const target of [
      "aarch64-apple-darwin",
      "x86_64-pc-windows-msvc",
      "x86_64-apple-darwin",
      "aarch64-unknown-linux-gnu",
    ]
  ) {
    const zip = `${denoDir}/dl/release/v${Deno.version.deno}/denort-${target}.zip`;
    if (target !== Deno.build.target && !(await Deno.stat(zip).catch(() => null))) return target;
  }
  return null;
}

Deno.test("deno task compile without network says how to build with DENORT_BIN", async () => {
  const target = await uncachedTarget();
  assert.ok(target, "every denort is cached: nothing to download");
  // A proxy nobody listens on: the download fails at once, network or not.
  const dead = `http://127.0.0.1:${await freePort()}`;
  const r = await run(["run", "--allow-run", `${REPO_DIR}cli/compile.ts`, "--target", target], [], {
    env: { HTTPS_PROXY: dead, https_proxy: dead, NO_PROXY: "", no_proxy: "" },
  });
  assert.equal(r.code, 1, show(r));
  assert.match(
    r.stderr,
    new RegExp(
      `^deno task compile: could not download Deno's runtime for ${target} \\(denort\\)`,
      "m",
    ),
  );
  assert.match(
    r.stderr,
    new RegExp(`DENORT_BIN=/path/to/denort deno task compile --target ${target}`),
  );
  assert.doesNotMatch(r.stderr, /Stack backtrace|Caused by/, "Deno's raw error is not shown");
});

/** Whether the npm registry answers, for the test that needs a fresh download. */
const registryUp = await fetch("https://registry.npmjs.org/protobufjs", {
  method: "HEAD",
  signal: AbortSignal.timeout(5000),
}).then((r) => r.ok, () => false);

Deno.test({
  name: "the first deno task serve of a fresh clone prints no build-script warning",
  ignore: !registryUp,
  async fn() {
    // A new user's cache: empty, so every npm package is downloaded now.
    const cache = await tempDir();
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["task", "serve", "--help"],
        cwd: REPO_DIR,
        env: { DENO_DIR: cache.path, NO_COLOR: "1" },
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      assert.match(stderr, /Download https:\/\/registry\.npmjs\.org\/protobufjs/, "it was fetched");
      assert.doesNotMatch(stderr, /Warning|build scripts|lifecycle/i, stderr);
      assert.match(new TextDecoder().decode(out.stdout), /^Parley chat server/);
    } finally {
      await cache.remove();
    }
  },
});

Deno.test("deno task -q runs parley without the task banner", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "parley", "--help"],
    cwd: REPO_DIR,
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(out.code, 0);
  assert.equal(new TextDecoder().decode(out.stderr), "", "no 'Task parley deno run ...' line");
  assert.match(new TextDecoder().decode(out.stdout), /^parley — chat from your terminal/);
});

Deno.test("deno task install puts banner-free parley and parley-admin shims in a directory", async () => {
  const dir = await tempDir();
  try {
    const install = await new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "install", "--dir", dir.path],
      cwd: REPO_DIR,
    }).output();
    assert.equal(install.code, 0, new TextDecoder().decode(install.stderr));
    for (const bin of ["parley", "parley-admin"]) {
      // Run from elsewhere, as from the PATH.
      const out = await new Deno.Command(`${dir.path}/${bin}`, { args: ["--help"], cwd: dir.path })
        .output();
      assert.equal(out.code, 0, bin);
      assert.equal(new TextDecoder().decode(out.stderr), "", `${bin}: no banner`);
      assert.match(new TextDecoder().decode(out.stdout), new RegExp(`^${bin} —`));
    }
  } finally {
    await dir.remove();
  }
});
