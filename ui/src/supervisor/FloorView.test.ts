import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { fails, fakeDesk, type Answer } from "../test/backend";
import { conversation } from "../test/fixtures";
import FloorView from "./FloorView.svelte";
import { floor } from "./testdata";

// The clock is frozen (timers stay real): ages on screen are exact.
const NOW = Date.UTC(2026, 11, 3, 9, 30, 0);
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(NOW);
});
afterEach(() => vi.useRealTimers());

const ROWS = [
  conversation({ id: "c1", shopper_name: "Li Lei", agent_id: "a1", created_at: NOW - 300_000 }),
  conversation({ id: "c9", shopper_name: "Han Meimei", agent_id: "a1", created_at: NOW - 600_000 }),
  conversation({ id: "q1", state: "queued", agent_id: null, shopper_name: "Wang Fang", created_at: NOW - 125_000 }),
];

function open(answers: Record<string, Answer> = {}) {
  const desk = fakeDesk({ floor: floor(NOW - 1000), floor_conversations: ROWS, ...answers });
  const onopen = vi.fn();
  render(FloorView, { onopen });
  return { desk, onopen };
}

const agentRow = (id: string) => screen.getAllByTestId("floor-agent").find((r) => r.dataset.id === id)!;
const queueCard = (group: string) => screen.getAllByTestId("floor-queue").find((q) => q.dataset.group === group)!;
const row = (id: string) => screen.getAllByTestId("floor-conversation").find((r) => r.dataset.id === id)!;

describe("floor", () => {
  test("shows agents, queues and breaches from the floor, and each pushed floor replaces it", async () => {
    const { desk } = open();
    await waitFor(() => expect(screen.getAllByTestId("floor-agent")).toHaveLength(2));

    const alice = agentRow("a1");
    expect(alice).toHaveAttribute("data-status", "online");
    expect(within(alice).getByTestId("agent-load")).toHaveTextContent("2 / 5");
    expect(within(alice).getByTestId("agent-since-reply"), "replied 66 s before now").toHaveTextContent("1:06");
    expect(within(agentRow("a2")).getByTestId("agent-since-reply"), "never replied").toHaveTextContent("—");
    expect(agentRow("a2")).toHaveAttribute("data-status", "away");

    const sales = queueCard("pre-sales");
    expect(within(sales).getByTestId("queue-waiting")).toHaveTextContent("3");
    expect(within(sales).getByTestId("queue-longest"), "waiting since 126 s ago").toHaveTextContent("2:06");
    expect(within(sales).getByTestId("queue-expected")).toHaveTextContent("1:30");
    expect(within(queueCard("after-sales")).getByTestId("queue-longest")).toHaveTextContent("—");

    const breach = screen.getByTestId("floor-breach");
    expect(breach).toHaveAttribute("data-id", "c9");
    expect(breach).toHaveTextContent("Han Meimei");
    expect(breach).toHaveTextContent("First response");
    expect(breach, "due 31 s ago").toHaveTextContent("0:31");
    await waitFor(() => expect(row("c9")).toHaveAttribute("data-breach", "first_response"));
    expect(row("c9")).toHaveClass("breach");
    expect(row("c1")).not.toHaveAttribute("data-breach");
    expect(
      screen.getAllByTestId("floor-conversation").map((r) => r.dataset.id),
      "breaching first, then waiting, then oldest",
    ).toEqual(["c9", "q1", "c1"]);

    // The next floor: a fourth shopper waits, Bob is back, the breach is handled.
    await desk.emit({
      type: "floor",
      floor: floor(NOW, {
        queues: [{ group: "pre-sales", waiting: 4, oldest_since_ms: NOW - 125_000, expected_wait_ms: 60_000, agents_online: 2 }],
        breaches: [],
      }),
    });
    await waitFor(() => expect(within(queueCard("pre-sales")).getByTestId("queue-waiting")).toHaveTextContent("4"));
    expect(screen.getAllByTestId("floor-queue")).toHaveLength(1);
    expect(screen.queryByTestId("floor-breach")).toBeNull();
    expect(screen.getByTestId("floor-no-breaches")).toBeInTheDocument();
    expect(row("c9")).not.toHaveClass("breach");

    // A frame older than the one shown (a late answer) changes nothing.
    await desk.emit({ type: "floor", floor: floor(NOW - 5000) });
    expect(within(queueCard("pre-sales")).getByTestId("queue-waiting")).toHaveTextContent("4");
  });

  test("conversation events keep the open list current: new rows appear, closed ones leave", async () => {
    const { desk } = open();
    await waitFor(() => expect(screen.getAllByTestId("floor-conversation")).toHaveLength(3));
    await desk.emit({
      type: "conversation",
      conversation: conversation({ id: "n1", state: "queued", agent_id: null, shopper_name: "Zhao", created_at: NOW }),
    });
    await waitFor(() => expect(row("n1")).toBeDefined());
    await desk.emit({ type: "conversation", conversation: conversation({ id: "c1", state: "closed" }) });
    await waitFor(() => expect(screen.getAllByTestId("floor-conversation").map((r) => r.dataset.id)).not.toContain("c1"));
  });

  test("reassign and whisper call their commands with what the supervisor chose", async () => {
    const { desk } = open({ whisper: { id: "m1" } });
    await waitFor(() => expect(row("c1")).toBeDefined());

    await fireEvent.click(within(row("c1")).getByTestId("floor-reassign"));
    const dialog = await screen.findByTestId("reassign-dialog");
    const target = within(dialog).getByTestId("reassign-target") as HTMLSelectElement;
    expect(
      [...target.options].map((o) => o.value),
      "the conversation's own agent is not offered",
    ).toEqual(["", "a2"]);
    await fireEvent.change(target, { target: { value: "a2" } });
    await fireEvent.input(within(dialog).getByTestId("reassign-note"), { target: { value: "VIP, be quick" } });
    await fireEvent.click(within(dialog).getByTestId("reassign-submit"));
    await waitFor(() =>
      expect(desk.calls("reassign")).toEqual([{ conversationId: "c1", agentId: "a2", group: null, note: "VIP, be quick" }]),
    );
    expect(await screen.findByTestId("floor-notice")).toHaveTextContent("Conversation reassigned.");
    expect(screen.queryByTestId("reassign-dialog")).toBeNull();

    // To a group instead.
    await fireEvent.click(within(row("q1")).getByTestId("floor-reassign"));
    await fireEvent.click(await screen.findByTestId("reassign-kind-group"));
    await fireEvent.change(screen.getByTestId("reassign-target"), { target: { value: "after-sales" } });
    await fireEvent.click(screen.getByTestId("reassign-submit"));
    await waitFor(() =>
      expect(desk.lastCall("reassign")).toEqual({ conversationId: "q1", agentId: null, group: "after-sales", note: null }),
    );

    expect(within(row("q1")).queryByTestId("floor-whisper"), "nobody to whisper to in the queue").toBeNull();
    await fireEvent.click(within(row("c1")).getByTestId("floor-whisper"));
    expect(await screen.findByTestId("whisper-dialog")).toHaveTextContent("Only Alice Wang and other agents see this");
    await fireEvent.input(screen.getByTestId("whisper-text"), { target: { value: "Offer the 10% coupon" } });
    await fireEvent.click(screen.getByTestId("whisper-submit"));
    await waitFor(() => expect(desk.calls("whisper")).toEqual([{ conversationId: "c1", text: "Offer the 10% coupon" }]));
    expect(await screen.findByTestId("floor-notice")).toHaveTextContent("Whisper sent to the agent.");
  });

  test("a refused action keeps its dialog open with the reason, and can be tried again", async () => {
    let refuse = true;
    const { desk } = open({
      whisper: () => {
        if (refuse) throw { code: "unreachable", message: "connection refused" };
        return { id: "m1" };
      },
    });
    await waitFor(() => expect(row("c1")).toBeDefined());
    await fireEvent.click(within(row("c1")).getByTestId("floor-whisper"));
    await fireEvent.input(await screen.findByTestId("whisper-text"), { target: { value: "Check the order" } });
    await fireEvent.click(screen.getByTestId("whisper-submit"));
    expect(await screen.findByTestId("whisper-error")).toHaveTextContent("Can't reach the server");
    expect(screen.getByTestId("whisper-text"), "the text is kept for the retry").toHaveValue("Check the order");
    refuse = false;
    await fireEvent.click(screen.getByTestId("whisper-submit"));
    await waitFor(() => expect(screen.queryByTestId("whisper-dialog")).toBeNull());
    expect(desk.calls("whisper")).toHaveLength(2);
  });

  test("take over and close ask first; take over opens the conversation, a refused close says why", async () => {
    const { desk, onopen } = open({ close_conversation: fails("forbidden") });
    await waitFor(() => expect(row("c1")).toBeDefined());

    await fireEvent.click(within(row("c1")).getByTestId("floor-take-over"));
    expect(await screen.findByTestId("confirm-dialog")).toHaveTextContent("Li Lei will be assigned to you");
    expect(desk.calls("take_over"), "nothing before the confirmation").toEqual([]);
    await fireEvent.click(screen.getByTestId("confirm-yes"));
    await waitFor(() => expect(desk.calls("take_over")).toEqual([{ conversationId: "c1" }]));
    expect(onopen).toHaveBeenCalledWith("c1", "Li Lei");

    await fireEvent.click(within(row("c9")).getByTestId("floor-close"));
    await fireEvent.click(await screen.findByTestId("confirm-yes"));
    await waitFor(() => expect(desk.calls("close_conversation")).toEqual([{ conversationId: "c9" }]));
    const dialog = screen.getByTestId("confirm-dialog");
    expect(within(dialog).getByRole("alert")).toHaveTextContent("Your account isn't allowed to do that.");
    await fireEvent.click(screen.getByTestId("confirm-no"));
    expect(screen.queryByTestId("confirm-dialog")).toBeNull();
  });

  test("an agent's status is set from the floor after a confirmation; cancelling changes nothing", async () => {
    const { desk } = open();
    await waitFor(() => expect(screen.getAllByTestId("floor-agent")).toHaveLength(2));
    const select = within(agentRow("a2")).getByTestId("floor-agent-status") as HTMLSelectElement;

    await fireEvent.change(select, { target: { value: "online" } });
    await fireEvent.click(await screen.findByTestId("confirm-no"));
    expect(desk.calls("set_agent_status")).toEqual([]);
    expect(select.value, "the floor shows the status the server has").toBe("away");

    await fireEvent.change(select, { target: { value: "offline" } });
    expect(screen.getByTestId("confirm-dialog")).toHaveTextContent("Set Bob Li to Offline?");
    await fireEvent.click(screen.getByTestId("confirm-yes"));
    await waitFor(() => expect(desk.calls("set_agent_status")).toEqual([{ agentId: "a2", status: "offline" }]));
    expect(await screen.findByTestId("floor-notice")).toHaveTextContent("Status changed.");
  });

  test("a floor the desk cannot get is reported, not shown empty", async () => {
    open({ floor: fails("forbidden") });
    expect(await screen.findByRole("alert")).toHaveTextContent("Couldn't load the floor");
    expect(screen.queryAllByTestId("floor-agent")).toHaveLength(0);
  });
});
