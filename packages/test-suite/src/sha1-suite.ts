/**
 * The shared suite for an adapter's synchronous SHA-1 (`src/sha1.ts` of each adapter): its accept
 * values, and that the adapter's server and clients hand it to the core unless the options carry
 * their own. Each adapter's test file mocks its own `../src/sha1.ts` with a counting `vi.fn` (a
 * `vi.mock` must stay in the test file) and passes the adapter's entry points here.
 */
import { describe, expect, it, vi } from "vitest";
import { computeAcceptKey, generateKey, type Sha1, type WebSocketBase } from "@wsstream/core";

/** What the suite drives: the adapter's mocked hash and its entry points. */
export interface Sha1Adapter {
  readonly sha1: Sha1;
  readonly serve: (options: { api: "websocket"; handler: () => void; sha1?: Sha1 }) => Promise<{ readonly port: number; close(): Promise<void> }>;
  readonly WebSocket: new (url: string, options?: { sha1?: Sha1 }) => WebSocketBase;
  readonly WebSocketStream: new (url: string) => { readonly opened: Promise<unknown>; close(): void };
}

const within = <T>(ms: number, what: string, promise: Promise<T>): Promise<T> =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`Timed out: ${what}`)), ms))]);

const opened = (ws: WebSocketBase): Promise<void> =>
  new Promise((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("The client did not open"));
  });

/** Defines the suite for one adapter. */
export function defineSha1Suite({ sha1, serve, WebSocket, WebSocketStream }: Sha1Adapter): void {
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
}
