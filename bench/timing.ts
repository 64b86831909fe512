/**
 * Timing for the in-process benchmarks (bench/codec.ts, bench/mask.ts): Web APIs only, so it
 * runs on Node, Deno and Bun.
 *
 * @module
 */

/** Calls `run` (one unit of work) in batches for `ms`; returns units per second. */
export function timeRuns(run: () => void, ms: number): number {
  let batch = 1;
  // Grow the batch until it takes about 1 ms, so the clock is read rarely.
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) run();
    if (performance.now() - t0 >= 1 || batch >= 1 << 24) break;
    batch *= 2;
  }
  let runs = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < batch; i++) run();
    runs += batch;
    now = performance.now();
  }
  return (runs * 1000) / (now - start);
}
