//! Keeping one conversation's messages in order while they arrive from three places at once:
//! history pages, live `message` events and the agent's own sends (`pending` until
//! `delivered`). Invariants every function here keeps:
//! - a message appears once: two copies are the same message when their `client_msg_id`
//!   or their `seq` match;
//! - confirmed messages (with a `seq`) come first, in `seq` order; pending ones follow in
//!   the order they were written.

import type { ChatMessage, DeliveryState } from "../lib/bindings";

/** How far along delivery is; a copy never moves a message backwards (read → sent). */
const PROGRESS: Record<DeliveryState, number> = { pending: 0, failed: 1, sent: 2, read: 3 };

function sameMessage(a: ChatMessage, b: ChatMessage): boolean {
  return a.client_msg_id === b.client_msg_id || (a.seq !== null && a.seq === b.seq);
}

/** Combines two copies of one message, keeping what each knows best. */
function combine(old: ChatMessage, incoming: ChatMessage): ChatMessage {
  const seq = incoming.seq ?? old.seq;
  const delivery = PROGRESS[incoming.delivery] >= PROGRESS[old.delivery] ? incoming.delivery : old.delivery;
  return { ...old, ...incoming, id: incoming.id ?? old.id, seq, delivery };
}

function bySeqThenPending(a: ChatMessage, b: ChatMessage): number {
  if (a.seq !== null && b.seq !== null) return a.seq - b.seq;
  if (a.seq !== null) return -1;
  if (b.seq !== null) return 1;
  return a.created_at - b.created_at;
}

/** Adds or updates messages; returns a new, ordered list without duplicates. */
export function upsertAll(list: readonly ChatMessage[], incoming: readonly ChatMessage[]): ChatMessage[] {
  const next = [...list];
  for (const msg of incoming) {
    const matches = next.filter((m) => sameMessage(m, msg));
    if (matches.length === 0) {
      next.push(msg);
      continue;
    }
    // Usually one match; two when a pending copy and its confirmed copy arrived separately.
    next[next.indexOf(matches[0])] = [...matches.slice(1), msg].reduce(combine, matches[0]);
    for (const dup of matches.slice(1)) next.splice(next.indexOf(dup), 1);
  }
  return next.sort(bySeqThenPending);
}

/** The server stored a pending message under `seq`. */
export function markDelivered(list: readonly ChatMessage[], clientMsgId: string, seq: number): ChatMessage[] {
  const pending = list.find((m) => m.client_msg_id === clientMsgId);
  if (!pending) return [...list];
  const delivery: DeliveryState = pending.delivery === "read" ? "read" : "sent";
  return upsertAll(list, [{ ...pending, seq, delivery }]);
}

/** The message could not be delivered; it stays visible, marked failed. */
export function markFailed(list: readonly ChatMessage[], clientMsgId: string): ChatMessage[] {
  return list.map((m) => (m.client_msg_id === clientMsgId ? { ...m, delivery: "failed" } : m));
}

/** The shopper has read everything up to `seq`: our sent messages up to it become read. */
export function markReadUpTo(list: readonly ChatMessage[], seq: number): ChatMessage[] {
  return list.map((m) =>
    m.mine && m.seq !== null && m.seq <= seq && m.delivery === "sent" ? { ...m, delivery: "read" } : m,
  );
}

/** The highest confirmed `seq`, or null when nothing is confirmed yet. */
export function lastSeq(list: readonly ChatMessage[]): number | null {
  let best: number | null = null;
  for (const m of list) if (m.seq !== null && (best === null || m.seq > best)) best = m.seq;
  return best;
}

/** The lowest confirmed `seq`: where the next older history page ends. */
export function oldestSeq(list: readonly ChatMessage[]): number | null {
  let best: number | null = null;
  for (const m of list) if (m.seq !== null && (best === null || m.seq < best)) best = m.seq;
  return best;
}
