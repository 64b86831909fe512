/**
 * The wsstream echo server on Deno: `serve()` from @wsstream/deno, handler
 * `readable.pipeTo(writable)`; `--deflate` adds `extensions: [deflate()]` (permessage-deflate on
 * node:zlib); `--handler websocket` takes the WHATWG `WebSocket` instead (`api: "websocket"`,
 * `ws.onmessage = (e) => ws.send(e.data)`), as bench/servers/wsstream-node.ts.
 *
 * Run: deno run --allow-net --conditions=wsstream-source --config packages/deno/deno.json
 * bench/servers/wsstream-deno.ts [--deflate] [--handler pipe|websocket] (bench/runtimes.ts,
 * bench/deflate.ts and bench/handshake.ts start it themselves; see bench/runtime-servers.ts).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { deflate, serve, type WebSocketBase } from "@wsstream/deno";
import { ConnectionCount, serveStdioControl } from "./stdio-control.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string", default: "0" },
    deflate: { type: "boolean", default: false },
    handler: { type: "string", default: "pipe" },
  },
});

if (values.handler !== "pipe" && values.handler !== "websocket") throw new Error(`Unknown handler: ${values.handler}`);

const count = new ConnectionCount();
const common = {
  port: Number(values.port),
  hostname: "127.0.0.1",
  extensions: values.deflate ? [deflate()] : [],
};

function websocket(ws: WebSocketBase): void {
  const closed = count.opened();
  ws.binaryType = "arraybuffer";
  ws.onmessage = (event) => ws.send(event.data as ArrayBuffer);
  ws.onclose = closed;
}

const server = values.handler === "websocket"
  ? await serve({ ...common, api: "websocket", handler: websocket })
  : await serve({
    ...common,
    handler: async (ws) => {
      const closed = count.opened();
      ws.closed.then(closed, closed);
      // A benchmark client that goes away without a closing handshake errors the streams.
      try {
        const { readable, writable } = await ws.opened;
        await readable.pipeTo(writable);
      } catch {
        // Nothing left to do.
      }
    },
  });
serveStdioControl(server.port, count);
