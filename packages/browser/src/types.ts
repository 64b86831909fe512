/**
 * The shape every `WebSocketStream` here has, native or not: the WHATWG `WebSocketStream`'s
 * `url`, `opened`, `closed` and `close()`, with binary messages read as `Uint8Array`.
 *
 * @module
 */

/** Options every implementation takes. */
export interface WebSocketStreamOptions {
  /** Subprotocols to offer, most preferred first. */
  readonly protocols?: readonly string[];
  /** Aborts the opening handshake (not an open connection). */
  readonly signal?: AbortSignal;
  /**
   * Fallback only: `write()` resolves once the browser's `bufferedAmount` is at or below this
   * many bytes. Default 1 MiB.
   */
  readonly writableHighWaterMark?: number;
}

/** What `opened` resolves with. */
export interface WebSocketStreamOpen {
  /** Messages: a string for text, a `Uint8Array` for binary. */
  readonly readable: ReadableStream<string | Uint8Array>;
  /** A string is sent as text; an `ArrayBuffer` or a view as binary. */
  readonly writable: WritableStream<string | BufferSource>;
  readonly protocol: string;
  readonly extensions: string;
}

/** What `closed` resolves with, and what `close()` takes. */
export interface WebSocketCloseInfo {
  readonly closeCode?: number;
  readonly reason?: string;
}

/** A connection shaped like the WHATWG `WebSocketStream`. */
export interface WebSocketStreamLike {
  readonly url: string;
  readonly opened: Promise<WebSocketStreamOpen>;
  readonly closed: Promise<{ readonly closeCode: number; readonly reason: string }>;
  close(closeInfo?: WebSocketCloseInfo): void;
}

/** A class of {@link WebSocketStreamLike} connections. */
export type WebSocketStreamConstructor = new (url: string | URL, options?: WebSocketStreamOptions) => WebSocketStreamLike;
