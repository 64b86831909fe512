/**
 * The harness's own frame codec (RFC 6455 §5.2). Deliberately independent of `@wsstream/core`:
 * a conformance harness that shared the parser under test could not catch its bugs. The encoder
 * writes anything, including frames the RFC forbids (reserved opcodes, RSV bits, fragmented
 * control frames, oversized control payloads); the parser reports whatever the peer sends and
 * leaves judging it to the session.
 *
 * @module
 */
import { randomFillSync } from "node:crypto";

/** Opcodes (RFC 6455 §5.2 and §11.8). */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** A frame to encode. Any value of each field is written as given. */
export interface OutgoingFrame {
  readonly opcode: number;
  readonly payload: Uint8Array;
  /** Default true. */
  readonly fin?: boolean;
  /** RSV1..RSV3 as a 3-bit number (RSV1 = 4). Default 0. */
  readonly rsv?: number;
}

/** A frame as received: header fields and the unmasked payload. */
export interface IncomingFrame {
  readonly fin: boolean;
  readonly rsv: number;
  readonly opcode: number;
  readonly masked: boolean;
  readonly payload: Uint8Array;
}

/**
 * Encodes `frame`, masked with a fresh random key when `mask` is true (the harness plays the
 * client) and unmasked otherwise (it plays the server).
 */
export function encodeFrame(frame: OutgoingFrame, mask: boolean): Uint8Array {
  const { payload } = frame;
  const length = payload.length;
  const lengthBytes = length <= 125 ? 0 : length <= 0xffff ? 2 : 8;
  const headerLength = 2 + lengthBytes + (mask ? 4 : 0);
  const out = new Uint8Array(headerLength + length);
  out[0] = ((frame.fin ?? true) ? 0x80 : 0) | (((frame.rsv ?? 0) & 0x7) << 4) | (frame.opcode & 0xf);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (lengthBytes === 0) {
    out[1] = length;
  } else if (lengthBytes === 2) {
    out[1] = 126;
    view.setUint16(2, length);
  } else {
    out[1] = 127;
    view.setUint32(2, Math.floor(length / 2 ** 32));
    view.setUint32(6, length >>> 0);
  }
  if (mask) {
    out[1]! |= 0x80;
    const key = out.subarray(2 + lengthBytes, headerLength);
    randomFillSync(key);
    const body = out.subarray(headerLength);
    body.set(payload);
    applyMask(body, key);
  } else {
    out.set(payload, headerLength);
  }
  return out;
}

/** XORs `data` in place with the 4-byte `key` (RFC 6455 §5.3). */
export function applyMask(data: Uint8Array, key: Uint8Array): void {
  const k0 = key[0]!, k1 = key[1]!, k2 = key[2]!, k3 = key[3]!;
  const n = data.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    data[i] = data[i]! ^ k0;
    data[i + 1] = data[i + 1]! ^ k1;
    data[i + 2] = data[i + 2]! ^ k2;
    data[i + 3] = data[i + 3]! ^ k3;
  }
  for (; i < n; i++) data[i] = data[i]! ^ key[i & 3]!;
}

/** The payload of a Close frame: a code (none when `undefined`) and a reason. */
export function closePayload(code?: number, reason: Uint8Array | string = new Uint8Array(0)): Uint8Array {
  if (code === undefined) return typeof reason === "string" ? new TextEncoder().encode(reason) : reason;
  const reasonBytes = typeof reason === "string" ? new TextEncoder().encode(reason) : reason;
  const out = new Uint8Array(2 + reasonBytes.length);
  out[0] = (code >> 8) & 0xff;
  out[1] = code & 0xff;
  out.set(reasonBytes, 2);
  return out;
}

/** What {@link FrameParser.push} can return besides frames: the peer's bytes make no frame. */
export class FrameParseError extends Error {}

/**
 * An incremental frame parser over the chunks a socket delivers. Work is O(bytes): each payload
 * is copied once into its own buffer. Frames larger than `maxPayload` are refused (so a broken
 * peer cannot exhaust the harness's memory).
 */
export class FrameParser {
  readonly #maxPayload: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #header: { fin: boolean; rsv: number; opcode: number; masked: boolean; key: Uint8Array | undefined; length: number } | undefined;
  #payload: Uint8Array | undefined;
  #filled = 0;

  constructor(maxPayload = 64 * 1024 * 1024) {
    this.#maxPayload = maxPayload;
  }

  /** Feeds bytes; returns the frames they complete. Throws {@link FrameParseError} on garbage. */
  push(chunk: Uint8Array): IncomingFrame[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const frames: IncomingFrame[] = [];
    for (;;) {
      if (this.#header === undefined && !this.#readHeader()) break;
      const header = this.#header!;
      if (this.#payload === undefined) this.#payload = new Uint8Array(header.length);
      while (this.#filled < header.length && this.#buffered > 0) {
        const first = this.#chunks[0]!;
        const n = Math.min(first.length, header.length - this.#filled);
        this.#payload.set(first.subarray(0, n), this.#filled);
        this.#filled += n;
        this.#take(n);
      }
      if (this.#filled < header.length) break;
      const payload = this.#payload;
      if (header.key !== undefined) applyMask(payload, header.key);
      frames.push({ fin: header.fin, rsv: header.rsv, opcode: header.opcode, masked: header.masked, payload });
      this.#header = undefined;
      this.#payload = undefined;
      this.#filled = 0;
    }
    return frames;
  }

  /** Bytes received but not yet part of a complete frame. */
  get pending(): number {
    return this.#buffered + this.#filled;
  }

  #readHeader(): boolean {
    if (this.#buffered < 2) return false;
    const first = this.#peek(2);
    const masked = (first[1]! & 0x80) !== 0;
    const code = first[1]! & 0x7f;
    const lengthBytes = code === 126 ? 2 : code === 127 ? 8 : 0;
    const headerLength = 2 + lengthBytes + (masked ? 4 : 0);
    if (this.#buffered < headerLength) return false;
    const head = this.#peek(headerLength);
    const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
    let length = code;
    if (lengthBytes === 2) length = view.getUint16(2);
    if (lengthBytes === 8) {
      const high = view.getUint32(2);
      if (high >= 0x80000000) throw new FrameParseError("64-bit payload length with the most significant bit set (RFC 6455 §5.2)");
      length = high * 2 ** 32 + view.getUint32(6);
    }
    if (length > this.#maxPayload) throw new FrameParseError(`Frame payload of ${length} bytes exceeds the harness limit`);
    this.#header = {
      fin: (head[0]! & 0x80) !== 0,
      rsv: (head[0]! >> 4) & 0x7,
      opcode: head[0]! & 0xf,
      masked,
      key: masked ? head.slice(2 + lengthBytes, headerLength) : undefined,
      length,
    };
    this.#take(headerLength);
    return true;
  }

  // The first n buffered bytes, contiguous (copied only when they span chunks; n <= 14 here).
  #peek(n: number): Uint8Array {
    const first = this.#chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let offset = 0;
    for (const chunk of this.#chunks) {
      const m = Math.min(chunk.length, n - offset);
      out.set(chunk.subarray(0, m), offset);
      offset += m;
      if (offset === n) break;
    }
    return out;
  }

  #take(n: number): void {
    this.#buffered -= n;
    while (n > 0) {
      const first = this.#chunks[0]!;
      if (first.length <= n) {
        this.#chunks.shift();
        n -= first.length;
      } else {
        this.#chunks[0] = first.subarray(n);
        n = 0;
      }
    }
  }
}
