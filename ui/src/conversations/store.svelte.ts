//! The conversation list: which view and search are shown, its rows, and which conversation
//! is open. Rows are patched in place from desk events so the list never blanks or jumps.

import {
  commands,
  type ChatMessage,
  type ConversationSummary,
  type DeskError,
  type DeskEvent,
  type View,
} from "../lib/bindings";
import { t } from "../lib/i18n.svelte";
import { windowFocused } from "../lib/window-focus.svelte";

export const VIEWS: View[] = ["mine", "queue", "open", "closed"];

/** A one-line preview of a message for the list. */
export function previewOf(message: ChatMessage): string {
  switch (message.body.kind) {
    case "text":
    case "note":
    case "system":
      return message.body.text;
    case "attachment":
      return t("preview.attachment", { name: message.body.file_name });
    case "order_card":
      return t("preview.order_card", { title: message.body.title });
  }
}

function order(view: View): (a: ConversationSummary, b: ConversationSummary) => number {
  if (view === "queue") {
    // Offers first (they lapse), then longest-waiting first.
    return (a, b) => Number(b.state === "offered") - Number(a.state === "offered") || a.created_at - b.created_at;
  }
  return (a, b) => b.last_at - a.last_at;
}

export class ConversationStore {
  view = $state<View>("mine");
  query = $state("");
  items = $state<ConversationSummary[]>([]);
  loading = $state(false);
  error = $state<DeskError | null>(null);
  /** The conversation open in the chat pane; it may not be in the current view. */
  selectedId = $state<string | null>(null);
  /** The open conversation's latest summary, kept even when it leaves the list. */
  selected = $state<ConversationSummary | null>(null);

  /** Answers to superseded requests are dropped. */
  #generation = 0;

  /** Loads the current view and search, keeping the old rows on screen meanwhile. */
  async load(): Promise<void> {
    const generation = ++this.#generation;
    this.loading = true;
    const result = await commands.conversations(this.view, this.query.trim() || null);
    if (generation !== this.#generation) return;
    this.loading = false;
    if (result.status === "error") {
      this.error = result.error;
      return;
    }
    this.error = null;
    this.items = [...result.data].sort(order(this.view));
    this.#refreshSelected();
  }

  setView(view: View): Promise<void> {
    this.view = view;
    return this.load();
  }

  setQuery(query: string): Promise<void> {
    this.query = query;
    return this.load();
  }

  select(id: string | null): void {
    this.selectedId = id;
    this.selected = id === null ? null : (this.items.find((c) => c.id === id) ?? null);
    if (id !== null) this.#patch(id, (c) => ({ ...c, unread: 0 }));
  }

  /** Opens the row `delta` places below (or above) the open one. */
  move(delta: number): void {
    if (this.items.length === 0) return;
    const at = this.items.findIndex((c) => c.id === this.selectedId);
    const next = at === -1 ? (delta > 0 ? 0 : this.items.length - 1) : at + delta;
    if (next < 0 || next >= this.items.length) return;
    this.select(this.items[next].id);
  }

  /**
   * Opens a conversation wherever it is: the current view first, then mine, queue, open
   * and closed (without search). Returns false when no view lists it.
   */
  async reveal(id: string): Promise<boolean> {
    if (this.items.some((c) => c.id === id)) {
      this.select(id);
      return true;
    }
    for (const view of VIEWS) {
      const result = await commands.conversations(view, null);
      if (result.status === "ok" && result.data.some((c) => c.id === id)) {
        this.#generation++;
        this.view = view;
        this.query = "";
        this.loading = false;
        this.items = [...result.data].sort(order(view));
        this.select(id);
        return true;
      }
    }
    return false;
  }

  /** Removes a row now, before the server's update arrives (after declining an offer). */
  drop(id: string): void {
    this.items = this.items.filter((c) => c.id !== id);
  }

  /** Patches rows from a desk event. */
  apply(event: DeskEvent): void {
    switch (event.type) {
      case "conversation":
        this.#upsert(event.conversation);
        break;
      case "removed":
        this.items = this.items.filter((c) => c.id !== event.conversation_id);
        break;
      case "message":
        this.#onMessage(event.message);
        break;
      case "connection":
        // Back online: the server may have moved things while we were away.
        if (event.online) void this.load();
        break;
    }
  }

  #upsert(c: ConversationSummary): void {
    if (c.id === this.selectedId) this.selected = c;
    const rest = this.items.filter((row) => row.id !== c.id);
    // Which lists a row is in is decided in Rust (`View::of`) and sent with it.
    const wanted = c.views.includes(this.view) && this.#matchesQuery(c);
    this.items = wanted ? [...rest, c].sort(order(this.view)) : rest;
  }

  #onMessage(message: ChatMessage): void {
    const id = message.conversation_id;
    const reading = id === this.selectedId && windowFocused();
    const counts = message.sender === "shopper" && !reading;
    this.#patch(id, (c) => ({
      ...c,
      last_preview: message.body.kind === "note" ? c.last_preview : previewOf(message),
      last_at: Math.max(c.last_at, message.created_at),
      unread: counts ? c.unread + 1 : c.unread,
    }));
    if (this.view !== "queue") this.items = [...this.items].sort(order(this.view));
  }

  #patch(id: string, change: (c: ConversationSummary) => ConversationSummary): void {
    this.items = this.items.map((c) => (c.id === id ? change(c) : c));
    if (this.selected?.id === id) this.selected = change(this.selected);
  }

  #refreshSelected(): void {
    const fresh = this.items.find((c) => c.id === this.selectedId);
    if (fresh) this.selected = fresh;
  }

  /** A search is done by the Rust side over messages; a patched row stays if its name matches. */
  #matchesQuery(c: ConversationSummary): boolean {
    const query = this.query.trim().toLowerCase();
    if (!query) return true;
    const visible = this.items.some((row) => row.id === c.id);
    return visible || c.shopper_name.toLowerCase().includes(query) || c.last_preview.toLowerCase().includes(query);
  }
}
