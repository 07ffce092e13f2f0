//! Canned replies: loaded once per session, filtered as the agent types "/…".

import { commands, type CannedReply } from "../lib/bindings";

let loading: Promise<CannedReply[]> | null = null;

/** The agent's canned replies; a failed load is retried next time. */
export function cannedReplies(): Promise<CannedReply[]> {
  loading ??= commands.cannedReplies().then((result) => {
    if (result.status === "ok") return result.data;
    loading = null;
    return [];
  });
  return loading;
}

/** Forgets the loaded list (after sign-out, or between tests). */
export function forgetCannedReplies(): void {
  loading = null;
}

/** What the agent is looking for when the composer holds only "/query", else null. */
export function cannedQuery(text: string): string | null {
  const match = /^\/([^\n]*)$/.exec(text);
  return match ? match[1].trim().toLowerCase() : null;
}

/** Replies whose shortcut or title contains the query; shortcut prefix matches first. */
export function filterCanned(replies: readonly CannedReply[], query: string): CannedReply[] {
  const q = query.toLowerCase();
  const hits = replies.filter(
    (r) => r.shortcut.toLowerCase().includes(q) || r.title.toLowerCase().includes(q),
  );
  const prefix = (r: CannedReply) => (r.shortcut.toLowerCase().startsWith(q) ? 0 : 1);
  return hits.sort((a, b) => prefix(a) - prefix(b));
}
