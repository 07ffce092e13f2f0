// The message list: one element per message, kept across renders by key so a message
// going pending → sent → read keeps its place, and only changed ones are rebuilt.
import type { ViewMessage } from "../client/timeline";
import type { Strings } from "../i18n";
import { orderCard, productCard, returnCard } from "./cards";
import { bytes, h, richText } from "./dom";

export interface MessageCtx {
  t: Strings;
  lang: string;
  /** Object URL of an attachment's bytes (fetched with the visitor token), cached. */
  blobUrl(id: string): Promise<string>;
  retry(clientMsgId: string): void;
}

function content(m: ViewMessage, ctx: MessageCtx): HTMLElement | null | undefined {
  const { t, lang } = ctx;
  const b = m.body;
  switch (b.case) {
    case "text":
    case "system":
      return richText(h("div", { "data-testid": "message-text" }), b.value.text);
    case "productCard":
      return productCard(b.value, lang);
    case "orderCard":
      return orderCard(b.value, t, lang);
    case "returnCard":
      return returnCard(b.value, t, lang);
    case "attachment": {
      const a = b.value;
      const id = a.attachmentId;
      if (a.contentType.startsWith("image/")) {
        const img = h("img", { class: "att-img", alt: a.fileName });
        const wrap = h("a", { target: "_blank", rel: "noopener noreferrer" }, img);
        ctx.blobUrl(id).then((u) => {
          img.src = wrap.href = u;
        }, () => img.replaceWith(a.fileName));
        return wrap;
      }
      const file = h("a", { class: "file", href: "#" }, "📄 ", h("b", {}, a.fileName), ` ${bytes(Number(a.sizeBytes))}`);
      // The bytes need the visitor token, so a plain href cannot fetch them.
      file.onclick = (e) => {
        e.preventDefault();
        ctx.blobUrl(id).then((u) => h("a", { href: u, download: a.fileName || "file" }).click(), () => undefined);
      };
      return file;
    }
  }
  // Private notes never reach shoppers; unknown kinds from a newer server are skipped.
  return null;
}

export function messageEl(m: ViewMessage, showName: boolean, ctx: MessageCtx): HTMLElement | null {
  const body = content(m, ctx);
  if (!body) return null;
  const { t } = ctx;
  const mine = m.sender === "shopper";
  const side = mine ? "mine" : m.sender === "system" ? "sys" : "theirs";
  const el = h(
    "div",
    {
      class: `msg ${side}`,
      "data-testid": "message",
      "data-sender": m.sender,
      "data-seq": m.seq || null,
      "data-client-msg-id": mine && m.clientMsgId,
      "data-status": mine && m.status,
    },
    showName && m.name && h("div", { class: "name" }, m.name),
    h("div", { class: body.tagName === "DIV" && !body.className ? "bubble" : "bubble bare" }, body),
  );
  if (side === "sys") return el;
  let time = "";
  try {
    time = new Date(m.at).toLocaleTimeString(ctx.lang, { hour: "2-digit", minute: "2-digit" });
  } catch {
    // an odd host locale: no time rather than no message
  }
  const meta = el.appendChild(h("div", { class: "meta" }, time));
  if (mine && m.status) {
    meta.append(h("span", { class: m.status }, ` · ${t[m.status]}`));
    if (m.status === "failed") {
      const retry = meta.appendChild(h("button", { class: "retry" }, t.retry));
      retry.onclick = () => ctx.retry(m.clientMsgId);
    }
  }
  return el;
}

export class MessageList {
  readonly #els = new Map<string, { sig: string; el: HTMLElement }>();

  constructor(
    readonly root: HTMLElement,
    readonly ctx: MessageCtx,
  ) {}

  render(list: ViewMessage[]): void {
    const keep = new Set<string>();
    let prev: Element | null = null;
    let prevSender = "";
    for (const m of list) {
      const who = m.sender + m.name;
      const showName = (m.sender === "agent" || m.sender === "bot") && who !== prevSender;
      prevSender = who;
      const sig = `${m.seq}|${m.conv}|${m.status}|${showName}`;
      let rec = this.#els.get(m.key);
      if (rec?.sig !== sig) {
        const el = messageEl(m, showName, this.ctx);
        if (!el) continue;
        rec?.el.replaceWith(el);
        this.#els.set(m.key, (rec = { sig, el }));
      }
      keep.add(m.key);
      const want: Element | null = prev ? prev.nextElementSibling : this.root.firstElementChild;
      if (want !== rec.el) this.root.insertBefore(rec.el, want);
      prev = rec.el;
    }
    for (const [k, rec] of this.#els) {
      if (!keep.has(k)) {
        rec.el.remove();
        this.#els.delete(k);
      }
    }
  }
}
