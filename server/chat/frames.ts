/**
 * Client frames at the edge of the frame loop: the size check, parsing and
 * schema validation of a text frame into a typed ClientFrame (or a
 * FrameError with the protocol's code), and the sliding window that counts
 * a client's invalid frames.
 */
import { AppError } from "../../proto/errors.ts";
import {
  CLIENT_FRAME_TYPES,
  ClientFrame,
  INVALID_FRAMES_WINDOW_MS,
  MAX_FRAME_BYTES,
  MAX_INVALID_FRAMES,
  MAX_TEXT_CHARS,
} from "../../proto/protocol.ts";

/** Whether `text` is over MAX_FRAME_BYTES once encoded as UTF-8, without encoding short ones. */
export function tooBig(text: string): boolean {
  // A UTF-16 unit is 1 to 3 bytes of UTF-8 (a surrogate pair is 4 for 2 units).
  if (text.length > MAX_FRAME_BYTES) return true;
  if (text.length * 3 <= MAX_FRAME_BYTES) return false;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
    if (bytes > MAX_FRAME_BYTES) return true;
  }
  return false;
}

const KNOWN = new Set<string>(CLIENT_FRAME_TYPES);

/** A frame that failed at the edge, with the request id if one could be read. */
export class FrameError extends AppError {
  constructor(readonly requestId: string | number | null, code: string, message: string) {
    super(code, message, 400);
  }
}

function readId(obj: Record<string, unknown>): string | number | null {
  const id = obj.id;
  if (typeof id === "string" && id.length >= 1 && id.length <= 64) return id;
  if (typeof id === "number" && Number.isSafeInteger(id) && id >= 0) return id;
  return null;
}

/** Parses one text frame; throws FrameError invalid_frame / unknown_type / invalid_request. */
export function parseFrame(text: string): ClientFrame {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new FrameError(null, "invalid_frame", "a frame must be one JSON object");
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new FrameError(null, "invalid_frame", "a frame must be one JSON object");
  }
  const obj = raw as Record<string, unknown>;
  const id = readId(obj);
  if (typeof obj.type !== "string") {
    throw new FrameError(id, "invalid_frame", 'a frame needs a string field "type"');
  }
  if (!KNOWN.has(obj.type)) {
    const shown = obj.type.length > 40 ? obj.type.slice(0, 40) + "…" : obj.type;
    throw new FrameError(id, "unknown_type", `unknown frame type ${JSON.stringify(shown)}`);
  }
  if (obj.type === "msg.send" && plainMsgSend(obj)) return obj as ClientFrame;
  const parsed = ClientFrame.safeParse(obj);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue.path.join(".");
    throw new FrameError(id, "invalid_request", path ? `${path}: ${issue.message}` : issue.message);
  }
  return parsed.data;
}

const MSG_SEND_KEYS = 5;

/**
 * The hot path's shortcut past the schema: true only for a msg.send that
 * MsgSendFrame certainly accepts (the same rules, checked by hand, no
 * copy). Anything it is unsure of goes through the schema, which then
 * names the problem.
 */
function plainMsgSend(o: Record<string, unknown>): boolean {
  const { id, to, text, client_id: clientId } = o;
  let keys = 0;
  for (const _ in o) keys++;
  return keys === MSG_SEND_KEYS &&
    (typeof id === "string"
      ? id.length >= 1 && id.length <= 64
      : Number.isSafeInteger(id) && (id as number) >= 0) &&
    Number.isSafeInteger(to) && (to as number) > 0 &&
    typeof text === "string" && text.length <= MAX_TEXT_CHARS && text.isWellFormed() &&
    !text.includes("\0") && text.trim() !== "" &&
    typeof clientId === "string" && clientId.length >= 1 && clientId.length <= 64 &&
    clientId.isWellFormed() && !clientId.includes("\0");
}

/** Counts invalid frames over a sliding window; `add()` says when the client crossed the line. */
export class InvalidFrameWindow {
  #times: number[] = [];

  constructor(
    readonly max = MAX_INVALID_FRAMES,
    readonly windowMs = INVALID_FRAMES_WINDOW_MS,
  ) {}

  /** Records one invalid frame; true if that makes `max` within the window. */
  add(now = Date.now()): boolean {
    this.#times.push(now);
    while (this.#times.length > 0 && now - this.#times[0] >= this.windowMs) this.#times.shift();
    return this.#times.length >= this.max;
  }
}
