/**
 * The wsstream echo server on Node with permessage-deflate: `serve()` from @wsstream/node with
 * `extensions: [deflate()]`, handler `readable.pipeTo(writable)`.
 *
 * Run: node --import tsx --conditions=wsstream-source bench/servers/deflate-wsstream-node.ts
 * (bench/deflate.ts bundles and starts it itself; see bench/runtime-servers.ts).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { deflate, serve } from "@wsstream/node";
import { ConnectionCount, serveStdioControl } from "./stdio-control.ts";

const { values } = parseArgs({ options: { port: { type: "string", default: "0" } } });

const count = new ConnectionCount();
const server = await serve({
  port: Number(values.port),
  hostname: "127.0.0.1",
  extensions: [deflate()],
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
