// What the shopper sees of the conversation(s): stored messages ordered by seq, own
// messages not yet stored after them in the order typed. Every message is held once:
// keyed by client_msg_id for own messages (so pending → sent keeps its place in the view)
// and by (conversation, seq) for everything else; a replay or a second tab's copy is
// recognised and dropped.
import { create } from "@bufbuild/protobuf";
import { Role } from "../gen/kefu/v1/common_pb";
import {
  AttachmentRefSchema,
  TextSchema,
  type Message,
  type MessageBody,
} from "../gen/kefu/v1/message_pb";
import type { OutItem } from "./outbox";

export type Sender = "shopper" | "agent" | "bot" | "system";
export type Status = "pending" | "sent" | "read" | "failed";
export type Body = MessageBody["kind"];

export interface ViewMessage {
  key: string;
  /** Conversation id; "" while pending and not yet stored anywhere. */
  conv: string;
  /** 0 until stored. */
  seq: number;
  clientMsgId: string;
  sender: Sender;
  name: string;
  /** ms since epoch (typed time for pending ones). */
  at: number;
  body: Body;
  /** Own messages only. */
  status?: Status;
}

const SENDERS: Record<number, Sender> = {
  [Role.SHOPPER]: "shopper",
  [Role.AGENT]: "agent",
  [Role.BOT]: "bot",
  [Role.SYSTEM]: "system",
};

export function senderOf(role: Role | undefined): Sender {
  return SENDERS[role ?? 0] ?? "system";
}

export function outBody(item: OutItem): Body {
  const b = item.body;
  if ("text" in b) return { case: "text", value: create(TextSchema, { text: b.text }) };
  const a = b.attachment;
  return {
    case: "attachment",
    value: create(AttachmentRefSchema, {
      attachmentId: a.id,
      fileName: a.name,
      contentType: a.type,
      sizeBytes: BigInt(a.size),
    }),
  };
}

export class Timeline {
  readonly #entries = new Map<string, ViewMessage>();
  readonly #bySeq = new Map<string, string>();
  readonly #convs: string[] = [];
  readonly #readUpTo = new Map<string, number>();
  /** Per conversation: every seq up to here has been delivered or is not for shoppers. */
  readonly #floor = new Map<string, number>();
  #n = 0;
  readonly #order = new Map<string, number>();

  clear(): void {
    this.#entries.clear();
    this.#bySeq.clear();
    this.#convs.length = 0;
    this.#readUpTo.clear();
    this.#floor.clear();
    this.#order.clear();
  }

  #put(m: ViewMessage): void {
    if (!this.#order.has(m.key)) this.#order.set(m.key, this.#n++);
    this.#entries.set(m.key, m);
    if (m.seq) {
      this.#bySeq.set(`${m.conv}:${m.seq}`, m.key);
      if (!this.#convs.includes(m.conv)) this.#convs.push(m.conv);
    }
  }

  /** An outbox item: shown as pending (or failed) until stored. */
  pending(item: OutItem): void {
    const key = `c:${item.id}`;
    const cur = this.#entries.get(key);
    if (cur?.seq) return;
    this.#put({
      key,
      conv: "",
      seq: 0,
      clientMsgId: item.id,
      sender: "shopper",
      name: "",
      at: item.at,
      body: outBody(item),
      status: item.failed ? "failed" : "pending",
    });
  }

  /** Our SendMessage is stored. False when the message was already known as stored. */
  ack(clientMsgId: string, conv: string, seq: number): boolean {
    const key = `c:${clientMsgId}`;
    const cur = this.#entries.get(key);
    if (!cur || cur.seq) return false;
    this.#put({ ...cur, conv, seq, status: this.#statusFor(conv, seq) });
    return true;
  }

  /** A stored message (live or replayed). Returns false for a duplicate. */
  stored(m: Message): boolean {
    const seq = Number(m.seq);
    if (!seq || this.#bySeq.has(`${m.conversationId}:${seq}`)) return false;
    const sender = senderOf(m.sender?.role);
    const mine = sender === "shopper";
    const key = mine && m.clientMsgId ? `c:${m.clientMsgId}` : `s:${m.conversationId}:${seq}`;
    const cur = this.#entries.get(key);
    if (cur?.seq) return false;
    this.#put({
      key,
      conv: m.conversationId,
      seq,
      clientMsgId: m.clientMsgId,
      sender,
      name: m.sender?.displayName ?? "",
      at: Number(m.createdAtMs) || cur?.at || Date.now(),
      body: m.body?.kind ?? cur?.body ?? { case: undefined },
      status: mine ? this.#statusFor(m.conversationId, seq) : undefined,
    });
    return true;
  }

  setFailed(clientMsgId: string, code: string | undefined): void {
    const cur = this.#entries.get(`c:${clientMsgId}`);
    if (cur && !cur.seq) this.#put({ ...cur, status: code ? "failed" : "pending" });
  }

  /** The other side read up to `upTo`: own messages up to there are read. */
  read(conv: string, upTo: number): boolean {
    if ((this.#readUpTo.get(conv) ?? 0) >= upTo) return false;
    this.#readUpTo.set(conv, upTo);
    for (const m of this.#entries.values()) {
      if (m.conv === conv && m.status === "sent" && m.seq <= upTo) this.#put({ ...m, status: "read" });
    }
    return true;
  }

  #statusFor(conv: string, seq: number): Status {
    return (this.#readUpTo.get(conv) ?? 0) >= seq ? "read" : "sent";
  }

  /** A replay ended at `upTo`: gaps below it are messages shoppers never get (private
   * notes), so a Resume need not ask for them again and again. */
  settle(conv: string, upTo: number): void {
    if ((this.#floor.get(conv) ?? 0) < upTo) this.#floor.set(conv, upTo);
  }

  /** Highest seq n such that 1..n are all held (or settled): where a Resume must start. */
  contiguous(conv: string): number {
    let n = this.#floor.get(conv) ?? 0;
    while (this.#bySeq.has(`${conv}:${n + 1}`)) n++;
    return n;
  }

  /** Seqs of the conversation's stored messages; `theirs`: only agents' and bots'. */
  seqs(conv: string, theirs = false): number[] {
    const out: number[] = [];
    for (const m of this.#entries.values()) {
      if (m.conv === conv && m.seq && (!theirs || m.sender === "agent" || m.sender === "bot")) out.push(m.seq);
    }
    return out;
  }

  maxSeq(conv: string, theirs = false): number {
    return this.seqs(conv, theirs).reduce((a, b) => Math.max(a, b), 0);
  }

  /** Stored messages by conversation then seq, then the pending ones in the order typed. */
  list(): ViewMessage[] {
    const rank = (m: ViewMessage) => {
      const c = this.#convs.indexOf(m.conv);
      const n = this.#order.get(m.key) ?? 0;
      return m.seq ? [c, m.seq, n] : [1e9, m.at, n];
    };
    return [...this.#entries.values()].sort((a, b) => {
      const x = rank(a);
      const y = rank(b);
      return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
    });
  }
}
