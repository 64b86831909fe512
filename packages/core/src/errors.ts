/**
 * Every error wsstream throws or reports. Each carries a stable string `code`; protocol errors also
 * carry the close code to send. Classes are branded with `Symbol.for(...)` so `instanceof` holds
 * even when two copies of the package are loaded.
 *
 * @module
 */

/** Stable codes for protocol violations by the peer (reported, never thrown out of `receiveData`). */
export type ProtocolErrorCode =
  | "WS_ERR_INVALID_OPCODE"
  | "WS_ERR_UNEXPECTED_RSV"
  | "WS_ERR_EXPECTED_MASK"
  | "WS_ERR_UNEXPECTED_MASK"
  | "WS_ERR_CONTROL_FRAME_TOO_LONG"
  | "WS_ERR_FRAGMENTED_CONTROL_FRAME"
  | "WS_ERR_UNSUPPORTED_PAYLOAD_LENGTH"
  | "WS_ERR_FRAME_TOO_BIG"
  | "WS_ERR_MESSAGE_TOO_BIG"
  | "WS_ERR_TOO_MANY_FRAGMENTS"
  | "WS_ERR_UNEXPECTED_CONTINUATION"
  | "WS_ERR_EXPECTED_CONTINUATION"
  | "WS_ERR_INVALID_UTF8"
  | "WS_ERR_INVALID_CLOSE_PAYLOAD"
  | "WS_ERR_INVALID_CLOSE_CODE"
  | "WS_ERR_INVALID_CLOSE_REASON"
  | "WS_ERR_EXTENSION";

/** Stable codes for a failed opening handshake. */
export type HandshakeErrorCode =
  | "WS_ERR_HEAD_TOO_LARGE"
  | "WS_ERR_TOO_MANY_HEADERS"
  | "WS_ERR_MALFORMED_HTTP"
  | "WS_ERR_INVALID_METHOD"
  | "WS_ERR_INVALID_HTTP_VERSION"
  | "WS_ERR_MISSING_HOST"
  | "WS_ERR_INVALID_UPGRADE"
  | "WS_ERR_INVALID_CONNECTION"
  | "WS_ERR_INVALID_KEY"
  | "WS_ERR_UNSUPPORTED_VERSION"
  | "WS_ERR_INVALID_STATUS"
  | "WS_ERR_INVALID_ACCEPT"
  | "WS_ERR_INVALID_SUBPROTOCOL"
  | "WS_ERR_INVALID_EXTENSION"
  | "WS_ERR_INVALID_URL"
  | "WS_ERR_INVALID_HEADER"
  | "WS_ERR_HANDSHAKE_EOF"
  | "WS_ERR_EXTENDED_CONNECT_DISABLED";

/** Stable codes for local misuse of the API (thrown at once). */
export type UsageErrorCode =
  | "WS_ERR_INVALID_STATE"
  | "WS_ERR_INVALID_CLOSE_CODE"
  | "WS_ERR_INVALID_CLOSE_REASON"
  | "WS_ERR_INVALID_ARGUMENT"
  | "WS_ERR_BUFFER_FULL"
  | "WS_ERR_CONTROL_FRAME_TOO_LONG"
  | "WS_ERR_INVALID_HEADER";

function brand<T extends abstract new (...args: never[]) => Error>(ctor: T, name: string): void {
  const key = Symbol.for(`wsstream.${name}`);
  Object.defineProperty(ctor.prototype, key, { value: true });
  Object.defineProperty(ctor, Symbol.hasInstance, {
    value(instance: unknown): boolean {
      return typeof instance === "object" && instance !== null &&
        (instance as Record<symbol, unknown>)[key] === true;
    },
  });
  Object.defineProperty(ctor.prototype, "name", { value: name, writable: true, configurable: true });
}

/**
 * The peer broke RFC 6455 (or an extension). The connection is failed with {@link closeCode};
 * the error is reported through the connection's events and state, never thrown out of
 * `receiveData`.
 */
export class ProtocolError extends Error {
  declare readonly name: string;
  /** Stable identifier, e.g. `WS_ERR_INVALID_OPCODE`. */
  readonly code: ProtocolErrorCode;
  /** The close code sent to the peer: 1002, 1007, 1009 or 1010/1011. */
  readonly closeCode: number;
  constructor(code: ProtocolErrorCode, closeCode: number, message: string) {
    super(message);
    this.code = code;
    this.closeCode = closeCode;
  }
}
brand(ProtocolError, "ProtocolError");

/**
 * The opening handshake failed. On the server side {@link status} is the HTTP status to answer
 * with (400, 426, 431); on the client side it is the status the server sent, or 0 when none.
 */
export class HandshakeError extends Error {
  declare readonly name: string;
  /** Stable identifier, e.g. `WS_ERR_INVALID_KEY`. */
  readonly code: HandshakeErrorCode;
  /** HTTP status: the one to reply with (server) or the one received (client); 0 if none. */
  readonly status: number;
  /** Extra response headers the rejection must carry (426 carries `Sec-WebSocket-Version`). */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  constructor(
    code: HandshakeErrorCode,
    status: number,
    message: string,
    headers: ReadonlyArray<readonly [string, string]> = [],
  ) {
    super(message);
    this.code = code;
    this.status = status;
    this.headers = headers;
  }
}
brand(HandshakeError, "HandshakeError");

/** Local misuse of the API: sending in the wrong state, an invalid close code, a bad argument. */
export class UsageError extends Error {
  declare readonly name: string;
  /** Stable identifier, e.g. `WS_ERR_INVALID_STATE`. */
  readonly code: UsageErrorCode;
  constructor(code: UsageErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
brand(UsageError, "UsageError");

/**
 * The WHATWG `WebSocketError`: why a connection did not close cleanly, or a close code and reason
 * to close with (pass one to `writable.abort()` or `readable.cancel()` of a `WebSocketStream`).
 */
export class WebSocketError extends Error {
  declare readonly name: string;
  /** The close code: the one received, the one sent when failing, or 1006 when there was none. */
  readonly closeCode: number | null;
  readonly reason: string;

  constructor(message = "", init: { closeCode?: number; reason?: string; cause?: unknown } = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.closeCode = init.closeCode ?? null;
    this.reason = init.reason ?? "";
  }
}
brand(WebSocketError, "WebSocketError");
