/**
 * The command-line front of both programs, `parley` and `parley-admin`:
 * finds the command among the arguments, loads its module, parses the
 * global and the command's flags, answers --help, checks the number of
 * arguments, runs it, and turns every failure into one line on stderr and
 * an exit code (0 ok, 1 error, 2 usage). Each program supplies its
 * commands, its flags, its help and how it explains a server's error.
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { AppError } from "../../proto/errors.ts";
import type { Args, Command } from "./command.ts";
import { CliError, type Output, UsageError } from "./parley_context.ts";

export interface Program<C> {
  /** "parley" or "parley-admin": the first word of every message. */
  name: string;
  commands: Record<string, () => Promise<{ command: Command<C> }>>;
  global: ParseArgsOptionsConfig;
  help: string;
  /** The command run when none is named (`parley` alone opens the chat); none: usage error. */
  defaultCommand?: string;
  /** Printed for --version when given. */
  version?: string;
  /** Builds what the command runs with, once its flags are known. */
  context(values: Args["values"]): C | Promise<C>;
  /** The line for a server's error (gate, chat node or status role). */
  explain(e: AppError, ctx: C): string;
  /** Called after the command, whatever happened (closes clients). */
  done?(ctx: C): void;
}

/**
 * node:util's parse errors as one short line: "unknown flag --watch",
 * "--limit needs a value", "--json takes no value" (its own messages carry
 * advice about "--" with unbalanced quotes).
 */
export function parseErrorLine(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const message = err.message ?? String(e);
  const flag = /'(?:-\w, )?(-{1,2}[^' <]+)/.exec(message)?.[1] ?? "";
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown flag ${flag}`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return message.includes("does not take") ? `${flag} takes no value` : `${flag} needs a value`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return "too many arguments";
    default:
      return message.split("\n")[0];
  }
}

/** Runs the program with `argv`; resolves with the exit code. */
export async function dispatch<C>(p: Program<C>, argv: string[], io: Output): Promise<number> {
  const usage = (where: string, line: string, help: string) => {
    io.err(`${where}: ${line} — see \`${help} --help\``);
    return 2;
  };
  let tokens;
  try {
    ({ tokens } = parseArgs({
      args: argv,
      options: p.global,
      strict: false,
      allowPositionals: true,
      tokens: true,
    }));
  } catch (e) {
    return usage(p.name, parseErrorLine(e), p.name);
  }
  const first = tokens.find((t) => t.kind === "positional");
  const asked = (...flags: string[]) => flags.some((f) => argv.includes(f));
  if (first?.kind !== "positional" || first.value === "help") {
    if (first || asked("--help", "-h")) {
      io.out(p.help);
      return 0;
    }
    if (p.version && asked("--version")) {
      io.out(`${p.name} ${p.version}`);
      return 0;
    }
    if (!p.defaultCommand) {
      io.err(`${p.name}: no command given\n\n${p.help}`);
      return 2;
    }
  }
  const named = first?.kind === "positional";
  const name = named ? first.value : p.defaultCommand!;
  const load = p.commands[name];
  if (!load) return usage(p.name, `unknown command "${name}"`, p.name);
  const { command } = await load();
  const rest = named ? [...argv.slice(0, first.index), ...argv.slice(first.index + 1)] : argv;
  // A flag error when no command was named is the program's, not the default command's.
  const where = named ? `${p.name} ${name}` : p.name;
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...p.global, ...command.options },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    return usage(where, parseErrorLine(e), where);
  }
  const values = parsed.values as Args["values"];
  if (values.help) {
    io.out(commandHelp(p.name, command));
    return 0;
  }
  const n = parsed.positionals.length;
  if (n < command.args.min || n > command.args.max) {
    return usage(where, `usage: ${command.usage}`, where);
  }
  return await runCommand(p, command, { positionals: parsed.positionals, values }, io, where);
}

function commandHelp<C>(program: string, c: Command<C>): string {
  return `${c.usage}\n\n${c.summary}${c.help ? `\n\n${c.help}` : ""}\n\n` +
    `Run \`${program} --help\` for the flags every command takes.`;
}

async function runCommand<C>(
  p: Program<C>,
  command: Command<C>,
  args: Args,
  io: Output,
  where: string,
): Promise<number> {
  let ctx: C | undefined;
  try {
    ctx = await p.context(args.values);
    return (await command.run(ctx, args)) ?? 0;
  } catch (e) {
    if (e instanceof CliError) {
      const hint = e instanceof UsageError ? ` — see \`${where} --help\`` : "";
      io.err(`${p.name}: ${e.message}${hint}`);
      return e.exitCode;
    }
    if (e instanceof AppError && ctx !== undefined) {
      io.err(`${p.name}: ${p.explain(e, ctx)}`);
      return 1;
    }
    io.err(`${p.name}: unexpected error: ${(e as Error)?.stack ?? e}`);
    return 1;
  } finally {
    if (ctx !== undefined) p.done?.(ctx);
  }
}
