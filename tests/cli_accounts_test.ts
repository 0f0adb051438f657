/**
 * `parley` account commands the way a new user meets them, each command a
 * child process against a running Parley (every role in one process, mail
 * to a real SMTP capture): register checks the name before any mail, asks
 * again after a taken name, a short password or a wrong code, and takes a
 * code mailed earlier (--code); reset-password reads its stdin lines in
 * register's order; prompts and errors stay on separate lines; logout keeps
 * the server; and the small refusals (adding yourself, lines plain chat
 * cannot send, an unknown flag) are clear, with the right exit code.
 */
import assert from "node:assert/strict";
import { type Parley, register, startSingle } from "./cluster.ts";
import { tempDir } from "../testing/mod.ts";
import { PARLEY_ARGS, parleyUser, run, show } from "../cli/_test_helpers.ts";

Deno.test("parley accounts: register asks again, --code, reset order, prompts, logout keeps the server", async (t) => {
  const p: Parley = await startSingle();
  const dir = await tempDir();
  const mailsTo = (email: string) => p.smtp.mails.filter((m) => m.to.includes(email)).length;
  try {
    await register(p, "bob");
    const carol = parleyUser(p.gateUrl, `${dir.path}/carol`);

    await t.step(
      "a taken or malformed name, or a short password, given as flags ends register before any mail",
      async () => {
        const before = p.smtp.mails.length;
        const env = { PARLEY_PASSWORD: "carol-password-1" };
        const taken = await carol.run(["register", "--email", "c@example.test", "--name", "BOB"], {
          env,
        });
        assert.equal(taken.code, 1, show(taken));
        assert.equal(taken.stderr.trim(), "parley: the name BOB is taken");
        const bad = await carol.run(["register", "--email", "c@example.test", "--name", "a b"], {
          env,
        });
        assert.equal(bad.code, 2, show(bad));
        assert.match(bad.stderr, /a user name is 3 to 32 letters/);
        const short = await carol.run(
          ["register", "--email", "c@example.test", "--name", "carol"],
          {
            env: { PARLEY_PASSWORD: "short" },
          },
        );
        assert.equal(short.code, 2, show(short));
        assert.match(short.stderr, /the password must be at least 8 characters/);
        assert.equal(p.smtp.mails.length, before, "no code was mailed");
      },
    );

    await t.step(
      "register asks again after a taken name, a short password and a wrong code",
      async () => {
        const since = p.smtp.mails.length;
        const child = carol.spawn(["register"]);
        for (const line of ["carol@example.test", "bob", "carol", "short", "carol-password-1"]) {
          await child.write(line);
        }
        const code = await p.smtp.codeFor("carol@example.test", { since });
        await child.write(code === "000000" ? "111111" : "000000");
        await child.write(code);
        await child.closeStdin();
        const r = await child.result();
        assert.equal(r.code, 0, show(r));
        assert.match(r.stderr, /the name bob is taken — try again/);
        assert.match(r.stderr, /the password must be at least 8 characters — try again/);
        assert.match(r.stderr, /A code was sent to carol@example\.test\./);
        assert.match(r.stderr, /left — try again/, "a wrong code is asked again");
        assert.match(r.stdout, /registered and logged in as carol/);
      },
    );

    await t.step("--code takes a code mailed by an earlier run, and mails no other", async () => {
      const dave = parleyUser(p.gateUrl, `${dir.path}/dave`, {
        PARLEY_PASSWORD: "dave-password-1",
      });
      const args = ["register", "--email", "dave@example.test", "--name", "dave"];
      const since = p.smtp.mails.length;
      const first = await dave.run(args);
      assert.equal(first.code, 1, show(first));
      assert.match(first.stderr, /A code was sent to dave@example\.test\./);
      assert.match(first.stderr, /^parley: no code: input ended .*--code CODE/m);
      const code = await p.smtp.codeFor("dave@example.test", { since });
      const mailed = mailsTo("dave@example.test");
      const again = await dave.run([...args, "--code", code]);
      assert.equal(again.code, 0, show(again));
      assert.match(again.stdout, /registered and logged in as dave/);
      assert.equal(mailsTo("dave@example.test"), mailed, "no second mail");
    });

    await t.step(
      "reset-password --password-stdin reads the new password first, then the code",
      async () => {
        const help = await carol.run(["reset-password", "--help"]);
        assert.match(help.stdout, /e-mail, new password, then the code/);
        const since = p.smtp.mails.length;
        const child = carol.spawn([
          "reset-password",
          "--email",
          "carol@example.test",
          "--password-stdin",
        ]);
        await child.write("carol-new-password");
        const code = await p.smtp.codeFor("carol@example.test", { since });
        await child.write(code);
        await child.closeStdin();
        const r = await child.result();
        assert.equal(r.code, 0, show(r));
        const login = await carol.run(["login", "carol", "--password-stdin"], {
          stdin: "carol-new-password\n",
        });
        assert.equal(login.code, 0, show(login));
      },
    );

    await t.step(
      "with no terminal and no password, the prompt and the error are separate lines",
      async () => {
        const r = await carol.run(["login", "carol"]);
        assert.equal(r.code, 1, show(r));
        const lines = r.stderr.split("\n");
        assert.equal(lines[0], "Password: ");
        assert.equal(
          lines[1],
          "parley: no password: stdin ended (use --password-stdin or PARLEY_PASSWORD)",
        );
      },
    );

    await t.step("naming yourself, or lines plain chat cannot send, are errors", async () => {
      const self = await carol.run(["add", "Carol"]);
      assert.equal(self.code, 1, show(self));
      assert.equal(self.stderr.trim(), "parley: Carol is you");
      const nobody = await carol.run(["chat"], { stdin: "@nobody hi\n" });
      assert.equal(nobody.code, 1, show(nobody));
      assert.match(nobody.stderr, /^! nobody is not one of your friends$/m);
      const noAt = await carol.run(["chat"], { stdin: "hello?\n" });
      assert.equal(noAt.code, 1, show(noAt));
      assert.match(noAt.stderr, /^! start the line with @NAME/m);
      const bogus = await carol.run(["--bogus"]);
      assert.equal(bogus.code, 2, show(bogus));
      assert.equal(bogus.stderr.trim(), "parley: unknown flag --bogus — see `parley --help`");
    });

    await t.step("logout forgets the session, not the server: login goes back to it", async () => {
      const config = { PARLEY_CONFIG_DIR: `${dir.path}/erin` };
      const parley = (args: string[], stdin?: string) =>
        run(PARLEY_ARGS, args, { env: config, stdin });
      const pw = "carol-new-password\n";
      const first = await parley(["login", "carol", "--password-stdin", "--server", p.gateUrl], pw);
      assert.equal(first.code, 0, show(first));
      const out = await parley(["logout"]);
      assert.equal(out.code, 0, show(out));
      const again = await parley(["login", "carol", "--password-stdin"], pw);
      assert.equal(again.code, 0, show(again));
      const who = await parley(["whoami", "--json"]);
      assert.equal(JSON.parse(who.stdout).server, p.gateUrl, show(who));
    });
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- server log (tail)\n${p.logs().slice(-3000)}`);
  } finally {
    await dir.remove();
    await p.close();
  }
});
