import { render, screen, within } from "@testing-library/svelte";
import { describe, expect, test, vi } from "vitest";
import type { ConversationSummary } from "../lib/bindings";
import { setLanguage } from "../lib/i18n.svelte";
import { conversation } from "../test/fixtures";
import ConversationItem from "./ConversationItem.svelte";

function item(c: ConversationSummary) {
  render(ConversationItem, {
    conversation: c,
    selected: false,
    onselect: vi.fn(),
    onaccept: vi.fn(),
    ondecline: vi.fn(),
  });
  return screen.getByTestId("conversation-item");
}

const tagsOf = (row: HTMLElement) => within(row).queryAllByTestId("tag").map((t) => t.textContent);

describe("conversation item labels", () => {
  test("urgent and high conversations carry a badge; tags show as chips in order", () => {
    const row = item(conversation({ priority: "urgent", tags: ["escalated", "keyword:投诉"] }));
    const badge = within(row).getByTestId("priority-badge");
    expect(badge).toHaveTextContent("Urgent");
    expect(badge).toHaveAttribute("aria-label", "Priority: Urgent");
    expect(tagsOf(row)).toEqual(["escalated", "keyword:投诉"]);
    expect(within(row).getByRole("list", { name: "Tags" }), "chips are a labelled list").toBeInTheDocument();
  });

  test("high priority has its own badge", () => {
    const row = item(conversation({ priority: "high" }));
    expect(within(row).getByTestId("priority-badge")).toHaveAttribute("data-priority", "high");
    expect(within(row).getByTestId("priority-badge")).toHaveTextContent("High");
    expect(tagsOf(row), "no tags, no chips").toEqual([]);
  });

  test.each(["normal", "low"] as const)("a %s conversation shows no badge, to keep the list calm", (priority) => {
    const row = item(conversation({ priority, tags: ["faq-answered"] }));
    expect(within(row).queryByTestId("priority-badge")).toBeNull();
    expect(tagsOf(row), "tags still show").toEqual(["faq-answered"]);
  });

  test("a tag is rendered as text, never as markup", () => {
    const row = item(conversation({ tags: ['<img src=x onerror="alert(1)">'] }));
    expect(row.querySelector("img"), "the tag must not become an element").toBeNull();
    expect(tagsOf(row)).toEqual(['<img src=x onerror="alert(1)">']);
  });

  test("labels follow the language", () => {
    setLanguage("zh-CN");
    const row = item(conversation({ priority: "high" }));
    expect(within(row).getByTestId("priority-badge")).toHaveTextContent("高优先级");
    expect(within(row).getByTestId("priority-badge")).toHaveAttribute("aria-label", "优先级：高优先级");
  });
});
