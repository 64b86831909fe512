// WebSockets over HTTP/2 (RFC 8441): our client and server over h2 (TLS) and h2c, many
// WebSockets on one session, refusals, the fallback to HTTP/1.1, stream resets and flow control,
// and a raw node:http2 client built by hand as an independent peer.
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect as connectHttp2,
  constants,
  createSecureServer,
  type Http2SecureServer,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";
import { connect as connectTcp } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../core/test/helpers/fake-clock.ts";
import {
  handleStream,
  handleUpgrade,
  HandshakeError,
  openHttp2Session,
  serve,
  type Server,
  upgradeHandler,
  WebSocket,
  type WebSocketBase,
  WebSocketStream,
  type WebSocketStreamBase,
} from "../src/index.ts";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  certificate,
  clientFrame,
  closePayload,
  eventually,
  Inbox,
  parseServerFrames,
  rejectionOf,
  ROOT,
  startExample,
  within,
} from "./fixtures/helpers.ts";

const servers: Array<{ close(): Promise<unknown> }> = [];
const sessions: ClientHttp2Session[] = [];
const tls = { ca: certificate.ca };

afterEach(async () => {
  for (const session of sessions.splice(0)) session.destroy();
  for (const server of servers.splice(0)) await within(5000, "a server to close", server.close());
});

/** Echoes every message until the peer closes. */
async function echo(ws: WebSocketStreamBase): Promise<void> {
  const { readable, writable } = await ws.opened;
  await readable.pipeTo(writable).catch(() => {});
}

async function serveHttp2(options: Partial<Parameters<typeof serve>[0]> = {}, secure = true): Promise<Server> {
  const server = await serve({ http2: true, handler: echo, ...(secure ? { tls: certificate } : {}), ...options } as Parameters<typeof serve>[0]);
  servers.push(server);
  return server;
}

/** A `node:http2` server of our own, closed after the test (its sessions destroyed). */
async function ownServer(setup: (server: Http2SecureServer) => void, settings = { enableConnectProtocol: true }, allowHTTP1 = false): Promise<number> {
  const server = createSecureServer({ ...certificate, settings, allowHTTP1 });
  const open = new Set<{ destroy(): void }>();
  server.on("session", (session) => {
    open.add(session);
    session.on("error", () => {});
  });
  setup(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push({
    close: () => {
      for (const session of open) session.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
  return (server.address() as { port: number }).port;
}

/** One round trip of `text` on an open WebSocketStream. */
async function roundTrip(ws: WebSocketStreamBase, text: string): Promise<string | Uint8Array | undefined> {
  const { readable, writable } = await ws.opened;
  const writer = writable.getWriter();
  const reader = readable.getReader();
  await writer.write(text);
  const { value } = await within(5000, "the echo", reader.read());
  writer.releaseLock();
  reader.releaseLock();
  return value;
}

/** A raw `node:http2` session to `port`, trusting the test certificate. */
function rawSession(port: number): ClientHttp2Session {
  const session = connectHttp2(`https://127.0.0.1:${port}`, { ca: certificate.ca });
  session.on("error", () => {});
  sessions.push(session);
  return session;
}

/** A hand-built extended CONNECT (RFC 8441 §5) on a raw session; resolves with the response headers. */
function rawConnect(session: ClientHttp2Session, port: number, headers: Record<string, string> = {}): { stream: ClientHttp2Stream; response: Promise<IncomingHttpHeaders> } {
  const stream = session.request({
    ":method": "CONNECT",
    ":protocol": "websocket",
    ":scheme": "https",
    ":path": "/",
    ":authority": `127.0.0.1:${port}`,
    "sec-websocket-version": "13",
    ...headers,
  }, { endStream: false });
  stream.on("error", () => {});
  return { stream, response: within(5000, "the response", new Promise((resolve) => stream.once("response", resolve))) };
}

/** The body of a raw stream, once it ended. */
function bodyOf(stream: ClientHttp2Stream): Promise<string> {
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  return within(5000, "the body", new Promise((resolve) => stream.once("end", () => resolve(Buffer.concat(chunks).toString()))));
}

describe("our client and server over HTTP/2", () => {
  it("exchange messages over h2 with TLS and close cleanly, the server seeing an extended CONNECT", async () => {
    const methods: string[] = [];
    const server = await serveHttp2({ upgrade: (_request: Request, info: { method: string }) => void methods.push(info.method) });
    const ws = new WebSocketStream(`wss://localhost:${server.port}/chat`, { http2: true, tls, protocols: ["chat"] });
    expect(await roundTrip(ws, "hello over h2")).toBe("hello over h2");
    expect(methods).toEqual(["CONNECT"]);
    ws.close({ closeCode: 1000, reason: "done" });
    expect(await within(5000, "closed", ws.closed)).toEqual({ closeCode: 1000, reason: "" });
  });

  it("exchange messages over h2c (cleartext, prior knowledge) with the WHATWG WebSocket", async () => {
    const methods: string[] = [];
    const server = await serveHttp2({ upgrade: (_request: Request, info: { method: string }) => void methods.push(info.method) }, false);
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`, { http2: true });
    ws.binaryType = "bytes";
    const inbox = new Inbox<unknown>();
    ws.onmessage = (event) => inbox.push(event.data);
    await within(5000, "open", new Promise((resolve) => (ws.onopen = resolve)));
    ws.send(Uint8Array.of(1, 2, 3));
    expect(await inbox.next(5000, "a message")).toEqual(Uint8Array.of(1, 2, 3));
    expect(methods).toEqual(["CONNECT"]);
    const closed = new Promise<{ code: number; wasClean: boolean }>((resolve) => (ws.onclose = resolve));
    ws.close(1000);
    expect(await within(5000, "close", closed)).toMatchObject({ code: 1000, wasClean: true });
    // HTTP/1.1 on the same cleartext port: the first bytes are not the HTTP/2 preface.
    const h1 = new WebSocketStream(`ws://127.0.0.1:${server.port}/`);
    expect(await roundTrip(h1, "over HTTP/1.1")).toBe("over HTTP/1.1");
    expect(methods).toEqual(["CONNECT", "GET"]);
    h1.close();
  });

  it("run 100 WebSockets on one session, their messages interleaved, over one TCP connection", async () => {
    const server = await serveHttp2();
    const session = await openHttp2Session(`wss://localhost:${server.port}/`, { tls });
    sessions.push(session);
    const count = 100;
    const rounds = 10;
    const sockets: WebSocketBase[] = [];
    const received: string[][] = [];
    const done: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const ws = new WebSocket(`wss://localhost:${server.port}/n${i}`, { http2: session });
      sockets.push(ws);
      const mine: string[] = [];
      received.push(mine);
      done.push(new Promise<void>((resolve, reject) => {
        ws.onmessage = (event) => {
          mine.push(event.data as string);
          if (mine.length === rounds) resolve();
        };
        ws.onerror = () => reject(new Error(`WebSocket ${i} failed`));
      }));
    }
    await within(10_000, "100 opens", Promise.all(sockets.map((ws) => new Promise((resolve) => (ws.onopen = resolve)))));
    // Interleaved: round r of every socket goes out before round r + 1 of any.
    for (let r = 0; r < rounds; r++) for (let i = 0; i < count; i++) sockets[i]!.send(`${i}:${r}`);
    await within(10_000, "every echo", Promise.all(done));
    for (let i = 0; i < count; i++) expect(received[i]).toEqual(Array.from({ length: rounds }, (_, r) => `${i}:${r}`));
    expect(server.connections.size).toBe(count);
    const ports = new Set([...server.connections].map((ws) => ws.remotePort));
    expect(ports.size).toBe(1);
    expect([...ports][0]).toBeGreaterThan(0);
    expect([...server.connections][0]!.remoteAddress).toBe("127.0.0.1");
    for (const ws of sockets) ws.close(1000);
    await eventually(5000, "every connection closed", () => server.connections.size === 0);
  });

  it("close every WebSocket with 1001 and end the sessions when the server closes", async () => {
    const server = await serveHttp2();
    servers.pop();
    const ws = new WebSocketStream(`wss://localhost:${server.port}/`, { http2: true, tls });
    await ws.opened;
    const report = await within(5000, "server close", server.close());
    expect(report).toEqual({ connections: 1, clean: 1 });
    expect(await ws.closed).toEqual({ closeCode: 1001, reason: "server closing" });
  });

  it("drops a cleartext connection that sends nothing within the handshake timeout", async () => {
    const clock = new FakeClock();
    const server = await serveHttp2({ clock, handshakeTimeout: 1000 }, false);
    const socket = connectTcp(server.port, "127.0.0.1");
    const closed = new Promise((resolve) => socket.once("close", resolve));
    await within(5000, "connect", new Promise((resolve) => socket.once("connect", resolve)));
    await eventually(5000, "the timer to be armed", () => clock.pending > 0);
    await clock.advance(1000);
    await within(5000, "the server to drop the connection", closed);
  });

  it("serves plain requests with onRequest on the same port, over HTTP/2", async () => {
    const server = await serveHttp2({ onRequest: (_request, response) => response.end("a page") });
    const session = rawSession(server.port);
    const stream = session.request({ ":path": "/" });
    expect(await bodyOf(stream)).toBe("a page");
    const missing = await serveHttp2();
    const other = rawSession(missing.port).request({ ":path": "/" });
    const status = new Promise((resolve) => other.once("response", (headers) => resolve(headers[":status"])));
    expect(await within(5000, "404", status)).toBe(404);
  });

  it("accepts HTTP/1.1 upgrades and HTTP/2 streams on one TLS port, sharing connections and pub/sub", async () => {
    const server = await serve({
      http2: true,
      tls: certificate,
      api: "websocket",
      handler: (ws) => void ws.subscribe("news"),
    });
    servers.push(server);
    const h1 = new WebSocket(`wss://localhost:${server.port}/`, { tls });
    const h2 = new WebSocket(`wss://localhost:${server.port}/`, { tls, http2: true });
    const inbox = new Inbox<string>();
    for (const ws of [h1, h2]) ws.onmessage = (event) => inbox.push(event.data as string);
    await within(5000, "both open", Promise.all([h1, h2].map((ws) => new Promise((resolve) => (ws.onopen = resolve)))));
    await eventually(5000, "both subscribed", () => server.subscriberCount("news") === 2);
    expect(server.publish("news", "extra")).toBe(2);
    expect([await inbox.next(5000, "a message"), await inbox.next(5000, "a message")]).toEqual(["extra", "extra"]);
    const ports = new Set([...server.connections].map((ws) => ws.remotePort));
    expect(ports.size).toBe(2);
    h1.close();
    h2.close();
  });
});

describe("refusals over HTTP/2", () => {
  it("answer a path other than `path` with 404", async () => {
    const server = await serveHttp2({ path: "/chat" });
    const ws = new WebSocketStream(`wss://localhost:${server.port}/other`, { http2: true, tls });
    const error = await rejectionOf(ws.opened, 5000, "opened");
    expect((error as { cause?: unknown }).cause).toMatchObject({ code: "WS_ERR_INVALID_STATUS", status: 404 });
  });

  it("send the hook's Response, status, headers and body", async () => {
    const server = await serveHttp2({ upgrade: () => new Response("members only", { status: 403, headers: { "x-why": "policy" } }) });
    const session = rawSession(server.port);
    const { stream, response } = rawConnect(session, server.port);
    const body = bodyOf(stream);
    expect(await response).toMatchObject({ ":status": 403, "x-why": "policy" });
    expect(await body).toBe("members only");
  });

  it("refuse another WebSocket version with 400 naming version 13", async () => {
    const server = await serveHttp2();
    const { stream, response } = rawConnect(rawSession(server.port), server.port, { "sec-websocket-version": "8" });
    const body = bodyOf(stream);
    expect(await response).toMatchObject({ ":status": 400, "sec-websocket-version": "13" });
    expect(await body).toBe("Invalid Sec-WebSocket-Version: 8");
  });

  it("refuse a CONNECT without :protocol, and any stream handed to handleStream that is not one, with 400", async () => {
    const port = await ownServer((server) => {
      server.on("stream", (stream, headers) => void handleStream(stream, headers, { handler: echo }));
    });
    const session = rawSession(port);
    const plain = session.request({ ":method": "CONNECT", ":authority": `127.0.0.1:${port}` }, { endStream: false });
    const plainStatus = new Promise((resolve) => plain.once("response", (headers) => resolve(headers[":status"])));
    expect(await within(5000, "400", plainStatus)).toBe(400);
    const get = session.request({ ":path": "/" });
    const getBody = bodyOf(get);
    expect(await getBody).toBe("Invalid method, expected an extended CONNECT: GET");
  });
});

describe("the fallback to HTTP/1.1", () => {
  it("upgrades over HTTP/1.1 when the HTTP/2 server does not enable the extended CONNECT", async () => {
    const upgrades: string[] = [];
    const port = await ownServer((server) => {
      server.on("upgrade", (request, socket, head) => {
        upgrades.push(request.httpVersion);
        void handleUpgrade(request, socket, head, { handler: echo });
      });
    }, { enableConnectProtocol: false }, true);
    const ws = new WebSocketStream(`wss://localhost:${port}/`, { http2: true, tls });
    expect(await roundTrip(ws, "fell back")).toBe("fell back");
    expect(upgrades).toEqual(["1.1"]);
    ws.close();
  });

  it("upgrades over the same TLS connection when the server speaks only HTTP/1.1 (ALPN), and over a new one in cleartext", async () => {
    const secure = await serve({ tls: certificate, handler: echo });
    const plain = await serve({ handler: echo });
    servers.push(secure, plain);
    const overTls = new WebSocketStream(`wss://localhost:${secure.port}/`, { http2: true, tls });
    expect(await roundTrip(overTls, "tls")).toBe("tls");
    const cleartext = new WebSocketStream(`ws://127.0.0.1:${plain.port}/`, { http2: true });
    expect(await roundTrip(cleartext, "h2c refused")).toBe("h2c refused");
    overTls.close();
    cleartext.close();
  });

  it("fails with WS_ERR_EXTENDED_CONNECT_DISABLED on a given session whose server did not enable it", async () => {
    const port = await ownServer(() => {}, { enableConnectProtocol: false });
    const session = await openHttp2Session(`wss://localhost:${port}/`, { tls });
    sessions.push(session);
    expect(session.remoteSettings.enableConnectProtocol).toBe(false);
    const ws = new WebSocketStream(`wss://localhost:${port}/`, { http2: session });
    const error = await rejectionOf(ws.opened, 5000, "opened");
    const cause = (error as { cause?: unknown }).cause;
    expect(cause).toBeInstanceOf(HandshakeError);
    expect(cause).toMatchObject({ code: "WS_ERR_EXTENDED_CONNECT_DISABLED" });
  });
});

describe("stream resets and flow control", () => {
  it("report a reset mid-message as 1006 on the server, the other streams of the session unaffected", async () => {
    const closes = new Inbox<unknown>();
    const server = await serveHttp2({
      path: "/",
      handler: async (ws: WebSocketStreamBase) => {
        const echoing = echo(ws);
        ws.closed.then((info) => closes.push(info), (error: unknown) => closes.push(error));
        await echoing;
      },
    });
    const session = rawSession(server.port);
    const other = new WebSocketStream(`wss://localhost:${server.port}/`, { http2: await openHttp2Session(`wss://localhost:${server.port}/`, { tls }) });
    const { stream, response } = rawConnect(session, server.port);
    expect((await response)[":status"]).toBe(200);
    // Half a frame: the header announces 100 bytes, 10 follow, then RST_STREAM.
    stream.write(clientFrame(1, "x".repeat(100)).subarray(0, 16));
    await eventually(5000, "the server to hold the connection", () => server.connections.size >= 1);
    stream.close(constants.NGHTTP2_CANCEL);
    expect(await closes.next(5000, "the close")).toMatchObject({ closeCode: 1006 });
    expect(await roundTrip(other, "still here")).toBe("still here");
    other.close();
  });

  it("report a reset by the server as 1006 on our client, the other streams unaffected", async () => {
    const streams = new Inbox<ServerHttp2Stream>();
    const group = upgradeHandler({ handler: echo });
    servers.push(group);
    const port = await ownServer((server) => {
      server.on("stream", (stream, headers) => {
        streams.push(stream);
        void group.handleStream(stream, headers);
      });
    });
    const session = await openHttp2Session(`wss://localhost:${port}/`, { tls });
    sessions.push(session);
    const victim = new WebSocketStream(`wss://localhost:${port}/`, { http2: session });
    const victimStream = await streams.next(5000, "the stream");
    const survivor = new WebSocketStream(`wss://localhost:${port}/`, { http2: session });
    await Promise.all([victim.opened, survivor.opened]);
    victimStream.close(constants.NGHTTP2_CANCEL);
    expect(await rejectionOf(victim.closed, 5000, "closed")).toMatchObject({ closeCode: 1006 });
    expect(await roundTrip(survivor, "unaffected")).toBe("unaffected");
    survivor.close();
  });

  it("stop only the stream whose reader stopped: its writer's bufferedAmount grows while other streams flow", async () => {
    const slowReaders: Array<() => void> = [];
    const slowReceived: number[] = [];
    const server = await serveHttp2({
      handler: async (ws: WebSocketStreamBase) => {
        if (!ws.url.endsWith("/slow")) return echo(ws);
        const { readable } = await ws.opened;
        // Reads nothing until released, then counts what arrived.
        await new Promise<void>((resolve) => slowReaders.push(resolve));
        let total = 0;
        const reader = readable.getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          total += (value as Uint8Array).length;
          slowReceived[0] = total;
        }
      },
    });
    const session = await openHttp2Session(`wss://localhost:${server.port}/`, { tls });
    sessions.push(session);
    const slow = new WebSocket(`wss://localhost:${server.port}/slow`, { http2: session });
    const fast = new WebSocketStream(`wss://localhost:${server.port}/fast`, { http2: session });
    await within(5000, "slow open", new Promise((resolve) => (slow.onopen = resolve)));
    const chunk = new Uint8Array(64 * 1024);
    const total = 4 * 1024 * 1024;
    for (let sent = 0; sent < total; sent += chunk.length) slow.send(chunk);
    // The stream's flow-control window (64 KiB) and the server's read buffers take a little; the
    // rest waits in this end's buffer, as the server's reader is not reading.
    await eventually(5000, "the slow stream to stall", () => slow.bufferedAmount > 0);
    for (let i = 0; i < 50; i++) expect(await roundTrip(fast, `fast ${i}`)).toBe(`fast ${i}`);
    expect(slow.bufferedAmount).toBeGreaterThan(total - 1024 * 1024);
    await eventually(5000, "the slow handler to be waiting", () => slowReaders.length === 1);
    slowReaders[0]!();
    await eventually(10_000, "the slow stream to drain", () => slow.bufferedAmount === 0 && slowReceived[0] === total);
    slow.close();
    fast.close();
  });
});

describe("flow control towards a slow client", () => {
  it("stops only the stream whose client stopped reading: the server's bufferedAmount grows while other streams flow", async () => {
    const total = 4 * 1024 * 1024;
    const floods: WebSocketBase[] = [];
    const server = await serve({
      http2: true,
      tls: certificate,
      api: "websocket",
      handler: (ws) => {
        if (ws.url.endsWith("/flood")) {
          floods.push(ws);
          for (let sent = 0; sent < total; sent += 64 * 1024) ws.send(new Uint8Array(64 * 1024));
        } else {
          ws.onmessage = (event) => ws.send(event.data as string);
        }
      },
    });
    servers.push(server);
    const session = await openHttp2Session(`wss://localhost:${server.port}/`, { tls });
    sessions.push(session);
    // This client reads nothing until told: its message queue (1 MiB) fills, then its stream's window.
    const flood = new WebSocketStream(`wss://localhost:${server.port}/flood`, { http2: session });
    const fast = new WebSocketStream(`wss://localhost:${server.port}/fast`, { http2: session });
    const { readable } = await flood.opened;
    await eventually(5000, "the flood to start", () => floods.length === 1 && floods[0]!.bufferedAmount > 0);
    for (let i = 0; i < 50; i++) expect(await roundTrip(fast, `fast ${i}`)).toBe(`fast ${i}`);
    expect(floods[0]!.bufferedAmount).toBeGreaterThan(2 * 1024 * 1024);
    const reader = readable.getReader();
    let received = 0;
    while (received < total) {
      const { value, done } = await within(10_000, "flood messages", reader.read());
      if (done) break;
      received += (value as Uint8Array).length;
    }
    expect(received).toBe(total);
    await eventually(5000, "the server's buffer to drain", () => floods[0]!.bufferedAmount === 0);
    flood.close();
    fast.close();
  });
});

describe("a raw node:http2 client as an independent peer", () => {
  it("completes the RFC 8441 handshake with a subprotocol and exchanges hand-built frames", async () => {
    const server = await serveHttp2({ upgrade: () => ({ protocol: "chat" }) });
    const { stream, response } = rawConnect(rawSession(server.port), server.port, { "sec-websocket-protocol": "superchat, chat" });
    const headers = await response;
    expect(headers).toMatchObject({ ":status": 200, "sec-websocket-protocol": "chat" });
    expect(headers["sec-websocket-accept"]).toBeUndefined();
    let data = Buffer.alloc(0);
    const frames = new Inbox<{ opcode: number; payload: Buffer }>();
    stream.on("data", (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const parsed = parseServerFrames(data);
      data = data.subarray(parsed.used);
      for (const frame of parsed.frames) frames.push(frame);
    });
    const ended = new Promise<void>((resolve) => stream.once("end", resolve));
    stream.write(clientFrame(1, "raw hello"));
    expect(await frames.next(5000, "a frame")).toMatchObject({ opcode: 1, payload: Buffer.from("raw hello") });
    // RFC 8441 §6 via RFC 6455: the Close handshake, then the server ends the stream (END_STREAM).
    stream.write(clientFrame(8, Buffer.from([0x03, 0xe8])));
    const close = await frames.next(5000, "a frame");
    expect(close.opcode).toBe(8);
    expect(closePayload(close.payload).code).toBe(1000);
    await within(5000, "END_STREAM from the server", ended);
    stream.end();
  });
});

describe("the README", () => {
  it("runs its HTTP/2 example: ten WebSockets on one TCP connection, then one with http2: true", async () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const code = /## HTTP\/2 \(RFC 8441\)[^]*?```ts\n([^]*?)```/.exec(readme)![1]!;
    const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));
    // It imports @wsstream/node, so it is written under the repository's node_modules, where that resolves.
    const dir = `${ROOT}node_modules/.cache/wsstream-test`;
    const file = `${dir}/readme-http2-${process.pid}.mts`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, code.replace('"key.pem"', JSON.stringify(`${fixtures}key.pem`)).replace('"cert.pem"', JSON.stringify(`${fixtures}cert.pem`)));
    try {
      const example = await startExample(file, {}, /^single: one more$/, 20_000);
      await eventually(10_000, "the example to end", () => example.child.exitCode !== null);
      expect(example.child.exitCode).toBe(0);
      const output = example.output();
      expect(output).toMatch(/^TCP connections: 1$/m);
      for (let i = 0; i < 10; i++) expect(output).toContain(`'hello ${i}'`);
    } finally {
      rmSync(file, { force: true });
    }
  }, 40_000);
});
