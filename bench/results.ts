/**
 * The echo ratios the benchmarks write with `--json FILE` (bench/echo.ts on Node, bench/runtimes.ts
 * on Deno and Bun), read by bench/chart.ts to draw them.
 *
 * @module
 */
import { writeFileSync } from "node:fs";

/** One of our servers against its runtime's anchor in one cell. */
export interface RatioRow {
  readonly runtime: "Node" | "Deno" | "Bun";
  /** The anchor: ws + bufferutil, `Deno.serve`, `Bun.serve`. */
  readonly anchor: string;
  /** Which of our interfaces: `WebSocket` or `WebSocketStream` (pipeTo). */
  readonly api: "WebSocket" | "WebSocketStream";
  readonly size: number;
  readonly connections: number;
  /** Messages/s, ours over the anchor's: the median of the per-round ratios. */
  readonly ratio: number;
  readonly ours: number;
  readonly reference: number;
  /** The load generators' CPU use while measuring ours (1 = one core). */
  readonly generatorCpu: number;
}

/** Writes `rows` as JSON to `file`. */
export function writeRows(file: string, rows: readonly RatioRow[]): void {
  writeFileSync(file, `${JSON.stringify(rows, null, 1)}\n`);
}

/** The median of the per-round ratios of `ours` to `reference` (rounds paired by index). */
export function medianRatio(ours: readonly number[], reference: readonly number[]): number {
  const ratios = ours.map((value, i) => value / reference[i]!).sort((a, b) => a - b);
  const mid = ratios.length >> 1;
  return ratios.length % 2 === 1 ? ratios[mid]! : (ratios[mid - 1]! + ratios[mid]!) / 2;
}
