/**
 * A client for the streaming echo servers next to it: sends one binary message of `MIB` MiB
 * (default 256), made 64 KiB at a time as it is sent, and reads the echo as a stream as it comes
 * back, counting its bytes. Neither end ever holds the message. Run a server, then
 * `URL=ws://127.0.0.1:9001 node_modules/.bin/tsx --conditions=wsstream-source examples/stream-echo/client.ts`.
 *
 * @module
 */
import { type MessageStream, WebSocketStream } from "@wsstream/node";

const url = process.env.URL ?? "ws://127.0.0.1:9001";
const total = Number(process.env.MIB ?? 256) * 1024 * 1024;

const ws = new WebSocketStream(url, { streamMessages: true });
const { readable, writable } = await ws.opened;

// One message, one 64 KiB frame per chunk; the generator runs only as fast as the socket takes it.
const sent = writable.getWriter().write((async function* () {
  for (let at = 0; at < total; at += 65536) yield new Uint8Array(65536).fill(at / 65536);
})());

// The echo: one MessageStream, read as it arrives.
const { value: echo } = await (readable as unknown as ReadableStream<MessageStream>).getReader().read();
let size = 0;
for await (const chunk of echo as unknown as AsyncIterable<Uint8Array>) size += chunk.length;
await sent;
console.log(`sent ${total} bytes, got ${size} back as a ${echo!.type} message`);
ws.close();
await ws.closed;
