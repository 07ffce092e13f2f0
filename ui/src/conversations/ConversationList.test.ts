import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { describe, expect, test, vi } from "vitest";
import type { View } from "../lib/bindings";
import { fakeDesk } from "../test/backend";
import { AGENT, conversation, message } from "../test/fixtures";
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
  open: [],
  closed: [conversation({ id: "x1", state: "closed", shopper_name: "Old Chat" })],
};

function setup(extra: Record<string, unknown> = {}) {
  const desk = fakeDesk({
    conversations: ({ view, query }: Record<string, unknown>) =>
      byView[view as View].filter((c) => !query || c.shopper_name.toLowerCase().includes(String(query))),
    ...extra,
  });
  const store = new ConversationStore(() => AGENT.id);
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
