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
  acceptWebSocket,
  runHandler,
  type ServerOptions,
  type UpgradeDecision,
  type WebSocketStreamBase,
} from "@wsstream/core";
import { socketToStreams } from "./socket.ts";

/** Receives each accepted connection; a throw or rejection closes it with 1011. */
export type Handler = (ws: WebSocketStreamBase, request: Request) => void | Promise<void>;

/** Options of {@link serve}. */
export interface ServeOptions extends Omit<ServerOptions, "head" | "scheme"> {
  /** Port to listen on; 0 (the default) picks a free one, see {@link Server.port}. */
  readonly port?: number;
  /** Address to listen on. Default `127.0.0.1`. */
  readonly hostname?: string;
  /** Only upgrade requests for this path (query ignored); others get 404. Default: any path. */
  readonly path?: string;
  /** Serve `wss:`: the PEM certificate chain and key, passed to `Deno.listenTls()`. */
  readonly tls?: Deno.TlsCertifiedKeyPem;
  /** Called with each open connection. */
  readonly handler: Handler;
}

/** A running server. */
export interface Server {
  /** The bound port. */
  readonly port: number;
  /** The address it listens on. */
  readonly hostname: string;
  /**
   * Stops accepting, closes every connection with 1001 (messages already written are sent
   * first) and resolves once all are closed (each bounded by `closeTimeout`).
   */
  close(): Promise<void>;
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
export async function serve(options: ServeOptions): Promise<Server> {
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? 0;
  const listener: Deno.Listener = options.tls === undefined
    ? Deno.listen({ hostname, port })
    : Deno.listenTls({ hostname, port, ...options.tls, alpnProtocols: ["http/1.1"] });
  const connections = new Connections(options);
  const accepting = acceptLoop(listener, connections);
  const address = listener.addr as Deno.NetAddr;
  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    connections.stopAccepting();
    listener.close();
    await accepting;
    await connections.closeAll();
  };
  return { port: address.port, hostname, close: () => (closing ??= close()) };
}

/** Hands each connection [accepted](https://docs.deno.com/api/deno/~/Deno.Listener.accept) to `connections` until the listener is closed. */
async function acceptLoop(listener: Deno.Listener, connections: Connections): Promise<void> {
  while (!connections.closing) {
    try {
      const conn = await listener.accept();
      connections.accept(conn).catch(() => closeQuietly(conn));
    } catch (error) {
      if (connections.closing || error instanceof Deno.errors.BadResource) return;
      // Out of file descriptors and the like: that connection is lost, the listener is not.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** Options of {@link handleConnection}: those of {@link serve} that concern one connection. */
export interface UpgradeOptions extends Omit<ServeOptions, "port" | "hostname" | "tls"> {}

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
export function handleConnection(conn: Deno.Conn, options: UpgradeOptions): Promise<WebSocketStreamBase | undefined> {
  return new Connections(options).accept(conn);
}

// The open connections of one server, so close() can reach them all.
class Connections {
  readonly #options: UpgradeOptions;
  readonly #open = new Set<WebSocketStreamBase>();
  readonly #conns = new Set<Deno.Conn>();
  #closing = false;

  constructor(options: UpgradeOptions) {
    this.#options = options;
  }

  get closing(): boolean {
    return this.#closing;
  }

  async accept(conn: Deno.Conn): Promise<WebSocketStreamBase | undefined> {
    if (this.#closing) {
      closeQuietly(conn);
      return undefined;
    }
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    this.#conns.add(conn);
    // A Deno.TlsConn is the one with a handshake().
    const scheme = "handshake" in conn ? "wss:" : "ws:";
    const { path, handler, upgrade } = this.#options;
    // Frames are flushed on the core's default `schedule` (a microtask), as in client.ts.
    const accepted = await acceptWebSocket(socketToStreams(conn), {
      ...this.#options,
      scheme,
      upgrade: (webRequest, info) => decide(webRequest, info, path, upgrade),
    });
    if (accepted === undefined) {
      this.#conns.delete(conn);
      return undefined;
    }
    const { ws, request } = accepted;
    this.#open.add(ws);
    const forget = (): void => {
      this.#open.delete(ws);
      this.#conns.delete(conn);
    };
    ws.closed.then(forget, forget);
    if (this.#closing) ws.close({ closeCode: 1001, reason: "server closing" });
    runHandler(handler, ws, request);
    return ws;
  }

  stopAccepting(): void {
    this.#closing = true;
  }

  async closeAll(): Promise<void> {
    this.#closing = true;
    const closing = [...this.#open].map((ws) => {
      ws.close({ closeCode: 1001, reason: "server closing" });
      return ws.closed.catch(() => undefined);
    });
    await Promise.all(closing);
    for (const conn of this.#conns) closeQuietly(conn);
    this.#conns.clear();
  }
}

function decide(
  request: Request,
  info: Parameters<NonNullable<ServerOptions["upgrade"]>>[1],
  path: string | undefined,
  upgrade: ServerOptions["upgrade"],
): UpgradeDecision | Promise<UpgradeDecision> {
  if (path !== undefined && new URL(request.url).pathname !== path) {
    return new Response("Not Found", { status: 404 });
  }
  return upgrade?.(request, info);
}

/** [`conn.close()`](https://docs.deno.com/api/deno/~/Deno.Conn.close), when it is not closed already. */
function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
