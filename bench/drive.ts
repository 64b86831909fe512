/**
 * Drives a server started by bench/runtime-servers.ts with load-generator processes, for
 * bench/runtimes.ts and bench/deflate.ts: one throughput cell ({@link runCell}, the same
 * protocol and measurement as bench/echo.ts, with the server's CPU time read from /proc), memory
 * per idle connection ({@link measureIdle}, as bench/memory.ts does it, with RSS from /proc), and
 * the medians and per-round ratios the tables show.
 *
 * @module
 */
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import type { DeflateGeneratorMessage } from "./load-generator-deflate.ts";
import { type RuntimeServer, type ServerSpec, type ServerStats, startRuntimeServer } from "./runtime-servers.ts";
import { spawnNode, withTimeout } from "./servers/control.ts";

/** Which generator script and its extra flags. */
export interface Generator {
  /** bench/load-generator.ts or bench/load-generator-deflate.ts. */
  readonly script: string;
  readonly args?: readonly string[];
}

/** One cell's parameters. */
export interface CellOptions {
  readonly size: number;
  readonly connections: number;
  readonly inflight: number;
  readonly warmup: number;
  readonly seconds: number;
  /** Generator processes for more than one connection. */
  readonly generators: number;
}

/** One measurement of one server in one cell. */
export interface Sample {
  readonly messagesPerSecond: number;
  /** Server CPU microseconds (user + system, all threads) per echoed message. */
  readonly serverCpuPerMessage: number;
  /** Server CPU time over wall time (1 = one core busy). */
  readonly serverCpu: number;
  /** Generator CPU time over wall time, summed over the generator processes. */
  readonly generatorCpu: number;
  /** Share of the echoed messages that came back compressed (deflate generator only). */
  readonly compressedShare?: number;
  /** Bytes received per echoed message, headers included (deflate generator only). */
  readonly receivedPerMessage?: number;
  /** The message as sent, compressed, with its frame header (deflate generator only). */
  readonly frameBytes?: number;
}

type Message = DeflateGeneratorMessage;
type Result = Extract<Message, { type: "result" }>;

/** Runs the generators against `server` for one cell and returns what they measured. */
export async function runCell(server: RuntimeServer, generator: Generator, cell: CellOptions): Promise<Sample> {
  const name = server.spec.name;
  const processes = Math.min(cell.connections, cell.connections > 1 ? cell.generators : 1);
  const children: ChildProcess[] = [];
  const ready: Promise<unknown>[] = [];
  const measuring: Promise<unknown>[] = [];
  const results: Promise<Result>[] = [];
  for (let g = 0; g < processes; g++) {
    const share = Math.floor(cell.connections / processes) + (g < cell.connections % processes ? 1 : 0);
    const child = spawnNode(
      [
        "--import",
        "tsx",
        generator.script,
        `--port=${server.port}`,
        `--connections=${share}`,
        `--inflight=${cell.inflight}`,
        `--size=${cell.size}`,
        `--warmup=${cell.warmup}`,
        `--seconds=${cell.seconds}`,
        ...(generator.args ?? []),
      ],
      false,
    );
    children.push(child);
    const waitFor = <T extends Message["type"]>(type: T) =>
      new Promise<Extract<Message, { type: T }>>((resolve, reject) => {
        const onMessage = (message: Message): void => {
          if (message.type === "error") reject(new Error(`Load generator (${name}): ${message.message}`));
          if (message.type !== type) return;
          child.off("message", onMessage);
          resolve(message as Extract<Message, { type: T }>);
        };
        child.on("message", onMessage);
        child.once("exit", (code) => reject(new Error(`Load generator (${name}) exited (${code}) before ${type}`)));
      });
    ready.push(waitFor("ready"));
    measuring.push(waitFor("measuring"));
    results.push(waitFor("result"));
  }
  try {
    // Avoid unhandled rejections for the waits not reached when an earlier one fails.
    for (const p of [...ready, ...measuring, ...results]) p.catch(() => undefined);
    await withTimeout(60_000, `${name}: ${cell.connections} connections to open`, Promise.all(ready));
    for (const child of children) child.send({ type: "go" });
    await withTimeout(30_000, `${name}: warm-up`, Promise.race(measuring));
    const cpuBefore = server.cpuSeconds();
    const wallStart = performance.now();
    const done = await withTimeout((cell.seconds + cell.warmup) * 1000 + 30_000, `${name}: the run`, Promise.all(results));
    const cpuAfter = server.cpuSeconds();
    const wall = (performance.now() - wallStart) / 1000;
    const serverCpuSeconds = cpuAfter - cpuBefore;
    const messagesPerSecond = done.reduce((sum, r) => sum + r.messages / r.seconds, 0);
    const messages = done.reduce((sum, r) => sum + r.messages, 0);
    const deflate = done.every((r) => "compressed" in r);
    const extra = (r: Result, key: "compressed" | "receivedBytes"): number => ("compressed" in r ? r[key] : 0);
    return {
      messagesPerSecond,
      serverCpuPerMessage: (serverCpuSeconds * 1e6) / (messagesPerSecond * wall),
      serverCpu: serverCpuSeconds / wall,
      generatorCpu: done.reduce((sum, r) => sum + r.cpuSeconds / r.seconds, 0),
      ...(deflate
        ? {
          compressedShare: done.reduce((sum, r) => sum + extra(r, "compressed"), 0) / messages,
          receivedPerMessage: done.reduce((sum, r) => sum + extra(r, "receivedBytes"), 0) / messages,
          frameBytes: "frameBytes" in done[0]! ? done[0].frameBytes : 0,
        }
        : {}),
    };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
  }
}

/** Memory of one server before and after `connections` idle connections. */
export interface IdleMemory {
  readonly spec: ServerSpec;
  readonly connections: number;
  readonly before: ServerStats;
  readonly after: ServerStats;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens `count` idle connections from a generator process; resolves once all are open. */
async function openIdle(port: number, count: number, generator: Generator): Promise<ChildProcess> {
  const child = spawnNode(
    [
      "--import",
      "tsx",
      generator.script,
      "--mode=idle",
      `--port=${port}`,
      `--connections=${count}`,
      "--concurrency=100",
      ...(generator.args ?? []),
    ],
    true,
  );
  const [message] = (await withTimeout(120_000, `${count} connections to open`, once(child, "message"))) as [Message];
  if (message.type !== "ready") {
    child.kill();
    throw new Error(`Load generator: ${message.type === "error" ? message.message : message.type}`);
  }
  return child;
}

async function closeIdle(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = once(child, "exit");
  child.send({ type: "exit" });
  await withTimeout(15_000, "the generator to exit", exited).catch(() => child.kill("SIGKILL"));
}

/** Polls the server until it counts `open` connections. */
async function waitForOpen(server: RuntimeServer, open: number): Promise<ServerStats> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const now = await server.stats();
    if (now.open === open) return now;
    if (Date.now() > deadline) throw new Error(`${server.spec.name} has ${now.open} connections open, not ${open}`);
    await sleep(200);
  }
}

/**
 * Memory per idle connection, as bench/memory.ts measures it: 50 connections opened and closed
 * first (so lazily compiled code and first-use caches are in the baseline), the server's RSS
 * after a forced GC, then `connections` connections opened and left idle, and RSS again.
 */
export async function measureIdle(spec: ServerSpec, generator: Generator, connections: number): Promise<IdleMemory> {
  const server = await startRuntimeServer(spec, { gc: true, raiseFdLimit: true });
  try {
    const warm = await openIdle(server.port, 50, generator);
    await waitForOpen(server, 50);
    await closeIdle(warm);
    await waitForOpen(server, 0);
    await sleep(500);
    const before = await server.stats();
    const idle = await openIdle(server.port, connections, generator);
    await waitForOpen(server, connections);
    await sleep(1000);
    const after = await server.stats();
    await closeIdle(idle);
    return { spec, connections, before, after };
  } finally {
    await server.stop();
  }
}

/** KiB of RSS per connection. */
export const rssPerConnection = (m: IdleMemory): number => (m.after.rss - m.before.rss) / m.connections / 1024;

export function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The median of each field over the rounds. */
export function medianSample(samples: readonly Sample[]): Sample {
  const of = (key: keyof Sample): number | undefined =>
    samples.every((s) => s[key] !== undefined) ? median(samples.map((s) => s[key]!)) : undefined;
  const optional = (key: "compressedShare" | "receivedPerMessage" | "frameBytes") => {
    const value = of(key);
    return value === undefined ? {} : { [key]: value };
  };
  return {
    messagesPerSecond: of("messagesPerSecond")!,
    serverCpuPerMessage: of("serverCpuPerMessage")!,
    serverCpu: of("serverCpu")!,
    generatorCpu: of("generatorCpu")!,
    ...optional("compressedShare"),
    ...optional("receivedPerMessage"),
    ...optional("frameBytes"),
  };
}

/**
 * `ours` against `reference`, sampled in the same rounds: the median of the per-round ratios
 * (servers measured seconds apart, so load from outside hits both alike) and their range.
 */
export function pairedRatio(ours: readonly Sample[], reference: readonly Sample[], value: (s: Sample) => number): string {
  const ratios = ours.map((s, i) => value(s) / value(reference[i]!));
  const range = ratios.length > 1 ? ` (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})` : "";
  return `${median(ratios).toFixed(2)}x${range}`;
}

export const sizeName = (size: number): string => (size >= 1024 ? `${size / 1024} KiB` : `${size} B`);
export const rate = (perSecond: number): string =>
  perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)} M` : `${(perSecond / 1e3).toFixed(1)} k`;
