/**
 * A resumable frame decoder, RFC 6455 §5.2. Bytes may arrive in any chunking; frames are returned
 * as pieces: control frames whole, data frames as their payload arrives (so a text validator can
 * fail at the first bad byte of a frame that is still arriving).
 *
 * Contract: `push` chunks, then call `next` until it returns `undefined` (need more data). A
 * protocol violation throws {@link ProtocolError} before any of the frame's payload is buffered;
 * after that the decoder must not be used again. Payloads are unmasked in place: pushed chunks
 * become the decoder's to modify.
 *
 * @module
 */
import { CloseCode } from "./close.ts";
import { ProtocolError } from "./errors.ts";
import { ByteQueue } from "./byte-queue.ts";
import { applyMask } from "./mask.ts";
import { isControlOpcode, isKnownOpcode } from "./opcode.ts";

/** A run of one frame's payload, with that frame's header. */
export interface FramePiece {
  readonly fin: boolean;
  /** RSV1..RSV3 as a 3-bit number (RSV1 = 0b100). */
  readonly rsv: number;
  readonly opcode: number;
  /** The whole frame's payload length. */
  readonly frameLength: number;
  /** This piece's bytes, unmasked. */
  readonly payload: Uint8Array;
  /** True for the frame's first piece (returned as soon as the header is complete). */
  readonly first: boolean;
  /** True when this piece ends the frame. */
  readonly last: boolean;
}

/** Which frames a decoder accepts. */
export interface FrameDecoderOptions {
  /**
   * Which end decodes: a server requires masked frames and a client unmasked ones (§5.1).
   */
  readonly role: "client" | "server";
  /** Largest payload accepted for one frame; a larger length is 1009 before buffering. */
  readonly maxFrameSize: number;
  /** RSV bits an extension owns (RSV1 = 0b100); any other bit set is 1002 (§5.2). */
  readonly allowedRsv?: number;
}

interface Header {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  length: number;
  received: number;
}

const MAX_CONTROL_PAYLOAD = 125;

function protocolError(code: ConstructorParameters<typeof ProtocolError>[0], message: string): ProtocolError {
  return new ProtocolError(code, CloseCode.PROTOCOL_ERROR, message);
}

/** Decodes frames from pushed chunks; see the module contract. */
export class FrameDecoder {
  readonly #queue = new ByteQueue();
  readonly #expectMask: boolean;
  readonly #maxFrameSize: number;
  #allowedRsv: number;
  readonly #key = new Uint8Array(4);
  #header: Header | undefined;

  constructor(options: FrameDecoderOptions) {
    this.#expectMask = options.role === "server";
    this.#maxFrameSize = options.maxFrameSize;
    this.#allowedRsv = options.allowedRsv ?? 0;
  }

  /** Sets the RSV bits negotiated extensions own (once the handshake has agreed on them). */
  setAllowedRsv(rsv: number): void {
    this.#allowedRsv = rsv;
  }

  /** Bytes received and not yet returned in a piece. */
  get bufferedBytes(): number {
    return this.#queue.length;
  }

  /** Queues a received chunk. */
  push(chunk: Uint8Array): void {
    this.#queue.push(chunk);
  }

  /** The next piece, or `undefined` when more bytes are needed. Throws {@link ProtocolError}. */
  next(): FramePiece | undefined {
    const header = this.#header;
    if (header === undefined) return this.#readHeader();
    const available = this.#queue.length;
    if (isControlOpcode(header.opcode)) {
      return available < header.length ? undefined : this.#piece(header, header.length, true);
    }
    if (available === 0) return undefined;
    return this.#piece(header, Math.min(available, header.length - header.received), false);
  }

  // Parses a header once all of it is queued, checking every rule that the first bytes decide.
  #readHeader(): FramePiece | undefined {
    const queue = this.#queue;
    if (queue.length < 2) return undefined;
    const b0 = queue.peek(0);
    const b1 = queue.peek(1);
    const fin = (b0 & 0x80) !== 0;
    const rsv = (b0 >>> 4) & 0x7;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    this.#checkFirstBytes(fin, rsv, opcode, masked, length);
    const lengthBytes = length === 126 ? 2 : length === 127 ? 8 : 0;
    const headerLength = 2 + lengthBytes + (masked ? 4 : 0);
    if (queue.length < headerLength) return undefined;
    if (lengthBytes === 2) {
      length = (queue.peek(2) << 8) | queue.peek(3);
    } else if (lengthBytes === 8) {
      const high = ((queue.peek(2) << 24) | (queue.peek(3) << 16) | (queue.peek(4) << 8) | queue.peek(5)) >>> 0;
      if (high & 0x8000_0000) {
        throw protocolError(
          "WS_ERR_UNSUPPORTED_PAYLOAD_LENGTH",
          "Invalid payload length: the most significant bit of a 64-bit length must be 0",
        );
      }
      const low = ((queue.peek(6) << 24) | (queue.peek(7) << 16) | (queue.peek(8) << 8) | queue.peek(9)) >>> 0;
      length = high * 0x1_0000_0000 + low;
    }
    if (length > this.#maxFrameSize) {
      throw new ProtocolError(
        "WS_ERR_FRAME_TOO_BIG",
        CloseCode.MESSAGE_TOO_BIG,
        `Frame too big: ${length} bytes is over the limit of ${this.#maxFrameSize}`,
      );
    }
    if (masked) {
      const k = 2 + lengthBytes;
      const key = this.#key;
      key[0] = queue.peek(k);
      key[1] = queue.peek(k + 1);
      key[2] = queue.peek(k + 2);
      key[3] = queue.peek(k + 3);
    }
    queue.skip(headerLength);
    const header: Header = { fin, rsv, opcode, masked, length, received: 0 };
    if (isControlOpcode(opcode)) {
      // Control payloads are at most 125 bytes: wait for all of them.
      if (queue.length < length) {
        this.#header = header;
        return undefined;
      }
      return this.#piece(header, length, true);
    }
    this.#header = header;
    return this.#piece(header, Math.min(queue.length, length), true);
  }

  #checkFirstBytes(fin: boolean, rsv: number, opcode: number, masked: boolean, length: number): void {
    if ((rsv & ~this.#allowedRsv) !== 0) {
      throw protocolError("WS_ERR_UNEXPECTED_RSV", `Invalid RSV bits: ${rsv.toString(2).padStart(3, "0")}`);
    }
    if (!isKnownOpcode(opcode)) {
      throw protocolError("WS_ERR_INVALID_OPCODE", `Invalid opcode: ${opcode}`);
    }
    if (isControlOpcode(opcode)) {
      if (!fin) throw protocolError("WS_ERR_FRAGMENTED_CONTROL_FRAME", `Invalid control frame: fragmented (opcode ${opcode})`);
      if (length > MAX_CONTROL_PAYLOAD) {
        throw protocolError("WS_ERR_CONTROL_FRAME_TOO_LONG", "Invalid control frame: payload over 125 bytes");
      }
      if (rsv !== 0) throw protocolError("WS_ERR_UNEXPECTED_RSV", `Invalid RSV bits on a control frame: ${rsv.toString(2).padStart(3, "0")}`);
    }
    if (masked !== this.#expectMask) {
      throw this.#expectMask
        ? protocolError("WS_ERR_EXPECTED_MASK", "Invalid frame: a client frame must be masked")
        : protocolError("WS_ERR_UNEXPECTED_MASK", "Invalid frame: a server frame must not be masked");
    }
  }

  // Takes `n` payload bytes of the current frame, unmasks them and finishes the frame if complete.
  #piece(header: Header, n: number, first: boolean): FramePiece {
    const payload = this.#queue.consume(n);
    if (header.masked && n > 0) applyMask(payload, this.#key, header.received);
    header.received += n;
    const last = header.received === header.length;
    if (last) this.#header = undefined;
    return {
      fin: header.fin,
      rsv: header.rsv,
      opcode: header.opcode,
      frameLength: header.length,
      payload,
      first,
      last,
    };
  }
}
