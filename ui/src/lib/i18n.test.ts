import { afterEach, describe, expect, test, vi } from "vitest";
import { language, localeTag, setLanguage, t, tParts } from "./i18n.svelte";
import { en } from "./locales/en";
import { zhCN } from "./locales/zh-CN";

afterEach(() => vi.unstubAllGlobals());

describe("i18n", () => {
  test("auto follows a Chinese OS language, whatever the region", () => {
    vi.stubGlobal("navigator", { language: "zh-TW" });
    setLanguage("auto");
    expect(language(), "any zh-* system language should pick Chinese").toBe("zh-CN");
    expect(t("signin.submit")).toBe("登录");
  });

  test("auto falls back to English and keeps the OS's regional English for dates", () => {
    vi.stubGlobal("navigator", { language: "en-GB" });
    setLanguage("auto");
    expect(language()).toBe("en");
    expect(localeTag(), "en-GB formats dates day-first").toBe("en-GB");
  });

  test("an explicit choice wins over the OS language and fills placeholders", () => {
    vi.stubGlobal("navigator", { language: "en-US" });
    setLanguage("zh-CN");
    expect(t("list.position", { position: 3 })).toBe("排队第 3 位");
    setLanguage("en");
    expect(t("list.position", { position: 3 })).toBe("#3 in queue");
  });

  test("a phrase is cut at its values, in the language's own word order", () => {
    setLanguage("en");
    expect(tParts("chat.typing", { name: "\u202Eevil" })).toEqual([
      { text: "\u202Eevil", value: true },
      { text: " is typing…", value: false },
    ]);
    setLanguage("zh-CN");
    expect(tParts("close.message", { name: "Li" }).map((p) => p.text).join("")).toBe(t("close.message", { name: "Li" }));
    expect(tParts("close.message", { name: "Li" })[1]).toEqual({ text: "Li", value: true });
    expect(tParts("chat.typing", {}), "a value not given stays as written").toEqual([
      { text: "{name} 正在输入…", value: false },
    ]);
  });

  test("every translation keeps the placeholders of the English text", () => {
    const placeholders = (text: string) => (text.match(/\{\w+\}/g) ?? []).sort().join();
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(placeholders(zhCN[key]), `zh-CN "${key}" must use the same {placeholders}`).toBe(placeholders(en[key]));
    }
  });
});
