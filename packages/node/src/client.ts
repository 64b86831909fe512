/**
 * The clients: `new WebSocket(url)` and `new WebSocketStream(url)` over
 * [`node:net`](https://nodejs.org/api/net.html) for `ws:` and
 * [`node:tls`](https://nodejs.org/api/tls.html) for `wss:`, or as a stream of a
 * [`node:http2`](https://nodejs.org/api/http2.html) session (RFC 8441) with `http2`.
 *
 * @module
 */
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect as connectHttp2,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from "node:http2";
import { connect as connectTcp, type Socket } from "node:net";
import { connect as connectTls, type ConnectionOptions as TlsConnectionOptions, type TLSSocket } from "node:tls";
import {
  type ClientHandshake,
  type ClientOptions,
  type ConnectRequest,
  type ConnectTunnel,
  connectTarget,
  HandshakeError,
  ReconnectingWebSocketBase,
  type ReconnectOptions,
  type Transport,
  WebSocketBase,
  type WebSocketOptions as CoreWebSocketOptions,
  WebSocketStreamBase,
} from "@wsstream/core";
import { headerList, socketTransport } from "./socket.ts";
import { envDebug } from "./debug.ts";
import { allocate } from "./allocate.ts";
import { sha1 } from "./sha1.ts";

/** The client's HTTP/2 option (RFC 8441), shared by {@link WebSocketStream} and {@link WebSocket}. */
export interface Http2ClientOptions {
  /**
   * Open the WebSocket as one stream of an HTTP/2 connection (RFC 8441) instead of a connection
   * of its own.
   *
   * - `true`: a new HTTP/2 session to the URL's origin (`wss:`: TLS offering ALPN `h2` and
   *   `http/1.1`; `ws:`: h2c with prior knowledge), closed with the WebSocket. It falls back to
   *   HTTP/1.1 (the Upgrade handshake) when the server does not speak HTTP/2 (over TLS, on the
   *   same connection; in cleartext, on a new one) or does not send
   *   `SETTINGS_ENABLE_CONNECT_PROTOCOL` (on a new connection).
   * - a `ClientHttp2Session` (e.g. from {@link openHttp2Session}): one more stream on it, so
   *   many WebSockets share one connection. No fallback: without the server's
   *   `SETTINGS_ENABLE_CONNECT_PROTOCOL` the handshake fails with a `HandshakeError`
   *   `WS_ERR_EXTENDED_CONNECT_DISABLED`. The session stays yours to close.
   *
   * Default: HTTP/1.1.
   */
  readonly http2?: boolean | ClientHttp2Session;
}

/** Options of {@link WebSocketStream}: the core client options plus TLS settings for `wss:` and HTTP/2. */
export interface WebSocketStreamOptions extends ClientOptions, Http2ClientOptions {
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
    super(url, (target, signal, handshake) => openTransport(target, options, signal, handshake), { sha1, allocate, debug: envDebug(), ...options });
  }
}

/** Options of {@link WebSocket}: the core options (headers, limits, extensions...), `protocols`, TLS settings for `wss:`, and HTTP/2. */
export interface WebSocketOptions extends CoreWebSocketOptions, Http2ClientOptions {
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
    super(url, offered, (target, signal, handshake) => openTransport(target, init, signal, handshake), { sha1, allocate, debug: envDebug(), ...init });
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

// ---------------------------------------------------------------------------------------------
// HTTP/2 (RFC 8441)

/** Options of {@link openHttp2Session}. */
export interface Http2SessionOptions {
  /** Passed to `tls.connect()` for `wss:` (and `https:`) URLs. */
  readonly tls?: TlsConnectionOptions;
  /** Aborts opening the session. */
  readonly signal?: AbortSignal;
}

/**
 * Opens an HTTP/2 session to the origin of `url` (`wss:`/`https:`: TLS with ALPN `h2`;
 * `ws:`/`http:`: h2c with prior knowledge), for WebSockets to share with `{ http2: session }`.
 * Resolves once the server's SETTINGS are in, so
 * `session.remoteSettings.enableConnectProtocol` tells whether it accepts WebSockets (RFC 8441
 * §3); rejects if the session fails first. Close it (`session.close()`) when done; its `'error'`
 * events are its streams' too, so a listener that ignores them is attached.
 *
 * @example
 * ```ts
 * const session = await openHttp2Session("wss://example.com/");
 * const sockets = Array.from({ length: 100 }, () => new WebSocket("wss://example.com/chat", { http2: session }));
 * ```
 */
export async function openHttp2Session(url: string | URL, options: Http2SessionOptions = {}): Promise<ClientHttp2Session> {
  const target = new URL(String(url));
  const secure = target.protocol === "wss:" || target.protocol === "https:";
  if (!secure && target.protocol !== "ws:" && target.protocol !== "http:") {
    throw new HandshakeError("WS_ERR_INVALID_URL", 0, `Invalid URL scheme, expected ws, wss, http or https: ${target.protocol}`);
  }
  const origin = `${secure ? "https" : "http"}://${target.host}`;
  const session = connectHttp2(origin, secure ? { ALPNProtocols: ["h2"], ...options.tls } : {});
  session.on("error", ignore);
  try {
    await settingsReceived(session, options.signal);
  } catch (error) {
    session.destroy();
    throw error;
  }
  return session;
}

// The transport for one client connection: a socket (HTTP/1.1), or a stream of an HTTP/2 session.
function openTransport(
  url: URL,
  options: WebSocketStreamOptions | WebSocketOptions,
  signal: AbortSignal,
  handshake: ClientHandshake,
): Promise<Transport | ConnectTunnel> {
  const http2 = options.http2;
  if (http2 === undefined || http2 === false) return openSocket(url, options.tls, signal);
  if (http2 === true) return openOverNewSession(url, options.tls, signal, handshake);
  return openStream(http2, handshake.connectRequest(), signal).then(({ tunnel }) => tunnel);
}

// http2: true. Over TLS, ALPN decides: `h2`, or the same connection for HTTP/1.1.
async function openOverNewSession(url: URL, tls: TlsConnectionOptions | undefined, signal: AbortSignal, handshake: ClientHandshake): Promise<Transport | ConnectTunnel> {
  const target = connectTarget(url);
  let session: ClientHttp2Session;
  if (target.secure) {
    const socket = await connected(
      connectTls({ host: target.host, port: target.port, servername: target.servername, ...tls, ALPNProtocols: ["h2", "http/1.1"] }),
      "secureConnect",
      signal,
    ) as TLSSocket;
    if (socket.alpnProtocol !== "h2") return socketTransport(socket);
    session = connectHttp2(`https://${url.host}`, { createConnection: () => socket });
  } else {
    session = connectHttp2(`http://${url.host}`);
  }
  session.on("error", ignore);
  let enabled = false;
  try {
    await settingsReceived(session, signal);
    enabled = session.remoteSettings.enableConnectProtocol === true;
  } catch (error) {
    if (signal.aborted) {
      session.destroy();
      throw error;
    }
    // Not HTTP/2 (a cleartext HTTP/1.1 server answers the preface with an error): fall back.
  }
  if (!enabled) {
    session.destroy();
    return openSocket(url, tls, signal);
  }
  try {
    const { tunnel, stream } = await openStream(session, handshake.connectRequest(), signal);
    // The session is this WebSocket's own: it ends with the stream.
    stream.once("close", () => session.close());
    return tunnel;
  } catch (error) {
    session.destroy();
    throw error;
  }
}

// One more stream on `session`: the extended CONNECT, then its response.
async function openStream(session: ClientHttp2Session, request: ConnectRequest, signal: AbortSignal): Promise<{ tunnel: ConnectTunnel; stream: ClientHttp2Stream }> {
  await settingsReceived(session, signal);
  // RFC 8441 §3: "A sender MUST NOT send a SETTINGS_ENABLE_CONNECT_PROTOCOL parameter with the
  // value of 0 after previously sending a value of 1": checking once is enough.
  if (session.remoteSettings.enableConnectProtocol !== true) {
    throw new HandshakeError(
      "WS_ERR_EXTENDED_CONNECT_DISABLED",
      0,
      "Handshake failed: the server did not enable the extended CONNECT protocol on this HTTP/2 session (SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 8441)",
    );
  }
  const stream = session.request(outgoingHeaders(request.headers), { endStream: false });
  const transport = socketTransport(stream);
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      signal.removeEventListener("abort", onAbort);
      stream.off("response", onResponse);
      stream.off("close", onClose);
    };
    const onAbort = (): void => {
      cleanup();
      transport.destroy();
      reject(signal.reason);
    };
    const onClose = (): void => {
      cleanup();
      reject(new HandshakeError("WS_ERR_HANDSHAKE_EOF", 0, `Handshake failed: the HTTP/2 stream closed before the response (RST_STREAM code ${stream.rstCode ?? 0})`));
    };
    const onResponse = (headers: IncomingHttpHeaders): void => {
      cleanup();
      resolve({ tunnel: { transport, response: { status: Number(headers[":status"]), headers: headerList(headers) } }, stream });
    };
    signal.addEventListener("abort", onAbort, { once: true });
    stream.once("response", onResponse);
    stream.once("close", onClose);
  });
}

// Sessions whose server SETTINGS are known to be in.
const settled = new WeakMap<ClientHttp2Session, Promise<void>>();

/**
 * Resolves once the server's SETTINGS have been received: the `'remoteSettings'` event, or for a
 * session that may have had it already, a PING's acknowledgement, which comes after them (the
 * server's SETTINGS are the first frame it sends, RFC 9113 §3.4). Once per session.
 */
function settingsReceived(session: ClientHttp2Session, signal: AbortSignal | undefined): Promise<void> {
  let known = settled.get(session);
  if (known === undefined) {
    known = new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        session.off("remoteSettings", onSettings);
        session.off("connect", ping);
        session.off("error", onError);
        session.off("close", onClose);
      };
      const onSettings = (): void => {
        cleanup();
        resolve();
      };
      const onError = (error: Error): void => {
        cleanup();
        reject(error);
      };
      const onClose = (): void => {
        cleanup();
        reject(new Error("The HTTP/2 session closed before the server's SETTINGS"));
      };
      function ping(): void {
        // A ping sent before the session is ready is cancelled: the SETTINGS event decides then.
        session.ping((error) => {
          if (error === null) onSettings();
        });
      }
      session.once("remoteSettings", onSettings);
      session.once("error", onError);
      session.once("close", onClose);
      if (session.destroyed || session.closed) onClose();
      else if (session.connecting) session.once("connect", ping);
      else ping();
    });
    known.catch(ignore);
    settled.set(session, known);
  }
  if (signal === undefined) return known;
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    known.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

// A connecting socket, once connected; destroyed on abort.
function connected(socket: Socket, event: "connect" | "secureConnect", signal: AbortSignal): Promise<Socket> {
  socket.setNoDelay(true);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      cleanup();
      socket.destroy();
      reject(signal.reason);
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const cleanup = (): void => {
      signal.removeEventListener("abort", onAbort);
      socket.off("error", onError);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("error", onError);
    socket.once(event, () => {
      cleanup();
      resolve(socket);
    });
  });
}

function outgoingHeaders(fields: ConnectRequest["headers"]): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of fields) {
    const previous = headers[name];
    headers[name] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [String(previous)]), value];
  }
  return headers;
}

function ignore(): void {}
