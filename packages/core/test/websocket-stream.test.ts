import { describe, expect, it } from "vitest";
import { ClientConnection } from "../src/client.ts";
import { Opcode } from "../src/opcode.ts";
import { WebSocketError } from "../src/errors.ts";
import type { ByteStreams } from "../src/transport.ts";
import type { ServerOptions } from "../src/upgrade.ts";
import {
  acceptWebSocket,
  type AcceptedWebSocket,
  connectWebSocket,
  type WebSocketStreamBase,
} from "../src/websocket-stream.ts";
import { bytes, concat } from "./helpers/chunking.ts";
import { framesSentBy, fromPeer } from "./helpers/frames.ts";
import { memoryPair, RawPeer, stillPending, within } from "./helpers/memory-transport.ts";

// A connected client and server over an in-memory pair.
async function pair(serverOptions: ServerOptions = {}, clientOptions: Parameters<typeof connectWebSocket>[2] = {}) {
  const [clientSide, serverSide] = memoryPair();
  const accepting = acceptWebSocket(serverSide, serverOptions);
  const client = connectWebSocket("ws://test.invalid/path?q=1", clientSide, clientOptions);
  const accepted = await within(accepting, 2000, "accept");
  return { client, accepted };
}

// Echoes every message until the readable ends.
async function echo(ws: WebSocketStreamBase): Promise<void> {
  const { readable, writable } = await ws.opened;
  const writer = writable.getWriter();
  try {
    for await (const message of readable as unknown as AsyncIterable<string | Uint8Array>) await writer.write(message);
  } catch {
    // The connection failed; `closed` says why.
  }
}

// A raw client: handshake done by hand, then frames as bytes.
async function rawClient(serverOptions: ServerOptions = {}) {
  const [clientSide, serverSide] = memoryPair();
  const accepting = acceptWebSocket(serverSide, serverOptions);
  const peer = new RawPeer(clientSide);
  const conn = await ClientConnection.create("ws://test.invalid/");
  await peer.send(conn.dataToSend()[0]!);
  const accepted = await within(accepting);
  await peer.until(() => new TextDecoder().decode(peer.bytes()).includes("\r\n\r\n"));
  const head = new TextDecoder().decode(peer.bytes());
  expect(head).toMatch(/^HTTP\/1\.1 101 /);
  peer.received.length = 0;
  return { peer, accepted: accepted!, conn };
}

describe("WebSocketStream over an in-memory transport", () => {
  it("opens, exchanges text, binary and empty messages, and closes with a code and reason", async () => {
    const { client, accepted } = await pair({ upgrade: () => ({ protocol: "chat" }) }, { protocols: ["chat"] });
    expect(accepted).toBeDefined();
    expect(accepted!.request.url).toBe("http://test.invalid/path?q=1");
    const server = accepted!.ws;
    const serverDone = echo(server);
    const { readable, writable, protocol } = await within(client.opened);
    expect(protocol).toBe("chat");
    const writer = writable.getWriter();
    const reader = readable.getReader();
    const messages: (string | Uint8Array)[] = ["héllo ✓", Uint8Array.of(0, 1, 255), "", new Uint8Array(0), "x".repeat(70_000)];
    for (const message of messages) await writer.write(message);
    for (const message of messages) expect((await within(reader.read())).value).toEqual(message);
    client.close({ closeCode: 4000, reason: "bye" });
    expect(await within(server.closed)).toEqual({ closeCode: 4000, reason: "bye" });
    expect(await within(client.closed)).toEqual({ closeCode: 4000, reason: "" });
    expect((await within(reader.read())).done).toBe(true);
    await within(serverDone);
  });

  it("sends ArrayBuffer and typed-array views as binary", async () => {
    const { client, accepted } = await pair();
    void echo(accepted!.ws);
    const { readable, writable } = await client.opened;
    const writer = writable.getWriter();
    const reader = readable.getReader();
    await writer.write(Uint8Array.of(9, 8).buffer);
    await writer.write(new Uint16Array([0x0102]));
    expect((await within(reader.read())).value).toEqual(Uint8Array.of(9, 8));
    expect((await within(reader.read())).value).toEqual(new Uint8Array(new Uint16Array([0x0102]).buffer));
    client.close();
    await within(client.closed);
  });

  it("refuses an upgrade with the hook's Response and rejects the client's opened", async () => {
    const [clientSide, serverSide] = memoryPair();
    const accepting = acceptWebSocket(serverSide, { upgrade: () => new Response("no entry", { status: 403 }) });
    const client = connectWebSocket("ws://test.invalid/", clientSide);
    expect(await within(accepting)).toBeUndefined();
    const error = await within(client.opened.then(() => undefined, (e: unknown) => e));
    expect(error).toBeInstanceOf(WebSocketError);
    expect((error as WebSocketError).cause).toMatchObject({ code: "WS_ERR_INVALID_STATUS", status: 403 });
    await expect(client.closed).rejects.toBeInstanceOf(WebSocketError);
  });

  it("passes the request to the upgrade hook and sends its headers", async () => {
    let seen: Request | undefined;
    const [clientSide, serverSide] = memoryPair();
    const accepting = acceptWebSocket(serverSide, {
      upgrade: (request) => {
        seen = request;
        return { headers: { "X-Hello": "world" } };
      },
    });
    const peer = new RawPeer(clientSide);
    const conn = await ClientConnection.create("ws://test.invalid/a?b=c", { headers: { Authorization: "Bearer t" } });
    await peer.send(conn.dataToSend()[0]!);
    await within(accepting);
    await peer.until(() => new TextDecoder().decode(peer.bytes()).includes("\r\n\r\n"));
    expect(new TextDecoder().decode(peer.bytes())).toMatch(/\r\nX-Hello: world\r\n/i);
    expect(seen?.headers.get("authorization")).toBe("Bearer t");
    expect(new URL(seen!.url).pathname).toBe("/a");
  });

  it("answers a malformed request with 400 and closes the transport", async () => {
    const [clientSide, serverSide] = memoryPair();
    const accepting = acceptWebSocket(serverSide);
    const peer = new RawPeer(clientSide);
    await peer.send(bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    expect(await within(accepting)).toBeUndefined();
    expect(await within(peer.ended)).toBeDefined();
    expect(new TextDecoder().decode(peer.bytes())).toMatch(/^HTTP\/1\.1 400 /);
  });

  it("accepts a request head parsed elsewhere with the frames that followed it", async () => {
    const [clientSide, serverSide] = memoryPair();
    const head = {
      request: { method: "GET", target: "/", version: "HTTP/1.1", headers: [["Host", "h"], ["Upgrade", "websocket"], ["Connection", "Upgrade"], ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="], ["Sec-WebSocket-Version", "13"]] as [string, string][] },
      rest: fromPeer("server", Opcode.TEXT, "from head"),
    };
    const peer = new RawPeer(clientSide);
    const accepted = await within(acceptWebSocket(serverSide, { head }));
    const { readable } = await accepted!.ws.opened;
    expect((await within(readable.getReader().read())).value).toBe("from head");
    await peer.until(() => peer.bytes().length > 0);
    expect(new TextDecoder().decode(peer.bytes())).toContain("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  });

  it("echoes the messages before a protocol error, then fails with 1002 and answers no later ping", async () => {
    const { peer, accepted } = await rawClient();
    void echo(accepted.ws);
    await peer.send(concat(fromPeer("server", Opcode.TEXT, "first"), fromPeer("server", 0x3, "bad"), fromPeer("server", Opcode.PING, "late")));
    expect(await within(peer.ended)).toBe("eof");
    const frames = framesSentBy("server", [peer.bytes()]);
    expect(frames.map((f) => f.opcode)).toEqual([Opcode.TEXT, Opcode.CLOSE]);
    expect(frames[0]!.payload).toEqual(bytes("first"));
    expect(frames[1]!.payload.subarray(0, 2)).toEqual(Uint8Array.of(0x03, 0xea));
    const error = await within(accepted.ws.closed.then(() => undefined, (e: unknown) => e));
    expect(error).toMatchObject({ closeCode: 1002 });
  });

  it("echoes a message that arrived with the peer's Close, then answers the Close and closes TCP first", async () => {
    const { peer, accepted } = await rawClient();
    void echo(accepted.ws);
    await peer.send(concat(fromPeer("server", Opcode.TEXT, "last words"), fromPeer("server", Opcode.CLOSE, Uint8Array.of(0x03, 0xe8))));
    expect(await within(peer.ended)).toBe("eof");
    const frames = framesSentBy("server", [peer.bytes()]);
    expect(frames.map((f) => [f.opcode, f.payload])).toEqual([[Opcode.TEXT, bytes("last words")], [Opcode.CLOSE, Uint8Array.of(0x03, 0xe8)]]);
    expect(await within(accepted.ws.closed)).toEqual({ closeCode: 1000, reason: "" });
  });

  it("fails invalid UTF-8 with 1007 and rejects closed with a WebSocketError", async () => {
    const { peer, accepted } = await rawClient();
    await peer.send(fromPeer("server", Opcode.TEXT, Uint8Array.of(0xce, 0xba, 0xed, 0xa0, 0x80)));
    await within(peer.ended);
    const frames = framesSentBy("server", [peer.bytes()]);
    expect(frames.at(-1)!.payload.subarray(0, 2)).toEqual(Uint8Array.of(0x03, 0xef));
    await expect(within(accepted.ws.closed)).rejects.toMatchObject({ closeCode: 1007 });
  });

  it("stops reading the transport while the consumer does not read, and resumes when it does", async () => {
    const { client, accepted } = await pair({ writableHighWaterMark: 64 * 1024 }, { readableHighWaterMark: 64 * 1024 });
    const server = accepted!.ws;
    const { writable } = await server.opened;
    const writer = writable.getWriter();
    const payload = new Uint8Array(16 * 1024);
    let written = 0;
    const writing = (async () => {
      for (let i = 0; i < 256; i++) {
        await writer.write(payload);
        written++;
      }
    })();
    // 4 MiB cannot fit in the client's 64 KiB queue plus the transport's buffers: writes stall.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(written).toBeLessThan(64);
    expect(await stillPending(writing, 50)).toBe(true);
    const { readable } = await client.opened;
    const reader = readable.getReader();
    let received = 0;
    while (received < 256) {
      const { value } = await within(reader.read());
      expect((value as Uint8Array).length).toBe(payload.length);
      received++;
    }
    await within(writing);
    expect(written).toBe(256);
    client.close();
    await within(client.closed);
  });

  it("bounds what a producer that never yields can queue when flushes run on a later turn", async () => {
    const [clientSide, serverSide] = memoryPair();
    // The server end is never read: only the transport's own small buffers take bytes.
    void serverSide;
    const accepting = acceptWebSocket(serverSide);
    const client = connectWebSocket("ws://test.invalid/", clientSide, {
      schedule: (callback) => setTimeout(callback, 0),
      writableHighWaterMark: 256 * 1024,
    });
    const server = (await within(accepting))!.ws;
    await within(client.opened);
    await server.opened;
    const { writable } = await client.opened;
    const writer = writable.getWriter();
    const payload = new Uint8Array(64 * 1024);
    let written = 0;
    const writing = (async () => {
      for (let i = 0; i < 200; i++) {
        await writer.write(payload);
        written++;
      }
    })();
    writing.catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 200));
    // 200 x 64 KiB = 12.5 MiB; the client may hold its 256 KiB mark plus what the server's queue
    // (1 MiB) and the transport take, never everything.
    expect(written).toBeLessThan(40);
    expect(await stillPending(writing, 20)).toBe(true);
    client.close();
  });

  it("aborts a handshake whose request was already sent", async () => {
    const [clientSide, serverSide] = memoryPair();
    const peer = new RawPeer(serverSide);
    const controller = new AbortController();
    const client = connectWebSocket("ws://test.invalid/", clientSide, { signal: controller.signal });
    await peer.until(() => new TextDecoder().decode(peer.bytes()).includes("\r\n\r\n"));
    controller.abort(new Error("gave up"));
    await expect(within(client.opened, 500)).rejects.toThrow("gave up");
    expect(await within(peer.ended, 500)).toBeDefined();
  });

  it("gives up on a silent peer after closeTimeout and reports 1006", async () => {
    const [clientSide, serverSide] = memoryPair();
    const accepting = acceptWebSocket(serverSide, { closeTimeout: 50 });
    const peer = new RawPeer(clientSide, { endOnEof: false });
    const conn = await ClientConnection.create("ws://test.invalid/");
    await peer.send(conn.dataToSend()[0]!);
    const server = (await within(accepting))!.ws;
    await server.opened;
    await peer.until(() => peer.bytes().length > 0);
    peer.received.length = 0;
    const started = Date.now();
    server.close({ closeCode: 1001 });
    // The peer reads the Close but neither answers it nor closes: the timer must end it.
    await expect(within(server.closed, 2000)).rejects.toMatchObject({ closeCode: 1006 });
    expect(Date.now() - started).toBeLessThan(1500);
    const frames = framesSentBy("server", [peer.bytes()]);
    expect(frames.map((f) => [f.opcode, f.payload])).toEqual([[Opcode.CLOSE, Uint8Array.of(0x03, 0xe9)]]);
  });

  it("fails with 1011 when keepalive pings go unanswered", async () => {
    const [clientSide, serverSide] = memoryPair();
    const accepting = acceptWebSocket(serverSide, { keepalive: { interval: 20, timeout: 40 }, closeTimeout: 100 });
    const peer = new RawPeer(clientSide);
    const conn = await ClientConnection.create("ws://test.invalid/");
    await peer.send(conn.dataToSend()[0]!);
    const server = (await within(accepting))!.ws;
    await expect(within(server.closed, 2000)).rejects.toMatchObject({ closeCode: 1011 });
    const frames = framesSentBy("server", [peer.bytes().subarray(peer.bytes().indexOf(0x89))]);
    expect(frames[0]!.opcode).toBe(Opcode.PING);
    const close = frames.find((f) => f.opcode === Opcode.CLOSE)!;
    expect(close.payload.subarray(0, 2)).toEqual(Uint8Array.of(0x03, 0xf3));
  });

  it("stays open while keepalive pings are answered", async () => {
    const { client, accepted } = await pair({ keepalive: { interval: 10, timeout: 200 } });
    await client.opened;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await stillPending(accepted!.ws.closed, 10)).toBe(true);
    client.close();
    await within(client.closed);
  });

  it("closes with the code of a WebSocketError given to writable.abort() or readable.cancel()", async () => {
    for (const how of ["abort", "cancel"] as const) {
      const { client, accepted } = await pair();
      const { readable, writable } = await client.opened;
      const reason = new WebSocketError("done", { closeCode: 4001, reason: how });
      if (how === "abort") await writable.abort(reason);
      else await readable.cancel(reason);
      expect(await within(accepted!.ws.closed)).toEqual({ closeCode: 4001, reason: how });
    }
  });

  it("sends messages written before close() ahead of the Close frame", async () => {
    const { client, accepted } = await pair();
    const { writable } = await client.opened;
    const writer = writable.getWriter();
    void writer.write("one");
    void writer.write("two");
    client.close({ closeCode: 1000 });
    const { readable } = await accepted!.ws.opened;
    const got: unknown[] = [];
    for await (const message of readable as unknown as AsyncIterable<string>) got.push(message);
    expect(got).toEqual(["one", "two"]);
    expect(await within(accepted!.ws.closed)).toEqual({ closeCode: 1000, reason: "" });
  });

  it("aborts the opening handshake with an AbortSignal", async () => {
    const [clientSide] = memoryPair();
    const controller = new AbortController();
    const client = connectWebSocket("ws://test.invalid/", clientSide, { signal: controller.signal });
    controller.abort(new Error("changed my mind"));
    await expect(within(client.opened)).rejects.toThrow();
    await expect(within(client.closed)).rejects.toThrow();
  });

  it("times out a handshake the server never answers", async () => {
    const [clientSide] = memoryPair();
    const client = connectWebSocket("ws://test.invalid/", clientSide, { handshakeTimeout: 30 });
    await expect(within(client.opened)).rejects.toThrow(/timed out/);
  });

  it("reports the peer's code when it sends a Close and ends the transport before our reply", async () => {
    const [clientSide, serverSide] = memoryPair();
    const client = connectWebSocket("ws://test.invalid/", clientSide);
    const peer = new RawPeer(serverSide);
    await peer.until(() => new TextDecoder().decode(peer.bytes()).includes("\r\n\r\n"));
    const key = /Sec-WebSocket-Key: (.+)\r\n/i.exec(new TextDecoder().decode(peer.bytes()))![1]!;
    const { computeAcceptKey } = await import("../src/handshake.ts");
    const response = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${await computeAcceptKey(key)}\r\n\r\n`;
    // The 101, a Close with 4001 and the end of the stream, all at once.
    await peer.send(concat(bytes(response), fromPeer("client", Opcode.CLOSE, concat(Uint8Array.of(0x0f, 0xa1), bytes("server bye")))));
    await peer.end();
    expect(await within(client.closed)).toEqual({ closeCode: 4001, reason: "server bye" });
  });

  it("still sends its Close reply when the peer ends its side right after its Close (an HTTP/2 END_STREAM)", async () => {
    const { peer, accepted } = await rawClient();
    const serverDone = echo(accepted.ws);
    // A message, a Close with 1000 and the end of the stream, all at once (Chromium over HTTP/2
    // sends its Close frame and END_STREAM in one DATA frame).
    await peer.send(concat(fromPeer("server", Opcode.TEXT, bytes("last")), fromPeer("server", Opcode.CLOSE, concat(Uint8Array.of(0x03, 0xe8), bytes("bye")))));
    await peer.end();
    expect(await within(accepted.ws.closed)).toEqual({ closeCode: 1000, reason: "bye" });
    await within(serverDone);
    // The echo of the message before the Close, then the Close reply, then the end.
    await peer.until(() => framesSentBy("server", [peer.bytes()]).some((f) => f.opcode === Opcode.CLOSE));
    const frames = framesSentBy("server", [peer.bytes()]);
    expect(frames.map((f) => f.opcode)).toEqual([Opcode.TEXT, Opcode.CLOSE]);
    expect(frames[1]!.payload).toEqual(Uint8Array.of(0x03, 0xe8));
  });

  it("reports 1006 when the transport ends without a Close", async () => {
    const { peer, accepted } = await rawClient();
    await peer.end();
    await expect(within(accepted.ws.closed)).rejects.toMatchObject({ closeCode: 1006 });
  });

  it("rejects a bad URL at once", async () => {
    const [clientSide] = memoryPair();
    const client = connectWebSocket("ftp://nope/", clientSide);
    await expect(within(client.opened)).rejects.toMatchObject({ cause: { code: "WS_ERR_INVALID_URL" } });
  });
});

export type { AcceptedWebSocket, ByteStreams };
