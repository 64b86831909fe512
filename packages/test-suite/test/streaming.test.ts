/**
 * The acceptance for messages as streams, on every runtime: a message much larger than
 * the memory bound passes through that runtime's streaming echo server (a real process,
 * examples/stream-echo/RUNTIME.ts) from a Node client, in 64 KiB fragments generated on the fly,
 * comes back byte for byte, and the server's resident set (its process tree) grows by less than
 * 64 MiB meanwhile: 1 GiB, the issue's own figure (bench/streaming.ts measures the same, figures
 * in bench/README.md). The same servers also pass every conformance case
 * but permessage-deflate's (groups 12 and 13): fragments echoed as they arrive, UTF-8 failing fast
 * inside a message being streamed back, a Close in the middle of one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isStrictlyOk } from "../src/case.ts";
import { allCases, groupOf } from "../src/cases/index.ts";
import { runFuzzingClient } from "../src/fuzzing-client.ts";
import { describeResult } from "../src/report.ts";
import { type EchoServer, type Runtime, RUNTIMES, startEchoServer } from "../src/runtimes.ts";
import { streamEchoCommand, streamThroughEcho } from "../src/stream-echo.ts";

const MiB = 1024 * 1024;
const servers = new Map<Runtime, EchoServer>();

beforeAll(async () => {
  await Promise.all(RUNTIMES.map(async (runtime) => servers.set(runtime, await startEchoServer(runtime, { command: streamEchoCommand(runtime), timeoutMs: 30_000 }))));
}, 60_000);

afterAll(async () => {
  await Promise.all([...servers.values()].map((server) => server.stop(2000)));
});

describe.each(RUNTIMES)("the %s streaming echo server", (runtime) => {
  it("echoes a 1 GiB message in 64 KiB fragments with its resident set growing by less than 64 MiB", async () => {
    const server = servers.get(runtime)!;
    const size = 1024 * MiB;
    const result = await streamThroughEcho(server.url, server.child.pid!, size, 64 * 1024, 150_000);
    const growth = result.rssPeak - result.rssBefore;
    console.log(`${runtime}: 1 GiB echoed in ${(result.ms / 1000).toFixed(1)} s (${result.chunks} chunks back), server RSS ${(result.rssBefore / MiB).toFixed(1)} MiB, peak +${(growth / MiB).toFixed(1)} MiB`);
    expect(result.received).toBe(size);
    expect(result.intact).toBe(true);
    // The message arrived in pieces, not as one buffer.
    expect(result.chunks).toBeGreaterThan(1024);
    expect(growth).toBeLessThan(64 * MiB);
  }, 180_000);

  it("passes every conformance case outside permessage-deflate", async () => {
    const server = servers.get(runtime)!;
    const cases = allCases().filter((c) => groupOf(c.id) !== 12 && groupOf(c.id) !== 13);
    const results = await runFuzzingClient({ url: server.url, cases });
    const failed = results.filter((result) => !isStrictlyOk(result));
    expect(failed.flatMap(describeResult)).toEqual([]);
    expect(results.length).toBe(cases.length);
  }, 60_000);
});
