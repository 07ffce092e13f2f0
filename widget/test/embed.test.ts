// The embed: one <kefu-widget> from the script tag's data attributes, and window.Kefu.
import { afterEach, expect, it, vi } from "vitest";
import { boot } from "../src/embed";
import { FakeServer, settle } from "./fake-server";

afterEach(() => {
  document.querySelectorAll("kefu-widget, script").forEach((e) => e.remove());
  delete window.Kefu;
  vi.unstubAllGlobals();
});

it("adds one widget, connects to the script's origin and exposes window.Kefu", async () => {
  const server = new FakeServer();
  vi.stubGlobal("WebSocket", server.Socket);
  vi.stubGlobal("fetch", server.fetch);
  const script = document.createElement("script");
  script.src = "https://kefu.example.com/widget.js";
  script.dataset.site = "s1";
  script.dataset.productId = "p-9";

  const api = boot(script)!;
  expect(boot(script), "a second copy of the script does nothing").toBeNull();
  for (let i = 0; i < 5; i++) await settle();

  const hosts = document.querySelectorAll("kefu-widget");
  expect(hosts).toHaveLength(1);
  const root = hosts[0].shadowRoot!;
  expect(root, "open shadow root").not.toBeNull();
  expect(server.requests[0].path).toBe("/visitor/config?site_id=s1");
  expect(server.last.url).toMatch(/^wss:\/\/kefu\.example\.com\/ws\/shopper\?token=kfv_/);
  expect(window.Kefu).toBe(api);

  const events: string[] = [];
  const off = api.on("open", () => events.push("open"));
  api.on("close", () => events.push("close"));
  api.open();
  expect(root.querySelector<HTMLElement>('[data-testid="panel"]')!.hidden).toBe(false);
  api.close();
  off();
  api.open();
  expect(events).toEqual(["open", "close"]);
});
