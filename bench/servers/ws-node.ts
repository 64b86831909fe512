/**
 * The reference echo server: ws with bufferutil (a root devDependency, loaded by ws itself), the
 * echo from ws's README: `ws.on("message", (d, isBinary) => ws.send(d, { binary: isBinary }))`.
 *
 * Run: node --import tsx bench/servers/ws-node.ts (the benchmarks start it themselves).
 *
 * @module
 */
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { WebSocketServer } from "ws";
import { ConnectionCount, serveControl } from "./control.ts";

const { values } = parseArgs({ options: { port: { type: "string", default: "0" } } });

// ws masks and unmasks with bufferutil when it can load it; fail loudly rather than measure
// ws's JavaScript fallback by accident.
createRequire(createRequire(import.meta.url).resolve("ws"))("bufferutil");

const count = new ConnectionCount();
const wss = new WebSocketServer({ port: Number(values.port), host: "127.0.0.1" });
wss.on("connection", (ws) => {
  const closed = count.opened();
  ws.on("close", closed);
  ws.on("error", () => undefined);
  ws.on("message", (d, isBinary) => ws.send(d, { binary: isBinary }));
});
await new Promise<void>((resolve) => wss.once("listening", resolve));
const address = wss.address();
serveControl(typeof address === "object" && address !== null ? address.port : 0, count);
