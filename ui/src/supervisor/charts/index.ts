//! Charts for the supervisor's reports: bars, lines and a heat map, each in a ChartCard whose
//! Numbers button shows the table behind it. Colours follow the theme (palette.css), words
//! the language (`charts.*` strings). Use:
//!
//! ```svelte
//! <ChartCard title={t("…")} table={seriesTable(t("…day"), days, series)}>
//!   <LineChart title={t("…")} labels={days} {series} />
//! </ChartCard>
//! ```

export { default as BarChart } from "./BarChart.svelte";
export { default as ChartCard } from "./ChartCard.svelte";
export { default as HeatMap } from "./HeatMap.svelte";
export { default as LineChart } from "./LineChart.svelte";
export { formatCount, formatDuration, formatPercent, formatValue, NO_VALUE, type ChartUnit } from "./format";
export { heatTable, seriesTable } from "./tables";
export type { ChartSeries, ChartTable, SeriesChartProps } from "./types";
