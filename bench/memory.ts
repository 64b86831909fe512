/**
 * Memory per idle connection (Node): each server in its own child process (bundled, see
 * `buildServer` in servers/control.ts, and run with `--expose-gc`), one after the other, gets `--connections` (default 5,000) WebSocket
 * connections that complete the handshake and then stay idle. The server reports
 * `process.memoryUsage()` over IPC after two forced GCs, before and after; the difference over
 * the connection count is the cost of one connection.
 *
 * A raw TCP server (a `net.Socket` and an echo listener, no WebSocket) gives the floor every
 * Node server pays. The connections come from bench/load-generator.ts in `idle` mode (raw
 * `node:net`, the handshake done by hand, 100 handshakes at a time), in its own process. Both
 * children start through bash with `ulimit -n` raised to the hard limit.
 *
 * Run: node_modules/.bin/tsx --conditions=wsstream-source bench/memory.ts [--quick] [--connections 5000] [--only WebSocket,pipeTo]
 *
 * @module
 */
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { parseArgs } from "node:util";
import type { GeneratorMessage } from "./load-generator.ts";
import { type ServerStats, spawnNode, startServer, type StartOptions, withTimeout } from "./servers/control.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    connections: { type: "string" },
    only: { type: "string" },
  },
});
const CONNECTIONS = Number(values.connections ?? (values.quick ? 500 : 5000));
const WARM_CONNECTIONS = 50;

interface Spec {
  readonly name: string;
  readonly start: StartOptions;
  readonly raw?: boolean;
}

const SPECS: readonly Spec[] = [
  { name: "raw TCP (floor)", start: { file: "tcp-echo" }, raw: true },
  { name: "ws", start: { file: "ws-node" } },
  { name: "wsstream pipeTo", start: { file: "wsstream-node", args: ["--handler", "pipe"] } },
  { name: "wsstream loop", start: { file: "wsstream-node", args: ["--handler", "loop"] } },
  { name: "wsstream WebSocket", start: { file: "wsstream-node", args: ["--handler", "websocket"] } },
];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens `count` idle connections from a generator process; resolves once all are open. */
async function openIdle(port: number, count: number, raw: boolean): Promise<ChildProcess> {
  const child = spawnNode(
    [
      "--import",
      "tsx",
      "bench/load-generator.ts",
      "--mode=idle",
      `--port=${port}`,
      `--connections=${count}`,
      "--concurrency=100",
      ...(raw ? ["--raw"] : []),
    ],
    true,
  );
  const [message] = (await withTimeout(120_000, `${count} connections to open`, once(child, "message"))) as [GeneratorMessage];
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
async function waitForOpen(stats: () => Promise<ServerStats>, open: number): Promise<ServerStats> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const now = await stats();
    if (now.open === open) return now;
    if (Date.now() > deadline) throw new Error(`The server has ${now.open} connections open, not ${open}`);
    await sleep(200);
  }
}

interface Result {
  readonly spec: Spec;
  readonly before: NodeJS.MemoryUsage;
  readonly after: NodeJS.MemoryUsage;
  readonly newSpace: readonly [number, number];
}

async function measure(spec: Spec): Promise<Result> {
  const server = await startServer(spec.name, { ...spec.start, nodeFlags: ["--expose-gc"], raiseFdLimit: true });
  try {
    // Run the code paths once so lazily compiled code and first-use caches are in the baseline.
    const warm = await openIdle(server.port, WARM_CONNECTIONS, spec.raw ?? false);
    await waitForOpen(server.stats, WARM_CONNECTIONS);
    await closeIdle(warm);
    await waitForOpen(server.stats, 0);
    await sleep(500);
    const beforeStats = await server.stats();
    const before = beforeStats.memory;
    const idle = await openIdle(server.port, CONNECTIONS, spec.raw ?? false);
    await waitForOpen(server.stats, CONNECTIONS);
    await sleep(1000);
    const afterStats = await server.stats();
    const after = afterStats.memory;
    await closeIdle(idle);
    return { spec, before, after, newSpace: [beforeStats.newSpace, afterStats.newSpace] };
  } finally {
    await server.stop();
  }
}

const KiB = 1024;
const MiB = 1024 * KiB;

async function main(): Promise<void> {
  const results: Result[] = [];
  // --only a,b: the servers whose names contain one of these (ws always runs: the ratios need it).
  const only = values.only?.split(",");
  for (const spec of SPECS) {
    if (only !== undefined && spec.name !== "ws" && !only.some((part) => spec.name.includes(part))) continue;
    const result = await measure(spec);
    results.push(result);
    const rss = (result.after.rss - result.before.rss) / CONNECTIONS / KiB;
    console.error(`  ${spec.name}: ${rss.toFixed(1)} KiB RSS per connection`);
  }
  const per = (r: Result, key: keyof NodeJS.MemoryUsage): number => (r.after[key] - r.before[key]) / CONNECTIONS / KiB;
  const ws = results.find((r) => r.spec.name === "ws")!;
  console.log(
    `\nMemory per idle connection: ${CONNECTIONS} connections open and idle, server measured after ` +
      "two forced GCs. KiB per connection (RSS before → after, MiB).",
  );
  console.log("| server | RSS | RSS / ws | heap total | heap used | heap used / ws | external (ArrayBuffers) | RSS before → after | young generation before → after |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |");
  for (const r of results) {
    const ratio = (key: keyof NodeJS.MemoryUsage): string =>
      r === ws || r.spec.raw ? "" : `${(per(r, key) / per(ws, key)).toFixed(2)}x`;
    console.log(
      `| ${r.spec.name} | ${per(r, "rss").toFixed(1)} | ${ratio("rss")} | ${per(r, "heapTotal").toFixed(1)} | ${per(r, "heapUsed").toFixed(1)} ` +
        `| ${ratio("heapUsed")} | ${per(r, "external").toFixed(2)} (${per(r, "arrayBuffers").toFixed(2)}) ` +
        `| ${(r.before.rss / MiB).toFixed(0)} → ${(r.after.rss / MiB).toFixed(0)} | ${(r.newSpace[0] / MiB).toFixed(0)} → ${(r.newSpace[1] / MiB).toFixed(0)} |`,
    );
  }
}

await main();
