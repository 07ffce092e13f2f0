import { describe, expect, test } from "vitest";
import { fails, fakeDesk } from "../test/backend";
import { ATTACHMENT_CACHE_CHARS, attachmentUrl } from "./attachments";

describe("attachment cache", () => {
  test("keeps the most recently shown images within its budget and fetches others again", async () => {
    // Each image is a quarter of the budget: four fit, a fifth pushes the least recent out.
    const quarter = "x".repeat(ATTACHMENT_CACHE_CHARS / 4);
    const desk = fakeDesk({ attachment: () => quarter });
    const fetched = () => desk.calls("attachment").map((c) => c.attachmentId);
    const show = async (id: string) => expect((await attachmentUrl(id)).status, `image ${id} loads`).toBe("ok");

    for (const id of ["a1", "a2", "a3", "a4"]) await show(id);
    await show("a1");
    expect(fetched(), "a cached image is not fetched again").toEqual(["a1", "a2", "a3", "a4"]);

    await show("a5");
    await show("a1");
    await show("a3");
    expect(fetched(), "a1 (shown again lately) and a3 outlived a5's arrival").toEqual(["a1", "a2", "a3", "a4", "a5"]);
    await show("a2");
    expect(fetched().slice(-1)[0], "a2, the least recently shown, was let go and is fetched again").toBe("a2");
  });

  test("a failed load is not cached, so the next view retries", async () => {
    let broken = true;
    const unreachable = fails("unreachable");
    const desk = fakeDesk({ attachment: () => (broken ? unreachable() : "data:image/png;base64,AA==") });
    expect((await attachmentUrl("b1")).status).toBe("error");
    broken = false;
    expect((await attachmentUrl("b1")).status, "the failure was not kept").toBe("ok");
    expect(desk.calls("attachment")).toHaveLength(2);
  });
});
