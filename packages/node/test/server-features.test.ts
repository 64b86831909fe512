// A running server's connections, client addresses, pub/sub, close report, stats and ping() over real sockets
// (the shared suite in packages/test-suite/src/server-features-suite.ts): on serve(), and on a
// node:http server through upgradeHandler().
import { createServer } from "node:http";
import { describe } from "vitest";
import { defineServerFeaturesSuite, type ServerFeaturesAdapter } from "../../test-suite/src/server-features-suite.ts";
import { WebSocket, WebSocketStream } from "../src/client.ts";
import { serve, upgradeHandler, type UpgradeOptions } from "../src/server.ts";
import { closeServer, listen } from "./fixtures/helpers.ts";

describe("serve()", () => {
  defineServerFeaturesSuite({ serve, WebSocket, WebSocketStream } as unknown as ServerFeaturesAdapter);
});

// serve()'s shape over an HTTP server that also answers plain requests.
async function serveOnHttp(options: UpgradeOptions<"websocket" | "stream">) {
  const websockets = upgradeHandler(options);
  const http = createServer((_request, response) => response.end("plain http"));
  http.on("upgrade", (request, socket, head) => void websockets.handleUpgrade(request, socket, head));
  const port = await listen(http);
  let stopped: Promise<void> | undefined;
  return {
    port,
    connections: websockets.connections,
    publish: websockets.publish,
    subscriberCount: websockets.subscriberCount,
    get stats() {
      return websockets.stats;
    },
    close: async () => {
      const report = await websockets.close();
      await (stopped ??= closeServer(http));
      return report;
    },
  };
}

describe("upgradeHandler() on a node:http server", () => {
  defineServerFeaturesSuite({ serve: serveOnHttp, WebSocket, WebSocketStream } as unknown as ServerFeaturesAdapter);
});
