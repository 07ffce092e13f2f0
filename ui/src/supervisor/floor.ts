//! What the floor view works out from a floor and the open conversations: which floor is
//! newer, who is who, which conversations breach, and the order rows are shown in.

import type { ConversationSummary, Floor, FloorBreach, SlaTarget } from "../lib/bindings";

/** A conversation an action is about, whether the floor knows it from a row or a breach. */
export interface Target {
  id: string;
  /** The shopper's name; empty when the desk has not seen it yet. */
  name: string;
  agentId: string | null;
  group: string;
  state: ConversationSummary["state"];
}

/** Frames replace each other; one fetched late must not undo a newer push. */
export function isNewer(next: Floor, current: Floor | null): boolean {
  return current === null || next.at_ms >= current.at_ms;
}

/** Agent id → display name. */
export function agentNames(floor: Floor | null): Map<string, string> {
  return new Map((floor?.agents ?? []).map((a) => [a.agent_id, a.display_name]));
}

/** Conversation id → the targets it is past (first response, resolution). */
export function breachTargets(floor: Floor | null): Map<string, SlaTarget[]> {
  const byConversation = new Map<string, SlaTarget[]>();
  for (const b of floor?.breaches ?? []) {
    byConversation.set(b.conversation_id, [...(byConversation.get(b.conversation_id) ?? []), b.target]);
  }
  return byConversation;
}

/** Breaching first (most urgent kind of trouble), then waiting longest, then oldest. */
export function sortRows(rows: ConversationSummary[], breaching: Map<string, SlaTarget[]>): ConversationSummary[] {
  const waiting = (c: ConversationSummary) => c.state === "queued" || c.state === "offered";
  return [...rows].sort(
    (a, b) =>
      Number(breaching.has(b.id)) - Number(breaching.has(a.id)) ||
      Number(waiting(b)) - Number(waiting(a)) ||
      a.created_at - b.created_at,
  );
}

/** A row patched from a `conversation` event: kept while open, dropped once closed. */
export function patchRows(rows: ConversationSummary[], c: ConversationSummary): ConversationSummary[] {
  const rest = rows.filter((row) => row.id !== c.id);
  return c.views.includes("open") ? [...rest, c] : rest;
}

export function rowTarget(c: ConversationSummary): Target {
  return { id: c.id, name: c.shopper_name, agentId: c.agent_id, group: c.group, state: c.state };
}

/** A breach as an action target, named from the rows when the desk has the conversation. */
export function breachTarget(b: FloorBreach, rows: ConversationSummary[]): Target {
  const row = rows.find((c) => c.id === b.conversation_id);
  if (row) return rowTarget(row);
  return {
    id: b.conversation_id,
    name: "",
    agentId: b.agent_id,
    group: b.group,
    state: b.agent_id === null ? "queued" : "assigned",
  };
}
