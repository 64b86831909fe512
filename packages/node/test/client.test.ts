import type { IncomingMessage } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { Server as NetServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type RawData, WebSocket as WsSocket, WebSocketServer } from "ws";
import { WebSocketError, WebSocketStream } from "../src/index.ts";
import {
  certificate,
  closedPort,
  closeServer,
  eventually,
  listen,
  rejectionOf,
  settlesWithin,
  silentServer,
  sleep,
  within,
} from "./fixtures/helpers.ts";

/** Servers and clients opened by the current test, closed after it. */
const servers: NetServer[] = [];
const wsServers: WebSocketServer[] = [];
const clients: WebSocketStream[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const wss of wsServers.splice(0)) {
    for (const socket of wss.clients) socket.terminate();
    await within(5000, "the ws server to close", new Promise<void>((resolve) => wss.close(() => resolve())));
  }
  for (const server of servers.splice(0)) await closeServer(server);
});

function track(client: WebSocketStream): WebSocketStream {
  clients.push(client);
  return client;
}

/** A `ws` server on a free port; `accepted()` resolves with each connection it accepts, in order. */
interface PeerServer {
  readonly port: number;
  readonly wss: WebSocketServer;
  /** The next connection the server accepts. */
  readonly accepted: () => Promise<{ socket: WsSocket; request: IncomingMessage }>;
}

function trackPeer(wss: WebSocketServer): () => Promise<{ socket: WsSocket; request: IncomingMessage }> {
  const waiting: Array<(value: { socket: WsSocket; request: IncomingMessage }) => void> = [];
  const ready: Array<{ socket: WsSocket; request: IncomingMessage }> = [];
  wss.on("connection", (socket, request) => {
    const next = waiting.shift();
    if (next !== undefined) next({ socket, request });
    else ready.push({ socket, request });
  });
  return () => {
    const first = ready.shift();
    if (first !== undefined) return Promise.resolve(first);
    return within(5000, "the ws server to accept a connection", new Promise((resolve) => waiting.push(resolve)));
  };
}

/** A `ws` echo server on a free loopback port. */
async function wsEchoServer(options: ConstructorParameters<typeof WebSocketServer>[0] = {}): Promise<PeerServer> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, ...options });
  wsServers.push(wss);
  const accepted = trackPeer(wss);
  wss.on("connection", (socket) => {
    socket.on("message", (data: RawData, isBinary: boolean) => socket.send(data as Buffer, { binary: isBinary }));
  });
  await within(2000, "the ws server to listen", new Promise<void>((resolve) => wss.once("listening", resolve)));
  const address = wss.address();
  if (address === null || typeof address === "string") throw new Error("Expected a TCP address");
  return { port: address.port, wss, accepted };
}

/** A `ws` echo server behind `node:https` with the fixture certificate. */
async function wssEchoServer(): Promise<PeerServer> {
  const https: HttpsServer = createHttpsServer({ key: certificate.key, cert: certificate.cert });
  servers.push(https);
  const wss = new WebSocketServer({ server: https });
  wsServers.push(wss);
  const accepted = trackPeer(wss);
  wss.on("connection", (socket) => {
    socket.on("message", (data: RawData, isBinary: boolean) => socket.send(data as Buffer, { binary: isBinary }));
  });
  const port = await listen(https);
  return { port, wss, accepted };
}

/** Sends `message` and reads one message back. */
async function roundTrip(ws: WebSocketStream, message: string | Uint8Array): Promise<string | Uint8Array> {
  const { readable, writable } = await within(5000, "the connection to open", ws.opened);
  const writer = writable.getWriter();
  const reader = readable.getReader();
  try {
    await within(5000, "the write", writer.write(message));
    const { value, done } = await within(5000, "the echo", reader.read());
    if (done) throw new Error("The connection closed before the echo");
    return value;
  } finally {
    writer.releaseLock();
    reader.releaseLock();
  }
}

describe("WebSocketStream over ws:", () => {
  it("opens a connection and exchanges a text and a binary message", async () => {
    const peer = await wsEchoServer();
    const ws = track(new WebSocketStream(`ws://127.0.0.1:${peer.port}/echo?room=1`));
    const { protocol, extensions } = await within(5000, "the connection to open", ws.opened);
    expect(protocol).toBe("");
    expect(extensions).toBe("");
    expect(ws.url).toBe(`ws://127.0.0.1:${peer.port}/echo?room=1`);
    const { request } = await peer.accepted();
    expect(request.url).toBe("/echo?room=1");

    expect(await roundTrip(ws, "héllo ✓")).toBe("héllo ✓");
    const binary = await roundTrip(ws, new Uint8Array([0, 1, 2, 254, 255]));
    expect(binary).toBeInstanceOf(Uint8Array);
    expect([...(binary as Uint8Array)]).toEqual([0, 1, 2, 254, 255]);
  });

  it("sends custom headers, the origin and the offered subprotocols, and reports the one chosen", async () => {
    const peer = await wsEchoServer({
      handleProtocols: (offered) => (offered.has("chat.v2") ? "chat.v2" : false),
    });
    const ws = track(new WebSocketStream(`ws://127.0.0.1:${peer.port}/`, {
      protocols: ["chat.v1", "chat.v2"],
      origin: "https://app.example",
      headers: { Authorization: "Bearer t0ken", "X-Trace": "abc" },
    }));
    const { protocol } = await within(5000, "the connection to open", ws.opened);
    expect(protocol).toBe("chat.v2");
    const { request } = await peer.accepted();
    expect(request.headers["authorization"]).toBe("Bearer t0ken");
    expect(request.headers["x-trace"]).toBe("abc");
    expect(request.headers["origin"]).toBe("https://app.example");
    expect(request.headers["sec-websocket-protocol"]).toBe("chat.v1, chat.v2");
  });

  it("rejects opened and closed with a WebSocketError (1006) when the connection is refused", async () => {
    const port = await closedPort();
    const ws = new WebSocketStream(`ws://127.0.0.1:${port}/`);
    const error = await rejectionOf(ws.opened, 5000, "opened");
    expect(error).toBeInstanceOf(WebSocketError);
    expect((error as WebSocketError).closeCode).toBe(1006);
    expect(((error as Error).cause as NodeJS.ErrnoException).code).toBe("ECONNREFUSED");
    expect(await rejectionOf(ws.closed, 1000, "closed")).toBe(error);
  });

  it("rejects opened when the server answers with an HTTP error instead of 101", async () => {
    const peer = await wsEchoServer({
      verifyClient: (_info, done) => done(false, 401, "Unauthorized", { "WWW-Authenticate": "Bearer" }),
    });
    const ws = new WebSocketStream(`ws://127.0.0.1:${peer.port}/`);
    const error = await rejectionOf(ws.opened, 5000, "opened");
    expect(error).toBeInstanceOf(WebSocketError);
    expect((error as WebSocketError).closeCode).toBe(1006);
    expect((error as Error).message).toBe("Invalid status, expected 101: 401");
    expect(((error as Error).cause as { status: number }).status).toBe(401);
  });

  it("rejects opened after handshakeTimeout when the server accepts TCP and never answers", async () => {
    const silent = await silentServer();
    servers.push(silent.server);
    const started = Date.now();
    const ws = new WebSocketStream(`ws://127.0.0.1:${silent.port}/`, { handshakeTimeout: 300 });
    const error = await rejectionOf(ws.opened, 5000, "opened");
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(WebSocketError);
    expect((error as Error).message).toBe("Handshake timed out");
    expect((error as WebSocketError).closeCode).toBe(1006);
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(3000);
    // The request was sent, and the connection is dropped once the timeout fires.
    expect(silent.received().toString("latin1")).toMatch(/^GET \/ HTTP\/1\.1\r\n/);
    const [socket] = silent.sockets;
    expect(socket).toBeDefined();
    if (!socket!.destroyed) {
      await within(2000, "the server side to see the connection close", new Promise((resolve) => socket!.once("close", resolve)));
    }
  });

  it("rejects opened with the abort reason when the signal aborts while the response is pending", async () => {
    const silent = await silentServer();
    servers.push(silent.server);
    const controller = new AbortController();
    const ws = new WebSocketStream(`ws://127.0.0.1:${silent.port}/`, { signal: controller.signal, handshakeTimeout: 10_000 });
    // Abort once the request is on the wire: the handshake waits for a response that never comes.
    await eventually(2000, "the request to arrive", () => silent.received().includes("\r\n\r\n"));
    const reason = new Error("the user navigated away");
    controller.abort(reason);
    const error = await rejectionOf(ws.opened, 2000, "opened after the abort");
    expect(error).toBeInstanceOf(WebSocketError);
    expect((error as Error).message).toBe("the user navigated away");
    expect((error as Error).cause).toBe(reason);
    expect(await rejectionOf(ws.closed, 1000, "closed")).toBe(error);
  });

  it("rejects opened at once when the signal is already aborted, without connecting", async () => {
    const silent = await silentServer();
    servers.push(silent.server);
    const ws = new WebSocketStream(`ws://127.0.0.1:${silent.port}/`, { signal: AbortSignal.abort(new Error("too late")) });
    const error = await rejectionOf(ws.opened, 1000, "opened");
    expect((error as Error).message).toBe("too late");
    await sleep(50);
    expect(silent.sockets).toHaveLength(0);
  });

  it("rejects opened when close() is called during the opening handshake", async () => {
    const silent = await silentServer();
    servers.push(silent.server);
    const ws = new WebSocketStream(`ws://127.0.0.1:${silent.port}/`);
    ws.close({ closeCode: 1000, reason: "never mind" });
    const error = await rejectionOf(ws.opened, 2000, "opened");
    expect(error).toBeInstanceOf(WebSocketError);
    expect((error as WebSocketError).closeCode).toBe(1006);
  });

  it("closes with a code and reason the server sees, and closed resolves with the server's reply", async () => {
    const peer = await wsEchoServer();
    const ws = track(new WebSocketStream(`ws://127.0.0.1:${peer.port}/`));
    await within(5000, "the connection to open", ws.opened);
    const { socket } = await peer.accepted();
    const seen = new Promise<[number, string]>((resolve) => socket.once("close", (code, reason) => resolve([code, reason.toString()])));
    ws.close({ closeCode: 4000, reason: "done for today" });
    expect(await within(5000, "the server to see the close", seen)).toEqual([4000, "done for today"]);
    // ws echoes the code and the reason in its reply.
    expect(await within(5000, "closed", ws.closed)).toEqual({ closeCode: 4000, reason: "done for today" });
  });

  it("resolves closed with the code and reason of a close the server starts, and ends the readable", async () => {
    const peer = await wsEchoServer();
    const ws = track(new WebSocketStream(`ws://127.0.0.1:${peer.port}/`));
    const { readable } = await within(5000, "the connection to open", ws.opened);
    const { socket } = await peer.accepted();
    socket.close(4001, "server going away");
    expect(await within(5000, "the end of the messages", readable.getReader().read())).toEqual({ value: undefined, done: true });
    expect(await within(5000, "closed", ws.closed)).toEqual({ closeCode: 4001, reason: "server going away" });
  });

  it("closes with the code and reason of a WebSocketError given to readable.cancel()", async () => {
    const peer = await wsEchoServer();
    const ws = track(new WebSocketStream(`ws://127.0.0.1:${peer.port}/`));
    const { readable } = await within(5000, "the connection to open", ws.opened);
    const { socket } = await peer.accepted();
    const seen = new Promise<[number, string]>((resolve) => socket.once("close", (code, reason) => resolve([code, reason.toString()])));
    await within(5000, "readable.cancel()", readable.cancel(new WebSocketError("not interested", { closeCode: 4100, reason: "no thanks" })));
    expect(await within(5000, "the server to see the close", seen)).toEqual([4100, "no thanks"]);
    expect((await within(5000, "closed", ws.closed)).closeCode).toBe(4100);
  });

  it("closes with the code of a WebSocketError given to writable.abort(), and without one on writable.close()", async () => {
    const peer = await wsEchoServer();
    const first = track(new WebSocketStream(`ws://127.0.0.1:${peer.port}/`));
    const { writable } = await within(5000, "the connection to open", first.opened);
    const { socket } = await peer.accepted();
    const seen = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
    await within(5000, "writable.abort()", writable.abort(new WebSocketError("giving up", { closeCode: 4101 })));
    expect(await within(5000, "the server to see the close", seen)).toBe(4101);

    const second = track(new WebSocketStream(`ws://127.0.0.1:${peer.port}/`));
    const opened = await within(5000, "the connection to open", second.opened);
    const { socket: secondSocket } = await peer.accepted();
    const secondSeen = new Promise<number>((resolve) => secondSocket.once("close", (code) => resolve(code)));
    const writer = opened.writable.getWriter();
    void writer.write("before the close");
    await within(5000, "writable.close()", writer.close());
    expect(await within(5000, "the server to see the close", secondSeen)).toBe(1005);
    expect(await within(5000, "closed", second.closed)).toEqual({ closeCode: 1005, reason: "" });
  });

  it("rejects a write after close() with a WebSocketError", async () => {
    const peer = await wsEchoServer();
    const ws = track(new WebSocketStream(`ws://127.0.0.1:${peer.port}/`));
    const { writable } = await within(5000, "the connection to open", ws.opened);
    ws.close({ closeCode: 1000 });
    await within(5000, "closed", ws.closed);
    const error = await rejectionOf(writable.getWriter().write("too late"), 1000, "the write");
    expect(error).toBeInstanceOf(WebSocketError);
  });

  it("rejects closed with 1006 when the server drops the TCP connection without a close", async () => {
    const peer = await wsEchoServer();
    const ws = track(new WebSocketStream(`ws://127.0.0.1:${peer.port}/`));
    const { readable } = await within(5000, "the connection to open", ws.opened);
    const { socket } = await peer.accepted();
    socket.terminate();
    const error = await rejectionOf(ws.closed, 5000, "closed");
    expect(error).toBeInstanceOf(WebSocketError);
    expect((error as WebSocketError).closeCode).toBe(1006);
    const readError = await rejectionOf(readable.getReader().read(), 5000, "the readable to error");
    expect(readError).toBeInstanceOf(WebSocketError);
    expect((readError as WebSocketError).closeCode).toBe(1006);
  });

  it("fails the connection with 1009 when the server sends a message over maxMessageSize", async () => {
    const peer = await wsEchoServer();
    const ws = track(new WebSocketStream(`ws://127.0.0.1:${peer.port}/`, { maxMessageSize: 1024 }));
    const { readable } = await within(5000, "the connection to open", ws.opened);
    const { socket } = await peer.accepted();
    const seen = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
    socket.send("small");
    socket.send("x".repeat(1025));
    const reader = readable.getReader();
    expect(await within(5000, "the small message", reader.read())).toEqual({ value: "small", done: false });
    const error = await rejectionOf(reader.read(), 5000, "the readable to error");
    expect((error as WebSocketError).closeCode).toBe(1009);
    expect(await within(5000, "the server to see the close", seen)).toBe(1009);
    expect(((await rejectionOf(ws.closed, 5000, "closed")) as WebSocketError).closeCode).toBe(1009);
  });
});

describe("WebSocketStream over wss:", () => {
  it("opens a connection to localhost when tls.ca trusts the self-signed certificate", async () => {
    const peer = await wssEchoServer();
    const ws = track(new WebSocketStream(`wss://localhost:${peer.port}/secure`, { tls: { ca: certificate.ca } }));
    expect(await roundTrip(ws, "over tls")).toBe("over tls");
    expect(ws.url).toBe(`wss://localhost:${peer.port}/secure`);
    const { request } = await peer.accepted();
    expect(request.url).toBe("/secure");
    expect((request.socket as { encrypted?: boolean }).encrypted).toBe(true);
  });

  it("checks the certificate against an IP address URL by its subjectAltName", async () => {
    const peer = await wssEchoServer();
    const ws = track(new WebSocketStream(`wss://127.0.0.1:${peer.port}/`, { tls: { ca: certificate.ca } }));
    const bytes = new Uint8Array(70_000).map((_, i) => i % 251);
    const echoed = await roundTrip(ws, bytes);
    expect(Buffer.from(echoed as Uint8Array).equals(Buffer.from(bytes))).toBe(true);
  });

  it("rejects opened when the certificate is not trusted", async () => {
    const peer = await wssEchoServer();
    const ws = new WebSocketStream(`wss://localhost:${peer.port}/`);
    const error = await rejectionOf(ws.opened, 5000, "opened");
    expect(error).toBeInstanceOf(WebSocketError);
    expect((error as WebSocketError).closeCode).toBe(1006);
    expect(((error as Error).cause as NodeJS.ErrnoException).code).toBe("DEPTH_ZERO_SELF_SIGNED_CERT");
  });

  it("rejects opened with the abort reason when the signal aborts during the TLS handshake", async () => {
    const silent = await silentServer();
    servers.push(silent.server);
    const controller = new AbortController();
    const ws = new WebSocketStream(`wss://localhost:${silent.port}/`, { signal: controller.signal, tls: { ca: certificate.ca } });
    await eventually(2000, "the ClientHello to arrive", () => silent.received().length > 0);
    controller.abort(new Error("cancelled"));
    const error = await rejectionOf(ws.opened, 2000, "opened after the abort");
    expect((error as Error).message).toBe("cancelled");
    const [socket] = silent.sockets;
    if (!socket!.destroyed) {
      await within(2000, "the server side to see the connection close", new Promise((resolve) => socket!.once("close", resolve)));
    }
  });

  it("closes without a code: the server sees 1005 and closed resolves with 1005", async () => {
    const peer = await wssEchoServer();
    const ws = track(new WebSocketStream(`wss://localhost:${peer.port}/`, { tls: { ca: certificate.ca } }));
    await within(5000, "the connection to open", ws.opened);
    const { socket } = await peer.accepted();
    const seen = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
    expect(await settlesWithin(ws.closed, 50)).toBe(false);
    ws.close();
    expect(await within(5000, "the server to see the close", seen)).toBe(1005);
    expect(await within(5000, "closed", ws.closed)).toEqual({ closeCode: 1005, reason: "" });
  });
});
