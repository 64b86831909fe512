/**
 * What an idle connection holds on the heap (Node): a server in this process, `--connections`
 * idle connections from bench/load-generator.ts in a child, and a heap snapshot before and after,
 * summed per constructor (self size), per connection. A tool for finding what to cut, not a
 * benchmark: bench/memory.ts measures RSS.
 *
 * Run: node --expose-gc --import tsx --conditions=wsstream-source bench/heap-diff.ts --server websocket|pipe|ws [--connections 2000]
 *
 * @module
 */
import { fork } from "node:child_process";
import { once } from "node:events";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { getHeapSpaceStatistics, writeHeapSnapshot } from "node:v8";

const { values } = parseArgs({
  options: { server: { type: "string", default: "websocket" }, connections: { type: "string", default: "2000" }, top: { type: "string", default: "25" } },
});
const N = Number(values.connections);

async function startServer(kind: string): Promise<number> {
  if (kind === "ws") {
    const { WebSocketServer } = await import("ws");
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    server.on("connection", (ws) => ws.on("message", (data, binary) => ws.send(data, { binary })));
    await once(server, "listening");
    return (server.address() as { port: number }).port;
  }
  const { serve } = await import("@wsstream/node");
  if (kind === "websocket") {
    const server = await serve({
      port: 0,
      api: "websocket",
      handler: (ws) => {
        ws.binaryType = "arraybuffer";
        ws.onmessage = (event) => ws.send(event.data as ArrayBuffer);
      },
    });
    return server.port;
  }
  const server = await serve({
    port: 0,
    handler: async (ws) => {
      const { readable, writable } = await ws.opened;
      await readable.pipeTo(writable).catch(() => undefined);
    },
  });
  return server.port;
}

type Counts = Map<string, { count: number; size: number }>;
let maxId = 0;

function snapshot(): Counts {
  (globalThis as { gc?: () => void }).gc?.();
  (globalThis as { gc?: () => void }).gc?.();
  const file = join(tmpdir(), `heap-${process.pid}-${Date.now()}.heapsnapshot`);
  writeHeapSnapshot(file);
  const data = JSON.parse(readFileSync(file, "utf8")) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
    nodes: number[];
    edges: number[];
    strings: string[];
  };
  rmSync(file);
  const fields = data.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf("type"), nameAt = fields.indexOf("name"), sizeAt = fields.indexOf("self_size");
  const types = data.snapshot.meta.node_types[0];
  const counts: Counts = new Map();
  // The first retainer of each node: "owner.edge", so that arrays and strings say whose they are.
  const edgeWidth = data.snapshot.meta.edge_fields.length;
  const edgeCountAt = fields.indexOf("edge_count");
  const edgeTypes = data.snapshot.meta.edge_types[0];
  const retainer = new Map<number, string>();
  let e = 0;
  for (let i = 0; i < data.nodes.length; i += width) {
    const owner = data.strings[data.nodes[i + nameAt]!]!.slice(0, 30);
    const ownerType = types[data.nodes[i + typeAt]!]!;
    for (let k = 0; k < data.nodes[i + edgeCountAt]!; k++, e += edgeWidth) {
      const edgeType = edgeTypes[data.edges[e]!]!;
      if (edgeType === "weak" || edgeType === "shortcut") continue;
      const to = data.edges[e + 2]!;
      if (retainer.has(to)) continue;
      const nameOrIndex = data.edges[e + 1]!;
      const edgeName = edgeType === "element" || edgeType === "hidden" ? `[${nameOrIndex}]` : data.strings[nameOrIndex]!;
      retainer.set(to, `${ownerType === "object" ? owner : ownerType === "closure" ? `(closure ${owner}@${i})` : `(${ownerType})`}.${edgeName}`.slice(0, 70));
    }
  }
  // Second level for closures: who holds the closure.
  for (const [node, text] of retainer) {
    const m = /@(\d+)\)/.exec(text);
    if (m) retainer.set(node, text.replace(/@\d+\)/, `)<-${retainer.get(Number(m[1])) ?? "?"}`).slice(0, 110));
  }
  // CHAIN=name: the retainer chain of a few nodes of that name created since the first snapshot.
  const chainOf = process.env.CHAIN;
  if (chainOf !== undefined && maxId > 0) {
    const idAt = fields.indexOf("id");
    const owners = new Map<number, number>();
    let edge = 0;
    for (let i = 0; i < data.nodes.length; i += width) {
      for (let k = 0; k < data.nodes[i + edgeCountAt]!; k++, edge += edgeWidth) {
        const edgeType = edgeTypes[data.edges[edge]!]!;
        if (edgeType === "weak" || edgeType === "shortcut") continue;
        const to = data.edges[edge + 2]!;
        if (!owners.has(to)) owners.set(to, i);
      }
    }
    let shown = 0, seen = 0;
    for (let i = 0; i < data.nodes.length && shown < 3; i += width) {
      const name = data.strings[data.nodes[i + nameAt]!]!;
      if (data.nodes[i + idAt]! <= maxId || (name !== chainOf && types[data.nodes[i + typeAt]!] !== chainOf)) continue;
      if (seen++ % 97 !== 50) continue;
      shown++;
      const path: string[] = [];
      for (let n: number | undefined = i, depth = 0; n !== undefined && depth < 14; n = owners.get(n), depth++) {
        path.push(`${types[data.nodes[n + typeAt]!]}:${data.strings[data.nodes[n + nameAt]!]!.slice(0, 40)} <-[${retainer.get(n)?.split(".").pop()}]`);
      }
      console.log(path.join("\n    "));
    }
  }
  maxId = Math.max(maxId, ...(() => { const idAt = fields.indexOf("id"); let m = 0; for (let i = 0; i < data.nodes.length; i += width) { const id = data.nodes[i + idAt]!; if (id % 2 === 1 && types[data.nodes[i + typeAt]!] === "object") m = Math.max(m, id); }; return [m]; })());
  for (let i = 0; i < data.nodes.length; i += width) {
    const type = types[data.nodes[i + typeAt]!]!;
    let name = type === "object" || type === "closure" || type === "native" ? data.strings[data.nodes[i + nameAt]!]! : `(${type})`;
    if (type === "closure") name = `closure ${name}`;
    if (name.length > 60) name = name.slice(0, 60);
    if (process.env.RETAINERS === "all" || process.env.RETAINERS && (type === "array" || type === "string" || type === "closure" || type === "hidden" || name === "Array" || name === "Object" || type === "code")) name = `${name} <- ${retainer.get(i) ?? "?"}`;
    const entry = counts.get(name) ?? { count: 0, size: 0 };
    entry.count++;
    entry.size += data.nodes[i + sizeAt]!;
    counts.set(name, entry);
  }
  return counts;
}

const port = await startServer(values.server!);
async function open(count: number) {
  const child = fork("bench/load-generator.ts", ["--mode=idle", `--port=${port}`, `--connections=${count}`, "--concurrency=100"], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const [message] = (await once(child, "message")) as [{ type: string }];
  if (message.type !== "ready") throw new Error(`generator: ${JSON.stringify(message)}`);
  return child;
}
const warm = await open(50);
warm.send({ type: "exit" });
await once(warm, "exit");
await new Promise((resolve) => setTimeout(resolve, 500));
// Kept out of the heap while the second snapshot is taken: its strings would count as new.
const beforeFile = join(tmpdir(), `heap-before-${process.pid}.json`);
writeFileSync(beforeFile, JSON.stringify([...snapshot()]));
const rssBefore = process.memoryUsage().rss;
const spaces = (): string => getHeapSpaceStatistics().map((space) => `${space.space_name.replace("_space", "")} ${(space.space_size / 1048576).toFixed(1)}/${(space.space_used_size / 1048576).toFixed(1)}`).join(", ");
if (process.env.SPACES) console.log(`spaces before (MiB size/used): ${spaces()}`);
// ALLOC=1: where the bytes allocated while the connections open come from (sampled, garbage included).
const { Session } = await import("node:inspector");
const session = new Session();
const post = (method: string, params: object = {}): Promise<any> => new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
if (process.env.ALLOC) {
  session.connect();
  await post("HeapProfiler.startSampling", { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
}
const child = await open(N);
if (process.env.ALLOC) {
  const { profile } = await post("HeapProfiler.stopSampling");
  const bySite = new Map<string, number>();
  let total = 0;
  const walk = (node: any, stack: string[]): void => {
    const frame = `${node.callFrame.functionName || "(anonymous)"} ${String(node.callFrame.url).split("/").slice(-1)[0]}:${node.callFrame.lineNumber + 1}`;
    const path = [...stack, frame];
    if (node.selfSize > 0) {
      const key = path.slice(-Number(process.env.ALLOC_DEPTH ?? 2)).join(" < ");
      bySite.set(key, (bySite.get(key) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    for (const child of node.children) walk(child, path);
  };
  walk(profile.head, []);
  console.log(`allocated while opening: ${(total / N / 1024).toFixed(2)} KiB per connection (sampled)`);
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`${(bytes / N).toFixed(0).padStart(6)} B  ${site}`);
}
if (process.env.SPACES) console.log(`spaces after: ${spaces()}`);
await new Promise((resolve) => setTimeout(resolve, 1000));
const after = snapshot();
const before: Counts = new Map(JSON.parse(readFileSync(beforeFile, "utf8")) as [string, { count: number; size: number }][]);
rmSync(beforeFile);
const rssAfter = process.memoryUsage().rss;
const rows = [...after].map(([name, a]) => {
  const b = before.get(name) ?? { count: 0, size: 0 };
  return { name, count: (a.count - b.count) / N, bytes: (a.size - b.size) / N };
}).filter((r) => r.bytes > 1).sort((x, y) => y.bytes - x.bytes);
const total = rows.reduce((sum, r) => sum + r.bytes, 0);
console.log(`${values.server}: ${N} idle connections, heap ${(total / 1024).toFixed(2)} KiB/conn, RSS ${((rssAfter - rssBefore) / N / 1024).toFixed(1)} KiB/conn`);
for (const r of rows.slice(0, Number(values.top))) console.log(`${r.bytes.toFixed(0).padStart(7)} B ${r.count.toFixed(2).padStart(6)}x  ${r.name}`);
child.send({ type: "exit" });
await once(child, "exit");
process.exit(0);
