/**
 * The shape of one `parley` (or `parley-admin`) command module: its name,
 * help text, flags and a `run()`; plus a helper that opens a chat
 * connection for the length of a one-shot command.
 */
import type { ParseArgsOptionsConfig } from "node:util";
import type { Context } from "./parley_context.ts";
import type { Connection } from "./ws.ts";

export interface Args {
  positionals: string[];
  values: Record<string, string | boolean | undefined>;
}

export interface Command<C = Context> {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** "parley send USER TEXT..." */
  usage: string;
  /** More lines for `--help`: flags, examples. */
  help?: string;
  options?: ParseArgsOptionsConfig;
  /** How many positionals it takes. */
  args: { min: number; max: number };
  /** Resolves with the exit code (0 when it returns nothing). */
  run(ctx: C, args: Args): Promise<number | void>;
}

/** Runs `fn` with a fresh authenticated connection and always closes it. */
export async function withChat<T>(ctx: Context, fn: (conn: Connection) => Promise<T>): Promise<T> {
  const conn = await ctx.connect();
  try {
    return await fn(conn);
  } finally {
    conn.close();
  }
}
