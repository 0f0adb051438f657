/**
 * How the client shows people, times and tables. Every string that another
 * user chose (names, greetings, messages) passes through sanitize here or in
 * the caller before it is printed.
 */
import type { PublicUser } from "../../proto/protocol.ts";
import { sanitizeLine } from "./sanitize.ts";
import { fit, padStart, width } from "./width.ts";

/** "bob (Bob Smith)", or "bob" when the display name adds nothing. */
export function userLabel(u: Pick<PublicUser, "name" | "display_name">): string {
  const name = sanitizeLine(u.name);
  const display = sanitizeLine(u.display_name ?? "").trim();
  return display && display !== name ? `${name} (${display})` : name;
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/** "14:05" today; "Mar 04 14:05" another day this year; "2024-03-04 14:05" before. */
export function formatTime(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  const n = new Date(now);
  const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  if (d.toDateString() === n.toDateString()) return hm;
  if (d.getFullYear() === n.getFullYear()) {
    return `${d.toLocaleString("en", { month: "short" })} ${pad2(d.getDate())} ${hm}`;
  }
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${hm}`;
}

/** "HH:MM" of a time, for the chat screen. */
export function clock(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

/** "HH:MM:SS", 24-hour: the --watch stamp. */
export function clockSeconds(ms: number): string {
  const d = new Date(ms);
  return `${clock(ms)}:${pad2(d.getSeconds())}`;
}

/** "just now", "5 min ago", "3 h ago", "2 days ago". */
export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  const d = Math.round(s / 86400);
  return `${d} day${d === 1 ? "" : "s"} ago`;
}

/** "1.2s", "340ms", "3m05s": a duration for the admin tool. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  if (m < 60) return `${m}m${pad2(Math.floor((ms % 60_000) / 1000))}s`;
  return `${Math.floor(m / 60)}h${pad2(m % 60)}m`;
}

/**
 * A plain text table: a header row and one row per item, columns padded to
 * the widest cell (in terminal columns); columns named in `right` are
 * right-aligned. Cells must already be sanitized.
 */
export function table(header: string[], rows: string[][], right: number[] = []): string[] {
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ""))));
  const line = (cells: string[]) =>
    cells.map((c, i) => right.includes(i) ? padStart(c, widths[i]) : fit(c, widths[i]))
      .join("  ").trimEnd();
  return [line(header), ...rows.map(line)];
}
