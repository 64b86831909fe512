/**
 * A {@link DeflateBackend} on [`node:zlib`](https://nodejs.org/api/zlib.html), which Node, Deno
 * and Bun all provide: context takeover, window bits and sync flush, as RFC 7692 needs.
 *
 * Memory: a compressor holds about `(1 << (windowBits + 2)) + (1 << (memLevel + 9))` bytes
 * (≈ 256 KiB at 15 bits and memLevel 8), a decompressor about `1 << windowBits` plus 7 KiB
 * (≈ 40 KiB at 15 bits). Each is created on a connection's first compressed message and kept only
 * while its direction uses context takeover.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { constants, createDeflateRaw, createInflateRaw, type DeflateRaw, type InflateRaw } from "node:zlib";
import {
  CloseCode,
  type Compressor,
  type Decompressor,
  type DeflateBackend,
  permessageDeflate,
  type PermessageDeflateOptions,
  ProtocolError,
  type ExtensionFactory,
} from "@wsstream/core";

/** zlib tuning for {@link zlibBackend}. */
export interface ZlibOptions {
  /** Compression level, 0-9. Default 6 (zlib's). */
  readonly level?: number;
  /** Memory level, 1-9: less memory, slower and worse compression below 8. Default 8. */
  readonly memLevel?: number;
}

/** A permessage-deflate backend on `node:zlib`. */
export function zlibBackend(options: ZlibOptions = {}): DeflateBackend {
  return {
    createCompressor: (windowBits) => new ZlibCompressor(windowBits, options),
    createDecompressor: (windowBits) => new ZlibDecompressor(windowBits),
  };
}

/**
 * permessage-deflate on `node:zlib`, ready for a client's or a server's `extensions`.
 *
 * @example
 * ```ts
 * const server = await serve({ port: 9001, extensions: [deflate()], handler });
 * ```
 */
export function deflate(options: Omit<PermessageDeflateOptions, "backend"> & ZlibOptions = {}): ExtensionFactory {
  return permessageDeflate({ ...options, backend: zlibBackend(options) });
}

class ZlibCompressor implements Compressor {
  readonly #stream: DeflateRaw;

  constructor(windowBits: number, options: ZlibOptions) {
    this.#stream = createDeflateRaw({
      windowBits,
      level: options.level ?? constants.Z_DEFAULT_COMPRESSION,
      memLevel: options.memLevel ?? 8,
    });
  }

  compress(data: Uint8Array): Promise<Uint8Array> {
    return run(this.#stream, data, Number.POSITIVE_INFINITY);
  }

  close(): void {
    this.#stream.close();
  }
}

class ZlibDecompressor implements Decompressor {
  readonly #stream: InflateRaw;

  constructor(windowBits: number) {
    this.#stream = createInflateRaw({ windowBits });
  }

  decompress(data: Uint8Array, maxSize: number): Promise<Uint8Array> {
    return run(this.#stream, data, maxSize);
  }

  close(): void {
    this.#stream.close();
  }
}

// Writes `data`, sync-flushes, and collects the output; stops with 1009 once it passes `maxSize`
// (the rest is never inflated: the stream is closed at once). Deno's node:zlib reports a corrupt
// input after the flush callback, so the result is settled one turn later, and the stream keeps
// an error listener for good so no error is ever unhandled.
function run(stream: DeflateRaw | InflateRaw, data: Uint8Array, maxSize: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    let failure: unknown;
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      stream.off("data", onData);
      stream.off("error", onError);
      if (failure !== undefined) reject(failure);
      else resolve(join(chunks, size));
    };
    const onError = (error: unknown): void => {
      failure ??= error;
      finish();
    };
    const onData = (chunk: Uint8Array): void => {
      size += chunk.length;
      if (size > maxSize) {
        failure ??= new ProtocolError(
          "WS_ERR_MESSAGE_TOO_BIG",
          CloseCode.MESSAGE_TOO_BIG,
          `Message too big: more than ${maxSize} bytes once decompressed`,
        );
        stream.close();
        finish();
        return;
      }
      chunks.push(chunk);
    };
    if (stream.listenerCount("error") === 0) stream.on("error", noop);
    stream.on("data", onData);
    stream.on("error", onError);
    stream.write(data);
    stream.flush(constants.Z_SYNC_FLUSH, () => setImmediate(finish));
  });
}

function noop(): void {}

function join(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return new Uint8Array(chunks[0]!.buffer, chunks[0]!.byteOffset, chunks[0]!.byteLength);
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
