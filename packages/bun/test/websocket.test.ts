/**
 * The shared WHATWG WebSocket suite on Bun: our client and server, with Bun's own WebSocket
 * client and `Bun.serve`'s WebSocket server as peers. `Bun.serve` reports its sockets to handler
 * callbacks, not to listeners, so each of its sockets is seen through a small event shim.
 */
import type { ServerWebSocket } from "bun";
import { type AnyServe, type AnySocket, defineWebSocketSuite, ourServerPeer, type ServerPeer } from "../../test-suite/src/websocket-suite.ts";
import { serve, WebSocket, WebSocketError, WebSocketStream } from "../src/index.ts";

const ours = ourServerPeer(serve as unknown as AnyServe);

// A Bun.serve socket as an EventTarget-like AnySocket.
class BunSocketShim extends EventTarget {
  binaryType = "arraybuffer";
  readonly #socket: ServerWebSocket<unknown>;
  constructor(socket: ServerWebSocket<unknown>) {
    super();
    this.#socket = socket;
  }
  get readyState(): number {
    return this.#socket.readyState;
  }
  get bufferedAmount(): number {
    return this.#socket.getBufferedAmount();
  }
  get protocol(): string {
    return "";
  }
  send(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#socket.send(data as string);
  }
  close(code?: number, reason?: string): void {
    this.#socket.close(code, reason);
  }
  message(data: string | Buffer): void {
    const event = new MessageEvent("message", { data: typeof data === "string" ? data : new Uint8Array(data).slice().buffer });
    this.dispatchEvent(event);
  }
}

const bunServe: ServerPeer = {
  name: "Bun.serve",
  ours: false,
  async start(behaviour) {
    const shims = new Map<ServerWebSocket<unknown>, BunSocketShim>();
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request, server) {
        const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(/\s*,\s*/);
        const protocol = behaviour.protocol !== undefined && offered.includes(behaviour.protocol) ? behaviour.protocol : undefined;
        if (server.upgrade(request, protocol === undefined ? {} : { headers: { "Sec-WebSocket-Protocol": protocol } })) return undefined;
        return new Response("upgrade expected", { status: 400 });
      },
      websocket: {
        open(socket) {
          const shim = new BunSocketShim(socket);
          shims.set(socket, shim);
          behaviour.onSocket(shim as unknown as AnySocket);
        },
        message(socket, data) {
          shims.get(socket)?.message(data);
        },
        close(socket) {
          shims.delete(socket);
        },
      },
    });
    return { url: `ws://127.0.0.1:${server.port}`, close: async () => void server.stop(true) };
  },
};

defineWebSocketSuite(
  "Bun",
  [
    { name: "wsstream", ours: true, open: (url, protocols) => new WebSocket(url, protocols) },
    { name: "Bun", ours: false, open: (url, protocols) => new globalThis.WebSocket(url, protocols) as unknown as AnySocket },
  ],
  [ours, bunServe],
  { WebSocketStream: WebSocketStream as never, WebSocketError },
);
