import { fireEvent, render, screen, within } from "@testing-library/svelte";
import { createRawSnippet } from "svelte";
import { describe, expect, test } from "vitest";
import { setLanguage } from "../../lib/i18n.svelte";
import ChartCard from "./ChartCard.svelte";
import { seriesTable } from "./tables";
import type { ChartTable } from "./types";

const chart = createRawSnippet(() => ({ render: () => `<div data-testid="the-chart">chart</div>` }));

const table: ChartTable = {
  columns: ["Day", "Opened", "Closed"],
  rows: [
    ["12-01", 12_345, 10],
    ["12-02", null, 3],
  ],
};

/** The table as the text of its cells, header row first. */
function shown(): string[][] {
  const element = screen.getByTestId("chart-table");
  return [...element.querySelectorAll("tr")].map((tr) => [...tr.children].map((cell) => cell.textContent ?? ""));
}

describe("chart card", () => {
  test("shows the title and the chart, and the Numbers button shows the exact table", async () => {
    render(ChartCard, { title: "Opened and closed", table, children: chart });
    expect(screen.getByRole("region", { name: "Opened and closed" })).toBeInTheDocument();
    expect(screen.getByRole("heading", { name: "Opened and closed" })).toBeInTheDocument();
    expect(screen.getByTestId("the-chart")).toBeInTheDocument();
    expect(screen.queryByTestId("chart-table")).toBeNull();

    const numbers = screen.getByRole("button", { name: "Numbers" });
    expect(numbers).toHaveAttribute("aria-pressed", "false");
    await fireEvent.click(numbers);
    expect(numbers).toHaveAttribute("aria-pressed", "true");
    expect(screen.queryByTestId("the-chart"), "the table replaces the chart").toBeNull();
    expect(shown()).toEqual([
      ["Day", "Opened", "Closed"],
      ["12-01", "12,345", "10"],
      ["12-02", "—", "3"],
    ]);
    const grid = screen.getByRole("table", { name: "Opened and closed" });
    expect(within(grid).getAllByRole("rowheader").map((h) => h.textContent)).toEqual(["12-01", "12-02"]);

    await fireEvent.click(numbers);
    expect(screen.getByTestId("the-chart"), "a second click brings the chart back").toBeInTheDocument();
    expect(numbers).toHaveAttribute("aria-pressed", "false");
  });

  test("cells are text, never markup", async () => {
    const evil = '<img src=x onerror="alert(1)">';
    render(ChartCard, { title: evil, table: { columns: [evil, "n"], rows: [[evil, 1]] }, children: chart });
    await fireEvent.click(screen.getByRole("button", { name: "Numbers" }));
    expect(document.querySelector("img")).toBeNull();
    expect(shown()).toEqual([
      [evil, "n"],
      [evil, "1"],
    ]);
  });

  test("in Chinese the button is 数据 and numbers use the locale", async () => {
    setLanguage("zh-CN");
    render(ChartCard, {
      title: "首次响应",
      table: seriesTable("客服", ["李雷"], [{ name: "中位数", values: [90_000] }], "ms"),
      children: chart,
    });
    await fireEvent.click(screen.getByRole("button", { name: "数据" }));
    expect(shown()).toEqual([
      ["客服", "中位数"],
      ["李雷", "1分30秒"],
    ]);
  });

  test("a table without rows says there is no data", async () => {
    render(ChartCard, { title: "t", table: { columns: ["Day", "Opened"], rows: [] }, children: chart });
    await fireEvent.click(screen.getByRole("button", { name: "Numbers" }));
    expect(shown()).toEqual([["Day", "Opened"]]);
    expect(screen.getByText("No data for this period")).toBeInTheDocument();
  });
});
