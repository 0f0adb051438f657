/**
 * Ending a token at the gate ends the live chat session it opened: logout
 * (of that token only), a password reset and a password change each get the
 * connected client a `kicked` frame and a 4003 close, and the token opens no
 * new session.
 */
import assert from "node:assert/strict";
import { CLOSE } from "../proto/protocol.ts";
import {
  gateCall,
  GateError,
  login,
  loginAndConnect,
  register,
  startSingle,
  withLogs,
} from "./cluster.ts";
import { connect, RequestError } from "../testing/mod.ts";

Deno.test("logout, password reset and password change end the user's live chat session", async () => {
  const parley = await startSingle();
  try {
    const alice = await register(parley, "alice");

    // Logging out another token of the user (another device) leaves this session alone.
    let s = await loginAndConnect(parley, alice);
    await s.client.syncMessages();
    const other = await login(parley, alice);
    await gateCall(parley.gateUrl, "POST", "/api/v1/logout", { token: other.token });
    await s.client.request("friend.list", {});
    assert.equal(s.client.events("kicked").length, 0, "the live session was not kicked");

    // Logging out the session's own token ends it.
    await gateCall(parley.gateUrl, "POST", "/api/v1/logout", { token: s.login.token });
    const kicked = await s.client.next("kicked");
    assert.equal(kicked.reason, "logged out");
    assert.equal((await s.client.closed).code, CLOSE.KICKED);
    await assert.rejects(
      connect(s.login.chat_url, s.login.token),
      (e: unknown) => e instanceof RequestError && e.code === "token_revoked",
    );

    // Password reset by e-mail code.
    s = await loginAndConnect(parley, alice);
    await s.client.syncMessages();
    const since = parley.smtp.mails.length;
    await gateCall(parley.gateUrl, "POST", "/api/v1/codes", {
      body: { email: alice.email, purpose: "reset_password" },
    });
    const code = await parley.smtp.codeFor(alice.email, { since });
    const newPassword = "a brand new password";
    await gateCall(parley.gateUrl, "POST", "/api/v1/password/reset", {
      body: { email: alice.email, code, new_password: newPassword },
    });
    assert.equal((await s.client.next("kicked")).reason, "password reset");
    assert.equal((await s.client.closed).code, CLOSE.KICKED);
    alice.password = newPassword;

    // Password change with the old password.
    s = await loginAndConnect(parley, alice);
    await s.client.syncMessages();
    await gateCall(parley.gateUrl, "POST", "/api/v1/password/change", {
      token: s.login.token,
      body: { old_password: newPassword, new_password: "yet another password" },
    });
    assert.equal((await s.client.next("kicked")).reason, "password changed");
    assert.equal((await s.client.closed).code, CLOSE.KICKED);
    await assert.rejects(
      gateCall(parley.gateUrl, "GET", "/api/v1/me", { token: s.login.token }),
      (e: unknown) => e instanceof GateError && e.code === "token_revoked",
    );
  } catch (e) {
    throw withLogs(e, parley);
  } finally {
    await parley.close();
  }
});
