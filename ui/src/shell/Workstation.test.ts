import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, test } from "vitest";
import type { View } from "../lib/bindings";
import { DeskState } from "../lib/desk.svelte";
import { fakeDesk } from "../test/backend";
import { AGENT, conversation } from "../test/fixtures";
import Workstation from "./Workstation.svelte";

const NOW = Date.now();
const lists: Record<View, ReturnType<typeof conversation>[]> = {
  mine: [
    conversation({ id: "c1", shopper_name: "Li Lei", last_at: NOW }),
    conversation({ id: "c2", shopper_name: "Han Meimei", last_at: NOW - 1000 }),
  ],
  queue: [conversation({ id: "q1", state: "queued", agent_id: null, shopper_name: "Wang Fang", queue_position: 1 })],
  offered: [],
  open: [],
  closed: [],
};

function setup(answers: Record<string, unknown> = {}) {
  const desk = fakeDesk({ conversations: ({ view }: Record<string, unknown>) => lists[view as View], ...answers });
  const state = new DeskState();
  render(Workstation, { agent: AGENT, desk: state, onsignout: () => {} });
  return { desk, state };
}

const openId = () => screen.queryByTestId("chat-pane")?.dataset.id ?? null;
const key = (init: KeyboardEventInit) => fireEvent.keyDown(window, init);

describe("workstation", () => {
  test("Alt+↓ / Alt+↑ walk the list and open each conversation beside its customer", async () => {
    const { desk } = setup();
    await screen.findAllByTestId("conversation-item");
    await key({ key: "ArrowDown", altKey: true });
    await waitFor(() => expect(openId()).toBe("c1"));
    await key({ key: "ArrowDown", altKey: true });
    await waitFor(() => expect(openId()).toBe("c2"));
    await key({ key: "ArrowUp", altKey: true });
    await waitFor(() => expect(openId()).toBe("c1"));
    expect(screen.getByTestId("customer-panel")).toBeInTheDocument();
    await waitFor(() => expect(desk.lastCall("customer_view")).toEqual({ conversationId: "c1", refresh: false }));
  });

  test("Ctrl+Shift+A accepts the selected queued conversation; shortcuts ignore IME composition", async () => {
    const { desk } = setup();
    await fireEvent.click(await screen.findByTestId("view-queue"));
    await waitFor(() => expect(screen.getByTestId("conversation-item")).toHaveAttribute("data-id", "q1"));
    await key({ key: "ArrowDown", altKey: true, isComposing: true });
    expect(openId(), "keys that belong to an IME composition do nothing").toBeNull();
    await key({ key: "ArrowDown", altKey: true });
    await waitFor(() => expect(openId()).toBe("q1"));
    await key({ key: "A", ctrlKey: true, shiftKey: true });
    await waitFor(() => expect(desk.calls("accept")).toEqual([{ conversationId: "q1" }]));
  });

  test("Ctrl+Shift+E asks before closing; Ctrl+K focuses search", async () => {
    const { desk } = setup();
    await screen.findAllByTestId("conversation-item");
    await key({ key: "ArrowDown", altKey: true });
    await screen.findByTestId("chat-pane");
    await key({ key: "E", ctrlKey: true, shiftKey: true });
    await fireEvent.click(await screen.findByTestId("confirm-yes"));
    await waitFor(() => expect(desk.calls("close")).toEqual([{ conversationId: "c1" }]));
    await key({ key: "k", ctrlKey: true });
    expect(document.activeElement).toBe(screen.getByTestId("search"));
  });

  test("a clicked notification opens its conversation, switching to the view that has it", async () => {
    const { desk } = setup();
    await screen.findAllByTestId("conversation-item");
    await desk.emit({ type: "open_conversation", conversation_id: "q1" });
    await waitFor(() => expect(openId()).toBe("q1"));
    expect(screen.getByTestId("view-queue")).toHaveAttribute("aria-selected", "true");
  });

  test("started by a kefu:// link, the desk opens its conversation once, wherever it is listed", async () => {
    const { desk } = setup({ opened_with: "q1" });
    await waitFor(() => expect(openId()).toBe("q1"));
    expect(screen.getByTestId("view-queue")).toHaveAttribute("aria-selected", "true");
    expect(desk.calls("opened_with"), "the link is asked for once").toHaveLength(1);
  });

  test("started without a link, nothing opens by itself", async () => {
    const { desk } = setup();
    await screen.findAllByTestId("conversation-item");
    await waitFor(() => expect(desk.calls("opened_with")).toHaveLength(1));
    expect(openId()).toBeNull();
    expect(screen.getByTestId("view-mine")).toHaveAttribute("aria-selected", "true");
  });

  test("an update found by the check in settings shows in the banner under the status bar", async () => {
    setup({ check_update: { version: "1.4.0", notes: null } });
    await fireEvent.click(await screen.findByTestId("settings-open"));
    await fireEvent.click(await screen.findByTestId("update-check"));
    const banner = await screen.findByTestId("update-banner");
    expect(banner).toHaveTextContent("Kefu 1.4.0 is available");
    expect(banner.previousElementSibling, "right under the status bar").toBe(screen.getByTestId("status-toggle").closest("header"));
  });

  test("a conversation taken away while open stays readable with a notice", async () => {
    const { desk } = setup();
    await fireEvent.click((await screen.findAllByTestId("conversation-item"))[0].querySelector("button")!);
    await waitFor(() => expect(openId()).toBe("c1"));
    await desk.emit({ type: "removed", conversation_id: "c1", reason: "transferred" });
    expect(await screen.findByTestId("conversation-notice")).toHaveTextContent("Transferred to another agent");
    expect(screen.getByTestId("composer")).toBeDisabled();
    expect(screen.getAllByTestId("conversation-item").map((r) => r.dataset.id)).toEqual(["c2"]);
  });

  test("the status toggle switches between online and away", async () => {
    const { desk } = setup();
    const toggle = await screen.findByTestId("status-toggle");
    expect(toggle).toHaveAttribute("data-status", "online");
    await fireEvent.click(toggle);
    await waitFor(() => expect(toggle).toHaveAttribute("data-status", "away"));
    expect(desk.calls("set_status")).toEqual([{ status: "away" }]);
  });

  test("declining an offer removes it from the list", async () => {
    const offer = conversation({ id: "o1", state: "offered", shopper_name: "Zhao Li", offer_expires_at: NOW + 30_000 });
    const { desk } = setup({ conversations: ({ view }: Record<string, unknown>) => (view === "queue" ? [offer] : []) });
    await fireEvent.click(await screen.findByTestId("view-queue"));
    await fireEvent.click(await screen.findByTestId("decline"));
    await waitFor(() => expect(screen.queryAllByTestId("conversation-item")).toHaveLength(0));
    expect(desk.calls("decline")).toEqual([{ conversationId: "o1" }]);
  });
});
