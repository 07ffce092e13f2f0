// Entry point of widget.js: find our own <script> tag, start the protocol client, add one
// <kefu-widget> to the page and expose window.Kefu. Nothing here may throw into the shop's page.
import { ChatClient, safe, type IncomingMessage } from "./client/session";
import type { SocketCtor } from "./client/connection";
import { pickLang } from "./i18n";
import { KefuWidget } from "./ui/element";

export interface KefuApi {
  open(): void;
  close(): void;
  /** Resolves true when the shop's signature was accepted, false otherwise (never rejects). */
  identify(who: { customerId: string; name?: string; email?: string; signature: string }): Promise<boolean>;
  on(event: "message", cb: (m: IncomingMessage) => void): () => void;
  on(event: "open" | "close", cb: () => void): () => void;
}

declare global {
  interface Window {
    Kefu?: KefuApi;
  }
}

/** Must run while the script executes: document.currentScript is null in callbacks. */
function ownScript(): HTMLScriptElement | null {
  const cur = document.currentScript as HTMLScriptElement | null;
  if (cur?.dataset.site) return cur;
  return document.querySelector<HTMLScriptElement>('script[src*="widget.js"][data-site]');
}

export function boot(script: HTMLScriptElement | null): KefuApi | null {
  if (!script || window.Kefu) return null;
  const d = script.dataset;
  const site = d.site ?? "";
  if (!site) return null;
  const origin = new URL(script.src, location.href).origin;
  const client = new ChatClient({
    siteId: site,
    origin,
    group: d.group || undefined,
    productId: d.productId || undefined,
    orderId: d.orderId || undefined,
    storage: storage(),
    WebSocket: WebSocket as unknown as SocketCtor,
    events: window,
    page: () => ({ url: location.href, title: document.title }),
  });
  if (!customElements.get("kefu-widget")) customElements.define("kefu-widget", KefuWidget);
  const el = document.createElement("kefu-widget") as KefuWidget;
  el.setup({
    client,
    lang: pickLang(d.lang, document.documentElement.lang, navigator.language),
    mode: d.mode === "page" ? "page" : "launcher",
  });
  const attach = () => document.body.append(el);
  if (document.body) attach();
  else document.addEventListener("DOMContentLoaded", attach, { once: true });
  client.start();

  const api: KefuApi = {
    open: () => safe(() => el.open()),
    close: () => safe(() => el.close()),
    identify: (who) =>
      client.identify(who).then(
        () => true,
        () => false,
      ),
    on: (event: string, cb: (m: never) => void) => {
      if (event === "message") return client.on("message", cb as (m: IncomingMessage) => void);
      return el.onUi((e) => e === event && safe(() => (cb as () => void)()));
    },
  };
  window.Kefu = api;
  return api;
}

function storage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null; // blocked third-party storage: memory only
  }
}

const script = typeof document !== "undefined" ? ownScript() : null;
try {
  boot(script);
} catch (e) {
  console.error("[kefu] widget failed to start", e);
}
