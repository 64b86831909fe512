/**
 * The client: `new WebSocketStream(url)` over [`node:net`](https://nodejs.org/api/net.html) for
 * `ws:` and [`node:tls`](https://nodejs.org/api/tls.html) for `wss:`.
 *
 * @module
 */
import { connect as connectTcp, isIP, type Socket } from "node:net";
import { connect as connectTls, type ConnectionOptions as TlsConnectionOptions } from "node:tls";
import { type ClientOptions, type Transport, WebSocketStreamBase } from "@wsstream/core";
import { socketTransport } from "./socket.ts";

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
    super(url, (target, signal) => openSocket(target, options.tls, signal), { schedule: setImmediate, ...options });
  }
}

/** Connects a TCP (or TLS) socket to the URL's host and port, as byte streams. */
export function openSocket(url: URL, tls: TlsConnectionOptions | undefined, signal: AbortSignal): Promise<Transport> {
  const secure = url.protocol === "wss:";
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(url.port || (secure ? 443 : 80));
  const socket: Socket = secure
    ? connectTls({ host, port, servername: isIP(host) === 0 ? host : undefined, ALPNProtocols: ["http/1.1"], ...tls })
    : connectTcp({ host, port });
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
    socket.once(secure ? "secureConnect" : "connect", () => {
      cleanup();
      resolve(socketTransport(socket));
    });
  });
}
