/**
 * The server: `serve()` on
 * [`Bun.listen`](https://bun.com/docs/runtime/networking/tcp#start-a-server-bun-listen), TCP or
 * TLS.
 *
 * @module
 */
import type { TCPSocketListener, TLSOptions } from "bun";
import {
  type CloseReport,
  type ConnectionHandler,
  ConnectionGroup,
  type ServeConnectionOptions,
  type ServerApi,
  type ServerConnections,
} from "@wsstream/core";
import { SocketTransport, type TransportSocket } from "./socket.ts";
import { envDebug } from "./debug.ts";
import { allocate } from "./allocate.ts";
import { sha1 } from "./sha1.ts";

/** Receives each accepted connection; a throw or rejection closes it with 1011. */
export type Handler = ConnectionHandler;

/** Where {@link serve} listens. */
export interface ListenOptions {
  /** Port to listen on; 0 (the default) picks a free one, see {@link Server.port}. */
  readonly port?: number;
  /** Address to listen on. Default `127.0.0.1`. */
  readonly hostname?: string;
  /**
   * Serve `wss:`: passed to `Bun.listen()` as [`tls`](https://bun.com/reference/bun/TLSOptions)
   * (`key`, `cert`, ...).
   */
  readonly tls?: TLSOptions;
  /**
   * Lets several processes listen on the same port (`SO_REUSEPORT`, Linux): the kernel spreads
   * the connections between them. Passed to `Bun.listen()`. Default `false`.
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
  /** The address it listens on, as given (default `127.0.0.1`). */
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
  const connections = new Connections(options, options.tls === undefined ? "ws:" : "wss:");
  const hostname = options.hostname ?? "127.0.0.1";
  const listener: TCPSocketListener<SocketTransport | undefined> = Bun.listen<SocketTransport | undefined>({
    hostname,
    port: options.port ?? 0,
    tls: options.tls,
    // In Bun.listen() since Bun 1.1 (SO_REUSEPORT), though not in its TCPSocketListenOptions type.
    ...(options.reusePort === true ? { reusePort: true } : {}),
    allowHalfOpen: true,
    socket: {
      ...SocketTransport.handlers,
      open: (socket) => connections.open(socket),
    },
  });
  const group = connections.group as ConnectionGroup<A>;
  return {
    port: listener.port,
    hostname,
    connections: group.connections,
    get stats() {
      return group.stats;
    },
    publish: (topic, data) => group.publish(topic, data),
    subscriberCount: (topic) => group.hub.subscriberCount(topic),
    close: async () => {
      listener.stop(false);
      return await connections.closeAll();
    },
  };
}

// One listener's sockets, given their transports as they open and handed to the group; close()
// reaches every one of them.
class Connections {
  readonly group: ConnectionGroup<ServerApi>;
  readonly #scheme: "ws:" | "wss:";
  readonly #transports = new Set<SocketTransport>();

  constructor(options: ServeOptions<ServerApi>, scheme: "ws:" | "wss:") {
    this.group = new ConnectionGroup(options, { sha1, allocate, debug: envDebug() });
    this.#scheme = scheme;
  }

  /** The listener's `open` handler: gives the socket its transport and runs the handshake. */
  open(socket: TransportSocket): void {
    if (this.group.closing) {
      socket.end();
      return;
    }
    socket.setNoDelay(true);
    // In #transports until its socket closes.
    const transport = new SocketTransport({}, this.#transports);
    socket.data = transport;
    SocketTransport.handlers.open!(socket);
    this.group.accept(transport, { scheme: this.#scheme }).catch((error: unknown) => transport.destroy(error, "The handshake failed"));
  }

  async closeAll(): Promise<CloseReport> {
    const report = await this.group.closeAll();
    // Sockets still in the opening handshake, or whose peer has not closed yet.
    const rest = [...this.#transports];
    for (const transport of rest) transport.socket?.end();
    await Promise.all(rest.map((transport) => transport.closed));
    return report;
  }
}
