/** Test-only: friends, messages and history pages for the chat screen's unit tests. */
import type { WireFriend, WireMessage } from "../../proto/protocol.ts";

/** A friend, online with nothing unread unless `extra` says otherwise. */
export function friend(id: number, name: string, extra: Partial<WireFriend> = {}): WireFriend {
  return {
    user: { id, name, display_name: "" },
    online: true,
    last_seen: null,
    since: 0,
    unread: 0,
    ...extra,
  };
}

/** Message `id` from one user to the other, sent at `sentAt`. */
export function msg(
  id: number,
  from: number,
  to: number,
  text: string,
  sentAt = id * 1000,
): WireMessage {
  return { id, from, to, text, client_id: `c${id}`, sent_at: sentAt };
}

/** A history page with every message and no receipts. */
export function page(messages: WireMessage[], more = false) {
  return { messages, more, peer_delivered_id: 0, peer_read_id: 0 };
}
