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

const MAX_CONTROL_PAYLOAD = 125;

function protocolError(code: ConstructorParameters<typeof ProtocolError>[0], message: string): ProtocolError {
  return new ProtocolError(code, CloseCode.PROTOCOL_ERROR, message);
}

/** Decodes frames from pushed chunks; see the module contract. */
// A header that spans chunks is copied here to be parsed, then nothing refers to it: one buffer
// for every decoder (JavaScript runs one at a time).
const SCRATCH = new Uint8Array(14);
const EMPTY_KEY = new Uint8Array(4);

export class FrameDecoder {
  readonly #queue = new ByteQueue();
  readonly #expectMask: boolean;
  readonly #maxFrameSize: number;
  #allowedRsv: number;
  // The masking key of the frame in progress; made with the first masked frame.
  #key: Uint8Array | undefined;
  // A header that spans chunks, gathered in one place (2 + 8 + 4 bytes at most).
  // The frame whose header is parsed and whose payload is still arriving (#inFrame), in fields
  // rather than an object per frame: most frames never need it (see #readHeader).
  #inFrame = false;
  #fin = false;
  #rsv = 0;
  #opcode = 0;
  #masked = false;
  #length = 0;
  #received = 0;

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
    if (!this.#inFrame) return this.#readHeader();
    const available = this.#queue.length;
    const remaining = this.#length - this.#received;
    if (isControlOpcode(this.#opcode)) {
      return available < remaining ? undefined : this.#piece(remaining, true);
    }
    if (available === 0) return undefined;
    return this.#piece(Math.min(available, remaining), false);
  }

  // Parses a header once all of it is queued, checking every rule that the first bytes decide.
  // The header is read straight from the front chunk (copied to SCRATCH only when it spans
  // chunks), and a frame whose payload is all queued is returned whole without touching the
  // in-progress fields: one object and one view per small frame.
  #readHeader(): FramePiece | undefined {
    const queue = this.#queue;
    const available = queue.length;
    if (available < 2) return undefined;
    let bytes = queue.head!;
    let at = queue.headOffset;
    if (bytes.length - at < Math.min(14, available)) {
      bytes = SCRATCH;
      at = 0;
      for (let i = 0, n = Math.min(14, available); i < n; i++) bytes[i] = queue.peek(i);
    }
    const b0 = bytes[at]!;
    const b1 = bytes[at + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const rsv = (b0 >>> 4) & 0x7;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    // A data frame (opcode 0-2) without RSV bits, masked as expected, breaks no first-byte rule.
    if (opcode > 2 || rsv !== 0 || masked !== this.#expectMask) this.#checkFirstBytes(fin, rsv, opcode, masked, length);
    const lengthBytes = length === 126 ? 2 : length === 127 ? 8 : 0;
    const headerLength = 2 + lengthBytes + (masked ? 4 : 0);
    if (available < headerLength) return undefined;
    if (lengthBytes === 2) {
      length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    } else if (lengthBytes === 8) {
      const high = ((bytes[at + 2]! << 24) | (bytes[at + 3]! << 16) | (bytes[at + 4]! << 8) | bytes[at + 5]!) >>> 0;
      if (high & 0x8000_0000) {
        throw protocolError(
          "WS_ERR_UNSUPPORTED_PAYLOAD_LENGTH",
          "Invalid payload length: the most significant bit of a 64-bit length must be 0",
        );
      }
      const low = ((bytes[at + 6]! << 24) | (bytes[at + 7]! << 16) | (bytes[at + 8]! << 8) | bytes[at + 9]!) >>> 0;
      length = high * 0x1_0000_0000 + low;
    }
    if (length > this.#maxFrameSize) {
      throw new ProtocolError(
        "WS_ERR_FRAME_TOO_BIG",
        CloseCode.MESSAGE_TOO_BIG,
        `Frame too big: ${length} bytes is over the limit of ${this.#maxFrameSize}`,
      );
    }
    const key = masked ? (this.#key ??= new Uint8Array(4)) : EMPTY_KEY;
    if (masked) {
      const k = at + 2 + lengthBytes;
      key[0] = bytes[k]!;
      key[1] = bytes[k + 1]!;
      key[2] = bytes[k + 2]!;
      key[3] = bytes[k + 3]!;
    }
    if (available - headerLength >= length) {
      // The whole payload is here: the frame in one piece. When the front chunk holds all of it,
      // unmask there and take one view (one queue step for header and payload).
      const start = at + headerLength;
      const end = start + length;
      let payload: Uint8Array;
      if (bytes !== SCRATCH && end <= bytes.length) {
        if (masked && length < SMALL_PAYLOAD) unmaskSmall(bytes, start, end, key);
        // A view built with the constructor: subarray() costs about twice as much on Bun (JSC's
        // species lookup); on V8 the two are close.
        payload = new Uint8Array(bytes.buffer, bytes.byteOffset + start, length);
        if (masked && length >= SMALL_PAYLOAD) applyMask(payload, key, 0);
        queue.skip(headerLength + length);
      } else {
        queue.skip(headerLength);
        payload = queue.consume(length);
        if (masked) applyMask(payload, key, 0);
      }
      return { fin, rsv, opcode, frameLength: length, payload, first: true, last: true };
    }
    queue.skip(headerLength);
    this.#inFrame = true;
    this.#fin = fin;
    this.#rsv = rsv;
    this.#opcode = opcode;
    this.#masked = masked;
    this.#length = length;
    this.#received = 0;
    // Control payloads are at most 125 bytes: wait for all of them.
    if (isControlOpcode(opcode)) return undefined;
    return this.#piece(available - headerLength, true);
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

  // Takes `n` payload bytes of the frame in progress, unmasks them and ends the frame if complete.
  #piece(n: number, first: boolean): FramePiece {
    const payload = this.#queue.consume(n);
    if (this.#masked && n > 0) applyMask(payload, this.#key!, this.#received);
    this.#received += n;
    const last = this.#received === this.#length;
    if (last) this.#inFrame = false;
    return {
      fin: this.#fin,
      rsv: this.#rsv,
      opcode: this.#opcode,
      frameLength: this.#length,
      payload,
      first,
      last,
    };
  }
}

// Below this, a byte loop inlined here beats a call into applyMask.
const SMALL_PAYLOAD = 32;

// XORs bytes [start, end) of `data`, a whole small payload, with the key from key position 0.
function unmaskSmall(data: Uint8Array, start: number, end: number, key: Uint8Array): void {
  const k0 = key[0]!, k1 = key[1]!, k2 = key[2]!, k3 = key[3]!;
  let i = start;
  for (const last = end - 3; i < last; i += 4) {
    data[i] = data[i]! ^ k0;
    data[i + 1] = data[i + 1]! ^ k1;
    data[i + 2] = data[i + 2]! ^ k2;
    data[i + 3] = data[i + 3]! ^ k3;
  }
  for (; i < end; i++) data[i] = data[i]! ^ key[(i - start) & 3]!;
}
