//! Subscribing to the Rust side's `desk-event` stream from a component's lifetime.

import { events, type DeskEvent } from "./bindings";

/**
 * Calls `handler` with every desk event until the returned function is called. Suits
 * `$effect(() => onDeskEvent(...))`: the listener is registered asynchronously, and a stop
 * that comes before registration finishes still unregisters it.
 */
export function onDeskEvent(handler: (event: DeskEvent) => void): () => void {
  let stopped = false;
  let unlisten: (() => void) | null = null;
  events.deskEvent
    .listen((event) => {
      if (!stopped) handler(event.payload);
    })
    .then((stop) => {
      if (stopped) stop();
      else unlisten = stop;
    })
    .catch((error: unknown) => console.error("kefu: cannot listen to desk events", error));
  return () => {
    stopped = true;
    unlisten?.();
  };
}
