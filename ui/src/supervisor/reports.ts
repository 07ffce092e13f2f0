//! Report ranges and filters as the supervisor picks them, turned into the Rust side's
//! `ReportFilter`. Days are the viewer's local days; the server groups days and hours in the
//! same time zone (`tz_offset_minutes`).

import type { ReportFilter, ReportTable } from "../lib/bindings";
import { localeTag } from "../lib/i18n.svelte";

export type RangePreset = "today" | "7d" | "30d" | "custom";

const DAY_MS = 86_400_000;

/** Local midnight of the day `ms` falls in, `daysBack` days earlier. */
function startOfDay(ms: number, daysBack = 0): number {
  const d = new Date(ms);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() - daysBack).getTime();
}

/** "2026-12-01" → local midnight of that day; null when it is not a date. */
export function parseDay(day: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return null;
  const at = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])).getTime();
  return Number.isNaN(at) ? null : at;
}

/** Local date of `ms` as "2026-12-01" (what a date input holds). */
export function dayOf(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/**
 * The range `[from, to)` a preset covers at `now`: today so far, or the last 7 or 30 days
 * including today; custom runs from the start of `fromDay` to the end of `toDay`. Null
 * when a custom range is incomplete or backwards.
 */
export function rangeOf(
  preset: RangePreset,
  now: number,
  fromDay = "",
  toDay = "",
): { from: number; to: number } | null {
  switch (preset) {
    case "today":
      return { from: startOfDay(now), to: now + 1 };
    case "7d":
      return { from: startOfDay(now, 6), to: now + 1 };
    case "30d":
      return { from: startOfDay(now, 29), to: now + 1 };
    case "custom": {
      const from = parseDay(fromDay);
      const last = parseDay(toDay);
      if (from === null || last === null || last < from) return null;
      // The next local midnight (a DST day is 23 or 25 hours long).
      return { from, to: startOfDay(last + DAY_MS + DAY_MS / 2) };
    }
  }
}

/** The filters as typed; blank ones are no filter. */
export interface Filters {
  site: string;
  group: string;
  agent: string;
  tag: string;
  channel: string;
}

export const NO_FILTERS: Filters = { site: "", group: "", agent: "", tag: "", channel: "" };

/** The viewer's offset from UTC now, minutes (480 in China). */
export function tzOffsetMinutes(at: number = Date.now()): number {
  return -new Date(at).getTimezoneOffset();
}

export function reportFilter(range: { from: number; to: number }, filters: Filters): ReportFilter {
  const given = (v: string) => v.trim() || null;
  return {
    from: range.from,
    to: range.to,
    site: given(filters.site),
    group: given(filters.group),
    agent: given(filters.agent),
    tag: given(filters.tag),
    channel: given(filters.channel),
    tz_offset_minutes: tzOffsetMinutes(range.from),
  };
}

/** "kefu-agents-2026-12-01-2026-12-07.csv" (the last day the range covers). */
export function csvFileName(table: ReportTable, filter: ReportFilter): string {
  return `kefu-${table}-${dayOf(filter.from)}-${dayOf(filter.to - 1)}.csv`;
}

/** Weekday names Monday first, as the heat map's rows (the server's order). */
export function weekdays(): string[] {
  const format = new Intl.DateTimeFormat(localeTag(), { weekday: "short" });
  // 1 January 2024 was a Monday.
  return Array.from({ length: 7 }, (_, i) => format.format(new Date(2024, 0, 1 + i)));
}

/** "2026-12-01" as the locale writes a short date ("Dec 1", "12月1日"). */
export function shortDay(day: string): string {
  const at = parseDay(day);
  if (at === null) return day;
  return new Intl.DateTimeFormat(localeTag(), { month: "short", day: "numeric" }).format(at);
}
