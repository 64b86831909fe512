/**
 * Runs every benchmark in sequence, each in its own process, after printing the machine: the
 * codec (bench/codec.ts), echo throughput (bench/echo.ts), memory per idle connection
 * (bench/memory.ts) and the Node socket to Web Streams comparison (bench/node-socket.ts).
 * `--quick` passes `--quick` on (short runs, for a smoke test: the figures are rough). The
 * handshake rate on Node, Deno and Bun (bench/handshake.ts) runs only when asked for with
 * `--only handshake` (or `--handshake` next to the default set).
 *
 * Run: pnpm bench [--quick] [--handshake] [--only codec,echo,memory,node-socket,handshake]
 *
 * @module
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { availableParallelism, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { ROOT, TS_FLAGS } from "./servers/control.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    handshake: { type: "boolean", default: false },
  },
});

interface Bench {
  readonly name: string;
  readonly file: string;
  readonly args: (quick: boolean) => string[];
  /** Left out of the default set: run with --only NAME (or its own flag). */
  readonly optIn?: boolean;
}

const BENCHES: readonly Bench[] = [
  { name: "codec", file: "bench/codec.ts", args: (quick) => (quick ? ["--quick"] : []) },
  { name: "echo", file: "bench/echo.ts", args: (quick) => (quick ? ["--quick"] : []) },
  { name: "memory", file: "bench/memory.ts", args: (quick) => (quick ? ["--quick"] : []) },
  { name: "node-socket", file: "bench/node-socket.ts", args: (quick) => (quick ? ["--seconds", "0.5", "--rounds", "1"] : []) },
  { name: "handshake", file: "bench/handshake.ts", args: (quick) => (quick ? ["--quick"] : []), optIn: true },
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
const selected = BENCHES.filter((b) =>
  only !== undefined ? only.includes(b.name) : !b.optIn || (b.name === "handshake" && values.handshake)
);
console.log(`# wsstream benchmarks${values.quick ? " (--quick)" : ""}`);
console.log(
  `${new Date().toISOString().slice(0, 10)}; ${availableParallelism()} CPUs (${cpuModel()}), ` +
    `${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}-${process.arch}`,
);

let failed = 0;
for (const bench of selected) {
  console.log(`\n## ${bench.name}: ${bench.file} ${bench.args(values.quick).join(" ")}`.trimEnd());
  const started = performance.now();
  const child = spawn(process.execPath, [...TS_FLAGS, bench.file, ...bench.args(values.quick)], {
    cwd: ROOT,
    stdio: "inherit",
  });
  const [code] = (await once(child, "exit")) as [number | null];
  console.log(`(${bench.name}: ${((performance.now() - started) / 1000).toFixed(0)} s${code === 0 ? "" : `, exit ${code}`})`);
  if (code !== 0) failed++;
}
process.exitCode = failed === 0 ? 0 : 1;
