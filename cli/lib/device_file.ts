/**
 * Which device this terminal is, per server and user (docs/protocol.md §3
 * `auth.device`): a UUID chosen the first time `parley chat` runs for that
 * user on that server and kept in `devices.json` beside the session file
 * (it survives a logout, so logging in again is the same device, and the
 * server's cursor for it still holds). The label the server shows operators
 * is the host name, or "terminal" when it cannot be read.
 */
import { DEVICE_ID, MAX_DEVICE_LABEL_CHARS } from "../../proto/protocol.ts";
import { writeAtomic } from "./session_file.ts";

const FILE = "devices.json";

export interface Device {
  id: string;
  label: string;
}

type DeviceMap = Record<string, string>;

function key(server: string, userId: number): string {
  return `${server} #${userId}`;
}

async function readMap(dir: string): Promise<DeviceMap> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/${FILE}`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return {};
    throw e;
  }
  try {
    const v = JSON.parse(text)?.devices;
    if (!v || typeof v !== "object") return {};
    const out: DeviceMap = {};
    for (const [k, id] of Object.entries(v)) {
      if (typeof id === "string" && DEVICE_ID.test(id)) out[k] = id;
    }
    return out;
  } catch {
    return {}; // a damaged file: the device is chosen anew
  }
}

/**
 * The device id for `userId` on `server`: the one kept, or a new UUID
 * written to the file. Two first runs at once may both write: the file is
 * read back, so both go on with the id that stayed.
 */
export async function deviceId(dir: string, server: string, userId: number): Promise<string> {
  const k = key(server, userId);
  const map = await readMap(dir);
  if (map[k]) return map[k];
  map[k] = crypto.randomUUID();
  await writeAtomic(dir, FILE, JSON.stringify({ devices: map }, null, 2) + "\n");
  return (await readMap(dir))[k] ?? map[k];
}

/** The host name (if the program may read it), cut to what `auth.label` allows; else "terminal". */
export function deviceLabel(): string {
  let host = "";
  try {
    // Asked first so that a program without --allow-sys=hostname never prompts for it.
    if (Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state === "granted") {
      host = Deno.hostname();
    }
  } catch { /* no host name on this platform */ }
  // deno-lint-ignore no-control-regex -- control characters are what is removed
  host = host.replace(/[\x00-\x1f\x7f]/g, "").trim();
  return [...host].slice(0, MAX_DEVICE_LABEL_CHARS).join("") || "terminal";
}

/** This terminal's device for `userId` on `server`. */
export async function device(dir: string, server: string, userId: number): Promise<Device> {
  return { id: await deviceId(dir, server, userId), label: deviceLabel() };
}
