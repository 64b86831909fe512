/**
 * Byte helpers for writing case payloads: UTF-8 text, hex literals, repeated patterns, and a
 * short printable form of bytes for reports.
 *
 * @module
 */

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/** `text` as UTF-8 bytes. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Bytes from hex digits; spaces are ignored (`hex("ce ba e1")`). */
export function hex(digits: string): Uint8Array {
  const clean = digits.replace(/\s+/g, "");
  if (clean.length % 2 !== 0) throw new Error(`Odd number of hex digits: ${digits}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Bytes from octet values (`octets(0xc0, 0xaf)`). */
export function octets(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

/** Concatenates byte arrays into a new one. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** `pattern` repeated until `length` bytes (the last copy cut short): Autobahn's `payload_len`. */
export function repeat(pattern: Uint8Array | string, length: number): Uint8Array {
  const bytes = typeof pattern === "string" ? utf8(pattern) : pattern;
  const out = new Uint8Array(length);
  if (length === 0) return out;
  if (bytes.length === 0) throw new Error("Cannot repeat an empty pattern");
  // Doubling copies: O(length) work in log(length) calls.
  let filled = Math.min(bytes.length, length);
  out.set(bytes.subarray(0, filled));
  while (filled < length) {
    const n = Math.min(filled, length - filled);
    out.copyWithin(filled, 0, n);
    filled += n;
  }
  return out;
}

/** Whether two byte arrays hold the same bytes. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether `bytes` are valid UTF-8 (RFC 3629: no overlongs, surrogates or code points > U+10FFFF). */
export function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    strictDecoder.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Lowercase hex of `bytes`, no separators. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/**
 * A short printable form for reports: the text in quotes when it is short printable UTF-8, else
 * hex; long payloads are cut, with their length.
 */
export function describeBytes(bytes: Uint8Array, limit = 40): string {
  const head = bytes.subarray(0, limit);
  const more = bytes.length > limit ? `… (${bytes.length} bytes)` : "";
  if (isValidUtf8(bytes) || (bytes.length > limit && isPrintableAscii(head))) {
    const text = new TextDecoder().decode(head);
    if (/^[\x20-\x7e\u00a0-\uffff]*$/.test(text)) return `"${text}"${more}`;
  }
  return `0x${toHex(head)}${more}`;
}

function isPrintableAscii(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b < 0x20 || b > 0x7e) return false;
  return true;
}
