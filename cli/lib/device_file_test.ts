import assert from "node:assert/strict";
import { DEVICE_ID } from "../../proto/protocol.ts";
import { PARLEY_PERMISSIONS } from "../compile.ts";
import { device, deviceId, deviceLabel } from "./device_file.ts";
import { clearSession, saveSession } from "./session_file.ts";

const A = "http://127.0.0.1:8080";
const B = "http://chat.example:8080";

Deno.test("deviceId() is chosen once per server and user, and kept in devices.json", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await deviceId(`${dir}/cfg`, A, 7);
    assert.match(first, DEVICE_ID);
    assert.match(first, /^[0-9a-f-]{36}$/, "a UUID");
    assert.equal(await deviceId(`${dir}/cfg`, A, 7), first, "the same on the next run");
    const otherUser = await deviceId(`${dir}/cfg`, A, 8);
    const otherServer = await deviceId(`${dir}/cfg`, B, 7);
    assert.equal(new Set([first, otherUser, otherServer]).size, 3);
    assert.equal(await deviceId(`${dir}/cfg`, A, 7), first, "adding others keeps it");
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(`${dir}/cfg/devices.json`)).mode! & 0o777, 0o600);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deviceId() survives a logout, and a damaged file only means a new id", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const id = await deviceId(dir, A, 7);
    await saveSession(dir, {
      server: A,
      token: "t",
      expires_at: 1,
      chat_url: "ws://x/ws",
      user: { id: 7, name: "alice", display_name: "", email: "a@x", bio: "", created_at: 1 },
    });
    await clearSession(dir);
    assert.equal(await deviceId(dir, A, 7), id, "logging out forgets the session, not the device");
    await Deno.writeTextFile(`${dir}/devices.json`, "{not json");
    const fresh = await deviceId(dir, A, 7);
    assert.notEqual(fresh, id);
    assert.equal(await deviceId(dir, A, 7), fresh);
    await Deno.writeTextFile(
      `${dir}/devices.json`,
      JSON.stringify({ devices: { [`${A} #7`]: "bad id with spaces" } }),
    );
    assert.match(
      await deviceId(dir, A, 7),
      /^[0-9a-f-]{36}$/,
      "an id auth would refuse is replaced",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deviceLabel() is the host name when it may be read, else 'terminal'", async () => {
  const label = deviceLabel();
  const granted = (await Deno.permissions.query({ name: "sys", kind: "hostname" })).state;
  if (granted === "granted") assert.equal(label, Deno.hostname().slice(0, 64) || "terminal");
  else assert.equal(label, "terminal");
  assert.ok([...label].length <= 64);
  const dir = await Deno.makeTempDir();
  try {
    assert.deepEqual(await device(dir, A, 7), { id: await deviceId(dir, A, 7), label });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the parley task, shims and binaries may read the host name (and only that of sys)", async () => {
  assert.ok(PARLEY_PERMISSIONS.includes("--allow-sys=hostname"));
  const config = JSON.parse(
    (await Deno.readTextFile(new URL("../../deno.json", import.meta.url)))
      .replace(/^\s*\/\/.*$/gm, ""),
  );
  const task: string = config.tasks.parley.command;
  for (const p of PARLEY_PERMISSIONS) assert.ok(task.split(" ").includes(p), `${p} in the task`);
});
