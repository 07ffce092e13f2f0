import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { describe, expect, test } from "vitest";
import type { CustomerPanel as Panel } from "../lib/bindings";
import { setLanguage } from "../lib/i18n.svelte";
import { fakeDesk, type Answer } from "../test/backend";
import { customerPanel, order, unverifiedPanel } from "../test/fixtures";
import CustomerPanel from "./CustomerPanel.svelte";

function setup(panel: Panel | null | (() => Panel), answers: Record<string, Answer> = {}) {
  const desk = fakeDesk({ customer_view: panel, ...answers });
  render(CustomerPanel, { conversationId: "c1" });
  return desk;
}

const badge = (source: string) =>
  screen.getAllByTestId("source-state").find((b) => b.dataset.source === source)!;

describe("customer panel", () => {
  test("shows the profile, orders with items and shipments, returns and earlier chats", async () => {
    const desk = setup(
      customerPanel({
        orders: {
          state: "ok",
          source: "shop",
          error: null,
          fetched_at_ms: 0,
          data: [
            order({
              shipments: [
                { carrier: "SF Express", tracking_number: "SF123", tracking_url: "https://track.test/SF123", status: "in_transit", shipped_at: null },
              ],
            }),
          ],
        },
      }),
    );
    expect(await screen.findByTestId("customer-name")).toHaveTextContent("Li Lei");
    expect(desk.calls("customer_view")).toEqual([{ conversationId: "c1", refresh: false }]);
    const panel = screen.getByTestId("customer-panel");
    expect(panel).toHaveTextContent("lilei@example.com");
    expect(panel).toHaveTextContent("$1,234.50");
    expect(panel).toHaveTextContent("Shanghai");

    const card = screen.getByTestId("order");
    expect(card).toHaveAttribute("data-id", "O-1001");
    expect(card).toHaveTextContent("2 × Blue mug");
    expect(card).toHaveTextContent("$59.80");
    expect(card).toHaveTextContent("SF Express");
    expect(within(card).getByText("https://track.test/SF123").tagName, "tracking links are text, not links").not.toBe("A");

    const ret = screen.getByTestId("return");
    expect(ret).toHaveAttribute("data-id", "R-77");
    expect(ret).toHaveTextContent("Arrived broken");
    expect(ret).toHaveTextContent("$19.90");
    expect(ret).toHaveTextContent("pending");
    expect(badge("orders")).toHaveAttribute("data-state", "ok");
  });

  test("a tracking address is offered to copy only if it is a web page", async () => {
    const shipment = { carrier: "SF Express", tracking_number: "SF9", status: null, shipped_at: null };
    setup(
      customerPanel({
        orders: {
          state: "ok",
          source: "shop",
          error: null,
          fetched_at_ms: 0,
          warnings: [],
          data: [
            order({ id: "O-1", shipments: [{ ...shipment, tracking_url: "javascript:alert(1)" }] }),
            order({ id: "O-2", shipments: [{ ...shipment, tracking_url: "https://track.test/SF9" }] }),
          ],
        },
      }),
    );
    await screen.findByTestId("customer-name");
    const [bad, good] = screen.getAllByTestId("order");
    expect(within(bad).queryByTestId("tracking-url")).toBeNull();
    expect(bad, "the tracking number still shows").toHaveTextContent("SF9");
    expect(bad).not.toHaveTextContent("javascript:");
    expect(within(good).getByTestId("tracking-url")).toHaveTextContent("https://track.test/SF9");
    expect(screen.getByTestId("customer-panel").querySelector("a, [href]")).toBeNull();
  });

  test("says honestly when a section is stale, failed, or served from the offline cache", async () => {
    const fetched = Date.UTC(2025, 0, 15, 8, 5);
    const base = customerPanel();
    setup({
      ...base,
      customer: { ...base.customer, state: "stale", fetched_at_ms: fetched },
      orders: { state: "error", source: "shop", error: "HTTP 502 from back office", fetched_at_ms: null, data: null },
      returns: { state: "timed_out", source: "shop", error: null, fetched_at_ms: null, data: null },
      from_cache: true,
    });
    await screen.findByTestId("customer-name");
    expect(badge("customer")).toHaveAttribute("data-state", "stale");
    expect(badge("customer")).toHaveTextContent(/May be out of date, updated \d\d:\d\d/);
    expect(badge("orders")).toHaveAttribute("data-state", "error");
    expect(badge("orders")).toHaveTextContent("Couldn't load: HTTP 502 from back office");
    expect(badge("returns")).toHaveTextContent("Couldn't load: timed out");
    expect(screen.getByTestId("customer-offline")).toHaveTextContent("Offline copy from");
    expect(screen.queryByTestId("order"), "failed sections show no made-up rows").toBeNull();
  });

  test("what a source sent but couldn't be read is listed per section, as text; the rest still shows", async () => {
    const base = customerPanel();
    const script = 'orders[1].note: invalid type: string "<script>alert(1)</script>", expected a map; left out';
    setup({
      ...base,
      customer: { ...base.customer, warnings: ["customer.tier: invalid type: map, expected a string; left out"] },
      orders: { ...base.orders, warnings: ["orders[2]: no `id` after mapping; left out", script] },
    });
    await screen.findByTestId("customer-name");
    const notice = (source: string) =>
      screen.queryAllByTestId("section-warnings").find((n) => n.dataset.source === source) ?? null;

    const orders = notice("orders")!;
    expect(within(orders).getByTestId("section-warnings-summary")).toHaveTextContent("2 fields couldn't be read");
    expect(within(notice("customer")!).getByTestId("section-warnings-summary")).toHaveTextContent(
      "1 field couldn't be read",
    );
    expect(notice("returns"), "a section read in full has no notice").toBeNull();
    expect(badge("orders"), "the section itself is fine").toHaveAttribute("data-state", "ok");
    expect(screen.getByTestId("order"), "the data that was read still shows").toHaveAttribute("data-id", "O-1001");
    expect(screen.getByTestId("return")).toHaveAttribute("data-id", "R-77");

    const items = within(orders).getAllByTestId("section-warning");
    expect(orders).not.toHaveAttribute("open");
    expect(items[0], "collapsed until asked for").not.toBeVisible();
    await fireEvent.click(within(orders).getByTestId("section-warnings-summary"));
    expect(orders).toHaveAttribute("open");
    expect(items.map((li) => li.textContent)).toEqual(["orders[2]: no `id` after mapping; left out", script]);
    expect(items[1]).toBeVisible();
    expect(orders.querySelector("script"), "markup in a warning stays text").toBeNull();
  });

  test("the warnings notice is translated, and absent when the server sent none", async () => {
    setLanguage("zh-CN");
    const base = customerPanel();
    const warnings = ["returns[0].items: invalid type: string, expected a sequence; left out", "returns[3]: no `id`; left out"];
    setup({ ...base, returns: { ...base.returns, warnings } });
    await screen.findByTestId("customer-name");
    expect(screen.getAllByTestId("section-warnings")).toHaveLength(1);
    expect(screen.getByTestId("section-warnings-summary")).toHaveTextContent("有 2 项数据无法读取");
  });

  test("sections without a warnings field (it is optional in the bindings) show no notice", async () => {
    const base = customerPanel();
    setup({ ...base, orders: { state: "ok", source: "shop", error: null, fetched_at_ms: 0, data: [order()] } });
    await screen.findByTestId("customer-name");
    expect(screen.queryAllByTestId("section-warnings")).toHaveLength(0);
  });

  test("an unverified panel shows no warnings, which may quote the shopper's data", async () => {
    const base = customerPanel();
    setup({
      ...base,
      verification: "unverified",
      matched_by: "none",
      orders: { ...base.orders, warnings: ['orders[0].email: invalid type: string "lilei@example.com", expected a map'] },
    });
    await waitFor(() => expect(badge("orders")).toBeInTheDocument());
    expect(screen.queryAllByTestId("section-warnings")).toHaveLength(0);
  });

  test("an unmatched shopper says no customer record matched", async () => {
    const base = customerPanel();
    setup({ ...base, customer: { state: "unavailable", source: "crm", error: null, fetched_at_ms: null, data: null } });
    await waitFor(() => expect(badge("customer")).toHaveAttribute("data-state", "unavailable"));
    expect(badge("customer")).toHaveTextContent("No customer record matched");
    expect(screen.queryByTestId("customer-name")).toBeNull();
  });

  test("cancelling an order asks for a reason and confirmation before calling the back office", async () => {
    const desk = setup(customerPanel(), { order_action: { message: "Order O-1001 cancelled" } });
    await fireEvent.click(await screen.findByTestId("action-cancel"));
    const yes = screen.getByTestId("confirm-yes");
    expect(yes, "a cancellation needs a reason").toBeDisabled();
    await fireEvent.input(screen.getByTestId("action-reason"), { target: { value: "Ordered twice" } });
    expect(desk.calls("order_action"), "nothing happens before confirming").toHaveLength(0);
    await fireEvent.click(yes);
    await waitFor(() =>
      expect(desk.calls("order_action")).toEqual([
        { conversationId: "c1", action: { cancel_order: { order_id: "O-1001", reason: "Ordered twice" } } },
      ]),
    );
    expect(await screen.findByTestId("action-result")).toHaveTextContent("Order O-1001 cancelled");
    expect(screen.queryByTestId("confirm-yes")).toBeNull();
  });

  test("dismissing the confirmation calls nothing; shipped orders can't be cancelled", async () => {
    const base = customerPanel();
    const desk = setup({
      ...base,
      orders: {
        ...base.orders,
        data: [order(), order({ id: "O-2002", fulfillment_status: "shipped" }), order({ id: "O-3003", status: "cancelled" })],
      },
    });
    await fireEvent.click((await screen.findAllByTestId("action-cancel"))[0]);
    await fireEvent.click(screen.getByTestId("confirm-no"));
    expect(desk.calls("order_action")).toHaveLength(0);
    const cards = screen.getAllByTestId("order");
    expect(within(cards[1]).queryByTestId("action-cancel"), "shipped").toBeNull();
    expect(within(cards[2]).queryByTestId("action-cancel"), "already cancelled").toBeNull();
    expect(within(cards[1]).getByTestId("action-return")).toBeInTheDocument();
  });

  test("a return lists chosen items and quantities; errors from the back office are shown", async () => {
    const desk = setup(customerPanel(), {
      order_action: () => {
        throw { code: "forbidden", message: "above the agent limit" };
      },
    });
    await fireEvent.click(await screen.findByTestId("action-return"));
    const [mugs] = screen.getAllByTestId("return-quantity");
    await fireEvent.input(mugs, { target: { value: "1" } });
    await fireEvent.input(screen.getByTestId("action-reason"), { target: { value: "Broken" } });
    await fireEvent.click(screen.getByTestId("confirm-yes"));
    await waitFor(() =>
      expect(desk.calls("order_action")).toEqual([
        {
          conversationId: "c1",
          action: { create_return: { order_id: "O-1001", reason: "Broken", items: [{ sku: "MUG-1", quantity: 1 }] } },
        },
      ]),
    );
    expect(await screen.findByTestId("action-result")).toHaveTextContent("isn't allowed");
  });

  test("sending the order card confirms first", async () => {
    const desk = setup(customerPanel(), { order_action: { message: "Card sent" } });
    await fireEvent.click(await screen.findByTestId("action-send-card"));
    expect(desk.calls("order_action")).toHaveLength(0);
    await fireEvent.click(screen.getByTestId("confirm-yes"));
    await waitFor(() =>
      expect(desk.calls("order_action")).toEqual([
        { conversationId: "c1", action: { send_order_card: { order_id: "O-1001" } } },
      ]),
    );
  });

  test("reloads on a customer_view event for this conversation, and refresh asks for fresh data", async () => {
    let name = "Li Lei";
    const desk = setup(() => {
      const panel = customerPanel();
      return { ...panel, customer: { ...panel.customer, data: { ...panel.customer.data!, name } } };
    });
    await screen.findByTestId("customer-name");
    name = "Li Lei (updated)";
    await desk.emit({ type: "customer_view", conversation_id: "other" });
    await desk.emit({ type: "customer_view", conversation_id: "c1" });
    await waitFor(() => expect(screen.getByTestId("customer-name")).toHaveTextContent("Li Lei (updated)"));
    expect(desk.calls("customer_view"), "events for other chats are ignored").toHaveLength(2);
    await fireEvent.click(screen.getByTestId("customer-refresh"));
    await waitFor(() => expect(desk.lastCall("customer_view")).toEqual({ conversationId: "c1", refresh: true }));
  });

  test("an unverified shopper shows only the suggested name, as text, and no orders or actions", async () => {
    const name = '<img src=x onerror="alert(1)"> Li Lei';
    setup(unverifiedPanel(name, "lilei@example.com"));
    const suggestion = await screen.findByTestId("customer-suggestion");
    expect(suggestion, "markup in a back-office name stays text").toHaveTextContent(`Unverified — possibly ${name}`);
    expect(suggestion.querySelector("img"), "no element was made from the name").toBeNull();
    expect(screen.getByTestId("customer-unverified")).toHaveTextContent("The shopper typed lilei@example.com");
    expect(screen.queryByTestId("customer-name"), "no profile").toBeNull();
    expect(screen.queryByTestId("order"), "no orders").toBeNull();
    expect(screen.queryByTestId("return"), "no returns").toBeNull();
    expect(screen.queryByTestId("action-cancel"), "no actions").toBeNull();
    expect(screen.queryAllByTestId("source-state"), "no sections at all").toHaveLength(0);
  });

  test("verifying sends the quoted order number; a wrong one says why, a right one shows the customer", async () => {
    let attempt = 0;
    const desk = setup(unverifiedPanel("Li Lei", "lilei@example.com"), {
      verify_customer: () => {
        attempt += 1;
        if (attempt === 1) throw { code: "invalid", message: "order `O-9` is not one of the suggested customer's orders" };
        return customerPanel();
      },
    });
    await fireEvent.click(await screen.findByTestId("verify-open"));
    expect(screen.getByTestId("verify-submit"), "nothing to check yet").toBeDisabled();
    await fireEvent.input(screen.getByTestId("verify-order"), { target: { value: " O-9 " } });
    await fireEvent.click(screen.getByTestId("verify-submit"));
    expect(await screen.findByTestId("verify-error")).toHaveTextContent("not one of the suggested customer's orders");
    expect(screen.queryByTestId("order"), "still unverified: no orders").toBeNull();

    await fireEvent.input(screen.getByTestId("verify-order"), { target: { value: "O-1001" } });
    await fireEvent.click(screen.getByTestId("verify-submit"));
    expect(await screen.findByTestId("customer-name")).toHaveTextContent("Li Lei");
    expect(screen.getByTestId("order")).toHaveAttribute("data-id", "O-1001");
    expect(desk.calls("verify_customer")).toEqual([
      { conversationId: "c1", orderId: "O-9" },
      { conversationId: "c1", orderId: "O-1001" },
    ]);
    expect(screen.queryByTestId("customer-unverified")).toBeNull();
  });
});
