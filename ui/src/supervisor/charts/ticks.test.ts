import { describe, expect, test } from "vitest";
import { valueTicks } from "./ticks";

const S = 1000;
const M = 60 * S;
const H = 60 * M;

describe("value axis ticks", () => {
  test("durations step by clock units, not powers of ten", () => {
    expect(valueTicks("ms", 95 * S)).toEqual([0, 30 * S, 60 * S, 90 * S, 120 * S]);
    expect(valueTicks("ms", 20 * M)).toEqual([0, 5 * M, 10 * M, 15 * M, 20 * M]);
    expect(valueTicks("ms", 7 * H)).toEqual([0, 2 * H, 4 * H, 6 * H, 8 * H]);
    expect(valueTicks("ms", 400)).toEqual([0, 100, 200, 300, 400]);
  });

  test("counts step by 1, 2 or 5 × 10ⁿ and end at or above the largest value", () => {
    expect(valueTicks("count", 7)).toEqual([0, 2, 4, 6, 8]);
    expect(valueTicks("count", 5)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(valueTicks("count", 12345)).toEqual([0, 5000, 10000, 15000]);
    expect(valueTicks("count", 4.3), "a CSAT average of 4.3 on a 0…5 axis").toEqual([0, 1, 2, 3, 4, 5]);
  });

  test("ratios always span 0…100% in quarters", () => {
    expect(valueTicks("percent", 0.4)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(valueTicks("percent", 0)).toEqual([0, 0.25, 0.5, 0.75, 1]);
  });

  test("an all-zero or broken maximum still gives a scale of two ticks", () => {
    expect(valueTicks("count", 0)).toEqual([0, 1]);
    expect(valueTicks("ms", 0)).toEqual([0, S]);
    expect(valueTicks("count", Number.NaN)).toEqual([0, 1]);
    expect(valueTicks("count", -3)).toEqual([0, 1]);
  });
});
