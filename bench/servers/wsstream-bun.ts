/**
 * The wsstream echo server on Bun: `serve()` from @wsstream/bun, handler
 * `readable.pipeTo(writable)`; `--deflate` adds `extensions: [deflate()]` (permessage-deflate on
 * node:zlib), `--server-no-context-takeover` makes it `deflate({ serverNoContextTakeover: true })`
 * (what `Bun.serve`'s `perMessageDeflate: true` negotiates: each reply compressed on its own, no
 * compressor kept per connection). `--handler websocket` takes the WHATWG `WebSocket` instead
 * (`api: "websocket"`, `ws.onmessage = (e) => ws.send(e.data)`), as bench/servers/wsstream-node.ts.
 *
 * Run: bun --conditions=wsstream-source bench/servers/wsstream-bun.ts [--deflate [--server-no-context-takeover]] [--handler pipe|websocket]
 * (bench/runtimes.ts and bench/deflate.ts start it themselves; see bench/runtime-servers.ts).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { deflate, serve, type WebSocketBase } from "@wsstream/bun";
import { ConnectionCount, serveStdioControl } from "./stdio-control.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    port: { type: "string", default: "0" },
    deflate: { type: "boolean", default: false },
    "server-no-context-takeover": { type: "boolean", default: false },
    handler: { type: "string", default: "pipe" },
  },
});

if (values.handler !== "pipe" && values.handler !== "websocket") throw new Error(`Unknown handler: ${values.handler}`);

const count = new ConnectionCount();
const common = {
  port: Number(values.port),
  hostname: "127.0.0.1",
  extensions: values.deflate ? [deflate({ serverNoContextTakeover: values["server-no-context-takeover"] })] : [],
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
