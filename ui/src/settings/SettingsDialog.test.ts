import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, test, vi } from "vitest";
import { DEFAULT_SETTINGS, prefs } from "../lib/settings.svelte";
import { updates } from "../lib/updates.svelte";
import { fails, fakeDesk, type Answer } from "../test/backend";
import SettingsDialog from "./SettingsDialog.svelte";

function open(answers: Record<string, Answer> = {}) {
  const desk = fakeDesk(answers);
  render(SettingsDialog, { onclose: vi.fn() });
  return desk;
}

describe("settings", () => {
  test("starting at login is off until the agent opts in, and is saved with the rest", async () => {
    const desk = open();
    const box = screen.getByTestId("setting-start-at-login");
    expect(box).not.toBeChecked();
    expect(box.closest("label")).toHaveTextContent("Start Kefu when I log in to the computer");
    await fireEvent.click(box);
    await waitFor(() =>
      expect(desk.lastCall("save_settings"), "saved whole, the others unchanged").toEqual({
        settings: { ...DEFAULT_SETTINGS, language: "en", start_at_login: true },
      }),
    );
    expect(prefs.settings.start_at_login).toBe(true);
  });

  test("a refused save says so", async () => {
    open({ save_settings: fails("internal", "read-only home") });
    await fireEvent.click(screen.getByTestId("setting-start-at-login"));
    expect(await screen.findByRole("alert")).toHaveTextContent("Couldn't save settings");
  });
});

describe("checking for updates", () => {
  test("no newer build: says this is the latest", async () => {
    const desk = open();
    await fireEvent.click(screen.getByTestId("update-check"));
    expect(await screen.findByTestId("update-check-result")).toHaveTextContent("You have the latest version");
    expect(desk.calls("check_update")).toHaveLength(1);
    expect(updates.shown, "no banner").toBe(false);
  });

  test("a newer build: names it and raises the desk's banner, even one dismissed before", async () => {
    updates.offer({ version: "1.4.0", notes: null });
    updates.dismiss();
    open({ check_update: { version: "1.4.0", notes: "Faster search" } });
    await fireEvent.click(screen.getByTestId("update-check"));
    expect(await screen.findByTestId("update-check-result")).toHaveTextContent("Kefu 1.4.0 is available");
    expect(updates.shown, "asking again shows what was dismissed").toBe(true);
    expect(updates.available).toEqual({ version: "1.4.0", notes: "Faster search" });
  });

  test("the button waits for the answer, and a failure says why", async () => {
    let answer: (value: unknown) => void = () => {};
    open({ check_update: () => new Promise((resolve) => (answer = resolve)) });
    await fireEvent.click(screen.getByTestId("update-check"));
    expect(screen.getByTestId("update-check")).toBeDisabled();
    expect(screen.getByTestId("update-check")).toHaveTextContent("Checking…");
    answer(Promise.reject({ code: "unreachable", message: "connection refused" }));
    const result = await screen.findByTestId("update-check-result");
    expect(result).toHaveTextContent("Couldn't check for updates: Can't reach the server");
    expect(result).toHaveAttribute("role", "alert");
    expect(screen.getByTestId("update-check")).toBeEnabled();
  });
});
