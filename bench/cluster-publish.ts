/**
 * Publish fan-out across processes through Redis: 10,000 subscribers spread over N server
 * processes (N = 1, 2 and `os.availableParallelism()` by default), each a `serve()` from
 * @wsstream/node with a `redisBridge()` from @wsstream/redis to one real `redis-server` that this
 * benchmark starts on a free loopback port (Debian's package: scripts/ensure-redis.sh).
 *
 * Each server process (bench/servers/publish-wsstream-node-redis.ts, bundled) listens on its own
 * port, and one raw `node:net` subscriber process (bench/publish-subscribers.ts) per server
 * opens that server's share of the connections, which subscribe to one topic. A run: the first
 * server publishes `--messages` binary messages (`--batch` in a row between turns of its event
 * loop, bench/servers/publish-control.ts); it delivers them to its own subscribers and publishes
 * each to Redis once, and every other server gets it from Redis (one subscription per process)
 * and delivers it to its subscribers. The run ends when every subscriber has every message. It
 * records:
 *
 * - deliveries per second: messages x subscribers over the time from the publish command to the
 *   last subscriber's last frame;
 * - end-to-end latency, publish to arrival at a subscriber, from every `--sample`th connection
 *   (each payload carries its publish time on the `performance.timeOrigin + performance.now()`
 *   clock, shared by every process of the machine), over the whole run;
 * - the Redis hop alone: publish to the arrival at another server process's hub (before any
 *   subscriber is written to), every message at every other process (N > 1).
 *
 * Median of `--rounds` rounds per (N, size). Every subscriber must get every message in order (the
 * sampled connections check the numbers) and no connection may close during a run.
 *
 * Run: node_modules/.bin/tsx --conditions=wsstream-source bench/cluster-publish.ts
 *      [--processes 1,2,CORES] [--subscribers 10000] [--sizes 16,1024] [--messages 20] [--batch 1]
 *      [--rounds 3] [--sample 50]
 * Bounded: every wait is timed; the whole run is aborted after 10 minutes.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { type RuntimeServer, runtimeVersions, startRuntimeServer } from "./runtime-servers.ts";
import { withTimeout } from "./servers/control.ts";
import { SubscriberProcess } from "./subscriber-process.ts";

const CORES = availableParallelism();
const { values } = parseArgs({
  options: {
    processes: { type: "string", default: `1,2,${CORES}` },
    subscribers: { type: "string", default: "10000" },
    sizes: { type: "string", default: "16,1024" },
    messages: { type: "string", default: "20" },
    batch: { type: "string", default: "1" },
    rounds: { type: "string", default: "3" },
    sample: { type: "string", default: "50" },
  },
});
const COUNTS = [...new Set(values.processes.split(",").map((n) => Math.max(1, Number(n))))];
const SUBSCRIBERS = Number(values.subscribers);
const SIZES = values.sizes.split(",").map(Number);
const MESSAGES = Number(values.messages);
const BATCH = Math.max(1, Number(values.batch));
const ROUNDS = Number(values.rounds);
const RUN_LIMIT_MS = 10 * 60_000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === "object" && address !== null ? address.port : 0;
}

/** A redis-server without persistence on a free loopback port. */
async function startRedis(): Promise<{ url: string; stop(): void }> {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: ["ignore", "pipe", "inherit"] });
  await withTimeout(10_000, "redis-server to start", new Promise<void>((resolve, reject) => {
    let text = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      text += chunk;
      if (text.includes("Ready to accept connections")) resolve();
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`redis-server exited (${code}): is it installed? (scripts/ensure-redis.sh)\n${text}`)));
  }));
  child.stdout!.resume();
  return { url: `redis://127.0.0.1:${port}`, stop: () => void child.kill() };
}

interface Sample {
  readonly deliveriesPerSecond: number;
  readonly latencyP50: number;
  readonly latencyP99: number;
  readonly hopP50: number;
  readonly hopP99: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function measure(servers: readonly RuntimeServer[], subscribers: readonly SubscriberProcess[], size: number, messages: number): Promise<Sample> {
  const armed = subscribers.map((s) => s.next("armed"));
  for (const s of subscribers) s.send({ type: "expect", target: 0, messages, size });
  await withTimeout(10_000, "subscribers to arm", Promise.all(armed));
  for (const server of servers.slice(1)) await server.request("hop");
  const done = subscribers.map((s) => s.next("done"));
  for (const d of done) d.catch(() => undefined);
  const start = performance.now();
  const limit = 60_000 + messages * 200;
  const reply = await servers[0]!.request(`publish ${messages} ${size} ${BATCH}`, limit);
  if ("error" in reply) throw new Error(String(reply.error));
  const results = await withTimeout(limit, `every subscriber to get ${messages} messages`, Promise.all(done));
  const seconds = (performance.now() - start) / 1000;
  for (const r of results) if (r.closed !== 0) throw new Error(`${r.closed} subscriber connections were closed`);
  const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const hops: { count: number; p50: number; p99: number }[] = [];
  for (const server of servers.slice(1)) hops.push((await server.request("hop")) as { count: number; p50: number; p99: number });
  for (const hop of hops) if (hop.count !== messages) throw new Error(`A server got ${hop.count} of ${messages} messages from Redis`);
  return {
    deliveriesPerSecond: (messages * SUBSCRIBERS) / seconds,
    latencyP50: percentile(latencies, 0.5),
    latencyP99: percentile(latencies, 0.99),
    // The slowest process's figures.
    hopP50: hops.length === 0 ? Number.NaN : Math.max(...hops.map((hop) => hop.p50)),
    hopP99: hops.length === 0 ? Number.NaN : Math.max(...hops.map((hop) => hop.p99)),
  };
}

interface Row {
  readonly processes: number;
  readonly size: number;
  readonly samples: Sample[];
}

async function runCount(redisUrl: string, count: number): Promise<Row[]> {
  const servers: RuntimeServer[] = [];
  const subscribers: SubscriberProcess[] = [];
  try {
    for (let i = 0; i < count; i++) {
      servers.push(await startRuntimeServer({ name: `server ${i + 1}/${count}`, runtime: "node", file: "publish-wsstream-node-redis", args: ["--redis", redisUrl] }, { raiseFdLimit: true }));
    }
    const shares = servers.map((_, i) => Math.floor(SUBSCRIBERS / count) + (i < SUBSCRIBERS % count ? 1 : 0));
    const opening = performance.now();
    servers.forEach((server, i) => subscribers.push(new SubscriberProcess([server.port], shares[i]!, values.sample)));
    await withTimeout(180_000, `${SUBSCRIBERS} subscribers to connect`, Promise.all(subscribers.map((s) => s.next("ready"))));
    for (const [i, server] of servers.entries()) {
      const deadline = Date.now() + 30_000;
      while ((await server.request("stats")).subscribers !== shares[i]) {
        if (Date.now() > deadline) throw new Error(`${server.spec.name}: not every connection subscribed`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    console.error(`  N=${count}: ${SUBSCRIBERS} subscribers over ${count} processes in ${((performance.now() - opening) / 1000).toFixed(1)} s`);
    for (const size of SIZES) await measure(servers, subscribers, size, Math.ceil(MESSAGES / 2)); // warm-up
    const rows: Row[] = [];
    for (const size of SIZES) {
      const samples: Sample[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const sample = await measure(servers, subscribers, size, MESSAGES);
        samples.push(sample);
        console.error(
          `  N=${count} ${String(size).padStart(5)} B round ${round + 1}: ${(sample.deliveriesPerSecond / 1e3).toFixed(0)} k deliveries/s, ` +
            `latency p50 ${sample.latencyP50.toFixed(2)} p99 ${sample.latencyP99.toFixed(2)} ms, Redis hop p50 ${sample.hopP50.toFixed(2)} p99 ${sample.hopP99.toFixed(2)} ms`,
        );
      }
      rows.push({ processes: count, size, samples });
    }
    for (const server of servers) {
      const stats = await server.request("stats");
      if (stats.accepted! - stats.open! !== 0) throw new Error(`${server.spec.name}: connections closed during the run`);
    }
    return rows;
  } finally {
    for (const s of subscribers) s.kill();
    for (const server of servers) await server.stop();
  }
}

const timer = setTimeout(() => {
  console.error(`Cluster publish benchmark aborted after ${RUN_LIMIT_MS / 60_000} minutes`);
  process.exit(1);
}, RUN_LIMIT_MS);
timer.unref();

console.log(`${new Date().toISOString()}; ${CORES} CPUs, load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}; ${runtimeVersions()}`);
const redis = await startRedis();
const rows: Row[] = [];
try {
  for (const count of COUNTS) rows.push(...(await runCount(redis.url, count)));
} finally {
  redis.stop();
}
console.log(
  `\nFan-out through Redis: ${SUBSCRIBERS.toLocaleString("en")} subscribers over N server processes, ${MESSAGES} binary messages a run published by one of them ` +
    `(${BATCH} in a row between turns of its event loop); median of ${ROUNDS} round(s). Latency: publish to arrival at a subscriber; Redis hop: publish to arrival at another process's hub (the slowest process).`,
);
console.log("| processes | payload | deliveries/s | latency p50 / p99 ms | Redis hop p50 / p99 ms |");
console.log("| ---: | --- | ---: | ---: | ---: |");
const fmt = (x: number): string => (Number.isNaN(x) ? "–" : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
for (const row of rows) {
  const med = (f: (s: Sample) => number): number => median(row.samples.map(f));
  console.log(
    `| ${row.processes} | ${row.size >= 1024 ? `${row.size / 1024} KiB` : `${row.size} B`} | ${(med((s) => s.deliveriesPerSecond) / 1e3).toFixed(0)} k | ` +
      `${fmt(med((s) => s.latencyP50))} / ${fmt(med((s) => s.latencyP99))} | ${fmt(med((s) => s.hopP50))} / ${fmt(med((s) => s.hopP99))} |`,
  );
}
console.log(`Load average after the run: ${loadavg().map((x) => x.toFixed(2)).join(" ")}. Every subscriber got every message in order; no connection closed.`);
