/**
 * The shared suite for `ReconnectingWebSocket` on every adapter, against the echo server example
 * running as a real process of the adapter's runtime: killed and started again on the same port,
 * given up on when nothing listens, and the README's example run through a restart. Each adapter's
 * `test/reconnecting.test.ts` passes its class and how to start its runtime's processes here.
 */
import { afterEach, expect, it } from "vitest";
import type { ReconnectEvent, ReconnectingWebSocketBase, ReconnectOptions } from "@wsstream/core";

/** The echo server example, running as a process of the adapter's runtime. */
export interface RunningEcho {
  /** The port it listens on. */
  readonly port: number;
  /** Kills it with SIGKILL; resolves once it is gone. */
  kill(): Promise<unknown>;
}

/** The README's example, running as a process of the adapter's runtime. */
export interface RunningProgram {
  /** Everything it printed on stdout so far. */
  output(): string;
  /** Resolves with the exit code once it exited by itself. */
  readonly exited: Promise<unknown>;
}

/** What the suite drives: the adapter's class and its runtime's processes (all stopped after each test by the adapter). */
export interface ReconnectingAdapter {
  readonly ReconnectingWebSocket: new (url: string, options: ReconnectOptions) => ReconnectingWebSocketBase;
  /** How binary messages come: the default `"blob"`, or `"bytes"` set on each client. */
  readonly binaryType: "blob" | "bytes";
  /** The adapter's README. */
  readonly readme: () => string | Promise<string>;
  /**
   * Starts the echo server example on `port` (0 for any); resolves once it printed its
   * `listening on ws://127.0.0.1:<port>` line, or rejects if it exited before.
   */
  startEcho(port: number): Promise<RunningEcho>;
  /** Runs `code` as a program; resolves once it printed `echo: tick 2`, at most 20 s after the start. */
  startProgram(code: string): Promise<RunningProgram>;
}

/** `promise`, or a rejection naming `what` after `ms` milliseconds. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` every few milliseconds until it holds; rejects after `ms`. */
async function eventually(ms: number, what: string, condition: () => boolean): Promise<void> {
  await within(ms, what, (async () => {
    while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
  })());
}

/** Defines the suite's tests for one adapter (inside the caller's `describe`). */
export function defineReconnectingSuite({ ReconnectingWebSocket, binaryType, readme, startEcho: startOnce, startProgram }: ReconnectingAdapter): void {
  const clients: ReconnectingWebSocketBase[] = [];
  afterEach(() => {
    for (const ws of clients.splice(0)) ws.close();
  });

  // Starts the echo server on `port`; a port just freed may still be refused for a moment, so a
  // start that exits before it is ready is tried again, a bounded number of times.
  async function startEcho(port: number): Promise<RunningEcho> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await startOnce(port);
      } catch (error) {
        if (attempt === 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  it("reconnects after the server process is killed and started again, and sends what was buffered meanwhile", async () => {
    const first = await startEcho(0);
    const port = first.port;
    const ws = new ReconnectingWebSocket(`ws://127.0.0.1:${port}/`, { initialDelay: 20, maxDelay: 200, jitter: "equal" });
    clients.push(ws);
    if (binaryType === "bytes") ws.binaryType = "bytes";
    const messages: unknown[] = [];
    const reconnecting: ReconnectEvent[] = [];
    let opens = 0;
    ws.onopen = () => opens++;
    ws.onmessage = (event) => messages.push(event.data);
    ws.addEventListener("reconnecting", (event) => reconnecting.push(event as ReconnectEvent));

    await eventually(5000, "the first connection", () => ws.readyState === ws.OPEN);
    ws.send("before");
    await eventually(5000, "the first echo", () => messages.length === 1);

    await first.kill();
    await eventually(5000, "the client to notice", () => reconnecting.length > 0);
    expect(reconnecting[0]).toMatchObject({ attempt: 1, code: 1006, wasClean: false });
    expect(ws.readyState).toBe(ws.CONNECTING);
    ws.send("while");
    ws.send(new Uint8Array([1, 2, 3]));
    ws.send("down");
    expect(ws.bufferedMessages).toBe(3);

    await startEcho(port);
    await eventually(10_000, "the buffered messages' echoes", () => messages.length === 4);
    if (binaryType === "blob") {
      expect(messages[2]).toBeInstanceOf(Blob);
      messages[2] = new Uint8Array(await (messages[2] as Blob).arrayBuffer());
    }
    expect(messages).toEqual(["before", "while", new Uint8Array([1, 2, 3]), "down"]);
    expect(opens).toBe(2);
    expect(ws.bufferedMessages).toBe(0);
    // Every wait was between 10 and 200 ms, each attempt numbered in turn.
    expect(reconnecting.map((event) => event.attempt)).toEqual(reconnecting.map((_, i) => i + 1));
    for (const { delay } of reconnecting) {
      expect(delay).toBeGreaterThanOrEqual(10);
      expect(delay).toBeLessThanOrEqual(200);
    }

    const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener("close", (event) => resolve(event as CloseEvent)));
    ws.close(1000, "done");
    expect(await within(5000, "the close", closed)).toMatchObject({ code: 1000, wasClean: true });
  }, 60_000);

  it("gives up after maxAttempts when nothing listens, with a giveup and then a close event", async () => {
    const example = await startEcho(0);
    const port = example.port;
    await example.kill();
    const ws = new ReconnectingWebSocket(`ws://127.0.0.1:${port}/`, { initialDelay: 5, maxDelay: 20, maxAttempts: 3 });
    const events: string[] = [];
    for (const type of ["open", "error", "reconnecting", "giveup", "close"]) ws.addEventListener(type, () => events.push(type));
    await eventually(10_000, "giving up", () => ws.readyState === ws.CLOSED);
    expect(events).toEqual(["error", "reconnecting", "error", "reconnecting", "error", "reconnecting", "error", "giveup", "close"]);
  }, 30_000);

  it("runs the README's example: it reconnects after the server process is killed and started again, and the last tick comes back", async () => {
    const first = await startEcho(0);
    const port = String(first.port);
    // The example as the README has it, on this port.
    const code = /## Reconnecting[^]*?```ts\n([^]*?)```/.exec(await readme())![1]!;
    const example = await startProgram(code.replaceAll("9001", port));

    await first.kill();
    await eventually(5000, "the example to wait for a reconnection", () => /^attempt 1 in \d+ ms$/m.test(example.output()));
    await startEcho(Number(port));
    expect(await within(20_000, "the example to end", example.exited)).toBe(0);
    const lines = example.output().trim().split("\n");
    expect(lines.filter((line) => line === "open")).toHaveLength(2);
    expect(lines.at(-2)).toBe("echo: tick 20");
    expect(lines.at(-1)).toBe("closed for good: 1000");
    // The ticks come back in order (one sent in the instant before the kill was noticed may be lost).
    const ticks = lines.filter((line) => line.startsWith("echo: tick ")).map((line) => Number(line.slice(11)));
    expect(ticks).toEqual([...ticks].sort((a, b) => a - b));
  }, 60_000);
}
