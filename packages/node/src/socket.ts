/**
 * A Node [`net.Socket`](https://nodejs.org/api/net.html#class-netsocket) (or a
 * [`tls.TLSSocket`](https://nodejs.org/api/tls.html#class-tlstlssocket)) as a core `Transport`
 * (`socketTransport`), with backpressure in both directions: the socket is
 * [paused](https://nodejs.org/api/stream.html#readablepause) while its read buffer is full, and a
 * write resolves only once the socket has accepted the bytes
 * ([`'drain'`](https://nodejs.org/api/stream.html#event-drain)). `socketToStreams` gives Web
 * Streams over that transport (built by core's `transportToStreams`).
 *
 * @module
 */

import type { Socket } from "node:net";
import { checkReadBufferSize, DEFAULT_READ_BUFFER_SIZE, type Transport, transportToStreams } from "@wsstream/core";

/** Options for {@link socketToStreams}. */
export interface SocketStreamsOptions {
  /** Bytes the readable side may hold before the socket is paused (default 64 KiB). */
  readonly readableHighWaterMark?: number;
}

/** The two byte streams over one socket, made by {@link socketToStreams}. */
export interface SocketStreams {
  /**
   * The bytes received, in the chunks the socket delivered them (views, never copies). Closes on
   * the socket's [`'end'`](https://nodejs.org/api/net.html#event-end); errors on its
   * [`'error'`](https://nodejs.org/api/net.html#event-error_1) or when it closes without an end
   * (a reset). `cancel()` destroys the socket.
   */
  readonly readable: ReadableStream<Uint8Array>;
  /**
   * The bytes to send. `write()` resolves once the socket accepted the bytes
   * ([`socket.write()`](https://nodejs.org/api/stream.html#writablewritechunk-encoding-callback)
   * returned `true`, or after `'drain'`); `close()` half-closes the socket
   * ([`socket.end()`](https://nodejs.org/api/net.html#socketenddata-encoding-callback)) and
   * resolves once everything is flushed; `abort()` destroys the socket. The socket is corked until
   * the end of the tick, so a burst of writes leaves in one `writev` system call.
   */
  readonly writable: WritableStream<Uint8Array>;
  /**
   * Writes several chunks at once without going through `writable`: no promise per chunk, and the
   * chunks join the tick's cork like any other write. Returns `undefined` when the socket can take
   * more at once, or a promise that resolves on `'drain'` (and rejects if the socket closes
   * first); wait for it before writing again. The fast path for a frame's header and payload.
   *
   * It bypasses `writable`'s queue, so call it only while no `writable.write()` is pending (or the
   * bytes may overtake queued ones), and not after `writable.close()`.
   *
   * @example
   * ```ts
   * const pending = streams.writeBatch([header, payload]);
   * if (pending) await pending;
   * ```
   */
  readonly writeBatch: (chunks: readonly Uint8Array[]) => Promise<void> | undefined;
}

/**
 * Turns a connected (or connecting) socket into a {@link SocketStreams} pair. The streams take
 * over the socket's `'data'`, `'end'`, `'error'`, `'drain'`, `'finish'` and `'close'` events; read
 * and write only through them from now on.
 *
 * The caller sets the socket up first: `socket.setNoDelay(true)` (a WebSocket frame must not wait
 * for Nagle's algorithm), and `allowHalfOpen: true` when it made the socket, if it wants to keep
 * writing after the peer's end (otherwise Node ends the socket as soon as the readable closes).
 *
 * @example
 * ```ts
 * import { connect } from "node:net";
 * const socket = connect(8080, "127.0.0.1").setNoDelay(true);
 * const { readable, writable } = socketToStreams(socket);
 * await readable.pipeTo(writable); // an echo
 * ```
 */
export function socketToStreams(socket: Socket, options: SocketStreamsOptions = {}): SocketStreams {
  const transport = socketTransport(socket, options);
  // The socket reads ahead its own bounded buffer; the readable queues none of its own.
  const { readable, writable } = transportToStreams(transport, { readableHighWaterMark: 1 });
  return { readable, writable, writeBatch: (chunks) => transport.write(chunks) };
}

/**
 * The socket as a core {@link Transport}: pause/resume at the read buffer's high-water mark,
 * writes corked per tick, and drain handling, without Web Streams (so without their cost per
 * chunk and per connection); {@link socketToStreams} is built on it. This is what `serve()`, `handleUpgrade()` and `WebSocketStream` use.
 */
export function socketTransport(socket: Socket, options: SocketStreamsOptions = {}): Transport {
  const highWaterMark = options.readableHighWaterMark ?? DEFAULT_READ_BUFFER_SIZE;
  checkReadBufferSize(highWaterMark);
  const life = new SocketLife(socket);
  const cork = new TickCork(socket);
  const reads = new SocketReads(socket, life, highWaterMark);
  return {
    read: () => reads.read(),
    write: (chunks) => (life.closed ? Promise.reject(life.closedError) : writeBatch(socket, life, cork, chunks)),
    end: () => {
      if (!socket.writableEnded) socket.end();
      return life.waitForFinish();
    },
    destroy: (reason) => {
      reads.stop();
      life.destroy(reason, "The transport was destroyed");
    },
  };
}

/**
 * The read side of {@link socketTransport}: chunks queue while nobody reads; past the high-water
 * mark the socket is paused until the queue drains.
 */
class SocketReads {
  readonly #socket: Socket;
  readonly #life: SocketLife;
  readonly #highWaterMark: number;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #paused = false;
  #ended = false;
  #failed = false;
  #waiting: { resolve: (chunk: Uint8Array | null) => void; reject: (error: unknown) => void } | undefined;
  readonly #onData = (chunk: Buffer): void => {
    // A plain view of the bytes (Node gives every read its own ArrayBuffer).
    const view = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const waiting = this.#waiting;
    if (waiting !== undefined) {
      this.#waiting = undefined;
      waiting.resolve(view);
      return;
    }
    this.#queue.push(view);
    this.#queued += view.length;
    if (this.#queued >= this.#highWaterMark && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
  };

  constructor(socket: Socket, life: SocketLife, highWaterMark: number) {
    this.#socket = socket;
    this.#life = life;
    this.#highWaterMark = highWaterMark;
    if (socket.readableEnded) this.#ended = true;
    socket.on("data", this.#onData);
    socket.on("end", () => this.#end());
    socket.on("error", () => this.#fail());
    life.onClose(() => this.#fail());
    socket.resume(); // in case someone paused it before handing it over
  }

  read(): Promise<Uint8Array | null> {
    const chunk = this.#queue.shift();
    if (chunk !== undefined) {
      this.#queued -= chunk.length;
      if (this.#paused && this.#queued < this.#highWaterMark) {
        this.#paused = false;
        this.#socket.resume();
      }
      return Promise.resolve(chunk);
    }
    if (this.#ended) return Promise.resolve(null);
    if (this.#failed) return Promise.reject(this.#life.closedError);
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  stop(): void {
    this.#socket.off("data", this.#onData);
    this.#queue = [];
    this.#queued = 0;
  }

  #end(): void {
    this.#ended = true;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.resolve(null);
  }

  // A close without an end (a reset, or destroy()) fails the reads that have nothing left.
  #fail(): void {
    if (this.#ended) return;
    this.#failed = true;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(this.#life.closedError);
  }
}

/**
 * Corks the socket until the current tick ends, so the writes of one burst (a loop of awaited
 * writes runs entirely in microtasks) leave in one `writev` system call instead of one each. A
 * burst ends by itself when the socket's buffer reaches its high-water mark: `write()` returns
 * `false` and the writer waits for `'drain'`, which follows the uncork.
 * See [`socket.cork()`](https://nodejs.org/api/stream.html#writablecork).
 */
class TickCork {
  readonly #socket: Socket;
  #corked = false;
  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket.uncork();
  };

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  /** Corks the socket, if not already, and schedules the uncork for the end of this tick. */
  cork(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.#socket.cork();
    process.nextTick(this.#uncork);
  }
}

/**
 * The socket's lifecycle as both streams see it: the first error, and the `'drain'` and
 * `'finish'` waits, which reject if the socket closes first.
 */
class SocketLife {
  readonly #socket: Socket;
  #error: unknown = undefined;
  // A destroy() without an Error: the error is built only if someone reads closedError.
  #destroyed: { readonly message: string; readonly cause: unknown } | undefined;
  #closed = false;
  #drain: Deferred | undefined;
  #finish: Deferred | undefined;
  readonly #closeListeners: Array<() => void> = [];

  constructor(socket: Socket) {
    this.#socket = socket;
    this.#closed = socket.destroyed;
    socket.on("error", (error) => this.#recordError(error));
    socket.on("drain", () => this.#settleDrain());
    socket.on("finish", () => this.#settleFinish());
    socket.on("close", () => this.#onClose());
  }

  /** Why the socket is gone: the socket's error, the local abort reason, or a plain close. */
  get closedError(): unknown {
    if (this.#error === undefined && this.#destroyed !== undefined) {
      this.#error = new Error(this.#destroyed.message, { cause: this.#destroyed.cause });
    }
    return this.#error ?? new Error("Socket closed before the end of the stream");
  }

  /** Whether the socket has closed or been destroyed. */
  get closed(): boolean {
    return this.#closed || this.#socket.destroyed;
  }

  /** Runs `listener` once the socket closes (at once if it already has). */
  onClose(listener: () => void): void {
    if (this.#closed) listener();
    else this.#closeListeners.push(listener);
  }

  /** Destroys the socket; `reason` becomes the error the other stream reports. */
  destroy(reason: unknown, message: string): void {
    // Every connection ends here, most after a clean close with nobody left to read the error:
    // capturing a stack trace for it cost 3% of the server's time per handshake.
    if (reason instanceof Error) this.#recordError(reason);
    else if (this.#error === undefined) this.#destroyed ??= { message, cause: reason };
    this.#socket.destroy();
  }

  /** A promise for the next `'drain'`, shared by every writer waiting on it. */
  waitForDrain(): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError);
    this.#drain ??= new Deferred();
    return this.#drain.promise;
  }

  /** A promise for `'finish'` (everything written was flushed after `end()`). */
  waitForFinish(): Promise<void> {
    if (this.#socket.writableFinished) return Promise.resolve();
    if (this.closed) return Promise.reject(this.closedError);
    this.#finish ??= new Deferred();
    return this.#finish.promise;
  }

  #recordError(error: unknown): void {
    if (this.#destroyed === undefined) this.#error ??= error;
  }

  #settleDrain(): void {
    const drain = this.#drain;
    this.#drain = undefined;
    drain?.resolve();
  }

  #settleFinish(): void {
    const finish = this.#finish;
    this.#finish = undefined;
    finish?.resolve();
  }

  #onClose(): void {
    this.#closed = true;
    this.#drain?.reject(this.closedError);
    this.#finish?.reject(this.closedError);
    this.#drain = this.#finish = undefined;
    for (const listener of this.#closeListeners.splice(0)) listener();
  }
}

/** A promise with its settle functions. */
class Deferred {
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (reason: unknown) => void;

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

/** The chunks written under the tick's cork (a transport write). */
function writeBatch(
  socket: Socket,
  life: SocketLife,
  cork: TickCork,
  chunks: readonly Uint8Array[],
): Promise<void> | undefined {
  cork.cork();
  let accepted = true;
  for (const chunk of chunks) accepted = socket.write(chunk);
  return accepted ? undefined : life.waitForDrain();
}
