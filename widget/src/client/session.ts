// The shopper's side of the protocol, without any DOM: identity, the current
// conversation, resume, the outbox and what the server says about the conversation.
// The UI reads `state()` after each "change" and calls the methods below; tests drive it
// with a fake WebSocket and fetch.
// Why one long file: `ChatClient` is one state machine whose handlers all change the same
// conversation state; the parts that stand alone (connection, outbox, timeline, storage)
// already live in their own files, and splitting the class would spread that state.
import { ErrorCode, Role } from "../gen/kefu/v1/common_pb";
import type { ConversationEvent } from "../gen/kefu/v1/conversation_pb";
import type { Ack, Error as ErrorFrame, Hello, ServerEnvelope } from "../gen/kefu/v1/envelope_pb";
import type { Message } from "../gen/kefu/v1/message_pb";
import {
  Api,
  DEFAULT_CONFIG,
  statusOf,
  type ContextJson,
  type ConversationJson,
  type VisitorConfig,
  type VisitorSession,
} from "../api";
import { uuid } from "../uuid";
import { Connection, type ConnState, type SocketCtor } from "./connection";
import { Outbox, type OutItem } from "./outbox";
import { SiteStorage } from "./storage";
import { Timeline, senderOf, type Sender, type ViewMessage } from "./timeline";

export type ConvState = "none" | "queued" | "assigned" | "closed";

export interface ChatState {
  conn: ConnState;
  config: VisitorConfig;
  /** False until /visitor/config answered (or failed): avoids flashing the offline form. */
  configLoaded: boolean;
  conversationId: string | null;
  convState: ConvState;
  /** 1-based queue position; 0 when unknown. */
  queuePosition: number;
  agentName: string;
  agentTyping: boolean;
  /** The closed conversation was rated (now or before). */
  rated: boolean;
  /** Agent/bot messages the shopper has not seen yet. */
  unread: number;
  messages: ViewMessage[];
}

/** What `Kefu.on('message')` callbacks receive. */
export interface IncomingMessage {
  text: string;
  sender: Sender;
  seq: number;
  conversationId: string;
}

export interface ClientOptions {
  siteId: string;
  /** Server origin (the widget script's origin). */
  origin: string;
  group?: string;
  productId?: string;
  orderId?: string;
  storage: Storage | null;
  WebSocket: SocketCtor;
  fetch?: typeof fetch;
  /** Where online/offline/storage events come from (window). */
  events?: EventTarget;
  /** The page the shopper is on. */
  page?: () => { url: string; title: string };
  random?: () => number;
}

interface StoredToken {
  token: string;
  visitorId: string;
  expiresAtMs: number;
}

type Listener<T> = (v: T) => void;

const TYPING_REFRESH_MS = 3000;
const TYPING_IDLE_MS = 4000;
const AGENT_TYPING_TIMEOUT_MS = 8000;
const ACK_TIMEOUT_MS = 15_000;

/** Error codes that will not get better by resending the same message. */
const PERMANENT = [
  ErrorCode.INVALID_ARGUMENT,
  ErrorCode.TOO_LARGE,
  ErrorCode.FORBIDDEN,
  ErrorCode.MALFORMED_FRAME,
  ErrorCode.UNKNOWN_TYPE,
];

export class UploadError extends Error {
  constructor(readonly code: "type" | "size" | "failed") {
    super(code);
  }
}

export class ChatClient {
  readonly api: Api;
  readonly #store: SiteStorage;
  readonly #outbox: Outbox;
  readonly #timeline = new Timeline();
  readonly #conn: Connection;
  readonly #listeners = { change: new Set<Listener<void>>(), message: new Set<Listener<IncomingMessage>>() };

  #config: VisitorConfig;
  #configLoaded = false;
  #conv: string | null;
  #convState: ConvState = "none";
  #queuePosition = 0;
  #agentName = "";
  #agentTyping = false;
  #rated = false;

  /** Set when the stored token must be confirmed (none yet, or a connect failed before Hello). */
  #checkSession: boolean;
  #sessionFlight: Promise<string> | null = null;
  #convFlight: Promise<string> | null = null;
  /** The one message sent and not yet acknowledged. One at a time keeps the stored order
   * equal to the typed order even when the server refuses one for a while (rate limits). */
  #inflight: { id: string; conv: string } | null = null;
  #inflightTimer: ReturnType<typeof setTimeout> | undefined;
  /** After RATE_LIMITED/INTERNAL: no send before this time. */
  #holdUntil = 0;
  /** NOT_FOUND/CONFLICT answers per message, so a broken conversation cannot loop forever. */
  #reopenTries = new Map<string, number>();
  /** Only the first message of a page load carries the page context (and its resends). */
  #contextMsgId: string | null = null;
  #resuming = new Set<string>();
  /** Conversations the shopper left with "new chat": late frames for them (a rating
   * notice, say) must not pull the view back. */
  readonly #left = new Set<string>();
  /** Conversations whose first replay this page load is done: later arrivals are "live". */
  #historyLoaded = new Set<string>();
  #readSent = new Map<string, number>();
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #flushDelay = 0;
  #typingSentAt = 0;
  #typingIdle: ReturnType<typeof setTimeout> | undefined;
  #agentTypingTimer: ReturnType<typeof setTimeout> | undefined;
  #emitQueued = false;
  #stopped = false;
  readonly #unlisten: (() => void)[] = [];

  readonly #opts: ClientOptions;

  constructor(opts: ClientOptions) {
    this.#opts = opts;
    this.#store = new SiteStorage(opts.siteId, opts.storage);
    this.#outbox = new Outbox(this.#store);
    this.api = new Api(opts.origin, () => this.#token()?.token ?? null, opts.fetch);
    this.#config = { site_id: opts.siteId, ...DEFAULT_CONFIG };
    this.#conv = this.#store.get<string>("conv");
    this.#checkSession = !this.#token();
    this.#conn = new Connection(
      opts.WebSocket,
      {
        url: async () => {
          // A socket that failed before Hello after naming a resume point: this one names
          // none (a refused point's HTTP 400 looks like any failed upgrade to JS, and must
          // not keep the widget offline); it resumes with a frame after Hello instead.
          const skip = this.#checkSession && this.#resuming.size;
          const token = await this.#ensureSession();
          // The current conversation's resume point rides in the URL: the server replays it
          // before any live frame, whereas live messages could overtake a replay asked for
          // with a Resume frame after Hello. Marked as resuming now, as if that frame were
          // sent (no socket is open until Hello): gap detection waits for its ResumeDone,
          // and Hello sends no frame for it.
          const conv = !skip && this.#conv;
          this.#resuming.clear();
          if (conv) this.#resuming.add(conv);
          const resume = conv ? `&resume=${encodeURIComponent(conv)}:${this.#timeline.contiguous(conv)}` : "";
          return `${opts.origin.replace(/^http/, "ws")}/ws/shopper?token=${encodeURIComponent(token)}${resume}`;
        },
        hello: (h) => this.#onHello(h),
        frame: (env) => this.#onFrame(env),
        state: () => this.#changed(),
        failedBeforeHello: () => {
          this.#checkSession = true;
        },
      },
      opts.random,
    );
  }

  // ---- lifecycle ---------------------------------------------------------------------

  /** Empty the view but for what is still waiting to be sent. */
  #resetView(): void {
    this.#timeline.clear();
    for (const item of this.#outbox.list()) this.#timeline.pending(item);
  }

  start(): void {
    this.#resetView();
    void this.#loadConfig();
    this.#conn.start();
    const ev = this.#opts.events;
    if (ev) {
      const on = (name: string, fn: (e: Event) => void) => {
        ev.addEventListener(name, fn);
        this.#unlisten.push(() => ev.removeEventListener(name, fn));
      };
      on("online", () => this.#conn.nudge());
      on("offline", () => this.#conn.drop());
      on("storage", (e) => this.#onStorage(e as StorageEvent));
    }
    this.#changed();
  }

  stop(): void {
    this.#stopped = true;
    this.#conn.stop();
    clearTimeout(this.#flushTimer);
    clearTimeout(this.#inflightTimer);
    clearTimeout(this.#typingIdle);
    clearTimeout(this.#agentTypingTimer);
    for (const u of this.#unlisten.splice(0)) u();
  }

  on(ev: "change", cb: Listener<void>): () => void;
  on(ev: "message", cb: Listener<IncomingMessage>): () => void;
  on(ev: "change" | "message", cb: Listener<never>): () => void {
    const set = this.#listeners[ev] as Set<Listener<never>>;
    set.add(cb);
    return () => set.delete(cb);
  }

  state(): ChatState {
    const conv = this.#conv;
    const seen = conv ? (this.#store.get<Record<string, number>>("seen")?.[conv] ?? 0) : 0;
    return {
      conn: this.#conn.state,
      config: this.#config,
      configLoaded: this.#configLoaded,
      conversationId: conv,
      convState: this.#convState,
      queuePosition: this.#queuePosition,
      agentName: this.#agentName,
      agentTyping: this.#agentTyping,
      rated: this.#rated,
      unread: conv ? this.#timeline.seqs(conv, true).filter((q) => q > seen).length : 0,
      messages: this.#timeline.list(),
    };
  }

  /** Coalesced: a replay of hundreds of messages causes one render, not hundreds. */
  #changed(): void {
    if (this.#emitQueued || this.#stopped) return;
    this.#emitQueued = true;
    queueMicrotask(() => {
      this.#emitQueued = false;
      for (const cb of this.#listeners.change) safe(cb);
    });
  }

  async #loadConfig(): Promise<void> {
    try {
      const c = await this.api.config(this.#opts.siteId);
      this.#config = { ...this.#config, ...c };
    } catch {
      // Older servers have no config endpoint: the defaults keep the chat usable.
    }
    this.#configLoaded = true;
    this.#changed();
  }

  // ---- identity ----------------------------------------------------------------------

  #token(): StoredToken | null {
    const t = this.#store.get<StoredToken>("token");
    if (!t || typeof t.token !== "string") return null;
    if (t.expiresAtMs && t.expiresAtMs < Date.now()) return null;
    return t;
  }

  /** A usable visitor token, creating or confirming the session when needed. */
  #ensureSession(): Promise<string> {
    const t = this.#token();
    if (t && !this.#checkSession) return Promise.resolve(t.token);
    this.#sessionFlight ??= this.#refreshSession().finally(() => {
      this.#sessionFlight = null;
    });
    return this.#sessionFlight;
  }

  async #refreshSession(extra: Partial<Record<string, string>> = {}): Promise<string> {
    const site_id = this.#opts.siteId;
    const old = this.#token();
    let s: VisitorSession;
    try {
      s = await this.api.session({ site_id, visitor_token: old?.token, ...extra });
    } catch (e) {
      const status = statusOf(e);
      // Blocked by the shop's support team: asking again will not help, and a new anonymous
      // visitor would only dodge the block. The token stays, so a reload is refused as well.
      if (status === 403) this.#conn.block();
      // An expired or unknown token: start afresh as a new anonymous visitor.
      if (status !== 401 || !old || extra.customer_id) throw e;
      this.#store.set("token", null);
      s = await this.api.session({ site_id, ...extra });
    }
    this.#checkSession = false;
    this.#adoptSession(s, old);
    return s.visitor_token;
  }

  #adoptSession(s: VisitorSession, old: StoredToken | null): void {
    this.#store.set("token", { token: s.visitor_token, visitorId: s.visitor_id, expiresAtMs: s.expires_at_ms });
    if (old && old.visitorId !== s.visitor_id) {
      // Someone else now: their conversation, not the previous visitor's.
      this.#resetView();
      this.#setConv(s.open_conversation_id ?? null);
      this.#readSent.clear();
      this.#historyLoaded.clear();
    } else if (s.open_conversation_id && s.open_conversation_id !== this.#conv) {
      this.#setConv(s.open_conversation_id);
    }
    this.#changed();
  }

  /** Sign the shopper in with the shop's signature; may switch to another visitor. */
  async identify(who: { customerId: string; signature: string; name?: string; email?: string }): Promise<void> {
    const before = this.#token()?.token;
    await this.#refreshSession(
      clean({ customer_id: who.customerId, signature: who.signature, name: who.name, email: who.email }),
    );
    if (this.#token()?.token !== before) this.#conn.restart();
  }

  // ---- conversation ------------------------------------------------------------------

  #setConv(id: string | null): void {
    if (id === this.#conv) return;
    this.#conv = id;
    this.#store.set("conv", id);
    this.#convState = id ? this.#convState : "none";
    if (!id) {
      this.#queuePosition = 0;
      this.#agentName = "";
      this.#agentTyping = false;
    }
    this.#rated = false;
    if (id && this.#conn.online) {
      this.#resume(id);
      void this.#fetchConv(id);
    }
    this.#changed();
  }

  /** Where the shopper is, as the proto's PageContext wants it (REST takes snake_case). */
  #context() {
    const p = this.#opts.page?.() ?? { url: "", title: "" };
    return {
      url: /^https?:/i.test(p.url) ? p.url.slice(0, 2048) : "",
      title: p.title.slice(0, 200),
      productId: this.#opts.productId ?? "",
      orderId: this.#opts.orderId ?? "",
    };
  }

  /** The open conversation, opening one (queued) if there is none. */
  #ensureConversation(leftMessage = false): Promise<string> {
    if (this.#conv && !leftMessage && this.#convState !== "closed") return Promise.resolve(this.#conv);
    this.#convFlight ??= (async () => {
      await this.#ensureSession();
      const c = await this.api.openConversation(
        clean({ group: this.#opts.group, context: contextJson(this.#context()), left_message: leftMessage || undefined }),
      );
      this.#setConv(c.id);
      this.#applyConv(c);
      return c.id;
    })().finally(() => {
      this.#convFlight = null;
    });
    return this.#convFlight;
  }

  #applyConv(c: ConversationJson): void {
    this.#convState = c.state === "closed" ? "closed" : c.state === "assigned" ? "assigned" : "queued";
    this.#rated = !!c.rating;
    if (this.#convState !== "queued") this.#queuePosition = 0;
    else if (c.queue_position) this.#queuePosition = c.queue_position;
    this.#changed();
  }

  /** After (re)connecting: the conversation may have been closed while we were away. */
  async #fetchConv(id: string): Promise<void> {
    try {
      const c = await this.api.conversation(id);
      if (id === this.#conv) this.#applyConv(c);
    } catch (e) {
      const status = statusOf(e);
      if ((status === 404 || status === 403) && id === this.#conv) {
        this.#setConv(null);
      }
    }
  }

  /** Start over after a closed conversation; the next message opens a new one. */
  newChat(): void {
    if (this.#conv) this.#left.add(this.#conv);
    this.#resetView();
    this.#setConv(null);
    void this.#loadConfig();
  }

  async rate(score: number, comment: string): Promise<void> {
    const id = this.#conv;
    if (!id) return;
    try {
      await this.api.rate(id, score, comment);
    } catch (e) {
      // 409: already rated (perhaps in another tab) or not closed; the server knows which.
      if (statusOf(e) !== 409) throw e;
      await this.#fetchConv(id);
      if (!this.#rated) throw e;
    }
    this.#rated = true;
    this.#changed();
  }

  /** The offline form: remember the email on the visitor, open a "left" conversation, send. */
  async leaveMessage(f: { name: string; email: string; text: string }): Promise<void> {
    await this.#ensureSession();
    await this.#refreshSession(clean({ name: f.name, email: f.email }));
    await this.#ensureConversation(true);
    if (this.send(f.text)) throw new Error("too_long");
  }

  // ---- sending -----------------------------------------------------------------------

  /** Queue a text message. Returns "too_long" when over the site's limit, else null. */
  send(text: string): "too_long" | null {
    const t = text.trim();
    if (!t) return null;
    if (new TextEncoder().encode(t).length > this.#config.max_text_bytes) return "too_long";
    this.#enqueue({ text: t });
    return null;
  }

  /** Check, upload, then send as an attachment message. */
  async sendFile(file: Blob, name: string): Promise<void> {
    const types = this.#config.upload_types;
    const type = file.type;
    const okType =
      !types.length || types.some((t) => t === type || (t.endsWith("/*") && type.startsWith(t.slice(0, -1))));
    if (!type || !okType) throw new UploadError("type");
    if (file.size > this.#config.max_upload_bytes || file.size === 0) throw new UploadError("size");
    let a;
    try {
      const conv = await this.#ensureConversation();
      a = await this.api.upload(conv, file, name);
    } catch (e) {
      const status = statusOf(e);
      if (status === 413) throw new UploadError("size");
      if (status === 415) throw new UploadError("type");
      throw new UploadError("failed");
    }
    this.#enqueue({
      attachment: { id: a.attachment_id, name: a.file_name, type: a.content_type, size: a.size_bytes },
    });
  }

  #enqueue(body: OutItem["body"]): void {
    const item: OutItem = { id: uuid(), body, at: Date.now() };
    this.#outbox.add(item);
    this.#timeline.pending(item);
    this.#stopTyping();
    this.#changed();
    void this.#flush();
  }

  /** A failed message: try once more with the same id (the server stored nothing for it). */
  retry(clientMsgId: string): void {
    this.#fail(clientMsgId);
    this.#reopenTries.delete(clientMsgId);
    void this.#flush();
  }

  /** Mark a message failed with `code` (stored and shown), or pending again without one. */
  #fail(id: string, code?: string): void {
    this.#outbox.setFailed(id, code);
    this.#timeline.setFailed(id, code);
    this.#changed();
  }

  /** Wait before sending again (the server asked us to slow down or failed). */
  #hold(): void {
    this.#flushDelay = Math.min(10_000, Math.max(1000, this.#flushDelay * 2));
    this.#holdUntil = Date.now() + this.#flushDelay;
    clearTimeout(this.#flushTimer);
    this.#flushTimer = setTimeout(() => void this.#flush(), this.#flushDelay);
  }

  #settled(id: string): void {
    if (this.#inflight?.id !== id) return;
    this.#inflight = null;
    clearTimeout(this.#inflightTimer);
  }

  /** Send the oldest pending message, if none is in flight on this socket. */
  async #flush(): Promise<void> {
    if (!this.#conn.online || this.#stopped || this.#inflight || Date.now() < this.#holdUntil) return;
    const head = () =>
      this.#outbox
        .list()
        .filter((i) => !i.failed)
        .sort((a, b) => a.at - b.at)[0];
    const first = head();
    if (!first) return;
    let conv = this.#conv ?? "";
    try {
      // A text needs no conversation beforehand: the server opens one together with it, so
      // agents are never offered an empty chat. (Files are uploaded into one, opened first.)
      if (!conv && !("text" in first.body)) conv = await this.#ensureConversation();
    } catch (e) {
      if (statusOf(e) === 401) {
        this.#checkSession = true;
        this.#conn.restart();
      } else this.#hold();
      return;
    }
    const item = head();
    if (!item || !this.#conn.online || this.#inflight || Date.now() < this.#holdUntil) return;
    this.#contextMsgId ??= item.id;
    // Marked before sending: the Ack may arrive before send() returns.
    this.#inflight = { id: item.id, conv };
    const b = item.body;
    const ok = this.#conn.send({
      case: "send",
      value: {
        conversationId: conv,
        clientMsgId: item.id,
        // Plain init shapes: encoding creates the messages (and reads only their fields).
        body: {
          kind: "text" in b ? { case: "text", value: b } : { case: "attachment", value: { attachmentId: b.attachment.id } },
        },
        group: this.#opts.group ?? "",
        context: this.#contextMsgId === item.id ? this.#context() : undefined,
      },
    });
    if (!ok) {
      this.#inflight = null;
      return;
    }
    if (this.#inflight?.id !== item.id) return; // already answered
    // No Ack on a live socket: resend (same id, so at most one message is stored).
    clearTimeout(this.#inflightTimer);
    this.#inflightTimer = setTimeout(() => {
      this.#inflight = null;
      void this.#flush();
    }, ACK_TIMEOUT_MS);
  }

  // ---- typing and reading ------------------------------------------------------------

  /** Call on every keystroke; sends "typing" at most every few seconds and "stopped" when idle. */
  typing(): void {
    if (!this.#conv || !this.#conn.online) return;
    const now = Date.now();
    if (now - this.#typingSentAt > TYPING_REFRESH_MS) {
      this.#typingSentAt = now;
      this.#conn.send({ case: "typing", value: { conversationId: this.#conv, typing: true } });
    }
    clearTimeout(this.#typingIdle);
    this.#typingIdle = setTimeout(() => this.#stopTyping(), TYPING_IDLE_MS);
  }

  #stopTyping(): void {
    clearTimeout(this.#typingIdle);
    if (!this.#typingSentAt) return;
    this.#typingSentAt = 0;
    if (this.#conv) this.#conn.send({ case: "typing", value: { conversationId: this.#conv, typing: false } });
  }

  /** The shopper is looking at the chat (panel open, tab visible): mark everything seen. */
  seen(): void {
    const conv = this.#conv;
    if (!conv) return;
    const up = this.#timeline.maxSeq(conv, true);
    if (!up) return;
    const seen = this.#store.get<Record<string, number>>("seen") ?? {};
    if ((seen[conv] ?? 0) < up) {
      // Only the current conversation matters; older entries are dropped.
      this.#store.set("seen", { [conv]: up });
      this.#changed();
    }
    if ((this.#readSent.get(conv) ?? 0) < up && this.#conn.send({ case: "read", value: { conversationId: conv, upToSeq: BigInt(up) } })) {
      this.#readSent.set(conv, up);
    }
  }

  /** Fetch an attachment's bytes with the visitor token. */
  attachment(id: string): Promise<Blob> {
    return this.api.attachment(id);
  }

  // ---- frames from the server --------------------------------------------------------

  #onHello(h: Hello): void {
    this.#inflight = null;
    clearTimeout(this.#inflightTimer);
    // #resuming was reset when the URL was built: it holds the URL's resume point.
    this.#flushDelay = 0;
    const open = h.openConversationId;
    if (open && open !== this.#conv && this.#convState !== "queued" && this.#convState !== "assigned") {
      this.#setConv(open);
    } else if (this.#conv) {
      this.#resume(this.#conv); // no frame if the URL named it (already resuming)
      void this.#fetchConv(this.#conv);
    }
    if (this.#configLoaded) void this.#loadConfig();
    void this.#flush();
    this.#changed();
  }

  #resume(conv: string): void {
    if (this.#resuming.has(conv)) return;
    // Marked before sending: the answer may arrive before send() returns.
    this.#resuming.add(conv);
    const lastSeq = BigInt(this.#timeline.contiguous(conv));
    if (!this.#conn.send({ case: "resume", value: { conversationId: conv, lastSeq } })) this.#resuming.delete(conv);
  }

  #onFrame(env: ServerEnvelope): void {
    const k = env.kind;
    switch (k.case) {
      case "ack":
        this.#onAck(k.value);
        break;
      case "message":
        this.#onMessage(k.value);
        break;
      case "error":
        this.#onError(k.value);
        break;
      case "resumeDone":
        this.#resuming.delete(k.value.conversationId);
        this.#historyLoaded.add(k.value.conversationId);
        // Seqs up to last_seq that never came are not ours to see (private notes).
        this.#timeline.settle(k.value.conversationId, Number(k.value.lastSeq));
        break;
      case "typing":
        if (k.value.conversationId === this.#conv && k.value.who?.role !== Role.SHOPPER) {
          this.#setAgentTyping(k.value.typing);
        }
        break;
      case "read":
        if (k.value.who?.role !== Role.SHOPPER && this.#timeline.read(k.value.conversationId, Number(k.value.upToSeq))) {
          this.#changed();
        }
        break;
      case "event":
        this.#onEvent(k.value);
        break;
    }
  }

  #setAgentTyping(on: boolean): void {
    clearTimeout(this.#agentTypingTimer);
    this.#agentTyping = on;
    // A lost "stopped" must not leave the indicator on for ever.
    if (on) this.#agentTypingTimer = setTimeout(() => this.#setAgentTyping(false), AGENT_TYPING_TIMEOUT_MS);
    this.#changed();
  }

  #onAck(a: Ack): void {
    this.#outbox.remove(a.clientMsgId);
    this.#settled(a.clientMsgId);
    this.#reopenTries.delete(a.clientMsgId);
    this.#flushDelay = 0;
    if (a.conversationId && a.conversationId !== this.#conv) {
      // The old conversation was closed and the server opened (or reopened) another.
      this.#convState = "queued";
      this.#setConv(a.conversationId);
    }
    if (this.#timeline.ack(a.clientMsgId, a.conversationId, Number(a.seq))) this.#changed();
    void this.#flush();
  }

  #onMessage(m: Message): void {
    const conv = m.conversationId;
    if (conv !== this.#conv && !this.#timeline.maxSeq(conv)) {
      // Another tab may have opened a new conversation; follow it only if ours is over.
      if ((this.#conv && this.#convState !== "closed") || this.#left.has(conv)) return;
      this.#convState = "queued";
      this.#setConv(conv);
    }
    const sender = senderOf(m.sender?.role);
    if (sender === "shopper" && m.clientMsgId) {
      // Stored (perhaps sent by another tab): it must not be sent again from here.
      this.#outbox.remove(m.clientMsgId);
    }
    if (!this.#timeline.stored(m)) return;
    const seq = Number(m.seq);
    if (seq > this.#timeline.contiguous(conv) + 1 && conv === this.#conv) this.#resume(conv);
    if (sender === "agent" || sender === "bot") {
      if (this.#agentTyping) this.#setAgentTyping(false);
      if (this.#historyLoaded.has(conv)) {
        const msg: IncomingMessage = { text: textOf(m), sender, seq, conversationId: conv };
        for (const cb of this.#listeners.message) safe(() => cb(msg));
      }
    }
    this.#changed();
  }

  #onError(e: ErrorFrame): void {
    const id = e.clientMsgId;
    if (e.code === ErrorCode.UNAUTHENTICATED) {
      this.#checkSession = true;
      this.#conn.restart();
      return;
    }
    if (!id || !this.#outbox.list().some((i) => i.id === id)) return;
    const sentTo = this.#inflight?.id === id ? this.#inflight.conv : null;
    this.#settled(id);
    const permanent = PERMANENT.includes(e.code) && ErrorCode[e.code].toLowerCase();
    if (permanent) {
      this.#fail(id, permanent);
      void this.#flush();
      return;
    }
    if (e.code === ErrorCode.NOT_FOUND || e.code === ErrorCode.CONFLICT) {
      const tries = (this.#reopenTries.get(id) ?? 0) + 1;
      this.#reopenTries.set(id, tries);
      if (tries > 3) return this.#fail(id, "conflict");
      // Only the first refusal for a conversation drops it; later ones for messages
      // pipelined to the same dead conversation just get resent to the new one.
      if (sentTo && sentTo === this.#conv) {
        this.#convState = "closed";
        this.#setConv(null);
      }
      void this.#flush();
      return;
    }
    // RATE_LIMITED, INTERNAL and anything unknown: the message may go through later.
    this.#hold();
  }

  #onEvent(ev: ConversationEvent): void {
    const id = ev.conversationId;
    const k = ev.kind;
    if (id !== this.#conv) {
      const opens = k.case === "queued" || k.case === "assigned" || k.case === "reopened";
      if (!opens || (this.#conv && this.#convState !== "closed") || this.#left.has(id)) return;
      this.#setConv(id);
    }
    switch (k.case) {
      case "queued":
        this.#convState = "queued";
        this.#queuePosition = k.value.position;
        break;
      case "assigned":
        this.#convState = "assigned";
        this.#queuePosition = 0;
        this.#agentName = k.value.agent?.displayName ?? "";
        break;
      case "transferred":
        if (!k.value.toAgentId) {
          this.#convState = "queued";
          this.#queuePosition = 0;
        }
        break;
      case "closed":
        this.#convState = "closed";
        this.#queuePosition = 0;
        this.#rated = false;
        this.#setAgentTyping(false);
        break;
      case "reopened":
        this.#convState = "queued";
        this.#queuePosition = 0;
        break;
      default:
        return;
    }
    this.#changed();
  }

  // ---- other tabs --------------------------------------------------------------------

  #onStorage(e: StorageEvent): void {
    if (!e.key) return;
    if (e.key === this.#store.full("token")) {
      // Another tab identified the shopper (or started afresh): follow it.
      this.#resetView();
      this.#conv = this.#store.get<string>("conv");
      this.#convState = "none";
      this.#checkSession = false;
      this.#conn.restart();
    } else if (e.key === this.#store.full("conv")) {
      const id = this.#store.get<string>("conv");
      if (id === this.#conv) return;
      if (!id) {
        this.#resetView();
      }
      this.#convState = "none";
      this.#setConv(id);
    } else if (e.key === this.#store.full("outbox")) {
      for (const item of this.#outbox.list()) {
        this.#timeline.pending(item);
        if (!item.failed) this.#timeline.setFailed(item.id, undefined);
      }
    }
    this.#changed();
  }
}

/** The words of a message for `Kefu.on('message')`; cards and files have none. */
function textOf(m: Message): string {
  const k = m.body?.kind;
  return k?.case === "text" || k?.case === "system" ? k.value.text : "";
}

function contextJson(c: { url: string; title: string; productId: string; orderId: string }): ContextJson {
  return { url: c.url, title: c.title, product_id: c.productId, order_id: c.orderId };
}

function clean<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined || o[k] === "") delete o[k];
  return o;
}

/** A host page's callback must not break the widget, nor our bug the host page. */
export function safe(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    console.error("[kefu]", e);
  }
}

