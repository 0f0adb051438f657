/**
 * Asking the user: a line of text, or a password without echo. On a
 * terminal the password is read in raw mode and nothing is shown; when
 * stdin is a pipe (scripts, tests) each answer is simply the next line.
 * Prompts go to stderr so that stdout stays clean for --json.
 */
import { AppError } from "../../proto/errors.ts";

const enc = new TextEncoder();

/** Reads stdin one line at a time, sharing one reader between prompts. */
export class LineReader {
  private buf = "";
  private reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  private readonly dec = new TextDecoder();
  private done = false;

  constructor(private readonly stream: ReadableStream<Uint8Array> = Deno.stdin.readable) {}

  /** The next line without its line break, or null at end of input. */
  async line(): Promise<string | null> {
    for (;;) {
      const nl = this.buf.indexOf("\n");
      if (nl >= 0) {
        const line = this.buf.slice(0, nl).replace(/\r$/, "");
        this.buf = this.buf.slice(nl + 1);
        return line;
      }
      if (this.done) {
        if (this.buf === "") return null;
        const last = this.buf;
        this.buf = "";
        return last;
      }
      this.reader ??= this.stream.getReader();
      const { value, done } = await this.reader.read();
      if (done) this.done = true;
      else this.buf += this.dec.decode(value, { stream: true });
    }
  }

  /** Cancels the pending read (stdin stays unusable afterwards). */
  async cancel(): Promise<void> {
    await this.reader?.cancel().catch(() => {});
    this.reader = null;
  }
}

export interface Prompter {
  /** Asks for a line of text; empty answers are allowed. */
  ask(question: string): Promise<string>;
  /** Asks for a secret without echoing it. */
  secret(question: string): Promise<string>;
  /** True when answers come from a person at a terminal. */
  readonly interactive: boolean;
}

function eof(): AppError {
  return new AppError("input_ended", "input ended before every question was answered", 400);
}

async function readSecretRaw(): Promise<string> {
  const buf = new Uint8Array(64);
  const dec = new TextDecoder();
  let secret = "";
  Deno.stdin.setRaw(true);
  try {
    for (;;) {
      const n = await Deno.stdin.read(buf);
      if (n === null) throw eof();
      for (const ch of dec.decode(buf.subarray(0, n), { stream: true })) {
        if (ch === "\r" || ch === "\n") return secret;
        if (ch === "\x03") throw new AppError("interrupted", "interrupted", 400);
        if (ch === "\x04" && secret === "") throw eof();
        if (ch === "\x7f" || ch === "\b") secret = [...secret].slice(0, -1).join("");
        else if (ch === "\x15") secret = "";
        else if (ch >= " ") secret += ch;
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(enc.encode("\n"));
  }
}

// On a terminal, stdin is read directly (not through Deno.stdin.readable,
// which may read ahead and swallow keys meant for a later raw-mode read).
async function readTtyLine(): Promise<string | null> {
  const buf = new Uint8Array(1024);
  const dec = new TextDecoder();
  let text = "";
  for (;;) {
    const n = await Deno.stdin.read(buf);
    if (n === null) return text === "" ? null : text;
    text += dec.decode(buf.subarray(0, n), { stream: true });
    const nl = text.indexOf("\n");
    if (nl >= 0) return text.slice(0, nl).replace(/\r$/, "");
  }
}

/** A Prompter on the process's stdin and stderr. */
export function stdinPrompter(lines: LineReader = new LineReader()): Prompter {
  const interactive = Deno.stdin.isTerminal();
  const show = (q: string) => Deno.stderr.writeSync(enc.encode(q));
  // Input ended after a question was shown: end its line, so an error starts on its own.
  const ended = (question: string) => {
    if (question) show("\n");
    return eof();
  };
  return {
    interactive,
    async ask(question) {
      show(question);
      const line = interactive ? await readTtyLine() : await lines.line();
      if (line === null) throw ended(question);
      return line.trim();
    },
    async secret(question) {
      show(question);
      if (interactive) return await readSecretRaw();
      const line = await lines.line();
      if (line === null) throw ended(question);
      return line;
    },
  };
}
