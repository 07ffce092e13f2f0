import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, test } from "vitest";
import { setLanguage } from "../lib/i18n.svelte";
import { failure, fakeDesk, type Answer } from "../test/backend";
import AttachmentView from "./AttachmentView.svelte";

function show(answers: Record<string, Answer> = {}) {
  const desk = fakeDesk(answers);
  render(AttachmentView, { attachmentId: "at2", fileName: "receipt.pdf", mime: "application/pdf", size: 4096 });
  return desk;
}

describe("saving an attachment", () => {
  test("Save… asks the Rust side (which opens the save dialog), then says where it went", async () => {
    const desk = show({ save_attachment: "/home/alice/Downloads/receipt.pdf" });
    const button = screen.getByTestId("attachment-save");
    expect(button).toHaveTextContent("Save…");
    expect(button).toHaveAccessibleName("Save receipt.pdf…");
    await fireEvent.click(button);
    const saved = await screen.findByTestId("attachment-saved");
    expect(saved).toHaveTextContent("Saved");
    expect(saved, "the path is there for whoever wants it").toHaveAttribute(
      "title",
      "/home/alice/Downloads/receipt.pdf",
    );
    expect(desk.calls("save_attachment")).toEqual([{ attachmentId: "at2", fileName: "receipt.pdf" }]);
  });

  test("cancelling the save dialog says nothing", async () => {
    const desk = show();
    await fireEvent.click(screen.getByTestId("attachment-save"));
    await waitFor(() => expect(desk.calls("save_attachment")).toHaveLength(1));
    await waitFor(() => expect(screen.getByTestId("attachment-save")).toBeEnabled());
    expect(screen.queryByTestId("attachment-saved")).toBeNull();
    expect(screen.queryByRole("alert")).toBeNull();
  });

  test("a failed save says why, and a retry that works replaces the error", async () => {
    let full = true;
    show({
      save_attachment: () => {
        if (full) throw failure("internal", "disk full");
        return "/tmp/receipt.pdf";
      },
    });
    await fireEvent.click(screen.getByTestId("attachment-save"));
    expect(await screen.findByTestId("attachment-save-error")).toHaveTextContent(
      "Couldn't save: Something went wrong on our side: disk full",
    );
    full = false;
    await fireEvent.click(screen.getByTestId("attachment-save"));
    await screen.findByTestId("attachment-saved");
    expect(screen.queryByTestId("attachment-save-error")).toBeNull();
  });

  test("the button speaks Chinese too", () => {
    setLanguage("zh-CN");
    show();
    expect(screen.getByTestId("attachment-save")).toHaveTextContent("保存…");
  });
});
