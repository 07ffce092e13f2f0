import { describe, expect, test } from "vitest";
import { webAddress } from "./urls";

describe("web addresses", () => {
  test("http and https addresses are shown as they came", () => {
    expect(webAddress("https://shop.test/p/42?c=红")).toBe("https://shop.test/p/42?c=红");
    expect(webAddress("http://shop.test")).toBe("http://shop.test");
  });

  test.each([
    "javascript:alert(1)",
    " JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "file:///etc/passwd",
    "kefu://conversation/1",
    "//shop.test/p/42",
    "not a url",
    "",
    null,
  ])("%j is not a web page, so it is not shown at all", (raw) => {
    expect(webAddress(raw)).toBeNull();
  });

  test("a right-to-left override cannot disguise an address", () => {
    expect(webAddress("https://shop.test/\u202Egpj.exe"), "shown encoded, not reversed").toBe(
      "https://shop.test/%E2%80%AEgpj.exe",
    );
  });
});
