import { describe, expect, it } from "vitest";
import { ClientConnection } from "../src/client.ts";
import { ConnectionGroup } from "../src/connection-group.ts";
import type { Connection } from "../src/connection.ts";
import { frameHeaderLength } from "../src/frame.ts";
import { Opcode } from "../src/opcode.ts";
import { permessageDeflate } from "../src/permessage-deflate.ts";
import { StatsCounters } from "../src/stats.ts";
import { webDeflateBackend } from "../src/web-deflate.ts";
import { WebSocketBase } from "../src/websocket.ts";
import { WebSocketStreamBase } from "../src/websocket-stream.ts";
import { concat } from "./helpers/chunking.ts";
import { FakeClock, until } from "./helpers/fake-clock.ts";
import { decodeAll, peerOf, roles } from "./helpers/frames.ts";
import { within } from "./helpers/memory-transport.ts";
import { apis, openSide, type Side } from "./helpers/sides.ts";
import { TestTransport } from "./helpers/test-transport.ts";

// No context takeover either way: the web backend compresses only then (see web-deflate.ts).
const deflate = () => permessageDeflate({ backend: webDeflateBackend(), clientNoContextTakeover: true, serverNoContextTakeover: true });

// `data` as permessage-deflate sends it (RFC 7692 §7.2.1) in one stored DEFLATE block: the block
// (BFINAL 0), then the sync flush's empty stored block with its 00 00 ff ff removed. The same
// bytes on every runtime, and any inflater reads them.
function storedDeflate(data: Uint8Array): Uint8Array {
  const n = data.length;
  return concat(Uint8Array.of(0x00, n & 0xff, n >> 8, ~n & 0xff, (~n >> 8) & 0xff), data, Uint8Array.of(0x00));
}
const total = (chunks: Uint8Array[]) => chunks.reduce((n, c) => n + c.length, 0);

function closeSide(side: Side): void {
  if (side.ws instanceof WebSocketBase) side.ws.close(1000);
  else side.ws.close({ closeCode: 1000 });
}

// Closes from the end under test and lets the peer answer and end the transport.
async function closeExchange(side: Side): Promise<void> {
  closeSide(side);
  await until(() => side.transport.written.length > 0, 2000, "the Close");
  expect(side.toPeer().map((e) => e.type)).toContain("close");
  side.fromPeer();
  side.transport.pushEnd();
  await within(side.ended, 2000, "the end");
}

// The bytes of every frame in `chunks`, as the frames' sizes add up (header by header).
function frameBytes(role: "client" | "server", chunks: Uint8Array[]): { bytes: number; frames: number; rsvPayload: number } {
  const frames = decodeAll(peerOf(role), chunks, 1 << 24, 0b100);
  let bytes = 0;
  let rsvPayload = 0;
  for (const frame of frames) {
    bytes += frameHeaderLength(frame.payload.length, role === "client") + frame.payload.length;
    if (frame.rsv !== 0) rsvPayload += frame.payload.length;
  }
  return { bytes, frames: frames.length, rsvPayload };
}

describe.each(roles.flatMap((role) => apis.map((api) => [role, api] as const)))("stats of a %s end (%s)", (role, api) => {
  it("counts the bytes, frames and messages of a known exchange exactly, from the frame sizes", async () => {
    const side = await openSide(role, api);
    expect(side.ws.stats).toMatchObject({ bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0, messagesIn: 0, messagesOut: 0, lastRtt: undefined });
    await side.send("hello");
    await side.send(new Uint8Array(200));
    const events: string[] = [];
    await until(() => {
      for (const event of side.toPeer()) events.push(event.type);
      return events.length === 2;
    }, 2000, "the messages");
    expect(events).toEqual(["text", "binary"]);
    const peer: Connection = side.peer;
    peer.sendText("hi there");
    peer.sendText("frag", false);
    peer.sendContinuation("mented", true);
    peer.sendBinary(new Uint8Array(300));
    peer.sendPing(Uint8Array.of(1, 2, 3));
    side.fromPeer();
    await until(() => side.received.length === 3, 2000, "the peer's messages");
    await until(() => side.transport.written.length > 0, 2000, "the pong");
    await closeExchange(side);
    const masked = role === "client" ? 4 : 0;
    const peerMasked = role === "server" ? 4 : 0;
    // Out: "hello" (2+5), 200 bytes (4+200), the Pong (2+3), the Close (2+2), each masked by a client.
    const out = 7 + 204 + 5 + 4 + 4 * masked;
    // In: "hi there" (2+8), "frag" (2+4), "mented" (2+6), 300 bytes (4+300), the Ping (2+3), the Close (2+2).
    const into = 10 + 6 + 8 + 304 + 5 + 4 + 6 * peerMasked;
    expect(side.ws.stats).toEqual({
      bytesIn: into,
      bytesOut: out,
      framesIn: 6,
      framesOut: 4,
      messagesIn: 3,
      messagesOut: 2,
      compressedBytesIn: 0,
      decompressedBytesIn: 0,
      uncompressedBytesOut: 0,
      compressedBytesOut: 0,
      lastRtt: undefined,
    });
    // The same figures as the bytes on the wire.
    expect(total(side.wrote)).toBe(out);
    expect(total(side.pushed)).toBe(into);
    expect(frameBytes(role, side.wrote)).toEqual({ bytes: out, frames: 4, rsvPayload: 0 });
    expect(Object.isFrozen(side.ws.stats)).toBe(true);
  });

  it("counts the bytes before and after permessage-deflate, and only compressed messages", async () => {
    const side = await openSide(role, api, { extensions: [deflate()], peerExtensions: [deflate()] });
    const big = "abc".repeat(400);
    await side.send(big);
    // Below the 128-byte threshold: sent uncompressed, not counted as compressed.
    await side.send("hi");
    const events: string[] = [];
    await until(() => {
      for (const event of side.toPeer()) events.push(event.type);
      return events.length === 2;
    }, 2000, "the messages");
    expect(events).toEqual(["encoded", "text"]);
    const peer = side.peer;
    const compressed = storedDeflate(new TextEncoder().encode(big));
    peer.sendText(compressed, true, 0b100);
    side.fromPeer();
    await until(() => side.received.length === 1, 2000, "the peer's message");
    expect(side.received).toEqual([big]);
    const wire = frameBytes(role, side.wrote);
    expect(side.ws.stats).toMatchObject({
      bytesOut: wire.bytes,
      framesOut: 2,
      messagesOut: 2,
      uncompressedBytesOut: big.length,
      compressedBytesOut: wire.rsvPayload,
      bytesIn: total(side.pushed),
      framesIn: 1,
      messagesIn: 1,
      compressedBytesIn: big.length + 6,
      decompressedBytesIn: big.length,
    });
    expect(wire.rsvPayload).toBeLessThan(100);
    expect(total(side.wrote)).toBe(wire.bytes);
    await closeExchange(side);
  });
});

describe("a server's stats", () => {
  // A client handshake over a new transport of `group`; resolves with the server's socket and the client.
  async function connect(group: ConnectionGroup<"websocket">, accepted: WebSocketBase[]) {
    const transport = new TestTransport();
    const client = await ClientConnection.create("ws://test.invalid/");
    transport.push(client.dataToSend()[0]!);
    const count = accepted.length;
    void group.accept(transport, { scheme: "ws:" });
    await until(() => accepted.length > count && transport.written.length > 0, 2000, "accept");
    for (const chunk of transport.written.splice(0)) client.receiveData(chunk);
    client.events();
    return { ws: accepted.at(-1)!, transport, client };
  }

  it("sums every connection, closed ones included, and keeps the latest round-trip time", async () => {
    const clock = new FakeClock();
    const accepted: WebSocketBase[] = [];
    const group = new ConnectionGroup({ api: "websocket", clock, handler: (ws) => void accepted.push(ws) });
    const first = await connect(group, accepted);
    const second = await connect(group, accepted);
    first.ws.send("one");
    second.ws.send(new Uint8Array(10));
    first.transport.push(concat(...(first.client.sendText("x"), first.client.dataToSend())));
    await until(() => first.transport.written.length > 0 && second.transport.written.length > 0, 2000, "the sends");
    // An RTT on the first connection, then a later one on the second.
    const firstPing = first.ws.ping();
    await until(() => first.transport.written.length > 1, 2000, "the first ping");
    await clock.advance(7);
    const ping1 = decodeAll("client", first.transport.written).find((f) => f.opcode === Opcode.PING)!;
    first.client.sendPong(ping1.payload);
    first.transport.push(concat(...first.client.dataToSend()));
    expect(await within(firstPing)).toBe(7);
    const secondPing = second.ws.ping();
    await until(() => second.transport.written.length > 1, 2000, "the second ping");
    await clock.advance(3);
    const ping2 = decodeAll("client", second.transport.written).find((f) => f.opcode === Opcode.PING)!;
    second.client.sendPong(ping2.payload);
    second.transport.push(concat(...second.client.dataToSend()));
    expect(await within(secondPing)).toBe(3);
    // The first connection closes; its counts stay in the totals.
    const firstEnded = new Promise<void>((resolve) => first.ws.addEventListener("close", () => resolve()));
    first.client.sendClose(1000);
    first.transport.push(concat(...first.client.dataToSend()));
    await until(() => first.transport.calls.includes("end"), 2000, "the server's half-close");
    first.transport.pushEnd();
    await within(firstEnded);
    const sum = new StatsCounters();
    const a = first.ws.stats;
    const b = second.ws.stats;
    for (const key of ["bytesIn", "bytesOut", "framesIn", "framesOut", "messagesIn", "messagesOut"] as const) sum[key] = a[key] + b[key];
    expect(a).toMatchObject({ framesIn: 3, framesOut: 3, messagesIn: 1, messagesOut: 1, lastRtt: 7 });
    expect(group.stats).toEqual({
      ...sum.snapshot(),
      lastRtt: 3,
      openConnections: 1,
      acceptedConnections: 2,
    });
  });

  it("is zero before any connection", () => {
    const group = new ConnectionGroup({ handler: () => {} });
    expect(group.stats).toMatchObject({ bytesIn: 0, bytesOut: 0, framesIn: 0, messagesOut: 0, lastRtt: undefined, openConnections: 0, acceptedConnections: 0 });
    expect(new WebSocketStreamBase("ws://test.invalid/", new TestTransport()).stats.bytesOut).toBe(0);
  });
});

describe.each(apis)("a published message in a server end's stats and debug log (%s)", (api) => {
  it("counts the frame pub/sub framed once like any other, before and after compression", async () => {
    const lines: string[] = [];
    const side = await openSide("server", api, { extensions: [deflate()], peerExtensions: [deflate()], debug: (line) => lines.push(line) });
    side.ws.subscribe("news");
    const big = "abc".repeat(400);
    expect(side.group!.publish("news", "hi")).toBe(1);
    expect(side.group!.publish("news", big)).toBe(1);
    const events: string[] = [];
    await until(() => {
      for (const event of side.toPeer()) events.push(event.type);
      return events.length === 2;
    }, 2000, "the published messages");
    expect(events).toEqual(["text", "encoded"]);
    const wire = frameBytes("server", side.wrote);
    expect(side.ws.stats).toMatchObject({
      bytesOut: total(side.wrote),
      framesOut: 2,
      messagesOut: 2,
      uncompressedBytesOut: big.length,
      compressedBytesOut: wire.rsvPayload,
    });
    expect(wire.bytes).toBe(total(side.wrote));
    expect(lines.filter((line) => / out /.test(line)).map((line) => line.replace(/^wsstream server#\d+ /, ""))).toEqual([
      'out TEXT fin=1 rsv=000 len=2 "hi"',
      `out TEXT fin=1 rsv=100 len=${wire.rsvPayload}`,
    ]);
    await closeExchange(side);
  });
});
