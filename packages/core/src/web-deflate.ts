/**
 * A permessage-deflate backend on the web platform's `CompressionStream` and
 * `DecompressionStream` (`"deflate-raw"`), present in Node, Deno, Bun and browsers: no
 * dependency at all.
 *
 * What the streams allow:
 * - They cannot flush without ending the stream, so a message is compressed on its own, with a
 *   15-bit window. This backend compresses only when this end agreed to no context takeover and
 *   a 15-bit window for what it sends; otherwise messages go out uncompressed. A server gets
 *   that by preferring `serverNoContextTakeover`, a client by offering `clientNoContextTakeover`.
 * - Decompression keeps the peer's context: the last 32 KiB of output is replayed in front of
 *   the next message as a stored block, so back-references into earlier messages resolve.
 * - Bun's and Deno's `DecompressionStream` reject any byte after a final (BFINAL) block, and
 *   RFC 7692 §7.2.2 appends four; so on those runtimes a message whose DEFLATE data ends with a
 *   final block (§7.2.3.4; Bun's own `CompressionStream` writes them) fails with 1007. zlib-based
 *   peers (ws, browsers, `@wsstream/zlib`) read them. Use `@wsstream/zlib` where that matters.
 *
 * @module
 */
import { CloseCode } from "./close.ts";
import { ProtocolError } from "./errors.ts";
import type { Compressor, Decompressor, DeflateBackend } from "./permessage-deflate.ts";

const WINDOW = 32 * 1024;
const SYNC_TAIL = [0x00, 0x00, 0xff, 0xff];

/** The `CompressionStream` / `DecompressionStream` backend; see the module notes. */
export function webDeflateBackend(): DeflateBackend {
  return {
    createCompressor: (windowBits, noContextTakeover) =>
      windowBits === 15 && noContextTakeover ? new WebCompressor() : undefined,
    createDecompressor: () => new WebDecompressor(),
  };
}

class WebCompressor implements Compressor {
  async compress(data: Uint8Array): Promise<Uint8Array> {
    const output = await collect(new CompressionStream("deflate-raw"), data, Number.POSITIVE_INFINITY);
    return toSyncFlushed(output);
  }

  close(): void {}
}

// A finished raw DEFLATE stream, rewritten to end the way a sync flush does (`00 00 ff ff`), which
// is what the extension strips (RFC 7692 §7.2.1). Runtimes end the stream two ways: with an empty
// final fixed block after a sync flush (`... 00 00 ff ff 03 00`, Deno), or with the last data block
// marked final (Node, Bun). The first loses its last two bytes. The second keeps its final block
// and gets an empty stored block after it, as RFC 7692 §7.2.3.4 shows: the peer's inflater ends at
// the final block, which is safe because this end uses no context takeover.
function toSyncFlushed(output: Uint8Array): Uint8Array {
  const n = output.length;
  if (n >= 6 && output[n - 2] === 0x03 && output[n - 1] === 0x00 && endsWithSync(output.subarray(0, n - 2))) {
    return output.subarray(0, n - 2);
  }
  const out = new Uint8Array(n + 5);
  out.set(output);
  out.set([0x00, ...SYNC_TAIL], n);
  return out;
}

function endsWithSync(data: Uint8Array): boolean {
  const n = data.length;
  return n >= 4 && data[n - 4] === 0 && data[n - 3] === 0 && data[n - 2] === 0xff && data[n - 1] === 0xff;
}

class WebDecompressor implements Decompressor {
  // The last 32 KiB of output: the peer's LZ77 window.
  #window = new Uint8Array(0);

  async decompress(data: Uint8Array, maxSize: number): Promise<Uint8Array> {
    const history = this.#window;
    // [stored block: history][the message, ending with 00 00 ff ff][empty final stored block]
    const input = new Uint8Array(5 + history.length + data.length + 5);
    input.set([0x00, history.length & 0xff, history.length >>> 8, ~history.length & 0xff, (~history.length >>> 8) & 0xff]);
    input.set(history, 5);
    input.set(data, 5 + history.length);
    input.set([0x01, 0x00, 0x00, 0xff, 0xff], 5 + history.length + data.length);
    const output = await collect(new DecompressionStream("deflate-raw"), input, history.length + maxSize);
    const message = output.subarray(history.length);
    this.#remember(output);
    return message.slice();
  }

  close(): void {
    this.#window = new Uint8Array(0);
  }

  #remember(output: Uint8Array): void {
    this.#window = output.length >= WINDOW ? output.slice(output.length - WINDOW) : output.slice();
  }
}

// Runs `input` through a transform stream, collecting at most `limit` bytes of output: past it,
// the stream is cancelled (nothing more is inflated) and the message fails with 1009.
async function collect(stream: TransformStream<BufferSource, Uint8Array>, input: Uint8Array, limit: number): Promise<Uint8Array> {
  const writer = stream.writable.getWriter();
  writer.write(input as Uint8Array<ArrayBuffer>).catch(() => {});
  writer.close().catch(() => {});
  const reader = stream.readable.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new ProtocolError("WS_ERR_MESSAGE_TOO_BIG", CloseCode.MESSAGE_TOO_BIG, `Message too big: more than ${limit} bytes once decompressed`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
