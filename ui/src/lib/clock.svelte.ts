//! A reactive "now" for countdowns and waiting times: reading `now()` inside an effect or
//! template re-runs it every second, and the timer stops when nothing reads it.

import { createSubscriber } from "svelte/reactivity";

const subscribe = createSubscriber((update) => {
  const timer = setInterval(update, 1000);
  return () => clearInterval(timer);
});

/** The current time in unix ms, ticking once a second where it is read reactively. */
export function now(): number {
  subscribe();
  return Date.now();
}
