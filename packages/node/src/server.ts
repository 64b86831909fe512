/**
 * The server: `serve()` on [`node:net`](https://nodejs.org/api/net.html) or
 * [`node:tls`](https://nodejs.org/api/tls.html), and `handleUpgrade()` for an existing
 * [`node:http`](https://nodejs.org/api/http.html#event-upgrade) server.
 *
 * @module
 */
import type { IncomingMessage } from "node:http";
import { createServer as createTcpServer, type Server as NetServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { createServer as createTlsServer, type TlsOptions } from "node:tls";
import {
  type ConnectionHandler,
  ConnectionGroup,
  type ServerConnections,
  type RequestHead,
  type ServeConnectionOptions,
  type ServerApi,
  type ServerSocketFor,
  type ServerWebSocket,
} from "@wsstream/core";
import { socketTransport } from "./socket.ts";
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
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(options.port ?? 0, hostname, () => {
      listener.off("error", reject);
      resolve();
    });
  });
  const address = listener.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
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
}

/**
 * Makes an {@link UpgradeHandler}: the connections it accepts are listed together and can
 * publish to each other.
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
