// Messages the shopper wrote that the server has not acknowledged yet. Kept in
// localStorage so a refresh or a crash loses nothing, and shared by the site's tabs: a
// message may be sent by two tabs, which is safe because client_msg_id makes it idempotent.
import type { SiteStorage } from "./storage";

export type OutBody =
  | { text: string }
  | { attachment: { id: string; name: string; type: string; size: number } };

export interface OutItem {
  /** The client_msg_id. */
  id: string;
  body: OutBody;
  /** When typed (ms since epoch): pending messages show in this order. */
  at: number;
  /** Error code when the server refused it for good; the shopper may retry. */
  failed?: string;
}

export class Outbox {
  readonly #store: SiteStorage;

  constructor(store: SiteStorage) {
    this.#store = store;
  }

  /** Always re-read: another tab may have added or acknowledged items. */
  list(): OutItem[] {
    const v = this.#store.get<OutItem[]>("outbox");
    return Array.isArray(v) ? v.filter((i) => i && typeof i.id === "string" && i.body) : [];
  }

  add(item: OutItem): void {
    this.#write([...this.list().filter((i) => i.id !== item.id), item]);
  }

  /** Acknowledged (or stored as seen from another tab): forget it. */
  remove(id: string): void {
    const items = this.list();
    const rest = items.filter((i) => i.id !== id);
    if (rest.length !== items.length) this.#write(rest);
  }

  setFailed(id: string, code: string | undefined): void {
    this.#write(this.list().map((i) => (i.id === id ? { ...i, failed: code } : i)));
  }

  #write(items: OutItem[]): void {
    this.#store.set("outbox", items.length ? items : null);
  }
}
