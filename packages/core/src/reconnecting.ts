/**
 * A `WebSocket` that reconnects: one object with the WHATWG `WebSocket` interface over a series
 * of connections. When a connection ends without the user's `close()`, it waits (exponential
 * backoff with jitter, capped) and opens a new one, up to `maxAttempts` attempts in a row.
 * Messages sent while no connection is open are buffered (bounded by count and bytes) and sent,
 * in order, once the next one opens; or dropped, as chosen.
 *
 * It owns no transport: each connection is a `WebSocket` made by the `connect` function it is
 * given (a runtime adapter passes its own `WebSocket` class), so the logic here is the same on
 * every runtime. Timers come from a {@link Clock} and jitter from a `random` function, both
 * injectable, so tests run on a fake clock and check the exact delays.
 *
 * Delivery is at most once: a message handed to a connection that dies before the bytes reach
 * the peer is lost, as with any `WebSocket`; only messages sent while disconnected are kept.
 *
 * @module
 */
import { HandshakeError, UsageError } from "./errors.ts";
import {
  CloseEvent,
  ErrorEvent,
  MessageEvent,
  type SocketCloseEvent,
  type SocketErrorEvent,
  type SocketEvent,
  type SocketMessageEvent,
  WebSocketEvent,
  WebSocketEventTarget,
} from "./event-target.ts";
import { checkCloseArguments, toMessageData } from "./interface-common.ts";
import { type Clock, defaultClock } from "./transport.ts";
import type { BinaryType, WebSocketData } from "./websocket.ts";

/**
 * What a reconnecting socket needs of each connection: the WHATWG `WebSocket` members it uses.
 * `WebSocketBase` (and so every adapter's `WebSocket`) has them, and so does a browser's.
 */
export interface ReconnectableSocket {
  readonly readyState: number;
  readonly url: string;
  readonly protocol: string;
  readonly extensions: string;
  readonly bufferedAmount: number;
  binaryType: string;
  send(data: WebSocketData): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: any) => unknown): void;
}

/** Opens one connection: called for the first one and for every reconnection, with the same arguments. */
export type ConnectSocket = (url: string, protocols: string[]) => ReconnectableSocket;

/** How a connection ended, handed to {@link ReconnectOptions.shouldReconnect}. */
export interface DisconnectInfo {
  /** The `close` event's code: the peer's, or 1006 when none arrived (a refused or failed handshake too). */
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  /** The `error` event's `error`, when the connection failed: a `WebSocketError`, whose `cause` is a `HandshakeError` when the server refused the handshake. */
  readonly error: unknown;
  /** Whether this connection opened before it ended (false: the attempt failed). */
  readonly opened: boolean;
  /** Reconnection attempts made since a connection last opened (0 when this one had opened, or was the first). */
  readonly attempts: number;
}

/**
 * Jitter on the backoff delay `d = min(maxDelay, initialDelay × factor^(n-1))` of attempt `n`:
 * `"full"` waits `random() × d` (AWS's "full jitter"), `"equal"` waits `d/2 + random() × d/2`,
 * `"none"` waits `d`.
 */
export type Jitter = "full" | "equal" | "none";

/** Options of a {@link ReconnectingWebSocketBase}. Every number is checked by the constructor. */
export interface ReconnectOptions {
  /** Milliseconds of the first backoff delay, before jitter. Default 1000. */
  readonly initialDelay?: number;
  /** Milliseconds no delay exceeds (the cap), before jitter. Default 30000. */
  readonly maxDelay?: number;
  /** What each further attempt multiplies the delay by (at least 1). Default 2. */
  readonly factor?: number;
  /** See {@link Jitter}. Default `"full"`. */
  readonly jitter?: Jitter;
  /**
   * Reconnection attempts made, all failed, before giving up (`giveup`, then `close`); the
   * count restarts when a connection opens. 0: never reconnect. Default `Infinity`.
   */
  readonly maxAttempts?: number;
  /**
   * Whether to reconnect after a connection ended without `close()`. Default: yes, except when
   * the server refused the handshake with a 4xx status other than 408 and 429 (the same request
   * would be refused again). Not asked after the user's `close()`.
   */
  readonly shouldReconnect?: (info: DisconnectInfo) => boolean;
  /** `send()` while no connection is open: `"buffer"` (the default) keeps the message for the next connection, `"drop"` discards it (a `drop` event). */
  readonly whileDisconnected?: "buffer" | "drop";
  /** Messages the buffer holds at most. Default 1024. */
  readonly maxBufferedMessages?: number;
  /** Bytes (UTF-8 for text) the buffer holds at most. Default 1 MiB. */
  readonly maxBufferedBytes?: number;
  /**
   * What a `send()` that would overflow the buffer does: `"throw"` (the default) throws a
   * `UsageError` `WS_ERR_BUFFER_FULL` and keeps nothing of it; `"drop-oldest"` drops the oldest
   * messages until it fits; `"drop-newest"` drops the new message. A dropped message is announced
   * by a `drop` event. A message bigger than `maxBufferedBytes` never fits: thrown or dropped.
   */
  readonly overflow?: "throw" | "drop-oldest" | "drop-newest";
  /** Timers; default the global ones. */
  readonly clock?: Clock;
  /** A number in [0, 1) for the jitter; default `Math.random`. */
  readonly random?: () => number;
  /** Aborting it is `close()`: no reconnection follows. (An adapter also hands it to each connection, whose handshake it aborts.) */
  readonly signal?: AbortSignal;
}

/**
 * The `reconnecting` event (an attempt is scheduled: `attempt` starts at 1, `delay` in ms, and
 * how the last connection ended) and the `giveup` event (`attempt` is how many were made, `delay` 0).
 */
export class ReconnectEvent extends WebSocketEvent {
  readonly attempt: number;
  readonly delay: number;
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  constructor(type: string, init: { attempt?: number; delay?: number; code?: number; reason?: string; wasClean?: boolean } = {}) {
    super(type);
    this.attempt = init.attempt ?? 0;
    this.delay = init.delay ?? 0;
    this.code = init.code ?? 0;
    this.reason = init.reason ?? "";
    this.wasClean = init.wasClean ?? false;
  }
}

/** Why a message was not sent. */
export type DropReason = "disconnected" | "overflow" | "closed";

/** The `drop` event: a message that will not be sent (`data`: the string, a copy of the bytes as a `Uint8Array`, or the `Blob`). */
export class DropEvent extends WebSocketEvent {
  readonly data: string | Uint8Array | Blob;
  readonly reason: DropReason;
  constructor(type: string, init: { data: string | Uint8Array | Blob; reason: DropReason }) {
    super(type);
    this.data = init.data;
    this.reason = init.reason;
  }
}

/**
 * The lifecycle of a reconnecting socket, one value:
 * - `connecting`: a connection's handshake is under way (readyState 0);
 * - `open`: a connection is open (1);
 * - `waiting`: between connections, a backoff timer armed (0);
 * - `closing`: the user's `close()` is closing the current connection (2);
 * - `closed`: for good (3), after the user's close, a refusal to reconnect, or giving up.
 */
export type ReconnectPhase = "connecting" | "open" | "waiting" | "closing" | "closed";

const TRANSITIONS: Readonly<Record<ReconnectPhase, readonly ReconnectPhase[]>> = {
  connecting: ["open", "waiting", "closing", "closed"],
  open: ["waiting", "closing", "closed"],
  waiting: ["connecting", "closed"],
  closing: ["closed"],
  closed: [],
};

const READY_STATE: Readonly<Record<ReconnectPhase, number>> = { connecting: 0, open: 1, waiting: 0, closing: 2, closed: 3 };

type Handler<E extends SocketEvent> = ((this: ReconnectingWebSocketBase, event: E) => unknown) | null;

interface Buffered {
  readonly data: string | Uint8Array | Blob;
  readonly size: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const encoder = new TextEncoder();

/**
 * See the module notes. Events: `open` (each connection), `message`, `error` (each failed
 * connection or attempt, with its `error`), `reconnecting` and `giveup` ({@link ReconnectEvent}),
 * `drop` ({@link DropEvent}), and `close` once, at the very end.
 */
export class ReconnectingWebSocketBase extends WebSocketEventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;
  readonly #url: string;
  readonly #protocols: string[];
  readonly #connect: ConnectSocket;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #initialDelay: number;
  readonly #maxDelay: number;
  readonly #factor: number;
  readonly #jitter: Jitter;
  readonly #maxAttempts: number;
  readonly #shouldReconnect: (info: DisconnectInfo) => boolean;
  readonly #whileDisconnected: "buffer" | "drop";
  readonly #maxBufferedMessages: number;
  readonly #maxBufferedBytes: number;
  readonly #overflow: "throw" | "drop-oldest" | "drop-newest";
  #phase: ReconnectPhase = "connecting";
  #socket: ReconnectableSocket | undefined;
  #opened = false;
  #lastError: unknown;
  // How the current connection ended, while its `close` is being handled.
  #socketEnd: End | undefined;
  // Reconnection attempts made since a connection last opened.
  #attempts = 0;
  #timer: unknown;
  #buffer: Buffered[] = [];
  #bufferedBytes = 0;
  #binaryType: BinaryType = "blob";
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = (): void => this.close();

  /**
   * Opens the first connection at once with `connect(url, protocols)`. Throws a `UsageError`
   * (`WS_ERR_INVALID_ARGUMENT`) for an invalid option, and whatever `connect` throws (a
   * `SyntaxError` `DOMException` for a bad URL or protocols, from a `WebSocket`).
   */
  constructor(url: string | URL, protocols: string | readonly string[] | undefined, connect: ConnectSocket, options: ReconnectOptions = {}) {
    super();
    this.#url = String(url);
    this.#protocols = protocols === undefined ? [] : typeof protocols === "string" ? [protocols] : [...protocols];
    this.#connect = connect;
    this.#clock = options.clock ?? defaultClock;
    this.#random = options.random ?? Math.random;
    this.#initialDelay = checkNumber("initialDelay", options.initialDelay, 1000, 0);
    this.#maxDelay = checkNumber("maxDelay", options.maxDelay, 30_000, 0);
    this.#factor = checkNumber("factor", options.factor, 2, 1);
    this.#maxAttempts = checkCount("maxAttempts", options.maxAttempts, Infinity);
    this.#maxBufferedMessages = checkCount("maxBufferedMessages", options.maxBufferedMessages, 1024);
    this.#maxBufferedBytes = checkCount("maxBufferedBytes", options.maxBufferedBytes, MiB);
    this.#jitter = checkChoice("jitter", options.jitter, ["full", "equal", "none"] as const);
    this.#whileDisconnected = checkChoice("whileDisconnected", options.whileDisconnected, ["buffer", "drop"] as const);
    this.#overflow = checkChoice("overflow", options.overflow, ["throw", "drop-oldest", "drop-newest"] as const);
    if (options.shouldReconnect !== undefined && typeof options.shouldReconnect !== "function") {
      throw new UsageError("WS_ERR_INVALID_ARGUMENT", `Invalid option shouldReconnect: not a function: ${String(options.shouldReconnect)}`);
    }
    this.#shouldReconnect = options.shouldReconnect ?? defaultShouldReconnect;
    if (typeof connect !== "function") throw new UsageError("WS_ERR_INVALID_ARGUMENT", "Invalid connect: not a function");
    // The first connection's mistakes (a bad URL) throw here, at the call.
    this.#attach(connect(this.#url, [...this.#protocols]));
    this.#signal = options.signal;
    if (this.#signal?.aborted) this.close();
    else this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** The URL of the current connection, or the one given while none was made yet. */
  get url(): string {
    return this.#socket?.url ?? this.#url;
  }

  /** 0 `CONNECTING` (also while waiting to reconnect), 1 `OPEN`, 2 `CLOSING`, 3 `CLOSED` (for good). */
  get readyState(): number {
    return READY_STATE[this.#phase];
  }

  /** The phase (see {@link ReconnectPhase}): tells waiting apart from connecting. */
  get phase(): ReconnectPhase {
    return this.#phase;
  }

  /** The subprotocol the current connection agreed, or `""`. */
  get protocol(): string {
    return this.#phase === "open" || this.#phase === "closing" ? this.#socket?.protocol ?? "" : "";
  }

  /** The extensions the current connection agreed, or `""`. */
  get extensions(): string {
    return this.#phase === "open" || this.#phase === "closing" ? this.#socket?.extensions ?? "" : "";
  }

  /** The open connection's `bufferedAmount` (while open or closing) plus the bytes held for the next connection. */
  get bufferedAmount(): number {
    const live = this.#phase === "open" || this.#phase === "closing";
    return (live ? this.#socket?.bufferedAmount ?? 0 : 0) + this.#bufferedBytes;
  }

  /** Messages held for the next connection. */
  get bufferedMessages(): number {
    return this.#buffer.length;
  }

  /** Reconnection attempts made since a connection last opened (0 while one is open). */
  get attempts(): number {
    return this.#attempts;
  }

  /** How binary messages are delivered; set on every connection. Other values are ignored. */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(value: BinaryType) {
    if (value !== "blob" && value !== "arraybuffer" && value !== "bytes") return;
    this.#binaryType = value;
    if (this.#socket !== undefined) this.#socket.binaryType = value;
  }

  /**
   * Sends a message on the open connection. While none is open (connecting, or waiting to
   * reconnect) it is buffered for the next one or dropped (`whileDisconnected`); a full buffer
   * does what `overflow` says. After `close()` it is dropped. Throws a `TypeError` for data that
   * is not a string, `ArrayBuffer`, typed array, `DataView` or `Blob`.
   */
  send(data: WebSocketData): void {
    const item = data instanceof Blob ? data : toMessageData(data);
    const socket = this.#socket;
    if (this.#phase === "open" && socket !== undefined && socket.readyState === 1) {
      socket.send(item);
      return;
    }
    if (this.#phase === "closing" || this.#phase === "closed") {
      this.#drop(keep(item), "closed");
      return;
    }
    if (this.#whileDisconnected === "drop") {
      this.#drop(keep(item), "disconnected");
      return;
    }
    this.#bufferMessage(item);
  }

  /**
   * Closes for good: closes the current connection with `code` (1000 or 3000-4999) and `reason`,
   * or, while waiting to reconnect, stops waiting; no reconnection follows. Buffered messages are
   * dropped. The `close` event carries the connection's end (1006 while a handshake was under
   * way, or while waiting). Throws `InvalidAccessError` or `SyntaxError` (`DOMException`) for
   * bad arguments, changing nothing.
   */
  close(code?: number, reason?: string): void {
    checkCloseArguments(code, reason ?? "", "whatwg");
    const phase = this.#phase;
    if (phase === "closing" || phase === "closed") return;
    if (phase === "waiting") {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#finish({ code: 1006, reason: "", wasClean: false }, true);
      return;
    }
    if (this.#socketEnd !== undefined) {
      // Called while the connection's end is being handled (a `giveup` listener, shouldReconnect):
      // that end is the last.
      this.#finish(this.#socketEnd, true);
      return;
    }
    this.#enter("closing");
    this.#dropBuffer();
    this.#socket!.close(code, reason);
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
  get onerror(): Handler<SocketErrorEvent> {
    return this.eventHandler("error") as Handler<SocketErrorEvent>;
  }
  set onerror(handler: Handler<SocketErrorEvent>) {
    this.setEventHandler("error", handler);
  }
  get onclose(): Handler<SocketCloseEvent> {
    return this.eventHandler("close") as Handler<SocketCloseEvent>;
  }
  set onclose(handler: Handler<SocketCloseEvent>) {
    this.setEventHandler("close", handler);
  }

  // The only place the phase changes.
  #enter(next: ReconnectPhase): void {
    if (!TRANSITIONS[this.#phase].includes(next)) {
      throw new Error(`Internal error: reconnecting socket transition ${this.#phase} -> ${next}`);
    }
    this.#phase = next;
  }

  #attach(socket: ReconnectableSocket): void {
    this.#socket = socket;
    this.#opened = false;
    this.#lastError = undefined;
    this.#socketEnd = undefined;
    socket.binaryType = this.#binaryType;
    socket.addEventListener("open", () => {
      if (socket === this.#socket) this.#onOpen();
    });
    socket.addEventListener("message", (event: { data: unknown; origin?: string }) => {
      if (socket !== this.#socket || !this.hasListeners("message")) return;
      this.dispatchEvent(new MessageEvent("message", { data: event.data, origin: event.origin ?? "" }));
    });
    socket.addEventListener("error", (event: { error?: unknown; message?: string }) => {
      if (socket !== this.#socket) return;
      this.#lastError = event.error;
      this.dispatchEvent(new ErrorEvent("error", { error: event.error, message: event.message }));
    });
    socket.addEventListener("close", (event: { code: number; reason: string; wasClean: boolean }) => {
      if (socket === this.#socket) this.#onClose({ code: event.code, reason: event.reason, wasClean: event.wasClean });
    });
  }

  #onOpen(): void {
    if (this.#phase !== "connecting") return;
    this.#opened = true;
    this.#attempts = 0;
    this.#enter("open");
    // `open` first, so that what an open handler sends (a login) goes before the backlog.
    this.dispatchEvent(new WebSocketEvent("open"));
    const socket = this.#socket!;
    while (this.#buffer.length > 0 && (this.#phase as ReconnectPhase) === "open" && socket === this.#socket && socket.readyState === 1) {
      const item = this.#buffer.shift()!;
      this.#bufferedBytes -= item.size;
      socket.send(item.data);
    }
  }

  #onClose(end: End): void {
    const phase = this.#phase;
    if (phase === "closing") {
      this.#finish(end, false);
      return;
    }
    if (phase !== "connecting" && phase !== "open") return;
    this.#socketEnd = end;
    let again: boolean;
    try {
      again = this.#shouldReconnect({ ...end, error: this.#lastError, opened: this.#opened, attempts: this.#attempts });
    } catch (error) {
      // A throwing predicate is the user's bug: reported, and taken as "no".
      this.dispatchEvent(new ErrorEvent("error", { error }));
      again = false;
    }
    if (this.#phase !== phase) return; // close() was called by a listener or the predicate.
    if (!again) {
      this.#finish(end, false);
      return;
    }
    const attempt = this.#attempts + 1;
    if (attempt > this.#maxAttempts) {
      this.dispatchEvent(new ReconnectEvent("giveup", { attempt: this.#attempts, delay: 0, ...end }));
      if (this.#phase === phase) this.#finish(end, false);
      return;
    }
    const delay = this.#delay(attempt);
    this.#enter("waiting");
    this.#timer = this.#clock.setTimeout(() => this.#reconnect(), delay);
    this.dispatchEvent(new ReconnectEvent("reconnecting", { attempt, delay, ...end }));
  }

  #reconnect(): void {
    this.#timer = undefined;
    if (this.#phase !== "waiting") return;
    this.#enter("connecting");
    this.#attempts++;
    let socket: ReconnectableSocket;
    try {
      socket = this.#connect(this.#url, [...this.#protocols]);
    } catch (error) {
      // It worked the first time with the same arguments; report it and stop.
      this.dispatchEvent(new ErrorEvent("error", { error }));
      if ((this.#phase as ReconnectPhase) === "connecting") this.#finish({ code: 1006, reason: "", wasClean: false }, false);
      return;
    }
    this.#attach(socket);
  }

  // Attempt n waits min(maxDelay, initialDelay × factor^(n-1)), jittered.
  #delay(attempt: number): number {
    const base = Math.min(this.#maxDelay, this.#initialDelay * this.#factor ** (attempt - 1));
    switch (this.#jitter) {
      case "none":
        return base;
      case "equal":
        return base / 2 + this.#random() * (base / 2);
      case "full":
        return this.#random() * base;
    }
  }

  // The end, for good: what is buffered is dropped, then `close`. Dispatched after the call
  // that ended it returns when `deferred` (close() while waiting), as a WebSocket does.
  #finish(end: End, deferred: boolean): void {
    this.#enter("closed");
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#dropBuffer();
    const dispatch = (): void => void this.dispatchEvent(new CloseEvent("close", end));
    if (deferred) queueMicrotask(dispatch);
    else dispatch();
  }

  #bufferMessage(item: string | Uint8Array | Blob): void {
    const size = sizeOf(item);
    const fits = (): boolean => this.#buffer.length < this.#maxBufferedMessages && this.#bufferedBytes + size <= this.#maxBufferedBytes;
    if (!fits()) {
      const possible = this.#maxBufferedMessages > 0 && size <= this.#maxBufferedBytes;
      if (this.#overflow === "throw") {
        throw new UsageError(
          "WS_ERR_BUFFER_FULL",
          `Cannot send: the buffer for the next connection is full (${this.#buffer.length} messages, ${this.#bufferedBytes} bytes): ${size} bytes`,
        );
      }
      if (this.#overflow === "drop-newest" || !possible) {
        this.#drop(keep(item), "overflow");
        return;
      }
      while (!fits()) {
        const oldest = this.#buffer.shift()!;
        this.#bufferedBytes -= oldest.size;
        this.#drop(oldest.data, "overflow");
      }
    }
    this.#buffer.push({ data: keep(item), size });
    this.#bufferedBytes += size;
  }

  #dropBuffer(): void {
    const dropped = this.#buffer;
    this.#buffer = [];
    this.#bufferedBytes = 0;
    for (const item of dropped) this.#drop(item.data, "closed");
  }

  #drop(data: string | Uint8Array | Blob, reason: DropReason): void {
    if (this.hasListeners("drop")) this.dispatchEvent(new DropEvent("drop", { data, reason }));
  }
}

for (const [name, value] of [["CONNECTING", 0], ["OPEN", 1], ["CLOSING", 2], ["CLOSED", 3]] as const) {
  Object.defineProperty(ReconnectingWebSocketBase.prototype, name, { value, enumerable: true });
}

interface End {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

/** The default of {@link ReconnectOptions.shouldReconnect}: yes, unless the handshake was refused with a 4xx other than 408 or 429. */
export function defaultShouldReconnect(info: DisconnectInfo): boolean {
  const status = handshakeStatus(info.error);
  return !(status >= 400 && status < 500 && status !== 408 && status !== 429);
}

// The HTTP status of a refused handshake: the error, or its cause, is a HandshakeError.
function handshakeStatus(error: unknown): number {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    if (e instanceof HandshakeError) return e.status;
    e = (e as { cause?: unknown }).cause;
  }
  return 0;
}

// The caller's bytes are copied: they may change after send() returns.
function keep(item: string | Uint8Array | Blob): string | Uint8Array | Blob {
  return item instanceof Uint8Array ? item.slice() : item;
}

function sizeOf(item: string | Uint8Array | Blob): number {
  if (typeof item === "string") return encoder.encode(item).length;
  return item instanceof Blob ? item.size : item.byteLength;
}

function checkNumber(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new UsageError("WS_ERR_INVALID_ARGUMENT", `Invalid option ${name}: not a finite number of at least ${min}: ${String(value)}`);
  }
  return value;
}

function checkCount(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value === Infinity || (Number.isInteger(value) && value >= 0))) {
    throw new UsageError("WS_ERR_INVALID_ARGUMENT", `Invalid option ${name}: not a whole number of at least 0: ${String(value)}`);
  }
  return value;
}

function checkChoice<T extends string>(name: string, value: T | undefined, choices: readonly T[]): T {
  if (value === undefined) return choices[0]!;
  if (!choices.includes(value)) {
    throw new UsageError("WS_ERR_INVALID_ARGUMENT", `Invalid option ${name}: not one of ${choices.join(", ")}: ${String(value)}`);
  }
  return value;
}
