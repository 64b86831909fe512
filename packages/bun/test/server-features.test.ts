// A running server's connections, client addresses, pub/sub and close report over real sockets
// (the shared suite in packages/test-suite/src/server-features-suite.ts).
import { defineServerFeaturesSuite, type ServerFeaturesAdapter } from "../../test-suite/src/server-features-suite.ts";
import { WebSocket } from "../src/client.ts";
import { serve } from "../src/server.ts";

defineServerFeaturesSuite({ serve, WebSocket } as unknown as ServerFeaturesAdapter);
