/**
 * `redisBridge()` against a real redis-server and real server processes
 * (test/fixtures/server.ts): delivery across processes, per-publisher order, one Redis
 * subscription per topic per process, and a Redis outage in the middle.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import type { LocalHub } from "@wsstream/core";
import * as redisPackage from "../src/index.ts";
import { type RedisBridge, redisBridge } from "../src/index.ts";
import { type Client, connect, eventually, type RedisServer, type ServerProcess, sleep, startRedis, startServer, within } from "./helpers.ts";

const servers: ServerProcess[] = [];
const clients: Client[] = [];
let redis: RedisServer | undefined;

afterEach(async () => {
  for (const client of clients.splice(0)) client.socket.terminate();
  await Promise.all(servers.splice(0).map((server) => server.stop("SIGKILL")));
  await redis?.stop();
  redis = undefined;
});

async function cluster(count: number, runtimes: ("node" | "bun" | "deno")[] = []): Promise<ServerProcess[]> {
  redis = await startRedis();
  const url = redis.url;
  const started = await Promise.all(Array.from({ length: count }, (_, i) => startServer(url, runtimes[i] ?? "node")));
  servers.push(...started);
  return started;
}

async function client(server: ServerProcess, topics: string[]): Promise<Client> {
  const made = await connect(server.port, topics);
  clients.push(made);
  return made;
}

/** How many clients (by subscription) Redis counts on each channel. */
async function channelCounts(url: string, channels: string[]): Promise<Record<string, number>> {
  const admin = new Redis(url);
  try {
    const reply = await admin.pubsub("NUMSUB", ...channels) as (string | number)[];
    const counts: Record<string, number> = {};
    for (let i = 0; i < reply.length; i += 2) counts[String(reply[i])] = Number(reply[i + 1]);
    return counts;
  } finally {
    admin.disconnect();
  }
}

/** A hub that records what a bridge delivers to it. */
function recordingHub(topics: string[] = []): LocalHub & { got: [string, string, boolean][] } {
  const got: [string, string, boolean][] = [];
  return { got, topics, deliver: (topic, payload, binary) => (got.push([topic, new TextDecoder().decode(payload), binary]), 1) };
}

describe("@wsstream/redis", () => {
  it("exports redisBridge only", () => {
    expect(Object.keys(redisPackage).sort()).toEqual(["redisBridge"]);
  });

  it("checks its options at the call", () => {
    expect(() => redisBridge({ prefix: 7 as unknown as string })).toThrow(TypeError);
    expect(() => redisBridge({ onError: "log" as unknown as () => void })).toThrow(TypeError);
  });

  it("carries a publish between two bridges, skips its own echo, and hands it to the other hubs of its own process", async () => {
    redis = await startRedis();
    const bridges: RedisBridge[] = [];
    try {
      const errors: Error[] = [];
      const [a, b] = [redisBridge({ url: redis.url, onError: (error) => errors.push(error) }), redisBridge({ url: redis.url, onError: (error) => errors.push(error) })];
      bridges.push(a, b);
      await within(5000, "both bridges", Promise.all([a.ready(), b.ready()]));
      expect(a.status).toBe("ready");
      expect(a.instanceId).toMatch(/^[0-9a-f]{32}$/);
      expect(a.instanceId).not.toBe(b.instanceId);
      const [onA, alsoOnA, onB] = [recordingHub(), recordingHub(), recordingHub(["x"])];
      const linkA = a.attach(onA);
      const linkAlso = a.attach(alsoOnA);
      b.attach(onB); // subscribes "x", which the hub already has
      linkA.subscribed("x");
      linkAlso.subscribed("x");
      await within(5000, "both subscriptions on Redis", (async () => {
        while ((await channelCounts(redis!.url, ["wsstream:x"]))["wsstream:x"] !== 2) await sleep(20);
      })());
      linkA.published("x", new TextEncoder().encode("from a"), false);
      linkA.published("x", new TextEncoder().encode("bytes"), true);
      await eventually(5000, "b to get both", () => onB.got.length === 2);
      expect(onB.got).toEqual([["x", "from a", false], ["x", "bytes", true]]);
      // The other hub of a's process got them directly; a's own hub delivered locally already.
      expect(alsoOnA.got).toEqual([["x", "from a", false], ["x", "bytes", true]]);
      expect(onA.got).toEqual([]);
      expect(a.stats).toEqual({ published: 2, received: 0, lost: 0, topics: 1 });
      expect(b.stats).toEqual({ published: 0, received: 2, lost: 0, topics: 1 });
      expect(errors).toEqual([]);
      await a.close();
      expect(a.status).toBe("closed");
      await expect(a.ready()).rejects.toThrow(/closed/);
      // A closed bridge ignores its links.
      linkA.published("x", new TextEncoder().encode("late"), false);
      expect(a.stats.published).toBe(2);
    } finally {
      await Promise.all(bridges.map((bridge) => bridge.close()));
    }
  }, 60_000);

  it("delivers a message published in one process to the subscribers of every process, text and binary kept", async () => {
    const [a, b, c] = await cluster(3);
    const onA = await client(a!, ["news"]);
    const onB = await client(b!, ["news"]);
    const onC = [await client(c!, ["news"]), await client(c!, ["news", "sport"])];
    const sportOnly = await client(b!, ["sport"]);
    onA.publish("news", "hello ");
    onB.publish("news", "bytes ", 1, true);
    const everyone = [onA, onB, ...onC];
    await eventually(5000, "both messages everywhere", () => everyone.every((member) => member.texts("hello ").length === 1 && member.texts("bytes ").length === 1));
    for (const member of everyone) {
      expect(member.received.filter((message) => message.data !== "subscribed").sort((x, y) => x.data.localeCompare(y.data))).toEqual([
        { data: "bytes 0", binary: true },
        { data: "hello 0", binary: false },
      ]);
    }
    onC[1]!.publish("sport", "goal ");
    await eventually(5000, "the sport message", () => sportOnly.texts("goal ").length === 1 && onC[1]!.texts("goal ").length === 1);
    // Nobody got a message twice (a process skips its own echo from Redis).
    for (const member of everyone) expect(member.texts("hello ")).toEqual(["hello 0"]);
    expect(onA.texts("goal ")).toEqual([]);
  }, 60_000);

  it("works the same between Node, Bun and Deno processes", async () => {
    const processes = await cluster(3, ["node", "bun", "deno"]);
    const members = await Promise.all(processes.map((server) => client(server, ["mixed"])));
    for (const [i, member] of members.entries()) member.publish("mixed", `from${i}-`, 50, i === 1);
    await eventually(10_000, "every message at every member", () => members.every((member) => member.received.length === 1 + 150));
    for (const member of members) {
      for (let i = 0; i < 3; i++) expect(member.texts(`from${i}-`)).toEqual(Array.from({ length: 50 }, (_, n) => `from${i}-${n}`));
      expect(member.received.filter((message) => message.binary).length).toBe(50);
    }
  }, 60_000);

  it("keeps each publisher's order across processes", async () => {
    const [a, b] = await cluster(2);
    const senders = [await client(a!, ["t"]), await client(b!, ["t"])];
    const receivers = [await client(a!, ["t"]), await client(b!, ["t"])];
    const count = 2000;
    senders[0]!.publish("t", "a", count);
    senders[1]!.publish("t", "b", count);
    const expected = (prefix: string) => Array.from({ length: count }, (_, i) => `${prefix}${i}`);
    await eventually(15_000, "every message at every receiver", () => receivers.every((receiver) => receiver.texts("a").length === count && receiver.texts("b").length === count));
    for (const receiver of receivers) {
      expect(receiver.texts("a")).toEqual(expected("a"));
      expect(receiver.texts("b")).toEqual(expected("b"));
    }
  }, 60_000);

  it("holds one Redis subscription per topic per process, not per connection, and drops it with the last subscriber", async () => {
    const [a, b] = await cluster(2);
    const members = [await client(a!, ["room"]), await client(a!, ["room"]), await client(a!, ["room"]), await client(b!, ["room"])];
    expect(await channelCounts(redis!.url, ["wsstream:room"])).toEqual({ "wsstream:room": 2 });
    for (const member of members.slice(0, 3)) member.socket.close();
    await within(5000, "the clients of a to close", Promise.all(members.slice(0, 3).map((member) => member.closed)));
    await within(5000, "a's subscription to go", (async () => {
      while ((await channelCounts(redis!.url, ["wsstream:room"]))["wsstream:room"] !== 1) await sleep(20);
    })());
  }, 60_000);

  it("keeps delivering locally while Redis is down, reports it, and reaches every process again once Redis is back", async () => {
    const [a, b] = await cluster(2);
    const onA = [await client(a!, ["t"]), await client(a!, ["t"])];
    const onB = await client(b!, ["t"]);
    await redis!.kill();
    await a!.line(/^redis error: /, 5000);
    await b!.line(/^redis error: /, 5000);
    // Local delivery goes on: a's other client gets what a publishes.
    onA[0]!.publish("t", "during ", 3);
    await eventually(5000, "local delivery during the outage", () => onA[1]!.texts("during ").length === 3);
    expect(onA[1]!.texts("during ")).toEqual(["during 0", "during 1", "during 2"]);
    // The publish that could not reach Redis was reported too.
    await a!.line(/^redis error: .*(not connected|writeable)/, 5000);
    await redis!.restart();
    // Once both processes have reconnected and resubscribed, probes get through both ways.
    let probe = 0;
    await eventually(15_000, "a probe through Redis both ways", () => {
      probe++;
      onA[0]!.publish("t", `probe-a${probe}-`);
      onB.publish("t", `probe-b${probe}-`);
      return onB.texts("probe-a").length > 0 && onA[0]!.texts("probe-b").length > 0;
    });
    onA[0]!.publish("t", "after ", 100);
    onB.publish("t", "fromb ", 100);
    const all = [...onA, onB];
    await eventually(10_000, "every message after recovery", () => all.every((member) => member.texts("after ").length === 100 && member.texts("fromb ").length === 100));
    for (const member of all) expect(member.texts("after ")).toEqual(Array.from({ length: 100 }, (_, i) => `after ${i}`));
    // B never saw what a published during the outage: documented, not buffered.
    expect(onB.texts("during ")).toEqual([]);
    expect(a!.process.exitCode).toBeNull();
    expect(b!.process.exitCode).toBeNull();
  }, 60_000);
});
