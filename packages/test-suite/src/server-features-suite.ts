/**
 * The shared suite for what a running server offers on every adapter, over real loopback sockets:
 * its open connections, the client's address in what the handler receives, pub/sub between
 * clients (the runtime's own client, ours), a close that reports how many closed cleanly, and its
 * stats and ping() alongside the clients'.
 * Each adapter's `test/server-features.test.ts` passes its entry points here.
 */
import { describe, expect, it } from "vitest";
import type { CloseReport, OpenConnections, PublishData, ServerStats, WebSocketBase, WebSocketStreamBase } from "@wsstream/core";

/** What the suite drives: the adapter's `serve()` and its clients `WebSocket` and `WebSocketStream`. */
export interface ServerFeaturesAdapter {
  readonly serve: <A extends "websocket" | "stream">(options: {
    api: A;
    handler: (ws: A extends "websocket" ? WebSocketBase : WebSocketStreamBase) => void;
    pubsub?: { backlog?: number; slowSubscriber?: "close" | "skip" };
  }) => Promise<{
    readonly port: number;
    readonly connections: OpenConnections<A extends "websocket" ? WebSocketBase : WebSocketStreamBase>;
    publish(topic: string, data: PublishData): number;
    subscriberCount(topic: string): number;
    readonly stats: ServerStats;
    close(): Promise<CloseReport>;
  }>;
  readonly WebSocket: new (url: string) => WebSocketBase;
  readonly WebSocketStream: new (url: string) => WebSocketStreamBase;
}

const within = <T>(ms: number, what: string, promise: Promise<T>): Promise<T> => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`Timed out: ${what}`)), ms))),
  ]).finally(() => clearTimeout(timer));
};

async function eventually(what: string, condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// A client that records its text messages.
async function client(WebSocket: ServerFeaturesAdapter["WebSocket"], port: number): Promise<{ ws: WebSocketBase; messages: string[] }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  const messages: string[] = [];
  ws.onmessage = (event) => void messages.push(String(event.data));
  await within(5000, "the client to open", new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("The client did not open"));
  }));
  return { ws, messages };
}

/** Defines the suite for one adapter. */
export function defineServerFeaturesSuite({ serve, WebSocket, WebSocketStream }: ServerFeaturesAdapter): void {
  describe("a running server", () => {
    it("lists its open connections with each client's address, and reports a clean close", async () => {
      const addresses: [string | undefined, number | undefined][] = [];
      const server = await serve({
        api: "websocket",
        handler: (ws) => void addresses.push([ws.remoteAddress, ws.remotePort]),
      });
      try {
        const clients = [await client(WebSocket, server.port), await client(WebSocket, server.port)];
        await eventually("both connections listed", () => server.connections.size === 2);
        expect([...server.connections].map((ws) => ws.readyState)).toEqual([1, 1]);
        expect(addresses).toHaveLength(2);
        for (const [address, port] of addresses) {
          expect(address).toBe("127.0.0.1");
          expect(port).toBeGreaterThan(0);
        }
        expect(addresses[0]![1]).not.toBe(addresses[1]![1]);
        clients[0]!.ws.close();
        await eventually("the closed one to leave the list", () => server.connections.size === 1);
        expect(await within(10_000, "server.close()", server.close())).toEqual({ connections: 1, clean: 1 });
        expect(server.connections.size).toBe(0);
      } finally {
        await server.close();
      }
    });

    it("relays a published message from one client to the other subscribers, and from the server to all", async () => {
      const server = await serve({
        api: "websocket",
        handler: (ws) => {
          ws.subscribe("room");
          ws.onmessage = (event) => void ws.publish("room", String(event.data));
        },
      });
      try {
        const [a, b, c] = [await client(WebSocket, server.port), await client(WebSocket, server.port), await client(WebSocket, server.port)];
        await eventually("three subscribers", () => server.subscriberCount("room") === 3);
        a!.ws.send("hello from a");
        await eventually("b and c to receive it", () => b!.messages.length === 1 && c!.messages.length === 1);
        expect(b!.messages).toEqual(["hello from a"]);
        expect(c!.messages).toEqual(["hello from a"]);
        expect(server.publish("room", "from the server")).toBe(3);
        await eventually("everyone to receive the server's", () => a!.messages.length === 1 && c!.messages.length === 2);
        expect(a!.messages).toEqual(["from the server"]);
        b!.ws.close();
        await eventually("b's subscription to end with it", () => server.subscriberCount("room") === 2);
      } finally {
        await server.close();
      }
    });

    it("publishes to WebSocketStream subscribers too", async () => {
      const server = await serve({
        api: "stream",
        handler: (ws) => {
          ws.subscribe("ticks");
        },
      });
      try {
        const peers = [await client(WebSocket, server.port), await client(WebSocket, server.port)];
        await eventually("two subscribers", () => server.subscriberCount("ticks") === 2);
        for (let i = 0; i < 100; i++) server.publish("ticks", `tick ${i}`);
        await eventually("every tick, in order", () => peers.every((peer) => peer.messages.length === 100));
        for (const peer of peers) expect(peer.messages).toEqual(Array.from({ length: 100 }, (_, i) => `tick ${i}`));
      } finally {
        await server.close();
      }
    });
  });

  describe("Server.stats and ping() over real sockets", () => {
    it("sums every connection, closed ones included, counts the open ones, and takes the round-trip time of ping()", async () => {
      const rtts: number[] = [];
      const server = await serve({
        api: "stream",
        handler: async (ws) => {
          rtts.push(await ws.ping());
          const { readable, writable } = await ws.opened;
          await readable.pipeTo(writable).catch(() => {});
        },
      });
      const url = `ws://127.0.0.1:${server.port}/`;
      const first = new WebSocketStream(url);
      let second: WebSocketStreamBase | undefined;
      try {
        const a = await within(5000, "the first client", first.opened);
        await a.writable.getWriter().write("abc");
        expect((await within(5000, "the echo", a.readable.getReader().read())).value).toBe("abc");
        first.close({ closeCode: 1000 });
        await within(5000, "the first close", first.closed);
        second = new WebSocketStream(url);
        const b = await within(5000, "the second client", second.opened);
        await b.writable.getWriter().write(new Uint8Array(300));
        expect((await within(5000, "the echo", b.readable.getReader().read())).value).toHaveLength(300);
        const rtt = await within(5000, "the client's ping", second.ping());
        expect(rtt).toBeGreaterThanOrEqual(0);
        expect(second.stats.lastRtt).toBe(rtt);
        await eventually("one connection open and both server pings answered", () => server.stats.openConnections === 1 && rtts.length === 2);
        const [sa, sb] = [first.stats, second.stats];
        expect(server.stats).toMatchObject({
          bytesIn: sa.bytesOut + sb.bytesOut,
          bytesOut: sa.bytesIn + sb.bytesIn,
          framesIn: sa.framesOut + sb.framesOut,
          framesOut: sa.framesIn + sb.framesIn,
          messagesIn: 2,
          messagesOut: 2,
          openConnections: 1,
          acceptedConnections: 2,
          lastRtt: rtts[1],
        });
        // Client: "abc" (2+4+3), its Pong (2+4+4) and its Close (2+4+2); server: its Ping (2+4), "abc" (2+3), Close (2+2).
        expect(sa).toMatchObject({ bytesOut: 9 + 10 + 8, bytesIn: 6 + 5 + 4, framesIn: 3, framesOut: 3 });
      } finally {
        first.close();
        second?.close();
        await server.close();
      }
    });
  });
}
