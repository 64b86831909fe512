import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import { connect as tlsConnect } from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { type RawData, WebSocket as WsSocket } from "ws";
import { handleUpgrade, type UpgradeOptions, WebSocketStream, type WebSocketStreamBase } from "../src/index.ts";
import {
  certificate,
  clientFrame,
  closePayload,
  closeServer,
  listen,
  parseServerFrames,
  RawClient,
  rawConnect,
  SAMPLE_ACCEPT,
  splitHead,
  upgradeRequest,
  within,
} from "./fixtures/helpers.ts";

/** Servers and clients opened by the current test, closed after it. */
const servers: HttpServer[] = [];
const sockets: Array<{ destroy(): void }> = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) await closeServer(server);
});

/** Echoes every message until the peer closes. */
async function echo(ws: WebSocketStreamBase): Promise<void> {
  const { readable, writable } = await ws.opened;
  await readable.pipeTo(writable).catch(() => {});
}

/** What the `'upgrade'` listener saw: each `handleUpgrade()` result, in order. */
interface Upgrades {
  readonly results: Array<Promise<WebSocketStreamBase | undefined>>;
  readonly heads: Buffer[];
}

/**
 * A `node:http` (or `https`) server: `GET /` answers `hello over http`, and its `'upgrade'` event
 * hands every request to `handleUpgrade` with `options`.
 */
async function startServer(
  options: UpgradeOptions,
  secure = false,
): Promise<{ server: HttpServer; port: number; upgrades: Upgrades }> {
  const onRequest = (_request: IncomingMessage, response: import("node:http").ServerResponse): void => {
    response.writeHead(200, { "Content-Type": "text/plain" }).end("hello over http");
  };
  const server = secure
    ? createHttpsServer({ key: certificate.key, cert: certificate.cert }, onRequest)
    : createHttpServer(onRequest);
  servers.push(server);
  const upgrades: Upgrades = { results: [], heads: [] };
  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrades.heads.push(Buffer.from(head));
    upgrades.results.push(handleUpgrade(request, socket, head, options));
  });
  const port = await listen(server);
  return { server, port, upgrades };
}

function track<T extends { destroy(): void }>(socket: T): T {
  sockets.push(socket);
  return socket;
}

/** Reads the 101 response and then `count` frames from a raw client. */
async function readUpgradeAndFrames(client: RawClient, count: number): Promise<{ head: string; frames: ReturnType<typeof parseServerFrames>["frames"] }> {
  const data = await client.until(5000, `the 101 and ${count} frames`, (bytes) => {
    const split = splitHead(bytes);
    return split !== undefined && parseServerFrames(split.rest).frames.length >= count;
  });
  const { head, rest } = splitHead(data)!;
  return { head, frames: parseServerFrames(rest).frames };
}

describe("handleUpgrade() with node:http", () => {
  it("echoes a frame sent in the same write as the request (pipelined into head)", async () => {
    const { port, upgrades } = await startServer({ handler: echo });
    const raw = await rawConnect(port);
    track(raw.socket);
    raw.socket.write(Buffer.concat([Buffer.from(upgradeRequest("/chat", `127.0.0.1:${port}`)), clientFrame(0x1, "pipelined ✓")]));
    const { head, frames } = await readUpgradeAndFrames(raw, 1);
    expect(head).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(head).toContain(`Sec-WebSocket-Accept: ${SAMPLE_ACCEPT}\r\n`);
    expect(frames[0]).toEqual({ fin: true, opcode: 0x1, payload: Buffer.from("pipelined ✓") });
    // The frame did reach handleUpgrade through `head`, not through a later read.
    expect(upgrades.heads.at(-1)!.equals(clientFrame(0x1, "pipelined ✓"))).toBe(true);
  });

  it("reads several pipelined frames, a fragmented message and a ping among them, in order", async () => {
    const { port, upgrades } = await startServer({ handler: echo });
    const raw = await rawConnect(port);
    track(raw.socket);
    const frames = [
      clientFrame(0x2, new Uint8Array([1, 2, 3])),
      clientFrame(0x1, "frag", false),
      clientFrame(0x9, "are you there"),
      clientFrame(0x0, "mented"),
      clientFrame(0x1, "x".repeat(300)),
    ];
    raw.socket.write(Buffer.concat([Buffer.from(upgradeRequest("/", `127.0.0.1:${port}`)), ...frames]));
    const received = await readUpgradeAndFrames(raw, 4);
    expect(upgrades.heads.at(-1)!.length).toBe(Buffer.concat(frames).length);
    // The pong answers at once; messages follow in the order they were sent.
    expect(received.frames.slice(0, 4).map((frame) => [frame.opcode, frame.payload.toString("latin1")])).toEqual([
      [0xa, "are you there"],
      [0x2, "\x01\x02\x03"],
      [0x1, "fragmented"],
      [0x1, "x".repeat(300)],
    ]);
  });

  it("keeps ordinary HTTP requests on the server's request handler", async () => {
    const { port } = await startServer({ handler: echo });
    const response = await within(5000, "the HTTP response", fetch(`http://127.0.0.1:${port}/`));
    expect(response.status).toBe(200);
    expect(await within(5000, "the body", response.text())).toBe("hello over http");
  });

  it("resolves with the open connection, which can be driven from outside the handler", async () => {
    let handled = 0;
    const { port, upgrades } = await startServer({
      handler: () => {
        handled++;
      },
    });
    const peer = new WsSocket(`ws://127.0.0.1:${port}/feed`);
    track({ destroy: () => peer.terminate() });
    const message = new Promise<string>((resolve) => peer.once("message", (data: RawData) => resolve(String(data))));
    await within(5000, "the ws client to open", new Promise((resolve, reject) => {
      peer.once("open", resolve);
      peer.once("error", reject);
    }));
    const ws = await within(5000, "handleUpgrade()", upgrades.results[0]!);
    expect(ws).toBeDefined();
    expect(ws!.url).toBe(`ws://127.0.0.1:${port}/feed`);
    expect(handled).toBe(1);
    const { writable } = await within(5000, "opened", ws!.opened);
    await within(5000, "the write", writable.getWriter().write("pushed from outside"));
    expect(await within(5000, "the message", message)).toBe("pushed from outside");
    ws!.close({ closeCode: 4000, reason: "end of feed" });
    expect(await within(5000, "closed", ws!.closed)).toEqual({ closeCode: 4000, reason: "end of feed" });
  });

  it("resolves undefined and writes the refusal when the path does not match", async () => {
    let handled = false;
    const { port, upgrades } = await startServer({
      path: "/ws",
      handler: () => {
        handled = true;
      },
    });
    const raw = await rawConnect(port);
    track(raw.socket);
    raw.socket.write(upgradeRequest("/elsewhere", `127.0.0.1:${port}`));
    const data = await raw.untilEnd(5000);
    expect(data.toString("latin1")).toMatch(/^HTTP\/1\.1 404 Not Found\r\n[\s\S]*\r\n\r\nNot Found$/);
    expect(await within(5000, "handleUpgrade()", upgrades.results[0]!)).toBeUndefined();
    expect(handled).toBe(false);
  });

  it("writes the upgrade hook's refusal and resolves undefined", async () => {
    const { port, upgrades } = await startServer({
      upgrade: (request) => (request.headers.get("origin") === "https://good.example"
        ? undefined
        : new Response("cross-site", { status: 403 })),
      handler: echo,
    });
    const raw = await rawConnect(port);
    track(raw.socket);
    raw.socket.write(upgradeRequest("/", `127.0.0.1:${port}`, ["Origin: https://evil.example"]));
    const data = await raw.untilEnd(5000);
    expect(data.toString("latin1")).toMatch(/^HTTP\/1\.1 403 [\s\S]*\r\n\r\ncross-site$/);
    expect(await within(5000, "handleUpgrade()", upgrades.results[0]!)).toBeUndefined();

    const ws = new WebSocketStream(`ws://127.0.0.1:${port}/`, { origin: "https://good.example" });
    const { readable, writable } = await within(5000, "opened", ws.opened);
    await within(5000, "the write", writable.getWriter().write("allowed"));
    expect((await within(5000, "the echo", readable.getReader().read())).value).toBe("allowed");
    ws.close();
    await within(5000, "closed", ws.closed);
  });

  it("answers an upgrade request with a bad Sec-WebSocket-Version with 426", async () => {
    const { port, upgrades } = await startServer({ handler: echo });
    const raw = await rawConnect(port);
    track(raw.socket);
    raw.socket.write(upgradeRequest("/", `127.0.0.1:${port}`).replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"));
    const data = await raw.untilEnd(5000);
    expect(data.toString("latin1")).toMatch(/^HTTP\/1\.1 426 [\s\S]*\r\nSec-WebSocket-Version: 13\r\n/i);
    expect(await within(5000, "handleUpgrade()", upgrades.results[0]!)).toBeUndefined();
  });

  it("closes with the peer's code when the peer sends a Close pipelined with the request", async () => {
    let closed: Promise<unknown> | undefined;
    const { port } = await startServer({
      handler: (ws) => {
        closed = ws.closed;
      },
    });
    const raw = await rawConnect(port);
    track(raw.socket);
    const close = Buffer.concat([Buffer.from([0x0f, 0xa0]), Buffer.from("leaving")]);
    raw.socket.write(Buffer.concat([Buffer.from(upgradeRequest("/", `127.0.0.1:${port}`)), clientFrame(0x8, close)]));
    const data = await raw.untilEnd(5000);
    const { frames } = parseServerFrames(splitHead(data)!.rest);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.opcode).toBe(0x8);
    expect(closePayload(frames[0]!.payload).code).toBe(4000);
    expect(await within(5000, "closed", closed!)).toEqual({ closeCode: 4000, reason: "leaving" });
  });
});

describe("handleUpgrade() with node:https", () => {
  it("echoes a frame pipelined with the request over TLS", async () => {
    const { port, upgrades } = await startServer({ handler: echo }, true);
    const socket = track(tlsConnect({ host: "localhost", port, ca: certificate.ca }));
    await within(5000, "the TLS handshake", new Promise<void>((resolve, reject) => {
      socket.once("secureConnect", resolve);
      socket.once("error", reject);
    }));
    const raw = new RawClient(socket);
    socket.write(Buffer.concat([Buffer.from(upgradeRequest("/", `localhost:${port}`)), clientFrame(0x2, new Uint8Array([9, 8, 7]))]));
    const { head, frames } = await readUpgradeAndFrames(raw, 1);
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(frames[0]).toEqual({ fin: true, opcode: 0x2, payload: Buffer.from([9, 8, 7]) });
    const ws = await within(5000, "handleUpgrade()", upgrades.results[0]!);
    expect(ws!.url).toBe(`wss://localhost:${port}/`);
  });

  it("serves our wss: client and the ws client", async () => {
    const { port } = await startServer({ handler: echo }, true);
    const ws = new WebSocketStream(`wss://localhost:${port}/`, { tls: { ca: certificate.ca } });
    const { readable, writable } = await within(5000, "opened", ws.opened);
    const payload = new Uint8Array(200_000).map((_, i) => (i * 7) % 256);
    await within(5000, "the write", writable.getWriter().write(payload));
    const { value } = await within(5000, "the echo", readable.getReader().read());
    expect(Buffer.from(value as Uint8Array).equals(Buffer.from(payload))).toBe(true);
    ws.close({ closeCode: 1000, reason: "done" });
    expect(await within(5000, "closed", ws.closed)).toEqual({ closeCode: 1000, reason: "" });

    const peer = new WsSocket(`wss://127.0.0.1:${port}/`, { ca: certificate.ca });
    track({ destroy: () => peer.terminate() });
    const message = new Promise<string>((resolve) => peer.once("message", (data: RawData) => resolve(String(data))));
    peer.once("open", () => peer.send("ws over tls"));
    expect(await within(5000, "the echo", message)).toBe("ws over tls");
  });
});
