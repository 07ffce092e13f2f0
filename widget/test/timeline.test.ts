// @vitest-environment node
// The view's order, on its own: stored messages by conversation then seq, pending ones after
// them in the order typed, and ties in the order the messages first appeared.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { Role } from "../src/gen/kefu/v1/common_pb";
import { MessageSchema } from "../src/gen/kefu/v1/message_pb";
import { Timeline } from "../src/client/timeline";

const pending = (id: string, at: number) => ({ id, body: { text: id }, at });

const agentMessage = (conversationId: string, seq: number, text: string) =>
  create(MessageSchema, {
    conversationId,
    seq: BigInt(seq),
    sender: { role: Role.AGENT },
    body: { kind: { case: "text", value: { text } } },
  });

const keys = (t: Timeline) => t.list().map((m) => m.key);

describe("timeline order", () => {
  it("keeps pending messages typed in the same millisecond in the order typed", () => {
    const t = new Timeline();
    for (const id of ["c", "a", "b"]) t.pending(pending(id, 1000));
    t.pending(pending("early", 999));
    expect(keys(t), "earlier typed first; same time: first added first").toEqual(["c:early", "c:c", "c:a", "c:b"]);
  });

  it("puts stored messages by conversation (first seen first) and seq before pending ones", () => {
    const t = new Timeline();
    t.pending(pending("mine", 1));
    t.stored(agentMessage("conv-b", 2, "b2"));
    t.stored(agentMessage("conv-a", 1, "a1"));
    t.stored(agentMessage("conv-b", 1, "b1"));
    expect(keys(t)).toEqual(["s:conv-b:1", "s:conv-b:2", "s:conv-a:1", "c:mine"]);
  });

  it("keeps a pending message's place among equals when it is updated, and after clear() starts afresh", () => {
    const t = new Timeline();
    t.pending(pending("x", 5));
    t.pending(pending("y", 5));
    t.setFailed("x", "rate_limited");
    expect(keys(t), "an update does not move it behind later ones").toEqual(["c:x", "c:y"]);
    t.clear();
    t.pending(pending("y", 5));
    t.pending(pending("x", 5));
    expect(keys(t), "a cleared view forgets the old order").toEqual(["c:y", "c:x"]);
  });
});
