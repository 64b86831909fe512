// The adapter's synchronous SHA-1, and that its server and clients hand it to the core.
import { describe, expect, it, vi } from "vitest";
import { computeAcceptKey, generateKey, type WebSocketBase } from "@wsstream/core";
import { WebSocket, WebSocketStream } from "../src/client.ts";
import { serve } from "../src/server.ts";
import { sha1 } from "../src/sha1.ts";

// The module's own function, counted: the server and the clients import it from there.
vi.mock("../src/sha1.ts", async (importOriginal) => {
  const original = await importOriginal<typeof import("../src/sha1.ts")>();
  return { sha1: vi.fn(original.sha1) };
});

const within = <T>(ms: number, what: string, promise: Promise<T>): Promise<T> =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`Timed out: ${what}`)), ms))]);

const opened = (ws: WebSocketBase): Promise<void> =>
  new Promise((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("The client did not open"));
  });

describe("sha1", () => {
  it("gives the RFC 6455 §1.3 accept value, and the Web Crypto value for any key", async () => {
    expect(computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ==", sha1)).toBe("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    for (let i = 0; i < 16; i++) {
      const key = generateKey();
      expect(computeAcceptKey(key, sha1)).toBe(await computeAcceptKey(key));
    }
  });

  it("is the hash serve(), WebSocket and WebSocketStream use by default", async () => {
    const server = await serve({ api: "websocket", handler: () => undefined });
    try {
      vi.mocked(sha1).mockClear();
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
      await within(5000, "the WebSocket to open", opened(ws));
      // Once for the client's expected value, once for the server's 101.
      expect(sha1).toHaveBeenCalledTimes(2);
      ws.close();
      const stream = new WebSocketStream(`ws://127.0.0.1:${server.port}/`);
      await within(5000, "the WebSocketStream to open", stream.opened);
      expect(sha1).toHaveBeenCalledTimes(4);
      stream.close();
    } finally {
      await within(15_000, "the server to close", server.close());
    }
  });

  it("gives way to a sha1 in the options", async () => {
    const calls = { server: 0, client: 0 };
    const server = await serve({
      api: "websocket",
      handler: () => undefined,
      sha1: (data) => (calls.server++, sha1(data)),
    });
    try {
      vi.mocked(sha1).mockClear();
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`, { sha1: (data) => (calls.client++, sha1(data)) });
      await within(5000, "the WebSocket to open", opened(ws));
      expect(calls).toEqual({ server: 1, client: 1 });
      expect(sha1).toHaveBeenCalledTimes(2);
      ws.close();
    } finally {
      await within(15_000, "the server to close", server.close());
    }
  });
});
