//! The desk's sections and who sees which: every agent chats and searches; the floor and
//! reports are for supervisors and admins (the server refuses the rest anyway).

import type { Role } from "../lib/bindings";
import type { MessageKey } from "../lib/i18n.svelte";

export type Section = "chats" | "floor" | "reports" | "search";

export const SECTION_LABELS: Record<Section, MessageKey> = {
  chats: "supervisor.section.chats",
  floor: "supervisor.section.floor",
  reports: "supervisor.section.reports",
  search: "supervisor.section.search",
};

/** Whether this role supervises (sees the floor and reports). */
export function supervises(role: Role): boolean {
  return role === "supervisor" || role === "admin";
}

/** The sections a role sees, in tab order. */
export function sectionsFor(role: Role): Section[] {
  return supervises(role) ? ["chats", "floor", "reports", "search"] : ["chats", "search"];
}
