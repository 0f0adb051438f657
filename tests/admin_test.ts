/**
 * `parley-admin` against a cluster of separate processes (verify, status,
 * gate and two chat nodes on MySQL + Redis): nodes lists both chat nodes
 * with their session counts, online/presence/user/stats report the live
 * sessions (each device of a user), kick ends every session or one,
 * --watch streams, and a wrong or missing token,
 * an unreachable status role or a port that is not one is one clear line and
 * a non-zero exit. --json follows the convention both programs share: times
 * in Unix ms named *_at, absent values null.
 */
import assert from "node:assert/strict";
import { ADMIN_TOKEN, type Cluster, login, register, startCluster } from "./cluster.ts";
import { connect, eventually, freePort, tempDir } from "../testing/mod.ts";
import { ADMIN_ARGS, REPO_DIR, type Run, run, show } from "../cli/_test_helpers.ts";

Deno.test("parley-admin: nodes, online, presence, user, stats, kick, watch, and refusals", async (t) => {
  const cluster: Cluster = await startCluster({ nodeTtlMs: 3000 });
  const clients: Awaited<ReturnType<typeof connect>>[] = [];
  const status = cluster.status.target;
  const admin = (args: string[], env: Record<string, string> = {}): Promise<Run> =>
    run(ADMIN_ARGS, args, {
      env: { PARLEY_STATUS_ADDR: status, PARLEY_ADMIN_TOKEN: ADMIN_TOKEN, ...env },
    });
  try {
    const aliceAcc = await register(cluster, "alice");
    const bobAcc = await register(cluster, "bob");
    // One session on each node: connect to each node's URL with a gate token.
    const chat1 = cluster.nodes.get("chat-1")!;
    const chat2 = cluster.nodes.get("chat-2")!;
    const alice = await connect(chat1.wsUrl, (await login(cluster, aliceAcc)).token);
    const bob = await connect(chat2.wsUrl, (await login(cluster, bobAcc)).token);
    clients.push(alice, bob);

    await t.step("nodes lists both chat nodes with one session each", async () => {
      const nodes = await eventually(async () => {
        const r = await admin(["nodes", "--json"]);
        assert.equal(r.code, 0, show(r));
        const list: { name: string; sessions: number }[] = JSON.parse(r.stdout);
        const counts = Object.fromEntries(list.map((n) => [n.name, n.sessions]));
        return counts["chat-1"] === 1 && counts["chat-2"] === 1 ? list : null;
      }, { timeoutMs: 20_000, what: "both nodes with one session" });
      assert.equal(nodes?.length, 2);
      const text = await admin(["nodes"]);
      assert.equal(text.code, 0, show(text));
      assert.match(text.stdout, /^NAME\s+STATE\s+SESSIONS\s+HEARTBEAT/);
      assert.match(
        text.stdout,
        new RegExp(`^chat-1\\s+up\\s+1\\s.*${chat1.wsUrl}\\s+${chat1.grpcAddr}$`, "m"),
      );
      assert.match(
        text.stdout,
        new RegExp(`^chat-2\\s+up\\s+1\\s.*${chat2.wsUrl}\\s+${chat2.grpcAddr}$`, "m"),
      );
    });

    await t.step("online, presence, user and stats report the sessions", async () => {
      const online = await admin(["online", "--json"]);
      const list = JSON.parse(online.stdout);
      assert.equal(list.total, 2, show(online));
      assert.deepEqual(list.users.map((u: { name: string }) => u.name).sort(), ["alice", "bob"]);
      const onlineText = await admin(["online", "--limit", "1"]);
      assert.match(onlineText.stdout, /^2 online$/m, show(onlineText));

      const presence = await admin(["presence", "bob"]);
      assert.match(presence.stdout, /^bob \(#\d+\): online on chat-2 since /, show(presence));

      const user = await admin(["user", "alice", "--json"]);
      const details = JSON.parse(user.stdout);
      assert.equal(details.email, "alice@example.test", show(user));
      assert.equal(details.presence.node, "chat-1");
      const byId = await admin(["user", `#${aliceAcc.id}`]);
      assert.match(byId.stdout, /^name: +alice$/m, show(byId));

      const stats = await admin(["stats", "--json"]);
      const s = JSON.parse(stats.stdout);
      assert.equal(s.users, 2, show(stats));
      assert.equal(s.sessions, 2);
    });

    await t.step(
      '--json: times in Unix ms named *_at, absent values null, never "" or 0',
      async () => {
        const noTimeMs = (text: string) => {
          const keys = [...text.matchAll(/"(\w+)":/g)].map((m) => m[1]);
          assert.deepEqual(keys.filter((k) => /_ms$/.test(k) && k !== "heartbeat_age_ms"), []);
        };
        const nodes = await admin(["nodes", "--json"]);
        noTimeMs(nodes.stdout);
        for (const n of JSON.parse(nodes.stdout)) {
          assert.ok(n.started_at > Date.now() - 600_000 && n.started_at <= Date.now(), show(nodes));
          assert.equal(typeof n.heartbeat_age_ms, "number");
        }
        const online = await admin(["presence", "alice", "--json"]);
        noTimeMs(online.stdout);
        const p = JSON.parse(online.stdout);
        assert.equal(p.online, true, show(online));
        assert.equal(p.node, "chat-1");
        assert.ok(p.since_at > Date.now() - 600_000, show(online));
        assert.equal(p.last_seen_at, null);
        const user = JSON.parse((await admin(["user", "bob", "--json"])).stdout);
        assert.ok(user.created_at > 0);
        assert.equal(user.presence.node, "chat-2");
        const page = JSON.parse((await admin(["online", "--json", "--limit", "5"])).stdout);
        assert.equal(page.next_cursor, null, 'no next page: null, not ""');
        const stats = await admin(["stats", "--json"]);
        noTimeMs(stats.stdout);
      },
    );

    await t.step("nodes --watch prints a fresh document every 2 seconds", async () => {
      const proc = new Deno.Command(Deno.execPath(), {
        args: [...ADMIN_ARGS, "nodes", "--watch", "--json"],
        env: { NO_COLOR: "1", PARLEY_STATUS_ADDR: status, PARLEY_ADMIN_TOKEN: ADMIN_TOKEN },
        cwd: REPO_DIR,
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const lines: string[] = [];
      const dec = new TextDecoder();
      let buf = "";
      const reader = proc.stdout.getReader();
      try {
        while (lines.length < 2) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          const parts = buf.split("\n");
          buf = parts.pop()!;
          lines.push(...parts.filter(Boolean));
        }
      } finally {
        proc.kill("SIGTERM");
        reader.releaseLock();
        await proc.stdout.cancel().catch(() => {});
        await proc.status;
      }
      assert.equal(lines.length, 2);
      for (const l of lines) assert.equal(JSON.parse(l).length, 2);
    });

    await t.step("kick ends bob's live session and tells him an operator did it", async () => {
      const r = await admin(["kick", "bob", "--reason", "maintenance"]);
      assert.equal(r.code, 0, show(r));
      assert.equal(r.stdout.trim(), "kicked bob from chat-2");
      const kicked = await bob.next("kicked");
      assert.equal(kicked.reason, "kicked by an operator: maintenance");
      const closed = await bob.closed;
      assert.equal(closed.code, 4003);
      const again = await admin(["kick", "bob"]);
      assert.match(again.stdout, /bob has no live session/, show(again));
      const json = await admin(["kick", "bob", "--json"]);
      assert.deepEqual(
        JSON.parse(json.stdout),
        { kicked: false, node: null, sessions: 0 },
        show(json),
      );
      assert.ok(alice.isOpen, "alice's session is untouched");
      const offline = await eventually(async () => {
        const p = JSON.parse((await admin(["presence", "bob", "--json"])).stdout);
        return p.online ? null : p;
      }, { what: "bob offline" });
      assert.equal(offline.node, null);
      assert.equal(offline.session_id, null);
      assert.equal(offline.since_at, null);
      assert.ok(offline.last_seen_at > Date.now() - 600_000);
    });

    await t.step("presence and user list each session; kick --session ends that one", async () => {
      // alice's second device, on the other node, with a label.
      const phone = await connect(chat2.wsUrl, (await login(cluster, aliceAcc)).token, {
        device: "phone-1",
        label: "alice's phone",
      });
      clients.push(phone);
      const phoneSession = phone.welcome!.session_id;
      const lapSession = alice.welcome!.session_id;
      const both = await eventually(async () => {
        const r = await admin(["presence", "alice", "--json"]);
        const p = JSON.parse(r.stdout);
        return p.sessions.length === 2 ? p : null;
      }, { what: "alice's two sessions" });
      assert.deepEqual(
        both.sessions.map((x: Record<string, unknown>) => [x.session_id, x.node]),
        [[lapSession, "chat-1"], [phoneSession, "chat-2"]],
        "oldest first",
      );
      assert.equal(both.sessions[1].device, "phone-1");
      assert.equal(both.sessions[1].label, "alice's phone");
      assert.equal(both.sessions[0].label, null, 'no label given: null, not ""');
      for (const x of both.sessions) assert.ok(x.since_at > Date.now() - 600_000);

      const text = await admin(["presence", "alice"]);
      const lines = text.stdout.trimEnd().split("\n");
      assert.match(lines[0], /^alice \(#\d+\): online on chat-2 since /, show(text));
      assert.match(lines[1], /^ {2}SESSION\s+NODE\s+DEVICE\s+SINCE$/, show(text));
      assert.match(lines[2], new RegExp(`^  ${lapSession}\\s+chat-1\\s`), show(text));
      assert.match(lines[3], new RegExp(`^  ${phoneSession}\\s+chat-2\\s+alice's phone\\s`));
      const user = await admin(["user", "alice"]);
      assert.match(user.stdout, new RegExp(`^  ${phoneSession}\\s+chat-2\\s+alice's phone`, "m"));

      const empty = await admin(["kick", "alice", "--session", ""]);
      assert.equal(empty.code, 2, "an empty id never widens to every session");
      assert.ok(alice.isOpen && phone.isOpen);
      const none = await admin(["kick", "alice", "--session", "no-such-session"]);
      assert.equal(none.code, 0, show(none));
      assert.equal(
        none.stdout.trim(),
        "alice has no live session no-such-session; nothing to kick",
      );

      const r = await admin(["kick", "alice", "--session", phoneSession, "--json"]);
      assert.deepEqual(
        JSON.parse(r.stdout),
        { kicked: true, node: "chat-2", sessions: 1 },
        show(r),
      );
      assert.equal((await phone.next("kicked")).reason, "kicked by an operator");
      assert.equal((await phone.closed).code, 4003);
      assert.ok(alice.isOpen, "the other session stays");
      const one = await eventually(async () => {
        const p = JSON.parse((await admin(["presence", "alice", "--json"])).stdout);
        return p.sessions.length === 1 ? p : null;
      }, { what: "one session left" });
      assert.equal(one.sessions[0].session_id, lapSession);

      // Without --session: every session, wherever it is.
      const tablet = await connect(chat2.wsUrl, (await login(cluster, aliceAcc)).token, {
        device: "tablet-1",
      });
      clients.push(tablet);
      await eventually(async () => {
        const p = JSON.parse((await admin(["presence", "alice", "--json"])).stdout);
        return p.sessions.length === 2;
      }, { what: "two sessions again" });
      const all = await admin(["kick", "alice"]);
      assert.equal(all.stdout.trim(), "kicked alice: 2 sessions ended", show(all));
      assert.equal((await alice.closed).code, 4003);
      assert.equal((await tablet.closed).code, 4003);
    });

    await t.step("a wrong token is refused with one line and exit 1", async () => {
      const r = await admin(["nodes"], { PARLEY_ADMIN_TOKEN: "not-the-admin-token-at-all" });
      assert.equal(r.code, 1, show(r));
      assert.equal(r.stdout, "");
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, show(r));
      assert.match(
        lines[0],
        /^parley-admin: the status role refused the admin token \(admin_unauthorized\)/,
      );
      const flag = await admin(["stats", "--token", "also-wrong-token-value"]);
      assert.equal(flag.code, 1, show(flag));
    });

    await t.step("no token, or an unreachable status role, is one line and exit 1", async () => {
      const dir = await tempDir();
      try {
        const r = await run(ADMIN_ARGS, ["nodes"], {
          env: { PARLEY_STATUS_ADDR: status, PARLEY_DATA_DIR: dir.path },
          cwd: dir.path,
        });
        assert.equal(r.code, 1, show(r));
        assert.match(r.stderr.trim(), /^parley-admin: no admin token — pass --token/);
        await Deno.writeTextFile(`${dir.path}/admin.token`, ADMIN_TOKEN + "\n");
        const fromFile = await run(ADMIN_ARGS, ["stats", "--json"], {
          env: { PARLEY_STATUS_ADDR: status, PARLEY_DATA_DIR: dir.path },
        });
        assert.equal(fromFile.code, 0, show(fromFile));
        assert.equal(fromFile.stderr, "", "a token from the file is used without a note");
        await Deno.writeTextFile(`${dir.path}/admin.token`, "a-stale-token-from-an-old-run\n");
        const stale = await run(ADMIN_ARGS, ["stats"], {
          env: { PARLEY_STATUS_ADDR: status, PARLEY_DATA_DIR: dir.path },
        });
        assert.equal(stale.code, 1, show(stale));
        assert.equal(
          stale.stderr.trim(),
          `parley-admin: the status role refused the admin token in ${dir.path}/admin.token ` +
            "(admin_unauthorized) — check --token / PARLEY_ADMIN_TOKEN",
        );
      } finally {
        await dir.remove();
      }
      const port = await freePort();
      const down = await admin(["nodes", "--status", `127.0.0.1:${port}`]);
      assert.equal(down.code, 1, show(down));
      assert.equal(
        down.stderr.trim(),
        `parley-admin: cannot reach the status role at 127.0.0.1:${port} — is it running? (--status ADDR or PARLEY_STATUS_ADDR)`,
      );
      const usage = await admin(["kick"]);
      assert.equal(usage.code, 2, show(usage));
    });

    await t.step("a port that is not the status role's is named as such", async () => {
      const ports = [new URL(cluster.gateUrl).host, new URL(chat1.wsUrl).host, chat1.grpcAddr];
      for (const addr of ports) {
        const r = await admin(["nodes", "--status", addr]);
        assert.equal(r.code, 1, show(r));
        assert.equal(
          r.stderr.trim(),
          `parley-admin: ${addr} answers, but is not a Parley status service — ` +
            "check --status ADDR or PARLEY_STATUS_ADDR",
        );
      }
    });

    await t.step("a flag a command does not take is one clean line and exit 2", async () => {
      const r = await admin(["online", "--watch"]);
      assert.equal(r.code, 2, show(r));
      assert.equal(
        r.stderr.trim(),
        "parley-admin online: unknown flag --watch — see `parley-admin online --help`",
      );
      const help = await admin(["--help"]);
      assert.match(help.stdout, /^nodes and stats also take -w, --watch/m);
      const value = await admin(["online", "--limit"]);
      assert.equal(
        value.stderr.trim(),
        "parley-admin online: --limit needs a value — see `parley-admin online --help`",
      );
    });
  } catch (e) {
    throw new Error(
      `${(e as Error).message}\n--- cluster log (tail)\n${cluster.logs().slice(-3000)}`,
    );
  } finally {
    for (const c of clients) await c.close().catch(() => {});
    await cluster.close();
  }
});
