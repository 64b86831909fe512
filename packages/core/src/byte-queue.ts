/**
 * A queue of received chunks read front to back. Reads return views where the bytes are
 * contiguous and copy only when a read spans chunks, so work stays O(bytes consumed).
 *
 * @module
 */

/** A FIFO of byte chunks with contiguous-view reads. */
export class ByteQueue {
  #chunks: Uint8Array[] = [];
  #index = 0;
  #offset = 0;
  #length = 0;

  /** Bytes queued and not yet consumed. */
  get length(): number {
    return this.#length;
  }

  /** Appends a chunk. The queue keeps a reference: the bytes must not change afterwards. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /**
   * The front chunk (undefined when empty); its unread bytes start at {@link headOffset}. For a
   * parser's fast path: read straight from it, then {@link skip} what it used.
   */
  get head(): Uint8Array | undefined {
    return this.#chunks[this.#index];
  }

  /** Where the unread bytes of {@link head} start. */
  get headOffset(): number {
    return this.#offset;
  }

  /** The byte `i` positions from the front; `i` must be below {@link length}. */
  peek(i: number): number {
    let index = this.#index;
    let chunk = this.#chunks[index]!;
    let at = this.#offset + i;
    while (at >= chunk.length) {
      at -= chunk.length;
      chunk = this.#chunks[++index]!;
    }
    return chunk[at]!;
  }

  /** Removes `n` bytes (at most {@link length}) and returns them: a view when contiguous. */
  consume(n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0);
    const first = this.#chunks[this.#index]!;
    const start = this.#offset;
    if (first.length - start >= n) {
      this.#advance(n);
      return new Uint8Array(first.buffer, first.byteOffset + start, n);
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[this.#index]!;
      const take = Math.min(n - filled, chunk.length - this.#offset);
      out.set(chunk.subarray(this.#offset, this.#offset + take), filled);
      filled += take;
      this.#advance(take);
    }
    return out;
  }

  /** Discards `n` bytes (at most {@link length}) from the front without returning them. */
  skip(n: number): void {
    const chunk = this.#chunks[this.#index];
    if (chunk !== undefined && chunk.length - this.#offset >= n) {
      if (n > 0) this.#advance(n);
      return;
    }
    while (n > 0) {
      const chunk = this.#chunks[this.#index]!;
      const take = Math.min(n, chunk.length - this.#offset);
      this.#advance(take);
      n -= take;
    }
  }

  /** Drops everything queued. */
  clear(): void {
    this.#chunks = [];
    this.#index = 0;
    this.#offset = 0;
    this.#length = 0;
  }

  // Moves the read position within the current chunk, dropping chunks once fully read.
  #advance(n: number): void {
    this.#offset += n;
    this.#length -= n;
    const chunk = this.#chunks[this.#index]!;
    if (this.#offset < chunk.length) return;
    this.#offset = 0;
    this.#index++;
    if (this.#index === this.#chunks.length) {
      // A new empty array rather than length = 0: an idle connection keeps no spare capacity.
      this.#chunks = [];
      this.#index = 0;
    } else if (this.#index >= 1024) {
      this.#chunks.splice(0, this.#index);
      this.#index = 0;
    }
  }
}
