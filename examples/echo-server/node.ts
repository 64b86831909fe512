/**
 * An echo server on Node: every message comes back unchanged (text as text, binary as binary)
 * until the peer closes. Run it with `pnpm echo:node`; `PORT` (default 9001, 0 picks a free one)
 * and `HOST` (default 127.0.0.1) choose where it listens, `ECHO_API` (`websocket`, the default, or
 * `stream`) which interface the handler uses, and `ECHO_HTTP2=1` serves HTTP/2 too: cleartext h2c
 * with prior knowledge, WebSockets on extended CONNECT streams (RFC 8441). Once ready it prints one line,
 * `listening on ws://HOST:PORT`, with the port actually bound. SIGINT or SIGTERM closes every
 * connection with 1001 and exits.
 *
 * @module
 */
import { deflate, serve } from "@wsstream/node";

const MiB = 1024 * 1024;

const port = Number(process.env.PORT ?? 9001);
const hostname = process.env.HOST ?? "127.0.0.1";
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be an integer from 0 to 65535: ${process.env.PORT}`);
  process.exit(2);
}

// ECHO_API picks the interface the handler uses: the WHATWG WebSocket (default) or WebSocketStream.
const api = process.env.ECHO_API ?? "websocket";
if (api !== "websocket" && api !== "stream") {
  console.error(`ECHO_API must be websocket or stream: ${api}`);
  process.exit(2);
}

const common = {
  port,
  hostname,
  maxMessageSize: 64 * MiB,
  // permessage-deflate with any valid parameters a client offers (RFC 7692).
  extensions: [deflate()],
  // ECHO_HTTP2=1: WebSockets over HTTP/2 (RFC 8441) on the same port.
  ...(process.env.ECHO_HTTP2 === "1" ? { http2: true as const } : {}),
};
const server = api === "websocket"
  ? await serve({
    ...common,
    api: "websocket",
    handler: (ws) => {
      // Text comes as a string and binary as an ArrayBuffer, and goes back the same way. The
      // peer's Close is answered after the messages before it were echoed.
      ws.binaryType = "arraybuffer";
      ws.onmessage = (event) => ws.send(event.data);
    },
  })
  : await serve({
    ...common,
    handler: async (ws) => {
      const { readable, writable } = await ws.opened;
      // Ends when the peer closes: the readable closes, and pipeTo() closes the writable, which
      // answers the peer's Close. A failed connection errors both sides; nothing is left to do.
      await readable.pipeTo(writable).catch(() => {});
    },
  });

const host = hostname.includes(":") ? `[${hostname}]` : hostname;
console.log(`listening on ws://${host}:${server.port}`);

let stopping = false;
function stop(signal: NodeJS.Signals): void {
  if (stopping) {
    // A second signal: do not wait for slow peers any longer.
    process.exit(signal === "SIGINT" ? 130 : 143);
  }
  stopping = true;
  void server.close().then(() => process.exit(0));
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
