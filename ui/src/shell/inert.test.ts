//! What shoppers and back offices send is inert in the desk: rendered as text, never as
//! markup or links; long unbroken text wraps or is cut instead of widening the columns; and a
//! right-to-left override (U+202E) stays inside the value that carries it. A real-window check
//! with screenshots covers the layout itself; here, the markup and CSS that promise it.

import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { describe, expect, test } from "vitest";
import attachmentSource from "../chat/AttachmentView.svelte?raw";
import chatPaneSource from "../chat/ChatPane.svelte?raw";
import messageSource from "../chat/MessageItem.svelte?raw";
import shopperPageSource from "../chat/ShopperPage.svelte?raw";
import itemSource from "../conversations/ConversationItem.svelte?raw";
import customerSource from "../customer/CustomerPanel.svelte?raw";
import labelsSource from "../lib/ConversationLabels.svelte?raw";
import { DeskState } from "../lib/desk.svelte";
import { fakeDesk } from "../test/backend";
import { declarations, ELLIPSIS } from "../test/css";
import { AGENT, conversation, customerPanel, message } from "../test/fixtures";
import Workstation from "./Workstation.svelte";

const RLO = "\u202E";
const NAME = `<img src=x onerror=alert(1)>${RLO}evil`;
const SCRIPT = "<script>alert(1)</script>";
const LONG = "x".repeat(5000);
const FILE = `<img src=x>${RLO}gpj.exe`;

const components = import.meta.glob("../**/*.svelte", { query: "?raw", import: "default", eager: true });

function hostileDesk() {
  const c = conversation({
    shopper_name: NAME,
    last_preview: LONG,
    tags: ["<b>bold</b>", LONG],
    page: { url: "javascript:alert(1)", title: LONG, product_id: null, order_id: null },
  });
  const panel = customerPanel();
  panel.customer.data!.name = NAME;
  panel.customer.data!.notes = [{ at: null, author: NAME, text: LONG }];
  const desk = fakeDesk({
    conversations: ({ view }: Record<string, unknown>) => (view === "mine" ? [c] : []),
    history: {
      messages: [
        message({ seq: 1, body: { kind: "text", text: SCRIPT } }),
        message({ seq: 2, body: { kind: "text", text: LONG } }),
        message({ seq: 3, body: { kind: "attachment", attachment_id: "at1", file_name: FILE, mime: "application/pdf", size: 10 } }),
        message({ seq: 4, sender: "system", body: { kind: "system", text: `${NAME} joined` } }),
      ],
      has_more: false,
    },
    customer_view: panel,
  });
  render(Workstation, { agent: AGENT, desk: new DeskState(), onsignout: () => {} });
  return desk;
}

async function openHostileChat() {
  const desk = hostileDesk();
  await fireEvent.click(within(await screen.findByTestId("conversation-item")).getAllByRole("button")[0]);
  await waitFor(() => expect(screen.getAllByTestId("message")).toHaveLength(4));
  await screen.findByTestId("customer-name");
  return desk;
}

/** `value` is the whole text of a <bdi> inside `element`: the override ends with it. */
function isolatedIn(element: HTMLElement, value: string) {
  const bdi = Array.from(element.querySelectorAll("bdi")).find((b) => b.textContent === value);
  expect(bdi, `"${value.slice(0, 40)}" should be set apart in a <bdi> inside ${element.outerHTML.slice(0, 80)}`).toBeDefined();
}

describe("inert content", () => {
  test("no component renders raw HTML", () => {
    expect(Object.keys(components).length, "the glob finds the components").toBeGreaterThan(20);
    for (const [path, source] of Object.entries(components)) {
      expect(source as string, `${path} must render text as text`).not.toContain("{@html");
    }
  });

  test("markup in names, messages, tags and file names is shown as literal text", async () => {
    await openHostileChat();
    expect(document.body.querySelector("img, script, b"), "nothing anyone sent may become an element").toBeNull();
    expect(screen.getByTestId("conversation-name")).toHaveTextContent(NAME);
    expect(screen.getByTestId("chat-shopper-name")).toHaveTextContent(NAME);
    expect(screen.getAllByTestId("message-text")[0].textContent).toBe(SCRIPT);
    expect(screen.getAllByTestId("tag").map((tag) => tag.textContent)).toContain("<b>bold</b>");
    expect(screen.getByTestId("attachment-name").textContent).toBe(FILE);
    expect(screen.getByTestId("customer-name").textContent).toBe(NAME);
  });

  test("a javascript: page is no link and is not shown; nothing in the desk is a link", async () => {
    await openHostileChat();
    expect(screen.queryByTestId("page-url")).toBeNull();
    expect(screen.getByTestId("chat-pane")).not.toHaveTextContent("javascript:");
    expect(document.body.querySelector("a, [href]"), "the desk renders no links at all").toBeNull();
  });

  test("a right-to-left override in a name stays inside the name", async () => {
    const desk = await openHostileChat();
    isolatedIn(screen.getByTestId("conversation-name"), NAME);
    isolatedIn(screen.getByTestId("chat-shopper-name"), NAME);
    isolatedIn(screen.getByTestId("customer-name"), NAME);
    expect(screen.getByTestId("attachment-name").tagName, "the file name is its own <bdi>").toBe("BDI");

    await desk.emit({ type: "typing", conversation_id: "c1", typing: true });
    const typing = await screen.findByTestId("typing-indicator");
    expect(typing.textContent).toBe(`${NAME} is typing…`);
    isolatedIn(typing, NAME);
    expect(typing.querySelector("bdi")!.textContent, "the UI's own words stay outside the isolate").not.toContain("typing");

    await fireEvent.click(screen.getByTestId("close-conversation"));
    isolatedIn(within(await screen.findByTestId("confirm-dialog")).getByText(/will end/), NAME);
  });

  test("what people wrote takes its own direction, isolated from the time beside it", async () => {
    await openHostileChat();
    const texts = screen.getAllByTestId("message-text");
    expect(texts.map((t) => t.getAttribute("dir"))).toEqual(["auto", "auto", "auto"]);
    expect(texts[2].textContent, "a system line's text is apart from its time").toBe(`${NAME} joined`);
    expect(screen.getByTestId("customer-note")).toHaveAttribute("dir", "auto");
  });

  test("5,000 unbroken characters are in the DOM as text, in elements that wrap or cut them", async () => {
    await openHostileChat();
    const bubbleText = screen.getAllByTestId("message-text")[1];
    expect(bubbleText.textContent).toHaveLength(5000);
    expect(bubbleText.closest(".bubble"), "message text sits in the bubble").not.toBeNull();
    expect(declarations(messageSource, ".bubble")["overflow-wrap"], "a bubble wraps anywhere").toBe("anywhere");
    expect(declarations(messageSource, ".system")["overflow-wrap"]).toBe("anywhere");

    const preview = screen.getByTestId("conversation-preview");
    expect(preview.textContent).toHaveLength(5000);
    expect(preview).toHaveClass("preview");
    expect(declarations(itemSource, ".preview"), "a row's preview is one line, cut").toMatchObject(ELLIPSIS);
    expect(screen.getByTestId("conversation-name")).toHaveClass("name");
    expect(declarations(itemSource, ".name")).toMatchObject(ELLIPSIS);

    expect(screen.getByTestId("chat-shopper-name").tagName).toBe("H2");
    expect(declarations(chatPaneSource, "h2"), "the chat header's name is cut").toMatchObject(ELLIPSIS);
    expect(screen.getByTestId("page-title").textContent).toHaveLength(5000);
    expect(screen.getByTestId("page-title")).toHaveClass("title");
    expect(declarations(shopperPageSource, ".title")).toMatchObject(ELLIPSIS);

    const longTag = screen.getAllByTestId("tag").find((tag) => tag.textContent === LONG)!;
    expect(longTag).toHaveClass("tag");
    expect(longTag).toHaveAttribute("title", LONG);
    expect(declarations(labelsSource, ".tag")).toMatchObject(ELLIPSIS);

    expect(screen.getByTestId("attachment-name")).toHaveClass("name");
    expect(declarations(attachmentSource, ".name")).toMatchObject(ELLIPSIS);

    expect(screen.getByTestId("customer-note").textContent).toHaveLength(5000);
    expect(screen.getByTestId("customer-note").closest(".panel")).not.toBeNull();
    expect(declarations(customerSource, ".panel")["overflow-wrap"], "the customer column wraps anywhere").toBe(
      "anywhere",
    );
  });
});
