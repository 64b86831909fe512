/**
 * A `WebSocketStream` built on the browser's `WebSocket`, for browsers without a native one.
 *
 * Writing waits: a `write()` hands the message to `WebSocket.send()` and resolves only once
 * `bufferedAmount` is at or below `writableHighWaterMark`. The `WebSocket` API has no event for
 * `bufferedAmount` going down, so it is polled, every 1 ms at first and backing off to 50 ms.
 *
 * Reading cannot push back: a `WebSocket` cannot be paused, so messages that arrive while
 * nobody reads wait in the readable's queue. The native `WebSocketStream` does stop reading.
 *
 * @module
 */
import type { WebSocketCloseInfo, WebSocketStreamLike, WebSocketStreamOpen, WebSocketStreamOptions } from "./types.ts";
import { FallbackWebSocketError } from "./web-socket-error.ts";

const MiB = 1024 * 1024;
const ABNORMAL_CLOSURE = 1006;

type State = "connecting" | "open" | "closing" | "closed";

function noop(): void {}

function closeCodeOf(reason: unknown): number | undefined {
  const code = (reason as { closeCode?: unknown } | null | undefined)?.closeCode;
  return typeof code === "number" ? code : undefined;
}

/** The WHATWG `WebSocketStream` shape over a `WebSocket`. */
export class FallbackWebSocketStream implements WebSocketStreamLike {
  readonly url: string;
  readonly opened: Promise<WebSocketStreamOpen>;
  readonly closed: Promise<{ readonly closeCode: number; readonly reason: string }>;
  readonly #socket: WebSocket | undefined;
  readonly #highWaterMark: number;
  #state: State = "connecting";
  #messages: ReadableStreamDefaultController<string | Uint8Array> | undefined;
  #resolveOpened!: (open: WebSocketStreamOpen) => void;
  #rejectOpened!: (reason: unknown) => void;
  #resolveClosed!: (info: { closeCode: number; reason: string }) => void;
  #rejectClosed!: (reason: unknown) => void;

  /** Connects to `url` (`ws:`, `wss:`, `http:`, `https:`, or relative to the page). */
  constructor(url: string | URL, options: WebSocketStreamOptions = {}) {
    const base = (globalThis as { location?: { href: string } }).location?.href;
    const target = new URL(url, base);
    if (target.protocol === "http:") target.protocol = "ws:";
    if (target.protocol === "https:") target.protocol = "wss:";
    this.url = target.href;
    this.#highWaterMark = options.writableHighWaterMark ?? MiB;
    this.opened = new Promise((resolve, reject) => {
      this.#resolveOpened = resolve;
      this.#rejectOpened = reject;
    });
    this.closed = new Promise((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    });
    // As with the native one, an unobserved rejection is not reported.
    this.opened.catch(noop);
    this.closed.catch(noop);

    const signal = options.signal;
    if (signal?.aborted) {
      this.#fail(signal.reason);
      return;
    }
    const socket = new WebSocket(this.url, [...(options.protocols ?? [])]);
    socket.binaryType = "arraybuffer";
    this.#socket = socket;
    signal?.addEventListener("abort", () => {
      if (this.#state !== "connecting") return;
      this.#fail(signal.reason);
      socket.close();
    }, { once: true });
    socket.addEventListener("open", () => this.#open(socket));
    socket.addEventListener("message", (event: MessageEvent<string | ArrayBuffer>) => {
      const data = event.data;
      this.#messages?.enqueue(typeof data === "string" ? data : new Uint8Array(data));
    });
    socket.addEventListener("close", (event) => this.#onClose(event.code, event.reason, event.wasClean));
  }

  /** Bytes given to `send()` that the browser has not sent yet (the socket's `bufferedAmount`). */
  get bufferedAmount(): number {
    return this.#socket?.bufferedAmount ?? 0;
  }

  /**
   * Starts the closing handshake with `closeCode` (1000 or 3000-4999, as the browser allows)
   * and `reason`; a reason without a code sends 1000. During the opening handshake it aborts
   * the handshake instead, and `opened` rejects.
   */
  close(closeInfo: WebSocketCloseInfo = {}): void {
    const socket = this.#socket;
    if (socket === undefined) return;
    if (this.#state === "connecting") {
      this.#fail(new FallbackWebSocketError("The opening handshake was aborted by close()", { closeCode: ABNORMAL_CLOSURE }));
      socket.close();
      return;
    }
    if (this.#state !== "open") return;
    const code = closeInfo.closeCode ?? (closeInfo.reason ? 1000 : undefined);
    socket.close(code, code === undefined ? undefined : closeInfo.reason ?? "");
    this.#state = "closing";
  }

  #open(socket: WebSocket): void {
    if (this.#state !== "connecting") return;
    this.#state = "open";
    const readable = new ReadableStream<string | Uint8Array>({
      start: (controller) => {
        this.#messages = controller;
      },
      cancel: (reason) => this.close({ closeCode: closeCodeOf(reason) }),
    });
    const writable = new WritableStream<string | BufferSource>({
      write: (chunk) => this.#send(socket, chunk),
      close: () => this.close(),
      abort: (reason) => this.close({ closeCode: closeCodeOf(reason) }),
    });
    this.#resolveOpened({ readable, writable, protocol: socket.protocol, extensions: socket.extensions });
  }

  async #send(socket: WebSocket, chunk: string | BufferSource): Promise<void> {
    if (this.#state !== "open") throw new FallbackWebSocketError("Cannot send: the connection is closing");
    socket.send(chunk);
    let delay = 1;
    while (socket.bufferedAmount > this.#highWaterMark && this.#state === "open") {
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 50);
    }
  }

  #fail(reason: unknown): void {
    this.#state = "closed";
    this.#rejectOpened(reason);
    this.#rejectClosed(reason);
  }

  #onClose(code: number, reason: string, wasClean: boolean): void {
    const before = this.#state;
    this.#state = "closed";
    if (before === "connecting") {
      this.#fail(new FallbackWebSocketError("The connection could not be opened", { closeCode: ABNORMAL_CLOSURE }));
      return;
    }
    if (before === "closed") return;
    if (wasClean) {
      try {
        this.#messages?.close();
      } catch {
        // The reader cancelled it already.
      }
      this.#resolveClosed({ closeCode: code, reason });
    } else {
      const error = new FallbackWebSocketError("The connection closed without a closing handshake", { closeCode: code, reason });
      try {
        this.#messages?.error(error);
      } catch {
        // Cancelled already.
      }
      this.#rejectClosed(error);
    }
  }
}
