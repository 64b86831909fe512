// Every runtime's echo server (`pnpm echo:<runtime>`) with the deflate-capable clients of other
// libraries: undici's WebSocket (offers permessage-deflate, inflates what it receives) and ws with
// perMessageDeflate. Each server runs as a real process on port 0.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket as UndiciWebSocket } from "undici";
import { WebSocket as WsClient } from "ws";
import { type EchoServer, RUNTIMES, startEchoServer } from "../src/runtimes.ts";

const compressible = JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ id: i, name: `item ${i}`, tags: ["a", "b", "ü"] })));
const servers = new Map<string, EchoServer>();

function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what}`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

beforeAll(async () => {
  await Promise.all(RUNTIMES.map(async (runtime) => servers.set(runtime, await startEchoServer(runtime))));
}, 60_000);

afterAll(async () => {
  await Promise.all([...servers.values()].map((server) => server.stop(2000)));
});

describe.each(RUNTIMES)("the %s echo server with deflate", (runtime) => {
  it("agrees on permessage-deflate with undici's client and echoes compressible text", async () => {
    const client = new UndiciWebSocket(`${servers.get(runtime)!.url}/`);
    try {
      await within(10_000, "open", new Promise((resolve, reject) => {
        client.addEventListener("open", resolve, { once: true });
        client.addEventListener("error", reject, { once: true });
      }));
      expect(client.extensions).toMatch(/^permessage-deflate/);
      const echo = new Promise<string>((resolve) => client.addEventListener("message", (event) => resolve(String(event.data)), { once: true }));
      client.send(compressible);
      expect(await within(10_000, "echo", echo)).toBe(compressible);
    } finally {
      client.close();
    }
  });

  it("agrees on permessage-deflate with ws and echoes text and binary, compressed both ways", async () => {
    const client = new WsClient(`${servers.get(runtime)!.url}/`, { perMessageDeflate: { threshold: 0 } });
    try {
      await within(10_000, "open", new Promise((resolve, reject) => client.once("open", resolve).once("error", reject)));
      expect(client.extensions).toMatch(/^permessage-deflate/);
      const binary = new Uint8Array(50_000).map((_, i) => i % 11);
      const received: unknown[] = [];
      const both = new Promise<void>((resolve) => client.on("message", (data, isBinary) => {
        received.push(isBinary ? new Uint8Array(data as Buffer) : String(data));
        if (received.length === 2) resolve();
      }));
      client.send(compressible);
      client.send(binary);
      await within(10_000, "echoes", both);
      expect(received).toEqual([compressible, binary]);
    } finally {
      client.terminate();
    }
  });
});
