import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ClientConnection } from "../src/client.ts";
import { ConnectionGroup } from "../src/connection-group.ts";
import { Opcode } from "../src/opcode.ts";
import type { ServerOptions } from "../src/upgrade.ts";
import { CloseEvent, ErrorEvent } from "../src/event-target.ts";
import { WebSocketError } from "../src/errors.ts";
import { WebSocketBase } from "../src/websocket.ts";
import { bytes, concat } from "./helpers/chunking.ts";
import { framesSentBy, fromPeer } from "./helpers/frames.ts";
import { memoryPair, pushTransport, within } from "./helpers/memory-transport.ts";
import { FakeClock, settle, until } from "./helpers/fake-clock.ts";
import { TestTransport } from "./helpers/test-transport.ts";

// Every event a WebSocket fires, as short strings, in order.
function record(ws: WebSocketBase): string[] {
  const log: string[] = [];
  ws.addEventListener("open", () => log.push("open"));
  ws.addEventListener("message", (event) => {
    const data = (event as MessageEvent).data;
    log.push(`message:${typeof data === "string" ? data : data instanceof ArrayBuffer ? `ab${data.byteLength}` : `blob${(data as Blob).size}`}`);
  });
  ws.addEventListener("error", () => log.push("error"));
  ws.addEventListener("close", (event) => {
    const close = event as CloseEvent;
    log.push(`close:${close.code}:${close.reason}:${close.wasClean}`);
  });
  return log;
}

function closed(ws: WebSocketBase): Promise<CloseEvent> {
  return new Promise((resolve) => ws.addEventListener("close", (event) => resolve(event as CloseEvent), { once: true }));
}

function opened(ws: WebSocketBase): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("close", () => reject(new Error("closed before open")), { once: true });
  });
}

function nextMessage(ws: WebSocketBase): Promise<unknown> {
  return new Promise((resolve) => ws.addEventListener("message", (event) => resolve((event as MessageEvent).data), { once: true }));
}

// A WebSocket client and the server's WebSocket over an in-memory pair, both open; `log` holds
// the client's events from the start.
async function socketPair(server: { handler?: (ws: WebSocketBase) => void } & Partial<ServerOptions> = {}, protocols?: string[]) {
  const [clientStreams, serverStreams] = memoryPair();
  // Both ends read in the mode under test: with read(), or pushed to (Transport.listen).
  const clientSide = mode === "push" ? pushTransport(clientStreams) : clientStreams;
  const serverSide = mode === "push" ? pushTransport(serverStreams) : serverStreams;
  let accept!: (ws: WebSocketBase) => void;
  const accepted = new Promise<WebSocketBase>((resolve) => (accept = resolve));
  const group = new ConnectionGroup({
    ...server,
    api: "websocket",
    handler: (ws) => {
      server.handler?.(ws);
      accept(ws);
    },
  });
  void group.accept(serverSide, { scheme: "ws:" });
  const client = new WebSocketBase("ws://test.invalid/chat?room=1", protocols, clientSide);
  const log = record(client);
  const readyStateAtStart = client.readyState;
  await within(opened(client));
  return { client, server: await within(accepted), group, log, readyStateAtStart };
}

// A server-side WebSocket over a TestTransport, after a real client handshake.
async function serverOver(transport: TestTransport, options: Partial<ServerOptions> & { extra?: Uint8Array } = {}) {
  const conn = await ClientConnection.create("ws://test.invalid/");
  transport.push(options.extra === undefined ? conn.dataToSend()[0]! : concat(conn.dataToSend()[0]!, options.extra));
  let accept!: (ws: WebSocketBase) => void;
  const accepted = new Promise<WebSocketBase>((resolve) => (accept = resolve));
  const group = new ConnectionGroup({ ...options, api: "websocket", handler: (ws) => accept(ws) });
  void group.accept(transport, { scheme: "ws:" });
  const ws = await within(accepted);
  return { ws, group };
}

let mode: "pull" | "push" = "pull";

describe.each(["pull", "push"] as const)("WebSocket (WHATWG) over an in-memory transport read by %s", (readMode) => {
  beforeEach(() => {
    mode = readMode;
  });
  afterEach(() => {
    mode = "pull";
  });

  it("fires open, message and close in order, with the server's protocol and a clean close", async () => {
    const pair = await socketPair({
      upgrade: () => ({ protocol: "chat" }),
      handler: (ws) => {
        ws.onmessage = (event) => ws.send(`echo ${event.data as string}`);
      },
    }, ["chat", "other"]);
    const { client, server, log, readyStateAtStart } = pair;
    expect(readyStateAtStart).toBe(WebSocketBase.CONNECTING);
    expect(client.readyState).toBe(WebSocketBase.OPEN);
    expect(client.protocol).toBe("chat");
    expect(client.url).toBe("ws://test.invalid/chat?room=1");
    expect(server.url).toBe("ws://test.invalid/chat?room=1");
    expect(server.readyState).toBe(WebSocketBase.OPEN);
    client.send("one");
    client.send("two");
    await within(new Promise<void>((resolve) => client.addEventListener("message", () => log.length >= 3 && resolve())));
    client.close(4000, "bye");
    expect(client.readyState).toBe(WebSocketBase.CLOSING);
    const event = await within(closed(client));
    expect(event).toBeInstanceOf(CloseEvent);
    expect(client.readyState).toBe(WebSocketBase.CLOSED);
    expect(log).toEqual(["open", "message:echo one", "message:echo two", "close:4000::true"]);
    const serverClose = server.readyState === WebSocketBase.CLOSED ? undefined : await within(closed(server));
    if (serverClose !== undefined) expect([serverClose.code, serverClose.reason, serverClose.wasClean]).toEqual([4000, "bye", true]);
  });

  it("delivers binary messages as a Blob by default and as an ArrayBuffer when asked", async () => {
    const { client, server } = await socketPair();
    expect(server.binaryType).toBe("blob");
    const first = nextMessage(server);
    client.send(Uint8Array.of(1, 2, 3));
    const blob = await within(first);
    expect(blob).toBeInstanceOf(Blob);
    expect(new Uint8Array(await (blob as Blob).arrayBuffer())).toEqual(Uint8Array.of(1, 2, 3));
    server.binaryType = "arraybuffer";
    server.binaryType = "nodebuffer" as never; // ignored, as the spec's enumeration says
    expect(server.binaryType).toBe("arraybuffer");
    const second = nextMessage(server);
    client.send(Uint8Array.of(4, 5));
    const buffer = await within(second);
    expect(buffer).toBeInstanceOf(ArrayBuffer);
    expect(new Uint8Array(buffer as ArrayBuffer)).toEqual(Uint8Array.of(4, 5));
    server.binaryType = "bytes";
    const third = nextMessage(server);
    client.send(Uint8Array.of(6, 7, 8));
    const bytes = await within(third);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(bytes).toEqual(Uint8Array.of(6, 7, 8));
    client.close();
  });

  it("sends strings, ArrayBuffers, typed arrays, DataViews and Blobs in the order given", async () => {
    const { client, server } = await socketPair();
    server.binaryType = "arraybuffer";
    const got: string[] = [];
    const all = new Promise<void>((resolve) => {
      server.onmessage = (event) => {
        const data = event.data as string | ArrayBuffer;
        got.push(typeof data === "string" ? data : Array.from(new Uint8Array(data)).join(","));
        if (got.length === 6) resolve();
      };
    });
    client.send(new Blob([Uint8Array.of(9, 9)]));
    client.send("after the blob");
    client.send(Uint8Array.of(1, 2).buffer);
    client.send(new Uint16Array([0x0102]));
    client.send(new DataView(Uint8Array.of(7, 8, 9).buffer, 1, 2));
    client.send(new Blob(["text in a blob"]));
    await within(all);
    expect(got).toEqual(["9,9", "after the blob", "1,2", new Uint8Array(new Uint16Array([0x0102]).buffer).join(","), "8,9", "116,101,120,116,32,105,110,32,97,32,98,108,111,98"]);
    client.close();
  });

  it("throws InvalidAccessError or SyntaxError for bad close() arguments, changes nothing, and a later close() works", async () => {
    let serverWs!: WebSocketBase;
    const { client } = await socketPair({ handler: (ws) => void (serverWs = ws) });
    const serverClosed = closed(serverWs);
    for (const code of [999, 1001, 1004, 1005, 1006, 1011, 1015, 2999, 5000, 1000.5]) {
      expect(() => client.close(code)).toThrowError(expect.objectContaining({ name: "InvalidAccessError" }));
    }
    expect(() => client.close(1000, "é".repeat(62))).toThrowError(expect.objectContaining({ name: "SyntaxError" }));
    expect(client.readyState).toBe(WebSocketBase.OPEN);
    client.close(1000, "é".repeat(61));
    const event = await within(closed(client));
    // The server echoes the code; the reason travelled the other way.
    expect([event.code, event.reason, event.wasClean]).toEqual([1000, "", true]);
    const atServer = await within(serverClosed);
    expect([atServer.code, atServer.reason, atServer.wasClean]).toEqual([1000, "é".repeat(61), true]);
    // Closing again does nothing.
    client.close(3000);
  });

  it("throws InvalidStateError for send() while connecting, and close() then abandons the handshake with error and close events", async () => {
    const [clientSide] = memoryPair();
    const client = new WebSocketBase("ws://test.invalid/", undefined, clientSide);
    const log = record(client);
    expect(() => client.send("early")).toThrowError(expect.objectContaining({ name: "InvalidStateError" }));
    client.close();
    expect(client.readyState).toBe(WebSocketBase.CLOSING);
    const event = await within(closed(client));
    expect([event.code, event.wasClean]).toEqual([1006, false]);
    expect(log).toEqual(["error", "close:1006::false"]);
  });

  it("hands the error event the reason the connection failed: a WebSocketError caused by the server's refusal", async () => {
    const [clientSide, serverSide] = memoryPair();
    const group = new ConnectionGroup({ api: "websocket", handler: () => {}, upgrade: () => new Response("go away", { status: 403 }) });
    void group.accept(serverSide, { scheme: "ws:" });
    const client = new WebSocketBase("ws://test.invalid/", undefined, clientSide);
    const errors: ErrorEvent[] = [];
    client.onerror = (event) => void errors.push(event as ErrorEvent);
    await within(closed(client));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ErrorEvent);
    expect(errors[0]!.error).toBeInstanceOf(WebSocketError);
    expect((errors[0]!.error as WebSocketError).cause).toMatchObject({ status: 403 });
    expect(errors[0]!.message).toBe((errors[0]!.error as WebSocketError).message);
  });

  it("discards what is sent after close() and counts it in bufferedAmount, without throwing", async () => {
    const { client } = await socketPair();
    client.close();
    client.send("late");
    client.send(new Uint8Array(10));
    expect(client.bufferedAmount).toBeGreaterThanOrEqual(14);
    await within(closed(client));
    client.send("later still");
    expect(client.bufferedAmount).toBeGreaterThanOrEqual(25);
  });

  it("rejects bad URLs and protocols at once with a SyntaxError", () => {
    const [clientSide] = memoryPair();
    for (const url of ["not a url", "ftp://test.invalid/", "ws://test.invalid/#fragment"]) {
      expect(() => new WebSocketBase(url, undefined, clientSide)).toThrowError(expect.objectContaining({ name: "SyntaxError" }));
    }
    expect(() => new WebSocketBase("ws://test.invalid/", ["a", "a"], clientSide)).toThrowError(expect.objectContaining({ name: "SyntaxError" }));
    expect(() => new WebSocketBase("ws://test.invalid/", "not a token", clientSide)).toThrowError(expect.objectContaining({ name: "SyntaxError" }));
  });

  it("takes http: and https: URLs as ws: and wss:", async () => {
    const { client } = await socketPair();
    const [other] = memoryPair();
    const https = new WebSocketBase("https://test.invalid/x", undefined, other);
    expect(https.url).toBe("wss://test.invalid/x");
    https.close();
    client.close();
  });

  it("has the readyState constants on the class and on instances", async () => {
    const { client } = await socketPair();
    expect([WebSocketBase.CONNECTING, WebSocketBase.OPEN, WebSocketBase.CLOSING, WebSocketBase.CLOSED]).toEqual([0, 1, 2, 3]);
    expect([client.CONNECTING, client.OPEN, client.CLOSING, client.CLOSED]).toEqual([0, 1, 2, 3]);
    client.close();
  });

  it("calls on* handlers, replaces them in place, and removes them with null", async () => {
    const { client, server } = await socketPair();
    const calls: string[] = [];
    client.onmessage = () => calls.push("first");
    client.onmessage = (event) => calls.push(`second ${event.data as string}`);
    let got = nextMessage(client);
    server.send("a");
    await within(got);
    expect(calls).toEqual(["second a"]);
    client.onmessage = null;
    expect(client.onmessage).toBeNull();
    got = nextMessage(client);
    server.send("b");
    await within(got);
    expect(calls).toEqual(["second a"]);
    client.close();
  });
});

describe("WebSocket on the server side", () => {
  it("grows bufferedAmount on send() and shrinks it as the transport accepts the bytes", async () => {
    const transport = new TestTransport();
    const { ws } = await serverOver(transport);
    await settle();
    transport.accepting = false;
    ws.send("x".repeat(1000));
    expect(ws.bufferedAmount).toBeGreaterThanOrEqual(1000);
    await settle();
    expect(ws.bufferedAmount).toBeGreaterThanOrEqual(1000);
    transport.release();
    await settle();
    expect(ws.bufferedAmount).toBe(0);
  });

  it("delivers messages that came with the upgrade request to the handler's listeners", async () => {
    const transport = new TestTransport();
    const conn = await ClientConnection.create("ws://test.invalid/");
    transport.push(concat(conn.dataToSend()[0]!, fromPeer("server", Opcode.TEXT, "early")));
    const got: unknown[] = [];
    const group = new ConnectionGroup({ api: "websocket", handler: (ws) => void (ws.onmessage = (event) => got.push(event.data)) });
    void group.accept(transport, { scheme: "ws:" });
    await until(() => got.length > 0);
    expect(got).toEqual(["early"]);
  });

  it("answers the peer's Close after echoing the messages that came before it", async () => {
    const transport = new TestTransport();
    const { ws } = await serverOver(transport);
    ws.onmessage = (event) => ws.send(event.data as string);
    const log = record(ws);
    transport.push(concat(fromPeer("server", Opcode.TEXT, "last words"), fromPeer("server", Opcode.CLOSE, Uint8Array.of(0x03, 0xe8))));
    await settle();
    const frames = framesSentBy("server", transport.written.slice(1));
    expect(frames.map((f) => f.opcode)).toEqual([Opcode.TEXT, Opcode.CLOSE]);
    expect(frames[0]!.payload).toEqual(bytes("last words"));
    expect(transport.calls).toEqual(["end"]);
    transport.pushEnd();
    await settle();
    expect(log).toEqual(["message:last words", "close:1000::true"]);
  });

  it("fires error then close when the peer breaks the protocol, and closes with 1002", async () => {
    const transport = new TestTransport();
    const { ws } = await serverOver(transport);
    const log = record(ws);
    transport.push(fromPeer("server", 0x3, "reserved opcode"));
    await settle();
    const frames = framesSentBy("server", transport.written.slice(1));
    expect(frames.map((f) => [f.opcode, f.payload[0]! * 256 + f.payload[1]!])).toEqual([[Opcode.CLOSE, 1002]]);
    transport.pushEnd();
    await settle();
    expect(log).toEqual(["error", "close:1006::false"]);
  });

  it("closes with 1011 when the handler throws", async () => {
    const transport = new TestTransport();
    const conn = await ClientConnection.create("ws://test.invalid/");
    transport.push(conn.dataToSend()[0]!);
    const group = new ConnectionGroup({ api: "websocket", handler: () => {
      throw new Error("handler bug");
    } });
    void group.accept(transport, { scheme: "ws:" });
    await until(() => transport.written.length >= 2);
    const frames = framesSentBy("server", transport.written.slice(1));
    expect(frames.map((f) => [f.opcode, f.payload[0]! * 256 + f.payload[1]!])).toEqual([[Opcode.CLOSE, 1011]]);
  });
});

describe("timers on the injected clock", () => {
  it("pings every interval, keeps a connection whose pongs come back, and fails one whose pong is late with 1011", async () => {
    const transport = new TestTransport();
    const clock = new FakeClock();
    await serverOver(transport, { clock, keepalive: { interval: 1000, timeout: 500 } });
    await settle();
    const sent = () => framesSentBy("server", transport.written.slice(1));
    await clock.advance(1000);
    const ping = sent().at(-1)!;
    expect(ping.opcode).toBe(Opcode.PING);
    transport.push(fromPeer("server", Opcode.PONG, ping.payload));
    await clock.advance(500);
    expect(sent().map((f) => f.opcode)).toEqual([Opcode.PING]);
    await clock.advance(500);
    expect(sent().map((f) => f.opcode)).toEqual([Opcode.PING, Opcode.PING]);
    await clock.advance(499);
    expect(sent().map((f) => f.opcode)).toEqual([Opcode.PING, Opcode.PING]);
    await clock.advance(1);
    const close = sent().at(-1)!;
    expect([close.opcode, close.payload[0]! * 256 + close.payload[1]!]).toEqual([Opcode.CLOSE, 1011]);
    expect(transport.calls).toEqual(["end"]);
  });
});

describe("bounds under abuse (fake clock, test transport)", () => {
  it("stops reading a peer that floods pings while the transport takes no bytes, and reads again once it does", async () => {
    const transport = new TestTransport();
    await serverOver(transport, { writableHighWaterMark: 16 * 1024 });
    await settle();
    transport.accepting = false;
    const ping = fromPeer("server", Opcode.PING, new Uint8Array(125));
    const before = transport.reads;
    for (let i = 0; i < 5000; i++) transport.push(ping.slice());
    await settle(10);
    const pongBytes = 127;
    // At most what fills the write high-water mark with pongs, plus the read in progress.
    expect(transport.reads - before).toBeLessThanOrEqual(Math.ceil((16 * 1024) / pongBytes) + 2);
    expect(transport.unread).toBeGreaterThan(4000);
    transport.release();
    await settle(200);
    expect(transport.unread).toBe(0);
  });

  it("half-closes after a protocol error and keeps reading until the peer's EOF (a lingering close)", async () => {
    const transport = new TestTransport();
    const clock = new FakeClock();
    await serverOver(transport, { clock });
    transport.push(fromPeer("server", Opcode.TEXT, new Uint8Array([0xff])));
    for (let i = 0; i < 10; i++) transport.push(new Uint8Array(1000));
    await settle();
    expect(transport.calls).toEqual(["end"]);
    expect(transport.unread).toBe(0);
    const frames = framesSentBy("server", transport.written.slice(1));
    expect(frames.map((f) => f.payload[0]! * 256 + f.payload[1]!)).toEqual([1007]);
    transport.pushEnd();
    await settle();
    expect(transport.calls).toEqual(["end", "destroy"]);
  });

  it("drops a lingering peer that never closes after closeTimeout", async () => {
    const transport = new TestTransport();
    const clock = new FakeClock();
    await serverOver(transport, { clock, closeTimeout: 5000 });
    transport.push(fromPeer("server", 0x3));
    await settle();
    expect(transport.calls).toEqual(["end"]);
    await clock.advance(4999);
    expect(transport.destroyed).toBe(false);
    await clock.advance(1);
    expect(transport.calls).toEqual(["end", "destroy"]);
  });

  it("answers a head over the limit with 431, then lingers instead of resetting", async () => {
    const transport = new TestTransport();
    const group = new ConnectionGroup({ handler: () => {} });
    void group.accept(transport, { scheme: "ws:" });
    transport.push(bytes(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}`));
    transport.push(new Uint8Array(5000));
    await settle();
    expect(new TextDecoder().decode(transport.bytes())).toMatch(/^HTTP\/1\.1 431 /);
    expect(transport.calls).toEqual(["end"]);
    transport.pushEnd();
    await settle();
    expect(transport.calls).toEqual(["end", "destroy"]);
  });

  it("gives up on a handshake that has not completed after 10 s by default", async () => {
    const transport = new TestTransport();
    const clock = new FakeClock();
    const group = new ConnectionGroup({ clock, handler: () => {} });
    void group.accept(transport, { scheme: "ws:" });
    transport.push(bytes("GET / HTTP/1.1\r\nHost: x\r\n"));
    await clock.advance(9_999);
    expect(transport.destroyed).toBe(false);
    await clock.advance(1);
    expect(transport.destroyed).toBe(true);
  });
});
