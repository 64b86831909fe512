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

import type { Http2Stream, IncomingHttpHeaders } from "node:http2";
import type { Socket } from "node:net";
import {
  checkReadBufferSize,
  DEFAULT_READ_BUFFER_SIZE,
  ReadAhead,
  type ReadAheadOwner,
  type Transport,
  type TransportSink,
  transportToStreams,
} from "@wsstream/core";

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
 *
 * An [`Http2Stream`](https://nodejs.org/api/http2.html#class-http2stream) is a Duplex with the
 * same events, and works the same way (RFC 8441, `handleStream()`): `end()` sends END_STREAM,
 * `destroy()` a RST_STREAM, and pausing it withholds the stream's WINDOW_UPDATEs, so HTTP/2 flow
 * control is the backpressure (one stream stops, not the connection). Its peer's address is the
 * session's.
 */
export function socketTransport(socket: Socket | Http2Stream, options: SocketStreamsOptions = {}): Transport {
  const highWaterMark = options.readableHighWaterMark ?? DEFAULT_READ_BUFFER_SIZE;
  checkReadBufferSize(highWaterMark);
  return new SocketTransport(socket as Socket, highWaterMark, "session" in socket ? sessionPeer(socket) : undefined);
}

// The session socket's address, read now: an HTTP/2 session's socket proxy throws once unbound.
function sessionPeer(stream: Http2Stream): { remoteAddress?: string | undefined; remotePort?: number | undefined } {
  try {
    const socket = stream.session?.socket;
    return { remoteAddress: socket?.remoteAddress, remotePort: socket?.remotePort };
  } catch {
    return {};
  }
}

const kTransport = Symbol("wsstream.transport");
const EMPTY = new Uint8Array(0);

/** A socket driven by a {@link SocketTransport}: the socket's listeners find it here. */
type OwnedSocket = Socket & { [kTransport]: SocketTransport };

// The socket's listeners are shared by every socket (Node calls them with the socket as `this`),
// so a connection costs no closures for them.
function onData(this: OwnedSocket, chunk: Buffer): void {
  this[kTransport].received(chunk);
}
function onEnd(this: OwnedSocket): void {
  this[kTransport].ended();
}
function onError(this: OwnedSocket, error: Error): void {
  this[kTransport].failed(error);
}
function onDrain(this: OwnedSocket): void {
  this[kTransport].drained();
}
function onFinish(this: OwnedSocket): void {
  this[kTransport].finished();
}
function onClose(this: OwnedSocket): void {
  this[kTransport].closed();
}
function uncork(transport: SocketTransport): void {
  transport.uncork();
}

/**
 * The transport over one socket. Reads: chunks queue while nobody reads; past the high-water
 * mark the socket is paused until the queue drains. Writes: the socket is corked until the end of
 * the tick, so the writes of one burst (a loop of awaited writes runs entirely in microtasks) leave
 * in one `writev` system call; a burst ends by itself when `write()` returns `false`, and the
 * writer waits for `'drain'`, which follows the uncork
 * (see [`socket.cork()`](https://nodejs.org/api/stream.html#writablecork)). The `'drain'` and
 * `'finish'` waits reject if the socket closes first.
 */
class SocketTransport implements Transport, ReadAheadOwner {
  readonly #socket: OwnedSocket;
  readonly #input: ReadAhead;
  #closed: boolean;
  #corked = false;
  #error: unknown = undefined;
  // A destroy() without an Error: the error is built only if someone asks why the socket closed
  // (an Error's stack trace costs about 3% of a handshake, and a clean close never reads it).
  #destroyed: { readonly reason: unknown } | undefined;
  #drain: Deferred | undefined;
  #finish: Deferred | undefined;

  // Where remoteAddress comes from: the socket itself, or (an HTTP/2 stream) its session's.
  readonly #peer: { readonly remoteAddress?: string | undefined; readonly remotePort?: number | undefined };

  constructor(socket: Socket, highWaterMark: number, peer?: { remoteAddress?: string | undefined; remotePort?: number | undefined }) {
    this.#peer = peer ?? socket;
    const owned = socket as OwnedSocket;
    owned[kTransport] = this;
    this.#socket = owned;
    this.#input = new ReadAhead(this, highWaterMark);
    this.#closed = socket.destroyed;
    if (socket.readableEnded) this.#input.end();
    // Already closed without an end: reads fail at once.
    else if (this.#closed) this.#input.fail();
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("error", onError);
    socket.on("drain", onDrain);
    socket.on("finish", onFinish);
    socket.on("close", onClose);
    socket.resume(); // in case someone paused it before handing it over
  }

  read(): Promise<Uint8Array | null> {
    return this.#input.read();
  }

  get remoteAddress(): string | undefined {
    return this.#peer.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.#peer.remotePort;
  }

  write(chunks: readonly Uint8Array[]): Promise<void> | undefined {
    if (this.#isClosed()) return Promise.reject(this.#closedError());
    const socket = this.#socket;
    if (!this.#corked) {
      this.#corked = true;
      socket.cork();
      process.nextTick(uncork, this);
    }
    let accepted = true;
    for (const chunk of chunks) accepted = socket.write(chunk);
    if (accepted) return undefined;
    this.#drain ??= new Deferred();
    return this.#drain.promise;
  }

  /**
   * Resolves once the socket holds none of the chunks written before (Node keeps a reference to
   * each until it is written): an empty write's callback, which comes after theirs.
   */
  released(): Promise<void> {
    if (this.#isClosed()) return Promise.reject(this.#closedError());
    const socket = this.#socket;
    if (socket.writableLength === 0) return Promise.resolve();
    if (socket.writableEnded) return this.end();
    return new Promise<void>((resolve, reject) => {
      socket.write(EMPTY, (error) => (error === undefined || error === null ? resolve() : reject(error)));
    });
  }

  end(): Promise<void> {
    const socket = this.#socket;
    if (!socket.writableEnded) socket.end();
    if (socket.writableFinished) return Promise.resolve();
    if (this.#isClosed()) return Promise.reject(this.#closedError());
    this.#finish ??= new Deferred();
    return this.#finish.promise;
  }

  listen(sink: TransportSink): boolean {
    return this.#input.listen(sink);
  }

  pause(): void {
    this.#input.pause();
  }

  resume(): void {
    this.#input.resume();
  }

  destroy(reason?: unknown): void {
    this.#socket.off("data", onData);
    this.#input.clear();
    if (reason instanceof Error) this.#error ??= reason;
    else if (this.#error === undefined) this.#destroyed ??= { reason };
    this.#socket.destroy();
  }

  /** @internal `'data'`: a plain view of the bytes (Node gives every read its own ArrayBuffer). */
  received(chunk: Buffer): void {
    this.#input.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }

  /** @internal `'end'`. */
  ended(): void {
    this.#input.end();
  }

  /** @internal `'error'`. */
  failed(error: Error): void {
    if (this.#destroyed === undefined) this.#error ??= error;
    this.#input.fail();
  }

  /** @internal `'drain'`. */
  drained(): void {
    const drain = this.#drain;
    this.#drain = undefined;
    drain?.resolve();
  }

  /** @internal `'finish'`. */
  finished(): void {
    const finish = this.#finish;
    this.#finish = undefined;
    finish?.resolve();
  }

  /** @internal `'close'`. */
  closed(): void {
    this.#closed = true;
    const error = this.#closedError();
    this.#drain?.reject(error);
    this.#finish?.reject(error);
    this.#drain = this.#finish = undefined;
    this.#input.fail();
  }

  /** @internal The end of the tick's cork. */
  uncork(): void {
    this.#corked = false;
    this.#socket.uncork();
  }

  /** @internal The read-ahead buffer is full: stop reading the socket. */
  pauseInput(): void {
    this.#socket.pause();
  }

  /** @internal */
  resumeInput(): void {
    this.#socket.resume();
  }

  /** @internal Why reads fail: a close without an end (a reset, or destroy()). */
  inputError(): unknown {
    return this.#closedError();
  }

  #isClosed(): boolean {
    return this.#closed || this.#socket.destroyed;
  }

  // Why the socket is gone: its error, the local destroy's reason, or a plain close.
  #closedError(): unknown {
    if (this.#error === undefined && this.#destroyed !== undefined) {
      this.#error = new Error("The transport was destroyed", { cause: this.#destroyed.reason });
    }
    return this.#error ?? new Error("Socket closed before the end of the stream");
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

/** @internal An HTTP/2 stream's regular header fields (pseudo-headers left out), one pair per value. */
export function headerList(headers: IncomingHttpHeaders): [string, string][] {
  const fields: [string, string][] = [];
  for (const name in headers) {
    const value = headers[name];
    if (name.startsWith(":") || value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) fields.push([name, item]);
    else fields.push([name, String(value)]);
  }
  return fields;
}
