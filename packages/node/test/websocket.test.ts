/**
 * The shared WHATWG WebSocket suite on Node: our client and server, with ws's client and server
 * and undici's WebSocket as peers (Node 20 has no WebSocket of its own; undici's is the one Node
 * ships from 22 on).
 */
import { WebSocket as UndiciWebSocket } from "undici";
import { WebSocket as WsClient, WebSocketServer } from "ws";
import { type AnyServe, type AnySocket, defineWebSocketSuite, ourServerPeer, type ServerPeer } from "../../test-suite/src/websocket-suite.ts";
import { serve, WebSocket, WebSocketError, WebSocketStream } from "../src/index.ts";

const ours = ourServerPeer(serve as unknown as AnyServe);

const ws: ServerPeer = {
  name: "ws",
  ours: false,
  async start(behaviour) {
    const server = new WebSocketServer({
      host: "127.0.0.1",
      port: 0,
      handleProtocols: (offered) => (behaviour.protocol !== undefined && offered.has(behaviour.protocol) ? behaviour.protocol : false),
    });
    server.on("connection", (socket) => behaviour.onSocket(socket as unknown as AnySocket));
    await new Promise<void>((resolve) => server.once("listening", () => resolve()));
    const { port } = server.address() as { port: number };
    return {
      url: `ws://127.0.0.1:${port}`,
      close: () =>
        new Promise<void>((resolve) => {
          for (const client of server.clients) client.terminate();
          server.close(() => resolve());
        }),
    };
  },
};

defineWebSocketSuite(
  "Node",
  [
    { name: "wsstream", ours: true, open: (url, protocols) => new WebSocket(url, protocols) },
    { name: "ws", ours: false, open: (url, protocols) => new WsClient(url, protocols) as unknown as AnySocket },
    { name: "undici", ours: false, open: (url, protocols) => new UndiciWebSocket(url, protocols) as unknown as AnySocket },
  ],
  [ours, ws],
  { WebSocketStream: WebSocketStream as never, WebSocketError },
);
