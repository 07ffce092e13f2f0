import { describe, expect, test } from "vitest";
import { setLanguage } from "../../lib/i18n.svelte";
import { barWidth, isEmpty, labelStep, layout, maxValue } from "./layout";

const series = [
  { name: "Opened", values: [3, null, 12] },
  { name: "Closed", values: [1, 2, null] },
];

describe("chart layout", () => {
  test("the largest value ignores missing ones; nothing known means empty", () => {
    expect(maxValue(series)).toBe(12);
    expect(isEmpty(["Mon", "Tue", "Wed"], series)).toBe(false);
    expect(isEmpty([], series), "no categories").toBe(true);
    expect(isEmpty(["Mon"], []), "no series").toBe(true);
    expect(isEmpty(["Mon", "Tue"], [{ name: "Opened", values: [null, null] }]), "only unknowns").toBe(true);
    expect(isEmpty(["Mon"], [{ name: "Opened", values: [0] }]), "a zero is a value").toBe(false);
  });

  test("category labels are thinned only when they would collide", () => {
    expect(labelStep("bar", 7, 600), "seven days fit").toBe(1);
    expect(labelStep("line", 90, 600), "90 days on 600px: every 10th fits 64px apart").toBe(10);
    expect(labelStep("bar", 24, 480), "24 hours on 480px at 40px each").toBe(2);
    expect(labelStep("line", 1, 10)).toBe(1);
  });

  test("bars share most of their slot and stay between 3 and 32 px", () => {
    expect(barWidth(7, 2, 560)).toBe(28);
    expect(barWidth(2, 1, 600), "few categories: capped").toBe(32);
    expect(barWidth(365, 2, 600), "a year of days: still visible").toBe(3);
  });

  test("the value axis is fixed to readable ticks and labelled in the chart's unit", () => {
    const { options } = layout("bar", ["a"], [{ name: "p50", values: [95_000] }], "ms", 600);
    const axis = options.axisY!;
    expect(axis.ticks).toEqual([0, 30_000, 60_000, 90_000, 120_000]);
    expect([axis.low, axis.high]).toEqual([0, 120_000]);
    expect(axis.labelInterpolationFnc!(90_000, 3)).toBe("1m 30s");
    setLanguage("zh-CN");
    const zh = layout("bar", ["a"], [{ name: "p50", values: [95_000] }], "ms", 600).options.axisY!;
    expect(zh.labelInterpolationFnc!(90_000, 3)).toBe("1分30秒");
  });

  test("skipped category labels are drawn as nothing", () => {
    const days = Array.from({ length: 30 }, (_, i) => `12-${String(i + 1).padStart(2, "0")}`);
    const drawn = layout("line", days, [{ name: "Opened", values: days.map(() => 1) }], "count", 400);
    const label = drawn.options.axisX!.labelInterpolationFnc!;
    expect(drawn.labelStep).toBeGreaterThan(1);
    expect(label("12-01", 0)).toBe("12-01");
    expect(label(days[1], 1)).toBeNull();
    expect(label(days[drawn.labelStep], drawn.labelStep)).toBe(days[drawn.labelStep]);
  });
});
