/**
 * The WHATWG `WebSocketStream` (https://websockets.spec.whatwg.org/#the-websocketstream-interface)
 * on an {@link Endpoint}: `opened`, `closed`, `close()`, and the message streams, made only here.
 *
 * Backpressure is pull-based both ways: the transport is read only while the message readable
 * has room, and a message `write()` waits while the transport holds more than its high-water
 * mark.
 *
 * @module
 */
import { CloseCode } from "./close.ts";
import {
  type ClientEndpointOptions,
  type CloseResult,
  Endpoint,
  type EndpointOptions,
  type EndpointOwner,
  type OpenInfo,
  type TransportSource,
} from "./endpoint.ts";
import { WebSocketError } from "./errors.ts";
import { hubOf, type PubSubOptions, type PublishData, type PublishOptions } from "./pubsub.ts";
import type { TransportLike } from "./transport.ts";
import type { ServerOptions } from "./upgrade.ts";
import { checkCloseArguments, toMessageData } from "./interface-common.ts";
import type { ConnectionStats } from "./stats.ts";
import { isMessageSource, type MessageSource, MessageStream } from "./message-stream.ts";

/** Options of a `WebSocketStream`, either role. */
export interface WebSocketStreamOptions extends EndpointOptions {
  /** Bytes of received messages queued before the transport is no longer read. Default 1 MiB. */
  readonly readableHighWaterMark?: number;
}

/** Client options: the handshake's and the connection's, plus a signal that aborts the handshake. */
export interface ClientOptions extends WebSocketStreamOptions, ClientEndpointOptions {}

/** What the message writable takes: a `string` is sent as text, bytes as binary. */
export type MessageInput = string | ArrayBuffer | ArrayBufferView;

/**
 * What `opened` resolves with. With `streamMessages: true` the readable yields a
 * {@link MessageStream} per message instead (`M` = `MessageStream`; cast `readable`, e.g.
 * `readable as unknown as ReadableStream<MessageStream>`).
 */
export interface WebSocketStreamOpen<M = string | Uint8Array> {
  /**
   * Received messages: `string` for text, `Uint8Array` for binary; with `streamMessages` a
   * {@link MessageStream} per message, each counting as `messageStreamHighWaterMark` bytes
   * against `readableHighWaterMark`.
   */
  readonly readable: ReadableStream<M>;
  /**
   * Messages to send: a `string` is sent as text, an `ArrayBuffer` or typed array as binary; a
   * `ReadableStream` or async iterable as one fragmented message (see `Endpoint.sendStream`; a
   * {@link MessageStream} keeps its type), the write resolving once it is all queued.
   */
  readonly writable: WritableStream<MessageInput | MessageSource>;
  /** The subprotocol agreed, or `""`. */
  readonly protocol: string;
  /** The `Sec-WebSocket-Extensions` agreed, or `""`. */
  readonly extensions: string;
}

/** What `closed` resolves with after a clean close, and what `close()` takes. */
export interface WebSocketCloseInfo {
  readonly closeCode?: number;
  readonly reason?: string;
}

const MiB = 1024 * 1024;
const noop = (): void => {};

/**
 * A WebSocket over a byte transport, shaped like the WHATWG `WebSocketStream`: `opened`,
 * `closed`, `close()`. Runtime adapters subclass it (`new WebSocketStream(url)`); a server gets
 * one per accepted connection.
 */
export class WebSocketStreamBase {
  /** Resolves once the handshake is done; rejects if it fails or is aborted. */
  readonly opened: Promise<WebSocketStreamOpen>;
  /** Resolves after a clean close; rejects with a {@link WebSocketError} otherwise. */
  readonly closed: Promise<WebSocketCloseInfo>;
  readonly #owner: StreamOwner;
  readonly #endpoint: Endpoint;

  /**
   * Opens a client connection to `url` over `transport` (the transport, or a function of the URL
   * that opens it). Adapters subclass this as `new WebSocketStream(url, options)`.
   */
  constructor(url: string | URL, transport: TransportSource, options?: ClientOptions);
  /** @internal A server-side connection over an accepted endpoint. */
  constructor(endpoint: Endpoint, transport?: undefined, options?: WebSocketStreamOptions);
  constructor(urlOrEndpoint: string | URL | Endpoint, transport?: TransportSource, options: ClientOptions = {}) {
    const owner = new StreamOwner(options);
    this.#owner = owner;
    this.opened = owner.opened;
    this.closed = owner.closed;
    if (urlOrEndpoint instanceof Endpoint) {
      this.#endpoint = urlOrEndpoint;
      owner.endpoint = urlOrEndpoint;
      urlOrEndpoint.attach(owner);
      owner.onOpen({ protocol: urlOrEndpoint.protocol, extensions: urlOrEndpoint.extensions });
    } else {
      this.#endpoint = Endpoint.connect(urlOrEndpoint, transport!, options, owner);
      owner.endpoint = this.#endpoint;
    }
  }

  /** The request URL (client) or the URL the client asked for (server). */
  get url(): string {
    return this.#endpoint.url;
  }

  /** The peer's IP address (server: the client's), when the transport knows it; see `Transport.remoteAddress`. */
  get remoteAddress(): string | undefined {
    return this.#endpoint.remoteAddress;
  }

  /** The peer's port, when the transport knows it. */
  get remotePort(): number | undefined {
    return this.#endpoint.remotePort;
  }

  /**
   * Server: subscribes this connection to `topic` (see {@link PubSubOptions}); returns `false` if
   * it already was. Its subscriptions end when it closes. Throws `UsageError` on a client, or once
   * the connection is closing.
   */
  subscribe(topic: string): boolean {
    return hubOf(this.#endpoint, "subscribe").subscribe(this.#endpoint, topic);
  }

  /** Server: unsubscribes this connection from `topic`; returns `false` if it was not subscribed. */
  unsubscribe(topic: string): boolean {
    return hubOf(this.#endpoint, "unsubscribe").unsubscribe(this.#endpoint, topic);
  }

  /** Whether this connection is subscribed to `topic` (always `false` on a client). */
  isSubscribed(topic: string): boolean {
    return this.#endpoint.hub?.isSubscribed(this.#endpoint, topic) ?? false;
  }

  /** The topics this connection is subscribed to. */
  get subscriptions(): string[] {
    return this.#endpoint.hub?.topicsOf(this.#endpoint) ?? [];
  }

  /**
   * Server: sends `data` to every subscriber of `topic` on this server, framed once, but not to
   * this connection unless `includeSelf`. Returns how many it was queued for. Throws
   * `UsageError` on a client and `TypeError` for data other than text or bytes.
   */
  publish(topic: string, data: PublishData, options?: PublishOptions): number {
    return hubOf(this.#endpoint, "publish").publish(topic, data, options?.includeSelf === true ? undefined : this.#endpoint);
  }

  /**
   * Sends a Ping and resolves with the round-trip time in milliseconds once its Pong arrives
   * (each Ping carries a payload of its own; other Pongs are ignored). Not in the WHATWG
   * interface. Throws a `UsageError` (`WS_ERR_INVALID_STATE`) at the call unless the connection
   * is open; if it closes before the Pong, the promise rejects with a `WebSocketError` (a
   * promise nobody awaits is not an unhandled rejection).
   */
  ping(): Promise<number> {
    return this.#endpoint.ping();
  }

  /**
   * What this connection sent and received so far (bytes and frames on the wire, messages,
   * compression, the last round-trip time), as a snapshot. Not in the WHATWG interface.
   */
  get stats(): ConnectionStats {
    return this.#endpoint.stats;
  }

  /**
   * Starts the closing handshake with `closeCode` and `reason` (1000 when only a reason is
   * given, none when both are omitted); during the opening handshake it aborts it. Messages
   * already written are sent first. An invalid code or reason throws a `DOMException` here and
   * changes nothing, so a later valid `close()` still works.
   */
  close(closeInfo: WebSocketCloseInfo = {}): void {
    const { closeCode, reason = "" } = closeInfo;
    const code = closeCode ?? (reason !== "" ? CloseCode.NORMAL_CLOSURE : undefined);
    checkCloseArguments(code, reason, "wire");
    this.#owner.close(code, reason);
  }
}

/**
 * Opens a client connection to `url` over `transport`, the adapters' building block: the
 * request is written, the response checked, then messages flow.
 */
export function connectWebSocket(url: string | URL, transport: TransportSource, options: ClientOptions = {}): WebSocketStreamBase {
  return new WebSocketStreamBase(url, transport, options);
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
export async function acceptWebSocket(transport: TransportLike, options: ServerOptions & WebSocketStreamOptions = {}): Promise<AcceptedWebSocket | undefined> {
  const accepted = await Endpoint.accept(transport, options);
  if (accepted === undefined) return undefined;
  const ws = new WebSocketStreamBase(accepted.endpoint, undefined, options);
  accepted.endpoint.start();
  return { ws, request: accepted.request };
}

type MessageController = ReadableStreamDefaultController<string | Uint8Array | MessageStream>;

// The endpoint's owner for one WebSocketStream: the promises and the two message streams.
class StreamOwner implements EndpointOwner {
  readonly opened: Promise<WebSocketStreamOpen>;
  readonly closed: Promise<WebSocketCloseInfo>;
  endpoint!: Endpoint;
  #resolveOpened!: (value: WebSocketStreamOpen) => void;
  #rejectOpened!: (reason: unknown) => void;
  #resolveClosed!: (value: WebSocketCloseInfo) => void;
  #rejectClosed!: (reason: unknown) => void;
  readonly #clock: Required<EndpointOptions>["clock"] | undefined;
  readonly #closeTimeout: number;
  readonly #readableHighWaterMark: number;
  readonly #streamSize: number;
  #messages: MessageController | undefined;
  // The peer's Close (or a failure) arrived: the reply waits until the queue is read.
  #awaitingDrain = false;
  #failure: WebSocketError | undefined;
  #readableDone = false;
  // Message writes queued in the writable and not yet seen by its sink.
  #queuedWrites = 0;
  #closeWaiter: (() => void) | undefined;
  #closeRequested = false;

  constructor(options: WebSocketStreamOptions) {
    this.#clock = options.clock;
    this.#closeTimeout = options.closeTimeout ?? 10_000;
    this.#readableHighWaterMark = options.readableHighWaterMark ?? MiB;
    this.#streamSize = options.messageStreamHighWaterMark ?? 64 * 1024;
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

  onOpen(info: OpenInfo): void {
    const readable = new ReadableStream<string | Uint8Array | MessageStream>(
      {
        start: (controller) => {
          this.#messages = controller;
        },
        pull: () => this.#onPull(),
        cancel: (reason) => this.#closeWithReason(reason),
      },
      { highWaterMark: this.#readableHighWaterMark, size: (message) => (message instanceof MessageStream ? this.#streamSize : messageSize(message as string | Uint8Array)) },
    );
    const writable = new WritableStream<MessageInput | MessageSource>(
      {
        write: (chunk) => this.#write(chunk),
        close: () => this.#closeWithReason(undefined),
        abort: (reason) => this.#closeWithReason(reason),
      },
      {
        highWaterMark: 1,
        size: () => {
          this.#queuedWrites++;
          return 1;
        },
      },
    );
    // With streamMessages the chunks are MessageStreams (see WebSocketStreamOpen).
    this.#resolveOpened({ readable: readable as ReadableStream<string | Uint8Array>, writable, protocol: info.protocol, extensions: info.extensions });
  }

  onMessageStream(message: MessageStream): void {
    this.onMessage(message);
  }

  onMessage(data: string | Uint8Array | MessageStream): void {
    const messages = this.#messages;
    if (messages === undefined || this.#readableDone) return;
    messages.enqueue(data);
    if ((messages.desiredSize ?? 1) <= 0) this.endpoint.pause();
  }

  onClosing(error: WebSocketError | undefined): void {
    this.#failure = error;
    this.#awaitingDrain = true;
    if (this.#queueEmpty()) this.#afterDrain();
  }

  onClose(result: CloseResult): void {
    if (result.error !== undefined && this.#messages === undefined) {
      this.#rejectOpened(result.error);
    }
    if (!this.#awaitingDrain) this.#closeReadable(result);
    this.#wakeCloseWaiter(true);
    if (result.wasClean) this.#resolveClosed({ closeCode: result.code, reason: result.reason });
    else this.#rejectClosed(result.error);
  }

  #onPull(): void {
    this.endpoint.resume();
    if (this.#awaitingDrain && this.#queueEmpty()) this.#afterDrain();
  }

  #queueEmpty(): boolean {
    const messages = this.#messages;
    return messages === undefined || messages.desiredSize === this.#readableHighWaterMark;
  }

  // Every message before the Close was read: the reply may go, and the readable ends.
  #afterDrain(): void {
    this.#awaitingDrain = false;
    this.endpoint.drained();
    this.#closeReadable(undefined);
  }

  #closeReadable(result: CloseResult | undefined): void {
    if (this.#readableDone) return;
    this.#readableDone = true;
    const failure = this.#failure ?? (result !== undefined && !result.wasClean ? result.error : undefined);
    try {
      if (failure !== undefined) this.#messages?.error(failure);
      else this.#messages?.close();
    } catch {
      // Already closed or errored by a cancel.
    }
    this.endpoint.resume();
  }

  #write(chunk: MessageInput | MessageSource): Promise<void> | void {
    this.#queuedWrites--;
    const endpoint = this.endpoint;
    if (!endpoint.canSend) {
      this.#wakeCloseWaiter();
      throw new WebSocketError("Cannot send: the connection is closing");
    }
    if (isMessageSource(chunk)) {
      const sent = endpoint.sendStream(chunk, chunk instanceof MessageStream ? chunk.type : undefined);
      this.#wakeCloseWaiter();
      return sent;
    }
    const data = toMessageData(chunk);
    endpoint.send(data, typeof data !== "string");
    this.#wakeCloseWaiter();
    if (endpoint.full) return endpoint.whenWritable();
  }

  // close() from the application, arguments already checked.
  close(code: number | undefined, reason: string): void {
    const endpoint = this.endpoint;
    if (endpoint.phase === "connecting") {
      endpoint.close();
      return;
    }
    if (this.#closeRequested) return;
    this.#closeRequested = true;
    // Messages already written to the writable go out before the Close frame.
    this.#whenWritesSeen(() => endpoint.close(code, reason));
  }

  #whenWritesSeen(callback: () => void): void {
    if (this.#queuedWrites <= 0) {
      callback();
      return;
    }
    const clock = this.#clock;
    const set = clock?.setTimeout.bind(clock) ?? ((fn: () => void, ms: number) => globalThis.setTimeout(fn, ms));
    const clear = clock?.clearTimeout.bind(clock) ?? ((handle: unknown) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>));
    const timer = set(() => {
      this.#closeWaiter = undefined;
      callback();
    }, this.#closeTimeout);
    this.#closeWaiter = () => {
      if (this.#queuedWrites > 0) return;
      this.#closeWaiter = undefined;
      clear(timer);
      // Let the sink's own write finish first.
      queueMicrotask(callback);
    };
  }

  #wakeCloseWaiter(force = false): void {
    if (force) this.#queuedWrites = 0;
    this.#closeWaiter?.();
  }

  // readable.cancel(reason) or writable.abort(reason) / close(): close with the reason's code
  // when it is a WebSocketError with a valid one, else with none.
  #closeWithReason(reason: unknown): void {
    this.#readableDone = true;
    let code: number | undefined;
    let text = "";
    if (reason instanceof WebSocketError && reason.closeCode !== null) {
      try {
        checkCloseArguments(reason.closeCode, reason.reason, "wire");
        code = reason.closeCode;
        text = reason.reason;
      } catch {
        // An invalid code in the reason: still close, without a code.
      }
    }
    this.close(code, text);
  }
}

function messageSize(message?: string | Uint8Array): number {
  if (message === undefined) return 0;
  return typeof message === "string" ? message.length : message.byteLength;
}
