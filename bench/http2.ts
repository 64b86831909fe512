/**
 * What WebSockets over HTTP/2 (RFC 8441) save: the time to open N WebSockets (`--count`, default
 * 100) to one `wss:` server and the TCP connections they use, as N streams of one HTTP/2 session
 * (`openHttp2Session` + `new WebSocket(url, { http2: session })`, the session's TCP and TLS
 * handshakes included) against N HTTP/1.1 connections of their own (`new WebSocket(url)`: N TCP
 * and TLS handshakes and N Upgrades), all started at once. The server is `serve({ http2: true,
 * tls })` from @wsstream/node in a child process (one port for both); it reports the distinct
 * client ports among its open WebSockets (the TCP connections used) and its CPU time per round.
 * Rounds alternate between the two ways; each figure is the median over the rounds. Client and
 * server share the machine's 2 cores, so the times include both ends' work.
 *
 * Run: node_modules/.bin/tsx --conditions=wsstream-source bench/http2.ts [--count 100] [--rounds 7]
 * Bounded: every wait is timed; the default run takes a few seconds.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { openHttp2Session, serve, WebSocket } from "@wsstream/node";
import { spawnNode, TS_FLAGS, withTimeout } from "./servers/control.ts";

const { values } = parseArgs({
  options: {
    serve: { type: "boolean", default: false },
    count: { type: "string", default: "100" },
    rounds: { type: "string", default: "7" },
  },
});
const fixtures = new URL("../packages/node/test/fixtures/", import.meta.url);
const key = readFileSync(new URL("key.pem", fixtures));
const cert = readFileSync(new URL("cert.pem", fixtures));

type Request = { readonly type: "measure" } | { readonly type: "exit" };
type Reply = { readonly type: "port"; readonly port: number } | { readonly type: "measured"; readonly open: number; readonly ports: number; readonly cpuMs: number };

if (values.serve) {
  // The child: an echo server on one TLS port for HTTP/2 and HTTP/1.1.
  const server = await serve({
    http2: true,
    tls: { key, cert },
    api: "websocket",
    handler: (ws) => {
      ws.onmessage = (event) => ws.send(event.data as string);
    },
  });
  let cpu = process.cpuUsage();
  process.on("message", (request: Request) => {
    if (request.type === "exit") process.exit(0);
    const used = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    const ports = new Set([...server.connections].map((ws) => ws.remotePort));
    process.send!({ type: "measured", open: server.connections.size, ports: ports.size, cpuMs: (used.user + used.system) / 1000 } satisfies Reply);
  });
  process.send!({ type: "port", port: server.port } satisfies Reply);
} else {
  await main();
}

async function main(): Promise<void> {
  const count = Number(values.count);
  const rounds = Number(values.rounds);
  const child = spawnNode([...TS_FLAGS, fileURLToPath(import.meta.url), "--serve"], false);
  const replies: Reply[] = [];
  let wake: (() => void) | undefined;
  child.on("message", (reply: Reply) => {
    replies.push(reply);
    wake?.();
  });
  const next = (): Promise<Reply> =>
    withTimeout(10_000, "the server", new Promise<Reply>((resolve) => {
      const take = (): void => {
        const reply = replies.shift();
        if (reply === undefined) {
          wake = take;
          return;
        }
        wake = undefined;
        resolve(reply);
      };
      take();
    }));
  const first = await next();
  if (first.type !== "port") throw new Error("Expected the server's port");
  const url = `wss://localhost:${first.port}/`;
  const tls = { ca: cert };

  const opened = (ws: WebSocket): Promise<void> =>
    new Promise((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error("A WebSocket failed to open"));
    });
  const closeAll = (sockets: WebSocket[]): Promise<unknown> =>
    Promise.all(sockets.map((ws) => new Promise((resolve) => {
      ws.onclose = resolve;
      ws.close();
    })));

  async function round(way: "h2" | "h1"): Promise<{ ms: number; sockets: number; serverCpuMs: number; clientCpuMs: number }> {
    child.send({ type: "measure" } satisfies Request);
    await next();
    const clientCpu = process.cpuUsage();
    const start = performance.now();
    const session = way === "h2" ? await openHttp2Session(url, { tls }) : undefined;
    const sockets = Array.from({ length: count }, () => new WebSocket(url, session === undefined ? { tls } : { http2: session }));
    await withTimeout(30_000, `${count} WebSockets to open`, Promise.all(sockets.map(opened)));
    const ms = performance.now() - start;
    const client = process.cpuUsage(clientCpu);
    child.send({ type: "measure" } satisfies Request);
    const measured = await next();
    if (measured.type !== "measured" || measured.open !== count) throw new Error(`Expected ${count} open WebSockets on the server`);
    await withTimeout(10_000, "the WebSockets to close", closeAll(sockets));
    session?.close();
    return { ms, sockets: measured.ports, serverCpuMs: measured.cpuMs, clientCpuMs: (client.user + client.system) / 1000 };
  }

  const results: Record<"h2" | "h1", Array<Awaited<ReturnType<typeof round>>>> = { h2: [], h1: [] };
  // A warm-up round each, not counted.
  await round("h2");
  await round("h1");
  for (let i = 0; i < rounds; i++) {
    for (const way of i % 2 === 0 ? (["h2", "h1"] as const) : (["h1", "h2"] as const)) results[way].push(await round(way));
  }
  child.send({ type: "exit" } satisfies Request);

  const median = (xs: number[]): number => {
    const sorted = [...xs].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)]!;
  };
  const row = (label: string, way: "h2" | "h1"): string => {
    const r = results[way];
    const ms = median(r.map((x) => x.ms));
    return `| ${label} | ${median(r.map((x) => x.sockets))} | ${ms.toFixed(1)} | ${(ms / count).toFixed(2)} | ${median(r.map((x) => x.serverCpuMs)).toFixed(0)} | ${median(r.map((x) => x.clientCpuMs)).toFixed(0)} |`;
  };
  const h2 = median(results.h2.map((x) => x.ms));
  const h1 = median(results.h1.map((x) => x.ms));
  console.log(`${count} WebSockets opened at once, wss: on loopback, median of ${rounds} rounds (Node ${process.version}):\n`);
  console.log("| way | TCP connections | time to open all (ms) | per WebSocket (ms) | server CPU (ms) | client CPU (ms) |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  console.log(row("one HTTP/2 session (RFC 8441)", "h2"));
  console.log(row("HTTP/1.1, a TLS connection each", "h1"));
  console.log(`\nHTTP/1.1 / HTTP/2 time: ${(h1 / h2).toFixed(2)}x`);
}
