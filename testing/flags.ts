/**
 * Command-line numbers of the measuring scripts (bench/mod.ts,
 * server/store/*_timing.ts): one check, one message.
 */

/** `--name`'s text as an integer of at least `min`; undefined when not given; anything else throws. */
export function integerFlag(
  name: string,
  text: string | undefined,
  min: number,
): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`--${name}: expected an integer ≥ ${min}, got "${text}"`);
  }
  return n;
}
