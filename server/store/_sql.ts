/**
 * The statements the SQL store runs word for word on both dialects; those
 * that need a dialect's words (upserts, locking, IN lists, the history
 * union) are built where they are used, from the Dialect. Every value is a
 * `?` placeholder.
 */
import { MESSAGE_COLUMNS, REQUEST_COLUMNS, USER_COLUMNS } from "./_common.ts";

export const SQL = {
  userById: `SELECT ${USER_COLUMNS} FROM users WHERE id = ?`,
  userByEmail: `SELECT ${USER_COLUMNS} FROM users WHERE email_norm = ?`,
  userByName: `SELECT ${USER_COLUMNS} FROM users WHERE name_norm = ?`,
  /** (key, key, key): should a name ever equal someone's e-mail, the e-mail wins. */
  userForLogin: `SELECT ${USER_COLUMNS}, password_hash, auth_epoch FROM users
    WHERE email_norm = ? OR name_norm = ? ORDER BY email_norm = ? DESC LIMIT 1`,
  createUser: `INSERT INTO users (email, email_norm, name, name_norm, display_name, bio,
    password_hash, created_at) VALUES (?, ?, ?, ?, '', '', ?, ?)`,
  /** (hash, 0 or 1, id): the epoch moves in the same statement that changes the hash. */
  setPasswordHash: "UPDATE users SET password_hash = ?, auth_epoch = auth_epoch + ? WHERE id = ?",
  /** (hash, 0 or 1, id, epoch): only while the epoch is still the one given. */
  setPasswordHashIfEpoch: `UPDATE users SET password_hash = ?, auth_epoch = auth_epoch + ?
    WHERE id = ? AND auth_epoch = ?`,
  authEpoch: "SELECT auth_epoch FROM users WHERE id = ?",
  /** (displayName | null, bio | null, findable 0/1 | null, id): null keeps the old value. */
  updateProfile: `UPDATE users SET display_name = COALESCE(?, display_name),
    bio = COALESCE(?, bio), findable_by_email = COALESCE(?, findable_by_email) WHERE id = ?`,
  setLastSeen: "UPDATE users SET last_seen_at = ? WHERE id = ?",
  /**
   * (LIKE pattern, e-mail, excluded id, after id, after id, limit); ids 0
   * for none. An e-mail matches only users who opted in. A cursor naming no
   * user matches nothing.
   */
  searchUsers: `SELECT ${USER_COLUMNS} FROM users
    WHERE (name_norm LIKE ? ESCAPE '!' OR (email_norm = ? AND findable_by_email = 1))
      AND id <> ?
      AND (? = 0 OR name_norm > (SELECT a.name_norm FROM users a WHERE a.id = ?))
    ORDER BY name_norm LIMIT ?`,
  countUsers: "SELECT COUNT(*) AS n FROM users",

  pendingRequest: `SELECT ${REQUEST_COLUMNS} FROM friend_requests WHERE from_id = ? AND to_id = ?`,
  incomingRequests:
    `SELECT ${REQUEST_COLUMNS} FROM friend_requests WHERE to_id = ? ORDER BY created_at, id`,
  outgoingRequests:
    `SELECT ${REQUEST_COLUMNS} FROM friend_requests WHERE from_id = ? ORDER BY created_at, id`,
  insertRequest:
    "INSERT INTO friend_requests (from_id, to_id, greeting, created_at) VALUES (?, ?, ?, ?)",
  deleteRequest: "DELETE FROM friend_requests WHERE from_id = ? AND to_id = ?",
  /** (a, b, b, a). */
  deleteRequestsBothWays: `DELETE FROM friend_requests
    WHERE (from_id = ? AND to_id = ?) OR (from_id = ? AND to_id = ?)`,
  areFriends: "SELECT 1 AS x FROM friendships WHERE user_id = ? AND friend_id = ?",
  friends: `SELECT u.id, u.email, u.name, u.display_name, u.bio, u.created_at, u.last_seen_at,
      f.created_at AS since
    FROM friendships f JOIN users u ON u.id = f.friend_id
    WHERE f.user_id = ? ORDER BY u.name_norm`,
  friendIds: "SELECT friend_id FROM friendships WHERE user_id = ? ORDER BY friend_id",
  /** (a, b, b, a). */
  removeFriend: `DELETE FROM friendships
    WHERE (user_id = ? AND friend_id = ?) OR (user_id = ? AND friend_id = ?)`,
  countFriends: "SELECT COUNT(*) AS n FROM friendships WHERE user_id = ?",

  pair: "SELECT id FROM users WHERE id IN (?, ?)",
  messageById: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = ?`,
  messageByClientId:
    `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE sender_id = ? AND client_id = ?`,
  inboxHead: "SELECT seq FROM inbox_heads WHERE user_id = ?",
  device: `SELECT user_id, device_id, label, acked_seq, created_at, last_seen_at
    FROM devices WHERE user_id = ? AND device_id = ?`,
  devices: `SELECT user_id, device_id, label, acked_seq, created_at, last_seen_at
    FROM devices WHERE user_id = ? ORDER BY device_id`,
  /** (userId, userId, deviceId): where a new device of the user starts. */
  deviceStart: `SELECT COALESCE((SELECT base_seq FROM inbox_heads WHERE user_id = ?), 0) AS base,
    COALESCE((SELECT MAX(acked_seq) FROM devices WHERE user_id = ? AND device_id <> ?), 0) AS acked`,
  pruneRevokedTokens: "DELETE FROM revoked_tokens WHERE expires_at <= ?",
  pruneDevices: "DELETE FROM devices WHERE last_seen_at < ?",
  /**
   * (afterId, userId, userId, afterId): the recipient seq that stands for
   * "id above afterId" in undelivered(). A user's recipient seqs rise with
   * the ids of the messages, so it is the seq of the last message to the
   * user with an id <= afterId: one primary-key read when afterId is such a
   * message (as when paging), else a walk down the user's seqs to it.
   */
  undeliveredAfter: `SELECT COALESCE(
      (SELECT recipient_seq FROM messages WHERE id = ? AND recipient_id = ?),
      (SELECT recipient_seq FROM messages WHERE recipient_id = ? AND id <= ?
        ORDER BY recipient_seq DESC LIMIT 1),
      0) AS seq`,
  /** (userId, afterSeq, limit): a range of uq_messages_recipient_seq, then each sender's cursor. */
  undelivered: `SELECT m.id, m.sender_id, m.recipient_id, m.client_id, m.text, m.created_at
    FROM messages m
    LEFT JOIN cursors c ON c.user_id = m.recipient_id AND c.peer_id = m.sender_id
    WHERE m.recipient_id = ? AND m.recipient_seq > ? AND m.id > COALESCE(c.delivered_id, 0)
    ORDER BY m.recipient_seq LIMIT ?`,
  unreadCounts: `SELECT m.sender_id AS peer_id, COUNT(*) AS n, MAX(m.id) AS last_id
    FROM messages m
    LEFT JOIN cursors c ON c.user_id = m.recipient_id AND c.peer_id = m.sender_id
    WHERE m.recipient_id = ? AND m.id > COALESCE(c.read_id, 0)
    GROUP BY m.sender_id ORDER BY m.sender_id`,
  countMessages: "SELECT COUNT(*) AS n FROM messages",
  /** (u, u, u): sent plus received, a message to oneself counted once. */
  countUserMessages: `SELECT (SELECT COUNT(*) FROM messages WHERE sender_id = ?)
    + (SELECT COUNT(*) FROM messages WHERE recipient_id = ? AND sender_id <> ?) AS n`,
  cursor: "SELECT delivered_id, read_id FROM cursors WHERE user_id = ? AND peer_id = ?",
  lastMessageId:
    "SELECT COALESCE(MAX(id), 0) AS id FROM messages WHERE sender_id = ? AND recipient_id = ?",

  schemaVersion: "SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations",
  recordMigration: "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
} as const;
