// The shopper's widget end to end: a real kefu server, the widget embedded in a shop page on
// another origin, Debian's chromium, and a scripted agent on the real agent socket.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Browser, BrowserContext, Page, WebSocketRoute } from "playwright-core";
import { Agent } from "./agent";
import {
  AGENT,
  type Kefu,
  type Shop,
  eventually,
  launchBrowser,
  screenshotPath,
  startKefu,
  startShop,
} from "./harness";

let kefu: Kefu;
let shop: Shop;
let browser: Browser;
let agent: Agent;

beforeAll(async () => {
  shop = await startShop();
  kefu = await startKefu(shop.origin);
  shop.setKefu(kefu.url);
  browser = await launchBrowser();
});

afterAll(async () => {
  await agent?.disconnect();
  await browser?.close();
  await kefu?.stop();
  await shop?.close();
});

/** The scripted agent, signed in (and so online) from the first call on. */
async function onlineAgent(): Promise<Agent> {
  agent ??= await Agent.signIn(kefu.url, AGENT.username, AGENT.password);
  return agent;
}

const tid = (page: Page, id: string) => page.locator(`[data-testid="${id}"]`);

/** Opens the shop page and waits until the widget's socket said hello. */
async function openShop(
  context: BrowserContext,
  path?: string,
  beforeLoad?: (page: Page) => Promise<void>,
): Promise<Page> {
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error("page error:", e));
  await beforeLoad?.(page);
  await page.goto(shop.page(path));
  await page.locator('kefu-widget[data-connected="true"]').waitFor();
  return page;
}

async function openPanel(page: Page) {
  if (!(await tid(page, "panel").isVisible())) await tid(page, "launcher").click();
  await tid(page, "composer").waitFor();
}

async function type(page: Page, text: string) {
  await tid(page, "composer").fill(text);
  await tid(page, "send").click();
}

/** Texts of the shopper's and agent's messages shown, top to bottom (not Kefu's notices). */
async function shownTexts(page: Page): Promise<string[]> {
  return tid(page, "message-list")
    .locator(':is([data-sender="shopper"], [data-sender="agent"]) [data-testid="message-text"]')
    .allTextContents();
}

/** Texts of the shopper and the agent, as stored (the demo's FAQ bot may answer too). */
async function storedTexts(conv: string): Promise<string[]> {
  return (await agent.history(conv)).flatMap((m) =>
    m.sender_role !== "bot" && m.body.type === "text" && m.body.text ? [m.body.text] : [],
  );
}

/** Cuts the shopper's network ("route blocked"): open sockets drop, new ones and REST fail.
 * Install before the page loads, so its socket goes through the route. */
async function networkSwitch(page: Page) {
  let blocked = false;
  const live = new Set<WebSocketRoute>();
  await page.routeWebSocket(/\/ws\/shopper/, (ws) => {
    if (blocked) {
      ws.close({ code: 4000, reason: "network cut" });
      return;
    }
    const server = ws.connectToServer();
    live.add(ws);
    ws.onClose(() => live.delete(ws));
    server.onClose(() => live.delete(ws));
  });
  await page.route(/\/api\/v1\//, (route) => (blocked ? route.abort("internetdisconnected") : route.continue()));
  return {
    async cut() {
      blocked = true;
      for (const ws of live) await ws.close({ code: 4000, reason: "network cut" });
      live.clear();
    },
    restore() {
      blocked = false;
    },
  };
}

describe("shopper widget", () => {
  test("leave a message when nobody is online; agents see it when back", async () => {
    const context = await browser.newContext();
    const page = await openShop(context);
    await tid(page, "launcher").click();
    await tid(page, "leave-message-form").waitFor();
    await tid(page, "lm-name").fill("Li Wei");
    await tid(page, "lm-email").fill("li.wei@example.com");
    await tid(page, "lm-message").fill("Do you ship to Hong Kong?");
    await tid(page, "lm-submit").click();
    await tid(page, "lm-done").waitFor();

    await onlineAgent();
    const conv = await agent.acceptNext();
    await eventually("the left message is stored", async () => {
      const texts = (await agent.history(conv)).map((m) => m.body.text ?? "");
      return texts.includes("Do you ship to Hong Kong?") &&
        texts.some((t) => t.includes("li.wei@example.com"));
    });
    agent.close(conv);
    await context.close();
  });

  test("a shopper chats with an agent: queue, typing, reply, read receipt, page context", async () => {
    await onlineAgent();
    const context = await browser.newContext();
    const page = await openShop(context, "/p/kettle-42");
    await openPanel(page);
    await type(page, "Is the kettle in stock?");
    const conv = await agent.acceptNext();
    await eventually("the agent has the question", () =>
      agent.texts(conv).includes("Is the kettle in stock?"),
    );
    const c = await agent.conversation(conv);
    expect((c.context as Record<string, string>).product_id, "the page's product reaches the agent").toBe(
      "kettle-42",
    );
    expect((c.context as Record<string, string>).url).toBe(shop.page("/p/kettle-42"));

    // Typing is ephemeral (never stored or replayed) and clients repeat it while the person
    // types, as the widget does every few seconds: so does this agent, so that one frame
    // sent while the shopper's socket was between connections cannot fail the test.
    const typing = setInterval(() => agent.typing(conv, true), 2000);
    agent.typing(conv, true);
    try {
      await tid(page, "agent-typing").waitFor();
    } finally {
      clearInterval(typing);
    }
    await agent.say(conv, "Yes — 12 left. Anything else?");
    await eventually("the reply is shown", async () =>
      (await shownTexts(page)).includes("Yes — 12 left. Anything else?"),
    );
    const mine = tid(page, "message-list").locator('[data-sender="shopper"]').first();
    await expect.poll(() => mine.getAttribute("data-status")).toBe("sent");
    const lastSeq = (await agent.history(conv)).at(-1)!.seq;
    agent.read(conv, BigInt(lastSeq));
    await expect.poll(() => mine.getAttribute("data-status"), { timeout: 15_000 }).toBe("read");
    agent.close(conv);
    await context.close();
  });

  test("a refresh keeps the history; two tabs stay consistent", async () => {
    await onlineAgent();
    const context = await browser.newContext();
    const tab1 = await openShop(context);
    await openPanel(tab1);
    await type(tab1, "first");
    const conv = await agent.acceptNext();
    // The conversation opens just before its first message is stored: answer after it.
    await eventually("the first message stored", async () => (await storedTexts(conv)).includes("first"));
    await agent.say(conv, "hello from the agent");
    await type(tab1, "second");
    await eventually("both stored", async () => (await storedTexts(conv)).length === 3);

    await tab1.reload();
    await tab1.locator('kefu-widget[data-connected="true"]').waitFor();
    await openPanel(tab1);
    await expect
      .poll(() => shownTexts(tab1), { timeout: 15_000, message: "history after refresh" })
      .toEqual(["first", "hello from the agent", "second"]);

    const tab2 = await openShop(context);
    await openPanel(tab2);
    await eventually("the second tab shows the same history", async () =>
      JSON.stringify(await shownTexts(tab2)) === JSON.stringify(await shownTexts(tab1)),
    );
    await type(tab2, "from tab two");
    await eventually("tab two's message stored", async () => (await storedTexts(conv)).includes("from tab two"));
    await agent.say(conv, "seen by both");
    const expected = ["first", "hello from the agent", "second", "from tab two", "seen by both"];
    for (const tab of [tab1, tab2]) {
      await eventually("each tab shows everything once, in order", async () =>
        JSON.stringify(await shownTexts(tab)) === JSON.stringify(expected),
      );
    }
    expect(await storedTexts(conv)).toEqual(expected);
    agent.close(conv);
    await context.close();
  });

  test("messages typed while the network is cut are pending, then delivered once, in order", async () => {
    await onlineAgent();
    const context = await browser.newContext();
    let net!: Awaited<ReturnType<typeof networkSwitch>>;
    const page = await openShop(context, undefined, async (p) => {
      net = await networkSwitch(p);
    });
    await openPanel(page);
    await type(page, "before the cut");
    const conv = await agent.acceptNext();
    await eventually("first stored", async () => (await storedTexts(conv)).length === 1);
    // …and acknowledged to the page, so only what is typed during the cut is pending.
    await tid(page, "message-list").locator('[data-sender="shopper"][data-status="sent"]').waitFor();

    await net.cut();
    await expect.poll(() => tid(page, "status").getAttribute("data-state")).not.toBe("online");
    for (const t of ["offline one", "offline two", "offline three"]) await type(page, t);
    const pending = tid(page, "message-list").locator('[data-status="pending"]');
    await expect.poll(() => pending.count()).toBe(3);
    await agent.say(conv, "agent wrote meanwhile");

    net.restore();
    const expected = ["before the cut", "offline one", "offline two", "offline three"];
    await eventually(
      "the pending messages arrive",
      async () => (await storedTexts(conv)).filter((t) => t !== "agent wrote meanwhile").length === 4,
      30_000,
    );
    await expect.poll(() => pending.count(), { timeout: 15_000 }).toBe(0);
    const stored = await storedTexts(conv);
    expect(stored.filter((t) => t !== "agent wrote meanwhile"), "each once, in the order typed").toEqual(expected);
    await eventually("the agent's message missed during the cut is shown once", async () => {
      const shown = await shownTexts(page);
      return shown.filter((t) => t === "agent wrote meanwhile").length === 1 &&
        JSON.stringify(shown.filter((t) => t !== "agent wrote meanwhile")) === JSON.stringify(expected);
    });
    agent.close(conv);
    await context.close();
  });

  test("an agent's HTML and script are shown as text, never run", async () => {
    await onlineAgent();
    const context = await browser.newContext();
    const page = await openShop(context);
    await openPanel(page);
    await type(page, "hi");
    const conv = await agent.acceptNext();
    const payloads = [
      `<img src=x onerror="window.__xss=1">`,
      `<script>window.__xss=2</script>`,
      `[click](javascript:window.__xss=3) javascript:window.__xss=4 https://shop.example/ok`,
    ];
    for (const p of payloads) await agent.say(conv, p);
    await eventually("payloads shown", async () => (await shownTexts(page)).includes(payloads[2]));
    const shown = await shownTexts(page);
    for (const p of payloads) expect(shown, "shown literally").toContain(p);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    const list = tid(page, "message-list");
    expect(await list.locator("img").count(), "no element made from the text").toBe(0);
    expect(await list.locator("script").count()).toBe(0);
    expect(await list.locator('a[href^="javascript"]').count(), "no javascript: link").toBe(0);
    expect(await list.locator('a[href="https://shop.example/ok"]').count(), "web links stay links").toBe(1);
    // The shop's styles and the widget's do not leak into each other.
    expect(await page.locator(".kefu-probe").evaluate((e) => getComputedStyle(e).color)).toBe("rgb(255, 0, 0)");
    agent.close(conv);
    await context.close();
  });

  test("after the agent closes, the shopper rates the conversation", async () => {
    await onlineAgent();
    const context = await browser.newContext();
    const page = await openShop(context);
    await openPanel(page);
    await type(page, "thanks for the help");
    const conv = await agent.acceptNext();
    await agent.say(conv, "you're welcome");
    agent.close(conv);
    await tid(page, "rating-form").waitFor();
    await tid(page, "rating-star-4").click();
    await tid(page, "rating-comment").fill("quick answer");
    await tid(page, "rating-submit").click();
    await tid(page, "rating-done").waitFor();
    const rated = await eventually("the rating is stored", async () => {
      const c = await agent.conversation(conv);
      return c.rating as { score: number; comment: string } | null;
    });
    expect(rated).toMatchObject({ score: 4, comment: "quick answer" });
    await context.close();
  });

  test("images upload; a file of the wrong type is refused with a message", async () => {
    await onlineAgent();
    const context = await browser.newContext();
    const page = await openShop(context);
    await openPanel(page);
    await type(page, "my kettle arrived broken");
    const conv = await agent.acceptNext();
    // A 1×1 PNG.
    const png = Buffer.from(
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
      "base64",
    );
    await tid(page, "attach").setInputFiles({ name: "broken.png", mimeType: "image/png", buffer: png });
    await eventually("the agent gets the image", () =>
      (agent.messages.get(conv) ?? []).some(
        (m) => m.body?.kind.case === "attachment" && m.body.kind.value.fileName === "broken.png",
      ),
    );
    await tid(page, "attach").setInputFiles({
      name: "page.html",
      mimeType: "text/html",
      buffer: Buffer.from("<h1>not allowed</h1>"),
    });
    await tid(page, "upload-error").waitFor();
    agent.close(conv);
    await context.close();
  });

  test("on a phone the chat fills the screen (screenshot saved)", async () => {
    await onlineAgent();
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    const page = await openShop(context);
    await openPanel(page);
    await type(page, "Hello from my phone 你好");
    const conv = await agent.acceptNext();
    await agent.say(conv, "Hi! How can I help? 您好！");
    await eventually("reply shown", async () => (await shownTexts(page)).length === 2);
    const box = await tid(page, "panel").boundingBox();
    expect(box!.width, "full width on a phone").toBeGreaterThanOrEqual(389);
    expect(box!.height).toBeGreaterThanOrEqual(800);
    await page.screenshot({ path: screenshotPath("widget-phone.png") });
    agent.close(conv);
    await context.close();
  });

  test("page load to a connected widget (measured and printed, not asserted)", async () => {
    const context = await browser.newContext();
    // Record when the widget first says it is connected, on the page's own clock (ms since
    // navigation start), without polling.
    await context.addInitScript(() => {
      new MutationObserver((_, obs) => {
        if (document.querySelector('kefu-widget[data-connected="true"]')) {
          (window as unknown as { __connectedAt: number }).__connectedAt = performance.now();
          obs.disconnect();
        }
      }).observe(document, { subtree: true, childList: true, attributes: true });
    });
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const page = await openShop(context);
      times.push(await page.evaluate(() => (window as unknown as { __connectedAt: number }).__connectedAt));
      await page.close();
    }
    expect(times.every((t) => t > 0), "every load connected").toBe(true);
    times.sort((a, b) => a - b);
    console.log(
      `page load to connected widget over ${times.length} loads: median ${times[5].toFixed(0)} ms, ` +
        `min ${times[0].toFixed(0)} ms, max ${times[9].toFixed(0)} ms`,
    );
    await context.close();
  });
});
