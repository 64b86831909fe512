/**
 * The browser's own `WebSocketStream` (Chromium 124 and later), with binary messages read as
 * `Uint8Array` as everywhere else in wsstream: the native one reads them as `ArrayBuffer`.
 *
 * @module
 */
import type { WebSocketCloseInfo, WebSocketStreamLike, WebSocketStreamOpen, WebSocketStreamOptions } from "./types.ts";

interface NativeOpen {
  readonly readable: ReadableStream<string | ArrayBuffer | Uint8Array>;
  readonly writable: WritableStream<string | BufferSource>;
  readonly protocol: string;
  readonly extensions: string;
}

interface NativeWebSocketStreamLike {
  readonly url: string;
  readonly opened: Promise<NativeOpen>;
  readonly closed: Promise<{ readonly closeCode: number; readonly reason: string }>;
  close(closeInfo?: WebSocketCloseInfo): void;
}

type NativeConstructor = new (url: string, options?: { protocols?: string[]; signal?: AbortSignal }) => NativeWebSocketStreamLike;

/** The native class, where the browser has one. */
export const nativeWebSocketStream: NativeConstructor | undefined = (globalThis as { WebSocketStream?: NativeConstructor }).WebSocketStream;

/** The native `WebSocketStream`, its readable mapped from `ArrayBuffer` to `Uint8Array`. */
export class NativeWebSocketStream implements WebSocketStreamLike {
  readonly url: string;
  readonly opened: Promise<WebSocketStreamOpen>;
  readonly closed: Promise<{ readonly closeCode: number; readonly reason: string }>;
  readonly #inner: NativeWebSocketStreamLike;

  constructor(url: string | URL, options: WebSocketStreamOptions = {}) {
    if (nativeWebSocketStream === undefined) throw new TypeError("This browser has no native WebSocketStream");
    const base = (globalThis as { location?: { href: string } }).location?.href;
    this.#inner = new nativeWebSocketStream(new URL(url, base).href, {
      ...(options.protocols === undefined ? {} : { protocols: [...options.protocols] }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    this.url = this.#inner.url;
    this.opened = this.#inner.opened.then(({ readable, writable, protocol, extensions }) => ({
      readable: readable.pipeThrough(
        new TransformStream<string | ArrayBuffer | Uint8Array, string | Uint8Array>({
          transform: (message, controller) => controller.enqueue(message instanceof ArrayBuffer ? new Uint8Array(message) : message),
        }),
      ),
      writable,
      protocol,
      extensions,
    }));
    this.closed = this.#inner.closed;
    this.opened.catch(() => {});
  }

  /** Starts the closing handshake (see the WHATWG `WebSocketStream.close()`). */
  close(closeInfo?: WebSocketCloseInfo): void {
    this.#inner.close(closeInfo);
  }
}
