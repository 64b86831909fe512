/**
 * Bun's own WebSocket client against `--url`: offers permessage-deflate (Bun always does), sends
 * compressible text and binary, and prints one JSON line with the agreed extensions and whether
 * both came back intact.
 *
 * @module
 */
import { compressionMessages } from "../behaviour/messages.ts";

const url = Bun.argv[Bun.argv.indexOf("--url") + 1]!;
const messages = compressionMessages();
const ws = new WebSocket(url);
ws.binaryType = "arraybuffer";
const received: Array<string | Uint8Array> = [];
const timer = setTimeout(() => {
  console.log(JSON.stringify({ ok: false, error: "timed out", received: received.length }));
  process.exit(1);
}, 10_000);
ws.onopen = () => {
  for (const message of messages) ws.send(message.data);
};
ws.onmessage = (event) => {
  received.push(typeof event.data === "string" ? event.data : new Uint8Array(event.data as ArrayBuffer));
  if (received.length < messages.length) return;
  clearTimeout(timer);
  const intact = messages.every((message, i) => {
    const got = received[i]!;
    const want = message.data;
    if (typeof want === "string") return got === want;
    return got instanceof Uint8Array && got.length === want.length && got.every((b, j) => b === want[j]);
  });
  console.log(JSON.stringify({ ok: intact, extensions: ws.extensions }));
  ws.close(1000, "done");
};
ws.onclose = () => process.exit(0);
ws.onerror = () => {
  console.log(JSON.stringify({ ok: false, error: "connection error" }));
  process.exit(1);
};
