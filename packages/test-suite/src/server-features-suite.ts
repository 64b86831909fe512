/**
 * The shared suite for what a running server offers on every adapter, over real loopback sockets:
 * its open connections, the client's address in what the handler receives, pub/sub between
 * clients (the runtime's own client, ours), and a close that reports how many closed cleanly.
 * Each adapter's `test/server-features.test.ts` passes its entry points here.
 */
import { describe, expect, it } from "vitest";
import type { CloseReport, OpenConnections, PublishData, WebSocketBase, WebSocketStreamBase } from "@wsstream/core";

/** What the suite drives: the adapter's `serve()` and client `WebSocket`. */
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
    close(): Promise<CloseReport>;
  }>;
  readonly WebSocket: new (url: string) => WebSocketBase;
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
export function defineServerFeaturesSuite({ serve, WebSocket }: ServerFeaturesAdapter): void {
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
}
