import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import type { ReconnectEvent } from "@wsstream/core";
import { ReconnectingWebSocket } from "../src/client.ts";
import { eventually, type Example, Inbox, ROOT, startExample, within } from "./fixtures/helpers.ts";

const ECHO = "examples/echo-server/node.ts";
const READY = /^listening on ws:\/\/127\.0\.0\.1:(\d+)$/;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

// Starts the echo server on `port`; a port just freed may still be refused for a moment, so a
// start that exits before it is ready is tried again, a bounded number of times.
async function startEcho(port: number): Promise<Example> {
  for (let attempt = 1; ; attempt++) {
    try {
      const example = await startExample(ECHO, { PORT: String(port) }, READY);
      cleanups.push(() => example.stop("SIGKILL", 5000));
      return example;
    } catch (error) {
      if (attempt === 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

describe("ReconnectingWebSocket on Node", () => {
  it("reconnects after the server process is killed and started again, and sends what was buffered meanwhile", async () => {
    const first = await startEcho(0);
    const port = Number(first.match[1]);
    const ws = new ReconnectingWebSocket(`ws://127.0.0.1:${port}/`, { initialDelay: 20, maxDelay: 200, jitter: "equal" });
    cleanups.push(() => ws.close());
    const messages = new Inbox<unknown>();
    const reconnecting: ReconnectEvent[] = [];
    let opens = 0;
    ws.onopen = () => opens++;
    ws.onmessage = (event) => messages.push(event.data);
    ws.addEventListener("reconnecting", (event) => reconnecting.push(event as ReconnectEvent));

    await eventually(5000, "the first connection", () => ws.readyState === ws.OPEN);
    ws.send("before");
    expect(await messages.next(5000, "the first echo")).toBe("before");

    await first.stop("SIGKILL", 5000);
    await eventually(5000, "the client to notice", () => reconnecting.length > 0);
    expect(reconnecting[0]).toMatchObject({ attempt: 1, code: 1006, wasClean: false });
    expect(ws.readyState).toBe(ws.CONNECTING);
    ws.send("while");
    ws.send(new Uint8Array([1, 2, 3]));
    ws.send("down");
    expect(ws.bufferedMessages).toBe(3);

    await startEcho(port);
    expect(await messages.next(10_000, "the first buffered echo")).toBe("while");
    const binary = await messages.next(5000, "the binary echo");
    expect(new Uint8Array(await (binary as Blob).arrayBuffer())).toEqual(new Uint8Array([1, 2, 3]));
    expect(await messages.next(5000, "the last buffered echo")).toBe("down");
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
    const port = Number(example.match[1]);
    await example.stop("SIGKILL", 5000);
    const ws = new ReconnectingWebSocket(`ws://127.0.0.1:${port}/`, { initialDelay: 5, maxDelay: 20, maxAttempts: 3 });
    const events: string[] = [];
    for (const type of ["open", "error", "reconnecting", "giveup", "close"]) ws.addEventListener(type, () => events.push(type));
    await eventually(10_000, "giving up", () => ws.readyState === ws.CLOSED);
    expect(events).toEqual(["error", "reconnecting", "error", "reconnecting", "error", "reconnecting", "error", "giveup", "close"]);
  }, 30_000);

  it("runs the README's example: it reconnects after the server process is killed and started again, and the last tick comes back", async () => {
    const first = await startEcho(0);
    const port = first.match[1]!;
    // The example as the README has it, on this port. It imports @wsstream/node, so it is written
    // under the repository's node_modules, where that resolves.
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const code = /## Reconnecting[^]*?```ts\n([^]*?)```/.exec(readme)![1]!;
    const dir = `${ROOT}node_modules/.cache/wsstream-test`;
    const file = `${dir}/readme-reconnect-${process.pid}.ts`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, code.replaceAll("9001", port));
    cleanups.push(() => rmSync(file, { force: true }));
    const example = await startExample(file, {}, /^echo: tick 2$/, 20_000);
    cleanups.push(() => example.stop("SIGKILL", 5000));

    await first.stop("SIGKILL", 5000);
    await eventually(5000, "the example to wait for a reconnection", () => /^attempt 1 in \d+ ms$/m.test(example.output()));
    await startEcho(Number(port));
    await eventually(20_000, "the example to end", () => example.child.exitCode !== null);
    expect(example.child.exitCode).toBe(0);
    const lines = example.output().trim().split("\n");
    expect(lines.filter((line) => line === "open")).toHaveLength(2);
    expect(lines.at(-2)).toBe("echo: tick 20");
    expect(lines.at(-1)).toBe("closed for good: 1000");
    // The ticks come back in order (one sent in the instant before the kill was noticed may be lost).
    const ticks = lines.filter((line) => line.startsWith("echo: tick ")).map((line) => Number(line.slice(11)));
    expect(ticks).toEqual([...ticks].sort((a, b) => a - b));
  }, 60_000);
});
