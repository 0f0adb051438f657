/**
 * Picking a chat node: for a login, and for a token holder whose node died
 * or is draining (`POST /api/v1/session/chat-node`), so that a client can
 * find a live node again without asking its user for the password.
 */
import type { Hono } from "hono";
import { AppError, isAppError } from "../../proto/errors.ts";
import type { NodeInfo } from "../../proto/services.ts";
import { type GateEnv, requireAuth, type Services } from "./request.ts";
import { admitChatNode } from "./limits.ts";

export const CHAT_NODE_PATH = "/api/v1/session/chat-node";

/** The chat node for a new session; 503 no_chat_node with Retry-After when there is none. */
export async function pickNode(s: Services): Promise<NodeInfo> {
  try {
    return await s.status.PickNode({});
  } catch (e) {
    if (isAppError(e) && e.status === 503 && !e.retryAfterS) {
      throw new AppError(e.code, e.message, 503, 2);
    }
    throw e;
  }
}

export function chatNodeRoutes(app: Hono<GateEnv>, s: Services): void {
  // requireAuth checks signature, expiry and revocation: a logged-out token gets no node.
  app.post(CHAT_NODE_PATH, requireAuth(s), async (c) => {
    await admitChatNode(await s.engine(), c.get("claims").userId, s.config.gate.limits);
    const node = await pickNode(s);
    // The token is unchanged: its expiry tells the client when it must log in again.
    return c.json({ chat_url: node.ws_url, expires_at: c.get("claims").expiresAtMs });
  });
}
