/**
 * The reference for bench/servers/deflate-wsstream-node.ts: ws with bufferutil and
 * `new WebSocketServer({ perMessageDeflate: true })` (ws's defaults: level and memLevel from
 * zlib, a 1024-byte threshold, server context takeover), echoing
 * `ws.on("message", (d, isBinary) => ws.send(d, { binary: isBinary }))`.
 *
 * Run: node --import tsx bench/servers/deflate-ws-node.ts (bench/deflate.ts starts it itself).
 *
 * @module
 */
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { WebSocketServer } from "ws";
import { ConnectionCount, serveStdioControl } from "./stdio-control.ts";

const { values } = parseArgs({ options: { port: { type: "string", default: "0" } } });

// ws masks and unmasks with bufferutil when it can load it; fail loudly rather than measure
// ws's JavaScript fallback by accident.
createRequire(createRequire(import.meta.url).resolve("ws"))("bufferutil");

const count = new ConnectionCount();
const wss = new WebSocketServer({ port: Number(values.port), host: "127.0.0.1", perMessageDeflate: true });
wss.on("connection", (ws) => {
  const closed = count.opened();
  ws.on("close", closed);
  ws.on("error", () => undefined);
  ws.on("message", (d, isBinary) => ws.send(d, { binary: isBinary }));
});
await new Promise<void>((resolve) => wss.once("listening", resolve));
const address = wss.address();
serveStdioControl(typeof address === "object" && address !== null ? address.port : 0, count);
