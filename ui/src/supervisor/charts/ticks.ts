//! Value-axis steps a person reads at a glance. Chartist's automatic scale steps by powers of
//! ten, which for durations gives "8m 20s, 16m 40s"; here durations step by clock units
//! (30 s, 1 min, 15 min, 1 h…), ratios by quarters of 100 %, counts by whole 1/2/5 × 10ⁿ.

import type { ChartUnit } from "./format";

/** About this many steps fit a chart a few hundred pixels high without crowding. */
const MAX_STEPS = 5;

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

/** Steps a clock reader expects, smallest first. */
const DURATION_STEPS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500,
  S, 2 * S, 5 * S, 10 * S, 15 * S, 30 * S,
  M, 2 * M, 5 * M, 10 * M, 15 * M, 30 * M,
  H, 2 * H, 3 * H, 6 * H, 12 * H,
  D, 2 * D, 7 * D, 14 * D, 30 * D,
];

/** 1, 2, 5, 10, 20, 50… up to a step that covers `max` in MAX_STEPS. */
function countStep(max: number): number {
  let magnitude = 1;
  for (;;) {
    for (const factor of [1, 2, 5]) {
      const step = factor * magnitude;
      if (max / step <= MAX_STEPS) return step;
    }
    magnitude *= 10;
  }
}

function durationStep(max: number): number {
  const found = DURATION_STEPS.find((step) => max / step <= MAX_STEPS);
  // Past 30-day steps (a span of months), keep whole 30-day steps.
  return found ?? Math.ceil(max / MAX_STEPS / (30 * D)) * 30 * D;
}

/**
 * The ticks of the value axis, from 0 up to the first step at or above `max` (the largest
 * value drawn). An axis always has at least two ticks, so an all-zero chart still has a scale.
 */
export function valueTicks(unit: ChartUnit, max: number): number[] {
  if (unit === "percent") return [0, 0.25, 0.5, 0.75, 1];
  const top = Number.isFinite(max) && max > 0 ? max : 0;
  // An all-zero axis still spans one second (durations) or one (counts).
  if (top === 0) return [0, unit === "ms" ? 1000 : 1];
  const step = unit === "ms" ? durationStep(top) : countStep(top);
  const count = Math.ceil(top / step);
  return Array.from({ length: count + 1 }, (_, i) => i * step);
}
