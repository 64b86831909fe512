/**
 * Frame encoding, RFC 6455 §5.2: minimal length encodings, client frames masked with a fresh key.
 *
 * @module
 */
import { applyMask } from "./mask.ts";

/** A whole frame, as encoded or as reassembled by tests. */
export interface Frame {
  readonly fin: boolean;
  readonly opcode: number;
  readonly payload: Uint8Array;
  /** RSV1..RSV3 as a 3-bit number (RSV1 = 0b100); 0 unless an extension owns them. */
  readonly rsv?: number;
}

/** Header bytes needed for a payload of `length` bytes (§5.2: 2, 4 or 10, plus 4 when masked). */
export function frameHeaderLength(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length <= 0xffff ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * Writes a frame header into `target` at `offset` and returns the offset after it (where the
 * 4-byte mask key goes when `masked`, then the payload).
 */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  fin: boolean,
  rsv: number,
  opcode: number,
  length: number,
  masked: boolean,
): number {
  target[offset++] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  const maskBit = masked ? 0x80 : 0;
  if (length < 126) {
    target[offset++] = maskBit | length;
  } else if (length <= 0xffff) {
    target[offset++] = maskBit | 126;
    target[offset++] = length >>> 8;
    target[offset++] = length & 0xff;
  } else {
    target[offset++] = maskBit | 127;
    const high = Math.floor(length / 0x1_0000_0000);
    const low = length >>> 0;
    target[offset++] = high >>> 24;
    target[offset++] = (high >>> 16) & 0xff;
    target[offset++] = (high >>> 8) & 0xff;
    target[offset++] = high & 0xff;
    target[offset++] = low >>> 24;
    target[offset++] = (low >>> 16) & 0xff;
    target[offset++] = (low >>> 8) & 0xff;
    target[offset++] = low & 0xff;
  }
  return offset;
}

// Mask keys come from one pool of random bytes, refilled 2048 keys at a time: a getRandomValues
// call per frame costs more than masking a small payload.
const KEY_POOL_SIZE = 8192;
let keyPool: Uint8Array | undefined;
let keyPoolOffset = KEY_POOL_SIZE;

/** A fresh 4-byte masking key (§5.3: unpredictable, from a strong source of entropy). */
export function nextMaskKey(): Uint8Array {
  if (keyPoolOffset === KEY_POOL_SIZE || keyPool === undefined) {
    keyPool = crypto.getRandomValues(new Uint8Array(KEY_POOL_SIZE));
    keyPoolOffset = 0;
  }
  const key = keyPool.subarray(keyPoolOffset, keyPoolOffset + 4);
  keyPoolOffset += 4;
  return key;
}

/**
 * Encodes one frame into a new buffer. With `mask` true a fresh key is drawn; a `Uint8Array`
 * gives the key (tests, RFC examples). The caller's payload is never modified.
 */
export function encodeFrame(frame: Frame, mask: boolean | Uint8Array = false): Uint8Array {
  const { payload } = frame;
  const masked = mask !== false;
  const out = new Uint8Array(frameHeaderLength(payload.length, masked) + payload.length);
  let offset = writeFrameHeader(out, 0, frame.fin, frame.rsv ?? 0, frame.opcode, payload.length, masked);
  if (masked) {
    const key = mask === true ? nextMaskKey() : mask;
    out.set(key.subarray(0, 4), offset);
    offset += 4;
    out.set(payload, offset);
    applyMask(out.subarray(offset), out.subarray(offset - 4, offset));
  } else {
    out.set(payload, offset);
  }
  return out;
}
