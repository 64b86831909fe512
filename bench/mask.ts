/**
 * Masking throughput on any runtime (Node via tsx, Deno, Bun): `applyMask`'s WebAssembly SIMD
 * path against its JavaScript loop, in place, for sizes from 16 B to 1 MiB, on a view at byte
 * offset 0 and 1. Each case is timed `--ms` after a warm-up, 3 times, interleaved; the median is
 * reported as GB/s (10^9 bytes/s). No `node:*` imports, so the same file runs everywhere.
 *
 * A browser runs it bundled (esbuild --bundle --format=iife) in a page; it prints to the console.
 *
 * Run: node_modules/.bin/tsx bench/mask.ts [--ms 200]
 *      node_modules/.bin/deno run bench/mask.ts [--ms 200]
 *      node_modules/.bin/bun bench/mask.ts [--ms 200]
 *
 * @module
 */
import { applyMaskJs, maskThroughWasm, maskWasm } from "../packages/core/src/mask.ts";
import { timeRuns } from "./timing.ts";

const args = (globalThis as { Deno?: { args: string[] } }).Deno?.args ??
  (globalThis as { process?: { argv: string[] } }).process?.argv.slice(2) ?? [];
const msAt = args.indexOf("--ms");
const RUN_MS = msAt >= 0 ? Number(args[msAt + 1]) : 200;
const SIZES = [16, 64, 128, 256, 512, 1024, 4096, 16384, 65536, 1 << 20];
const runtime = "Deno" in globalThis ? "Deno" : "Bun" in globalThis ? "Bun" : "process" in globalThis ? "Node" : "Browser";
const version = (globalThis as { Deno?: { version: { deno: string } } }).Deno?.version.deno ??
  (globalThis as { Bun?: { version: string } }).Bun?.version ??
  (globalThis as { process?: { version: string } }).process?.version ??
  (globalThis as { navigator?: { userAgent: string } }).navigator?.userAgent;

const wasm = maskWasm();
if (wasm === null) throw new Error(`${runtime}: the WebAssembly masking module did not load`);
const key = Uint8Array.of(0x12, 0x34, 0x56, 0x78);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

console.log(`${runtime} ${version}: GB/s, median of 3 x ${RUN_MS} ms`);
console.log("| payload | offset | wasm | js loop | wasm / js |");
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const size of SIZES) {
  for (const offset of [0, 1]) {
    const data = new Uint8Array(size + 16).subarray(offset, offset + size);
    // Same result from both paths first.
    data.forEach((_, i) => (data[i] = i * 7));
    const a = data.slice();
    const b = data.slice();
    applyMaskJs(a, key, 1);
    maskThroughWasm(wasm, b, key, 1, b, 0);
    if (!a.every((x, i) => x === b[i])) throw new Error(`${runtime}: wasm and js differ at ${size}`);
    const cases = [() => maskThroughWasm(wasm, data, key, 0, data, 0), () => applyMaskJs(data, key, 0)];
    for (const run of cases) timeRuns(run, Math.min(100, RUN_MS));
    const samples: number[][] = [[], []];
    for (let r = 0; r < 3; r++) cases.forEach((run, i) => samples[i]!.push(timeRuns(run, RUN_MS) * size / 1e9));
    const [w, j] = samples.map(median) as [number, number];
    console.log(`| ${size >= 1024 ? `${size / 1024} KiB` : `${size} B`} | ${offset} | ${w.toFixed(2)} | ${j.toFixed(2)} | ${(w / j).toFixed(2)}x |`);
  }
}
