// Messages as streams through both interfaces: received as MessageStreams (backpressure, cancel,
// a peer's Close or error mid-message, pings between fragments) and sent from streams and async
// iterables (one fragmented message, sends made meanwhile behind it, a failing source).
import { describe, expect, it } from "vitest";
import { ClientConnection } from "../src/client.ts";
import { ConnectionGroup } from "../src/connection-group.ts";
import { WebSocketError } from "../src/errors.ts";
import { MessageStream } from "../src/message-stream.ts";
import { Opcode } from "../src/opcode.ts";
import { permessageDeflate } from "../src/permessage-deflate.ts";
import type { ServerOptions } from "../src/upgrade.ts";
import { webDeflateBackend } from "../src/web-deflate.ts";
import { WebSocketBase } from "../src/websocket.ts";
import { acceptWebSocket, connectWebSocket, type WebSocketStreamBase, type WebSocketStreamOptions } from "../src/websocket-stream.ts";
import { concat } from "./helpers/chunking.ts";
import { settle, until } from "./helpers/fake-clock.ts";
import { framesSentBy, fromPeer } from "./helpers/frames.ts";
import { memoryPair, pushTransport, RawPeer, within } from "./helpers/memory-transport.ts";
import { TestTransport } from "./helpers/test-transport.ts";

const utf8 = new TextEncoder();
type Options = ServerOptions & WebSocketStreamOptions;

// A server WebSocketStream over a test transport, the handshake done by a client connection.
async function streamServer(transport: TestTransport, options: Options = {}) {
  const conn = await ClientConnection.create("ws://test.invalid/");
  transport.push(conn.dataToSend()[0]!);
  const accepted = await within(acceptWebSocket(transport, { streamMessages: true, ...options }));
  const ws = accepted!.ws;
  const { readable, writable } = await within(ws.opened);
  transport.written.length = 0;
  return { ws, messages: (readable as unknown as ReadableStream<MessageStream>).getReader(), writer: writable.getWriter() };
}

// A server WebSocketStream over a test transport that streams every message back as it comes.
async function streamEchoServer(transport: TestTransport) {
  const conn = await ClientConnection.create("ws://test.invalid/");
  transport.push(conn.dataToSend()[0]!);
  const ws = (await within(acceptWebSocket(transport, { streamMessages: true })))!.ws;
  const { readable, writable } = await within(ws.opened);
  void readable.pipeTo(writable).catch(() => {});
  transport.written.length = 0;
  return ws;
}

// A server WHATWG WebSocket over a test transport.
async function socketServer(transport: TestTransport, options: Partial<ServerOptions> = {}) {
  const conn = await ClientConnection.create("ws://test.invalid/");
  transport.push(conn.dataToSend()[0]!);
  let accept!: (ws: WebSocketBase) => void;
  const accepted = new Promise<WebSocketBase>((resolve) => (accept = resolve));
  const group = new ConnectionGroup({ streamMessages: true, ...options, api: "websocket", handler: (ws) => accept(ws) });
  void group.accept(transport, { scheme: "ws:" });
  const ws = await within(accepted);
  await settle();
  transport.written.length = 0;
  return ws;
}

// The frames the server wrote, as its client reads them.
function written(transport: TestTransport) {
  return framesSentBy("server", transport.written);
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) parts.push(chunk.slice());
  return concat(...parts);
}

// A source whose chunks the test hands over one by one, and which can be failed.
function manualSource() {
  let controller!: ReadableStreamDefaultController<string | Uint8Array>;
  let cancelled: unknown = "not cancelled";
  const stream = new ReadableStream<string | Uint8Array>({
    start: (c) => {
      controller = c;
    },
    cancel: (reason) => {
      cancelled = reason;
    },
  }, { highWaterMark: 0 });
  return { stream, controller, cancelled: () => cancelled };
}

describe("receiving a message as a stream (WebSocketStream, server)", () => {
  it("delivers a fragmented message as a MessageStream whose first bytes are readable before the message ends", async () => {
    const transport = new TestTransport();
    const { messages } = await streamServer(transport);
    transport.push(fromPeer("server", Opcode.TEXT, "héllo ", false));
    const { value: message } = await within(messages.read());
    expect(message).toBeInstanceOf(MessageStream);
    expect(message!.type).toBe("text");
    const reader = message!.getReader();
    expect(new TextDecoder().decode((await within(reader.read())).value)).toBe("héllo ");
    transport.push(concat(fromPeer("server", Opcode.PING, "p"), fromPeer("server", Opcode.CONTINUATION, "wörld", true)));
    expect(new TextDecoder().decode((await within(reader.read())).value)).toBe("wörld");
    expect((await within(reader.read())).done).toBe(true);
    // The ping between the fragments was answered.
    expect(written(transport).map((frame) => frame.opcode)).toEqual([Opcode.PONG]);
    transport.push(fromPeer("server", Opcode.BINARY, Uint8Array.of(1, 2)));
    const { value: next } = await within(messages.read());
    expect(next!.type).toBe("binary");
    expect(await within(readAll(next!))).toEqual(Uint8Array.of(1, 2));
  });

  it("stops reading the transport while a message stream is full, and reads on as it is read", async () => {
    const transport = new TestTransport();
    const { messages } = await streamServer(transport, { messageStreamHighWaterMark: 1024 });
    const fragments = Array.from({ length: 200 }, (_, i) => fromPeer("server", i === 0 ? Opcode.BINARY : Opcode.CONTINUATION, new Uint8Array(1000).fill(i), i === 199));
    const before = transport.reads;
    for (const fragment of fragments) transport.push(fragment);
    const { value: message } = await within(messages.read());
    await settle(10);
    // One chunk fills the 1 KiB mark, the next goes over it: reading stops there.
    expect(transport.reads - before).toBeLessThanOrEqual(3);
    expect(transport.unread).toBeGreaterThan(190);
    const data = await within(readAll(message!));
    expect(data.length).toBe(200_000);
    for (let i = 0; i < 200; i++) expect(data[i * 1000]).toBe(i);
    expect(transport.unread).toBe(0);
  });

  it("keeps reading stopped while a message stream is full, even as its own writes complete", async () => {
    const transport = new TestTransport();
    const { messages, writer } = await streamServer(transport, { messageStreamHighWaterMark: 1024 });
    for (let i = 0; i < 50; i++) transport.push(fromPeer("server", i === 0 ? Opcode.BINARY : Opcode.CONTINUATION, new Uint8Array(1000).fill(i), i === 49));
    const { value: message } = await within(messages.read());
    await settle(10);
    const reads = transport.reads;
    // Each write the transport takes wakes the reader; the full stream must still hold it back.
    for (let i = 0; i < 5; i++) {
      await within(writer.write(`reply ${i}`));
      await settle(2);
    }
    expect(transport.reads).toBe(reads);
    const data = await within(readAll(message!));
    expect(data.length).toBe(50_000);
  });

  it("reads on once a full message stream has ended, even if it is never read (push mode)", async () => {
    const [clientSide, serverSide] = memoryPair();
    const peer = new RawPeer(clientSide);
    const conn = await ClientConnection.create("ws://test.invalid/");
    const accepting = acceptWebSocket(pushTransport(serverSide), { streamMessages: true, messageStreamHighWaterMark: 1024 });
    await within(peer.send(conn.dataToSend()[0]!));
    const accepted = await within(accepting);
    const messages = ((await within(accepted!.ws.opened)).readable as unknown as ReadableStream<MessageStream>).getReader();
    void peer.send(fromPeer("server", Opcode.BINARY, new Uint8Array(2000).fill(1)));
    const { value: first } = await within(messages.read());
    void peer.send(fromPeer("server", Opcode.TEXT, "second"));
    const { value: second } = await within(messages.read());
    expect(await within(second!.text())).toBe("second");
    expect((await within(first!.bytes())).length).toBe(2000);
  });

  it("discards the rest of a cancelled message and still delivers the next one", async () => {
    const transport = new TestTransport();
    const { messages } = await streamServer(transport, { messageStreamHighWaterMark: 1024 });
    transport.push(fromPeer("server", Opcode.BINARY, new Uint8Array(1000), false));
    const { value: message } = await within(messages.read());
    await message!.cancel();
    for (let i = 0; i < 50; i++) transport.push(fromPeer("server", Opcode.CONTINUATION, new Uint8Array(1000), false));
    transport.push(fromPeer("server", Opcode.CONTINUATION, new Uint8Array(0), true));
    transport.push(fromPeer("server", Opcode.TEXT, "next"));
    const { value: next } = await within(messages.read());
    expect(await within(next!.text())).toBe("next");
    expect(transport.unread).toBe(0);
  });

  it("errors the message stream when the peer's Close arrives mid-message", async () => {
    const transport = new TestTransport();
    const { ws, messages } = await streamServer(transport);
    transport.push(fromPeer("server", Opcode.BINARY, Uint8Array.of(1), false));
    const { value: message } = await within(messages.read());
    const reader = message!.getReader();
    expect((await within(reader.read())).value).toEqual(Uint8Array.of(1));
    transport.push(fromPeer("server", Opcode.CLOSE, Uint8Array.of(0x03, 0xe8)));
    const error = await within(reader.read()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebSocketError);
    expect((error as WebSocketError).closeCode).toBe(1000);
    expect((await within(messages.read())).done).toBe(true);
    transport.pushEnd();
    await within(ws.closed);
  });

  it("fails with 1007 at once on invalid UTF-8 inside a streamed text message and errors its stream", async () => {
    const transport = new TestTransport();
    const { ws, messages } = await streamServer(transport);
    transport.push(fromPeer("server", Opcode.TEXT, "fine ", false));
    const { value: message } = await within(messages.read());
    const reader = message!.getReader();
    await within(reader.read());
    transport.push(fromPeer("server", Opcode.CONTINUATION, Uint8Array.of(0xc0, 0x80), false));
    const error = await within(reader.read()).catch((e: unknown) => e);
    expect((error as WebSocketError).closeCode).toBe(1007);
    await until(() => written(transport).some((frame) => frame.opcode === Opcode.CLOSE));
    const close = written(transport).find((frame) => frame.opcode === Opcode.CLOSE)!;
    expect(close.payload[0]! * 256 + close.payload[1]!).toBe(1007);
    transport.pushEnd();
    expect(((await within(ws.closed).catch((e: unknown) => e)) as WebSocketError).closeCode).toBe(1007);
  });

  it("errors the message stream with 1006 when the transport ends mid-message", async () => {
    const transport = new TestTransport();
    const { messages } = await streamServer(transport);
    transport.push(fromPeer("server", Opcode.BINARY, Uint8Array.of(1), false));
    const { value: message } = await within(messages.read());
    transport.pushEnd();
    const error = await within(readAll(message!)).catch((e: unknown) => e);
    expect((error as WebSocketError).closeCode).toBe(1006);
  });
});

describe("sending a stream as one message", () => {
  it("sends each chunk as a frame of one message, then an empty frame with FIN", async () => {
    const transport = new TestTransport();
    const { writer } = await streamServer(transport);
    async function* parts() {
      yield "héllo ";
      yield "";
      yield utf8.encode("wörld");
    }
    await within(writer.write(parts()));
    await settle();
    expect(written(transport).map((frame) => [frame.opcode, frame.fin, new TextDecoder().decode(frame.payload)])).toEqual([
      [Opcode.TEXT, false, "héllo "],
      [Opcode.CONTINUATION, false, "wörld"],
      [Opcode.CONTINUATION, true, ""],
    ]);
  });

  it("sends a binary stream, an explicit type, and an empty source as an empty message", async () => {
    const transport = new TestTransport();
    const ws = await socketServer(transport);
    await within(ws.send(new ReadableStream({ start: (c) => (c.enqueue(Uint8Array.of(1)), c.close()) })));
    await within(ws.send((async function* () {})()));
    await within(ws.send((async function* () {
      yield Uint8Array.of(0x61);
    })(), "text"));
    await settle();
    expect(written(transport).map((frame) => [frame.opcode, frame.fin, [...frame.payload]])).toEqual([
      [Opcode.BINARY, false, [1]],
      [Opcode.CONTINUATION, true, []],
      [Opcode.BINARY, true, []],
      [Opcode.TEXT, false, [0x61]],
      [Opcode.CONTINUATION, true, []],
    ]);
  });

  it("lets pongs through between its frames and holds other messages until it ends", async () => {
    const transport = new TestTransport();
    const ws = await socketServer(transport);
    const source = manualSource();
    const sent = ws.send(source.stream);
    source.controller.enqueue("one ");
    await until(() => written(transport).length === 1);
    ws.send("meanwhile");
    transport.push(fromPeer("server", Opcode.PING, "p"));
    await until(() => written(transport).length === 2);
    source.controller.enqueue("two");
    source.controller.close();
    await within(sent);
    await until(() => written(transport).length === 5);
    expect(written(transport).map((frame) => [frame.opcode, frame.fin, new TextDecoder().decode(frame.payload)])).toEqual([
      [Opcode.TEXT, false, "one "],
      [Opcode.PONG, true, "p"],
      [Opcode.CONTINUATION, false, "two"],
      [Opcode.CONTINUATION, true, ""],
      [Opcode.TEXT, true, "meanwhile"],
    ]);
  });

  it("keeps a stream sent behind a Blob in its place, before what is sent after it", async () => {
    const transport = new TestTransport();
    const ws = await socketServer(transport);
    ws.send(new Blob([Uint8Array.of(7)]));
    const sent = ws.send((async function* () {
      yield "streamed";
    })());
    ws.send("after");
    await within(sent);
    await until(() => written(transport).length === 4);
    expect(written(transport).map((frame) => [frame.opcode, frame.fin, frame.payload.length])).toEqual([
      [Opcode.BINARY, true, 1],
      [Opcode.TEXT, false, 8],
      [Opcode.CONTINUATION, true, 0],
      [Opcode.TEXT, true, 5],
    ]);
  });

  it("sends a close() made during a streamed message after its last frame", async () => {
    const transport = new TestTransport();
    const ws = await socketServer(transport);
    const source = manualSource();
    const sent = ws.send(source.stream);
    source.controller.enqueue("one");
    await until(() => written(transport).length === 1);
    ws.close(1000, "done");
    source.controller.enqueue("two");
    source.controller.close();
    await within(sent);
    await until(() => written(transport).length === 4);
    expect(written(transport).map((frame) => [frame.opcode, frame.fin])).toEqual([
      [Opcode.TEXT, false],
      [Opcode.CONTINUATION, false],
      [Opcode.CONTINUATION, true],
      [Opcode.CLOSE, true],
    ]);
  });

  it("keeps reading while the application's own writes fill the buffer (an echo of a large stream must not deadlock)", async () => {
    const transport = new TestTransport();
    const ws = await socketServer(transport, { writableHighWaterMark: 16 * 1024 });
    transport.accepting = false;
    const sent = ws.send((async function* () {
      for (let i = 0; i < 4; i++) yield new Uint8Array(16 * 1024);
    })());
    await until(() => ws.bufferedAmount >= 16 * 1024);
    const received: string[] = [];
    ws.onmessage = (event) => void (event.data as MessageStream).text().then((text) => received.push(text));
    for (let i = 0; i < 20; i++) transport.push(fromPeer("server", Opcode.TEXT, `m${i}`));
    await until(() => received.length === 20);
    expect(received[19]).toBe("m19");
    transport.release();
    await within(sent);
  });

  it("fails the connection with 1011 when the source errors mid-message, and rejects the send", async () => {
    const transport = new TestTransport();
    const { ws, writer } = await streamServer(transport);
    const source = manualSource();
    const sent = writer.write(source.stream);
    source.controller.enqueue(Uint8Array.of(1, 2));
    await until(() => written(transport).length === 1);
    source.controller.error(new Error("disk gone"));
    const error = await within(sent).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebSocketError);
    expect((error as WebSocketError).closeCode).toBe(1011);
    await until(() => written(transport).some((frame) => frame.opcode === Opcode.CLOSE));
    const close = written(transport).at(-1)!;
    expect([close.opcode, close.payload[0]! * 256 + close.payload[1]!]).toEqual([Opcode.CLOSE, 1011]);
    transport.pushEnd();
    expect(((await within(ws.closed).catch((e: unknown) => e)) as WebSocketError).closeCode).toBe(1011);
  });

  it("answers a Close that cuts short a message it is echoing as a stream with a normal Close, not 1011", async () => {
    const transport = new TestTransport();
    const ws = await streamEchoServer(transport);
    transport.push(fromPeer("server", Opcode.TEXT, "fragment", false));
    await until(() => written(transport).length === 1);
    transport.push(fromPeer("server", Opcode.CLOSE, Uint8Array.of(0x03, 0xe8)));
    await until(() => written(transport).some((frame) => frame.opcode === Opcode.CLOSE));
    expect(written(transport).map((frame) => [frame.opcode, frame.fin, [...frame.payload]])).toEqual([
      [Opcode.TEXT, false, [...utf8.encode("fragment")]],
      [Opcode.CLOSE, true, [0x03, 0xe8]],
    ]);
    transport.pushEnd();
    expect(await within(ws.closed)).toEqual({ closeCode: 1000, reason: "" });
  });

  it("sends its Close 1007 when invalid UTF-8 cuts short a message it is echoing as a stream", async () => {
    const transport = new TestTransport();
    const ws = await streamEchoServer(transport);
    transport.push(fromPeer("server", Opcode.TEXT, "ok", false));
    await until(() => written(transport).length === 1);
    transport.push(fromPeer("server", Opcode.CONTINUATION, Uint8Array.of(0xff), false));
    await until(() => written(transport).some((frame) => frame.opcode === Opcode.CLOSE));
    const close = written(transport).at(-1)!;
    expect([close.opcode, close.payload[0]! * 256 + close.payload[1]!]).toEqual([Opcode.CLOSE, 1007]);
    expect(transport.destroyed).toBe(false);
    transport.pushEnd();
    expect(((await within(ws.closed).catch((e: unknown) => e)) as WebSocketError).closeCode).toBe(1007);
  });

  it("rejects a send whose source fails before its first chunk and leaves the connection open", async () => {
    const transport = new TestTransport();
    const ws = await socketServer(transport);
    const error = await within(ws.send((async function* () {
      throw new Error("nothing to send");
    })())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebSocketError);
    expect(((error as WebSocketError).cause as Error).message).toBe("nothing to send");
    ws.send("still open");
    await until(() => written(transport).length === 1);
    expect(written(transport)[0]!.opcode).toBe(Opcode.TEXT);
    expect(ws.readyState).toBe(1);
  });

  it("cancels the source and rejects when the connection closes mid-message, even if nobody listens", async () => {
    const transport = new TestTransport();
    const ws = await socketServer(transport);
    const source = manualSource();
    const sent = ws.send(source.stream);
    // Queued behind it and ignored: when it fails, no unhandled rejection (vitest reports those).
    void ws.send((async function* () {
      yield "ignored";
    })());
    source.controller.enqueue("part");
    await until(() => written(transport).length === 1);
    transport.push(fromPeer("server", Opcode.CLOSE, Uint8Array.of(0x03, 0xe8)));
    transport.pushEnd();
    await until(() => ws.readyState === 3);
    // The source is still open: the next pull finds the connection gone.
    source.controller.enqueue("more");
    const error = await within(sent).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebSocketError);
    expect(source.cancelled()).toBeUndefined();
    await settle(5);
  });

  it("throws InvalidStateError for a stream sent while connecting, as for any send", async () => {
    const ws = new WebSocketBase("ws://test.invalid/", undefined, () => new Promise<never>(() => {}));
    expect(() => ws.send((async function* () {})())).toThrow(expect.objectContaining({ name: "InvalidStateError" }));
    ws.close();
  });
});

describe("a streamed message between a real client and server", () => {
  it("reaches a client WebSocket with streamMessages as a message event whose data is a MessageStream", async () => {
    const [clientSide, serverSide] = memoryPair();
    const accepting = acceptWebSocket(serverSide);
    const client = new WebSocketBase("ws://test.invalid/", undefined, clientSide, { streamMessages: true });
    const server = (await within(accepting))!.ws;
    const { writable } = await within(server.opened);
    const message = new Promise<MessageStream>((resolve) => (client.onmessage = (event) => resolve(event.data as MessageStream)));
    void writable.getWriter().write((async function* () {
      yield "a";
      yield "b";
    })());
    const stream = await within(message);
    expect(stream).toBeInstanceOf(MessageStream);
    expect(stream.type).toBe("text");
    expect(await within(stream.text())).toBe("ab");
    client.close();
    await within(server.closed);
  });

  for (const clientStreams of [false, true]) {
    it(`is echoed piece by piece by a server that pipes message streams (client ${clientStreams ? "receiving streams" : "receiving whole messages"})`, async () => {
      const [clientSide, serverSide] = memoryPair();
      const accepting = acceptWebSocket(serverSide, { streamMessages: true });
      const client = connectWebSocket("ws://test.invalid/", clientSide, { streamMessages: clientStreams });
      const server = (await within(accepting))!.ws;
      const serverOpen = await within(server.opened);
      void serverOpen.readable.pipeTo(serverOpen.writable).catch(() => {});
      const { readable, writable } = await within(client.opened);
      const writer = writable.getWriter();
      // 100 fragments of 1000 bytes each, generated as they are read.
      let sum = 0;
      const sent = writer.write((async function* () {
        for (let i = 0; i < 100; i++) {
          const chunk = new Uint8Array(1000).map((_, j) => (i * 7 + j) & 0xff);
          for (const byte of chunk) sum += byte;
          yield chunk;
        }
      })());
      await writer.write("then text");
      const reader = readable.getReader();
      const first = (await within(reader.read())).value as unknown;
      const data = clientStreams ? await within(readAll(first as MessageStream)) : (first as Uint8Array);
      await within(sent);
      expect(data.length).toBe(100_000);
      expect(data.reduce((n, byte) => n + byte, 0)).toBe(sum);
      const second = (await within(reader.read())).value as unknown;
      expect(clientStreams ? await within((second as MessageStream).text()) : second).toBe("then text");
      client.close();
      await within(client.closed);
    });
  }

  it("delivers a compressed message as a stream of one chunk, and sends a streamed message uncompressed", async () => {
    const deflate = permessageDeflate({ backend: webDeflateBackend(), threshold: 0 });
    const transport = new TestTransport();
    const conn = await ClientConnection.create("ws://test.invalid/", { extensions: [deflate] });
    transport.push(conn.dataToSend()[0]!);
    const server = (await within(acceptWebSocket(transport, { streamMessages: true, extensions: [deflate] })))!.ws;
    const { readable, writable, extensions } = await within(server.opened);
    expect(extensions).toContain("permessage-deflate");
    transport.written.length = 0;
    // RFC 7692 §7.2.3.1: "Hello" compressed, RSV1 set.
    transport.push(fromPeer("server", Opcode.TEXT, Uint8Array.of(0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00), true, 0b100));
    const message = (await within(readable.getReader().read())).value as unknown as MessageStream;
    expect(message.type).toBe("text");
    expect(await within(message.text())).toBe("Hello");
    await within(writable.getWriter().write((async function* () {
      yield "a".repeat(200);
      yield "b".repeat(200);
    })()));
    await settle();
    expect(written(transport).map((frame) => [frame.opcode, frame.rsv, frame.payload.length])).toEqual([
      [Opcode.TEXT, 0, 200],
      [Opcode.CONTINUATION, 0, 200],
      [Opcode.CONTINUATION, 0, 0],
    ]);
  });

  it("fires message events whose data is a MessageStream on a WebSocket with streamMessages", async () => {
    const [clientSide, serverSide] = memoryPair();
    const group = new ConnectionGroup({
      api: "websocket",
      streamMessages: true,
      handler: (ws) => {
        ws.onmessage = (event) => {
          const message = event.data as MessageStream;
          // Echo it back as a stream, with its type.
          void ws.send(message);
        };
      },
    });
    void group.accept(serverSide, { scheme: "ws:" });
    const client = connectWebSocket("ws://test.invalid/", clientSide);
    const { readable, writable } = await within(client.opened);
    const writer = writable.getWriter();
    await writer.write("héllo");
    await writer.write(Uint8Array.of(1, 2, 3));
    const reader = readable.getReader();
    expect((await within(reader.read())).value).toBe("héllo");
    expect((await within(reader.read())).value).toEqual(Uint8Array.of(1, 2, 3));
    client.close();
    await within(client.closed);
  });
});
