/**
 * `clusterServe()` with real processes (fixtures/cluster-server.ts): workers accepting on one
 * port, and a rolling restart that closes each connection with 1001 after its queued messages,
 * with `ReconnectingWebSocket` clients coming back to the new workers.
 */
import { afterEach, describe, expect, it } from "vitest";
import { clusterServe, type ReconnectEvent, ReconnectingWebSocket } from "../src/index.ts";
import { eventually, type Example, startScript, within } from "./fixtures/helpers.ts";

const READY = /^cluster (\d+) ([\d,]+)$/;
const examples: Example[] = [];
const sockets: { close(): void }[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await Promise.all(examples.splice(0).map((example) => example.stop("SIGKILL", 5000)));
});

async function startCluster(env: Record<string, string>): Promise<{ example: Example; port: number; pids: number[] }> {
  const example = await startScript("packages/node/test/fixtures/cluster-server.ts", env, READY, 30_000);
  examples.push(example);
  return { example, port: Number(example.match[1]), pids: example.match[2]!.split(",").map(Number) };
}

/** A reconnecting client that records its messages and the codes its connections ended with. */
function member(port: number) {
  const socket = new ReconnectingWebSocket(`ws://127.0.0.1:${port}/`, undefined, { initialDelay: 50, maxDelay: 200 });
  sockets.push(socket);
  const messages: string[] = [];
  const ends: number[] = [];
  socket.onmessage = (event) => messages.push(String(event.data));
  socket.addEventListener("reconnecting", (event) => ends.push((event as ReconnectEvent).code));
  const pids = () => messages.filter((message) => message.startsWith("pid ")).map((message) => Number(message.slice(4)));
  return { socket, messages, ends, pids };
}

describe("clusterServe", () => {
  it("checks its options at the call", async () => {
    await expect(clusterServe({ start: undefined as never })).rejects.toThrow(TypeError);
    await expect(clusterServe({ workers: 0, start: () => ({ close: async () => {} }) })).rejects.toThrow(RangeError);
  }, 60_000);

  it("runs workers that all accept connections on the one port", async () => {
    const { port, pids } = await startCluster({ WORKERS: "2" });
    expect(pids).toHaveLength(2);
    expect(new Set(pids).size).toBe(2);
    const seen = new Set<number>();
    // node:cluster hands connections out round-robin: a few connections reach both workers.
    for (let i = 0; i < 20 && seen.size < 2; i++) {
      const client = member(port);
      await eventually(5000, "the worker's pid", () => client.pids().length === 1);
      seen.add(client.pids()[0]!);
      client.socket.close();
    }
    expect([...seen].sort()).toEqual([...pids].sort());
  }, 60_000);

  it("restarts the workers one at a time: 1001 after every queued message, and clients come back to the new workers", async () => {
    const burst = 300;
    const { example, port, pids: before } = await startCluster({ WORKERS: "2", BURST: String(burst) });
    const members = Array.from({ length: 6 }, () => member(port));
    await eventually(5000, "every member's first worker", () => members.every((m) => m.pids().length === 1));
    example.child.kill("SIGHUP");
    await eventually(30_000, "the rolling restart", () => /^restarted /m.test(example.output()));
    const after = /^restarted ([\d,]+)$/m.exec(example.output())![1]!.split(",").map(Number);
    expect(after).toHaveLength(2);
    for (const pid of after) expect(before).not.toContain(pid);
    // A member whose worker closed first may have come back to the other old worker for a while.
    await eventually(10_000, "every member on a new worker", () => members.every((m) => after.includes(m.pids().at(-1)!)));
    for (const m of members) {
      const served = m.pids();
      const now = served.at(-1)!;
      for (const old of served.slice(0, -1)) {
        expect(before).toContain(old);
        // Everything its old worker published before closing arrived, in order, then the 1001.
        const bursts = m.messages.filter((message) => message.startsWith(`burst ${old} `)).map((message) => Number(message.split(" ")[2]));
        expect(bursts).toEqual(Array.from({ length: burst }, (_, i) => i));
      }
      expect(m.ends).toEqual(served.slice(0, -1).map(() => 1001));
      expect(m.messages.filter((message) => message.startsWith(`burst ${now} `))).toEqual([]);
    }
  }, 60_000);

  it("closes every worker on shutdown", async () => {
    const { example, port } = await startCluster({ WORKERS: "2" });
    const client = member(port);
    await eventually(5000, "the worker's pid", () => client.pids().length === 1);
    example.child.kill("SIGTERM");
    expect(await within(15_000, "the primary to exit", new Promise((resolve) => example.child.once("exit", (code) => resolve(code))))).toBe(0);
    // Then its reconnection attempts fail (1006): nobody listens any more.
    await eventually(5000, "the 1001", () => client.ends.length >= 1);
    expect(client.ends[0]).toBe(1001);
  }, 60_000);
});
