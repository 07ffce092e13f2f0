// A scripted agent speaking Kefu's real protocol: signs in over REST, takes offers on the
// agent socket, replies, types, reads and closes — what the desktop app does, minus the UI.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import WebSocket from "ws";
import type { Message } from "../src/gen/kefu/v1/message_pb";
import {
  ClientEnvelopeSchema,
  type ClientEnvelope,
  ServerEnvelopeSchema,
  type ServerEnvelope,
} from "../src/gen/kefu/v1/envelope_pb";
import { eventually } from "./harness";

type Kind = ClientEnvelope["kind"];

export class Agent {
  /** Every message seen on the socket, by conversation, in arrival order. */
  readonly messages = new Map<string, Message[]>();
  /** Conversations offered and not yet accepted. */
  readonly offers: string[] = [];
  readonly acks = new Map<string, bigint>();
  private socket!: WebSocket;
  private counter = 0;

  private constructor(
    private readonly kefuUrl: string,
    readonly token: string,
  ) {}

  static async signIn(kefuUrl: string, username: string, password: string): Promise<Agent> {
    const res = await fetch(`${kefuUrl}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
    if (!res.ok) throw new Error(`agent sign-in failed: ${res.status} ${await res.text()}`);
    const { token } = (await res.json()) as { token: string };
    const agent = new Agent(kefuUrl, token);
    await agent.connect();
    return agent;
  }

  async connect(): Promise<void> {
    const url = `${this.kefuUrl.replace(/^http/, "ws")}/ws/agent?token=${this.token}`;
    this.socket = new WebSocket(url);
    this.socket.binaryType = "nodebuffer";
    this.socket.on("message", (data: Buffer) => this.onFrame(fromBinary(ServerEnvelopeSchema, data)));
    await new Promise<void>((ok, fail) => {
      this.socket.once("open", () => ok());
      this.socket.once("error", fail);
    });
  }

  disconnect(): Promise<void> {
    return new Promise((ok) => {
      if (this.socket.readyState === WebSocket.CLOSED) return ok();
      this.socket.once("close", () => ok());
      this.socket.close();
    });
  }

  private onFrame(env: ServerEnvelope) {
    const k = env.kind;
    if (k.case === "message") {
      const list = this.messages.get(k.value.conversationId) ?? [];
      list.push(k.value);
      this.messages.set(k.value.conversationId, list);
    } else if (k.case === "event" && k.value.kind.case === "offered") {
      this.offers.push(k.value.conversationId);
    } else if (k.case === "ack") {
      this.acks.set(k.value.clientMsgId, k.value.seq);
    }
  }

  private send(kind: Kind) {
    this.socket.send(toBinary(ClientEnvelopeSchema, create(ClientEnvelopeSchema, { kind })));
  }

  /** Waits for an offer and accepts it; returns the conversation id. */
  async acceptNext(): Promise<string> {
    const conv = await eventually("an offer to the agent", () => this.offers.shift());
    this.send({ case: "accept", value: { conversationId: conv } });
    return conv;
  }

  /** Sends a text and waits for its ack (stored). */
  async say(conversationId: string, text: string): Promise<void> {
    const clientMsgId = `agent-${Date.now()}-${this.counter++}`;
    this.send({
      case: "send",
      value: { conversationId, clientMsgId, body: { kind: { case: "text", value: { text } } } },
    });
    await eventually(`ack of "${text}"`, () => this.acks.has(clientMsgId));
  }

  typing(conversationId: string, typing: boolean) {
    this.send({ case: "typing", value: { conversationId, typing } });
  }

  read(conversationId: string, upToSeq: bigint) {
    this.send({ case: "read", value: { conversationId, upToSeq } });
  }

  close(conversationId: string) {
    this.send({ case: "close", value: { conversationId } });
  }

  /** Texts of a conversation as the agent saw them live. */
  texts(conversationId: string): string[] {
    return (this.messages.get(conversationId) ?? []).flatMap((m) =>
      m.body?.kind.case === "text" ? [m.body.kind.value.text] : [],
    );
  }

  /** The conversation's stored history from the server (the source of truth). */
  async history(conversationId: string): Promise<StoredMessage[]> {
    const res = await fetch(
      `${this.kefuUrl}/api/v1/conversations/${conversationId}/messages?limit=200`,
      { headers: { authorization: `Bearer ${this.token}` } },
    );
    if (!res.ok) throw new Error(`history: ${res.status}`);
    return ((await res.json()) as { messages: StoredMessage[] }).messages;
  }

  async conversation(conversationId: string): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.kefuUrl}/api/v1/conversations/${conversationId}`, {
      headers: { authorization: `Bearer ${this.token}` },
    });
    return (await res.json()) as Record<string, unknown>;
  }
}

/** A message as the REST history returns it (the fields the tests read). */
export interface StoredMessage {
  seq: number;
  sender_role: "shopper" | "agent" | "bot" | "system";
  body: { type: string; text?: string };
}
