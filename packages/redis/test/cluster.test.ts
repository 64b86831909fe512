/**
 * @wsstream/redis with @wsstream/node's `clusterServe()` (test/fixtures/cluster-server.ts): two
 * workers behind one port on a real redis-server, their subscribers reached from either worker,
 * through a rolling restart of the workers.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type ReconnectEvent, ReconnectingWebSocket } from "@wsstream/node";
import { type Child, eventually, type RedisServer, start, startRedis } from "./helpers.ts";

const sockets: ReconnectingWebSocket[] = [];
const children: Child[] = [];
let redis: RedisServer | undefined;

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await Promise.all(children.splice(0).map((child) => child.stop("SIGKILL")));
  await redis?.stop();
  redis = undefined;
});

/** A reconnecting client: its messages, the workers that served it, the codes its connections ended with. */
function member(port: number) {
  const socket = new ReconnectingWebSocket(`ws://127.0.0.1:${port}/`, undefined, { initialDelay: 50, maxDelay: 200 });
  sockets.push(socket);
  const messages: string[] = [];
  const ends: number[] = [];
  socket.onmessage = (event) => messages.push(String(event.data));
  socket.addEventListener("reconnecting", (event) => ends.push((event as ReconnectEvent).code));
  return {
    socket,
    messages,
    ends,
    pids: () => messages.filter((message) => message.startsWith("pid ")).map((message) => Number(message.slice(4))),
    texts: (prefix: string) => messages.filter((message) => message.startsWith(prefix)),
    publish: (prefix: string, count: number) => socket.send(JSON.stringify({ topic: "t", prefix, count })),
  };
}
type Member = ReturnType<typeof member>;

/** Publishes probes from `from` until one reaches every member (the workers' Redis subscriptions are in place). */
async function probe(from: Member, members: Member[], name: string): Promise<void> {
  let attempt = 0;
  await eventually(15_000, `a probe through Redis to every member (${name})`, () => {
    from.publish(`${name}-probe${attempt++}-`, 1);
    return members.every((m) => m.texts(`${name}-probe`).length > 0);
  });
}

describe("@wsstream/redis in a cluster", () => {
  it("reaches the subscribers of every worker before and after a rolling restart", async () => {
    redis = await startRedis();
    const cluster = start(process.execPath, ["--conditions=wsstream-source", "--import", "tsx", "packages/redis/test/fixtures/cluster-server.ts"], { REDIS_URL: redis.url });
    children.push(cluster);
    const ready = await cluster.line(/^cluster (\d+) ([\d,]+)$/, 30_000);
    const port = Number(ready[1]);
    const before = ready[2]!.split(",").map(Number);
    // node:cluster hands connections out in turn: open members until both workers serve some.
    const members: Member[] = [];
    for (let i = 0; i < 10 && (members.length < 4 || new Set(members.map((m) => m.pids()[0])).size < 2); i++) {
      const m = member(port);
      await eventually(5000, "the worker's pid", () => m.pids().length === 1);
      members.push(m);
    }
    expect(new Set(members.map((m) => m.pids()[0]))).toEqual(new Set(before));
    await probe(members[0]!, members, "before");
    members[0]!.publish("before ", 50);
    await eventually(10_000, "every message at every member", () => members.every((m) => m.texts("before ").length === 50));
    for (const m of members) expect(m.texts("before ")).toEqual(Array.from({ length: 50 }, (_, i) => `before ${i}`));

    cluster.process.kill("SIGHUP");
    const after = (await cluster.line(/^restarted ([\d,]+)$/, 60_000))[1]!.split(",").map(Number);
    for (const pid of after) expect(before).not.toContain(pid);
    await eventually(15_000, "every member on a new worker", () => members.every((m) => after.includes(m.pids().at(-1)!)));
    for (const m of members) expect(m.ends.length > 0 && m.ends.every((code) => code === 1001)).toBe(true);

    // The new workers subscribed on Redis: a publish from either reaches the members of both.
    const last = members.at(-1)!;
    await probe(last, members, "after");
    last.publish("after ", 50);
    await eventually(10_000, "every message at every member after the restart", () => members.every((m) => m.texts("after ").length === 50));
    for (const m of members) expect(m.texts("after ")).toEqual(Array.from({ length: 50 }, (_, i) => `after ${i}`));
    expect(cluster.output()).not.toMatch(/redis error/);
  }, 60_000);
});
