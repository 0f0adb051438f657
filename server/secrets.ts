/**
 * Secrets Parley generates for itself when the config gives none (the JWT
 * key, the admin token, the cluster secret of a single process): kept in
 * the data folder, mode 0600, and read back on the next start.
 */

export interface SecretStore {
  /** The secret `name`, created with `create()` the first time it is asked for. */
  getOrCreate(name: string, create: () => string): string;
}

export function fileSecretStore(dataDir: string): SecretStore {
  return {
    getOrCreate(name, create) {
      const path = `${dataDir}/${name}`;
      try {
        return Deno.readTextFileSync(path).trim();
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
      Deno.mkdirSync(dataDir, { recursive: true });
      const value = create();
      try {
        // createNew: two processes starting together agree on one value.
        Deno.writeTextFileSync(path, value + "\n", { createNew: true, mode: 0o600 });
        return value;
      } catch (e) {
        if (e instanceof Deno.errors.AlreadyExists) return Deno.readTextFileSync(path).trim();
        throw e;
      }
    },
  };
}

/** `bytes` random bytes as base64url (no padding). */
export function randomToken(bytes = 32): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
