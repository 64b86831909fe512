/**
 * Interoperability with independent implementations: our server with the `ws` client and with
 * undici's WHATWG `WebSocket`, and our client with a `ws` server. Every message crosses both
 * directions (the peer echoes, or we echo), so each case checks our decoder and our encoder
 * against someone else's.
 */
import type { IncomingMessage } from "node:http";
import { connect, createServer, type Server as NetServer, type Socket } from "node:net";
import { WebSocket as UndiciWebSocket } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { type RawData, WebSocket as WsSocket, WebSocketServer } from "ws";
import { serve, type Server, WebSocketError, WebSocketStream, type WebSocketStreamBase } from "../src/index.ts";
import {
  closeServer,
  eventually,
  Inbox,
  listen,
  parseServerFrames,
  rejectionOf,
  settlesWithin,
  splitHead,
  within,
} from "./fixtures/helpers.ts";

const MiB = 1024 * 1024;

/** Closed after each test. */
const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

// ---------------------------------------------------------------------------------------------
// The messages

/** Text of exactly `bytes` UTF-8 bytes, cycling through 1-, 2-, 3- and 4-byte characters. */
function textOfBytes(bytes: number): string {
  const unit = "aé€🎉"; // 1 + 2 + 3 + 4 bytes
  const text = unit.repeat(Math.floor(bytes / 10)) + "z".repeat(bytes % 10);
  if (Buffer.byteLength(text) !== bytes) throw new Error(`textOfBytes(${bytes}) is ${Buffer.byteLength(text)} bytes`);
  return text;
}

/** `length` bytes of a pattern that is not periodic in 256. */
function bytesOf(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + (i >> 8)) & 0xff;
  return bytes;
}

interface Case {
  readonly name: string;
  readonly data: string | Uint8Array;
}

/** §5.2: 125 is the last 7-bit length, 126-65535 take 16 bits, 65536 and up take 64 bits. */
const BOUNDARIES = [125, 126, 127, 65535, 65536];

const CASES: readonly Case[] = [
  { name: "an empty text message", data: "" },
  { name: "an empty binary message", data: new Uint8Array(0) },
  { name: "text in multi-byte UTF-8", data: "héllo wörld — ✓ 日本語 Ελληνικά 𝄞 🎉" },
  { name: "a binary message with all 256 byte values", data: Uint8Array.from({ length: 256 }, (_, i) => i) },
  ...BOUNDARIES.flatMap((length): Case[] => [
    { name: `a text message of ${length} bytes`, data: textOfBytes(length) },
    { name: `a binary message of ${length} bytes`, data: bytesOf(length) },
  ]),
  { name: "a text message of 1 MiB", data: textOfBytes(MiB) },
  { name: "a binary message of 1 MiB", data: bytesOf(MiB) },
];

/** `expect` that `received` is `sent`: the same type (text or binary) and the same content. */
function expectSame(received: string | Uint8Array, sent: string | Uint8Array): void {
  if (typeof sent === "string") {
    expect(typeof received).toBe("string");
    expect(received === sent).toBe(true);
  } else {
    expect(received).toBeInstanceOf(Uint8Array);
    expect((received as Uint8Array).byteLength).toBe(sent.byteLength);
    expect(Buffer.from(received as Uint8Array).equals(Buffer.from(sent))).toBe(true);
  }
}

/** A `ws` message as text or bytes. */
function fromWs(data: RawData, isBinary: boolean): string | Uint8Array {
  const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
  return isBinary ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength) : buffer.toString("utf8");
}

// ---------------------------------------------------------------------------------------------
// Our side

/** What our server saw of one connection. */
interface Accepted {
  readonly ws: WebSocketStreamBase;
  readonly request: Request;
}

/** Our server, echoing every message; `accepted` has each connection in order. */
async function ourEchoServer(options: { keepalive?: { interval: number; timeout: number } } = {}): Promise<{ server: Server; accepted: Inbox<Accepted> }> {
  const accepted = new Inbox<Accepted>();
  const server = await within(5000, "serve()", serve({
    ...options,
    handler: async (ws, request) => {
      accepted.push({ ws, request });
      const { readable, writable } = await ws.opened;
      await readable.pipeTo(writable).catch(() => {});
    },
  }));
  cleanups.push(() => within(15_000, "server.close()", server.close()));
  return { server, accepted };
}

/** Our client: the streams' reader and writer, taken once. */
async function ourClient(url: string, options: ConstructorParameters<typeof WebSocketStream>[1] = {}) {
  const ws = new WebSocketStream(url, options);
  cleanups.push(() => {
    ws.close();
    return within(15_000, "our client to close", ws.closed.then(() => {}, () => {}));
  });
  const opened = await within(5000, "our client to open", ws.opened);
  return { ws, opened, reader: opened.readable.getReader(), writer: opened.writable.getWriter() };
}

// ---------------------------------------------------------------------------------------------
// Their side

/** A `ws` client with an inbox of its messages. */
async function wsClient(url: string, options: ConstructorParameters<typeof WsSocket>[2] = {}) {
  const socket = new WsSocket(url, options);
  const messages = new Inbox<string | Uint8Array>();
  const upgraded = new Promise<IncomingMessage>((resolve) => socket.once("upgrade", resolve));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.once("close", (code, reason) => {
      messages.end(new Error(`ws closed with ${code}`));
      resolve({ code, reason: reason.toString() });
    });
  });
  socket.on("message", (data, isBinary) => messages.push(fromWs(data, isBinary)));
  cleanups.push(() => socket.terminate());
  await within(5000, "the ws client to open", new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  }));
  return { socket, messages, closed, response: await within(1000, "the upgrade response", upgraded) };
}

/** An undici `WebSocket` with an inbox of its messages. */
async function undiciClient(url: string) {
  const socket = new UndiciWebSocket(url);
  socket.binaryType = "arraybuffer";
  const messages = new Inbox<string | Uint8Array>();
  const closed = new Promise<{ code: number; reason: string; wasClean: boolean }>((resolve) => {
    socket.addEventListener("close", (event) => {
      messages.end(new Error(`undici closed with ${event.code}`));
      resolve({ code: event.code, reason: event.reason, wasClean: event.wasClean });
    });
  });
  socket.addEventListener("message", (event) => {
    messages.push(typeof event.data === "string" ? event.data : new Uint8Array(event.data as ArrayBuffer));
  });
  cleanups.push(() => {
    if (socket.readyState === UndiciWebSocket.OPEN) socket.close();
  });
  await within(5000, "the undici client to open", new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve, { once: true });
    socket.addEventListener("error", () => reject(new Error("undici failed to connect")), { once: true });
  }));
  return { socket, messages, closed };
}

/** A `ws` server that echoes and records what it received, with the pong answers it can skip. */
async function wsEchoServer(options: { autoPong?: boolean; perMessageDeflate?: boolean } = {}) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, ...options });
  const connections = new Inbox<{ socket: WsSocket; request: IncomingMessage; received: Inbox<string | Uint8Array>; closed: Promise<{ code: number; reason: string }> }>();
  wss.on("connection", (socket, request) => {
    const received = new Inbox<string | Uint8Array>();
    const closed = new Promise<{ code: number; reason: string }>((resolve) => {
      socket.once("close", (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    socket.on("message", (data, isBinary) => {
      received.push(fromWs(data, isBinary));
      socket.send(data, { binary: isBinary });
    });
    connections.push({ socket, request, received, closed });
  });
  cleanups.push(() => {
    for (const socket of wss.clients) socket.terminate();
    return within(5000, "the ws server to close", new Promise<void>((resolve) => wss.close(() => resolve())));
  });
  await within(2000, "the ws server to listen", new Promise<void>((resolve) => wss.once("listening", resolve)));
  const address = wss.address();
  if (address === null || typeof address === "string") throw new Error("Expected a TCP address");
  return { wss, port: address.port, connections };
}

/**
 * A TCP proxy in front of `port` that records the bytes each way, to see exactly what a client
 * that hides the handshake (undici) sent and got.
 */
async function recordingProxy(port: number) {
  const toServer: Buffer[] = [];
  const toClient: Buffer[] = [];
  const sockets: Socket[] = [];
  const proxy: NetServer = createServer((client) => {
    const upstream = connect(port, "127.0.0.1");
    sockets.push(client, upstream);
    client.on("data", (chunk: Buffer) => {
      toServer.push(chunk);
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      toClient.push(chunk);
      client.write(chunk);
    });
    client.on("end", () => upstream.end());
    upstream.on("end", () => client.end());
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  const proxyPort = await listen(proxy);
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await closeServer(proxy);
  });
  return { port: proxyPort, toServer: () => Buffer.concat(toServer), toClient: () => Buffer.concat(toClient) };
}

// ---------------------------------------------------------------------------------------------

describe("our server with the ws client", () => {
  for (const { name, data } of CASES) {
    it(`round-trips ${name}`, async () => {
      const { server } = await ourEchoServer();
      const peer = await wsClient(`ws://127.0.0.1:${server.port}/`);
      peer.socket.send(data, { binary: typeof data !== "string" });
      expectSame(await peer.messages.next(10_000, "the echo"), data);
    });
  }

  it("round-trips every case in turn on one connection, in order", async () => {
    const { server } = await ourEchoServer();
    const peer = await wsClient(`ws://127.0.0.1:${server.port}/`);
    for (const { data } of CASES) peer.socket.send(data, { binary: typeof data !== "string" });
    for (const { data } of CASES) expectSame(await peer.messages.next(10_000, "the echo"), data);
  });

  it("declines the permessage-deflate offer: no Sec-WebSocket-Extensions in the response", async () => {
    const { server, accepted } = await ourEchoServer();
    const peer = await wsClient(`ws://127.0.0.1:${server.port}/`);
    const { request } = await accepted.next(5000, "the connection");
    expect(request.headers.get("sec-websocket-extensions")).toMatch(/^permessage-deflate/);
    expect(peer.response.headers["sec-websocket-extensions"]).toBeUndefined();
    expect(peer.socket.extensions).toBe("");
  });

  it("answers a ping from ws with a pong carrying the same payload", async () => {
    const { server } = await ourEchoServer();
    const peer = await wsClient(`ws://127.0.0.1:${server.port}/`);
    const pongs = new Inbox<Buffer>();
    peer.socket.on("pong", (data) => pongs.push(data));
    peer.socket.ping(Buffer.from("are you there? ✓"));
    peer.socket.ping();
    peer.socket.ping(Buffer.alloc(125, 0xab));
    expect((await pongs.next(5000, "the first pong")).toString()).toBe("are you there? ✓");
    expect(await pongs.next(5000, "the second pong")).toHaveLength(0);
    expect((await pongs.next(5000, "the third pong")).equals(Buffer.alloc(125, 0xab))).toBe(true);
  });

  it("sends keepalive pings that ws answers, so the connection stays open", async () => {
    const { server, accepted } = await ourEchoServer({ keepalive: { interval: 30, timeout: 1000 } });
    const peer = await wsClient(`ws://127.0.0.1:${server.port}/`);
    const { ws } = await accepted.next(5000, "the connection");
    let pings = 0;
    peer.socket.on("ping", () => pings++);
    // A ping is sent only once the previous one was answered: three pings, three pongs seen.
    await eventually(5000, "three keepalive pings", () => pings >= 3);
    expect(await settlesWithin(ws.closed, 0)).toBe(false);
    peer.socket.send("still here");
    expect(await peer.messages.next(5000, "the echo")).toBe("still here");
  });

  it("fails the connection with 1011 when ws does not answer the keepalive pings", async () => {
    const { server, accepted } = await ourEchoServer({ keepalive: { interval: 50, timeout: 100 } });
    const peer = await wsClient(`ws://127.0.0.1:${server.port}/`, { autoPong: false });
    const { ws } = await accepted.next(5000, "the connection");
    const error = await rejectionOf(ws.closed, 5000, "closed");
    expect(error).toBeInstanceOf(WebSocketError);
    const seen = await within(5000, "ws to see the close", peer.closed);
    expect({ ours: (error as WebSocketError).closeCode, theirs: seen.code }).toEqual({ ours: 1011, theirs: 1011 });
  });

  it("delivers a close that ws starts, with its code and reason, and ws sees our reply", async () => {
    const { server, accepted } = await ourEchoServer();
    const peer = await wsClient(`ws://127.0.0.1:${server.port}/`);
    const { ws } = await accepted.next(5000, "the connection");
    peer.socket.close(4000, "bye from ws ✓");
    expect(await within(5000, "closed", ws.closed)).toEqual({ closeCode: 4000, reason: "bye from ws ✓" });
    expect((await within(5000, "ws to see the reply", peer.closed)).code).toBe(4000);
  });

  it("sends a close that our server starts, with its code and reason, and sees ws's reply", async () => {
    const { server, accepted } = await ourEchoServer();
    const peer = await wsClient(`ws://127.0.0.1:${server.port}/`);
    const { ws } = await accepted.next(5000, "the connection");
    ws.close({ closeCode: 4001, reason: "bye from wsstream ✓" });
    expect(await within(5000, "ws to see the close", peer.closed)).toEqual({ code: 4001, reason: "bye from wsstream ✓" });
    expect((await within(5000, "closed", ws.closed)).closeCode).toBe(4001);
  });
});

describe("our server with undici's WebSocket", () => {
  for (const { name, data } of CASES) {
    it(`round-trips ${name}`, async () => {
      const { server } = await ourEchoServer();
      const peer = await undiciClient(`ws://127.0.0.1:${server.port}/`);
      peer.socket.send(data);
      expectSame(await peer.messages.next(10_000, "the echo"), data);
    });
  }

  it("declines undici's permessage-deflate offer cleanly and the connection works", async () => {
    const { server, accepted } = await ourEchoServer();
    const proxy = await recordingProxy(server.port);
    const peer = await undiciClient(`ws://127.0.0.1:${proxy.port}/`);
    const request = splitHead(proxy.toServer())!.head;
    expect(request).toMatch(/\r\nsec-websocket-extensions: permessage-deflate[^\r]*\r\n/i);
    const response = splitHead(proxy.toClient())!.head;
    expect(response).toMatch(/^HTTP\/1\.1 101 /);
    expect(response).not.toMatch(/sec-websocket-extensions/i);
    expect(peer.socket.extensions).toBe("");
    expect((await accepted.next(5000, "the connection")).request.headers.get("user-agent")).toBe("undici");
    peer.socket.send("compressed? no");
    expect(await peer.messages.next(5000, "the echo")).toBe("compressed? no");
  });

  it("sends keepalive pings that undici answers, so the connection stays open", async () => {
    const { server, accepted } = await ourEchoServer({ keepalive: { interval: 30, timeout: 1000 } });
    const proxy = await recordingProxy(server.port);
    const peer = await undiciClient(`ws://127.0.0.1:${proxy.port}/`);
    const { ws } = await accepted.next(5000, "the connection");
    const pings = (): number => {
      const split = splitHead(proxy.toClient());
      return split === undefined ? 0 : parseServerFrames(split.rest).frames.filter((frame) => frame.opcode === 0x9).length;
    };
    await eventually(5000, "three keepalive pings", () => pings() >= 3);
    expect(await settlesWithin(ws.closed, 0)).toBe(false);
    peer.socket.send("still here");
    expect(await peer.messages.next(5000, "the echo")).toBe("still here");
  });

  it("delivers a close that undici starts, with its code and reason", async () => {
    const { server, accepted } = await ourEchoServer();
    const peer = await undiciClient(`ws://127.0.0.1:${server.port}/`);
    const { ws } = await accepted.next(5000, "the connection");
    peer.socket.close(4002, "bye from undici ✓");
    expect(await within(5000, "closed", ws.closed)).toEqual({ closeCode: 4002, reason: "bye from undici ✓" });
    const seen = await within(5000, "undici to see the reply", peer.closed);
    expect(seen.code).toBe(4002);
    expect(seen.wasClean).toBe(true);
  });

  it("sends a close that our server starts, with its code and reason, and undici closes cleanly", async () => {
    const { server, accepted } = await ourEchoServer();
    const peer = await undiciClient(`ws://127.0.0.1:${server.port}/`);
    const { ws } = await accepted.next(5000, "the connection");
    ws.close({ closeCode: 4003, reason: "bye from wsstream ✓" });
    expect(await within(5000, "undici to see the close", peer.closed)).toEqual({ code: 4003, reason: "bye from wsstream ✓", wasClean: true });
    expect((await within(5000, "closed", ws.closed)).closeCode).toBe(4003);
  });
});

describe("our client with a ws server", () => {
  for (const { name, data } of CASES) {
    it(`round-trips ${name}`, async () => {
      const peer = await wsEchoServer();
      const { reader, writer } = await ourClient(`ws://127.0.0.1:${peer.port}/`);
      await within(5000, "the write", writer.write(data));
      const connection = await peer.connections.next(5000, "the connection");
      expectSame(await connection.received.next(10_000, "the message at the server"), data);
      const { value, done } = await within(10_000, "the echo", reader.read());
      expect(done).toBe(false);
      expectSame(value!, data);
    });
  }

  it("round-trips every case in turn on one connection, in order", async () => {
    const peer = await wsEchoServer();
    const { reader, writer } = await ourClient(`ws://127.0.0.1:${peer.port}/`);
    for (const { data } of CASES) void writer.write(data);
    for (const { data } of CASES) {
      const { value } = await within(10_000, "the echo", reader.read());
      expectSame(value!, data);
    }
  });

  it("offers no extension, so a ws server with permessage-deflate on agrees to none", async () => {
    const peer = await wsEchoServer({ perMessageDeflate: true });
    const { opened, reader, writer } = await ourClient(`ws://127.0.0.1:${peer.port}/`);
    const { request } = await peer.connections.next(5000, "the connection");
    expect(request.headers["sec-websocket-extensions"]).toBeUndefined();
    expect(opened.extensions).toBe("");
    await within(5000, "the write", writer.write(textOfBytes(70_000)));
    expectSame((await within(5000, "the echo", reader.read())).value!, textOfBytes(70_000));
  });

  it("answers a ping from the ws server with a pong carrying the same payload", async () => {
    const peer = await wsEchoServer();
    await ourClient(`ws://127.0.0.1:${peer.port}/`);
    const { socket } = await peer.connections.next(5000, "the connection");
    const pongs = new Inbox<Buffer>();
    socket.on("pong", (data) => pongs.push(data));
    socket.ping(Buffer.from("ping from ws ✓"));
    socket.ping(Buffer.alloc(125, 0x5c));
    expect((await pongs.next(5000, "the first pong")).toString()).toBe("ping from ws ✓");
    expect((await pongs.next(5000, "the second pong")).equals(Buffer.alloc(125, 0x5c))).toBe(true);
  });

  it("sends keepalive pings that the ws server answers, so the connection stays open", async () => {
    const peer = await wsEchoServer();
    const { ws, reader, writer } = await ourClient(`ws://127.0.0.1:${peer.port}/`, { keepalive: { interval: 30, timeout: 1000 } });
    const { socket } = await peer.connections.next(5000, "the connection");
    let pings = 0;
    socket.on("ping", () => pings++);
    await eventually(5000, "three keepalive pings", () => pings >= 3);
    expect(await settlesWithin(ws.closed, 0)).toBe(false);
    await within(5000, "the write", writer.write("still here"));
    expect((await within(5000, "the echo", reader.read())).value).toBe("still here");
  });

  it("fails the connection with 1011 when the ws server does not answer the keepalive pings", async () => {
    const peer = await wsEchoServer({ autoPong: false });
    const { ws } = await ourClient(`ws://127.0.0.1:${peer.port}/`, { keepalive: { interval: 50, timeout: 100 } });
    const connection = await peer.connections.next(5000, "the connection");
    const error = await rejectionOf(ws.closed, 5000, "closed");
    expect(error).toBeInstanceOf(WebSocketError);
    const seen = await within(5000, "ws to see the close", connection.closed);
    expect({ ours: (error as WebSocketError).closeCode, theirs: seen.code }).toEqual({ ours: 1011, theirs: 1011 });
  });

  it("sends a close that our client starts, with its code and reason, and sees the ws server's reply", async () => {
    const peer = await wsEchoServer();
    const { ws } = await ourClient(`ws://127.0.0.1:${peer.port}/`);
    const connection = await peer.connections.next(5000, "the connection");
    ws.close({ closeCode: 4004, reason: "bye from our client ✓" });
    expect(await within(5000, "ws to see the close", connection.closed)).toEqual({ code: 4004, reason: "bye from our client ✓" });
    expect(await within(5000, "closed", ws.closed)).toEqual({ closeCode: 4004, reason: "bye from our client ✓" });
  });

  it("delivers a close that the ws server starts, with its code and reason, after the messages before it", async () => {
    const peer = await wsEchoServer();
    const { ws, reader } = await ourClient(`ws://127.0.0.1:${peer.port}/`);
    const connection = await peer.connections.next(5000, "the connection");
    connection.socket.send("last words");
    connection.socket.close(4005, "bye from the ws server ✓");
    expect(await within(5000, "the last message", reader.read())).toEqual({ value: "last words", done: false });
    expect(await within(5000, "the end", reader.read())).toEqual({ value: undefined, done: true });
    expect(await within(5000, "closed", ws.closed)).toEqual({ closeCode: 4005, reason: "bye from the ws server ✓" });
    expect((await within(5000, "ws to see the reply", connection.closed)).code).toBe(4005);
  });

  it("keeps messages written before close() ahead of the Close frame", async () => {
    const peer = await wsEchoServer();
    const { ws, writer } = await ourClient(`ws://127.0.0.1:${peer.port}/`);
    const connection = await peer.connections.next(5000, "the connection");
    void writer.write("one");
    void writer.write(bytesOf(300_000));
    void writer.write("three");
    ws.close({ closeCode: 1000, reason: "done" });
    expect(await connection.received.next(5000, "the first message")).toBe("one");
    expectSame(await connection.received.next(5000, "the second message"), bytesOf(300_000));
    expect(await connection.received.next(5000, "the third message")).toBe("three");
    expect(await within(5000, "ws to see the close", connection.closed)).toEqual({ code: 1000, reason: "done" });
  });
});
