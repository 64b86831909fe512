/**
 * The clients: `new WebSocket(url)` and `new WebSocketStream(url)` over
 * [`Deno.connect`](https://docs.deno.com/api/deno/~/Deno.connect) for `ws:`, and over
 * [`Deno.startTls`](https://docs.deno.com/api/deno/~/Deno.startTls) on top of it for `wss:`.
 *
 * @module
 */
import {
  type ClientOptions,
  connectTarget,
  ReconnectingWebSocketBase,
  type ReconnectOptions,
  type Transport,
  WebSocketBase,
  type WebSocketOptions as CoreWebSocketOptions,
  WebSocketStreamBase,
} from "@wsstream/core";
import { connTransport } from "./socket.ts";
import { envDebug } from "./debug.ts";
import { sha1 } from "./sha1.ts";

/** Options of {@link WebSocketStream}: the core client options plus TLS settings for `wss:`. */
export interface WebSocketStreamOptions extends ClientOptions {
  /**
   * Passed to [`Deno.startTls()`](https://docs.deno.com/api/deno/~/Deno.StartTlsOptions) for
   * `wss:` URLs, e.g. `{ caCerts: [pem] }`; `hostname` defaults to the URL's host.
   */
  readonly tls?: Deno.StartTlsOptions;
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
  /** Starts connecting at once: `opened` resolves after the handshake, or rejects. */
  constructor(url: string | URL, options: WebSocketStreamOptions = {}) {
    super(url, (target, signal) => openSocket(target, options.tls, signal), { sha1, debug: envDebug(), ...options });
  }
}

/** Options of {@link WebSocket}: the core options (headers, limits, extensions...), `protocols`, and TLS settings for `wss:`. */
export interface WebSocketOptions extends CoreWebSocketOptions {
  /** Subprotocols to offer (the second constructor argument, when given there instead). */
  readonly protocols?: string | readonly string[];
  /** TLS settings for `wss:` URLs, as for {@link WebSocketStream}. */
  readonly tls?: Deno.StartTlsOptions;
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
    super(url, offered, (target, signal) => openSocket(target, init.tls, signal), { sha1, debug: envDebug(), ...init });
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
 * Connects a TCP (or TLS) connection to the URL's host and port, as a core `Transport`
 * ({@link connTransport}): the transport
 * of {@link WebSocketStream}, for building a client with `connectWebSocket()` from the core.
 * Rejects with Deno's error (`ConnectionRefused`...) or, once `signal` aborts, its reason; a
 * connection made after the abort is closed.
 *
 * TLS runs on a TCP connection opened first so that Nagle's algorithm can be turned off
 * ([`setNoDelay`](https://docs.deno.com/api/deno/~/Deno.TcpConn.setNoDelay)), which
 * [`Deno.connectTls`](https://docs.deno.com/api/deno/~/Deno.connectTls) does not offer. The TLS
 * handshake itself happens with the first read or write.
 */
export async function openSocket(url: URL, tls: Deno.StartTlsOptions | undefined, signal: AbortSignal): Promise<Transport> {
  const { host: hostname, port, secure, alpnProtocols } = connectTarget(url);
  const tcp = await Deno.connect({ hostname, port, signal });
  tcp.setNoDelay(true);
  const conn = secure ? await Deno.startTls(tcp, { hostname, alpnProtocols: [...alpnProtocols], ...tls }) : tcp;
  if (signal.aborted) {
    conn.close();
    throw signal.reason;
  }
  return connTransport(conn);
}
