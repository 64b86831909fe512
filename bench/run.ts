/**
 * Runs every benchmark in sequence, each in its own process, after printing the machine: the
 * codec (bench/codec.ts), echo throughput on Node against ws (bench/echo.ts), on Deno and Bun
 * against their built-in servers, with memory per idle connection (bench/runtimes.ts), memory per
 * idle connection on Node (bench/memory.ts), the handshake rate (bench/handshake.ts), the
 * Node socket to Web Streams comparison (bench/node-socket.ts) and publish fan-out to 10,000
 * subscribers on Node and Bun (bench/publish.ts), and opening 100 WebSockets over one HTTP/2
 * session against 100 HTTP/1.1 connections (bench/http2.ts). The echo ratios of every runtime
 * are then drawn into bench/echo-ratios.svg (bench/chart.ts), which the README shows.
 * `--quick` passes `--quick` on (short runs, for a smoke test: the figures are rough).
 *
 * Run: pnpm bench [--quick] [--only codec,echo,runtimes,memory,handshake,node-socket,publish,http2] [--chart FILE]
 *
 * @module
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT, TS_FLAGS } from "./servers/control.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    chart: { type: "string", default: "bench/echo-ratios.svg" },
  },
});

interface Bench {
  readonly name: string;
  readonly file: string;
  readonly args: (quick: boolean) => string[];
  /** Writes echo ratios with `--json FILE` for the chart. */
  readonly ratios?: boolean;
}

const BENCHES: readonly Bench[] = [
  { name: "codec", file: "bench/codec.ts", args: (quick) => (quick ? ["--quick"] : []) },
  { name: "echo", file: "bench/echo.ts", args: (quick) => (quick ? ["--quick"] : []), ratios: true },
  { name: "runtimes", file: "bench/runtimes.ts", args: (quick) => (quick ? ["--quick"] : []), ratios: true },
  { name: "memory", file: "bench/memory.ts", args: (quick) => (quick ? ["--quick"] : []) },
  { name: "handshake", file: "bench/handshake.ts", args: (quick) => (quick ? ["--quick"] : []) },
  { name: "node-socket", file: "bench/node-socket.ts", args: (quick) => (quick ? ["--seconds", "0.5", "--rounds", "1"] : []) },
  { name: "publish", file: "bench/publish.ts", args: (quick) => (quick ? ["--quick"] : []) },
  { name: "http2", file: "bench/http2.ts", args: (quick) => (quick ? ["--rounds", "3"] : []) },
];

function cpuModel(): string {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => l.startsWith("model name"));
    return line?.split(":")[1]?.trim() ?? "unknown";
  } catch {
    return "unknown";
  }
}

const only = values.only?.split(",");
const selected = BENCHES.filter((b) => only === undefined || only.includes(b.name));
console.log(`# wsstream benchmarks${values.quick ? " (--quick)" : ""}`);
console.log(
  `${new Date().toISOString().slice(0, 10)}; ${availableParallelism()} CPUs (${cpuModel()}), ` +
    `${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}-${process.arch}`,
);

const ratioFiles: string[] = [];
const ratioDir = mkdtempSync(join(tmpdir(), "wsstream-bench-"));

let failed = 0;
for (const bench of selected) {
  console.log(`\n## ${bench.name}: ${bench.file} ${bench.args(values.quick).join(" ")}`.trimEnd());
  const started = performance.now();
  const json = bench.ratios === true ? join(ratioDir, `${bench.name}.json`) : undefined;
  const args = [...bench.args(values.quick), ...(json === undefined ? [] : ["--json", json])];
  const child = spawn(process.execPath, [...TS_FLAGS, bench.file, ...args], {
    cwd: ROOT,
    stdio: "inherit",
  });
  const [code] = (await once(child, "exit")) as [number | null];
  console.log(`(${bench.name}: ${((performance.now() - started) / 1000).toFixed(0)} s${code === 0 ? "" : `, exit ${code}`})`);
  if (code !== 0) failed++;
  else if (json !== undefined) ratioFiles.push(json);
}
if (ratioFiles.length > 0) {
  console.log(`\n## chart: bench/chart.ts --out ${values.chart}`);
  const child = spawn(process.execPath, [...TS_FLAGS, "bench/chart.ts", "--out", values.chart, ...ratioFiles], { cwd: ROOT, stdio: "inherit" });
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) failed++;
}
rmSync(ratioDir, { recursive: true, force: true });
process.exitCode = failed === 0 ? 0 : 1;
