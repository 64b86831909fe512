/**
 * Bun's own WebSocket server, the reference for bench/servers/wsstream-bun.ts:
 * [`Bun.serve`](https://bun.com/docs/runtime/http/websockets) with
 * `websocket: { message(ws, m) { ws.send(m) } }`. `perMessageDeflate` is off unless `--deflate`:
 * then `perMessageDeflate: true` and `ws.send(m, true)`, since `send()` compresses only when its
 * second argument asks for it (it defaults to false: with `ws.send(m)` every reply goes out
 * uncompressed). `sendPings: false` and `idleTimeout: 0` turn off Bun's keep-alive pings, which
 * the load generator does not expect.
 *
 * Run: bun bench/servers/bun-builtin.ts [--deflate] (the benchmarks start it themselves).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ConnectionCount, serveStdioControl } from "./stdio-control.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: { port: { type: "string", default: "0" }, deflate: { type: "boolean", default: false } },
});

const compress = values.deflate;
const count = new ConnectionCount();
const closers = new WeakMap<object, () => void>();
const server = Bun.serve({
  port: Number(values.port),
  hostname: "127.0.0.1",
  fetch(request, server) {
    if (server.upgrade(request)) return undefined;
    return new Response("WebSocket only", { status: 400 });
  },
  websocket: {
    perMessageDeflate: compress,
    sendPings: false,
    idleTimeout: 0,
    open(ws) {
      closers.set(ws, count.opened());
    },
    close(ws) {
      closers.get(ws)?.();
    },
    message(ws, m) {
      ws.send(m, compress);
    },
  },
});
serveStdioControl(server.port!, count);
