import { describe, expect, it } from "vitest";
import { ConnectionGroup } from "../src/connection-group.ts";
import { HandshakeError, UsageError } from "../src/errors.ts";
import type { CloseEvent, ErrorEvent, MessageEvent } from "../src/event-target.ts";
import { type ConnectSocket, type DisconnectInfo, type DropEvent, type ReconnectEvent, ReconnectingWebSocketBase, type ReconnectOptions } from "../src/reconnecting.ts";
import { WebSocketBase } from "../src/websocket.ts";
import { FakeClock, until } from "./helpers/fake-clock.ts";
import { killablePair } from "./helpers/memory-transport.ts";

// An echo server over in-memory transports that can be killed (every connection errors, new
// ones are refused, as when its process dies) and started again.
class TestServer {
  up = true;
  /** Transports asked for: one per connection attempt. */
  attempts = 0;
  /** Text messages the server received, in order, over all connections. */
  readonly received: string[] = [];
  readonly sockets: WebSocketBase[] = [];
  /** An HTTP status to refuse upgrades with, while set. */
  refuseWith: number | undefined;
  readonly clock: FakeClock;
  readonly #group: ConnectionGroup<"websocket">;
  #kills: (() => void)[] = [];

  constructor(clock: FakeClock) {
    this.clock = clock;
    this.#group = new ConnectionGroup({
      api: "websocket",
      clock,
      upgrade: () => (this.refuseWith === undefined ? undefined : new Response("no", { status: this.refuseWith })),
      handler: (ws) => {
        this.sockets.push(ws);
        ws.binaryType = "arraybuffer";
        ws.onmessage = (event) => {
          this.received.push(typeof event.data === "string" ? event.data : `bytes:${[...new Uint8Array(event.data as ArrayBuffer)].join(",")}`);
          ws.send(event.data as string | ArrayBuffer);
        };
      },
    });
  }

  readonly connect: ConnectSocket = (url, protocols) => new WebSocketBase(url, protocols, () => this.#open(), { clock: this.clock });

  #open() {
    this.attempts++;
    if (!this.up) throw new Error("connect ECONNREFUSED 127.0.0.1:9001");
    const pair = killablePair();
    this.#kills.push(pair.kill);
    void this.#group.accept(pair.server, { scheme: "ws:" });
    return pair.client;
  }

  kill(): void {
    this.up = false;
    for (const kill of this.#kills.splice(0)) kill();
  }

  start(): void {
    this.up = true;
  }
}

// Every event of a reconnecting socket, as short strings, in order.
function record(ws: ReconnectingWebSocketBase): string[] {
  const log: string[] = [];
  ws.addEventListener("open", () => log.push("open"));
  ws.addEventListener("message", (event) => log.push(`message:${String((event as MessageEvent).data)}`));
  ws.addEventListener("error", () => log.push("error"));
  ws.addEventListener("reconnecting", (event) => {
    const e = event as ReconnectEvent;
    log.push(`reconnecting:${e.attempt}:${e.delay}:${e.code}`);
  });
  ws.addEventListener("giveup", (event) => log.push(`giveup:${(event as ReconnectEvent).attempt}`));
  ws.addEventListener("drop", (event) => {
    const e = event as DropEvent;
    log.push(`drop:${e.reason}:${typeof e.data === "string" ? e.data : `bytes${(e.data as Uint8Array).byteLength}`}`);
  });
  ws.addEventListener("close", (event) => {
    const e = event as CloseEvent;
    log.push(`close:${e.code}:${e.wasClean}`);
  });
  return log;
}

function setup(options: ReconnectOptions = {}) {
  const clock = new FakeClock();
  const server = new TestServer(clock);
  const ws = new ReconnectingWebSocketBase("ws://test.invalid/feed", undefined, server.connect, {
    clock,
    random: () => 0.5,
    initialDelay: 100,
    maxDelay: 1000,
    ...options,
  });
  const log = record(ws);
  return { clock, server, ws, log };
}

async function waitOpen(ws: ReconnectingWebSocketBase, clock: FakeClock): Promise<void> {
  await clock.advance(0);
  await until(() => ws.readyState === 1, 2000, "the connection to open");
}

// The `reconnecting` entries of a log.
const scheduled = (log: string[]) => log.filter((line) => line.startsWith("reconnecting"));

describe("ReconnectingWebSocketBase", () => {
  it("reconnects after the server dies, waiting min(maxDelay, initialDelay × factor^(n-1)) × random() before attempt n", async () => {
    const { clock, server, ws, log } = setup();
    await waitOpen(ws, clock);
    server.kill();
    await until(() => ws.phase === "waiting", 2000, "the first wait");
    expect(ws.readyState).toBe(0);
    // Full jitter with random() = 0.5: 50, 100, 200, 400, then capped at 1000 × 0.5.
    const delays = [50, 100, 200, 400, 500, 500];
    for (const [i, delay] of delays.entries()) {
      const attempts = server.attempts;
      // The timer starts the attempt (counted at once); the transport is asked for a few turns later.
      await clock.advance(delay - 1);
      expect(ws.attempts).toBe(i);
      await clock.advance(1);
      expect(ws.attempts).toBe(i + 1);
      await until(() => server.attempts === attempts + 1, 2000, `attempt ${i + 1} to connect`);
      await until(() => scheduled(log).length === i + 2, 2000, `attempt ${i + 1} to fail`);
    }
    expect(scheduled(log)).toEqual([
      "reconnecting:1:50:1006",
      "reconnecting:2:100:1006",
      "reconnecting:3:200:1006",
      "reconnecting:4:400:1006",
      "reconnecting:5:500:1006",
      "reconnecting:6:500:1006",
      "reconnecting:7:500:1006",
    ]);
    expect(ws.attempts).toBe(6);
    server.start();
    await clock.advance(500);
    await until(() => ws.readyState === 1, 2000, "the reconnection");
    expect(ws.attempts).toBe(0);
    // The count starts again after a connection opened.
    server.kill();
    await until(() => scheduled(log).length === 8, 2000, "the next wait");
    expect(scheduled(log).at(-1)).toBe("reconnecting:1:50:1006");
    expect(log.filter((line) => line === "open")).toHaveLength(2);
    expect(log).not.toContain("close:1006:false");
    ws.close();
  });

  it.each([
    ["equal", [0, 0.5, 0.999], [50, 150, 399.8]],
    ["none", [0, 0.5, 0.999], [100, 200, 400]],
    ["full", [0, 0.5, 0.25], [0, 100, 100]],
  ] as const)("with %s jitter, waits what the formula gives for each random() drawn", async (jitter, draws, expected) => {
    const queue = [...draws, 0];
    const { clock, server, ws, log } = setup({ jitter, random: () => queue.shift()! });
    await waitOpen(ws, clock);
    server.kill();
    for (let i = 0; i < expected.length; i++) {
      await until(() => scheduled(log).length === i + 1, 2000, `wait ${i + 1}`);
      await clock.advance(expected[i]!);
    }
    expect(scheduled(log).slice(0, expected.length).map((line) => Number(line.split(":")[2]))).toEqual(expected);
    ws.close();
  });

  it("gives up after maxAttempts failed attempts in a row: giveup, then one close, and no further attempt", async () => {
    const { clock, server, ws, log } = setup({ maxAttempts: 2, jitter: "none" });
    await waitOpen(ws, clock);
    server.kill();
    await until(() => scheduled(log).length === 1);
    await clock.advance(100);
    await until(() => scheduled(log).length === 2);
    ws.send("never sent");
    await clock.advance(200);
    await until(() => ws.readyState === 3, 2000, "giving up");
    expect(log).toEqual([
      "open",
      "error",
      "reconnecting:1:100:1006",
      "error",
      "reconnecting:2:200:1006",
      "error",
      "giveup:2",
      "drop:closed:never sent",
      "close:1006:false",
    ]);
    expect(ws.bufferedAmount).toBe(0);
    const attempts = server.attempts;
    server.start();
    await clock.advance(60_000);
    expect(server.attempts).toBe(attempts);
  });

  it("retries a first connection that fails, and maxAttempts 0 gives up at once", async () => {
    const clock = new FakeClock();
    const server = new TestServer(clock);
    server.kill();
    const once = new ReconnectingWebSocketBase("ws://test.invalid/", undefined, server.connect, { clock, maxAttempts: 0 });
    const onceLog = record(once);
    await until(() => once.readyState === 3, 2000, "giving up");
    expect(onceLog).toEqual(["error", "giveup:0", "close:1006:false"]);

    const retried = new ReconnectingWebSocketBase("ws://test.invalid/", undefined, server.connect, { clock, jitter: "none", initialDelay: 10 });
    const log = record(retried);
    await until(() => scheduled(log).length === 1);
    server.start();
    await clock.advance(10);
    await until(() => retried.readyState === 1, 2000, "the retry to open");
    expect(log).toEqual(["error", "reconnecting:1:10:1006", "open"]);
    retried.close();
  });

  it("buffers what is sent while disconnected and sends it in order once reconnected, after what the open handler sends", async () => {
    const { clock, server, ws, log } = setup({ jitter: "none" });
    // Sent before the first connection opened: buffered too, where a WebSocket would throw.
    ws.send("first");
    expect(ws.bufferedMessages).toBe(1);
    ws.onopen = () => ws.send("hello");
    await waitOpen(ws, clock);
    await until(() => server.received.length === 2);
    expect(server.received).toEqual(["hello", "first"]);

    server.kill();
    await until(() => ws.phase === "waiting");
    ws.send("a");
    ws.send(new Uint8Array([1, 2, 3]));
    ws.send("b");
    expect(ws.bufferedMessages).toBe(3);
    expect(ws.bufferedAmount).toBe(5);
    server.start();
    await clock.advance(100);
    await until(() => server.received.length === 6, 2000, "the buffered messages");
    expect(server.received).toEqual(["hello", "first", "hello", "a", "bytes:1,2,3", "b"]);
    expect(ws.bufferedMessages).toBe(0);
    // The echoes come back on the new connection.
    await until(() => log.includes("message:b"), 2000, "the echo");
    expect(log.filter((line) => line.startsWith("message:")).slice(-3)).toEqual(["message:a", "message:[object Blob]", "message:b"]);
    ws.close();
  });

  it("copies buffered bytes: changing the array after send() changes nothing sent", async () => {
    const { clock, server, ws } = setup();
    const bytes = new Uint8Array([7, 8, 9]);
    ws.send(bytes.subarray(1));
    bytes.fill(0);
    await waitOpen(ws, clock);
    await until(() => server.received.length === 1);
    expect(server.received).toEqual(["bytes:8,9"]);
    ws.close();
  });

  it("drops what is sent while disconnected with whileDisconnected: \"drop\", with a drop event", async () => {
    const { clock, server, ws, log } = setup({ whileDisconnected: "drop" });
    ws.send("early");
    await waitOpen(ws, clock);
    ws.send("kept");
    await until(() => server.received.length === 1);
    expect(server.received).toEqual(["kept"]);
    expect(log).toContain("drop:disconnected:early");
    expect(ws.bufferedMessages).toBe(0);
    ws.close();
  });

  it("bounds the buffer by count: a send that overflows throws WS_ERR_BUFFER_FULL by default and keeps nothing of it", async () => {
    const { ws } = setup({ maxBufferedMessages: 2 });
    ws.send("1");
    ws.send("2");
    let thrown: unknown;
    try {
      ws.send("3");
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as UsageError).code).toBe("WS_ERR_BUFFER_FULL");
    expect(ws.bufferedMessages).toBe(2);
    expect(ws.bufferedAmount).toBe(2);
    ws.close();
  });

  it("bounds the buffer by bytes: drop-oldest makes room, drop-newest refuses the new one, each announced by a drop event", async () => {
    const oldest = setup({ maxBufferedBytes: 6, overflow: "drop-oldest" });
    oldest.ws.send("aa");
    oldest.ws.send("bb");
    oldest.ws.send("ccc"); // 7 bytes: "aa" goes
    expect(oldest.ws.bufferedAmount).toBe(5);
    oldest.ws.send("ééé"); // 6 bytes of UTF-8: "bb" and "ccc" go
    expect(oldest.ws.bufferedAmount).toBe(6);
    oldest.ws.send("seven!!"); // bigger than the whole buffer: never fits
    expect(oldest.log).toEqual(["drop:overflow:aa", "drop:overflow:bb", "drop:overflow:ccc", "drop:overflow:seven!!"]);
    await waitOpen(oldest.ws, oldest.clock);
    await until(() => oldest.server.received.length === 1);
    expect(oldest.server.received).toEqual(["ééé"]);
    oldest.ws.close();

    const newest = setup({ maxBufferedBytes: 4, overflow: "drop-newest" });
    newest.ws.send("abc");
    newest.ws.send("de");
    expect(newest.log).toEqual(["drop:overflow:de"]);
    expect(newest.ws.bufferedAmount).toBe(3);
    newest.ws.close();
  });

  it("stops reconnecting on close() during the wait: close 1006 after the call returns, buffered messages dropped, no attempt", async () => {
    const { clock, server, ws, log } = setup();
    await waitOpen(ws, clock);
    server.kill();
    await until(() => ws.phase === "waiting");
    ws.send("pending");
    const attempts = server.attempts;
    ws.close(1000, "bye");
    expect(ws.readyState).toBe(3);
    expect(log.at(-1)).toBe("drop:closed:pending");
    await until(() => log.at(-1) === "close:1006:false", 2000, "the close event");
    server.start();
    await clock.advance(10_000);
    expect(server.attempts).toBe(attempts);
    ws.send("late");
    expect(log.at(-1)).toBe("drop:closed:late");
  });

  it("closes cleanly on close() while open, with the code and reason given, and does not reconnect", async () => {
    const { clock, server, ws, log } = setup();
    await waitOpen(ws, clock);
    ws.close(4000, "done");
    expect(ws.readyState).toBe(2);
    await until(() => ws.readyState === 3, 2000, "the close");
    expect(log).toEqual(["open", "close:4000:true"]);
    await clock.advance(60_000);
    expect(server.attempts).toBe(1);
  });

  it("abandons the handshake on close() while an attempt is under way", async () => {
    const { clock, ws, log } = setup();
    ws.close();
    expect(ws.readyState).toBe(2);
    await clock.advance(0);
    await until(() => ws.readyState === 3, 2000, "the close");
    expect(log).toEqual(["error", "close:1006:false"]);
  });

  it("reconnects after the server's clean close (1001 going away)", async () => {
    const { clock, server, ws, log } = setup({ jitter: "none" });
    await waitOpen(ws, clock);
    server.sockets[0]!.close(4001, "restart");
    await until(() => ws.phase === "waiting");
    expect(scheduled(log)).toEqual(["reconnecting:1:100:4001"]);
    await clock.advance(100);
    await until(() => ws.readyState === 1);
    expect(server.attempts).toBe(2);
    ws.close();
  });

  it("reports a refused handshake and does not retry a 4xx, but retries 429 and 503", async () => {
    const refused = setup();
    refused.server.refuseWith = 403;
    let error: unknown;
    refused.ws.onerror = (event) => (error = (event as ErrorEvent).error);
    await refused.clock.advance(0);
    await until(() => refused.ws.readyState === 3, 2000, "the refusal");
    expect(refused.log).toEqual(["error", "close:1006:false"]);
    expect((error as Error).cause).toBeInstanceOf(HandshakeError);
    expect(((error as Error).cause as HandshakeError).status).toBe(403);

    for (const status of [429, 503]) {
      const { clock, server, ws, log } = setup();
      server.refuseWith = status;
      await clock.advance(0);
      await until(() => scheduled(log).length === 1, 2000, `the retry after ${status}`);
      server.refuseWith = undefined;
      await clock.advance(50);
      await until(() => ws.readyState === 1, 2000, `the open after ${status}`);
      ws.close();
    }
  });

  it("asks shouldReconnect how each connection ended, and ends with that close when it says no", async () => {
    const infos: DisconnectInfo[] = [];
    const { clock, server, ws, log } = setup({
      shouldReconnect: (info) => {
        infos.push(info);
        return info.code !== 4002;
      },
    });
    await waitOpen(ws, clock);
    server.sockets[0]!.close(4001);
    await until(() => ws.phase === "waiting");
    server.kill();
    await clock.advance(50);
    await until(() => infos.length === 2);
    server.start();
    await clock.advance(100);
    await until(() => ws.readyState === 1);
    server.sockets[1]!.close(4002, "go away");
    await until(() => ws.readyState === 3, 2000, "the end");
    expect(infos.map(({ code, wasClean, opened, attempts }) => ({ code, wasClean, opened, attempts }))).toEqual([
      { code: 4001, wasClean: true, opened: true, attempts: 0 },
      { code: 1006, wasClean: false, opened: false, attempts: 1 },
      { code: 4002, wasClean: true, opened: true, attempts: 0 },
    ]);
    expect(infos[1]!.error).toBeDefined();
    expect(log.at(-1)).toBe("close:4002:true");
  });

  it("reports a shouldReconnect that throws as an error event and stops", async () => {
    const { clock, server, ws, log } = setup({
      shouldReconnect: () => {
        throw new Error("bug");
      },
    });
    await waitOpen(ws, clock);
    server.kill();
    await until(() => ws.readyState === 3);
    expect(log).toEqual(["open", "error", "error", "close:1006:false"]);
  });

  it("ends with the connection's close when close() is called by a giveup listener", async () => {
    const { clock, server, ws, log } = setup({ maxAttempts: 0 });
    ws.addEventListener("giveup", () => ws.close());
    await waitOpen(ws, clock);
    server.kill();
    await until(() => ws.readyState === 3);
    await until(() => log.at(-1)?.startsWith("close") === true);
    expect(log).toEqual(["open", "error", "giveup:0", "close:1006:false"]);
  });

  it("closes for good when its signal aborts, also during a wait", async () => {
    const controller = new AbortController();
    const { clock, server, ws, log } = setup({ signal: controller.signal });
    await waitOpen(ws, clock);
    server.kill();
    await until(() => ws.phase === "waiting");
    const attempts = server.attempts;
    controller.abort();
    expect(ws.readyState).toBe(3);
    await until(() => log.at(-1) === "close:1006:false", 2000, "the close event");
    await clock.advance(10_000);
    expect(server.attempts).toBe(attempts);

    const aborted = setup({ signal: AbortSignal.abort() });
    expect(aborted.ws.readyState).toBe(2);
    await aborted.clock.advance(0);
    await until(() => aborted.ws.readyState === 3, 2000, "the close");
    expect(aborted.log).toEqual(["error", "close:1006:false"]);
  });

  it("sets binaryType on every connection", async () => {
    const { clock, server, ws } = setup({ jitter: "none" });
    ws.binaryType = "arraybuffer";
    const received: unknown[] = [];
    ws.onmessage = (event) => received.push(event.data);
    await waitOpen(ws, clock);
    server.kill();
    await until(() => ws.phase === "waiting");
    server.start();
    await clock.advance(100);
    await until(() => ws.readyState === 1);
    ws.send(new Uint8Array([5]));
    await until(() => received.length === 1);
    expect(received[0]).toBeInstanceOf(ArrayBuffer);
    ws.binaryType = "nonsense" as "blob";
    expect(ws.binaryType).toBe("arraybuffer");
    ws.close();
  });

  it("throws at the call for invalid options, data and close arguments", () => {
    const clock = new FakeClock();
    const server = new TestServer(clock);
    const make = (options: ReconnectOptions) => () => new ReconnectingWebSocketBase("ws://test.invalid/", undefined, server.connect, { clock, ...options });
    for (const options of [{ initialDelay: -1 }, { factor: 0.5 }, { maxDelay: NaN }, { maxAttempts: 1.5 }, { maxBufferedBytes: -1 }, { jitter: "some" }, { overflow: "block" }] as ReconnectOptions[]) {
      expect(make(options)).toThrow(UsageError);
    }
    expect(() => new ReconnectingWebSocketBase("not a url", undefined, server.connect, { clock })).toThrow(DOMException);
    expect(server.attempts).toBe(0);
    const ws = make({})();
    expect(() => ws.send(42 as unknown as string)).toThrow(TypeError);
    expect(() => ws.close(1001)).toThrow(DOMException);
    expect(ws.readyState).toBe(0);
    ws.close();
  });

  it("has the WebSocket constants and handler attributes", () => {
    const { ws } = setup();
    expect([ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED]).toEqual([0, 1, 2, 3]);
    expect(ReconnectingWebSocketBase.OPEN).toBe(1);
    const handler = (): void => {};
    ws.onclose = handler;
    expect(ws.onclose).toBe(handler);
    ws.onclose = "x" as never;
    expect(ws.onclose).toBeNull();
    expect(ws.url).toBe("ws://test.invalid/feed");
    ws.close();
  });
});
