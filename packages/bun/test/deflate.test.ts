// permessage-deflate against Bun's own WebSocket client and Bun.serve's websocket server.
import { afterEach, describe, expect, it } from "vitest";
import { deflate, serve, type Server, WebSocketStream } from "../src/index.ts";

const compressible = "The quick brown fox jumps over the lazy dog. ".repeat(2000);
const binary = new Uint8Array(100_000).map((_, i) => (i * 31) % 17);
const cleanup: (() => unknown)[] = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what}`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

describe("permessage-deflate with Bun's built-in WebSocket", () => {
  it("Bun's client negotiates deflate with our server and gets every message back", async () => {
    const server: Server = await serve({
      port: 0,
      extensions: [deflate()],
      handler: async (ws) => {
        const { readable, writable } = await ws.opened;
        await readable.pipeTo(writable).catch(() => {});
      },
    });
    cleanup.push(() => server.close());
    const client = new WebSocket(`ws://127.0.0.1:${server.port}/`);
    client.binaryType = "arraybuffer";
    cleanup.push(() => client.close());
    await within(5000, "open", new Promise((resolve, reject) => {
      client.addEventListener("open", resolve, { once: true });
      client.addEventListener("error", reject, { once: true });
    }));
    expect(client.extensions).toMatch(/permessage-deflate/);
    const received: unknown[] = [];
    const all = new Promise<void>((resolve) => client.addEventListener("message", (event) => {
      received.push(typeof event.data === "string" ? event.data : new Uint8Array(event.data as ArrayBuffer));
      if (received.length === 2) resolve();
    }));
    client.send(compressible);
    client.send(binary);
    await within(5000, "echoes", all);
    expect(received).toEqual([compressible, binary]);
  });

  it("our client negotiates deflate with a Bun.serve server with perMessageDeflate", async () => {
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: (request, bunServer) => (bunServer.upgrade(request) ? undefined : new Response("no", { status: 400 })),
      websocket: {
        perMessageDeflate: true,
        message: (socket, message) => {
          socket.send(message);
        },
      },
    });
    cleanup.push(() => server.stop(true));
    const ws = new WebSocketStream(`ws://127.0.0.1:${server.port}/`, { extensions: [deflate()] });
    const { readable, writable, extensions } = await within(5000, "opened", ws.opened);
    expect(extensions).toMatch(/^permessage-deflate/);
    const writer = writable.getWriter();
    const reader = readable.getReader();
    await writer.write(compressible);
    expect((await within(5000, "text echo", reader.read())).value).toBe(compressible);
    await writer.write(binary);
    expect((await within(5000, "binary echo", reader.read())).value).toEqual(binary);
    ws.close({ closeCode: 1000 });
    await within(5000, "closed", ws.closed);
  });
});
