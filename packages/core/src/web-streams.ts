/**
 * The Web Streams binding: any byte duplex `{ readable, writable }` (a TCP socket, a TLS socket,
 * an HTTP/2 stream, an in-memory pair) becomes a WebSocketStream-shaped connection, client or
 * server, driven by the sans-I/O {@link Connection}.
 *
 * Backpressure is pull-based both ways: the transport is read only while the message readable
 * has room, and a message `write()` waits while the transport holds more than its high-water
 * mark. Writes are batched: messages written in one turn go to the transport as one chunk.
 *
 * @module
 */
import { ClientConnection, type ClientConnectionOptions } from "./client.ts";
import { CloseCode } from "./close.ts";
import type { Connection, ConnectionOptions } from "./connection.ts";
import { ProtocolError, UsageError } from "./errors.ts";
import type { ConnectionEvent, EncodedEvent } from "./events.ts";
import type { ExtensionFactory } from "./extension.ts";
import { formatExtensionHeader } from "./extension-header.ts";
import type { AcceptOptions, HeaderInit, UpgradeRequest } from "./handshake.ts";
import type { HttpHeadLimits, RequestHead } from "./http-head.ts";
import { ServerConnection } from "./server.ts";
import { State } from "./state.ts";

/**
 * A byte transport as a pair of Web Streams. The chunks the readable yields become the
 * connection's: payloads are unmasked in place and binary messages may be views of them, so a
 * transport must never write into a chunk again after handing it out (a slab that hands out
 * fresh regions is fine; one buffer reused for every read is not).
 */
export interface ByteStreams {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
}

/**
 * A byte transport driven directly, without Web Streams: what adapters implement over a runtime's
 * socket to save the two byte streams' cost per chunk and per connection. Any
 * {@link ByteStreams} works as well; the binding wraps it in one of these.
 */
export interface Transport {
  /**
   * The next chunk received, or `null` at the end of input; rejects when the transport failed.
   * Between calls the transport reads ahead at most its own bounded buffer (backpressure).
   * Chunks become the connection's (see {@link ByteStreams}).
   */
  read(): Promise<Uint8Array | null>;
  /**
   * Writes chunks in order. Returns `undefined` when the transport took them at once, or a
   * promise that resolves once it did (and rejects if it failed first).
   */
  write(chunks: readonly Uint8Array[]): Promise<void> | undefined;
  /** Half-closes: resolves once everything written is flushed and the end is sent. */
  end(): Promise<void>;
  /** Drops the transport at once; pending reads end. */
  destroy(reason?: unknown): void;
}

/** What the binding runs over: a {@link Transport}, or any pair of byte streams. */
export type TransportLike = Transport | ByteStreams;

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

/** Timers, passed in so the binding runs anywhere (and under fake time in tests). */
export interface Clock {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Keepalive: a Ping every `interval` ms; no Pong within `timeout` ms fails the connection (1011). */
export interface KeepaliveOptions {
  readonly interval: number;
  readonly timeout: number;
}

/** Options shared by both roles of the binding. */
export interface WebSocketStreamOptions extends ConnectionOptions, HttpHeadLimits {
  /** Timers; default: the global `setTimeout` / `clearTimeout`. */
  readonly clock?: Clock;
  /**
   * Defers a flush of queued frames to the transport. Default `queueMicrotask`; adapters pass a
   * macrotask (e.g. `setImmediate`) to batch more messages per transport write.
   */
  readonly schedule?: (callback: () => void) => void;
  /** Milliseconds to wait for the closing handshake before dropping the transport. Default 10000. */
  readonly closeTimeout?: number;
  /** Milliseconds the opening handshake may take. Default 30000. */
  readonly handshakeTimeout?: number;
  /** Keepalive pings; off by default. */
  readonly keepalive?: KeepaliveOptions;
  /** Bytes of received messages queued before the transport is no longer read. Default 1 MiB. */
  readonly readableHighWaterMark?: number;
  /** Bytes handed to the transport and not yet accepted before `write()` waits. Default 1 MiB. */
  readonly writableHighWaterMark?: number;
}

/** What the message writable takes: a `string` is sent as text, bytes as binary. */
export type MessageInput = string | ArrayBuffer | ArrayBufferView;

/** What `opened` resolves with. */
export interface WebSocketStreamOpen {
  /** Received messages: `string` for text, `Uint8Array` for binary. */
  readonly readable: ReadableStream<string | Uint8Array>;
  /** Messages to send: a `string` is sent as text, an `ArrayBuffer` or typed array as binary. */
  readonly writable: WritableStream<MessageInput>;
  /** The subprotocol agreed, or `""`. */
  readonly protocol: string;
  /** The `Sec-WebSocket-Extensions` agreed, or `""`. */
  readonly extensions: string;
}

/** What `closed` resolves with after a clean close. */
export interface WebSocketCloseInfo {
  readonly closeCode?: number;
  readonly reason?: string;
}

const ERROR_BRAND = Symbol.for("wsstream.WebSocketError");

/**
 * The WHATWG `WebSocketError`: why a connection did not close cleanly, or a close code and reason
 * to close with (pass one to `writable.abort()` or `readable.cancel()`).
 */
export class WebSocketError extends Error {
  /** The close code: the one received, the one sent when failing, or 1006 when there was none. */
  readonly closeCode: number | null;
  readonly reason: string;

  constructor(message = "", init: { closeCode?: number; reason?: string; cause?: unknown } = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.closeCode = init.closeCode ?? null;
    this.reason = init.reason ?? "";
  }

  static override [Symbol.hasInstance](instance: unknown): boolean {
    return typeof instance === "object" && instance !== null && (instance as Record<symbol, unknown>)[ERROR_BRAND] === true;
  }
}
Object.defineProperty(WebSocketError.prototype, ERROR_BRAND, { value: true });
Object.defineProperty(WebSocketError.prototype, "name", { value: "WebSocketError", writable: true, configurable: true });

const defaultClock: Clock = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

const MiB = 1024 * 1024;

/**
 * A WebSocket over a byte transport, shaped like the WHATWG `WebSocketStream`: `opened`,
 * `closed`, `close()`. Runtime adapters subclass it (`new WebSocketStream(url)`); a server gets
 * one per accepted connection from {@link acceptWebSocket}.
 */
export class WebSocketStreamBase {
  /** Resolves once the handshake is done; rejects if it fails or is aborted. */
  readonly opened: Promise<WebSocketStreamOpen>;
  /** Resolves after a clean close; rejects with a {@link WebSocketError} otherwise. */
  readonly closed: Promise<WebSocketCloseInfo>;
  readonly #session: Session;

  /**
   * Opens a client connection to `url` over `transport` (the streams, or a function of the URL
   * that opens them). Adapters subclass this as `new WebSocketStream(url, options)`.
   */
  constructor(url: string | URL, transport: TransportSource, options?: ClientOptions);
  /** @internal A server-side connection made by {@link acceptWebSocket}. */
  constructor(session: Session);
  constructor(urlOrSession: string | URL | Session, transport?: TransportSource, options: ClientOptions = {}) {
    const session = urlOrSession instanceof Session
      ? urlOrSession
      : Session.client(urlOrSession, transport!, options);
    this.#session = session;
    this.opened = session.opened;
    this.closed = session.closed;
  }

  /** The request URL (client) or the URL the client asked for (server). */
  get url(): string {
    return this.#session.url;
  }

  /**
   * Starts the closing handshake with `closeCode` (none when omitted) and `reason`; during the
   * opening handshake it aborts it. Messages already written are sent first.
   */
  close(closeInfo: WebSocketCloseInfo = {}): void {
    this.#session.close(closeInfo.closeCode, closeInfo.reason ?? "");
  }
}

/** A transport to open for a client: the streams, or a function of the URL that opens them. */
export type TransportSource = TransportLike | Promise<TransportLike> | ((url: URL, signal: AbortSignal) => TransportLike | Promise<TransportLike>);

/** Client options: the handshake's and the binding's, plus a signal that aborts the handshake. */
export interface ClientOptions extends WebSocketStreamOptions, Omit<ClientConnectionOptions, keyof ConnectionOptions | keyof HttpHeadLimits> {
  /** Aborts the opening handshake (not an open connection). */
  readonly signal?: AbortSignal;
}

/**
 * Opens a client connection to `url` over `transport`, the adapters' building block: the
 * request is written, the response checked, then messages flow.
 */
export function connectWebSocket(url: string | URL, transport: TransportSource, options: ClientOptions = {}): WebSocketStreamBase {
  return new WebSocketStreamBase(url, transport, options);
}

/** What a server's `upgrade` hook returns: how to accept, or a `Response` that refuses. */
export type UpgradeDecision = void | undefined | { readonly protocol?: string; readonly headers?: HeaderInit } | Response;

/** Server options: the binding's, the upgrade hook and a pre-parsed head for `handleUpgrade`. */
export interface ServerOptions extends WebSocketStreamOptions {
  /**
   * Decides the upgrade from the request: return nothing to accept, `{ protocol, headers }` to
   * accept with a subprotocol (one the client offered) and headers, or a `Response` to refuse
   * (its status, headers and body are sent). Throwing refuses with 500.
   */
  readonly upgrade?: (request: Request, info: UpgradeRequest) => UpgradeDecision | Promise<UpgradeDecision>;
  /** `ws:` or `wss:`: the scheme of the URL given to `upgrade`. Default `ws:`. */
  readonly scheme?: "ws:" | "wss:";
  /** A request head already parsed (e.g. by `node:http`), and the bytes that followed it. */
  readonly head?: { readonly request: RequestHead; readonly rest?: Uint8Array };
  /** Extensions this server supports, most preferred first (e.g. permessage-deflate). */
  readonly extensions?: readonly ExtensionFactory[];
}

/** An accepted server-side connection and the request that opened it. */
export interface AcceptedWebSocket {
  readonly ws: WebSocketStreamBase;
  readonly request: Request;
}

/**
 * Runs the server side of the opening handshake over `transport`: reads and validates the
 * request (answering 400/426/431 itself), asks `upgrade`, then answers 101 and returns the open
 * connection, or `undefined` when the upgrade was refused or failed.
 */
export async function acceptWebSocket(transport: TransportLike, options: ServerOptions = {}): Promise<AcceptedWebSocket | undefined> {
  return Session.server(transport, options);
}

/** A server's per-connection callback. */
export type ConnectionHandler = (ws: WebSocketStreamBase, request: Request) => void | Promise<void>;

/**
 * Runs a server's handler for an accepted connection; a throw or rejection closes the connection
 * with 1011. Nothing here keeps `request` alive once the handler has returned.
 */
export function runHandler(handler: ConnectionHandler, ws: WebSocketStreamBase, request: Request): void {
  closeOnFailure(callHandler(handler, ws, request), ws);
}

function callHandler(handler: ConnectionHandler, ws: WebSocketStreamBase, request: Request): Promise<void> {
  try {
    return Promise.resolve(handler(ws, request));
  } catch (error) {
    return Promise.reject(error);
  }
}

// In its own scope, so the closure kept until the handler settles does not hold the request.
function closeOnFailure(running: Promise<void>, ws: WebSocketStreamBase): void {
  running.catch(() => ws.close({ closeCode: CloseCode.INTERNAL_ERROR, reason: "handler failed" }));
}

type MessageController = ReadableStreamDefaultController<string | Uint8Array>;

const noop = (): void => {};

/**
 * The I/O loop around one {@link Connection}. Not exported from the package: reach it through
 * {@link WebSocketStreamBase}.
 */
export class Session {
  readonly opened: Promise<WebSocketStreamOpen>;
  readonly closed: Promise<WebSocketCloseInfo>;
  url = "";
  #resolveOpened!: (value: WebSocketStreamOpen) => void;
  #rejectOpened!: (reason: unknown) => void;
  #resolveClosed!: (value: WebSocketCloseInfo) => void;
  #rejectClosed!: (reason: unknown) => void;
  readonly #clock: Clock;
  readonly #schedule: (callback: () => void) => void;
  readonly #closeTimeout: number;
  readonly #handshakeTimeout: number;
  readonly #keepalive: KeepaliveOptions | undefined;
  readonly #readableHighWaterMark: number;
  readonly #writableHighWaterMark: number;
  #conn: Connection | undefined;
  #transport: Transport | undefined;
  #messages: MessageController | undefined;
  #protocol = "";
  #extensions = "";
  #isOpen = false;
  #settled = false;
  // Reading the transport stops while the message queue is full; pull() resumes it.
  #resumeReading: (() => void) | undefined;
  // A close reply or failure held back until the messages before it are read.
  #awaitingDrain = false;
  #readableDone = false;
  #flushScheduled = false;
  readonly #flushCallback = (): void => this.#flush();
  // The chain of messages being decoded by extensions, in arrival order.
  #decoding: Promise<void> | undefined;
  // Bytes handed to the transport writer and not yet accepted by it.
  #inflight = 0;
  #writeWaiters: (() => void)[] = [];
  // Message writes queued in the writable and not yet seen by its sink.
  #queuedWrites = 0;
  #closeWaiter: (() => void) | undefined;
  #transportClosing = false;
  #ending: Promise<void> | undefined;
  #transportDone = false;
  // A failure decided here (keepalive timeout) rather than by the peer.
  #localFailure: WebSocketError | undefined;
  #closeTimer: unknown;
  #handshakeTimer: unknown;
  #keepaliveTimer: unknown;
  #pongTimer: unknown;
  #pingCounter = 0;
  #userCloseRequested = false;

  private constructor(options: WebSocketStreamOptions) {
    this.#clock = options.clock ?? defaultClock;
    this.#schedule = options.schedule ?? queueMicrotask;
    this.#closeTimeout = options.closeTimeout ?? 10_000;
    this.#handshakeTimeout = options.handshakeTimeout ?? 30_000;
    this.#keepalive = options.keepalive;
    this.#readableHighWaterMark = options.readableHighWaterMark ?? MiB;
    this.#writableHighWaterMark = options.writableHighWaterMark ?? MiB;
    this.opened = new Promise((resolve, reject) => {
      this.#resolveOpened = resolve;
      this.#rejectOpened = reject;
    });
    this.closed = new Promise((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    });
    // Like the WHATWG WebSocketStream, an unobserved rejection is not an unhandled one.
    this.opened.catch(noop);
    this.closed.catch(noop);
  }

  /** The client: connect, write the request, read the response, then run. */
  static client(url: string | URL, transport: TransportSource, options: ClientOptions): Session {
    const session = new Session(options);
    session.url = String(url);
    void session.#runClient(url, transport, options);
    return session;
  }

  /** The server: read the request, decide, answer, then run. */
  static async server(transport: TransportLike, options: ServerOptions): Promise<AcceptedWebSocket | undefined> {
    const session = new Session(options);
    return session.#runServer(transport, options);
  }

  // ---------------------------------------------------------------------------------------------
  // Opening handshake

  async #runClient(url: string | URL, transport: TransportSource, options: ClientOptions): Promise<void> {
    const abort = new AbortController();
    const signal = options.signal;
    const onAbort = (): void => abort.abort(signal?.reason);
    this.#handshakeTimer = this.#clock.setTimeout(() => {
      abort.abort(new WebSocketError("Handshake timed out", { closeCode: CloseCode.ABNORMAL_CLOSURE }));
    }, this.#handshakeTimeout);
    // The user's signal and the handshake timer abort the handshake until it settles.
    this.opened.then(
      () => signal?.removeEventListener("abort", onAbort),
      () => signal?.removeEventListener("abort", onAbort),
    );
    try {
      if (signal?.aborted) throw signal.reason;
      signal?.addEventListener("abort", onAbort, { once: true });
      // As on the server side, the Close that answers the peer (or fails the connection) waits
      // until the messages before it were read, so the application can answer them first.
      const conn = await ClientConnection.create(url, { ...options, deferClose: true });
      this.url = conn.request.url.href;
      this.#conn = conn;
      const streams = await this.#abortable(
        typeof transport === "function" ? transport(conn.request.url, abort.signal) : transport,
        abort.signal,
      );
      this.#attach(streams);
      abort.signal.addEventListener("abort", () => this.#failHandshake(abort.signal.reason), { once: true });
      this.#flush();
      void this.#pump();
    } catch (error) {
      this.#failHandshake(error);
    }
  }

  async #runServer(transport: TransportLike, options: ServerOptions): Promise<AcceptedWebSocket | undefined> {
    const conn = new ServerConnection({ ...options, deferClose: true });
    this.#conn = conn;
    this.#attach(transport);
    const timer = this.#clock.setTimeout(() => this.#dropTransport(), this.#handshakeTimeout);
    try {
      let request: UpgradeRequest | undefined;
      if (options.head !== undefined) {
        conn.receiveRequestHead(options.head.request, options.head.rest);
        request = this.#handshakeEvents(conn.events());
      }
      while (request === undefined && conn.state === State.CONNECTING) {
        const chunk = await this.#transport!.read();
        if (chunk === null) conn.receiveEof();
        else conn.receiveData(chunk);
        request = this.#handshakeEvents(conn.events());
      }
      if (request === undefined) {
        await this.#flushAndEnd();
        return undefined;
      }
      const webRequest = toWebRequest(request, options.scheme ?? "ws:");
      this.url = webRequest.url.replace(/^http/, "ws");
      const accepted = await this.#decide(conn, request, webRequest, options);
      if (!accepted) {
        await this.#flushAndEnd();
        return undefined;
      }
      this.#protocol = accepted.protocol ?? "";
      this.#extensions = conn.agreedExtensions;
      this.#open();
      // Frames that came with the request were read by accept(): act on them now.
      this.#afterInput();
      void this.#pump();
      return { ws: new WebSocketStreamBase(this), request: webRequest };
    } catch (error) {
      this.#failHandshake(error);
      this.#dropTransport();
      return undefined;
    } finally {
      this.#clock.clearTimeout(timer);
    }
  }

  // Asks the upgrade hook and answers the handshake; true once accepted.
  async #decide(conn: ServerConnection, request: UpgradeRequest, webRequest: Request, options: ServerOptions): Promise<AcceptOptions | undefined> {
    let decision: UpgradeDecision;
    try {
      decision = await options.upgrade?.(webRequest, request);
    } catch (error) {
      conn.reject(500, { body: "Internal Server Error" });
      this.#failHandshake(error, false);
      return undefined;
    }
    if (decision instanceof Response) {
      const body = new Uint8Array(await decision.arrayBuffer());
      const headers: [string, string][] = [];
      decision.headers.forEach((value, name) => {
        if (!/^(connection|content-length|transfer-encoding)$/i.test(name)) headers.push([name, value]);
      });
      conn.reject(decision.status, { body, headers });
      this.#failHandshake(new WebSocketError(`Upgrade refused: ${decision.status}`), false);
      return undefined;
    }
    const accept: AcceptOptions = decision ?? {};
    await conn.accept(accept);
    return accept;
  }

  #handshakeEvents(events: ConnectionEvent[]): UpgradeRequest | undefined {
    for (const event of events) {
      if (event.type === "request") return event.request;
      if (event.type === "handshake-error") this.#failHandshake(event.error, false);
    }
    return undefined;
  }

  #abortable<T>(value: T | Promise<T>, signal: AbortSignal): Promise<T> {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      Promise.resolve(value).then((result) => {
        if (!signal.aborted) {
          resolve(result);
          return;
        }
        // Opened after the abort: nobody will use it, so close it.
        toTransport(result as unknown as TransportLike).destroy(signal.reason);
      }, reject);
    });
  }

  #attach(source: TransportLike): void {
    this.#transport = toTransport(source);
  }

  // Rejects `opened` and `closed`. `drop` false leaves the transport to the caller, which still
  // has an HTTP rejection to write.
  #failHandshake(error: unknown, drop = true): void {
    if (this.#isOpen || this.#settled) return;
    this.#clock.clearTimeout(this.#handshakeTimer);
    this.#settled = true;
    const reason = error instanceof WebSocketError ? error : new WebSocketError(
      error instanceof Error ? error.message : "Handshake failed",
      { closeCode: CloseCode.ABNORMAL_CLOSURE, cause: error },
    );
    this.#rejectOpened(reason);
    this.#rejectClosed(reason);
    if (!drop) return;
    this.#conn?.receiveEof();
    this.#dropTransport();
  }

  // The connection is OPEN: build the message streams and resolve `opened`.
  #open(): void {
    if (this.#settled) return;
    this.#clock.clearTimeout(this.#handshakeTimer);
    this.#isOpen = true;
    const readable = new ReadableStream<string | Uint8Array>(
      {
        start: (controller) => {
          this.#messages = controller;
        },
        pull: () => this.#onPull(),
        cancel: (reason) => this.#closeWithReason(reason),
      },
      { highWaterMark: this.#readableHighWaterMark, size: messageSize },
    );
    const writable = new WritableStream<MessageInput>(
      {
        write: (chunk) => this.#write(chunk),
        close: () => this.#closeFromWritable(undefined),
        abort: (reason) => this.#closeFromWritable(reason),
      },
      {
        highWaterMark: 1,
        size: () => {
          this.#queuedWrites++;
          return 1;
        },
      },
    );
    this.#startKeepalive();
    this.#resolveOpened({ readable, writable, protocol: this.#protocol, extensions: this.#extensions });
  }

  // ---------------------------------------------------------------------------------------------
  // Reading

  async #pump(): Promise<void> {
    const transport = this.#transport!;
    const conn = this.#conn!;
    try {
      for (;;) {
        if (this.#messages !== undefined && (this.#messages.desiredSize ?? 1) <= 0 && !this.#readableDone) {
          await new Promise<void>((resolve) => {
            this.#resumeReading = resolve;
          });
        }
        const chunk = await transport.read();
        if (chunk === null) {
          conn.receiveEof();
          this.#afterInput();
          break;
        }
        conn.receiveData(chunk);
        this.#afterInput();
        // Messages still being decoded hold the next read back: memory stays bounded.
        if (this.#decoding !== undefined) await this.#decoding;
        if (conn.state === State.CLOSED) break;
      }
    } catch (error) {
      conn.receiveEof();
      this.#afterInput(error);
    }
    this.#transportDone = true;
    this.#finish();
  }

  #onPull(): void {
    const resume = this.#resumeReading;
    if (resume !== undefined) {
      this.#resumeReading = undefined;
      resume();
    }
    if (this.#awaitingDrain && this.#queueEmpty()) this.#afterDrain();
  }

  #queueEmpty(): boolean {
    const messages = this.#messages;
    return messages === undefined || messages.desiredSize === this.#readableHighWaterMark;
  }

  // Acts on the events of the input just fed, then flushes what they queued.
  #afterInput(transportError?: unknown): void {
    const conn = this.#conn!;
    for (const event of conn.events()) this.#onEvent(event);
    if (conn.state === State.CLOSED) {
      this.#finish(transportError);
    } else {
      if (conn.closeExpected) this.#armCloseTimer();
      this.#flush();
    }
  }

  // Events after a message still being decoded wait for it, so everything stays in order.
  #onEvent(event: ConnectionEvent): void {
    if (event.type !== "encoded" && this.#decoding === undefined) {
      this.#handleEvent(event);
      return;
    }
    const previous = this.#decoding ?? Promise.resolve();
    const next = previous.then(() => (event.type === "encoded" ? this.#decode(event) : this.#handleEvent(event)));
    this.#decoding = next;
    void next.then(() => {
      if (this.#decoding === next) this.#decoding = undefined;
    });
  }

  async #decode(event: EncodedEvent): Promise<void> {
    const conn = this.#conn!;
    if (conn.error !== undefined || this.#readableDone) return;
    try {
      const message = await conn.decode(event);
      if (!this.#readableDone) this.#messages?.enqueue(message.data);
    } catch (error) {
      conn.fail(error instanceof ProtocolError ? error : new ProtocolError("WS_ERR_EXTENSION", CloseCode.INTERNAL_ERROR, String(error)));
      for (const follow of conn.events()) this.#handleEvent(follow);
      this.#flush();
    }
  }

  #handleEvent(event: ConnectionEvent): void {
    switch (event.type) {
      case "text":
      case "binary":
        this.#messages?.enqueue(event.data);
        break;
      case "pong":
        this.#clock.clearTimeout(this.#pongTimer);
        this.#pongTimer = undefined;
        break;
      case "open":
        this.#protocol = event.protocol;
        this.#extensions = formatExtensionHeader(event.extensions);
        this.#open();
        break;
      case "handshake-error":
        this.#failHandshake(event.error);
        break;
      case "close":
      case "error":
        // The Close reply (or the failing Close) waits until the messages before it are read,
        // so an application can still answer them (RFC 6455 §5.5.1).
        this.#awaitingDrain = true;
        this.#armCloseTimer();
        if (this.#queueEmpty()) this.#afterDrain();
        break;
      default:
        break;
    }
  }

  // Every message before the Close was read: give the reader's answers a turn, then close.
  #afterDrain(): void {
    this.#awaitingDrain = false;
    this.#clock.setTimeout(() => {
      const conn = this.#conn!;
      if (conn.closePending) conn.completeClose();
      this.#closeReadable();
      this.#flush();
    }, 0);
  }

  #closeReadable(): void {
    if (this.#readableDone) return;
    this.#readableDone = true;
    const conn = this.#conn!;
    try {
      if (conn.error !== undefined || (conn.state === State.CLOSED && !conn.wasClean && conn.closeReceived === undefined)) {
        this.#messages?.error(this.#closeError());
      } else {
        this.#messages?.close();
      }
    } catch {
      // Already closed or errored by a cancel.
    }
    this.#resumeReading?.();
  }

  // ---------------------------------------------------------------------------------------------
  // Writing

  #write(chunk: MessageInput): Promise<void> | void {
    const conn = this.#conn!;
    if (conn.extensions.length > 0) return this.#writeEncoded(chunk);
    this.#queuedWrites--;
    if (conn.state !== State.OPEN || conn.closeSent !== undefined) {
      this.#wakeCloseWaiter();
      throw new WebSocketError("Cannot send: the connection is closing", { closeCode: conn.closeSent?.code ?? null! });
    }
    if (typeof chunk === "string") conn.sendText(chunk);
    else if (chunk instanceof Uint8Array) conn.sendBinary(chunk);
    else if (ArrayBuffer.isView(chunk)) conn.sendBinary(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    else if (chunk instanceof ArrayBuffer) conn.sendBinary(new Uint8Array(chunk));
    else throw new TypeError("Cannot send: a message must be a string, an ArrayBuffer or a typed array");
    this.#wakeCloseWaiter();
    if (conn.bufferedAmount >= this.#writableHighWaterMark) {
      // A producer that never yields would otherwise grow the queue without bound.
      this.#flush();
    } else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      this.#schedule(this.#flushCallback);
    }
    if (this.#inflight + conn.bufferedAmount >= this.#writableHighWaterMark) {
      return new Promise<void>((resolve) => this.#writeWaiters.push(resolve));
    }
  }

  // With extensions, each message is encoded (e.g. compressed) before it is queued.
  async #writeEncoded(chunk: MessageInput): Promise<void> {
    const conn = this.#conn!;
    const text = typeof chunk === "string";
    const bytes = text ? encoder.encode(chunk) : toBytes(chunk);
    const { data, rsv } = await conn.encode(bytes, text ? "text" : "binary");
    this.#queuedWrites--;
    if (conn.state !== State.OPEN || conn.closeSent !== undefined) {
      this.#wakeCloseWaiter();
      throw new WebSocketError("Cannot send: the connection is closing", { closeCode: conn.closeSent?.code ?? null! });
    }
    if (text) conn.sendText(data, true, rsv);
    else conn.sendBinary(data, true, rsv);
    this.#wakeCloseWaiter();
    this.#flush();
    if (this.#inflight + conn.bufferedAmount >= this.#writableHighWaterMark) {
      await new Promise<void>((resolve) => this.#writeWaiters.push(resolve));
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    const conn = this.#conn;
    const transport = this.#transport;
    if (conn === undefined || transport === undefined || this.#transportClosing) return;
    const chunks = conn.dataToSend();
    if (chunks.length > 0) {
      let length = 0;
      for (const chunk of chunks) length += chunk.length;
      this.#inflight += length;
      let pending: Promise<void> | undefined;
      try {
        pending = transport.write(chunks);
      } catch (error) {
        this.#onTransportError(error);
        return;
      }
      if (pending === undefined) this.#accepted(length);
      else pending.then(() => this.#accepted(length), (error: unknown) => this.#onTransportError(error));
    }
    if (conn.shouldCloseTransport) void this.#endTransport();
  }

  #accepted(length: number): void {
    this.#inflight -= length;
    if (this.#inflight < this.#writableHighWaterMark && this.#writeWaiters.length > 0) {
      const waiters = this.#writeWaiters;
      this.#writeWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  #onTransportError(error: unknown): void {
    this.#conn?.receiveEof();
    this.#dropTransport();
    this.#finish(error);
  }

  // Half-closes the transport once every queued byte is written (the server closes first,
  // §7.1.1); the peer then closes its side, or the close timer drops it. Every caller waits for
  // the same half-close, so nothing is dropped while still being written.
  #endTransport(): Promise<void> {
    this.#ending ??= this.#closeWriter();
    return this.#ending;
  }

  async #closeWriter(): Promise<void> {
    this.#transportClosing = true;
    this.#armCloseTimer();
    try {
      await this.#transport?.end();
    } catch {
      // The transport is already gone.
    }
    // §7.1.7: after failing the connection there is nothing to wait for from the peer.
    const conn = this.#conn;
    if (conn !== undefined && conn.error !== undefined && conn.state !== State.CLOSED) {
      this.#dropTransport();
      conn.receiveEof();
      this.#finish();
    }
  }

  async #flushAndEnd(): Promise<void> {
    this.#flush();
    await this.#endTransport();
    this.#dropTransport();
  }

  #dropTransport(): void {
    this.#transportClosing = true;
    this.#transport?.destroy();
  }

  // ---------------------------------------------------------------------------------------------
  // Closing

  /** `close()` from the application. */
  close(code: number | undefined, reason: string): void {
    if (!this.#isOpen) {
      this.#failHandshake(new WebSocketError("The opening handshake was aborted by close()", { closeCode: CloseCode.ABNORMAL_CLOSURE }));
      return;
    }
    if (code !== undefined && code !== CloseCode.NORMAL_CLOSURE && (code < 1000 || code > 4999)) {
      throw new UsageError("WS_ERR_INVALID_CLOSE_CODE", `Invalid close code: ${code}`);
    }
    if (this.#userCloseRequested) return;
    this.#userCloseRequested = true;
    // Messages already written to the writable go out before the Close frame.
    this.#whenWritesSeen(() => this.#sendClose(code, reason));
  }

  #sendClose(code: number | undefined, reason: string): void {
    const conn = this.#conn!;
    if (conn.closePending) conn.completeClose();
    else if (conn.state === State.OPEN && conn.closeSent === undefined) conn.sendClose(code, reason);
    else return;
    this.#armCloseTimer();
    this.#flush();
  }

  #whenWritesSeen(callback: () => void): void {
    if (this.#queuedWrites <= 0) {
      callback();
      return;
    }
    const timer = this.#clock.setTimeout(() => {
      this.#closeWaiter = undefined;
      callback();
    }, this.#closeTimeout);
    this.#closeWaiter = () => {
      if (this.#queuedWrites > 0) return;
      this.#closeWaiter = undefined;
      this.#clock.clearTimeout(timer);
      // Let the sink's flush run first.
      this.#schedule(callback);
    };
  }

  #wakeCloseWaiter(): void {
    this.#closeWaiter?.();
  }

  #closeWithReason(reason: unknown): void {
    this.#readableDone = true;
    try {
      if (reason instanceof WebSocketError && reason.closeCode !== null) this.close(reason.closeCode, reason.reason);
      else this.close(undefined, "");
    } catch {
      this.close(undefined, "");
    }
  }

  #closeFromWritable(reason: unknown): void {
    this.#closeWithReason(reason);
  }

  #armCloseTimer(): void {
    if (this.#closeTimer !== undefined || this.#transportDone) return;
    this.#closeTimer = this.#clock.setTimeout(() => {
      this.#dropTransport();
      this.#conn?.receiveEof();
      this.#finish();
    }, this.#closeTimeout);
  }

  #startKeepalive(): void {
    const keepalive = this.#keepalive;
    if (keepalive === undefined) return;
    const tick = (): void => {
      const conn = this.#conn!;
      if (conn.state !== State.OPEN || conn.closeSent !== undefined) return;
      if (this.#pongTimer === undefined) {
        const payload = new Uint8Array(4);
        new DataView(payload.buffer).setUint32(0, ++this.#pingCounter);
        conn.sendPing(payload);
        this.#flush();
        this.#pongTimer = this.#clock.setTimeout(() => {
          this.#localFailure = new WebSocketError("Keepalive timeout: no pong received", {
            closeCode: CloseCode.INTERNAL_ERROR,
          });
          conn.failConnection(CloseCode.INTERNAL_ERROR, "keepalive ping timeout");
          this.#flush();
          // The Close frame goes out before the transport is dropped: the peer is unresponsive,
          // not gone, and should learn why.
          void this.#endTransport().then(() => {
            this.#dropTransport();
            conn.receiveEof();
            this.#finish();
          });
        }, keepalive.timeout);
      }
      this.#keepaliveTimer = this.#clock.setTimeout(tick, keepalive.interval);
    };
    this.#keepaliveTimer = this.#clock.setTimeout(tick, keepalive.interval);
  }

  #closeError(cause?: unknown): WebSocketError {
    if (this.#localFailure !== undefined) return this.#localFailure;
    const conn = this.#conn!;
    const error = conn.error;
    if (error !== undefined) {
      return new WebSocketError(error.message, { closeCode: error.closeCode, cause: error });
    }
    return new WebSocketError("The connection closed without a closing handshake", {
      closeCode: CloseCode.ABNORMAL_CLOSURE,
      cause,
    });
  }

  // The transport is gone (or given up on): settle `closed`, end the readable, stop the timers.
  #finish(cause?: unknown): void {
    const conn = this.#conn;
    if (conn === undefined || conn.state !== State.CLOSED) return;
    this.#clock.clearTimeout(this.#closeTimer);
    this.#clock.clearTimeout(this.#keepaliveTimer);
    this.#clock.clearTimeout(this.#pongTimer);
    this.#clock.clearTimeout(this.#handshakeTimer);
    this.#keepaliveTimer = this.#pongTimer = undefined;
    this.#transportDone = true;
    if (!this.#transportClosing) void this.#endTransport().then(() => this.#dropTransport());
    if (!this.#isOpen) {
      this.#failHandshake(cause ?? new WebSocketError("The connection closed during the opening handshake"));
      return;
    }
    if (!this.#awaitingDrain) this.#closeReadable();
    for (const wake of this.#writeWaiters) wake();
    this.#writeWaiters = [];
    if (this.#settled) return;
    this.#settled = true;
    const received = conn.closeReceived;
    if (received !== undefined && conn.error === undefined && this.#localFailure === undefined) {
      // The peer's Close arrived before the transport ended: the peer closed on purpose. Our reply
      // may not have gone out (a server may close TCP right after its Close, §7.1.1); the code is
      // still the one it sent (§7.1.5).
      this.#resolveClosed({ closeCode: received.code, reason: received.reason });
    } else {
      this.#rejectClosed(this.#closeError(cause));
    }
  }
}

const encoder = new TextEncoder();

function toBytes(chunk: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError("Cannot send: a message must be a string, an ArrayBuffer or a typed array");
}

function messageSize(message?: string | Uint8Array): number {
  if (message === undefined) return 0;
  return typeof message === "string" ? message.length : message.byteLength;
}

// The validated request as a WHATWG Request, for the upgrade hook and the handler.
function toWebRequest(request: UpgradeRequest, scheme: "ws:" | "wss:"): Request {
  const headers = new Headers();
  for (const [name, value] of request.headers) headers.append(name, value);
  const base = `${scheme === "wss:" ? "https" : "http"}://${request.host}`;
  return new Request(new URL(request.target, base), { method: "GET", headers });
}
