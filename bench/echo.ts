/**
 * Echo throughput (Node): messages per second through our `serve()` server and through ws (with
 * bufferutil), for 16 B, 1 KiB and 64 KiB binary messages, over 1 and 64 connections with 32
 * messages in flight on each.
 *
 * Every server runs in its own child process (bench/servers/*.ts), started once and driven in
 * turn: each cell (payload, connections) is measured round after round, the servers' order
 * rotated every round, and the median of the rounds reported. The load comes from
 * bench/load-generator.ts (raw `node:net`, pre-encoded frames) in 1 or `--generators` child
 * processes. The same generator against a raw TCP echo server (no WebSocket) shows how far it
 * can go: it must be well above both WebSocket servers for the comparison to mean anything.
 *
 * Besides messages/s, each cell records the server's CPU time per message (`process.cpuUsage()`
 * over the measured window, over IPC): on a shared, noisy machine it moves less than throughput.
 *
 * The servers run bundled (see `buildServer` in servers/control.ts: tsx would add its own cost).
 * `--profile DIR` runs the WebSocket servers from their sources under `node --cpu-prof`, drives
 * each once through the cells, and prints the functions with the most self time (per message,
 * and as a share of the busy time), then by source file.
 *
 * Run: node_modules/.bin/tsx --conditions=wsstream-source bench/echo.ts [--quick]
 *      [--rounds 3] [--seconds 2] [--warmup 0.5] [--generators 2] [--profile DIR] [--json FILE]
 * `--json FILE` writes the WebSocket and pipeTo ratios for bench/chart.ts.
 * Bounded: every wait is timed; the default run takes about 4.5 minutes, `--quick` about one.
 *
 * @module
 */
import { type ChildProcess } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { GeneratorMessage } from "./load-generator.ts";
import { medianRatio, type RatioRow, writeRows } from "./results.ts";
import {
  ROOT,
  type ServerProcess,
  spawnNode,
  startServer,
  type StartOptions,
  withTimeout,
} from "./servers/control.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    rounds: { type: "string" },
    seconds: { type: "string" },
    warmup: { type: "string" },
    generators: { type: "string", default: "2" },
    sizes: { type: "string" },
    connections: { type: "string" },
    profile: { type: "string" },
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
const INFLIGHT = 32;
const RUN_LIMIT_MS = 15 * 60_000;

interface ServerSpec {
  readonly name: string;
  readonly start: StartOptions;
  /** A TCP echo: no handshake, the client's own frames come back. */
  readonly raw?: boolean;
}

const WS: ServerSpec = { name: "ws", start: { file: "ws-node" } };
const PIPE: ServerSpec = { name: "wsstream pipeTo", start: { file: "wsstream-node", args: ["--handler", "pipe"] } };
const LOOP: ServerSpec = { name: "wsstream loop", start: { file: "wsstream-node", args: ["--handler", "loop"] } };
const WEBSOCKET: ServerSpec = { name: "wsstream WebSocket", start: { file: "wsstream-node", args: ["--handler", "websocket"] } };
/** Our servers, each compared with ws. */
const OURS: readonly ServerSpec[] = [WEBSOCKET, PIPE, LOOP];
const TCP: ServerSpec = { name: "raw TCP echo", start: { file: "tcp-echo" }, raw: true };

/** One measurement of one server in one cell. */
interface Sample {
  readonly messagesPerSecond: number;
  /** Server CPU microseconds (user + system) per echoed message. */
  readonly serverCpuPerMessage: number;
  /** Server CPU time over wall time (1 = one core busy). */
  readonly serverCpu: number;
  /** Generator CPU time over wall time, summed over the generator processes. */
  readonly generatorCpu: number;
  /** Every message echoed, warm-up included (for the profile's per-message figures). */
  readonly total: number;
}

/** Runs the generators against `server` for one cell and returns what they measured. */
async function runCell(server: ServerProcess, spec: ServerSpec, size: number, connections: number): Promise<Sample> {
  const processes = Math.min(connections, connections > 1 ? GENERATORS : 1);
  const generators: ChildProcess[] = [];
  const ready: Promise<void>[] = [];
  const measuring: Promise<void>[] = [];
  const results: Promise<Extract<GeneratorMessage, { type: "result" }>>[] = [];
  for (let g = 0; g < processes; g++) {
    const share = Math.floor(connections / processes) + (g < connections % processes ? 1 : 0);
    const child = spawnNode(
      [
        "--import",
        "tsx",
        "bench/load-generator.ts",
        `--port=${server.port}`,
        `--connections=${share}`,
        `--inflight=${INFLIGHT}`,
        `--size=${size}`,
        `--warmup=${WARMUP}`,
        `--seconds=${SECONDS}`,
        ...(spec.raw ? ["--raw"] : []),
      ],
      false,
    );
    generators.push(child);
    const waitFor = <T extends GeneratorMessage["type"]>(type: T) =>
      new Promise<Extract<GeneratorMessage, { type: T }>>((resolve, reject) => {
        const onMessage = (message: GeneratorMessage): void => {
          if (message.type === "error") reject(new Error(`Load generator (${spec.name}): ${message.message}`));
          if (message.type !== type) return;
          child.off("message", onMessage);
          resolve(message as Extract<GeneratorMessage, { type: T }>);
        };
        child.on("message", onMessage);
        child.once("exit", (code) => reject(new Error(`Load generator exited (${code}) before ${type}`)));
      });
    ready.push(waitFor("ready").then(() => undefined));
    measuring.push(waitFor("measuring").then(() => undefined));
    results.push(waitFor("result"));
  }
  try {
    // Avoid unhandled rejections for the waits not reached when an earlier one fails.
    for (const p of [...measuring, ...results]) p.catch(() => undefined);
    await withTimeout(30_000, `${spec.name}: ${connections} connections to open`, Promise.all(ready));
    for (const child of generators) child.send({ type: "go" });
    await withTimeout(30_000, `${spec.name}: warm-up`, Promise.race(measuring));
    const before = await server.stats();
    const wallStart = performance.now();
    const done = await withTimeout((SECONDS + WARMUP) * 1000 + 30_000, `${spec.name}: the run`, Promise.all(results));
    const after = await server.stats();
    const wall = (performance.now() - wallStart) / 1000;
    const serverCpuSeconds = (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1e6;
    const messagesPerSecond = done.reduce((sum, r) => sum + r.messages / r.seconds, 0);
    return {
      messagesPerSecond,
      serverCpuPerMessage: (serverCpuSeconds * 1e6) / (messagesPerSecond * wall),
      serverCpu: serverCpuSeconds / wall,
      generatorCpu: done.reduce((sum, r) => sum + r.cpuSeconds / r.seconds, 0),
      total: done.reduce((sum, r) => sum + r.total, 0),
    };
  } finally {
    for (const child of generators) if (child.exitCode === null) child.kill();
  }
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function medianSample(samples: readonly Sample[]): Sample {
  return {
    messagesPerSecond: median(samples.map((s) => s.messagesPerSecond)),
    serverCpuPerMessage: median(samples.map((s) => s.serverCpuPerMessage)),
    serverCpu: median(samples.map((s) => s.serverCpu)),
    generatorCpu: median(samples.map((s) => s.generatorCpu)),
    total: samples.reduce((sum, s) => sum + s.total, 0),
  };
}

const sizeName = (size: number): string => (size >= 1024 ? `${size / 1024} KiB` : `${size} B`);
const rate = (perSecond: number): string =>
  perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)} M` : `${(perSecond / 1e3).toFixed(1)} k`;

/** Runs every cell, servers alternating, and prints the tables. */
async function compare(): Promise<void> {
  const specs = [WS, ...OURS, TCP];
  const servers = new Map<ServerSpec, ServerProcess>();
  for (const spec of specs) servers.set(spec, await startServer(spec.name, spec.start));
  try {
    // JIT warm-up of each server before the first measured cell.
    for (const spec of specs) await runCell(servers.get(spec)!, spec, 1024, 8);
    const cells: Cell[] = [];
    for (const size of SIZES) {
      for (const connections of CONNECTIONS) {
        const samples = new Map<ServerSpec, Sample[]>(specs.map((s) => [s, []]));
        for (let round = 0; round < ROUNDS; round++) {
          const order = specs.map((_, i) => specs[(i + round) % specs.length]!);
          for (const spec of order) {
            const sample = await runCell(servers.get(spec)!, spec, size, connections);
            samples.get(spec)!.push(sample);
            console.error(
              `  ${sizeName(size).padEnd(6)} x${String(connections).padEnd(3)} round ${round + 1} ` +
                `${spec.name.padEnd(16)} ${rate(sample.messagesPerSecond).padStart(8)} msg/s ` +
                `server ${sample.serverCpuPerMessage.toFixed(2)} us/msg (${(sample.serverCpu * 100).toFixed(0)}% CPU), ` +
                `generator ${(sample.generatorCpu * 100).toFixed(0)}% CPU`,
            );
          }
        }
        cells.push({
          size,
          connections,
          samples,
          results: new Map([...samples].map(([s, xs]) => [s, medianSample(xs)])),
        });
      }
    }
    printTables(cells);
    if (values.json !== undefined) writeRows(values.json, ratioRows(cells));
  } finally {
    for (const server of servers.values()) await server.stop();
  }
}

interface Cell {
  readonly size: number;
  readonly connections: number;
  /** Each server's samples, one per round, in round order. */
  readonly samples: Map<ServerSpec, Sample[]>;
  /** Each server's medians. */
  readonly results: Map<ServerSpec, Sample>;
}

/**
 * `spec` against ws: the median over rounds of the ratio within each round (servers measured
 * seconds apart, so load from outside hits both alike), and its range.
 */
function pairedRatio(cell: Cell, spec: ServerSpec, value: (s: Sample) => number): string {
  const ours = cell.samples.get(spec)!;
  const ws = cell.samples.get(WS)!;
  const ratios = ours.map((s, i) => value(s) / value(ws[i]!));
  const range = ratios.length > 1 ? ` (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})` : "";
  return `${median(ratios).toFixed(2)}x${range}`;
}

// The ratios of the two interfaces' usual handlers (WebSocket, pipeTo) for the chart.
function ratioRows(cells: readonly Cell[]): RatioRow[] {
  const rows: RatioRow[] = [];
  for (const cell of cells) {
    const ws = cell.samples.get(WS)!.map((s) => s.messagesPerSecond);
    for (const [spec, api] of [[WEBSOCKET, "WebSocket"], [PIPE, "WebSocketStream"]] as const) {
      const ours = cell.samples.get(spec)!;
      rows.push({
        runtime: "Node",
        anchor: "ws + bufferutil",
        api,
        size: cell.size,
        connections: cell.connections,
        ratio: medianRatio(ours.map((s) => s.messagesPerSecond), ws),
        ours: cell.results.get(spec)!.messagesPerSecond,
        reference: cell.results.get(WS)!.messagesPerSecond,
        generatorCpu: cell.results.get(spec)!.generatorCpu,
      });
    }
  }
  return rows;
}

function printTables(cells: readonly Cell[]): void {
  const get = (cell: Cell, spec: ServerSpec): Sample => cell.results.get(spec)!;
  const throughput = (s: Sample): number => s.messagesPerSecond;
  const cpu = (s: Sample): number => s.serverCpuPerMessage;
  const short = (spec: ServerSpec): string => spec.name.replace("wsstream ", "");
  console.log(
    `\nEcho: binary messages/s, ${INFLIGHT} in flight per connection, median of ${ROUNDS} round(s) ` +
      `of ${SECONDS} s after ${WARMUP} s warm-up, ${GENERATORS} generator process(es) for 64 connections. ` +
      "Ratios: median of the per-round ratios (range).",
  );
  console.log(`| payload | conns | ws + bufferutil | ${OURS.map((o) => `${o.name} | ${short(o)} / ws`).join(" | ")} | raw TCP echo | TCP / best WS |`);
  console.log(`| --- | ---: | ---: | ${OURS.map(() => "---: | ---:").join(" | ")} | ---: | ---: |`);
  for (const cell of cells) {
    const ws = get(cell, WS).messagesPerSecond;
    const tcp = get(cell, TCP).messagesPerSecond;
    const best = Math.max(ws, ...OURS.map((o) => get(cell, o).messagesPerSecond));
    console.log(
      `| ${sizeName(cell.size)} | ${cell.connections} | ${rate(ws)} | ` +
        OURS.map((o) => `${rate(get(cell, o).messagesPerSecond)} | ${pairedRatio(cell, o, throughput)}`).join(" | ") +
        ` | ${rate(tcp)} | ${(tcp / best).toFixed(1)}x |`,
    );
  }
  console.log(
    "\nServer CPU time per message (µs, user + system; lower is better), server CPU use (1 core = 100%), " +
      "and the generators' CPU use (summed over processes):",
  );
  console.log(`| payload | conns | ws | ${OURS.map((o) => `${o.name} | ${short(o)} / ws`).join(" | ")} | generator CPU (ws / ${OURS.map(short).join(" / ")} / TCP) |`);
  console.log(`| --- | ---: | ---: | ${OURS.map(() => "---: | ---:").join(" | ")} | --- |`);
  for (const cell of cells) {
    const us = (s: Sample): string => `${s.serverCpuPerMessage.toFixed(2)} (${(s.serverCpu * 100).toFixed(0)}%)`;
    const pct = (s: Sample): string => `${(s.generatorCpu * 100).toFixed(0)}%`;
    console.log(
      `| ${sizeName(cell.size)} | ${cell.connections} | ${us(get(cell, WS))} | ` +
        OURS.map((o) => `${us(get(cell, o))} | ${pairedRatio(cell, o, cpu)}`).join(" | ") +
        ` | ${[WS, ...OURS, TCP].map((s) => pct(get(cell, s))).join(" / ")} |`,
    );
  }
}

/** `--profile DIR`: each WebSocket server under `--cpu-prof`, once through the cells. */
async function profile(dir: string): Promise<void> {
  const base = resolve(dir);
  for (const spec of [...OURS, WS]) {
    const out = join(base, spec.name.replaceAll(" ", "-"));
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    const server = await startServer(spec.name, {
      ...spec.start,
      nodeFlags: ["--cpu-prof", `--cpu-prof-dir=${out}`, "--cpu-prof-interval=200"],
      // Unbundled, so the profile names each source file.
      fromSource: true,
    });
    let messages = 0;
    try {
      for (const size of SIZES) {
        for (const connections of CONNECTIONS) {
          const sample = await runCell(server, spec, size, connections);
          messages += sample.total;
          console.error(`  profiling ${spec.name} ${sizeName(size)} x${connections}: ${rate(sample.messagesPerSecond)} msg/s`);
        }
      }
    } finally {
      await server.stop();
    }
    // One profile per thread (tsx's module hooks run on their own): the main thread's has id 0.
    const file = readdirSync(out).find((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f));
    if (file === undefined) throw new Error(`No profile written in ${out}`);
    summarizeProfile(spec.name, join(out, file), messages);
  }
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

/** Prints the top self-time functions and files of a `.cpuprofile`. */
function summarizeProfile(name: string, path: string, messages: number): void {
  const profile = JSON.parse(readFileSync(path, "utf8")) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const functions = new Map<string, number>();
  const files = new Map<string, number>();
  let busy = 0;
  let startup = 0;
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === "(idle)") continue;
    // Loading and compiling modules (tsx's loader thread included) happens at start-up only.
    if (STARTUP.test(url) || STARTUP_FUNCTIONS.has(functionName)) {
      startup += us;
      continue;
    }
    busy += us;
    const file = shortUrl(url) || functionName;
    const key = `${functionName || "(anonymous)"} ${url ? `${shortUrl(url)}:${lineNumber + 1}` : ""}`.trim();
    functions.set(key, (functions.get(key) ?? 0) + us);
    files.set(file, (files.get(file) ?? 0) + us);
  }
  const top = (map: Map<string, number>, n: number): [string, number][] =>
    [...map].sort((a, b) => b[1] - a[1]).slice(0, n);
  console.log(
    `\nProfile: ${name}, ${rate(messages)} messages echoed, busy ${(busy / 1e6).toFixed(2)} s ` +
      `= ${((busy * 1000) / messages).toFixed(0)} ns per message (all cells; ` +
      `${(startup / 1e6).toFixed(2)} s of module loading left out)`,
  );
  console.log("| self time | ns/msg | function |");
  console.log("| ---: | ---: | --- |");
  for (const [key, us] of top(functions, 25)) {
    console.log(`| ${((us / busy) * 100).toFixed(1)}% | ${((us * 1000) / messages).toFixed(0)} | \`${key}\` |`);
  }
  console.log("\n| self time | ns/msg | file |");
  console.log("| ---: | ---: | --- |");
  for (const [key, us] of top(files, 15)) {
    console.log(`| ${((us / busy) * 100).toFixed(1)}% | ${((us * 1000) / messages).toFixed(0)} | \`${key}\` |`);
  }
}

const STARTUP = /^node:internal\/(modules|bootstrap|deps\/cjs-module-lexer|source_map)\//;
const STARTUP_FUNCTIONS = new Set(["wrapSafe", "compileFunction"]);

function shortUrl(url: string): string {
  return url
    .replace(`file://${ROOT}`, "")
    .replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, "");
}

const timer = setTimeout(() => {
  console.error(`Echo benchmark aborted after ${RUN_LIMIT_MS / 60_000} minutes`);
  process.exit(1);
}, RUN_LIMIT_MS);
timer.unref();

if (values.profile !== undefined) await profile(values.profile);
else await compare();
