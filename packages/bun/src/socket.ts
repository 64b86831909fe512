/**
 * A Bun socket ([`Bun.listen`](https://bun.com/docs/runtime/networking/tcp#start-a-server-bun-listen)
 * or [`Bun.connect`](https://bun.com/docs/runtime/networking/tcp#create-a-connection-bun-connect),
 * TCP or TLS) as a pair of Web Streams of bytes, with backpressure in both directions: the socket
 * is [paused](https://bun.com/reference/bun/Socket/pause) while the readable's queue is full, and
 * a write resolves only once [`socket.write()`](https://bun.com/reference/bun/Socket/write) has
 * taken every byte, finishing on the [`drain`](https://bun.com/reference/bun/SocketHandler/drain)
 * handler when it took only part.
 *
 * Bun sockets report their events to a handler table given when the socket is made, not to
 * listeners added later; {@link SocketStreams.handlers} is that table, and each socket's
 * `socket.data` is its {@link SocketStreams}.
 *
 * @module
 */

import type { Socket, SocketHandler } from "bun";

/** Options of {@link SocketStreams}. */
export interface SocketStreamsOptions {
  /**
   * Bytes the readable side may hold before the socket is paused (default 64 KiB). A pause takes
   * effect after the read in progress: the queue can exceed this by one read of Bun's (at most
   * 512 KiB), never more.
   */
  readonly readableHighWaterMark?: number;
}

/** A socket whose `data` is its {@link SocketStreams} (`undefined` until a server's `open`). */
export type StreamSocket = Socket<SocketStreams | undefined>;

const DEFAULT_READABLE_HIGH_WATER_MARK = 64 * 1024;

const noop = (): void => {};

/**
 * The two byte streams over one Bun socket. Make one, pass it as the socket's `data` and
 * {@link SocketStreams.handlers} as its `socket` handlers, with `allowHalfOpen: true` (so a
 * peer's FIN ends only the readable; without it Bun closes the socket at once).
 *
 * @example
 * ```ts
 * const streams = new SocketStreams();
 * Bun.connect({ hostname: "127.0.0.1", port: 8080, allowHalfOpen: true, data: streams, socket: SocketStreams.handlers });
 * await streams.opened;
 * await streams.readable.pipeTo(streams.writable); // an echo
 * ```
 */
export class SocketStreams {
  /**
   * The [`SocketHandler`](https://bun.com/reference/bun/SocketHandler) table that routes a
   * socket's events to its `socket.data`. A server sets `socket.data = new SocketStreams()` in
   * its own `open` before calling this table's `open`.
   */
  static readonly handlers = {
    binaryType: "uint8array",
    open(socket) {
      if (socket.data) socket.data.#attach(socket);
    },
    data(socket, chunk: Uint8Array) {
      if (socket.data) socket.data.#reader.receive(chunk);
    },
    drain(socket) {
      if (socket.data) socket.data.#writer.drain();
    },
    end(socket) {
      if (socket.data) socket.data.#reader.end();
    },
    error(socket, error) {
      if (socket.data) socket.data.#recordError(error);
    },
    close(socket, error) {
      if (socket.data) socket.data.#onClose(error);
    },
    connectError(socket, error) {
      if (socket.data) socket.data.#onClose(error);
    },
  } satisfies SocketHandler<SocketStreams | undefined>;

  /**
   * The bytes received, in the chunks Bun delivered (each in its own `ArrayBuffer`, never reused
   * by Bun, so no copy is made). Closes at the peer's FIN (the
   * [`end`](https://bun.com/reference/bun/SocketHandler/end) handler, or a `close` without an
   * error once we have shut down); errors when the socket closes with an error (a reset). While
   * the queue is full the socket is paused; `cancel()` closes the socket.
   */
  readonly readable: ReadableStream<Uint8Array>;
  /**
   * The bytes to send. `write()` resolves once the socket took every byte; `close()` sends our
   * FIN ([`socket.shutdown()`](https://bun.com/reference/bun/Socket/shutdown)) and keeps reading
   * until the peer's; `abort()` closes the socket.
   */
  readonly writable: WritableStream<Uint8Array>;
  /**
   * Resolves with the socket at its `open` handler (after the TLS handshake); rejects if it fails
   * to connect or closes first.
   */
  readonly opened: Promise<StreamSocket>;
  /** Resolves once the socket has closed, for whatever reason. */
  readonly closed: Promise<void>;

  readonly #reader: ReadSide;
  readonly #writer: WriteSide;
  #socket: StreamSocket | undefined;
  #error: unknown = undefined;
  #isClosed = false;
  #resolveOpened!: (socket: StreamSocket) => void;
  #rejectOpened!: (reason: unknown) => void;
  #resolveClosed!: () => void;

  constructor(options: SocketStreamsOptions = {}) {
    const highWaterMark = options.readableHighWaterMark ?? DEFAULT_READABLE_HIGH_WATER_MARK;
    if (!(highWaterMark > 0)) {
      throw new RangeError(`readableHighWaterMark must be a positive number: ${highWaterMark}`);
    }
    this.opened = new Promise((resolve, reject) => {
      this.#resolveOpened = resolve;
      this.#rejectOpened = reject;
    });
    this.opened.catch(noop);
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#reader = new ReadSide(this, highWaterMark);
    this.#writer = new WriteSide(this);
    this.readable = this.#reader.stream;
    this.writable = this.#writer.stream;
  }

  /** The socket, once open and until it closes; `undefined` otherwise. */
  get socket(): StreamSocket | undefined {
    return this.#isClosed ? undefined : this.#socket;
  }

  /** Why the socket is gone: its error, the local cancel or abort reason, or a plain close. */
  get closedError(): unknown {
    return this.#error ?? new Error("Socket closed before the end of the stream");
  }

  /**
   * Closes the socket now; `reason` becomes the error the streams report. Once our side was
   * shut down with nothing left to send, the socket is closed gracefully
   * ([`socket.end()`](https://bun.com/reference/bun/Socket/end): what it sent still arrives);
   * otherwise it is reset ([`socket.terminate()`](https://bun.com/reference/bun/Socket/terminate)).
   * Before `open`, the socket is closed as soon as it opens.
   */
  destroy(reason: unknown, message = "The socket was closed locally"): void {
    this.#recordError(reason instanceof Error ? reason : new Error(message, { cause: reason }));
    this.#rejectOpened(this.#error);
    const socket = this.socket;
    if (socket === undefined) return;
    if (this.#writer.finished) socket.end();
    else socket.terminate();
  }

  #attach(socket: StreamSocket): void {
    this.#socket = socket;
    if (this.#error !== undefined) {
      this.destroy(this.#error);
      return;
    }
    this.#resolveOpened(socket);
  }

  #recordError(error: unknown): void {
    this.#error ??= error;
  }

  #onClose(error: Error | undefined): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    if (error !== undefined) this.#recordError(error);
    this.#rejectOpened(this.closedError);
    // Bun reports a reset as a close with an error (a failed TLS session, through `error`
    // first). A close without one is the peer's FIN: after our shutdown, Bun calls `close`
    // instead of `end`.
    const failure = this.#error;
    if (failure === undefined) this.#reader.end();
    else this.#reader.fail(failure);
    this.#writer.socketClosed(this.closedError);
    this.#resolveClosed();
  }
}

/**
 * The read side: `data` chunks into the controller, pausing the socket when the queue is full
 * and resuming it on `pull()`.
 */
class ReadSide {
  readonly stream: ReadableStream<Uint8Array>;
  readonly #link: SocketStreams;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #paused = false;
  #done = false;

  constructor(link: SocketStreams, highWaterMark: number) {
    this.#link = link;
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: () => this.#resume(),
        cancel: (reason) => {
          this.#done = true;
          link.destroy(reason, "The readable side was cancelled");
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark }),
    );
  }

  receive(chunk: Uint8Array): void {
    if (this.#done) return;
    this.#controller.enqueue(chunk);
    if ((this.#controller.desiredSize ?? 0) > 0 || this.#paused) return;
    this.#paused = true;
    this.#link.socket?.pause();
  }

  end(): void {
    this.#finish((controller) => controller.close());
  }

  fail(error: unknown): void {
    this.#finish((controller) => controller.error(error));
  }

  #finish(settle: (controller: ReadableStreamDefaultController<Uint8Array>) => void): void {
    if (this.#done) return;
    this.#done = true;
    settle(this.#controller);
  }

  #resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#link.socket?.resume();
  }
}

/**
 * The write side: `socket.write()` directly. Bun does not buffer: what it does not take at once
 * is kept here and written on `drain`, and the write resolves then. The stream's queue holds one
 * chunk, so at most one chunk's rest waits here.
 */
class WriteSide {
  readonly stream: WritableStream<Uint8Array>;
  /** Whether our FIN was sent with nothing left to write. */
  finished = false;
  readonly #link: SocketStreams;
  #controller!: WritableStreamDefaultController;
  #rest: Uint8Array | undefined;
  #settle: { resolve: () => void; reject: (reason: unknown) => void } | undefined;

  constructor(link: SocketStreams) {
    this.#link = link;
    this.stream = new WritableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
        // The signal fires at `abort()` at once, even while a write waits for `drain` (the
        // stream calls the sink's `abort` only after that write settles).
        const { signal } = controller;
        signal.addEventListener("abort", () => link.destroy(signal.reason, "The writable side was aborted"), { once: true });
      },
      write: (chunk) => this.#write(chunk),
      close: () => this.#close(),
    });
  }

  /** The `drain` handler: writes what is left of the pending chunk. */
  drain(): void {
    const rest = this.#rest;
    if (rest === undefined) return;
    const written = this.#link.socket?.write(rest) ?? -1;
    if (written < 0) return this.#settleWrite(this.#link.closedError);
    if (written < rest.byteLength) {
      this.#rest = rest.subarray(written);
      return;
    }
    this.#settleWrite(undefined);
  }

  /** The socket closed: a pending write fails, and so does the stream unless it was closed. */
  socketClosed(error: unknown): void {
    if (this.#rest !== undefined) this.#settleWrite(error);
    if (!this.finished) this.#controller.error(error);
  }

  // Returning undefined (not a promise) when the socket took every byte saves a promise per chunk.
  #write(chunk: Uint8Array): Promise<void> | undefined {
    if (chunk.byteLength === 0) return undefined;
    const socket = this.#link.socket;
    const written = socket === undefined ? -1 : socket.write(chunk);
    if (written === chunk.byteLength) return undefined;
    if (written < 0) throw this.#link.closedError;
    this.#rest = chunk.subarray(written);
    return new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
  }

  #close(): void {
    const socket = this.#link.socket;
    if (socket === undefined) throw this.#link.closedError;
    this.finished = true;
    socket.shutdown();
  }

  #settleWrite(error: unknown): void {
    const settle = this.#settle;
    this.#rest = this.#settle = undefined;
    if (error === undefined) settle?.resolve();
    else settle?.reject(error);
  }
}
