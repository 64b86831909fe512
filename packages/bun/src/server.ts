/**
 * The server: `serve()` on
 * [`Bun.listen`](https://bun.com/docs/runtime/networking/tcp#start-a-server-bun-listen), TCP or
 * TLS.
 *
 * @module
 */
import type { TCPSocketListener, TLSOptions } from "bun";
import {
  acceptWebSocket,
  runHandler,
  type ServerOptions,
  type UpgradeDecision,
  type WebSocketStreamBase,
} from "@wsstream/core";
import { SocketStreams, type StreamSocket } from "./socket.ts";

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
  /**
   * Serve `wss:`: passed to `Bun.listen()` as [`tls`](https://bun.com/reference/bun/TLSOptions)
   * (`key`, `cert`, ...).
   */
  readonly tls?: TLSOptions;
  /** Called with each open connection. */
  readonly handler: Handler;
}

/** A running server. */
export interface Server {
  /** The bound port. */
  readonly port: number;
  /** The address it listens on, as given (default `127.0.0.1`). */
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
  const connections = new Connections(options, options.tls === undefined ? "ws:" : "wss:");
  const hostname = options.hostname ?? "127.0.0.1";
  const listener: TCPSocketListener<SocketStreams | undefined> = Bun.listen<SocketStreams | undefined>({
    hostname,
    port: options.port ?? 0,
    tls: options.tls,
    allowHalfOpen: true,
    socket: {
      ...SocketStreams.handlers,
      open: (socket) => connections.open(socket),
    },
  });
  return {
    port: listener.port,
    hostname,
    close: async () => {
      listener.stop(false);
      await connections.closeAll();
    },
  };
}

// The open connections of one server, so close() can reach them all.
class Connections {
  readonly #options: ServeOptions;
  readonly #scheme: "ws:" | "wss:";
  readonly #open = new Set<WebSocketStreamBase>();
  readonly #streams = new Set<SocketStreams>();
  #closing = false;

  constructor(options: ServeOptions, scheme: "ws:" | "wss:") {
    this.#options = options;
    this.#scheme = scheme;
  }

  /** The listener's `open` handler: gives the socket its streams and runs the handshake. */
  open(socket: StreamSocket): void {
    if (this.#closing) {
      socket.end();
      return;
    }
    socket.setNoDelay(true);
    const streams = new SocketStreams();
    socket.data = streams;
    SocketStreams.handlers.open(socket);
    this.#streams.add(streams);
    void streams.closed.then(() => this.#streams.delete(streams));
    this.#accept(streams).catch((error: unknown) => streams.destroy(error, "The handshake failed"));
  }

  async #accept(streams: SocketStreams): Promise<void> {
    const { path, handler, upgrade } = this.#options;
    // The core's default `schedule` (a microtask), as in client.ts.
    const accepted = await acceptWebSocket(streams, {
      ...this.#options,
      scheme: this.#scheme,
      upgrade: (webRequest, info) => decide(webRequest, info, path, upgrade),
    });
    if (accepted === undefined) return;
    const { ws, request } = accepted;
    this.#open.add(ws);
    ws.closed.then(() => this.#open.delete(ws), () => this.#open.delete(ws));
    if (this.#closing) ws.close({ closeCode: 1001, reason: "server closing" });
    runHandler(handler, ws, request);
  }

  async closeAll(): Promise<void> {
    this.#closing = true;
    const closing = [...this.#open].map((ws) => {
      ws.close({ closeCode: 1001, reason: "server closing" });
      return ws.closed.catch(() => undefined);
    });
    await Promise.all(closing);
    // Sockets still in the opening handshake, or whose peer has not closed yet.
    const rest = [...this.#streams];
    for (const streams of rest) streams.socket?.end();
    await Promise.all(rest.map((streams) => streams.closed));
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
