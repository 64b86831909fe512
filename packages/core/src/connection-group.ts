/**
 * The open connections of one server, shared by every adapter's `serve()`: the path filter, the
 * handshake over each transport, the handler, and closing them all with 1001. Adapters only
 * listen, hand over transports and release raw sockets.
 *
 * @module
 */
import { CloseCode } from "./close.ts";
import {
  acceptWebSocket,
  type ConnectionHandler,
  runHandler,
  type ServerOptions,
  type TransportLike,
  type UpgradeDecision,
  type WebSocketStreamBase,
} from "./web-streams.ts";

/** What every adapter's `serve()` and per-connection entry points take. */
export interface ServeConnectionOptions extends Omit<ServerOptions, "head" | "scheme"> {
  /** Only upgrade requests for this path (query ignored); others get 404. Default: any path. */
  readonly path?: string;
  /** Called with each open connection; a throw or rejection closes it with 1011. */
  readonly handler: ConnectionHandler;
}

/** How one transport arrived: its scheme, and a request head already parsed elsewhere. */
export interface AcceptContext {
  readonly scheme: "ws:" | "wss:";
  readonly head?: ServerOptions["head"];
}

/** One server's connections; see the module notes. */
export class ConnectionGroup {
  readonly #options: ServeConnectionOptions;
  readonly #defaults: Partial<ServerOptions>;
  readonly #open = new Set<WebSocketStreamBase>();
  #closing = false;

  /** `defaults` are the adapter's own settings (e.g. its flush `schedule`); `options` win. */
  constructor(options: ServeConnectionOptions, defaults: Partial<ServerOptions> = {}) {
    this.#options = options;
    this.#defaults = defaults;
  }

  /** True once {@link closeAll} was called: refuse new transports. */
  get closing(): boolean {
    return this.#closing;
  }

  /**
   * Runs the opening handshake over `transport` and, once accepted, the handler. Resolves with
   * the open connection, or `undefined` when the upgrade was refused or failed (the refusal was
   * written) or the group is closing (the caller releases the transport).
   */
  async accept(transport: TransportLike, context: AcceptContext): Promise<WebSocketStreamBase | undefined> {
    if (this.#closing) return undefined;
    const { path, handler, upgrade } = this.#options;
    const accepted = await acceptWebSocket(transport, {
      ...this.#defaults,
      ...this.#options,
      head: context.head,
      scheme: context.scheme,
      upgrade: (request, info) => filterPath(request, path) ?? upgrade?.(request, info),
    });
    if (accepted === undefined) return undefined;
    const { ws, request } = accepted;
    this.#open.add(ws);
    ws.closed.then(() => this.#open.delete(ws), () => this.#open.delete(ws));
    if (this.#closing) ws.close({ closeCode: CloseCode.GOING_AWAY, reason: "server closing" });
    runHandler(handler, ws, request);
    return ws;
  }

  /**
   * Stops accepting, closes every open connection with 1001 (messages already written go first)
   * and resolves once each has closed (bounded by its `closeTimeout`).
   */
  async closeAll(): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#open].map((ws) => {
      ws.close({ closeCode: CloseCode.GOING_AWAY, reason: "server closing" });
      return ws.closed.catch(() => undefined);
    }));
  }
}

// A request for another path is answered with 404.
function filterPath(request: Request, path: string | undefined): UpgradeDecision | undefined {
  if (path === undefined || new URL(request.url).pathname === path) return undefined;
  return new Response("Not Found", { status: 404 });
}
