/**
 * A {@link TestTransport} that recycles like Deno's: each chunk pushed is read into a buffer of
 * the transport's, and a chunk given back with `recycle()` is overwritten at once with 0xEE and
 * its memory is where the next read lands. A connection that gives back a chunk it still holds a
 * view of sees its bytes turn to 0xEE. It tells when it is done with written chunks
 * (`released()`): a write held (not `accepting`) keeps the chunks it was given, `released()`
 * waits for it, and `release()` checks that none of them changed (or was detached) meanwhile.
 */
import { TestTransport } from "./test-transport.ts";

export class RecyclingTransport extends TestTransport {
  /** Chunks given back, and buffers made for reads (a read into a recycled one makes none). */
  recycled = 0;
  buffersMade = 0;
  /** Contract breaches seen: a chunk given back that was not the last one read, a held write changed. */
  readonly errors: string[] = [];
  #last: Uint8Array | undefined;
  #free: Uint8Array | undefined;
  #heldChunks: Array<{ chunk: Uint8Array; copy: Uint8Array }> = [];
  #releaseWaiters: Array<() => void> = [];
  /** How many times the connection asked for a release. */
  releases = 0;

  override async read(): Promise<Uint8Array | null> {
    const chunk = await super.read();
    if (chunk === null) return null;
    let buffer = this.#free;
    this.#free = undefined;
    if (buffer === undefined || buffer.length < chunk.length) {
      buffer = new Uint8Array(Math.max(chunk.length, 4096));
      this.buffersMade++;
    }
    const view = buffer.subarray(0, chunk.length);
    view.set(chunk);
    this.#last = view;
    return view;
  }

  recycle(chunk: Uint8Array): void {
    if (chunk !== this.#last) {
      this.errors.push("recycle() of a chunk that is not the last one read");
      return;
    }
    this.recycled++;
    this.#last = undefined;
    chunk.fill(0xee);
    this.#free = new Uint8Array(chunk.buffer);
  }

  override write(chunks: readonly Uint8Array[]): Promise<void> | undefined {
    const result = super.write(chunks);
    if (result !== undefined) for (const chunk of chunks) this.#heldChunks.push({ chunk, copy: chunk.slice() });
    return result;
  }

  released(): Promise<void> {
    this.releases++;
    if (this.#heldChunks.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.#releaseWaiters.push(resolve));
  }

  override release(): void {
    for (const { chunk, copy } of this.#heldChunks.splice(0)) {
      if (chunk.byteLength !== copy.byteLength || chunk.some((byte, i) => byte !== copy[i])) {
        this.errors.push(`a held write's chunk of ${copy.byteLength} bytes changed before the write settled`);
      }
    }
    super.release();
    for (const resolve of this.#releaseWaiters.splice(0)) resolve();
  }
}
