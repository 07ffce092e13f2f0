//! The active language. `t(key)` reads reactive state, so every string on screen follows a
//! language switch at once. English is the reference: `MessageKey` is its key set and each
//! other locale must provide every key (a missing one fails `npm run check`).

import type { Language } from "./bindings";
import { en, type MessageKey } from "./locales/en";
import { zhCN } from "./locales/zh-CN";

export type { MessageKey };
/** The languages the desk is translated into. */
export type UiLanguage = "en" | "zh-CN";

const catalogs: Record<UiLanguage, Record<MessageKey, string>> = { en, "zh-CN": zhCN };

const active = $state<{ language: UiLanguage; tag: string }>({ language: "en", tag: "en" });

/** The OS language as the webview reports it. */
function systemLanguage(): string {
  return typeof navigator === "undefined" ? "en" : navigator.language || "en";
}

/** Follows the setting; "auto" picks Chinese for any zh-* OS language, English otherwise. */
export function setLanguage(setting: Language): void {
  const system = systemLanguage();
  const language: UiLanguage =
    setting === "auto" ? (system.toLowerCase().startsWith("zh") ? "zh-CN" : "en") : setting;
  active.language = language;
  // Keep the OS's regional English (en-GB dates) when it is English we show.
  active.tag = language === "en" && system.toLowerCase().startsWith("en") ? system : language;
  if (typeof document !== "undefined") document.documentElement.lang = language;
}

/** The language strings are shown in. */
export function language(): UiLanguage {
  return active.language;
}

/** The BCP 47 tag for `Intl` formatters. */
export function localeTag(): string {
  return active.tag;
}

function template(key: MessageKey): string {
  return catalogs[active.language][key] ?? en[key];
}

/** The string for `key`, with `{name}` placeholders filled from `params`. */
export function t(key: MessageKey, params?: Record<string, string | number>): string {
  const text = template(key);
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** One run of a translated string: the translation's own words, or a value filled in. */
export interface PhrasePart {
  text: string;
  /** A value from `params` (a name, an id), which markup may set apart. */
  value: boolean;
}

/** `t(key, params)` cut at the placeholders, for markup that isolates the values (Phrase.svelte). */
export function tParts(key: MessageKey, params: Record<string, string | number>): PhrasePart[] {
  const text = template(key);
  const parts: PhrasePart[] = [];
  let at = 0;
  for (const match of text.matchAll(/\{(\w+)\}/g)) {
    const start = match.index ?? 0;
    if (!(match[1] in params)) continue;
    if (start > at) parts.push({ text: text.slice(at, start), value: false });
    parts.push({ text: String(params[match[1]]), value: true });
    at = start + match[0].length;
  }
  if (at < text.length) parts.push({ text: text.slice(at), value: false });
  return parts;
}
