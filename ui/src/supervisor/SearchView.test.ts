import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, test, vi } from "vitest";
import type { Role, SearchHit, SearchQuery } from "../lib/bindings";
import { fails, fakeDesk, type Answer } from "../test/backend";
import SearchView from "./SearchView.svelte";

function hit(i: number, overrides: Partial<SearchHit> = {}): SearchHit {
  return {
    conversation_id: `c${i}`,
    site_id: "demo",
    group: "pre-sales",
    state: "closed",
    agent_id: "a1",
    customer_name: `Shopper ${i}`,
    tags: [],
    created_at: Date.UTC(2026, 11, 1, 9, 0),
    updated_at: Date.UTC(2026, 11, 1, 9, 30),
    snippet: `message ${i}`,
    seq: 3,
    ...overrides,
  };
}

/** 45 matches, served a page at a time from the query's offset and limit. */
const pages = ({ query }: Record<string, unknown>) => {
  const { offset, limit } = query as SearchQuery;
  const all = Array.from({ length: 45 }, (_, i) => hit(i + 1));
  return { total: all.length, results: all.slice(offset, offset + limit) };
};

function open(role: Role = "agent", answers: Record<string, Answer> = {}) {
  const desk = fakeDesk({
    search: pages,
    transfer_targets: { groups: ["pre-sales"], agents: [{ id: "a1", display_name: "Alice Wang" }] },
    ...answers,
  });
  const onopen = vi.fn();
  render(SearchView, { role, onopen });
  return { desk, onopen };
}

async function searchFor(text: string) {
  await fireEvent.input(screen.getByTestId("search-q"), { target: { value: text } });
  await fireEvent.click(screen.getByTestId("search-submit"));
}

const shown = () => screen.queryAllByTestId("search-result").map((r) => r.dataset.id);

describe("search", () => {
  test("a snippet is the shopper's text: markup in it shows literally", async () => {
    const evil = 'I want a <b>refund</b> <img src=x onerror="alert(1)"> 退货';
    open("agent", { search: { total: 1, results: [hit(1, { snippet: evil, customer_name: "<i>Li</i>" })] } });
    await searchFor("退货");
    const snippet = await screen.findByTestId("search-snippet");
    expect(snippet.textContent).toBe(evil);
    expect(snippet.querySelector("b, img"), "no element was made from it").toBeNull();
    expect(screen.getByTestId("search-result")).toHaveTextContent("<i>Li</i>");
  });

  test("results come a page at a time, and a result opens its conversation", async () => {
    const { desk, onopen } = open();
    await searchFor("refund");
    await waitFor(() => expect(shown()).toHaveLength(20));
    expect(desk.lastCall("search")?.query).toMatchObject({ q: "refund", offset: 0, limit: 20, customer: null });
    expect(screen.getByTestId("search-count")).toHaveTextContent("1–20 of 45");
    expect(screen.getByTestId("search-previous")).toBeDisabled();

    await fireEvent.click(screen.getByTestId("search-next"));
    await waitFor(() => expect(shown()[0]).toBe("c21"));
    expect(desk.lastCall("search")?.query).toMatchObject({ q: "refund", offset: 20 });
    await fireEvent.click(screen.getByTestId("search-next"));
    await waitFor(() => expect(shown()).toEqual(["c41", "c42", "c43", "c44", "c45"]));
    expect(screen.getByTestId("search-count")).toHaveTextContent("41–45 of 45");
    expect(screen.getByTestId("search-next")).toBeDisabled();
    await fireEvent.click(screen.getByTestId("search-previous"));
    await waitFor(() => expect(shown()[0]).toBe("c21"));

    await fireEvent.click(screen.getAllByTestId("search-result")[1].querySelector("button")!);
    expect(onopen).toHaveBeenCalledWith("c22", "Shopper 22");
  });

  test("a search needs a criterion, and words of at least two characters", async () => {
    const { desk } = open();
    await fireEvent.click(screen.getByTestId("search-submit"));
    expect(await screen.findByTestId("search-error")).toHaveTextContent("Enter something to search for.");
    await searchFor("退");
    expect(screen.getByTestId("search-error")).toHaveTextContent("at least 2 characters");
    expect(desk.calls("search")).toEqual([]);

    await fireEvent.input(screen.getByTestId("search-q"), { target: { value: "" } });
    await fireEvent.input(screen.getByTestId("search-order"), { target: { value: "O-1001" } });
    await fireEvent.input(screen.getByTestId("search-from"), { target: { value: "2026-12-01" } });
    await fireEvent.click(screen.getByTestId("search-submit"));
    await waitFor(() =>
      expect(desk.lastCall("search")?.query).toMatchObject({
        q: null,
        order: "O-1001",
        from: new Date(2026, 11, 1).getTime(),
        to: null,
      }),
    );
  });

  test("agents search without an agent filter; supervisors may pick an agent", async () => {
    const agent = open("agent");
    await searchFor("refund");
    await waitFor(() => expect(shown()).toHaveLength(20));
    expect(agent.desk.calls("transfer_targets"), "agents may not list agents").toEqual([]);
    expect(screen.queryByTestId("search-agent")).toBeNull();
  });

  test("a supervisor narrows by agent", async () => {
    const { desk } = open("supervisor");
    await waitFor(() => expect(screen.getByTestId("search-agent")).toHaveTextContent("Alice Wang"));
    await fireEvent.change(screen.getByTestId("search-agent"), { target: { value: "a1" } });
    await fireEvent.click(screen.getByTestId("search-submit"));
    await waitFor(() => expect(desk.lastCall("search")?.query).toMatchObject({ agent: "a1", q: null }));
  });

  test("a failed search says why and keeps the criteria", async () => {
    open("agent", { search: fails("unreachable") });
    await searchFor("refund");
    expect(await screen.findByTestId("search-error")).toHaveTextContent("Can't reach the server");
    expect(screen.getByTestId("search-q")).toHaveValue("refund");
  });
});
