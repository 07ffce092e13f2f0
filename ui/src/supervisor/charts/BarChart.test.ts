/// <reference types="node" />
import { readFileSync } from "node:fs";
import { render, screen, waitFor, within } from "@testing-library/svelte";
import { describe, expect, test } from "vitest";
import { setLanguage } from "../../lib/i18n.svelte";
import BarChart from "./BarChart.svelte";

// Vitest hands CSS modules to tests empty (even with ?raw), so the palette is read as a file.
const palette = readFileSync(`${__dirname}/palette.css`, "utf8");

const agents = ["Li Lei", "Han Meimei", "Wang Fang"];
const series = [
  { name: "First response p50", values: [45_000, null, 90_000] },
  { name: "Resolution p50", values: [600_000, 1_200_000, null] },
];

/** Waits for Chartist, which draws on a zero-delay timer. */
async function drawn(count: number) {
  await waitFor(() => expect(document.querySelectorAll("line.ct-bar")).toHaveLength(count));
  return [...document.querySelectorAll("line.ct-bar")];
}

const labels = (axis: "horizontal" | "vertical") =>
  [...document.querySelectorAll(`.ct-label.ct-${axis}`)].map((label) => label.textContent);
const tips = (elements: Element[]) => elements.map((e) => e.querySelector("title")?.textContent);

describe("bar chart", () => {
  test("is one image named by its title, with a legend and a bar per known value", async () => {
    render(BarChart, { title: "Response times by agent", labels: agents, series, unit: "ms" });
    const plot = screen.getByRole("img", { name: "Response times by agent" });
    expect(plot, "the plot is one named image").toBeInTheDocument();
    const legend = screen.getByRole("list", { name: "Series" });
    expect(within(legend).getAllByRole("listitem").map((li) => li.textContent?.trim())).toEqual([
      "First response p50",
      "Resolution p50",
    ]);
    const bars = await drawn(4);
    expect(labels("horizontal"), "every agent is labelled").toEqual(agents);
    expect(tips(bars), "a null draws no bar: Han's first response and Wang's resolution are missing").toEqual([
      "Li Lei · First response p50: 45s",
      "Wang Fang · First response p50: 1m 30s",
      "Li Lei · Resolution p50: 10m",
      "Han Meimei · Resolution p50: 20m",
    ]);
  });

  test("the value axis reads as durations for ms", async () => {
    render(BarChart, { title: "t", labels: agents, series, unit: "ms" });
    await drawn(4);
    expect(labels("vertical")).toEqual(["0s", "5m", "10m", "15m", "20m"]);
  });

  test("percentages span 0–100% and counts are the default unit", async () => {
    const attainment = [{ name: "Attainment", values: [0.955] }];
    render(BarChart, { title: "SLA", labels: ["pre-sale"], series: attainment, unit: "percent" });
    const [bar] = await drawn(1);
    expect(labels("vertical")).toEqual(["0%", "25%", "50%", "75%", "100%"]);
    expect(tips([bar])).toEqual(["pre-sale · Attainment: 95.5%"]);
  });

  test("counts group their digits", async () => {
    render(BarChart, { title: "Closed", labels: ["Li"], series: [{ name: "Closed", values: [12_345] }] });
    const [bar] = await drawn(1);
    expect(tips([bar])).toEqual(["Li · Closed: 12,345"]);
    expect(labels("vertical")).toEqual(["0", "5,000", "10,000", "15,000"]);
  });

  test("labels and tooltips follow the language", async () => {
    setLanguage("zh-CN");
    render(BarChart, { title: "按客服", labels: agents, series, unit: "ms" });
    const bars = await drawn(4);
    expect(screen.getByRole("list", { name: "图例" })).toBeInTheDocument();
    expect(tips(bars)[1]).toBe("Wang Fang · First response p50：1分30秒");
    expect(labels("vertical")).toEqual(["0秒", "5分", "10分", "15分", "20分"]);
  });

  test("names from elsewhere are text, never markup", async () => {
    const evil = '<img src=x onerror="alert(1)">';
    render(BarChart, { title: evil, labels: [evil], series: [{ name: evil, values: [1] }] });
    await drawn(1);
    expect(document.querySelector("img"), "no element is made from a name").toBeNull();
    expect(labels("horizontal")).toEqual([evil]);
    expect(screen.getByRole("img", { name: evil })).toBeInTheDocument();
  });

  test("with nothing to draw it says so instead of drawing empty axes", async () => {
    const { unmount } = render(BarChart, { title: "Empty", labels: [], series: [] });
    expect(screen.getByTestId("chart-empty")).toHaveTextContent("No data for this period");
    expect(screen.queryByRole("img")).toBeNull();
    unmount();
    setLanguage("zh-CN");
    render(BarChart, { title: "空", labels: ["Mon"], series: [{ name: "Opened", values: [null] }] });
    expect(screen.getByTestId("chart-empty")).toHaveTextContent("该时间段内没有数据");
  });

  test("each series is painted from the theme palette, which both themes define", async () => {
    render(BarChart, { title: "t", labels: agents, series, unit: "ms" });
    const bars = await drawn(4);
    expect(bars.map((bar) => (bar as SVGElement).style.stroke)).toEqual([
      "var(--chart-1)",
      "var(--chart-1)",
      "var(--chart-2)",
      "var(--chart-2)",
    ]);
    const swatches = [...document.querySelectorAll<HTMLElement>(".swatch")].map((s) => s.style.background);
    expect(swatches, "the legend uses the same colours").toEqual(["var(--chart-1)", "var(--chart-2)"]);
    const light = /:root \{([^}]*)\}/.exec(palette)?.[1] ?? "";
    const dark = /:root\[data-theme="dark"\] \{([^}]*)\}/.exec(palette)?.[1] ?? "";
    for (let n = 1; n <= 6; n++) {
      expect(light, `light theme defines --chart-${n}`).toContain(`--chart-${n}:`);
      expect(dark, `dark theme defines --chart-${n}`).toContain(`--chart-${n}:`);
    }
  });
});
