/**
 * One large message through a streaming echo server (examples/stream-echo/RUNTIME.ts), for the
 * streaming test and bench/streaming.ts: a Node client (`@wsstream/node`, `streamMessages`)
 * sends `total` bytes as one message in fragments generated on the fly, reads the echo as a
 * stream, and checks it with a running checksum (nothing is stored). Meanwhile the server's
 * resident set (its whole process tree, from /proc) is sampled.
 *
 * @module
 */
import { type MessageStream, WebSocketStream } from "@wsstream/node";
import { ROOT, type Runtime, treeRss } from "./runtimes.ts";

/** The command that starts `runtime`'s streaming echo server. */
export function streamEchoCommand(runtime: Runtime): string {
  const file = `${ROOT}/examples/stream-echo/${runtime}.ts`;
  switch (runtime) {
    case "node":
      return `tsx --conditions=wsstream-source ${file}`;
    case "deno":
      return `deno run --allow-net --allow-env=PORT,HOST --conditions=wsstream-source --config packages/deno/deno.json ${file}`;
    case "bun":
      return `bun --conditions=wsstream-source ${file}`;
  }
}

/** What {@link streamThroughEcho} measured. */
export interface StreamEchoResult {
  /** Bytes sent, and bytes that came back. */
  readonly sent: number;
  readonly received: number;
  /** Whether the echo matched what was sent, byte for byte. */
  readonly intact: boolean;
  /** Fragments of the echo as the client received them. */
  readonly chunks: number;
  readonly ms: number;
  /** The server's resident set once connected, and the highest seen during the transfer. */
  readonly rssBefore: number;
  readonly rssPeak: number;
}

// The message is a pseudo-random pattern with a period of a prime number of bytes (so no two
// fragments in a row are alike): the byte at `position` is PATTERN[position % PERIOD]. A chunk is
// made, and an echoed chunk checked, by copying and comparing slices of it (native speed).
const PERIOD = 65_521;
const SPAN = 256 * 1024;
const PATTERN = (() => {
  const bytes = new Uint8Array(PERIOD + SPAN);
  let x = 0x9e3779b9;
  for (let i = 0; i < PERIOD; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  for (let i = PERIOD; i < bytes.length; i++) bytes[i] = bytes[i - PERIOD]!;
  return Buffer.from(bytes.buffer);
})();

// A fresh chunk of the message from `position` (a sent chunk is the connection's until written).
function patternChunk(position: number, length: number): Uint8Array {
  const at = position % PERIOD;
  return Uint8Array.prototype.slice.call(PATTERN, at, at + length);
}

// Whether `chunk` is the message's bytes from `position`.
function matches(chunk: Uint8Array, position: number): boolean {
  const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
  for (let offset = 0; offset < bytes.length; offset += SPAN) {
    const length = Math.min(SPAN, bytes.length - offset);
    const at = (position + offset) % PERIOD;
    if (!bytes.subarray(offset, offset + length).equals(PATTERN.subarray(at, at + length))) return false;
  }
  return true;
}

/**
 * Sends `total` bytes in `fragment`-byte chunks as one binary message to the echo server at
 * `url` (process `pid`) and reads it back; rejects after `timeoutMs`.
 */
export async function streamThroughEcho(url: string, pid: number, total: number, fragment: number, timeoutMs: number): Promise<StreamEchoResult> {
  const ws = new WebSocketStream(url, { streamMessages: true });
  const { readable, writable } = await ws.opened;
  const rssBefore = treeRss(pid);
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, treeRss(pid));
  }, 50);
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    let sent = 0;
    const source = async function* (): AsyncGenerator<Uint8Array> {
      while (sent < total) {
        const chunk = patternChunk(sent, Math.min(fragment, total - sent, SPAN));
        sent += chunk.length;
        yield chunk;
      }
    };
    const writer = writable.getWriter();
    const sending = writer.write(source());
    const reading = (async () => {
      const reader = (readable as unknown as ReadableStream<MessageStream>).getReader();
      const { value: message } = await reader.read();
      if (message === undefined) throw new Error("The connection ended before the echo");
      let received = 0;
      let chunks = 0;
      let intact = true;
      for await (const chunk of message as unknown as AsyncIterable<Uint8Array>) {
        chunks++;
        if (intact && !matches(chunk, received)) intact = false;
        received += chunk.length;
      }
      return { received, chunks, intact };
    })();
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`The echo of ${total} bytes did not finish within ${timeoutMs} ms`)), timeoutMs);
    });
    const [, read] = await Promise.race([Promise.all([sending, reading]), deadline]);
    const ms = performance.now() - started;
    rssPeak = Math.max(rssPeak, treeRss(pid));
    ws.close();
    await Promise.race([ws.closed.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 2000))]);
    return { sent, received: read.received, intact: read.intact && read.received === sent, chunks: read.chunks, ms, rssBefore, rssPeak };
  } finally {
    clearInterval(sampler);
    clearTimeout(timer);
  }
}
