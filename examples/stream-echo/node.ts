/**
 * A streaming echo server on Node: every message is received as a stream (`streamMessages`) and
 * sent back as one, fragment by fragment as it arrives, so a message of any size passes through
 * in bounded memory. Run it with
 * `node_modules/.bin/tsx --conditions=wsstream-source examples/stream-echo/node.ts`; `PORT`
 * (default 9001, 0 picks a free one) and `HOST` (default 127.0.0.1) choose where it listens.
 * Once ready it prints `listening on ws://HOST:PORT`. SIGINT or SIGTERM stops it.
 *
 * @module
 */
import { serve } from "@wsstream/node";

const server = await serve({
  port: Number(process.env.PORT ?? 9001),
  hostname: process.env.HOST ?? "127.0.0.1",
  // Every message as a MessageStream; no size limit on streamed messages (the default).
  streamMessages: true,
  handler: async (ws) => {
    const { readable, writable } = await ws.opened;
    // Each MessageStream written to the writable goes back as one fragmented message of the
    // same type. Reading stops while the writes wait, so memory stays bounded.
    await readable.pipeTo(writable).catch(() => {});
  },
});
console.log(`listening on ws://${server.hostname}:${server.port}`);

const stop = (): void => void server.close().then(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
