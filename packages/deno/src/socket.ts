/**
 * A [`Deno.Conn`](https://docs.deno.com/api/deno/~/Deno.Conn) (TCP or TLS) as a core
 * {@link Transport}, or as a pair of Web Streams of bytes built on it, with backpressure in both
 * directions: the connection is [read](https://docs.deno.com/api/deno/~/Deno.Conn.read) only
 * while the reader asks for bytes, and a write resolves only once the connection has
 * [written](https://docs.deno.com/api/deno/~/Deno.Conn.write) every byte.
 *
 * The connection's own `readable` and `writable` are not used: on end of input the readable
 * closes the whole connection, and `writable.close()` does too, where a WebSocket needs a
 * half-close ([`closeWrite()`](https://docs.deno.com/api/deno/~/Deno.Conn.closeWrite)) so the
 * server can close TCP first and still read the client's FIN (RFC 6455 §7.1.1).
 *
 * @module
 */
import { checkReadBufferSize, DEFAULT_READ_BUFFER_SIZE, type Transport, transportToStreams } from "@wsstream/core";

/** Options for {@link connTransport}. */
export interface ConnTransportOptions {
  /**
   * Size of the first read, in bytes (default 4 KiB). Each read that fills its buffer doubles
   * the next one, up to `maxReadSize`; a read that does not shrinks it back to what arrived.
   */
  readonly initialReadSize?: number;
  /** The largest read (default 64 KiB). */
  readonly maxReadSize?: number;
}

const DEFAULT_INITIAL_READ_SIZE = 4 * 1024;
const DEFAULT_MAX_READ_SIZE = 64 * 1024;

/**
 * The connection as a core {@link Transport}: what `serve()`, `handleConnection()` and
 * `WebSocketStream` use. The transport owns the connection from now on: read, write and close
 * it only through the transport.
 *
 * - `read()` reads the connection once (nothing is read ahead: a reader that stops reading
 *   stops the connection being read), into a buffer that starts small and grows while reads
 *   fill it, so an idle connection holds only a few KiB. Each chunk is a fresh region, never
 *   written into again unless the connection gives it back (`recycle()`): the next read then
 *   lands in the same memory, so traffic the connection copies out (a message streamed
 *   through) allocates nothing per read.
 * - `write()` queues the chunks and writes each in full (`conn.write()` may take part of one),
 *   in order; the promise resolves once the connection took the last byte. `released()`
 *   resolves once everything written before it was.
 * - `end()` half-closes after the queued writes
 *   ([`closeWrite()`](https://docs.deno.com/api/deno/~/Deno.Conn.closeWrite)); reading goes on.
 * - `destroy()` closes the connection; a pending read and queued writes reject.
 *
 * The connection is closed once the end of input was read and `end()` completed, or at once on
 * `destroy()` or a failed read or write.
 *
 * The caller sets the connection up first: `conn.setNoDelay(true)` on a
 * [`Deno.TcpConn`](https://docs.deno.com/api/deno/~/Deno.TcpConn.setNoDelay), as a WebSocket
 * frame must not wait for Nagle's algorithm.
 *
 * @example
 * ```ts
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 8080 });
 * conn.setNoDelay(true);
 * const transport = connTransport(conn);
 * for (let chunk; (chunk = await transport.read()) !== null;) await transport.write([chunk]);
 * await transport.end(); // an echo
 * ```
 */
export function connTransport(conn: Deno.Conn, options: ConnTransportOptions = {}): Transport {
  const initial = options.initialReadSize ?? DEFAULT_INITIAL_READ_SIZE;
  const max = options.maxReadSize ?? DEFAULT_MAX_READ_SIZE;
  if (!(initial >= 1) || !(max >= initial)) {
    throw new RangeError(`initialReadSize and maxReadSize must be positive, initialReadSize <= maxReadSize: ${initial}, ${max}`);
  }
  return new ConnTransport(conn, new ReadBuffer(initial, max));
}

/** Options for {@link socketToStreams}. */
export interface SocketStreamsOptions extends ConnTransportOptions {
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

/**
 * Turns a connection into a {@link SocketStreams} pair, built on {@link connTransport} (prefer
 * that where a `Transport` will do: it saves the two streams). The streams own the connection
 * from now on: read, write and close it only through them. It is closed once both sides are done
 * (the end of input read, and the writable closed), or at once on an error, a `cancel()` or an
 * `abort()`.
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
  const readableHighWaterMark = options.readableHighWaterMark ?? DEFAULT_READ_BUFFER_SIZE;
  checkReadBufferSize(readableHighWaterMark);
  return transportToStreams(connTransport(conn, options), { readableHighWaterMark });
}

/** A write's completion, placed in the queue after its last chunk. */
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

/**
 * The connection's lifecycle: `open`, then `closed` once both directions are done (`#input`
 * ended and `#output` ended) or at once on an error or `destroy()`.
 */
class ConnTransport implements Transport {
  readonly #conn: Deno.Conn;
  readonly #buffer: ReadBuffer;
  #state: "open" | "closed" = "open";
  #error: unknown = undefined;
  #input: "open" | "ended" = "open";
  #output: "open" | "ending" | "ended" = "open";
  #ending: Promise<void> | undefined;
  /** Chunks to write, each write's completion after its last chunk. */
  #queue: Array<Uint8Array | Deferred> = [];
  #writing = false;

  constructor(conn: Deno.Conn, buffer: ReadBuffer) {
    this.#conn = conn;
    this.#buffer = buffer;
  }

  get remoteAddress(): string | undefined {
    const address = this.#conn.remoteAddr;
    return address.transport === "tcp" ? address.hostname : undefined;
  }

  get remotePort(): number | undefined {
    const address = this.#conn.remoteAddr;
    return address.transport === "tcp" ? address.port : undefined;
  }

  released(): Promise<void> {
    if (this.#state === "closed") return Promise.reject(this.#closedError());
    if (!this.#writing && this.#queue.length === 0) return Promise.resolve();
    const done = new Deferred();
    this.#queue.push(done);
    return done.promise;
  }

  recycle(chunk: Uint8Array): void {
    this.#buffer.recycle(chunk);
  }

  async read(): Promise<Uint8Array | null> {
    for (;;) {
      if (this.#input === "ended") return null;
      if (this.#state === "closed") throw this.#closedError();
      const space = this.#buffer.space();
      let n: number | null;
      try {
        n = await this.#conn.read(space);
      } catch (error) {
        this.#fail(error, "Reading the connection failed");
        throw this.#closedError();
      }
      // Closed while the read was pending: its bytes are not ours any more.
      if (this.#isClosed()) throw this.#closedError();
      if (n === null) {
        this.#input = "ended";
        if (this.#output === "ended") this.#close();
        return null;
      }
      if (n > 0) return this.#buffer.take(n, space.byteLength);
    }
  }

  write(chunks: readonly Uint8Array[]): Promise<void> | undefined {
    if (this.#state === "closed") return Promise.reject(this.#closedError());
    if (this.#output !== "open") return Promise.reject(new Error("Cannot write after end()"));
    const done = new Deferred();
    this.#queue.push(...coalesce(chunks), done);
    if (!this.#writing) void this.#writeQueue();
    return done.promise;
  }

  end(): Promise<void> {
    this.#ending ??= this.#end();
    return this.#ending;
  }

  destroy(reason?: unknown): void {
    const error = reason instanceof Error ? reason : new Error("The transport was destroyed", { cause: reason });
    this.#fail(error, "The transport was destroyed");
  }

  async #end(): Promise<void> {
    if (this.#state === "closed") throw this.#closedError();
    this.#output = "ending";
    if (this.#writing || this.#queue.length > 0) {
      const flushed = new Deferred();
      this.#queue.push(flushed);
      await flushed.promise;
    }
    try {
      await this.#conn.closeWrite();
    } catch (error) {
      this.#fail(error, "Half-closing the connection failed");
      throw this.#closedError();
    }
    this.#output = "ended";
    if (this.#input === "ended") this.#close();
  }

  // One loop writes the queue in order; `write()` starts it when it is not running.
  async #writeQueue(): Promise<void> {
    this.#writing = true;
    try {
      for (let item = this.#queue.shift(); item !== undefined; item = this.#queue.shift()) {
        if (item instanceof Deferred) item.resolve();
        else await writeAll(this.#conn, item);
      }
    } catch (error) {
      this.#fail(error, "Writing to the connection failed");
    } finally {
      this.#writing = false;
    }
  }

  // A method, so the check after an `await` is not narrowed away by the one before it.
  #isClosed(): boolean {
    return this.#state === "closed";
  }

  #closedError(): unknown {
    return this.#error ?? new Error("Connection closed before the end of the stream");
  }

  // A failure or destroy(): the first error is kept, the connection closed.
  #fail(error: unknown, message: string): void {
    this.#error ??= error instanceof Error ? error : new Error(message, { cause: error });
    this.#close();
  }

  #close(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    try {
      this.#conn.close();
    } catch {
      // Already closed by the runtime (a failed TLS handshake, a reset).
    }
    const error = this.#closedError();
    for (const item of this.#queue.splice(0)) if (item instanceof Deferred) item.reject(error);
  }
}

/**
 * Where reads land: consecutive regions of one buffer, each handed out as a view and never
 * written into again, except the last one once given back (`recycle()`). The read size adapts
 * to the traffic: it doubles after a read that filled a whole read size (up to the maximum) and
 * falls back to what arrived after one that did not; a buffer larger than the read size is
 * retired, so a connection gone quiet waits on a small one.
 */
class ReadBuffer {
  readonly #min: number;
  readonly #max: number;
  #size: number;
  #buffer = new Uint8Array(0);
  #offset = 0;

  constructor(initial: number, max: number) {
    this.#min = this.#size = initial;
    this.#max = max;
  }

  /** The space to read into next: the buffer's free bytes, up to the read size. */
  space(): Uint8Array {
    const free = this.#buffer.length - this.#offset;
    if (this.#buffer.length !== this.#size || free < this.#size / 4) {
      this.#buffer = new Uint8Array(this.#size);
      this.#offset = 0;
    }
    return this.#buffer.subarray(this.#offset, this.#offset + this.#size);
  }

  /** Hands out the first `n` bytes of the space (`offered` bytes long) as a chunk. */
  take(n: number, offered: number): Uint8Array {
    const chunk = this.#buffer.subarray(this.#offset, this.#offset + n);
    this.#offset += n;
    if (n < offered) this.#size = Math.min(Math.max(ceilPowerOfTwo(n), this.#min), this.#max);
    else if (offered === this.#size) this.#size = Math.min(this.#size * 2, this.#max);
    return chunk;
  }

  /** The last chunk taken is free again: the next read may land in its memory. */
  recycle(chunk: Uint8Array): void {
    const start = chunk.byteOffset - this.#buffer.byteOffset;
    if (chunk.buffer === this.#buffer.buffer && start + chunk.byteLength === this.#offset) this.#offset = start;
  }
}

function ceilPowerOfTwo(n: number): number {
  return 2 ** Math.ceil(Math.log2(n));
}

const COALESCE_LIMIT = 16 * 1024;

/**
 * The chunks to write, small neighbours joined into one copy: Deno has no vectored write, and a
 * copy of a few KiB costs less than a system call each.
 */
function coalesce(chunks: readonly Uint8Array[]): Uint8Array[] {
  if (chunks.length < 2) return chunks.filter((chunk) => chunk.byteLength > 0);
  const out: Uint8Array[] = [];
  let run: Uint8Array[] = [];
  let runBytes = 0;
  const flush = (): void => {
    if (run.length === 1) out.push(run[0]!);
    else if (run.length > 1) {
      const joined = new Uint8Array(runBytes);
      let offset = 0;
      for (const chunk of run) {
        joined.set(chunk, offset);
        offset += chunk.byteLength;
      }
      out.push(joined);
    }
    run = [];
    runBytes = 0;
  };
  for (const chunk of chunks) {
    if (chunk.byteLength === 0) continue;
    if (runBytes + chunk.byteLength > COALESCE_LIMIT) flush();
    if (chunk.byteLength >= COALESCE_LIMIT) out.push(chunk);
    else {
      run.push(chunk);
      runBytes += chunk.byteLength;
    }
  }
  flush();
  return out;
}

/** Writes every byte of `chunk`, resolving once the connection took the last one. */
async function writeAll(conn: Deno.Conn, chunk: Uint8Array): Promise<void> {
  for (let offset = 0; offset < chunk.byteLength;) {
    offset += await conn.write(offset === 0 ? chunk : chunk.subarray(offset));
  }
}
