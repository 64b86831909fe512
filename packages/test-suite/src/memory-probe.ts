/**
 * A runtime's echo server (examples/echo-server/RUNTIME.ts, unchanged) that also prints its
 * retained heap, `heap BYTES`, every 250 ms after forcing a full garbage collection. The resident
 * set of a V8 runtime keeps the heap pages it reserved at its peak, so a leak is judged on what
 * survives a collection. Needs `--expose-gc` on Node, `--v8-flags=--expose-gc` on Deno; Bun has
 * `Bun.gc`. Started by the bounds test with `PROBE_RUNTIME` set.
 *
 * @module
 */
const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const runtime = env.PROBE_RUNTIME ?? "node";
await import(`../../../examples/echo-server/${runtime}.ts`);

const collect = (): void => {
  const bun = (globalThis as { Bun?: { gc(full: boolean): void } }).Bun;
  if (bun !== undefined) bun.gc(true);
  else (globalThis as { gc?: () => void }).gc?.();
};
const heapUsed = (): number => (globalThis as unknown as { process: { memoryUsage(): { heapUsed: number } } }).process.memoryUsage().heapUsed;

setInterval(() => {
  collect();
  collect();
  console.log(`heap ${heapUsed()}`);
}, 250);
export {};
