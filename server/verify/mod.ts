/**
 * The verify role: a gRPC VerifyService (proto/verify.proto) that issues,
 * mails and checks e-mail verification codes. It keeps no state of its own
 * (codes live in the engine), so several copies can run behind one address.
 */
import { AppError } from "../../proto/errors.ts";
import type { ResolvedConfig } from "../config.ts";
import { type Deps, planeOf, type RoleHandle } from "../role.ts";
import type { RpcServer } from "../../proto/grpc.ts";
import {
  type CheckCodeReply,
  type CheckCodeRequest,
  type SendCodeReply,
  type SendCodeRequest,
  VERIFY,
} from "../../proto/services.ts";
import { checkCode, issueCode, normalizeEmail, parsePurpose, RESEND_AFTER_S } from "./codes.ts";
import { createMailer, type Mailer } from "./mailer.ts";

export async function start(config: ResolvedConfig, deps: Deps): Promise<RoleHandle> {
  const log = deps.log;
  const engine = await deps.engine();
  const mailer: Mailer = createMailer(config, log);

  const handlers = {
    async SendCode(req: SendCodeRequest): Promise<SendCodeReply> {
      const email = normalizeEmail(req.email);
      const purpose = parsePurpose(req.purpose);
      const issued = await issueCode(engine, email, purpose);
      try {
        await mailer.sendCode({ to: email, purpose, code: issued.code });
      } catch (e) {
        // Undo the code and the resend block: the user must be able to try again.
        await issued.revoke().catch((error) =>
          log.error("cannot revoke an unsent code", { email, purpose, error })
        );
        log.error("cannot mail verification code", { email, purpose, error: e });
        throw new AppError(
          "mail_failed",
          "the code could not be mailed; try again shortly",
          503,
          5,
        );
      }
      return { expires_at_ms: issued.expiresAtMs, resend_after_s: RESEND_AFTER_S };
    },
    async CheckCode(req: CheckCodeRequest): Promise<CheckCodeReply> {
      const email = normalizeEmail(req.email);
      const purpose = parsePurpose(req.purpose);
      await checkCode(engine, email, purpose, req.code);
      log.debug("verification code accepted", { email, purpose });
      return { ok: true };
    },
  };

  let server: RpcServer;
  try {
    server = await planeOf(deps).serve(config, log, [{ ...VERIFY, handlers }], {
      host: config.verify.host,
      port: config.verify.port,
      inProcess: "any",
    });
  } catch (e) {
    mailer.close();
    throw e;
  }
  log.info("verify role listening", { host: config.verify.host, port: server.port });

  return {
    ports: { grpc: server.port },
    async close() {
      await server.close();
      mailer.close();
    },
  };
}
