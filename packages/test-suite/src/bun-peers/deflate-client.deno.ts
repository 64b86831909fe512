/**
 * Our Deno client against `--url` with permessage-deflate: sends compressible text and binary and
 * prints one JSON line with the agreed extensions and whether both came back intact.
 *
 * @module
 */
import { deflate, WebSocketStream } from "@wsstream/deno";
import { compressionMessages } from "../behaviour/messages.ts";

const url = Deno.args[Deno.args.indexOf("--url") + 1]!;
const ws = new WebSocketStream(url, { extensions: [deflate()], maxMessageSize: 64 * 1024 * 1024 });
const { readable, writable, extensions } = await ws.opened;
const writer = writable.getWriter();
const reader = readable.getReader();
let ok = true;
for (const message of compressionMessages()) {
  await writer.write(message.data);
  const { value } = await reader.read();
  const want = message.data;
  if (typeof want === "string") ok &&= value === want;
  else ok &&= value instanceof Uint8Array && value.length === want.length && value.every((b, j) => b === want[j]);
}
console.log(JSON.stringify({ ok, extensions }));
ws.close({ closeCode: 1000 });
await ws.closed.catch(() => {});
