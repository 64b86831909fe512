/**
 * Round-trip times from Pings: each Ping sent through a {@link PingTracker} carries a distinct
 * 4-byte payload (a counter), and the Pong that echoes it gives the time since it was sent, on
 * the injected clock. A Pong with any other payload is ignored; a Pong that answers a later Ping
 * also answers every Ping sent before it (RFC 6455 §5.5.3 lets a peer answer only the most recent
 * of several Pings).
 *
 * @module
 */
import type { WebSocketError } from "./errors.ts";
import type { StatsCounters } from "./stats.ts";
import type { Clock } from "./transport.ts";

/** A Ping sent and not yet answered: when, and the promise to settle (for `ping()`), if any. */
interface PendingPing {
  readonly sentAt: number;
  readonly resolve: ((rtt: number) => void) | undefined;
  readonly reject: ((error: WebSocketError) => void) | undefined;
}

const noop = (): void => {};

/** The Pings of one connection; see the module notes. */
export class PingTracker {
  readonly #clock: Clock;
  readonly #stats: StatsCounters;
  #counter = 0;
  // By id, in the order sent (a Map iterates in insertion order).
  readonly #pending = new Map<number, PendingPing>();

  /** `stats` receives each round-trip time (`lastRtt`, `lastRttAt`). */
  constructor(clock: Clock, stats: StatsCounters) {
    this.#clock = clock;
    this.#stats = stats;
  }

  /** Pings sent and not yet answered. */
  get pending(): number {
    return this.#pending.size;
  }

  /** The payload of the next Ping: its id as 4 big-endian bytes. Pass the id to {@link sent} once the Ping is queued. */
  nextPayload(): { readonly id: number; readonly payload: Uint8Array } {
    const id = (this.#counter = (this.#counter + 1) >>> 0 || 1);
    const payload = new Uint8Array(4);
    new DataView(payload.buffer).setUint32(0, id);
    return { id, payload };
  }

  /**
   * The Ping `id` was queued now. With `settle` true, returns a promise of its round-trip time in
   * milliseconds that rejects with a {@link WebSocketError} if the connection ends first (a
   * rejection nobody observes is not reported as unhandled).
   */
  sent(id: number, settle: true): Promise<number>;
  sent(id: number, settle: false): undefined;
  sent(id: number, settle: boolean): Promise<number> | undefined {
    const sentAt = this.#now();
    if (!settle) {
      this.#pending.set(id, { sentAt, resolve: undefined, reject: undefined });
      return undefined;
    }
    let resolve!: (rtt: number) => void;
    let reject!: (error: WebSocketError) => void;
    const promise = new Promise<number>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Like `closed` of a WebSocketStream: a ping nobody awaits must not be an unhandled rejection.
    promise.catch(noop);
    this.#pending.set(id, { sentAt, resolve, reject });
    return promise;
  }

  /**
   * A Pong arrived. Returns the id of the Ping it answers (then that Ping and every earlier one
   * are settled and the round-trip time recorded), or 0 when its payload is no pending Ping's.
   */
  pong(data: Uint8Array): number {
    if (data.length !== 4 || this.#pending.size === 0) return 0;
    const id = new DataView(data.buffer, data.byteOffset, 4).getUint32(0);
    const answered = this.#pending.get(id);
    if (answered === undefined) return 0;
    const now = this.#now();
    for (const [pendingId, ping] of this.#pending) {
      this.#pending.delete(pendingId);
      ping.resolve?.(now - ping.sentAt);
      if (pendingId === id) break;
    }
    const stats = this.#stats;
    stats.lastRtt = now - answered.sentAt;
    stats.lastRttAt = now;
    return id;
  }

  /** The connection ended: every pending `ping()` promise rejects with `error`. */
  abort(error: WebSocketError): void {
    for (const ping of this.#pending.values()) ping.reject?.(error);
    this.#pending.clear();
  }

  #now(): number {
    return this.#clock.now?.() ?? performance.now();
  }
}
