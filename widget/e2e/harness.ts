// End-to-end harness: a real `kefu` process on its own SQLite database (started by the
// workspace's test kit, `kefu-testkit serve`), a shop page served
// from another origin (as a retailer's site would be), and Debian's chromium driven by
// playwright-core. Everything listens on 127.0.0.1.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { type Server, createServer } from "node:http";
import { join, resolve } from "node:path";
import { type Browser, type BrowserContext, chromium } from "playwright-core";

export const repoRoot = resolve(__dirname, "../..");
export const SITE = "demo";
export const AGENT = { username: "demo", password: "kefu-demo" };

/** The workspace test kit's binary, which starts kefu the way the Rust tests do (`cargo
 * test` builds it next to `kefu`), in the target directory scripts/env.sh chooses. */
function testkitBinary(): string {
  const target = process.env.CARGO_TARGET_DIR ?? "/var/tmp/kefu-target";
  return join(target, "debug", "kefu-testkit");
}

export interface Kefu {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts kefu (`kefu-testkit serve`: the demo admin and one site whose pages live at
 * `shopOrigin`, offers not auto-accepted) and reads where it listens from the kit's one JSON
 * line. The kit kills kefu when it gets SIGTERM or its stdin closes. */
export async function startKefu(shopOrigin: string): Promise<Kefu> {
  // kefu reads KEFU_* variables as configuration: pass none of ours through.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("KEFU_")),
  );
  const child = spawn(testkitBinary(), ["serve", "--origin", shopOrigin, "--site", SITE], {
    env,
    // stdin stays open: the kit stops kefu when it closes (e.g. this runner died).
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const url = await new Promise<string>((ok, fail) => {
    let out = "";
    const timer = setTimeout(() => fail(new Error(`kefu did not start:\n${out}\n${stderr}`)), 60_000);
    child.stdout!.on("data", (d) => {
      out += d;
      const line = out.split("\n").slice(0, -1).find((l) => l.startsWith("{"));
      if (line) {
        clearTimeout(timer);
        ok((JSON.parse(line) as { url: string }).url);
      }
    });
    child.on("error", (e) => fail(new Error(`cannot start ${testkitBinary()}: ${e.message}; build it with cargo build -p kefu-testkit -p kefu-server`)));
    child.on("exit", (code) => fail(new Error(`kefu-testkit exited with ${code}:\n${out}\n${stderr}`)));
  });
  return {
    url,
    process: child,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((ok) => child.once("exit", ok));
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

export interface Shop {
  origin: string;
  /** Page URL for a product page embedding the widget from `kefuUrl`. */
  page(path?: string): string;
  setKefu(url: string): void;
  close(): Promise<void>;
}

/** A retailer's site on its own origin: product pages with the one-tag embed. */
export async function startShop(): Promise<Shop> {
  let kefuUrl = "";
  const server: Server = createServer((req, res) => {
    const product = /^\/p\/([\w-]+)/.exec(req.url ?? "")?.[1] ?? "p-1";
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kettle ${product} — E2E shop</title>
<style>body{font-family:sans-serif} .kefu-probe{color:rgb(255,0,0)}</style></head>
<body><h1>Kettle ${product}</h1><p class="kefu-probe">The shop's own text.</p>
<script src="${kefuUrl}/widget.js" data-site="${SITE}" data-product-id="${product}" async></script>
</body></html>`);
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as { port: number };
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    page: (path = "/p/kettle-1") => `${origin}${path}`,
    setKefu: (url) => (kefuUrl = url),
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}

/** Debian's chromium, headless, with the flags this machine needs (no outside network).
 *
 * WIDGET_E2E_LOCAL_JS=1: pages get widget/dist/widget.js (this tree's `npm run build`) in
 * place of the copy built into the kefu binary. It is still requested from kefu's URL,
 * because the widget takes its server's origin from its own script's src. */
export async function launchBrowser(): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  if (process.env.WIDGET_E2E_LOCAL_JS === "1") {
    const body = readFileSync(resolve(__dirname, "../dist/widget.js"));
    console.log(`e2e: serving widget/dist/widget.js (${body.length} bytes) as kefu's /widget.js`);
    const newContext = browser.newContext.bind(browser);
    browser.newContext = async (options) => {
      const context = await newContext(options);
      await context.route(/\/widget\.js$/, (route) =>
        route.fulfill({ body, contentType: "application/javascript; charset=utf-8" }),
      );
      return context;
    };
  }
  return browser;
}

/** Where screenshots go (git-ignored). */
export function screenshotPath(name: string): string {
  const dir = join(repoRoot, "test-output", "screenshots");
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

/** Polls `check` until it returns a value; fails with `what` after the deadline. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export type { BrowserContext };
