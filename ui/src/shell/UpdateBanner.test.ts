import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, test } from "vitest";
import { failure, fakeDesk, type Answer } from "../test/backend";
import UpdateBanner from "./UpdateBanner.svelte";

const SIGNATURE = "the update's signature does not verify against this build's key; it was not installed";

async function offered(answers: Record<string, Answer> = {}, notes: string | null = "Faster search.\nFixes.") {
  const desk = fakeDesk(answers);
  render(UpdateBanner);
  // The listener registers asynchronously; an event emitted before that would go unheard.
  await new Promise((resolve) => setTimeout(resolve));
  await desk.emit({ type: "update_available", update: { version: "1.4.0", notes } });
  return { desk, banner: await screen.findByTestId("update-banner") };
}

describe("update banner", () => {
  test("nothing shows until the desk hears of a newer build", async () => {
    fakeDesk();
    render(UpdateBanner);
    expect(screen.queryByTestId("update-banner")).toBeNull();
  });

  test("names the version, with the notes folded away as text", async () => {
    const { banner } = await offered({}, "<b>Faster</b> search");
    expect(banner).toHaveTextContent("Kefu 1.4.0 is available");
    const notes = screen.getByTestId("update-notes");
    expect(notes.closest("details"), "folded until asked for").not.toHaveAttribute("open");
    expect(notes.textContent).toBe("<b>Faster</b> search");
    expect(banner.querySelector("b")).toBeNull();
  });

  test("installing shows progress and can't be started twice", async () => {
    let finish: (value: unknown) => void = () => {};
    const { desk } = await offered({ install_update: () => new Promise((resolve) => (finish = resolve)) });
    await fireEvent.click(screen.getByTestId("update-install"));
    expect(screen.getByTestId("update-progress")).toHaveTextContent("Downloading and installing…");
    expect(screen.getByTestId("update-install")).toBeDisabled();
    expect(screen.getByTestId("update-dismiss")).toBeDisabled();
    await fireEvent.click(screen.getByTestId("update-install"));
    expect(desk.calls("install_update")).toHaveLength(1);
    finish(null);
    // Installed: the Rust side restarts the app, so the banner just stays busy.
    await waitFor(() => expect(screen.getByTestId("update-install")).toBeDisabled());
  });

  test("a build whose signature does not verify is refused: the banner stays and says why", async () => {
    await offered({
      install_update: () => {
        throw failure("invalid", SIGNATURE);
      },
    });
    await fireEvent.click(screen.getByTestId("update-install"));
    const error = await screen.findByTestId("update-error");
    expect(error).toHaveTextContent(SIGNATURE);
    expect(error).toHaveAttribute("role", "alert");
    expect(screen.getByTestId("update-banner")).toBeInTheDocument();
    expect(screen.getByTestId("update-install"), "the agent may try again").toBeEnabled();
    expect(screen.queryByTestId("update-progress")).toBeNull();
  });

  test("dismissed, the same version stays away; a newer one shows again", async () => {
    const { desk } = await offered();
    await fireEvent.click(screen.getByTestId("update-dismiss"));
    expect(screen.queryByTestId("update-banner")).toBeNull();
    await desk.emit({ type: "update_available", update: { version: "1.4.0", notes: null } });
    expect(screen.queryByTestId("update-banner"), "the periodic check doesn't nag").toBeNull();
    await desk.emit({ type: "update_available", update: { version: "1.5.0", notes: null } });
    expect(await screen.findByTestId("update-banner")).toHaveTextContent("Kefu 1.5.0 is available");
  });
});
