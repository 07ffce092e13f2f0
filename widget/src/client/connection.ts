// One WebSocket with its lifecycle: connect, Hello, heartbeats, liveness, reconnect with
// exponential backoff and jitter, GoAway. It knows nothing of conversations: frames go
// up to the session, which decides what they mean.
import type { Hello, ServerEnvelope } from "../gen/kefu/v1/envelope_pb";
import { decodeServer, encodeClient, type ClientKind } from "./codec";

/** "blocked": the shop's support team blocked this shopper; nothing is attempted any more. */
export type ConnState = "connecting" | "online" | "offline" | "blocked";

/** The part of the browser WebSocket the connection uses (tests pass a fake). */
export interface SocketLike {
  binaryType: string;
  readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}
export type SocketCtor = new (url: string) => SocketLike;

export interface ConnectionHooks {
  /** URL for the next attempt; may refresh the session first. Rejecting fails the attempt. */
  url(): Promise<string>;
  hello(h: Hello): void;
  frame(env: ServerEnvelope): void;
  state(s: ConnState): void;
  /** The socket closed before Hello: the token may be stale (the upgrade's 401 is invisible to JS). */
  failedBeforeHello(): void;
}

const BASE_MS = 500;
const CAP_MS = 10_000;
const CONNECT_TIMEOUT_MS = 15_000;
const DEFAULT_HEARTBEAT_MS = 30_000;

/** Equal jitter: half fixed, half random, so a fleet of widgets does not reconnect in step. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const exp = Math.min(CAP_MS, BASE_MS * 2 ** Math.min(attempt, 16));
  return Math.round(exp / 2 + random() * (exp / 2));
}

export class Connection {
  state: ConnState = "connecting";
  #ws: SocketLike | null = null;
  #hello: Hello | null = null;
  #attempt = 0;
  #stopped = true;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  /** GoAway: no reconnect before this time (ms since epoch). */
  #notBefore = 0;
  #lastRx = 0;
  /** Bumped on every new attempt so late callbacks of an old socket are ignored. */
  #gen = 0;

  readonly #Socket: SocketCtor;
  readonly #hooks: ConnectionHooks;
  readonly #random: () => number;

  constructor(Socket: SocketCtor, hooks: ConnectionHooks, random: () => number = Math.random) {
    this.#Socket = Socket;
    this.#hooks = hooks;
    this.#random = random;
  }

  get online(): boolean {
    return this.#hello !== null && this.#ws?.readyState === 1;
  }

  start(): void {
    this.#stopped = false;
    this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    this.#teardown();
  }

  /** The server refuses this visitor for good: no more attempts, each would be refused too. */
  block(): void {
    this.#teardown();
    this.#setState("blocked");
  }

  /** New identity (which lifts a block): drop the socket and connect again at once, as if
   * loading anew. */
  restart(): void {
    this.#teardown();
    this.#attempt = 0;
    this.#setState("connecting");
    if (!this.#stopped) this.#connect();
  }

  /** The browser says the network is back: skip the remaining backoff (not a GoAway's wait). */
  nudge(): void {
    if (this.#stopped || this.#ws || this.state === "blocked") return;
    clearTimeout(this.#reconnectTimer);
    const wait = this.#notBefore - Date.now();
    if (wait > 0) this.#reconnectTimer = setTimeout(() => this.#connect(), wait);
    else this.#connect();
  }

  /** The browser says the network is gone: fail fast instead of waiting for heartbeats. */
  drop(): void {
    if (this.#ws) this.#lost(this.#gen);
  }

  send(kind: ClientKind): boolean {
    if (!this.online) return false;
    try {
      this.#ws!.send(encodeClient(kind));
      return true;
    } catch {
      return false;
    }
  }

  #setState(s: ConnState): void {
    if (this.state === s) return;
    this.state = s;
    this.#hooks.state(s);
  }

  async #connect(): Promise<void> {
    this.#teardown();
    const gen = ++this.#gen;
    let url: string;
    try {
      url = await this.#hooks.url();
    } catch {
      if (gen === this.#gen && !this.#stopped) this.#lost(gen);
      return;
    }
    if (gen !== this.#gen || this.#stopped) return;
    let ws: SocketLike;
    try {
      ws = new this.#Socket(url);
    } catch {
      this.#lost(gen);
      return;
    }
    this.#ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onmessage = (ev) => {
      if (gen === this.#gen) this.#receive(ev.data);
    };
    ws.onclose = ws.onerror = () => {
      if (gen === this.#gen) this.#lost(gen);
    };
    this.#connectTimer = setTimeout(() => {
      if (gen === this.#gen && !this.#hello) this.#lost(gen);
    }, CONNECT_TIMEOUT_MS);
  }

  #receive(data: unknown): void {
    // Text frames are not part of the protocol; ignore rather than fail.
    if (!(data instanceof ArrayBuffer) && !(data instanceof Uint8Array)) return;
    const env = decodeServer(data);
    if (!env) return;
    this.#lastRx = Date.now();
    const k = env.kind;
    if (k.case === "hello") {
      this.#hello = k.value;
      this.#attempt = 0;
      clearTimeout(this.#connectTimer);
      this.#startHeartbeat(k.value.heartbeatIntervalMs || DEFAULT_HEARTBEAT_MS);
      this.#setState("online");
      this.#hooks.hello(k.value);
      return;
    }
    if (k.case === "goAway") {
      // GO_AWAY_CODE_VISITOR_BLOCKED (a number, so the enum's descriptor stays out of the bundle).
      if (k.value.code === 6) return this.block();
      this.#notBefore = Date.now() + k.value.retryAfterMs;
      this.#lost(this.#gen);
      return;
    }
    this.#hooks.frame(env);
  }

  #startHeartbeat(intervalMs: number): void {
    clearInterval(this.#heartbeatTimer);
    // Send at half the interval so one late timer never costs the connection; treat the
    // socket as dead when the server (which echoes heartbeats) was silent for 1.5 intervals.
    this.#heartbeatTimer = setInterval(() => {
      if (Date.now() - this.#lastRx > intervalMs * 1.5) {
        this.#lost(this.#gen);
        return;
      }
      this.send({ case: "heartbeat", value: { atMs: BigInt(Date.now()) } });
    }, Math.max(1000, intervalMs / 2));
  }

  /** Close whatever socket there is and cancel any scheduled attempt, scheduling nothing. */
  #teardown(): void {
    clearTimeout(this.#reconnectTimer);
    clearTimeout(this.#connectTimer);
    clearInterval(this.#heartbeatTimer);
    const ws = this.#ws;
    this.#ws = null;
    this.#hello = null;
    this.#gen++;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(1000);
      } catch {
        // already closed
      }
    }
  }

  #lost(gen: number): void {
    if (gen !== this.#gen) return;
    const hadHello = this.#hello !== null;
    this.#teardown();
    if (this.#stopped) return;
    if (!hadHello) this.#hooks.failedBeforeHello();
    this.#setState("offline");
    const delay = Math.max(backoffMs(this.#attempt++, this.#random), this.#notBefore - Date.now());
    this.#reconnectTimer = setTimeout(() => this.#connect(), delay);
  }
}
