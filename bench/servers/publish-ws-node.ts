/**
 * Publish fan-out, the Node anchor: ws with bufferutil, the broadcast from ws's README, a loop
 * over `wss.clients` calling `client.send(data, { binary: true })` for each open client (ws
 * frames and writes each send on its own). Every connection is a subscriber.
 *
 * Run: node --import tsx bench/servers/publish-ws-node.ts (bench/publish.ts starts it, bundled;
 * the control lines are in publish-control.ts).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { WebSocket, WebSocketServer } from "ws";
import { ConnectionCount, servePublishControl } from "./publish-control.ts";

const { values } = parseArgs({ options: { port: { type: "string", default: "0" } } });

// Fail loudly rather than measure ws's JavaScript fallback by accident.
createRequire(createRequire(import.meta.url).resolve("ws"))("bufferutil");

const count = new ConnectionCount();
const wss = new WebSocketServer({ port: Number(values.port), host: "127.0.0.1" });
wss.on("connection", (ws) => {
  ws.on("close", count.opened());
  ws.on("error", () => undefined);
});
await new Promise<void>((resolve) => wss.once("listening", resolve));
servePublishControl({
  port: (wss.address() as { port: number }).port,
  count,
  subscribers: () => wss.clients.size,
  publish: (payload) => {
    // A Buffer view, made once per message: ws would make one per send from a Uint8Array.
    const data = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: true });
    }
  },
});
