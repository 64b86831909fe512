/**
 * The connections of one server, shared by every adapter's `serve()` and per-connection entry
 * points: the path filter, the handshake over each transport, the handler with the interface it
 * asked for (`WebSocketStream` or `WebSocket`), the transports still in the handshake or in a
 * lingering close, and closing everything with 1001. Adapters only listen and hand over
 * transports.
 *
 * @module
 */
import { CloseCode } from "./close.ts";
import { Endpoint } from "./endpoint.ts";
import { Hub, type PubSubOptions, type PublishData } from "./pubsub.ts";
import type { Transport, TransportLike, TransportSink } from "./transport.ts";
import { toTransport } from "./transport.ts";
import type { ServerOptions } from "./upgrade.ts";
import { type ServerStats, StatsCounters } from "./stats.ts";
import { WebSocketBase } from "./websocket.ts";
import { WebSocketStreamBase, type WebSocketStreamOptions } from "./websocket-stream.ts";

/**
 * A handler that takes each connection as a `WebSocketStream`, and the request that opened it.
 * The `Request` is built only for a handler that declares the parameter: one declared with a
 * single parameter (`(ws) => ...`, `handler.length === 1`) is called without it, which saves
 * building a `Request` per connection.
 */
export type ConnectionHandler = (ws: WebSocketStreamBase, request: Request) => void | Promise<void>;

/**
 * A handler that takes each connection as a WHATWG `WebSocket` (already open), and the request
 * that opened it (built only when declared, as for {@link ConnectionHandler}).
 */
export type WebSocketHandler = (ws: WebSocketBase, request: Request) => void | Promise<void>;

/** The options every server entry point takes, whichever interface its handler uses. */
export interface ServeCommonOptions extends Omit<ServerOptions, "head" | "scheme" | "connect">, WebSocketStreamOptions {}

/** Which interface a server's handler takes: `"stream"` (`WebSocketStream`) or `"websocket"` (WHATWG `WebSocket`). */
export type ServerApi = "stream" | "websocket";

/** The handler type for an {@link ServerApi}. */
export type HandlerFor<A extends ServerApi> = A extends "websocket" ? WebSocketHandler : ConnectionHandler;

/**
 * A server's options: the common ones, and a handler called with each open connection (a throw
 * or rejection closes it with 1011). `api: "websocket"` hands it a WHATWG `WebSocket`; the
 * default, `api: "stream"`, a `WebSocketStream`.
 */
export interface ServeConnectionOptions<A extends ServerApi = "stream"> extends ServeCommonOptions {
  readonly api?: A;
  readonly handler: HandlerFor<A>;
  /** Pub/sub: the backlog bound and what happens to a subscriber that does not keep up. */
  readonly pubsub?: PubSubOptions;
}

/** What closing a server did: how many connections were open, and how many of them closed cleanly. */
export interface CloseReport {
  /** Connections open when the server began closing. */
  readonly connections: number;
  /** Of those, the ones that completed the closing handshake (`wasClean`). */
  readonly clean: number;
}

/**
 * What every adapter's running server offers besides its address: its connections, pub/sub, and
 * a close that reports.
 */
export interface ServerConnections<A extends ServerApi = "stream"> {
  /** The open connections, live. */
  readonly connections: OpenConnections<ServerSocketFor<A>>;
  /** Sends `data` to every subscriber of `topic`, framed once; returns how many it was queued for. */
  publish(topic: string, data: PublishData): number;
  /** How many connections are subscribed to `topic`. */
  subscriberCount(topic: string): number;
  /**
   * What the connections sent and received, summed over every connection accepted (closed ones
   * included): bytes and frames on the wire, messages, compression, the latest round-trip time,
   * and how many connections are open and were accepted. A snapshot.
   */
  readonly stats: ServerStats;
  /**
   * Stops accepting, closes every connection with 1001 (messages already written are sent
   * first) and resolves once all are closed (each bounded by `closeTimeout`), with how many
   * closed cleanly.
   */
  close(): Promise<CloseReport>;
}

/**
 * A server's open connections, live: iterate it (in the order they opened) or read its `size`.
 * A connection leaves it once closed.
 */
export class OpenConnections<T extends ServerWebSocket> implements Iterable<T> {
  readonly #open: Map<ServerWebSocket, Endpoint>;

  /** @internal */
  constructor(open: Map<ServerWebSocket, Endpoint>) {
    this.#open = open;
  }

  /** How many connections are open. */
  get size(): number {
    return this.#open.size;
  }

  /** Whether `ws` is one of them. */
  has(ws: T): boolean {
    return this.#open.has(ws);
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this.#open.keys() as IterableIterator<T>;
  }
}

/**
 * How one transport arrived: its scheme, and a request head already parsed elsewhere (HTTP/1.1)
 * or the extended CONNECT that opened it as an HTTP/2 stream (see `ServerOptions.connect`).
 */
export interface AcceptContext {
  readonly scheme: "ws:" | "wss:";
  readonly head?: ServerOptions["head"];
  readonly connect?: ServerOptions["connect"];
}

/** What a server hands its handler: either interface. */
export type ServerWebSocket = WebSocketStreamBase | WebSocketBase;

/** The interface object for an {@link ServerApi}. */
export type ServerSocketFor<A extends ServerApi> = A extends "websocket" ? WebSocketBase : WebSocketStreamBase;

/** One server's connections; see the module notes. */
export class ConnectionGroup<A extends ServerApi = "stream"> {
  readonly #options: ServeConnectionOptions<ServerApi>;
  // The adapter's defaults under the options, merged once rather than per connection.
  readonly #merged: ServerOptions;
  // The options of a connection, per scheme, made once: spreading two dozen options per
  // connection was the largest allocation of a handshake.
  #perScheme: { "ws:"?: ServerOptions; "wss:"?: ServerOptions } = {};
  readonly #open = new Map<ServerWebSocket, Endpoint>();
  readonly #connections = new OpenConnections<ServerSocketFor<A>>(this.#open);
  /** The server's topics and subscribers (`publish()`). */
  readonly hub: Hub;
  // Every transport not yet destroyed: in the handshake, open, or in a lingering close.
  readonly #transports = new Set<Transport>();
  #closing = false;
  // The counts of connections already closed, and how many were accepted in all.
  readonly #closedStats = new StatsCounters();
  #acceptedCount = 0;

  /** `defaults` are the adapter's own settings; `options` win. */
  constructor(options: ServeConnectionOptions<A>, defaults: Partial<ServerOptions> = {}) {
    this.#options = options as ServeConnectionOptions<ServerApi>;
    this.#merged = { ...defaults, ...options };
    this.hub = new Hub(options.pubsub);
  }

  /** The open connections. */
  get connections(): OpenConnections<ServerSocketFor<A>> {
    return this.#connections;
  }

  /**
   * Sends `data` to every subscriber of `topic`, framed once (see {@link Hub}); returns how many
   * it was queued for.
   */
  publish(topic: string, data: PublishData): number {
    return this.hub.publish(topic, data);
  }

  /** True once {@link closeAll} was called: refuse new transports. */
  get closing(): boolean {
    return this.#closing;
  }

  /** The connections open now. */
  get size(): number {
    return this.#open.size;
  }

  /**
   * The sums over every connection accepted (bytes, frames, messages, compression; closed
   * connections included) and the latest round-trip time measured on any of them, as a snapshot.
   */
  get stats(): ServerStats {
    const totals = new StatsCounters();
    totals.add(this.#closedStats);
    for (const endpoint of this.#open.values()) {
      const counters = endpoint.counters;
      if (counters !== undefined) totals.add(counters);
    }
    return Object.freeze({ ...totals.snapshot(), openConnections: this.#open.size, acceptedConnections: this.#acceptedCount });
  }

  /**
   * Runs the opening handshake over `transport` and, once accepted, the handler. Resolves with
   * the open connection, or `undefined` when the upgrade was refused or failed (the refusal was
   * written) or the group is closing (the transport is destroyed).
   */
  async accept(source: TransportLike, context: AcceptContext): Promise<ServerSocketFor<A> | undefined> {
    const inner = toTransport(source);
    if (this.#closing) {
      inner.destroy();
      return undefined;
    }
    const transport = this.#track(inner);
    const accepted = await Endpoint.accept(transport, this.#optionsFor(context));
    if (accepted === undefined) return undefined;
    const { endpoint } = accepted;
    const options = this.#options;
    endpoint.hub = this.hub;
    const ws = options.api === "websocket" ? new WebSocketBase(endpoint) : new WebSocketStreamBase(endpoint, undefined, options);
    this.#open.set(ws, endpoint);
    endpoint.onEnd(() => this.#open.delete(ws));
    this.#acceptedCount++;
    endpoint.onEnd(() => this.#closedStats.add(endpoint.counters!));
    if (this.#closing) endpoint.close(CloseCode.GOING_AWAY, "server closing");
    const handler = options.handler as (ws: ServerWebSocket, request: Request) => void | Promise<void>;
    // A handler declared with one parameter cannot read the request: do not build it.
    runHandler(handler, ws, endpoint, handler.length === 1 ? (undefined as unknown as Request) : accepted.request);
    endpoint.start();
    return ws as ServerSocketFor<A>;
  }

  /**
   * Stops accepting, closes every open connection with 1001 (messages already written go first)
   * and resolves once each has closed (bounded by its `closeTimeout`) with how many there were
   * and how many closed cleanly; then drops the transports still in the handshake or in a
   * lingering close.
   */
  async closeAll(): Promise<CloseReport> {
    this.#closing = true;
    const ends: Promise<boolean>[] = [];
    for (const [ws, endpoint] of this.#open) {
      if (ws instanceof WebSocketStreamBase) ws.close({ closeCode: CloseCode.GOING_AWAY, reason: "server closing" });
      else endpoint.close(CloseCode.GOING_AWAY, "server closing");
      ends.push(new Promise<boolean>((resolve) => endpoint.onEnd(() => resolve(endpoint.phase === "closed"))));
    }
    const outcomes = await Promise.all(ends);
    this.hub.close();
    for (const transport of this.#transports) transport.destroy();
    this.#transports.clear();
    let clean = 0;
    for (const outcome of outcomes) if (outcome) clean++;
    return { connections: outcomes.length, clean };
  }

  #optionsFor(context: AcceptContext): ServerOptions {
    const options = (this.#perScheme[context.scheme] ??= { ...this.#merged, scheme: context.scheme, deferClose: true });
    if (context.connect !== undefined) return { ...options, connect: context.connect };
    return context.head === undefined ? options : { ...options, head: context.head };
  }

  // The transport, forgotten once destroyed.
  #track(inner: Transport): Transport {
    const transport = new TrackedTransport(inner, this.#transports);
    this.#transports.add(transport);
    return transport;
  }
}

// A transport that leaves its group's set when destroyed (a class: no closures per connection).
class TrackedTransport implements Transport {
  readonly #inner: Transport;
  readonly #group: Set<Transport>;

  constructor(inner: Transport, group: Set<Transport>) {
    this.#inner = inner;
    this.#group = group;
  }

  read(): Promise<Uint8Array | null> {
    return this.#inner.read();
  }

  write(chunks: readonly Uint8Array[]): Promise<void> | undefined {
    return this.#inner.write(chunks);
  }

  // Only where the inner transport has it: its presence decides how streamed sends read.
  get released(): (() => Promise<void>) | undefined {
    const inner = this.#inner;
    return inner.released === undefined ? undefined : () => inner.released!();
  }

  recycle(chunk: Uint8Array): void {
    this.#inner.recycle?.(chunk);
  }

  end(): Promise<void> {
    return this.#inner.end();
  }

  destroy(reason?: unknown): void {
    this.#group.delete(this);
    this.#inner.destroy(reason);
  }

  listen(sink: TransportSink): boolean {
    return this.#inner.listen?.(sink) ?? false;
  }

  pause(): void {
    this.#inner.pause?.();
  }

  resume(): void {
    this.#inner.resume?.();
  }

  get remoteAddress(): string | undefined {
    return this.#inner.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.#inner.remotePort;
  }
}

function runHandler(
  handler: (ws: ServerWebSocket, request: Request) => void | Promise<void>,
  ws: ServerWebSocket,
  endpoint: Endpoint,
  request: Request,
): void {
  closeOnFailure(callHandler(handler, ws, request), endpoint);
}

function callHandler(handler: (ws: ServerWebSocket, request: Request) => void | Promise<void>, ws: ServerWebSocket, request: Request): Promise<void> {
  try {
    return Promise.resolve(handler(ws, request));
  } catch (error) {
    return Promise.reject(error);
  }
}

// In its own scope, so the closure kept until the handler settles does not hold the request.
function closeOnFailure(running: Promise<void>, endpoint: Endpoint): void {
  running.catch(() => {
    // Closing already: the peer's Close is answered now, as nobody will read what came before it.
    if (endpoint.phase === "reply-pending") endpoint.drained();
    else endpoint.close(CloseCode.INTERNAL_ERROR, "handler failed");
  });
}
