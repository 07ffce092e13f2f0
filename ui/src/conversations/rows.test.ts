import { describe, expect, test } from "vitest";
import { conversation } from "../test/fixtures";
import { ROW_PX, rowHeight, rowOffsets, rowWindow, scrollToShow } from "./rows";

const plain = conversation();
const tagged = conversation({ tags: ["vip"] });
const queued = conversation({ state: "queued", agent_id: null, tags: ["vip"], priority: "urgent" });
const offered = conversation({ state: "offered", offer_expires_at: 1 });

describe("row geometry", () => {
  test("a row is as tall as the lines it shows", () => {
    expect(rowHeight(plain)).toBe(ROW_PX.base);
    expect(rowHeight(conversation({ priority: "low" })), "low priority shows no badge in the list").toBe(ROW_PX.base);
    expect(rowHeight(conversation({ priority: "high" }))).toBe(ROW_PX.base + ROW_PX.meta);
    expect(rowHeight(tagged)).toBe(ROW_PX.base + ROW_PX.meta);
    expect(rowHeight(queued), "labels + waiting time + buttons").toBe(ROW_PX.base + 2 * ROW_PX.meta + ROW_PX.actions);
    expect(rowHeight(offered), "countdown + buttons").toBe(ROW_PX.base + ROW_PX.meta + ROW_PX.actions);
    expect(rowHeight(conversation({ state: "offered", offer_expires_at: null })), "not offered to me").toBe(
      ROW_PX.base,
    );
  });

  test("offsets add up row heights", () => {
    expect(rowOffsets([])).toEqual([0]);
    expect(rowOffsets([plain, queued, tagged])).toEqual([0, 58, 58 + 135, 58 + 135 + 80]);
  });

  test("the window covers the rows the viewport touches, plus overscan, within bounds", () => {
    const offsets = rowOffsets(Array.from({ length: 100 }, () => plain)); // 58 px each
    expect(rowWindow(offsets, 0, 580, 0), "exactly rows 0–9").toEqual({ start: 0, end: 10 });
    expect(rowWindow(offsets, 1, 580, 0), "row 10 peeks in").toEqual({ start: 0, end: 11 });
    expect(rowWindow(offsets, 58 * 50 - 1, 58, 3), "rows 49–50 and 3 each side").toEqual({ start: 46, end: 54 });
    expect(rowWindow(offsets, 0, 580, 12)).toEqual({ start: 0, end: 22 });
    expect(rowWindow(offsets, 1e9, 580, 2), "a stale scrollTop is clamped to the end").toEqual({ start: 88, end: 100 });
    expect(rowWindow(rowOffsets([plain]), 500, 800, 12)).toEqual({ start: 0, end: 1 });
    expect(rowWindow([0], 0, 800, 12), "an empty list").toEqual({ start: 0, end: 0 });
  });

  test("scrolling to show a row moves as little as possible", () => {
    const offsets = rowOffsets([plain, queued, plain, plain]); // 0, 58, 193, 251, 309
    expect(scrollToShow(offsets, 1, 0, 200), "already in view").toBe(0);
    expect(scrollToShow(offsets, 3, 0, 200), "below: align bottoms").toBe(309 - 200);
    expect(scrollToShow(offsets, 0, 100, 200), "above: align tops").toBe(0);
    expect(scrollToShow(offsets, 1, 0, 100), "taller than the viewport: show its top").toBe(58);
  });
});
