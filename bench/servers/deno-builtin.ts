/**
 * Deno's own WebSocket server, the reference for bench/servers/wsstream-deno.ts:
 * [`Deno.serve`](https://docs.deno.com/api/deno/~/Deno.serve) and
 * [`Deno.upgradeWebSocket`](https://docs.deno.com/api/deno/~/Deno.upgradeWebSocket), echoing
 * with `socket.onmessage = (e) => socket.send(e.data)`. `binaryType` is set to `"arraybuffer"` (a
 * `Blob` per message would measure Blob handling), and `idleTimeout: 0` turns off Deno's
 * keep-alive pings, which the load generator does not expect. Deno has no permessage-deflate.
 *
 * Run: deno run --allow-net bench/servers/deno-builtin.ts (the benchmarks start it themselves).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ConnectionCount, serveStdioControl } from "./stdio-control.ts";

const { values } = parseArgs({ args: Deno.args, options: { port: { type: "string", default: "0" } } });

const count = new ConnectionCount();
const listening = Promise.withResolvers<number>();
Deno.serve(
  {
    port: Number(values.port),
    hostname: "127.0.0.1",
    onListen: ({ port }) => listening.resolve(port),
  },
  (request) => {
    if (request.headers.get("upgrade") !== "websocket") return new Response("WebSocket only", { status: 400 });
    const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 0 });
    socket.binaryType = "arraybuffer";
    let closed: (() => void) | undefined;
    socket.onopen = () => {
      closed = count.opened();
    };
    socket.onclose = () => closed?.();
    socket.onerror = () => undefined;
    socket.onmessage = (e) => socket.send(e.data);
    return response;
  },
);
serveStdioControl(await listening.promise, count);
