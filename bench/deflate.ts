/**
 * Compression (permessage-deflate, RFC 7692): echo throughput and memory per connection with
 * compression on, ours against the reference of each runtime, in the same run.
 *
 * - Node: `serve()` from @wsstream/node with `extensions: [deflate()]` (servers/deflate-wsstream-node.ts)
 *   against ws's `new WebSocketServer({ perMessageDeflate: true })` with bufferutil
 *   (servers/deflate-ws-node.ts);
 * - Bun: `serve()` from @wsstream/bun with `deflate()` (servers/wsstream-bun.ts --deflate) against
 *   `Bun.serve` with `perMessageDeflate: true` and `ws.send(m, true)` (servers/bun-builtin.ts
 *   --deflate). Bun then answers `server_no_context_takeover` (one shared compressor, no
 *   compression state per connection), so ours also runs with `deflate({ serverNoContextTakeover:
 *   true })`, the same agreement;
 * - Deno: ours alone (servers/wsstream-deno.ts --deflate): `Deno.upgradeWebSocket` has no
 *   permessage-deflate.
 *
 * The load comes from bench/load-generator-deflate.ts: a raw `node:net` client offering
 * `permessage-deflate; client_no_context_takeover; client_max_window_bits`, sending a JSON-like
 * text message compressed once (RSV1, masked), checking at connection time that the compressed
 * replies inflate to the message, then counting echoed messages. Text messages of 1 KiB and
 * 16 KiB, 1 and 64 connections, 32 in flight per connection; each cell measured round after
 * round with the servers' order rotated, medians and per-round ratios reported, server CPU time
 * per message from /proc/PID/stat (all threads: zlib's work runs on the libuv thread pool in
 * Node).
 *
 * Memory: each server alone, `--idle` (default 1,000) connections that each exchanged two
 * compressed messages (so the server's compression contexts exist) and then stay idle; RSS
 * (/proc/PID/status) after a forced GC, before and after, over the connection count.
 *
 * Run: node_modules/.bin/tsx --conditions=wsstream-source bench/deflate.ts [--quick]
 *      [--rounds 3] [--seconds 2] [--warmup 0.5] [--generators 2] [--runtimes node,deno,bun]
 *      [--sizes 1024,16384] [--connections 1,64] [--idle 1000] [--only throughput,memory]
 * Bounded: every wait is timed; the default run takes about 4.5 minutes, `--quick` under two.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  type CellOptions,
  type IdleMemory,
  measureIdle,
  medianSample,
  pairedRatio,
  rate,
  rssPerConnection,
  runCell,
  type Sample,
  sizeName,
} from "./drive.ts";
import { type RuntimeServer, runtimeVersions, type ServerSpec, startRuntimeServer } from "./runtime-servers.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    rounds: { type: "string" },
    seconds: { type: "string" },
    warmup: { type: "string" },
    generators: { type: "string", default: "2" },
    runtimes: { type: "string", default: "node,deno,bun" },
    sizes: { type: "string" },
    connections: { type: "string" },
    idle: { type: "string" },
    only: { type: "string", default: "throughput,memory" },
  },
});

const QUICK = values.quick;
const ROUNDS = Number(values.rounds ?? (QUICK ? 1 : 3));
const SECONDS = Number(values.seconds ?? (QUICK ? 0.7 : 2));
const WARMUP = Number(values.warmup ?? (QUICK ? 0.3 : 0.5));
const GENERATORS = Math.max(1, Number(values.generators));
const SIZES = (values.sizes ?? "1024,16384").split(",").map(Number);
const CONNECTIONS = (values.connections ?? "1,64").split(",").map(Number);
const IDLE = Number(values.idle ?? (QUICK ? 200 : 1000));
const INFLIGHT = 32;
const ONLY = values.only.split(",");
const RUN_LIMIT_MS = 20 * 60_000;
const GENERATOR = { script: "bench/load-generator-deflate.ts" };

/** A runtime's servers: the reference (when the runtime has one with compression) and ours. */
interface Group {
  readonly runtime: string;
  readonly reference: ServerSpec | undefined;
  readonly ours: readonly ServerSpec[];
}

const ALL_GROUPS: readonly Group[] = [
  {
    runtime: "Node",
    reference: { name: "ws perMessageDeflate", runtime: "node", file: "deflate-ws-node" },
    ours: [{ name: "wsstream deflate()", runtime: "node", file: "deflate-wsstream-node" }],
  },
  {
    runtime: "Deno",
    reference: undefined,
    ours: [{ name: "wsstream deflate()", runtime: "deno", file: "wsstream-deno", args: ["--deflate"] }],
  },
  {
    runtime: "Bun",
    reference: { name: "Bun.serve perMessageDeflate", runtime: "bun", file: "bun-builtin", args: ["--deflate"] },
    ours: [
      { name: "wsstream deflate()", runtime: "bun", file: "wsstream-bun", args: ["--deflate"] },
      {
        name: "wsstream deflate({ serverNoContextTakeover: true })",
        runtime: "bun",
        file: "wsstream-bun",
        args: ["--deflate", "--server-no-context-takeover"],
      },
    ],
  },
];
const GROUPS = ALL_GROUPS.filter((group) => values.runtimes.split(",").includes(group.runtime.toLowerCase()));

const specsOf = (group: Group): ServerSpec[] => [...(group.reference === undefined ? [] : [group.reference]), ...group.ours];

interface Cell {
  readonly size: number;
  readonly connections: number;
  /** Each server's samples, one per round, in round order. */
  readonly samples: Map<ServerSpec, Sample[]>;
}

async function throughput(): Promise<Cell[]> {
  const specs = GROUPS.flatMap(specsOf);
  const servers = new Map<ServerSpec, RuntimeServer>();
  try {
    for (const spec of specs) servers.set(spec, await startRuntimeServer(spec));
    const options = (size: number, connections: number): CellOptions => ({
      size,
      connections,
      inflight: INFLIGHT,
      warmup: WARMUP,
      seconds: SECONDS,
      generators: GENERATORS,
    });
    // JIT warm-up of each server before the first measured cell.
    for (const spec of specs) await runCell(servers.get(spec)!, GENERATOR, { ...options(1024, 8), seconds: 0.5 });
    const cells: Cell[] = [];
    for (const size of SIZES) {
      for (const connections of CONNECTIONS) {
        const samples = new Map<ServerSpec, Sample[]>(specs.map((s) => [s, []]));
        for (let round = 0; round < ROUNDS; round++) {
          const order = specs.map((_, i) => specs[(i + round) % specs.length]!);
          for (const spec of order) {
            const sample = await runCell(servers.get(spec)!, GENERATOR, options(size, connections));
            samples.get(spec)!.push(sample);
            console.error(
              `  ${sizeName(size).padEnd(6)} x${String(connections).padEnd(3)} round ${round + 1} ` +
                `${`${spec.name} (${spec.runtime})`.padEnd(40)} ${rate(sample.messagesPerSecond).padStart(8)} msg/s ` +
                `server ${sample.serverCpuPerMessage.toFixed(2)} us/msg (${(sample.serverCpu * 100).toFixed(0)}% CPU), ` +
                `generator ${(sample.generatorCpu * 100).toFixed(0)}% CPU, ` +
                `${((sample.compressedShare ?? 0) * 100).toFixed(0)}% replies compressed, ` +
                `${(sample.receivedPerMessage ?? 0).toFixed(0)} B/reply`,
            );
          }
        }
        cells.push({ size, connections, samples });
      }
    }
    return cells;
  } finally {
    for (const server of servers.values()) await server.stop();
  }
}

function printThroughput(cells: readonly Cell[]): void {
  const sent = cells
    .filter((c, i) => cells.findIndex((d) => d.size === c.size) === i)
    .map((c) => `${sizeName(c.size)} → ${[...c.samples.values()][0]![0]!.frameBytes ?? "?"} B`);
  console.log(
    `\nEcho with permessage-deflate: JSON-like text messages/s, ${INFLIGHT} in flight per connection, median of ` +
      `${ROUNDS} round(s) of ${SECONDS} s after ${WARMUP} s warm-up, ${GENERATORS} generator process(es) for 64 ` +
      `connections. Each message is sent compressed (frame as sent: ${sent.join(", ")}). Ratios against the ` +
      "runtime's reference: median of the per-round ratios (range). Server CPU: µs per message, user + system, all " +
      "threads (/proc/PID/stat), with the server's CPU use (one core = 100%). Reply: bytes received per echoed " +
      "message (frame header included) and the share that came back compressed.",
  );
  const throughputOf = (s: Sample): number => s.messagesPerSecond;
  const cpuOf = (s: Sample): number => s.serverCpuPerMessage;
  console.log("| runtime | payload | conns | server | messages/s | ours / reference | CPU µs/msg | CPU ours / reference | reply |");
  console.log("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | --- |");
  for (const group of GROUPS) {
    for (const cell of cells) {
      const reference = group.reference === undefined ? undefined : cell.samples.get(group.reference)!;
      for (const spec of specsOf(group)) {
        const samples = cell.samples.get(spec)!;
        const m = medianSample(samples);
        const compare = (value: (s: Sample) => number): string =>
          reference === undefined || spec === group.reference ? "" : pairedRatio(samples, reference, value);
        console.log(
          `| ${group.runtime} | ${sizeName(cell.size)} | ${cell.connections} | ${spec.name} | ${rate(m.messagesPerSecond)} ` +
            `| ${compare(throughputOf)} | ${m.serverCpuPerMessage.toFixed(1)} (${(m.serverCpu * 100).toFixed(0)}%) ` +
            `| ${compare(cpuOf)} | ${(m.receivedPerMessage ?? 0).toFixed(0)} B, ${((m.compressedShare ?? 0) * 100).toFixed(0)}% |`,
        );
      }
    }
  }
}

async function memory(): Promise<IdleMemory[]> {
  const results: IdleMemory[] = [];
  for (const group of GROUPS) {
    for (const spec of specsOf(group)) {
      const result = await measureIdle(spec, GENERATOR, IDLE);
      results.push(result);
      console.error(`  ${spec.name} (${spec.runtime}): ${rssPerConnection(result).toFixed(1)} KiB RSS per connection`);
    }
  }
  return results;
}

function printMemory(results: readonly IdleMemory[]): void {
  const MiB = 1024 * 1024;
  console.log(
    `\nMemory per connection with permessage-deflate: ${IDLE} connections, each after two compressed messages ` +
      "each way, then idle; RSS (/proc/PID/status VmRSS) after a forced GC, KiB per connection:",
  );
  console.log("| runtime | server | RSS per connection | ours / reference | RSS before → after (MiB) |");
  console.log("| --- | --- | ---: | ---: | --- |");
  for (const group of GROUPS) {
    const reference = results.find((r) => r.spec === group.reference);
    for (const spec of specsOf(group)) {
      const r = results.find((x) => x.spec === spec)!;
      const ratio = reference !== undefined && r !== reference
        ? `${(rssPerConnection(r) / rssPerConnection(reference)).toFixed(2)}x`
        : "";
      console.log(
        `| ${group.runtime} | ${spec.name} | ${rssPerConnection(r).toFixed(1)} KiB | ${ratio} ` +
          `| ${(r.before.rss / MiB).toFixed(0)} → ${(r.after.rss / MiB).toFixed(0)} |`,
      );
    }
  }
}

const timer = setTimeout(() => {
  console.error(`Deflate benchmark aborted after ${RUN_LIMIT_MS / 60_000} minutes`);
  process.exit(1);
}, RUN_LIMIT_MS);
timer.unref();

console.log(`${new Date().toISOString().slice(0, 10)}; ${runtimeVersions()}`);
const cells = ONLY.includes("throughput") ? await throughput() : [];
const idle = ONLY.includes("memory") ? await memory() : [];
if (cells.length > 0) printThroughput(cells);
if (idle.length > 0) printMemory(idle);
