/**
 * The key material a configuration names or Parley makes for itself: the
 * cluster secret, the JWT key and the TLS files. resolveConfig() (config.ts)
 * calls these; each refuses what would only fail later with a ConfigError
 * naming the field.
 */
import { type Config, ConfigError, type Role, ROLES, type TlsConfig } from "./_config_schema.ts";
import { randomToken, type SecretStore } from "./secrets.ts";

type ReadFile = (path: string) => string;

/** A key read from a file: trimmed, and refused when shorter than 32 characters. */
function keyFile(field: string, path: string, readFile: ReadFile): string {
  let key: string;
  try {
    key = readFile(path).trim();
  } catch (e) {
    throw new ConfigError(`${field}: cannot read ${path}: ${(e as Error).message}`);
  }
  if (key.length < 32) throw new ConfigError(`${field}: key must be at least 32 characters`);
  return key;
}

/**
 * The cluster secret: given (clusterSecret, PARLEY_CLUSTER_SECRET or
 * clusterSecretFile), or generated into `<dataDir>/cluster.key` by a process
 * that runs every role. A process that runs only some roles is part of a
 * multi-process cluster, and a secret of its own would only make its calls
 * fail later, one by one: it refuses to start instead.
 */
export function clusterSecretOf(
  c: Config,
  roles: Role[],
  secrets: SecretStore,
  readFile: ReadFile,
): string {
  if (c.clusterSecret) return c.clusterSecret;
  if (c.clusterSecretFile) {
    const key = keyFile("clusterSecretFile", c.clusterSecretFile, readFile);
    if (!/^[\x21-\x7e]+$/.test(key)) {
      throw new ConfigError(
        "clusterSecretFile: the secret must be printable ASCII without spaces (one line)",
      );
    }
    return key;
  }
  if (ROLES.every((r) => roles.includes(r))) {
    return secrets.getOrCreate("cluster.key", () => randomToken(32));
  }
  throw new ConfigError(
    `clusterSecret: this process runs only ${roles.join(", ")}, so it is part of a cluster, ` +
      "and every process of a cluster must be given the same cluster secret: set " +
      "PARLEY_CLUSTER_SECRET (e.g. $(openssl rand -base64 32)), clusterSecret, or " +
      "clusterSecretFile (a file every process can read)",
  );
}

/**
 * The JWT key the gate signs with and the chat nodes verify with: given
 * (jwtSecret, PARLEY_JWT_SECRET or jwtKeyFile), or generated into
 * `<dataDir>/jwt.key` by a process that runs every role. A gate or chat
 * node in a process of its own is part of a cluster: a key of its own
 * would make every token of the other gates fail there, so it refuses to
 * start instead (as for the cluster secret). Status and verify never touch
 * a token: a process running only them gets a random key that nothing uses.
 */
export function jwtSecretOf(
  c: Config,
  roles: Role[],
  secrets: SecretStore,
  readFile: ReadFile,
): string {
  if (c.jwtSecret) return c.jwtSecret;
  if (c.jwtKeyFile) return keyFile("jwtKeyFile", c.jwtKeyFile, readFile);
  if (ROLES.every((r) => roles.includes(r))) {
    return secrets.getOrCreate("jwt.key", () => randomToken(48));
  }
  const users = roles.filter((r) => r === "gate" || r === "chat");
  if (users.length === 0) return randomToken(48);
  throw new ConfigError(
    `jwtSecret: this process runs only ${roles.join(", ")}, so it is part of a cluster, ` +
      `and every gate and chat node of a cluster must be given the same JWT key: set ` +
      "PARLEY_JWT_SECRET (e.g. $(openssl rand -base64 48)), jwtSecret, or jwtKeyFile " +
      "(a file every process can read)",
  );
}

/** The TLS files' contents, read once at start; null when the config names none. */
export function tlsOf(c: Config, readFile: ReadFile): TlsConfig | null {
  if (!c.tls) return null;
  const read = (field: string, path: string) => {
    try {
      return readFile(path);
    } catch (e) {
      throw new ConfigError(`tls.${field}: cannot read ${path}: ${(e as Error).message}`);
    }
  };
  return {
    cert: read("certFile", c.tls.certFile),
    key: read("keyFile", c.tls.keyFile),
    ca: c.tls.caFile ? read("caFile", c.tls.caFile) : undefined,
  };
}
