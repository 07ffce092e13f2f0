//! The props the charts share, so the views that feed them can build their data apart.

import type { ChartUnit } from "./format";

/** One named line or set of bars; `values[i]` belongs to `labels[i]`, null where unknown. */
export interface ChartSeries {
  name: string;
  values: (number | null)[];
}

/** Props of BarChart and LineChart. */
export interface SeriesChartProps {
  /** Names the chart for assistive technology (the plot is one image); ChartCard shows it on screen. */
  title: string;
  /** The categories along the horizontal axis (days, agents, groups). */
  labels: string[];
  series: ChartSeries[];
  /** How values read on the axis, in tooltips and in tables; "count" when left out. */
  unit?: ChartUnit;
}

/** The numbers behind a chart, as ChartCard shows them in a plain table. */
export interface ChartTable {
  columns: string[];
  /** Text stays text, numbers are formatted for the language, null shows as "—". */
  rows: (string | number | null)[][];
}

/** How many colours palette.css defines; series past it reuse them in turn. */
export const PALETTE_SIZE = 6;

/** The CSS colour of series `index`, from the theme's palette. */
export function seriesColor(index: number): string {
  return `var(--chart-${(index % PALETTE_SIZE) + 1})`;
}
