/**
 * The wsstream echo server on Deno: `serve()` from @wsstream/deno, handler
 * `readable.pipeTo(writable)`; `--deflate` adds `extensions: [deflate()]` (permessage-deflate on
 * node:zlib).
 *
 * Run: deno run --allow-net --conditions=wsstream-source --config packages/deno/deno.json
 * bench/servers/wsstream-deno.ts [--deflate] (bench/runtimes.ts and bench/deflate.ts start it
 * themselves; see bench/runtime-servers.ts).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { deflate, serve } from "@wsstream/deno";
import { ConnectionCount, serveStdioControl } from "./stdio-control.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string", default: "0" },
    deflate: { type: "boolean", default: false },
    handler: { type: "string", default: "pipe" },
  },
});

const count = new ConnectionCount();
const extensions = values.deflate ? [deflate()] : [];
if (values.handler !== "pipe" && values.handler !== "websocket") throw new Error(`Unknown handler: ${values.handler}`);
const server = values.handler === "websocket"
  ? await serve({
    port: Number(values.port),
    hostname: "127.0.0.1",
    extensions,
    api: "websocket",
    // The WHATWG WebSocket, binary messages as views ("bytes"), each sent back as it came.
    handler: (ws) => {
      const closed = count.opened();
      ws.binaryType = "bytes";
      ws.onmessage = (event) => ws.send(event.data as Uint8Array);
      ws.onclose = closed;
    },
  })
  : await serve({
    port: Number(values.port),
    hostname: "127.0.0.1",
    extensions,
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
