/**
 * Sends verification codes by mail with nodemailer: over SMTP when
 * config.smtpUrl is set, otherwise into `<dataDir>/outbox/` as .eml files
 * with the code also logged, so the embedded single-process setup works on
 * a machine with no mail server.
 */
import nodemailer from "nodemailer";
import type { ResolvedConfig } from "../config.ts";
import type { Logger } from "../log.ts";
import type { CodePurpose } from "../../proto/services.ts";
import { CODE_TTL_MS } from "./codes.ts";

export interface CodeMail {
  to: string;
  purpose: CodePurpose;
  code: string;
}

export interface Mailer {
  /** Rejects if the mail could not be handed over (SMTP down, disk full). */
  sendCode(mail: CodeMail): Promise<void>;
  close(): void;
}

/** Outbox files kept; older ones are removed so the folder cannot grow forever. */
const OUTBOX_KEEP = 1000;

// Bounded so a dead or slow mail server fails the call instead of hanging it.
// A URL may still set its own (e.g. smtp://host:25?connectionTimeout=30000).
const SMTP_DEFAULTS: Record<string, string> = {
  connectionTimeout: "10000",
  greetingTimeout: "10000",
  socketTimeout: "15000",
};

const PURPOSE_TEXT: Record<CodePurpose, { subject: string; action: string }> = {
  register: { subject: "Your Parley sign-up code", action: "finish creating your account" },
  reset_password: { subject: "Your Parley password reset code", action: "reset your password" },
};

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/** Subject, plain-text and HTML bodies of the mail for one code. */
export function composeCodeMail(mail: CodeMail): { subject: string; text: string; html: string } {
  const { subject, action } = PURPOSE_TEXT[mail.purpose];
  const minutes = Math.round(CODE_TTL_MS / 60_000);
  const text = [
    `Your Parley verification code is ${mail.code}`,
    "",
    `Enter it to ${action}. It expires in ${minutes} minutes.`,
    `This code was requested for ${mail.to}. If that was not you, ignore this mail.`,
    "",
  ].join("\n");
  const html = `<!doctype html>
<html><body style="font-family: sans-serif">
<p>Your Parley verification code is</p>
<p style="font-size: 28px; font-weight: bold; letter-spacing: 4px">${escapeHtml(mail.code)}</p>
<p>Enter it to ${escapeHtml(action)}. It expires in ${minutes} minutes.</p>
<p style="color: #666">This code was requested for ${
    escapeHtml(mail.to)
  }. If that was not you, ignore this mail.</p>
</body></html>
`;
  return { subject, text, html };
}

function smtpTransportUrl(smtpUrl: string): string {
  const url = new URL(smtpUrl);
  for (const [k, v] of Object.entries(SMTP_DEFAULTS)) {
    if (!url.searchParams.has(k)) url.searchParams.set(k, v);
  }
  return url.toString();
}

export function createMailer(config: ResolvedConfig, log: Logger): Mailer {
  return config.smtpUrl
    ? smtpMailer(config.smtpUrl, config.mailFrom, log)
    : outboxMailer(config, log);
}

function smtpMailer(smtpUrl: string, from: string, log: Logger): Mailer {
  // One transport for the role's lifetime; add ?pool=true to the URL to keep connections open.
  const transport = nodemailer.createTransport(smtpTransportUrl(smtpUrl));
  return {
    async sendCode(mail) {
      const info = await transport.sendMail({ from, to: mail.to, ...composeCodeMail(mail) });
      log.info("verification code mailed", {
        email: mail.to,
        purpose: mail.purpose,
        messageId: info.messageId,
      });
    },
    close: () => transport.close(),
  };
}

function outboxMailer(config: ResolvedConfig, log: Logger): Mailer {
  const dir = `${config.dataDir}/outbox`;
  const transport = nodemailer.createTransport({
    streamTransport: true,
    buffer: true,
    newline: "windows",
  });
  let written = 0;
  return {
    async sendCode(mail) {
      const info = await transport.sendMail({
        from: config.mailFrom,
        to: mail.to,
        ...composeCodeMail(mail),
      });
      await Deno.mkdir(dir, { recursive: true });
      // Time first so a listing sorts oldest to newest; the e-mail is in the log, not the name.
      const stamp = new Date().toISOString().replace(/[:.]/g, "-");
      const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
      const file = `${dir}/${stamp}-${mail.purpose}-${rand}.eml`;
      await Deno.writeFile(file, info.message as Uint8Array, { mode: 0o600 });
      log.info("verification code", {
        email: mail.to,
        purpose: mail.purpose,
        code: mail.code,
        file,
      });
      if (++written % 50 === 0) await pruneOutbox(dir, OUTBOX_KEEP, log);
    },
    close: () => {},
  };
}

/** Removes all but the newest `keep` .eml files in `dir`. */
export async function pruneOutbox(dir: string, keep: number, log: Logger): Promise<number> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".eml")) names.push(e.name);
  }
  if (names.length <= keep) return 0;
  names.sort();
  const old = names.slice(0, names.length - keep);
  for (const name of old) {
    await Deno.remove(`${dir}/${name}`).catch((e) =>
      log.warn("cannot prune outbox", { name, error: e })
    );
  }
  return old.length;
}
