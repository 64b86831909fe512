/**
 * The WHATWG `WebSocket` interface (https://websockets.spec.whatwg.org/#the-websocket-interface)
 * on an {@link Endpoint}, client and server side: `readyState`, `bufferedAmount`, `binaryType`,
 * `send()`, `close()`, and the `open`, `message`, `error` and `close` events. No streams, and no
 * promise per message.
 *
 * @module
 */
import { CloseCode } from "./close.ts";
import {
  type ClientEndpointOptions,
  type CloseResult,
  Endpoint,
  type EndpointOwner,
  type OpenInfo,
  type TransportSource,
} from "./endpoint.ts";
import { UsageError, WebSocketError } from "./errors.ts";
import { checkProtocols, webSocketUrl } from "./handshake.ts";
import {
  CloseEvent,
  ErrorEvent,
  MessageEvent,
  type SocketCloseEvent,
  type SocketEvent,
  type SocketMessageEvent,
  WebSocketEvent,
  WebSocketEventTarget,
} from "./event-target.ts";
import { checkCloseArguments, toMessageData } from "./interface-common.ts";
import { hubOf, type PubSubOptions, type PublishData, type PublishOptions } from "./pubsub.ts";
import type { ConnectionStats } from "./stats.ts";
import { isMessageSource, type MessageSource, MessageStream, readSource } from "./message-stream.ts";

/** Client options of a `WebSocket`: the handshake's and the connection layer's (headers, limits, extensions, timers). */
export interface WebSocketOptions extends Omit<ClientEndpointOptions, "protocols"> {}

/** What `send()` takes. */
export type WebSocketData = string | ArrayBuffer | ArrayBufferView | Blob;

/**
 * `binaryType`: how binary messages are delivered. `"blob"` and `"arraybuffer"` are the WHATWG
 * values; `"bytes"` is an extension: a `Uint8Array` (what `Blob.bytes()` and `Response.bytes()`
 * give), a view of the received bytes, so no copy and no `ArrayBuffer` of its own (building one
 * costs about 1 µs on Node, more than the rest of a small message's path).
 */
export type BinaryType = "blob" | "arraybuffer" | "bytes";

type Handler<E extends SocketEvent> = ((this: WebSocketBase, event: E) => unknown) | null;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/**
 * A WebSocket over a byte transport with the WHATWG `WebSocket` interface. Runtime adapters
 * subclass it (`new WebSocket(url, protocols, options)`); a server gets one per accepted
 * connection when its handler asks for this interface.
 */
export class WebSocketBase extends WebSocketEventTarget {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;
  readonly #endpoint: Endpoint;
  readonly #owner: SocketOwner;
  #binaryType: BinaryType = "blob";

  /**
   * Opens a client connection to `url` (`ws:`, `wss:`, or `http:`/`https:` taken as those)
   * offering `protocols`. Throws a `SyntaxError` `DOMException` for an invalid URL, a fragment,
   * or protocols that are not unique tokens; everything else is reported by `error` and `close`
   * events.
   */
  constructor(url: string | URL, protocols: string | readonly string[] | undefined, transport: TransportSource, options?: WebSocketOptions);
  /** @internal A server-side connection over an accepted endpoint. */
  constructor(endpoint: Endpoint);
  constructor(urlOrEndpoint: string | URL | Endpoint, protocols?: string | readonly string[], transport?: TransportSource, options: WebSocketOptions = {}) {
    super();
    const owner = new SocketOwner(this);
    this.#owner = owner;
    if (urlOrEndpoint instanceof Endpoint) {
      this.#endpoint = urlOrEndpoint;
      owner.endpoint = urlOrEndpoint;
      urlOrEndpoint.attach(owner);
    } else {
      const offered = protocols === undefined ? [] : typeof protocols === "string" ? [protocols] : [...protocols];
      let target: URL;
      try {
        target = webSocketUrl(urlOrEndpoint);
        checkProtocols(offered);
      } catch (error) {
        throw new DOMException(error instanceof Error ? error.message : String(error), "SyntaxError");
      }
      // `url` is the parsed URL (http: and https: as ws: and wss:) from the start, as the spec says.
      this.#endpoint = owner.endpoint = Endpoint.connect(target, transport!, { ...options, protocols: offered }, owner);
    }
  }

  /** The URL: the one connected to (client), or the one the client asked for (server). */
  get url(): string {
    return this.#endpoint.url;
  }

  /** 0 `CONNECTING`, 1 `OPEN`, 2 `CLOSING`, 3 `CLOSED`. */
  get readyState(): number {
    return this.#owner.readyState();
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

  /** The subprotocol the server chose, or `""`. */
  get protocol(): string {
    return this.#endpoint.protocol;
  }

  /** The `Sec-WebSocket-Extensions` agreed, or `""`. */
  get extensions(): string {
    return this.#endpoint.extensions;
  }

  /**
   * Bytes passed to `send()` and not yet handed to the operating system: it grows on `send()`
   * (frame headers included) and shrinks as the transport accepts the bytes. After the
   * connection closed, what `send()` discards is still added, as the spec says.
   */
  get bufferedAmount(): number {
    return this.#endpoint.bufferedAmount + this.#owner.pendingBytes;
  }

  /** How binary messages are delivered: `"blob"` (the default), `"arraybuffer"` or `"bytes"` (see {@link BinaryType}). Other values are ignored. */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(value: BinaryType) {
    if (value === "blob" || value === "arraybuffer" || value === "bytes") this.#binaryType = value;
  }

  /**
   * Sends a message: a string as text; an `ArrayBuffer`, typed array, `DataView` or `Blob` as
   * binary. Throws an `InvalidStateError` `DOMException` while connecting; once closing or
   * closed the data is discarded (and counted in `bufferedAmount`).
   */
  send(data: WebSocketData): void;
  /**
   * An extension: sends a `ReadableStream` or async iterable (of strings or bytes) as one
   * fragmented message, each chunk a frame as it comes (see `Endpoint.sendStream`). `type` is
   * `"text"` or `"binary"`; by default a {@link MessageStream}'s own, else the first chunk's (a
   * string: text). Messages sent meanwhile wait behind it; `close()` too.
   *
   * Returns a promise that resolves once the last frame is queued. It rejects with a
   * `WebSocketError` if the connection closes first, or if the source fails (after the first
   * frame the connection then fails with 1011); a rejection nobody handles is not reported as
   * unhandled, and the `error` and `close` events say the same. Throws an `InvalidStateError`
   * `DOMException` while connecting.
   */
  send(data: MessageSource, type?: "text" | "binary"): Promise<void>;
  send(data: WebSocketData | MessageSource, type?: "text" | "binary"): void | Promise<void> {
    if (isMessageSource(data)) return this.#owner.sendStream(data, type ?? (data instanceof MessageStream ? data.type : undefined));
    this.#owner.send(data);
  }

  /**
   * Starts the closing handshake with `code` (1000 or 3000-4999) and `reason` (at most 123 bytes
   * of UTF-8); while connecting, abandons the handshake. Throws `InvalidAccessError` or
   * `SyntaxError` (`DOMException`) for bad arguments, changing nothing.
   */
  close(code?: number, reason?: string): void {
    checkCloseArguments(code, reason ?? "", "whatwg");
    this.#owner.close(code, reason ?? "");
  }

  /**
   * Sends a Ping and resolves with the round-trip time in milliseconds once its Pong arrives
   * (each Ping carries a payload of its own; other Pongs are ignored). Not in the WHATWG
   * interface. Throws a `UsageError` (`WS_ERR_INVALID_STATE`) at the call unless `readyState`
   * is `OPEN`; if the connection closes before the Pong, the promise rejects with a
   * `WebSocketError` (a promise nobody awaits is not an unhandled rejection).
   */
  ping(): Promise<number> {
    if (this.readyState !== OPEN) throw new UsageError("WS_ERR_INVALID_STATE", "Cannot send a ping: the connection is not open");
    return this.#endpoint.ping();
  }

  /**
   * What this connection sent and received so far (bytes and frames on the wire, messages,
   * compression, the last round-trip time), as a snapshot. Not in the WHATWG interface.
   */
  get stats(): ConnectionStats {
    return this.#endpoint.stats;
  }

  get onopen(): Handler<SocketEvent> {
    return this.eventHandler("open") as Handler<SocketEvent>;
  }
  set onopen(handler: Handler<SocketEvent>) {
    this.setEventHandler("open", handler);
  }
  get onmessage(): Handler<SocketMessageEvent> {
    return this.eventHandler("message") as Handler<SocketMessageEvent>;
  }
  set onmessage(handler: Handler<SocketMessageEvent>) {
    this.setEventHandler("message", handler);
  }
  get onerror(): Handler<SocketEvent> {
    return this.eventHandler("error") as Handler<SocketEvent>;
  }
  set onerror(handler: Handler<SocketEvent>) {
    this.setEventHandler("error", handler);
  }
  get onclose(): Handler<SocketCloseEvent> {
    return this.eventHandler("close") as Handler<SocketCloseEvent>;
  }
  set onclose(handler: Handler<SocketCloseEvent>) {
    this.setEventHandler("close", handler);
  }

  /** @internal Whether anyone hears `type`: an event nobody hears is not built. */
  hears(type: string): boolean {
    return this.hasListeners(type);
  }

  /** @internal */
  get binaryTypeValue(): BinaryType {
    return this.#binaryType;
  }
}

for (const [name, value] of [["CONNECTING", CONNECTING], ["OPEN", OPEN], ["CLOSING", CLOSING], ["CLOSED", CLOSED]] as const) {
  Object.defineProperty(WebSocketBase.prototype, name, { value, enumerable: true });
}

// The endpoint's owner for one WebSocket: the events, the send queue behind Blobs, readyState.
class SocketOwner implements EndpointOwner {
  readonly #ws: WebSocketBase;
  endpoint!: Endpoint;
  // close() was called: CLOSING from now on, whatever the endpoint's phase.
  #closeRequested = false;
  #ended = false;
  // Sends queued behind a Blob being read, in order; `undefined` when none is.
  #queue: (string | Uint8Array | Blob | CloseRequest | StreamRequest)[] | undefined;
  #origin: string | undefined;
  pendingBytes = 0;

  constructor(ws: WebSocketBase) {
    this.#ws = ws;
  }

  readyState(): number {
    if (this.#ended) return CLOSED;
    const state = this.endpoint.readyState;
    // CLOSED only once the close event is dispatched.
    if (state === CLOSED) return CLOSING;
    return this.#closeRequested && state < CLOSING ? CLOSING : state;
  }

  onOpen(_info: OpenInfo): void {
    if (this.#closeRequested) return;
    this.#ws.dispatchEvent(new WebSocketEvent("open"));
  }

  onMessage(data: string | Uint8Array): void {
    const ws = this.#ws;
    if (!ws.hears("message")) return;
    let value: string | ArrayBuffer | Blob | Uint8Array;
    const binaryType = ws.binaryTypeValue;
    if (typeof data === "string" || binaryType === "bytes") value = data;
    else if (binaryType === "arraybuffer") value = toArrayBuffer(data);
    else value = new Blob([data as Uint8Array<ArrayBuffer>]);
    this.#origin ??= originOf(this.#ws.url);
    this.#ws.dispatchEvent(new MessageEvent("message", { data: value, origin: this.#origin }));
  }

  onMessageStream(message: MessageStream): void {
    const ws = this.#ws;
    if (!ws.hears("message")) {
      void message.cancel();
      return;
    }
    this.#origin ??= originOf(ws.url);
    ws.dispatchEvent(new MessageEvent("message", { data: message, origin: this.#origin }));
  }

  onClosing(): void {
    // Events are dispatched synchronously, so every message before the Close was delivered.
    this.endpoint.drained();
  }

  onClose(result: CloseResult): void {
    // Dispatched after the call that ended it returns (close() while connecting, a send that
    // failed), never inside it.
    queueMicrotask(() => {
      this.#ended = true;
      for (const item of this.#queue ?? []) {
        if (isStreamRequest(item)) item.reject(new WebSocketError("The connection closed before the message was sent"));
      }
      this.#queue = undefined;
      if (!result.wasClean) this.#ws.dispatchEvent(new ErrorEvent("error", { error: result.error }));
      this.#ws.dispatchEvent(new CloseEvent("close", { wasClean: result.wasClean, code: result.code, reason: result.reason }));
    });
  }

  send(data: WebSocketData): void {
    const endpoint = this.endpoint;
    if (endpoint.phase === "connecting" && !this.#closeRequested) {
      throw new DOMException("Cannot send: the connection is still opening", "InvalidStateError");
    }
    const item = data instanceof Blob ? data : toMessageData(data);
    if (this.#closeRequested || this.#ended || !endpoint.canSend) {
      this.pendingBytes += sizeOf(item);
      return;
    }
    if (this.#queue !== undefined || item instanceof Blob) {
      this.pendingBytes += sizeOf(item);
      if (this.#queue === undefined) {
        this.#queue = [item];
        void this.#drainQueue();
      } else {
        this.#queue.push(item);
      }
      return;
    }
    endpoint.send(item, typeof item !== "string");
  }

  sendStream(source: MessageSource, type: "text" | "binary" | undefined): Promise<void> {
    const endpoint = this.endpoint;
    if (endpoint.phase === "connecting" && !this.#closeRequested) {
      throw new DOMException("Cannot send: the connection is still opening", "InvalidStateError");
    }
    let sent: Promise<void>;
    if (this.#closeRequested || this.#ended || !endpoint.canSend) {
      sent = Promise.reject(new WebSocketError("Cannot send: the connection is closing"));
      void readSource(source).cancel(undefined);
    } else if (this.#queue !== undefined) {
      // Behind a Blob being read: sent in its turn.
      sent = new Promise<void>((resolve, reject) => this.#queue!.push({ source, type, resolve, reject }));
    } else {
      sent = endpoint.sendStream(source, type);
    }
    // Reported by the error and close events too: ignoring the promise is not a mistake.
    sent.catch(noop);
    return sent;
  }

  close(code: number | undefined, reason: string): void {
    const endpoint = this.endpoint;
    if (this.#closeRequested || this.#ended) return;
    this.#closeRequested = true;
    if (this.#queue !== undefined) this.#queue.push({ code, reason });
    else endpoint.close(code, reason);
  }

  // Reads each Blob in turn and sends everything queued after it, in order.
  async #drainQueue(): Promise<void> {
    const endpoint = this.endpoint;
    while (this.#queue !== undefined && this.#queue.length > 0) {
      const item = this.#queue[0]!;
      let data: string | Uint8Array | undefined;
      if (item instanceof Blob) {
        try {
          data = new Uint8Array(await item.arrayBuffer());
        } catch {
          data = undefined;
        }
      } else if (typeof item === "string" || item instanceof Uint8Array) {
        data = item;
      }
      if (this.#queue === undefined) return;
      this.#queue.shift();
      if (isStreamRequest(item)) {
        if (!endpoint.canSend) {
          item.reject(new WebSocketError("Cannot send: the connection is closing"));
          continue;
        }
        endpoint.sendStream(item.source, item.type).then(item.resolve, item.reject);
        continue;
      }
      if (isCloseRequest(item)) {
        this.#queue = undefined;
        endpoint.close(item.code, item.reason);
        return;
      }
      this.pendingBytes -= sizeOf(item);
      if (data === undefined) {
        // A Blob that cannot be read: the spec fails the connection.
        endpoint.fail(CloseCode.INTERNAL_ERROR, "", new WebSocketError("Reading a Blob to send failed", { closeCode: CloseCode.INTERNAL_ERROR }));
        return;
      }
      if (endpoint.canSend) endpoint.send(data, typeof data !== "string");
    }
    this.#queue = undefined;
  }
}

interface CloseRequest {
  readonly code: number | undefined;
  readonly reason: string;
}

// A streamed send queued behind a Blob.
interface StreamRequest {
  readonly source: MessageSource;
  readonly type: "text" | "binary" | undefined;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

function isStreamRequest(item: unknown): item is StreamRequest {
  return typeof item === "object" && item !== null && "source" in item;
}

function isCloseRequest(item: unknown): item is CloseRequest {
  return typeof item === "object" && item !== null && !(item instanceof Blob) && !(item instanceof Uint8Array) && !("source" in item);
}

const noop = (): void => {};

const encoder = new TextEncoder();

function sizeOf(item: string | Uint8Array | Blob | StreamRequest): number {
  if (isStreamRequest(item)) return 0;
  if (typeof item === "string") return encoder.encode(item).length;
  return item instanceof Blob ? item.size : item.byteLength;
}

function toArrayBuffer(data: Uint8Array): ArrayBuffer {
  const buffer = data.buffer as ArrayBuffer;
  if (data.byteOffset === 0 && data.byteLength === buffer.byteLength) return buffer;
  return buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "";
  }
}
