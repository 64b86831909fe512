// A running server's connections, client addresses, pub/sub, close report, stats and ping() over real sockets
// (the shared suite in packages/test-suite/src/server-features-suite.ts): on serve(), and on our
// own Deno.listen loop through connectionHandler().
import { describe } from "vitest";
import { defineServerFeaturesSuite, type ServerFeaturesAdapter } from "../../test-suite/src/server-features-suite.ts";
import { WebSocket, WebSocketStream } from "../src/client.ts";
import { connectionHandler, serve, type UpgradeOptions } from "../src/server.ts";

describe("serve()", () => {
  defineServerFeaturesSuite({ serve, WebSocket, WebSocketStream } as unknown as ServerFeaturesAdapter);
});

// serve()'s shape over a listener of our own.
function serveOnListener(options: UpgradeOptions<"websocket" | "stream">) {
  const websockets = connectionHandler(options);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    try {
      for await (const conn of listener) void websockets.handleConnection(conn);
    } catch {
      // The listener was closed.
    }
  })();
  let stopped = false;
  return Promise.resolve({
    port: listener.addr.port,
    connections: websockets.connections,
    publish: websockets.publish,
    subscriberCount: websockets.subscriberCount,
    get stats() {
      return websockets.stats;
    },
    close: async () => {
      if (!stopped) {
        stopped = true;
        listener.close();
        await accepting;
      }
      return await websockets.close();
    },
  });
}

describe("connectionHandler() on a listener of our own", () => {
  defineServerFeaturesSuite({ serve: serveOnListener, WebSocket, WebSocketStream } as unknown as ServerFeaturesAdapter);
});
