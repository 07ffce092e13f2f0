import { describe, expect, test } from "vitest";
import { setLanguage } from "../../lib/i18n.svelte";
import { formatCount, formatDuration, formatPercent, formatValue, NO_VALUE } from "./format";

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe("chart formatting", () => {
  test.each([
    [0, "0s"],
    [850, "850ms"],
    [999.6, "1s"],
    [45 * S, "45s"],
    [90 * S, "1m 30s"],
    [2 * M, "2m"],
    [59.6 * S, "1m"],
    [H - 0.4 * S, "1h"],
    [2 * H + 5 * M + 20 * S, "2h 5m"],
    [D - 10 * S, "1d"],
    [3 * D + 4 * H + 10 * M, "3d 4h"],
    [-5 * S, "0s"],
  ])("%d ms reads %s: the two largest units, rounded so no unit overflows", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  test("durations in Chinese use Chinese units, without spaces", () => {
    setLanguage("zh-CN");
    expect(formatDuration(90 * S)).toBe("1分30秒");
    expect(formatDuration(2 * H + 5 * M)).toBe("2小时5分");
    expect(formatDuration(3 * D)).toBe("3天");
    expect(formatDuration(850)).toBe("850毫秒");
  });

  test("a missing or broken value is a dash, whatever the unit", () => {
    for (const unit of ["count", "ms", "percent"] as const) {
      expect(formatValue(null, unit), unit).toBe(NO_VALUE);
      expect(formatValue(undefined, unit), unit).toBe(NO_VALUE);
      expect(formatValue(Number.NaN, unit), unit).toBe(NO_VALUE);
      expect(formatValue(Number.POSITIVE_INFINITY, unit), unit).toBe(NO_VALUE);
    }
    expect(NO_VALUE).toBe("—");
  });

  test("ratios 0…1 read as percentages with at most one decimal", () => {
    expect(formatPercent(0.955)).toBe("95.5%");
    expect(formatPercent(1)).toBe("100%");
    expect(formatPercent(0)).toBe("0%");
    expect(formatPercent(2 / 3)).toBe("66.7%");
    setLanguage("zh-CN");
    expect(formatPercent(0.5)).toBe("50%");
  });

  test("counts group digits and keep up to two decimals (a CSAT average)", () => {
    expect(formatCount(12345)).toBe("12,345");
    expect(formatCount(4.256)).toBe("4.26");
    expect(formatCount(0)).toBe("0");
  });

  test("formatValue picks the formatter for the unit, counts by default", () => {
    expect(formatValue(90 * S, "ms")).toBe("1m 30s");
    expect(formatValue(0.25, "percent")).toBe("25%");
    expect(formatValue(1500)).toBe("1,500");
  });
});
