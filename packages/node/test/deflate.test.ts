// permessage-deflate against independent peers: ws (perMessageDeflate on) in both directions and
// undici's client, which offers it and inflates what it receives.
import { WebSocket as UndiciWebSocket } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket as WsClient, WebSocketServer } from "ws";
import { deflate, serve, type Server, WebSocketStream } from "../src/index.ts";
import { within } from "./fixtures/helpers.ts";

const compressible = "The quick brown fox jumps over the lazy dog. ".repeat(2000);
const binary = new Uint8Array(100_000).map((_, i) => (i * 31) % 17);
const cleanup: (() => unknown)[] = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

// Our echo server with deflate; also counts the bytes that arrive on the wire.
async function echoServer(): Promise<Server> {
  const server = await serve({
    port: 0,
    extensions: [deflate()],
    handler: async (ws) => {
      const { readable, writable } = await ws.opened;
      await readable.pipeTo(writable).catch(() => {});
    },
  });
  cleanup.push(() => server.close());
  return server;
}

describe("permessage-deflate with independent peers", () => {
  it("a ws client negotiates deflate with our server and gets every message back", async () => {
    const server = await echoServer();
    const client = new WsClient(`ws://127.0.0.1:${server.port}/`, { perMessageDeflate: true });
    cleanup.push(() => client.terminate());
    await within(5000, "open", new Promise((resolve, reject) => client.once("open", resolve).once("error", reject)));
    expect(client.extensions).toMatch(/^permessage-deflate/);
    const received: [string, boolean][] = [];
    const all = new Promise<void>((resolve) => client.on("message", (data, isBinary) => {
      received.push([isBinary ? Buffer.from(data as Buffer).toString("base64") : String(data), isBinary]);
      if (received.length === 3) resolve();
    }));
    client.send(compressible);
    client.send(binary);
    client.send("short");
    await within(5000, "echoes", all);
    expect(received).toEqual([[compressible, false], [Buffer.from(binary).toString("base64"), true], ["short", false]]);
  });

  it("our client negotiates deflate with a ws server, and what it sends is compressed on the wire", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: { threshold: 0 } });
    cleanup.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    await new Promise((resolve) => wss.once("listening", resolve));
    let wireBytes = 0;
    wss.on("connection", (socket, request) => {
      request.socket.on("data", (chunk: Buffer) => (wireBytes += chunk.length));
      socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
    });
    const port = (wss.address() as { port: number }).port;
    const ws = new WebSocketStream(`ws://127.0.0.1:${port}/`, { extensions: [deflate()] });
    const { readable, writable, extensions } = await within(5000, "opened", ws.opened);
    expect(extensions).toMatch(/^permessage-deflate/);
    const writer = writable.getWriter();
    const reader = readable.getReader();
    await writer.write(compressible);
    expect((await within(5000, "text echo", reader.read())).value).toBe(compressible);
    await writer.write(binary);
    expect((await within(5000, "binary echo", reader.read())).value).toEqual(binary);
    // 90 KB of text plus 100 KB of binary went out in far fewer bytes.
    expect(wireBytes).toBeLessThan(40_000);
    ws.close({ closeCode: 1000 });
    await within(5000, "closed", ws.closed);
  });

  it("undici's client negotiates deflate with our server and reads compressed echoes", async () => {
    const server = await echoServer();
    const client = new UndiciWebSocket(`ws://127.0.0.1:${server.port}/`);
    cleanup.push(() => client.close());
    await within(5000, "open", new Promise((resolve, reject) => {
      client.addEventListener("open", resolve, { once: true });
      client.addEventListener("error", reject, { once: true });
    }));
    expect(client.extensions).toMatch(/^permessage-deflate/);
    const echo = new Promise<string>((resolve) => client.addEventListener("message", (event) => resolve(String(event.data)), { once: true }));
    client.send(compressible);
    expect(await within(5000, "echo", echo)).toBe(compressible);
  });

  it("a server without deflate declines the offer and the connection works uncompressed", async () => {
    const server = await serve({
      port: 0,
      handler: async (ws) => {
        const { readable, writable } = await ws.opened;
        await readable.pipeTo(writable).catch(() => {});
      },
    });
    cleanup.push(() => server.close());
    const ws = new WebSocketStream(`ws://127.0.0.1:${server.port}/`, { extensions: [deflate()] });
    const { readable, writable, extensions } = await within(5000, "opened", ws.opened);
    expect(extensions).toBe("");
    await writable.getWriter().write(compressible);
    expect((await within(5000, "echo", readable.getReader().read())).value).toBe(compressible);
    ws.close();
    await within(5000, "closed", ws.closed);
  });
});
