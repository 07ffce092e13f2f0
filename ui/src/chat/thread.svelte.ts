//! One open conversation's messages: the latest history page, older pages on demand, live
//! events and the agent's own sends, merged by `merge.ts` so nothing shows twice.

import { commands, type ChatMessage, type DeskError, type DeskEvent } from "../lib/bindings";
import { lastSeq, markDelivered, markFailed, markReadUpTo, oldestSeq, upsertAll } from "./merge";

/** A typing indicator whose "stopped" event got lost goes away after this long. */
const TYPING_TIMEOUT_MS = 8000;

export class Thread {
  messages = $state<ChatMessage[]>([]);
  hasMore = $state(false);
  loaded = $state(false);
  loadingOlder = $state(false);
  error = $state<DeskError | null>(null);
  /** Why a message failed, by `client_msg_id` (from `undeliverable` events). */
  failures = $state<Record<string, string>>({});
  shopperTyping = $state(false);

  readonly id: string;
  #typingTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(id: string) {
    this.id = id;
  }

  get lastSeq(): number | null {
    return lastSeq(this.messages);
  }

  /** The newest page, with the outbox's pending messages last. */
  async loadLatest(): Promise<void> {
    const result = await commands.history(this.id, null);
    if (result.status === "error") {
      this.error = result.error;
      return;
    }
    this.error = null;
    this.messages = upsertAll(this.messages, result.data.messages);
    this.hasMore = result.data.has_more;
    this.loaded = true;
  }

  /** The page before the oldest message shown; false when there was nothing to load. */
  async loadOlder(): Promise<boolean> {
    const before = oldestSeq(this.messages);
    if (!this.hasMore || this.loadingOlder || before === null) return false;
    this.loadingOlder = true;
    try {
      const result = await commands.history(this.id, before);
      if (result.status === "error") {
        this.error = result.error;
        return false;
      }
      this.messages = upsertAll(this.messages, result.data.messages);
      this.hasMore = result.data.has_more;
      return result.data.messages.length > 0;
    } finally {
      this.loadingOlder = false;
    }
  }

  /**
   * Forgets all but the newest `keep` messages, so a chat the agent scrolled far back in
   * doesn't keep every page mounted once they are back at the bottom; the pages come back
   * from the cache on the way up. Never while an older page is loading: it would land
   * beyond a gap.
   */
  trim(keep: number): void {
    if (!this.loaded || this.loadingOlder || this.messages.length <= keep) return;
    this.messages = this.messages.slice(-keep);
    this.hasMore = true;
  }

  /** A message this desk just sent (usually still pending). */
  add(message: ChatMessage): void {
    this.messages = upsertAll(this.messages, [message]);
  }

  apply(event: DeskEvent): void {
    switch (event.type) {
      case "message":
        if (event.message.conversation_id !== this.id) return;
        // Older than what is shown while more is left to page in: paging brings it, in
        // place; adding it now would leave a gap that paging would then skip.
        if (this.#beforeShown(event.message)) return;
        this.messages = upsertAll(this.messages, [event.message]);
        if (event.message.sender === "shopper") this.#setTyping(false);
        break;
      case "delivered":
        if (event.conversation_id !== this.id) return;
        this.messages = markDelivered(this.messages, event.client_msg_id, event.seq);
        break;
      case "undeliverable":
        if (event.conversation_id !== this.id) return;
        this.messages = markFailed(this.messages, event.client_msg_id);
        this.failures = { ...this.failures, [event.client_msg_id]: event.reason };
        break;
      case "read":
        if (event.conversation_id !== this.id) return;
        this.messages = markReadUpTo(this.messages, event.seq);
        break;
      case "typing":
        if (event.conversation_id !== this.id) return;
        this.#setTyping(event.typing);
        break;
    }
  }

  dispose(): void {
    clearTimeout(this.#typingTimer);
  }

  #beforeShown(message: ChatMessage): boolean {
    const oldest = oldestSeq(this.messages);
    return this.hasMore && message.seq !== null && oldest !== null && message.seq < oldest;
  }

  #setTyping(typing: boolean): void {
    clearTimeout(this.#typingTimer);
    this.shopperTyping = typing;
    if (typing) this.#typingTimer = setTimeout(() => (this.shopperTyping = false), TYPING_TIMEOUT_MS);
  }
}
