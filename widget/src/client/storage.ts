// Per-site persistence in the shop's localStorage. Keys are shared by every tab of the
// site, which is how tabs agree on identity, conversation and outbox. Storage can be
// missing or throw (private mode, quota, sandboxed iframes): then state lives in memory
// only and the widget still works for this page load.

/** token: the visitor token; conv: the current conversation id; outbox: unacknowledged
 * messages; seen: highest seq the shopper has seen, per conversation (unread badge). */
export type Key = "token" | "conv" | "outbox" | "seen";

export class SiteStorage {
  readonly #mem = new Map<string, string>();

  readonly #ls: Storage | null;

  constructor(
    readonly siteId: string,
    ls: Storage | null,
  ) {
    this.#ls = ls;
  }

  /** Full localStorage key, so `storage` events can be matched back to a Key. */
  full(key: Key): string {
    return `kefu:${this.siteId}:${key}`;
  }

  get<T>(key: Key): T | null {
    let raw: string | null | undefined;
    try {
      raw = this.#ls?.getItem(this.full(key));
    } catch {
      raw = undefined;
    }
    if (raw === undefined) raw = this.#mem.get(key) ?? null;
    if (raw == null) return null;
    try {
      return JSON.parse(raw) as T;
    } catch {
      return null;
    }
  }

  set(key: Key, value: unknown): void {
    const raw = JSON.stringify(value);
    this.#mem.set(key, raw);
    try {
      if (value === null) this.#ls?.removeItem(this.full(key));
      else this.#ls?.setItem(this.full(key), raw);
    } catch {
      // memory copy above keeps this page working
    }
  }
}
