// Transport.recycle and Transport.released: a transport that reuses its read buffer gets back
// exactly the chunks nothing kept a view of (a recycled chunk is overwritten at once, so a view
// kept by mistake shows it), and a streamed send relaying a message stream reads it into
// buffers it reuses only once the transport is done with them.
import { describe, expect, it } from "vitest";
import { ClientConnection } from "../src/client.ts";
import type { MessageStream } from "../src/message-stream.ts";
import { Opcode } from "../src/opcode.ts";
import { acceptWebSocket, type WebSocketStreamOptions } from "../src/websocket-stream.ts";
import { concat } from "./helpers/chunking.ts";
import { settle, until } from "./helpers/fake-clock.ts";
import { framesSentBy, fromPeer } from "./helpers/frames.ts";
import { within } from "./helpers/memory-transport.ts";
import { RecyclingTransport } from "./helpers/recycling-transport.ts";

// A server WebSocketStream over `transport`, the handshake done by a client connection.
async function server(transport: RecyclingTransport, options: WebSocketStreamOptions = {}) {
  const conn = await ClientConnection.create("ws://test.invalid/");
  transport.push(conn.dataToSend()[0]!);
  const ws = (await within(acceptWebSocket(transport, options)))!.ws;
  const opened = await within(ws.opened);
  transport.written.length = 0;
  return { ws, ...opened };
}

// The bytes of `message` pseudo-random, so a misplaced or overwritten byte shows.
function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

// `bytes` cut into chunks of the given sizes in turn (the last one takes the rest).
function cut(bytes: Uint8Array, sizes: readonly number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    chunks.push(bytes.slice(at, at + size));
    at += size;
  }
  return chunks;
}

// One binary message as client frames of the given payload sizes, fragments of `message`.
function fragmented(message: Uint8Array, frameSizes: readonly number[]): Uint8Array {
  const frames: Uint8Array[] = [];
  for (let at = 0, i = 0; at < message.length; i++) {
    const size = frameSizes[i % frameSizes.length]!;
    const end = Math.min(at + size, message.length);
    frames.push(fromPeer("server", i === 0 ? Opcode.BINARY : Opcode.CONTINUATION, message.subarray(at, end), end === message.length));
    at = end;
  }
  return concat(...frames);
}

describe("giving read chunks back to the transport (Transport.recycle)", () => {
  it("echoes a message streamed through a relaying server intact while getting back nearly every chunk", async () => {
    const transport = new RecyclingTransport();
    const { readable, writable } = await server(transport, { streamMessages: true });
    void readable.pipeTo(writable).catch(() => {});
    const message = pattern(600_000, 7);
    // Frames of odd sizes in chunks of odd sizes: headers and payloads split at many points.
    const chunks = cut(fragmented(message, [65_536, 1000, 30_001, 5]), [4093, 65_536, 7, 20_000]);
    // Writes held now and then: the send's buffers must wait for them.
    for (const [i, chunk] of chunks.entries()) {
      transport.accepting = i % 5 !== 0;
      transport.push(chunk);
      await settle(1);
      if (transport.accepting) transport.release();
    }
    transport.release();
    await until(() => framesSentBy("server", transport.written).some((frame) => frame.fin), 5000, "the echo's last frame");

    const frames = framesSentBy("server", transport.written);
    const echoed = concat(...frames.map((frame) => frame.payload));
    expect(echoed.length).toBe(message.length);
    expect(echoed.every((byte, i) => byte === message[i])).toBe(true);
    expect(transport.errors).toEqual([]);
    // Only chunks ending inside a frame header are kept (and then dropped, not given back).
    expect(transport.recycled).toBeGreaterThan(chunks.length * 0.8);
    expect(transport.buffersMade).toBeLessThan(chunks.length * 0.2);
  });

  it("keeps every chunk a message, a fragment being joined, a pong or a partial frame is a view of", async () => {
    const transport = new RecyclingTransport();
    const { ws, readable } = await server(transport);
    const messages = readable.getReader();
    const binary = pattern(300, 1);
    const first = pattern(200, 2);
    const second = pattern(100, 3);
    const late = pattern(500, 4);
    const lateFrame = fromPeer("server", Opcode.BINARY, late);

    const kept: number[] = [];
    const step = async (chunk: Uint8Array, keep: boolean): Promise<void> => {
      const before = transport.recycled;
      transport.push(chunk);
      await settle(1);
      kept.push(keep ? transport.recycled - before : 1 - (transport.recycled - before));
    };
    // A binary message handed on as a view of its chunk: kept.
    await step(fromPeer("server", Opcode.BINARY, binary), true);
    // A text message becomes a string: given back.
    await step(fromPeer("server", Opcode.TEXT, "text"), false);
    // The first fragment of a binary message is kept until the message is joined.
    await step(fromPeer("server", Opcode.BINARY, first, false), true);
    await step(fromPeer("server", Opcode.CONTINUATION, second, true), true);
    // A frame cut in its header: its first chunk stays queued.
    await step(lateFrame.slice(0, 3), true);
    await step(lateFrame.slice(3), true);
    // A ping is answered from a copy: given back.
    await step(fromPeer("server", Opcode.PING, "ping"), false);

    // Chunks given back were overwritten: what was kept must still hold the right bytes.
    const received = [];
    for (let i = 0; i < 4; i++) received.push((await within(messages.read())).value);
    expect(received[0]).toEqual(binary);
    expect(received[1]).toBe("text");
    expect(received[2]).toEqual(concat(first, second));
    expect(received[3]).toEqual(late);
    expect(kept).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(transport.recycled).toBe(2);
    expect(transport.errors).toEqual([]);
    ws.close();
  });

  it("gives nothing back to a transport without recycle() (the chunks stay the application's)", async () => {
    const transport = new RecyclingTransport();
    Object.defineProperty(transport, "recycle", { value: undefined });
    const { readable } = await server(transport);
    transport.push(fromPeer("server", Opcode.TEXT, "a"));
    expect((await within(readable.getReader().read())).value).toBe("a");
    expect(transport.recycled).toBe(0);
  });
});

describe("a message stream relayed by a streamed send (BYOB, Transport.released)", () => {
  it("reads the transport only while the send has a read pending, so nothing queues ahead", async () => {
    const transport = new RecyclingTransport();
    const { readable, writable } = await server(transport, { streamMessages: true, messageStreamHighWaterMark: 1 << 20 });
    void readable.pipeTo(writable).catch(() => {});
    const message = pattern(2_000_000, 9);
    const chunks = cut(fragmented(message, [65_536]), [65_536]);
    transport.accepting = false;
    for (const chunk of chunks) transport.push(chunk);
    await settle(10);

    // Writes held: the send stops once its buffers are all in flight, and reading stops with it.
    // (At most one chunk per send buffer and one more, though the stream's mark would take 16.)
    const readsWhileHeld = transport.reads;
    expect(readsWhileHeld).toBeLessThanOrEqual(10);
    expect(transport.unread).toBeGreaterThan(0);
    await settle(10);
    expect(transport.reads).toBe(readsWhileHeld);

    transport.release();
    await until(() => framesSentBy("server", transport.written).some((frame) => frame.fin), 5000, "the echo's last frame");
    const echoed = concat(...framesSentBy("server", transport.written).map((frame) => frame.payload));
    expect(echoed.every((byte, i) => byte === message[i]) && echoed.length === message.length).toBe(true);
    expect(transport.errors).toEqual([]);
  });

  it("gives a BYOB reader every piece of one transport chunk in one read, and ends a pending read with done", async () => {
    const transport = new RecyclingTransport();
    const { readable } = await server(transport, { streamMessages: true });
    const messages = (readable as unknown as ReadableStream<MessageStream>).getReader();
    const a = pattern(1000, 5);
    const b = pattern(1500, 6);
    transport.push(fromPeer("server", Opcode.BINARY, new Uint8Array(0), false));
    const stream = (await within(messages.read())).value!;
    const reader = stream.getReader({ mode: "byob" });
    const pending = reader.read(new Uint8Array(4096));
    await settle(1);
    // The end of one fragment and the start of the next, in one transport chunk.
    transport.push(concat(fromPeer("server", Opcode.CONTINUATION, a, false), fromPeer("server", Opcode.CONTINUATION, b, false)));
    const { value } = await within(pending);
    expect(value).toEqual(concat(a, b));
    expect(value!.buffer.byteLength).toBe(4096);

    // A read of a wider element type is filled byte for byte.
    const wide = reader.read(new Uint16Array(8));
    await settle(1);
    transport.push(fromPeer("server", Opcode.CONTINUATION, Uint8Array.of(1, 2, 3, 4), false));
    const got = (await within(wide)).value!;
    expect(new Uint8Array(got.buffer, got.byteOffset, got.byteLength)).toEqual(Uint8Array.of(1, 2, 3, 4));

    const last = reader.read(new Uint8Array(16));
    await settle(1);
    transport.push(fromPeer("server", Opcode.CONTINUATION, new Uint8Array(0), true));
    expect((await within(last)).done).toBe(true);
    expect(transport.errors).toEqual([]);
  });

  it("gives a default reader copies that outlive the transport's chunks", async () => {
    const transport = new RecyclingTransport();
    const { readable } = await server(transport, { streamMessages: true });
    const messages = (readable as unknown as ReadableStream<MessageStream>).getReader();
    const a = pattern(3000, 11);
    transport.push(fromPeer("server", Opcode.BINARY, a, false));
    transport.push(fromPeer("server", Opcode.CONTINUATION, pattern(10, 12), true));
    const stream = (await within(messages.read())).value!;
    const chunks: Uint8Array[] = [];
    for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
    // Both transport chunks were given back (and overwritten); the copies are intact.
    expect(transport.recycled).toBe(2);
    expect(concat(...chunks)).toEqual(concat(a, pattern(10, 12)));
  });
});
