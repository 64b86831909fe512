/**
 * Publish fan-out, the Deno anchor: `Deno.serve` + `Deno.upgradeWebSocket`, the open sockets
 * kept in a `Set` and a loop over it calling `socket.send(payload)` (Deno has no pub/sub of its
 * own). `idleTimeout: 0` turns off Deno's keep-alive pings, which the subscriber processes do
 * not expect.
 *
 * Run: deno run --allow-net bench/servers/publish-deno-builtin.ts (bench/publish.ts starts it;
 * the control lines are in publish-control.ts).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ConnectionCount, servePublishControl } from "./publish-control.ts";

const { values } = parseArgs({ args: Deno.args, options: { port: { type: "string", default: "0" } } });

const count = new ConnectionCount();
const sockets = new Set<WebSocket>();
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
    let closed: (() => void) | undefined;
    socket.onopen = () => {
      closed = count.opened();
      sockets.add(socket);
    };
    socket.onclose = () => {
      sockets.delete(socket);
      closed?.();
    };
    socket.onerror = () => undefined;
    return response;
  },
);
servePublishControl({
  port: await listening.promise,
  count,
  subscribers: () => sockets.size,
  publish: (payload) => {
    for (const socket of sockets) if (socket.readyState === WebSocket.OPEN) socket.send(payload);
  },
});
