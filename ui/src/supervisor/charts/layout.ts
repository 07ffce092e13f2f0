//! Chartist options for a chart of a given size and data: the value-axis scale, how wide the
//! value labels are, which category labels fit, and how thick bars are. Pure, so the
//! arithmetic is tested without a browser laying anything out.

import { FixedScaleAxis, type BarChartOptions, type LineChartOptions } from "chartist";
import { formatValue, isValue, type ChartUnit } from "./format";
import { valueTicks } from "./ticks";
import type { ChartSeries } from "./types";

/** The plot area's height in CSS pixels; wide screens get wider charts, not taller ones. */
export const PLOT_HEIGHT = 240;
/** Assumed when the chart cannot measure itself (not laid out yet, or under test). */
const FALLBACK_WIDTH = 640;
/** A category label needs about this much room before neighbours collide. */
const MIN_LABEL_SPACE = { bar: 40, line: 64 } as const;

export type ChartKind = keyof typeof MIN_LABEL_SPACE;

/** The largest drawable value, 0 when there is none. */
export function maxValue(series: ChartSeries[]): number {
  let max = 0;
  for (const s of series) for (const v of s.values) if (isValue(v) && v > max) max = v;
  return max;
}

/** Whether there is nothing to draw: no categories, or not one known value. */
export function isEmpty(labels: string[], series: ChartSeries[]): boolean {
  return labels.length === 0 || !series.some((s) => s.values.some(isValue));
}

/** Rough rendered width of a label at the chart's 11px font; CJK glyphs are about twice as wide. */
function textWidth(text: string): number {
  let width = 0;
  for (const ch of text) width += /[\u2E80-\uFFEF]/.test(ch) ? 11 : 6.5;
  return width;
}

/**
 * Every `step`-th category label is shown so labels keep `MIN_LABEL_SPACE` apart; 1 shows all.
 */
export function labelStep(kind: ChartKind, categories: number, plotWidth: number): number {
  if (categories <= 1) return 1;
  const fit = Math.max(1, Math.floor(plotWidth / MIN_LABEL_SPACE[kind]));
  return Math.max(1, Math.ceil(categories / fit));
}

/** Bar thickness: most of a category's slot, shared by its series, within 3…32 px. */
export function barWidth(categories: number, seriesCount: number, plotWidth: number): number {
  const slot = plotWidth / Math.max(1, categories);
  const width = (slot * 0.7) / Math.max(1, seriesCount);
  return Math.round(Math.min(32, Math.max(3, width)));
}

export interface Layout {
  options: BarChartOptions & LineChartOptions;
  /** Bar thickness in px (bar charts). */
  barWidth: number;
  /** Every step-th category label is drawn (1: all). */
  labelStep: number;
}

/** The options for drawing `series` over `labels` into a box `width` pixels wide (0: unknown). */
export function layout(
  kind: ChartKind,
  labels: string[],
  series: ChartSeries[],
  unit: ChartUnit,
  width: number,
): Layout {
  const ticks = valueTicks(unit, maxValue(series));
  const tickLabels = ticks.map((tick) => formatValue(tick, unit));
  const axisWidth = Math.min(96, Math.max(28, Math.ceil(Math.max(...tickLabels.map(textWidth))) + 10));
  const plotWidth = Math.max(40, (width > 0 ? width : FALLBACK_WIDTH) - axisWidth - 16);
  const step = labelStep(kind, labels.length, plotWidth);
  const bars = barWidth(labels.length, series.length, plotWidth);
  return {
    barWidth: bars,
    labelStep: step,
    options: {
      height: `${PLOT_HEIGHT}px`,
      chartPadding: { top: 12, right: 16, bottom: 4, left: 4 },
      axisX: {
        showGrid: false,
        offset: 24,
        labelInterpolationFnc: (label, index) => (index % step === 0 ? label : null),
      },
      axisY: {
        type: FixedScaleAxis,
        ticks,
        low: 0,
        high: ticks[ticks.length - 1],
        offset: axisWidth,
        labelInterpolationFnc: (value) => formatValue(Number(value), unit),
      },
      // Bars of one category sit side by side with a 2px gap.
      seriesBarDistance: bars + 2,
      lineSmooth: false,
      fullWidth: true,
    },
  };
}
