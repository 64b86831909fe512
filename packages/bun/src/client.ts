/**
 * The clients: `new WebSocket(url)` and `new WebSocketStream(url)` over
 * [`Bun.connect`](https://bun.com/docs/runtime/networking/tcp#create-a-connection-bun-connect),
 * TCP for `ws:` and TLS for `wss:`.
 *
 * @module
 */
import type { TLSOptions } from "bun";
import {
  type ClientOptions,
  connectTarget,
  ReconnectingWebSocketBase,
  type ReconnectOptions,
  WebSocketBase,
  type WebSocketOptions as CoreWebSocketOptions,
  WebSocketStreamBase,
} from "@wsstream/core";
import { SocketTransport, type TransportSocket } from "./socket.ts";
import { envDebug } from "./debug.ts";
import { allocate } from "./allocate.ts";
import { sha1 } from "./sha1.ts";

/** Options of {@link WebSocketStream}: the core client options plus TLS settings for `wss:`. */
export interface WebSocketStreamOptions extends ClientOptions {
  /**
   * Passed to `Bun.connect()` as [`tls`](https://bun.com/reference/bun/TLSOptions) for `wss:`
   * URLs, e.g. `{ ca }` or `{ rejectUnauthorized: false }`.
   */
  readonly tls?: TLSOptions;
}

/**
 * A WebSocket client shaped like the WHATWG `WebSocketStream`.
 *
 * @example
 * ```ts
 * const ws = new WebSocketStream("ws://127.0.0.1:9001/");
 * const { readable, writable } = await ws.opened;
 * const writer = writable.getWriter();
 * await writer.write("hello");
 * const { value } = await readable.getReader().read();
 * ws.close({ closeCode: 1000, reason: "done" });
 * ```
 */
export class WebSocketStream extends WebSocketStreamBase {
  constructor(url: string | URL, options: WebSocketStreamOptions = {}) {
    super(url, (target, signal) => openSocket(target, options.tls, signal), { sha1, allocate, debug: envDebug(), ...options });
  }
}

/** Options of {@link WebSocket}: the core options (headers, limits, extensions...), `protocols`, and TLS settings for `wss:`. */
export interface WebSocketOptions extends CoreWebSocketOptions {
  /** Subprotocols to offer (the second constructor argument, when given there instead). */
  readonly protocols?: string | readonly string[];
  /** TLS settings for `wss:` URLs, as for {@link WebSocketStream}. */
  readonly tls?: TLSOptions;
}

/**
 * The WHATWG `WebSocket` client: `onopen`, `onmessage`, `send()`, `close()`, `readyState`,
 * `bufferedAmount`, `binaryType`. The second argument is the subprotocols, or the options.
 *
 * @example
 * ```ts
 * const ws = new WebSocket("ws://127.0.0.1:9001/", ["chat"]);
 * ws.onopen = () => ws.send("hello");
 * ws.onmessage = (event) => console.log(event.data);
 * ```
 */
export class WebSocket extends WebSocketBase {
  constructor(url: string | URL, protocols?: string | readonly string[] | WebSocketOptions, options: WebSocketOptions = {}) {
    const init = isOptions(protocols) ? protocols : options;
    const offered = isOptions(protocols) ? protocols.protocols : protocols ?? options.protocols;
    super(url, offered, (target, signal) => openSocket(target, init.tls, signal), { sha1, allocate, debug: envDebug(), ...init });
  }
}

/** Options of {@link ReconnectingWebSocket}: those of {@link WebSocket}, used for every connection, and the reconnect options (backoff, attempts, buffering). */
export interface ReconnectingWebSocketOptions extends WebSocketOptions, ReconnectOptions {}

/**
 * A {@link WebSocket} that reconnects when the connection is lost (the core's
 * `ReconnectingWebSocketBase` making each connection with this adapter's `WebSocket`): capped
 * exponential backoff with jitter, at most `maxAttempts` attempts in a row, and what is sent
 * while disconnected buffered (bounded) for the next connection. `close()` ends it for good.
 *
 * @example
 * ```ts
 * const ws = new ReconnectingWebSocket("ws://127.0.0.1:9001/", { initialDelay: 500, maxDelay: 10_000 });
 * ws.onopen = () => ws.send("hello");           // each time a connection opens
 * ws.onmessage = (event) => console.log(event.data);
 * ws.addEventListener("reconnecting", (event) => console.log(`attempt ${event.attempt} in ${event.delay} ms`));
 * ```
 */
export class ReconnectingWebSocket extends ReconnectingWebSocketBase {
  constructor(url: string | URL, protocols?: string | readonly string[] | ReconnectingWebSocketOptions, options: ReconnectingWebSocketOptions = {}) {
    const init = isOptions(protocols) ? protocols : options;
    const offered = isOptions(protocols) ? protocols.protocols : protocols ?? options.protocols;
    super(url, offered, (target, offeredNow) => new WebSocket(target, offeredNow, init), init);
  }
}

function isOptions(value: unknown): value is WebSocketOptions {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Connects a TCP (or, for `wss:`, TLS) socket to the URL's host and port, as a core `Transport`
 * ({@link SocketTransport}).
 * Resolves after the TLS handshake, once the server's certificate was accepted; `signal` aborts
 * the attempt and closes the socket.
 */
export async function openSocket(url: URL, tls: TLSOptions | undefined, signal: AbortSignal): Promise<SocketTransport> {
  const { host, port, secure } = connectTarget(url);
  signal.throwIfAborted();
  const transport = new SocketTransport();
  const connecting = Bun.connect<SocketTransport | undefined>({
    hostname: host,
    port,
    tls: secure ? (tls ?? true) : undefined,
    allowHalfOpen: true,
    data: transport,
    socket: SocketTransport.handlers,
  });
  connecting.catch((error: unknown) => transport.destroy(error, "The connection failed"));
  const onAbort = (): void => transport.destroy(signal.reason, "The connection was aborted");
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const socket = await transport.opened;
    if (secure) checkAuthorized(socket, tls);
    socket.setNoDelay(true);
    return transport;
  } catch (error) {
    transport.destroy(error);
    // Before `open` (during the TLS handshake) only the promise has the socket.
    connecting.then((socket) => socket.terminate(), () => {});
    throw error;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * Bun calls `open` even when the server's certificate failed verification, then closes the
 * socket itself (see [`authorized`](https://bun.com/reference/bun/Socket/authorized)): report why.
 */
function checkAuthorized(socket: TransportSocket, tls: TLSOptions | undefined): void {
  const verify = tls?.rejectUnauthorized ?? Bun.env.NODE_TLS_REJECT_UNAUTHORIZED !== "0";
  if (!verify || socket.authorized) return;
  throw socket.getAuthorizationError() ?? new Error("The server's certificate was not authorized");
}
