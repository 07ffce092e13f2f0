//! Dates, times, durations, money and sizes in the active locale (always through `Intl`).

import type { Money } from "./bindings";
import { localeTag, t } from "./i18n.svelte";

const MINUTE = 60_000;

/** "14:05" */
export function formatTime(ms: number): string {
  return new Intl.DateTimeFormat(localeTag(), { hour: "2-digit", minute: "2-digit" }).format(ms);
}

/** A date and time; accepts unix ms or an ISO string, and shows unparseable text as it is. */
export function formatDateTime(value: number | string): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return new Intl.DateTimeFormat(localeTag(), { dateStyle: "medium", timeStyle: "short" }).format(date);
}

/** A date alone, same rules as `formatDateTime`. */
export function formatDate(value: number | string): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return new Intl.DateTimeFormat(localeTag(), { dateStyle: "medium" }).format(date);
}

/** For list rows: "now", "5 min. ago", today's time, or the date. */
export function formatListTime(ms: number, now: number): string {
  const age = now - ms;
  if (age < MINUTE) return t("time.now");
  if (age < 60 * MINUTE) {
    const rtf = new Intl.RelativeTimeFormat(localeTag(), { style: "narrow", numeric: "always" });
    return rtf.format(-Math.floor(age / MINUTE), "minute");
  }
  const then = new Date(ms);
  if (then.toDateString() === new Date(now).toDateString()) return formatTime(ms);
  return new Intl.DateTimeFormat(localeTag(), { month: "short", day: "numeric" }).format(then);
}

/** A span of time as "m:ss" or "h:mm:ss"; negative spans count as zero. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, "0");
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, "0")}:${seconds}` : `${minutes}:${seconds}`;
}

/** "¥1,299.00"; an unknown currency code falls back to "1299.00 XYZ". */
export function formatMoney(money: Money): string {
  const amount = Number(money.amount);
  if (Number.isNaN(amount)) return `${money.amount} ${money.currency}`;
  try {
    return new Intl.NumberFormat(localeTag(), { style: "currency", currency: money.currency }).format(amount);
  } catch {
    return `${money.amount} ${money.currency}`;
  }
}

/** "12 KB" */
export function formatBytes(bytes: number): string {
  const units = ["byte", "kilobyte", "megabyte", "gigabyte"] as const;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return new Intl.NumberFormat(localeTag(), {
    style: "unit",
    unit: units[unit],
    unitDisplay: "short",
    maximumFractionDigits: unit === 0 ? 0 : 1,
  }).format(value);
}
