import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import type { ReportFilter } from "../lib/bindings";
import { fails, fakeDesk, type Answer } from "../test/backend";
import ReportsView from "./ReportsView.svelte";
import { summary } from "./testdata";

// Wednesday 3 December 2026, 15:30 local time; only Date is faked, timers run.
const NOW = new Date(2026, 11, 3, 15, 30).getTime();
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(NOW);
});
afterEach(() => vi.useRealTimers());

function open(answers: Record<string, Answer> = {}) {
  const desk = fakeDesk({
    report_summary: summary(),
    transfer_targets: { groups: ["pre-sales", "after-sales"], agents: [{ id: "a1", display_name: "Alice Wang" }] },
    ...answers,
  });
  render(ReportsView);
  return desk;
}

const value = (key: string) => screen.getByTestId(`figure-${key}-value`).textContent;
const detail = (key: string) => screen.getByTestId(`figure-${key}`).querySelector(".detail")?.textContent;
const filterOf = (call: Record<string, unknown> | undefined) => call?.filter as ReportFilter;

describe("reports", () => {
  test("shows exactly the server's numbers", async () => {
    open();
    await screen.findByTestId("report-summary");
    expect(value("opened")).toBe("1,234");
    expect(value("closed")).toBe("1,187");
    expect(value("transfers")).toBe("41");
    expect(value("first-response")).toBe("45s");
    expect(detail("first-response")).toBe("p90 2m 30s");
    expect(value("resolution")).toBe("10m");
    expect(detail("resolution")).toBe("p90 1h 5m");
    expect(value("sla-first-response")).toBe("95.5%");
    expect(detail("sla-first-response")).toBe("955 met · 45 breached");
    expect(value("sla-resolution"), "nothing met or breached: no ratio, not 0%").toBe("—");
    expect(value("csat")).toBe("4.25");
    expect(detail("csat")).toBe("320 ratings · 27% rated");
  });

  test("the numbers behind each chart are one click away", async () => {
    open();
    await screen.findByTestId("report-summary");
    const byAgent = screen.getAllByTestId("chart-card").find((c) => c.textContent?.includes("By agent"))!;
    await fireEvent.click(within(byAgent).getByTestId("chart-numbers"));
    const cells = [...within(byAgent).getByTestId("chart-table").querySelectorAll("tbody tr")].map((tr) =>
      [...tr.children].map((cell) => cell.textContent),
    );
    expect(cells).toEqual([["Alice Wang", "700", "40s", "9m 40s", "12", "4.5"]]);

    const hours = screen.getAllByTestId("chart-card").find((c) => c.textContent?.includes("Busiest hours"))!;
    await fireEvent.click(within(hours).getByTestId("chart-numbers"));
    const monday = within(hours).getByTestId("chart-table").querySelector("tbody tr")!;
    expect(monday.children[0].textContent, "Monday first").toBe("Mon");
    expect(monday.children[11].textContent, "17 conversations opened at 10:00 on Mondays").toBe("17");
  });

  test("presets ask for today or the last days in local time, with the filters", async () => {
    const desk = open();
    await waitFor(() => expect(desk.calls("report_summary")).toHaveLength(1));
    const week = filterOf(desk.lastCall("report_summary"));
    expect(week.from, "7 days: from local midnight six days back").toBe(new Date(2026, 10, 27).getTime());
    expect(week.to).toBeGreaterThan(NOW);
    expect(week.tz_offset_minutes).toBe(-new Date(2026, 10, 27).getTimezoneOffset());
    expect(week.group).toBeNull();

    await fireEvent.click(screen.getByTestId("range-today"));
    await waitFor(() => expect(desk.calls("report_summary")).toHaveLength(2));
    expect(filterOf(desk.lastCall("report_summary")).from).toBe(new Date(2026, 11, 3).getTime());

    await waitFor(() => expect(screen.getByTestId("filter-group")).toHaveTextContent("after-sales"));
    await fireEvent.change(screen.getByTestId("filter-group"), { target: { value: "after-sales" } });
    await waitFor(() => expect(filterOf(desk.lastCall("report_summary")).group).toBe("after-sales"));
    await fireEvent.input(screen.getByTestId("filter-tag"), { target: { value: " vip " } });
    await fireEvent.change(screen.getByTestId("filter-tag"));
    await waitFor(() => expect(filterOf(desk.lastCall("report_summary")).tag).toBe("vip"));

    await fireEvent.click(screen.getByTestId("range-custom"));
    await fireEvent.input(screen.getByTestId("range-from"), { target: { value: "2026-11-01" } });
    await fireEvent.input(screen.getByTestId("range-to"), { target: { value: "2026-11-30" } });
    await fireEvent.change(screen.getByTestId("range-to"));
    await waitFor(() =>
      expect(filterOf(desk.lastCall("report_summary"))).toMatchObject({
        from: new Date(2026, 10, 1).getTime(),
        to: new Date(2026, 11, 1).getTime(),
        group: "after-sales",
        tag: "vip",
      }),
    );
  });

  test("a backwards custom range is not asked for", async () => {
    const desk = open();
    await waitFor(() => expect(desk.calls("report_summary")).toHaveLength(1));
    await fireEvent.click(screen.getByTestId("range-custom"));
    await fireEvent.input(screen.getByTestId("range-from"), { target: { value: "2026-11-30" } });
    await fireEvent.input(screen.getByTestId("range-to"), { target: { value: "2026-11-01" } });
    await fireEvent.change(screen.getByTestId("range-to"));
    expect(await screen.findByTestId("report-error")).toHaveTextContent("start date on or before the end date");
    expect(desk.calls("report_summary")).toHaveLength(1);
  });

  test("each table exports as CSV for the range shown, and a failure says why", async () => {
    const desk = open({ report_csv: "/home/sue/kefu-agents.csv" });
    await screen.findByTestId("report-summary");
    const shown = filterOf(desk.lastCall("report_summary"));
    await fireEvent.click(screen.getByTestId("csv-agents"));
    await waitFor(() =>
      expect(desk.calls("report_csv")).toEqual([
        { table: "agents", filter: shown, fileName: "kefu-agents-2026-11-27-2026-12-03.csv" },
      ]),
    );
    expect(await screen.findByTestId("export-note")).toHaveTextContent("Saved to /home/sue/kefu-agents.csv");
    for (const table of ["summary", "daily", "hours", "csat", "groups"]) {
      expect(screen.getByTestId(`csv-${table}`), `${table} has its export`).toBeEnabled();
    }
  });

  test("a report the server refuses is reported", async () => {
    open({ report_summary: fails("forbidden") });
    expect(await screen.findByTestId("report-error")).toHaveTextContent("Your account isn't allowed to do that.");
    expect(screen.queryByTestId("report-summary")).toBeNull();
  });
});
