import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, test, vi } from "vitest";
import { fakeDesk, type Answer } from "../test/backend";
import { message } from "../test/fixtures";
import Composer from "./Composer.svelte";

const REPLIES = [
  { shortcut: "hello", title: "Greeting", body: "Hello! How can I help you today?" },
  { shortcut: "refund", title: "Refund policy", body: "Refunds take 3–5 working days." },
  { shortcut: "ship", title: "Shipping times", body: "We ship within 24 hours." },
];

function setup(answers: Record<string, Answer> = {}, disabledReason: string | null = null) {
  const desk = fakeDesk({
    canned_replies: REPLIES,
    send_text: ({ text, note }: Record<string, unknown>) =>
      message({
        seq: null,
        client_msg_id: "out",
        mine: true,
        delivery: "pending",
        body: note ? { kind: "note", text: String(text) } : { kind: "text", text: String(text) },
      }),
    ...answers,
  });
  const onsent = vi.fn();
  render(Composer, { conversationId: "c1", disabledReason, onsent });
  return { desk, onsent, composer: screen.getByTestId("composer") as HTMLTextAreaElement };
}

describe("composer", () => {
  test("Enter sends, Shift+Enter does not", async () => {
    const { desk, onsent, composer } = setup();
    await fireEvent.input(composer, { target: { value: "Line one" } });
    await fireEvent.keyDown(composer, { key: "Enter", shiftKey: true });
    expect(desk.calls("send_text"), "Shift+Enter is a new line").toHaveLength(0);
    await fireEvent.keyDown(composer, { key: "Enter" });
    await waitFor(() => expect(onsent).toHaveBeenCalledTimes(1));
    expect(desk.calls("send_text")).toEqual([{ conversationId: "c1", text: "Line one", note: false }]);
  });

  test("Enter while an input method is composing (Chinese) does not send", async () => {
    const { desk, composer } = setup();
    await fireEvent.input(composer, { target: { value: "ni hao" } });
    await fireEvent.keyDown(composer, { key: "Enter", isComposing: true });
    await fireEvent.keyDown(composer, { key: "Enter", keyCode: 229 });
    expect(desk.calls("send_text"), "Enter confirms the IME candidate, not the message").toHaveLength(0);
    expect(composer).toHaveValue("ni hao");
    await fireEvent.keyDown(composer, { key: "Enter" });
    await waitFor(() => expect(desk.calls("send_text")).toHaveLength(1));
  });

  test("'/' opens canned replies, typing filters them, arrows and Enter insert one", async () => {
    const { desk, composer } = setup();
    await fireEvent.input(composer, { target: { value: "/" } });
    await waitFor(() => expect(screen.getAllByTestId("canned-reply")).toHaveLength(3));
    await fireEvent.input(composer, { target: { value: "/re" } });
    await waitFor(() =>
      expect(screen.getAllByTestId("canned-reply").map((r) => r.textContent)).toEqual([
        expect.stringContaining("/refund"), // shortcut starts with "re": first
        expect.stringContaining("/hello"), // title "Greeting" contains "re"
      ]),
    );
    await fireEvent.keyDown(composer, { key: "ArrowDown" });
    await fireEvent.keyDown(composer, { key: "Enter" });
    expect(composer).toHaveValue("Hello! How can I help you today?");
    expect(screen.queryByTestId("canned-popup"), "the popup closes once a reply is inserted").toBeNull();
    expect(desk.calls("send_text"), "inserting is not sending").toHaveLength(0);
  });

  test("a private note is sent as a note and turns the composer yellow", async () => {
    const { desk, composer } = setup();
    const toggle = screen.getByTestId("note-toggle");
    await fireEvent.click(toggle);
    expect(toggle).toHaveAttribute("aria-pressed", "true");
    expect(composer.closest(".composer")).toHaveClass("note");
    await fireEvent.input(composer, { target: { value: "Customer is VIP" } });
    await fireEvent.click(screen.getByTestId("send"));
    await waitFor(() =>
      expect(desk.calls("send_text")).toEqual([{ conversationId: "c1", text: "Customer is VIP", note: true }]),
    );
    expect(desk.calls("typing"), "the shopper never sees a note being typed").toHaveLength(0);
  });

  test("tells the shopper the agent is typing, and that they stopped on send", async () => {
    const { desk, composer } = setup();
    await fireEvent.input(composer, { target: { value: "H" } });
    await fireEvent.input(composer, { target: { value: "Hi" } });
    expect(desk.calls("typing"), "typing notices are throttled").toEqual([{ conversationId: "c1", typing: true }]);
    await fireEvent.keyDown(composer, { key: "Enter" });
    await waitFor(() => expect(desk.lastCall("typing")).toEqual({ conversationId: "c1", typing: false }));
  });

  test("a pasted image is sent as a file, base64-encoded", async () => {
    const { desk, onsent, composer } = setup({
      send_file: message({ seq: null, client_msg_id: "f1", mine: true, delivery: "pending" }),
    });
    const file = new File([new Uint8Array([137, 80, 78, 71])], "shot.png", { type: "image/png" });
    const paste = new Event("paste", { bubbles: true, cancelable: true });
    Object.defineProperty(paste, "clipboardData", { value: { files: [file] } });
    composer.dispatchEvent(paste);
    await waitFor(() =>
      expect(desk.calls("send_file")).toEqual([
        { conversationId: "c1", fileName: "shot.png", mime: "image/png", dataBase64: "iVBORw==" },
      ]),
    );
    expect(paste.defaultPrevented, "the image must not also be pasted as text").toBe(true);
    await waitFor(() => expect(onsent).toHaveBeenCalled());
  });

  describe("dropping files", () => {
    const png = () => new File([new Uint8Array([137, 80, 78, 71])], "shot.png", { type: "image/png" });
    const pdf = () => new File([new Uint8Array([37, 80, 68, 70])], "receipt.pdf", { type: "application/pdf" });
    /** happy-dom has no way to fill a DataTransfer with files: a look-alike is enough. */
    const carrying = (files: File[], types = files.length ? ["Files"] : ["text/plain"]) => ({
      dataTransfer: { files, types, dropEffect: "none" },
    });
    const area = () => screen.getByTestId("composer-area");

    test("files dragged over the composer light it up; dropped, each is sent", async () => {
      const { desk, onsent } = setup({
        send_file: ({ fileName }: Record<string, unknown>) =>
          message({ seq: null, client_msg_id: String(fileName), mine: true, delivery: "pending" }),
      });
      const files = [png(), pdf()];
      await fireEvent.dragEnter(area(), carrying(files));
      expect(area()).toHaveClass("dropping");
      expect(screen.getByTestId("drop-hint")).toHaveTextContent("Drop files to send");
      // Over the textarea, a child: the composer still takes it.
      const over = new Event("dragover", { bubbles: true, cancelable: true });
      Object.defineProperty(over, "dataTransfer", { value: carrying(files).dataTransfer });
      screen.getByTestId("composer").dispatchEvent(over);
      expect(over.defaultPrevented, "a drag the page doesn't accept can't be dropped").toBe(true);

      await fireEvent.drop(area(), carrying(files));
      expect(screen.queryByTestId("drop-hint"), "the highlight goes with the drop").toBeNull();
      await waitFor(() => expect(onsent).toHaveBeenCalledTimes(2));
      expect(desk.calls("send_file")).toEqual([
        { conversationId: "c1", fileName: "shot.png", mime: "image/png", dataBase64: "iVBORw==" },
        { conversationId: "c1", fileName: "receipt.pdf", mime: "application/pdf", dataBase64: "JVBERg==" },
      ]);
    });

    test("dragging out again clears the highlight, also after crossing the composer's children", async () => {
      setup();
      const files = [png()];
      await fireEvent.dragEnter(area(), carrying(files));
      await fireEvent.dragEnter(screen.getByTestId("composer"), carrying(files));
      await fireEvent.dragLeave(area(), carrying(files));
      expect(screen.getByTestId("drop-hint"), "still over the textarea").toBeInTheDocument();
      await fireEvent.dragLeave(screen.getByTestId("composer"), carrying(files));
      expect(screen.queryByTestId("drop-hint")).toBeNull();
      expect(area()).not.toHaveClass("dropping");
    });

    test("a drag without files (text, a link) is left to the textarea", async () => {
      const { desk } = setup();
      await fireEvent.dragEnter(area(), carrying([]));
      expect(screen.queryByTestId("drop-hint")).toBeNull();
      const drop = new Event("drop", { bubbles: true, cancelable: true });
      Object.defineProperty(drop, "dataTransfer", { value: carrying([]).dataTransfer });
      area().dispatchEvent(drop);
      expect(drop.defaultPrevented, "dropped text goes into the reply as usual").toBe(false);
      expect(desk.calls("send_file")).toHaveLength(0);
    });

    test("a disabled composer takes no files", async () => {
      const { desk } = setup({}, "This conversation is closed.");
      await fireEvent.dragEnter(area(), carrying([png()]));
      expect(screen.queryByTestId("drop-hint")).toBeNull();
      await fireEvent.drop(area(), carrying([png()]));
      expect(desk.calls("send_file")).toHaveLength(0);
    });
  });

  test("a failed send keeps the words and says why", async () => {
    const { composer } = setup({
      send_text: () => {
        throw { code: "forbidden", message: "not your conversation" };
      },
    });
    await fireEvent.input(composer, { target: { value: "Keep me" } });
    await fireEvent.keyDown(composer, { key: "Enter" });
    expect(await screen.findByRole("alert")).toHaveTextContent("isn't allowed");
    expect(composer).toHaveValue("Keep me");
  });

  test("disabled with the reason when the agent can't write", () => {
    setup({}, "This conversation is closed.");
    expect(screen.getByTestId("composer")).toBeDisabled();
    expect(screen.getByTestId("send")).toBeDisabled();
    expect(screen.getByTestId("composer-disabled")).toHaveTextContent("This conversation is closed.");
  });
});
