/**
 * The mailed-code step that register and reset-password share: mail a code
 * (unless the user already has one, `--code`), ask for it, and ask again
 * after a wrong one while the gate allows more tries (it allows 5). A code
 * that expired or ran out of tries ends the command with what to do next.
 */
import { AppError } from "../../proto/errors.ts";
import type { CodePurpose, GateClient } from "./gate_client.ts";
import { CliError, type Context, explain } from "./parley_context.ts";
import { noInput } from "./passwords.ts";

export interface CodeStep {
  email: string;
  purpose: CodePurpose;
  /** A code mailed earlier (--code): no new one is requested. */
  code?: string;
  /** What to tell the user once a code was mailed. */
  mailed: string;
}

export async function withMailedCode<T>(
  ctx: Context,
  gate: GateClient,
  step: CodeStep,
  submit: (code: string) => Promise<T>,
): Promise<T> {
  let code = step.code?.trim() || undefined;
  if (!code) {
    await gate.requestCode(step.email, step.purpose);
    ctx.io.err(step.mailed);
  }
  for (;;) {
    code ??= await noInput(
      ctx.prompt.ask("Code: "),
      "no code: input ended (a code you already have can be given with --code CODE)",
    );
    if (!code) {
      ctx.io.err("no code given — type the code from the mail");
      code = undefined;
      continue;
    }
    try {
      return await submit(code);
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      if (e.code === "code_invalid") {
        ctx.io.err(`${e.message} — try again`);
        code = undefined;
        continue;
      }
      if (e.code === "code_expired" || e.code === "code_attempts_exceeded") {
        throw new CliError(`${explain(e)} — run the command again for a new code`);
      }
      throw e;
    }
  }
}
