/**
 * The JSON that `parley --json` prints. Both programs share one convention
 * (cli/admin/json.ts is the admin side): times are Unix ms in fields named
 * `*_at`, and an absent value is null, never "" or 0. Most objects are the
 * protocol's as they are; a friend's `last_seen` and `since` are renamed.
 */
import type { WireFriend } from "../../proto/protocol.ts";

export function friendJson(f: WireFriend) {
  return {
    user: f.user,
    online: f.online,
    last_seen_at: f.last_seen || null,
    since_at: f.since || null,
    unread: f.unread,
  };
}
