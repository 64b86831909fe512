import { afterEach, describe, expect, it } from "vitest";
import type { ReconnectEvent } from "@wsstream/core";
import { ReconnectingWebSocket } from "../src/client.ts";
import { eventually, type Example, runCleanups, startExample, startProgram, track, within } from "./fixtures/helpers.ts";

const READY = /^listening on ws:\/\/127\.0\.0\.1:(\d+)$/;

afterEach(runCleanups);

// Starts the echo server on `port`; a port just freed may still be refused for a moment, so a
// start that exits before it is ready is tried again, a bounded number of times.
async function startEcho(port: number): Promise<Example & { port: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      const example = await startExample({ PORT: String(port) });
      const match = READY.exec(example.line);
      if (match === null) throw new Error(`Unexpected first line: ${example.line}`);
      return { ...example, port: Number(match[1]) };
    } catch (error) {
      if (attempt === 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

describe("ReconnectingWebSocket on Deno", () => {
  it("reconnects after the server process is killed and started again, and sends what was buffered meanwhile", async () => {
    const first = await startEcho(0);
    const port = first.port;
    const ws = new ReconnectingWebSocket(`ws://127.0.0.1:${port}/`, { initialDelay: 20, maxDelay: 200, jitter: "equal" });
    track(() => ws.close());
    ws.binaryType = "bytes";
    const messages: unknown[] = [];
    const reconnecting: ReconnectEvent[] = [];
    let opens = 0;
    ws.onopen = () => opens++;
    ws.onmessage = (event) => messages.push(event.data);
    ws.addEventListener("reconnecting", (event) => reconnecting.push(event as ReconnectEvent));

    await eventually(5000, "the first connection", () => ws.readyState === ws.OPEN);
    ws.send("before");
    await eventually(5000, "the first echo", () => messages.length === 1);

    await first.stop("SIGKILL");
    await eventually(5000, "the client to notice", () => reconnecting.length > 0);
    expect(reconnecting[0]).toMatchObject({ attempt: 1, code: 1006, wasClean: false });
    expect(ws.readyState).toBe(ws.CONNECTING);
    ws.send("while");
    ws.send(new Uint8Array([1, 2, 3]));
    ws.send("down");
    expect(ws.bufferedMessages).toBe(3);

    await startEcho(port);
    await eventually(10_000, "the buffered messages' echoes", () => messages.length === 4);
    expect(messages).toEqual(["before", "while", new Uint8Array([1, 2, 3]), "down"]);
    expect(opens).toBe(2);
    expect(ws.bufferedMessages).toBe(0);
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
    await example.stop("SIGKILL");
    const ws = new ReconnectingWebSocket(`ws://127.0.0.1:${port}/`, { initialDelay: 5, maxDelay: 20, maxAttempts: 3 });
    const events: string[] = [];
    for (const type of ["open", "error", "reconnecting", "giveup", "close"]) ws.addEventListener(type, () => events.push(type));
    await eventually(10_000, "giving up", () => ws.readyState === ws.CLOSED);
    expect(events).toEqual(["error", "reconnecting", "error", "reconnecting", "error", "reconnecting", "error", "giveup", "close"]);
  }, 30_000);

  it("runs the README's example: it reconnects after the server process is killed and started again, and the last tick comes back", async () => {
    const first = await startEcho(0);
    const port = String(first.port);
    // The example as the README has it, on this port; @wsstream/deno resolves through the
    // package's deno.json.
    const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
    const code = /## Reconnecting[^]*?```ts\n([^]*?)```/.exec(readme)![1]!;
    const file = await Deno.makeTempFile({ suffix: ".ts" });
    track(() => Deno.remove(file).catch(() => {}));
    await Deno.writeTextFile(file, code.replaceAll("9001", port));
    const example = await startProgram(["run", "--allow-net", "--conditions=wsstream-source", "--config", "packages/deno/deno.json", file], {});
    await eventually(20_000, "the example's second echo", () => /^echo: tick 2$/m.test(example.output()));

    await first.stop("SIGKILL");
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
});
