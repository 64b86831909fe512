import { describe, expect, it } from "vitest";
import { ConnectionGroup, type ServerApi, type ServerSocketFor } from "../src/connection-group.ts";
import { UsageError } from "../src/errors.ts";
import { type Compressor, type DeflateBackend, type Decompressor, permessageDeflate } from "../src/permessage-deflate.ts";
import { Hub, type LocalHub, type PubSubBridge } from "../src/pubsub.ts";
import { toTransport, type Transport, type TransportLike, type TransportSink } from "../src/transport.ts";
import { WebSocketBase } from "../src/websocket.ts";
import { connectWebSocket, type WebSocketStreamBase } from "../src/websocket-stream.ts";
import { FakeClock, until } from "./helpers/fake-clock.ts";
import { memoryPair, RawPeer, within } from "./helpers/memory-transport.ts";
import { decodeAll } from "./helpers/frames.ts";

// A server-side transport that records what is written (by reference, to see shared bytes) and
// can hold writes, as a subscriber that does not read would.
class RecordingTransport implements Transport {
  readonly written: Uint8Array[] = [];
  remoteAddress = "192.0.2.7";
  remotePort = 40001;
  #inner: Transport;
  #held: (() => void)[] | undefined;
  #destroyed = false;

  constructor(inner: TransportLike) {
    this.#inner = toTransport(inner);
  }

  hold(): void {
    this.#held ??= [];
  }

  release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const resume of held) resume();
  }

  read(): Promise<Uint8Array | null> {
    return this.#inner.read();
  }

  write(chunks: readonly Uint8Array[]): Promise<void> | undefined {
    this.written.push(...chunks);
    const held = this.#held;
    if (held === undefined) return this.#inner.write(chunks);
    return new Promise<void>((resolve, reject) =>
      held.push(() => {
        if (this.#destroyed) reject(new Error("destroyed"));
        else void Promise.resolve(this.#inner.write(chunks)).then(resolve, reject);
      })
    );
  }

  // After every held write, as a socket's end is.
  end(): Promise<void> {
    const held = this.#held;
    if (held === undefined) return this.#inner.end();
    return new Promise<void>((resolve, reject) => held.push(() => void this.#inner.end().then(resolve, reject)));
  }

  destroy(reason?: unknown): void {
    this.#destroyed = true;
    this.#inner.destroy(reason);
  }

  listen?(_sink: TransportSink): boolean {
    return false;
  }
}

interface Peer<A extends ServerApi> {
  client: WebSocketStreamBase;
  server: ServerSocketFor<A>;
  transport: RecordingTransport;
  messages: (string | Uint8Array)[];
}

async function join<A extends ServerApi>(group: ConnectionGroup<A>, options: Parameters<typeof connectWebSocket>[2] = {}): Promise<Peer<A>> {
  const [clientSide, serverSide] = memoryPair();
  const transport = new RecordingTransport(serverSide);
  const accepted = group.accept(transport, { scheme: "ws:" });
  const client = connectWebSocket("ws://test.invalid/", clientSide, options);
  const server = await within(accepted);
  if (server === undefined) throw new Error("refused");
  const { readable } = await within(client.opened);
  const messages: (string | Uint8Array)[] = [];
  const reader = readable.getReader();
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      messages.push(value);
    }
  })().catch(() => {});
  return { client, server, transport, messages };
}

// Stored DEFLATE blocks: a deterministic "compression" every runtime can undo, counting the
// compressors made.
function storedBackend(): DeflateBackend & { compressors: number } {
  const backend = {
    compressors: 0,
    createCompressor(): Compressor {
      backend.compressors++;
      return {
        compress: (data: Uint8Array) => Promise.resolve(Uint8Array.of(0, data.length & 0xff, data.length >> 8, ~data.length & 0xff, (~data.length >> 8) & 0xff, ...data, 0, 0, 0, 0xff, 0xff)),
        close: () => {},
      };
    },
    createDecompressor(): Decompressor {
      return {
        decompress: (input: Uint8Array) => {
          const out: number[] = [];
          let at = 0;
          while (at < input.length) {
            const length = input[at + 1]! | (input[at + 2]! << 8);
            out.push(...input.subarray(at + 5, at + 5 + length));
            at += 5 + length;
          }
          return Promise.resolve(Uint8Array.from(out));
        },
        close: () => {},
      };
    },
  };
  return backend;
}

const text = new TextDecoder();

describe("pub/sub", () => {
  it("delivers a published message to every subscriber, and a connection's publish skips itself", async () => {
    const group = new ConnectionGroup({ handler: () => {} });
    const [a, b, c] = [await join(group), await join(group), await join(group)];
    expect(a.server.subscribe("news")).toBe(true);
    expect(a.server.subscribe("news")).toBe(false);
    b.server.subscribe("news");
    expect(group.hub.subscriberCount("news")).toBe(2);
    expect(a.server.publish("news", "from a")).toBe(1);
    expect(group.publish("news", Uint8Array.of(1, 2, 3))).toBe(2);
    expect(a.server.publish("news", "to all", { includeSelf: true })).toBe(2);
    await until(() => a.messages.length === 2 && b.messages.length === 3);
    expect(b.messages).toEqual(["from a", Uint8Array.of(1, 2, 3), "to all"]);
    expect(a.messages).toEqual([Uint8Array.of(1, 2, 3), "to all"]);
    expect(c.messages).toEqual([]);
    expect(group.hub.counts).toEqual({ published: 3, delivered: 5, dropped: 0 });
  });

  it("hands every subscriber the same frame bytes, encoded once", async () => {
    const group = new ConnectionGroup({ handler: () => {} });
    const peers = [await join(group), await join(group), await join(group)];
    for (const peer of peers) peer.server.subscribe("t");
    const payload = new Uint8Array(3000).fill(7);
    expect(group.publish("t", payload)).toBe(3);
    await until(() => peers.every((peer) => peer.messages.length === 1));
    const frames = peers.map((peer) => peer.transport.written.find((chunk) => chunk.length === 3000 + 4));
    expect(frames[0]).toBeDefined();
    expect(frames[1]).toBe(frames[0]);
    expect(frames[2]).toBe(frames[0]);
    expect(decodeAll("client", [frames[0]!])).toMatchObject([{ opcode: 2, fin: true }]);
    for (const peer of peers) expect(peer.messages[0]).toEqual(payload);
  });

  it("compresses once for subscribers without context takeover, and per connection otherwise", async () => {
    const backend = storedBackend();
    const group = new ConnectionGroup({ handler: () => {}, extensions: [permessageDeflate({ backend, threshold: 0 })] });
    const clientBackend = storedBackend();
    const shared = [
      await join(group, { extensions: [permessageDeflate({ backend: clientBackend, serverNoContextTakeover: true })] }),
      await join(group, { extensions: [permessageDeflate({ backend: clientBackend, serverNoContextTakeover: true })] }),
    ];
    const own = await join(group, { extensions: [permessageDeflate({ backend: clientBackend })] });
    const plain = await join(group);
    const all = [...shared, own, plain];
    for (const peer of all) peer.server.subscribe("t");
    const before = backend.compressors;
    expect(group.publish("t", "hello subscribers")).toBe(4);
    await until(() => all.every((peer) => peer.messages.length === 1));
    for (const peer of all) expect(peer.messages).toEqual(["hello subscribers"]);
    // One compressor for the two without context takeover, one for the connection keeping its own.
    expect(backend.compressors - before).toBe(2);
    const frame = (peer: Peer<"stream">) => peer.transport.written.find((chunk) => chunk[0] === 0xc1);
    expect(frame(shared[0]!)).toBeDefined();
    expect(frame(shared[1]!)).toBe(frame(shared[0]!));
    expect(frame(own)).not.toBe(frame(shared[0]!));
    expect(frame(plain)).toBeUndefined();
  });

  it("keeps a subscriber's order: published messages between the ones it sent itself", async () => {
    const backend = storedBackend();
    const group = new ConnectionGroup({ api: "websocket", handler: () => {}, extensions: [permessageDeflate({ backend, threshold: 0 })] });
    const peer = await join(group, { extensions: [permessageDeflate({ backend: storedBackend(), serverNoContextTakeover: true })] });
    peer.server.subscribe("t");
    peer.server.send("one");
    group.publish("t", "two");
    peer.server.send("three");
    await until(() => peer.messages.length === 3);
    expect(peer.messages).toEqual(["one", "two", "three"]);
  });

  it("closes a subscriber over its backlog with 1013, and the others still get the message", async () => {
    const group = new ConnectionGroup({ api: "websocket", handler: () => {}, pubsub: { backlog: 10_000 } });
    const slow = await join(group);
    const fast = await join(group);
    slow.server.subscribe("t");
    fast.server.subscribe("t");
    slow.transport.hold();
    const chunk = new Uint8Array(4000);
    let delivered = 0;
    for (let i = 0; i < 5; i++) {
      delivered += group.publish("t", chunk);
      await until(() => fast.messages.length === i + 1);
    }
    // Two fit in the slow one's backlog, the third trips it; the fast one gets all five.
    expect(delivered).toBe(5 + 2);
    expect(group.hub.counts.dropped).toBe(1);
    expect(slow.server.readyState).toBeGreaterThanOrEqual(2);
    slow.transport.release();
    expect(await within(slow.client.closed)).toEqual({ closeCode: 1013, reason: "subscriber too slow" });
    await until(() => group.hub.subscriberCount("t") === 1);
  });

  it("skips a slow subscriber when told to, which then gets later messages", async () => {
    const group = new ConnectionGroup({ handler: () => {}, pubsub: { backlog: 10_000, slowSubscriber: "skip" } });
    const slow = await join(group);
    slow.server.subscribe("t");
    slow.transport.hold();
    for (let i = 0; i < 4; i++) group.publish("t", new Uint8Array(4000).fill(i));
    expect(group.hub.counts).toMatchObject({ delivered: 2, dropped: 2 });
    slow.transport.release();
    await until(() => slow.messages.length === 2);
    expect(group.publish("t", "later")).toBe(1);
    await until(() => slow.messages.length === 3);
    expect((slow.messages[1] as Uint8Array)[0]).toBe(1);
    expect(slow.messages[2]).toBe("later");
  });

  it("forgets a connection's subscriptions once it closes", async () => {
    const group = new ConnectionGroup({ handler: () => {} });
    const peer = await join(group);
    peer.server.subscribe("a");
    peer.server.subscribe("b");
    expect(peer.server.subscriptions).toEqual(["a", "b"]);
    expect(peer.server.unsubscribe("a")).toBe(true);
    expect(peer.server.unsubscribe("a")).toBe(false);
    expect(peer.server.isSubscribed("b")).toBe(true);
    peer.client.close();
    await within(peer.client.closed);
    await until(() => group.hub.subscriberCount("b") === 0);
    expect(group.hub.topics).toEqual([]);
    expect(() => peer.server.subscribe("c")).toThrow(UsageError);
    expect(group.publish("b", "nobody")).toBe(0);
  });

  it("is for server connections: a client's subscribe and publish throw", () => {
    const [clientSide] = memoryPair();
    const client = new WebSocketBase("ws://test.invalid/", undefined, clientSide);
    expect(() => client.subscribe("t")).toThrow(UsageError);
    expect(() => client.publish("t", "x")).toThrow(UsageError);
    expect(client.isSubscribed("t")).toBe(false);
    expect(client.subscriptions).toEqual([]);
    client.close();
  });

  it("refuses data that is not text or bytes, and bad options", async () => {
    const group = new ConnectionGroup({ handler: () => {} });
    expect(() => group.publish("t", {} as unknown as string)).toThrow(TypeError);
    expect(() => new Hub({ backlog: -1 })).toThrow(RangeError);
    expect(() => new Hub({ slowSubscriber: "queue" as "skip" })).toThrow(RangeError);
  });
});

// A bridge that records what the hub tells it, and can deliver as another process would.
function fakeBridge() {
  const events: unknown[][] = [];
  const hubs: LocalHub[] = [];
  const bridge: PubSubBridge = {
    attach(hub) {
      hubs.push(hub);
      events.push(["attach"]);
      return {
        subscribed: (topic) => events.push(["subscribed", topic]),
        unsubscribed: (topic) => events.push(["unsubscribed", topic]),
        // Copied: the bytes may be the publisher's own.
        published: (topic, payload, binary) => events.push(["published", topic, payload.slice(), binary]),
        detach: () => events.push(["detach"]),
      };
    },
  };
  return { bridge, events, hubs };
}

describe("a pub/sub bridge", () => {
  it("is told when a topic gains its first subscriber and loses its last, and when the server closes", async () => {
    const { bridge, events } = fakeBridge();
    const group = new ConnectionGroup({ handler: () => {}, pubsub: { bridge } });
    const [a, b] = [await join(group), await join(group)];
    a.server.subscribe("news");
    b.server.subscribe("news");
    b.server.subscribe("sport");
    a.server.unsubscribe("news");
    expect(events).toEqual([["attach"], ["subscribed", "news"], ["subscribed", "sport"]]);
    b.server.unsubscribe("news");
    expect(events.at(-1)).toEqual(["unsubscribed", "news"]);
    await within(group.closeAll());
    // b's close left "sport", then the hub let go of the bridge.
    expect(events.slice(-2)).toEqual([["unsubscribed", "sport"], ["detach"]]);
  });

  it("is handed every local publish, text or binary, after the local delivery", async () => {
    const { bridge, events } = fakeBridge();
    const group = new ConnectionGroup({ handler: () => {}, pubsub: { bridge } });
    const a = await join(group);
    a.server.subscribe("t");
    expect(group.publish("t", "hello")).toBe(1);
    expect(a.server.publish("t", Uint8Array.of(1, 2))).toBe(0);
    // A publish to a topic nobody here follows still goes out: other processes may follow it.
    expect(group.publish("elsewhere", new Uint16Array([0x0201]).buffer)).toBe(0);
    expect(events.slice(2)).toEqual([
      ["published", "t", new TextEncoder().encode("hello"), false],
      ["published", "t", Uint8Array.of(1, 2), true],
      ["published", "elsewhere", Uint8Array.of(1, 2), true],
    ]);
    await until(() => a.messages.length === 1);
    expect(a.messages).toEqual(["hello"]);
  });

  it("delivers what the bridge brings to local subscribers only, without handing it back", async () => {
    const { bridge, events, hubs } = fakeBridge();
    const group = new ConnectionGroup({ handler: () => {}, pubsub: { bridge } });
    const [a, b] = [await join(group), await join(group)];
    a.server.subscribe("t");
    b.server.subscribe("t");
    const hub = hubs[0]!;
    expect(hub.topics).toEqual(["t"]);
    expect(hub.deliver("t", new TextEncoder().encode("from afar"), false)).toBe(2);
    expect(hub.deliver("t", Uint8Array.of(9), true)).toBe(2);
    expect(hub.deliver("nobody", Uint8Array.of(9), true)).toBe(0);
    await until(() => a.messages.length === 2 && b.messages.length === 2);
    expect(a.messages).toEqual(["from afar", Uint8Array.of(9)]);
    expect(b.messages).toEqual(["from afar", Uint8Array.of(9)]);
    expect(events.filter((event) => event[0] === "published")).toEqual([]);
    expect(() => hub.deliver(7 as unknown as string, Uint8Array.of(9), true)).toThrow(TypeError);
    expect(() => hub.deliver("t", "text" as unknown as Uint8Array, false)).toThrow(TypeError);
  });

  it("throws at construction for a bridge without attach()", () => {
    expect(() => new Hub({ bridge: {} as PubSubBridge })).toThrow(TypeError);
  });
});

describe("a server's connections", () => {
  it("lists the open connections, with the peer's address, and drops closed ones", async () => {
    const group = new ConnectionGroup({ api: "websocket", handler: () => {} });
    const a = await join(group);
    const b = await join(group);
    expect(group.connections.size).toBe(2);
    expect([...group.connections]).toEqual([a.server, b.server]);
    expect(group.connections.has(a.server)).toBe(true);
    expect(a.server.remoteAddress).toBe("192.0.2.7");
    expect(a.server.remotePort).toBe(40001);
    a.client.close();
    await within(a.client.closed);
    await until(() => group.connections.size === 1);
    expect([...group.connections]).toEqual([b.server]);
  });

  it("reports how many connections closed cleanly when closing all", async () => {
    const clock = new FakeClock();
    const group = new ConnectionGroup({ handler: () => {}, clock, closeTimeout: 1000 });
    const good = await join(group);
    // A raw peer that never answers the Close.
    const [clientSide, serverSide] = memoryPair();
    const accepted = group.accept(serverSide, { scheme: "ws:" });
    const raw = new RawPeer(clientSide, { endOnEof: false });
    await raw.send(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
    await within(accepted);
    const report = group.closeAll();
    await within(good.client.closed);
    await until(() => text.decode(raw.bytes()).includes("server closing"));
    await clock.advance(1000);
    expect(await within(report)).toEqual({ connections: 2, clean: 1 });
  });
});
