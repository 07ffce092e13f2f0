import { describe, expect, test } from "vitest";
import { setLanguage } from "../../lib/i18n.svelte";
import { heatTable, seriesTable } from "./tables";

describe("chart tables", () => {
  test("a row per category, a column per series; counts stay numbers, unknowns null", () => {
    const table = seriesTable("Day", ["12-01", "12-02"], [
      { name: "Opened", values: [12, null] },
      { name: "Closed", values: [10, 3] },
    ]);
    expect(table).toEqual({
      columns: ["Day", "Opened", "Closed"],
      rows: [
        ["12-01", 12, 10],
        ["12-02", null, 3],
      ],
    });
  });

  test("durations and ratios become their text in the current language", () => {
    const series = [{ name: "p50", values: [90_000, null] }];
    expect(seriesTable("Agent", ["Li", "Wang"], series, "ms").rows).toEqual([
      ["Li", "1m 30s"],
      ["Wang", null],
    ]);
    expect(seriesTable("Group", ["pre-sale"], [{ name: "SLA", values: [0.955] }], "percent").rows).toEqual([
      ["pre-sale", "95.5%"],
    ]);
    setLanguage("zh-CN");
    expect(seriesTable("客服", ["Li"], series, "ms").rows).toEqual([["Li", "1分30秒"]]);
  });

  test("a series shorter than the labels leaves the rest unknown", () => {
    expect(seriesTable("Day", ["a", "b"], [{ name: "Opened", values: [1] }]).rows).toEqual([
      ["a", 1],
      ["b", null],
    ]);
  });

  test("the heat map's grid becomes a table with the row names first", () => {
    expect(heatTable("Day", ["Mon", "Tue"], ["0", "1", "2"], [[1, 2, 3], [4]])).toEqual({
      columns: ["Day", "0", "1", "2"],
      rows: [
        ["Mon", 1, 2, 3],
        ["Tue", 4, 0, 0],
      ],
    });
  });
});
