//! Whether the desk window has focus: messages shown while it does count as read, and the
//! Rust side is told (`focus`) so it doesn't notify about the chat the agent is looking at.

const state = $state({ focused: typeof document === "undefined" ? true : document.hasFocus() });

if (typeof window !== "undefined") {
  window.addEventListener("focus", () => (state.focused = true));
  window.addEventListener("blur", () => (state.focused = false));
}

/** True while the window has focus (reactive). */
export function windowFocused(): boolean {
  return state.focused;
}
