/**
 * Publish fan-out, the Bun anchor: [`Bun.serve`](https://bun.com/docs/runtime/http/websockets)
 * with `ws.subscribe("t")` in `open` and `server.publish("t", payload)` (Bun's native pub/sub).
 * `sendPings: false` and `idleTimeout: 0` turn off Bun's keep-alive pings, which the subscriber
 * processes do not expect; perMessageDeflate is off; `backpressureLimit` is left at Bun's default
 * (16 MiB), far above what one run queues per subscriber.
 *
 * Run: bun bench/servers/publish-bun-builtin.ts (bench/publish.ts starts it; the control lines
 * are in publish-control.ts).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ConnectionCount, servePublishControl, TOPIC } from "./publish-control.ts";

const { values } = parseArgs({ args: Bun.argv.slice(2), options: { port: { type: "string", default: "0" } } });

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
    perMessageDeflate: false,
    sendPings: false,
    idleTimeout: 0,
    open(ws) {
      closers.set(ws, count.opened());
      ws.subscribe(TOPIC);
    },
    close(ws) {
      closers.get(ws)?.();
    },
    message() {},
  },
});
servePublishControl({
  port: server.port!,
  count,
  subscribers: () => server.subscriberCount(TOPIC),
  publish: (payload) => void server.publish(TOPIC, payload),
});
