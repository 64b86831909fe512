/**
 * The wsstream echo server under test: `serve()` from @wsstream/node, each message written back
 * as it came. Three handlers, as users write them:
 *
 * - `websocket`: the WHATWG `WebSocket`, `ws.onmessage = (e) => ws.send(e.data)` (binaryType
 *   `"bytes"`: views of the received bytes, as ws hands out `Buffer`s; `"arraybuffer"` would
 *   cost an `ArrayBuffer` of its own per message);
 * - `pipe`: `WebSocketStream`, `readable.pipeTo(writable)`;
 * - `loop`: `WebSocketStream`, an explicit `reader.read()` / `await writer.write()` loop.
 *
 * Run: node --import tsx --conditions=wsstream-source bench/servers/wsstream-node.ts --handler pipe
 * (the benchmarks start it themselves; see control.ts).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { serve, type WebSocketBase, type WebSocketStreamBase } from "@wsstream/node";
import { ConnectionCount, serveControl } from "./control.ts";

const { values } = parseArgs({
  options: { handler: { type: "string", default: "pipe" }, port: { type: "string", default: "0" } },
});
const mode = values.handler;
if (mode !== "pipe" && mode !== "loop" && mode !== "websocket") throw new Error(`Unknown handler: ${mode}`);

const count = new ConnectionCount();

async function pipe(ws: WebSocketStreamBase): Promise<void> {
  const { readable, writable } = await ws.opened;
  await readable.pipeTo(writable);
}

async function loop(ws: WebSocketStreamBase): Promise<void> {
  const { readable, writable } = await ws.opened;
  const reader = readable.getReader();
  const writer = writable.getWriter();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    await writer.write(value);
  }
  await writer.close();
}

function websocket(ws: WebSocketBase): void {
  const closed = count.opened();
  ws.binaryType = "bytes";
  ws.onmessage = (event) => ws.send(event.data as Uint8Array);
  ws.onclose = closed;
}

const echo = mode === "pipe" ? pipe : loop;

const server = mode === "websocket"
  ? await serve({ port: Number(values.port), api: "websocket", handler: websocket })
  : await serve({
    port: Number(values.port),
    handler: async (ws) => {
      const closed = count.opened();
      ws.closed.then(closed, closed);
      // A benchmark client that goes away without a closing handshake errors the streams.
      await echo(ws).catch(() => undefined);
    },
  });
serveControl(server.port, count);
