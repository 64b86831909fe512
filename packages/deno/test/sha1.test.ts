// The adapter's synchronous SHA-1, and that its server and clients hand it to the core (the
// shared suite in packages/test-suite/src/sha1-suite.ts).
import { vi } from "vitest";
import { defineSha1Suite, type Sha1Adapter } from "../../test-suite/src/sha1-suite.ts";
import { WebSocket, WebSocketStream } from "../src/client.ts";
import { serve } from "../src/server.ts";
import { sha1 } from "../src/sha1.ts";

// The module's own function, counted: the server and the clients import it from there.
vi.mock("../src/sha1.ts", async (importOriginal) => {
  const original = await importOriginal<typeof import("../src/sha1.ts")>();
  return { sha1: vi.fn(original.sha1) };
});

defineSha1Suite({ sha1, serve, WebSocket, WebSocketStream } as unknown as Sha1Adapter);
