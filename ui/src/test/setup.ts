import "@testing-library/jest-dom/vitest";
import { cleanup } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { afterEach, beforeEach } from "vitest";
import { forgetCannedReplies } from "../chat/canned";
import { applySettings, DEFAULT_SETTINGS } from "../lib/settings.svelte";
import { updates } from "../lib/updates.svelte";

beforeEach(() => {
  applySettings({ ...DEFAULT_SETTINGS, language: "en" });
});

// Unmount components (which unregister their event listeners) before the fake IPC goes.
afterEach(() => {
  cleanup();
  clearMocks();
  forgetCannedReplies();
  updates.reset();
});
