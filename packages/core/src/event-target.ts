/**
 * The DOM events of the WHATWG `WebSocket` (https://dom.spec.whatwg.org/#interface-eventtarget),
 * written here instead of taken from the runtime: a native `Event` costs about 0.3 µs to build on
 * Node and a native `MessageEvent` about 2 µs on Bun, more than the rest of a small message's
 * path, and a native `EventTarget` holds two `Map`s per object on Node. ws does the same.
 *
 * What differs from the native classes: these events are not `instanceof` the runtime's `Event`,
 * and `timeStamp` is read when first asked for. Listeners follow the DOM's rules: in the order
 * added, a listener added twice (same callback and `capture`) counted once, `once`, `signal`,
 * `handleEvent` objects, `stopImmediatePropagation()`, and a listener removed during a dispatch
 * not called. A listener that throws is reported (`reportError` where the runtime has it,
 * otherwise thrown from a microtask, as Node's own `EventTarget` does) and the others still run.
 *
 * @module
 */

/** A listener: a function, or an object with `handleEvent`. */
export type EventListenerLike<E> = ((event: E) => unknown) | { handleEvent(event: E): unknown };

/** Options of {@link WebSocketEventTarget.addEventListener}. */
export interface ListenerOptions {
  readonly once?: boolean;
  readonly capture?: boolean;
  readonly passive?: boolean;
  readonly signal?: AbortSignal;
}

/**
 * What a WebSocket's listeners receive, as a shape: the DOM's own `Event` has it too, so code
 * typed for the runtime's `WebSocket` accepts ours.
 */
export interface SocketEvent {
  readonly type: string;
  readonly target: object | null;
  readonly currentTarget: object | null;
  readonly timeStamp: number;
  stopImmediatePropagation(): void;
}

/** The shape of a `message` event. */
export interface SocketMessageEvent<T = any> extends SocketEvent {
  readonly data: T;
  readonly origin: string;
}

/** The shape of a `close` event. */
export interface SocketCloseEvent extends SocketEvent {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

const NONE = 0;
const AT_TARGET = 2;

const now = (): number => (typeof performance === "undefined" ? Date.now() : performance.now());

/**
 * The base event of a WebSocket: `type`, `target` and `currentTarget` (the socket while it is
 * dispatched), and the `Event` interface's members with their values for an event that neither
 * bubbles nor can be cancelled.
 */
export class WebSocketEvent implements SocketEvent {
  static readonly NONE = 0;
  static readonly CAPTURING_PHASE = 1;
  static readonly AT_TARGET = 2;
  static readonly BUBBLING_PHASE = 3;
  declare readonly NONE: 0;
  declare readonly CAPTURING_PHASE: 1;
  declare readonly AT_TARGET: 2;
  declare readonly BUBBLING_PHASE: 3;
  /** The event's type: `"open"`, `"message"`, `"error"` or `"close"` for the ones a WebSocket sends. */
  readonly type: string;
  #target: object | null = null;
  #current: object | null = null;
  #stopped = false;
  #timeStamp: number | undefined;

  constructor(type: string) {
    if (arguments.length === 0) throw new TypeError("An event needs a type");
    this.type = String(type);
  }

  /** The object the event was dispatched to. */
  get target(): object | null {
    return this.#target;
  }
  /** The object whose listeners are running: the target during dispatch, then `null`. */
  get currentTarget(): object | null {
    return this.#current;
  }
  /** Legacy alias of {@link target}. */
  get srcElement(): object | null {
    return this.#target;
  }
  /** `AT_TARGET` (2) during dispatch, otherwise `NONE` (0). */
  get eventPhase(): number {
    return this.#current === null ? NONE : AT_TARGET;
  }
  get bubbles(): boolean {
    return false;
  }
  get cancelable(): boolean {
    return false;
  }
  get composed(): boolean {
    return false;
  }
  get defaultPrevented(): boolean {
    return false;
  }
  get returnValue(): boolean {
    return true;
  }
  /** True: a WebSocket's events come from the connection, not from script. */
  get isTrusted(): boolean {
    return true;
  }
  /** Milliseconds on the `performance.now()` clock, read when first asked for. */
  get timeStamp(): number {
    return (this.#timeStamp ??= now());
  }
  get cancelBubble(): boolean {
    return this.#stopped;
  }
  set cancelBubble(value: boolean) {
    if (value) this.#stopped = true;
  }
  composedPath(): object[] {
    return this.#current === null ? [] : [this.#current];
  }
  /** Does nothing more than for the native event: the event does not bubble. */
  stopPropagation(): void {
    this.#stopped = true;
  }
  /** The listeners after the current one are not called. */
  stopImmediatePropagation(): void {
    this.#stopped = true;
  }
  /** Does nothing: the event cannot be cancelled. */
  preventDefault(): void {}

  /** @internal Starts (with the target) or ends (with `null`) a dispatch. */
  static enter(event: WebSocketEvent, target: object | null): void {
    if (target !== null) {
      event.#target = target;
      event.#stopped = false;
    }
    event.#current = target;
  }

  /** @internal */
  static stopped(event: WebSocketEvent): boolean {
    return event.#stopped;
  }
}

for (const [name, value] of [["NONE", 0], ["CAPTURING_PHASE", 1], ["AT_TARGET", 2], ["BUBBLING_PHASE", 3]] as const) {
  Object.defineProperty(WebSocketEvent.prototype, name, { value, enumerable: true });
}

/** The `message` event: `data` (a string, an `ArrayBuffer` or a `Blob`) and `origin`. */
export class MessageEvent<T = any> extends WebSocketEvent implements SocketMessageEvent<T> {
  readonly data: T;
  readonly origin: string;
  readonly lastEventId = "";
  readonly source = null;
  readonly ports: readonly never[] = NO_PORTS;

  constructor(type: string, init: { data?: T; origin?: string } = {}) {
    super(type);
    this.data = init.data as T;
    this.origin = init.origin ?? "";
  }
}

const NO_PORTS: readonly never[] = Object.freeze([]);

/** The `close` event: `code`, `reason`, `wasClean` (the WHATWG `CloseEvent`, on every runtime). */
export class CloseEvent extends WebSocketEvent implements SocketCloseEvent {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  constructor(type: string, init: { code?: number; reason?: string; wasClean?: boolean } = {}) {
    super(type);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? "";
    this.wasClean = init.wasClean ?? false;
  }
}

/** The shape of an `error` event: the DOM's `ErrorEvent` has these members too. */
export interface SocketErrorEvent extends SocketEvent {
  readonly message: string;
  readonly error: unknown;
}

/**
 * The `error` event: `error` says why the connection failed (a `WebSocketError`, whose `cause`
 * is a `HandshakeError` with the HTTP `status` when the server refused the handshake) and
 * `message` is its message. A browser's `error` event is a plain `Event`; undici's, like this
 * one, carries the `error`.
 */
export class ErrorEvent extends WebSocketEvent implements SocketErrorEvent {
  readonly message: string;
  readonly error: unknown;
  constructor(type: string, init: { message?: string; error?: unknown } = {}) {
    super(type);
    this.error = init.error;
    this.message = init.message ?? (init.error instanceof Error ? init.error.message : "");
  }
}

// One registered listener. An event handler attribute (`onmessage`) is one too (`attribute` set):
// setting it again changes its callback in place, so it keeps the place where it was first set.
interface Listener {
  readonly type: string;
  callback: EventListenerLike<never> | null;
  readonly attribute: string | undefined;
  readonly capture: boolean;
  readonly once: boolean;
  removed: boolean;
}

/**
 * An event target with the DOM's listener rules, for {@link WebSocketEvent}s. Every listener of
 * every type lives in one small array (a WebSocket has a handful), created when the first one is
 * added.
 */
export class WebSocketEventTarget {
  #listeners: Listener[] | undefined;
  #dispatching = 0;

  /** Adds `listener` for events of `type`; see the module notes for the rules. */
  addEventListener(type: string, listener: EventListenerLike<never> | null, options?: boolean | ListenerOptions): void {
    if (listener === null || listener === undefined) return;
    const capture = typeof options === "boolean" ? options : options?.capture === true;
    const once = typeof options === "object" && options?.once === true;
    const signal = typeof options === "object" ? options?.signal : undefined;
    if (signal?.aborted) return;
    const name = String(type);
    const listeners = (this.#listeners ??= []);
    for (const entry of listeners) {
      if (!entry.removed && entry.attribute === undefined && entry.type === name && entry.callback === listener && entry.capture === capture) return;
    }
    const entry: Listener = { type: name, callback: listener, attribute: undefined, capture, once, removed: false };
    this.#add(entry);
    signal?.addEventListener("abort", () => this.#remove(entry), { once: true });
  }

  /** Removes the listener added with the same `type`, callback and `capture`. */
  removeEventListener(type: string, listener: EventListenerLike<never> | null, options?: boolean | { readonly capture?: boolean }): void {
    const listeners = this.#listeners;
    if (listeners === undefined || listener === null || listener === undefined) return;
    const capture = typeof options === "boolean" ? options : options?.capture === true;
    const name = String(type);
    for (const entry of listeners) {
      if (!entry.removed && entry.attribute === undefined && entry.type === name && entry.callback === listener && entry.capture === capture) {
        this.#remove(entry);
        return;
      }
    }
  }

  /**
   * Dispatches `event` to this target's listeners of its type, in order. Returns `true` (the
   * event cannot be cancelled). Takes a {@link WebSocketEvent}; any other object with a `type`
   * is handed to the listeners as it is.
   */
  dispatchEvent(event: WebSocketEvent): boolean {
    const listeners = this.#listeners;
    if (listeners === undefined) return true;
    const own = event instanceof WebSocketEvent;
    if (own) WebSocketEvent.enter(event, this);
    this.#dispatching++;
    try {
      // Listeners added during the dispatch are not called by it: the length is read once.
      for (let i = 0, n = listeners.length; i < n; i++) {
        const entry = listeners[i]!;
        if (entry.removed || entry.type !== event.type) continue;
        if (entry.once) this.#remove(entry);
        const callback = entry.callback;
        if (callback === null || callback === undefined) continue;
        try {
          if (typeof callback === "function") callback.call(this, event as never);
          else if (typeof callback.handleEvent === "function") callback.handleEvent(event as never);
        } catch (error) {
          report(error);
        }
        if (own && WebSocketEvent.stopped(event)) break;
      }
    } finally {
      if (--this.#dispatching === 0) this.#compact();
      if (own) WebSocketEvent.enter(event, null);
    }
    return true;
  }

  /** True when a listener (or a handler attribute) of `type` is registered: events nobody hears need not be built. */
  protected hasListeners(type: string): boolean {
    const listeners = this.#listeners;
    if (listeners === undefined) return false;
    for (const entry of listeners) if (!entry.removed && entry.type === type) return true;
    return false;
  }

  /** The event handler attribute `on<type>`: the function last set, or `null`. */
  protected eventHandler(type: string): EventListenerLike<never> | null {
    const listeners = this.#listeners;
    if (listeners !== undefined) for (const entry of listeners) if (entry.attribute === type) return entry.callback;
    return null;
  }

  /**
   * Sets the event handler attribute `on<type>`: a function, anything else taken as `null` (as
   * in HTML). Registered as a listener where it is first set, it keeps that place.
   */
  protected setEventHandler(type: string, handler: unknown): void {
    const callback = typeof handler === "function" ? (handler as EventListenerLike<never>) : null;
    const listeners = (this.#listeners ??= []);
    for (const entry of listeners) {
      if (entry.attribute === type) {
        entry.callback = callback;
        return;
      }
    }
    this.#add({ type, callback, attribute: type, capture: false, once: false, removed: false });
  }

  #add(entry: Listener): void {
    this.#listeners!.push(entry);
  }

  #remove(entry: Listener): void {
    entry.removed = true;
    if (this.#dispatching === 0) this.#compact();
  }

  #compact(): void {
    const listeners = this.#listeners;
    if (listeners === undefined) return;
    let kept = 0;
    for (const entry of listeners) if (!entry.removed) listeners[kept++] = entry;
    listeners.length = kept;
  }
}

function report(error: unknown): void {
  const reportError = (globalThis as { reportError?: (error: unknown) => void }).reportError;
  if (typeof reportError === "function") reportError(error);
  else
    queueMicrotask(() => {
      throw error;
    });
}
