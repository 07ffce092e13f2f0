// Product, order and return cards. Every field is shop data: text only, and URLs only
// when they are http(s).
import type { OrderCard, ProductCard, ReturnCard } from "../gen/kefu/v1/message_pb";
import type { Strings } from "../i18n";
import { h, link, safeUrl } from "./dom";

export function money(minor: bigint, currency: string, lang: string): string {
  try {
    const f = new Intl.NumberFormat(lang, { style: "currency", currency });
    return f.format(Number(minor) / 10 ** (f.resolvedOptions().maximumFractionDigits ?? 2));
  } catch {
    return `${(Number(minor) / 100).toFixed(2)} ${currency}`;
  }
}

const line = (...parts: (string | false)[]) => h("div", { class: "card-line" }, parts.filter(Boolean).join(" · "));
const head = (title: string, status: string) => h("div", {}, h("b", {}, title), status && h("span", { class: "pill" }, status));

export function productCard(p: ProductCard, lang: string): HTMLElement {
  const img = safeUrl(p.imageUrl);
  const url = safeUrl(p.url);
  const card = url ? link(url) : h("div");
  card.className = "card";
  card.setAttribute("data-testid", "card-product");
  if (img) card.append(h("img", { src: img, alt: "", loading: "lazy", referrerpolicy: "no-referrer" }));
  card.append(head(p.title || p.productId, ""));
  if (p.currency) card.append(h("div", { class: "card-price" }, money(p.priceMinor, p.currency, lang)));
  return card;
}

export function orderCard(o: OrderCard, t: Strings, lang: string): HTMLElement {
  const track = safeUrl(o.trackingUrl);
  const placed = o.placedAtMs ? new Date(Number(o.placedAtMs)).toLocaleDateString(lang) : "";
  return h(
    "div",
    { class: "card", "data-testid": "card-order" },
    head(t.order(o.orderId), o.status),
    line(t.items(o.itemCount), !!o.currency && money(o.totalMinor, o.currency, lang), placed),
    track && h("div", {}, link(track, t.track)),
  );
}

export function returnCard(r: ReturnCard, t: Strings, lang: string): HTMLElement {
  return h(
    "div",
    { class: "card", "data-testid": "card-return" },
    head(t.returnOf(r.returnId), r.status),
    line(!!r.orderId && t.forOrder(r.orderId), t.items(r.itemCount)),
    !!r.currency && line(`${t.refund}: ${money(r.refundMinor, r.currency, lang)}`),
  );
}
