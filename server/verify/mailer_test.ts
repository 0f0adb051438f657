import assert from "node:assert/strict";
import { mailText, startSmtp, tempDir, testConfig } from "../../testing/mod.ts";
import { silentLogger } from "../log.ts";
import { composeCodeMail, createMailer, pruneOutbox } from "./mailer.ts";

Deno.test("composeCodeMail() states code, purpose and expiry, and escapes the HTML", () => {
  const mail = composeCodeMail({
    to: "x<b>&@example.com",
    purpose: "reset_password",
    code: "042917",
  });
  assert.match(mail.subject, /password reset/);
  assert.match(mail.text, /042917/);
  assert.match(mail.text, /reset your password/);
  assert.match(mail.text, /expires in 10 minutes/);
  assert.match(mail.html, /042917/);
  assert.match(mail.html, /expires in 10 minutes/);
  assert.ok(mail.html.includes("x&lt;b&gt;&amp;@example.com"));
  assert.ok(!mail.html.includes("<b>"));

  const reg = composeCodeMail({ to: "a@example.com", purpose: "register", code: "000001" });
  assert.match(reg.subject, /sign-up/);
  assert.match(reg.text, /creating your account/);
});

Deno.test("the SMTP mailer sends a plain-text and an HTML part from mailFrom", async () => {
  const smtp = await startSmtp();
  const mailer = createMailer(
    testConfig({ smtpUrl: smtp.url, mailFrom: "Parley Test <codes@parley.test>" }),
    silentLogger,
  );
  try {
    await mailer.sendCode({ to: "gus@example.com", purpose: "register", code: "314159" });
    const mail = await smtp.waitFor("gus@example.com");
    assert.equal(mail.from, "codes@parley.test");
    assert.match(mail.raw, /text\/plain/);
    assert.match(mail.raw, /text\/html/);
    assert.ok(mailText(mail.raw).includes("314159"));
  } finally {
    mailer.close();
    await smtp.close();
  }
});

Deno.test("pruneOutbox() keeps only the newest files", async () => {
  const dir = await tempDir();
  try {
    for (let i = 0; i < 7; i++) {
      await Deno.writeTextFile(`${dir.path}/2024-01-0${i + 1}-register-x.eml`, "mail");
    }
    await Deno.writeTextFile(`${dir.path}/notes.txt`, "not a mail");
    assert.equal(await pruneOutbox(dir.path, 3, silentLogger), 4);
    const left = [...Deno.readDirSync(dir.path)].map((e) => e.name).sort();
    assert.deepEqual(left, [
      "2024-01-05-register-x.eml",
      "2024-01-06-register-x.eml",
      "2024-01-07-register-x.eml",
      "notes.txt",
    ]);
    assert.equal(await pruneOutbox(dir.path, 3, silentLogger), 0);
  } finally {
    await dir.remove();
  }
});
