/**
 * The store's schema as an ordered list of migrations, one SQL dialect per
 * adapter side by side so the two schemas stay in step. Each adapter's
 * migrate() applies the versions not yet recorded in schema_migrations, in
 * order, under a lock. To change the schema, append version N+1; never edit
 * a migration that has shipped. MySQL commits DDL one statement at a time,
 * so a version that fails half-way is re-run from its start next time:
 * write its MySQL statements to be re-runnable (IF NOT EXISTS and the like).
 *
 * Shape notes: times are Unix ms in BIGINT columns; `*_norm` columns hold
 * normalizeKey() of the e-mail and name and carry the uniqueness, so the
 * text columns can use a binary collation and round-trip byte-exact.
 * Messages and cursors have no foreign keys on purpose: they are the hot
 * write path, the chat role checks friendship (hence existence) first, and
 * users are never deleted.
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
