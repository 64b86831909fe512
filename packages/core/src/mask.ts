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
  let i = 0;
  // Bytes up to the first 4-byte-aligned address.
  const lead = Math.min(length, (4 - (data.byteOffset & 3)) & 3);
  for (; i < lead; i++) data[i] = data[i]! ^ key[(keyOffset + i) & 3]!;
  const words = (length - i) >>> 2;
  if (words > 0) {
    const k = keyOffset + i;
    const b0 = key[k & 3]!, b1 = key[(k + 1) & 3]!, b2 = key[(k + 2) & 3]!, b3 = key[(k + 3) & 3]!;
    const word = littleEndian
      ? (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24))
      : ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3);
    const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w] = view[w]! ^ word;
    i += words << 2;
  }
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
