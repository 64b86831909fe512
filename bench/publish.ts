/**
 * Publish fan-out: one server publishing to 10,000 subscribers, ours against each runtime's
 * reference in the same run.
 *
 * - Node: `serve()` from @wsstream/node (`api: "websocket"`, each connection `ws.subscribe("t")`,
 *   `server.publish("t", payload)`: servers/publish-wsstream-node.ts) against ws 8 with
 *   bufferutil and the loop from ws's README over `wss.clients` calling `send`
 *   (servers/publish-ws-node.ts);
 * - Bun: `serve()` from @wsstream/bun the same way (servers/publish-wsstream-bun.ts) against
 *   `Bun.serve` with `ws.subscribe("t")` and its native `server.publish("t", payload)`
 *   (servers/publish-bun-builtin.ts);
 * - Deno (`--runtimes node,bun,deno`): `serve()` from @wsstream/deno against `Deno.serve` +
 *   `Deno.upgradeWebSocket` with a loop over the open sockets (servers/publish-deno-builtin.ts).
 *
 * For each runtime both servers start (the Node ones bundled, see bench/runtime-servers.ts), and
 * `--processes` subscriber processes (bench/publish-subscribers.ts, raw `node:net`) each open
 * their share of `--subscribers` WebSocket connections to both servers and keep them; the servers
 * subscribe every connection as it opens. A run: the subscribers are told what to expect, the
 * server publishes `--messages` binary messages of one size, a batch of them in a row (each of
 * `--batches`, default 1 and 10) with a return to the event loop (`setImmediate`) between
 * batches, the same loop for every server (servers/publish-control.ts), and the run ends when
 * every subscriber has every message. With 1, every message goes out in its own turn; with 10,
 * a server that writes at the end of the turn (ours on Node, `Bun.serve`) sends a subscriber ten
 * frames in one system call, where ws writes each `send` on its own. It records:
 *
 * - deliveries per second: messages x subscribers over the time from the publish command to the
 *   last subscriber's last frame;
 * - the server's CPU time (user + system, all threads, from /proc) per delivery over that time;
 * - the subscriber processes' own CPU use over the run (100% = one core each), to show they had
 *   headroom;
 * - latency, publish to arrival, from every `--sample`th connection: each payload carries the
 *   time it was published (the same clock in every process, `performance.timeOrigin +
 *   performance.now()`), so the figure includes the time a message waits behind the others of
 *   the run.
 *
 * Each cell (runtime, payload) is measured `--rounds` times with the two servers' order rotated;
 * the table shows the medians and ours / reference as the median of the per-round ratios (range).
 * Every subscriber must get every message (the sampled ones check their order): a lost message
 * fails the run by timeout, and a connection closed (by either side) fails it at once; the server
 * and subscriber close counts are printed at the end of each runtime. `--backlog BYTES` sets our
 * servers' `pubsub: { backlog }` (default the library's 4 MiB; a run queues at most `--messages`
 * frames per subscriber, far below it, so no subscriber is dropped for being slow); `Bun.serve`'s
 * `backpressureLimit` stays at its 16 MiB, ws and Deno have no limit.
 *
 * Run: node_modules/.bin/tsx --conditions=wsstream-source bench/publish.ts [--quick]
 *      [--runtimes node,bun] [--subscribers 10000] [--processes 2] [--sizes 16,1024]
 *      [--messages 20] [--batches 1,10] [--rounds 3] [--sample 50] [--backlog BYTES] [--cpu-prof DIR]
 * `--cpu-prof DIR` runs the Node servers under `node --cpu-prof`, one profile each in DIR/<server file>.
 * Bounded: every wait is timed; the default run takes about 2 minutes (Node and Bun), `--quick` under one.
 *
 * @module
 */
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { type RuntimeServer, runtimeVersions, type ServerSpec, startRuntimeServer } from "./runtime-servers.ts";
import { withTimeout } from "./servers/control.ts";
import { SubscriberProcess } from "./subscriber-process.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    runtimes: { type: "string", default: "node,bun" },
    subscribers: { type: "string", default: "10000" },
    processes: { type: "string", default: "2" },
    sizes: { type: "string", default: "16,1024" },
    messages: { type: "string" },
    batches: { type: "string", default: "1,10" },
    rounds: { type: "string" },
    sample: { type: "string", default: "50" },
    backlog: { type: "string" },
    "cpu-prof": { type: "string" },
  },
});

const QUICK = values.quick;
const SUBSCRIBERS = Number(values.subscribers);
const PROCESSES = Math.max(1, Number(values.processes));
const SIZES = values.sizes.split(",").map(Number);
const BATCHES = values.batches.split(",").map((b) => Math.max(1, Number(b)));
const ROUNDS = Number(values.rounds ?? (QUICK ? 1 : 3));
const RUN_LIMIT_MS = 10 * 60_000;

// Messages per run: each is a write to every subscriber, several µs of system time apiece.
const MESSAGES = Number(values.messages ?? (QUICK ? 10 : 20));

interface Pair {
  readonly runtime: string;
  readonly reference: ServerSpec;
  readonly ours: ServerSpec;
}

const backlogArgs = values.backlog === undefined ? [] : ["--backlog", values.backlog];
const PAIRS: Record<string, Pair> = {
  node: {
    runtime: "Node",
    reference: { name: "ws + bufferutil", runtime: "node", file: "publish-ws-node" },
    ours: { name: "wsstream", runtime: "node", file: "publish-wsstream-node", args: backlogArgs },
  },
  bun: {
    runtime: "Bun",
    reference: { name: "Bun.serve", runtime: "bun", file: "publish-bun-builtin" },
    ours: { name: "wsstream", runtime: "bun", file: "publish-wsstream-bun", args: backlogArgs },
  },
  deno: {
    runtime: "Deno",
    reference: { name: "Deno.serve", runtime: "deno", file: "publish-deno-builtin" },
    ours: { name: "wsstream", runtime: "deno", file: "publish-wsstream-deno", args: backlogArgs },
  },
};

/** One run of one server. */
interface Sample {
  readonly deliveriesPerSecond: number;
  /** Server CPU nanoseconds (user + system, all threads) per delivery. */
  readonly serverCpuPerDelivery: number;
  /** Server CPU time over the run's wall time (1 = one core). */
  readonly serverCpu: number;
  /** Each subscriber process's CPU time over its run, the highest. */
  readonly subscriberCpu: number;
  /** Publish-to-arrival, ms, of the sampled connections' messages. */
  readonly latencyP50: number;
  readonly latencyP99: number;
  /** The server's publish loop, seconds. */
  readonly publishSeconds: number;
  readonly seconds: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** What one run publishes. */
interface RunOptions {
  readonly size: number;
  readonly messages: number;
  /** Messages published in a row before going back to the event loop. */
  readonly batch: number;
}

/** Publishes from `server` (the subscribers' target `target`) and measures. */
async function measure(server: RuntimeServer, target: number, subscribers: readonly SubscriberProcess[], { size, messages, batch }: RunOptions): Promise<Sample> {
  const name = server.spec.name;
  const armed = subscribers.map((s) => s.next("armed"));
  for (const s of subscribers) s.send({ type: "expect", target, messages, size });
  await withTimeout(10_000, `${name}: subscribers to arm`, Promise.all(armed));
  const done = subscribers.map((s) => s.next("done"));
  for (const d of done) d.catch(() => undefined);
  const cpuBefore = server.cpuSeconds();
  const start = performance.now();
  const limit = 60_000 + messages * 200;
  const reply = await server.request(`publish ${messages} ${size} ${batch}`, limit);
  if ("error" in reply) throw new Error(`${name}: ${String(reply.error)}`);
  const results = await withTimeout(limit, `${name}: every subscriber to get ${messages} messages`, Promise.all(done));
  const seconds = (performance.now() - start) / 1000;
  for (const r of results) if (r.closed !== 0) throw new Error(`${name}: ${r.closed} subscriber connections were closed`);
  const cpu = server.cpuSeconds() - cpuBefore;
  const deliveries = messages * SUBSCRIBERS;
  const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  return {
    deliveriesPerSecond: deliveries / seconds,
    serverCpuPerDelivery: (cpu * 1e9) / deliveries,
    serverCpu: cpu / seconds,
    subscriberCpu: Math.max(...results.map((r) => r.cpuSeconds / r.seconds)),
    latencyP50: percentile(latencies, 0.5),
    latencyP99: percentile(latencies, 0.99),
    publishSeconds: reply.seconds!,
    seconds,
  };
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const sizeName = (size: number): string => (size >= 1024 ? `${size / 1024} KiB` : `${size} B`);
const rate = (perSecond: number): string =>
  perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)} M` : `${(perSecond / 1e3).toFixed(0)} k`;
const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

/** Median of the per-round ratios ours / reference, with their range. */
function ratio(ours: readonly number[], reference: readonly number[]): string {
  const ratios = ours.map((x, i) => x / reference[i]!);
  const range = ratios.length > 1 ? ` (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})` : "";
  return `${median(ratios).toFixed(2)}x${range}`;
}

interface Cell {
  readonly runtime: string;
  readonly pair: Pair;
  readonly size: number;
  readonly batch: number;
  readonly reference: Sample[];
  readonly ours: Sample[];
}

/** Both servers of `pair`, the subscribers, every size and round. */
async function runPair(pair: Pair): Promise<Cell[]> {
  const servers: RuntimeServer[] = [];
  const subscribers: SubscriberProcess[] = [];
  try {
    for (const spec of [pair.reference, pair.ours]) {
      const profile = values["cpu-prof"] === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${values["cpu-prof"]}/${spec.file}`];
      servers.push(await startRuntimeServer(spec, { raiseFdLimit: true, nodeFlags: profile }));
    }
    const ports = servers.map((s) => s.port);
    const opening = performance.now();
    for (let p = 0; p < PROCESSES; p++) {
      const share = Math.floor(SUBSCRIBERS / PROCESSES) + (p < SUBSCRIBERS % PROCESSES ? 1 : 0);
      subscribers.push(new SubscriberProcess(ports, share, values.sample));
    }
    await withTimeout(180_000, `${SUBSCRIBERS} subscribers to connect to each ${pair.runtime} server`, Promise.all(subscribers.map((s) => s.next("ready"))));
    for (const server of servers) {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const { subscribers: count } = await server.request("stats");
        if (count === SUBSCRIBERS) break;
        if (Date.now() > deadline) throw new Error(`${server.spec.name}: ${count} of ${SUBSCRIBERS} subscribed`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    console.error(`  ${pair.runtime}: ${SUBSCRIBERS} subscribers on each server in ${((performance.now() - opening) / 1000).toFixed(1)} s`);
    // JIT warm-up: one unrecorded run of each size on each server.
    for (const size of SIZES) {
      for (let s = 0; s < servers.length; s++) await measure(servers[s]!, s, subscribers, { size, messages: Math.ceil(MESSAGES / 2), batch: 1 });
    }
    const cells: Cell[] = [];
    for (const size of SIZES) for (const batch of BATCHES) {
      const samples: Sample[][] = [[], []];
      for (let round = 0; round < ROUNDS; round++) {
        for (let k = 0; k < servers.length; k++) {
          const s = (k + round) % servers.length;
          const sample = await measure(servers[s]!, s, subscribers, { size, messages: MESSAGES, batch });
          samples[s]!.push(sample);
          console.error(
            `  ${pair.runtime} ${sizeName(size).padEnd(6)} batch ${String(batch).padEnd(3)} round ${round + 1} ${servers[s]!.spec.name.padEnd(16)} ` +
              `${rate(sample.deliveriesPerSecond).padStart(7)} deliveries/s, server ${sample.serverCpuPerDelivery.toFixed(0)} ns/delivery ` +
              `(${(sample.serverCpu * 100).toFixed(0)}% CPU, publish loop ${(sample.publishSeconds * 1000).toFixed(0)} of ` +
              `${(sample.seconds * 1000).toFixed(0)} ms), subscribers ${(sample.subscriberCpu * 100).toFixed(0)}% CPU, ` +
              `latency p50 ${ms(sample.latencyP50)} p99 ${ms(sample.latencyP99)} ms`,
          );
        }
      }
      cells.push({ runtime: pair.runtime, pair, size, batch, reference: samples[0]!, ours: samples[1]! });
    }
    // Nothing closed: every server still has every connection, and no subscriber saw a close.
    for (const server of servers) {
      const stats = await server.request("stats");
      const closed = stats.accepted! - stats.open!;
      console.error(`  ${server.spec.name} (${pair.runtime}): ${stats.open} open, ${stats.subscribers} subscribed, ${closed} closed during the run`);
      if (closed !== 0 || stats.subscribers !== SUBSCRIBERS) throw new Error(`${server.spec.name}: ${closed} connections closed during the run`);
    }
    return cells;
  } finally {
    for (const s of subscribers) s.kill();
    for (const server of servers) await server.stop();
  }
}

function printTable(cells: readonly Cell[]): void {
  console.log(
    `\nPublish fan-out: ${SUBSCRIBERS.toLocaleString("en")} subscribers in ${PROCESSES} processes, ${MESSAGES} binary messages a run, ` +
      `published \`batch\` in a row between turns of the event loop; median of ${ROUNDS} round(s), ours / reference the median of the per-round ratios (range). ` +
      "Server CPU per delivery: user + system, all threads. Subscriber CPU: the busier process (100% = one core). " +
      "Latency: publish to arrival, over the whole run.",
  );
  console.log(
    "| runtime | payload | batch | reference | deliveries/s | ours / ref | server CPU ns/delivery (ref) | ours / ref | " +
      "latency p50 / p99 ms (ref) | ours | subscriber CPU (ref / ours) |",
  );
  console.log("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const c of cells) {
    const med = (xs: Sample[], f: (s: Sample) => number): number => median(xs.map(f));
    const latency = (xs: Sample[]): string => `${ms(med(xs, (s) => s.latencyP50))} / ${ms(med(xs, (s) => s.latencyP99))}`;
    console.log(
      `| ${c.runtime} | ${sizeName(c.size)} | ${c.batch} | ${c.pair.reference.name} | ` +
        `${rate(med(c.reference, (s) => s.deliveriesPerSecond))} | ` +
        `${ratio(c.ours.map((s) => s.deliveriesPerSecond), c.reference.map((s) => s.deliveriesPerSecond))} | ` +
        `${med(c.reference, (s) => s.serverCpuPerDelivery).toFixed(0)} | ` +
        `${ratio(c.ours.map((s) => s.serverCpuPerDelivery), c.reference.map((s) => s.serverCpuPerDelivery))} | ` +
        `${latency(c.reference)} | ${latency(c.ours)} | ` +
        `${(med(c.reference, (s) => s.subscriberCpu) * 100).toFixed(0)}% / ${(med(c.ours, (s) => s.subscriberCpu) * 100).toFixed(0)}% |`,
    );
  }
}

const timer = setTimeout(() => {
  console.error(`Publish benchmark aborted after ${RUN_LIMIT_MS / 60_000} minutes`);
  process.exit(1);
}, RUN_LIMIT_MS);
timer.unref();

console.log(
  `${new Date().toISOString()}; ${availableParallelism()} CPUs, load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}; ${runtimeVersions()}`,
);
const cells: Cell[] = [];
for (const name of values.runtimes.split(",")) {
  const pair = PAIRS[name];
  if (pair === undefined) throw new Error(`Unknown runtime: ${name} (node, bun, deno)`);
  cells.push(...(await runPair(pair)));
}
printTable(cells);
console.log("No connection was closed during any run (servers and subscribers checked), and every subscriber got every message.");
