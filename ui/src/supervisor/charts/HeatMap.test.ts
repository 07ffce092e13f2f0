import { render, screen, within } from "@testing-library/svelte";
import { describe, expect, test } from "vitest";
import { setLanguage } from "../../lib/i18n.svelte";
import HeatMap from "./HeatMap.svelte";
import source from "./HeatMap.svelte?raw";
import { declarations } from "../../test/css";

const days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const hours = Array.from({ length: 24 }, (_, h) => String(h));
const grid = days.map((_, d) => hours.map((_, h) => (d === 0 && h === 14 ? 40 : d === 1 && h === 9 ? 4 : 0)));

const cells = () => screen.getAllByTestId("heat-cell");

describe("heat map", () => {
  test("is a table named by its title with a header per weekday and hour", () => {
    render(HeatMap, { title: "Busiest hours", rows: days, cols: hours, values: grid });
    const table = screen.getByRole("table", { name: "Busiest hours" });
    expect(within(table).getAllByRole("rowheader").map((h) => h.textContent)).toEqual(days);
    expect(within(table).getAllByRole("columnheader").map((h) => h.textContent)).toEqual(hours);
    expect(cells()).toHaveLength(7 * 24);
  });

  test("each cell holds its count as text and a tint scaled to the busiest cell", () => {
    render(HeatMap, { title: "Busiest hours", rows: days, cols: hours, values: grid });
    const busiest = cells()[14];
    const quiet = cells()[24 + 9];
    const none = cells()[0];
    expect(busiest).toHaveAttribute("data-value", "40");
    expect(busiest).toHaveTextContent("40");
    expect(busiest).toHaveAttribute("title", "Mon, 14: 40");
    expect(busiest.style.getPropertyValue("--level")).toBe("1");
    expect(quiet.style.getPropertyValue("--level"), "4 of 40, lifted so it stays visible").toBe("0.21");
    expect(none.style.getPropertyValue("--level")).toBe("0");
    expect(none).toHaveTextContent("0");
  });

  test("the tint is the theme's first chart colour, so dark mode needs nothing else", () => {
    const tint = declarations(source, ".cell::before");
    expect(tint.background).toBe("var(--chart-1)");
    expect(tint.opacity).toBe("var(--level)");
  });

  test("missing cells count as zero", () => {
    render(HeatMap, { title: "t", rows: ["Mon", "Tue"], cols: ["0", "1"], values: [[3]] });
    expect(cells().map((c) => c.dataset.value)).toEqual(["3", "0", "0", "0"]);
  });

  test("Chinese labels and tooltips", () => {
    setLanguage("zh-CN");
    render(HeatMap, { title: "繁忙时段", rows: ["周一"], cols: ["14"], values: [[1234]] });
    expect(cells()[0]).toHaveAttribute("title", "周一 14：1,234");
    expect(screen.getByText("少")).toBeInTheDocument();
    expect(screen.getByText(/多/)).toHaveTextContent("多 (1,234)");
  });

  test("no conversations at all shows the empty state, not a blank grid", () => {
    render(HeatMap, { title: "t", rows: days, cols: hours, values: days.map(() => hours.map(() => 0)) });
    expect(screen.getByTestId("chart-empty")).toHaveTextContent("No data for this period");
    expect(screen.queryByRole("table")).toBeNull();
  });
});
