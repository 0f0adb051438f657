/**
 * Where a batch of queued items ends when both its count and its text are
 * bounded: the writer's INSERTs and the Deliver calls to other nodes each
 * must stay under what the far end accepts in one message.
 */

/**
 * How many of `queue`'s first items make the next batch: at most `maxItems`,
 * and no more than fit in `maxText` (by `textOf`), but always at least one.
 */
export function batchLength<T>(
  queue: readonly T[],
  maxItems: number,
  maxText: number,
  textOf: (item: T) => number,
): number {
  let n = 0;
  let text = 0;
  while (n < queue.length && n < maxItems) {
    text += textOf(queue[n]);
    if (n > 0 && text > maxText) break;
    n++;
  }
  return n;
}
