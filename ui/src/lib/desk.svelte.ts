//! Desk-wide state that outlives the workstation view: the connection (offline until the
//! Rust side says otherwise) and the agent's availability.

import type { AgentStatus, DeskEvent } from "./bindings";

export class DeskState {
  online = $state(false);
  /** Why the connection is down, as the Rust side put it (shown as a tooltip). */
  offlineReason = $state<string | null>(null);
  status = $state<AgentStatus>("online");

  apply(event: DeskEvent): void {
    if (event.type === "connection") {
      this.online = event.online;
      this.offlineReason = event.online ? null : event.reason;
    } else if (event.type === "status") {
      this.status = event.status;
    }
  }
}
