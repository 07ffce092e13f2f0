//! How chart values read: durations as "1m 30s" / "1分30秒", ratios as "95.5%", counts with
//! the locale's grouping, and a missing value as "—". Axes, tooltips and the numbers tables
//! all format through here, so a figure reads the same everywhere it appears.

import { localeTag, t } from "../../lib/i18n.svelte";

/** What the numbers of a chart measure: plain counts, milliseconds, or a ratio 0…1. */
export type ChartUnit = "count" | "ms" | "percent";

/** Shown wherever a value is missing (no conversations, nothing rated…). */
export const NO_VALUE = "—";

const SECOND = 1000;
const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Whether `value` is a number we can draw (not null, NaN or ±∞). */
export function isValue(value: number | null | undefined): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/** Two units of a duration, "1m 30s" or "1分30秒"; the second is left out when it is zero. */
function pair(big: number, bigUnit: DurationUnit, small: number, smallUnit: DurationUnit): string {
  const a = unit(bigUnit, big);
  return small === 0 ? a : t("charts.duration_pair", { a, b: unit(smallUnit, small) });
}

type DurationUnit = "d" | "h" | "m" | "s" | "ms";

function unit(which: DurationUnit, n: number): string {
  return t(`charts.unit_${which}`, { n });
}

/**
 * A span of milliseconds in its two largest units: "850ms", "45s", "1m 30s", "2h 5m",
 * "3d 4h". Each step rounds to its smaller unit first, so 59.6 s reads "1m", never "60s".
 * Negative spans count as zero; a missing one is "—".
 */
export function formatDuration(ms: number | null | undefined): string {
  if (!isValue(ms)) return NO_VALUE;
  const clamped = Math.max(0, ms);
  if (clamped > 0 && clamped < SECOND - 0.5) return unit("ms", Math.round(clamped));
  const seconds = Math.round(clamped / SECOND);
  if (seconds < MINUTE) return unit("s", seconds);
  if (seconds < HOUR) return pair(Math.floor(seconds / MINUTE), "m", seconds % MINUTE, "s");
  const minutes = Math.round(seconds / MINUTE);
  if (minutes < DAY / MINUTE) return pair(Math.floor(minutes / 60), "h", minutes % 60, "m");
  const hours = Math.round(seconds / HOUR);
  return pair(Math.floor(hours / 24), "d", hours % 24, "h");
}

/** A ratio 0…1 as a percentage with at most one decimal: 0.955 → "95.5%". */
export function formatPercent(ratio: number | null | undefined): string {
  if (!isValue(ratio)) return NO_VALUE;
  return new Intl.NumberFormat(localeTag(), { style: "percent", maximumFractionDigits: 1 }).format(ratio);
}

/** A count (or an average such as a CSAT score) with the locale's grouping: "12,345", "4.25". */
export function formatCount(value: number | null | undefined): string {
  if (!isValue(value)) return NO_VALUE;
  return new Intl.NumberFormat(localeTag(), { maximumFractionDigits: 2 }).format(value);
}

/** `value` formatted as `unit` says. */
export function formatValue(value: number | null | undefined, unit: ChartUnit = "count"): string {
  switch (unit) {
    case "ms":
      return formatDuration(value);
    case "percent":
      return formatPercent(value);
    default:
      return formatCount(value);
  }
}
