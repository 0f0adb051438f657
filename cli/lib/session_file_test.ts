import assert from "node:assert/strict";
import {
  clearSession,
  configDir,
  loadServer,
  loadSession,
  saveSession,
  type Session,
} from "./session_file.ts";

const session: Session = {
  server: "http://127.0.0.1:8080",
  token: "tok",
  expires_at: 1_900_000_000_000,
  user: {
    id: 7,
    name: "alice",
    display_name: "Alice",
    email: "a@example.com",
    bio: "",
    created_at: 1,
  },
  chat_url: "ws://127.0.0.1:8090/ws",
};

Deno.test("configDir() prefers PARLEY_CONFIG_DIR, then XDG_CONFIG_HOME, then ~/.config", () => {
  assert.equal(configDir({ PARLEY_CONFIG_DIR: "/p", XDG_CONFIG_HOME: "/x", HOME: "/h" }), "/p");
  assert.equal(configDir({ XDG_CONFIG_HOME: "/x", HOME: "/h" }), "/x/parley");
  assert.equal(configDir({ HOME: "/h" }), "/h/.config/parley");
});

Deno.test("saveSession() writes a file only its owner can read, and loadSession() reads it back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await loadSession(`${dir}/cfg`), null);
    await saveSession(`${dir}/cfg`, session);
    assert.deepEqual(await loadSession(`${dir}/cfg`), session);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(`${dir}/cfg/session.json`)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(`${dir}/cfg`)).mode! & 0o077, 0);
    }
    await clearSession(`${dir}/cfg`);
    assert.equal(await loadSession(`${dir}/cfg`), null);
    await clearSession(`${dir}/cfg`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadSession() treats a damaged file as no session", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/session.json`, "{not json");
    assert.equal(await loadSession(dir), null);
    await Deno.writeTextFile(`${dir}/session.json`, JSON.stringify({ token: 1 }));
    assert.equal(await loadSession(dir), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("clearSession() forgets the session but not the server it was on", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await loadServer(dir), null);
    await saveSession(dir, { ...session, server: "http://chat.example:8080" });
    await clearSession(dir);
    assert.equal(await loadSession(dir), null);
    assert.equal(await loadServer(dir), "http://chat.example:8080");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
