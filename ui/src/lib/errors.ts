//! Turning a `DeskError` into a sentence for the agent. Branches on `code` only; the
//! server's `message` is shown as detail, never parsed.

import type { DeskError } from "./bindings";
import { t } from "./i18n.svelte";

/** What went wrong and, where we know, what to do about it. */
export function describeError(error: DeskError, context: { serverUrl?: string } = {}): string {
  switch (error.code) {
    case "bad_credentials":
      return t("error.bad_credentials");
    case "unreachable":
      return context.serverUrl ? t("error.unreachable_at", { url: context.serverUrl }) : t("error.unreachable");
    case "session_expired":
    case "not_signed_in":
      return t("error.session_expired");
    case "forbidden":
      return t("error.forbidden");
    case "not_found":
      return t("error.not_found");
    case "conflict":
      return t("error.conflict", { detail: error.message });
    case "invalid":
      return t("error.invalid", { detail: error.message });
    case "internal":
      return t("error.internal", { detail: error.message });
  }
}
