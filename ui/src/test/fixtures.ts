//! Sample data shaped exactly like the contract in bindings.ts.

import type {
  ChatMessage,
  ConversationState,
  ConversationSummary,
  CustomerPanel,
  Order,
  Return,
  View,
} from "../lib/bindings";

export const AGENT = { id: "a1", username: "alice", display_name: "Alice Wang", role: "agent" as const };

const T0 = Date.UTC(2025, 0, 15, 9, 0, 0);

/**
 * The views the desk sends with a row of each state, for AGENT (`View::of` in
 * src-tauri/src/model/mod.rs, whose tests pin the same table). Someone else's chat is only open.
 */
const VIEWS_OF: Record<ConversationState, View[]> = {
  assigned: ["mine", "open"],
  offered: ["mine", "offered", "queue", "open"],
  queued: ["queue", "open"],
  closed: ["closed"],
};

export function conversation(overrides: Partial<ConversationSummary> = {}): ConversationSummary {
  const state = overrides.state ?? "assigned";
  const agent = overrides.agent_id === undefined ? AGENT.id : overrides.agent_id;
  const othersChat = state === "assigned" && agent !== AGENT.id;
  return {
    views: othersChat ? ["open"] : VIEWS_OF[state],
    id: "c1",
    state: "assigned",
    group: "pre-sales",
    agent_id: AGENT.id,
    shopper_name: "Li Lei",
    last_preview: "Where is my parcel?",
    last_at: T0,
    created_at: T0,
    unread: 0,
    queue_position: null,
    offer_expires_at: null,
    page: null,
    tags: [],
    priority: "normal",
    ...overrides,
  };
}

export function message(overrides: Partial<ChatMessage> = {}): ChatMessage {
  const seq = overrides.seq === undefined ? 1 : overrides.seq;
  return {
    id: seq === null ? null : `m${seq}`,
    client_msg_id: `cm-${seq ?? "pending"}`,
    conversation_id: "c1",
    seq,
    sender: "shopper",
    sender_name: "Li Lei",
    mine: false,
    body: { kind: "text", text: `message ${seq}` },
    created_at: T0 + (seq ?? 1000) * 1000,
    delivery: "sent",
    ...overrides,
  };
}

export function order(overrides: Partial<Order> = {}): Order {
  return {
    id: "O-1001",
    customer_id: "C10001",
    placed_at: "2025-01-10T08:30:00Z",
    status: "open",
    payment_status: "paid",
    fulfillment_status: "unfulfilled",
    currency: "USD",
    subtotal: null,
    shipping: null,
    total: { amount: "59.80", currency: "USD" },
    items: [
      { sku: "MUG-1", name: "Blue mug", quantity: 2, unit_price: { amount: "19.90", currency: "USD" }, image_url: null },
      { sku: "TEA-7", name: "Green tea", quantity: 1, unit_price: { amount: "20.00", currency: "USD" }, image_url: null },
    ],
    shipping_address: null,
    shipments: [],
    ...overrides,
  };
}

export function returned(overrides: Partial<Return> = {}): Return {
  return {
    id: "R-77",
    order_id: "O-0999",
    customer_id: "C10001",
    status: "approved",
    reason: "Arrived broken",
    items: [{ sku: "MUG-1", name: "Blue mug", quantity: 1 }],
    refund: { amount: { amount: "19.90", currency: "USD" }, state: "pending" },
    created_at: "2025-01-12T10:00:00Z",
    ...overrides,
  };
}

/** What the desk gets for a shopper who only typed an e-mail: a suggested name, no data. */
export function unverifiedPanel(name: string, contact: string): CustomerPanel {
  const withheld = { state: "unavailable" as const, source: "crm", error: "unverified", fetched_at_ms: null, data: null, warnings: [] };
  return customerPanel({
    matched_by: "email",
    verification: "unverified",
    suggestion: { name, contact },
    customer: withheld,
    orders: withheld,
    returns: withheld,
    conversations: [],
  });
}

export function customerPanel(overrides: Partial<CustomerPanel> = {}): CustomerPanel {
  return {
    matched_by: "customer_id",
    verification: "verified",
    suggestion: null,
    customer: {
      state: "ok",
      source: "crm",
      error: null,
      fetched_at_ms: T0,
      warnings: [],
      data: {
        id: "C10001",
        name: "Li Lei",
        emails: ["lilei@example.com"],
        phones: ["+86 138 0000 0000"],
        tier: "gold",
        tags: ["vip"],
        lifetime_value: { amount: "1234.50", currency: "USD" },
        created_at: "2021-03-01T00:00:00Z",
        notes: [{ at: "2024-12-01T12:00:00Z", author: "Bob", text: "Prefers email" }],
        attributes: { city: "Shanghai", newsletter: true },
      },
    },
    orders: { state: "ok", source: "shop", error: null, fetched_at_ms: T0, warnings: [], data: [order()] },
    returns: { state: "ok", source: "shop", error: null, fetched_at_ms: T0, warnings: [], data: [returned()] },
    conversations: [{ id: "c0", state: "closed", created_at: T0 - 86_400_000, closed_at: T0 - 80_000_000 }],
    from_cache: false,
    received_at: T0,
    ...overrides,
  };
}
