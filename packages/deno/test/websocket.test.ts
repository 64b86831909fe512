/**
 * The shared WHATWG WebSocket suite on Deno: our client and server, with Deno's own WebSocket
 * client and `Deno.serve` + `Deno.upgradeWebSocket` as peers.
 */
import { type AnyServe, type AnySocket, defineWebSocketSuite, ourServerPeer, type ServerPeer } from "../../test-suite/src/websocket-suite.ts";
import { serve, WebSocket, WebSocketError, WebSocketStream } from "../src/index.ts";

const ours = ourServerPeer(serve as unknown as AnyServe);

const denoServe: ServerPeer = {
  name: "Deno.serve",
  ours: false,
  start(behaviour) {
    const sockets = new Set<globalThis.WebSocket>();
    return new Promise((resolve) => {
      const server = Deno.serve({
        hostname: "127.0.0.1",
        port: 0,
        onListen: ({ port }) =>
          resolve({
            url: `ws://127.0.0.1:${port}`,
            close: async () => {
              for (const socket of sockets) socket.close();
              await server.shutdown();
            },
          }),
      }, (request) => {
        const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(/\s*,\s*/);
        const protocol = behaviour.protocol !== undefined && offered.includes(behaviour.protocol) ? behaviour.protocol : undefined;
        const { socket, response } = Deno.upgradeWebSocket(request, protocol === undefined ? {} : { protocol });
        sockets.add(socket);
        socket.addEventListener("close", () => sockets.delete(socket));
        socket.addEventListener("open", () => behaviour.onSocket(socket as unknown as AnySocket), { once: true });
        return response;
      });
    });
  },
};

defineWebSocketSuite(
  "Deno",
  [
    { name: "wsstream", ours: true, open: (url, protocols) => new WebSocket(url, protocols) },
    { name: "Deno", ours: false, open: (url, protocols) => new globalThis.WebSocket(url, protocols) as unknown as AnySocket },
  ],
  [ours, denoServe],
  { WebSocketStream: WebSocketStream as never, WebSocketError },
);
