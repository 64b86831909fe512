/**
 * Keepalive for a connection layer: a Ping every `interval` ms while open; a Pong that does not
 * come within `timeout` ms fails the connection (1011). The Ping payload is a counter, and the
 * Pong that echoes it gives the round-trip time (`lastRtt`).
 *
 * @module
 */
import type { Clock } from "./transport.ts";

/** Keepalive: a Ping every `interval` ms; no Pong within `timeout` ms fails the connection (1011). */
export interface KeepaliveOptions {
  readonly interval: number;
  readonly timeout: number;
}

/** What the keepalive does to its connection. */
export interface KeepaliveTarget {
  /** True while pings may be sent. */
  isOpen(): boolean;
  /** Sends a Ping with this payload now. */
  ping(payload: Uint8Array): void;
  /** No Pong came in time. */
  timedOut(): void;
}

/** One connection's keepalive timers. */
export class Keepalive {
  readonly #clock: Clock;
  readonly #options: KeepaliveOptions;
  readonly #target: KeepaliveTarget;
  #tickTimer: unknown;
  #pongTimer: unknown;
  #counter = 0;
  #sentAt = 0;
  #lastRtt: number | undefined;

  constructor(clock: Clock, options: KeepaliveOptions, target: KeepaliveTarget) {
    this.#clock = clock;
    this.#options = options;
    this.#target = target;
    this.#tickTimer = clock.setTimeout(this.#tick, options.interval);
  }

  /** Milliseconds between the last answered keepalive Ping and its Pong. */
  get lastRtt(): number | undefined {
    return this.#lastRtt;
  }

  /** A Pong arrived: the one answering our Ping stops the timeout and measures the round trip. */
  pong(data: Uint8Array): void {
    if (this.#pongTimer === undefined || data.length !== 4) return;
    const echoed = new DataView(data.buffer, data.byteOffset, 4).getUint32(0);
    if (echoed !== this.#counter) return;
    this.#clock.clearTimeout(this.#pongTimer);
    this.#pongTimer = undefined;
    this.#lastRtt = (this.#clock.now?.() ?? 0) - this.#sentAt;
  }

  /** Stops every timer. */
  stop(): void {
    this.#clock.clearTimeout(this.#tickTimer);
    this.#clock.clearTimeout(this.#pongTimer);
    this.#tickTimer = this.#pongTimer = undefined;
  }

  readonly #tick = (): void => {
    if (!this.#target.isOpen()) return;
    if (this.#pongTimer === undefined) {
      const payload = new Uint8Array(4);
      new DataView(payload.buffer).setUint32(0, ++this.#counter);
      this.#sentAt = this.#clock.now?.() ?? 0;
      this.#target.ping(payload);
      this.#pongTimer = this.#clock.setTimeout(() => {
        this.#pongTimer = undefined;
        this.#target.timedOut();
      }, this.#options.timeout);
    }
    this.#tickTimer = this.#clock.setTimeout(this.#tick, this.#options.interval);
  };
}
