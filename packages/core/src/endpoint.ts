/**
 * The connection layer: one sans-I/O {@link Connection}, one {@link Transport} and a
 * {@link Clock}, run through one lifecycle ({@link Phase}, transitions in `lifecycle.ts`). It
 * reads the transport, hands messages, pings, pongs and the end to its owner through plain
 * callbacks ({@link EndpointOwner}), and writes what the connection queued, batched per turn.
 * No streams, and no promise per message: both WHATWG interfaces (`WebSocket`,
 * `WebSocketStream`) are owners of an `Endpoint`.
 *
 * Bounded under abuse: the transport is read only while the owner wants messages and while what
 * reading made this end write (pongs, and answers the owner sent from inside a message
 * callback) since the buffer was last below the write high-water mark stays below that mark, so a
 * peer that floods pings and never reads is simply no longer read. What the application writes
 * on its own does not stop reading: a client streaming a large message to an echo server must go
 * on reading the echo, or both ends would wait on each other. A transport being closed after a failure
 * or a refused handshake is half-closed, then read and discarded for at most `closeTimeout`
 * (a lingering close), so the peer receives the Close or the HTTP refusal instead of a reset.
 *
 * @module
 */
import { ClientConnection, type ClientConnectionOptions } from "./client.ts";
import { CloseCode, encodeClosePayload } from "./close.ts";
import type { Connection, ConnectionOptions } from "./connection.ts";
import { connectionLogger, type DebugLogger, debugLogger } from "./debug-log.ts";
import { ProtocolError, UsageError, WebSocketError } from "./errors.ts";
import type { ConnectionEvent, EncodedEvent, MessageChunkEvent } from "./events.ts";
import { formatExtensionHeader } from "./extension-header.ts";
import type { UpgradeRequest } from "./handshake.ts";
import type { HttpHeadLimits } from "./http-head.ts";
import type { ConnectRequest, ConnectResponse } from "./http2-handshake.ts";
import { Keepalive, type KeepaliveOptions } from "./keepalive.ts";
import { checkTransition, isTerminal, type Phase } from "./lifecycle.ts";
import type { Hub } from "./pubsub.ts";
import { PingTracker } from "./ping.ts";
import { IncomingMessage, type MessageSource, type MessageStream, readSource, SourceBuffers, type SourceReader } from "./message-stream.ts";
import { ServerConnection } from "./server.ts";
import { State } from "./state.ts";
import { type ConnectionStats, StatsCounters } from "./stats.ts";
import { type Clock, defaultClock, defaultSchedule, toTransport, type Transport, type TransportLike, type TransportSink } from "./transport.ts";
import { decideUpgrade, lazyWebRequest, requestUrl, type ServerOptions } from "./upgrade.ts";

/** Options of an {@link Endpoint}, shared by both roles and both interfaces. */
export interface EndpointOptions extends ConnectionOptions, HttpHeadLimits {
  /** Timers; default: the global `setTimeout` / `clearTimeout`. */
  readonly clock?: Clock;
  /** Defers a flush of queued frames to the transport. Default: the next macrotask ({@link defaultSchedule}). */
  readonly schedule?: (callback: () => void) => void;
  /** Milliseconds to wait for the closing handshake (and a lingering close) before dropping the transport. Default 10000. */
  readonly closeTimeout?: number;
  /** Milliseconds the opening handshake may take. Default 10000. */
  readonly handshakeTimeout?: number;
  /** Keepalive pings; off by default. */
  readonly keepalive?: KeepaliveOptions;
  /** Bytes queued for the transport and not yet accepted before writers wait and the transport is no longer read. Default 1 MiB. */
  readonly writableHighWaterMark?: number;
  /**
   * With `streamMessages`: bytes a received {@link MessageStream} queues before the transport is
   * no longer read (the rest of the chunk being read may go over it). Default 64 KiB.
   */
  readonly messageStreamHighWaterMark?: number;
}

/** How a connection ended, handed to {@link EndpointOwner.closed}. */
export interface CloseResult {
  /** True when the closing handshake completed: the peer's Close arrived and nothing failed. */
  readonly wasClean: boolean;
  /** RFC 6455 §7.1.5: the code of the peer's Close (1005 when it had none), or 1006 when none arrived. */
  readonly code: number;
  /** The reason of the peer's Close, or `""`. */
  readonly reason: string;
  /** Why it was not clean; its `closeCode` is the code this end failed with (1002, 1007, 1011...) or 1006. */
  readonly error: WebSocketError | undefined;
}

/** What the handshake agreed, handed to {@link EndpointOwner.opened}. */
export interface OpenInfo {
  readonly protocol: string;
  readonly extensions: string;
}

/** The callbacks an owner (an interface) gives its endpoint. Called from the read loop, never re-entrantly from the owner's own calls. */
export interface EndpointOwner {
  /** Client: the handshake completed. (A server's endpoint is handed over already open.) */
  onOpen(info: OpenInfo): void;
  /** A message: `string` for text, `Uint8Array` for binary. */
  onMessage(data: string | Uint8Array): void;
  /**
   * With `streamMessages`: a message as a stream, as soon as its first piece arrived (instead of
   * {@link onMessage}). An owner without it has every streamed message cancelled.
   */
  onMessageStream?(message: MessageStream): void;
  /**
   * The peer's Close arrived, or the connection failed (`error`, when the peer broke the
   * protocol): deliver what is queued, then call {@link Endpoint.drained}.
   */
  onClosing(error: WebSocketError | undefined): void;
  /** The end, exactly once (also when the handshake failed). */
  onClose(result: CloseResult): void;
  /** What is buffered for the transport fell below the write high-water mark. */
  onWritable?(): void;
  /** A Pong arrived. */
  onPong?(data: Uint8Array): void;
}

/**
 * What a client's transport source may use to do the opening handshake itself, out of band: over
 * HTTP/2 (RFC 8441) the request is a stream's headers rather than bytes on the transport.
 */
export interface ClientHandshake {
  /** The extended CONNECT request to open the stream with (see `createConnectRequest`). */
  connectRequest(): ConnectRequest;
}

/**
 * A transport whose opening handshake was done out of band: a stream opened with the
 * {@link ClientHandshake.connectRequest} fields, and the server's response to them, which the
 * endpoint checks in place of a 101 (a 2xx, the subprotocol and extensions offered).
 */
export interface ConnectTunnel {
  readonly transport: TransportLike;
  readonly response: Omit<ConnectResponse, "body">;
}

/**
 * A transport to open for a client: the transport, or a function of the URL that opens it. The
 * function may instead do the handshake itself (HTTP/2) and return a {@link ConnectTunnel}.
 */
export type TransportSource =
  | TransportLike
  | Promise<TransportLike>
  | ((url: URL, signal: AbortSignal, handshake: ClientHandshake) => TransportLike | ConnectTunnel | Promise<TransportLike | ConnectTunnel>);

/** Client options of an endpoint: the handshake's and the connection layer's, and a signal that aborts the handshake. */
export interface ClientEndpointOptions extends EndpointOptions, Omit<ClientConnectionOptions, keyof ConnectionOptions | keyof HttpHeadLimits> {
  /** Aborts the opening handshake (not an open connection). */
  readonly signal?: AbortSignal;
}

const MiB = 1024 * 1024;

// The endpoint's push-mode input handlers, for EndpointSink (set in Endpoint's static block).
let onData!: (endpoint: Endpoint, chunk: Uint8Array) => void;
let onInputEnd!: (endpoint: Endpoint, error?: unknown) => void;

/** See the module notes. Create one with {@link Endpoint.connect} or {@link Endpoint.accept}. */
export class Endpoint {
  static {
    onData = (endpoint, chunk) => endpoint.#onData(chunk);
    onInputEnd = (endpoint, error) => endpoint.#onInputEnd(error);
  }

  /** The request URL (client), or the URL the client asked for (server). */
  url = "";
  /** The subprotocol agreed, or `""`. */
  protocol = "";
  /** Server: the pub/sub hub of its server, set when accepted by a server. */
  hub: Hub | undefined;
  /** The `Sec-WebSocket-Extensions` agreed, or `""`. */
  extensions = "";
  readonly #clock: Clock;
  readonly #schedule: (callback: () => void) => void;
  readonly #closeTimeout: number;
  readonly #handshakeTimeout: number;
  readonly #keepaliveOptions: KeepaliveOptions | undefined;
  #keepalive: Keepalive | undefined;
  readonly #writableHighWaterMark: number;
  readonly #streamMessages: boolean;
  readonly #messageStreamHighWaterMark: number;
  // The message being received as a stream, until its last piece; and whether it is over its
  // high-water mark (reading stops while it is).
  #incoming: { readonly message: IncomingMessage; full: boolean } | undefined;
  #fullStreams = 0;
  // Bytes handed to the transport so far, and those queued while handling input since the
  // buffer was last below the high-water mark (reading stops once they reach it).
  #writtenTotal = 0;
  // Whether an event of the chunk being handled kept a view of it (see #onData).
  #inputKept = false;
  #replyBytes = 0;
  #phase: Phase = "connecting";
  #owner: EndpointOwner | undefined;
  #conn: Connection | undefined;
  #transport: Transport | undefined;
  // Reading stops while the owner asked for a pause or too much waits to be written.
  #paused = false;
  #resumeReading: (() => void) | undefined;
  // Push mode (the transport calls back with each chunk, see Transport.listen): whether it was
  // taken, and whether the transport is paused now.
  #listening = false;
  #readingStopped = false;
  // Input is being handled: what it makes the owner send is flushed once, at its end.
  #inInput = false;
  #flushScheduled = false;
  // Made when first needed: an idle connection never schedules a flush.
  #flushCallback: (() => void) | undefined;
  // Messages being decoded by extensions, in arrival order; events after them wait.
  #decoding: Promise<void> | undefined;
  // Messages being encoded by extensions, in send order; a Close waits for them.
  #encoding: Promise<void> | undefined;
  #encodingBytes = 0;
  // Bytes handed to the transport and not yet accepted by it.
  #inflight = 0;
  #writeWaiters: (() => void)[] | undefined;
  #ending: Promise<void> | undefined;
  #transportDone = false;
  // The peer ended its side after its Close, while our reply was held back: the end of input is
  // handled once the reply went out (see #onInputEnd).
  #inputEndAfterReply = false;
  #dropped = false;
  // A failure decided here (keepalive, a handler) rather than by the peer.
  #localFailure: WebSocketError | undefined;
  #closeTimer: unknown;
  #handshakeTimer: unknown;
  #endListeners: (() => void)[] | undefined;
  // Pings sent and awaiting their Pong; made with the first Ping.
  #pings: PingTracker | undefined;
  // Debug logging (the `debug` option), prefixed with this connection's role and number.
  readonly #log: DebugLogger | undefined;
  // HTTP/2 (server): sends the handshake's answer as the stream's response.
  #respond: ((response: ConnectResponse) => void) | undefined;

  private constructor(options: EndpointOptions, role: "client" | "server") {
    const log = debugLogger(options.debug);
    this.#log = log === undefined ? undefined : connectionLogger(log, role);
    this.#clock = options.clock ?? defaultClock;
    this.#schedule = options.schedule ?? defaultSchedule;
    this.#closeTimeout = options.closeTimeout ?? 10_000;
    this.#handshakeTimeout = options.handshakeTimeout ?? 10_000;
    this.#keepaliveOptions = options.keepalive;
    this.#writableHighWaterMark = options.writableHighWaterMark ?? MiB;
    this.#streamMessages = options.streamMessages ?? false;
    this.#messageStreamHighWaterMark = options.messageStreamHighWaterMark ?? 64 * 1024;
  }

  /**
   * Opens a client connection to `url` over `transport`: the request is written, the response
   * checked, then {@link EndpointOwner.opened} is called and messages flow. Throws a
   * `UsageError`/`HandshakeError` synchronously only through `owner.closed` (never at the call).
   */
  static connect(url: string | URL, transport: TransportSource, options: ClientEndpointOptions, owner: EndpointOwner): Endpoint {
    const endpoint = new Endpoint(options, "client");
    endpoint.url = String(url);
    endpoint.#owner = owner;
    endpoint.#log?.(`connecting to ${endpoint.url}`);
    // Started after the caller's constructor returns: no owner callback runs inside it.
    queueMicrotask(() => void endpoint.#runClient(url, transport, options));
    return endpoint;
  }

  /**
   * Runs the server side of the opening handshake over `transport`: reads and validates the
   * request (answering 400/426/431 itself), asks `options.upgrade`, then answers 101. Resolves
   * with the open endpoint and the request, or `undefined` when the upgrade was refused or
   * failed (the refusal is written, then the transport is closed). `request` is built when first
   * read. Call {@link start} once an owner is attached.
   */
  static async accept(transport: TransportLike, options: ServerOptions): Promise<{ endpoint: Endpoint; request: Request } | undefined> {
    return new Endpoint(options, "server").#runServer(toTransport(transport), options);
  }

  /** The current phase. */
  get phase(): Phase {
    return this.#phase;
  }

  /** The WHATWG `readyState`: 0 connecting, 1 open, 2 closing, 3 closed. */
  get readyState(): number {
    switch (this.#phase) {
      case "connecting":
        return State.CONNECTING;
      case "open":
        return State.OPEN;
      case "closed":
      case "failed":
        return State.CLOSED;
      default:
        return State.CLOSING;
    }
  }

  /** Bytes queued for the transport and not yet accepted by it. */
  get bufferedAmount(): number {
    return this.#inflight + (this.#conn?.bufferedAmount ?? 0);
  }

  /** The peer's IP address, when the transport knows it (see `Transport.remoteAddress`). */
  get remoteAddress(): string | undefined {
    return this.#transport?.remoteAddress;
  }

  /** The peer's port, when the transport knows it. */
  get remotePort(): number | undefined {
    return this.#transport?.remotePort;
  }

  /** True while messages may be sent: open, or answering messages before a held-back Close reply. */
  get canSend(): boolean {
    return this.#phase === "open" || this.#phase === "reply-pending";
  }

  /** True when what is buffered is at or over the write high-water mark: writers should wait for {@link EndpointOwner.writable}. */
  get full(): boolean {
    return this.bufferedAmount >= this.#writableHighWaterMark;
  }

  /** Calls `listener` once the endpoint reaches a terminal phase (at once if it has). */
  onEnd(listener: () => void): void {
    if (isTerminal(this.#phase)) listener();
    else (this.#endListeners ??= []).push(listener);
  }

  /** Attaches the owner of a server endpoint. */
  attach(owner: EndpointOwner): void {
    this.#owner = owner;
  }

  /** Server: starts reading (frames that came with the request first). */
  start(): void {
    this.#afterInput();
    this.#read();
  }

  /** Stops reading the transport until {@link resume} (the owner's queue is full). */
  pause(): void {
    this.#paused = true;
    this.#updateReading();
  }

  /** Reads the transport again. */
  resume(): void {
    this.#paused = false;
    this.#wakeReader();
  }

  /**
   * Sends a message. Throws `UsageError` when the connection cannot send (see {@link canSend}).
   * Without extensions the frame is queued at once; with them (compression) it is encoded first,
   * in order with every other message.
   */
  send(data: string | Uint8Array, binary: boolean): void {
    const conn = this.#conn!;
    if (!this.canSend) throw new UsageError("WS_ERR_INVALID_STATE", "Cannot send: the connection is not open");
    if (conn.extensions.length > 0 || this.#encoding !== undefined) {
      this.#sendEncoded(data, binary);
      return;
    }
    if (binary) conn.sendBinary(data as Uint8Array);
    else conn.sendText(data);
    this.#queued();
  }

  /**
   * Server: sends a message framed once for many connections (pub/sub): `frame` is a whole frame
   * from `encodeFrame` or a promise of one (still being compressed), sent in order with every
   * other message. `size` is what it counts in {@link backlog} meanwhile. Throws `UsageError` when
   * the connection cannot send.
   */
  sendFrame(frame: Uint8Array | Promise<Uint8Array>, size: number): void {
    const conn = this.#conn!;
    if (!this.canSend) throw new UsageError("WS_ERR_INVALID_STATE", "Cannot send: the connection is not open");
    if (this.#encoding === undefined && frame instanceof Uint8Array) {
      conn.sendFrameBytes(frame, size);
      this.#queued();
      return;
    }
    this.#afterEncoding(size, async () => {
      const bytes = await frame;
      if (!this.canSend) return;
      conn.sendFrameBytes(bytes, size);
      this.#flush();
    });
  }

  /**
   * Bytes waiting to go out: {@link bufferedAmount} and the messages still being encoded
   * (compressed). What pub/sub holds against a subscriber's backlog bound.
   */
  get backlog(): number {
    return this.bufferedAmount + this.#encodingBytes;
  }

  /** What this connection's encoding of a message depends on; see `Connection.sharedEncodingKey`. */
  get sharedEncodingKey(): string | undefined {
    return this.#conn?.sharedEncodingKey;
  }

  /** Encodes a message once for every connection with the same {@link sharedEncodingKey}. */
  encodeShared(data: Uint8Array, binary: boolean): Promise<{ data: Uint8Array; rsv: number }> {
    return this.#conn!.encodeShared(data, binary ? "binary" : "text");
  }

  /**
   * Sends a Ping with a payload of its own (a counter) and resolves with the round-trip time in
   * milliseconds (on the endpoint's clock) once the Pong that echoes it arrives. If the
   * connection ends first, the promise rejects with a {@link WebSocketError}; a promise nobody
   * awaits is not reported as an unhandled rejection. Throws `UsageError`
   * (`WS_ERR_INVALID_STATE`) at the call when the connection is not open.
   */
  ping(): Promise<number> {
    return this.#sendPing(true);
  }

  /** What this connection sent and received so far; zeros before the handshake. */
  get stats(): ConnectionStats {
    return (this.#conn?.stats ?? NO_STATS).snapshot();
  }

  /** @internal The live counters (for a server's totals), `undefined` before the handshake. */
  get counters(): StatsCounters | undefined {
    return this.#conn?.stats;
  }

  /**
   * Sends `source` as one fragmented message (RFC 6455 §5.4): each non-empty chunk is one frame
   * as it comes, then an empty frame with FIN. `type` `"text"` or `"binary"`; when omitted the
   * first chunk decides (a string: text; bytes: binary; no chunk: an empty binary message).
   * Strings are sent as UTF-8, bytes as they are (in a text message, taken as UTF-8), not copied
   * on a server: do not modify a chunk once yielded. Never compressed (RFC 7692 §6 allows
   * uncompressed messages). Other messages sent meanwhile wait behind it (counted in
   * {@link backlog}); control frames do not. The source is read only while
   * {@link bufferedAmount} is below the write high-water mark. On a transport with
   * `released()`, a byte stream is read in BYOB mode into a few buffers reused once released,
   * and a {@link MessageStream} sent on this way has its connection read only while a read of it
   * is pending (nothing queues ahead).
   *
   * Resolves once the last frame is queued and the buffer is below the high-water mark. Rejects
   * with a {@link WebSocketError} when the connection closes first (the source is cancelled),
   * and when the source fails or yields something other than a string or bytes: before the first
   * frame the connection is untouched (the error is the `cause`), after it the connection fails
   * with 1011 (a fragmented message cannot be abandoned). Throws `UsageError` when the
   * connection cannot send, `TypeError` when the stream is locked.
   */
  sendStream(source: MessageSource, type?: "text" | "binary"): Promise<void> {
    if (!this.canSend) throw new UsageError("WS_ERR_INVALID_STATE", "Cannot send: the connection is not open");
    // Byte streams are read into buffers the send reuses, where the transport tells when a write
    // is done with its chunks (see #streamOut).
    const reader = readSource(source, this.#transport?.released !== undefined);
    const previous = this.#encoding ?? Promise.resolve();
    const result = previous.then(() => this.#streamOut(reader, type));
    const next = result.then(noop, noop);
    this.#encoding = next;
    void next.then(() => {
      if (this.#encoding === next) this.#encoding = undefined;
    });
    return result;
  }

  /**
   * Starts the closing handshake with `code` (none when omitted) and `reason`, after every
   * message already sent (and still being encoded). The caller validated both (an invalid pair
   * throws here, before anything changes). During the handshake it aborts it; once closing it
   * does nothing.
   */
  close(code?: number, reason = ""): void {
    if (this.#phase === "connecting") {
      this.#failHandshake(new WebSocketError("The opening handshake was aborted by close()", { closeCode: CloseCode.ABNORMAL_CLOSURE }));
      return;
    }
    if (this.#phase !== "open") return;
    validateClose(code, reason);
    const send = (): void => {
      if (this.#phase !== "open") return;
      this.#conn!.sendClose(code, reason);
      this.#enter("close-sent");
      this.#armCloseTimer();
      this.#flush();
    };
    if (this.#encoding === undefined) send();
    else void this.#encoding.then(send);
  }

  /**
   * Fails the connection from this end (§7.1.7) with `code` (1011 for a handler failure, 1001 for
   * a server going away): the Close goes out at once and the transport is closed.
   */
  fail(code: number, reason: string, error: WebSocketError): void {
    if (isTerminal(this.#phase) || this.#phase === "closing") return;
    if (this.#phase === "connecting") {
      this.#failHandshake(error);
      return;
    }
    this.#localFailure ??= error;
    this.#abortIncoming(error);
    const conn = this.#conn!;
    // The peer broke the protocol and our Close for it is held back (deferClose): send that one,
    // as failConnection() would send nothing once the connection has an error.
    if (this.#phase === "reply-pending" && conn.error !== undefined) conn.completeClose();
    else conn.failConnection(code, reason);
    this.#enter("closing");
    this.#flush();
    // The Close frame goes out before the transport is dropped: the peer is unresponsive or
    // misbehaving, not gone, and should learn why.
    void this.#endTransport();
  }

  /** The owner delivered every message received before the Close: send the held-back reply. */
  drained(): void {
    if (this.#phase !== "reply-pending") return;
    // Give the owner's answers to those messages a turn to be sent first (and, with
    // extensions, to be encoded).
    const reply = (): void => {
      if (this.#encoding !== undefined) {
        void this.#encoding.then(reply);
        return;
      }
      if (this.#phase !== "reply-pending") return;
      this.#conn!.completeClose();
      this.#enter("closing");
      this.#flush();
      if (this.#inputEndAfterReply) {
        this.#inputEndAfterReply = false;
        this.#conn!.receiveEof();
        this.#afterInput();
        this.#finish();
      }
    };
    this.#schedule(reply);
  }

  /** A promise that resolves once {@link bufferedAmount} is below the high-water mark, or the connection ended. */
  whenWritable(): Promise<void> {
    if (!this.full || isTerminal(this.#phase)) return Promise.resolve();
    return new Promise<void>((resolve) => (this.#writeWaiters ??= []).push(resolve));
  }

  // ---------------------------------------------------------------------------------------------
  // The one place the phase changes.

  #enter(next: Phase): void {
    checkTransition(this.#phase, next);
    this.#log?.(`state ${this.#phase} -> ${next}`);
    this.#phase = next;
  }

  // ---------------------------------------------------------------------------------------------
  // Opening handshake

  async #runClient(url: string | URL, source: TransportSource, options: ClientEndpointOptions): Promise<void> {
    const abort = new AbortController();
    const signal = options.signal;
    const onAbort = (): void => abort.abort(signal?.reason);
    this.#handshakeTimer = this.#clock.setTimeout(() => {
      abort.abort(new WebSocketError("Handshake timed out", { closeCode: CloseCode.ABNORMAL_CLOSURE }));
    }, this.#handshakeTimeout);
    try {
      if (signal?.aborted) throw signal.reason;
      signal?.addEventListener("abort", onAbort, { once: true });
      // As on the server side, the Close that answers the peer (or fails the connection) waits
      // until the messages before it were delivered, so the application can answer them first.
      const conn = await ClientConnection.create(url, { ...options, deferClose: true, debug: this.#log });
      this.url = conn.request.url.href;
      this.#conn = conn;
      const { transport, response } = await abortable(
        typeof source === "function" ? source(conn.request.url, abort.signal, conn) : source,
        abort.signal,
      );
      if (this.#phase !== "connecting") {
        transport.destroy();
        return;
      }
      this.#transport = transport;
      abort.signal.addEventListener("abort", () => this.#failHandshake(abort.signal.reason), { once: true });
      if (response !== undefined) {
        // HTTP/2: the request went as the stream's headers; its response takes the 101's place.
        conn.receiveConnectResponse(response);
        this.#afterInput();
        if ((this.#phase as Phase) !== "open") {
          signal?.removeEventListener("abort", onAbort);
          return;
        }
      }
      this.#flush();
      this.#read(() => signal?.removeEventListener("abort", onAbort));
    } catch (error) {
      signal?.removeEventListener("abort", onAbort);
      this.#failHandshake(error);
    }
  }

  async #runServer(transport: Transport, options: ServerOptions): Promise<{ endpoint: Endpoint; request: Request } | undefined> {
    // A group hands over options with deferClose already set, made once for all its connections.
    this.#log?.("accepting a connection");
    const conn = new ServerConnection(this.#log !== undefined ? { ...options, deferClose: true, debug: this.#log } : options.deferClose === true ? options : { ...options, deferClose: true });
    this.#conn = conn;
    this.#transport = transport;
    this.#handshakeTimer = this.#clock.setTimeout(() => this.#failHandshake(new WebSocketError("Handshake timed out", { closeCode: CloseCode.ABNORMAL_CLOSURE })), this.#handshakeTimeout);
    const connect = options.connect;
    this.#respond = connect?.respond;
    try {
      let request = connect !== undefined
        ? this.#requestEvent(conn, () => conn.receiveConnectRequest(connect.request))
        : options.head === undefined
        ? undefined
        : this.#requestEvent(conn, () => conn.receiveRequestHead(options.head!.request, options.head!.rest));
      while (request === undefined && conn.state === State.CONNECTING && this.#phase === "connecting") {
        const chunk = await transport.read();
        request = this.#requestEvent(conn, () => (chunk === null ? conn.receiveEof() : conn.receiveData(chunk)));
      }
      if (request === undefined || this.#phase !== "connecting") {
        this.#refused();
        return undefined;
      }
      // The WHATWG Request is built only if the upgrade hook or the caller reads it.
      const webRequest = lazyWebRequest(request, options.scheme ?? "ws:");
      this.url = requestUrl(request, options.scheme ?? "ws:");
      const decision = await decideUpgrade(conn, request, webRequest, options.upgrade, options.path);
      if (this.#phase !== "connecting") return undefined;
      if (decision.refused !== undefined) {
        this.#failHandshake(decision.refused, false);
        this.#refused();
        return undefined;
      }
      this.protocol = decision.accepted.protocol ?? "";
      this.extensions = conn.agreedExtensions;
      this.#opened();
      this.#sendResponse();
      this.#flush();
      return {
        endpoint: this,
        get request() {
          return webRequest();
        },
      };
    } catch (error) {
      this.#failHandshake(error);
      return undefined;
    }
  }

  // Feeds the server connection, returning the request once it is in.
  #requestEvent(conn: ServerConnection, feed: () => void): UpgradeRequest | undefined {
    feed();
    for (const event of conn.events()) {
      if (event.type === "request") return event.request;
      if (event.type === "handshake-error") this.#failHandshake(event.error, false);
    }
    return undefined;
  }

  // A refused or failed handshake: the HTTP answer is written, then a lingering close.
  #refused(): void {
    this.#sendResponse();
    this.#flush();
    void this.#endTransport();
  }

  // HTTP/2: the answer goes out as the stream's response, once.
  #sendResponse(): void {
    const respond = this.#respond;
    const response = (this.#conn as ServerConnection | undefined)?.response;
    if (respond === undefined || response === undefined) return;
    this.#respond = undefined;
    respond(response);
  }

  #opened(): void {
    this.#clock.clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
    this.#enter("open");
    this.#startKeepalive();
  }

  // Rejects the handshake. `drop` false leaves the transport open for the HTTP refusal.
  #failHandshake(error: unknown, drop = true): void {
    if (this.#phase !== "connecting") return;
    this.#clock.clearTimeout(this.#handshakeTimer);
    const reason = error instanceof WebSocketError ? error : new WebSocketError(
      error instanceof Error ? error.message : "Handshake failed",
      { closeCode: CloseCode.ABNORMAL_CLOSURE, cause: error },
    );
    this.#localFailure = reason;
    this.#enter("failed");
    this.#log?.(`handshake failed: ${reason.message}`);
    this.#conn?.receiveEof();
    if (drop) this.#dropTransport();
    else this.#armCloseTimer();
    this.#owner?.onClose({ wasClean: false, code: CloseCode.ABNORMAL_CLOSURE, reason: "", error: reason });
    this.#ended();
  }

  // ---------------------------------------------------------------------------------------------
  // Reading

  // Reads the transport: in push mode when it offers it, otherwise with read() in a loop.
  // `done` runs once the input ended (or failed).
  #read(done?: () => void): void {
    const transport = this.#transport!;
    if (transport.listen !== undefined && transport.listen(new EndpointSink(this, done))) {
      this.#listening = true;
      this.#updateReading();
      return;
    }
    void this.#pump().finally(done);
  }

  // Push mode: a chunk. Handled at once; what the owner sends in answer goes out in one write
  // at the end, in this turn.
  #onData(chunk: Uint8Array): void {
    const conn = this.#conn!;
    if (this.#transportDone || conn.state === State.CLOSED) return;
    // A transport that reuses its read buffers gets the chunk back when nothing kept a view of it
    // (the handshake's input is never given back: the head parser's state is not tracked).
    const recycle = conn.state === State.CONNECTING ? undefined : this.#transport!.recycle;
    this.#inputKept = false;
    this.#inInput = true;
    const before = this.#writtenTotal + conn.bufferedAmount;
    try {
      conn.receiveData(chunk);
      this.#afterInput();
    } finally {
      this.#inInput = false;
      this.#replyBytes += this.#writtenTotal + conn.bufferedAmount - before;
    }
    if (recycle !== undefined && !this.#inputKept && !conn.holdsInput) recycle.call(this.#transport, chunk);
    if ((conn.state as State) === State.CLOSED) {
      // As the read loop does: the connection is over, so is reading.
      this.#endInput();
      return;
    }
    this.#updateReading();
  }

  // Push mode: the end of input, or a failure.
  #onInputEnd(error?: unknown): void {
    if (this.#transportDone) return;
    this.#transportDone = true;
    // The peer's Close is in and our reply is held until the owner drained the messages before
    // it: an orderly end of the peer's side is a half-close, and the reply still goes out (the
    // end of input is handled after it, in drained()). HTTP/2 peers end their stream right after
    // their Close frame, often in the same DATA frame (Chromium does; RFC 8441 §5: END_STREAM
    // is the orderly TCP close, a half-close), so there the reply would otherwise never be sent.
    // Only when nothing is being encoded or streamed out: a reply held behind an outgoing message
    // (a streamed one may take any time) is given up at the end of input, as before.
    if (error === undefined && this.#phase === "reply-pending" && this.#encoding === undefined) {
      this.#inputEndAfterReply = true;
      return;
    }
    this.#conn!.receiveEof();
    this.#afterInput(error);
    this.#finish();
  }

  #endInput(): void {
    this.#transportDone = true;
    this.#transport!.pause?.();
    this.#finish();
  }

  // Push mode: pauses the transport while the owner paused, too much waits to be written, or
  // messages are still being decoded (as the read loop waits); resumes it otherwise.
  #updateReading(): void {
    if (!this.#listening || this.#transportDone || this.#dropped) return;
    const stop = this.#decoding !== undefined || this.#mustStopReading();
    if (stop === this.#readingStopped) return;
    this.#readingStopped = stop;
    if (stop) this.#transport!.pause?.();
    else this.#transport!.resume?.();
  }

  // Pull mode: the same input handling as push mode, fed by read() in a loop that waits while
  // reading should stop (and while messages are still being decoded: memory stays bounded).
  async #pump(): Promise<void> {
    const transport = this.#transport!;
    try {
      for (;;) {
        while (this.#mustStopReading()) await new Promise<void>((resolve) => (this.#resumeReading = resolve));
        const chunk = await transport.read();
        if (chunk === null) break;
        this.#onData(chunk);
        if (this.#transportDone) return;
        if (this.#decoding !== undefined) await this.#decoding;
      }
    } catch (error) {
      this.#onInputEnd(error);
      return;
    }
    this.#onInputEnd();
  }

  // Reading stops while the owner paused it, while a message stream is full, or while what reading
  // made us write fills the buffer (a peer that sends pings and never reads must not make us
  // queue pongs without bound). It goes on regardless once this end is closing: the input is
  // discarded, and the close timer bounds it.
  #mustStopReading(): boolean {
    const closing = this.#phase === "closing" || this.#phase === "close-sent" || isTerminal(this.#phase);
    return !closing && (this.#paused || this.#fullStreams > 0 || (this.full && this.#replyBytes >= this.#writableHighWaterMark));
  }

  #wakeReader(): void {
    this.#updateReading();
    const resume = this.#resumeReading;
    if (resume === undefined) return;
    this.#resumeReading = undefined;
    resume();
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
    // Which events keep a view of the input (for Transport.recycle): a binary message or a pong
    // handed on as it is, a message to decode, and anything that waits. A streamed piece handled
    // now is copied into its stream.
    const type = event.type;
    if (type === "binary" || type === "encoded" || type === "pong" || (type === "message-chunk" && this.#decoding !== undefined)) {
      this.#inputKept = true;
    }
    if (event.type !== "encoded" && this.#decoding === undefined) {
      this.#handleEvent(event);
      return;
    }
    const previous = this.#decoding ?? Promise.resolve();
    const next = previous.then(() => (event.type === "encoded" ? this.#decode(event) : this.#handleEvent(event)));
    this.#decoding = next;
    void next.then(() => {
      if (this.#decoding !== next) return;
      this.#decoding = undefined;
      this.#updateReading();
    });
  }

  async #decode(event: EncodedEvent): Promise<void> {
    const conn = this.#conn!;
    if (conn.error !== undefined || isTerminal(this.#phase)) return;
    try {
      const message = await conn.decode(event);
      if (conn.error === undefined && !isTerminal(this.#phase)) this.#deliver(message.data);
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
        this.#owner?.onMessage(event.data);
        break;
      case "message-chunk":
        this.#onMessageChunk(event);
        break;
      case "pong": {
        const answered = this.#pings?.pong(event.data) ?? 0;
        if (answered !== 0) this.#keepalive?.answered(answered);
        this.#owner?.onPong?.(event.data);
        break;
      }
      case "open":
        this.protocol = event.protocol;
        this.extensions = formatExtensionHeader(event.extensions);
        this.#opened();
        this.#owner?.onOpen({ protocol: this.protocol, extensions: this.extensions });
        break;
      case "handshake-error":
        this.#failHandshake(event.error);
        break;
      case "close":
      case "error":
        this.#onPeerClose();
        break;
      default:
        break;
    }
  }

  // The peer's Close, or its protocol error: the reply is held until the owner delivered the
  // messages before it (RFC 6455 §5.5.1).
  #onPeerClose(): void {
    this.#armCloseTimer();
    const conn = this.#conn!;
    const error = conn.error === undefined ? undefined : new WebSocketError(conn.error.message, { closeCode: conn.error.closeCode, cause: conn.error });
    if (this.#incoming !== undefined) {
      const close = conn.closeReceived;
      this.#abortIncoming(error ?? new WebSocketError("The connection closed before the end of the message", { closeCode: close?.code, reason: close?.reason }));
    }
    if (this.#phase === "open" && conn.closePending) {
      this.#enter("reply-pending");
      this.#owner?.onClosing(error);
    } else if (this.#phase === "close-sent") {
      this.#enter("closing");
      this.#owner?.onClosing(error);
    }
  }

  // A decoded (whole) message: as it is, or with `streamMessages` as a stream of one chunk.
  #deliver(data: string | Uint8Array): void {
    if (!this.#streamMessages) {
      this.#owner?.onMessage(data);
      return;
    }
    const text = typeof data === "string";
    this.#onMessageChunk({ type: "message-chunk", messageType: text ? "text" : "binary", data: text ? encoder.encode(data) : data, first: true, last: true });
  }

  // A piece of a streamed message: a new MessageStream on the first, pushed into it, ended on the
  // last. A stream over its high-water mark stops reading until it is pulled or cancelled.
  #onMessageChunk(event: MessageChunkEvent): void {
    let incoming = this.#incoming;
    if (event.first) {
      const entry = { message: undefined as unknown as IncomingMessage, full: false };
      const release = (): void => {
        if (!entry.full) return;
        entry.full = false;
        this.#fullStreams--;
        this.#wakeReader();
      };
      entry.message = new IncomingMessage(event.messageType, this.#messageStreamHighWaterMark, { pull: release, cancel: release });
      incoming = this.#incoming = entry;
      const owner = this.#owner;
      if (owner?.onMessageStream !== undefined) owner.onMessageStream(entry.message.stream);
      else void entry.message.stream.cancel();
    }
    if (incoming === undefined) return;
    if (!incoming.message.push(event.data) && !incoming.full) {
      incoming.full = true;
      this.#fullStreams++;
      this.#updateReading();
    }
    if (event.last) {
      incoming.message.end();
      this.#incoming = undefined;
      // A closed stream is never pulled again: what it still queues (at most its mark and one
      // chunk) is the reader's, and reading goes on.
      if (incoming.full) {
        incoming.full = false;
        this.#fullStreams--;
        this.#wakeReader();
      }
    }
  }

  // The message being streamed in will not end: its stream errors (its queue is dropped, so it
  // no longer holds reading back).
  #abortIncoming(error: unknown): void {
    const incoming = this.#incoming;
    if (incoming === undefined) return;
    this.#incoming = undefined;
    incoming.message.error(error);
    if (incoming.full) {
      incoming.full = false;
      this.#fullStreams--;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Writing

  // A streamed send (see sendStream), run in turn with the other sends that wait.
  // A byte stream read in BYOB mode lands in buffers of our own (SourceBuffers), reused once the
  // transport wrote the frames they went out in.
  async #streamOut(reader: SourceReader, type: "text" | "binary" | undefined): Promise<void> {
    const conn = this.#conn!;
    let started = false;
    let binary = type === "binary";
    const buffers = reader.byob ? new SourceBuffers() : undefined;
    let releasing: Promise<void> | undefined;
    for (;;) {
      let bytes: Uint8Array | undefined;
      try {
        let into = buffers?.target();
        if (buffers !== undefined && into === undefined) {
          // Every buffer in flight: wait for the release under way, or ask for one. A failed
          // release frees none; the read then gets a new buffer.
          await (releasing ?? this.#releaseSendBuffers(buffers));
          into = buffers.target();
        }
        const step = await reader.next(into);
        if (!step.done) {
          if (!started && type === undefined) binary = typeof step.value !== "string";
          bytes = chunkBytes(step.value);
        }
      } catch (error) {
        await reader.cancel(error);
        // Nothing sent yet, or the connection is closing anyway (e.g. the source was a message
        // stream the peer's Close cut short): the Close in progress ends the half-sent message
        // (§5.5.1 lets a Close follow a fragment).
        if (!started || this.#phase !== "open") throw new WebSocketError("The message source failed", { cause: error });
        const failure = new WebSocketError("The message source failed mid-message", { closeCode: CloseCode.INTERNAL_ERROR, cause: error });
        this.fail(CloseCode.INTERNAL_ERROR, "message source failed", failure);
        throw failure;
      }
      if (!this.canSend) {
        await reader.cancel(undefined);
        throw new WebSocketError("The connection closed before the end of the streamed message", { closeCode: this.#localFailure?.closeCode ?? undefined });
      }
      if (bytes === undefined) break;
      if (bytes.length === 0 && started) {
        buffers?.filled(bytes, false);
        continue;
      }
      if (!started) {
        if (binary) conn.sendBinary(bytes, false);
        else conn.sendText(bytes, false);
        started = true;
      } else {
        conn.sendContinuation(bytes, false);
      }
      this.#queued();
      if (buffers !== undefined) {
        buffers.filled(bytes, true);
        // Half the buffers in flight: ask for their release now, so the rest can be read into
        // while it comes.
        if (releasing === undefined && buffers.inFlight >= 4) {
          const release = (releasing = this.#releaseSendBuffers(buffers).then(() => {
            if (releasing === release) releasing = undefined;
          }));
        }
      }
      if (this.full) await this.whenWritable();
    }
    // §5.4: the message ends with a frame with FIN set (here an empty one).
    if (!started) {
      if (binary || type === undefined) conn.sendBinary(EMPTY);
      else conn.sendText(EMPTY);
    } else {
      conn.sendContinuation(EMPTY, true);
    }
    this.#queued();
    if (this.full) await this.whenWritable();
  }

  // Hands what is queued to the transport, then frees the send buffers in flight once the
  // transport released them.
  #releaseSendBuffers(buffers: SourceBuffers): Promise<void> {
    this.#flush();
    const transport = this.#transport;
    let released: Promise<void>;
    try {
      released = transport?.released?.() ?? Promise.reject(new Error("The transport cannot release"));
    } catch (error) {
      released = Promise.reject(error);
    }
    return buffers.release(released);
  }

  #queued(): void {
    if (this.full) {
      // A producer that never yields would otherwise grow the queue without bound.
      this.#flush();
    } else if (!this.#flushScheduled && !this.#inInput) {
      this.#flushScheduled = true;
      this.#schedule((this.#flushCallback ??= () => this.#flush()));
    }
  }

  // With extensions, each message is encoded (e.g. compressed) before it is queued, in order.
  #sendEncoded(data: string | Uint8Array, binary: boolean): void {
    const conn = this.#conn!;
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    this.#afterEncoding(bytes.length, async () => {
      const encoded = await conn.encode(bytes, binary ? "binary" : "text");
      if (!this.canSend) return;
      if (binary) conn.sendBinary(encoded.data, true, encoded.rsv);
      else conn.sendText(encoded.data, true, encoded.rsv);
      this.#flush();
    });
  }

  // Runs `task` after every message being encoded: the chain that keeps sends in order while
  // extensions work asynchronously. `size` counts in the backlog until it ran.
  #afterEncoding(size: number, task: () => Promise<void>): void {
    this.#encodingBytes += size;
    const previous = this.#encoding ?? Promise.resolve();
    const next = previous.then(task).catch((error: unknown) => {
      this.fail(CloseCode.INTERNAL_ERROR, "compression failed", new WebSocketError("Encoding a message failed", { closeCode: CloseCode.INTERNAL_ERROR, cause: error }));
    }).then(() => {
      this.#encodingBytes -= size;
      if (this.#encoding === next) this.#encoding = undefined;
    });
    this.#encoding = next;
  }

  #flush(): void {
    this.#flushScheduled = false;
    const conn = this.#conn;
    const transport = this.#transport;
    if (conn === undefined || transport === undefined || this.#dropped) return;
    if (this.#ending === undefined) {
      const chunks = conn.dataToSend();
      if (chunks.length > 0) {
        let length = 0;
        for (const chunk of chunks) length += chunk.length;
        this.#inflight += length;
        this.#writtenTotal += length;
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
    }
    if (conn.shouldCloseTransport && this.#phase !== "connecting") void this.#endTransport();
  }

  #accepted(length: number): void {
    this.#inflight -= length;
    if (this.full) return;
    this.#replyBytes = 0;
    this.#wakeReader();
    if (this.#writeWaiters !== undefined) this.#releaseWaiters();
    this.#owner?.onWritable?.();
  }

  #releaseWaiters(): void {
    const waiters = this.#writeWaiters;
    if (waiters === undefined) return;
    this.#writeWaiters = undefined;
    for (const wake of waiters) wake();
  }

  #onTransportError(error: unknown): void {
    this.#conn?.receiveEof();
    this.#dropTransport();
    this.#finish(error);
  }

  // Half-closes the transport once every queued byte is written (the server closes first,
  // §7.1.1; a refused handshake or a failure likewise), then keeps reading and discarding until
  // the peer closes its side or the close timer drops it: a lingering close, so what was
  // written is not lost to a reset. Every caller waits for the same half-close.
  #endTransport(): Promise<void> {
    this.#ending ??= this.#halfClose();
    return this.#ending;
  }

  async #halfClose(): Promise<void> {
    this.#armCloseTimer();
    const transport = this.#transport;
    if (transport === undefined) return;
    try {
      await transport.end();
    } catch {
      // The transport is already gone.
    }
    // Before the pump runs (a refused handshake), read and discard here.
    if (!this.#listening && (this.#phase === "connecting" || (this.#phase === "failed" && !this.#transportDone))) {
      try {
        while (!this.#dropped && (await transport.read()) !== null);
      } catch {
        // Reset by the peer: nothing more to wait for.
      }
      this.#transportDone = true;
      this.#dropTransport();
    }
  }

  #dropTransport(): void {
    if (this.#dropped) return;
    this.#dropped = true;
    this.#clock.clearTimeout(this.#closeTimer);
    this.#transport?.destroy();
    this.#wakeReader();
  }

  // ---------------------------------------------------------------------------------------------
  // Timers

  #armCloseTimer(): void {
    if (this.#closeTimer !== undefined || this.#transportDone || this.#dropped) return;
    this.#closeTimer = this.#clock.setTimeout(() => {
      this.#dropTransport();
      this.#conn?.receiveEof();
      this.#finish();
    }, this.#closeTimeout);
  }

  #startKeepalive(): void {
    const options = this.#keepaliveOptions;
    if (options === undefined) return;
    this.#keepalive = new Keepalive(this.#clock, options, {
      isOpen: () => this.#phase === "open",
      ping: () => {
        const id = this.#sendPing(false);
        this.#flush();
        return id;
      },
      timedOut: () => {
        this.fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout", new WebSocketError("Keepalive timeout: no pong received", { closeCode: CloseCode.INTERNAL_ERROR }));
      },
    });
  }

  // A Ping with the tracker's next payload: the promise of its round-trip time, or (for the
  // keepalive) its id.
  #sendPing(settle: true): Promise<number>;
  #sendPing(settle: false): number;
  #sendPing(settle: boolean): Promise<number> | number {
    if (!this.canSend) throw new UsageError("WS_ERR_INVALID_STATE", "Cannot send a ping: the connection is not open");
    const conn = this.#conn!;
    const pings = (this.#pings ??= new PingTracker(this.#clock, conn.stats));
    const { id, payload } = pings.nextPayload();
    conn.sendPing(payload);
    this.#queued();
    if (settle) return pings.sent(id, true);
    pings.sent(id, false);
    return id;
  }

  // ---------------------------------------------------------------------------------------------
  // The end

  // The transport is gone (or given up on): reach a terminal phase, tell the owner, stop timers.
  #finish(cause?: unknown): void {
    const conn = this.#conn;
    if (conn === undefined || conn.state !== State.CLOSED || isTerminal(this.#phase)) return;
    this.#clock.clearTimeout(this.#closeTimer);
    this.#keepalive?.stop();
    this.#clock.clearTimeout(this.#handshakeTimer);
    if (this.#phase === "connecting") {
      this.#failHandshake(cause ?? new WebSocketError("The connection closed during the opening handshake", { closeCode: CloseCode.ABNORMAL_CLOSURE }));
      return;
    }
    this.#abortIncoming(new WebSocketError("The connection closed before the end of the message", { closeCode: CloseCode.ABNORMAL_CLOSURE, cause }));
    if (!this.#dropped && this.#ending === undefined) void this.#endTransport().then(() => this.#dropTransport());
    else if (this.#transportDone) this.#dropTransport();
    const received = conn.closeReceived;
    const clean = received !== undefined && conn.error === undefined && this.#localFailure === undefined;
    this.#enter(clean ? "closed" : "failed");
    const result: CloseResult = {
      wasClean: clean,
      code: received?.code ?? CloseCode.ABNORMAL_CLOSURE,
      reason: received?.reason ?? "",
      error: clean ? undefined : this.#closeError(cause),
    };
    this.#log?.(`closed code=${result.code} reason=${JSON.stringify(result.reason)} clean=${clean}${result.error === undefined ? "" : ` error=${JSON.stringify(result.error.message)}`}`);
    this.#pings?.abort(new WebSocketError(`Ping not answered: the connection closed (${result.code})`, { closeCode: result.code, reason: result.reason, cause: result.error }));
    this.#owner?.onClose(result);
    this.#ended();
  }

  #ended(): void {
    this.#releaseWaiters();
    const listeners = this.#endListeners;
    this.#endListeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener();
  }

  #closeError(cause?: unknown): WebSocketError {
    if (this.#localFailure !== undefined) return this.#localFailure;
    const error = this.#conn!.error;
    if (error !== undefined) return new WebSocketError(error.message, { closeCode: error.closeCode, cause: error });
    return new WebSocketError("The connection closed without a closing handshake", { closeCode: CloseCode.ABNORMAL_CLOSURE, cause });
  }
}

// The endpoint's input in push mode (one small object per connection, no closures).
class EndpointSink implements TransportSink {
  readonly #endpoint: Endpoint;
  #done: (() => void) | undefined;

  constructor(endpoint: Endpoint, done: (() => void) | undefined) {
    this.#endpoint = endpoint;
    this.#done = done;
  }

  data(chunk: Uint8Array): void {
    onData(this.#endpoint, chunk);
  }

  end(): void {
    onInputEnd(this.#endpoint);
    this.#finished();
  }

  error(error: unknown): void {
    onInputEnd(this.#endpoint, error);
    this.#finished();
  }

  #finished(): void {
    const done = this.#done;
    this.#done = undefined;
    done?.();
  }
}

const encoder = new TextEncoder();
const NO_STATS = new StatsCounters();
const EMPTY = new Uint8Array(0);
const noop = (): void => {};

// A chunk of a streamed send as bytes: a string as UTF-8, a buffer or view as it is.
function chunkBytes(chunk: unknown): Uint8Array {
  if (typeof chunk === "string") return encoder.encode(chunk);
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError("Cannot send a streamed message: a chunk must be a string, an ArrayBuffer or a typed array");
}

// Checks a close code and reason the way the sans-I/O connection will, so that misuse throws at
// the call and changes nothing.
function validateClose(code: number | undefined, reason: string): void {
  if (code === undefined && reason === "") return;
  if (code === undefined) throw new UsageError("WS_ERR_INVALID_CLOSE_REASON", "Invalid close reason: a reason needs a code");
  encodeClosePayload(code, reason);
}

function abortable(
  value: TransportLike | ConnectTunnel | Promise<TransportLike | ConnectTunnel>,
  signal: AbortSignal,
): Promise<{ transport: Transport; response?: ConnectTunnel["response"] }> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    Promise.resolve(value).then((result) => {
      signal.removeEventListener("abort", onAbort);
      const tunnel = isTunnel(result) ? result : undefined;
      const transport = toTransport(tunnel === undefined ? result as TransportLike : tunnel.transport);
      if (!signal.aborted) {
        resolve({ transport, response: tunnel?.response });
        return;
      }
      // Opened after the abort: nobody will use it, so close it.
      transport.destroy(signal.reason);
    }, (error: unknown) => {
      signal.removeEventListener("abort", onAbort);
      reject(error);
    });
  });
}


function isTunnel(value: TransportLike | ConnectTunnel): value is ConnectTunnel {
  return "transport" in value && "response" in value;
}
