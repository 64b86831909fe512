/**
 * What the two WHATWG interfaces check the same way: close arguments and message data.
 *
 * @module
 */
import { isValidWireCloseCode, MAX_CLOSE_REASON_BYTES } from "./close.ts";

const encoder = new TextEncoder();

/**
 * Checks `close(code, reason)` synchronously, as the WHATWG specs do: an `InvalidAccessError`
 * `DOMException` for a bad code, a `SyntaxError` one for a reason over 123 bytes of UTF-8.
 * `"whatwg"` allows only 1000 and 3000-4999 (the `WebSocket` interface); `"wire"` allows every
 * code valid in a Close frame (1000-1003, 1007-1014, 3000-4999), which a server needs (1001,
 * 1008, 1011...).
 */
export function checkCloseArguments(code: number | undefined, reason: string, codes: "whatwg" | "wire"): void {
  if (code !== undefined) {
    const valid = Number.isInteger(code) &&
      (codes === "wire" ? isValidWireCloseCode(code) : code === 1000 || (code >= 3000 && code <= 4999));
    if (!valid) throw new DOMException(`Invalid close code: ${code}`, "InvalidAccessError");
  }
  if (reason !== "") {
    const length = encoder.encode(reason).length;
    if (length > MAX_CLOSE_REASON_BYTES) {
      throw new DOMException(`Invalid close reason: ${length} bytes is over the limit of ${MAX_CLOSE_REASON_BYTES}`, "SyntaxError");
    }
  }
}

/** A message to send as the endpoint takes it: `string` for text, `Uint8Array` for binary. */
export function toMessageData(chunk: unknown): string | Uint8Array {
  if (typeof chunk === "string") return chunk;
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError("Cannot send: a message must be a string, an ArrayBuffer or a typed array");
}
