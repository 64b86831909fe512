/**
 * Watches the bytes a connection sends and receives, without changing them: counts them, and
 * with `--frames` decodes a copy into frame headers to print.
 *
 * @module
 */
import { FrameDecoder, Opcode, type Transport } from "@wsstream/core";

/** One frame as seen on the wire. */
export interface FrameSeen {
  readonly opcode: number;
  readonly fin: boolean;
  readonly rsv: number;
  /** The payload length from the header (compressed size when RSV1 is set). */
  readonly length: number;
  /** The close code of a Close frame that has one. */
  readonly closeCode?: number;
}

const END_OF_HEAD = [13, 10, 13, 10];

/**
 * The frames in one direction of a connection. The HTTP head that opens it (request or
 * response) is skipped; what follows is decoded from a copy, so the connection's own bytes are
 * never touched (the decoder unmasks in place).
 */
export class FrameWatcher {
  readonly #decoder: FrameDecoder;
  readonly #onFrame: (frame: FrameSeen) => void;
  readonly #onFailure: (error: Error) => void;
  #headMatched = 0;
  #inHead = true;
  #failed = false;

  /** `role` is the decoding end: "server" for frames a client sends, "client" for a server's. */
  constructor(role: "client" | "server", onFrame: (frame: FrameSeen) => void, onFailure: (error: Error) => void) {
    this.#decoder = new FrameDecoder({ role, maxFrameSize: Number.MAX_SAFE_INTEGER, allowedRsv: 0b111 });
    this.#onFrame = onFrame;
    this.#onFailure = onFailure;
  }

  feed(chunk: Uint8Array): void {
    if (this.#failed) return;
    let start = 0;
    if (this.#inHead) {
      while (start < chunk.length && this.#headMatched < 4) {
        const byte = chunk[start++]!;
        this.#headMatched = byte === END_OF_HEAD[this.#headMatched] ? this.#headMatched + 1 : byte === 13 ? 1 : 0;
      }
      if (this.#headMatched < 4) return;
      this.#inHead = false;
    }
    if (start === chunk.length) return;
    try {
      this.#decoder.push(chunk.slice(start));
      for (let piece = this.#decoder.next(); piece !== undefined; piece = this.#decoder.next()) {
        if (!piece.first) continue;
        const isClose = piece.opcode === Opcode.CLOSE && piece.payload.length >= 2;
        this.#onFrame({
          opcode: piece.opcode,
          fin: piece.fin,
          rsv: piece.rsv,
          length: piece.frameLength,
          ...(isClose ? { closeCode: (piece.payload[0]! << 8) | piece.payload[1]! } : {}),
        });
      }
    } catch (error) {
      this.#failed = true;
      this.#onFailure(error as Error);
    }
  }
}

/** Bytes that crossed a transport, each way. */
export interface WireCounts {
  bytesIn: number;
  bytesOut: number;
}

/** `transport`, with every chunk read and written counted and shown to `watch`, if given. */
export function tapTransport(
  transport: Transport,
  counts: WireCounts,
  watch?: { readonly incoming: FrameWatcher; readonly outgoing: FrameWatcher },
): Transport {
  return {
    read: async () => {
      const chunk = await transport.read();
      if (chunk !== null) {
        counts.bytesIn += chunk.length;
        watch?.incoming.feed(chunk);
      }
      return chunk;
    },
    write: (chunks) => {
      for (const chunk of chunks) {
        counts.bytesOut += chunk.length;
        watch?.outgoing.feed(chunk);
      }
      return transport.write(chunks);
    },
    end: () => transport.end(),
    destroy: (reason) => transport.destroy(reason),
  };
}
