/**
 * The bytes a connection has queued for its transport. Frames up to a few KiB are written
 * straight into one staging slab shared by every connection and handed out as views, so a small
 * message costs no allocation of its own.
 *
 * Sharing is safe because JavaScript runs one connection at a time: a region, once reserved and
 * committed, belongs to one queue and is never written again; a full slab is replaced, and the old
 * one lives on only as long as views of it do. A queue's frames stay in one view while nothing
 * else wrote to the slab in between.
 *
 * @module
 */

const SLAB_SIZE = 64 * 1024;
let slab = new Uint8Array(SLAB_SIZE);
let used = 0;

/** The most bytes one {@link OutputQueue.reserve} may ask for. */
export const MAX_RESERVE = SLAB_SIZE;

/** A connection's outgoing bytes, in order. */
export class OutputQueue {
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  // The open segment: [start, end) of `segmentSlab`, this queue's latest frames.
  #segmentSlab: Uint8Array | undefined;
  #segmentStart = 0;
  #segmentEnd = 0;

  /** Bytes queued and not yet taken. */
  get length(): number {
    return this.#bytes;
  }

  /**
   * Room for up to `n` bytes (at most {@link MAX_RESERVE}) right after this queue's latest
   * frame: write into `slab` from `offset`, then {@link commit} what was written, before anything
   * else reserves.
   */
  reserve(n: number): { slab: Uint8Array; offset: number } {
    if (SLAB_SIZE - used < n) {
      slab = new Uint8Array(SLAB_SIZE);
      used = 0;
    }
    if (this.#segmentSlab !== slab || this.#segmentEnd !== used) {
      this.#closeSegment();
      this.#segmentSlab = slab;
      this.#segmentStart = this.#segmentEnd = used;
    }
    return { slab, offset: used };
  }

  /** Keeps `n` bytes written at the reserved offset. */
  commit(n: number): void {
    used += n;
    this.#segmentEnd += n;
    this.#bytes += n;
  }

  /** Queues a chunk as it is (a large payload, a handshake response). */
  push(chunk: Uint8Array): void {
    this.#closeSegment();
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
  }

  /** Takes everything queued, in order. */
  take(): Uint8Array[] {
    this.#closeSegment();
    const chunks = this.#chunks;
    if (chunks.length === 0) return chunks;
    this.#chunks = [];
    this.#bytes = 0;
    return chunks;
  }

  #closeSegment(): void {
    const segmentSlab = this.#segmentSlab;
    if (segmentSlab === undefined) return;
    if (this.#segmentEnd > this.#segmentStart) {
      this.#chunks.push(new Uint8Array(segmentSlab.buffer, segmentSlab.byteOffset + this.#segmentStart, this.#segmentEnd - this.#segmentStart));
    }
    this.#segmentSlab = undefined;
  }
}
