import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { afterEach, describe, expect, test, vi } from "vitest";
import type { ChatMessage, ConversationSummary } from "../lib/bindings";
import { fakeDesk, type Answer } from "../test/backend";
import { conversation, message } from "../test/fixtures";
import ChatPane from "./ChatPane.svelte";

function open(answers: Record<string, Answer> = {}, summary: ConversationSummary = conversation()) {
  const desk = fakeDesk(answers);
  const onaccept = vi.fn();
  const view = render(ChatPane, { conversationId: summary.id, summary, onaccept });
  return { desk, onaccept, unmount: view.unmount };
}

const shown = () => screen.queryAllByTestId("message");
const shownSeqs = () => shown().map((m) => m.dataset.clientMsgId);
const page = (messages: ChatMessage[], has_more = false) => ({ messages, has_more });

async function type(text: string) {
  const composer = screen.getByTestId("composer");
  await fireEvent.input(composer, { target: { value: text } });
  return composer;
}

describe("chat pane", () => {
  test("a message that arrives both by event and in history is shown once, in seq order", async () => {
    let answer = page([message({ seq: 1 }), message({ seq: 3 })]);
    const { desk, unmount } = open({ history: () => answer });
    await waitFor(() => expect(shownSeqs()).toEqual(["cm-1", "cm-3"]));

    await desk.emit({ type: "message", message: message({ seq: 3 }) });
    await desk.emit({ type: "message", message: message({ seq: 2 }) });
    await desk.emit({ type: "message", message: message({ seq: 4 }) });
    await desk.emit({ type: "message", message: message({ seq: 4 }) });
    await desk.emit({ type: "message", message: message({ seq: 9, conversation_id: "another" }) });
    await waitFor(() => expect(shownSeqs()).toEqual(["cm-1", "cm-2", "cm-3", "cm-4"]));

    // The chat is opened again later and history now holds everything: still no doubles.
    answer = page([1, 2, 3, 4].map((seq) => message({ seq })));
    unmount();
    open({ history: () => answer });
    await waitFor(() => expect(shownSeqs()).toEqual(["cm-1", "cm-2", "cm-3", "cm-4"]));
  });

  test("a sent message is pending until delivered, then takes its seq and stays in order", async () => {
    const pending = message({
      seq: null,
      client_msg_id: "out-1",
      sender: "agent",
      sender_name: "Alice",
      mine: true,
      delivery: "pending",
      body: { kind: "text", text: "On its way" },
    });
    const { desk } = open({ history: page([message({ seq: 1 })]), send_text: pending });
    await waitFor(() => expect(shown()).toHaveLength(1));
    await type("On its way");
    await fireEvent.click(screen.getByTestId("send"));

    const sent = await screen.findByText("On its way");
    const item = sent.closest("li")!;
    expect(item).toHaveAttribute("data-delivery", "pending");
    expect(item).toHaveAttribute("data-sender", "agent");
    expect(item).toHaveTextContent("Sending…");
    expect(desk.calls("send_text")).toEqual([{ conversationId: "c1", text: "On its way", note: false }]);
    expect(screen.getByTestId("composer"), "the composer empties after sending").toHaveValue("");

    // The shopper writes before the server confirms ours: ours stays last while pending.
    await desk.emit({ type: "message", message: message({ seq: 2 }) });
    await waitFor(() => expect(shownSeqs()).toEqual(["cm-1", "cm-2", "out-1"]));

    await desk.emit({ type: "delivered", conversation_id: "c1", client_msg_id: "out-1", seq: 3 });
    await waitFor(() => expect(item).toHaveAttribute("data-delivery", "sent"));
    expect(item).not.toHaveTextContent("Sending…");
    await desk.emit({ type: "message", message: { ...pending, seq: 3, id: "m3", delivery: "sent" } });
    await desk.emit({ type: "read", conversation_id: "c1", seq: 3 });
    await waitFor(() => expect(item).toHaveAttribute("data-delivery", "read"));
    expect(shownSeqs(), "the echo of our own message must not duplicate it").toEqual(["cm-1", "cm-2", "out-1"]);
  });

  test("an undeliverable message is marked failed with the reason", async () => {
    const pending = message({ seq: null, client_msg_id: "out-2", sender: "agent", mine: true, delivery: "pending" });
    const { desk } = open({ history: page([pending]) });
    await waitFor(() => expect(shown()).toHaveLength(1));
    await desk.emit({
      type: "undeliverable",
      conversation_id: "c1",
      client_msg_id: "out-2",
      reason: "conversation closed",
    });
    await waitFor(() => expect(shown()[0]).toHaveAttribute("data-delivery", "failed"));
    expect(within(shown()[0]).getByTestId("message-failure")).toHaveTextContent("Not delivered: conversation closed");
  });

  test("private notes look different from replies", async () => {
    open({
      history: page([
        message({ seq: 1, body: { kind: "text", text: "Public reply" }, sender: "agent", mine: true }),
        message({ seq: 2, body: { kind: "note", text: "Check the warehouse" }, sender: "agent", mine: true }),
        message({ seq: 3, body: { kind: "system", text: "Alice joined" }, sender: "system" }),
      ]),
    });
    await waitFor(() => expect(shown()).toHaveLength(3));
    const [reply, note, system] = shown();
    expect(note).toHaveAttribute("data-kind", "note");
    expect(note).toHaveTextContent("Private note");
    expect(note.querySelector(".bubble")).toHaveClass("note");
    expect(reply).not.toHaveTextContent("Private note");
    expect(reply.querySelector(".bubble")).not.toHaveClass("note");
    expect(system).toHaveClass("system");
  });

  test("markup in a message is shown as text, never interpreted", async () => {
    const evil = "<img src=x onerror=alert(1)>";
    open({ history: page([message({ seq: 1, body: { kind: "text", text: evil } })]) });
    await waitFor(() => expect(shown()).toHaveLength(1));
    expect(shown()[0]).toHaveTextContent(evil);
    expect(screen.getByTestId("chat-pane").querySelector("img"), "no element may come from message text").toBeNull();
  });

  test("images load through the attachment command; other files show as a chip", async () => {
    const desk = open({
      history: page([
        message({ seq: 1, body: { kind: "attachment", attachment_id: "at1", file_name: "photo.png", mime: "image/png", size: 2048 } }),
        message({ seq: 2, body: { kind: "attachment", attachment_id: "at2", file_name: "receipt.pdf", mime: "application/pdf", size: 4096 } }),
        message({ seq: 3, body: { kind: "order_card", order_id: "O-1", title: "Order O-1", detail: "2 items" } }),
      ]),
      attachment: "data:image/png;base64,iVBORw0KGgo=",
    }).desk;
    const image = await screen.findByAltText("photo.png");
    expect(image).toHaveAttribute("src", "data:image/png;base64,iVBORw0KGgo=");
    expect(image, "off-screen images wait, and decoding doesn't block the pane").toHaveAttribute("loading", "lazy");
    expect(image).toHaveAttribute("decoding", "async");
    expect(desk.calls("attachment"), "only images are fetched for display").toEqual([{ attachmentId: "at1" }]);
    expect(shown()[1]).toHaveTextContent("receipt.pdf");
    expect(shown()[2]).toHaveTextContent("Order O-1");
  });

  test("the shopper's typing shows, and goes when they stop", async () => {
    const { desk } = open();
    await waitFor(() => expect(screen.getByTestId("chat-pane")).toBeInTheDocument());
    expect(screen.queryByTestId("typing-indicator")).toBeNull();
    await desk.emit({ type: "typing", conversation_id: "c1", typing: true });
    expect(await screen.findByTestId("typing-indicator")).toHaveTextContent("Li Lei is typing…");
    await desk.emit({ type: "typing", conversation_id: "c1", typing: false });
    await waitFor(() => expect(screen.queryByTestId("typing-indicator")).toBeNull());
  });

  test("what a focused window shows is marked read up to the last seq", async () => {
    window.dispatchEvent(new Event("focus"));
    const { desk } = open({ history: page([message({ seq: 4 }), message({ seq: 5 })]) });
    await waitFor(() => expect(desk.calls("mark_read")).toEqual([{ conversationId: "c1", seq: 5 }]));
    await desk.emit({ type: "message", message: message({ seq: 6 }) });
    await waitFor(() => expect(desk.lastCall("mark_read")).toEqual({ conversationId: "c1", seq: 6 }));
  });

  test("scrolling to the top loads the previous page until there is no more", async () => {
    const history = vi.fn(({ beforeSeq }: Record<string, unknown>) =>
      beforeSeq === null
        ? page([message({ seq: 11 }), message({ seq: 12 })], true)
        : page([message({ seq: 9 }), message({ seq: 10 })], false),
    );
    open({ history });
    await waitFor(() => expect(shown()).toHaveLength(2));
    const scroller = screen.getByTestId("chat-pane").querySelector(".scroller")!;
    await fireEvent.scroll(scroller, { target: { scrollTop: 0 } });
    await waitFor(() => expect(shownSeqs()).toEqual(["cm-9", "cm-10", "cm-11", "cm-12"]));
    expect(history).toHaveBeenLastCalledWith({ conversationId: "c1", beforeSeq: 11 });
    await fireEvent.scroll(scroller, { target: { scrollTop: 0 } });
    expect(history, "has_more false stops paging").toHaveBeenCalledTimes(2);
  });

  test("a long read keeps at most 200 messages mounted once the agent is back at the bottom", async () => {
    // 1,000 messages, served 50 a page like the desk's cache.
    const history = vi.fn(({ beforeSeq }: Record<string, unknown>) => {
      const end = beforeSeq === null ? 1001 : Number(beforeSeq);
      const first = Math.max(1, end - 50);
      return page(
        Array.from({ length: end - first }, (_, i) => message({ seq: first + i })),
        first > 1,
      );
    });
    const { desk } = open({ history });
    await waitFor(() => expect(shown()).toHaveLength(50));
    // happy-dom does no layout: 40 px a message in a 500 px pane.
    const scroller = screen.getByTestId("chat-pane").querySelector<HTMLElement>(".scroller")!;
    Object.defineProperty(scroller, "clientHeight", { configurable: true, value: 500 });
    Object.defineProperty(scroller, "scrollHeight", { configurable: true, get: () => shown().length * 40 });
    const scrollTo = (top: number) => {
      scroller.scrollTop = top;
      return fireEvent.scroll(scroller);
    };

    for (const count of [100, 150, 200, 250]) {
      await scrollTo(0);
      await waitFor(() => expect(shown()).toHaveLength(count));
    }
    expect(shownSeqs()[0], "scrolling up pages in history").toBe("cm-751");
    await desk.emit({ type: "message", message: message({ seq: 1001 }) });
    await desk.emit({ type: "message", message: message({ seq: 5 }) });
    await waitFor(() => expect(shown()).toHaveLength(251));
    expect(shownSeqs(), "an old message arriving live waits for paging, or paging would skip past it").not.toContain(
      "cm-5",
    );

    await scrollTo(251 * 40 - 500);
    await waitFor(() => expect(shown()).toHaveLength(200));
    expect(shownSeqs()[0], "back at the bottom, only the newest 200 stay").toBe("cm-802");
    expect(shownSeqs().slice(-1)[0]).toBe("cm-1001");
    await desk.emit({ type: "message", message: message({ seq: 1002 }) });
    await waitFor(() => expect(shownSeqs().slice(-1)[0]).toBe("cm-1002"));
    expect(shown(), "following new messages keeps the cap").toHaveLength(200);

    await scrollTo(0);
    await waitFor(() => expect(shown()).toHaveLength(250));
    expect(history, "the let-go messages page in again, with no gap").toHaveBeenLastCalledWith({
      conversationId: "c1",
      beforeSeq: 803,
    });
    expect(shownSeqs()[0]).toBe("cm-753");
  });

  test("closing asks first and calls close only after confirmation", async () => {
    const { desk } = open();
    await fireEvent.click(await screen.findByTestId("close-conversation"));
    expect(desk.calls("close"), "nothing is closed before the agent confirms").toHaveLength(0);
    await fireEvent.click(screen.getByTestId("confirm-no"));
    expect(screen.queryByTestId("confirm-yes")).toBeNull();
    await fireEvent.click(screen.getByTestId("close-conversation"));
    await fireEvent.click(screen.getByTestId("confirm-yes"));
    await waitFor(() => expect(desk.calls("close")).toEqual([{ conversationId: "c1" }]));
    await waitFor(() => expect(screen.queryByTestId("confirm-yes")).toBeNull());
  });

  test("a queued conversation offers Accept and can't be written to until accepted", async () => {
    const { onaccept } = open({}, conversation({ state: "queued", agent_id: null }));
    await fireEvent.click(await screen.findByTestId("accept"));
    expect(onaccept).toHaveBeenCalled();
    expect(screen.getByTestId("composer")).toBeDisabled();
    expect(screen.queryByTestId("close-conversation")).toBeInTheDocument();
  });

  test("a closed conversation explains why the composer is disabled", async () => {
    open({}, conversation({ state: "closed" }));
    expect(await screen.findByTestId("composer-disabled")).toHaveTextContent("This conversation is closed");
    expect(screen.getByTestId("composer")).toBeDisabled();
    expect(screen.queryByTestId("transfer-open")).toBeNull();
  });

  test("transfer sends the chosen group and note", async () => {
    const { desk } = open({ transfer_targets: { groups: ["after-sales"], agents: [{ id: "a2", display_name: "Bob" }] } });
    await fireEvent.click(await screen.findByTestId("transfer-open"));
    const target = await screen.findByTestId("transfer-target");
    await waitFor(() => expect(within(target).getByText("after-sales")).toBeInTheDocument());
    await fireEvent.change(target, { target: { value: "after-sales" } });
    await fireEvent.input(screen.getByTestId("transfer-note"), { target: { value: "Wants a refund" } });
    await fireEvent.click(screen.getByTestId("transfer-submit"));
    await waitFor(() =>
      expect(desk.calls("transfer")).toEqual([
        { conversationId: "c1", target: { group: "after-sales" }, note: "Wants a refund" },
      ]),
    );
  });
});

describe("where the shopper is", () => {
  const pane = () => screen.getByTestId("chat-pane");
  afterEach(() => vi.restoreAllMocks());

  test("the header shows the page's title, its web address to copy, and product and order chips", async () => {
    const writeText = vi.spyOn(navigator.clipboard, "writeText").mockResolvedValue();
    open(
      {},
      conversation({
        page: { url: "https://shop.test/p/42", title: "Kettle", product_id: "42", order_id: "O-7" },
      }),
    );

    const where = screen.getByTestId("shopper-page");
    expect(where.closest("header"), "the page line is part of the chat header").not.toBeNull();
    expect(where).toHaveTextContent("Viewing: Kettle");
    expect(screen.getByTestId("page-url")).toHaveTextContent("https://shop.test/p/42");
    expect(screen.getByTestId("page-product")).toHaveTextContent("Product 42");
    expect(screen.getByTestId("page-order")).toHaveTextContent("Order O-7");

    await fireEvent.click(screen.getByRole("button", { name: "Copy the page address" }));
    expect(writeText).toHaveBeenCalledWith("https://shop.test/p/42");
    expect(pane().querySelector("a"), "nothing the agent clicks can navigate the app's window").toBeNull();
  });

  test("a page that is not http(s) is not offered, and whatever the browser sent stays text", () => {
    open(
      {},
      conversation({
        page: { url: "javascript:alert(1)", title: "<img src=x onerror=alert(1)>", product_id: null, order_id: null },
      }),
    );

    expect(screen.getByTestId("page-title"), "markup in a title is shown, not run").toHaveTextContent(
      "<img src=x onerror=alert(1)>",
    );
    expect(pane().querySelector("img")).toBeNull();
    expect(screen.queryByTestId("page-url"), "a javascript: address is not shown to copy").toBeNull();
    expect(screen.queryByTestId("page-url-copy")).toBeNull();
    expect(pane().querySelector("a")).toBeNull();
    expect(pane()).not.toHaveTextContent("javascript:");
    expect(screen.queryByTestId("page-product"), "no chip without an id").toBeNull();
  });

  test("no page line while the page is unknown", () => {
    open({}, conversation({ page: null }));
    expect(screen.getByTestId("chat-pane")).toBeInTheDocument();
    expect(screen.queryByTestId("shopper-page")).toBeNull();
  });

  test("the header shows the conversation's priority and tags", async () => {
    open({}, conversation({ priority: "urgent", tags: ["handoff", "after-hours"] }));
    const header = screen.getByTestId("chat-pane").querySelector("header")!;
    expect(within(header).getByTestId("priority-badge")).toHaveTextContent("Urgent");
    expect(within(header).getAllByTestId("tag").map((t) => t.textContent)).toEqual(["handoff", "after-hours"]);
  });

  test("the header shows low priority too, but no badge for normal", async () => {
    const { unmount } = open({}, conversation({ priority: "low" }));
    expect(screen.getByTestId("priority-badge")).toHaveTextContent("Low");
    unmount();
    open({}, conversation({ priority: "normal" }));
    expect(screen.queryByTestId("priority-badge"), "normal is the default and needs no badge").toBeNull();
  });
});
