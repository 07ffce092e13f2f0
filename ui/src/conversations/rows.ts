//! Geometry of the virtualised conversation list. A row's height follows from what it shows,
//! by arithmetic rather than layout, so the list can place all of a view's rows (up to
//! `LIST_ROWS`, more after live updates) while mounting only those near the viewport, and
//! tests can check placement without a browser. ConversationItem.svelte pins each line's
//! height in CSS so that the rendered row is exactly `rowHeight` tall; change both together.

import type { ConversationSummary } from "../lib/bindings";

/** Pixel heights: a name and a preview line with padding and the bottom border; each extra
 *  line (labels, waiting time, offer countdown) with its gap; the accept/decline buttons. */
export const ROW_PX = { base: 58, meta: 22, actions: 33 } as const;

/** Which optional parts a row shows; ConversationItem renders from the same answer. */
export function rowParts(c: ConversationSummary): { labels: boolean; queued: boolean; offered: boolean } {
  return {
    labels: c.tags.length > 0 || c.priority === "high" || c.priority === "urgent",
    queued: c.state === "queued",
    offered: c.state === "offered" && c.offer_expires_at !== null,
  };
}

export function rowHeight(c: ConversationSummary): number {
  const { labels, queued, offered } = rowParts(c);
  const metas = Number(labels) + Number(queued) + Number(offered);
  return ROW_PX.base + metas * ROW_PX.meta + (queued || offered ? ROW_PX.actions : 0);
}

/** Where each row starts; one more entry than rows, the last being the list's full height. */
export function rowOffsets(rows: readonly ConversationSummary[]): number[] {
  const offsets = [0];
  for (const c of rows) offsets.push(offsets[offsets.length - 1] + rowHeight(c));
  return offsets;
}

/** The first index in ascending `offsets` whose value is above `y` (or equal, if `orEqual`). */
function firstAbove(offsets: readonly number[], y: number, orEqual = false): number {
  let lo = 0;
  let hi = offsets.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (offsets[mid] > y || (orEqual && offsets[mid] === y)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The rows `[start, end)` to mount for a viewport `height` px tall scrolled to `top`, plus
 * `overscan` rows on each side. `top` is clamped as the browser clamps `scrollTop`, so a
 * stale value after the list shrank still yields the rows on screen.
 */
export function rowWindow(
  offsets: readonly number[],
  top: number,
  height: number,
  overscan: number,
): { start: number; end: number } {
  const rows = offsets.length - 1;
  const clamped = Math.max(0, Math.min(top, offsets[rows] - height));
  const first = Math.max(0, firstAbove(offsets, clamped) - 1);
  const end = Math.min(rows, firstAbove(offsets, clamped + height, true));
  return { start: Math.max(0, first - overscan), end: Math.min(rows, end + overscan) };
}

/** The `scrollTop` that shows row `index` whole with the least movement (its top if it is
 *  taller than the viewport). */
export function scrollToShow(offsets: readonly number[], index: number, top: number, height: number): number {
  const rowTop = offsets[index];
  const rowBottom = offsets[index + 1];
  if (rowTop < top) return rowTop;
  if (rowBottom > top + height) return Math.min(rowTop, rowBottom - height);
  return top;
}
