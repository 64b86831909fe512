// Streamed message assembly, through the sans-I/O connection: pieces out as they arrive, text
// checked as UTF-8 on the way, the streamed size limit instead of maxMessageSize.
import { describe, expect, it } from "vitest";
import { Connection } from "../src/connection.ts";
import type { ConnectionEvent, MessageChunkEvent } from "../src/events.ts";
import { Opcode } from "../src/opcode.ts";
import { chunkings, concat } from "./helpers/chunking.ts";
import { fromPeer, roles } from "./helpers/frames.ts";

const utf8 = new TextEncoder();

// Feeds `chunks` to a streaming connection; returns every event (message data copied, as the
// connection may reuse nothing but the caller keeps the chunks).
function feed(role: "client" | "server", chunks: Uint8Array[], options: ConstructorParameters<typeof Connection>[1] = {}): ConnectionEvent[] {
  const conn = new Connection(role, { streamMessages: true, ...options });
  const events: ConnectionEvent[] = [];
  for (const chunk of chunks) {
    conn.receiveData(chunk);
    for (const event of conn.events()) events.push(event.type === "message-chunk" ? { ...event, data: event.data.slice() } : event);
  }
  return events;
}

// The streamed messages in `events`, each as its type and joined bytes; also checks the chunk
// flags: `first` once at the start, `last` once at the end.
function messages(events: ConnectionEvent[]): { type: string; data: Uint8Array }[] {
  const out: { type: string; data: Uint8Array }[] = [];
  let parts: Uint8Array[] | undefined;
  for (const event of events) {
    if (event.type !== "message-chunk") continue;
    const chunk = event as MessageChunkEvent;
    if (chunk.first) {
      expect(parts).toBeUndefined();
      parts = [];
    }
    expect(parts).toBeDefined();
    parts!.push(chunk.data);
    if (chunk.last) {
      out.push({ type: chunk.messageType, data: concat(...parts!) });
      parts = undefined;
    }
  }
  expect(parts).toBeUndefined();
  return out;
}

describe.each(roles)("a streaming %s connection", (role) => {
  const fragmented = concat(
    fromPeer(role, Opcode.TEXT, "héllo ", false),
    fromPeer(role, Opcode.PING, "p"),
    fromPeer(role, Opcode.CONTINUATION, "wörld ✓", false),
    fromPeer(role, Opcode.CONTINUATION, "", true),
    fromPeer(role, Opcode.BINARY, Uint8Array.of(1, 2, 3)),
  );

  it("returns every message piece by piece, whole, one byte at a time and split at every point", () => {
    for (const { label, chunks } of chunkings(fragmented)) {
      const events = feed(role, chunks);
      expect(messages(events), label).toEqual([
        { type: "text", data: utf8.encode("héllo wörld ✓") },
        { type: "binary", data: Uint8Array.of(1, 2, 3) },
      ]);
      // The ping between fragments is still reported, between the message's chunks.
      const types = events.map((event) => event.type);
      expect(types.indexOf("ping"), label).toBeGreaterThan(types.indexOf("message-chunk"));
      expect(events.some((event) => event.type === "text" || event.type === "binary"), label).toBe(false);
    }
  });

  it("returns a piece as soon as it arrives, before its frame has ended", () => {
    const frame = fromPeer(role, Opcode.BINARY, new Uint8Array(1000).fill(7));
    const conn = new Connection(role, { streamMessages: true });
    conn.receiveData(frame.slice(0, 500));
    const first = conn.events();
    expect(first).toHaveLength(1);
    const chunk = first[0] as MessageChunkEvent;
    expect(chunk).toMatchObject({ type: "message-chunk", messageType: "binary", first: true, last: false });
    expect(chunk.data.length).toBe(500 - (frame.length - 1000));
    conn.receiveData(frame.slice(500));
    expect(conn.events()).toMatchObject([{ type: "message-chunk", first: false, last: true }]);
  });

  it("fails with 1007 at the first invalid UTF-8 byte of a streamed text message, before the message ends", () => {
    // Valid text, then a fragment whose second byte can never be UTF-8 (0xff), then more.
    const bytes = concat(
      fromPeer(role, Opcode.TEXT, "ok ", false),
      fromPeer(role, Opcode.CONTINUATION, Uint8Array.of(0x61, 0xff, 0x62), false),
    );
    for (const { label, chunks } of chunkings(bytes)) {
      const events = feed(role, chunks);
      const error = events.find((event) => event.type === "error");
      expect(error, label).toMatchObject({ type: "error", error: { code: "WS_ERR_INVALID_UTF8", closeCode: 1007 } });
      // Nothing of the invalid byte was handed out.
      const delivered = concat(...events.filter((event) => event.type === "message-chunk").map((event) => (event as MessageChunkEvent).data));
      expect(delivered.includes(0xff), label).toBe(false);
    }
  });

  it("fails with 1007 when a streamed text message ends inside a UTF-8 sequence", () => {
    const bytes = concat(fromPeer(role, Opcode.TEXT, Uint8Array.of(0x61, 0xe2, 0x9c), false), fromPeer(role, Opcode.CONTINUATION, "", true));
    const events = feed(role, [bytes]);
    expect(events.at(-1)).toMatchObject({ type: "error", error: { closeCode: 1007 } });
  });

  it("takes a streamed message over maxMessageSize and over maxFragments", () => {
    const parts = Array.from({ length: 40 }, (_, i) => fromPeer(role, i === 0 ? Opcode.BINARY : Opcode.CONTINUATION, new Uint8Array(100).fill(i), i === 39));
    const events = feed(role, [concat(...parts)], { maxMessageSize: 1000, maxFragments: 10 });
    const [message] = messages(events);
    expect(message!.data.length).toBe(4000);
    expect(events.some((event) => event.type === "error")).toBe(false);
  });

  it("fails with 1009 past maxStreamedMessageSize, on the header that passes it", () => {
    const bytes = concat(fromPeer(role, Opcode.BINARY, new Uint8Array(600), false), fromPeer(role, Opcode.CONTINUATION, new Uint8Array(600), true));
    const events = feed(role, [bytes], { maxStreamedMessageSize: 1000 });
    expect(events.at(-1)).toMatchObject({ type: "error", error: { code: "WS_ERR_MESSAGE_TOO_BIG", closeCode: 1009 } });
    // The first 600 bytes were streamed; none of the frame that passed the limit.
    const delivered = events.filter((event) => event.type === "message-chunk").reduce((n, event) => n + (event as MessageChunkEvent).data.length, 0);
    expect(delivered).toBe(600);
  });

  it("still assembles a message with extension bits whole, under maxMessageSize", () => {
    const conn = new Connection(role, { streamMessages: true, allowedRsv: 0b100, maxMessageSize: 100 });
    conn.receiveData(concat(fromPeer(role, Opcode.BINARY, Uint8Array.of(1, 2), false, 0b100), fromPeer(role, Opcode.CONTINUATION, Uint8Array.of(3), true)));
    expect(conn.events()).toMatchObject([{ type: "encoded", messageType: "binary", data: Uint8Array.of(1, 2, 3), rsv: 0b100 }]);
    conn.receiveData(fromPeer(role, Opcode.BINARY, new Uint8Array(101), true, 0b100));
    expect(conn.events()).toMatchObject([{ type: "error", error: { closeCode: 1009 } }]);
  });

  it("returns an empty message as one chunk that is first and last", () => {
    expect(feed(role, [fromPeer(role, Opcode.TEXT, "")])).toMatchObject([{ type: "message-chunk", messageType: "text", first: true, last: true, data: new Uint8Array(0) }]);
  });
});

describe.each(roles)("a %s connection with its own allocate", (role) => {
  it("joins a message in pieces into the buffer allocate made, overwriting whatever was in it", () => {
    const sizes: number[] = [];
    // Buffers full of garbage, as Buffer.allocUnsafeSlow may return.
    const allocate = (size: number): Uint8Array => {
      sizes.push(size);
      return new Uint8Array(size).fill(0xaa);
    };
    const payload = Uint8Array.from({ length: 300 }, (_, i) => i % 251);
    const frames = concat(
      fromPeer(role, Opcode.BINARY, payload.subarray(0, 100), false),
      fromPeer(role, Opcode.CONTINUATION, payload.subarray(100, 250), false),
      fromPeer(role, Opcode.CONTINUATION, payload.subarray(250), true),
    );
    for (const { chunks } of chunkings(frames)) {
      sizes.length = 0;
      const conn = new Connection(role, { allocate });
      const received: Uint8Array[] = [];
      for (const chunk of chunks) {
        conn.receiveData(chunk);
        for (const event of conn.events()) if (event.type === "binary") received.push(event.data.slice());
      }
      expect(received).toEqual([payload]);
      expect(sizes).toEqual([300]);
    }
  });

  it("does not call allocate for a message that arrived in one piece", () => {
    let calls = 0;
    const conn = new Connection(role, { allocate: (size) => (calls++, new Uint8Array(size)) });
    conn.receiveData(fromPeer(role, Opcode.BINARY, new Uint8Array(64).fill(1)));
    expect(conn.events()).toMatchObject([{ type: "binary", data: new Uint8Array(64).fill(1) }]);
    expect(calls).toBe(0);
  });
});
