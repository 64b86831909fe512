/**
 * A Bun socket ([`Bun.listen`](https://bun.com/docs/runtime/networking/tcp#start-a-server-bun-listen)
 * or [`Bun.connect`](https://bun.com/docs/runtime/networking/tcp#create-a-connection-bun-connect),
 * TCP or TLS) as a core {@link Transport}, or as a pair of Web Streams of bytes built on it, with
 * backpressure in both directions: the socket is
 * [paused](https://bun.com/reference/bun/Socket/pause) while the chunks read ahead reach a
 * high-water mark, and a write resolves only once
 * [`socket.write()`](https://bun.com/reference/bun/Socket/write) has taken every byte, finishing
 * on the [`drain`](https://bun.com/reference/bun/SocketHandler/drain) handler when it took only
 * part.
 *
 * Bun sockets report their events to a handler table given when the socket is made, not to
 * listeners added later; {@link SocketTransport.handlers} is that table for a socket whose
 * `socket.data` is its {@link SocketTransport}, and {@link SocketStreams.handlers} for one whose
 * `socket.data` is its {@link SocketStreams}.
 *
 * @module
 */

import type { Socket, SocketHandler } from "bun";
import { checkReadBufferSize, DEFAULT_READ_BUFFER_SIZE, ReadAhead, type ReadAheadOwner, type Transport, type TransportSink } from "@wsstream/core";

/** Options of {@link SocketTransport}. */
export interface SocketTransportOptions {
  /**
   * Bytes read ahead of the reader before the socket is paused (default 64 KiB). A pause takes
   * effect after the read in progress: the queue can exceed this by one read of Bun's (at most
   * 512 KiB), never more.
   */
  readonly readableHighWaterMark?: number;
}

/** Options of {@link SocketStreams}. */
export interface SocketStreamsOptions extends SocketTransportOptions {}

/** A socket whose `data` is its {@link SocketTransport} (`undefined` until a server's `open`). */
export type TransportSocket = Socket<SocketTransport | undefined>;

/** A socket whose `data` is its {@link SocketStreams} (`undefined` until a server's `open`). */
export type StreamSocket = Socket<SocketStreams | undefined>;


const noop = (): void => {};

/** A promise with its settle functions (`Settler<void>` marks a write's completion in the outbox). */
class Settler<T> {
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  reject!: (reason: unknown) => void;

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}


/** The handler table for sockets whose `data` leads to a transport through `transportOf`. */
let handlersFor!: <D>(transportOf: (data: D) => SocketTransport | undefined) => SocketHandler<D>;

/**
 * A Bun socket as a core {@link Transport}: what `serve()` and `WebSocketStream` use. Make one,
 * pass it as the socket's `data` and {@link SocketTransport.handlers} as its `socket` handlers,
 * with `allowHalfOpen: true` (so a peer's FIN ends only the reading; without it Bun closes the
 * socket at once).
 *
 * - `read()` hands out the chunks Bun delivered (each in its own `ArrayBuffer`, never reused by
 *   Bun, so no copy is made), then `null` at the peer's FIN; it rejects once the socket failed
 *   (a reset) or was destroyed. Chunks that arrive while nobody reads are queued; at
 *   `readableHighWaterMark` the socket is paused until the reader catches up.
 * - `write()` hands the chunks to `socket.write()` at once (small ones joined into one write);
 *   what Bun does not take is kept and written on `drain`, and the returned promise resolves
 *   then. It returns `undefined` when Bun took everything.
 * - `end()` sends our FIN ([`socket.shutdown()`](https://bun.com/reference/bun/Socket/shutdown))
 *   once everything queued is written; reading goes on until the peer's FIN.
 * - `destroy()` closes the socket now (see {@link SocketTransport.destroy}).
 *
 * @example
 * ```ts
 * const transport = new SocketTransport();
 * Bun.connect({ hostname: "127.0.0.1", port: 8080, allowHalfOpen: true, data: transport, socket: SocketTransport.handlers });
 * await transport.opened;
 * for (let chunk; (chunk = await transport.read()) !== null;) await transport.write([chunk]);
 * await transport.end(); // an echo
 * ```
 */
export class SocketTransport implements Transport, ReadAheadOwner {
  static {
    handlersFor = <D>(transportOf: (data: D) => SocketTransport | undefined) => ({
      binaryType: "uint8array" as const,
      open(socket) {
        const transport = transportOf(socket.data);
        if (transport !== undefined) transport.#attach(socket as TransportSocket);
      },
      data(socket, chunk: Uint8Array) {
        const transport = transportOf(socket.data);
        if (transport !== undefined) transport.#input.push(chunk);
      },
      drain(socket) {
        const transport = transportOf(socket.data);
        if (transport !== undefined) transport.#drain();
      },
      end(socket) {
        const transport = transportOf(socket.data);
        if (transport !== undefined) transport.#input.end();
      },
      error(socket, error) {
        const transport = transportOf(socket.data);
        if (transport !== undefined) transport.#recordError(error);
      },
      close(socket, error) {
        const transport = transportOf(socket.data);
        if (transport !== undefined) transport.#onClose(error);
      },
      connectError(socket, error) {
        const transport = transportOf(socket.data);
        if (transport !== undefined) transport.#onClose(error);
      },
    } satisfies SocketHandler<D>);
  }

  /**
   * The [`SocketHandler`](https://bun.com/reference/bun/SocketHandler) table that routes a
   * socket's events to its `socket.data`. A server sets `socket.data = new SocketTransport()` in
   * its own `open` before calling this table's `open`.
   */
  static readonly handlers: SocketHandler<SocketTransport | undefined> = handlersFor<SocketTransport | undefined>((data) => data);

  /**
   * Resolves with the socket at its `open` handler (after the TLS handshake); rejects if it fails
   * to connect or closes first. (Made when first asked for: a server's transports never are.)
   */
  get opened(): Promise<TransportSocket> {
    if (this.#opened === undefined) {
      const opened = new Settler<TransportSocket>();
      opened.promise.catch(noop);
      if (this.#openOutcome === "open") opened.resolve(this.#socket!);
      else if (this.#openOutcome === "failed") opened.reject(this.closedError);
      this.#opened = opened;
    }
    return this.#opened.promise;
  }

  /** Resolves once the socket has closed, for whatever reason. */
  get closed(): Promise<void> {
    if (this.#closed === undefined) {
      this.#closed = new Settler<void>();
      if (this.#state === "closed") this.#closed.resolve();
    }
    return this.#closed.promise;
  }

  #socket: TransportSocket | undefined;
  /** `connecting` until `open`, `closed` once Bun reported the close. */
  #state: "connecting" | "open" | "closed" = "connecting";
  #error: unknown = undefined;
  #openOutcome: "pending" | "open" | "failed" = "pending";
  #opened: Settler<TransportSocket> | undefined;
  #closed: Settler<void> | undefined;
  // The set of a server's live transports, left on close.
  readonly #group: Set<SocketTransport> | undefined;

  // Reading: the read-ahead buffer, pulled with read() or pushed to a sink (listen).
  readonly #input: ReadAhead;

  // Writing: what Bun has not taken yet, each write's completion after its last chunk.
  #output: "open" | "ending" | "ended" = "open";
  #outbox: Array<Uint8Array | Settler<void>> = [];
  #ending: Promise<void> | undefined;

  /** `group`: a set the transport is in until its socket closes (a server's live transports). */
  constructor(options: SocketTransportOptions = {}, group?: Set<SocketTransport>) {
    const highWaterMark = options.readableHighWaterMark ?? DEFAULT_READ_BUFFER_SIZE;
    checkReadBufferSize(highWaterMark);
    this.#input = new ReadAhead(this, highWaterMark);
    this.#group = group;
    group?.add(this);
  }

  #resolveOpened(socket: TransportSocket): void {
    if (this.#openOutcome !== "pending") return;
    this.#openOutcome = "open";
    this.#opened?.resolve(socket);
  }

  #rejectOpened(reason: unknown): void {
    if (this.#openOutcome !== "pending") return;
    this.#openOutcome = "failed";
    this.#opened?.reject(reason);
  }

  #resolveClosed(): void {
    this.#group?.delete(this);
    this.#closed?.resolve();
  }

  /** The socket, once open and until it closes; `undefined` otherwise. */
  get socket(): TransportSocket | undefined {
    return this.#state === "open" ? this.#socket : undefined;
  }

  /** Why the socket is gone: its error, the local destroy reason, or a plain close. */
  get closedError(): unknown {
    return this.#error ?? new Error("Socket closed before the end of the stream");
  }

  read(): Promise<Uint8Array | null> {
    return this.#input.read();
  }

  get remoteAddress(): string | undefined {
    return this.socket?.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket?.remotePort;
  }

  write(chunks: readonly Uint8Array[]): Promise<void> | undefined {
    const socket = this.socket;
    if (socket === undefined || this.#error !== undefined) return Promise.reject(this.closedError);
    if (this.#output !== "open") return Promise.reject(new Error("Cannot write after end()"));
    const joined = coalesce(chunks);
    if (this.#outbox.length === 0) {
      for (let i = 0; i < joined.length; i++) {
        const chunk = joined[i]!;
        const written = socket.write(chunk);
        if (written === chunk.byteLength) continue;
        if (written < 0) return Promise.reject(this.closedError);
        this.#outbox.push(chunk.subarray(written));
        for (let j = i + 1; j < joined.length; j++) this.#outbox.push(joined[j]!);
        return this.#queueCompletion();
      }
      return undefined;
    }
    for (const chunk of joined) this.#outbox.push(chunk);
    return this.#queueCompletion();
  }

  /**
   * Resolves once every chunk written before was taken by Bun (which copies what it takes): at
   * once when nothing waits for `drain`, else after what waits.
   */
  released(): Promise<void> {
    if (this.socket === undefined || this.#error !== undefined) return Promise.reject(this.closedError);
    if (this.#outbox.length === 0) return Promise.resolve();
    return this.#queueCompletion();
  }

  /** Push mode (see core's `Transport.listen`): input goes to `sink` from the socket's `data` handler. */
  listen(sink: TransportSink): boolean {
    return this.#input.listen(sink);
  }

  /** Push mode: the sink gets nothing until {@link resume} (see core's `ReadAhead`). */
  pause(): void {
    this.#input.pause();
  }

  /** Push mode: the sink gets what queued meanwhile, then the socket's chunks again. */
  resume(): void {
    this.#input.resume();
  }

  /** @internal The read-ahead buffer is full: stop reading the socket. */
  pauseInput(): void {
    this.socket?.pause();
  }

  /** @internal */
  resumeInput(): void {
    this.socket?.resume();
  }

  /** @internal Why reads fail. */
  inputError(): unknown {
    return this.closedError;
  }

  end(): Promise<void> {
    this.#ending ??= this.#end();
    return this.#ending;
  }

  /**
   * Closes the socket now; `reason` becomes the error reads and writes report. Once our side was
   * shut down with nothing left to send, the socket is closed gracefully
   * ([`socket.end()`](https://bun.com/reference/bun/Socket/end): what it sent still arrives);
   * otherwise it is reset ([`socket.terminate()`](https://bun.com/reference/bun/Socket/terminate)).
   * Before `open`, the socket is closed as soon as it opens.
   */
  destroy(reason?: unknown, message = "The transport was destroyed"): void {
    this.#recordError(reason instanceof Error ? reason : new Error(message, { cause: reason }));
    this.#rejectOpened(this.#error);
    this.#input.fail();
    this.#input.clear();
    this.#failOutput();
    const socket = this.socket;
    if (socket === undefined) return;
    if (this.#output === "ended") socket.end();
    else socket.terminate();
  }

  async #end(): Promise<void> {
    if (this.#error !== undefined || this.socket === undefined) throw this.closedError;
    this.#output = "ending";
    if (this.#outbox.length > 0) await this.#queueCompletion();
    const socket = this.socket;
    if (socket === undefined) throw this.closedError;
    socket.shutdown();
    this.#output = "ended";
  }

  #queueCompletion(): Promise<void> {
    const done = new Settler<void>();
    this.#outbox.push(done);
    return done.promise;
  }

  #attach(socket: TransportSocket): void {
    this.#socket = socket;
    this.#state = "open";
    if (this.#error !== undefined) {
      this.destroy(this.#error);
      return;
    }
    this.#resolveOpened(socket);
  }

  // The `data` handler.
  // The `drain` handler: writes what Bun did not take before, in order.
  #drain(): void {
    const socket = this.socket;
    for (let item = this.#outbox[0]; item !== undefined; item = this.#outbox[0]) {
      if (item instanceof Settler) {
        this.#outbox.shift();
        item.resolve();
        continue;
      }
      const written = socket === undefined ? -1 : socket.write(item);
      if (written < 0) return this.#failOutput();
      if (written < item.byteLength) {
        this.#outbox[0] = item.subarray(written);
        return;
      }
      this.#outbox.shift();
    }
  }

  // The `end` handler (the peer's FIN).
  #failOutput(): void {
    const error = this.closedError;
    for (const item of this.#outbox.splice(0)) if (item instanceof Settler) item.reject(error);
  }

  #recordError(error: unknown): void {
    this.#error ??= error;
  }

  #onClose(error: Error | undefined): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    if (error !== undefined) this.#recordError(error);
    this.#rejectOpened(this.closedError);
    // Bun reports a reset as a close with an error (a failed TLS session, through `error`
    // first). A close without one is the peer's FIN: after our shutdown, Bun calls `close`
    // instead of `end`.
    if (this.#error === undefined) this.#input.end();
    else this.#input.fail();
    this.#failOutput();
    this.#resolveClosed();
  }
}

/**
 * The two byte streams over one Bun socket, built on a {@link SocketTransport} (prefer that where
 * a `Transport` will do: it saves the two streams). Make one, pass it as the socket's `data` and
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
  static readonly handlers: SocketHandler<SocketStreams | undefined> = handlersFor<SocketStreams | undefined>((data) =>
    data === undefined ? undefined : data.#transport
  );

  /**
   * The bytes received, in the chunks Bun delivered (never copied). Closes at the peer's FIN;
   * errors when the socket closes with an error (a reset). While the queue is full the socket is
   * paused; `cancel()` closes the socket.
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

  readonly #transport: SocketTransport;

  constructor(options: SocketStreamsOptions = {}) {
    const highWaterMark = options.readableHighWaterMark ?? DEFAULT_READ_BUFFER_SIZE;
    checkReadBufferSize(highWaterMark);
    // The transport reads ahead one chunk at most: the readable's queue is the read-ahead.
    const transport = new SocketTransport({ readableHighWaterMark: 1 });
    this.#transport = transport;
    this.opened = transport.opened as Promise<Socket<unknown>> as Promise<StreamSocket>;
    this.closed = transport.closed;
    this.readable = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const chunk = await transport.read();
          if (chunk === null) controller.close();
          else controller.enqueue(chunk);
        },
        cancel: (reason) => transport.destroy(reason, "The readable side was cancelled"),
      },
      new ByteLengthQueuingStrategy({ highWaterMark }),
    );
    let finished = false;
    this.writable = new WritableStream<Uint8Array>({
      start(controller) {
        // The signal fires at `abort()` at once, even while a write waits for `drain` (the
        // stream calls the sink's `abort` only after that write settles).
        const { signal } = controller;
        signal.addEventListener("abort", () => transport.destroy(signal.reason, "The writable side was aborted"), { once: true });
        void transport.closed.then(() => {
          if (!finished) controller.error(transport.closedError);
        });
      },
      write: (chunk) => transport.write([chunk]),
      close: () => {
        finished = true;
        return transport.end();
      },
    });
  }

  /** The socket, once open and until it closes; `undefined` otherwise. */
  get socket(): StreamSocket | undefined {
    return this.#transport.socket as Socket<unknown> as StreamSocket | undefined;
  }

  /** Why the socket is gone: its error, the local cancel or abort reason, or a plain close. */
  get closedError(): unknown {
    return this.#transport.closedError;
  }

  /** Closes the socket now; see {@link SocketTransport.destroy}. */
  destroy(reason: unknown, message = "The socket was closed locally"): void {
    this.#transport.destroy(reason, message);
  }
}

const COALESCE_LIMIT = 16 * 1024;

/**
 * The chunks to write, small neighbours joined into one copy: each `socket.write()` is a system
 * call of its own, and a copy of a few KiB costs less.
 */
function coalesce(chunks: readonly Uint8Array[]): readonly Uint8Array[] {
  if (chunks.length < 2) return chunks;
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
