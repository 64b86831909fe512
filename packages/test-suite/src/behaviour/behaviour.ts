/**
 * The behaviour server, written once for every runtime: `server.<runtime>.ts` hands in its
 * adapter's `serve()`, and this file does the rest. By path:
 *
 * - `/echo`: every message comes back unchanged, text as text and binary as binary;
 * - `/reject`: the upgrade hook refuses with `403 forbidden`;
 * - `/info`: one text message, JSON {@link RequestInfo} (what the server saw of the request),
 *   then echo;
 * - `/server-close`: closes with 4001 "server bye" after the first message;
 * - any other path is refused with 404.
 *
 * A request offering subprotocols is given the last one offered. Every accepted upgrade carries
 * the response header `X-Behaviour: <runtime>`. Each connection's end, and each refusal, is
 * printed as one JSON line ({@link ServerEvent}), so a test reads what the server observed.
 *
 * Runtime-neutral: only Web APIs and the `serve` passed in.
 *
 * @module
 */

/** Messages up to this size are accepted (the adapters' default is 16 MiB). */
export const MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

/** The close the `/server-close` path starts after its first message. */
export const SERVER_CLOSE = { closeCode: 4001, reason: "server bye" } as const;

/** The refusal of `/reject`. */
export const REJECT_STATUS = 403;
export const REJECT_BODY = "forbidden";

/** The paths served; any other is refused with 404. */
export const PATHS: readonly string[] = ["/echo", "/reject", "/info", "/server-close"];

/** The response header naming the server's runtime. */
export const BEHAVIOUR_HEADER = "X-Behaviour";

/** What `/info` sends first. */
export interface RequestInfo {
  readonly path: string;
  /** The query with its `?`, or `""`. */
  readonly query: string;
  /** The `X-Test` request header, or `null`. */
  readonly header: string | null;
  /** The subprotocol the server agreed, or `""`. */
  readonly protocol: string;
}

/** One line of the server's report. `query` tells connections to the same path apart. */
export type ServerEvent =
  | {
    readonly event: "closed";
    readonly path: string;
    readonly query: string;
    /** From `closed`: the code it resolved with, or the `WebSocketError`'s code when unclean. */
    readonly closeCode: number | null;
    readonly reason: string;
    /** Whether `closed` resolved (a clean closing handshake) rather than rejected. */
    readonly clean: boolean;
  }
  | { readonly event: "rejected"; readonly path: string; readonly query: string; readonly status: number };

/** The connection a `serve()` handler receives: the part of `WebSocketStreamBase` used here. */
export interface ServerSideStream {
  readonly opened: Promise<{
    readonly readable: ReadableStream<string | Uint8Array>;
    readonly writable: WritableStream<string | ArrayBuffer | ArrayBufferView>;
    readonly protocol: string;
  }>;
  readonly closed: Promise<{ readonly closeCode?: number; readonly reason?: string }>;
  close(closeInfo?: { closeCode?: number; reason?: string }): void;
}

/** What the upgrade hook answers: accept (with a subprotocol and headers) or a refusal. */
export type UpgradeAnswer = { readonly protocol?: string; readonly headers?: Readonly<Record<string, string>> } | Response;

/** The options this file passes to `serve()`: a subset every adapter takes. */
export interface BehaviourServeOptions {
  readonly port: number;
  readonly hostname: string;
  readonly maxMessageSize: number;
  readonly extensions: readonly never[];
  readonly upgrade: (request: Request) => UpgradeAnswer;
  readonly handler: (ws: ServerSideStream, request: Request) => Promise<void>;
}

/** An adapter's `serve()`, as far as this file needs it. */
export type Serve = (options: BehaviourServeOptions) => Promise<{ readonly port: number }>;

/** The subprotocols offered in `Sec-WebSocket-Protocol`, in order. */
export function offeredProtocols(request: Request): string[] {
  const header = request.headers.get("sec-websocket-protocol");
  if (header === null) return [];
  return header.split(",").map((token) => token.trim()).filter((token) => token !== "");
}

/**
 * Starts the behaviour server for `runtime` on 127.0.0.1:`port` (`"0"` picks a free port) and
 * prints `listening on ws://127.0.0.1:<port>` once it accepts connections. `print` receives
 * every line (default `console.log`).
 */
export async function startBehaviourServer(
  serve: Serve,
  runtime: string,
  port: string | undefined,
  extensions: readonly unknown[],
  print: (line: string) => void = (line) => console.log(line),
): Promise<void> {
  const portNumber = Number(port ?? "0");
  if (!Number.isInteger(portNumber) || portNumber < 0 || portNumber > 65535) {
    throw new RangeError(`PORT must be an integer from 0 to 65535: ${port}`);
  }
  const report = (event: ServerEvent): void => print(JSON.stringify(event));
  const server = await serve({
    port: portNumber,
    hostname: "127.0.0.1",
    maxMessageSize: MAX_MESSAGE_SIZE,
    // permessage-deflate, accepted whenever a client offers it.
    extensions: extensions as readonly never[],
    upgrade: (request) => {
      const { pathname, search } = new URL(request.url);
      if (pathname === "/reject" || !PATHS.includes(pathname)) {
        const status = pathname === "/reject" ? REJECT_STATUS : 404;
        report({ event: "rejected", path: pathname, query: search, status });
        return new Response(status === 404 ? "not found" : REJECT_BODY, { status });
      }
      const protocol = offeredProtocols(request).at(-1);
      const headers = { [BEHAVIOUR_HEADER]: runtime };
      return protocol === undefined ? { headers } : { protocol, headers };
    },
    handler: (ws, request) => handle(ws, request, report),
  });
  print(`listening on ws://127.0.0.1:${server.port}`);
}

async function handle(ws: ServerSideStream, request: Request, report: (event: ServerEvent) => void): Promise<void> {
  const { pathname: path, search: query } = new URL(request.url);
  ws.closed.then(
    ({ closeCode, reason }) => report({ event: "closed", path, query, closeCode: closeCode ?? null, reason: reason ?? "", clean: true }),
    (error: { closeCode?: number | null; reason?: string }) =>
      report({ event: "closed", path, query, closeCode: error.closeCode ?? null, reason: error.reason ?? "", clean: false }),
  );
  const { readable, writable, protocol } = await ws.opened;
  if (path === "/server-close") {
    const reader = readable.getReader();
    const first = await reader.read();
    if (!first.done) ws.close(SERVER_CLOSE);
    // Whatever the client sends until its Close is read and dropped; an unclean end rejects the
    // read, and `closed` above reports it.
    try {
      for (let read = await reader.read(); !read.done; read = await reader.read()) {
        // Dropped: this path answers nothing after its first message.
      }
    } catch {
      // Reported by `closed`.
    }
    return;
  }
  if (path === "/info") {
    const info: RequestInfo = { path, query, header: request.headers.get("x-test"), protocol };
    const writer = writable.getWriter();
    await writer.write(JSON.stringify(info));
    writer.releaseLock();
  }
  // Ends when the client closes: pipeTo() then closes the writable, which answers the Close.
  // An unclean end errors both streams; `closed` above reports it.
  await readable.pipeTo(writable).catch(() => {});
}
