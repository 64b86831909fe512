/**
 * A `Transport` driven by the test: it hands the endpoint what the test pushes, records what the
 * endpoint writes, and accepts writes only while `accepting` (otherwise they wait for `release()`),
 * so backpressure, lingering closes and floods can be checked byte by byte.
 */
import type { Transport } from "../../src/transport.ts";

export class TestTransport implements Transport {
  /** Chunks the endpoint wrote, in order. */
  readonly written: Uint8Array[] = [];
  /** How many chunks the endpoint has taken with read(). */
  reads = 0;
  /** Whether write() takes chunks at once; false holds them until release(). */
  accepting = true;
  ended = false;
  destroyed = false;
  /** The order of end() and destroy() calls. */
  readonly calls: string[] = [];
  #incoming: (Uint8Array | null)[] = [];
  #waiting: ((chunk: Uint8Array | null) => void) | undefined;
  #held: (() => void)[] = [];

  /** Queues bytes for the endpoint to read. */
  push(chunk: Uint8Array): void {
    const waiting = this.#waiting;
    if (waiting !== undefined) {
      this.#waiting = undefined;
      this.reads++;
      waiting(chunk);
    } else {
      this.#incoming.push(chunk);
    }
  }

  /** Ends the input (the peer's FIN). */
  pushEnd(): void {
    const waiting = this.#waiting;
    if (waiting !== undefined) {
      this.#waiting = undefined;
      waiting(null);
    } else {
      this.#incoming.push(null);
    }
  }

  /** Chunks pushed and not yet read. */
  get unread(): number {
    return this.#incoming.length;
  }

  read(): Promise<Uint8Array | null> {
    if (this.destroyed) return Promise.reject(new Error("destroyed"));
    if (this.#incoming.length > 0) {
      const chunk = this.#incoming.shift()!;
      if (chunk !== null) this.reads++;
      return Promise.resolve(chunk);
    }
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  write(chunks: readonly Uint8Array[]): Promise<void> | undefined {
    for (const chunk of chunks) this.written.push(chunk.slice());
    if (this.accepting) return undefined;
    return new Promise<void>((resolve) => this.#held.push(resolve));
  }

  /** Accepts every held write. */
  release(): void {
    this.accepting = true;
    for (const resolve of this.#held.splice(0)) resolve();
  }

  end(): Promise<void> {
    this.ended = true;
    this.calls.push("end");
    return Promise.resolve();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.calls.push("destroy");
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.(null);
  }

  /** Everything written, joined. */
  bytes(): Uint8Array {
    const total = this.written.reduce((n, c) => n + c.length, 0);
    const out = new Uint8Array(total);
    let offset = 0;
    for (const chunk of this.written) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}
