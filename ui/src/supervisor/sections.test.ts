import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, test } from "vitest";
import type { Role } from "../lib/bindings";
import Workstation from "../shell/Workstation.svelte";
import { DeskState } from "../lib/desk.svelte";
import { fakeDesk } from "../test/backend";
import { AGENT, conversation } from "../test/fixtures";
import { floor, summary } from "./testdata";

function signIn(role: Role, answers: Record<string, unknown> = {}) {
  const desk = fakeDesk({
    floor: floor(Date.now()),
    floor_conversations: [],
    report_summary: summary(),
    ...answers,
  });
  render(Workstation, { agent: { ...AGENT, role }, desk: new DeskState(), onsignout: () => {} });
  return desk;
}

const tabs = () => screen.getAllByRole("tab").map((t) => t.dataset.testid).filter((id) => id?.startsWith("section-"));

describe("desk sections", () => {
  test("agents get chats and search; supervisors and admins also the floor and reports", async () => {
    signIn("agent");
    expect(tabs()).toEqual(["section-chats", "section-search"]);
  });

  test.each(["supervisor", "admin"] as Role[])("a %s sees every section", async (role) => {
    signIn(role);
    expect(tabs()).toEqual(["section-chats", "section-floor", "section-reports", "section-search"]);
  });

  test("the floor shows in place of the chats, and a conversation opened from search brings the chats back", async () => {
    const found = conversation({ id: "old1", state: "closed", shopper_name: "Old Friend" });
    const desk = signIn("supervisor", {
      search: { total: 1, results: [{ conversation_id: "old1", site_id: "demo", group: "pre-sales", state: "closed",
        agent_id: null, customer_name: "Old Friend", tags: [], created_at: 0, updated_at: 0, snippet: "hi", seq: 1 }] },
      load_conversation: found,
      conversations: ({ view }: Record<string, unknown>) => (view === "closed" ? [found] : []),
    });
    await fireEvent.click(screen.getByTestId("section-floor"));
    expect(await screen.findByTestId("floor-view")).toBeVisible();
    expect(screen.getByTestId("conversation-rows")).not.toBeVisible();
    expect(screen.getByTestId("section-floor")).toHaveAttribute("aria-selected", "true");

    await fireEvent.click(screen.getByTestId("section-search"));
    expect(screen.getByTestId("floor-view"), "kept, but hidden").not.toBeVisible();
    await fireEvent.input(screen.getByTestId("search-q"), { target: { value: "hi there" } });
    await fireEvent.click(screen.getByTestId("search-submit"));
    await fireEvent.click((await screen.findByTestId("search-result")).querySelector("button")!);
    await waitFor(() => expect(screen.queryByTestId("chat-pane")?.dataset.id).toBe("old1"));
    expect(desk.calls("load_conversation")).toEqual([{ conversationId: "old1", shopperName: "Old Friend" }]);
    expect(screen.getByTestId("section-chats")).toHaveAttribute("aria-selected", "true");
    expect(screen.getByTestId("search-view"), "the results wait for the way back").not.toBeVisible();
  });
});
