/**
 * Bun's own WebSocket server with permessage-deflate, echoing every message compressed: a peer
 * for the other runtimes' clients. Prints `listening on ws://127.0.0.1:PORT`.
 *
 * @module
 */
const server = Bun.serve({
  port: Number(Bun.env.PORT ?? "0"),
  hostname: "127.0.0.1",
  fetch: (request, bun) => (bun.upgrade(request) ? undefined : new Response("WebSocket only", { status: 426 })),
  websocket: {
    perMessageDeflate: true,
    maxPayloadLength: 64 * 1024 * 1024,
    // `true` asks Bun to compress the reply; without it Bun sends it uncompressed.
    message: (ws, message) => void ws.send(message, true),
  },
});
console.log(`listening on ws://127.0.0.1:${server.port}`);
