/**
 * The server: `serve()` on [`node:net`](https://nodejs.org/api/net.html) or
 * [`node:tls`](https://nodejs.org/api/tls.html) (or [`node:http2`](https://nodejs.org/api/http2.html)
 * with `http2: true`), `handleUpgrade()` for an existing
 * [`node:http`](https://nodejs.org/api/http.html#event-upgrade) server, and `handleStream()` for
 * an existing `node:http2` server's extended CONNECT streams (RFC 8441).
 *
 * @module
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import {
  createSecureServer,
  createServer as createHttp2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import { createServer as createTcpServer, type Server as NetServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { createServer as createTlsServer, type TlsOptions } from "node:tls";
import {
  type Clock,
  type ConnectionHandler,
  ConnectionGroup,
  defaultClock,
  type ConnectRequestHead,
  type ConnectResponse,
  type ServerConnections,
  type RequestHead,
  type ServeConnectionOptions,
  type ServerApi,
  type ServerSocketFor,
  type ServerWebSocket,
} from "@wsstream/core";
import { headerList, socketTransport } from "./socket.ts";
import { envDebug } from "./debug.ts";
import { allocate } from "./allocate.ts";
import { sha1 } from "./sha1.ts";

/** Receives each accepted connection as a `WebSocketStream`; a throw or rejection closes it with 1011. */
export type Handler = ConnectionHandler;

/** Where {@link serve} listens. */
export interface ListenOptions {
  /** Port to listen on; 0 (the default) picks a free one, see {@link Server.port}. */
  readonly port?: number;
  /** Address to listen on. Default `127.0.0.1`. */
  readonly hostname?: string;
  /** Serve `wss:`: passed to `tls.createServer()` (`key`, `cert`, ...). */
  readonly tls?: TlsOptions;
  /**
   * Also accept WebSockets over HTTP/2 (RFC 8441) on the same port. With `tls`: one TLS port
   * where ALPN picks HTTP/2 (`h2`) or HTTP/1.1 (`allowHTTP1`), WebSockets over both. Without:
   * cleartext, where a connection that starts with the HTTP/2 preface is HTTP/2 with prior
   * knowledge (h2c) and any other is HTTP/1.1 (Upgrade). The server sends
   * `SETTINGS_ENABLE_CONNECT_PROTOCOL`. Default false: `node:net` / `node:tls` and HTTP/1.1 only.
   */
  readonly http2?: boolean;
  /**
   * With `http2`: answers the requests that are not WebSocket handshakes (HTTP/1.1 and HTTP/2
   * alike, through `node:http2`'s compatibility API), e.g. to serve a page on the same
   * connection. Default: 404.
   */
  readonly onRequest?: (request: IncomingMessage | Http2ServerRequest, response: ServerResponse | Http2ServerResponse) => void;
  /**
   * Lets several processes listen on the same port (`SO_REUSEPORT`, Linux): the kernel spreads
   * the connections between them. Node has it from 22.12 and 23.1 (`server.listen({ reusePort })`);
   * on older versions `serve()` throws a `TypeError`: use {@link clusterServe}, which works on
   * every version. Default `false`.
   */
  readonly reusePort?: boolean;
}

/**
 * Options of {@link serve}: where to listen, the connection options, and the handler. The handler
 * takes a `WebSocketStream`, or a WHATWG `WebSocket` with `api: "websocket"`.
 */
export interface ServeOptions<A extends ServerApi = "stream"> extends ListenOptions, ServeConnectionOptions<A> {}

/** A running server. */
export interface Server<A extends ServerApi = "stream"> extends ServerConnections<A> {
  /** The bound port. */
  readonly port: number;
  readonly hostname: string;
}

/**
 * Starts a standalone WebSocket server.
 *
 * @example
 * ```ts
 * const server = await serve({
 *   port: 9001,
 *   handler: async (ws) => {
 *     const { readable, writable } = await ws.opened;
 *     await readable.pipeTo(writable); // echo
 *   },
 * });
 * ```
 */
export async function serve<A extends ServerApi = "stream">(options: ServeOptions<A>): Promise<Server<A>> {
  if (options.reusePort === true && !hasReusePort()) {
    throw new TypeError(`reusePort needs Node 22.12 or later (this is ${process.version}): use clusterServe()`);
  }
  if (options.http2 === true) return serveHttp2(options);
  const group = new ConnectionGroup(options, { sha1, allocate, debug: envDebug() });
  const scheme = options.tls === undefined ? "ws:" : "wss:";
  const listener: NetServer = options.tls === undefined
    ? createTcpServer({ noDelay: true })
    : createTlsServer({ ...options.tls, ALPNProtocols: ["http/1.1"] });
  const event = options.tls === undefined ? "connection" : "secureConnection";
  listener.on(event, (socket: Socket) => {
    if (group.closing) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    void group.accept(socketTransport(socket), { scheme });
  });
  // A failed TLS handshake or a reset before the upgrade concerns that client only.
  listener.on("tlsClientError", (_error: Error, socket: Socket) => socket.destroy());
  const hostname = options.hostname ?? "127.0.0.1";
  const port = await listenOn(listener, hostname, options);
  return {
    port,
    hostname,
    connections: group.connections,
    get stats() {
      return group.stats;
    },
    publish: (topic, data) => group.publish(topic, data),
    subscriberCount: (topic) => group.hub.subscriberCount(topic),
    close: async () => {
      const stopped = new Promise<void>((resolve) => listener.close(() => resolve()));
      // Also drops the sockets still in the opening handshake, or whose peer never closed.
      const report = await group.closeAll();
      await stopped;
      return report;
    },
  };
}

/** Whether `server.listen()` takes `reusePort`: Node 22.12+ (22.x) or 23.1+. */
function hasReusePort(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/** Options of {@link handleUpgrade}: those of {@link serve} that concern one connection. */
export interface UpgradeOptions<A extends ServerApi = "stream"> extends ServeConnectionOptions<A> {}

/**
 * Takes over a request from a `node:http` or `node:https` server's `'upgrade'` event (Express,
 * Fastify, Hono's Node server...): answers the handshake on `socket` and calls `handler`. The
 * bytes in `head` are read as the first frames. Resolves with the connection, or `undefined`
 * when the upgrade was refused (the refusal is written to the socket).
 *
 * @example
 * ```ts
 * httpServer.on("upgrade", (req, socket, head) => {
 *   void handleUpgrade(req, socket, head, { handler: (ws) => chat(ws) });
 * });
 * ```
 */
export function handleUpgrade<A extends ServerApi = "stream">(
  request: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
  options: UpgradeOptions<A>,
): Promise<ServerSocketFor<A> | undefined> {
  return upgrade(new ConnectionGroup(options, { sha1, allocate, debug: envDebug() }), request, socket, head);
}

/**
 * {@link handleUpgrade} for many requests that share one server's state: the open connections,
 * pub/sub topics, and a `close()` that closes them all with 1001 and reports (your HTTP server
 * is left to you).
 */
export interface UpgradeHandler<A extends ServerApi = "stream"> extends ServerConnections<A> {
  /** Takes over one `'upgrade'` event's request, as {@link handleUpgrade} does. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Uint8Array): Promise<ServerSocketFor<A> | undefined>;
  /** Takes over one HTTP/2 extended CONNECT stream, as {@link handleStream} does. */
  handleStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<ServerSocketFor<A> | undefined>;
}

/**
 * Makes an {@link UpgradeHandler}: the connections it accepts (HTTP/1.1 upgrades and HTTP/2
 * streams alike) are listed together and can publish to each other.
 *
 * @example
 * ```ts
 * const websockets = upgradeHandler({ api: "websocket", handler: (ws) => ws.subscribe("news") });
 * httpServer.on("upgrade", (req, socket, head) => void websockets.handleUpgrade(req, socket, head));
 * websockets.publish("news", "hello"); // to every connection subscribed to "news"
 * ```
 */
export function upgradeHandler<A extends ServerApi = "stream">(options: UpgradeOptions<A>): UpgradeHandler<A> {
  const group = new ConnectionGroup(options, { sha1, allocate, debug: envDebug() });
  return {
    handleUpgrade: (request, socket, head) => upgrade(group, request, socket, head),
    handleStream: (stream, headers) => acceptStream(group, stream, headers),
    connections: group.connections,
    get stats() {
      return group.stats;
    },
    publish: (topic, data) => group.publish(topic, data),
    subscriberCount: (topic) => group.hub.subscriberCount(topic),
    close: () => group.closeAll(),
  };
}

function upgrade<A extends ServerApi>(
  group: ConnectionGroup<A>,
  request: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
): Promise<ServerSocketFor<A> | undefined> {
  const tcp = socket as Socket;
  tcp.setTimeout(0);
  tcp.setNoDelay(true);
  const requestHead: RequestHead = {
    method: request.method ?? "GET",
    target: request.url ?? "/",
    version: `HTTP/${request.httpVersion}`,
    headers: pairs(request.rawHeaders),
  };
  const scheme = (socket as { encrypted?: boolean }).encrypted ? "wss:" : "ws:";
  return group.accept(socketTransport(tcp), {
    scheme,
    head: { request: requestHead, rest: head },
  });
}

function pairs(raw: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

/**
 * Takes over one extended CONNECT stream (RFC 8441) of a `node:http2` server created with
 * `settings: { enableConnectProtocol: true }` (its `'stream'` event, where
 * `headers[":method"] === "CONNECT"` and `headers[":protocol"] === "websocket"`): checks it
 * (`:scheme`, `:path`, `:authority`, `sec-websocket-version: 13`), runs the same path filter,
 * `upgrade` hook and subprotocol and extension negotiation as {@link handleUpgrade}, answers
 * `:status 200` or the refusal (400 for a malformed request or another version, 404 off `path`,
 * the hook's `Response`), then calls `handler` with a `WebSocketStream` (or `WebSocket`) over
 * the stream. Any other stream passed here is refused with 400. Resolves with the connection, or
 * `undefined` when refused.
 *
 * @example
 * ```ts
 * const server = http2.createSecureServer({ key, cert, settings: { enableConnectProtocol: true } });
 * server.on("stream", (stream, headers) => {
 *   if (headers[":method"] === "CONNECT") void handleStream(stream, headers, { handler: (ws) => chat(ws) });
 * });
 * ```
 */
export function handleStream<A extends ServerApi = "stream">(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  options: UpgradeOptions<A>,
): Promise<ServerSocketFor<A> | undefined> {
  return acceptStream(new ConnectionGroup(options, { sha1, allocate, debug: envDebug() }), stream, headers);
}

function acceptStream<A extends ServerApi>(
  group: ConnectionGroup<A>,
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
): Promise<ServerSocketFor<A> | undefined> {
  const scheme = (stream.session as { encrypted?: boolean } | undefined)?.encrypted === true ? "wss:" : "ws:";
  return group.accept(socketTransport(stream), {
    scheme,
    connect: { request: connectHead(headers), respond: (response) => respond(stream, response) },
  });
}

/** Whether an HTTP/2 request is an extended CONNECT for a WebSocket (RFC 8441 §4). */
function isWebSocketConnect(headers: IncomingHttpHeaders): boolean {
  return headers[":method"] === "CONNECT";
}

function connectHead(headers: IncomingHttpHeaders): ConnectRequestHead {
  const pseudo = (name: string): string | undefined => {
    const value = headers[name];
    return typeof value === "string" ? value : undefined;
  };
  return {
    method: pseudo(":method") ?? "",
    protocol: pseudo(":protocol"),
    scheme: pseudo(":scheme"),
    path: pseudo(":path"),
    authority: pseudo(":authority"),
    headers: headerList(headers),
  };
}

// The handshake's answer as the stream's response; a refusal's body follows, then END_STREAM.
function respond(stream: ServerHttp2Stream, response: ConnectResponse): void {
  if (stream.destroyed || stream.headersSent) return;
  const headers: OutgoingHttpHeaders = { ":status": response.status };
  for (const [name, value] of response.headers) {
    const previous = headers[name];
    headers[name] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [String(previous)]), value];
  }
  try {
    stream.respond(headers);
    if (response.body !== undefined) stream.end(response.body);
  } catch (error) {
    // Closed by the peer meanwhile: nothing to answer.
    stream.destroy(error as Error);
  }
}

// serve({ http2: true }): one port for HTTP/2 and HTTP/1.1, WebSockets over both.
async function serveHttp2<A extends ServerApi>(options: ServeOptions<A>): Promise<Server<A>> {
  const group = new ConnectionGroup(options, { sha1, allocate, debug: envDebug() });
  const settings = { enableConnectProtocol: true };
  const secure = options.tls !== undefined;
  const h2 = secure
    ? createSecureServer({ ...options.tls, allowHTTP1: true, ALPNProtocols: ["h2", "http/1.1"], settings })
    : createHttp2Server({ settings });
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  const onRequest = options.onRequest ?? notFound;
  h2.on("session", (session: Http2Session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
    // A session's failure concerns that client only (its streams see it too).
    session.on("error", () => {});
  });
  h2.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    if (!isWebSocketConnect(headers)) return;
    if (group.closing) {
      stream.close();
      return;
    }
    void acceptStream(group, stream, headers);
  });
  // The compatibility API hands every CONNECT to 'connect' too; the 'stream' listener above owns them.
  h2.on("connect", () => {});
  h2.on("request", (request: IncomingMessage | Http2ServerRequest, response: ServerResponse | Http2ServerResponse) => onRequest(request, response));
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (group.closing) {
      socket.destroy();
      return;
    }
    void upgrade(group, request, socket, head);
  };
  let listener: NetServer;
  if (secure) {
    // allowHTTP1: node:http2 runs HTTP/1.1 connections through node:http, 'upgrade' included.
    h2.on("upgrade", onUpgrade);
    h2.on("tlsClientError", (_error: Error, socket: Socket) => socket.destroy());
    listener = h2 as unknown as NetServer;
  } else {
    // Cleartext: the first bytes tell HTTP/2 with prior knowledge (the connection preface) from HTTP/1.1.
    const h1 = createHttpServer(onRequest as (request: IncomingMessage, response: ServerResponse) => void);
    h1.on("upgrade", onUpgrade);
    listener = createTcpServer({ noDelay: true }, (socket) => {
      sniffPreface(socket, options.clock ?? defaultClock, options.handshakeTimeout ?? 10_000, (isHttp2) => (isHttp2 ? h2 : h1).emit("connection", socket));
    });
  }
  listener.on("connection", (socket: Socket) => {
    // A WebSocket frame must not wait for Nagle's algorithm, on HTTP/2 as on HTTP/1.1.
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  const hostname = options.hostname ?? "127.0.0.1";
  const port = await listenOn(listener, hostname, options);
  return {
    port,
    hostname,
    connections: group.connections,
    publish: (topic, data) => group.publish(topic, data),
    subscriberCount: (topic) => group.hub.subscriberCount(topic),
    get stats() {
      return group.stats;
    },
    close: async () => {
      const stopped = new Promise<void>((resolve) => listener.close(() => resolve()));
      const report = await group.closeAll();
      // The WebSockets are closed: end the sessions (GOAWAY) and the remaining connections.
      for (const session of sessions) session.close();
      for (const socket of sockets) socket.destroy();
      await stopped;
      return report;
    },
  };
}

const PREFACE = "PRI * HTTP/2.0\r\n";

// Reads until the first bytes match the HTTP/2 connection preface or cannot, puts them back and
// hands the socket on (both servers read what was put back before anything newer).
function sniffPreface(socket: Socket, clock: Clock, timeout: number, dispatch: (isHttp2: boolean) => void): void {
  const chunks: Buffer[] = [];
  let seen = "";
  // A connection that sends nothing is dropped after the handshake timeout, as in the handshake.
  const timer = clock.setTimeout(() => socket.destroy(), timeout);
  socket.once("close", () => clock.clearTimeout(timer));
  const onData = (chunk: Buffer): void => {
    chunks.push(chunk);
    seen += chunk.toString("latin1", 0, Math.min(chunk.length, PREFACE.length - seen.length));
    if (seen.length < PREFACE.length && PREFACE.startsWith(seen)) return;
    clock.clearTimeout(timer);
    socket.off("data", onData);
    socket.pause();
    socket.unshift(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    const isHttp2 = seen === PREFACE;
    dispatch(isHttp2);
    // node:http reads on with its 'data' listener. Node's HTTP/2 session reads what was put back
    // on the next tick, then the socket's handle directly, so resuming now would drop those
    // bytes; one that reads with a 'data' listener instead (Bun 1.4's) leaves them unread: then
    // resume, after that tick.
    if (!isHttp2) socket.resume();
    else process.nextTick(resumeIfUnread, socket);
  };
  socket.on("data", onData);
}

function resumeIfUnread(socket: Socket): void {
  if (socket.readableLength > 0 && !socket.destroyed) socket.resume();
}

function notFound(_request: unknown, response: ServerResponse | Http2ServerResponse): void {
  (response as ServerResponse).writeHead(404, { "content-type": "text/plain" });
  response.end("Not Found");
}

/** Listens on `hostname` and the options' port (0: a free one); resolves with the port bound. */
async function listenOn(listener: NetServer, hostname: string, options: ListenOptions): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    const listen = { port: options.port ?? 0, host: hostname, ...(options.reusePort === true ? { reusePort: true } : {}) };
    listener.listen(listen, () => {
      listener.off("error", reject);
      resolve();
    });
  });
  const address = listener.address();
  return typeof address === "object" && address !== null ? address.port : 0;
}
