// A tiny element builder. Strings always become text nodes (that is what append() makes of
// them): nothing from the network is ever parsed as HTML.

type Attrs = Record<string, string | number | boolean | null | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Node | string | null | undefined | false)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? "" : (v as string)); // numbers are stringified
  }
  for (const c of children) if (c != null && c !== false) el.append(c);
  return el;
}

/** Only http(s) URLs may become links or image sources. */
export function safeUrl(raw: string): string | null {
  if (!raw) return null;
  try {
    const u = new URL(raw);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

export function link(href: string, ...children: (Node | string)[]): HTMLAnchorElement {
  return h("a", { href, target: "_blank", rel: "noopener noreferrer nofollow" }, ...children);
}

/** Append text, turning http(s) URLs into links and everything else into text nodes. */
export function richText(parent: HTMLElement, text: string): HTMLElement {
  const re = /\bhttps?:\/\/[^\s<>"'）」】]+/gi;
  let at = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    // Trailing punctuation usually ends the sentence, not the URL.
    const url = m[0].replace(/[.,;:!?)\]}'"。，！？]+$/, "");
    const safe = safeUrl(url);
    if (!safe) continue;
    parent.append(text.slice(at, m.index), link(safe, url));
    at = m.index + url.length;
    re.lastIndex = at;
  }
  parent.append(text.slice(at));
  return parent;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / 1024 / 1024).toFixed(n < 10 * 1024 * 1024 ? 1 : 0)} MB`;
}
