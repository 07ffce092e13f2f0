//! Sample floors and reports for the supervisor views' tests, shaped exactly like bindings.ts.

import type { Floor, FloorAgent, ReportSummary } from "../lib/bindings";

export const SUPERVISOR = { id: "s1", username: "sue", display_name: "Sue Lin", role: "supervisor" as const };

export function floorAgent(overrides: Partial<FloorAgent> = {}): FloorAgent {
  return {
    agent_id: "a1",
    display_name: "Alice Wang",
    status: "online",
    active: 2,
    capacity: 5,
    last_reply_at_ms: null,
    groups: ["pre-sales"],
    ...overrides,
  };
}

/** A floor at `at`: Alice busy, Bob away, pre-sales with three waiting, one breach. */
export function floor(at: number, overrides: Partial<Floor> = {}): Floor {
  return {
    at_ms: at,
    agents: [
      floorAgent({ last_reply_at_ms: at - 65_000 }),
      floorAgent({ agent_id: "a2", display_name: "Bob Li", status: "away", active: 5, capacity: 5, groups: ["after-sales"] }),
    ],
    queues: [
      { group: "pre-sales", waiting: 3, oldest_since_ms: at - 125_000, expected_wait_ms: 90_000, agents_online: 1 },
      { group: "after-sales", waiting: 0, oldest_since_ms: null, expected_wait_ms: null, agents_online: 0 },
    ],
    breaches: [
      {
        conversation_id: "c9",
        group: "pre-sales",
        agent_id: "a1",
        target: "first_response",
        due_at_ms: at - 30_000,
        priority: "urgent",
      },
    ],
    ...overrides,
  };
}

/** A report with a distinct number in every place a number is shown. */
export function summary(overrides: Partial<ReportSummary> = {}): ReportSummary {
  const hours = Array.from({ length: 7 }, (_, day) => Array.from({ length: 24 }, (_, h) => (day === 0 && h === 10 ? 17 : 0)));
  return {
    from: Date.UTC(2026, 11, 1),
    to: Date.UTC(2026, 11, 8),
    opened: 1234,
    closed: 1187,
    transfers: 41,
    first_response_ms: { count: 1100, p50: 45_000, p90: 150_000 },
    resolution_ms: { count: 1187, p50: 600_000, p90: 3_900_000 },
    service_level: {
      first_response: { met: 955, breached: 45, attainment: 0.955 },
      resolution: { met: 0, breached: 0, attainment: null },
    },
    csat: { responses: 320, average: 4.25, response_rate: 0.2696, distribution: [10, 12, 30, 98, 170] },
    busiest_hours: hours,
    daily: [
      { day: "2026-12-01", opened: 200, closed: 190 },
      { day: "2026-12-02", opened: 180, closed: 181 },
    ],
    by_agent: [
      {
        agent_id: "a1",
        display_name: "Alice Wang",
        closed: 700,
        first_response_p50: 40_000,
        resolution_p50: 580_000,
        transfers: 12,
        csat_average: 4.5,
      },
    ],
    by_group: [
      {
        group: "pre-sales",
        opened: 1000,
        closed: 990,
        first_response_p50: 42_000,
        resolution_p50: 590_000,
        attainment: 0.96,
      },
    ],
    ...overrides,
  };
}
