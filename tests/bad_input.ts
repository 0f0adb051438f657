/**
 * What the bad-input tests (tests/chat_*_input_test.ts) share: one process
 * per file, and per test case its own users, sessions and friendships, so a
 * case never depends on what another one did; plus the checks they make
 * (the error code a request gets, and that nothing reached another user).
 */
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import {
  type Account,
  befriend,
  type ChatTuning,
  JWT_SECRET,
  type Parley,
  register,
  startSingle,
  withLogs,
} from "./cluster.ts";
import { type ChatClient, connect, RequestError } from "../testing/mod.ts";

/** Events that would mean something reached another user. */
const LEAKS = new Set(["msg.new", "msg.status", "typing", "friend.request", "friend.accepted"]);

/** A registered user with a live session (its sync consumed). */
export interface Person {
  account: Account;
  client: ChatClient;
}

/** Frames of `client` since `mark` that would mean something reached it. */
export function leaksSince(client: ChatClient, mark: number): unknown[] {
  return client.frames.slice(mark).filter((f) => LEAKS.has(f.type));
}

/** Resolves with the RequestError when `p` fails with `code`; fails the test otherwise. */
export async function rejectsWith(p: Promise<unknown>, code: string): Promise<RequestError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RequestError && e.code === code) return e;
    throw new assert.AssertionError({ message: `expected ${code}, got ${e}` });
  }
  throw new assert.AssertionError({ message: `expected ${code}, got a result` });
}

/** A token with the cluster's claims, signed with `secret` (the cluster's by default). */
export function signedToken(
  userId: number,
  options: { expS: number; secret?: string },
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(String(userId))
    .setIssuer("parley")
    .setAudience("parley-chat")
    .setJti(crypto.randomUUID())
    .setIssuedAt(now - 3600)
    .setExpirationTime(now + options.expS)
    .sign(new TextEncoder().encode(options.secret ?? JWT_SECRET));
}

/** The cases of one file: one process, closed at the end, its warnings added to a failure. */
export async function withParley(
  chat: ChatTuning,
  fn: (p: Parley, open: (c: ChatClient) => ChatClient) => Promise<void>,
): Promise<void> {
  const parley = await startSingle({ chat });
  const clients: ChatClient[] = [];
  try {
    await fn(parley, (c) => {
      clients.push(c);
      return c;
    });
  } catch (e) {
    throw withLogs(e, parley);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await parley.close();
  }
}

/** Registers `names` and connects each of them. */
export async function people(
  parley: Parley,
  open: (c: ChatClient) => ChatClient,
  ...names: string[]
): Promise<Person[]> {
  const accounts = await Promise.all(names.map((n) => register(parley, n)));
  return await Promise.all(accounts.map((a) => session(parley, open, a)));
}

/**
 * A new session of `account`; its sync consumed. The token is signed here
 * as the gate signs it (the login itself is not what these tests are about,
 * and each login would cost a password hash's time). Its client acks no
 * seq: receipts move only by the explicit acks the cases make.
 */
export async function session(
  parley: Parley,
  open: (c: ChatClient) => ChatClient,
  account: Account,
): Promise<Person> {
  const token = await signedToken(account.id, { expS: 3600 });
  const client = open(
    await connect(parley.nodes.get("solo")!.wsUrl, token, { inbox: { ack: false } }),
  );
  await client.syncMessages();
  return { account, client };
}

/** Makes `first` friends with each of `others`. */
export async function friends(first: Person, ...others: Person[]): Promise<void> {
  for (const other of others) await befriend(first, other);
}
