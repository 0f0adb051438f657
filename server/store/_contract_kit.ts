/** What the store contract's case files share; see store_contract.ts. */
import { AppError } from "../../proto/errors.ts";
import type { Store, User } from "./types.ts";

/** A fresh, empty, not yet migrated database behind `store`. */
export interface StoreHarness {
  store: Store;
  /** Opens a second Store on the same database; the caller closes it. */
  openAnother(): Promise<Store>;
  /** Runs one statement on the database behind the store's back (to set up a case); its rows. */
  sql(statement: string, params?: (string | number | null)[]): Promise<Record<string, unknown>[]>;
  /** Closes `store` and removes the database. */
  cleanup(): Promise<void>;
}

/** Registers one case; `fn` gets a migrated store on a fresh database. */
export type StoreCase = (
  name: string,
  fn: StoreCaseFn,
) => void;

/** One case's body: it gets a migrated store on a fresh database. */
export type StoreCaseFn = (store: Store, harness: StoreHarness) => Promise<void>;

/** A case file's cases, by name, in the order they run. */
export type StoreCases = Record<string, StoreCaseFn>;

/** A user named `name` with the e-mail `name@example.com`. */
export function makeUser(store: Store, name: string): Promise<User> {
  return store.createUser({ email: `${name}@example.com`, name, passwordHash: `hash-of-${name}` });
}

/** For assert.rejects: an AppError with this code. */
export function isCode(code: string): (e: unknown) => boolean {
  return (e) => e instanceof AppError && e.code === code;
}
