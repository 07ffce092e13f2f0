// A small in-memory stand-in for the kefu server: sockets that speak real protobuf (the
// generated code) and the REST endpoints the widget calls. Tests steer it to misbehave.
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { Role, ErrorCode } from "../src/gen/kefu/v1/common_pb";
import {
  ClientEnvelopeSchema,
  ServerEnvelopeSchema,
  type ClientEnvelope,
  type SendMessage,
} from "../src/gen/kefu/v1/envelope_pb";
import { MessageSchema, type Message } from "../src/gen/kefu/v1/message_pb";
import type { SocketLike } from "../src/client/connection";

type ServerKind = MessageInitShape<typeof ServerEnvelopeSchema>["kind"];

/** Stand-in for a browser Storage shared by "tabs" and surviving "refreshes". */
export class MemStorage implements Storage {
  private m = new Map<string, string>();
  get length() {
    return this.m.size;
  }
  clear() {
    this.m.clear();
  }
  getItem(k: string) {
    return this.m.has(k) ? this.m.get(k)! : null;
  }
  key(i: number) {
    return [...this.m.keys()][i] ?? null;
  }
  removeItem(k: string) {
    this.m.delete(k);
  }
  setItem(k: string, v: string) {
    this.m.set(k, String(v));
  }
}

export class FakeSocket implements SocketLike {
  binaryType = "blob";
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  /** Every frame the client sent, decoded. */
  readonly sent: ClientEnvelope[] = [];
  closedByClient = false;

  constructor(
    readonly url: string,
    private readonly server: FakeServer,
  ) {}

  send(data: Uint8Array): void {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    const env = fromBinary(ClientEnvelopeSchema, data);
    this.sent.push(env);
    this.server.handle(this, env);
  }

  close(): void {
    this.closedByClient = true;
    this.readyState = 3;
  }

  /** Server → client frame. */
  push(kind: ServerKind): void {
    const bytes = toBinary(ServerEnvelopeSchema, create(ServerEnvelopeSchema, { kind }));
    this.onmessage?.({ data: bytes.slice().buffer });
  }

  /** The network drops the connection. */
  drop(): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({});
  }

  get open(): boolean {
    return this.readyState === 1;
  }

  sentOf<K extends NonNullable<ClientEnvelope["kind"]["case"]>>(k: K) {
    return this.sent
      .filter((e) => e.kind.case === k)
      .map((e) => e.kind.value as Extract<ClientEnvelope["kind"], { case: K }>["value"]);
  }
}

export interface ServerOptions {
  /** Open sockets and send Hello at once (else the test calls accept()). */
  autoAccept: boolean;
  /** Store and acknowledge SendMessage at once (else they wait in `held`). */
  autoStore: boolean;
  /** Send the stored Message before the Ack (true) or after (false). */
  messageFirst: boolean;
  heartbeatMs: number;
  /** Refuse sockets (as when the server is down). */
  down: boolean;
}

export class FakeServer {
  opts: ServerOptions = { autoAccept: true, autoStore: true, messageFirst: false, heartbeatMs: 30_000, down: false };
  readonly sockets: FakeSocket[] = [];
  /** Stored messages of conversation c1, seq = index + 1. */
  readonly messages: Message[] = [];
  readonly held: { sock: FakeSocket; send: SendMessage }[] = [];
  readonly byClientId = new Map<string, Message>();
  /** Decides whether to refuse a SendMessage with an error code (checked before storing). */
  refuse: (send: SendMessage) => ErrorCode | undefined = () => undefined;
  /** Conversation ids the server knows (others answer NOT_FOUND). */
  readonly knownConvs = new Set<string>(["c1"]);
  /** Conversations REST still shows as open but SendMessage refuses (closed meanwhile). */
  readonly staleConvs = new Set<string>();
  /** Tokens the server no longer accepts (POST /visitor/session answers 401). */
  readonly expired = new Set<string>();
  /** Tokens of blocked visitors: every request answers 403, sockets are refused. */
  readonly blocked = new Set<string>();
  /** Do not echo heartbeats (a half-dead connection). */
  silent = false;
  readonly convId = "c1";
  openConversation = "";
  agentsOnline = 1;
  convState: "queued" | "assigned" | "closed" = "queued";
  rating: { score: number; comment: string } | null = null;
  readonly requests: { method: string; path: string; body: unknown; auth: string | null }[] = [];
  tokens = 0;

  /** The WebSocket constructor to hand to the client. */
  readonly Socket = ((server: FakeServer) =>
    class extends FakeSocket {
      constructor(url: string) {
        super(url, server);
        server.sockets.push(this);
        // A refused token fails the upgrade (401/403), which JS sees as a plain close.
        const token = new URL(url).searchParams.get("token") ?? "";
        if (server.opts.down || server.expired.has(token) || server.blocked.has(token)) {
          queueMicrotask(() => this.drop());
        } else if (server.opts.autoAccept) {
          queueMicrotask(() => server.accept(this));
        }
      }
    })(this);

  get last(): FakeSocket {
    return this.sockets[this.sockets.length - 1];
  }

  accept(sock: FakeSocket): void {
    if (sock.readyState === 3) return;
    sock.readyState = 1;
    sock.onopen?.({});
    sock.push({
      case: "hello",
      value: {
        you: { role: Role.SHOPPER, id: "v1", displayName: "Visitor" },
        heartbeatIntervalMs: this.opts.heartbeatMs,
        serverTimeMs: BigInt(Date.now()),
        openConversationId: this.openConversation,
        maxFrameBytes: 65536,
      },
    });
    // Like the real server: the upgrade URL's resume points are replayed right after
    // Hello, before any live frame.
    const points = new URL(sock.url).searchParams.get("resume");
    for (const point of points ? points.split(",") : []) {
      const at = point.lastIndexOf(":");
      this.replay(sock, point.slice(0, at), BigInt(point.slice(at + 1)));
    }
  }

  /** A supervisor blocks the visitor holding `token`: its open sockets get GoAway VISITOR_BLOCKED. */
  block(token: string): void {
    this.blocked.add(token);
    for (const s of this.sockets) {
      if (s.open && s.url.includes(`token=${token}`)) s.push({ case: "goAway", value: { reason: "blocked", code: 6 } });
    }
  }

  /** Answer a resume: the messages after lastSeq the shopper may see, then ResumeDone. */
  replay(sock: FakeSocket, conversationId: string, lastSeq: bigint): void {
    for (const m of this.messages) if (m.seq > lastSeq && !this.hidden.has(m.seq)) sock.push({ case: "message", value: m });
    sock.push({ case: "resumeDone", value: { conversationId, lastSeq: BigInt(this.messages.length) } });
  }

  /** Seqs never delivered to the shopper (private notes). */
  readonly hidden = new Set<bigint>();

  /** A message from an agent (or anyone), delivered to every open socket unless `deliver` is false. */
  agentSays(text: string, role: Role = Role.AGENT, deliver = true): Message {
    const m = create(MessageSchema, {
      id: `m${this.messages.length + 1}`,
      conversationId: this.convId,
      seq: BigInt(this.messages.length + 1),
      clientMsgId: `agent-${this.messages.length + 1}`,
      sender: { role, id: "a1", displayName: "Alice" },
      createdAtMs: BigInt(Date.now()),
      body: { kind: { case: "text", value: { text } } },
    });
    this.messages.push(m);
    if (deliver && !this.hidden.has(m.seq)) for (const s of this.sockets) if (s.open) s.push({ case: "message", value: m });
    return m;
  }

  handle(sock: FakeSocket, env: ClientEnvelope): void {
    const k = env.kind;
    if (k.case === "heartbeat" && !this.silent) sock.push({ case: "heartbeat", value: { atMs: k.value.atMs } });
    if (k.case === "resume") this.replay(sock, k.value.conversationId, k.value.lastSeq);
    if (k.case === "send") {
      let code = this.refuse(k.value);
      if (code === undefined && k.value.conversationId && !this.knownConvs.has(k.value.conversationId)) {
        code = ErrorCode.NOT_FOUND;
      }
      if (code !== undefined) {
        sock.push({ case: "error", value: { code, message: "refused", clientMsgId: k.value.clientMsgId } });
        return;
      }
      if (this.opts.autoStore) this.store(sock, k.value);
      else this.held.push({ sock, send: k.value });
    }
  }

  /** Store a SendMessage (idempotent by client_msg_id) and answer like the real server. */
  store(sock: FakeSocket, send: SendMessage): Message {
    // No conversation named: like the real server, open (or continue) the shopper's one.
    if (!send.conversationId) {
      this.openConversation = this.convId;
      if (this.convState === "closed") this.convState = "queued";
    }
    let m = this.byClientId.get(send.clientMsgId);
    const fresh = !m;
    if (!m) {
      m = create(MessageSchema, {
        id: `m${this.messages.length + 1}`,
        conversationId: this.convId,
        seq: BigInt(this.messages.length + 1),
        clientMsgId: send.clientMsgId,
        sender: { role: Role.SHOPPER, id: "v1", displayName: "Visitor" },
        createdAtMs: BigInt(Date.now()),
        body: send.body,
      });
      this.messages.push(m);
      this.byClientId.set(send.clientMsgId, m);
    }
    const ack = () =>
      sock.open &&
      sock.push({
        case: "ack",
        value: { clientMsgId: send.clientMsgId, conversationId: this.convId, messageId: m!.id, seq: m!.seq },
      });
    const fanout = () => {
      if (!fresh) return;
      for (const s of this.sockets) if (s.open) s.push({ case: "message", value: m! });
    };
    if (this.opts.messageFirst) {
      fanout();
      ack();
    } else {
      ack();
      fanout();
    }
    return m;
  }

  /** The fetch to hand to the client. */
  readonly fetch = (async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    const path = url.pathname.replace(/^\/api\/v1/, "");
    const body = typeof init?.body === "string" ? JSON.parse(init.body) : init?.body;
    const auth = (init?.headers as Record<string, string> | undefined)?.Authorization ?? null;
    this.requests.push({ method: init?.method ?? "GET", path: path + url.search, body, auth });
    // Plain objects rather than Response: deterministic under fake timers.
    const json = (status: number, v: unknown) =>
      ({
        ok: status < 300,
        status,
        json: async () => v,
        blob: async () => new Blob([JSON.stringify(v)]),
      }) as unknown as Response;
    if (path === "/visitor/config") {
      return json(200, {
        site_id: "s1",
        site_name: "Shop",
        welcome: "",
        agents_online: this.agentsOnline,
        max_upload_bytes: 1000,
        upload_types: ["image/png"],
        max_text_bytes: 100,
      });
    }
    // Like the real server: the config needs no token; everything else refuses a blocked one.
    const forbidden = { code: "forbidden", message: "this visitor was blocked by the shop's support team" };
    if (auth && this.blocked.has(auth.slice(7))) return json(403, forbidden);
    if (path === "/visitor/session") {
      const t = (body as { visitor_token?: string }).visitor_token;
      if (t && this.expired.has(t)) return json(401, { code: "unauthenticated", message: "expired" });
      if (t && this.blocked.has(t)) return json(403, forbidden);
      this.tokens++;
      return json(200, {
        visitor_token: (body as { visitor_token?: string }).visitor_token ?? `kfv_${this.tokens}`,
        visitor_id: "v1",
        expires_at_ms: Date.now() + 86_400_000,
        display_name: "Visitor",
        open_conversation_id: this.openConversation || null,
      });
    }
    if (path === "/visitor/conversation") {
      this.openConversation = this.convId;
      if (this.convState === "closed") this.convState = "queued";
      return json(200, { id: this.convId, state: this.convState, agent_id: null, last_seq: this.messages.length });
    }
    const stale = /^\/conversations\/([^/]+)$/.exec(path);
    if (stale && this.staleConvs.has(stale[1])) {
      return json(200, { id: stale[1], state: "assigned", agent_id: "a1", last_seq: 0, rating: null });
    }
    if (path === `/conversations/${this.convId}`) {
      return json(200, {
        id: this.convId,
        state: this.convState,
        agent_id: null,
        last_seq: this.messages.length,
        rating: this.rating,
      });
    }
    if (path === `/conversations/${this.convId}/rating`) {
      if (this.convState !== "closed" || this.rating) return json(409, { code: "conflict", message: "no" });
      this.rating = body as { score: number; comment: string };
      return json(204, undefined);
    }
    return json(404, { code: "not_found", message: path });
  }) as typeof fetch;
}

/** Let queued microtasks and promise chains run (fetch, url(), coalesced renders). */
export async function settle(rounds = 30): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}
