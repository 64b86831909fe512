/**
 * The one transport contract every adapter implements, and what the adapters used to repeat:
 * where a URL connects to, the read buffer default, the flush schedule, the clock, and byte
 * streams over a transport (built once, here).
 *
 * @module
 */
import { UsageError } from "./errors.ts";

/**
 * A byte transport: what each adapter's `socket.ts` implements over its runtime's socket (and
 * what an HTTP/2 stream, an in-memory pair or a tunnel can implement too).
 *
 * The chunks `read()` yields become the connection's: payloads are unmasked in place and binary
 * messages may be views of them, so a transport never writes into a chunk again after handing it
 * out (a buffer that hands out fresh regions is fine; one buffer reused for every read is not),
 * unless the connection gave it back with {@link recycle}.
 */
export interface Transport {
  /**
   * The next chunk received, or `null` at the end of input; rejects when the transport failed.
   * Between calls the transport reads ahead at most its own bounded buffer, then stops reading
   * its socket (backpressure): not calling `read()` is how the connection stops the peer.
   */
  read(): Promise<Uint8Array | null>;
  /**
   * Writes chunks in order. Returns `undefined` when the transport took them at once, or a
   * promise that resolves once it did (and rejects if it failed first). The connection writes
   * again only after that promise settles or when it must (a Close), so a transport needs no
   * queue of its own beyond one batch.
   */
  write(chunks: readonly Uint8Array[]): Promise<void> | undefined;
  /**
   * Optional: the connection is done with `chunk`, a chunk this transport handed out, and holds
   * no view of it any more: the transport may read into its memory again. Called right after the
   * chunk was handled, only when nothing of it was kept (no partial frame, no message or control
   * payload handed on as a view); otherwise never, and the chunk is left to the garbage
   * collector. A transport that reuses its read buffer this way allocates nothing per read while
   * the traffic allows it (e.g. a message streamed through in BYOB reads).
   */
  recycle?(chunk: Uint8Array): void;
  /**
   * Optional: resolves once the transport holds none of the chunks given to {@link write}
   * before this call (each written out, or copied), so the caller may write into their memory
   * again; rejects if the transport failed first. A streamed send then reads a byte stream
   * (BYOB) into a few buffers of its own, reused once released, instead of a new chunk per read.
   */
  released?(): Promise<void>;
  /** Half-closes: resolves once everything written is flushed and the end is sent. */
  end(): Promise<void>;
  /** Drops the transport at once; pending reads end. */
  destroy(reason?: unknown): void;
  /**
   * Optional push mode, for transports over a socket that calls back with each chunk (Node,
   * Bun): from now on, input goes to `sink`, called from the socket's own event, instead of
   * through {@link read} (chunks already read ahead first). Returns `true` when the transport
   * took the sink; then `read()` is no longer called, and {@link pause} / {@link resume} are the
   * backpressure. A transport without it (or returning `false`) is read with `read()`.
   *
   * Push mode saves a promise and a microtask per chunk and lets the connection answer a burst
   * with one write, in the same turn as the data arrived.
   */
  listen?(sink: TransportSink): boolean;
  /** Push mode: stop calling the sink (stop reading the socket) until {@link resume}. */
  pause?(): void;
  /** Push mode: call the sink again. */
  resume?(): void;
  /**
   * Optional: the peer's IP address (IPv6 without brackets) and port, for a transport over a
   * socket; `undefined` when unknown or once the socket is gone.
   */
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
}

/** Where a transport in push mode ({@link Transport.listen}) delivers its input. */
export interface TransportSink {
  /** A chunk received (the chunk rules of {@link Transport} hold). */
  data(chunk: Uint8Array): void;
  /** The end of input. */
  end(): void;
  /** The transport failed; nothing more comes. */
  error(error: unknown): void;
}

/** A byte transport as a pair of Web Streams (the chunk rules of {@link Transport} hold). */
export interface ByteStreams {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
}

/** What a connection runs over: a {@link Transport}, or any pair of byte streams. */
export type TransportLike = Transport | ByteStreams;

const noop = (): void => {};

/** The transport for `source`: itself, or a wrapper reading and writing the byte streams. */
export function toTransport(source: TransportLike): Transport {
  if ("read" in source && typeof source.read === "function") return source;
  const { readable, writable } = source as ByteStreams;
  const reader = readable.getReader();
  const writer = writable.getWriter();
  writer.closed.catch(noop);
  return {
    read: async () => {
      const { value, done } = await reader.read();
      return done ? null : value;
    },
    write: (chunks) => {
      let last: Promise<void> | undefined;
      for (const chunk of chunks) {
        // Only the last write is awaited; a failure fails it too.
        last?.catch(noop);
        last = writer.write(chunk);
      }
      return last;
    },
    end: () => writer.close(),
    destroy: (reason) => {
      reader.cancel(reason).catch(noop);
      writer.abort(reason).catch(noop);
    },
  };
}

/**
 * Byte streams over a transport, for users who want them (a raw socket as Web Streams). The
 * readable pulls one chunk per `pull()`, so the transport's own backpressure holds; the writable
 * resolves each write once the transport took it; `close()` half-closes; `cancel()` and
 * `abort()` destroy the transport.
 */
export function transportToStreams(transport: Transport, options: { readonly readableHighWaterMark?: number } = {}): ByteStreams {
  const highWaterMark = options.readableHighWaterMark ?? DEFAULT_READ_BUFFER_SIZE;
  checkReadBufferSize(highWaterMark, "readableHighWaterMark");
  const readable = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const chunk = await transport.read();
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
      cancel(reason) {
        transport.destroy(reason ?? new Error("The readable side was cancelled"));
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark }),
  );
  const writable = new WritableStream<Uint8Array>({
    write: (chunk) => transport.write([chunk]),
    close: () => transport.end(),
    abort: (reason) => transport.destroy(reason ?? new Error("The writable side was aborted")),
  });
  return { readable, writable };
}

/**
 * Bytes a transport reads ahead of the connection before it stops reading its socket: the
 * default of every adapter's `readableHighWaterMark`.
 */
export const DEFAULT_READ_BUFFER_SIZE = 64 * 1024;

/** Throws a `RangeError` unless `size` is a positive number (a read buffer size option). */
export function checkReadBufferSize(size: number, name = "readableHighWaterMark"): void {
  if (!(size > 0)) throw new RangeError(`${name} must be a positive number: ${size}`);
}

/** Where a client connects for a `ws:` or `wss:` URL: what each adapter's `openSocket` dials. */
export interface ConnectTarget {
  /** The host name or address, IPv6 without brackets. */
  readonly host: string;
  readonly port: number;
  /** `wss:`: run TLS over the connection. */
  readonly secure: boolean;
  /** The TLS server name (SNI): the host unless it is an IP address, where SNI is not sent. */
  readonly servername: string | undefined;
  /** The ALPN protocols to offer over TLS: a WebSocket upgrade is HTTP/1.1. */
  readonly alpnProtocols: readonly string[];
}

/** The {@link ConnectTarget} of a `ws:` or `wss:` URL (80 and 443 by default). */
export function connectTarget(url: URL): ConnectTarget {
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new UsageError("WS_ERR_INVALID_ARGUMENT", `Cannot connect: the URL scheme is not ws: or wss:: ${url.protocol}`);
  }
  const secure = url.protocol === "wss:";
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return {
    host,
    port: Number(url.port || (secure ? 443 : 80)),
    secure,
    servername: isIpAddress(host) ? undefined : host,
    alpnProtocols: ["http/1.1"],
  };
}

function isIpAddress(host: string): boolean {
  return host.includes(":") || /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
}

/** Timers, passed in so a connection runs anywhere (and under fake time in tests). */
export interface Clock {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Milliseconds from an arbitrary origin, for round-trip times. Default `performance.now()`. */
  now?(): number;
}

/** The global `setTimeout` / `clearTimeout` / `performance.now`. */
export const defaultClock: Clock = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: () => performance.now(),
};

/**
 * The flush schedule, the same on every runtime: frames queued during one turn of the event loop
 * go to the transport together on the next macrotask, so a burst of sends leaves in one write.
 * `setImmediate` where the runtime has it (Node, Deno, Bun); elsewhere (browsers) a
 * `MessageChannel` message, which is not clamped like `setTimeout(0)`.
 */
export const defaultSchedule: (callback: () => void) => void = makeSchedule();

function makeSchedule(): (callback: () => void) => void {
  const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
  if (typeof immediate === "function") return (callback) => void immediate(callback);
  if (typeof MessageChannel === "function") {
    const queue: (() => void)[] = [];
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      const callbacks = queue.splice(0);
      for (const callback of callbacks) callback();
    };
    return (callback) => {
      if (queue.push(callback) === 1) channel.port2.postMessage(null);
    };
  }
  return (callback) => void globalThis.setTimeout(callback, 0);
}
