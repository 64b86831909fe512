/**
 * The clients: `new WebSocket(url)` and `new WebSocketStream(url)` over
 * [`node:net`](https://nodejs.org/api/net.html) for `ws:` and
 * [`node:tls`](https://nodejs.org/api/tls.html) for `wss:`.
 *
 * @module
 */
import { connect as connectTcp, type Socket } from "node:net";
import { connect as connectTls, type ConnectionOptions as TlsConnectionOptions } from "node:tls";
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
import { socketTransport } from "./socket.ts";
import { envDebug } from "./debug.ts";
import { allocate } from "./allocate.ts";
import { sha1 } from "./sha1.ts";

/** Options of {@link WebSocketStream}: the core client options plus TLS settings for `wss:`. */
export interface WebSocketStreamOptions extends ClientOptions {
  /** Passed to `tls.connect()` for `wss:` URLs, e.g. `{ ca }` or `{ rejectUnauthorized: false }`. */
  readonly tls?: TlsConnectionOptions;
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
  /** Passed to `tls.connect()` for `wss:` URLs. */
  readonly tls?: TlsConnectionOptions;
}

/**
 * The WHATWG `WebSocket` client: `onopen`, `onmessage`, `send()`, `close()`, `readyState`,
 * `bufferedAmount`, `binaryType`. The second argument is the subprotocols, or the options.
 *
 * @example
 * ```ts
 * const ws = new WebSocket("ws://127.0.0.1:9001/", ["chat"], { headers: { authorization: "Bearer t" } });
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

/** Connects a TCP (or TLS) socket to the URL's host and port, as a core `Transport`. */
export function openSocket(url: URL, tls: TlsConnectionOptions | undefined, signal: AbortSignal): Promise<Transport> {
  const target = connectTarget(url);
  const socket: Socket = target.secure
    ? connectTls({ host: target.host, port: target.port, servername: target.servername, ALPNProtocols: [...target.alpnProtocols], ...tls })
    : connectTcp({ host: target.host, port: target.port });
  socket.setNoDelay(true);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      socket.destroy();
      reject(signal.reason);
    };
    const cleanup = (): void => {
      signal.removeEventListener("abort", onAbort);
      socket.off("error", onError);
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("error", onError);
    socket.once(target.secure ? "secureConnect" : "connect", () => {
      cleanup();
      resolve(socketTransport(socket));
    });
  });
}
