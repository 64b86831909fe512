/**
 * permessage-deflate (RFC 7692) as an {@link ExtensionFactory}. The DEFLATE work itself is done
 * by a {@link DeflateBackend} the caller passes in (core stays pure): the runtime adapters pass
 * one on `node:zlib`.
 *
 * @module
 */
import { CloseCode } from "./close.ts";
import { ProtocolError } from "./errors.ts";
import type { Extension, ExtensionFactory } from "./extension.ts";
import type { ExtensionOffer } from "./extension-header.ts";
import {
  acceptDeflateOffer,
  acceptDeflateResponse,
  type DeflateOptions,
  type DeflateParams,
  deflateOffer,
} from "./permessage-deflate-params.ts";

/** Compresses messages of one direction, keeping the LZ77 window between them until reset. */
export interface Compressor {
  /** Raw DEFLATE of `data`, ending with a sync flush (the `00 00 ff ff` empty stored block). */
  compress(data: Uint8Array): Promise<Uint8Array>;
  /** Releases the compressor; it is not used again. */
  close(): void;
}

/** Decompresses messages of one direction, keeping the window between them. */
export interface Decompressor {
  /**
   * Inflates raw DEFLATE `data` (already ending with `00 00 ff ff`). Must reject with a
   * `ProtocolError` of 1009 as soon as the output passes `maxSize`, without inflating the rest.
   */
  decompress(data: Uint8Array, maxSize: number): Promise<Uint8Array>;
  /** Releases the decompressor; it is not used again. */
  close(): void;
}

/** Makes compressors and decompressors with a given LZ77 window (8-15 bits). */
export interface DeflateBackend {
  /**
   * A compressor for this end's messages, or `undefined` when this backend cannot compress under
   * these parameters (the messages then go out uncompressed, which RFC 7692 §6 allows).
   * `noContextTakeover` true means every message must be decodable on its own.
   */
  createCompressor(windowBits: number, noContextTakeover: boolean): Compressor | undefined;
  createDecompressor(windowBits: number): Decompressor;
}

/** Options of {@link permessageDeflate}: what to negotiate, and how to compress. */
export interface PermessageDeflateOptions extends DeflateOptions {
  readonly backend: DeflateBackend;
  /** Messages shorter than this many bytes are sent uncompressed. Default 128. */
  readonly threshold?: number;
}

const RSV1 = 0b100;
const TAIL = Uint8Array.of(0x00, 0x00, 0xff, 0xff);
const NAME = "permessage-deflate";

/**
 * The permessage-deflate extension, for a client's `extensions` (it offers `options`) or a
 * server's (it accepts the first valid offer, applying `options` as preferences).
 */
export function permessageDeflate(options: PermessageDeflateOptions): ExtensionFactory {
  return {
    name: NAME,
    offer: () => deflateOffer(options),
    fromResponse: (response) => new PerMessageDeflate("client", acceptDeflateResponse(response, options), options),
    accept: (offers: readonly ExtensionOffer[]) => {
      const accepted = acceptDeflateOffer(offers, options);
      if (accepted === undefined) return undefined;
      return { response: accepted.response, extension: new PerMessageDeflate("server", accepted.params, options) };
    },
  };
}

/**
 * One connection's permessage-deflate: a compressor for what this end sends and a decompressor for
 * what it receives, each created on first use and dropped after every message when its direction
 * has no context takeover (so an idle connection holds no zlib memory then).
 */
class PerMessageDeflate implements Extension {
  readonly name = NAME;
  readonly rsv = RSV1;
  readonly #backend: DeflateBackend;
  readonly #threshold: number;
  readonly #sendWindowBits: number;
  readonly #sendNoContextTakeover: boolean;
  readonly #receiveWindowBits: number;
  readonly #receiveNoContextTakeover: boolean;
  #compressor: Compressor | undefined;
  #decompressor: Decompressor | undefined;
  // False once the backend said it cannot compress under the agreed parameters.
  #canCompress = true;

  // Set with no context takeover on the sending side: each message is then compressed on its own,
  // so connections with the same backend, window and threshold send the same bytes.
  readonly sharedEncodingKey: string | undefined;

  constructor(role: "client" | "server", params: DeflateParams, options: PermessageDeflateOptions) {
    this.#backend = options.backend;
    this.#threshold = options.threshold ?? 128;
    const server = role === "server";
    this.#sendWindowBits = server ? params.serverMaxWindowBits : params.clientMaxWindowBits;
    this.#sendNoContextTakeover = server ? params.serverNoContextTakeover : params.clientNoContextTakeover;
    this.#receiveWindowBits = server ? params.clientMaxWindowBits : params.serverMaxWindowBits;
    this.#receiveNoContextTakeover = server ? params.clientNoContextTakeover : params.serverNoContextTakeover;
    this.sharedEncodingKey = this.#sendNoContextTakeover
      ? `${NAME};${backendId(this.#backend)};${this.#sendWindowBits};${this.#threshold}`
      : undefined;
  }

  // The same output as encode() under no context takeover, with a compressor of its own.
  async encodeShared(data: Uint8Array): Promise<{ data: Uint8Array; rsv: number }> {
    if (this.sharedEncodingKey === undefined) throw new Error("encodeShared() needs no context takeover");
    if (data.length < this.#threshold || this.#sendWindowBits < 9) return { data, rsv: 0 };
    const compressor = this.#backend.createCompressor(this.#sendWindowBits, true);
    if (compressor === undefined) return { data, rsv: 0 };
    try {
      return { data: stripTail(await compressor.compress(data)), rsv: RSV1 };
    } finally {
      compressor.close();
    }
  }

  // RFC 7692 §7.2.1: compress, remove the trailing 00 00 ff ff. Messages below the threshold, and
  // every message when an 8-bit window was agreed (zlib cannot compress with one; see
  // permessage-deflate-params.ts), go out uncompressed with RSV1 clear (§6).
  async encode(data: Uint8Array): Promise<{ data: Uint8Array; rsv: number }> {
    if (data.length < this.#threshold || this.#sendWindowBits < 9 || !this.#canCompress) return { data, rsv: 0 };
    this.#compressor ??= this.#backend.createCompressor(this.#sendWindowBits, this.#sendNoContextTakeover);
    if (this.#compressor === undefined) {
      this.#canCompress = false;
      return { data, rsv: 0 };
    }
    const compressed = await this.#compressor.compress(data);
    if (this.#sendNoContextTakeover) {
      this.#compressor.close();
      this.#compressor = undefined;
    }
    return { data: stripTail(compressed), rsv: RSV1 };
  }

  // RFC 7692 §7.2.2: append 00 00 ff ff, inflate.
  async decode(data: Uint8Array, _rsv: number, maxSize: number): Promise<Uint8Array> {
    const input = new Uint8Array(data.length + TAIL.length);
    input.set(data);
    input.set(TAIL, data.length);
    this.#decompressor ??= this.#backend.createDecompressor(this.#receiveWindowBits);
    let output: Uint8Array;
    try {
      output = await this.#decompressor.decompress(input, maxSize);
    } catch (error) {
      this.close();
      if (error instanceof ProtocolError) throw error;
      throw new ProtocolError(
        "WS_ERR_EXTENSION",
        CloseCode.INVALID_FRAME_PAYLOAD_DATA,
        `Invalid compressed message: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (this.#receiveNoContextTakeover) {
      this.#decompressor.close();
      this.#decompressor = undefined;
    }
    return output;
  }

  close(): void {
    this.#compressor?.close();
    this.#decompressor?.close();
    this.#compressor = undefined;
    this.#decompressor = undefined;
  }
}

function endsWithTail(data: Uint8Array): boolean {
  const n = data.length;
  return n >= 4 && data[n - 4] === 0 && data[n - 3] === 0 && data[n - 2] === 0xff && data[n - 1] === 0xff;
}

function stripTail(compressed: Uint8Array): Uint8Array {
  if (!endsWithTail(compressed)) {
    throw new Error("Compressor output does not end with a sync flush (00 00 ff ff)");
  }
  return compressed.subarray(0, compressed.length - TAIL.length);
}

// A number per backend object, for the shared encoding key: two servers with the same backend
// share, two backends (which might compress differently) do not.
const backendIds = new WeakMap<DeflateBackend, number>();
let nextBackendId = 0;

function backendId(backend: DeflateBackend): number {
  let id = backendIds.get(backend);
  if (id === undefined) backendIds.set(backend, (id = nextBackendId++));
  return id;
}
