//! A fake Rust side for component tests: answers commands through Tauri's own IPC mock, so
//! every call goes through bindings.ts → invoke exactly as in the app, and emits desk events
//! through the mocked event plugin.

import { emit } from "@tauri-apps/api/event";
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import type { DeskError, DeskErrorCode, DeskEvent } from "../lib/bindings";
import { DEFAULT_SETTINGS } from "../lib/settings.svelte";

/** A command's answer: a value, or a function of the command's arguments (which may throw). */
export type Answer = unknown | ((args: Record<string, unknown>) => unknown);

/** What the fake answers when a test doesn't say. */
const DEFAULTS: Record<string, unknown> = {
  session: { server_url: null, username: null, agent: null, status: "online", notice: null },
  settings: DEFAULT_SETTINGS,
  conversations: [],
  history: { messages: [], has_more: false },
  customer_view: null,
  canned_replies: [],
  transfer_targets: { groups: [], agents: [] },
  // The agent cancelled the save dialog.
  save_attachment: null,
  // Started without a `kefu://` link.
  opened_with: null,
  // This build is the newest.
  check_update: null,
  // Installed; the real app would restart now.
  install_update: null,
};

export interface FakeDesk {
  /** Arguments of each call to `command`, oldest first. */
  calls(command: string): Record<string, unknown>[];
  /** Arguments of the latest call to `command`. */
  lastCall(command: string): Record<string, unknown> | undefined;
  /** Delivers a desk event to every listener. */
  emit(event: DeskEvent): Promise<void>;
}

/** Installs the fake; `answers` are keyed by the Rust command name (`sign_in`, `history`…). */
export function fakeDesk(answers: Record<string, Answer> = {}): FakeDesk {
  const log: { command: string; args: Record<string, unknown> }[] = [];
  mockWindows("main");
  mockIPC(
    (command, payload) => {
      const args = (payload ?? {}) as Record<string, unknown>;
      log.push({ command, args });
      const answer = command in answers ? answers[command] : (DEFAULTS[command] ?? null);
      return typeof answer === "function" ? answer(args) : structuredClone(answer);
    },
    { shouldMockEvents: true },
  );
  return {
    calls: (command) => log.filter((c) => c.command === command).map((c) => c.args),
    lastCall: (command) => log.filter((c) => c.command === command).pop()?.args,
    emit: (event) => emit("desk-event", event),
  };
}

/** Throw this from an answer to make the command fail the way the Rust side does. */
export function failure(code: DeskErrorCode, message: string = code): DeskError {
  return { code, message };
}

/** An answer that fails with `code`. */
export function fails(code: DeskErrorCode, message: string = code): () => never {
  return () => {
    throw failure(code, message);
  };
}
