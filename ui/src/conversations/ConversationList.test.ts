import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { describe, expect, test, vi } from "vitest";
import type { View } from "../lib/bindings";
import { fakeDesk } from "../test/backend";
import { conversation, message } from "../test/fixtures";
import ConversationList from "./ConversationList.svelte";
import { ConversationStore } from "./store.svelte";

const NOW = Date.now();
const byView: Record<View, ReturnType<typeof conversation>[]> = {
  mine: [
    conversation({ id: "c1", shopper_name: "Li Lei", unread: 3, last_at: NOW - 5_000 }),
    conversation({ id: "c2", shopper_name: "Han Meimei", last_at: NOW - 60_000 }),
  ],
  queue: [
    conversation({
      id: "q1",
      state: "queued",
      agent_id: null,
      shopper_name: "Wang Fang",
      created_at: NOW - 125_000,
      queue_position: 2,
    }),
    conversation({
      id: "q2",
      state: "offered",
      shopper_name: "Zhang Wei",
      created_at: NOW - 30_000,
      offer_expires_at: NOW + 25_000,
    }),
  ],
  // The desk lists offers on their own too, but no tab shows that list.
  offered: [],
  open: [],
  closed: [conversation({ id: "x1", state: "closed", shopper_name: "Old Chat" })],
};

function setup(extra: Record<string, unknown> = {}) {
  const desk = fakeDesk({
    conversations: ({ view, query }: Record<string, unknown>) =>
      byView[view as View].filter((c) => !query || c.shopper_name.toLowerCase().includes(String(query))),
    ...extra,
  });
  const store = new ConversationStore();
  const onaccept = vi.fn();
  const ondecline = vi.fn();
  render(ConversationList, { store, onaccept, ondecline });
  return { desk, store, onaccept, ondecline };
}

const rows = () => screen.queryAllByTestId("conversation-item");
const ids = () => rows().map((row) => row.dataset.id);

describe("conversation list", () => {
  test("shows the agent's conversations with unread badges, newest first", async () => {
    const { desk } = setup();
    await waitFor(() => expect(ids()).toEqual(["c1", "c2"]));
    expect(desk.calls("conversations")[0]).toEqual({ view: "mine", query: null });
    expect(within(rows()[0]).getByTestId("unread-badge")).toHaveTextContent("3");
    expect(within(rows()[1]).queryByTestId("unread-badge"), "no badge without unread messages").toBeNull();
    expect(rows()[0]).toHaveAttribute("data-state", "assigned");
  });

  test("the queue view shows waiting time, queue position, and offers with accept/decline", async () => {
    const { desk, onaccept, ondecline } = setup();
    await waitFor(() => expect(rows()).toHaveLength(2));
    await fireEvent.click(screen.getByTestId("view-queue"));
    await waitFor(() => expect(ids(), "offers first, then longest waiting").toEqual(["q2", "q1"]));
    expect(desk.lastCall("conversations")).toEqual({ view: "queue", query: null });
    expect(screen.getByTestId("view-queue")).toHaveAttribute("aria-selected", "true");

    const queued = rows()[1];
    expect(within(queued).getByTestId("queue-position")).toHaveTextContent("#2 in queue");
    expect(within(queued).getByTestId("waiting")).toHaveTextContent(/Waiting 2:0\d/);
    expect(within(queued).queryByTestId("decline"), "only offers can be declined").toBeNull();

    const offered = rows()[0];
    expect(offered).toHaveAttribute("data-state", "offered");
    expect(within(offered).getByTestId("offer-countdown")).toHaveTextContent(/Offer ends in 0:2\d/);
    await fireEvent.click(within(offered).getByTestId("accept"));
    await fireEvent.click(within(offered).getByTestId("decline"));
    expect(onaccept).toHaveBeenCalledWith("q2");
    expect(ondecline).toHaveBeenCalledWith("q2");
  });

  test("the tabs are mine, queue, open and closed; offers show inside mine and queue", async () => {
    setup();
    await waitFor(() => expect(rows()).toHaveLength(2));
    const tabs = screen.getAllByRole("tab");
    expect(tabs.map((tab) => tab.dataset.testid)).toEqual(["view-mine", "view-queue", "view-open", "view-closed"]);
    expect(tabs.map((tab) => tab.textContent)).toEqual(["Mine", "Queue", "Open", "Closed"]);
  });

  test("a patched row joins or leaves the list by the views the desk sent with it, not its state", async () => {
    const { desk } = setup();
    await waitFor(() => expect(rows()).toHaveLength(2));
    // Assigned, but to someone else: the desk puts it only in "open".
    await desk.emit({
      type: "conversation",
      conversation: conversation({ id: "c9", agent_id: "a2", last_at: NOW, views: ["open"] }),
    });
    await desk.emit({
      type: "conversation",
      conversation: conversation({ id: "c8", state: "offered", last_at: NOW + 1, offer_expires_at: NOW + 30_000 }),
    });
    await waitFor(() => expect(ids(), "an offer to me is in mine; a colleague's chat is not").toEqual(["c8", "c1", "c2"]));
  });

  test("the search box asks the Rust side once the agent stops typing", async () => {
    const { desk } = setup();
    await waitFor(() => expect(rows()).toHaveLength(2));
    const search = screen.getByTestId("search");
    for (const text of ["h", "ha", "han"]) await fireEvent.input(search, { target: { value: text } });
    await waitFor(() => expect(ids()).toEqual(["c2"]));
    const searches = desk.calls("conversations").filter((c) => c.query !== null);
    expect(searches, "typing quickly must search once, for the final text").toEqual([{ view: "mine", query: "han" }]);
  });

  test("events patch rows in place: updates, new messages and removals", async () => {
    const { desk, store } = setup();
    await waitFor(() => expect(rows()).toHaveLength(2));
    const firstRow = rows()[0];

    await desk.emit({
      type: "message",
      message: message({ conversation_id: "c2", seq: 9, created_at: NOW, body: { kind: "text", text: "Hello again" } }),
    });
    await waitFor(() => expect(ids(), "the chat with the newest message moves to the top").toEqual(["c2", "c1"]));
    expect(rows()[0]).toHaveTextContent("Hello again");
    expect(within(rows()[0]).getByTestId("unread-badge")).toHaveTextContent("1");
    expect(rows()[1], "rows are patched, not re-rendered from scratch").toBe(firstRow);

    await desk.emit({ type: "conversation", conversation: conversation({ id: "c3", shopper_name: "New One", last_at: NOW + 1 }) });
    await waitFor(() => expect(ids()).toEqual(["c3", "c2", "c1"]));

    await desk.emit({ type: "conversation", conversation: conversation({ id: "c2", state: "closed", last_at: NOW }) });
    await waitFor(() => expect(ids(), "a closed chat leaves the 'mine' view").toEqual(["c3", "c1"]));

    await desk.emit({ type: "removed", conversation_id: "c1", reason: "transferred" });
    await waitFor(() => expect(ids()).toEqual(["c3"]));
    expect(store.items).toHaveLength(1);
  });
});

describe("conversation list virtualisation", () => {
  /** Plain rows are ROW_PX.base (58 px) tall; the list's viewport is mocked to this. */
  const VIEWPORT = 600;
  const ROW = 58;

  async function longList() {
    const many = Array.from({ length: 200 }, (_, i) =>
      conversation({ id: `c${i}`, shopper_name: `Shopper ${i}`, last_at: NOW - i * 1000 }),
    );
    fakeDesk({ conversations: many });
    const store = new ConversationStore();
    render(ConversationList, { store, onaccept: vi.fn(), ondecline: vi.fn() });
    await waitFor(() => expect(store.items).toHaveLength(200));
    const scroller = screen.getByTestId("conversation-rows");
    return { store, scroller, list: scroller.querySelector("ul")! };
  }

  /** happy-dom does no layout: give the scroller a height, then scroll it. */
  async function scrollTo(scroller: HTMLElement, top: number) {
    Object.defineProperty(scroller, "clientHeight", { configurable: true, value: VIEWPORT });
    scroller.scrollTop = top;
    await fireEvent.scroll(scroller);
  }

  test("with 200 rows only those near the viewport are mounted, under a full-height list", async () => {
    const { scroller, list } = await longList();
    // Before the first layout the list assumes an 800 px viewport: 14 rows + 12 overscan.
    await waitFor(() => expect(rows()).toHaveLength(26));
    expect(ids().slice(0, 21), "the first 21 rows (desk_bench clicks them) are mounted").toEqual(
      Array.from({ length: 21 }, (_, i) => `c${i}`),
    );

    await scrollTo(scroller, 0);
    // 600 px shows rows 0–10 (11 rows); 12 more below.
    await waitFor(() => expect(rows()).toHaveLength(23));
    expect(rows().length, "200 rows must not all be in the DOM").toBeLessThan(60);
    expect(list.style.height, "the list keeps the height of all 200 rows for the scrollbar").toBe(`${200 * ROW}px`);
    expect(rows()[0]).toHaveAttribute("aria-setsize", "200");
    expect(rows()[0]).toHaveAttribute("aria-posinset", "1");
  });

  test("scrolling mounts the rows at the new position and pads the list above them", async () => {
    const { scroller, list } = await longList();
    await scrollTo(scroller, 100 * ROW);
    // Rows 100–110 are on screen; 12 each side of them are mounted too.
    await waitFor(() => expect(ids()[0]).toBe("c88"));
    expect(ids(), "rows 88–122").toEqual(Array.from({ length: 35 }, (_, i) => `c${88 + i}`));
    expect(list.style.paddingTop, "the unmounted rows above are replaced by padding").toBe(`${88 * ROW}px`);
    expect(rows()[12]).toHaveAttribute("aria-posinset", "101");

    await scrollTo(scroller, 199 * ROW);
    await waitFor(() => expect(ids().slice(-1)[0], "the last row can be reached").toBe("c199"));
    expect(rows().length).toBeLessThan(60);
  });

  test("moving the selection far down (Alt+↓) scrolls to it and mounts it", async () => {
    const { store, scroller } = await longList();
    await scrollTo(scroller, 0);
    await waitFor(() => expect(rows()).toHaveLength(23));
    expect(ids(), "row 150 starts unmounted").not.toContain("c150");

    store.move(1); // opens the first row: already in view, nothing scrolls
    store.move(150);
    await waitFor(() => expect(screen.getByText("Shopper 150").closest("li")).toHaveAttribute("aria-current", "true"));
    expect(scroller.scrollTop, "row 150's bottom is aligned with the viewport's").toBe(151 * ROW - VIEWPORT);

    store.move(-149);
    await waitFor(() => expect(screen.getByText("Shopper 1").closest("li")).toHaveAttribute("aria-current", "true"));
    expect(scroller.scrollTop, "moving up aligns row 1's top with the viewport's").toBe(1 * ROW);
  });
});
