// The smoke program's body, shared by smoke.mjs (Node ESM, Bun, Deno) and smoke.cjs (require()):
// a server and a client from one adapter exchange a text and a binary message with
// permessage-deflate, over loopback on a free port. Throws on any difference.

/**
 * @param {{ serve: Function, WebSocketStream: any, deflate: Function }} adapter
 * @returns {Promise<string>} what was exchanged, for the log
 */
export async function exchange({ serve, WebSocketStream, deflate }) {
  const server = await serve({
    port: 0,
    extensions: [deflate()],
    handler: async (ws) => {
      const { readable, writable } = await ws.opened;
      await readable.pipeTo(writable);
    },
  });
  try {
    const ws = new WebSocketStream(`ws://127.0.0.1:${server.port}/`, { extensions: [deflate({ threshold: 0 })] });
    const { readable, writable, extensions } = await ws.opened;
    if (!extensions.includes("permessage-deflate")) throw new Error(`Deflate was not agreed: ${JSON.stringify(extensions)}`);
    const writer = writable.getWriter();
    const reader = readable.getReader();
    const text = "hello from the smoke test ".repeat(20);
    const binary = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
    await writer.write(text);
    await writer.write(binary);
    const first = (await reader.read()).value;
    const second = (await reader.read()).value;
    if (first !== text) throw new Error(`The text came back changed: ${String(first).slice(0, 40)}`);
    if (!(second instanceof Uint8Array) || second.length !== binary.length || second.some((b, i) => b !== binary[i])) {
      throw new Error("The binary message came back changed");
    }
    ws.close({ closeCode: 1000, reason: "done" });
    const { closeCode } = await ws.closed;
    if (closeCode !== 1000) throw new Error(`Closed with: ${closeCode}`);
    return `text ${text.length} chars and binary ${binary.length} bytes echoed with ${extensions}`;
  } finally {
    await server.close();
  }
}

/** Fails the process if the exchange has not finished within `ms`. */
export function deadline(ms) {
  const timer = setTimeout(() => {
    console.error(`smoke: no result within ${ms} ms`);
    process.exit(1);
  }, ms);
  return () => clearTimeout(timer);
}
