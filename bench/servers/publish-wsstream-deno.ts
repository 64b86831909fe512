/**
 * Publish fan-out, ours on Deno: `serve()` from @wsstream/deno with the WHATWG `WebSocket`
 * (`api: "websocket"`), each connection `ws.subscribe("t")` when it opens, and the benchmark's
 * messages sent with `server.publish("t", payload)` (framed once for every subscriber).
 * `--backlog BYTES` sets `pubsub: { backlog }` (default: the library's 4 MiB).
 *
 * Run: deno run --allow-net --conditions=wsstream-source --config packages/deno/deno.json
 * bench/servers/publish-wsstream-deno.ts (bench/publish.ts starts it; the control lines are in
 * publish-control.ts).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { serve } from "@wsstream/deno";
import { ConnectionCount, servePublishControl, TOPIC } from "./publish-control.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { port: { type: "string", default: "0" }, backlog: { type: "string" } },
});

const count = new ConnectionCount();
const server = await serve({
  port: Number(values.port),
  hostname: "127.0.0.1",
  api: "websocket",
  ...(values.backlog === undefined ? {} : { pubsub: { backlog: Number(values.backlog) } }),
  handler: (ws) => {
    ws.onclose = count.opened();
    ws.subscribe(TOPIC);
  },
});
servePublishControl({
  port: server.port,
  count,
  subscribers: () => server.subscriberCount(TOPIC),
  publish: (payload) => void server.publish(TOPIC, payload),
});
