import { render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, test } from "vitest";
import { setLanguage } from "../../lib/i18n.svelte";
import LineChart from "./LineChart.svelte";

const days = ["12-01", "12-02", "12-03", "12-04"];
const series = [
  { name: "Opened", values: [12, 30, null, 8] },
  { name: "Closed", values: [10, 28, 5, 9] },
];

async function points(count: number) {
  await waitFor(() => expect(document.querySelectorAll(".ct-point")).toHaveLength(count));
  return [...document.querySelectorAll(".ct-point")].map((p) => p.querySelector("title")?.textContent);
}

describe("line chart", () => {
  test("draws a line per series with a point per known value", async () => {
    render(LineChart, { title: "Opened and closed per day", labels: days, series });
    expect(screen.getByRole("img", { name: "Opened and closed per day" })).toBeInTheDocument();
    expect(await points(7), "the unknown Opened value on 12-03 has no point").toEqual([
      "12-01 · Opened: 12",
      "12-02 · Opened: 30",
      "12-04 · Opened: 8",
      "12-01 · Closed: 10",
      "12-02 · Closed: 28",
      "12-03 · Closed: 5",
      "12-04 · Closed: 9",
    ]);
    const lines = [...document.querySelectorAll(".ct-line")];
    expect(lines.map((l) => l.querySelector("title")?.textContent)).toEqual(["Opened", "Closed"]);
    const opened = lines[0].getAttribute("d") ?? "";
    expect(opened.match(/M/g), "the unknown value breaks the line in two instead of dropping to zero").toHaveLength(2);
    expect([...document.querySelectorAll(".ct-label.ct-horizontal")].map((l) => l.textContent)).toEqual(days);
  });

  test("many days show every n-th date so labels don't collide", async () => {
    const many = Array.from({ length: 60 }, (_, i) => `d${i}`);
    render(LineChart, { title: "t", labels: many, series: [{ name: "Opened", values: many.map((_, i) => i) }] });
    await points(60);
    const shown = [...document.querySelectorAll(".ct-label.ct-horizontal")].map((l) => l.textContent);
    expect(shown.length, "fewer labels than days").toBeLessThan(60);
    expect(shown[0]).toBe("d0");
    expect(screen.getByTestId("plot")).toHaveClass("thinned");
  });

  test("durations and the language apply to lines as to bars", async () => {
    setLanguage("zh-CN");
    render(LineChart, { title: "首次响应", labels: ["12-01"], series: [{ name: "p90", values: [150_000] }], unit: "ms" });
    expect(await points(1)).toEqual(["12-01 · p90：2分30秒"]);
  });

  test("redraws when the data changes", async () => {
    const { rerender } = render(LineChart, { title: "t", labels: days, series });
    await points(7);
    await rerender({ title: "t", labels: ["12-05"], series: [{ name: "Opened", values: [4] }] });
    expect(await points(1)).toEqual(["12-05 · Opened: 4"]);
    expect(document.querySelectorAll("svg"), "the old drawing is replaced, not stacked").toHaveLength(1);
  });

  test("an empty range shows the empty state", () => {
    render(LineChart, { title: "t", labels: [], series: [{ name: "Opened", values: [] }] });
    expect(screen.getByTestId("chart-empty")).toHaveTextContent("No data for this period");
  });
});
