/**
 * Handshake rate: whole WebSocket connections per second (connect, upgrade, optionally one echo,
 * closing handshake, TCP close), ours against each runtime's reference, in the same run:
 *
 * - Node: ws 8 with bufferutil (servers/ws-node.ts) against `serve()` from @wsstream/node with
 *   the WHATWG `WebSocket` handler and with `WebSocketStream` `pipeTo` (servers/wsstream-node.ts
 *   `--handler websocket|pipe`), both bundled as in bench/echo.ts;
 * - Deno: `Deno.serve` + `Deno.upgradeWebSocket` (servers/deno-builtin.ts) against
 *   @wsstream/deno with either handler (servers/wsstream-deno.ts `--handler websocket|pipe`);
 * - Bun: `Bun.serve` with `websocket` (servers/bun-builtin.ts) against @wsstream/bun with
 *   either handler (servers/wsstream-bun.ts `--handler websocket|pipe`).
 *
 * The load comes from bench/handshake-generator.ts, raw `node:net` processes (`--generators`,
 * default 2, each with its share of the connections and of the concurrency: one process
 * saturates a core before `Bun.serve` or ws at 64 in flight do) that write the upgrade request
 * and a masked Close by hand: `--count` connections (default 2,000) after `--warmup` (200),
 * `--concurrency` (16) in flight. Each server is measured round after round
 * with the servers' order rotated; each cell reports the median handshakes/s, ours / reference
 * as the median of the per-round ratios (range), the server's CPU time per connection (user +
 * system, all threads, /proc/PID/stat over the measured part) and the generator's CPU use
 * (`process.cpuUsage()` over wall time, summed over the processes; one core = 100%): each
 * process must stay well below 100% for the figures to be the server's.
 *
 * Run: node_modules/.bin/tsx --conditions=wsstream-source bench/handshake.ts [--quick]
 *      [--rounds 5] [--count 2000] [--warmup 200] [--concurrency 16,64] [--echo none,one]
 *      [--runtimes node,deno,bun] [--generators 2]
 * `--profile DIR` runs only Node's servers from their sources under `node --cpu-prof` (profiles
 * written to DIR when they exit).
 * Bounded: every wait is timed; the default run takes about 3 minutes.
 *
 * @module
 */
import { once } from "node:events";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { median, pairedRatio, rate, type Sample } from "./drive.ts";
import type { HandshakeGeneratorMessage } from "./handshake-generator.ts";
import { procCpuSeconds, runtimeVersions, startRuntimeServer } from "./runtime-servers.ts";
import { spawnNode, startServer, withTimeout } from "./servers/control.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    rounds: { type: "string" },
    count: { type: "string" },
    warmup: { type: "string" },
    concurrency: { type: "string" },
    echo: { type: "string" },
    runtimes: { type: "string", default: "node,deno,bun" },
    profile: { type: "string" },
    generators: { type: "string", default: "2" },
  },
});

const QUICK = values.quick;
const ROUNDS = Number(values.rounds ?? (QUICK ? 2 : 5));
const COUNT = Number(values.count ?? (QUICK ? 500 : 2000));
const WARMUP = Number(values.warmup ?? (QUICK ? 100 : 200));
const CONCURRENCY = (values.concurrency ?? (QUICK ? "16" : "16,64")).split(",").map(Number);
const ECHO = (values.echo ?? (QUICK ? "none" : "none,one")).split(",");
const PROFILE = values.profile === undefined ? undefined : resolve(values.profile);
const RUNTIMES = PROFILE === undefined ? values.runtimes.split(",") : ["node"];
const RUN_LIMIT_MS = 20 * 60_000;
const GENERATORS = Math.max(1, Number(values.generators));

/** A server to start: on Node over the IPC control channel, on Deno and Bun over stdio. */
interface Spec {
  readonly runtime: "Node" | "Deno" | "Bun";
  readonly name: string;
  readonly start: () => Promise<Running>;
  /** The reference the others on this runtime are compared with. */
  readonly reference?: boolean;
}

interface Running {
  readonly port: number;
  cpuSeconds(): number;
  stop(): Promise<void>;
}

function node(name: string, file: "ws-node" | "wsstream-node", args: readonly string[] = [], reference = false): Spec {
  return {
    runtime: "Node",
    name,
    reference,
    start: async () => {
      const profiling = PROFILE === undefined ? {} : { nodeFlags: ["--cpu-prof", `--cpu-prof-dir=${PROFILE}`], fromSource: true };
      const server = await startServer(name, { file, args, ...profiling });
      return { port: server.port, cpuSeconds: () => procCpuSeconds(server.child.pid!), stop: () => server.stop() };
    },
  };
}

function other(runtime: "Deno" | "Bun", name: string, file: string, args: readonly string[] = [], reference = false): Spec {
  return {
    runtime,
    name,
    reference,
    start: async () => {
      const server = await startRuntimeServer({ name, runtime: runtime === "Deno" ? "deno" : "bun", file, args });
      return { port: server.port, cpuSeconds: () => server.cpuSeconds(), stop: () => server.stop() };
    },
  };
}

const ALL: readonly Spec[] = [
  node("ws + bufferutil", "ws-node", [], true),
  node("wsstream WebSocket", "wsstream-node", ["--handler", "websocket"]),
  node("wsstream WebSocketStream", "wsstream-node", ["--handler", "pipe"]),
  other("Deno", "Deno.serve + upgradeWebSocket", "deno-builtin", [], true),
  other("Deno", "wsstream WebSocket", "wsstream-deno", ["--handler", "websocket"]),
  other("Deno", "wsstream WebSocketStream", "wsstream-deno", ["--handler", "pipe"]),
  other("Bun", "Bun.serve websocket", "bun-builtin", [], true),
  other("Bun", "wsstream WebSocket", "wsstream-bun", ["--handler", "websocket"]),
  other("Bun", "wsstream WebSocketStream", "wsstream-bun", ["--handler", "pipe"]),
];
const SPECS = ALL.filter((s) => RUNTIMES.includes(s.runtime.toLowerCase()));

/** One measurement: `messagesPerSecond` holds handshakes/s, to reuse drive.ts's helpers. */
type HandshakeSample = Sample;

/** Runs the generators once against `server`, each with its share of the connections. */
async function measure(server: Running, concurrency: number, echo: boolean): Promise<HandshakeSample> {
  const processes = Math.min(GENERATORS, concurrency);
  const share = (total: number, g: number): number => Math.floor(total / processes) + (g < total % processes ? 1 : 0);
  const generators = Array.from({ length: processes }, (_, g) => startGenerator(server.port, share(COUNT, g), share(WARMUP, g), share(concurrency, g), echo));
  try {
    await withTimeout(60_000, "the warm-up", Promise.all(generators.map((g) => g.next("measuring"))));
    const cpuBefore = server.cpuSeconds();
    const results = await withTimeout(120_000, "the run", Promise.all(generators.map((g) => g.next("result"))));
    const serverCpu = server.cpuSeconds() - cpuBefore;
    // The processes ran side by side: the rate is every connection over the longest run.
    const connections = results.reduce((sum, r) => sum + r.connections, 0);
    const seconds = Math.max(...results.map((r) => r.seconds));
    return {
      messagesPerSecond: connections / seconds,
      serverCpuPerMessage: (serverCpu * 1e6) / connections,
      serverCpu: serverCpu / seconds,
      generatorCpu: results.reduce((sum, r) => sum + r.cpuSeconds, 0) / seconds,
    };
  } finally {
    for (const generator of generators) generator.stop();
  }
}

/** One generator process, and its messages in order. */
function startGenerator(port: number, count: number, warmup: number, concurrency: number, echo: boolean) {
  const child = spawnNode(
    [
      "--import",
      "tsx",
      "bench/handshake-generator.ts",
      `--port=${port}`,
      `--count=${count}`,
      `--warmup=${warmup}`,
      `--concurrency=${concurrency}`,
      ...(echo ? ["--echo"] : []),
    ],
    false,
  );
  const messages: HandshakeGeneratorMessage[] = [];
  let wake: (() => void) | undefined;
  child.on("message", (message: HandshakeGeneratorMessage) => {
    messages.push(message);
    wake?.();
  });
  const exited = once(child, "exit").then(([code]) => {
    throw new Error(`The handshake generator exited (${code}) early`);
  });
  exited.catch(() => undefined);
  const next = async <T extends HandshakeGeneratorMessage["type"]>(type: T): Promise<Extract<HandshakeGeneratorMessage, { type: T }>> => {
    for (;;) {
      const message = messages.shift();
      if (message?.type === "error") throw new Error(`Handshake generator: ${message.message}`);
      if (message?.type === type) return message as Extract<HandshakeGeneratorMessage, { type: T }>;
      if (message === undefined) await Promise.race([new Promise<void>((r) => (wake = r)), exited]);
    }
  };
  return {
    next,
    stop: (): void => {
      if (child.exitCode === null) child.kill();
    },
  };
}

interface Cell {
  readonly concurrency: number;
  readonly echo: boolean;
  readonly samples: Map<Spec, HandshakeSample[]>;
}

async function main(): Promise<Cell[]> {
  if (PROFILE !== undefined) mkdirSync(PROFILE, { recursive: true });
  const servers = new Map<Spec, Running>();
  try {
    for (const spec of SPECS) servers.set(spec, await spec.start());
    const cells: Cell[] = [];
    for (const echo of ECHO.map((e) => e === "one")) {
      for (const concurrency of CONCURRENCY) {
        const samples = new Map<Spec, HandshakeSample[]>(SPECS.map((s) => [s, []]));
        for (let round = 0; round < ROUNDS; round++) {
          const order = SPECS.map((_, i) => SPECS[(i + round) % SPECS.length]!);
          for (const spec of order) {
            const sample = await measure(servers.get(spec)!, concurrency, echo);
            samples.get(spec)!.push(sample);
            console.error(
              `  ${echo ? "echo" : "none"} x${String(concurrency).padEnd(3)} round ${round + 1} ${spec.runtime.padEnd(4)} ` +
                `${spec.name.padEnd(30)} ${rate(sample.messagesPerSecond).padStart(8)} handshakes/s, server ` +
                `${sample.serverCpuPerMessage.toFixed(0)} µs/conn (${(sample.serverCpu * 100).toFixed(0)}% CPU), ` +
                `generator ${(sample.generatorCpu * 100).toFixed(0)}% CPU`,
            );
          }
        }
        cells.push({ concurrency, echo, samples });
      }
    }
    return cells;
  } finally {
    for (const server of servers.values()) await server.stop();
  }
}

function print(cells: readonly Cell[]): void {
  console.log(
    `\nHandshake rate: ${COUNT} connections after ${WARMUP} warm-up, each connect + upgrade (+ one 16 B echo) + ` +
      `closing handshake; median of ${ROUNDS} round(s). Ratio: median of the per-round ratios (range), ` +
      "ours / reference. Server CPU: µs per connection, user + system, all threads, with the server's CPU use; " +
      `generators: their CPU use summed over ${GENERATORS} process(es) (one core = 100%).`,
  );
  console.log("\n| runtime | echo | in flight | server | handshakes/s | ours / reference | server CPU µs/conn | CPU ours / reference | generator CPU |");
  console.log("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |");
  const throughput = (s: Sample): number => s.messagesPerSecond;
  const cpu = (s: Sample): number => s.serverCpuPerMessage;
  for (const runtime of ["Node", "Deno", "Bun"] as const) {
    const specs = SPECS.filter((s) => s.runtime === runtime);
    const reference = specs.find((s) => s.reference);
    for (const cell of cells) {
      for (const spec of specs) {
        const samples = cell.samples.get(spec)!;
        const of = (f: (s: Sample) => number): number => median(samples.map(f));
        const against = (f: (s: Sample) => number): string =>
          spec === reference || reference === undefined ? "" : pairedRatio(samples, cell.samples.get(reference)!, f);
        console.log(
          `| ${runtime} | ${cell.echo ? "one" : "none"} | ${cell.concurrency} | ${spec.name} | ${rate(of(throughput))} ` +
            `| ${against(throughput)} | ${of(cpu).toFixed(0)} (${(of((s) => s.serverCpu) * 100).toFixed(0)}%) | ${against(cpu)} ` +
            `| ${(of((s) => s.generatorCpu) * 100).toFixed(0)}% |`,
        );
      }
    }
  }
}

const timer = setTimeout(() => {
  console.error(`Handshake benchmark aborted after ${RUN_LIMIT_MS / 60_000} minutes`);
  process.exit(1);
}, RUN_LIMIT_MS);
timer.unref();

console.log(`${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; ${runtimeVersions()}`);
print(await main());
