// The custom element in happy-dom, driven by the fake server.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { create } from "@bufbuild/protobuf";
import { Role } from "../src/gen/kefu/v1/common_pb";
import { MessageSchema, type MessageBody } from "../src/gen/kefu/v1/message_pb";
import { ChatClient } from "../src/client/session";
import { pickLang, strings, type Lang } from "../src/i18n";
import { KefuWidget } from "../src/ui/element";
import { FakeServer, MemStorage, settle } from "./fake-server";

if (!customElements.get("kefu-widget")) customElements.define("kefu-widget", KefuWidget);

let server: FakeServer;
let client: ChatClient;
let el: KefuWidget;

async function tick(ms = 0) {
  await settle();
  await vi.advanceTimersByTimeAsync(ms);
  await settle();
}

async function mount(opts: { lang?: Lang; mode?: "launcher" | "page"; storage?: Storage } = {}) {
  client = new ChatClient({
    siteId: "s1",
    origin: "https://kefu.test",
    storage: opts.storage ?? new MemStorage(),
    WebSocket: server.Socket,
    fetch: server.fetch,
    page: () => ({ url: "https://shop.test/", title: "Shop" }),
    random: () => 0.5,
  });
  el = document.createElement("kefu-widget") as KefuWidget;
  el.setup({ client, lang: opts.lang ?? "en", mode: opts.mode ?? "launcher" });
  document.body.append(el);
  client.start();
  await tick();
}

const $ = <T extends Element = HTMLElement>(id: string) => el.shadowRoot!.querySelector<T>(`[data-testid="${id}"]`);
const visible = (id: string) => {
  for (let n: Element | null = $(id); n; n = n.parentElement) if ((n as HTMLElement).hidden) return false;
  return $(id) !== null;
};

function push(body: MessageBody["kind"], role = Role.AGENT) {
  const seq = BigInt(server.messages.length + 1);
  const m = create(MessageSchema, {
    id: `m${seq}`,
    conversationId: "c1",
    seq,
    clientMsgId: `x${seq}`,
    sender: { role, id: "a1", displayName: "Alice" },
    createdAtMs: BigInt(Date.now()),
    body: { kind: body },
  });
  server.messages.push(m);
  server.last.push({ case: "message", value: m });
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
  server = new FakeServer();
  server.openConversation = "c1";
});

afterEach(() => {
  client.stop();
  el.remove();
  vi.useRealTimers();
});

describe("rendering network data", () => {
  it("renders HTML in a message as text, never as elements", async () => {
    await mount();
    const evil = `<img src=x onerror="window.__pwned=1">`;
    push({ case: "text", value: { $typeName: "kefu.v1.Text", text: evil } });
    await tick();
    const text = $("message-text")!;
    expect(text.textContent).toBe(evil);
    expect($("message-list")!.querySelector("img")).toBeNull();
    expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
  });

  it("turns only http(s) URLs into safe links", async () => {
    await mount();
    push({
      case: "text",
      value: { $typeName: "kefu.v1.Text", text: "see https://shop.test/a?b=1. or javascript:alert(1) and data:text/html,x" },
    });
    await tick();
    const links = [...$("message-text")!.querySelectorAll("a")];
    expect(links.map((a) => a.getAttribute("href"))).toEqual(["https://shop.test/a?b=1"]);
    expect(links[0].getAttribute("rel")).toBe("noopener noreferrer nofollow");
    expect(links[0].getAttribute("target")).toBe("_blank");
    expect($("message-text")!.textContent).toContain("javascript:alert(1)");
  });

  it("accepts card URLs only when http(s)", async () => {
    await mount();
    push({
      case: "productCard",
      value: { $typeName: "kefu.v1.ProductCard", productId: "p1", title: "<b>Shoe</b>", priceMinor: 1999n, currency: "USD", imageUrl: "javascript:alert(1)", url: "javascript:alert(2)" },
    });
    push({
      case: "orderCard",
      value: { $typeName: "kefu.v1.OrderCard", orderId: "A-1", status: "shipped", totalMinor: 5000n, currency: "EUR", placedAtMs: 0n, itemCount: 2, trackingUrl: "https://track.test/1" },
    });
    push({
      case: "returnCard",
      value: { $typeName: "kefu.v1.ReturnCard", returnId: "R-9", orderId: "A-1", status: "approved", itemCount: 1, refundMinor: 2500n, currency: "EUR" },
    });
    await tick();
    const product = $("card-product")!;
    expect(product.tagName).toBe("DIV"); // not a link: the URL was not http(s)
    expect(product.querySelector("img")).toBeNull();
    expect(product.textContent).toContain("<b>Shoe</b>");
    expect(product.textContent).toContain("$19.99");
    const order = $("card-order")!;
    expect(order.textContent).toContain("A-1");
    expect(order.textContent).toContain("shipped");
    expect(order.querySelector("a")!.getAttribute("href")).toBe("https://track.test/1");
    expect($("card-return")!.textContent).toContain("R-9");
  });
});

describe("panel", () => {
  it("shows unread agent messages on the launcher badge until the panel opens", async () => {
    await mount();
    expect(visible("panel")).toBe(false);
    push({ case: "text", value: { $typeName: "kefu.v1.Text", text: "hello?" } });
    await tick();
    expect(visible("unread-badge")).toBe(true);
    expect($("unread-badge")!.textContent).toBe("1");
    $("launcher")!.click();
    await tick();
    expect(visible("panel")).toBe(true);
    expect(visible("unread-badge")).toBe(false);
    expect(server.last.sentOf("read").map((r) => r.upToSeq)).toEqual([1n]);
  });

  it("sends on Enter but not while an IME is composing, and marks own messages", async () => {
    await mount({ mode: "page" });
    expect($("status")!.getAttribute("data-state")).toBe("online");
    expect(el.getAttribute("data-connected")).toBe("true");
    const composer = $<HTMLTextAreaElement>("composer")!;
    composer.value = "你好";
    composer.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", isComposing: true }));
    await tick();
    expect(server.messages.length).toBe(0);
    composer.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
    await tick();
    expect(server.messages.length).toBe(1);
    const mine = $("message")!;
    expect(mine.getAttribute("data-sender")).toBe("shopper");
    expect(mine.getAttribute("data-status")).toBe("sent");
    expect(mine.getAttribute("data-seq")).toBe("1");
    expect(mine.getAttribute("data-client-msg-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(composer.value).toBe("");
  });

  it("shows queue position and the agent typing", async () => {
    await mount({ mode: "page" });
    server.last.push({ case: "event", value: { conversationId: "c1", kind: { case: "queued", value: { position: 4 } } } });
    server.last.push({ case: "typing", value: { conversationId: "c1", typing: true, who: { role: Role.AGENT } } });
    await tick();
    expect(visible("queue-status")).toBe(true);
    expect($("queue-status")!.textContent).toContain("4");
    expect(visible("agent-typing")).toBe(true);
  });

  it("refuses a file of a type the site does not allow, before uploading", async () => {
    await mount({ mode: "page" });
    const input = $<HTMLInputElement>("attach")!;
    const file = new File(["MZ"], "tool.exe", { type: "application/x-msdownload" });
    Object.defineProperty(input, "files", { value: [file], configurable: true });
    input.dispatchEvent(new Event("change"));
    await tick();
    expect(visible("upload-error")).toBe(true);
    expect($("upload-error")!.textContent).toMatch(/type/);
    expect(server.requests.some((r) => r.path.includes("/attachments"))).toBe(false);
  });
});

describe("blocked", () => {
  it("replaces the composer with a notice when the shopper is blocked, and stays quiet", async () => {
    await mount({ mode: "page" });
    expect(visible("blocked")).toBe(false);
    expect(visible("composer")).toBe(true);
    server.block("kfv_1");
    await tick();
    expect(visible("blocked")).toBe(true);
    expect($("blocked")!.textContent).toBe(strings("en").blocked);
    expect(visible("composer")).toBe(false);
    expect(visible("status")).toBe(false);
    await tick(60_000);
    expect(server.sockets.length).toBe(1);
  });

  it("after a reload with the blocked token: the notice (localized), no forms, the pending message kept", async () => {
    const storage = new MemStorage();
    storage.setItem("kefu:s1:token", JSON.stringify({ token: "kfv_b", visitorId: "v9", expiresAtMs: 0 }));
    storage.setItem("kefu:s1:outbox", JSON.stringify([{ id: "o-1", body: { text: "还在吗" }, at: 1 }]));
    server.blocked.add("kfv_b");
    server.openConversation = "";
    server.agentsOnline = 0; // would offer the leave-a-message form
    await mount({ lang: "zh-CN", mode: "page", storage });
    await tick(1000);
    expect(visible("blocked")).toBe(true);
    expect($("blocked")!.textContent).toBe("在线客服不可用，消息无法发送。");
    expect(visible("leave-message-form")).toBe(false);
    expect(visible("composer")).toBe(false);
    expect($("message")!.getAttribute("data-status")).toBe("pending");
    expect($("message-text")!.textContent).toBe("还在吗");
  });
});

describe("forms", () => {
  it("offers the leave-a-message form when no agent is online and no conversation is open", async () => {
    server.openConversation = "";
    server.agentsOnline = 0;
    await mount({ mode: "page" });
    expect(visible("leave-message-form")).toBe(true);
    expect(visible("composer")).toBe(false);
    $<HTMLInputElement>("lm-email")!.value = "li@example.com";
    $<HTMLTextAreaElement>("lm-message")!.value = "Please call me";
    $("lm-submit")!.click();
    await tick();
    expect(visible("lm-done")).toBe(true);
    expect(visible("leave-message-form")).toBe(false);
    expect(server.requests.find((r) => r.path === "/visitor/conversation")!.body).toMatchObject({ left_message: true });
    expect(server.messages.length).toBe(1);
  });

  it("keeps the chat when an agent is online", async () => {
    server.openConversation = "";
    server.agentsOnline = 2;
    await mount({ mode: "page" });
    expect($("leave-message-form")).toBeNull();
    expect(visible("composer")).toBe(true);
  });

  it("asks for a rating once the conversation closes, then thanks", async () => {
    await mount({ mode: "page" });
    expect($("rating-form")).toBeNull();
    server.convState = "closed";
    server.last.push({ case: "event", value: { conversationId: "c1", kind: { case: "closed", value: {} } } });
    await tick();
    expect(visible("rating-form")).toBe(true);
    expect(visible("new-chat")).toBe(true);
    expect($<HTMLButtonElement>("rating-submit")!.disabled).toBe(true);
    $("rating-star-4")!.click();
    $<HTMLTextAreaElement>("rating-comment")!.value = "quick";
    $("rating-submit")!.click();
    await tick();
    expect(server.rating).toEqual({ score: 4, comment: "quick" });
    expect($("rating-form")).toBeNull();
    expect(visible("rating-done")).toBe(true);
  });
});

describe("language", () => {
  it("picks zh-CN from data-lang, <html lang> or the browser, in that order", () => {
    expect(pickLang("zh-TW", "en", "en-US")).toBe("zh-CN");
    expect(pickLang(undefined, "zh", "en-US")).toBe("zh-CN");
    expect(pickLang("", "", "zh-CN")).toBe("zh-CN");
    expect(pickLang("en", "zh", "zh-CN")).toBe("en");
    expect(pickLang(undefined, "", "fr-FR")).toBe("en");
  });

  it("renders Chinese strings for zh-CN", async () => {
    server.opts.down = true;
    await mount({ lang: "zh-CN", mode: "page" });
    expect($<HTMLTextAreaElement>("composer")!.placeholder).toBe("输入消息…");
    expect($("welcome")!.textContent).toBe("您好！请问有什么可以帮您？");
    expect($("status")!.textContent).toBe("网络已断开 — 恢复后消息将自动发送");
  });
});
