/**
 * The store's schema as an ordered list of migrations, the two SQL
 * dialects side by side so the two schemas stay in step. SqlStore.migrate()
 * applies the versions not yet recorded in schema_migrations, in order,
 * under a lock. To change the schema, append version N+1; never edit a
 * migration that has shipped. MySQL commits DDL one statement at a time,
 * so a version that fails half-way is re-run from its start next time:
 * write its MySQL statements to be re-runnable (IF NOT EXISTS, INSERT
 * IGNORE, upserts, updates that compute rather than add). MySQL 8 has no
 * ADD COLUMN IF NOT EXISTS, so the runner skips an ADD COLUMN or ADD INDEX
 * whose column or index exists, or a DROP INDEX of one that is gone
 * (Dialect.isAlreadyApplied).
 *
 * Shape notes: times are Unix ms in BIGINT columns; `*_norm` columns hold
 * normalizeKey() of the e-mail and name and carry the uniqueness, so the
 * text columns can use a binary collation and round-trip byte-exact.
 * Messages, inboxes, cursors and devices have no foreign keys on purpose:
 * they are the hot write path, the chat role checks friendship (hence
 * existence) first, and users are never deleted.
 *
 * Inboxes (version 2): a 1:1 message's seqs in its sender's and its
 * recipient's inbox are columns of the message row (sender_seq,
 * recipient_seq, each unique per user), not rows of an entry table. Both
 * were built and measured (layout_timing.ts, MariaDB 10.11, batches of
 * 256): an `inbox (user_id, seq, message_id)` table written in the same
 * transaction (two rows and four index entries per message) cost the
 * server about 2.0x the CPU per message of version 1; the two columns with
 * their two unique indexes, about 1.4x, and CPU per message decides a
 * node's durable throughput. The recipient's seq index also replaces version 1's
 * ix_messages_recipient (recipient_id, id): a user's seqs rise with the ids
 * of their messages, so every query that walked it walks this one.
 * Group conversations, which fan one message out to many members, will add
 * a member-inbox table (user_id, seq, message_id) numbered under the same
 * inbox_heads, and inbox() will read it as a third source beside the two
 * columns. Version 2 was rewritten to this shape before any release
 * carried it (the last release stops at version 1).
 */

export interface Migration {
  version: number;
  name: string;
  /** Statements for node:sqlite, run in one BEGIN IMMEDIATE transaction. */
  sqlite: string[];
  /** Statements for MySQL/MariaDB, run one by one under GET_LOCK (DDL commits implicitly). */
  mysql: string[];
}

const INNODB = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

/**
 * Migration 2's backfill numbering, the same SELECT in both dialects
 * (window functions: MariaDB 10.2+, MySQL 8, SQLite 3.25+). Every stored
 * message gets its inbox seqs as if it had been sent after the migration:
 * one in the sender's inbox and one in the recipient's (one for a message
 * to oneself), numbered per user in message id order. One row per message:
 * its id, sender seq and recipient seq (NULL for a message to oneself).
 */
const BACKFILL_SEQS = `SELECT message_id,
    MAX(CASE WHEN side = 0 THEN seq END) AS s, MAX(CASE WHEN side = 1 THEN seq END) AS r
  FROM (SELECT message_id, side,
      ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY message_id) AS seq
    FROM (SELECT sender_id AS user_id, id AS message_id, 0 AS side FROM messages
          UNION ALL
          SELECT recipient_id, id, 1 FROM messages WHERE recipient_id <> sender_id) e) n
  GROUP BY message_id`;

/** The head of every inbox the backfill numbered: its highest seq (= its count). */
const BACKFILL_HEADS = `SELECT user_id, MAX(seq) FROM (
    SELECT sender_id AS user_id, sender_seq AS seq FROM messages
    UNION ALL
    SELECT recipient_id, recipient_seq FROM messages) e
  GROUP BY user_id`;

/**
 * base_seq: the largest seq s such that every message the user received
 * with seq <= s is covered by the old delivered cursor for its sender, i.e.
 * one before the first received entry the old system had not delivered (the
 * whole inbox if there is none). A new device starts there, so what was
 * delivered before the upgrade is not synced again, and what was not is.
 */
const BACKFILL_BASE = `UPDATE inbox_heads SET base_seq = COALESCE((
    SELECT MIN(m.recipient_seq) - 1 FROM messages m
      LEFT JOIN cursors c ON c.user_id = m.recipient_id AND c.peer_id = m.sender_id
    WHERE m.recipient_id = inbox_heads.user_id AND m.sender_id <> inbox_heads.user_id
      AND m.id > COALESCE(c.delivered_id, 0)
  ), seq)`;

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "users, friends, messages, cursors",
    sqlite: [
      `CREATE TABLE users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        email TEXT NOT NULL,
        email_norm TEXT NOT NULL,
        name TEXT NOT NULL,
        name_norm TEXT NOT NULL,
        display_name TEXT NOT NULL DEFAULT '',
        bio TEXT NOT NULL DEFAULT '',
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER
      )`,
      `CREATE UNIQUE INDEX uq_users_email ON users (email_norm)`,
      `CREATE UNIQUE INDEX uq_users_name ON users (name_norm)`,
      `CREATE TABLE friend_requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        from_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        to_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        greeting TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL
      )`,
      `CREATE UNIQUE INDEX uq_friend_requests_pair ON friend_requests (from_id, to_id)`,
      `CREATE INDEX ix_friend_requests_to ON friend_requests (to_id, id)`,
      `CREATE TABLE friendships (
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        friend_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, friend_id)
      ) WITHOUT ROWID`,
      `CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        sender_id INTEGER NOT NULL,
        recipient_id INTEGER NOT NULL,
        client_id TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at INTEGER NOT NULL
      )`,
      `CREATE UNIQUE INDEX uq_messages_client ON messages (sender_id, client_id)`,
      `CREATE INDEX ix_messages_pair ON messages (sender_id, recipient_id, id)`,
      `CREATE INDEX ix_messages_recipient ON messages (recipient_id, id)`,
      `CREATE TABLE cursors (
        user_id INTEGER NOT NULL,
        peer_id INTEGER NOT NULL,
        delivered_id INTEGER NOT NULL DEFAULT 0,
        read_id INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (user_id, peer_id)
      ) WITHOUT ROWID`,
    ],
    mysql: [
      `CREATE TABLE IF NOT EXISTS users (
        id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        email VARCHAR(255) NOT NULL,
        email_norm VARCHAR(255) NOT NULL,
        name VARCHAR(255) NOT NULL,
        name_norm VARCHAR(255) NOT NULL,
        display_name VARCHAR(255) NOT NULL DEFAULT '',
        bio TEXT NOT NULL,
        password_hash VARCHAR(512) NOT NULL,
        created_at BIGINT NOT NULL,
        last_seen_at BIGINT NULL,
        UNIQUE KEY uq_users_email (email_norm),
        UNIQUE KEY uq_users_name (name_norm)
      ) ${INNODB}`,
      `CREATE TABLE IF NOT EXISTS friend_requests (
        id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        from_id BIGINT NOT NULL,
        to_id BIGINT NOT NULL,
        greeting TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        UNIQUE KEY uq_friend_requests_pair (from_id, to_id),
        KEY ix_friend_requests_to (to_id, id),
        CONSTRAINT fk_friend_requests_from FOREIGN KEY (from_id) REFERENCES users (id)
          ON DELETE CASCADE,
        CONSTRAINT fk_friend_requests_to FOREIGN KEY (to_id) REFERENCES users (id)
          ON DELETE CASCADE
      ) ${INNODB}`,
      `CREATE TABLE IF NOT EXISTS friendships (
        user_id BIGINT NOT NULL,
        friend_id BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (user_id, friend_id),
        CONSTRAINT fk_friendships_user FOREIGN KEY (user_id) REFERENCES users (id)
          ON DELETE CASCADE,
        CONSTRAINT fk_friendships_friend FOREIGN KEY (friend_id) REFERENCES users (id)
          ON DELETE CASCADE
      ) ${INNODB}`,
      `CREATE TABLE IF NOT EXISTS messages (
        id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        sender_id BIGINT NOT NULL,
        recipient_id BIGINT NOT NULL,
        client_id VARCHAR(128) NOT NULL,
        text TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        UNIQUE KEY uq_messages_client (sender_id, client_id),
        KEY ix_messages_pair (sender_id, recipient_id, id),
        KEY ix_messages_recipient (recipient_id, id)
      ) ${INNODB}`,
      `CREATE TABLE IF NOT EXISTS cursors (
        user_id BIGINT NOT NULL,
        peer_id BIGINT NOT NULL,
        delivered_id BIGINT NOT NULL DEFAULT 0,
        read_id BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (user_id, peer_id)
      ) ${INNODB}`,
    ],
  },
  {
    version: 2,
    name: "inbox seqs, devices, auth epochs, revoked tokens, e-mail opt-in",
    sqlite: [
      "ALTER TABLE users ADD COLUMN auth_epoch INTEGER NOT NULL DEFAULT 0",
      "ALTER TABLE users ADD COLUMN findable_by_email INTEGER NOT NULL DEFAULT 0",
      // SQLite adds a NOT NULL column only with a default; every row gets its seqs below.
      "ALTER TABLE messages ADD COLUMN sender_seq INTEGER NOT NULL DEFAULT 0",
      "ALTER TABLE messages ADD COLUMN recipient_seq INTEGER NOT NULL DEFAULT 0",
      `CREATE TABLE inbox_heads (
        user_id INTEGER NOT NULL PRIMARY KEY,
        seq INTEGER NOT NULL,
        base_seq INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID`,
      `CREATE TABLE devices (
        user_id INTEGER NOT NULL,
        device_id TEXT NOT NULL,
        label TEXT NOT NULL DEFAULT '',
        acked_seq INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, device_id)
      ) WITHOUT ROWID`,
      `CREATE INDEX ix_devices_seen ON devices (last_seen_at)`,
      `CREATE TABLE revoked_tokens (
        jti TEXT NOT NULL PRIMARY KEY,
        user_id INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID`,
      `CREATE INDEX ix_revoked_tokens_expiry ON revoked_tokens (expires_at)`,
      `UPDATE messages SET sender_seq = n.s, recipient_seq = COALESCE(n.r, n.s)
        FROM (${BACKFILL_SEQS}) AS n WHERE n.message_id = messages.id`,
      `INSERT INTO inbox_heads (user_id, seq) ${BACKFILL_HEADS}`,
      BACKFILL_BASE,
      `CREATE UNIQUE INDEX uq_messages_sender_seq ON messages (sender_id, sender_seq)`,
      `CREATE UNIQUE INDEX uq_messages_recipient_seq ON messages (recipient_id, recipient_seq)`,
      // The recipient's seq index serves every query this one did (see the MySQL list).
      "DROP INDEX ix_messages_recipient",
    ],
    mysql: [
      "ALTER TABLE users ADD COLUMN auth_epoch INT NOT NULL DEFAULT 0",
      "ALTER TABLE users ADD COLUMN findable_by_email TINYINT NOT NULL DEFAULT 0",
      // The defaults only carry the rows until the backfill; they are dropped with it.
      "ALTER TABLE messages ADD COLUMN sender_seq BIGINT NOT NULL DEFAULT 0",
      "ALTER TABLE messages ADD COLUMN recipient_seq BIGINT NOT NULL DEFAULT 0",
      `CREATE TABLE IF NOT EXISTS inbox_heads (
        user_id BIGINT NOT NULL PRIMARY KEY,
        seq BIGINT NOT NULL,
        base_seq BIGINT NOT NULL DEFAULT 0
      ) ${INNODB}`,
      `CREATE TABLE IF NOT EXISTS devices (
        user_id BIGINT NOT NULL,
        device_id VARCHAR(64) NOT NULL,
        label VARCHAR(64) NOT NULL DEFAULT '',
        acked_seq BIGINT NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL,
        PRIMARY KEY (user_id, device_id),
        KEY ix_devices_seen (last_seen_at)
      ) ${INNODB}`,
      `CREATE TABLE IF NOT EXISTS revoked_tokens (
        jti VARCHAR(128) NOT NULL PRIMARY KEY,
        user_id BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        KEY ix_revoked_tokens_expiry (expires_at)
      ) ${INNODB}`,
      // Re-run, these compute the same values again: the update and the upsert keep them.
      `UPDATE messages m JOIN (${BACKFILL_SEQS}) n ON n.message_id = m.id
        SET m.sender_seq = n.s, m.recipient_seq = COALESCE(n.r, n.s)`,
      `INSERT INTO inbox_heads (user_id, seq) ${BACKFILL_HEADS}
        ON DUPLICATE KEY UPDATE seq = VALUES(seq)`,
      BACKFILL_BASE,
      // One ALTER (one pass over the table, all or nothing); without the defaults, an
      // INSERT that names no seqs fails instead of storing seq 0.
      `ALTER TABLE messages
        ADD UNIQUE KEY uq_messages_sender_seq (sender_id, sender_seq),
        ADD UNIQUE KEY uq_messages_recipient_seq (recipient_id, recipient_seq),
        ALTER COLUMN sender_seq DROP DEFAULT,
        ALTER COLUMN recipient_seq DROP DEFAULT`,
      // Nothing reads by (recipient_id, id) any more: uq_messages_recipient_seq leads
      // with recipient_id and orders a user's received messages as their ids do.
      "ALTER TABLE messages DROP INDEX ix_messages_recipient",
    ],
  },
];

const SCHEMA_MIGRATIONS = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER NOT NULL PRIMARY KEY,
  applied_at BIGINT NOT NULL
)`;

/** Creates the table that records applied versions, before anything else. */
export const CREATE_SCHEMA_MIGRATIONS = {
  sqlite: SCHEMA_MIGRATIONS,
  mysql: `${SCHEMA_MIGRATIONS} ${INNODB}`,
};
