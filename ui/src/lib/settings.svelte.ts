//! The agent's preferences as the app applies them: language and theme take effect the
//! moment they change, before (and whether or not) saving them succeeds.

import type { Settings, Theme } from "./bindings";
import { setLanguage } from "./i18n.svelte";

/** Used until the Rust side answers `settings()`. */
export const DEFAULT_SETTINGS: Settings = {
  notify_offers: true,
  notify_messages: true,
  sound: true,
  retention_days: 30,
  language: "auto",
  theme: "system",
  start_at_login: false,
};

export const prefs = $state<{ settings: Settings }>({ settings: { ...DEFAULT_SETTINGS } });

let stopFollowingSystem: (() => void) | null = null;

/** Sets `data-theme` on <html> to light or dark; "system" follows the OS and its changes. */
function applyTheme(theme: Theme): void {
  stopFollowingSystem?.();
  stopFollowingSystem = null;
  const root = document.documentElement;
  if (theme !== "system" || typeof window.matchMedia !== "function") {
    root.dataset.theme = theme === "dark" ? "dark" : "light";
    return;
  }
  const query = window.matchMedia("(prefers-color-scheme: dark)");
  const follow = () => (root.dataset.theme = query.matches ? "dark" : "light");
  follow();
  query.addEventListener("change", follow);
  stopFollowingSystem = () => query.removeEventListener("change", follow);
}

/** Makes `settings` current: language and theme change immediately. */
export function applySettings(settings: Settings): void {
  prefs.settings = { ...settings };
  setLanguage(settings.language);
  applyTheme(settings.theme);
}
