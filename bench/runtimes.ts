/**
 * Echo throughput and memory per idle connection on Deno and Bun: our server against the
 * runtime's built-in WebSocket server, in the same run.
 *
 * - Deno: `serve()` from @wsstream/deno through each interface, the WHATWG `WebSocket`
 *   (`ws.onmessage = (e) => ws.send(e.data)`, binaryType `"bytes"`) and `WebSocketStream`
 *   (`readable.pipeTo(writable)`) (servers/wsstream-deno.ts), against `Deno.serve` + `Deno.upgradeWebSocket` echoing
 *   `socket.onmessage = (e) => socket.send(e.data)` (servers/deno-builtin.ts);
 * - Bun: `serve()` from @wsstream/bun, the same two handlers (servers/wsstream-bun.ts), against
 *   `Bun.serve` with `websocket: { message(ws, m) { ws.send(m) } }`, perMessageDeflate off
 *   (servers/bun-builtin.ts).
 *
 * Throughput: the Node benchmark's cells and load (bench/echo.ts): bench/load-generator.ts, a raw
 * `node:net` client in 1 process (1 connection) or `--generators` processes (64 connections),
 * binary messages of 16 B, 1 KiB and 64 KiB, 32 in flight per connection. All four servers run
 * from the start; each cell is measured round after round with the servers' order rotated, and
 * the median reported, with ours / built-in as the median of the per-round ratios. Server CPU
 * time per message comes from /proc/PID/stat (all threads), read over the measured window.
 *
 * Memory: each server alone, `--idle` (default 2,000) connections opened by the generator in
 * `idle` mode and left idle; the RSS (/proc/PID/status) after a forced GC, before and after,
 * over the connection count (see `measureIdle` in bench/drive.ts).
 *
 * Run: node_modules/.bin/tsx --conditions=wsstream-source bench/runtimes.ts [--quick]
 *      [--rounds 3] [--seconds 2] [--warmup 0.5] [--generators 2] [--runtimes deno,bun]
 *      [--sizes 16,1024,65536] [--connections 1,64] [--idle 2000] [--only throughput,memory] [--json FILE]
 * `--json FILE` writes each interface's ratio to the built-in server for bench/chart.ts.
 * Bounded: every wait is timed; the default run takes about 4 minutes, `--quick` under a minute and a half.
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
import { medianRatio, type RatioRow, writeRows } from "./results.ts";
import { type RuntimeServer, runtimeVersions, type ServerSpec, startRuntimeServer } from "./runtime-servers.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    rounds: { type: "string" },
    seconds: { type: "string" },
    warmup: { type: "string" },
    generators: { type: "string", default: "2" },
    runtimes: { type: "string", default: "deno,bun" },
    sizes: { type: "string" },
    connections: { type: "string" },
    idle: { type: "string" },
    only: { type: "string", default: "throughput,memory" },
    json: { type: "string" },
  },
});

const QUICK = values.quick;
const ROUNDS = Number(values.rounds ?? (QUICK ? 1 : 3));
const SECONDS = Number(values.seconds ?? (QUICK ? 0.7 : 2));
const WARMUP = Number(values.warmup ?? (QUICK ? 0.3 : 0.5));
const GENERATORS = Math.max(1, Number(values.generators));
const SIZES = (values.sizes ?? "16,1024,65536").split(",").map(Number);
const CONNECTIONS = (values.connections ?? "1,64").split(",").map(Number);
const IDLE = Number(values.idle ?? (QUICK ? 300 : 2000));
const INFLIGHT = 32;
const ONLY = values.only.split(",");
const RUN_LIMIT_MS = 20 * 60_000;
const GENERATOR = { script: "bench/load-generator.ts" };

/** A runtime's two servers. */
interface Pair {
  readonly runtime: string;
  readonly builtin: ServerSpec;
  /** Ours through each interface: the WHATWG `WebSocket`, then `WebSocketStream`. */
  readonly ours: readonly ServerSpec[];
}

const ALL_PAIRS: readonly Pair[] = [
  {
    runtime: "Deno",
    builtin: { name: "Deno.serve + upgradeWebSocket", runtime: "deno", file: "deno-builtin" },
    ours: [
      { name: "wsstream WebSocket (Deno)", runtime: "deno", file: "wsstream-deno", args: ["--handler", "websocket"] },
      { name: "wsstream pipeTo (Deno)", runtime: "deno", file: "wsstream-deno", args: ["--handler", "pipe"] },
    ],
  },
  {
    runtime: "Bun",
    builtin: { name: "Bun.serve websocket", runtime: "bun", file: "bun-builtin" },
    ours: [
      { name: "wsstream WebSocket (Bun)", runtime: "bun", file: "wsstream-bun", args: ["--handler", "websocket"] },
      { name: "wsstream pipeTo (Bun)", runtime: "bun", file: "wsstream-bun", args: ["--handler", "pipe"] },
    ],
  },
];
const PAIRS = ALL_PAIRS.filter((pair) => values.runtimes.split(",").includes(pair.runtime.toLowerCase()));

interface Cell {
  readonly size: number;
  readonly connections: number;
  /** Each server's samples, one per round, in round order. */
  readonly samples: Map<ServerSpec, Sample[]>;
}

async function throughput(): Promise<Cell[]> {
  const specs = PAIRS.flatMap((p) => [p.builtin, ...p.ours]);
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
                `${spec.name.padEnd(30)} ${rate(sample.messagesPerSecond).padStart(8)} msg/s ` +
                `server ${sample.serverCpuPerMessage.toFixed(2)} us/msg (${(sample.serverCpu * 100).toFixed(0)}% CPU), ` +
                `generator ${(sample.generatorCpu * 100).toFixed(0)}% CPU`,
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
  console.log(
    `\nEcho: binary messages/s, ${INFLIGHT} in flight per connection, median of ${ROUNDS} round(s) ` +
      `of ${SECONDS} s after ${WARMUP} s warm-up, ${GENERATORS} generator process(es) for 64 connections. ` +
      "Ratios: median of the per-round ratios (range). Server CPU: µs per message, user + system, all " +
      "threads (/proc/PID/stat), with the server's CPU use (one core = 100%).",
  );
  const us = (s: Sample): string => `${s.serverCpuPerMessage.toFixed(2)} (${(s.serverCpu * 100).toFixed(0)}%)`;
  const throughputOf = (s: Sample): number => s.messagesPerSecond;
  const cpuOf = (s: Sample): number => s.serverCpuPerMessage;
  for (const pair of PAIRS) {
    console.log(`\n${pair.runtime}:`);
    console.log(
      `| payload | conns | server | msg/s | ours / built-in | CPU µs/msg | CPU ours / built-in | generator CPU |`,
    );
    console.log("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |");
    for (const cell of cells) {
      const builtin = cell.samples.get(pair.builtin)!;
      for (const spec of [pair.builtin, ...pair.ours]) {
        const samples = cell.samples.get(spec)!;
        const median = medianSample(samples);
        const ours = spec !== pair.builtin;
        console.log(
          `| ${sizeName(cell.size)} | ${cell.connections} | ${spec.name} | ${rate(median.messagesPerSecond)} ` +
            `| ${ours ? pairedRatio(samples, builtin, throughputOf) : ""} | ${us(median)} ` +
            `| ${ours ? pairedRatio(samples, builtin, cpuOf) : ""} | ${(median.generatorCpu * 100).toFixed(0)}% |`,
        );
      }
    }
  }
}

// Each runtime's two interfaces against its built-in server, for the chart.
function ratioRows(cells: readonly Cell[]): RatioRow[] {
  const rows: RatioRow[] = [];
  for (const pair of PAIRS) {
    for (const cell of cells) {
      const builtin = cell.samples.get(pair.builtin)!;
      for (const spec of pair.ours) {
        const ours = cell.samples.get(spec)!;
        rows.push({
          runtime: pair.runtime as RatioRow["runtime"],
          anchor: pair.builtin.name,
          api: spec.args?.includes("websocket") ? "WebSocket" : "WebSocketStream",
          size: cell.size,
          connections: cell.connections,
          ratio: medianRatio(ours.map((s) => s.messagesPerSecond), builtin.map((s) => s.messagesPerSecond)),
          ours: medianSample(ours).messagesPerSecond,
          reference: medianSample(builtin).messagesPerSecond,
          generatorCpu: medianSample(ours).generatorCpu,
        });
      }
    }
  }
  return rows;
}

async function memory(): Promise<IdleMemory[]> {
  const results: IdleMemory[] = [];
  for (const pair of PAIRS) {
    for (const spec of [pair.builtin, ...pair.ours]) {
      const result = await measureIdle(spec, GENERATOR, IDLE);
      results.push(result);
      console.error(`  ${spec.name}: ${rssPerConnection(result).toFixed(1)} KiB RSS per idle connection`);
    }
  }
  return results;
}

function printMemory(results: readonly IdleMemory[]): void {
  const MiB = 1024 * 1024;
  console.log(
    `\nMemory per idle connection: ${IDLE} connections open and idle, RSS (/proc/PID/status VmRSS) after a ` +
      "forced GC, KiB per connection:",
  );
  console.log("| runtime | server | RSS per connection | ours / built-in | RSS before → after (MiB) |");
  console.log("| --- | --- | ---: | ---: | --- |");
  for (const pair of PAIRS) {
    const builtin = results.find((r) => r.spec === pair.builtin)!;
    for (const r of results.filter((r) => r.spec === pair.builtin || pair.ours.includes(r.spec))) {
      const ratio = r === builtin ? "" : `${(rssPerConnection(r) / rssPerConnection(builtin)).toFixed(2)}x`;
      console.log(
        `| ${pair.runtime} | ${r.spec.name} | ${rssPerConnection(r).toFixed(1)} KiB | ${ratio} ` +
          `| ${(r.before.rss / MiB).toFixed(0)} → ${(r.after.rss / MiB).toFixed(0)} |`,
      );
    }
  }
}

const timer = setTimeout(() => {
  console.error(`Runtimes benchmark aborted after ${RUN_LIMIT_MS / 60_000} minutes`);
  process.exit(1);
}, RUN_LIMIT_MS);
timer.unref();

console.log(`${new Date().toISOString().slice(0, 10)}; ${runtimeVersions()}`);
const cells = ONLY.includes("throughput") ? await throughput() : [];
const idle = ONLY.includes("memory") ? await memory() : [];
if (cells.length > 0) printThroughput(cells);
if (cells.length > 0 && values.json !== undefined) writeRows(values.json, ratioRows(cells));
if (idle.length > 0) printMemory(idle);
