/**
 * A raw TCP echo server (every chunk written back as it arrives, no WebSocket): the ceiling the load generator
 * must reach well above either WebSocket server to show it is not the bottleneck, and the memory
 * floor of an idle Node socket.
 *
 * Run: node --import tsx bench/servers/tcp-echo.ts (the benchmarks start it themselves).
 *
 * @module
 */
import { createServer } from "node:net";
import { parseArgs } from "node:util";
import { ConnectionCount, serveControl } from "./control.ts";

const { values } = parseArgs({ options: { port: { type: "string", default: "0" } } });

const count = new ConnectionCount();
const server = createServer({ noDelay: true }, (socket) => {
  const closed = count.opened();
  socket.on("close", closed);
  socket.on("error", () => socket.destroy());
  // Not pipe(): it pauses the socket whenever 16 KiB wait to be written, a stop-and-go that caps
  // 64 KiB messages below what a WebSocket server reaches. The client bounds what is in flight.
  socket.on("data", (chunk) => socket.write(chunk));
});
await new Promise<void>((resolve) => server.listen(Number(values.port), "127.0.0.1", resolve));
const address = server.address();
serveControl(typeof address === "object" && address !== null ? address.port : 0, count);
