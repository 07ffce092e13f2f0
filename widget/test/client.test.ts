// @vitest-environment node
// The protocol client against a fake server speaking real protobuf frames.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ErrorCode, Role } from "../src/gen/kefu/v1/common_pb";
import { ChatClient } from "../src/client/session";
import { backoffMs } from "../src/client/connection";
import { FakeServer, MemStorage, settle } from "./fake-server";

let server: FakeServer;
let clients: ChatClient[];

function start(storage: Storage = new MemStorage(), events: EventTarget = new EventTarget()) {
  const c = new ChatClient({
    siteId: "s1",
    origin: "https://kefu.test",
    productId: "p-42",
    storage,
    WebSocket: server.Socket,
    fetch: server.fetch,
    events,
    page: () => ({ url: "https://shop.test/shoe", title: "Red shoe" }),
    random: () => 0.5,
  });
  clients.push(c);
  c.start();
  return c;
}

/** Advance fake time and let promise chains (fetch, url()) run. */
async function tick(ms = 0) {
  await settle();
  await vi.advanceTimersByTimeAsync(ms);
  await settle();
}

const texts = (c: ChatClient) =>
  c.state().messages.map((m) => (m.body.case === "text" ? m.body.value.text : m.body.case));
const storedTexts = () => server.messages.map((m) => (m.body?.kind.case === "text" ? m.body.kind.value.text : "?"));

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
  server = new FakeServer();
  clients = [];
});

afterEach(() => {
  for (const c of clients) c.stop();
  vi.useRealTimers();
});

describe("connection", () => {
  it("creates a session, connects with its token and goes online on Hello", async () => {
    const c = start();
    expect(c.state().conn).toBe("connecting");
    await tick();
    expect(server.requests.some((r) => r.method === "POST" && r.path === "/visitor/session")).toBe(true);
    expect(server.last.url).toBe("wss://kefu.test/ws/shopper?token=kfv_1");
    expect(c.state().conn).toBe("online");
  });

  it("reconnects with growing, jittered, capped backoff after drops", async () => {
    const c = start();
    await tick();
    server.opts.down = true;
    server.last.drop();
    await tick();
    expect(c.state().conn).toBe("offline");
    expect(server.sockets.length).toBe(1);
    // attempt 0 with random 0.5: 250 + 125 = 375 ms
    await tick(374);
    expect(server.sockets.length).toBe(1);
    await tick(1);
    expect(server.sockets.length).toBe(2); // refused by the "down" server
    await tick(749);
    // the failed attempt re-checks the session first; still only one more socket after 750 ms
    expect(server.sockets.length).toBe(2);
    await tick(1);
    expect(server.sockets.length).toBe(3);
    server.opts.down = false;
    await tick(10_000);
    expect(c.state().conn).toBe("online");

    expect(backoffMs(0, () => 0)).toBe(250);
    expect(backoffMs(3, () => 1)).toBe(4000);
    expect(backoffMs(30, () => 1)).toBe(10_000);
    expect(backoffMs(30, () => 0)).toBe(5000);
  });

  it("reconnects at once when the browser comes back online", async () => {
    const events = new EventTarget();
    const c = start(new MemStorage(), events);
    await tick();
    server.opts.down = true;
    server.last.drop();
    await tick(375); // one failed retry: the next waits 750 ms
    const n = server.sockets.length;
    server.opts.down = false;
    events.dispatchEvent(new Event("online"));
    await tick();
    expect(server.sockets.length).toBe(n + 1);
    expect(c.state().conn).toBe("online");
  });

  it("honours GoAway's retry_after", async () => {
    start();
    await tick();
    server.last.push({ case: "goAway", value: { reason: "deploy", retryAfterMs: 3000 } });
    expect(server.last.closedByClient).toBe(true);
    await tick(2999);
    expect(server.sockets.length).toBe(1);
    await tick(1);
    expect(server.sockets.length).toBe(2);
    expect(server.last.open).toBe(true);
  });

  it("sends heartbeats at half the interval and drops a silent connection", async () => {
    server.opts.heartbeatMs = 10_000;
    start();
    await tick();
    const first = server.last;
    await tick(5000);
    expect(first.sentOf("heartbeat").length).toBe(1);
    await tick(5000);
    expect(first.sentOf("heartbeat").length).toBe(2);
    server.silent = true;
    // nothing heard for more than 1.5 intervals → the socket is given up and replaced
    await tick(25_000);
    expect(first.closedByClient).toBe(true);
    expect(server.sockets.length).toBeGreaterThan(1);
  });

  it("replaces an expired stored token with a fresh anonymous session", async () => {
    const storage = new MemStorage();
    storage.setItem("kefu:s1:token", JSON.stringify({ token: "kfv_old", visitorId: "v0", expiresAtMs: 0 }));
    server.expired.add("kfv_old");
    server.opts.down = true; // the upgrade with the old token fails: invisible to JS
    const c = start(storage);
    await tick();
    expect(server.sockets[0].url).toContain("token=kfv_old");
    server.opts.down = false;
    await tick(400);
    const sessions = server.requests.filter((r) => r.path === "/visitor/session");
    expect(sessions.map((r) => (r.body as { visitor_token?: string }).visitor_token)).toEqual(["kfv_old", undefined]);
    expect(server.last.url).toContain("token=kfv_1");
    expect(JSON.parse(storage.getItem("kefu:s1:token")!).token).toBe("kfv_1");
    expect(c.state().conn).toBe("online");
  });
});

describe("blocked visitor", () => {
  const sessionTokens = () =>
    server.requests.filter((r) => r.path === "/visitor/session").map((r) => (r.body as { visitor_token?: string }).visitor_token);

  it("stops for good on GoAway VISITOR_BLOCKED, keeping the outbox", async () => {
    const storage = new MemStorage();
    const events = new EventTarget();
    server.opts.autoStore = false; // the message stays unacknowledged
    const c = start(storage, events);
    await tick();
    c.send("still mine");
    await tick();
    server.block("kfv_1");
    await tick();
    expect(server.last.closedByClient).toBe(true);
    expect(c.state().conn).toBe("blocked");
    events.dispatchEvent(new Event("online")); // no shortcut around the block either
    await tick(120_000);
    expect(server.sockets.length).toBe(1);
    expect(sessionTokens()).toEqual([undefined]);
    expect(c.state().conn).toBe("blocked");
    expect(JSON.parse(storage.getItem("kefu:s1:outbox")!).map((i: { body: { text: string } }) => i.body.text)).toEqual(["still mine"]);
    expect(c.state().messages.map((m) => [m.status, m.body.case === "text" && m.body.value.text])).toEqual([["pending", "still mine"]]);
    expect(JSON.parse(storage.getItem("kefu:s1:token")!).token).toBe("kfv_1");
  });

  it("a 403 when refreshing the session (a reload with the blocked token) stops too, with no new visitor", async () => {
    const storage = new MemStorage();
    storage.setItem("kefu:s1:token", JSON.stringify({ token: "kfv_b", visitorId: "v9", expiresAtMs: 0 }));
    storage.setItem("kefu:s1:outbox", JSON.stringify([{ id: "o-1", body: { text: "typed before" }, at: 1 }]));
    server.blocked.add("kfv_b");
    const c = start(storage);
    await tick();
    expect(server.sockets.map((s) => s.url)).toEqual(["wss://kefu.test/ws/shopper?token=kfv_b"]); // refused at the upgrade
    await tick(400); // the retry confirms the session first: 403
    expect(sessionTokens()).toEqual(["kfv_b"]);
    expect(c.state().conn).toBe("blocked");
    await tick(120_000);
    expect(server.sockets.length).toBe(1);
    expect(sessionTokens()).toEqual(["kfv_b"]);
    expect(JSON.parse(storage.getItem("kefu:s1:token")!).token).toBe("kfv_b");
    expect(JSON.parse(storage.getItem("kefu:s1:outbox")!)).toHaveLength(1);
    expect(c.state().messages.map((m) => m.status)).toEqual(["pending"]);
  });

  it("a 401 there still starts a new anonymous session", async () => {
    const storage = new MemStorage();
    storage.setItem("kefu:s1:token", JSON.stringify({ token: "kfv_x", visitorId: "v9", expiresAtMs: 0 }));
    server.expired.add("kfv_x");
    const c = start(storage);
    await tick(400);
    expect(sessionTokens()).toEqual(["kfv_x", undefined]);
    expect(c.state().conn).toBe("online");
    expect(server.last.url).toContain("token=kfv_1");
  });

  it("other GoAway codes back off and reconnect as before", async () => {
    const c = start();
    await tick();
    server.last.push({ case: "goAway", value: { reason: "too many", retryAfterMs: 0, code: 8 } }); // TOO_MANY_CONNECTIONS
    await tick();
    expect(c.state().conn).toBe("offline");
    await tick(400);
    expect(server.sockets.length).toBe(2);
    server.last.push({ case: "goAway", value: { reason: "slow down", retryAfterMs: 10_000, code: 7 } }); // RATE_LIMITED
    await tick(9_999);
    expect(server.sockets.length).toBe(2);
    await tick(1);
    expect(server.sockets.length).toBe(3);
    expect(c.state().conn).toBe("online");
  });

  it("a new identity from another tab lifts the block", async () => {
    const storage = new MemStorage();
    const events = new EventTarget();
    const c = start(storage, events);
    await tick();
    server.block("kfv_1");
    await tick();
    expect(c.state().conn).toBe("blocked");
    storage.setItem("kefu:s1:token", JSON.stringify({ token: "kfv_2", visitorId: "v2", expiresAtMs: 0 }));
    events.dispatchEvent(Object.assign(new Event("storage"), { key: "kefu:s1:token" }));
    await tick();
    expect(server.last.url).toContain("token=kfv_2");
    expect(c.state().conn).toBe("online");
  });
});

describe("resume", () => {
  it("resumes from the highest contiguous seq and never duplicates replayed messages", async () => {
    server.openConversation = "c1";
    server.agentSays("one");
    server.agentSays("two");
    const c = start();
    await tick();
    // The session named c1 before the socket opened, so its URL carried the point.
    expect(server.last.url).toContain("&resume=c1:0");
    expect(server.last.sentOf("resume")).toEqual([]);
    expect(texts(c)).toEqual(["one", "two"]);

    server.opts.down = true;
    server.last.drop();
    server.agentSays("three"); // missed while offline
    server.opts.down = false;
    await tick(400);
    expect(server.last.url).toContain("&resume=c1:2");
    expect(server.last.sentOf("resume")).toEqual([]);
    expect(texts(c)).toEqual(["one", "two", "three"]);

    // a server replaying everything again changes nothing
    for (const m of server.messages) server.last.push({ case: "message", value: m });
    await tick();
    expect(texts(c)).toEqual(["one", "two", "three"]);
  });

  it("asks again from the last contiguous seq when a live message skips one", async () => {
    server.openConversation = "c1";
    server.agentSays("one");
    const c = start();
    await tick();
    const sock = server.last;
    expect(sock.url).toContain("&resume=c1:0");
    expect(sock.sentOf("resume")).toEqual([]);
    server.agentSays("two", Role.AGENT, false); // lost on the way
    server.agentSays("three");
    await tick();
    // A gap on an open socket is still asked for with a Resume frame.
    expect(sock.sentOf("resume").map((r) => r.lastSeq)).toEqual([1n]);
    expect(texts(c)).toEqual(["one", "two", "three"]);
  });

  it("does not ask again and again for seqs it may never see (private notes)", async () => {
    server.openConversation = "c1";
    server.hidden.add(2n);
    server.agentSays("one");
    server.agentSays("note");
    server.agentSays("three");
    const c = start();
    await tick();
    expect(texts(c)).toEqual(["one", "three"]);
    server.agentSays("four");
    await tick();
    expect(texts(c)).toEqual(["one", "three", "four"]);
    // ResumeDone (of the URL's resume point) said 3 was the end: seq 2 is settled, so
    // seq 4 is no gap
    expect(server.last.sentOf("resume").length).toBe(0);
  });

  it("a reconnect names its resume point in the URL, so the replay comes before live traffic", async () => {
    server.openConversation = "c1";
    server.agentSays("one");
    server.agentSays("two");
    const c = start();
    const got: string[] = [];
    c.on("message", (m) => got.push(`${m.text}:${m.seq}`));
    await tick();
    expect(texts(c)).toEqual(["one", "two"]);

    // Like the real server, answer Resume frames only after live traffic already on its
    // way: a replay asked for after Hello would come after "four".
    const handle = server.handle.bind(server);
    server.handle = (sock, env) => {
      if (env.kind.case === "resume") queueMicrotask(() => handle(sock, env));
      else handle(sock, env);
    };
    server.opts.autoAccept = false;
    server.last.drop();
    server.agentSays("three"); // missed while offline
    await tick(400);
    const sock = server.last;
    server.accept(sock);
    server.agentSays("four"); // live, sent by the agent as the socket registered
    await tick();
    expect(sock.url).toContain("&resume=c1:2");
    expect(sock.sentOf("resume")).toEqual([]);
    expect(texts(c)).toEqual(["one", "two", "three", "four"]);
    expect(got).toEqual(["three:3", "four:4"]);
  });

  it("after a socket naming a resume point fails before Hello, the next one resumes with a frame", async () => {
    server.openConversation = "c1";
    server.agentSays("one");
    const c = start();
    await tick();
    server.opts.down = true; // as a server refusing the point with a 400 would look
    server.last.drop();
    await tick(400);
    expect(server.last.url).toContain("&resume=c1:1");
    server.opts.down = false;
    server.agentSays("two");
    await tick(1000);
    expect(c.state().conn).toBe("online");
    expect(server.last.url).not.toContain("resume=");
    expect(server.last.sentOf("resume").map((r) => r.lastSeq)).toEqual([1n]);
    expect(texts(c)).toEqual(["one", "two"]);
  });
});

describe("outbox", () => {
  it("opens the conversation with the first text, carrying the page context", async () => {
    const c = start();
    await tick();
    c.send("hello");
    c.send("again");
    await tick();
    expect(
      server.requests.some((r) => r.path === "/visitor/conversation"),
      "no empty conversation is opened ahead of the text",
    ).toBe(false);
    const sends = server.last.sentOf("send");
    expect(sends.map((s) => s.conversationId), "the server picks it for the first; the Ack names it").toEqual(["", "c1"]);
    expect(sends[0].context?.productId).toBe("p-42");
    expect(sends[0].context?.url).toBe("https://shop.test/shoe");
    expect(sends[1].context).toBeUndefined();
    expect(storedTexts()).toEqual(["hello", "again"]);
  });

  it("opens a conversation with the page context before a first file", async () => {
    const c = start();
    await tick();
    const png = new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])], { type: "image/png" });
    await c.sendFile(png, "a.png").catch(() => undefined);
    await tick();
    const open = server.requests.find((r) => r.path === "/visitor/conversation")!;
    expect(open.auth).toBe("Bearer kfv_1");
    expect(open.body).toEqual({
      context: { url: "https://shop.test/shoe", title: "Red shoe", product_id: "p-42", order_id: "" },
    });
  });

  it("keeps messages typed offline pending, then sends each once, in order", async () => {
    server.opts.down = true;
    const c = start();
    await tick();
    c.send("first");
    c.send("second");
    c.send("third");
    await tick();
    expect(c.state().messages.map((m) => m.status)).toEqual(["pending", "pending", "pending"]);
    expect(texts(c)).toEqual(["first", "second", "third"]);
    server.opts.down = false;
    await tick(10_000);
    expect(storedTexts()).toEqual(["first", "second", "third"]);
    const sends = server.sockets.flatMap((s) => s.sentOf("send"));
    expect(sends.length).toBe(3);
    expect(c.state().messages.map((m) => [m.seq, m.status])).toEqual([
      [1, "sent"],
      [2, "sent"],
      [3, "sent"],
    ]);
  });

  it("resends after a drop before the Ack without a duplicate, stored or shown", async () => {
    server.opts.autoStore = false;
    const c = start();
    await tick();
    c.send("once");
    await tick();
    const sock1 = server.last;
    expect(sock1.sentOf("send").length).toBe(1);
    sock1.drop();
    await tick(400);
    const sock2 = server.last;
    expect(sock2).not.toBe(sock1);
    expect(sock2.sentOf("send").map((s) => s.clientMsgId)).toEqual(sock1.sentOf("send").map((s) => s.clientMsgId));
    // the server got both copies (the first arrived late): stores once, acks the second
    for (const h of server.held.splice(0)) server.store(h.sock, h.send);
    await tick();
    expect(server.messages.length).toBe(1);
    expect(c.state().messages.length).toBe(1);
    expect(c.state().messages[0]).toMatchObject({ seq: 1, status: "sent" });
  });

  for (const messageFirst of [false, true]) {
    it(`shows an own message once when ${messageFirst ? "the Message precedes" : "the Ack precedes"} the other`, async () => {
      server.opts.messageFirst = messageFirst;
      const storage = new MemStorage();
      const c = start(storage);
      await tick();
      c.send("mine");
      await tick();
      expect(c.state().messages).toHaveLength(1);
      expect(c.state().messages[0]).toMatchObject({ seq: 1, status: "sent", sender: "shopper" });
      expect(storage.getItem("kefu:s1:outbox")).toBeNull();
    });
  }

  it("survives a refresh: a new client over the same storage sends the pending message once", async () => {
    const storage = new MemStorage();
    server.opts.down = true;
    const a = start(storage);
    await tick();
    a.send("typed before refresh");
    await tick();
    a.stop();
    const b = start(storage);
    await tick();
    expect(b.state().messages.map((m) => m.status)).toEqual(["pending"]);
    server.opts.down = false;
    await tick(10_000);
    expect(storedTexts()).toEqual(["typed before refresh"]);
    expect(b.state().messages[0]).toMatchObject({ seq: 1, status: "sent" });
  });

  it("two tabs sharing the outbox store and show a message once", async () => {
    const storage = new MemStorage();
    server.opts.down = true;
    const a = start(storage);
    await tick();
    a.send("shared");
    const b = start(storage); // the second tab sees the same outbox
    await tick();
    server.opts.down = false;
    await tick(10_000);
    expect(storedTexts()).toEqual(["shared"]);
    for (const c of [a, b]) {
      expect(c.state().messages).toHaveLength(1);
      expect(c.state().messages[0].status).toBe("sent");
    }
  });

  it("does not send again what another tab already got stored", async () => {
    const storage = new MemStorage();
    server.openConversation = "c1";
    // tab A typed it and the server stored it, but A closed before cleaning the shared outbox
    storage.setItem("kefu:s1:outbox", JSON.stringify([{ id: "dup-1", body: { text: "from A" }, at: 1 }]));
    server.opts.down = true;
    const c = start(storage);
    await tick();
    server.store(server.last, { conversationId: "c1", clientMsgId: "dup-1", body: { kind: { case: "text", value: { text: "from A" } } } } as never);
    server.opts.down = false;
    await tick(400);
    expect(server.last.sentOf("send")).toEqual([]);
    expect(storage.getItem("kefu:s1:outbox")).toBeNull();
    expect(c.state().messages.map((m) => [m.clientMsgId, m.seq, m.status])).toEqual([["dup-1", 1, "sent"]]);
  });

  it("marks a message refused with INVALID_ARGUMENT failed, does not resend it, and retries on request", async () => {
    let refuse = true;
    server.refuse = () => (refuse ? ErrorCode.INVALID_ARGUMENT : undefined);
    const c = start();
    await tick();
    c.send("bad");
    await tick();
    expect(c.state().messages[0].status).toBe("failed");
    refuse = false;
    c.send("good"); // later messages are not blocked by the failed one
    await tick();
    server.last.drop();
    await tick(400);
    const sends = server.sockets.flatMap((s) => s.sentOf("send"));
    expect(sends.length).toBe(2);
    expect(storedTexts()).toEqual(["good"]);
    c.retry(c.state().messages.find((m) => m.status === "failed")!.clientMsgId);
    await tick();
    expect(storedTexts()).toEqual(["good", "bad"]);
  });

  it("waits and resends after RATE_LIMITED, keeping the typed order", async () => {
    let limited = 1;
    server.refuse = () => (limited-- > 0 ? ErrorCode.RATE_LIMITED : undefined);
    const c = start();
    await tick();
    c.send("a");
    c.send("b");
    await tick();
    expect(storedTexts()).toEqual([]);
    await tick(1000);
    expect(storedTexts()).toEqual(["a", "b"]);
    expect(c.state().messages.map((m) => m.status)).toEqual(["sent", "sent"]);
  });

  it("opens a conversation again when the stored one is gone, and resends", async () => {
    const storage = new MemStorage();
    storage.setItem("kefu:s1:conv", JSON.stringify("c0"));
    server.staleConvs.add("c0");
    const c = start(storage);
    await tick();
    c.send("hi");
    await tick();
    const sends = server.last.sentOf("send");
    // Resent without a conversation: the server opens one with it, and the Ack names it.
    expect(sends.map((s) => s.conversationId)).toEqual(["c0", ""]);
    expect(sends[0].clientMsgId).toBe(sends[1].clientMsgId);
    expect(storedTexts()).toEqual(["hi"]);
    expect(c.state().conversationId).toBe("c1");
  });
});

describe("conversation", () => {
  it("follows the conversation an Ack names when the server moved the message to a new one", async () => {
    const storage = new MemStorage();
    storage.setItem("kefu:s1:conv", JSON.stringify("c0"));
    server.knownConvs.add("c0"); // accepted, but stored in c1 (c0 was closed meanwhile)
    server.staleConvs.add("c0");
    const c = start(storage);
    await tick();
    c.send("hello again");
    await tick();
    expect(server.last.sentOf("send")[0].conversationId).toBe("c0");
    expect(c.state().conversationId).toBe("c1");
    expect(JSON.parse(storage.getItem("kefu:s1:conv")!)).toBe("c1");
    expect(c.state().messages.map((m) => [m.conv, m.seq, m.status])).toEqual([["c1", 1, "sent"]]);
  });

  it("follows a conversation another tab opened (storage event)", async () => {
    const storage = new MemStorage();
    const events = new EventTarget();
    server.agentSays("welcome back");
    const c = start(storage, events);
    await tick();
    expect(c.state().conversationId).toBeNull();
    storage.setItem("kefu:s1:conv", JSON.stringify("c1"));
    events.dispatchEvent(Object.assign(new Event("storage"), { key: "kefu:s1:conv" }));
    await tick();
    expect(c.state().conversationId).toBe("c1");
    expect(server.last.sentOf("resume").map((r) => r.conversationId)).toEqual(["c1"]);
    expect(texts(c)).toEqual(["welcome back"]);
  });

  it("marks own messages read when the agent's read receipt covers them", async () => {
    const c = start();
    await tick();
    c.send("one");
    c.send("two");
    await tick();
    server.last.push({
      case: "read",
      value: { conversationId: "c1", upToSeq: 1n, who: { role: Role.AGENT, id: "a1", displayName: "Alice" } },
    });
    await tick();
    expect(c.state().messages.map((m) => m.status)).toEqual(["read", "sent"]);
  });

  it("tracks queue, assignment, typing, close and rating", async () => {
    server.openConversation = "c1";
    const c = start();
    await tick();
    const sock = server.last;
    sock.push({ case: "event", value: { conversationId: "c1", kind: { case: "queued", value: { position: 3 } } } });
    await tick();
    expect(c.state()).toMatchObject({ convState: "queued", queuePosition: 3 });
    sock.push({
      case: "event",
      value: {
        conversationId: "c1",
        kind: { case: "assigned", value: { agent: { role: Role.AGENT, id: "a1", displayName: "Alice" } } },
      },
    });
    sock.push({ case: "typing", value: { conversationId: "c1", typing: true, who: { role: Role.AGENT } } });
    await tick();
    expect(c.state()).toMatchObject({ convState: "assigned", agentName: "Alice", agentTyping: true });
    server.agentSays("How can I help?");
    await tick();
    expect(c.state().agentTyping).toBe(false);

    server.convState = "closed";
    sock.push({ case: "event", value: { conversationId: "c1", kind: { case: "closed", value: {} } } });
    await tick();
    expect(c.state()).toMatchObject({ convState: "closed", rated: false });
    await c.rate(5, "great");
    expect(server.rating).toEqual({ score: 5, comment: "great" });
    expect(c.state().rated).toBe(true);
  });

  it("after 'new chat', late frames of the closed conversation do not bring it back", async () => {
    server.openConversation = "c1";
    const c = start();
    await tick();
    server.last.push({ case: "event", value: { conversationId: "c1", kind: { case: "closed", value: {} } } });
    await tick();
    c.newChat();
    await tick();
    server.agentSays("Rated 5/5", Role.SYSTEM);
    await tick();
    expect(c.state().conversationId).toBeNull();
    expect(c.state().messages).toEqual([]);
  });

  it("throttles own typing frames and says stopped when idle", async () => {
    server.openConversation = "c1";
    const c = start();
    await tick();
    for (let i = 0; i < 10; i++) {
      c.typing();
      await tick(200);
    }
    await tick(4000);
    const frames = server.last.sentOf("typing").map((t) => t.typing);
    expect(frames).toEqual([true, false]);
  });

  it("counts unread agent messages, sends a read receipt when seen, and notifies listeners of live ones", async () => {
    server.openConversation = "c1";
    server.agentSays("old");
    const c = start();
    const got: string[] = [];
    c.on("message", (m) => got.push(`${m.sender}:${m.text}:${m.seq}`));
    await tick();
    expect(c.state().unread).toBe(1);
    server.agentSays("new", Role.BOT);
    await tick();
    expect(got).toEqual(["bot:new:2"]); // history is not "new"
    expect(c.state().unread).toBe(2);
    c.seen();
    await tick();
    expect(c.state().unread).toBe(0);
    expect(server.last.sentOf("read").map((r) => r.upToSeq)).toEqual([2n]);
  });

  it("leave-a-message: saves the email on the visitor, opens a left conversation, sends the text", async () => {
    server.agentsOnline = 0;
    const c = start();
    await tick();
    expect(c.state().config.agents_online).toBe(0);
    await c.leaveMessage({ name: "Li", email: "li@example.com", text: "Call me" });
    await tick();
    const session = server.requests.filter((r) => r.path === "/visitor/session").pop()!;
    expect(session.body).toMatchObject({ site_id: "s1", visitor_token: "kfv_1", email: "li@example.com", name: "Li" });
    const open = server.requests.find((r) => r.path === "/visitor/conversation")!;
    expect(open.body).toMatchObject({ left_message: true });
    expect(storedTexts()).toEqual(["Call me"]);
  });
});
