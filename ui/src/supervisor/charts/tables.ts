//! The numbers behind a chart, in the shape ChartCard shows them, built from the chart's own
//! props so a card's table can never disagree with its picture.

import { formatValue, type ChartUnit } from "./format";
import type { ChartSeries, ChartTable } from "./types";

/**
 * One row per category, one column per series. Counts stay numbers (ChartCard groups their
 * digits); durations and ratios become their text ("1m 30s", "95.5%"); a missing value
 * stays null and shows as "—".
 */
export function seriesTable(
  labelColumn: string,
  labels: string[],
  series: ChartSeries[],
  unit: ChartUnit = "count",
): ChartTable {
  return {
    columns: [labelColumn, ...series.map((s) => s.name)],
    rows: labels.map((label, i) => [
      label,
      ...series.map((s) => {
        const value = s.values[i] ?? null;
        if (value === null || unit === "count") return value;
        return formatValue(value, unit);
      }),
    ]),
  };
}

/** The heat map's grid as a table: a row per `rows` entry, a column per `cols` entry. */
export function heatTable(corner: string, rows: string[], cols: string[], values: number[][]): ChartTable {
  return {
    columns: [corner, ...cols],
    rows: rows.map((row, r) => [row, ...cols.map((_, c) => values[r]?.[c] ?? 0)]),
  };
}
