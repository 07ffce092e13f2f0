//! What to tell the agent when a conversation leaves them (`removed` events).

import { t } from "../lib/i18n.svelte";

/** A sentence for a removal reason; reasons we don't know are shown as the server wrote them. */
export function removalNotice(reason: string): string {
  switch (reason) {
    case "transferred":
      return t("removed.transferred");
    case "taken":
    case "accepted_elsewhere":
      return t("removed.taken");
    case "offer_expired":
    case "expired":
      return t("removed.offer_expired");
    case "declined":
      return t("removed.declined");
    case "closed":
      return t("removed.closed");
    default:
      return t("removed.other", { reason });
  }
}
