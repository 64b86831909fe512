// A running server's connections, client addresses, pub/sub, close report, stats and ping() over real sockets
// (the shared suite in packages/test-suite/src/server-features-suite.ts).
import { defineServerFeaturesSuite, type ServerFeaturesAdapter } from "../../test-suite/src/server-features-suite.ts";
import { WebSocket, WebSocketStream } from "../src/client.ts";
import { serve } from "../src/server.ts";

defineServerFeaturesSuite({ serve, WebSocket, WebSocketStream } as unknown as ServerFeaturesAdapter);
