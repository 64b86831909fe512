/**
 * `WebSocketError`: the browser's own where it has one, else a `DOMException` of that name with
 * `closeCode` and `reason`, as the WHATWG WebSockets standard defines it.
 *
 * @module
 */

/** The error a fallback connection rejects and errors its streams with. */
export class FallbackWebSocketError extends DOMException {
  readonly closeCode: number | null;
  readonly reason: string;

  constructor(message = "", init: { closeCode?: number; reason?: string } = {}) {
    super(message, "WebSocketError");
    this.closeCode = init.closeCode ?? null;
    this.reason = init.reason ?? "";
  }
}

const native = (globalThis as { WebSocketError?: typeof FallbackWebSocketError }).WebSocketError;

/** The browser's `WebSocketError` where it exists, else {@link FallbackWebSocketError}. */
export const WebSocketError: typeof FallbackWebSocketError = native ?? FallbackWebSocketError;
