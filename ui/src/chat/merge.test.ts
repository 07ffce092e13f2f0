import { describe, expect, test } from "vitest";
import { message } from "../test/fixtures";
import { lastSeq, markDelivered, markFailed, markReadUpTo, oldestSeq, upsertAll } from "./merge";

const seqs = (list: { seq: number | null }[]) => list.map((m) => m.seq);

describe("message merge", () => {
  test("keeps seq order whatever order pages and events arrive in", () => {
    const list = upsertAll([message({ seq: 5 })], [message({ seq: 2 }), message({ seq: 9 }), message({ seq: 3 })]);
    expect(seqs(list)).toEqual([2, 3, 5, 9]);
  });

  test("a message seen twice (same seq, or same client id) is kept once", () => {
    const first = upsertAll([], [message({ seq: 1 }), message({ seq: 2 })]);
    const again = upsertAll(first, [message({ seq: 2, client_msg_id: "other-id" }), message({ seq: 1 })]);
    expect(seqs(again), "duplicates by seq or client id must collapse").toEqual([1, 2]);
  });

  test("pending messages stay after confirmed ones, in the order they were written", () => {
    const pendingA = message({ seq: null, client_msg_id: "a", created_at: 10, mine: true, delivery: "pending" });
    const pendingB = message({ seq: null, client_msg_id: "b", created_at: 20, mine: true, delivery: "pending" });
    const list = upsertAll([pendingB, pendingA], [message({ seq: 7 })]);
    expect(list.map((m) => m.client_msg_id)).toEqual(["cm-7", "a", "b"]);
  });

  test("delivery gives the pending copy its seq and merges with a copy that came by event", () => {
    const pending = message({ seq: null, client_msg_id: "x", mine: true, delivery: "pending" });
    const echoed = message({ seq: 4, client_msg_id: "x", mine: true, delivery: "sent" });
    const list = markDelivered(upsertAll([message({ seq: 3 }), pending], [echoed]), "x", 4);
    expect(list).toHaveLength(2);
    expect(list[1]).toMatchObject({ seq: 4, delivery: "sent", client_msg_id: "x" });
  });

  test("an older copy never moves delivery backwards", () => {
    const read = message({ seq: 2, mine: true, delivery: "read" });
    const list = upsertAll([read], [message({ seq: 2, mine: true, delivery: "sent" })]);
    expect(list[0].delivery, "a history page may be older than the read receipt").toBe("read");
  });

  test("failures and read receipts touch only the messages they name", () => {
    const list = [
      message({ seq: 1, mine: true }),
      message({ seq: 2, mine: false }),
      message({ seq: 3, mine: true }),
      message({ seq: null, client_msg_id: "p", mine: true, delivery: "pending" }),
    ];
    expect(markReadUpTo(list, 2).map((m) => m.delivery)).toEqual(["read", "sent", "sent", "pending"]);
    expect(markFailed(list, "p")[3].delivery).toBe("failed");
    expect(lastSeq(list)).toBe(3);
    expect(oldestSeq(list)).toBe(1);
  });
});
