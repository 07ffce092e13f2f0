//! A newer build of the app, as the server offers it: found by the Rust side's periodic
//! check (the `update_available` desk event) or by the agent's "Check for updates" in
//! settings. Both write here, so the banner and the dialog agree; installing is one request
//! whichever of them starts it.

import { commands, type AvailableUpdate, type DeskError } from "./bindings";

export class Updates {
  /** The newer build on offer; null while none is known. */
  available = $state<AvailableUpdate | null>(null);
  /** The version whose banner the agent dismissed: it stays hidden until they check again. */
  dismissed = $state<string | null>(null);
  /** Downloading and installing; on success the app restarts, so this never goes back. */
  installing = $state(false);
  /** Why the last install failed (a signature that does not verify, the network…). */
  installError = $state<DeskError | null>(null);

  /** Whether the banner shows. */
  get shown(): boolean {
    return this.available !== null && this.available.version !== this.dismissed;
  }

  /** A newer build was found. */
  offer(update: AvailableUpdate): void {
    if (update.version !== this.available?.version) this.installError = null;
    this.available = update;
  }

  /** Asks the server now (settings' button); an update found shows the banner even if dismissed. */
  async check(): ReturnType<typeof commands.checkUpdate> {
    const result = await commands.checkUpdate();
    if (result.status === "ok") {
      this.dismissed = null;
      if (result.data) this.offer(result.data);
      else this.available = null;
    }
    return result;
  }

  dismiss(): void {
    this.dismissed = this.available?.version ?? null;
  }

  /** Downloads, verifies and installs the update; the Rust side restarts the app. */
  async install(): Promise<void> {
    if (this.installing) return;
    this.installing = true;
    this.installError = null;
    const result = await commands.installUpdate();
    if (result.status === "error") {
      this.installing = false;
      this.installError = result.error;
    }
  }

  /** Back to knowing nothing (tests start from here). */
  reset(): void {
    this.available = null;
    this.dismissed = null;
    this.installing = false;
    this.installError = null;
  }
}

/** The one update state of the window. */
export const updates = new Updates();
