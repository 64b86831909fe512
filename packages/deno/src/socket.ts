/**
 * A [`Deno.Conn`](https://docs.deno.com/api/deno/~/Deno.Conn) (TCP or TLS) as a pair of Web
 * Streams of bytes, with backpressure in both directions: the connection is
 * [read](https://docs.deno.com/api/deno/~/Deno.Conn.read) only when the readable's queue has
 * room, and a write resolves only once the connection has
 * [written](https://docs.deno.com/api/deno/~/Deno.Conn.write) every byte.
 *
 * The connection's own `readable` and `writable` are not used: on end of input the readable
 * closes the whole connection, and `writable.close()` does too, where a WebSocket needs a
 * half-close ([`closeWrite()`](https://docs.deno.com/api/deno/~/Deno.Conn.closeWrite)) so the
 * server can close TCP first and still read the client's FIN (RFC 6455 §7.1.1).
 *
 * @module
 */

/** Options for {@link socketToStreams}. */
export interface SocketStreamsOptions {
  /** Bytes the readable side may hold before the connection is no longer read (default 64 KiB). */
  readonly readableHighWaterMark?: number;
}

/** The two byte streams over one connection, made by {@link socketToStreams}. */
export interface SocketStreams {
  /**
   * The bytes received, as views (never copies) of the buffers they were read into. Closes at
   * the end of input ([`read()`](https://docs.deno.com/api/deno/~/Deno.Conn.read) resolving
   * `null`); errors when a read fails or the connection is closed locally. `cancel()` closes the
   * connection.
   */
  readonly readable: ReadableStream<Uint8Array>;
  /**
   * The bytes to send. `write()` resolves once every byte was written to the connection;
   * `close()` half-closes it ([`closeWrite()`](https://docs.deno.com/api/deno/~/Deno.Conn.closeWrite))
   * after the queued writes; `abort()` closes the connection.
   */
  readonly writable: WritableStream<Uint8Array>;
}

const DEFAULT_READABLE_HIGH_WATER_MARK = 64 * 1024;

/**
 * Turns a connection into a {@link SocketStreams} pair. The streams own the connection from now
 * on: read, write and close it only through them. It is closed once both sides are done (the end
 * of input read or the readable cancelled, and the writable closed or aborted), or at once on an
 * error, a `cancel()` or an `abort()`.
 *
 * The caller sets the connection up first: `conn.setNoDelay(true)` on a
 * [`Deno.TcpConn`](https://docs.deno.com/api/deno/~/Deno.TcpConn.setNoDelay), as a WebSocket
 * frame must not wait for Nagle's algorithm.
 *
 * @example
 * ```ts
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 8080 });
 * conn.setNoDelay(true);
 * const { readable, writable } = socketToStreams(conn);
 * await readable.pipeTo(writable); // an echo
 * ```
 */
export function socketToStreams(conn: Deno.Conn, options: SocketStreamsOptions = {}): SocketStreams {
  const highWaterMark = options.readableHighWaterMark ?? DEFAULT_READABLE_HIGH_WATER_MARK;
  if (!(highWaterMark > 0)) {
    throw new RangeError(`readableHighWaterMark must be a positive number: ${highWaterMark}`);
  }
  const life = new ConnLife(conn);
  return {
    readable: createReadable(conn, life, highWaterMark),
    writable: createWritable(conn, life),
  };
}

/**
 * The connection's lifecycle as both streams see it: which sides are done, the first error, and
 * the one `close()`.
 */
class ConnLife {
  readonly #conn: Deno.Conn;
  #error: unknown = undefined;
  #closed = false;
  #readDone = false;
  #writeDone = false;
  readonly #closeListeners: Array<() => void> = [];

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Why the connection is gone: the read or write error, the local abort reason, or a plain close. */
  get closedError(): unknown {
    return this.#error ?? new Error("Connection closed before the end of the stream");
  }

  /** Whether the connection has been closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Runs `listener` once the connection closes (at once if it already has). */
  onClose(listener: () => void): void {
    if (this.#closed) listener();
    else this.#closeListeners.push(listener);
  }

  /** The readable side is done; the connection closes once the writable side is too. */
  readEnded(): void {
    this.#readDone = true;
    if (this.#writeDone) this.#close();
  }

  /** The writable side is done; the connection closes once the readable side is too. */
  writeEnded(): void {
    this.#writeDone = true;
    if (this.#readDone) this.#close();
  }

  /** Closes the connection; `reason` becomes the error the other stream reports. */
  destroy(reason: unknown, message: string): void {
    this.#error ??= reason instanceof Error ? reason : new Error(message, { cause: reason });
    this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the runtime (a failed TLS handshake, a reset).
    }
    for (const listener of this.#closeListeners.splice(0)) listener();
  }
}

const READ_BUFFER_SIZE = 64 * 1024;
const MIN_READ_SPACE = 16 * 1024;

/**
 * Where reads land: consecutive regions of one 64 KiB buffer, each handed out as a view, and a
 * new buffer once less than 16 KiB is left. No copies, and a small read does not pin a buffer of
 * its own: a retired buffer is at least three quarters handed out.
 */
class ReadBuffer {
  #buffer = new Uint8Array(0);
  #offset = 0;

  /** The free space to read into next. */
  space(): Uint8Array {
    if (this.#buffer.length - this.#offset < MIN_READ_SPACE) {
      this.#buffer = new Uint8Array(READ_BUFFER_SIZE);
      this.#offset = 0;
    }
    return this.#buffer.subarray(this.#offset);
  }

  /** Hands out the first `n` bytes of the space as a chunk. */
  take(n: number): Uint8Array {
    const chunk = this.#buffer.subarray(this.#offset, this.#offset + n);
    this.#offset += n;
    return chunk;
  }
}

/**
 * The read side: one `conn.read()` per `pull()`, so the connection is read only while the queue
 * is below its high-water mark (and exceeds it by one read at most).
 */
function createReadable(conn: Deno.Conn, life: ConnLife, highWaterMark: number): ReadableStream<Uint8Array> {
  const buffer = new ReadBuffer();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let done = false;

  const finish = (end: (c: ReadableStreamDefaultController<Uint8Array>) => void): void => {
    if (done) return;
    done = true;
    end(controller);
    life.readEnded();
  };
  const fail = (error: unknown): void => finish((c) => c.error(error));

  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
        life.onClose(() => fail(life.closedError));
      },
      async pull() {
        try {
          const chunk = await readChunk(conn, buffer);
          if (done) return;
          if (chunk !== null) controller.enqueue(chunk);
          else if (life.closed) fail(life.closedError);
          else finish((c) => c.close());
        } catch (error) {
          if (done) return;
          life.destroy(error, "Reading the connection failed");
          fail(error);
        }
      },
      cancel(reason) {
        done = true;
        life.destroy(reason, "The readable side was cancelled");
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark }),
  );
}

/** The next bytes from `conn` (a read of 0 bytes is not the end), or `null` at the end of input. */
async function readChunk(conn: Deno.Conn, buffer: ReadBuffer): Promise<Uint8Array | null> {
  for (;;) {
    const n = await conn.read(buffer.space());
    if (n === null) return null;
    if (n > 0) return buffer.take(n);
  }
}

/**
 * The write side: each chunk written in full before the next (`conn.write()` may take part of
 * it). The queue holds one chunk, so `writer.ready` tracks the connection.
 */
function createWritable(conn: Deno.Conn, life: ConnLife): WritableStream<Uint8Array> {
  let finished = false;
  return new WritableStream<Uint8Array>({
    start(controller) {
      life.onClose(() => {
        if (!finished) controller.error(life.closedError);
      });
    },
    async write(chunk) {
      try {
        await writeAll(conn, chunk);
      } catch (error) {
        life.destroy(error, "Writing to the connection failed");
        throw error;
      }
    },
    async close() {
      try {
        await conn.closeWrite();
      } catch (error) {
        life.destroy(error, "Half-closing the connection failed");
        throw error;
      }
      finished = true;
      life.writeEnded();
    },
    abort(reason) {
      life.destroy(reason, "The writable side was aborted");
    },
  });
}

/** Writes every byte of `chunk`, resolving once the connection took the last one. */
async function writeAll(conn: Deno.Conn, chunk: Uint8Array): Promise<void> {
  for (let offset = 0; offset < chunk.byteLength;) {
    offset += await conn.write(offset === 0 ? chunk : chunk.subarray(offset));
  }
}
