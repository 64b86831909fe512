/**
 * A minimal Node echo server on `@wsstream/node`, standing in for `examples/echo-server/node.ts`
 * where that example does not exist. Same contract: `PORT` (0 = free port) and `HOST`, one line
 * `listening on ws://HOST:PORT` once ready, SIGTERM closes and exits.
 *
 * @module
 */
import { serve } from "@wsstream/node";

const server = await serve({
  port: Number(process.env.PORT ?? 9001),
  hostname: process.env.HOST ?? "127.0.0.1",
  maxMessageSize: 64 * 1024 * 1024,
  handler: async (ws) => {
    const { readable, writable } = await ws.opened;
    await readable.pipeTo(writable).catch(() => {});
  },
});
console.log(`listening on ws://${server.hostname}:${server.port}`);
process.on("SIGTERM", () => void server.close().then(() => process.exit(0)));
process.on("SIGINT", () => void server.close().then(() => process.exit(0)));
