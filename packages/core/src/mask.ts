/**
 * XOR masking, RFC 6455 §5.3. Word-at-a-time over the 4-byte-aligned middle of the data.
 *
 * @module
 */

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * XORs `data` in place with the 4-byte `key`, starting at key position `keyOffset` (the number of
 * payload bytes already masked before `data`, for payloads that arrive in pieces).
 */
export function applyMask(data: Uint8Array, key: Uint8Array, keyOffset = 0): void {
  const length = data.length;
  // Below this, building a word view costs more than it saves.
  if (length < 32) {
    for (let i = 0; i < length; i++) data[i] = data[i]! ^ key[(keyOffset + i) & 3]!;
    return;
  }
  let i = 0;
  // Bytes up to the first 4-byte-aligned address.
  const lead = (4 - (data.byteOffset & 3)) & 3;
  for (; i < lead; i++) data[i] = data[i]! ^ key[(keyOffset + i) & 3]!;
  const words = (length - i) >>> 2;
  const k = keyOffset + i;
  const b0 = key[k & 3]!, b1 = key[(k + 1) & 3]!, b2 = key[(k + 2) & 3]!, b3 = key[(k + 3) & 3]!;
  const word = littleEndian
    ? (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24))
    : ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3);
  const view = new Int32Array(data.buffer, data.byteOffset + i, words);
  let w = 0;
  for (const end = words - 3; w < end; w += 4) {
    view[w] = view[w]! ^ word;
    view[w + 1] = view[w + 1]! ^ word;
    view[w + 2] = view[w + 2]! ^ word;
    view[w + 3] = view[w + 3]! ^ word;
  }
  for (; w < words; w++) view[w] = view[w]! ^ word;
  i += words << 2;
  for (; i < length; i++) data[i] = data[i]! ^ key[(keyOffset + i) & 3]!;
}

/**
 * Writes `source` XOR `key` into `target` at `targetOffset`, leaving `source` untouched (client
 * frames mask a copy: the caller's bytes must not change).
 */
export function maskInto(
  source: Uint8Array,
  key: Uint8Array,
  target: Uint8Array,
  targetOffset: number,
): void {
  target.set(source, targetOffset);
  applyMask(target.subarray(targetOffset, targetOffset + source.length), key, 0);
}
