/**
 * The server: `serve()` on [`Deno.listen`](https://docs.deno.com/api/deno/~/Deno.listen) or
 * [`Deno.listenTls`](https://docs.deno.com/api/deno/~/Deno.listenTls), and `handleConnection()`
 * for a connection accepted elsewhere.
 *
 * [`Deno.serve`](https://docs.deno.com/api/deno/~/Deno.serve) cannot hand its connection over:
 * its only upgrade is [`Deno.upgradeWebSocket`](https://docs.deno.com/api/deno/~/Deno.upgradeWebSocket)
 * to Deno's own WebSocket (see the README).
 *
 * @module
 */
import {
  type ConnectionHandler,
  type CloseReport,
  ConnectionGroup,
  type ServerConnections,
  type ServeConnectionOptions,
  type ServerApi,
  type ServerSocketFor,
} from "@wsstream/core";
import { connTransport } from "./socket.ts";
import { envDebug } from "./debug.ts";
import { sha1 } from "./sha1.ts";

/** Receives each accepted connection; a throw or rejection closes it with 1011. */
export type Handler = ConnectionHandler;

/** Where {@link serve} listens. */
export interface ListenOptions {
  /** Port to listen on; 0 (the default) picks a free one, see {@link Server.port}. */
  readonly port?: number;
  /** Address to listen on. Default `127.0.0.1`. */
  readonly hostname?: string;
  /** Serve `wss:`: the PEM certificate chain and key, passed to `Deno.listenTls()`. */
  readonly tls?: Deno.TlsCertifiedKeyPem;
  /**
   * Lets several processes listen on the same port (`SO_REUSEPORT`, Linux): the kernel spreads
   * the connections between them. Passed to `Deno.listen()`, where it is still unstable: run
   * with `--unstable-net`. Not for `tls`. Default `false`.
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
  /** The address it listens on. */
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
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? 0;
  if (options.reusePort === true && options.tls !== undefined) throw new TypeError("reusePort is for plain TCP: Deno.listenTls() has no such option");
  const listener: Deno.Listener = options.tls === undefined
    ? Deno.listen({ hostname, port, ...(options.reusePort === true ? { reusePort: true } : {}) } as Deno.TcpListenOptions)
    : Deno.listenTls({ hostname, port, ...options.tls, alpnProtocols: ["http/1.1"] });
  const group = new ConnectionGroup(options, { sha1, debug: envDebug() });
  const state = { stopped: false };
  const accepting = acceptLoop(listener, group, state);
  const address = listener.addr as Deno.NetAddr;
  let closing: Promise<CloseReport> | undefined;
  const close = async (): Promise<CloseReport> => {
    state.stopped = true;
    listener.close();
    await accepting;
    // Also closes the connections still in the opening handshake, or whose peer never closed.
    return await group.closeAll();
  };
  return {
    port: address.port,
    hostname,
    connections: group.connections,
    get stats() {
      return group.stats;
    },
    publish: (topic, data) => group.publish(topic, data),
    subscriberCount: (topic) => group.hub.subscriberCount(topic),
    close: () => (closing ??= close()),
  };
}

/** Hands each connection [accepted](https://docs.deno.com/api/deno/~/Deno.Listener.accept) to `connections` until the listener is closed. */
async function acceptLoop(listener: Deno.Listener, group: ConnectionGroup<ServerApi>, state: { stopped: boolean }): Promise<void> {
  while (!state.stopped) {
    try {
      const conn = await listener.accept();
      serveConnection(group, conn).catch(() => closeQuietly(conn));
    } catch (error) {
      if (state.stopped || error instanceof Deno.errors.BadResource) return;
      // Out of file descriptors and the like: that connection is lost, the listener is not.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

// Nagle's algorithm off on TCP; a Deno.TlsConn (the one with a handshake()) is served as wss:.
function serveConnection<A extends ServerApi>(group: ConnectionGroup<A>, conn: Deno.Conn): Promise<ServerSocketFor<A> | undefined> {
  if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
  const scheme = "handshake" in conn ? "wss:" : "ws:";
  return group.accept(connTransport(conn), { scheme });
}

/** Options of {@link handleConnection}: those of {@link serve} that concern one connection. */
export interface UpgradeOptions<A extends ServerApi = "stream"> extends ServeConnectionOptions<A> {}

/**
 * Takes over a connection accepted by your own
 * [`Deno.listen`](https://docs.deno.com/api/deno/~/Deno.listen) loop (one that also speaks
 * another protocol, or a connection passed from elsewhere): reads the upgrade request from it,
 * answers the handshake and calls `handler`. Resolves with the connection, or `undefined` when
 * the upgrade was refused (the refusal is written to `conn`, which is then closed). Turns off
 * Nagle's algorithm on a TCP connection; a `Deno.TlsConn` is served as `wss:`.
 *
 * @example
 * ```ts
 * for await (const conn of Deno.listen({ port: 9001 })) {
 *   void handleConnection(conn, { handler: (ws) => chat(ws) });
 * }
 * ```
 */
export function handleConnection<A extends ServerApi = "stream">(conn: Deno.Conn, options: UpgradeOptions<A>): Promise<ServerSocketFor<A> | undefined> {
  return serveConnection(new ConnectionGroup(options, { sha1, debug: envDebug() }), conn);
}

/**
 * {@link handleConnection} for many connections that share one server's state: the open
 * connections, pub/sub topics, and a `close()` that closes them all with 1001 and reports (your
 * listener is left to you).
 */
export interface ConnectionHandlerOf<A extends ServerApi = "stream"> extends ServerConnections<A> {
  /** Takes over one accepted connection, as {@link handleConnection} does. */
  handleConnection(conn: Deno.Conn): Promise<ServerSocketFor<A> | undefined>;
}

/**
 * Makes a {@link ConnectionHandlerOf}: the connections it accepts are listed together and can
 * publish to each other.
 *
 * @example
 * ```ts
 * const websockets = connectionHandler({ api: "websocket", handler: (ws) => ws.subscribe("news") });
 * for await (const conn of Deno.listen({ port: 9001 })) void websockets.handleConnection(conn);
 * ```
 */
export function connectionHandler<A extends ServerApi = "stream">(options: UpgradeOptions<A>): ConnectionHandlerOf<A> {
  const group = new ConnectionGroup(options, { sha1, debug: envDebug() });
  return {
    handleConnection: (conn) => serveConnection(group, conn),
    connections: group.connections,
    get stats() {
      return group.stats;
    },
    publish: (topic, data) => group.publish(topic, data),
    subscriberCount: (topic) => group.hub.subscriberCount(topic),
    close: () => group.closeAll(),
  };
}


/** [`conn.close()`](https://docs.deno.com/api/deno/~/Deno.Conn.close), when it is not closed already. */
function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
