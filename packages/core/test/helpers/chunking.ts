/**
 * Ways to cut a byte string into chunks, so every parser is fed whole, one byte at a time and
 * split at every point (STYLE.md practice 12).
 */

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** A labelled way of cutting `bytes` into fresh chunks (each call returns new copies). */
export interface Chunking {
  readonly label: string;
  readonly chunks: Uint8Array[];
}

/** The whole input as one chunk, then one byte at a time, then split at every point. */
export function* chunkings(bytes: Uint8Array): Generator<Chunking> {
  yield { label: "whole", chunks: [bytes.slice()] };
  if (bytes.length > 1) {
    yield { label: "one byte at a time", chunks: Array.from(bytes, (b) => Uint8Array.of(b)) };
    for (let i = 1; i < bytes.length; i++) {
      yield { label: `split at ${i}`, chunks: [bytes.slice(0, i), bytes.slice(i)] };
    }
  }
}

/** Hex string (spaces allowed) to bytes. */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** ASCII/UTF-8 string to bytes. */
export function bytes(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
