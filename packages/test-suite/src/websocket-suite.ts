/**
 * The WHATWG `WebSocket` suite, shared by every adapter: each runtime's test file hands in its
 * adapter (our client and server) and the peers that runtime has (ws and undici on Node, the
 * built-in client and server on Deno and Bun), and the same cases run for every pairing in which
 * one side is ours, over real loopback sockets. Runtime-neutral: no `node:*` imports here.
 *
 * @module
 */
import { describe, expect, it } from "vitest";

/** The part of a WHATWG `WebSocket` (ours, undici's, ws's, a runtime's) the suite drives. */
export interface AnySocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  readonly protocol: string;
  binaryType: string;
  send(data: string | ArrayBuffer | ArrayBufferView | Blob): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: Event) => void, options?: { once?: boolean }): void;
}

/** A client peer: opens a socket to `url` offering `protocols`. */
export interface ClientPeer {
  readonly name: string;
  readonly ours: boolean;
  open(url: string, protocols?: string[]): AnySocket;
}

/** A running server peer. */
export interface RunningServer {
  readonly url: string;
  close(): Promise<void>;
}

/** What a server peer does with each connection. */
export interface ServerBehaviour {
  /** Called with each open server-side socket. */
  readonly onSocket: (ws: AnySocket) => void;
  /** The subprotocol to choose among those offered, if any. */
  readonly protocol?: string;
}

/** A server peer: starts a WebSocket server on 127.0.0.1, port 0. */
export interface ServerPeer {
  readonly name: string;
  readonly ours: boolean;
  start(behaviour: ServerBehaviour): Promise<RunningServer>;
}

/** Our adapter's stream interface, for the misuse cases. */
export interface StreamApi {
  readonly WebSocketStream: new (url: string, options?: Record<string, unknown>) => {
    readonly opened: Promise<{ readable: ReadableStream<string | Uint8Array>; writable: WritableStream<string | Uint8Array> }>;
    readonly closed: Promise<{ closeCode?: number; reason?: string }>;
    close(info?: { closeCode?: number; reason?: string }): void;
  };
  readonly WebSocketError: new (message?: string, init?: { closeCode?: number; reason?: string }) => Error;
}

/** An adapter's `serve()`, as far as {@link ourServerPeer} needs it. */
export type AnyServe = (options: {
  api: "websocket";
  upgrade: (request: Request) => { protocol: string } | undefined;
  handler: (ws: AnySocket) => void;
}) => Promise<{ readonly port: number; close(): Promise<void> }>;

/** Our server as a peer: `serve({ api: "websocket" })` of the adapter under test. */
export function ourServerPeer(serve: AnyServe): ServerPeer {
  return {
    name: "wsstream",
    ours: true,
    async start(behaviour) {
      const server = await serve({
        api: "websocket",
        upgrade: (request) => {
          const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(/\s*,\s*/);
          return behaviour.protocol !== undefined && offered.includes(behaviour.protocol) ? { protocol: behaviour.protocol } : undefined;
        },
        handler: (ws) => behaviour.onSocket(ws),
      });
      return { url: `ws://127.0.0.1:${server.port}`, close: () => server.close() };
    },
  };
}

const WAIT = 10_000;

function within<T>(promise: Promise<T>, what: string, ms = WAIT): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

interface Recorded {
  readonly events: string[];
  readonly messages: unknown[];
  readonly open: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string; wasClean: boolean }>;
  next(count: number): Promise<unknown[]>;
}

// Records a socket's events from the start: `open`, `message`, `error`, `close:CODE`.
function recordSocket(ws: AnySocket): Recorded {
  const events: string[] = [];
  const messages: unknown[] = [];
  let wake: (() => void) | undefined;
  const open = new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", (() => {
      events.push("open");
      resolve();
    }) as never);
    ws.addEventListener("close", (() => reject(new Error("closed before open"))) as never);
  });
  open.catch(() => {});
  ws.addEventListener("message", ((event: { data: unknown }) => {
    events.push("message");
    messages.push(event.data);
    wake?.();
  }) as never);
  ws.addEventListener("error", (() => events.push("error")) as never);
  const closed = new Promise<{ code: number; reason: string; wasClean: boolean }>((resolve) => {
    ws.addEventListener("close", ((event: { code: number; reason: string; wasClean: boolean }) => {
      events.push(`close:${event.code}`);
      resolve({ code: event.code, reason: event.reason, wasClean: event.wasClean });
    }) as never);
  });
  const next = async (count: number): Promise<unknown[]> => {
    await within((async () => {
      while (messages.length < count) await new Promise<void>((resolve) => (wake = resolve));
    })(), `${count} messages`);
    return messages.slice(0, count);
  };
  return { events, messages, open, closed, next };
}

async function bytesOf(data: unknown): Promise<number[]> {
  if (data instanceof ArrayBuffer) return Array.from(new Uint8Array(data));
  if (data instanceof Blob) return Array.from(new Uint8Array(await data.arrayBuffer()));
  if (ArrayBuffer.isView(data)) return Array.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  throw new Error(`not binary: ${typeof data}`);
}

// Echoes every message; binary as ArrayBuffer.
const echo: ServerBehaviour = {
  onSocket: (ws) => {
    ws.binaryType = "arraybuffer";
    ws.addEventListener("message", ((event: { data: string | ArrayBuffer }) => ws.send(event.data)) as never);
  },
};

/** Defines the suite for one runtime. */
export function defineWebSocketSuite(runtime: string, clients: readonly ClientPeer[], servers: readonly ServerPeer[], streams: StreamApi): void {
  const pairs = clients.flatMap((client) => servers.filter((server) => client.ours || server.ours).map((server) => ({ client, server })));
  const ourClient = clients.find((c) => c.ours)!;
  const ourServer = servers.find((s) => s.ours)!;

  describe(`WebSocket on ${runtime}, against real peers`, () => {
    describe.each(pairs)("$client.name client → $server.name server", ({ client, server }) => {
      it("opens, echoes text and binary, and closes cleanly with the code, firing open, message and close in order", async () => {
        const running = await server.start({ ...echo, protocol: "chat" });
        try {
          const ws = client.open(`${running.url}/echo`, ["chat", "other"]);
          const rec = recordSocket(ws);
          ws.binaryType = "arraybuffer";
          await within(rec.open, "open");
          expect(ws.protocol).toBe("chat");
          ws.send("héllo ✓");
          ws.send(Uint8Array.of(0, 1, 255));
          ws.send(new Uint8Array(70_000).fill(7).buffer);
          const [text, binary, big] = await rec.next(3);
          expect(text).toBe("héllo ✓");
          expect(await bytesOf(binary)).toEqual([0, 1, 255]);
          expect(binary).toBeInstanceOf(ArrayBuffer);
          expect((big as ArrayBuffer).byteLength).toBe(70_000);
          ws.close(4000, "done");
          const closed = await within(rec.closed, "close");
          expect(closed.code).toBe(4000);
          expect(closed.wasClean).toBe(true);
          expect(ws.readyState).toBe(3);
          expect(rec.events).toEqual(["open", "message", "message", "message", "close:4000"]);
        } finally {
          await running.close();
        }
      });

      it("reports the server's close code and reason to the client", async () => {
        const running = await server.start({
          onSocket: (ws) => ws.addEventListener("message", (() => ws.close(4001, "server says bye")) as never),
        });
        try {
          const ws = client.open(`${running.url}/`);
          const rec = recordSocket(ws);
          await within(rec.open, "open");
          ws.send("close please");
          const closed = await within(rec.closed, "close");
          expect([closed.code, closed.reason, closed.wasClean]).toEqual([4001, "server says bye", true]);
        } finally {
          await running.close();
        }
      });
    });

    describe.each(servers)("our client → $name server", (server) => {
      it("delivers binary as a Blob by default, grows bufferedAmount on send() and drains it to zero", async () => {
        const running = await server.start(echo);
        try {
          const ws = ourClient.open(`${running.url}/`);
          const rec = recordSocket(ws);
          await within(rec.open, "open");
          expect(ws.binaryType).toBe("blob");
          const chunk = new Uint8Array(256 * 1024);
          for (let i = 0; i < 16; i++) ws.send(chunk);
          // At least the last send is still queued: frames go to the transport on the next turn.
          expect(ws.bufferedAmount).toBeGreaterThanOrEqual(chunk.length);
          const got = await rec.next(16);
          expect(got[0]).toBeInstanceOf(Blob);
          expect((got[15] as Blob).size).toBe(chunk.length);
          expect(ws.bufferedAmount).toBe(0);
          ws.close();
          await within(rec.closed, "close");
        } finally {
          await running.close();
        }
      });

      it("throws for every invalid close() argument without changing anything, then closes on a valid call", async () => {
        const running = await server.start(echo);
        try {
          const ws = ourClient.open(`${running.url}/`);
          const rec = recordSocket(ws);
          expect(() => ws.send("too early")).toThrowError(expect.objectContaining({ name: "InvalidStateError" }));
          await within(rec.open, "open");
          for (const code of [0, 999, 1001, 1004, 1005, 1006, 1015, 2999, 5000]) {
            expect(() => ws.close(code)).toThrowError(expect.objectContaining({ name: "InvalidAccessError" }));
          }
          expect(() => ws.close(1000, "x".repeat(124))).toThrowError(expect.objectContaining({ name: "SyntaxError" }));
          expect(ws.readyState).toBe(1);
          ws.send("still open");
          await rec.next(1);
          ws.close(3001, "x".repeat(123));
          const closed = await within(rec.closed, "close");
          expect([closed.code, closed.wasClean]).toEqual([3001, true]);
          ws.close(1000);
          ws.send("after the end");
          expect(ws.bufferedAmount).toBeGreaterThan(0);
        } finally {
          await running.close();
        }
      });
    });

    describe.each(clients)("$name client → our server", (client) => {
      it("hands the handler an open WebSocket whose close() checks its arguments like the client's", async () => {
        const outcomes: string[] = [];
        const running = await ourServer.start({
          onSocket: (ws) => {
            outcomes.push(`readyState ${ws.readyState}`);
            for (const [code, reason] of [[1004, ""], [1000, "y".repeat(200)]] as const) {
              try {
                ws.close(code, reason);
              } catch (error) {
                outcomes.push((error as Error).name);
              }
            }
            ws.close(4002, "checked");
          },
        });
        try {
          const ws = client.open(`${running.url}/`);
          const rec = recordSocket(ws);
          const closed = await within(rec.closed, "close");
          expect(outcomes).toEqual(["readyState 1", "InvalidAccessError", "SyntaxError"]);
          expect([closed.code, closed.reason]).toEqual([4002, "checked"]);
        } finally {
          await running.close();
        }
      });
    });

    describe("WebSocketStream misuse", () => {
      async function streamPair(): Promise<{ running: RunningServer; closes: Promise<{ code: number; reason: string }> }> {
        let closed!: (value: { code: number; reason: string }) => void;
        const closes = new Promise<{ code: number; reason: string }>((resolve) => (closed = resolve));
        const running = await ourServer.start({
          onSocket: (ws) => ws.addEventListener("close", ((event: { code: number; reason: string }) => closed({ code: event.code, reason: event.reason })) as never),
        });
        return { running, closes };
      }

      it("throws at close() for a bad code or reason while writes are pending, keeps close() usable, and closes with 1000 for a reason alone", async () => {
        const { running, closes } = await streamPair();
        try {
          const ws = new streams.WebSocketStream(`${running.url}/`);
          const { writable } = await within(ws.opened, "opened");
          const writer = writable.getWriter();
          const writes = Array.from({ length: 50 }, () => writer.write("x".repeat(10_000)).catch(() => {}));
          expect(() => ws.close({ closeCode: 1004 })).toThrowError(expect.objectContaining({ name: "InvalidAccessError" }));
          expect(() => ws.close({ closeCode: 1000, reason: "r".repeat(200) })).toThrowError(expect.objectContaining({ name: "SyntaxError" }));
          ws.close({ reason: "bye" });
          expect(await within(ws.closed, "closed")).toEqual({ closeCode: 1000, reason: "" });
          expect(await within(closes, "the server's close")).toEqual({ code: 1000, reason: "bye" });
          await Promise.all(writes);
        } finally {
          await running.close();
        }
      });

      it("sends a Close for readable.cancel() with a WebSocketError whose code cannot be sent", async () => {
        const { running, closes } = await streamPair();
        try {
          const ws = new streams.WebSocketStream(`${running.url}/`);
          const { readable } = await within(ws.opened, "opened");
          await readable.cancel(new streams.WebSocketError("", { closeCode: 1005 }));
          expect(await within(closes, "the server's close")).toEqual({ code: 1005, reason: "" });
          await within(ws.closed, "closed");
        } finally {
          await running.close();
        }
      });
    });
  });
}
