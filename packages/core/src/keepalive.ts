/**
 * Keepalive for a connection layer: a Ping every `interval` ms while open; a Pong that does not
 * come within `timeout` ms fails the connection (1011). The Pings are sent through the
 * connection's {@link PingTracker} (`ping.ts`), so each carries a distinct payload and the Pong
 * that echoes it gives the round-trip time, reported in the connection's `stats.lastRtt`.
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
  /** Sends a Ping now and returns its id (see {@link Keepalive.answered}). */
  ping(): number;
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
  // The id of the Ping awaiting its Pong, 0 when none.
  #waitingFor = 0;

  constructor(clock: Clock, options: KeepaliveOptions, target: KeepaliveTarget) {
    this.#clock = clock;
    this.#options = options;
    this.#target = target;
    this.#tickTimer = clock.setTimeout(this.#tick, options.interval);
  }

  /**
   * The Ping `id`, and every Ping sent before it, was answered (the tracker matched a Pong):
   * the one this keepalive waits for stops the timeout.
   */
  answered(id: number): void {
    if (this.#waitingFor === 0 || id < this.#waitingFor) return;
    this.#waitingFor = 0;
    this.#clock.clearTimeout(this.#pongTimer);
    this.#pongTimer = undefined;
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
      this.#waitingFor = this.#target.ping();
      this.#pongTimer = this.#clock.setTimeout(() => {
        this.#pongTimer = undefined;
        this.#waitingFor = 0;
        this.#target.timedOut();
      }, this.#options.timeout);
    }
    this.#tickTimer = this.#clock.setTimeout(this.#tick, this.#options.interval);
  };
}
