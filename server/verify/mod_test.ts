import assert from "node:assert/strict";
import {
  freePort,
  mailText,
  memoryLogger,
  type SmtpCapture,
  startSmtp,
  tempDir,
  TEST_CLUSTER_SECRET,
  testConfig,
  testDeps,
} from "../../testing/mod.ts";
import { openEngine } from "../engine/mod.ts";
import type { Engine } from "../engine/types.ts";
import { AppError } from "../../proto/errors.ts";
import { silentLogger } from "../log.ts";
import type { RoleHandle } from "../role.ts";
import { verifyClient } from "../../proto/services.ts";
import { start } from "./mod.ts";

const isCode = (code: string) => (e: unknown) => e instanceof AppError && e.code === code;

interface Rig {
  engine: Engine;
  role: RoleHandle;
  client: ReturnType<typeof verifyClient>;
  smtp: SmtpCapture;
  close(): Promise<void>;
}

/** The verify role on a free port, a memory engine, and a real SMTP server catching its mail. */
async function rig(): Promise<Rig> {
  const smtp = await startSmtp();
  const engine = await openEngine("memory:", { log: silentLogger });
  const role = await start(testConfig({ smtpUrl: smtp.url }), testDeps({ engine }));
  const client = verifyClient(`127.0.0.1:${role.ports.grpc}`, {
    clusterSecret: TEST_CLUSTER_SECRET,
  });
  return {
    engine,
    role,
    client,
    smtp,
    async close() {
      client.close();
      await role.close();
      await engine.close();
      await smtp.close();
    },
  };
}

/** Any 6-digit code other than `code`. */
const wrongFor = (code: string) => code === "123456" ? "654321" : "123456";

Deno.test("SendCode mails a code that CheckCode accepts exactly once", async () => {
  const r = await rig();
  try {
    const before = Date.now();
    const reply = await r.client.SendCode({ email: "Ann@Example.com", purpose: "register" });
    assert.equal(reply.resend_after_s, 60);
    assert.ok(
      reply.expires_at_ms >= before + 9 * 60_000 && reply.expires_at_ms <= Date.now() + 600_000,
    );

    const mail = await r.smtp.waitFor("ann@example.com");
    const text = mailText(mail.raw);
    assert.match(text, /expires in 10 minutes/);
    assert.match(mail.raw, /text\/html/);
    const code = await r.smtp.codeFor("ann@example.com");

    assert.deepEqual(
      await r.client.CheckCode({ email: "ANN@example.com", purpose: "register", code }),
      { ok: true },
    );
    await assert.rejects(
      r.client.CheckCode({ email: "ann@example.com", purpose: "register", code }),
      isCode("code_expired"),
    );
  } finally {
    await r.close();
  }
});

Deno.test("CheckCode counts wrong codes down, then refuses even the right one", async () => {
  const r = await rig();
  try {
    const email = "bob@example.com";
    await r.client.SendCode({ email, purpose: "reset_password" });
    const code = await r.smtp.codeFor(email);
    const wrong = wrongFor(code);
    for (const left of [4, 3, 2]) {
      await assert.rejects(
        r.client.CheckCode({ email, purpose: "reset_password", code: wrong }),
        (e) => isCode("code_invalid")(e) && (e as Error).message.includes(`${left} tries left`),
      );
    }
    await assert.rejects(
      r.client.CheckCode({ email, purpose: "reset_password", code: wrong }),
      (e) => isCode("code_invalid")(e) && (e as Error).message.includes("1 try left"),
    );
    await assert.rejects(
      r.client.CheckCode({ email, purpose: "reset_password", code: wrong }),
      (e) => isCode("code_attempts_exceeded")(e) && (e as AppError).status === 429,
    );
    await assert.rejects(
      r.client.CheckCode({ email, purpose: "reset_password", code }),
      isCode("code_attempts_exceeded"),
    );

    // A new code revives it; drop the resend block instead of waiting out the minute.
    await r.engine.del(`code_block:reset_password:${email}`);
    const since = r.smtp.mails.length;
    await r.client.SendCode({ email, purpose: "reset_password" });
    const fresh = await r.smtp.codeFor(email, { since });
    assert.deepEqual(
      await r.client.CheckCode({ email, purpose: "reset_password", code: fresh }),
      { ok: true },
    );
  } finally {
    await r.close();
  }
});

Deno.test("SendCode refuses a second code within 60 s and says when to retry", async () => {
  const r = await rig();
  try {
    await r.client.SendCode({ email: "cy@example.com", purpose: "register" });
    await assert.rejects(
      r.client.SendCode({ email: "CY@example.com", purpose: "register" }),
      (e) =>
        isCode("code_rate_limited")(e) && (e as AppError).status === 429 &&
        (e as AppError).retryAfterS! >= 55 && (e as AppError).retryAfterS! <= 60,
    );
    // The other purpose has its own minute.
    await r.client.SendCode({ email: "cy@example.com", purpose: "reset_password" });
    assert.equal(r.smtp.mails.length, 2);
  } finally {
    await r.close();
  }
});

Deno.test("SendCode and CheckCode give clear codes for a bad e-mail, purpose or code", async () => {
  const r = await rig();
  try {
    await assert.rejects(
      r.client.SendCode({ email: "not-an-address", purpose: "register" }),
      (e) => isCode("invalid_email")(e) && (e as AppError).status === 400,
    );
    await assert.rejects(
      // deno-lint-ignore no-explicit-any
      r.client.SendCode({ email: "dee@example.com", purpose: "login" as any }),
      (e) => isCode("invalid_purpose")(e) && (e as AppError).status === 400,
    );
    await assert.rejects(
      r.client.CheckCode({ email: "dee@example.com", purpose: "register", code: "123456" }),
      isCode("code_expired"),
    );
    await r.client.SendCode({ email: "dee@example.com", purpose: "register" });
    await assert.rejects(
      r.client.CheckCode({ email: "dee@example.com", purpose: "register", code: "12ab56" }),
      isCode("code_invalid"),
    );
    assert.equal(r.smtp.mails.length, 1);
  } finally {
    await r.close();
  }
});

Deno.test("SendCode reports mail_failed when SMTP is down, and a retry is allowed", async () => {
  const engine = await openEngine("memory:", { log: silentLogger });
  const deadSmtp = `smtp://127.0.0.1:${await freePort()}`;
  const { log, lines } = memoryLogger();
  const role = await start(testConfig({ smtpUrl: deadSmtp }), testDeps({ engine, log }));
  const client = verifyClient(`127.0.0.1:${role.ports.grpc}`, {
    clusterSecret: TEST_CLUSTER_SECRET,
    deadlineMs: 20_000,
  });
  try {
    for (let i = 0; i < 2; i++) {
      await assert.rejects(
        client.SendCode({ email: "eve@example.com", purpose: "register" }),
        (e) => isCode("mail_failed")(e) && (e as AppError).status === 503,
      );
    }
    // No code was left behind to be guessed at.
    await assert.rejects(
      client.CheckCode({ email: "eve@example.com", purpose: "register", code: "123456" }),
      isCode("code_expired"),
    );
    assert.ok(lines.some((l) => l.level === "error" && l.msg === "cannot mail verification code"));
  } finally {
    client.close();
    await role.close();
    await engine.close();
  }
});

Deno.test("SendCode with no SMTP writes the mail to the outbox and logs the code", async () => {
  const dir = await tempDir();
  const engine = await openEngine("memory:", { log: silentLogger });
  const { log, lines } = memoryLogger();
  const role = await start(
    testConfig({ smtpUrl: null, dataDir: dir.path }),
    testDeps({ engine, log }),
  );
  const client = verifyClient(`127.0.0.1:${role.ports.grpc}`, {
    clusterSecret: TEST_CLUSTER_SECRET,
  });
  try {
    await client.SendCode({ email: "fay@example.com", purpose: "register" });
    const line = lines.find((l) => l.msg === "verification code");
    assert.ok(line, "the code is logged");
    assert.equal(line.email, "fay@example.com");
    assert.equal(line.purpose, "register");
    const code = line.code as string;
    assert.match(code, /^\d{6}$/);

    const files = [...Deno.readDirSync(`${dir.path}/outbox`)].map((e) => e.name);
    assert.equal(files.length, 1);
    assert.equal(`${dir.path}/outbox/${files[0]}`, line.file);
    const raw = await Deno.readTextFile(line.file as string);
    assert.match(raw, /^To: fay@example\.com\r?$/m);
    assert.ok(mailText(raw).includes(code));

    assert.deepEqual(
      await client.CheckCode({ email: "fay@example.com", purpose: "register", code }),
      { ok: true },
    );
  } finally {
    client.close();
    await role.close();
    await engine.close();
    await dir.remove();
  }
});
