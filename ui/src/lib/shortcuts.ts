//! The desk's keyboard shortcuts: one table, read by the key handler and by the help list.

import type { MessageKey } from "./i18n.svelte";

export type ShortcutAction = "next" | "previous" | "accept" | "close" | "search";

/** Shown in settings and the help tooltip; `keys` are written the same in every language. */
export const SHORTCUT_HELP: { keys: string; label: MessageKey }[] = [
  { keys: "Alt+↓", label: "shortcut.next" },
  { keys: "Alt+↑", label: "shortcut.previous" },
  { keys: "Ctrl+Shift+A", label: "shortcut.accept" },
  { keys: "Enter", label: "shortcut.send" },
  { keys: "Shift+Enter", label: "shortcut.newline" },
  { keys: "/", label: "shortcut.canned" },
  { keys: "Ctrl+Shift+E", label: "shortcut.close" },
  { keys: "Ctrl+K", label: "shortcut.search" },
];

/**
 * The desk-wide action a key press asks for, if any. Keys typed into an input method
 * (Chinese, Japanese…) belong to the composition and never trigger anything.
 */
export function shortcutFor(event: KeyboardEvent): ShortcutAction | null {
  if (event.isComposing) return null;
  const key = event.key.toLowerCase();
  const ctrl = event.ctrlKey || event.metaKey;
  if (event.altKey && !ctrl && !event.shiftKey) {
    if (key === "arrowdown") return "next";
    if (key === "arrowup") return "previous";
  }
  if (ctrl && event.shiftKey && !event.altKey) {
    if (key === "a") return "accept";
    if (key === "e") return "close";
  }
  if (ctrl && !event.shiftKey && !event.altKey && key === "k") return "search";
  return null;
}

/** Enter without Shift, outside an input method composition: send the message. */
export function isSendKey(event: KeyboardEvent): boolean {
  // keyCode 229 is what WebKit reports for keys an IME is handling, even when isComposing
  // is already false on the Enter that ends the composition.
  return event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229;
}
