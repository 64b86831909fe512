/**
 * One large message through each runtime's streaming echo server (examples/stream-echo/RUNTIME.ts,
 * `streamMessages: true`, `readable.pipeTo(writable)`): a Node client sends `--mib` MiB (default
 * 1024) as one binary message in `--fragment` KiB fragments (default 64) generated on the fly,
 * reads the echo as a stream and checks it by checksum (nothing stored). The server's resident
 * set (its process tree, /proc) is sampled every 50 ms; the figure is the peak over the transfer
 * minus the value once connected. The acceptance: under 64 MiB of growth for 1 GiB.
 *
 * Run: node_modules/.bin/tsx --conditions=wsstream-source bench/streaming.ts [--mib 1024] [--fragment 64] [--only node,deno,bun]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { RUNTIMES, type Runtime, startEchoServer } from "../packages/test-suite/src/runtimes.ts";
import { streamEchoCommand, streamThroughEcho } from "../packages/test-suite/src/stream-echo.ts";

const { values } = parseArgs({
  options: {
    mib: { type: "string", default: "1024" },
    fragment: { type: "string", default: "64" },
    only: { type: "string" },
  },
});
const MiB = 1024 * 1024;
const total = Number(values.mib) * MiB;
const fragment = Number(values.fragment) * 1024;
const runtimes = (values.only?.split(",") ?? RUNTIMES) as Runtime[];

console.log(`| runtime | message | fragment | time | throughput (each way) | server RSS once connected | peak growth | intact |`);
console.log(`| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |`);
for (const runtime of runtimes) {
  const server = await startEchoServer(runtime, { command: streamEchoCommand(runtime), timeoutMs: 30_000 });
  try {
    const result = await streamThroughEcho(server.url, server.child.pid!, total, fragment, 600_000);
    const growth = (result.rssPeak - result.rssBefore) / MiB;
    console.log(
      `| ${runtime} | ${values.mib} MiB | ${values.fragment} KiB | ${(result.ms / 1000).toFixed(1)} s | ${(total / MiB / (result.ms / 1000)).toFixed(0)} MiB/s | ${(result.rssBefore / MiB).toFixed(1)} MiB | +${growth.toFixed(1)} MiB | ${result.intact ? "yes" : "NO"} |`,
    );
  } finally {
    await server.stop(2000);
  }
}
